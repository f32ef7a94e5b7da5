// Compiled table versus the slow reference evaluator (test/policy/reference.ts) on random
// policies (Istio, NetworkPolicy, native), identities, IPs, protocols and ports.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { compile, Dir, loadPolicyTexts, parseIpv4, verdictAllowed, verdictRule } from '../../enforcer/policy/index.js';
import type { Workload } from '../../enforcer/policy/index.js';
import { fuzzParams } from '../fuzz/params.js';
import { inventory } from './helpers.js';
import { referenceEvaluate } from './reference.js';
import type { RefPeer } from './reference.js';

const NS = ['foo', 'bar', 'dev', 'istio-system'];
const APPS = ['web', 'api', 'db', 'client', 'tool', 'gw', 'legacy'];
const PRINCIPALS = ['cluster.local/ns/foo/sa/web', 'cluster.local/ns/foo/*', '*/sa/db', '*', 'cluster.local/ns/bar/sa/client', '*/ns/dev/sa/tool'];
const NAMESPACES = ['foo', 'bar', 'dev', 'f*', '*ar', '*', 'istio-system'];
const CIDRS = ['198.18.0.0/24', '198.18.0.0/30', '198.18.0.4/31', '198.18.1.0/24', '198.18.0.0/15', '203.0.113.0/24', '0.0.0.0/0', '198.18.0.2', '198.18.1.7/32', '::/0', '10.0.0.0/8'];
const PORTS = ['53', '80', '5432', '8080', '9080', '15090'];
const RANGES = ['8000-9999', '1-1024', '9080-9080', '15000-16000'];
const SAS = ['foo/web', 'bar/db', 'dev/tool', 'foo/api'];
const LABEL_EXPRS = ['app=web', 'app!=db', 'tier', '!tier', 'app=we*', 'app=*b', 'version=v1', 'tier=front', '!version'];

const sub = <T>(arb: fc.Arbitrary<T>, max = 2): fc.Arbitrary<T[]> => fc.array(arb, { minLength: 1, maxLength: max });
const opt = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined, freq: 2 });
/** Mostly absent: keeps conjunctions of source fields satisfiable often enough to be interesting. */
const rare = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 5 }, { arbitrary: arb, weight: 1 });

function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const sourceArb = (native: boolean) =>
  fc
    .record({
      principals: rare(sub(fc.constantFrom(...PRINCIPALS))),
      notPrincipals: rare(sub(fc.constantFrom(...PRINCIPALS))),
      namespaces: rare(sub(fc.constantFrom(...NAMESPACES))),
      notNamespaces: rare(sub(fc.constantFrom(...NAMESPACES))),
      ipBlocks: rare(sub(fc.constantFrom(...CIDRS))),
      notIpBlocks: rare(sub(fc.constantFrom(...CIDRS))),
      serviceAccounts: rare(sub(fc.constantFrom(...SAS))),
      requestPrincipals: fc.option(fc.constant(['*']), { nil: undefined, freq: 8 }),
      labels: native ? rare(sub(fc.constantFrom(...LABEL_EXPRS), 3)) : fc.constant(undefined),
      networks: native ? rare(sub(fc.constantFrom(...CIDRS))) : fc.constant(undefined),
    })
    .map(clean);

const operationArb = (native: boolean) =>
  fc
    .record({
      ports: opt(sub(fc.constantFrom(...PORTS, ...(native ? RANGES : [])), 3)),
      notPorts: opt(sub(fc.constantFrom(...PORTS, ...(native ? RANGES : [])))),
      methods: fc.option(fc.constant(['GET']), { nil: undefined, freq: 8 }),
    })
    .map(clean);

const whenArb = fc.oneof(
  fc.record({ key: fc.constantFrom('source.ip', 'destination.ip'), values: sub(fc.constantFrom(...CIDRS)) }),
  fc.record({ key: fc.constantFrom('source.ip', 'destination.ip'), notValues: sub(fc.constantFrom(...CIDRS)) }),
  fc.record({ key: fc.constant('source.namespace'), values: sub(fc.constantFrom(...NAMESPACES)) }),
  fc.record({ key: fc.constant('source.principal'), notValues: sub(fc.constantFrom(...PRINCIPALS)) }),
  fc.record({ key: fc.constant('destination.port'), values: sub(fc.constantFrom(...PORTS), 3) }),
  fc.record({ key: fc.constant('destination.port'), notValues: sub(fc.constantFrom(...PORTS)) }),
  fc.record({ key: fc.constant('request.headers[x-user]'), values: fc.constant(['a']) }),
);

