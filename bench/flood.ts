// `flood` suite: legitimate connections while a forged-token SYN flood hits the server's enforcer.
// Invariants:
//  - needs root; without it the suite is `skipped` with the reason, never failed;
//  - runs on one lab path of bench/live.ts (its namespaces, its cleanup by PID and by namespace);
//  - the attacker sits in the client node's router namespace and injects Ethernet frames on the
//    router uplink with a packet socket (`cap`), so its SYNs enter the server node exactly like
//    SYNs from the network; sources are spoofed from 198.18.64.0/18 (routed back to the client
//    router, so nothing leaves the lab); every SYN carries a fresh token built with the real
//    identity API under a CA of the attacker's own (forged-token attack);
//  - rates increase step by step; each step measures the legitimate client's success rate and
//    setup latency, the attacker's achieved rate, the server enforcer's CPU and the kernel's
//    NFQUEUE drop counters; the step with the highest *achieved* forged-SYN rate at which the kernel
//    dropped nothing from the enforcer's queues is the highest rate the enforcer sustains (the
//    attacker shares the machine, so the achieved rate, not the target, is what counts).
//
// This file is also the attacker process: `node flood.js agent IFACE SRCMAC DSTMAC DSTIP DPORT`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { randomBytes, randomInt } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { MetricSummary, RunOptions, SuiteOutput } from './harness.js';
import { quantile } from './harness.js';
import {
  ADDR, PORTS, type ClientDriver, type EnforcerVariant, type Lab, type LabPath, type SetupResult,
  createLab, enforcerForFlood, isRoot, nodeArgv, nsExec, startAgents, waitLine,
} from './live.js';
import type { PlotSpec } from './svg.js';

export const FLOOD_FILE = new URL(import.meta.url).pathname;

// ---------------------------------------------------------------- attacker agent

interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  send(buffer: Buffer, size: number): void;
  close(): void;
}

const SPOOF_BASE = (198 << 24) | (18 << 16) | (64 << 8); // 198.18.64.0/18
const POOL = 512;
const FRAME_BUF = 2048;

function parseMac(s: string): Uint8Array {
  return Uint8Array.from(s.split(':').map((h) => parseInt(h, 16)));
}

/** Builds POOL forged SYN frames (fresh tokens from a foreign CA) into one buffer. */
async function buildForgedPool(srcMac: Uint8Array, dstMac: Uint8Array, dstIp: number, dport: number): Promise<{ buf: Buffer; lens: Int32Array }> {
  const id = await import('../enforcer/identity/index.js');
  const pk = await import('../enforcer/packet/index.js');
  const { LinkType } = await import('../enforcer/engine/types.js');
  const now = Date.now();
  const ca = id.createCa({ trustDomain: 'cluster.local', nowMs: now });
  const node = id.issueNodeCredential(ca, { node: 'attacker', nowMs: now });
  const agent = new id.IdentityAgent({ node, bundle: id.bundleOf(ca) });
  const w = agent.registerWorkload({ spiffeId: 'spiffe://cluster.local/ns/default/sa/rogue' }, now);
  const buf = Buffer.alloc(POOL * FRAME_BUF);
  const lens = new Int32Array(POOL);
  const view = new pk.PacketView();
  const mss = Uint8Array.from([2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7]);
  for (let i = 0; i < POOL; i++) {
    const srcIp = (SPOOF_BASE + randomInt(1, 1 << 14)) >>> 0;
    const sport = randomInt(1024, 65535);
    const isn = randomBytes(4).readUInt32BE(0);
    const off = i * FRAME_BUF;
    const n = pk.writeTcpFrame(buf, off, {
      srcMac, dstMac, srcIp, dstIp, srcPort: sport, dstPort: dport, seq: isn, ack: 0, flags: pk.TCP_FLAG_SYN, options: mss, window: 64240,
    }, LinkType.ETHERNET);
    if (n < 0) throw new Error(`flood: building frame failed (${n})`);
    const hs = agent.buildSyn(w, { srcIp, dstIp, srcPort: sport, dstPort: dport, proto: 6, isnC: isn, isnS: 0 }, Date.now());
    if (hs.reason !== 0) throw new Error(`flood: buildSyn failed (reason ${hs.reason})`);
    const frame = buf.subarray(off, off + FRAME_BUF);
    pk.parseFrame(frame, 0, n, LinkType.ETHERNET, view);
    const m = pk.insertToken(frame, view, hs.token, 0, hs.token.length, 1500);
    if (m < 0) throw new Error(`flood: insertToken failed (${m})`);
    lens[i] = m;
  }
  return { buf, lens };
}

