// The per-packet decision engine: a pure function of (state, frame, direction, clock).
// See docs/engine.md for the state machine and the per-packet table.
// Invariants:
//  - process() never throws (an internal error drops the frame with Reason.INTERNAL) and does no I/O;
//  - established packets take the fast path: one inline header parse, one conntrack probe (two for
//    an inbound packet of a redirected flow), counters, an optional port rewrite; no allocation;
//  - nothing reaches a local workload (INBOUND FORWARD) unless its flow is AUTHORIZED, is the
//    SYN/SYN-ACK of a handshake whose token verified and whose policy allowed it, is an RST, or the
//    workload's mode is audit/off; the server application never sees the final ACK before the
//    client's ACK token verified;
//  - token bytes never reach an application: every INBOUND frame that is forwarded either carries no
//    syngate marker or had its token (or a reject RST its REJECT marker) stripped (a marker on an
//    established flow means drop);
//  - sequence numbers are never rewritten; a token rides only on payload-free SYN, SYN-ACK, ACK
//    segments (a data-carrying first ACK is preceded by a token-only ACK in the outbox);
//  - an established entry is never replaced by an unverified packet: a new SYN on its tuple must
//    verify before the old entry is dropped;
//  - rejects drop the frame and send the peer a syngate reject RST carrying the reason;
//  - outbox entries are engine-owned and valid until the next process()/setPolicy() call.
import {
  ConntrackTable,
  CtFlag,
  CtState,
  HOT_BYTES_HI,
  HOT_BYTES_LO,
  HOT_LAST_SEEN,
  HOT_PACKETS,
  HOT_SEQ_ORIG,
  HOT_SEQ_REPLY,
  HOT_STRIDE,
  isHalfOpen,
  META_FLAGS_SHIFT,
  META_STATE_MASK,
  META_STATE_SHIFT,
  PEER_NONE,
  RULE_NONE,
  Sweeper,
  type ConntrackOptions,
} from '../conntrack/index.js';
import { Reason } from '../reasons.js';
import { SyngateError } from '../errors.js';
import {
  csumUpdate16,
  findMarker,
  insertToken,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  Marker,
  PacketKind,
  PacketView,
  ParseStatus,
  parseFrame,
  readRejectReason,
  stripReject,
  stripToken,
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  writeBareAck,
  writeRejectRst,
  writeRstForward,
  writeRstReply,
  writeTcpFrame,
} from '../packet/index.js';
import { EventKind, EventRing, EventVerdict } from './events.js';
import { decisionDenies, decisionRule, Mode, type EngineIdentity, type EnginePolicy, type HandshakeOut, type TupleRef } from './ports.js';
import { Direction, LinkType, Verdict, type OutboxEntry, type ProcessResult } from './types.js';

// Hot-path copies for fast() (same values as the named exports they mirror;
// test/engine/constants-sync.test.ts checks every one). V8 (Node 20) compiles a non-exported
// module-level const to a cheap context load, but each use of an imported binding goes through a
// module cell (docs/packet.md measured ~25 ns per frame for ~40 uses).
/** Direction.INBOUND */
const FP_INBOUND = 1;
/** Direction.OUTBOUND */
const FP_OUTBOUND = 0;
/** LinkType.ETHERNET */
const FP_ETHERNET = 1;
/** LinkType.RAW_IPV4 */
const FP_RAW_IPV4 = 101;
/** IPPROTO_TCP */
const FP_TCP = 6;
/** TCP_FLAG_SYN | TCP_FLAG_FIN | TCP_FLAG_RST */
const FP_SYN_FIN_RST = 0x07;
/** CtState.ESTABLISHED << META_STATE_SHIFT */
const FP_META_ESTABLISHED = 0x0500;
/** META_STATE_MASK */
const FP_META_STATE_MASK = 0xff00;
/** CtFlag.REDIRECTED << META_FLAGS_SHIFT */
const FP_META_REDIRECTED = 0x80000;
/** CtFlag.LOCAL_CLIENT << META_FLAGS_SHIFT */
const FP_META_LOCAL_CLIENT = 0x10000;
/** HOT_STRIDE and the hot-group word offsets */
const FP_HOT_STRIDE = 12;
const FP_HOT_LAST_SEEN = 4;
const FP_HOT_PACKETS = 6;
const FP_HOT_BYTES_LO = 7;
const FP_HOT_BYTES_HI = 8;
const FP_HOT_SEQ_ORIG = 9;
const FP_HOT_SEQ_REPLY = 10;
/** TCP options NOP, NOP, timestamp (kind 8, length 10): a 12-byte option block without a marker. */
const FP_NOP_NOP_TS = 0x0101080a;
/** Verdict.FORWARD */
const FP_FORWARD = 0;
/** Reason.OK */
const FP_OK = 0;

export const DEFAULT_ENVOY_PORT = 15006;
/** Reject RSTs per second for refused inbound SYNs (EngineOptions.rejectRstPerSecond). */
export const DEFAULT_REJECT_RST_PER_SECOND = 1000;
export const DEFAULT_REDIRECT_EXCLUDE: ReadonlyArray<readonly [number, number]> = [[15000, 15090]];
const OUTBOX_SLOTS = 4;
const OUTBOX_BUF = 4096;
/** An RST moves an AUTHORIZED flow to CLOSED only when its seq is within this distance of the tracked next seq. */
const RST_WINDOW = 1 << 24;

/** Named engine counters (indexes into Engine.counters). */
export const Counter = {
  PACKETS: 0,
  FAST_PATH: 1,
  HANDSHAKES_STARTED: 2,
  HANDSHAKES_VERIFIED: 3,
  FLOWS_AUTHORIZED: 4,
  TOKENS_INSERTED: 5,
  TOKENS_STRIPPED: 6,
  TOKEN_ACKS_SPLIT: 7,
  RETRANSMITS: 8,
  PORT_REUSE: 9,
  REVOKED: 10,
  RSTS_SENT: 11,
  NON_TCP_PASSED: 12,
  NON_TCP_DROPPED: 13,
  UNKNOWN_FLOW_DROPPED: 14,
  WRONG_DIRECTION: 15,
  MARKER_DROPPED: 16,
  AUDIT_FORWARDED: 17,
  REDIRECTED: 18,
  PEER_REJECTS: 19,
  FLOWS_CLOSED: 20,
  INTERNAL_ERRORS: 21,
  /** Reject RSTs not sent because the reject-RST budget (rejectRstPerSecond) was spent. */
  REJECT_RSTS_SUPPRESSED: 22,
} as const;
export const COUNTER_NAMES: readonly string[] = [
  'packets',
  'fast_path',
  'handshakes_started',
  'handshakes_verified',
  'flows_authorized',
  'tokens_inserted',
  'tokens_stripped',
  'token_acks_split',
  'retransmits',
  'port_reuse',
  'revoked',
  'rsts_sent',
  'non_tcp_passed',
  'non_tcp_dropped',
  'unknown_flow_dropped',
  'wrong_direction',
  'marker_dropped',
  'audit_forwarded',
  'redirected',
  'peer_rejects',
  'flows_closed',
  'internal_errors',
  'reject_rsts_suppressed',
];

export interface EngineOptions<H, P> {
  /** Enforcer (node) name, used in flow records. */
  name?: string;
  linkType: LinkType;
  identity: EngineIdentity<H, P>;
  policy: EnginePolicy<P>;
  /** Flow table options; default capacity 65536. */
  conntrack?: ConntrackOptions;
  /** Largest IP packet a token insertion may produce (default 1500). */
  mtu?: number;
  /** Local Envoy inbound port for redirected workloads (default 15006). */
  envoyPort?: number;
  /** Destination ports never redirected (default Istio's 15000-15090), inclusive ranges. */
  redirectExclude?: ReadonlyArray<readonly [number, number]>;
  /** Frames of addresses that are not protected workloads here: `drop` (default, fail closed) or `pass`. */
  unknownWorkload?: 'drop' | 'pass';
  /** IP protocols other than TCP let through (default ICMP only, for PMTU discovery and ping). */
  passProtocols?: readonly number[];
  /** Event ring capacity (default 4096). */
  eventCapacity?: number;
  /** MAC address of an IP, so revocation RSTs can be built at once on Ethernet links. */
  macOf?: (ip: number) => Uint8Array;
  /** Conntrack slots examined every `sweepEvery` packets (defaults 32 / 64). */
  sweepBudget?: number;
  sweepEvery?: number;
  /**
   * Reject RSTs for refused inbound SYNs per second (a token bucket holding one second's worth;
   * default 1000, 0 = never). Beyond it a refused SYN is dropped silently and counted in
   * `reject_rsts_suppressed`: a flood of forged SYNs from spoofed sources must not make the
   * enforcer spend its CPU sending RSTs to the spoofed addresses.
   */
  rejectRstPerSecond?: number;
}

/** A reusable byte buffer for one token (grows only for an unusually large token). */
export class TokenBuf {
  buf = new Uint8Array(0);
  len = 0;
  set(src: Uint8Array, off: number, len: number): void {
    if (this.buf.length < len) this.buf = new Uint8Array(Math.max(len, 768));
    for (let i = 0; i < len; i++) this.buf[i] = src[off + i]!;
    this.len = len;
  }
  equals(src: Uint8Array, off: number, len: number): boolean {
    if (this.len !== len) return false;
    const b = this.buf;
    for (let i = 0; i < len; i++) if (b[i] !== src[off + i]) return false;
    return true;
  }
}

/**
 * Handshake material of one half-open flow (or of a client-side ACK_SENT flow, while its side slot
 * is retained). Records are owned by handshake side-table slots and reused (reset) when the slot is
 * reused, so a steady stream of handshakes allocates no buffers.
 */
export class HsRecord<H, P> {
  hs: H | null = null;
  /** The token we inserted (SYN or SYN-ACK), re-inserted on retransmission. */
  readonly token = new TokenBuf();
  /** Client side: the ACK token, re-sent until the server is heard from (len 0: not built yet; kept through ACK_SENT). */
  readonly ackToken = new TokenBuf();
  /** Client side: false when the SYN token relied on the server's cache (rebuilt on retransmission). */
  cold = true;
  /** Server side: the client's SYN token as verified (a retransmitted SYN with other bytes is verified again). */
  readonly synToken = new TokenBuf();
  peer: P | null = null;

  reset(): void {
    this.hs = null;
    this.token.len = 0;
    this.ackToken.len = 0;
    this.synToken.len = 0;
    this.cold = true;
    this.peer = null;
  }
}

/** Result of setPolicy(): flows revoked and the RSTs to send now (copies; the caller owns them). */
export interface RevocationResult {
  revision: number;
  checked: number;
  revoked: number;
  packets: OutboxEntry[];
}

/** queueRst kinds: the syngate reject RST, a plain RST back to the sender, a plain RST onward. */
const RST_REJECT = 0;
const RST_REPLY = 1;
const RST_FORWARD = 2;

const NO_OUTBOX: readonly OutboxEntry[] = Object.freeze([]) as readonly OutboxEntry[];

