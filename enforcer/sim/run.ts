// The simulation runner: builds hosts for every workload, puts each behind its node's enforcer on
// the in-memory wire, and plays the scenario's traffic (legitimate and attacks) one connection at a
// time, reading verdicts from the enforcers' event streams.
// Invariants:
//  - every connection, attack or not, is decided by the real engines of the cluster (the attacker
//    side differs only in what the attacker holds: no enforcer, a forged/expired/stolen credential,
//    or bytes captured from the wire);
//  - a connection counts as allowed only if the server application accepted it AND the request and
//    the response arrived byte for byte (so a token byte leaking into an application shows up as an
//    unexpected result, never as a pass);
//  - results are a pure function of (scenario, seed): the clock is the wire's fake clock and every
//    random choice comes from the seeded Prng;
//  - the run is bounded: each connection gets a fixed event budget.
import { Reason, reasonLabel } from '../reasons.js';
import type { FlowRecord } from '../engine/flow-record.js';
import { ETH_IPV4_TCP_MIN_LEN, TCP_SYN, parseFrame, refreshChecksums, writeFrame, ipToU32 } from './frame.js';
import type { MapWorkload } from './map.js';
import type { ConnectionResult, SimulationResult } from './output.js';
import { Prng } from './prng.js';
import type { AttackKind, Scenario, ScenarioTraffic, ScenarioWorkload } from './scenario.js';
import type { ScenarioPolicy } from './setup.js';
import { TcpHost, type TcpConnection } from './tcp-endpoint.js';
import { FakeClock, Wire, type SimEnforcer } from './wire.js';

/** One engine event in plain form (drained from an engine's ring). */
export interface SimEvent {
  enforcer: string;
  kind: 'decision' | 'close' | 'revoke' | 'timeout' | 'peer-reject';
  verdict: 'allow' | 'deny' | 'audit';
  reason: number;
  localClient: boolean;
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  redirectPort: number;
  /** Deciding rule id ('' when none). */
  rule: string;
  /** SPIFFE ID of the verified peer, or null. */
  peer: string | null;
  verified: boolean;
  time: number;
  start: number;
  packets: number;
  bytes: number;
}

export interface ClusterEnforcer extends SimEnforcer {
  /** Appends the events produced since the last call. */
  drain(out: SimEvent[]): void;
  /** Live conntrack entries (for metrics). */
  conntrackEntries(): number;
}

export type EngineAttack = 'forged-token' | 'expired' | 'stolen-credential';

export interface Cluster {
  /** The enforcer of a node (protects that node's workloads with `enforcer: true`). */
  node(name: string): ClusterEnforcer;
  /**
   * A second instance of a node's enforcer (same agent, same table) that plays the server side of
   * same-node flows, or null when the node's engine handles both ends of a local flow itself.
   */
  twin(name: string): ClusterEnforcer | null;
  /** An attacker's own enforcer, holding what the attack gives it, acting for `attacker`'s address. */
  attacker(kind: EngineAttack, attacker: ScenarioWorkload, victim: ScenarioWorkload): ClusterEnforcer;
  /** Flow records of the cluster's engines (appended as events are drained). */
  readonly flows: FlowRecord[];
  /** Identity cache hit/miss counters by cache name, for metrics. */
  cacheStats(): Record<string, { hits: number; misses: number }>;
}

export type ClusterFactory = (s: Scenario, p: ScenarioPolicy, clock: FakeClock, prng: Prng) => Cluster;

export interface RunOptions {
  seed?: number;
  cluster: ClusterFactory;
  /** Forget finished connections as the run goes (default: for runs of LEAN_THRESHOLD+ connections). */
  lean?: boolean;
  /** Called after each connection (done, total). */
  progress?: (done: number, total: number) => void;
  /** Metrics text producer; receives the run's counts (the CLI passes the prom-client snapshot). */
  metrics?: (m: RunMetrics) => Promise<string>;
}

