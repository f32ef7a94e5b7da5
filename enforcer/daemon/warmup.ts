// JIT warm-up of the handshake path, run once by the daemon at the start of its first reload.
// Why it exists: V8 optimizes a function only after it has run enough bytecode. The handshake path
// (the engine's SYN / SYN-ACK / final-ACK code, the identity agent's token build and verify, the
// protobuf codecs, the HMAC) runs a few times per connection, so a freshly started daemon ran it in
// the interpreter for its first few thousand connections: on the live bench a SYN decision took
// 100-120 µs instead of ~35, and connection setup through two enforcers cost ~1 ms more than plain
// TCP instead of ~0.5 ms (docs/benchmarks.md, "Goal status").
// Invariants:
//  - only throwaway state is touched: the warm-up has its own CA, node credentials, identity agents,
//    inventory, policy table, engines and handlers, built by the same functions and classes as the
//    daemon's (buildDaemonEngine, createEngineHandler, CredentialTrackingPort, TablePolicyPort), so
//    V8 collects the daemon's own type feedback; nothing of it is reachable after the call, and no
//    event, metric, flow record or packet leaves it (frames live in a private buffer);
//  - it must run before the daemon builds its own agent, table and engines: V8 tracks object shapes
//    per class, and objects built before the warm-up generalized a field's representation carry a
//    deprecated shape that deoptimizes the warmed code on first use (seen with --trace-deopt);
//  - bounded: at most `handshakes` connections and about `budgetMs` of wall time;
//  - never throws: a failure is returned as `error` (the daemon logs it and starts anyway; the
//    warm-up is an optimisation, never a condition for enforcing).
import { FRAME_HEADROOM, Direction, LinkType, TablePolicyPort, Verdict, type AgentHandshake, type Engine } from '../engine/index.js';
import { createEngineHandler, newDecision, type FrameHandler } from '../datapath/index.js';
import { IdentityAgent, bundleOf, createCa, issueNodeCredential, type PeerIdentity } from '../identity/index.js';
import { compile, loadInventoryText, loadPolicyTexts } from '../policy/index.js';
import { TCP_FLAG_ACK, TCP_FLAG_PSH, TCP_FLAG_SYN, writeTcpFrame } from '../packet/index.js';
import type { DaemonConfig } from './config.js';

/** Connections the daemon warms up with (each: SYN, SYN-ACK, ACK, a data segment each way). */
export const WARMUP_HANDSHAKES = 4000;
/** Wall-time cap of the daemon's warm-up (a slow or busy machine stops early). */
export const WARMUP_BUDGET_MS = 1500;