async function attackerAgent(argv: string[]): Promise<void> {
  const [iface, srcMacS, dstMacS, dstIpS, dportS] = argv;
  if (!iface || !srcMacS || !dstMacS || !dstIpS || !dportS) throw new Error('usage: flood.js agent IFACE SRCMAC DSTMAC DSTIP DPORT');
  const dstIp = dstIpS.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
  const srcMac = parseMac(srcMacS);
  const dstMac = parseMac(dstMacS);
  const dport = Number(dportS);
  const require = createRequire(import.meta.url);
  const { Cap } = require('cap') as { Cap: new () => CapHandle };
  const cap = new Cap();
  // Send-only: a filter that matches nothing keeps the receive path idle.
  cap.open(iface, 'ether proto 0x88b5', 1024 * 1024, Buffer.alloc(2048));
  let pool = await buildForgedPool(srcMac, dstMac, dstIp, dport);
  let builtAt = Date.now();
  process.stdout.write('ready\n');
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim() === '') continue;
    const job = JSON.parse(line) as { rate: number; ms: number };
    let sent = 0;
    let errors = 0;
    const t0 = performance.now();
    let k = 0;
    if (job.rate > 0) {
      while (true) {
        const el = performance.now() - t0;
        if (el >= job.ms) break;
        // Tokens expire (issue time + max age): rebuild the pool every 5 s.
        if (Date.now() - builtAt > 5000) {
          pool = await buildForgedPool(srcMac, dstMac, dstIp, dport);
          builtAt = Date.now();
        }
        const due = Math.floor((job.rate * el) / 1000) - sent;
        // At most ~2 ms worth per wake-up; wake every ~1 ms. The attacker shares the machine's
        // cores with the enforcers it attacks, so it must not spin.
        const burst = Math.min(due, Math.max(16, Math.ceil(job.rate / 500)));
        for (let i = 0; i < burst; i++) {
          const idx = k++ & (POOL - 1);
          try {
            cap.send(pool.buf.subarray(idx * FRAME_BUF), pool.lens[idx] ?? 0);
          } catch {
            errors++;
          }
          sent++;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    } else {
      await new Promise((r) => setTimeout(r, job.ms));
    }
    process.stdout.write(JSON.stringify({ sent, errors, ms: performance.now() - t0 }) + '\n');
  }
  cap.close();
}

// ---------------------------------------------------------------- driver

export interface FloodStep {
  /** Target forged-SYN rate, packets/s. */
  rate: number;
  /** Rate the attacker achieved. */
  achieved: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
  successPct: number;
  p50: number;
  p99: number;
  readyUs: number[];
  /** CPU of the server-side enforcer process(es), percent of one core. */
  enforcerCpuPct: number;
  /** Packets the kernel dropped from the enforcer's NFQUEUE queues during the step. */
  queueDropped: number;
  sustained: boolean;
}

export interface FloodRun {
  enforcer: string;
  syngate: boolean;
  steps: FloodStep[];
  unloaded: FloodStep | undefined;
  /** The sustained loaded step with the highest achieved rate (undefined when none). */
  maxSustained: FloodStep | undefined;
  notes: string[];
}

function cpuTicks(pids: readonly number[]): number {
  let t = 0;
  for (const pid of pids) {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      t += Number(f[11] ?? 0) + Number(f[12] ?? 0); // utime, stime (fields 14, 15)
    } catch {
      /* exited */
    }
  }
  return t;
}