export interface RunMetrics {
  /** Decisions by (action, reason label, direction). */
  verdicts: { action: 'allow' | 'deny' | 'audit'; reason: string; direction: 'inbound' | 'outbound'; count: number }[];
  /** Handshake durations (SYN to authorizing decision) of allowed flows. */
  handshakes: { direction: 'inbound' | 'outbound'; seconds: number }[];
  revoked: number;
  packets: { enforcer: string; direction: 'inbound' | 'outbound'; verdict: 'forward' | 'drop' | 'reset'; count: number }[];
  conntrack: { enforcer: string; entries: number }[];
  caches: Record<string, { hits: number; misses: number }>;
  flows: readonly FlowRecord[];
}

const REQUEST = (from: string, to: string, port: number): Uint8Array => new TextEncoder().encode(`GET /${from} HTTP/1.1\r\nHost: ${to}:${port}\r\nUser-Agent: syngate-sim\r\n\r\n`);
const RESPONSE = (to: string): Uint8Array => new TextEncoder().encode(`HTTP/1.1 200 OK\r\nServer: ${to}\r\nContent-Length: 2\r\n\r\nok`);
const CONN_EVENT_BUDGET = 4096;
/** Runs with at least this many connections are lean by default. */
export const LEAN_THRESHOLD = 1000;
/** Start of the TCP options in the simulator's own frames (no VLAN tag, no IP options). */

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

interface Tuple {
  saddr: number;
  sport: number;
  daddr: number;
  dport: number;
}

/** Counting wrapper around an enforcer, so the metrics can report packets by direction and verdict. */
class Counted implements SimEnforcer {
  readonly counts = new Float64Array(6);
  constructor(readonly inner: ClusterEnforcer) {}
  get name(): string {
    return this.inner.name;
  }
  process(frame: Uint8Array, off: number, len: number, direction: 0 | 1, now: number) {
    const r = this.inner.process(frame, off, len, direction, now);
    this.counts[direction * 3 + r.verdict] = (this.counts[direction * 3 + r.verdict] ?? 0) + 1;
    return r;
  }
}

export class Simulation {
  readonly wire: Wire;
  readonly prng: Prng;
  readonly hosts = new Map<string, TcpHost>();
  readonly workloads = new Map<string, ScenarioWorkload>();
  private readonly cluster: Cluster;
  private readonly enforcers = new Map<string, Counted>();
  private readonly attackers = new Map<string, Counted>();
  /** Every drained event (kept only when the simulation is not lean). */
  readonly events: SimEvent[] = [];
  readonly flows: FlowRecord[];
  private readonly verdictCounts = new Map<string, number>();
  private readonly handshakes: RunMetrics['handshakes'] = [];
  private revoked = 0;

  constructor(
    readonly scenario: Scenario,
    readonly policy: ScenarioPolicy,
    readonly seed: number,
    factory: ClusterFactory,
    /** Lean mode for long runs: finished connections are forgotten and events are not kept. */
    readonly lean = false,
  ) {
    this.prng = new Prng(seed);
    this.wire = new Wire({ hopLatencyMs: 0.05 });
    this.cluster = factory(scenario, policy, this.wire.clock, this.prng.fork('cluster'));
    this.flows = this.cluster.flows;
    for (const n of scenario.nodes) {
      const primary = new Counted(this.cluster.node(n));
      this.enforcers.set(n, primary);
      const twin = this.cluster.twin(n);
      if (twin !== null) {
        const t = new Counted(twin);
        this.enforcers.set(`${n}#twin`, t);
        this.wire.setTwin(primary, t);
      }
    }
    const clock = () => this.wire.clock.now();
    for (const w of scenario.workloads) {
      const h = new TcpHost({ name: w.id, ip: w.ip, prng: this.prng.fork(`host:${w.id}`), clock });
      for (const p of w.ports) h.listen(p.port);
      if (lean) h.rxLimit = 16;
      if (scenario.envoy !== null && w.enforcer) h.listen(scenario.envoy.inboundPort);
      this.hosts.set(w.id, h);
      this.workloads.set(w.id, w);
      this.wire.attach(h, w.enforcer ? (this.enforcers.get(w.node) ?? null) : null);
    }
  }

