// The simulator end to end: every example scenario passes with zero unexpected results, the JSON
// output validates against the checked-in schema, runs are deterministic for a seed, and every
// attack is denied with its own reason by the real engines.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildScenarioPolicy,
  createCluster,
  flowsJsonl,
  generateScale,
  loadScenario,
  parseScenario,
  runScenario,
  simMetricsText,
  toJson,
  type SimulationResult,
} from '../../enforcer/sim/index.js';
import { validate, type Schema } from '../schemas/validate.js';

const SCHEMA = JSON.parse(readFileSync('test/schemas/simulate-output.schema.json', 'utf8')) as Schema;
const BIN = new URL('../../bin/syngate.js', import.meta.url).pathname;

function examples(): string[] {
  return readdirSync('examples', { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join('examples', d.name, 'scenario.yaml'))
    .filter((f) => existsSync(f));
}

async function simulate(file: string, seed?: number): Promise<SimulationResult> {
  const s = loadScenario(file);
  return runScenario(s, buildScenarioPolicy(s), { cluster: createCluster, ...(seed === undefined ? {} : { seed }), metrics: (m) => simMetricsText(m, { mode: s.mode }) });
}

describe('example scenarios', () => {
  it('there are examples to run', () => {
    expect(examples()).toEqual(expect.arrayContaining(['examples/bookinfo/scenario.yaml', 'examples/attacks/scenario.yaml']));
  });

  it.each(examples())('%s: zero unexpected results, JSON valid against the schema', async (file) => {
    const r = await simulate(file);
    const bad = r.connections.filter((c) => c.unexpected).map((c) => `${c.from} -> ${c.to}:${c.port} ${c.attack ?? ''}: ${c.verdict} ${c.reason} (${c.note})`);
    expect(bad).toEqual([]);
    expect(r.summary.unexpected).toBe(0);
    expect(validate(SCHEMA, toJson(r))).toEqual([]);
    expect(r.summary.allowed + r.summary.denied).toBe(r.connections.length);
  });
});

describe('bookinfo', () => {
  it('allows the whole call graph and denies every attack with its specific reason', async () => {
    const r = await simulate('examples/bookinfo/scenario.yaml');
    const row = (from: string, to: string, attack: string | null = null) => r.connections.find((c) => c.from === from && c.to === to && c.attack === attack);
    for (const [from, to] of [
      ['istio-system/istio-ingressgateway', 'bookinfo/productpage'],
      ['bookinfo/productpage', 'bookinfo/details'],
      ['bookinfo/productpage', 'bookinfo/reviews-v1'],
      ['bookinfo/productpage', 'bookinfo/reviews-v2'],
      ['bookinfo/productpage', 'bookinfo/reviews-v3'],
      ['bookinfo/reviews-v2', 'bookinfo/ratings'],
      ['bookinfo/reviews-v3', 'bookinfo/ratings'],
    ] as const) {
      expect(row(from, to), `${from} -> ${to}`).toMatchObject({ verdict: 'allow', reason: 'ok' });
      expect(row(from, to)?.rule).toMatch(/^AuthorizationPolicy\/bookinfo\//);
    }
    expect(row('bookinfo/reviews-v1', 'bookinfo/ratings')).toMatchObject({ verdict: 'deny', reason: 'policy' });
    const attacks: Record<string, string> = {
      'no-token': 'no-token',
      'forged-token': 'untrusted-issuer',
      replay: 'replay',
      'stolen-credential': 'bad-signature',
      expired: 'expired',
      tamper: 'bad-mac',
      'spoofed-ip': 'binding-mismatch',
    };
    for (const [attack, reason] of Object.entries(attacks)) {
      const c = r.connections.find((x) => x.attack === attack);
      expect(c, attack).toMatchObject({ verdict: 'deny', reason });
    }
  });

  it('is deterministic for a seed: same table, JSON and flow log; another seed changes ports and ISNs only', async () => {
    const a = await simulate('examples/bookinfo/scenario.yaml', 5);
    const b = await simulate('examples/bookinfo/scenario.yaml', 5);
    expect(toJson(a)).toEqual(toJson(b));
    expect(flowsJsonl(a.flows)).toBe(flowsJsonl(b.flows));
    expect(a.metrics).toBe(b.metrics);
    const c = await simulate('examples/bookinfo/scenario.yaml', 6);
    expect(toJson(c)).toEqual(toJson(a));
    expect(flowsJsonl(c.flows)).not.toBe(flowsJsonl(a.flows));
  });

  it('writes flow records for every decision and a metrics snapshot with syngate_ names', async () => {
    const r = await simulate('examples/bookinfo/scenario.yaml');
    const rejected = r.flows.filter((f) => f.state === 'rejected');
    for (const reason of ['no-token', 'untrusted-issuer', 'replay', 'bad-signature', 'expired', 'bad-mac', 'binding-mismatch', 'policy']) {
      expect(rejected.some((f) => f.reason === reason && f.direction === 'inbound'), reason).toBe(true);
    }
    const closed = r.flows.filter((f) => f.state === 'closed' && f.direction === 'inbound');
    expect(closed.length).toBeGreaterThanOrEqual(r.summary.allowed);
    expect(closed.every((f) => f.packets > 0 && f.bytes > 0)).toBe(true);
    expect(r.metrics).toMatch(/^syngate_verdicts_total\{action="deny",reason="untrusted-issuer",direction="inbound"\} 1$/m);
    expect(r.metrics).toMatch(/^syngate_datapath_packets_total\{direction="inbound",verdict="forward"\} \d+$/m);
    for (const line of r.metrics.split('\n')) if (/^[a-z]/.test(line)) expect(line).toMatch(/^syngate_/);
  });
});

describe('simulator invariants', () => {
  it('no token byte reaches an application and no unauthorized flow gets past the SYN', async () => {
    // A scenario where every connection is attacked or denied: the servers' stacks must see only
    // SYNs (never an ACK or data) of those flows, and no server application accepts any.
    const text = `nodes: [n1, n2]
workloads:
  - {name: api, namespace: p, serviceAccount: api, labels: {app: api}, node: n1, ports: [80]}
  - {name: c, namespace: p, serviceAccount: c, node: n2}
  - {name: x, namespace: p, serviceAccount: x, node: n2}
  - {name: m, namespace: q, node: n2, enforcer: false}
policies:
  - apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata: {name: api, namespace: p}
    spec: {selector: {matchLabels: {app: api}}, action: ALLOW, rules: [{from: [{source: {principals: ["cluster.local/ns/p/sa/c"]}}]}]}
traffic:
  - {from: p/x, to: p/api, port: 80, expect: deny, reason: policy, count: 2}
  - {from: q/m, to: p/api, port: 80, attack: no-token, expect: deny}
  - {from: q/m, to: p/api, port: 80, attack: forged-token, expect: deny}
  - {from: q/m, to: p/api, port: 80, attack: stolen-credential, victim: p/c, expect: deny}
  - {from: q/m, to: p/api, port: 80, attack: expired, victim: p/c, expect: deny}
`;
    const s = parseScenario(text, 'inline.yaml', '/tmp');
    const { Simulation } = await import('../../enforcer/sim/run.js');
    const sim = new Simulation(s, buildScenarioPolicy(s), 3, createCluster);
    for (const t of s.traffic) for (let k = 0; k < t.count; k++) expect(sim.connection(t).unexpected).toBe(false);
    const api = sim.hosts.get('p/api')!;
    expect(api.accepted).toHaveLength(0);
    expect(api.rx.every((r) => r.flags === 0x02 || (r.flags & 0x04) !== 0)).toBe(true);
    expect(api.rx.every((r) => !r.hadExperimentalOption && r.payloadLen === 0)).toBe(true);
    for (const h of sim.hosts.values()) for (const c of h.connections()) expect(c.received().length).toBe(0);
  });

  it('generated scale scenarios run with zero unexpected results (small instance)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-scale-'));
    try {
      const g = generateScale({ workloads: 30, policies: 200, connections: 300, perEntry: 10, seed: 3 });
      const { writeScale } = await import('../../enforcer/sim/scale.js');
      writeScale(dir, { workloads: 30, policies: 200, connections: 300, perEntry: 10, seed: 3 });
      const r = await simulate(join(dir, 'scenario.yaml'));
      expect(r.connections).toHaveLength(300);
      expect(r.summary.unexpected).toBe(0);
      expect(r.summary.allowed).toBe(g.expectedAllow);
      expect(r.summary.denied).toBe(g.expectedDeny);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!existsSync(new URL('../../dist/enforcer/cli/main.js', import.meta.url)))('syngate simulate (built CLI)', () => {
  it('--json prints exactly the schema document; exit 0', () => {
    const r = spawnSync(process.execPath, [BIN, 'simulate', 'examples/attacks/scenario.yaml', '--json', '--seed', '9'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as unknown;
    expect(validate(SCHEMA, doc)).toEqual([]);
    expect(Object.keys(doc as object)).toEqual(['connections', 'summary']);
    const again = spawnSync(process.execPath, [BIN, 'simulate', 'examples/attacks/scenario.yaml', '--json', '--seed', '9'], { encoding: 'utf8' });
    expect(again.stdout).toBe(r.stdout);
  });

  it('lists unexpected traffic and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-sim-'));
    try {
      const f = join(dir, 's.yaml');
      const text = readFileSync('examples/attacks/scenario.yaml', 'utf8').replace(/policies:[\s\S]*?traffic:/, 'policies:\n  - ' + join(process.cwd(), 'examples/bookinfo/policies') + '\ntraffic:').replace('reason: untrusted-issuer', 'reason: bad-signature');
      writeFileSync(f, text);
      const r = spawnSync(process.execPath, [BIN, 'simulate', f], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/UNEXPECTED: expected reason bad-signature/);
      expect(r.stderr).toMatch(/unexpected result/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad scenario: FILE:LINE:COL message, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-sim-'));
    try {
      const f = join(dir, 'bad.yaml');
      writeFileSync(f, 'nodes: [a]\nworkloads: []\ntraffic:\n  - {from: x/y, to: x/z, port: 1}\n');
      const r = spawnSync(process.execPath, [BIN, 'simulate', f], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`${f}:4:12: traffic[0].from: unknown workload "x/y"`);
      expect(r.stderr).toContain('SYNGATE_SIM_SCENARIO');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('modes and progress', () => {
  it('audit mode lets everything through and names what enforce mode would have denied', async () => {
    const text = readFileSync('examples/attacks/scenario.yaml', 'utf8').replace(/^mode: enforce$/m, 'mode: audit');
    const s = parseScenario(text, 'examples/attacks/audit.yaml', join(process.cwd(), 'examples/attacks'));
    const r = await runScenario(s, buildScenarioPolicy(s), { cluster: createCluster });
    expect(r.connections.every((c) => c.verdict === 'allow')).toBe(true);
    const byAttack = new Map(r.connections.map((c) => [c.attack ?? (c.from === 'prod/batch' ? 'policy' : 'legit'), c.reason]));
    expect(Object.fromEntries(byAttack)).toEqual({
      legit: 'ok',
      policy: 'policy',
      'no-token': 'no-token',
      'forged-token': 'untrusted-issuer',
      replay: 'replay',
      'stolen-credential': 'bad-signature',
      expired: 'expired',
      tamper: 'bad-mac',
      'spoofed-ip': 'binding-mismatch',
    });
  });

  it('non-TTY progress prints a line per 10 % for runs of 1,000+ connections', async () => {
    const { progressReporter } = await import('../../enforcer/cli/commands/simulate.js');
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const p = progressReporter(stream, true);
    for (let i = 1; i <= 2000; i++) p.update(i, 2000);
    p.end();
    expect(lines).toHaveLength(10);
    expect(lines[9]).toMatch(/^simulate: 100% \(2000\/2000 connections, [\d.]+s\)\n$/);
    const few: string[] = [];
    const q = progressReporter({ isTTY: false, write: (s: string) => few.push(s) } as unknown as NodeJS.WriteStream, true);
    for (let i = 1; i <= 10; i++) q.update(i, 10);
    expect(few).toHaveLength(0);
  });
});