/** NFQUEUE drop counters of the namespace: queue full (queue_dropped) and netlink socket full (user_dropped). */
function queueDrops(ns: string): { queue: number; user: number } {
  const txt = nsExec(ns, ['cat', '/proc/net/netfilter/nfnetlink_queue'], { allowFail: true });
  const n = { queue: 0, user: 0 };
  for (const line of txt.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 7) {
      n.queue += Number(f[5] ?? 0);
      n.user += Number(f[6] ?? 0);
    }
  }
  return n;
}

function macOf(ns: string, ifname: string): string {
  const j = JSON.parse(nsExec(ns, ['ip', '-j', 'link', 'show', ifname])) as Array<{ address?: string }>;
  const a = j[0]?.address;
  if (!a) throw new Error(`no MAC for ${ifname} in ${ns}`);
  return a;
}

class Attacker {
  private buf = '';
  private waiting: ((r: { sent: number; errors: number; ms: number }) => void) | null = null;
  constructor(private readonly proc: import('node:child_process').ChildProcess) {
    proc.stdout?.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (line.startsWith('{')) {
          const w = this.waiting;
          this.waiting = null;
          w?.(JSON.parse(line) as { sent: number; errors: number; ms: number });
        }
      }
    });
  }
  run(rate: number, ms: number): Promise<{ sent: number; errors: number; ms: number }> {
    return new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error('flood attacker exited'));
      this.proc.once('exit', onExit);
      this.waiting = (r) => {
        this.proc.off('exit', onExit);
        resolve(r);
      };
      this.proc.stdin?.write(JSON.stringify({ rate, ms }) + '\n');
    });
  }
}

export interface FloodOptions {
  rates: readonly number[];
  stepMs: number;
  log: (m: string) => void;
}

/** Runs the flood steps on a fresh lab path; always tears the lab down. */
export async function runFlood(o: FloodOptions): Promise<FloodRun> {
  const pick = await enforcerForFlood();
  const enforcer: EnforcerVariant = pick.variant;
  const lab: Lab = createLab([enforcer.path]);
  const notes = [...pick.notes];
  try {
    const p: LabPath = lab.path(enforcer.path.key);
    // Spoofed sources route back toward the client router (where they are dropped): nothing leaves the lab.
    nsExec(p.rtrS, ['ip', 'route', 'add', '198.18.64.0/18', 'via', ADDR.uplinkC]);
    nsExec(p.rtrC, ['ip', 'route', 'add', 'blackhole', '198.18.64.0/18']);
    await enforcer.start(lab, p, o.log);
    const client: ClientDriver = await startAgents(lab, enforcer.path.key, null);
    const atkProc = lab.spawnIn(
      p.rtrC,
      [...nodeArgv(FLOOD_FILE), 'agent', 'up0', macOf(p.rtrC, 'up0'), macOf(p.rtrS, 'up0'), ADDR.server, String(PORTS.tcp)],
      'flood attacker',
    );
    await waitLine(atkProc, /^ready$/, 30_000, 'flood attacker');
    const attacker = new Attacker(atkProc);
    // Warm-up: first connections (cold handshakes, ARP, JIT).
    await client.run({ host: ADDR.server, port: PORTS.tcp, tls: false, n: 20, timeoutMs: 3000 });
    const serverNs = enforcer.path.bumps ? (p.bumpS ?? p.rtrS) : p.rtrS;
    const serverPids = enforcer.pids.slice(-1);
    const steps: FloodStep[] = [];
    for (const rate of o.rates) {
      const d0 = queueDrops(serverNs);
      const c0 = cpuTicks(serverPids);
      const t0 = performance.now();
      const [atk, legit] = await Promise.all([
        attacker.run(rate, o.stepMs),
        client.run({ host: ADDR.server, port: PORTS.tcp, tls: false, n: 1_000_000, timeoutMs: 3000, maxMs: o.stepMs }),
      ]) as [{ sent: number; errors: number; ms: number }, SetupResult];
      const el = (performance.now() - t0) / 1000;
      const cpu = ((cpuTicks(serverPids) - c0) / 100 / el) * 100;
      const d1 = queueDrops(serverNs);
      const dropped = d1.queue - d0.queue + (d1.user - d0.user);
      const s = [...legit.readyUs].sort((a, b) => a - b);
      const total = legit.readyUs.length + legit.failures;
      const achieved = atk.ms > 0 ? (atk.sent / atk.ms) * 1000 : 0;
      const step: FloodStep = {
        rate,
        achieved,
        ok: legit.readyUs.length,
        failed: legit.failures,
        errors: legit.errors,
        successPct: total === 0 ? 0 : (legit.readyUs.length / total) * 100,
        p50: quantile(s, 0.5),
        p99: quantile(s, 0.99),
        readyUs: legit.readyUs,
        enforcerCpuPct: cpu,
        queueDropped: dropped,
        sustained: dropped === 0 && (rate === 0 || achieved > 0),
      };
      steps.push(step);
      o.log(
        `flood ${String(rate).padStart(6)} pps (achieved ${achieved.toFixed(0)}): legit ${step.ok}/${total} ok (${step.successPct.toFixed(1)}%), ` +
          `p50 ${step.p50.toFixed(0)} µs, p99 ${step.p99.toFixed(0)} µs, enforcer CPU ${cpu.toFixed(0)}%, ` +
          `NFQUEUE drops ${dropped} (queue full ${d1.queue - d0.queue}, socket full ${d1.user - d0.user})` +
          (step.sustained ? '' : '  (not sustained)'),
      );
    }
    const unloaded = steps.find((s) => s.rate === 0);
    const loaded = steps.filter((s) => s.rate > 0 && s.sustained);
    const maxSustained = loaded.length > 0 ? loaded.reduce((a, b) => (b.achieved > a.achieved ? b : a)) : undefined;
    return { enforcer: enforcer.label, syngate: pick.syngate, steps, unloaded, maxSustained, notes };
  } finally {
    await lab.close();
  }
}

