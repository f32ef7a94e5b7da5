// Fuzz properties of the daemon's config loader (issue 10): on any text and on any value placed at
// any field of a valid config, parseConfig either returns a config whose every field satisfies
// its documented bounds, or throws SyngateError(SYNGATE_DAEMON_CONFIG) with a message
// `FILE:LINE:COL: FIELD: reason` whose line lies inside the file. Nothing else ever escapes.
// The deny-list file parser (parseDenyList) has the same property with SYNGATE_DAEMON_DENYLIST.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isIP } from 'node:net';
import { CONFIG_ERROR, DENYLIST_ERROR, parseConfig, parseDenyList, type DaemonConfig, type DenyListEntries } from '../../enforcer/daemon/config.js';
import { parseSpiffeId } from '../../enforcer/identity/index.js';
import { isSyngateError } from '../../enforcer/errors.js';
import { fuzzParams } from './params.js';

const FILE = '/etc/syngate/fuzz.yaml';
const ENV = { NODE_NAME: 'node-a', POD_IF: 'eth1' };

const BASE: Record<string, unknown> = {
  node: 'node-a',
  trustDomain: 'cluster.local',
  mode: 'enforce',
  datapath: { type: 'nfqueue', interfaces: ['veth*'], queueBase: 7100, failOpen: false },
  identity: { caBundle: 'ca/bundle.pem', credentials: 'cred', clockSkewSeconds: 30 },
  policy: { paths: ['policies/'], rootNamespace: 'istio-system', defaultDeny: false },
  inventory: { source: 'static', file: 'inventory.yaml' },
  envoy: { inboundPort: 15006, excludePorts: ['15000-15090'] },
  conntrack: { capacity: 65536, halfOpenMax: 4096, halfOpenPerSource: 256, timeouts: { halfOpenSeconds: 10, establishedSeconds: 3600, closingSeconds: 10 } },
  admin: '127.0.0.1:9901',
  flowLog: { sink: 'file', path: 'flows.jsonl', maxBytes: 1048576, maxFiles: 3, intervalSeconds: 60, recent: 100 },
  log: { level: 'info' },
  reload: { pollMillis: 250, debounceMillis: 100 },
  revocation: { serials: ['4f3a09c2d1b8e675'], spiffeIds: ['spiffe://cluster.local/ns/shop/sa/cart'], file: 'revoked.yaml' },
};

/** Deny-list entries are lowercase 16-hex-digit serials and canonical SPIFFE IDs, without duplicates. */
function checkDenyEntries(e: DenyListEntries): void {
  for (const s of e.serials) expect(s).toMatch(/^[0-9a-f]{16}$/);
  for (const id of e.spiffeIds) expect(parseSpiffeId(id)).toMatchObject({ ok: true, value: { id } });
  expect(new Set(e.serials).size).toBe(e.serials.length);
  expect(new Set(e.spiffeIds).size).toBe(e.spiffeIds.length);
}

/** Every field path of BASE (objects and leaves). */
function paths(o: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [];
  if (o !== null && typeof o === 'object') {
    for (const [k, v] of Object.entries(o)) {
      const p = [...prefix, Array.isArray(o) ? Number(k) : k];
      out.push(p, ...paths(v, p));
    }
  }
  return out;
}
const PATHS = paths(BASE);

function setAt(o: Record<string, unknown>, p: (string | number)[], v: unknown): void {
  let cur: Record<string | number, unknown> = o;
  for (let i = 0; i < p.length - 1; i++) cur = cur[p[i] as string] as Record<string | number, unknown>;
  const last = p[p.length - 1] as string;
  if (v === undefined) delete cur[last];
  else cur[last] = v;
}

/** The bounds docs/config.md promises for an accepted config. */
function checkAccepted(c: DaemonConfig): void {
  expect(['enforce', 'audit', 'off']).toContain(c.mode);
  expect(c.file).toBe(FILE);
  if (c.datapath.type === 'nfqueue') {
    expect(c.datapath.interfaces.length).toBeGreaterThan(0);
    expect(c.datapath.queueBase).toBeGreaterThanOrEqual(0);
    expect(c.datapath.queueBase).toBeLessThanOrEqual(65532);
  } else {
    expect(c.datapath.inside).not.toBe(c.datapath.outside);
  }
  expect(c.policy.paths.length).toBeGreaterThan(0);
  for (const p of c.policy.paths) expect(p.startsWith('/')).toBe(true);
  if (c.envoy.inboundPort !== null) expect(c.envoy.inboundPort).toBeGreaterThanOrEqual(1);
  for (const r of c.envoy.excludePorts) {
    expect(r.from).toBeGreaterThanOrEqual(1);
    expect(r.from).toBeLessThanOrEqual(r.to);
    expect(r.to).toBeLessThanOrEqual(65535);
  }
  expect(c.conntrack.halfOpenMax).toBeLessThanOrEqual(c.conntrack.capacity);
  expect(c.conntrack.halfOpenPerSource).toBeLessThanOrEqual(c.conntrack.halfOpenMax);
  expect(isIP(c.admin.host) !== 0 || c.admin.host === 'localhost').toBe(true);
  expect(c.flowLog.sink === 'file').toBe(c.flowLog.path !== null);
  expect(['debug', 'info', 'warn', 'error']).toContain(c.log.level);
  for (const v of [c.conntrack.capacity, c.flowLog.maxBytes, c.reload.pollMillis, c.identity.clockSkewSeconds]) expect(Number.isInteger(v)).toBe(true);
  checkDenyEntries(c.revocation);
  if (c.revocation.file !== null) expect(c.revocation.file.startsWith('/')).toBe(true);
}