const ruleArb = (native: boolean, egress: boolean) =>
  fc
    .record({
      from: egress ? fc.constant(undefined) : opt(sub(fc.record({ source: sourceArb(native) }))),
      to: opt(
        sub(
          egress
            ? fc.record({ operation: operationArb(native), destination: sourceArb(native) }).map(clean)
            : fc.record({ operation: operationArb(native) }),
        ),
      ),
      when: egress ? fc.constant(undefined) : fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: sub(whenArb), weight: 1 }),
    })
    .map(clean);

const authzArb = (native: boolean) =>
  fc
    .record({
      ns: fc.constantFrom(...NS),
      selector: rare(fc.oneof(fc.record({ matchLabels: fc.record({ app: fc.constantFrom(...APPS) }) }), fc.constant({ matchLabels: { tier: 'front' } }))),
      action: fc.constantFrom('ALLOW', 'DENY', 'AUDIT', 'ALLOW'),
      egress: native ? fc.boolean() : fc.constant(false),
      rules: fc.option(fc.array(fc.constant(0), { maxLength: 3 }), { nil: undefined, freq: 5 }),
    })
    .chain((h) =>
      fc.record({
        h: fc.constant(h),
        rules: h.rules === undefined ? fc.constant(undefined) : fc.array(ruleArb(native, h.egress), { minLength: h.rules.length, maxLength: h.rules.length }),
      }),
    )
    .map(({ h, rules }) => (name: string) => ({
      apiVersion: native ? 'syngate.io/v1alpha1' : 'security.istio.io/v1',
      kind: native ? 'SyngatePolicy' : 'AuthorizationPolicy',
      metadata: { name, namespace: h.ns },
      spec: clean({
        selector: h.selector,
        action: h.action,
        direction: native ? (h.egress ? 'Egress' : 'Ingress') : undefined,
        rules,
      }),
    }));

const k8sSelArb = fc.oneof(
  fc.constant({}),
  fc.record({ matchLabels: fc.record({ app: fc.constantFrom(...APPS) }) }),
  fc.record({ matchLabels: fc.constant({ tier: 'front' }) }),
  fc.record({ matchExpressions: fc.constant([{ key: 'app', operator: 'In', values: ['web', 'db'] }]) }),
  fc.record({ matchExpressions: fc.constant([{ key: 'tier', operator: 'DoesNotExist' }]) }),
);
const nsSelArb = fc.oneof(
  fc.constant({}),
  fc.record({ matchLabels: fc.record({ team: fc.constantFrom('a', 'b') }) }),
  fc.constant({ matchLabels: { 'kubernetes.io/metadata.name': 'bar' } }),
  fc.constant({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }),
);
const k8sPeerArb = fc.oneof(
  fc.record({ podSelector: k8sSelArb }),
  fc.record({ namespaceSelector: nsSelArb }),
  fc.record({ podSelector: k8sSelArb, namespaceSelector: nsSelArb }),
  fc.record({ ipBlock: fc.constantFrom({ cidr: '198.18.0.0/24', except: ['198.18.0.0/30'] }, { cidr: '0.0.0.0/0' }, { cidr: '203.0.113.0/24' }, { cidr: '198.18.0.0/15', except: ['198.18.1.0/24'] }) }),
);
const k8sPortArb = fc.oneof(
  fc.record({ port: fc.constantFrom(53, 80, 5432, 8080, 9080) }),
  fc.record({ protocol: fc.constantFrom('TCP', 'UDP'), port: fc.constantFrom(53, 9080) }),
  fc.record({ port: fc.constant(8000), endPort: fc.constantFrom(9080, 9999) }),
  fc.record({ port: fc.constantFrom('http', 'postgres', 'metrics', 'dns') }),
  fc.record({ protocol: fc.constant('UDP'), port: fc.constant('dns') }),
  fc.record({ protocol: fc.constantFrom('TCP', 'UDP', 'SCTP') }),
);
const k8sRuleArb = (peersKey: 'from' | 'to') =>
  fc.record({ peers: opt(sub(k8sPeerArb)), ports: opt(sub(k8sPortArb)) }).map((r) => clean({ [peersKey]: r.peers, ports: r.ports }));

const npArb = fc
  .record({
    ns: fc.constantFrom(...NS),
    podSelector: k8sSelArb,
    policyTypes: opt(fc.subarray(['Ingress', 'Egress'])),
    ingress: opt(fc.array(k8sRuleArb('from'), { maxLength: 2 })),
    egress: opt(fc.array(k8sRuleArb('to'), { maxLength: 2 })),
  })
  .map((h) => (name: string) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: h.ns },
    spec: clean({ podSelector: h.podSelector, policyTypes: h.policyTypes, ingress: h.ingress, egress: h.egress }),
  }));