  private host(id: string): TcpHost {
    const h = this.hosts.get(id);
    if (h === undefined) throw new Error(`no host ${id}`);
    return h;
  }

  private wl(id: string): ScenarioWorkload {
    const w = this.workloads.get(id);
    if (w === undefined) throw new Error(`no workload ${id}`);
    return w;
  }

  /** Runs the wire until it is quiet (bounded). */
  private drive(): void {
    this.wire.run(CONN_EVENT_BUDGET);
  }

  private collect(): SimEvent[] {
    const out: SimEvent[] = [];
    for (const e of this.enforcers.values()) e.inner.drain(out);
    for (const e of this.attackers.values()) e.inner.drain(out);
    for (const ev of out) {
      if (!this.lean) this.events.push(ev);
      const direction = ev.localClient ? 'outbound' : 'inbound';
      if (ev.kind === 'decision' || ev.kind === 'peer-reject' || ev.kind === 'timeout') {
        const reason = ev.verdict === 'deny' ? reasonLabel(ev.kind === 'timeout' ? Reason.TIMEOUT : ev.reason) : 'ok';
        const key = `${ev.verdict}|${reason}|${direction}`;
        this.verdictCounts.set(key, (this.verdictCounts.get(key) ?? 0) + 1);
        if (ev.kind === 'decision' && ev.verdict !== 'deny' && ev.time >= ev.start) this.handshakes.push({ direction, seconds: (ev.time - ev.start) / 1000 });
      } else if (ev.kind === 'revoke') this.revoked++;
    }
    return out;
  }

  private attackerEnforcer(kind: EngineAttack, attacker: ScenarioWorkload, victim: ScenarioWorkload): Counted {
    const key = `${kind}|${attacker.id}|${victim.id}`;
    let e = this.attackers.get(key);
    if (e === undefined) {
      e = new Counted(this.cluster.attacker(kind, attacker, victim));
      this.attackers.set(key, e);
    }
    return e;
  }

  /** The workload an attack borrows from: `victim`, else the first expected-allow client of the same target. */
  victimOf(t: ScenarioTraffic): ScenarioWorkload {
    if (t.victim !== null) return this.wl(t.victim);
    const same = this.scenario.traffic.find((x) => x.attack === null && x.expect === 'allow' && x.to === t.to && x.port === t.port && this.wl(x.from).enforcer);
    if (same !== undefined) return this.wl(same.from);
    const any = this.scenario.workloads.find((w) => w.enforcer && w.id !== t.to && w.id !== t.from);
    if (any === undefined) throw new Error(`traffic[${t.index}]: no workload with an enforcer to use as the ${t.attack ?? ''} victim`);
    return any;
  }

  /** Runs one legitimate connection; returns whether it fully worked and its tuple. */
  private legit(from: ScenarioWorkload, to: ScenarioWorkload, port: number): { ok: boolean; tuple: Tuple; conn: TcpConnection; note: string } {
    const ch = this.host(from.id);
    const sh = this.host(to.id);
    const acceptedBefore = sh.accepted.length;
    const conn = ch.connect(sh.ip, port);
    const tuple = { saddr: ch.ipU32, sport: conn.localPort, daddr: sh.ipU32, dport: port };
    this.drive();
    let ok = false;
    let note = '';
    const srv = sh.accepted.length > acceptedBefore ? sh.accepted[sh.accepted.length - 1] : undefined;
    if (conn.state === 'ESTABLISHED' && srv !== undefined && srv.remoteIp === ch.ipU32 && srv.remotePort === conn.localPort) {
      const req = REQUEST(from.id, to.id, port);
      const res = RESPONSE(to.id);
      conn.send(req);
      this.drive();
      if (srv.state === 'ESTABLISHED') srv.send(res);
      this.drive();
      const gotReq = srv.received();
      const gotRes = conn.received();
      ok = eq(gotReq, req) && eq(gotRes, res);
      if (!ok) note = `application data differs (server got ${gotReq.length}/${req.length} B, client got ${gotRes.length}/${res.length} B)`;
      conn.close();
      this.drive();
      srv.close();
      this.drive();
    } else if (conn.state === 'ESTABLISHED') {
      // The client thinks it is connected but no server application accepted: tear down.
      conn.abort();
      this.drive();
      note = 'client established but the server application never accepted';
    } else if (conn.state !== 'CLOSED') {
      conn.abort();
      this.drive();
    }
    return { ok, tuple, conn, note };
  }