// ---------------------------------------------------------------- the suite

function m(name: string, unit: string, value: number, check: string, extra: Partial<MetricSummary> = {}): MetricSummary {
  return { name, unit, source: 'flood', median: value, min: value, max: value, q1: value, q3: value, runs: 1, check, ...extra };
}

export function floodMetrics(run: FloodRun): MetricSummary[] {
  const out: MetricSummary[] = [];
  const u = run.unloaded;
  for (const s of run.steps) {
    const chk = `n=${s.ok + s.failed} sent=${Math.round(s.achieved)}pps`;
    const k = `flood.${s.rate}pps`;
    // A 0 would read as "measured nothing": success is reported as a percentage (> 0 when anything succeeded).
    out.push(m(`${k}.legit-success`, '%', s.successPct, chk, { note: `${s.ok} ok, ${s.failed} failed ${JSON.stringify(s.errors)}` }));
    if (s.ok > 0) {
      out.push(m(`${k}.legit-p50`, 'µs', s.p50, chk, u && s !== u ? { baseline: u.p50, ratio: u.p50 / s.p50, ratioOf: 'unloaded' } : {}));
      out.push(m(`${k}.legit-p99`, 'µs', s.p99, chk, u && s !== u ? { baseline: u.p99, ratio: u.p99 / s.p99, ratioOf: 'unloaded' } : {}));
    }
    if (s.rate > 0) out.push(m(`${k}.achieved`, 'pkt/s', s.achieved, chk, { baseline: s.rate, ratio: s.achieved / s.rate, ratioOf: 'target' }));
    if (s.enforcerCpuPct > 0) out.push(m(`${k}.enforcer-cpu`, '%cpu', s.enforcerCpuPct, chk));
  }
  if (run.maxSustained) {
    const s = run.maxSustained;
    out.push(m('flood.max-sustained-rate', 'pkt/s', s.achieved, `target=${s.rate} drops=0`, {
      note: `legit success ${s.successPct.toFixed(2)}%, p99 ${s.p99.toFixed(0)} µs` + (u ? ` (${(s.p99 / u.p99).toFixed(2)}× unloaded)` : ''),
    }));
  }
  return out;
}