const policiesArb = fc.array(fc.oneof(authzArb(false), authzArb(true), npArb), { minLength: 1, maxLength: 8 });

const INV = inventory();
const EXTRA_IPS = ['203.0.113.9', '198.18.0.77', '10.1.2.3', '198.18.1.200', '198.18.0.2', '198.18.0.6'].map((s) => parseIpv4(s) ?? 0);
const peerArb: fc.Arbitrary<RefPeer> = fc.oneof(
  fc.constantFrom(...INV.workloads).chain((w: Workload) =>
    fc.record({ ipOverride: fc.option(fc.constantFrom(...EXTRA_IPS), { nil: undefined, freq: 4 }) }).map(({ ipOverride }) =>
      w.enforcer ? { spiffeId: w.spiffeId, labels: { ...w.labels }, ip: ipOverride ?? w.ipU32 } : { ip: ipOverride ?? w.ipU32 },
    ),
  ),
  fc.constantFrom(...EXTRA_IPS).map((ip) => ({ ip })),
  fc.record({
    spiffeId: fc.constantFrom('spiffe://cluster.local/ns/foo/sa/web', 'spiffe://other.td/ns/bar/sa/db', 'spiffe://cluster.local/ns/dev/sa/x'),
    labels: fc.constantFrom({ app: 'web' }, {}, { app: 'db', tier: 'front' }),
    ip: fc.constantFrom(...EXTRA_IPS),
  }),
);
const queryArb = fc.record({
  dir: fc.constantFrom('ingress' as const, 'egress' as const),
  local: fc.constantFrom(...INV.workloads, ...INV.workloads.filter((w) => w.namespace === 'foo')),
  peer: peerArb,
  proto: fc.constantFrom('TCP' as const, 'TCP' as const, 'TCP' as const, 'TCP' as const, 'UDP' as const, 'SCTP' as const, 'OTHER' as const),
  port: fc.constantFrom(1, 53, 80, 5432, 8000, 8080, 9080, 9081, 9999, 15090),
});
const PROTO_NUM = { TCP: 6, UDP: 17, SCTP: 132, OTHER: 47 };

describe('compiled table agrees with the reference evaluator', () => {
  test('random policies, identities, IPs, protocols and ports', () => {
    fc.assert(
      fc.property(policiesArb, fc.array(queryArb, { minLength: 1, maxLength: 25 }), fc.boolean(), (makers, queries, strict) => {
        const docs = makers.map((mk, i) => mk(`p${i}`));
        const text = docs.map((d) => stringify(d)).join('---\n');
        const loaded = loadPolicyTexts([{ file: 'random.yaml', text }]);
        const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
        expect(errors, text).toEqual([]);
        expect(loaded.policies.length).toBe(docs.length);
        // Compile a previous revision from part of the policies and warm its rows, so that the
        // table under test carries unchanged rows over (incremental recompilation) where it can.
        const prev = compile(INV, loaded.policies.slice(0, loaded.policies.length >> 1), { defaultDeny: strict });
        for (const q of queries) {
          const id = q.peer.spiffeId === undefined ? 0 : prev.identity(q.peer.spiffeId, q.peer.labels ?? {});
          prev.lookup(q.dir === 'ingress' ? Dir.INGRESS : Dir.EGRESS, q.local.index, id, q.peer.ip, PROTO_NUM[q.proto], q.port);
        }
        const t = compile(INV, loaded.policies, { defaultDeny: strict, previous: prev });
        for (const q of queries) {
          const ref = referenceEvaluate(INV, loaded.policies, q, { defaultDeny: strict });
          const peerId = q.peer.spiffeId === undefined ? 0 : t.identity(q.peer.spiffeId, q.peer.labels ?? {});
          const dir = q.dir === 'ingress' ? Dir.INGRESS : Dir.EGRESS;
          const v = t.lookup(dir, q.local.index, peerId, q.peer.ip, PROTO_NUM[q.proto], q.port);
          const got = {
            allow: verdictAllowed(v),
            rule: t.ruleId(verdictRule(v)),
            audit: t.auditRules(dir, q.local.index, peerId, q.peer.ip, PROTO_NUM[q.proto], q.port).sort(),
          };
          expect(got, `${text}\nquery ${JSON.stringify({ ...q, local: `${q.local.namespace}/${q.local.name}` })}`).toEqual(ref);
          // A second probe (row now cached) gives the same word.
          expect(t.lookup(dir, q.local.index, peerId, q.peer.ip, PROTO_NUM[q.proto], q.port)).toBe(v);
        }
      }),
      fuzzParams(1),
    );
  });
});
