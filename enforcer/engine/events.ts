// Verdict event ring: the engine appends one event per decision, close, reject, revocation or
// timeout; the daemon (flow log, metrics) and the simulator drain it off the hot path.
// Invariants: fixed capacity (power of two), columns in typed arrays, no allocation on push;
// when full the oldest event is overwritten and counted in `overwritten`; drain() hands out one
// reused EngineEvent object (copy what you keep); events are drained in push order.

export const EventKind = {
  /** A handshake decision: allowed (flow authorized), denied (rejected) or audit-forwarded. */
  DECISION: 1,
  /** A tracked flow ended (FIN/RST/idle timeout of an established flow). */
  CLOSE: 2,
  /** An established flow was torn down because a new policy denies it. */
  REVOKE: 3,
  /** A half-open flow timed out. */
  TIMEOUT: 4,
  /** Client side: the peer enforcer rejected our SYN (reason = the peer's reason). */
  PEER_REJECT: 5,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];
export const EVENT_KIND_NAMES: readonly string[] = ['', 'decision', 'close', 'revoke', 'timeout', 'peer-reject'];

export const EventVerdict = { ALLOW: 0, DENY: 1, AUDIT: 2 } as const;
export type EventVerdict = (typeof EventVerdict)[keyof typeof EventVerdict];
export const EVENT_VERDICT_NAMES = ['allow', 'deny', 'audit'] as const;

/** One drained event (a reused object). Addresses are uint32, times ms. */
export class EngineEvent {
  kind: EventKind = EventKind.DECISION;
  verdict: EventVerdict = EventVerdict.ALLOW;
  reason = 0;
  /** True iff the local workload is the client (outbound flow). */
  localClient = false;
  /** Client address/port and server address, and the port the client dialled. */
  saddr = 0;
  daddr = 0;
  sport = 0;
  dport = 0;
  /** Envoy port the flow was redirected to, 0 when not redirected. */
  redirectPort = 0;
  /** Deciding rule index (RULE_NONE 0xffffff when none). */
  rule = 0;
  /** Peer identity id (0xffffffff when none). */
  peerId = 0;
  /** True iff the peer proved a token (false: IP identity only). */
  verified = false;
  time = 0;
  start = 0;
  packets = 0;
  bytes = 0;
  /** Stable id of the flow: a hash of its tuple and start time. */
  flowId = 0;
}

export class EventRing {
  readonly capacity: number;
  private readonly mask: number;
  private readonly u8: Uint8Array; // kind, verdict, reason, flags(bit0 localClient, bit1 verified)
  private readonly u32: Uint32Array; // saddr, daddr, ports, redirectPort, rule, peerId, flowId
  private readonly f64: Float64Array; // time, start, packets, bytes
  private head = 0;
  private tail = 0;
  /** Events lost because the ring was full. */
  overwritten = 0;
  /** Events pushed in total. */
  pushed = 0;
  private readonly ev = new EngineEvent();

  constructor(capacity = 4096) {
    let n = 16;
    while (n < capacity) n *= 2;
    this.capacity = n;
    this.mask = n - 1;
    this.u8 = new Uint8Array(n * 4);
    this.u32 = new Uint32Array(n * 7);
    this.f64 = new Float64Array(n * 4);
  }

  get length(): number {
    return this.head - this.tail;
  }

  push(
    kind: EventKind,
    verdict: EventVerdict,
    reason: number,
    localClient: boolean,
    verified: boolean,
    saddr: number,
    daddr: number,
    sport: number,
    dport: number,
    redirectPort: number,
    rule: number,
    peerId: number,
    time: number,
    start: number,
    packets: number,
    bytes: number,
  ): void {
    if (this.head - this.tail === this.capacity) {
      this.tail++;
      this.overwritten++;
    }
    const i = this.head & this.mask;
    this.head++;
    this.pushed++;
    const a = i * 4;
    this.u8[a] = kind;
    this.u8[a + 1] = verdict;
    this.u8[a + 2] = reason;
    this.u8[a + 3] = (localClient ? 1 : 0) | (verified ? 2 : 0);
    const b = i * 7;
    const u = this.u32;
    u[b] = saddr;
    u[b + 1] = daddr;
    u[b + 2] = ((sport << 16) | dport) >>> 0;
    u[b + 3] = redirectPort;
    u[b + 4] = rule;
    u[b + 5] = peerId;
    let h = Math.imul(saddr ^ 0x9e3779b9, 0x85ebca6b) ^ daddr;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ u[b + 2]!;
    h = Math.imul(h ^ (h >>> 16), 0x27d4eb2f) ^ (start % 4294967296);
    u[b + 6] = (h ^ (h >>> 15)) >>> 0;
    const c = i * 4;
    this.f64[c] = time;
    this.f64[c + 1] = start;
    this.f64[c + 2] = packets;
    this.f64[c + 3] = bytes;
  }

  /** Calls `fn` for each pending event in order (with one reused object) and empties the ring. */
  drain(fn: (e: EngineEvent) => void, max = Infinity): number {
    let n = 0;
    const e = this.ev;
    while (this.tail < this.head && n < max) {
      const i = this.tail & this.mask;
      this.tail++;
      const a = i * 4;
      e.kind = this.u8[a] as EventKind;
      e.verdict = this.u8[a + 1] as EventVerdict;
      e.reason = this.u8[a + 2]!;
      e.localClient = (this.u8[a + 3]! & 1) !== 0;
      e.verified = (this.u8[a + 3]! & 2) !== 0;
      const b = i * 7;
      e.saddr = this.u32[b]!;
      e.daddr = this.u32[b + 1]!;
      e.sport = this.u32[b + 2]! >>> 16;
      e.dport = this.u32[b + 2]! & 0xffff;
      e.redirectPort = this.u32[b + 3]!;
      e.rule = this.u32[b + 4]!;
      e.peerId = this.u32[b + 5]!;
      e.flowId = this.u32[b + 6]!;
      const c = i * 4;
      e.time = this.f64[c]!;
      e.start = this.f64[c + 1]!;
      e.packets = this.f64[c + 2]!;
      e.bytes = this.f64[c + 3]!;
      fn(e);
      n++;
    }
    return n;
  }
}
