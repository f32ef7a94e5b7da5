// Fuzz properties for the policy loaders (YAML and semantic), the inventory loader and the
// compiled table. Invariants asserted: nothing throws out of a public entry point; every
// diagnostic has a usable position; a load with errors never replaces the table in force
// (fail closed); whatever loads compiles and answers lookups with a verdict word.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import {
  compile, Dir, evaluate, loadInventoryText, loadPolicyTexts, PolicyStore, verdictAllowed,
} from '../../enforcer/policy/index.js';
import type { Diagnostic } from '../../enforcer/policy/index.js';
import { inventory } from '../policy/helpers.js';
import { fuzzParams } from './params.js';

const INV = inventory();

/**
 * Long runs (npm run fuzz) keep one property going for minutes; a purely synchronous property
 * would starve the vitest worker's RPC and fail the run with "Timeout calling onTaskUpdate". Each
 * property therefore runs as an async property that yields to the event loop every 64 executions.
 */
let ticks = 0;
async function breathe(): Promise<void> {
  if ((++ticks & 63) === 0) await new Promise<void>((r) => setImmediate(r));
}
const GOOD = [
  readFileSync('test/fixtures/policy/good/istio.yaml', 'utf8'),
  readFileSync('test/fixtures/policy/good/k8s.yaml', 'utf8'),
  readFileSync('test/fixtures/policy/bad/bad.yaml', 'utf8'),
  readFileSync('test/fixtures/policy/inventory.yaml', 'utf8'),
];

function positionsOk(diags: readonly Diagnostic[]): void {
  for (const d of diags) {
    expect(Number.isInteger(d.line) && d.line >= 1).toBe(true);
    expect(Number.isInteger(d.col) && d.col >= 1).toBe(true);
    expect(typeof d.message).toBe('string');
  }
}

/** Loads, and if it loaded cleanly, compiles and probes every workload pair. */
function exercise(text: string): void {
  const r = loadPolicyTexts([{ file: 'fuzz.yaml', text }]);
  positionsOk(r.diagnostics);
  if (r.diagnostics.some((d) => d.severity === 'error')) return;
  const t = compile(INV, r.policies);
  for (const a of INV.workloads) {
    for (const b of INV.workloads) {
      const v = t.lookup(Dir.INGRESS, b.index, t.workloadIdentity[a.index] ?? 0, a.ipU32, 6, 8080);
      expect(Number.isInteger(v)).toBe(true);
      const w = t.lookup(Dir.EGRESS, a.index, 0, b.ipU32, 17, 53);
      expect(Number.isInteger(w)).toBe(true);
    }
  }
  const e = evaluate(t, { from: 'foo/web', to: 'foo/api', port: 9080 });
  expect('error' in e || e.verdict === 'allow' || e.verdict === 'deny').toBe(true);
}

const KINDS = [
  ['security.istio.io/v1', 'AuthorizationPolicy'],
  ['security.istio.io/v1beta1', 'AuthorizationPolicy'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['syngate.io/v1alpha1', 'SyngatePolicy'],
] as const;

/** Values shaped a bit like policies, so the semantic loader is reached, not only the parser. */
const FIELD_NAMES = [
  'selector', 'matchLabels', 'action', 'rules', 'from', 'to', 'when', 'source', 'operation', 'principals', 'notPrincipals',
  'namespaces', 'ipBlocks', 'notIpBlocks', 'ports', 'notPorts', 'key', 'values', 'notValues', 'podSelector', 'policyTypes',
  'ingress', 'egress', 'namespaceSelector', 'ipBlock', 'cidr', 'except', 'port', 'endPort', 'protocol', 'labels',
  'networks', 'direction', 'methods', 'destination', 'matchExpressions', 'operator',
];
const LEAVES = fc.oneof(
  fc.constantFrom('ALLOW', 'DENY', 'AUDIT', 'CUSTOM', 'Ingress', 'Egress', 'TCP', 'UDP', '*', 'a*', '*b', '**', '', 'http',
    '10.0.0.0/8', '1.2.3.4', '300.1.1.1/8', '::/0', '80', '0', '65536', '8000-9000', 'source.ip', 'destination.port',
    'request.headers[x]', 'app=web', '!x', 'k!=v', 'In', 'NotIn', 'Exists', 'cluster.local/ns/foo/sa/web'),
  fc.integer({ min: -2, max: 70000 }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
);
const shaped: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, LEAVES, tie('list'), tie('map')),
  list: fc.array(tie('node'), { maxLength: 4 }),
  map: fc.dictionary(fc.constantFrom(...FIELD_NAMES), tie('node'), { maxKeys: 5 }),
})).node;