export class Engine<H = unknown, P = unknown> {
  readonly name: string;
  readonly linkType: LinkType;
  readonly ct: ConntrackTable<HsRecord<H, P>>;
  readonly sweeper: Sweeper;
  readonly events: EventRing;
  private readonly ctr = new Float64Array(COUNTER_NAMES.length);
  private readonly vrd = new Float64Array(3);
  /** Counters by Counter index (current as of this read). */
  get counters(): Float64Array {
    this.syncCounters();
    return this.ctr;
  }
  /** Frames by Verdict (FORWARD, DROP, RESET), current as of this read. */
  get verdicts(): Float64Array {
    this.syncCounters();
    return this.vrd;
  }
  /** Denied decisions (rejects) by Reason. */
  readonly rejects = new Float64Array(256);
  /** Peer rejects received, by the peer's Reason. */
  readonly peerRejects = new Float64Array(256);
  readonly envoyPort: number;
  private identity: EngineIdentity<H, P>;
  private policy: EnginePolicy<P>;
  private readonly mtu: number;
  private readonly excluded = new Uint8Array(65536);
  private readonly passProto = new Uint8Array(256);
  private readonly unknownPass: boolean;
  private readonly macOf: ((ip: number) => Uint8Array) | null;
  private readonly sweepBudget: number;
  private readonly sweepMask: number;
  private tickCount = 0;
  private readonly rstRate: number;
  private rstTokens: number;
  private rstLast = 0;
  private readonly view = new PacketView();
  private readonly oview = new PacketView();
  private readonly res: ProcessResult;
  private readonly outPool: OutboxEntry[] = [];
  private readonly outViews: (readonly OutboxEntry[])[] = [];
  private outN = 0;
  private readonly tuple: TupleRef = { saddr: 0, daddr: 0, sport: 0, dport: 0 };
  private readonly hout: HandshakeOut<H, P> = { reason: Reason.OK, hs: null, token: null, tokenLen: 0, peer: null, cold: true };
  /** Handshake records by side-table slot (created on first use, then reused). */
  private readonly recs: Array<HsRecord<H, P> | undefined> = [];
  /** Set by lookupFlow: the packet matched a redirected flow through its original port. */
  private aliased = false;