  /**
   * The verdict of one connection from its enforcers' events. `appOk`: the applications completed
   * their exchange (null for a lone injected SYN, judged by the server enforcer's decision alone).
   * In audit mode traffic flows, so the verdict is allow; the reason then names what the enforcer
   * would have denied (the audited reason), `ok` when it would have allowed.
   */
  private verdictFor(tuple: Tuple, events: readonly SimEvent[], appOk: boolean | null): { verdict: 'allow' | 'deny'; reason: string; rule: string } {
    const mine = events.filter((e) => e.saddr === tuple.saddr && e.sport === tuple.sport && e.daddr === tuple.daddr && e.dport === tuple.dport);
    const denyServer = mine.find((e) => !e.localClient && (e.kind === 'decision' || e.kind === 'timeout') && e.verdict === 'deny');
    const denyClient = mine.find((e) => e.localClient && (e.kind === 'decision' || e.kind === 'peer-reject' || e.kind === 'timeout') && e.verdict === 'deny');
    const deny = denyServer ?? denyClient;
    if (deny !== undefined) return { verdict: 'deny', reason: reasonLabel(deny.reason === Reason.OK ? Reason.INTERNAL : deny.reason), rule: deny.rule };
    const allowServer = mine.find((e) => !e.localClient && e.kind === 'decision');
    const allowClient = mine.find((e) => e.localClient && e.kind === 'decision');
    const rule = allowServer?.rule ?? allowClient?.rule ?? 'none';
    const audited = mine.find((e) => e.kind === 'decision' && e.verdict === 'audit' && e.reason !== Reason.OK);
    const reason = audited === undefined ? 'ok' : reasonLabel(audited.reason);
    if (appOk === true || (appOk === null && allowServer !== undefined)) return { verdict: 'allow', reason, rule: audited?.rule ?? rule };
    return { verdict: 'deny', reason: 'timeout', rule };
  }

  private captureSyn(victim: ScenarioWorkload, to: ScenarioWorkload, port: number): { frame: Uint8Array | null; ok: boolean } {
    let captured: Uint8Array | null = null;
    const vip = ipToU32(victim.ip);
    const tip = ipToU32(to.ip);
    const off = this.wire.addHook((ev) => {
      if (ev.hop !== 'network' || captured !== null) return 'pass';
      const p = parseFrame(ev.frame, 0, ev.frame.length);
      if (p !== null && p.flags === TCP_SYN && p.srcIp === vip && p.dstIp === tip && p.dstPort === port) captured = ev.frame.slice();
      return 'pass';
    });
    const r = this.legit(victim, to, port);
    off();
    this.collect();
    return { frame: captured, ok: r.ok };
  }