describe('policy loader fuzzing', () => {
  test('random text never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 400, unit: 'binary' }), async (text) => {
        await breathe();
        exercise(text);
        const inv = loadInventoryText(text, 'inv.yaml');
        positionsOk(inv.diagnostics);
      }),
      fuzzParams(1),
    );
  });

  test('mutated fixtures never throw', async () => {
    const mutation = fc.record({
      which: fc.nat({ max: GOOD.length - 1 }),
      edits: fc.array(fc.record({ at: fc.nat(), del: fc.nat({ max: 6 }), ins: fc.string({ maxLength: 6 }) }), { minLength: 1, maxLength: 6 }),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async ({ which, edits }) => {
        await breathe();
        let text = GOOD[which] ?? '';
        for (const e of edits) {
          const at = text.length === 0 ? 0 : e.at % text.length;
          text = text.slice(0, at) + e.ins + text.slice(at + e.del);
        }
        exercise(text);
        positionsOk(loadInventoryText(text, 'inv.yaml').diagnostics);
      }),
      fuzzParams(1),
    );
  });

  test('policy-shaped random documents never throw and compile when valid', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...KINDS), fc.option(fc.constantFrom('foo', 'bar', 'istio-system', 'X', '')), shaped, async ([api, kind], ns, spec) => {
        await breathe();
        const doc = { apiVersion: api, kind, metadata: ns === null ? { name: 'n' } : { name: 'n', namespace: ns }, spec };
        exercise(stringify(doc));
      }),
      fuzzParams(1),
    );
  });

  test('inventory-shaped random documents never throw', async () => {
    const wl = fc.dictionary(
      fc.constantFrom('name', 'namespace', 'serviceAccount', 'labels', 'ip', 'node', 'ports', 'enforcer', 'mode', 'defaultDeny', 'x'),
      fc.oneof(LEAVES, fc.constantFrom('198.18.0.1', 'web', 'foo', 'audit', 'off'), fc.array(fc.oneof(fc.integer(), fc.record({ name: fc.string(), port: fc.integer() })), { maxLength: 3 })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(wl, { maxLength: 4 }), fc.option(shaped), async (workloads, namespaces) => {
        await breathe();
        const text = stringify({ trustDomain: 'cluster.local', namespaces, workloads });
        const r = loadInventoryText(text, 'inv.yaml');
        positionsOk(r.diagnostics);
        if (r.inventory !== undefined) compile(r.inventory, []).lookup(Dir.INGRESS, 0, 0, 0, 6, 1);
      }),
      fuzzParams(1),
    );
  });

  test('a load with errors leaves the table in force (fail closed)', async () => {
    const store = new PolicyStore(INV);
    const first = store.loadTexts([{ file: 'deny.yaml', text: stringify({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'd', namespace: 'foo' }, spec: { action: 'DENY', rules: [{}] } }) }]);
    expect(first.ok).toBe(true);
    const t0 = store.current;
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (junk) => {
        await breathe();
        const before = store.current;
        const r = store.loadTexts([{ file: 'deny.yaml', text: junk }]);
        if (!r.ok) expect(store.current).toBe(before);
        else expect(store.current?.revision).toBeGreaterThan(before?.revision ?? 0);
        // restore the deny-all table; it must then deny again
        store.loadTexts(first.table === undefined ? [] : [{ file: 'deny.yaml', text: stringify({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'd', namespace: 'foo' }, spec: { action: 'DENY', rules: [{}] } }) }]);
        const t = store.current;
        expect(t).toBeDefined();
        if (t !== undefined) expect(verdictAllowed(t.lookup(Dir.INGRESS, 1, 0, 0, 6, 9080))).toBe(false);
      }),
      fuzzParams(0.3),
    );
    expect(t0?.revision).toBe(1);
  });

  test('alias fan-out is bounded (billion laughs)', () => {
    const srcs = Array.from({ length: 30 }, () => '    - *S').join('\n');
    const rules = Array.from({ length: 40 }, () => '  - {from: *F}').join('\n');
    const text = `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x, namespace: foo}\nspec:\n  action: DENY\n  rules:\n  - from: &F\n    - source: &S {principals: ["cluster.local/ns/foo/sa/web"]}\n${srcs}\n${rules}\n`;
    const r = loadPolicyTexts([{ file: 'laughs.yaml', text }]);
    expect(r.diagnostics.map((d) => d.message)).toContain('more than 1000 alias uses in one document');
    expect(r.policies).toEqual([]);
  });
});
