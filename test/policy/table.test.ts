// The compiled table's own mechanics: IP classes (directory and memo), row cache growth,
// unknown ids failing closed, revision numbering, the store's atomic swap and revocation.
import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import {
  cidrContains, compile, Dir, IdentityRegistry, loadPolicyTexts, parseCidr, PolicyStore, revokedPairs, verdictAllowed,
  verdictRule, VERDICT_UNKNOWN,
} from '../../enforcer/policy/index.js';
import type { Cidr } from '../../enforcer/policy/index.js';
import { inventory, table } from './helpers.js';

const INV = inventory();
const AP = (ns: string, name: string, spec: object): string =>
  stringify({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: ns }, spec });

describe('IP classes', () => {
  test('every address maps to a class over which all CIDR conditions are constant', () => {
    // Many blocks: forces the /16 directory and the /24 sub-directories.
    const blocks: string[] = [];
    for (let i = 0; i < 120; i++) blocks.push(`198.18.${i % 40}.${(i * 16) % 256}/28`, `10.${i}.0.0/16`, `10.0.${i}.128/25`);
    blocks.push('0.0.0.0/0', '255.255.255.255/32', '0.0.0.0/32');
    const t = table(AP('foo', 'ips', { rules: [{ from: [{ source: { ipBlocks: blocks } }] }] }));
    expect(t.ipBounds.length).toBeGreaterThan(32);
    const cidrs = blocks.map((b) => parseCidr(b)).filter((c): c is Cidr => c !== undefined);
    let seed = 12345;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const probes: number[] = [0, 0xffffffff, 0xfffffffe, 1];
    for (const c of cidrs) probes.push(c.start, c.end, (c.start - 1) >>> 0, (c.end + 1) >>> 0);
    for (let i = 0; i < 3000; i++) probes.push(i % 2 === 0 ? next() : (((198 << 24) | (18 << 16) | (next() & 0x3fff)) >>> 0));
    const bad: string[] = [];
    for (const ip of probes) {
      const c = t.ipClassOf(ip);
      if (c !== t.ipClassOf(ip)) bad.push(`memo ${ip}`); // memo hit agrees
      const rep = t.ipBounds[c] ?? 0;
      const nextStart = t.ipBounds[c + 1];
      if (rep > ip || (nextStart !== undefined && ip >= nextStart)) bad.push(`range ${ip}`);
      for (const cd of cidrs) if (cidrContains(cd, rep) !== cidrContains(cd, ip)) bad.push(`${cd.text} ${ip}`);
    }
    expect(bad).toEqual([]);
  });
});