  /** Plays one connection of traffic entry `t`. */
  connection(t: ScenarioTraffic): ConnectionResult {
    const from = this.wl(t.from);
    const to = this.wl(t.to);
    let res: { verdict: 'allow' | 'deny'; reason: string; rule: string };
    let note = '';
    this.collect();
    const attack: AttackKind | null = t.attack;
    if (attack === null) {
      const r = this.legit(from, to, t.port);
      res = this.verdictFor(r.tuple, this.collect(), r.ok);
      note = r.note;
    } else if (attack === 'no-token') {
      const h = this.host(from.id);
      const prev = this.wire.setEnforcer(h, null);
      try {
        const r = this.legit(from, to, t.port);
        res = this.verdictFor(r.tuple, this.collect(), r.ok);
      } finally {
        this.wire.setEnforcer(h, prev);
      }
    } else if (attack === 'forged-token' || attack === 'expired' || attack === 'stolen-credential') {
      const h = this.host(from.id);
      const victim = this.victimOf(t);
      const prev = this.wire.setEnforcer(h, this.attackerEnforcer(attack, from, victim));
      try {
        const r = this.legit(from, to, t.port);
        res = this.verdictFor(r.tuple, this.collect(), r.ok);
      } finally {
        this.wire.setEnforcer(h, prev);
      }
    } else if (attack === 'replay') {
      const victim = this.victimOf(t);
      const cap = this.captureSyn(victim, to, t.port);
      if (cap.frame === null) {
        res = { verdict: 'deny', reason: 'internal', rule: '' };
        note = `could not capture a SYN of ${victim.id} -> ${to.id}:${t.port}`;
      } else {
        const p = parseFrame(cap.frame, 0, cap.frame.length);
        this.wire.inject(cap.frame, 'network');
        this.drive();
        const tuple = { saddr: p?.srcIp ?? 0, sport: p?.srcPort ?? 0, daddr: p?.dstIp ?? 0, dport: p?.dstPort ?? 0 };
        res = this.verdictFor(tuple, this.collect(), null);
      }
    } else if (attack === 'spoofed-ip') {
      const victim = this.victimOf(t);
      const cap = this.captureSyn(victim, to, t.port);
      const p = cap.frame === null ? null : parseFrame(cap.frame, 0, cap.frame.length);
      if (cap.frame === null || p === null) {
        res = { verdict: 'deny', reason: 'internal', rule: '' };
        note = `could not capture a SYN of ${victim.id} -> ${to.id}:${t.port}`;
      } else {
        // Same source address (the victim's), same token, but the attacker's own port and ISN.
        const opts = cap.frame.slice(ETH_IPV4_TCP_MIN_LEN, p.payloadOff);
        const sport = 1024 + this.prng.nextInt(30000);
        const frame = writeFrame({
          srcMac: this.host(from.id).mac,
          dstMac: p.dstMac,
          srcIp: p.srcIp,
          dstIp: p.dstIp,
          ipId: this.prng.nextInt(0x10000),
          srcPort: sport,
          dstPort: p.dstPort,
          seq: this.prng.nextU32(),
          ack: 0,
          flags: TCP_SYN,
          window: p.window,
          options: opts,
          payload: cap.frame.slice(p.payloadOff, p.payloadOff + p.payloadLen),
        });
        this.wire.inject(frame, 'network', this.host(from.id));
        this.drive();
        res = this.verdictFor({ saddr: p.srcIp, sport, daddr: p.dstIp, dport: p.dstPort }, this.collect(), null);
      }
    } else {
      // tamper: flip one byte of the victim's SYN token in flight (seeded choice among the last 16
      // token bytes, where the signature or MAC ends).
      const victim = this.victimOf(t);
      const vip = ipToU32(victim.ip);
      const tip = ipToU32(to.ip);
      let tampered: Tuple | null = null;
      const flip = this.prng.nextInt(16);
      const xor = 1 + this.prng.nextInt(255);
      const off = this.wire.addHook((ev) => {
        if (ev.hop !== 'network' || tampered !== null) return 'pass';
        const q = parseFrame(ev.frame, 0, ev.frame.length);
        if (q === null || q.flags !== TCP_SYN || q.srcIp !== vip || q.dstIp !== tip || q.dstPort !== t.port || q.payloadLen === 0) return 'pass';
        const f = ev.frame.slice();
        const at = q.payloadOff + q.payloadLen - 1 - Math.min(flip, q.payloadLen - 1);
        f[at] = (f[at] ?? 0) ^ xor;
        refreshChecksums(f);
        tampered = { saddr: q.srcIp, sport: q.srcPort, daddr: q.dstIp, dport: q.dstPort };
        return { replace: f };
      });
      const r = this.legit(victim, to, t.port);
      off();
      const tup = tampered as Tuple | null;
      if (tup === null) {
        res = { verdict: 'deny', reason: 'internal', rule: '' };
        note = `no token-carrying SYN of ${victim.id} -> ${to.id}:${t.port} to tamper with`;
      } else res = this.verdictFor(tup, this.collect(), r.ok);
    }
    let unexpected = false;
    if (note !== '' && res.verdict === 'allow') unexpected = true;
    if (t.expect !== null && res.verdict !== t.expect) {
      unexpected = true;
      note = note === '' ? `expected ${t.expect}` : `expected ${t.expect}; ${note}`;
    } else if (t.reason !== null && res.reason !== t.reason) {
      unexpected = true;
      note = `expected reason ${t.reason}`;
    }
    if (t.expect === null && note !== '' && res.verdict === 'deny' && attack === null) unexpected = false;
    if (this.lean) {
      this.host(t.from).reap();
      this.host(t.to).reap();
      if (t.victim !== null) this.host(t.victim).reap();
    }
    return {
      traffic: t.index,
      from: t.from,
      to: t.to,
      port: t.port,
      verdict: res.verdict,
      reason: res.reason,
      rule: res.rule,
      attack,
      expect: t.expect,
      expectReason: t.reason,
      unexpected,
      note: unexpected ? note : '',
    };
  }