function checkOutcome(text: string): void {
  const lines = text.split(/\r\n|\r|\n/).length;
  let cfg: DaemonConfig;
  try {
    cfg = parseConfig(text, FILE, ENV);
  } catch (e) {
    expect(isSyngateError(e, CONFIG_ERROR), String(e)).toBe(true);
    const m = /^\/etc\/syngate\/fuzz\.yaml:(\d+):(\d+): ((?:[A-Za-z0-9_.]|\[\d+\]|\["(?:[^"\\]|\\.)*"\])+|\([a-z ]+\)): (.+)$/s.exec((e as Error).message);
    expect(m, (e as Error).message).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(m?.[1])).toBeLessThanOrEqual(lines + 1);
    return;
  }
  checkAccepted(cfg);
}

const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -100000, max: 100000000 }),
  fc.double({ noNaN: false }),
  fc.string({ maxLength: 24 }),
  fc.constantFrom('nfqueue', 'pcap', 'static', 'kubernetes', 'file', 'stdout', 'off', '15000-15090', '127.0.0.1:0', '${NODE_NAME}', '${NOPE}', '1-2-3', 'veth*', 'a'.repeat(40),
    '4F3A09C2D1B8E675', 'spiffe://cluster.local/ns/a/sa/b', 'spiffe://Cluster.local/x'),
  fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer({ min: -5, max: 70000 })), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 6 }), fc.integer()), { maxKeys: 3 }),
);

describe('config loader fuzz', () => {
  it('the base config is accepted', () => {
    checkAccepted(parseConfig(stringify(BASE), FILE, ENV));
  });

  it('any value at any field: a valid config or a SYNGATE_DAEMON_CONFIG error naming FILE:LINE:COL and a field', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...PATHS), anyValue), { minLength: 1, maxLength: 3 }), (edits) => {
        const cfg = structuredClone(BASE);
        for (const [p, v] of edits) {
          try {
            setAt(cfg, p, v);
          } catch {
            // an earlier edit replaced a parent with a scalar: skip this edit
          }
        }
        checkOutcome(stringify(cfg));
      }),
      fuzzParams(1),
    );
  });

  it('arbitrary text and mutated config text never throw anything else', () => {
    const good = stringify(BASE);
    const mutated = fc
      .tuple(fc.integer({ min: 0, max: good.length }), fc.integer({ min: 0, max: 20 }), fc.string({ maxLength: 20 }))
      .map(([at, del, ins]) => good.slice(0, at) + ins + good.slice(at + del));
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 200 }), mutated), (text) => checkOutcome(text)), fuzzParams(1));
  });

  it('deny-list file text: valid entries or a SYNGATE_DAEMON_DENYLIST error naming FILE:LINE:COL and a field', () => {
    const DFILE = '/etc/syngate/revoked.yaml';
    const good = stringify({ serials: ['4f3a09c2d1b8e675', '6A0C5E19B2D74F83'], spiffeIds: ['spiffe://cluster.local/ns/shop/sa/cart'] });
    const mutated = fc
      .tuple(fc.integer({ min: 0, max: good.length }), fc.integer({ min: 0, max: 20 }), fc.string({ maxLength: 20 }))
      .map(([at, del, ins]) => good.slice(0, at) + ins + good.slice(at + del));
    const edited = fc
      .tuple(fc.constantFrom('serials', 'spiffeIds', 'other'), anyValue)
      .map(([k, v]) => stringify({ serials: ['4f3a09c2d1b8e675'], [k]: v }));
    checkDenyEntries(parseDenyList(good, DFILE));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), mutated, edited), (text) => {
        const lines = text.split(/\r\n|\r|\n/).length;
        try {
          checkDenyEntries(parseDenyList(text, DFILE));
        } catch (e) {
          expect(isSyngateError(e, DENYLIST_ERROR), String(e)).toBe(true);
          const m = /^\/etc\/syngate\/revoked\.yaml:(\d+):(\d+): ((?:[A-Za-z0-9_.]|\[\d+\]|\["(?:[^"\\]|\\.)*"\])+|\([a-z ]+\)): (.+)$/s.exec((e as Error).message);
          expect(m, (e as Error).message).not.toBeNull();
          expect(Number(m?.[1])).toBeLessThanOrEqual(lines + 1);
        }
      }),
      fuzzParams(1),
    );
  });
});
