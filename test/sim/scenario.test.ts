import { describe, expect, it } from 'vitest';
import { isSyngateError } from '../../enforcer/errors.js';
import { loadScenario, parseScenario } from '../../enforcer/sim/scenario.js';

const BASE = `trustDomain: cluster.local
nodes: [node-a, node-b]
workloads:
  - {name: a, namespace: ns1, node: node-a, ports: [80, {name: http, port: 8080}]}
  - {name: b, namespace: ns1, node: node-b, ports: [{name: http, port: 9080}]}
  - {name: c, namespace: ns2, ip: 198.18.0.2, enforcer: false}
traffic:
  - {from: ns1/a, to: ns1/b, port: http, expect: allow}
`;

function errorOf(text: string): string {
  try {
    parseScenario(text, 'scn.yaml', '/tmp');
  } catch (e) {
    expect(isSyngateError(e, 'SYNGATE_SIM_SCENARIO')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('scenario loader', () => {
  it('loads a valid scenario, resolves named ports and assigns addresses deterministically', () => {
    const s = parseScenario(BASE, 'scn.yaml', '/tmp');
    expect(s.nodes).toEqual(['node-a', 'node-b']);
    expect(s.mode).toBe('enforce');
    expect(s.traffic[0]).toMatchObject({ from: 'ns1/a', to: 'ns1/b', port: 9080, portName: 'http', expect: 'allow', count: 1 });
    // explicit 198.18.0.2 is skipped by the allocator
    expect(s.workloads.map((w) => w.ip)).toEqual(['198.18.0.3', '198.18.0.4', '198.18.0.2']);
    expect(s.workloads[2]!.node).toBe('node-a'); // round-robin default
    expect(s.workloads[2]!.enforcer).toBe(false);
    expect(parseScenario(BASE, 'scn.yaml', '/tmp')).toEqual(s);
    const inv = s.inventoryDoc['workloads'] as { ip: string }[];
    expect(inv.map((w) => w.ip)).toEqual(['198.18.0.3', '198.18.0.4', '198.18.0.2']);
  });

  const cases: [string, string, RegExp][] = [
    ['unknown top-level field', BASE + 'bogus: 1\n', /^scn\.yaml:9:1: bogus: unknown field/m],
    ['unknown workload in traffic', BASE.replace('to: ns1/b', 'to: ns1/zz'), /^scn\.yaml:8:\d+: traffic\[0\]\.to: unknown workload "ns1\/zz"/m],
    ['unknown node', BASE.replace('node: node-b, ports', 'node: node-z, ports'), /workloads\[1\]\.node: unknown node "node-z"/],
    ['bad port', BASE.replace('port: http, expect', 'port: 70000, expect'), /traffic\[0\]\.port: expected an integer in 1\.\.65535/],
    ['unknown named port', BASE.replace('port: http, expect', 'port: grpc, expect'), /has no port named "grpc"/],
    ['bad attack', BASE.replace('expect: allow}', 'attack: hug, expect: deny}'), /traffic\[0\]\.attack: expected one of no-token/],
    ['bad expect', BASE.replace('expect: allow}', 'expect: maybe}'), /traffic\[0\]\.expect: expected one of allow, deny/],
    ['duplicate ip', BASE.replace('node: node-a, ports: [80', 'ip: 198.18.0.2, node: node-a, ports: [80'), /already used/],
    ['not yaml', 'nodes: [a\n', /^scn\.yaml:\d+:\d+: YAML:/m],
    ['missing nodes', 'workloads: []\n', /nodes: required/],
    ['bad ip', BASE.replace('ip: 198.18.0.2', 'ip: 300.1.1.1'), /workloads\[2\]\.ip: not an IPv4 address/],
    ['duplicate workload', BASE.replace('name: b, namespace: ns1', 'name: a, namespace: ns1'), /duplicate workload ns1\/a/],
    ['victim without attack', BASE.replace('expect: allow}', 'victim: ns1/a, expect: allow}'), /only meaningful with an attack/],
    ['bad mode', BASE + 'mode: strict\n', /mode: expected one of enforce, audit, off/],
  ];
  it.each(cases)('reports %s with FILE:LINE:COL and the field path', (_name, text, re) => {
    expect(errorOf(text)).toMatch(re);
  });

  it('lists every problem, not just the first', () => {
    const msg = errorOf(BASE.replace('to: ns1/b', 'to: ns1/zz') + 'bogus: 1\n');
    expect(msg.split('\n')).toHaveLength(2);
  });

  it('names the file when it cannot be read', () => {
    try {
      loadScenario('/nonexistent/scenario.yaml');
      throw new Error('expected an error');
    } catch (e) {
      expect(isSyngateError(e, 'SYNGATE_SIM_SCENARIO')).toBe(true);
      expect((e as Error).message).toContain('/nonexistent/scenario.yaml');
    }
  });

  it('loads the shipped examples', () => {
    for (const f of ['examples/bookinfo/scenario.yaml', 'examples/attacks/scenario.yaml']) {
      const s = loadScenario(f);
      expect(s.traffic.length).toBeGreaterThan(5);
    }
  });

  it('keeps inline policy documents on their original lines', () => {
    const s = loadScenario('examples/attacks/scenario.yaml');
    const p = s.policies[0]!;
    expect(p.kind).toBe('inline');
    if (p.kind === 'inline') {
      const lines = p.text.split('\n');
      expect(lines[p.pos.line - 1]).toMatch(/^apiVersion: security\.istio\.io\/v1/);
      expect(lines[p.pos.line]).toMatch(/^kind: AuthorizationPolicy/);
    }
  });
});