  metricsInput(): RunMetrics {
    const packets: RunMetrics['packets'] = [];
    const conntrack: RunMetrics['conntrack'] = [];
    for (const e of [...this.enforcers.values(), ...this.attackers.values()]) {
      const names = ['forward', 'drop', 'reset'] as const;
      for (let d = 0; d < 2; d++) for (let v = 0; v < 3; v++) {
        const count = e.counts[d * 3 + v] ?? 0;
        if (count > 0) packets.push({ enforcer: e.name, direction: d === 0 ? 'outbound' : 'inbound', verdict: names[v] ?? 'drop', count });
      }
      conntrack.push({ enforcer: e.name, entries: e.inner.conntrackEntries() });
    }
    const verdicts: RunMetrics['verdicts'] = [];
    for (const [k, count] of [...this.verdictCounts].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const [action, reason, direction] = k.split('|') as ['allow' | 'deny' | 'audit', string, 'inbound' | 'outbound'];
      verdicts.push({ action, reason, direction, count });
    }
    return { verdicts, handshakes: this.handshakes, revoked: this.revoked, packets, conntrack, caches: this.cluster.cacheStats(), flows: this.flows };
  }

  mapWorkloads(): MapWorkload[] {
    return this.scenario.workloads.map((w) => ({ id: w.id, ip: w.ip, node: w.node, enforcer: w.enforcer }));
  }
}

/** Runs a whole scenario. */
export async function runScenario(s: Scenario, p: ScenarioPolicy, opts: RunOptions): Promise<SimulationResult> {
  const t0 = performance.now();
  const seed = opts.seed ?? s.seed ?? 1;
  const total = s.traffic.reduce((n, t) => n + t.count, 0);
  const sim = new Simulation(s, p, seed, opts.cluster, opts.lean ?? total >= LEAN_THRESHOLD);
  const connections: ConnectionResult[] = [];
  let done = 0;
  for (const t of s.traffic) {
    for (let k = 0; k < t.count; k++) {
      connections.push(sim.connection(t));
      done++;
      opts.progress?.(done, total);
    }
  }
  const summary = { allowed: 0, denied: 0, unexpected: 0 };
  for (const c of connections) {
    if (c.verdict === 'allow') summary.allowed++;
    else summary.denied++;
    if (c.unexpected) summary.unexpected++;
  }
  const metrics = opts.metrics === undefined ? '' : await opts.metrics(sim.metricsInput());
  return { connections, summary, flows: sim.flows, workloads: sim.mapWorkloads(), metrics, seed, elapsedMs: performance.now() - t0 };
}

