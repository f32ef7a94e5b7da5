// Simulator benchmarks: whole-scenario runs through the real engines.
//  - sim.bookinfo: connections/s of the bookinfo example, against the same TCP endpoints talking
//    over the same wire with no enforcer (the baseline: what the simulator costs without syngate);
//  - sim.scale: a generated scenario (full: 1,000 workloads, 10,000 policies, 100,000 connections;
//    quick: 100 / 1,000 / 10,000): setup (load + compile) time, run time, connections/s, peak RSS.
// Invariants: every run must finish with zero unexpected results (the `check` is the summary, so a
// benchmark that decided nothing cannot pass); peak RSS is the process's high-water mark
// (process.resourceUsage().maxRSS), so run standalone (`npx tsx bench/sim.ts`) for a clean figure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchFn, Metric } from './types.js';
import { PASS_THROUGH, Prng, TcpHost, Wire } from '../enforcer/sim/index.js';
import { buildScenarioPolicy, createCluster, loadScenario, runScenario, writeScale, type Scenario } from '../enforcer/sim/index.js';

/** Baseline: the scenario's non-attack connections between plain endpoints, no enforcers. */
function baselineRun(s: Scenario, seed: number): { conns: number; ms: number } {
  const wire = new Wire();
  const prng = new Prng(seed);
  const hosts = new Map<string, TcpHost>();
  for (const w of s.workloads) {
    const h = new TcpHost({ name: w.id, ip: w.ip, prng: prng.fork(w.id), clock: () => wire.clock.now() });
    for (const p of w.ports) h.listen(p.port);
    h.rxLimit = 16;
    hosts.set(w.id, h);
    wire.attach(h, PASS_THROUGH);
  }
  const req = new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const t0 = performance.now();
  let conns = 0;
  for (const t of s.traffic) {
    for (let k = 0; k < t.count; k++) {
      const c = hosts.get(t.from)!;
      const sv = hosts.get(t.to)!;
      const before = sv.accepted.length;
      const conn = c.connect(sv.ip, t.port);
      wire.run(4096);
      const srv = sv.accepted[before];
      if (conn.state === 'ESTABLISHED' && srv !== undefined) {
        conn.send(req);
        wire.run(4096);
        srv.send(req);
        wire.run(4096);
        conn.close();
        wire.run(4096);
        srv.close();
        wire.run(4096);
        conns++;
      }
      c.reap();
      sv.reap();
    }
  }
  return { conns, ms: performance.now() - t0 };
}

export const benchSimBookinfo: BenchFn = async () => {
  const s = loadScenario('examples/bookinfo/scenario.yaml');
  const p = buildScenarioPolicy(s);
  const t0 = performance.now();
  const r = await runScenario(s, p, { cluster: createCluster });
  const ms = performance.now() - t0;
  const base = baselineRun(s, 1);
  const rate = r.connections.length / (ms / 1000);
  const baseRate = base.conns / (base.ms / 1000);
  const m: Metric[] = [
    {
      name: 'sim.bookinfo.connections',
      value: rate,
      unit: 'conn/s',
      baseline: baseRate,
      ratio: rate / baseRate,
      check: `${r.summary.allowed}/${r.summary.denied}/${r.summary.unexpected}`,
      note: 'whole bookinfo scenario incl. attacks and cold signatures; baseline = same endpoints and wire, no enforcer',
    },
  ];
  if (r.summary.unexpected !== 0) throw new Error(`bookinfo: ${r.summary.unexpected} unexpected results`);
  return m;
};

let scaleDir: string | null = null;

export async function scaleRun(size: { workloads: number; policies: number; connections: number }, log: (m: string) => void = () => {}): Promise<Metric[]> {
  if (scaleDir === null) scaleDir = mkdtempSync(join(tmpdir(), 'syngate-bench-sim-'));
  const dir = join(scaleDir, `${size.workloads}-${size.policies}-${size.connections}`);
  const g = writeScale(dir, { ...size, seed: 1 });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const s = loadScenario(join(dir, 'scenario.yaml'));
  const p = buildScenarioPolicy(s);
  const setupMs = performance.now() - t0;
  let lastLog = 0;
  const r = await runScenario(s, p, {
    cluster: createCluster,
    progress: (done, total) => {
      if (done - lastLog >= total / 4) {
        lastLog = done;
        log(`${done}/${total} connections`);
      }
    },
  });
  const totalMs = performance.now() - t0;
  const runMs = totalMs - setupMs;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const rss = process.resourceUsage().maxRSS * 1024;
  const heap = process.memoryUsage().heapUsed;
  if (r.summary.unexpected !== 0) throw new Error(`scale: ${r.summary.unexpected} unexpected results`);
  if (r.summary.allowed !== g.expectedAllow || r.summary.denied !== g.expectedDeny) throw new Error('scale: verdict counts differ from the generator\'s expectations');
  const tag = `${size.workloads}w.${size.policies}p.${size.connections}c`;
  const check = `${r.summary.allowed}/${r.summary.denied}/${r.summary.unexpected}`;
  return [
    { name: `sim.scale.${tag}.setup`, value: setupMs, unit: 'ms', check, note: 'load scenario + policies, compile' },
    { name: `sim.scale.${tag}.run`, value: runMs, unit: 'ms', check },
    { name: `sim.scale.${tag}.total`, value: totalMs, unit: 'ms', check, note: 'wall clock, setup + run' },
    { name: `sim.scale.${tag}.cpu`, value: cpuMs, unit: 'ms', check, note: 'CPU time of the process (user + system), setup + run: the figure to compare on a shared machine' },
    { name: `sim.scale.${tag}.connections`, value: size.connections / (runMs / 1000), unit: 'conn/s', check },
    { name: `sim.scale.${tag}.peak_rss`, value: rss, unit: 'bytes', check, note: 'process high-water mark (maxRSS)' },
    { name: `sim.scale.${tag}.heap_used`, value: heap, unit: 'bytes', check, note: 'V8 heap after the run' },
  ];
}

export const benchSimScale: BenchFn = async (opts) =>
  scaleRun(opts.quick ? { workloads: 100, policies: 1000, connections: 10_000 } : { workloads: 1000, policies: 10_000, connections: 100_000 }, opts.log);

export const benches: Record<string, BenchFn> = { benchSimBookinfo, benchSimScale };

// Standalone: `npx tsx bench/sim.ts [--quick]` prints the metrics as JSON (one clean process, so
// peak RSS is the scale run's own).
const self = process.argv[1] ?? '';
if (/bench[/\\]sim\.(ts|js)$/.test(self)) {
  const quick = process.argv.includes('--quick');
  const size = quick ? { workloads: 100, policies: 1000, connections: 10_000 } : { workloads: 1000, policies: 10_000, connections: 100_000 };
  scaleRun(size, (m) => process.stderr.write(`sim: ${m}\n`))
    .then((m) => {
      process.stdout.write(JSON.stringify(m, null, 2) + '\n');
      if (scaleDir !== null) rmSync(scaleDir, { recursive: true, force: true });
    })
    .catch((e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exitCode = 1;
    });
}