  constructor(opts: EngineOptions<H, P>) {
    this.name = opts.name ?? 'syngate';
    if (opts.linkType !== LinkType.ETHERNET && opts.linkType !== LinkType.RAW_IPV4) {
      throw new SyngateError('SYNGATE_ENGINE_CONFIG', `engine linkType must be ETHERNET (1) or RAW_IPV4 (101), got ${String(opts.linkType)}`);
    }
    this.linkType = opts.linkType;
    this.identity = opts.identity;
    this.policy = opts.policy;
    this.ct = new ConntrackTable<HsRecord<H, P>>(opts.conntrack ?? { capacity: 65536 });
    this.sweeper = new Sweeper(this.ct as ConntrackTable<unknown>);
    this.events = new EventRing(opts.eventCapacity ?? 4096);
    this.mtu = opts.mtu ?? 1500;
    if (!Number.isInteger(this.mtu) || this.mtu < 576 || this.mtu > 65535) {
      throw new SyngateError('SYNGATE_ENGINE_CONFIG', `engine mtu must be an integer in 576..65535, got ${String(opts.mtu)}`);
    }
    this.envoyPort = opts.envoyPort ?? DEFAULT_ENVOY_PORT;
    if (!Number.isInteger(this.envoyPort) || this.envoyPort < 1 || this.envoyPort > 65535) {
      throw new SyngateError('SYNGATE_ENGINE_CONFIG', `engine envoyPort must be a port 1..65535, got ${String(opts.envoyPort)}`);
    }
    for (const [a, b] of opts.redirectExclude ?? DEFAULT_REDIRECT_EXCLUDE) {
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b > 65535 || a > b) {
        throw new SyngateError('SYNGATE_ENGINE_CONFIG', `engine redirectExclude range ${String(a)}-${String(b)} is not an ordered port range`);
      }
      this.excluded.fill(1, a, b + 1);
    }
    this.excluded[this.envoyPort] = 1;
    for (const p of opts.passProtocols ?? [IPPROTO_ICMP]) this.passProto[p & 0xff] = 1;
    this.unknownPass = opts.unknownWorkload === 'pass';
    this.macOf = opts.macOf ?? null;
    this.sweepBudget = opts.sweepBudget ?? 32;
    let every = 1;
    while (every < (opts.sweepEvery ?? 64)) every *= 2;
    this.sweepMask = every - 1;
    const rate = opts.rejectRstPerSecond ?? DEFAULT_REJECT_RST_PER_SECOND;
    if (!Number.isInteger(rate) || rate < 0 || rate > 1_000_000_000) {
      throw new SyngateError('SYNGATE_ENGINE_CONFIG', `engine rejectRstPerSecond must be an integer in 0..1000000000, got ${String(opts.rejectRstPerSecond)}`);
    }
    this.rstRate = rate;
    this.rstTokens = rate;
    for (let i = 0; i < OUTBOX_SLOTS; i++) this.outPool.push({ buf: new Uint8Array(OUTBOX_BUF), length: 0, direction: Direction.OUTBOUND });
    for (let i = 0; i <= OUTBOX_SLOTS; i++) this.outViews.push(Object.freeze(this.outPool.slice(0, i)));
    this.res = { verdict: Verdict.DROP, length: 0, outbox: NO_OUTBOX, outboxCount: 0, authorized: false, reason: Reason.OK };
    this.ct.onExpire = (slot, now) => this.onExpire(slot, now);
  }

  get currentPolicy(): EnginePolicy<P> {
    return this.policy;
  }

  /** Runs the incremental sweep (the daemon calls this on a timer; process() also sweeps a little). */
  tick(now: number, budget = 4096): number {
    return this.sweeper.step(now, budget);
  }

  /**
   * Decides one frame: frame[off..off+len) with FRAME_HEADROOM spare bytes after it. Rewrites it in
   * place; returns the engine-owned result (valid until the next call).
   */
  process(frame: Uint8Array, off: number, len: number, direction: Direction, now: number): ProcessResult {
    const r = this.res;
    this.packetCount++;
    if ((++this.tickCount & this.sweepMask) === 0) this.sweepStep(now);
    if (this.fast(frame, off, len, direction, now)) {
      // fast() cannot throw: every index it reads was bounds-checked against the frame first.
      r.verdict = FP_FORWARD;
      r.length = len;
      r.outbox = NO_OUTBOX;
      r.outboxCount = 0;
      r.authorized = true;
      r.reason = FP_OK;
      this.fastCount++;
      return r;
    }
    r.verdict = Verdict.DROP;
    r.length = len;
    r.outbox = NO_OUTBOX;
    r.outboxCount = 0;
    r.authorized = false;
    r.reason = Reason.OK;
    this.outN = 0;
    try {
      this.slow(frame, off, len, direction, now);
    } catch {
      r.verdict = Verdict.DROP;
      r.length = len;
      r.outbox = NO_OUTBOX;
      r.outboxCount = 0;
      r.authorized = false;
      r.reason = Reason.INTERNAL;
      this.ctr[Counter.INTERNAL_ERRORS]!++;
    }
    if ((r.verdict as Verdict) === Verdict.FORWARD) this.slowForwards++;
    else this.vrd[r.verdict]!++;
    return r;
  }

  private sweepStep(now: number): void {
    try {
      this.sweeper.step(now, this.sweepBudget);
    } catch {
      this.ctr[Counter.INTERNAL_ERRORS]!++;
    }
  }

  /** Packets processed and fast-path packets (plain fields: cheaper than typed-array slots per packet). */
  private packetCount = 0;
  private fastCount = 0;
  private slowForwards = 0;

  // ---------------------------------------------------------------- fast path

  /** Established, flag-free, marker-free TCP segment of a known flow: forward. Returns false to take the slow path. */
  private fast(b: Uint8Array, off: number, len: number, dir: Direction, now: number): boolean {
    let l3 = off;
    if (this.linkType === FP_ETHERNET) {
      // EtherType 0x0800 at bytes 12-13 (big-endian); VLAN-tagged frames take the slow path.
      if (len < 54 || b[off + 12] !== 0x08 || b[off + 13] !== 0x00) return false;
      l3 = off + 14;
    } else if (len < 40) return false;
    const end = off + len;
    if (!(off >= 0 && end <= b.length)) return false;
    const vihl = b[l3]!;
    const ihl = (vihl & 0x0f) << 2;
    if (vihl >>> 4 !== 4 || ihl < 20 || b[l3 + 9] !== FP_TCP) return false;
    const tot = (b[l3 + 2]! << 8) | b[l3 + 3]!;
    if (tot < ihl + 20 || l3 + tot > end || (this.linkType === FP_RAW_IPV4 && l3 + tot !== end)) return false;
    // MF flag or a fragment offset: slow path (which drops fragments).
    if (((b[l3 + 6]! & 0x3f) | b[l3 + 7]!) !== 0) return false;
    const l4 = l3 + ihl;
    const doff = (b[l4 + 12]! >>> 4) << 2;
    if (doff < 20 || ihl + doff > tot) return false;
    if ((b[l4 + 13]! & FP_SYN_FIN_RST) !== 0) return false;
    // Only INBOUND segments are scanned for a syngate marker: token bytes must never reach a local
    // application. An OUTBOUND marker comes from a local application and the receiving enforcer
    // drops it (a marker on an established flow is never delivered there).
    // The usual established layout (NOP, NOP, timestamp: 01 01 08 0a as one word) is checked in one compare.
    if (doff > 20 && dir === FP_INBOUND) {
      const w = ((b[l4 + 20]! << 24) | (b[l4 + 21]! << 16) | (b[l4 + 22]! << 8) | b[l4 + 23]!) >>> 0;
      if (!(doff === 32 && w === FP_NOP_NOP_TS) && hasSyngateOption(b, l4 + 20, l4 + doff)) return false;
    }
    const saddr = ((b[l3 + 12]! << 24) | (b[l3 + 13]! << 16) | (b[l3 + 14]! << 8) | b[l3 + 15]!) >>> 0;
    const daddr = ((b[l3 + 16]! << 24) | (b[l3 + 17]! << 16) | (b[l3 + 18]! << 8) | b[l3 + 19]!) >>> 0;
    const sport = (b[l4]! << 8) | b[l4 + 1]!;
    const dport = (b[l4 + 2]! << 8) | b[l4 + 3]!;
    const ct = this.ct;
    let slot = ct.lookup(saddr, daddr, sport, dport, now);
    let aliased = false;
    if (slot < 0) {
      if (dir !== FP_INBOUND || this.excluded[dport] === 1) return false;
      slot = ct.lookup(saddr, daddr, sport, this.envoyPort, now);
      if (slot < 0 || ct.reply || (ct.lastMeta & FP_META_REDIRECTED) === 0 || ct.origPort(slot) !== dport) return false;
      aliased = true;
    }
    const meta = ct.lastMeta;
    if ((meta & FP_META_STATE_MASK) !== FP_META_ESTABLISHED) return false;
    const reply = ct.reply;
    // Direction check: the client's packets travel OUTBOUND iff the local workload is the client.
    const localClient = (meta & FP_META_LOCAL_CLIENT) !== 0;
    if (localClient === reply ? dir !== FP_INBOUND : dir !== FP_OUTBOUND) return false;
    // Counters, last-seen and the sender's next sequence number: one 32-byte hot group.
    const hot = ct.hot;
    const h = slot * FP_HOT_STRIDE;
    hot[h + FP_HOT_LAST_SEEN] = now >>> 0;
    hot[h + FP_HOT_PACKETS] = hot[h + FP_HOT_PACKETS]! + 1;
    const lo = hot[h + FP_HOT_BYTES_LO]! + tot;
    if (lo > 0xffffffff) {
      hot[h + FP_HOT_BYTES_LO] = lo - 4294967296;
      hot[h + FP_HOT_BYTES_HI] = hot[h + FP_HOT_BYTES_HI]! + 1;
    } else hot[h + FP_HOT_BYTES_LO] = lo;
    const seq = ((b[l4 + 4]! << 24) | (b[l4 + 5]! << 16) | (b[l4 + 6]! << 8) | b[l4 + 7]!) >>> 0;
    const at = h + (reply ? FP_HOT_SEQ_REPLY : FP_HOT_SEQ_ORIG);
    const nxt = (seq + tot - ihl - doff) >>> 0;
    if (seqAdvances(hot[at]!, nxt)) hot[at] = nxt;
    if ((meta & FP_META_REDIRECTED) !== 0) {
      if (aliased) rewritePort(b, l4, 2, this.envoyPort);
      else if (reply) rewritePort(b, l4, 0, ct.origPort(slot));
    }
    return true;
  }

  /**
   * Finds the flow of a packet; for an INBOUND packet that misses, also tries the redirected
   * tuple (dport = Envoy port) and accepts it only for a REDIRECTED flow whose original port matches.
   */
  private lookupFlow(saddr: number, daddr: number, sport: number, dport: number, dir: Direction, now: number): number {
    this.aliased = false;
    const ct = this.ct;
    const s = ct.lookup(saddr, daddr, sport, dport, now);
    if (s >= 0 || dir !== Direction.INBOUND || this.excluded[dport] === 1) return s;
    const s2 = ct.lookup(saddr, daddr, sport, this.envoyPort, now);
    if (s2 >= 0 && !ct.reply && (ct.flags(s2) & CtFlag.REDIRECTED) !== 0 && ct.origPort(s2) === dport) {
      this.aliased = true;
      return s2;
    }
    return -1;
  }

  // ---------------------------------------------------------------- slow path

  private slow(frame: Uint8Array, off: number, len: number, dir: Direction, now: number): void {
    const v = this.view;
    const st = parseFrame(frame, off, len, this.linkType, v);
    if (st === ParseStatus.OK && v.kind !== PacketKind.TCP) {
      this.nonTcp(v);
      return;
    }
    if (st !== ParseStatus.OK) {
      this.drop(Reason.MALFORMED);
      this.rejects[Reason.MALFORMED]!++;
      return;
    }
    const marker = findMarker(v);
    const saddr = v.srcIp;
    const daddr = v.dstIp;
    const sport = v.srcPort;
    const dport = v.dstPort;
    const flags = v.flags;
    const slot = this.lookupFlow(saddr, daddr, sport, dport, dir, now);
    if ((flags & TCP_FLAG_RST) !== 0) this.onRst(frame, dir, slot, marker, now);
    else if ((flags & TCP_FLAG_SYN) !== 0) {
      if ((flags & TCP_FLAG_ACK) !== 0) this.onSynAck(frame, dir, slot, marker, now);
      else this.onSyn(frame, dir, slot, marker, now);
    } else this.onSegment(frame, dir, slot, marker, now);
  }

  private nonTcp(v: PacketView): void {
    const k = v.kind;
    if (k === PacketKind.ARP || k === PacketKind.OTHER_L2 || ((k === PacketKind.ICMP || k === PacketKind.UDP || k === PacketKind.IPV4_OTHER) && this.passProto[v.ipProto & 0xff] === 1)) {
      this.res.verdict = Verdict.FORWARD;
      this.ctr[Counter.NON_TCP_PASSED]!++;
      return;
    }
    this.ctr[Counter.NON_TCP_DROPPED]!++;
  }

  // ---- SYN ----

  private onSyn(frame: Uint8Array, dir: Direction, slot: number, marker: Marker, now: number): void {
    const v = this.view;
    const ct = this.ct;
    const pol = this.policy;
    const seq = v.seq;
    if (dir === Direction.OUTBOUND) {
      const wl = pol.workloadOf(v.srcIp);
      if (wl < 0) {
        this.unknownWorkload(frame, marker);
        return;
      }
      if (marker !== Marker.NONE) {
        // A local application cannot set our option; treat as forged.
        this.drop(Reason.MALFORMED);
        return;
      }
      if (slot >= 0) {
        const fl = ct.flags(slot);
        if (!ct.reply && (fl & CtFlag.LOCAL_CLIENT) !== 0 && ct.state(slot) === CtState.SYN_SENT && ct.seqOrig(slot) === seq) {
          // Retransmitted SYN: same binding; the same token unless it was warm (then rebuilt, cold).
          const rec = ct.handshake(slot);
          ct.touch(slot, now);
          this.ctr[Counter.RETRANSMITS]!++;
          if (rec !== undefined && !rec.cold) {
            const o = this.callIdentity(0, this.tupleOf(v.srcIp, v.dstIp, v.srcPort, v.dstPort), null, seq, null, now);
            if (o.reason === Reason.OK && o.token !== null && o.hs !== null) {
              rec.hs = o.hs;
              rec.token.set(o.token, 0, o.tokenLen);
              rec.cold = o.cold;
            }
          }
          if (rec !== undefined && rec.token.len > 0) {
            if (!this.forwardWithToken(frame, rec.token)) this.drop(Reason.INTERNAL);
          } else this.drop(Reason.INTERNAL);
          return;
        }
        if (!ct.reply && (fl & CtFlag.UNENFORCED) !== 0 && ct.state(slot) === CtState.ESTABLISHED) {
          this.forward();
          return;
        }
        // Port reuse (or a stale entry): the local TCP chose this tuple again.
        this.replaceExisting(slot, now);
      }
      const mode = pol.mode(wl);
      if (mode === Mode.OFF) {
        const s = ct.insert(v.srcIp, v.dstIp, v.srcPort, v.dstPort, CtState.ESTABLISHED, CtFlag.LOCAL_CLIENT | CtFlag.UNENFORCED | CtFlag.AUTHORIZED, now);
        if (s >= 0) ct.setSeq(s, seq + 1, 0);
        this.forward();
        return;
      }
      const peerIp = pol.expectedPeerId(v.dstIp);
      const d = pol.egress(wl, peerIp, v.dstIp, IPPROTO_TCP, v.dstPort);
      const deny = decisionDenies(d);
      const rule = decisionRule(d);
      if (deny && mode === Mode.ENFORCE) {
        this.rejectLocal(Reason.POLICY, rule, peerIp, now);
        return;
      }
      const s = ct.insert(v.srcIp, v.dstIp, v.srcPort, v.dstPort, CtState.SYN_SENT, CtFlag.LOCAL_CLIENT | (deny ? CtFlag.AUDIT_DENIED : 0), now);
      if (s < 0) {
        this.rejectLocal(-s, rule, peerIp, now);
        return;
      }
      ct.setSeq(s, seq, 0);
      ct.setVerdict(s, deny ? Reason.POLICY : Reason.OK, rule, peerIp);
      const t = this.tupleOf(v.srcIp, v.dstIp, v.srcPort, v.dstPort);
      const o = this.callIdentity(0, t, null, seq, null, now);
      if (o.reason !== Reason.OK || o.token === null || o.hs === null) {
        ct.remove(s);
        if (mode === Mode.AUDIT) {
          this.auditPassthrough(v.srcIp, v.dstIp, v.srcPort, v.dstPort, CtFlag.LOCAL_CLIENT, o.reason, rule, peerIp, seq, now);
          return;
        }
        this.rejectLocal(o.reason === Reason.OK ? Reason.INTERNAL : o.reason, rule, peerIp, now);
        return;
      }
      const rec = this.newRecord(s);
      rec.hs = o.hs;
      rec.token.set(o.token, 0, o.tokenLen);
      rec.cold = o.cold;
      this.ctr[Counter.HANDSHAKES_STARTED]!++;
      if (!this.forwardWithToken(frame, rec.token)) {
        ct.remove(s);
        this.rejectLocal(Reason.INTERNAL, rule, peerIp, now);
      }
      return;
    }

    // INBOUND SYN toward a local server.
    const wl = pol.workloadOf(v.dstIp);
    if (wl < 0) {
      this.unknownWorkload(frame, marker);
      return;
    }
    let existing = -1;
    if (slot >= 0) {
      const fl = ct.flags(slot);
      const state = ct.state(slot);
      const rec = ct.handshake(slot);
      if (
        !ct.reply &&
        (fl & CtFlag.LOCAL_CLIENT) === 0 &&
        (state === CtState.SYN_RCVD || state === CtState.SYNACK_SENT) &&
        ct.seqOrig(slot) === seq &&
        (marker !== Marker.TOKEN || (rec !== undefined && rec.synToken.equals(frame, v.tokenOff, v.tokenLen)))
      ) {
        // Retransmitted SYN of a handshake in progress, same token bytes: strip and forward, no
        // second verification (the identity layer would call it a replay). A retransmission with a
        // new token (the client went cold) is verified as a new handshake below.
        if (marker === Marker.MALFORMED || marker === Marker.REJECT) {
          this.drop(Reason.MALFORMED);
          return;
        }
        ct.touch(slot, now);
        this.ctr[Counter.RETRANSMITS]!++;
        if (marker === Marker.TOKEN && !this.strip(frame)) {
          this.drop(Reason.MALFORMED);
          return;
        }
        if (this.aliased) this.redirectIn(frame);
        this.forward();
        return;
      }
      existing = slot;
    }
    const mode = pol.mode(wl);
    if (mode === Mode.OFF) {
      if (marker === Marker.TOKEN && !this.strip(frame)) {
        this.drop(Reason.MALFORMED);
        return;
      }
      if (marker === Marker.MALFORMED || marker === Marker.REJECT) {
        this.drop(Reason.MALFORMED);
        return;
      }
      if (existing >= 0) this.replaceExisting(existing, now);
      const s = ct.insert(v.srcIp, v.dstIp, v.srcPort, v.dstPort, CtState.ESTABLISHED, CtFlag.UNENFORCED | CtFlag.AUTHORIZED, now);
      if (s >= 0) ct.setSeq(s, seq + 1, 0);
      this.forward();
      return;
    }
    if (marker === Marker.MALFORMED || marker === Marker.REJECT) {
      this.rejectRemote(Reason.MALFORMED, RULE_NONE, PEER_NONE, false, now, existing);
      return;
    }
    const origPort = v.dstPort;
    const redirect = pol.redirect(wl) && this.excluded[origPort] === 0;
    if (marker === Marker.NONE) {
      // A peer without an enforcer: only its address speaks for it.
      const peerIp = pol.ipPeerId(v.srcIp);
      const d = pol.ingress(wl, peerIp, v.srcIp, IPPROTO_TCP, origPort);
      const deny = decisionDenies(d);
      const rule = decisionRule(d);
      if (deny && mode === Mode.ENFORCE) {
        this.rejectRemote(Reason.NO_TOKEN, rule, peerIp, false, now, existing);
        return;
      }
      if (existing >= 0) this.replaceExisting(existing, now);
      const s = this.insertServer(v.srcIp, v.dstIp, v.srcPort, origPort, redirect, CtState.ESTABLISHED, CtFlag.AUTHORIZED | CtFlag.IP_IDENTITY | (deny ? CtFlag.AUDIT_DENIED : 0), now);
      if (s < 0) {
        this.rejectRemote(-s, rule, peerIp, false, now);
        return;
      }
      ct.setSeq(s, seq + 1, 0);
      ct.setVerdict(s, deny ? Reason.NO_TOKEN : Reason.OK, rule, peerIp);
      this.decision(s, deny ? EventVerdict.AUDIT : EventVerdict.ALLOW, deny ? Reason.NO_TOKEN : Reason.OK, now);
      if (redirect) this.redirectIn(frame);
      this.forward();
      this.res.authorized = true;
      return;
    }
    // Marker.TOKEN: cheap admission checks before any cryptography.
    const admit = this.admit(v.srcIp, existing);
    if (admit !== Reason.OK) {
      this.rejectRemote(admit, RULE_NONE, PEER_NONE, false, now, existing);
      return;
    }
    const t = this.tupleOf(v.srcIp, v.dstIp, v.srcPort, origPort);
    const o = this.callIdentity(1, t, null, seq, frame.subarray(v.tokenOff, v.tokenOff + v.tokenLen), now);
    if (o.reason !== Reason.OK || o.hs === null || o.peer === null) {
      const reason = o.reason === Reason.OK ? Reason.INTERNAL : o.reason;
      if (mode === Mode.AUDIT && this.strip(frame)) {
        if (existing >= 0) this.replaceExisting(existing, now);
        this.auditPassthrough(v.srcIp, v.dstIp, v.srcPort, origPort, 0, reason, RULE_NONE, PEER_NONE, seq, now, redirect, frame);
        return;
      }
      this.rejectRemote(reason, RULE_NONE, PEER_NONE, false, now, existing);
      return;
    }
    const hs = o.hs;
    const peer = o.peer;
    const peerId = pol.peerId(peer);
    const d = pol.ingress(wl, peerId, v.srcIp, IPPROTO_TCP, origPort);
    const deny = decisionDenies(d);
    const rule = decisionRule(d);
    if (deny && mode === Mode.ENFORCE) {
      this.rejectRemote(Reason.POLICY, rule, peerId, true, now, existing);
      return;
    }
    if (existing >= 0) this.replaceExisting(existing, now);
    const s = this.insertServer(v.srcIp, v.dstIp, v.srcPort, origPort, redirect, CtState.SYN_RCVD, deny ? CtFlag.AUDIT_DENIED : 0, now);
    if (s < 0) {
      this.rejectRemote(-s, rule, peerId, true, now);
      return;
    }
    ct.setSeq(s, seq, 0);
    ct.setVerdict(s, deny ? Reason.POLICY : Reason.OK, rule, peerId);
    const rec = this.newRecord(s);
    rec.hs = hs;
    rec.peer = peer;
    rec.synToken.set(frame, v.tokenOff, v.tokenLen);
    this.ctr[Counter.HANDSHAKES_VERIFIED]!++;
    if (!this.strip(frame)) {
      ct.remove(s);
      this.drop(Reason.MALFORMED);
      return;
    }
    if (redirect) this.redirectIn(frame);
    this.forward();
  }

  /** The (reused) handshake record of a half-open flow's side-table slot, reset. */
  private newRecord(slot: number): HsRecord<H, P> {
    const ss = this.ct.sideSlot(slot);
    let rec = this.recs[ss];
    if (rec === undefined) {
      rec = new HsRecord<H, P>();
      this.recs[ss] = rec;
    } else rec.reset();
    this.ct.setHandshake(slot, rec);
    return rec;
  }

  /** Inserts a server-side flow keyed as the local workload sees it (dport = Envoy port when redirected). */
  private insertServer(saddr: number, daddr: number, sport: number, origPort: number, redirect: boolean, state: CtState, flags: number, now: number): number {
    const ct = this.ct;
    const s = ct.insert(saddr, daddr, sport, redirect ? this.envoyPort : origPort, state, flags | (redirect ? CtFlag.REDIRECTED : 0), now);
    if (s >= 0 && redirect) ct.setOrigPort(s, origPort);
    return s;
  }

  /** Reason.OK iff a new half-open flow from `saddr` would be admitted (the entry `existing` is going away). */
  private admit(saddr: number, existing: number): Reason {
    const ct = this.ct;
    const freeing = existing >= 0 ? 1 : 0;
    const freeingHalf = existing >= 0 && isHalfOpen(ct.state(existing)) ? 1 : 0;
    void freeing; // a full table is decided by insert(), which may reclaim an expired entry first
    if (ct.halfOpen - freeingHalf >= ct.halfOpenCap) {
      ct.stats.halfOpenTotal++;
      return Reason.HALF_OPEN_LIMIT;
    }
    if (ct.sources.get(saddr) - (freeingHalf && ct.saddr(existing) === saddr ? 1 : 0) >= ct.halfOpenPerSource) {
      ct.stats.halfOpenPerSource++;
      return Reason.HALF_OPEN_LIMIT;
    }
    return Reason.OK;
  }

  // ---- SYN-ACK ----

  private onSynAck(frame: Uint8Array, dir: Direction, slot: number, marker: Marker, now: number): void {
    const v = this.view;
    const ct = this.ct;
    // A SYN-ACK travels responder -> initiator.
    const fl = this.flowFlags(frame, dir, slot, marker, true);
    if (fl < 0) return;
    const localClient = (fl & CtFlag.LOCAL_CLIENT) !== 0;
    const state = ct.state(slot);
    const seq = v.seq;
    if ((fl & CtFlag.UNENFORCED) !== 0 || (state === CtState.ESTABLISHED && (fl & CtFlag.IP_IDENTITY) !== 0)) {
      if (marker === Marker.TOKEN && dir === Direction.INBOUND && !this.strip(frame)) return this.drop(Reason.MALFORMED);
      if (marker !== Marker.NONE && marker !== Marker.TOKEN) return this.drop(Reason.MALFORMED);
      if (dir === Direction.OUTBOUND && marker !== Marker.NONE) return this.drop(Reason.MALFORMED);
      ct.touch(slot, now);
      if (state === CtState.ESTABLISHED) ct.hot[slot * HOT_STRIDE + HOT_SEQ_REPLY] = (seq + 1) >>> 0;
      this.translateOut(frame, slot, dir);
      this.forward();
      this.res.authorized = true;
      return;
    }
    if (!localClient) {
      // Server side: the local application answers; add our token.
      if (marker !== Marker.NONE) return this.drop(Reason.MALFORMED);
      if (state === CtState.SYN_RCVD) {
        const rec = ct.handshake(slot);
        if (rec === undefined || rec.hs === null) return this.drop(Reason.INTERNAL);
        this.translateOut(frame, slot, dir);
        const o = this.callIdentity(2, null, rec.hs, seq, null, now);
        if (o.reason !== Reason.OK || o.token === null) {
          this.resetServerApp(frame, slot, o.reason === Reason.OK ? Reason.INTERNAL : o.reason, now);
          return;
        }
        rec.token.set(o.token, 0, o.tokenLen);
        ct.setSeq(slot, ct.seqOrig(slot), seq);
        ct.setState(slot, CtState.SYNACK_SENT);
        // setState kept the side slot (still half-open).
        ct.touch(slot, now);
        if (!this.forwardWithToken(frame, rec.token)) this.resetServerApp(frame, slot, Reason.INTERNAL, now);
        return;
      }
      if (state === CtState.SYNACK_SENT && ct.seqReply(slot) === seq) {
        const rec = ct.handshake(slot);
        this.ctr[Counter.RETRANSMITS]!++;
        ct.touch(slot, now);
        this.translateOut(frame, slot, dir);
        if (rec !== undefined && rec.token.len > 0) this.forwardWithToken(frame, rec.token);
        else this.drop(Reason.INTERNAL);
        return;
      }
      if (state === CtState.ESTABLISHED || state === CtState.FIN_WAIT) {
        // A late retransmission after authorization: harmless, no token needed.
        this.translateOut(frame, slot, dir);
        this.forward();
        return;
      }
      this.drop(Reason.MALFORMED);
      return;
    }

    // Client side: verify the server.
    if (state === CtState.SYN_SENT) {
      if (v.ack !== ((ct.seqOrig(slot) + 1) >>> 0)) return this.drop(Reason.MALFORMED);
      const wl = this.policy.workloadOf(ct.saddr(slot));
      const mode = wl < 0 ? Mode.ENFORCE : this.policy.mode(wl);
      const rec = ct.handshake(slot);
      if (marker === Marker.NONE) {
        const peerIp = this.policy.ipPeerId(v.srcIp);
        const d = this.policy.egress(wl, peerIp, v.srcIp, IPPROTO_TCP, v.srcPort);
        const deny = decisionDenies(d);
        if (deny && mode === Mode.ENFORCE) return this.rejectBoth(frame, slot, Reason.NO_TOKEN, decisionRule(d), peerIp, now);
        ct.setVerdict(slot, deny ? Reason.NO_TOKEN : Reason.OK, decisionRule(d), peerIp);
        ct.setState(slot, CtState.ESTABLISHED);
        ct.addFlags(slot, CtFlag.AUTHORIZED | CtFlag.IP_IDENTITY | (deny ? CtFlag.AUDIT_DENIED : 0));
        ct.setSeq(slot, ct.seqOrig(slot) + 1, seq + 1);
        ct.touch(slot, now);
        this.decision(slot, deny ? EventVerdict.AUDIT : EventVerdict.ALLOW, deny ? Reason.NO_TOKEN : Reason.OK, now);
        this.forward();
        this.res.authorized = true;
        return;
      }
      if (marker !== Marker.TOKEN || rec === undefined || rec.hs === null) return this.rejectBoth(frame, slot, Reason.MALFORMED, RULE_NONE, PEER_NONE, now);
      const o = this.callIdentity(3, null, rec.hs, seq, frame.subarray(v.tokenOff, v.tokenOff + v.tokenLen), now);
      if (o.reason !== Reason.OK || o.peer === null) {
        const reason = o.reason === Reason.OK ? Reason.INTERNAL : o.reason;
        if (mode === Mode.AUDIT && this.strip(frame)) {
          ct.setVerdict(slot, reason, RULE_NONE, PEER_NONE);
          ct.setState(slot, CtState.ESTABLISHED);
          ct.addFlags(slot, CtFlag.AUTHORIZED | CtFlag.AUDIT_DENIED | CtFlag.IP_IDENTITY);
          ct.setSeq(slot, ct.seqOrig(slot) + 1, seq + 1);
          this.decision(slot, EventVerdict.AUDIT, reason, now);
          this.ctr[Counter.AUDIT_FORWARDED]!++;
          this.forward();
          return;
        }
        return this.rejectBoth(frame, slot, reason, RULE_NONE, PEER_NONE, now);
      }
      const peerId = this.policy.peerId(o.peer);
      const d = this.policy.egress(wl, peerId, v.srcIp, IPPROTO_TCP, v.srcPort);
      const deny = decisionDenies(d);
      const rule = decisionRule(d);
      if (deny && mode === Mode.ENFORCE) return this.rejectBoth(frame, slot, Reason.POLICY, rule, peerId, now);
      rec.peer = o.peer;
      const prior = ct.reason(slot);
      ct.setVerdict(slot, deny ? Reason.POLICY : prior, rule, peerId);
      if (deny) ct.addFlags(slot, CtFlag.AUDIT_DENIED);
      ct.setSeq(slot, ct.seqOrig(slot), seq);
      ct.setState(slot, CtState.SYNACK_RCVD);
      ct.touch(slot, now);
      if (!this.strip(frame)) return this.rejectBoth(frame, slot, Reason.MALFORMED, rule, peerId, now);
      this.ctr[Counter.HANDSHAKES_VERIFIED]!++;
      this.forward();
      return;
    }
    if (state === CtState.SYNACK_RCVD || state === CtState.ACK_SENT || state === CtState.ESTABLISHED || state === CtState.FIN_WAIT) {
      if ((state === CtState.SYNACK_RCVD || state === CtState.ACK_SENT) && ct.seqReply(slot) !== seq) return this.drop(Reason.MALFORMED);
      // Retransmitted SYN-ACK (our ACK was lost, or late): strip and let the client TCP re-ACK.
      if (marker === Marker.TOKEN) {
        if (!this.strip(frame)) return this.drop(Reason.MALFORMED);
      } else if (marker !== Marker.NONE) return this.drop(Reason.MALFORMED);
      else if ((fl & CtFlag.IP_IDENTITY) === 0) return this.drop(Reason.NO_TOKEN);
      this.ctr[Counter.RETRANSMITS]!++;
      ct.touch(slot, now);
      this.forward();
      return;
    }
    this.drop(Reason.MALFORMED);
  }

  // ---- RST ----

  private onRst(frame: Uint8Array, dir: Direction, slot: number, marker: Marker, now: number): void {
    const v = this.view;
    const ct = this.ct;
    if (slot < 0) {
      if (dir === Direction.OUTBOUND && marker === Marker.NONE) this.forward();
      else this.drop(Reason.OK);
      return;
    }
    const fl = ct.flags(slot);
    const localClient = (fl & CtFlag.LOCAL_CLIENT) !== 0;
    const fromClient = !ct.reply;
    if (this.misdirected(localClient, fromClient, dir)) return;
    if (marker === Marker.TOKEN || marker === Marker.MALFORMED) return this.drop(Reason.MALFORMED);
    const state = ct.state(slot);
    if (dir === Direction.INBOUND && !this.rstAcceptable(slot, state, fromClient)) {
      // A blind or stale RST from the network: it changes nothing here.
      return this.drop(Reason.MALFORMED);
    }
    if (marker === Marker.REJECT && dir === Direction.INBOUND) {
      const peerReason = readRejectReason(v);
      const rec = ct.handshake(slot);
      if (peerReason === Reason.STALE_CACHE && state === CtState.SYN_SENT && rec !== undefined && !rec.cold) {
        // The server lost the cache our warm SYN relied on: swallow the reject; the client TCP
        // retransmits the SYN and it leaves cold (self-contained).
        this.ctr[Counter.PEER_REJECTS]!++;
        this.peerRejects[peerReason]!++;
        return this.drop(Reason.STALE_CACHE);
      }
      this.ctr[Counter.PEER_REJECTS]!++;
      this.peerRejects[peerReason & 0xff]!++;
      if (isHalfOpen(state) || state === CtState.ACK_SENT) {
        ct.setVerdict(slot, Reason.PEER_REJECT, ct.ruleId(slot), ct.peerId(slot));
        this.pushEvent(EventKind.PEER_REJECT, slot, EventVerdict.DENY, peerReason & 0xff, now);
        ct.addFlags(slot, CtFlag.REPORTED);
      }
      // The reason is recorded; the application gets a plain RST (no syngate option reaches it).
      if (stripReject(frame, v) < 0) return this.drop(Reason.MALFORMED);
    }
    this.translateAny(frame, slot, dir);
    this.forward();
    this.closeFlow(slot, now);
  }

  /**
   * RFC 9293 3.10.7-style acceptability of an RST arriving from the network: in SYN-SENT it must
   * acknowledge our SYN; during the rest of the handshake its seq must be the sender's next
   * sequence number; afterwards within RST_WINDOW of the tracked next sequence number.
   */
  private rstAcceptable(slot: number, state: CtState, fromClient: boolean): boolean {
    const v = this.view;
    const ct = this.ct;
    switch (state) {
      case CtState.SYN_SENT:
        return !fromClient && (v.flags & TCP_FLAG_ACK) !== 0 && v.ack === ((ct.seqOrig(slot) + 1) >>> 0);
      case CtState.SYNACK_RCVD:
      case CtState.ACK_SENT:
        return !fromClient && v.seq === ((ct.seqReply(slot) + 1) >>> 0);
      case CtState.SYN_RCVD:
      case CtState.SYNACK_SENT: {
        if (!fromClient) return false;
        const d = (v.seq - ct.seqOrig(slot)) | 0;
        return d === 0 || d === 1;
      }
      default: {
        const expect = fromClient ? ct.seqOrig(slot) : ct.seqReply(slot);
        const d = (v.seq - expect) | 0;
        return d <= RST_WINDOW && d >= -RST_WINDOW;
      }
    }
  }

  /**
   * The opening of onSynAck and onSegment: the flags of the flow at `slot` (the last lookup), or -1
   * when this frame is already decided: no flow (unknownFlow) or misdirected (see misdirected;
   * `responderOnly` for a SYN-ACK).
   */
  private flowFlags(frame: Uint8Array, dir: Direction, slot: number, marker: Marker, responderOnly: boolean): number {
    if (slot < 0) {
      this.unknownFlow(frame, dir, marker);
      return -1;
    }
    const fl = this.ct.flags(slot);
    return this.misdirected((fl & CtFlag.LOCAL_CLIENT) !== 0, !this.ct.reply, dir, responderOnly) ? -1 : fl;
  }

  /**
   * True, with the frame dropped and counted (wrong_direction), when a packet from the flow's
   * client (`fromClient`) or server travels the wrong way for the flow's role here: a local
   * client's packets go OUTBOUND and its server's come INBOUND; the reverse for a local server.
   * With `responderOnly` (a SYN-ACK), any packet from the client is also misdirected.
   */
  private misdirected(localClient: boolean, fromClient: boolean, dir: Direction, responderOnly = false): boolean {
    if (!(responderOnly && fromClient) && (fromClient === localClient ? dir === Direction.OUTBOUND : dir === Direction.INBOUND)) return false;
    this.ctr[Counter.WRONG_DIRECTION]!++;
    this.drop(Reason.MALFORMED);
    return true;
  }

  // ---- everything else (ACK, data, FIN) ----

  private onSegment(frame: Uint8Array, dir: Direction, slot: number, marker: Marker, now: number): void {
    const ct = this.ct;
    const fl = this.flowFlags(frame, dir, slot, marker, false);
    if (fl < 0) return;
    const fromClient = !ct.reply;
    const state = ct.state(slot);
    if ((fl & CtFlag.REVOKED) !== 0) {
      this.revokedPacket(frame, slot, dir);
      return;
    }
    if ((fl & CtFlag.UNENFORCED) !== 0) {
      if (marker !== Marker.NONE) {
        if (marker !== Marker.TOKEN || dir !== Direction.INBOUND || !this.strip(frame)) return this.drop(Reason.MALFORMED);
      }
      this.established(frame, slot, dir, fromClient, now);
      return;
    }
    switch (state) {
      case CtState.ESTABLISHED:
      case CtState.FIN_WAIT:
      case CtState.CLOSED:
        if (marker !== Marker.NONE) {
          // A duplicate token-only ACK or junk: never deliver token bytes; nothing else rides on it.
          this.ctr[Counter.MARKER_DROPPED]!++;
          return this.drop(Reason.OK);
        }
        if ((fl & CtFlag.AUTHORIZED) === 0) return this.drop(Reason.NO_TOKEN);
        this.established(frame, slot, dir, fromClient, now);
        return;
      case CtState.SYNACK_RCVD:
      case CtState.ACK_SENT:
        if (fromClient) {
          this.clientFinalAck(frame, slot, marker, now);
          return;
        }
        // The server spoke after our ACK token: it authorized us. A FIN we sent meanwhile
        // (FIN_ORIG, kept while ACK_SENT) makes that FIN_WAIT, as it would have from ESTABLISHED.
        if (marker !== Marker.NONE) return this.drop(Reason.MALFORMED);
        ct.setState(slot, (fl & CtFlag.FIN_ORIG) !== 0 ? CtState.FIN_WAIT : CtState.ESTABLISHED);
        ct.addFlags(slot, CtFlag.AUTHORIZED);
        this.authorizedNow(slot, now);
        this.established(frame, slot, dir, fromClient, now);
        return;
      case CtState.SYNACK_SENT:
        if (!fromClient) return this.drop(Reason.OK);
        this.serverFinalAck(frame, slot, marker, now);
        return;
      default:
        // SYN_SENT / SYN_RCVD: nothing but handshake packets may pass yet.
        this.drop(Reason.OK);
    }
  }

  /**
   * Client side, outbound ACK/data while our ACK token is outstanding (SYNACK_RCVD, ACK_SENT). Once
   * the token left, the flow is ACK_SENT: off the half-open caps, established timeout, the record
   * kept so the token can be re-sent (e.g. for the re-ACK of a retransmitted SYN-ACK).
   * A FIN sets FIN_ORIG but the state stays ACK_SENT until the server speaks: in FIN_WAIT an
   * unauthorized flow's segments are dropped (the server's answer could never authorize it) and the
   * record the token is re-sent from would be released; onSegment turns ACK_SENT + FIN_ORIG into
   * FIN_WAIT when the server speaks.
   */
  private clientFinalAck(frame: Uint8Array, slot: number, marker: Marker, now: number): void {
    const v = this.view;
    const ct = this.ct;
    if (marker !== Marker.NONE) return this.drop(Reason.MALFORMED);
    const fin = (v.flags & TCP_FLAG_FIN) !== 0 ? CtFlag.FIN_ORIG : 0;
    // A pure ACK below the next sequence number in ACK_SENT: a keepalive probe (seq = next - 1). It
    // does not move the tracked next sequence number back (revocation RSTs are built from it).
    const probe = v.payloadLen === 0 && fin === 0 && ct.state(slot) === CtState.ACK_SENT && ((v.seq - ct.seqOrig(slot)) | 0) < 0;
    const rec = ct.handshake(slot);
    if (rec === undefined || rec.hs === null) {
      if (ct.state(slot) !== CtState.ACK_SENT) return this.drop(Reason.INTERNAL);
      // The retained record was evicted for a new handshake (ct.stats.sideEvicted): the token can
      // no longer be re-sent; the segment goes as is and the server's enforcer decides.
      ct.account(slot, v.ipTotalLen, now);
      if (!probe) this.seqTrack(slot, true);
      ct.addFlags(slot, fin);
      this.forward();
      return;
    }
    if (rec.ackToken.len === 0) {
      const o = this.callIdentity(4, null, rec.hs, 0, null, now);
      if (o.reason !== Reason.OK || o.token === null) return this.rejectBoth(frame, slot, o.reason === Reason.OK ? Reason.INTERNAL : o.reason, ct.ruleId(slot), ct.peerId(slot), now);
      rec.ackToken.set(o.token, 0, o.tokenLen);
    }
    ct.account(slot, v.ipTotalLen, now);
    // A pure ACK carries the token itself (the final ACK, or the re-ACK of a retransmitted SYN-ACK:
    // either may be the one the server's enforcer verifies, so token and ACK must not be split up
    // and reordered). A keepalive probe is split like data instead: the server's enforcer drops a
    // token-bearing segment of a flow it already authorized, and the probe must reach the server,
    // whose answer authorizes the flow here (unanswered probes make the client kernel kill it).
    if (v.payloadLen === 0 && fin === 0 && !probe) {
      if (!this.forwardWithToken(frame, rec.ackToken)) return this.drop(Reason.INTERNAL);
      this.seqTrack(slot, true);
      ct.setState(slot, CtState.ACK_SENT);
      return;
    }
    // Data, FIN or a keepalive probe: send a token-only ACK first, then the segment unchanged.
    const e = this.outEntry(Direction.OUTBOUND);
    if (e === null) return this.drop(Reason.INTERNAL);
    const n = writeBareAck(e.buf, 0, v);
    if (n < 0) {
      this.outN--;
      return this.drop(Reason.INTERNAL);
    }
    const ov = this.oview;
    parseFrame(e.buf, 0, n, this.linkType, ov);
    const m = insertToken(e.buf, ov, rec.ackToken.buf, 0, rec.ackToken.len, this.mtu);
    if (m < 0) {
      this.outN--;
      return this.drop(Reason.INTERNAL);
    }
    e.length = m;
    this.ctr[Counter.TOKEN_ACKS_SPLIT]!++;
    this.ctr[Counter.TOKENS_INSERTED]!++;
    if (!probe) this.seqTrack(slot, true);
    ct.setState(slot, CtState.ACK_SENT);
    ct.addFlags(slot, fin);
    this.forward();
  }

  /** Server side, inbound segment while we wait for the client's ACK token. */
  private serverFinalAck(frame: Uint8Array, slot: number, marker: Marker, now: number): void {
    const v = this.view;
    const ct = this.ct;
    const wl = this.policy.workloadOf(ct.daddr(slot));
    const mode = wl < 0 ? Mode.ENFORCE : this.policy.mode(wl);
    const isFinalAck = v.payloadLen === 0 && (v.flags & (TCP_FLAG_FIN | TCP_FLAG_ACK)) === TCP_FLAG_ACK && v.seq === ((ct.seqOrig(slot) + 1) >>> 0) && v.ack === ((ct.seqReply(slot) + 1) >>> 0);
    if (marker === Marker.NONE) {
      if (!isFinalAck) {
        // Data that overtook the token ACK (or a forged segment): drop, TCP retransmits.
        return this.drop(Reason.OK);
      }
      if (mode === Mode.AUDIT) return this.auditEstablish(frame, slot, Reason.NO_TOKEN, now);
      return this.rejectAck(frame, slot, Reason.NO_TOKEN, now);
    }
    if (marker !== Marker.TOKEN) {
      if (mode === Mode.AUDIT) return this.drop(Reason.MALFORMED);
      return this.rejectAck(frame, slot, Reason.MALFORMED, now);
    }
    const rec = ct.handshake(slot);
    if (rec === undefined || rec.hs === null) return this.drop(Reason.INTERNAL);
    const o = this.callIdentity(5, null, rec.hs, 0, frame.subarray(v.tokenOff, v.tokenOff + v.tokenLen), now);
    if (o.reason !== Reason.OK) {
      if (mode === Mode.AUDIT && this.strip(frame)) return this.auditEstablish(frame, slot, o.reason, now);
      return this.rejectAck(frame, slot, o.reason, now);
    }
    if (!this.strip(frame)) return this.rejectAck(frame, slot, Reason.MALFORMED, now);
    ct.setState(slot, CtState.ESTABLISHED);
    ct.addFlags(slot, CtFlag.AUTHORIZED);
    ct.setSeq(slot, v.seq, (ct.seqReply(slot) + 1) >>> 0);
    this.authorizedNow(slot, now);
    ct.account(slot, v.ipTotalLen, now);
    if (this.aliased) this.redirectIn(frame);
    this.forward();
    this.res.authorized = true;
  }

  private auditEstablish(frame: Uint8Array, slot: number, reason: Reason, now: number): void {
    const ct = this.ct;
    ct.setVerdict(slot, reason, ct.ruleId(slot), ct.peerId(slot));
    ct.setState(slot, CtState.ESTABLISHED);
    ct.addFlags(slot, CtFlag.AUTHORIZED | CtFlag.AUDIT_DENIED);
    ct.setSeq(slot, this.view.seq, (ct.seqReply(slot) + 1) >>> 0);
    this.decision(slot, EventVerdict.AUDIT, reason, now);
    this.ctr[Counter.AUDIT_FORWARDED]!++;
    if (this.aliased) this.redirectIn(frame);
    this.forward();
  }

  /** Forwards a segment of a tracked, allowed flow: FIN bookkeeping, counters, redirect translation. */
  private established(frame: Uint8Array, slot: number, dir: Direction, fromClient: boolean, now: number): void {
    const v = this.view;
    const ct = this.ct;
    ct.account(slot, v.ipTotalLen, now);
    this.seqTrack(slot, fromClient);
    if ((v.flags & TCP_FLAG_FIN) !== 0) {
      ct.addFlags(slot, fromClient ? CtFlag.FIN_ORIG : CtFlag.FIN_REPLY);
      const f = ct.flags(slot);
      if ((f & CtFlag.FIN_ORIG) !== 0 && (f & CtFlag.FIN_REPLY) !== 0) this.closeFlow(slot, now);
      else if (ct.state(slot) === CtState.ESTABLISHED) ct.setState(slot, CtState.FIN_WAIT);
    }
    this.translateAny(frame, slot, dir);
    this.forward();
    this.res.authorized = (ct.flags(slot) & CtFlag.AUTHORIZED) !== 0;
  }

  private seqTrack(slot: number, fromClient: boolean): void {
    const v = this.view;
    const hot = this.ct.hot;
    const at = slot * HOT_STRIDE + (fromClient ? HOT_SEQ_ORIG : HOT_SEQ_REPLY);
    const nxt = (v.seq + v.segLen) >>> 0;
    if (seqAdvances(hot[at]!, nxt)) hot[at] = nxt;
  }

  // ---------------------------------------------------------------- rejects and resets

  /**
   * Writes one RST built from the parsed frame into the next outbox entry toward `dir`: `kind`
   * RST_REJECT (syngate reject carrying `reason`, only ever toward a peer enforcer), RST_REPLY
   * (plain, back to the frame's sender) or RST_FORWARD (plain, onward as if from the sender).
   * Counted in RSTS_SENT when written; nothing is queued when the outbox is full or the build fails.
   */
  private queueRst(dir: Direction, kind: number, reason: number): void {
    const e = this.outEntry(dir);
    if (e === null) return;
    const v = this.view;
    const n = kind === RST_REJECT ? writeRejectRst(e.buf, 0, v, reason) : kind === RST_REPLY ? writeRstReply(e.buf, 0, v) : writeRstForward(e.buf, 0, v);
    if (n > 0) {
      e.length = n;
      this.ctr[Counter.RSTS_SENT]!++;
    } else this.outN--;
  }

  /**
   * Outbound SYN refused here: drop it and reset the local client so connect() fails fast (a plain
   * RST: the reason is in the event, and no syngate option reaches an application).
   */
  private rejectLocal(reason: number, rule: number, peerId: number, now: number): void {
    const v = this.view;
    this.queueRst(Direction.INBOUND, RST_REPLY, 0);
    this.rejects[reason & 0xff]!++;
    this.events.push(EventKind.DECISION, EventVerdict.DENY, reason, true, false, v.srcIp, v.dstIp, v.srcPort, v.dstPort, 0, rule, peerId, now, now, 1, v.ipTotalLen);
    this.setReset(reason);
  }

  /**
   * Inbound SYN refused: drop it, send the client's enforcer a reject RST with the reason. When the
   * tuple belongs to a live flow (`existing` >= 0: a replay or a forged SYN on its tuple) no RST is
   * sent, so the refusal cannot be aimed at that flow's endpoints.
   */
  private rejectRemote(reason: number, rule: number, peerId: number, verified: boolean, now: number, existing = -1): void {
    const v = this.view;
    if (!(existing >= 0 && this.ct.state(existing) !== CtState.CLOSED)) {
      if (this.takeRejectRst(now)) this.queueRst(Direction.OUTBOUND, RST_REJECT, reason);
      else this.ctr[Counter.REJECT_RSTS_SUPPRESSED]!++;
    }
    this.rejects[reason & 0xff]!++;
    this.events.push(EventKind.DECISION, EventVerdict.DENY, reason, false, verified, v.srcIp, v.dstIp, v.srcPort, v.dstPort, 0, rule, peerId, now, now, 1, v.ipTotalLen);
    this.setReset(reason);
  }

  /** One token of the reject-RST bucket (refilled at rstRate per second, holding at most one second's worth). */
  private takeRejectRst(now: number): boolean {
    const dt = now - this.rstLast;
    this.rstLast = now;
    if (dt > 0) this.rstTokens = Math.min(this.rstRate, this.rstTokens + (dt * this.rstRate) / 1000);
    if (this.rstTokens < 1) return false;
    this.rstTokens -= 1;
    return true;
  }

  /** A handshake refused on a tracked flow: counted, reported once (decision deny), CLOSED. */
  private denyFlow(slot: number, reason: number, rule: number, peerId: number, now: number): void {
    const ct = this.ct;
    this.rejects[reason & 0xff]!++;
    ct.setVerdict(slot, reason, rule, peerId);
    this.pushEvent(EventKind.DECISION, slot, EventVerdict.DENY, reason, now);
    ct.addFlags(slot, CtFlag.REPORTED);
    ct.setState(slot, CtState.CLOSED);
    this.setReset(reason);
  }

  /**
   * Client side, the server's SYN-ACK refused: drop it, send the server's enforcer a reject RST
   * (which also resets the server's half-open socket) and reset the local client.
   */
  private rejectBoth(_frame: Uint8Array, slot: number, reason: number, rule: number, peerId: number, now: number): void {
    this.queueRst(Direction.OUTBOUND, RST_REJECT, reason);
    this.queueRst(Direction.INBOUND, (this.view.flags & TCP_FLAG_SYN) !== 0 ? RST_FORWARD : RST_REPLY, 0);
    this.denyFlow(slot, reason, rule, peerId, now);
  }

  /**
   * Server side, the client's final ACK failed: drop it, reset the server application (so no
   * half-open socket lingers) and send the client a reject RST.
   */
  private rejectAck(frame: Uint8Array, slot: number, reason: number, now: number): void {
    this.queueRst(Direction.OUTBOUND, RST_REJECT, reason);
    if (this.aliased) this.redirectIn(frame);
    this.queueRst(Direction.INBOUND, RST_FORWARD, 0);
    this.denyFlow(slot, reason, this.ct.ruleId(slot), this.ct.peerId(slot), now);
  }

  /**
   * Server side, no SYN-ACK token could be built: reset the local server app (a plain RST), tell
   * the client.
   */
  private resetServerApp(_frame: Uint8Array, slot: number, reason: number, now: number): void {
    this.queueRst(Direction.INBOUND, RST_REPLY, 0);
    this.queueRst(Direction.OUTBOUND, RST_FORWARD, 0);
    this.rejects[reason & 0xff]!++;
    this.ct.setVerdict(slot, reason, this.ct.ruleId(slot), this.ct.peerId(slot));
    this.pushEvent(EventKind.DECISION, slot, EventVerdict.DENY, reason, now);
    this.ct.setState(slot, CtState.CLOSED);
    this.setReset(reason);
  }

  /**
   * A packet of a revoked flow: drop it and reset both ends (RFC 793 seq rules from this packet).
   * The RST back to a remote sender carries the REVOKED reject marker; one back to a local
   * application is plain.
   */
  private revokedPacket(frame: Uint8Array, slot: number, dir: Direction): void {
    const outbound = dir === Direction.OUTBOUND;
    this.queueRst(outbound ? Direction.INBOUND : Direction.OUTBOUND, outbound ? RST_REPLY : RST_REJECT, Reason.REVOKED);
    if (this.outN < OUTBOX_SLOTS) this.translateAny(frame, slot, dir);
    this.queueRst(dir, RST_FORWARD, 0);
    this.setReset(Reason.REVOKED);
  }

  private setReset(reason: number): void {
    const r = this.res;
    r.verdict = this.outN > 0 ? Verdict.RESET : Verdict.DROP;
    r.reason = reason;
    r.outbox = this.outViews[this.outN]!;
    r.outboxCount = this.outN;
  }

  // ---------------------------------------------------------------- helpers

  private forward(): void {
    const r = this.res;
    r.verdict = Verdict.FORWARD;
    r.length = this.view.len;
    r.outbox = this.outViews[this.outN]!;
    r.outboxCount = this.outN;
  }

  private drop(reason: number): void {
    const r = this.res;
    r.verdict = Verdict.DROP;
    r.reason = reason;
    r.outbox = NO_OUTBOX;
    r.outboxCount = 0;
    this.outN = 0;
  }

  /** Inserts `token` into the parsed frame and forwards it; false (and nothing forwarded) on failure. */
  private forwardWithToken(frame: Uint8Array, token: TokenBuf): boolean {
    const n = insertToken(frame, this.view, token.buf, 0, token.len, this.mtu);
    if (n < 0) return false;
    this.ctr[Counter.TOKENS_INSERTED]!++;
    this.forward();
    return true;
  }

  /** Removes the token from the parsed frame; false when it is not a well-formed token. */
  private strip(frame: Uint8Array): boolean {
    const n = stripToken(frame, this.view);
    if (n < 0) return false;
    this.ctr[Counter.TOKENS_STRIPPED]!++;
    return true;
  }

  private outEntry(direction: Direction): OutboxEntry | null {
    if (this.outN >= OUTBOX_SLOTS) return null;
    const e = this.outPool[this.outN++]!;
    e.direction = direction;
    e.length = 0;
    return e;
  }

  private tupleOf(saddr: number, daddr: number, sport: number, dport: number): TupleRef {
    const t = this.tuple;
    t.saddr = saddr;
    t.daddr = daddr;
    t.sport = sport;
    t.dport = dport;
    return t;
  }

  /**
   * Calls one identity step with the reused output slot. step: 0 clientSyn, 1 serverSyn,
   * 2 serverSynAck, 3 clientSynAck, 4 clientAck, 5 serverAck. A throw becomes Reason.INTERNAL.
   */
  private callIdentity(step: number, t: TupleRef | null, hs: H | null, isn: number, token: Uint8Array | null, now: number): HandshakeOut<H, P> {
    const o = this.hout;
    o.reason = Reason.OK;
    o.hs = null;
    o.token = null;
    o.tokenLen = 0;
    o.peer = null;
    o.cold = true;
    const id = this.identity;
    try {
      switch (step) {
        case 0:
          id.clientSyn(t!, isn, now, o);
          break;
        case 1:
          id.serverSyn(t!, isn, token!, now, o);
          break;
        case 2:
          id.serverSynAck(hs!, isn, now, o);
          break;
        case 3:
          id.clientSynAck(hs!, isn, token!, now, o);
          break;
        case 4:
          id.clientAck(hs!, now, o);
          break;
        default:
          id.serverAck(hs!, token!, now, o);
      }
      const tk = o.token as Uint8Array | null;
      if (tk !== null && !(o.tokenLen > 0 && o.tokenLen <= tk.length)) o.tokenLen = tk.length;
    } catch {
      o.reason = Reason.INTERNAL;
      this.ctr[Counter.INTERNAL_ERRORS]!++;
    }
    return o;
  }

  /** Inbound packet of a redirected flow (dport = original port): rewrite to the Envoy port. */
  private redirectIn(frame: Uint8Array): void {
    const v = this.view;
    rewritePort(frame, v.l4Off, 2, this.envoyPort);
    this.ctr[Counter.REDIRECTED]!++;
  }

  /** Outbound packet of a redirected flow (sport = Envoy port): restore the original port. */
  private translateOut(frame: Uint8Array, slot: number, dir: Direction): void {
    if (dir !== Direction.OUTBOUND || (this.ct.flags(slot) & CtFlag.REDIRECTED) === 0) return;
    rewritePort(frame, this.view.l4Off, 0, this.ct.origPort(slot));
  }

  private translateAny(frame: Uint8Array, slot: number, dir: Direction): void {
    if ((this.ct.flags(slot) & CtFlag.REDIRECTED) === 0) return;
    if (dir === Direction.INBOUND) {
      if (this.aliased) this.redirectIn(frame);
    } else if (this.ct.reply) rewritePort(frame, this.view.l4Off, 0, this.ct.origPort(slot));
  }

  private unknownWorkload(frame: Uint8Array, marker: Marker): void {
    if (this.unknownPass) {
      if (marker === Marker.TOKEN && this.strip(frame)) return this.forward();
      if (marker === Marker.NONE) return this.forward();
    }
    this.rejects[Reason.UNKNOWN_WORKLOAD]!++;
    this.drop(Reason.UNKNOWN_WORKLOAD);
  }

  private unknownFlow(frame: Uint8Array, dir: Direction, marker: Marker): void {
    const v = this.view;
    if (this.unknownPass && this.policy.workloadOf(dir === Direction.OUTBOUND ? v.srcIp : v.dstIp) < 0) {
      this.unknownWorkload(frame, marker);
      return;
    }
    this.ctr[Counter.UNKNOWN_FLOW_DROPPED]!++;
    this.drop(Reason.OK);
  }

  /** Audit mode: a failed handshake step is logged and the flow let through untracked-by-token. */
  private auditPassthrough(
    saddr: number,
    daddr: number,
    sport: number,
    dport: number,
    flags: number,
    reason: number,
    rule: number,
    peerId: number,
    seq: number,
    now: number,
    redirect = false,
    frame: Uint8Array | null = null,
  ): void {
    const ct = this.ct;
    const s = (flags & CtFlag.LOCAL_CLIENT) !== 0
      ? ct.insert(saddr, daddr, sport, dport, CtState.ESTABLISHED, flags | CtFlag.AUTHORIZED | CtFlag.AUDIT_DENIED | CtFlag.IP_IDENTITY, now)
      : this.insertServer(saddr, daddr, sport, dport, redirect, CtState.ESTABLISHED, flags | CtFlag.AUTHORIZED | CtFlag.AUDIT_DENIED | CtFlag.IP_IDENTITY, now);
    if (s >= 0) {
      ct.setSeq(s, seq + 1, 0);
      ct.setVerdict(s, reason, rule, peerId);
      this.decision(s, EventVerdict.AUDIT, reason, now);
    }
    this.ctr[Counter.AUDIT_FORWARDED]!++;
    if (redirect && frame !== null) this.redirectIn(frame);
    this.forward();
  }

  /** Drops an entry that a verified new handshake replaces. */
  private replaceExisting(slot: number, now: number): void {
    this.ctr[Counter.PORT_REUSE]!++;
    this.closeFlow(slot, now);
    this.ct.remove(slot);
  }

  /** Marks a flow closed (reporting it once) without removing it: it lingers for the closing timeout. */
  private closeFlow(slot: number, now: number): void {
    const ct = this.ct;
    const state = ct.state(slot);
    if (state === CtState.CLOSED) return;
    const fl = ct.flags(slot);
    if ((fl & CtFlag.AUTHORIZED) !== 0 && (state === CtState.ESTABLISHED || state === CtState.FIN_WAIT)) {
      this.pushEvent(EventKind.CLOSE, slot, (fl & CtFlag.AUDIT_DENIED) !== 0 ? EventVerdict.AUDIT : EventVerdict.ALLOW, ct.reason(slot), now);
      this.ctr[Counter.FLOWS_CLOSED]!++;
    }
    ct.setState(slot, CtState.CLOSED);
  }

  private authorizedNow(slot: number, now: number): void {
    this.ctr[Counter.FLOWS_AUTHORIZED]!++;
    const fl = this.ct.flags(slot);
    this.decision(slot, (fl & CtFlag.AUDIT_DENIED) !== 0 ? EventVerdict.AUDIT : EventVerdict.ALLOW, this.ct.reason(slot), now);
  }

  private decision(slot: number, verdict: EventVerdict, reason: number, now: number): void {
    if (verdict !== EventVerdict.ALLOW) this.rejects[reason & 0xff]!++;
    this.pushEvent(EventKind.DECISION, slot, verdict, reason, now);
    this.ct.addFlags(slot, CtFlag.REPORTED);
  }

  private pushEvent(kind: EventKind, slot: number, verdict: EventVerdict, reason: number, now: number): void {
    const ct = this.ct;
    const fl = ct.flags(slot);
    const redirected = (fl & CtFlag.REDIRECTED) !== 0;
    const created = now - (((now >>> 0) - ct.created(slot)) >>> 0);
    this.events.push(
      kind,
      verdict,
      reason,
      (fl & CtFlag.LOCAL_CLIENT) !== 0,
      (fl & CtFlag.IP_IDENTITY) === 0 && ct.peerId(slot) !== PEER_NONE,
      ct.saddr(slot),
      ct.daddr(slot),
      ct.sport(slot),
      redirected ? ct.origPort(slot) : ct.dport(slot),
      redirected ? ct.dport(slot) : 0,
      ct.ruleId(slot),
      ct.peerId(slot),
      now,
      created,
      ct.packets(slot),
      ct.bytes(slot),
    );
  }

  private onExpire(slot: number, now: number): void {
    const ct = this.ct;
    const state = ct.state(slot);
    if (isHalfOpen(state) || state === CtState.ACK_SENT) {
      // ACK_SENT: idle for the established timeout and the server never confirmed our ACK token.
      this.rejects[Reason.TIMEOUT]!++;
      this.pushEvent(EventKind.TIMEOUT, slot, EventVerdict.DENY, Reason.TIMEOUT, now);
    } else if (state === CtState.ESTABLISHED || state === CtState.FIN_WAIT) {
      const fl = ct.flags(slot);
      this.ctr[Counter.FLOWS_CLOSED]!++;
      this.pushEvent(EventKind.CLOSE, slot, (fl & CtFlag.AUDIT_DENIED) !== 0 ? EventVerdict.AUDIT : EventVerdict.ALLOW, ct.reason(slot), now);
    }
  }

  // ---------------------------------------------------------------- policy swap and queries

  /**
   * Swaps in a new policy table and re-checks every tracked flow against it. Flows it denies (in
   * enforce mode) are revoked: counted, reported, marked so their next packet is answered with
   * RSTs, and, when addresses can be resolved to frames (raw IPv4 link, or `macOf` given), RSTs to
   * both ends are returned at once. Audit-mode workloads only get an event.
   */
  setPolicy(policy: EnginePolicy<P>, now: number): RevocationResult {
    this.policy = policy;
    const ct = this.ct;
    const out: RevocationResult = { revision: policy.revision, checked: 0, revoked: 0, packets: [] };
    for (let s = 0; s < ct.slots; s++) {
      const fl = this.revocable(s);
      if (fl < 0) continue;
      out.checked++;
      const state = ct.state(s);
      const localClient = (fl & CtFlag.LOCAL_CLIENT) !== 0;
      const wl = policy.workloadOf(localClient ? ct.saddr(s) : ct.daddr(s));
      const port = (fl & CtFlag.REDIRECTED) !== 0 ? ct.origPort(s) : ct.dport(s);
      const verified = (fl & CtFlag.IP_IDENTITY) === 0;
      const peerIp = localClient ? ct.daddr(s) : ct.saddr(s);
      let peerId = ct.peerId(s);
      if (!verified || peerId === PEER_NONE) peerId = policy.ipPeerId(peerIp);
      let deny: boolean;
      let rule: number;
      let mode: Mode;
      if (wl < 0) {
        deny = !this.unknownPass;
        rule = RULE_NONE;
        mode = Mode.ENFORCE;
      } else {
        mode = policy.mode(wl);
        if (mode === Mode.OFF) continue;
        const d = localClient ? policy.egress(wl, peerId, peerIp, IPPROTO_TCP, port) : policy.ingress(wl, peerId, peerIp, IPPROTO_TCP, port);
        deny = decisionDenies(d);
        rule = decisionRule(d);
      }
      if (deny) this.denyTracked(s, state, fl, mode, rule, now, out);
    }
    return out;
  }

  /**
   * Revokes, under the policy in force, the tracked flows `select` picks (e.g. those whose peer
   * identity was deny-listed), exactly as setPolicy revokes flows a new table denies: enforce-mode
   * flows are marked REVOKED, reported with a REVOKE event (reason REVOKED, no deciding rule) and
   * answered with RSTs to both ends (returned at once when frames can be built, else on their next
   * packet); audit-mode flows only get an audit event; off-mode, unenforced and already revoked
   * flows are skipped. `select` is called off the hot path with a live slot; it must not change
   * the table.
   */
  revokeFlows(select: (slot: number) => boolean, now: number): RevocationResult {
    const ct = this.ct;
    const policy = this.policy;
    const out: RevocationResult = { revision: policy.revision, checked: 0, revoked: 0, packets: [] };
    for (let s = 0; s < ct.slots; s++) {
      const fl = this.revocable(s);
      if (fl < 0) continue;
      out.checked++;
      const state = ct.state(s);
      if (!select(s)) continue;
      const wl = policy.workloadOf((fl & CtFlag.LOCAL_CLIENT) !== 0 ? ct.saddr(s) : ct.daddr(s));
      const mode = wl < 0 ? Mode.ENFORCE : policy.mode(wl);
      if (mode !== Mode.OFF) this.denyTracked(s, state, fl, mode, RULE_NONE, now, out);
    }
    return out;
  }

  /** Flags of slot `s` if a revocation pass must look at it (tracked, enforced, not revoked yet), else -1. */
  private revocable(s: number): number {
    const state = this.ct.state(s);
    if (state === CtState.FREE || state === CtState.CLOSED) return -1;
    const fl = this.ct.flags(s);
    return (fl & (CtFlag.UNENFORCED | CtFlag.REVOKED)) !== 0 ? -1 : fl;
  }

  /**
   * A tracked flow the policy in force no longer admits. Audit mode: one audit REVOKE event, the
   * flow goes on. Enforce mode: counters, verdict, REVOKE event, RSTs, FIN_WAIT linger.
   */
  private denyTracked(s: number, state: CtState, fl: number, mode: Mode, rule: number, now: number, out: RevocationResult): void {
    const ct = this.ct;
    if (mode === Mode.AUDIT) {
      if ((fl & CtFlag.AUDIT_DENIED) === 0) {
        ct.addFlags(s, CtFlag.AUDIT_DENIED);
        this.pushEvent(EventKind.REVOKE, s, EventVerdict.AUDIT, Reason.REVOKED, now);
      }
      return;
    }
    out.revoked++;
    this.ctr[Counter.REVOKED]!++;
    this.rejects[Reason.REVOKED]!++;
    ct.setVerdict(s, Reason.REVOKED, rule, ct.peerId(s));
    this.pushEvent(EventKind.REVOKE, s, EventVerdict.DENY, Reason.REVOKED, now);
    this.revocationRsts(s, out.packets);
    ct.addFlags(s, CtFlag.REVOKED | CtFlag.REPORTED);
    ct.clearFlags(s, CtFlag.AUTHORIZED);
    // Leave half-open accounting (and a retained ACK_SENT record); linger so stragglers get RSTs.
    if (isHalfOpen(state) || state === CtState.ESTABLISHED || state === CtState.ACK_SENT) ct.setState(s, CtState.FIN_WAIT);
  }

  /** RSTs to both ends of a revoked flow, built from the tuple and the tracked next sequence numbers. */
  private revocationRsts(s: number, into: OutboxEntry[]): void {
    const ct = this.ct;
    const eth = this.linkType === LinkType.ETHERNET;
    if (eth && this.macOf === null) return;
    const localClient = (ct.flags(s) & CtFlag.LOCAL_CLIENT) !== 0;
    const redirected = (ct.flags(s) & CtFlag.REDIRECTED) !== 0;
    const c = ct.saddr(s);
    const srv = ct.daddr(s);
    const cport = ct.sport(s);
    const localPort = ct.dport(s);
    const wirePort = redirected ? ct.origPort(s) : localPort;
    const seqC = ct.seqOrig(s);
    // ACK_SENT: the server has not spoken, seqReply still holds its ISN; its next seq is ISN+1.
    const seqS = (ct.seqReply(s) + (ct.state(s) === CtState.ACK_SENT ? 1 : 0)) >>> 0;
    // To the server (as if from the client) and to the client (as if from the server).
    const toServer = { from: c, to: srv, sport: cport, dport: localClient ? wirePort : localPort, seq: seqC, ack: seqS, dir: localClient ? Direction.OUTBOUND : Direction.INBOUND };
    const toClient = { from: srv, to: c, sport: localClient ? wirePort : wirePort, dport: cport, seq: seqS, ack: seqC, dir: localClient ? Direction.INBOUND : Direction.OUTBOUND };
    for (const p of [toServer, toClient]) {
      const buf = new Uint8Array(128);
      const spec = {
        srcIp: p.from,
        dstIp: p.to,
        srcPort: p.sport,
        dstPort: p.dport,
        seq: p.seq,
        ack: p.ack,
        flags: TCP_FLAG_RST | TCP_FLAG_ACK,
        window: 0,
        ...(eth ? { srcMac: this.macOf!(p.from), dstMac: this.macOf!(p.to) } : {}),
      };
      const n = writeTcpFrame(buf, 0, spec, this.linkType);
      if (n > 0) {
        into.push({ buf, length: n, direction: p.dir });
        this.ctr[Counter.RSTS_SENT]!++;
      }
    }
  }

  /**
   * The port a client dialled, for a flow the local workload sees as client:clientPort ->
   * local:localPort (e.g. an Envoy inbound listener asking for the original destination). Returns
   * the original port for redirected flows, localPort for tracked unredirected flows, -1 if unknown.
   */
  originalDstPort(clientIp: number, clientPort: number, localIp: number, localPort: number, now: number): number {
    const s = this.ct.lookup(clientIp >>> 0, localIp >>> 0, clientPort, localPort, now);
    if (s < 0 || this.ct.reply) return -1;
    return (this.ct.flags(s) & CtFlag.REDIRECTED) !== 0 ? this.ct.origPort(s) : localPort;
  }

  /**
   * Folds the plain per-packet tallies into `counters` and `verdicts` (Counter.PACKETS,
   * Counter.FAST_PATH, FORWARD). Readers of those three call this first (counterSnapshot does).
   */
  syncCounters(): void {
    this.ctr[Counter.PACKETS] = this.packetCount;
    this.ctr[Counter.FAST_PATH] = this.fastCount;
    this.vrd[Verdict.FORWARD] = this.slowForwards + this.fastCount;
  }

  /** Snapshot of the counters by name (off the hot path). */
  counterSnapshot(): Record<string, number> {
    this.syncCounters();
    const out: Record<string, number> = {};
    for (let i = 0; i < COUNTER_NAMES.length; i++) out[COUNTER_NAMES[i]!] = this.ctr[i]!;
    out['forward'] = this.vrd[Verdict.FORWARD]!;
    out['drop'] = this.vrd[Verdict.DROP]!;
    out['reset'] = this.vrd[Verdict.RESET]!;
    return out;
  }
}