describe('lookup mechanics', () => {
  test('unknown workload, identity or direction fails closed', () => {
    const t = table('');
    expect(t.lookup(Dir.INGRESS, 9999, 0, 0, 6, 80)).toBe(VERDICT_UNKNOWN);
    expect(t.lookup(Dir.INGRESS, 0, 9999, 0, 6, 80)).toBe(VERDICT_UNKNOWN);
    expect(t.lookup(5, 0, 0, 0, 6, 80)).toBe(VERDICT_UNKNOWN);
    expect(t.lookup(Dir.INGRESS, -1, 0, 0, 6, 80)).toBe(VERDICT_UNKNOWN);
    expect(t.lookup(Dir.INGRESS, Number.NaN, 0, 0, 6, 80)).toBe(VERDICT_UNKNOWN);
    expect(t.lookup(Dir.INGRESS, 0, 0.5, 0, 6, 80)).toBe(VERDICT_UNKNOWN);
    expect(verdictAllowed(VERDICT_UNKNOWN)).toBe(false);
    expect(t.ruleId(verdictRule(VERDICT_UNKNOWN))).toBe('default-deny');
  });

  test('row cache grows past its initial capacity and keeps every answer', () => {
    const t = table(AP('foo', 'p', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/bar/sa/id7*'] } }], to: [{ operation: { ports: ['80'] } }] }] }));
    const ids: number[] = [];
    for (let i = 0; i < 3000; i++) ids.push(t.identity(`spiffe://cluster.local/ns/bar/sa/id${i}`, { n: String(i) }));
    const words = ids.map((id) => t.lookup(Dir.INGRESS, 1, id, 0x0a000001, 6, 80));
    expect(t.rowCount).toBeGreaterThan(1024);
    ids.forEach((id, i) => {
      expect(t.lookup(Dir.INGRESS, 1, id, 0x0a000001, 6, 80)).toBe(words[i]);
      expect(verdictAllowed(words[i] ?? 0)).toBe(String(i).startsWith('7'));
    });
  });

  test('identity ids are stable across revisions (shared registry)', () => {
    const reg = new IdentityRegistry();
    const r = loadPolicyTexts([{ file: 'a.yaml', text: AP('foo', 'p', { rules: [{}] }) }]);
    const t1 = compile(INV, r.policies, { identities: reg });
    const id = t1.identity('spiffe://cluster.local/ns/x/sa/y', { a: 'b' });
    const t2 = compile(INV, r.policies, { previous: t1 });
    expect(t2.revision).toBe(2);
    expect(t2.identity('spiffe://cluster.local/ns/x/sa/y', { a: 'b' })).toBe(id);
    expect(t2.identity('spiffe://cluster.local/ns/x/sa/y', { a: 'c' })).not.toBe(id);
  });
});

describe('PolicyStore and revocation', () => {
  test('broken file keeps the old table; a good reload bumps the revision and swaps', () => {
    const store = new PolicyStore(INV);
    const ok = store.loadTexts([{ file: 'p.yaml', text: AP('foo', 'allow-all', { rules: [{}] }) }]);
    expect(ok.ok).toBe(true);
    const t1 = store.current;
    expect(t1?.revision).toBe(1);
    const bad = store.loadTexts([{ file: 'p.yaml', text: 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x, namespace: foo}\nspec: {action: NOPE}\n' }]);
    expect(bad.ok).toBe(false);
    expect(store.current).toBe(t1);
    const next = store.loadTexts([
      { file: 'p.yaml', text: AP('foo', 'allow-all', { rules: [{}] }) },
      { file: 'q.yaml', text: AP('foo', 'deny-web', { action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/web'] } }] }] }) },
    ]);
    expect(next.ok).toBe(true);
    expect(next.changedFiles).toEqual(['q.yaml']);
    expect(store.current?.revision).toBe(2);
  });

  test('revokedPairs lists the established flows the new table denies', () => {
    const store = new PolicyStore(INV);
    store.loadTexts([{ file: 'p.yaml', text: AP('foo', 'allow-all', { rules: [{}] }) }]);
    const old = store.current;
    if (old === undefined) throw new Error('no table');
    const web = INV.byName.get('foo/web');
    const db = INV.byName.get('bar/db');
    const api = INV.byName.get('foo/api');
    if (web === undefined || db === undefined || api === undefined) throw new Error('fixture');
    const flows = [
      { dir: Dir.INGRESS, local: api.index, peer: old.workloadIdentity[web.index] ?? 0, peerIp: web.ipU32, proto: 6, port: 9080 },
      { dir: Dir.INGRESS, local: api.index, peer: old.workloadIdentity[db.index] ?? 0, peerIp: db.ipU32, proto: 6, port: 9080 },
      { dir: Dir.INGRESS, local: api.index, peer: old.workloadIdentity[web.index] ?? 0, peerIp: web.ipU32, proto: 6, port: 15090 },
    ];
    expect(revokedPairs(old, old, flows)).toEqual([]);
    store.loadTexts([{ file: 'p.yaml', text: AP('foo', 'web-9080', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/web'] } }], to: [{ operation: { ports: ['9080'] } }] }] }) }]);
    const next = store.current;
    if (next === undefined) throw new Error('no table');
    expect(revokedPairs(old, next, flows)).toEqual([flows[1], flows[2]]);
  });
});

describe('incremental recompilation', () => {
  test('rows carried from the previous revision equal rows built from scratch', () => {
    const base = [
      AP('foo', 'b-allow', { selector: { matchLabels: { app: 'api' } }, rules: [{ from: [{ source: { namespaces: ['bar', 'foo'] } }], to: [{ operation: { ports: ['9080'] } }] }] }),
      AP('foo', 'c-audit', { action: 'AUDIT', rules: [{ from: [{ source: { principals: ['*/sa/web'] } }] }] }),
      AP('bar', 'deny-dev', { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['dev'] } }] }] }),
    ].join('---\n');
    // Added policies sort before the old ones (shifting every rule index) and touch only bar.
    const extra = AP('bar', 'a-new', { action: 'DENY', rules: [{ to: [{ operation: { ports: ['5432'] } }] }] });
    const p1 = loadPolicyTexts([{ file: 'a.yaml', text: base }]).policies;
    const p2 = [...p1, ...loadPolicyTexts([{ file: 'b.yaml', text: extra }]).policies];
    const t1 = compile(INV, p1);
    const peers = INV.workloads.map((w) => ({ id: w.enforcer ? (t1.workloadIdentity[w.index] ?? 0) : 0, ip: w.ipU32 }));
    const ports = [80, 5432, 8080, 9080, 15090];
    const each = (f: (dir: number, local: number, peer: { id: number; ip: number }, port: number) => void): void => {
      for (const dir of [Dir.INGRESS, Dir.EGRESS]) for (const w of INV.workloads) for (const pe of peers) for (const port of ports) f(dir, w.index, pe, port);
    };
    each((dir, local, pe, port) => void t1.lookup(dir, local, pe.id, pe.ip, 6, port)); // warm every row
    const t2 = compile(INV, p2, { previous: t1 });
    const fresh = compile(INV, p2);
    const diffs: string[] = [];
    each((dir, local, pe, port) => {
      const a = t2.lookup(dir, local, pe.id, pe.ip, 6, port);
      const b = fresh.lookup(dir, local, pe.id, pe.ip, 6, port);
      const aa = t2.auditRules(dir, local, pe.id, pe.ip, 6, port).join();
      const bb = fresh.auditRules(dir, local, pe.id, pe.ip, 6, port).join();
      if (t2.ruleId(verdictRule(a)) !== fresh.ruleId(verdictRule(b)) || verdictAllowed(a) !== verdictAllowed(b) || aa !== bb) {
        diffs.push(`${dir} ${local} ${pe.id} ${port}`);
      }
    });
    expect(diffs).toEqual([]);
    expect(t2.revision).toBe(2);
    expect(t2.carriedRows).toBeGreaterThan(0);
  });
});