export function floodPlots(run: FloodRun): Array<{ file: string; spec: PlotSpec }> {
  // x = the rate the attacker actually achieved (it shares the machine), not the step's target.
  const loaded = run.steps.filter((s) => s.rate > 0 && s.ok > 0 && s.achieved > 0);
  const attacked = run.steps.filter((s) => s.rate > 0 && s.achieved > 0);
  const u = run.unloaded;
  const span = loaded.length > 0 ? [Math.min(...loaded.map((s) => s.achieved)), Math.max(...loaded.map((s) => s.achieved))] : [];
  return [
    {
      file: 'flood-latency.svg',
      spec: {
        title: `flood: legitimate setup latency vs forged-SYN rate (${run.syngate ? 'syngate, nfqueue' : 'no syngate'})`,
        xLabel: 'forged SYNs per second actually sent',
        yLabel: 'setup latency (µs)',
        logX: true,
        logY: true,
        series: [
          { label: 'p50', points: loaded.map((s) => [s.achieved, s.p50] as const) },
          { label: 'p99', points: loaded.map((s) => [s.achieved, s.p99] as const) },
          ...(u && span.length === 2 ? [{ label: 'unloaded p99', points: span.map((x) => [x, u.p99] as const) }] : []),
          ...(u && span.length === 2 ? [{ label: '10× unloaded p99 (acceptance limit)', points: span.map((x) => [x, 10 * u.p99] as const) }] : []),
        ],
      },
    },
    {
      file: 'flood-success.svg',
      spec: {
        title: 'flood: legitimate connections that succeeded, and enforcer CPU',
        xLabel: 'forged SYNs per second actually sent',
        yLabel: 'percent',
        logX: true,
        yRange: [0, 105],
        series: [
          { label: 'legitimate success %', points: attacked.map((s) => [s.achieved, s.successPct] as const) },
          { label: 'server enforcer CPU % (one core = 100)', points: attacked.map((s) => [s.achieved, s.enforcerCpuPct] as const) },
        ],
      },
    },
  ];
}

export const QUICK_RATES = [0, 2_000, 10_000, 30_000] as const;
export const FULL_RATES = [0, 1_000, 3_000, 10_000, 30_000, 60_000, 100_000, 150_000] as const;

export async function runSuite(opts: RunOptions): Promise<SuiteOutput> {
  const out: SuiteOutput = { metrics: [], plots: [], notes: [], failures: [] };
  if (!isRoot()) {
    out.skipReason = 'the flood suite needs root (network namespaces, packet sockets); run as root to measure';
    opts.log(`  SKIPPED: ${out.skipReason}`);
    return out;
  }
  try {
    const run = await runFlood({ rates: opts.quick ? QUICK_RATES : FULL_RATES, stepMs: opts.quick ? 2500 : 6000, log: (x) => opts.log(`  ${x}`) });
    out.notes.push(`enforcer under attack: ${run.enforcer}`, ...run.notes);
    out.notes.push('attacker: forged-token SYNs (fresh tokens from a CA of its own, sources spoofed from 198.18.64.0/18) injected on the client router uplink with a packet socket');
    out.metrics.push(...floodMetrics(run));
    out.plots.push(...floodPlots(run));
    out.extra = {
      steps: run.steps.map(({ readyUs: _r, ...rest }) => rest),
      maxSustainedRate: run.maxSustained?.rate ?? null,
    };
  } catch (e) {
    out.failures.push(`flood: ${e instanceof Error ? e.message : String(e)}`);
  }
  return out;
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url && process.argv[2] === 'agent') {
  attackerAgent(process.argv.slice(3)).catch((e: unknown) => {
    process.stderr.write(`flood agent: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}