const TRUST_DOMAIN = 'warmup.invalid';
/** TEST-NET-1 addresses: they only ever exist in this module's buffers. */
const CLIENT_IP = 0xc0000201; // 192.0.2.1
const SERVER_IP = 0xc0000202; // 192.0.2.2
const SERVER_PORT = 8080;
const INVENTORY = [
  `trustDomain: ${TRUST_DOMAIN}`,
  'workloads:',
  '  - {name: cli, namespace: warm, serviceAccount: cli, labels: {app: cli}, ip: 192.0.2.1, node: warm-client}',
  `  - {name: srv, namespace: warm, serviceAccount: srv, labels: {app: srv}, ip: 192.0.2.2, node: warm-server, ports: [${SERVER_PORT}]}`,
  '',
].join('\n');
const POLICY = [
  'apiVersion: security.istio.io/v1',
  'kind: AuthorizationPolicy',
  'metadata: {name: srv-allow-cli, namespace: warm}',
  'spec:',
  '  selector: {matchLabels: {app: srv}}',
  '  action: ALLOW',
  '  rules:',
  `    - from: [{source: {principals: ["${TRUST_DOMAIN}/ns/warm/sa/cli"]}}]`,
  `      to: [{operation: {ports: ["${SERVER_PORT}"]}}]`,
  '',
].join('\n');
/** SYN options as Linux sends them: MSS 1460, SACK permitted, timestamps, NOP, window scale 7. */
const SYN_OPTS = Uint8Array.from([2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);
/** NOP, NOP, timestamps: the options of an established segment. */
const TS_OPTS = Uint8Array.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
const ONE_BYTE = Uint8Array.from([0x78]);
/** Every this many connections, one is cold (see the loop in warmHandshakePath). */
const COLD_EVERY = 64;
/** Every this many connections, one reuses the previous port while its flows are tracked. */
const REUSE_EVERY = 16;
/** Conntrack capacity of the warm-up engines (connections are removed after they completed). */
const WARMUP_CT_CAPACITY = 1024;

/** Builds one of the daemon's engines: the warm-up must construct them exactly as EngineCore does. */
export type DaemonEngineFactory = (agent: IdentityAgent, port: TablePolicyPort, name: string, ctCapacity: number) => Engine<AgentHandshake, PeerIdentity>;

export interface WarmupOptions {
  linkType: LinkType;
  /** How the daemon builds an engine (EngineCore's factory). */
  build: DaemonEngineFactory;
  handshakes: number;
  budgetMs: number;
  /** Identity settings of the daemon (clock skew); defaults otherwise. */
  cfg?: Pick<DaemonConfig, 'identity'>;
}

export interface WarmupResult {
  /** Connections that went through the whole path with every packet forwarded and both ends authorized. */
  completed: number;
  /** Connections tried. */
  tried: number;
  elapsedMs: number;
  /** Why the warm-up stopped early, or null. */
  error: string | null;
}

interface Side {
  agent: IdentityAgent;
  engine: Engine<AgentHandshake, PeerIdentity>;
  handler: FrameHandler;
}

/** Runs up to `handshakes` synthetic connections through two throwaway daemon engines. Never throws. */
export function warmHandshakePath(o: WarmupOptions): WarmupResult {
  const t0 = performance.now();
  const res: WarmupResult = { completed: 0, tried: 0, elapsedMs: 0, error: null };
  try {
    const now = Date.now();
    const ca = createCa({ trustDomain: TRUST_DOMAIN, nowMs: now });
    const bundle = bundleOf(ca);
    const inv = loadInventoryText(INVENTORY, 'warm-up inventory').inventory;
    if (inv === undefined) throw new Error('warm-up inventory does not load');
    const table = compile(inv, loadPolicyTexts([{ file: 'warm-up policy', text: POLICY }]).policies);
    const side = (node: string, ip: number, sa: string, app: string): Side => {
      const config = o.cfg === undefined ? {} : { clockSkewSec: o.cfg.identity.clockSkewSeconds };
      const agent = new IdentityAgent({ node: issueNodeCredential(ca, { node, nowMs: now }), bundle, config, nowMs: now });
      agent.registerWorkload({ spiffeId: `spiffe://${TRUST_DOMAIN}/ns/warm/sa/${sa}`, labels: { app }, ip }, now);
      const port = new TablePolicyPort(table, { node, redirect: false });
      const engine = o.build(agent, port, node, WARMUP_CT_CAPACITY);
      const twin = o.build(agent, port, node, WARMUP_CT_CAPACITY);
      return { agent, engine, handler: createEngineHandler({ engine, twin, linkType: o.linkType, isLocal: (a) => port.workloadOf(a) >= 0 }) };
    };
    const c = side('warm-client', CLIENT_IP, 'cli', 'cli');
    const s = side('warm-server', SERVER_IP, 'srv', 'srv');
    const conn = new WarmConnection(o.linkType, c, s);
    let el = 0;
    let port = 1024;
    for (let i = 0; i < o.handshakes && el < o.budgetMs; i++) {
      res.tried++;
      // Every COLD_EVERY-th connection is cold (both agents forget each other: signatures, X25519,
      // credential and document checks); every REUSE_EVERY-th reuses the previous connection's
      // port while its flows are still tracked (as a client's port reuse meets a flow whose FIN the
      // engines never saw). Both are paths every live daemon meets early: optimized code without
      // their feedback would deoptimize on them and fall back to the interpreter.
      if (i % COLD_EVERY === COLD_EVERY - 1) {
        c.agent.clearCaches();
        s.agent.clearCaches();
      }
      const keep = i % REUSE_EVERY === REUSE_EVERY - 2;
      if (i % REUSE_EVERY !== REUSE_EVERY - 1) port = port >= 61000 ? 1024 : port + 1;
      const why = conn.run(port, i, Date.now(), !keep);
      if (why !== null) {
        res.error = `connection ${i + 1}: ${why}`;
        break;
      }
      res.completed++;
      if ((i & 15) === 15) el = performance.now() - t0;
    }
  } catch (e) {
    res.error = e instanceof Error ? e.message : String(e);
  }
  res.elapsedMs = performance.now() - t0;
  return res;
}

/** One synthetic connection between the two sides, as the nfqueue datapath would hand it to each daemon. */
class WarmConnection {
  // A Buffer, like both adapters' frame buffers: code optimized for another typed-array class
  // deoptimizes ("wrong map") on the first real frame and the warm-up would be lost.
  private readonly buf = Buffer.alloc(2048 + FRAME_HEADROOM);
  /** The token-only ACK the client's engine sends ahead of its first data segment. */
  private readonly aux = Buffer.alloc(2048 + FRAME_HEADROOM);
  private readonly out = newDecision();

  constructor(
    private readonly link: LinkType,
    private readonly c: Side,
    private readonly s: Side,
  ) {}

  /**
   * Connection number `seq` from client port `port`; `retire`: remove its flows afterwards.
   * Returns null when every packet passed as it should, else what went wrong.
   */
  run(port: number, seq: number, now: number, retire: boolean): string | null {
    const b = this.buf;
    const link = this.link;
    const isnC = (Math.imul(port, 2654435761) ^ Math.imul(seq, 40503) ^ now) >>> 0;
    const isnS = (isnC ^ 0x5a5a5a5a) >>> 0;
    const cs = { srcIp: CLIENT_IP, dstIp: SERVER_IP, srcPort: port, dstPort: SERVER_PORT };
    const sc = { srcIp: SERVER_IP, dstIp: CLIENT_IP, srcPort: SERVER_PORT, dstPort: port };
    let n = writeTcpFrame(b, 0, { ...cs, seq: isnC, ack: 0, flags: TCP_FLAG_SYN, options: SYN_OPTS }, link);
    if (!this.pass(this.c, n, Direction.OUTBOUND) || !this.pass(this.s, this.out.length, Direction.INBOUND)) return 'SYN not forwarded';
    n = writeTcpFrame(b, 0, { ...sc, seq: isnS, ack: (isnC + 1) >>> 0, flags: TCP_FLAG_SYN | TCP_FLAG_ACK, options: SYN_OPTS }, link);
    if (!this.pass(this.s, n, Direction.OUTBOUND) || !this.pass(this.c, this.out.length, Direction.INBOUND)) return 'SYN-ACK not forwarded';
    n = writeTcpFrame(b, 0, { ...cs, seq: (isnC + 1) >>> 0, ack: (isnS + 1) >>> 0, flags: TCP_FLAG_ACK, options: TS_OPTS }, link);
    if (!this.pass(this.c, n, Direction.OUTBOUND) || !this.pass(this.s, this.out.length, Direction.INBOUND) || !this.out.authorized) return 'final ACK not authorized';
    // First data segment from the client: goes with a token-only ACK (outbox), which the server's
    // enforcer drops as a duplicate, as it does on the live datapath.
    n = writeTcpFrame(b, 0, { ...cs, seq: (isnC + 1) >>> 0, ack: (isnS + 1) >>> 0, flags: TCP_FLAG_ACK | TCP_FLAG_PSH, options: TS_OPTS, payload: ONE_BYTE }, link);
    if (!this.pass(this.c, n, Direction.OUTBOUND)) return 'client data not forwarded';
    const data = this.out.length;
    const ob = this.out.outboxCount > 0 ? this.out.outbox[0] : undefined;
    if (ob !== undefined) {
      this.aux.set(ob.buf.subarray(0, ob.length), 0);
      this.s.handler(this.aux, 0, ob.length, Direction.INBOUND, this.reset(ob.length));
    }
    if (!this.pass(this.s, data, Direction.INBOUND)) return 'client data not delivered';
    n = writeTcpFrame(b, 0, { ...sc, seq: (isnS + 1) >>> 0, ack: (isnC + 2) >>> 0, flags: TCP_FLAG_ACK | TCP_FLAG_PSH, options: TS_OPTS, payload: ONE_BYTE }, link);
    if (!this.pass(this.s, n, Direction.OUTBOUND) || !this.pass(this.c, this.out.length, Direction.INBOUND) || !this.out.authorized) return 'server data not authorized at the client';
    // Retire the flow on both sides so the small tables never fill.
    if (!retire) return null;
    for (const e of [this.c.engine, this.s.engine]) {
      const slot = e.ct.lookup(CLIENT_IP, SERVER_IP, port, SERVER_PORT, now);
      if (slot >= 0) e.ct.remove(slot);
    }
    return null;
  }

  private reset(len: number): ReturnType<typeof newDecision> {
    const d = this.out;
    d.verdict = Verdict.DROP;
    d.length = len;
    d.authorized = false;
    d.outboxCount = 0;
    return d;
  }

  /** Runs buf[0..len) through one side's handler; true iff forwarded. */
  private pass(side: Side, len: number, dir: Direction): boolean {
    if (len <= 0) return false;
    side.handler(this.buf, 0, len, dir, this.reset(len));
    return this.out.verdict === Verdict.FORWARD;
  }
}