/** True iff the TCP options in b[i..end) contain a kind-253 option with our ExID, or are malformed. */
/**
 * Whether a segment ending at `nxt` may replace the tracked next sequence number `cur`: not when it
 * ends a little behind it (a retransmission, or a keepalive probe at snd.una - 1), because the
 * revocation RSTs are built from the tracked value and an RST below the receiver's window is
 * ignored. 0 means "never tracked" (a flow picked up mid-stream); a jump of more than RST_WINDOW
 * backwards is taken as the truth (the tracked value was stale).
 */
function seqAdvances(cur: number, nxt: number): boolean {
  const d = (nxt - cur) | 0;
  return cur === 0 || d >= 0 || d < -RST_WINDOW;
}

function hasSyngateOption(b: Uint8Array, i: number, end: number): boolean {
  while (i < end) {
    const k = b[i]!;
    if (k === 0) return false;
    if (k === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return true;
    const l = b[i + 1]!;
    if (l < 2 || i + l > end) return true;
    if (k === 253) return true;
    i += l;
  }
  return false;
}

/** Rewrites the 16-bit port at l4 + at (0 = source, 2 = destination) with an incremental checksum update (RFC 1624). */
function rewritePort(b: Uint8Array, l4: number, at: number, port: number): void {
  const p = l4 + at;
  const old = (b[p]! << 8) | b[p + 1]!;
  if (old === port) return;
  b[p] = port >>> 8;
  b[p + 1] = port & 0xff;
  const c = l4 + 16;
  const nc = csumUpdate16((b[c]! << 8) | b[c + 1]!, old, port);
  b[c] = nc >>> 8;
  b[c + 1] = nc & 0xff;
}
