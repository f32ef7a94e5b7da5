// The flow table: Robin Hood open addressing on typed arrays, columns grouped by access pattern.
//
// Layout (slot i; all words uint32, host order; IPs and ports are numeric values, not bytes):
//   key group  kg[i*4 + 0..3]   saddr | daddr | sport<<16|dport | meta      (16 B, one cache line)
//              meta = probe distance (bits 0-7) | CtState (bits 8-15) | CtFlag set (bits 16-31)
//   hot group  hot[i*8 + 0..7]  lastSeen | created | packets | bytesLo | bytesHi | seqOrig | seqReply | peerId  (32 B)
//   cold group cold[i*2 + 0..1] reason<<24|ruleId | origPort<<16|sideSlot  (8 B)
//   = 56 bytes per slot; slots = ceil(capacity / maxLoad).
//
// Invariants:
//  - The stored tuple is in the ORIGINAL direction (initiator -> responder) as the local workload
//    sees it, i.e. after any Envoy redirect: for a redirected flow dport is the redirect port and
//    origPort holds the port the client dialled. lookup() matches either direction and sets
//    `reply` to say which one matched.
//  - The hash is symmetric in the two endpoints, so both directions share one probe sequence.
//  - Robin Hood order: along any cluster, dist never grows by more than one per slot; lookup stops
//    at the first slot whose dist is below the probe distance. Deletion shifts the cluster back
//    (no tombstones ever).
//  - Entries move only inside insert()/remove()/expiry; a slot index held by a caller is valid
//    until the next mutating call. A moved entry's side-table owner is updated with it.
//  - size <= capacity; a new flow beyond capacity is refused (Reason.TABLE_FULL), and nothing
//    existing is evicted to make room: only expired entries are reclaimed.
//  - Half-open states (SYN_SENT..SYNACK_RCVD) are counted in total and per initiator address, and
//    each owns one handshake side-table slot; leaving half-open releases both.
//  - Times are milliseconds modulo 2^32; age = (now - t) mod 2^32, so any timeout must be < 2^31 ms.
//  - Nothing allocates after the constructor.
import { SyngateError } from '../errors.js';
import { Reason } from '../reasons.js';
import { CtState, STATE_CLASS, TimeoutClass, isHalfOpen } from './flags.js';
import { HandshakeSideTable, SIDE_MAX_CAPACITY } from './side-table.js';
import { SourceCounter } from './source-limit.js';

export const KG_STRIDE = 4;
export const KG_SADDR = 0;
export const KG_DADDR = 1;
/** sport<<16 | dport. */
export const KG_PORTS = 2;
export const KG_META = 3;
export const META_DIST_MASK = 0xff;
export const META_STATE_SHIFT = 8;
export const META_STATE_MASK = 0xff00;
export const META_FLAGS_SHIFT = 16;
export const MAX_DIST = 0xff;

export const HOT_STRIDE = 8;
export const HOT_LAST_SEEN = 0;
export const HOT_CREATED = 1;
export const HOT_PACKETS = 2;
export const HOT_BYTES_LO = 3;
export const HOT_BYTES_HI = 4;
/** Initiator's ISN during the handshake; its next sequence number afterwards. */
export const HOT_SEQ_ORIG = 5;
/** Responder's ISN during the handshake; its next sequence number afterwards. */
export const HOT_SEQ_REPLY = 6;
export const HOT_PEER_ID = 7;

export const COLD_STRIDE = 2;
/** reason<<24 | ruleId (24 bits). */
export const COLD_VERDICT = 0;
/** origPort<<16 | side-table slot (16 bits). */
export const COLD_PORT_SIDE = 1;
export const RULE_NONE = 0xffffff;
export const PEER_NONE = 0xffffffff;

/** Slots examined per refused-because-full insert before giving up. */
export const RECLAIM_BUDGET = 512;

export const BYTES_PER_SLOT = (KG_STRIDE + HOT_STRIDE + COLD_STRIDE) * 4;

export interface ConntrackTimeouts {
  /** Idle timeout of half-open flows (SYN_SENT..SYNACK_RCVD), ms. */
  halfOpenMs: number;
  /** Idle timeout of established flows, ms. */
  establishedMs: number;
  /** Linger of FIN_WAIT/CLOSED flows, ms. */
  closingMs: number;
}

export interface ConntrackOptions {
  /** Maximum number of flows (fixed at construction). */
  capacity: number;
  /** Slots per flow = 1 / maxLoad; Robin Hood keeps probes short up to ~0.9. Default 0.9. */
  maxLoad?: number;
  /** Total half-open flows; also the side-table capacity. Default min(16384, capacity), at most 65535. */
  halfOpenCap?: number;
  /** Half-open flows per initiator address. Default 256. */
  halfOpenPerSource?: number;
  timeouts?: Partial<ConntrackTimeouts>;
  /** Hash seed; default random (so tuples cannot be chosen to collide). */
  seed?: number;
}

export const DEFAULT_TIMEOUTS: Readonly<ConntrackTimeouts> = {
  halfOpenMs: 10_000,
  establishedMs: 3_600_000,
  closingMs: 10_000,
};

export interface ConntrackStats {
  inserts: number;
  removes: number;
  /** Entries found expired by a lookup or an insert-time reclaim. */
  expiredLazy: number;
  /** New flows refused because the table was full. */
  tableFull: number;
  /** New flows refused because the total half-open cap was reached. */
  halfOpenTotal: number;
  /** New flows refused because their source reached its half-open cap. */
  halfOpenPerSource: number;
  /** Inserts refused because a probe sequence would exceed MAX_DIST (a sign of hash flooding). */
  probeLimit: number;
}

/** Called just before an expired entry is removed (lazily or by the sweep). */
export type ExpireHook = (slot: number, now: number) => void;

function toU32(n: number): number {
  return n >>> 0;
}

export class ConntrackTable<H = unknown> {
  readonly capacity: number;
  readonly slots: number;
  readonly halfOpenCap: number;
  readonly halfOpenPerSource: number;
  readonly kg: Uint32Array;
  readonly hot: Uint32Array;
  readonly cold: Uint32Array;
  readonly side: HandshakeSideTable<H>;
  readonly sources: SourceCounter;
  /** Timeouts indexed by TimeoutClass, ms. */
  readonly timeouts: Uint32Array;
  readonly stats: ConntrackStats;
  /** Set by lookup(): true iff the matched entry's stored tuple is the reverse of the query. */
  reply = false;
  /** Number of live entries. */
  size = 0;
  /** Number of half-open entries. */
  halfOpen = 0;
  onExpire: ExpireHook | null = null;
  private readonly seed: number;

  constructor(opts: ConntrackOptions) {
    const cap = opts.capacity;
    if (!Number.isInteger(cap) || cap < 1 || cap > 64_000_000) {
      throw new SyngateError('SYNGATE_CONNTRACK_CONFIG', `conntrack capacity must be an integer in 1..64000000, got ${String(cap)}`);
    }
    const maxLoad = opts.maxLoad ?? 0.9;
    if (!(maxLoad > 0.1 && maxLoad <= 0.95)) {
      throw new SyngateError('SYNGATE_CONNTRACK_CONFIG', `conntrack maxLoad must be in (0.1, 0.95], got ${String(maxLoad)}`);
    }
    const hoc = opts.halfOpenCap ?? Math.min(16384, cap);
    if (!Number.isInteger(hoc) || hoc < 1 || hoc > SIDE_MAX_CAPACITY) {
      throw new SyngateError('SYNGATE_CONNTRACK_CONFIG', `conntrack halfOpenCap must be an integer in 1..${SIDE_MAX_CAPACITY}, got ${String(hoc)}`);
    }
    const hops = opts.halfOpenPerSource ?? Math.min(256, hoc);
    if (!Number.isInteger(hops) || hops < 1) {
      throw new SyngateError('SYNGATE_CONNTRACK_CONFIG', `conntrack halfOpenPerSource must be a positive integer, got ${String(hops)}`);
    }
    const t = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    for (const [k, v] of Object.entries(t)) {
      if (!Number.isInteger(v) || v < 1 || v >= 2 ** 31) {
        throw new SyngateError('SYNGATE_CONNTRACK_CONFIG', `conntrack timeouts.${k} must be an integer number of ms in 1..2^31-1, got ${String(v)}`);
      }
    }
    this.capacity = cap;
    this.slots = Math.max(cap + 1, Math.ceil(cap / maxLoad));
    this.halfOpenCap = hoc;
    this.halfOpenPerSource = hops;
    this.kg = new Uint32Array(this.slots * KG_STRIDE);
    this.hot = new Uint32Array(this.slots * HOT_STRIDE);
    this.cold = new Uint32Array(this.slots * COLD_STRIDE);
    this.side = new HandshakeSideTable<H>(hoc);
    this.sources = new SourceCounter(hoc);
    this.timeouts = new Uint32Array(3);
    this.timeouts[TimeoutClass.HALF_OPEN] = t.halfOpenMs;
    this.timeouts[TimeoutClass.ESTABLISHED] = t.establishedMs;
    this.timeouts[TimeoutClass.CLOSING] = t.closingMs;
    this.seed = (opts.seed ?? (Math.random() * 0x100000000) >>> 0) | 0;
    this.stats = { inserts: 0, removes: 0, expiredLazy: 0, tableFull: 0, halfOpenTotal: 0, halfOpenPerSource: 0, probeLimit: 0 };
  }

  /** Bytes of the flow columns (excluding the side table and source counters). */
  get flowBytes(): number {
    return this.kg.byteLength + this.hot.byteLength + this.cold.byteLength;
  }

  /** All fixed memory: flow columns + side table + per-source counters. */
  get totalBytes(): number {
    return this.flowBytes + this.side.bytes + this.sources.bytes;
  }

  setTimeouts(t: Partial<ConntrackTimeouts>): void {
    if (t.halfOpenMs !== undefined) this.timeouts[TimeoutClass.HALF_OPEN] = t.halfOpenMs;
    if (t.establishedMs !== undefined) this.timeouts[TimeoutClass.ESTABLISHED] = t.establishedMs;
    if (t.closingMs !== undefined) this.timeouts[TimeoutClass.CLOSING] = t.closingMs;
  }

  /** Symmetric in (a, pa) <-> (b, pb). */
  hash(a: number, b: number, pa: number, pb: number): number {
    let h = this.seed ^ ((a + b) | 0);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h ^= a ^ b;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= ((pa + pb) & 0x1ffff) | ((pa ^ pb) << 17);
    h = Math.imul(h ^ (h >>> 16), 0x9e3779b1);
    return (h ^ (h >>> 15)) >>> 0;
  }

  home(h: number): number {
    return ((h * this.slots) / 4294967296) | 0;
  }

  /**
   * Finds the flow of a packet (any direction). Returns its slot, or -1. Sets `reply`.
   * An entry found expired is removed (onExpire is told) and -1 is returned.
   * Caller must pass addresses and ports as unsigned values.
   */
  lookup(saddr: number, daddr: number, sport: number, dport: number, now: number): number {
    const kg = this.kg;
    const n = this.slots;
    const ports = ((sport << 16) | dport) >>> 0;
    const rports = ((dport << 16) | sport) >>> 0;
    let i = this.home(this.hash(saddr, daddr, sport, dport));
    for (let d = 0; d <= MAX_DIST; d++) {
      const b = i << 2;
      const meta = kg[b + KG_META]!;
      if ((meta & META_STATE_MASK) === 0 || (meta & META_DIST_MASK) < d) return -1;
      const s = kg[b]!;
      if (s === saddr && kg[b + KG_DADDR] === daddr && kg[b + KG_PORTS] === ports) {
        this.reply = false;
        return this.liveOrExpire(i, meta, now);
      }
      if (s === daddr && kg[b + KG_DADDR] === saddr && kg[b + KG_PORTS] === rports) {
        this.reply = true;
        return this.liveOrExpire(i, meta, now);
      }
      if (++i === n) i = 0;
    }
    return -1;
  }

  private liveOrExpire(i: number, meta: number, now: number): number {
    const age = (toU32(now) - this.hot[i * HOT_STRIDE + HOT_LAST_SEEN]!) >>> 0;
    if (age > this.timeouts[STATE_CLASS[(meta >>> META_STATE_SHIFT) & 0xff]!]!) {
      this.stats.expiredLazy++;
      this.expire(i, now);
      return -1;
    }
    return i;
  }

  /** True iff the live entry at `slot` has outlived its state's timeout. */
  isExpired(slot: number, now: number): boolean {
    const meta = this.kg[slot * KG_STRIDE + KG_META]!;
    if ((meta & META_STATE_MASK) === 0) return false;
    const age = (toU32(now) - this.hot[slot * HOT_STRIDE + HOT_LAST_SEEN]!) >>> 0;
    return age > this.timeouts[STATE_CLASS[(meta >>> META_STATE_SHIFT) & 0xff]!]!;
  }

  /** Removes an expired entry after telling onExpire. */
  expire(slot: number, now: number): void {
    if (this.onExpire !== null) this.onExpire(slot, now);
    this.remove(slot);
  }

  /**
   * Inserts a new flow (the caller has checked it is absent) with its tuple in the ORIGINAL
   * direction. Returns the slot, or -Reason (TABLE_FULL, HALF_OPEN_LIMIT) when refused; a refusal
   * changes nothing. When `state` is half-open a side-table slot is attached.
   */
  insert(saddr: number, daddr: number, sport: number, dport: number, state: CtState, flags: number, now: number): number {
    saddr >>>= 0;
    daddr >>>= 0;
    if (this.size >= this.capacity) {
      this.reclaim(now);
      if (this.size >= this.capacity) {
        this.stats.tableFull++;
        return -Reason.TABLE_FULL;
      }
    }
    const half = isHalfOpen(state);
    if (half) {
      if (this.halfOpen >= this.halfOpenCap) {
        this.stats.halfOpenTotal++;
        return -Reason.HALF_OPEN_LIMIT;
      }
      if (!this.sources.tryInc(saddr, this.halfOpenPerSource)) {
        this.stats.halfOpenPerSource++;
        return -Reason.HALF_OPEN_LIMIT;
      }
    }
    const slot = this.place(saddr, daddr, sport, dport);
    if (slot < 0) {
      if (half) this.sources.dec(saddr);
      this.stats.probeLimit++;
      return -Reason.TABLE_FULL;
    }
    const now32 = toU32(now);
    const b = slot * KG_STRIDE;
    this.kg[b + KG_META] = ((this.kg[b + KG_META]! & META_DIST_MASK) | (state << META_STATE_SHIFT) | ((flags & 0xffff) << META_FLAGS_SHIFT)) >>> 0;
    const h = slot * HOT_STRIDE;
    this.hot[h + HOT_LAST_SEEN] = now32;
    this.hot[h + HOT_CREATED] = now32;
    this.hot[h + HOT_PACKETS] = 0;
    this.hot[h + HOT_BYTES_LO] = 0;
    this.hot[h + HOT_BYTES_HI] = 0;
    this.hot[h + HOT_SEQ_ORIG] = 0;
    this.hot[h + HOT_SEQ_REPLY] = 0;
    this.hot[h + HOT_PEER_ID] = PEER_NONE;
    const c = slot * COLD_STRIDE;
    this.cold[c + COLD_VERDICT] = RULE_NONE;
    this.cold[c + COLD_PORT_SIDE] = 0;
    if (half) {
      this.halfOpen++;
      this.cold[c + COLD_PORT_SIDE] = this.side.alloc(slot);
    }
    this.size++;
    this.stats.inserts++;
    return slot;
  }

  /** Finds the Robin Hood position for a new key, shifts the cluster, writes the key; -1 if over MAX_DIST. */
  private place(saddr: number, daddr: number, sport: number, dport: number): number {
    const kg = this.kg;
    const n = this.slots;
    let i = this.home(this.hash(saddr, daddr, sport, dport));
    let d = 0;
    for (;;) {
      const meta = kg[i * KG_STRIDE + KG_META]!;
      if ((meta & META_STATE_MASK) === 0 || (meta & META_DIST_MASK) < d) break;
      if (++d > MAX_DIST) return -1;
      if (++i === n) i = 0;
    }
    const p = i;
    // Find the end of the run starting at p and check no shifted entry would exceed MAX_DIST.
    let e = p;
    for (let k = 0; k < n; k++) {
      const meta = kg[e * KG_STRIDE + KG_META]!;
      if ((meta & META_STATE_MASK) === 0) break;
      if ((meta & META_DIST_MASK) >= MAX_DIST) return -1;
      if (++e === n) e = 0;
    }
    // Shift [p, e) forward by one, from the end.
    while (e !== p) {
      const from = e === 0 ? n - 1 : e - 1;
      this.move(from, e, 1);
      e = from;
    }
    const b = p * KG_STRIDE;
    kg[b + KG_SADDR] = saddr;
    kg[b + KG_DADDR] = daddr;
    kg[b + KG_PORTS] = ((sport << 16) | dport) >>> 0;
    kg[b + KG_META] = d;
    return p;
  }

  /** Copies entry `from` into `to`, adjusting its probe distance by `dd` and its side-table owner. */
  private move(from: number, to: number, dd: number): void {
    const kg = this.kg;
    const fb = from * KG_STRIDE;
    const tb = to * KG_STRIDE;
    kg[tb] = kg[fb]!;
    kg[tb + 1] = kg[fb + 1]!;
    kg[tb + 2] = kg[fb + 2]!;
    const meta = kg[fb + KG_META]!;
    kg[tb + KG_META] = ((meta & ~META_DIST_MASK) | (((meta & META_DIST_MASK) + dd) & META_DIST_MASK)) >>> 0;
    this.hot.copyWithin(to * HOT_STRIDE, from * HOT_STRIDE, from * HOT_STRIDE + HOT_STRIDE);
    const cf = from * COLD_STRIDE;
    const ct = to * COLD_STRIDE;
    this.cold[ct] = this.cold[cf]!;
    const ps = this.cold[cf + 1]!;
    this.cold[ct + 1] = ps;
    const s = ps & 0xffff;
    if (s !== 0) this.side.owner[s] = to;
  }

  /** Removes the entry at `slot` (no-op on a free slot), releasing half-open accounting. */
  remove(slot: number): void {
    const kg = this.kg;
    const b = slot * KG_STRIDE;
    const meta = kg[b + KG_META]!;
    const state = (meta >>> META_STATE_SHIFT) & 0xff;
    if (state === CtState.FREE) return;
    if (isHalfOpen(state)) this.leaveHalfOpen(slot);
    this.size--;
    this.stats.removes++;
    const n = this.slots;
    let hole = slot;
    let j = slot + 1 === n ? 0 : slot + 1;
    for (let k = 0; k < n; k++) {
      const m = kg[j * KG_STRIDE + KG_META]!;
      if ((m & META_STATE_MASK) === 0 || (m & META_DIST_MASK) === 0) break;
      this.move(j, hole, -1);
      hole = j;
      if (++j === n) j = 0;
    }
    const hb = hole * KG_STRIDE;
    kg[hb] = 0;
    kg[hb + 1] = 0;
    kg[hb + 2] = 0;
    kg[hb + 3] = 0;
    this.cold[hole * COLD_STRIDE + COLD_PORT_SIDE] = 0;
  }

  private leaveHalfOpen(slot: number): void {
    this.halfOpen--;
    this.sources.dec(this.kg[slot * KG_STRIDE + KG_SADDR]!);
    const c = slot * COLD_STRIDE + COLD_PORT_SIDE;
    const ps = this.cold[c]!;
    this.side.release(ps & 0xffff);
    this.cold[c] = ps & 0xffff0000;
  }

  /**
   * Runs only when the table is full: scans at most RECLAIM_BUDGET slots from a rotating cursor
   * and removes the first expired entry found (so a flood against a full table costs bounded work).
   */
  private reclaim(now: number): void {
    const n = this.slots;
    let i = this.reclaimCursor;
    const budget = Math.min(n, RECLAIM_BUDGET);
    for (let k = 0; k < budget; k++) {
      if (this.isExpired(i, now)) {
        this.stats.expiredLazy++;
        this.expire(i, now);
        this.reclaimCursor = i;
        return;
      }
      if (++i === n) i = 0;
    }
    this.reclaimCursor = i;
  }

  private reclaimCursor = 0;

  // ---- field access (slot must be live) ----

  state(slot: number): CtState {
    return ((this.kg[slot * KG_STRIDE + KG_META]! >>> META_STATE_SHIFT) & 0xff) as CtState;
  }

  /**
   * Sets the state. Leaving half-open releases the caps and the side slot; entering half-open
   * from another state counts against the caps without refusing (callers restart a handshake by
   * remove + insert, which does check them).
   */
  setState(slot: number, state: CtState): void {
    const b = slot * KG_STRIDE + KG_META;
    const meta = this.kg[b]!;
    const old = (meta >>> META_STATE_SHIFT) & 0xff;
    if (old === state) return;
    const wasHalf = isHalfOpen(old);
    const half = isHalfOpen(state);
    if (wasHalf && !half) this.leaveHalfOpen(slot);
    else if (!wasHalf && half) {
      this.halfOpen++;
      this.sources.tryInc(this.kg[slot * KG_STRIDE]!, 0xffffffff);
      const c = slot * COLD_STRIDE + COLD_PORT_SIDE;
      this.cold[c] = ((this.cold[c]! & 0xffff0000) | this.side.alloc(slot)) >>> 0;
    }
    this.kg[b] = ((meta & ~META_STATE_MASK) | (state << META_STATE_SHIFT)) >>> 0;
  }

  flags(slot: number): number {
    return this.kg[slot * KG_STRIDE + KG_META]! >>> META_FLAGS_SHIFT;
  }

  setFlags(slot: number, flags: number): void {
    const b = slot * KG_STRIDE + KG_META;
    this.kg[b] = ((this.kg[b]! & 0xffff) | ((flags & 0xffff) << META_FLAGS_SHIFT)) >>> 0;
  }

  addFlags(slot: number, flags: number): void {
    const b = slot * KG_STRIDE + KG_META;
    this.kg[b] = (this.kg[b]! | ((flags & 0xffff) << META_FLAGS_SHIFT)) >>> 0;
  }

  clearFlags(slot: number, flags: number): void {
    const b = slot * KG_STRIDE + KG_META;
    this.kg[b] = (this.kg[b]! & ~((flags & 0xffff) << META_FLAGS_SHIFT)) >>> 0;
  }

  saddr(slot: number): number {
    return this.kg[slot * KG_STRIDE + KG_SADDR]!;
  }

  daddr(slot: number): number {
    return this.kg[slot * KG_STRIDE + KG_DADDR]!;
  }

  sport(slot: number): number {
    return this.kg[slot * KG_STRIDE + KG_PORTS]! >>> 16;
  }

  dport(slot: number): number {
    return this.kg[slot * KG_STRIDE + KG_PORTS]! & 0xffff;
  }

  /** Probe distance (diagnostics and tests). */
  dist(slot: number): number {
    return this.kg[slot * KG_STRIDE + KG_META]! & META_DIST_MASK;
  }

  reason(slot: number): number {
    return this.cold[slot * COLD_STRIDE + COLD_VERDICT]! >>> 24;
  }

  ruleId(slot: number): number {
    return this.cold[slot * COLD_STRIDE + COLD_VERDICT]! & RULE_NONE;
  }

  /** Records the decision: reason code, deciding rule (RULE_NONE for none), peer identity id. */
  setVerdict(slot: number, reason: number, ruleId: number, peerId: number): void {
    this.cold[slot * COLD_STRIDE + COLD_VERDICT] = (((reason & 0xff) << 24) | (ruleId & RULE_NONE)) >>> 0;
    this.hot[slot * HOT_STRIDE + HOT_PEER_ID] = peerId >>> 0;
  }

  peerId(slot: number): number {
    return this.hot[slot * HOT_STRIDE + HOT_PEER_ID]!;
  }

  /** Port the client dialled, for redirected flows (0 otherwise). */
  origPort(slot: number): number {
    return this.cold[slot * COLD_STRIDE + COLD_PORT_SIDE]! >>> 16;
  }

  setOrigPort(slot: number, port: number): void {
    const c = slot * COLD_STRIDE + COLD_PORT_SIDE;
    this.cold[c] = (((port & 0xffff) << 16) | (this.cold[c]! & 0xffff)) >>> 0;
  }

  /** Handshake side-table slot, 0 when none. */
  sideSlot(slot: number): number {
    return this.cold[slot * COLD_STRIDE + COLD_PORT_SIDE]! & 0xffff;
  }

  /** The handshake object of a half-open flow. */
  handshake(slot: number): H | undefined {
    const s = this.sideSlot(slot);
    return s === 0 ? undefined : this.side.get(s);
  }

  setHandshake(slot: number, h: H | undefined): void {
    const s = this.sideSlot(slot);
    if (s !== 0) this.side.set(s, h);
  }

  seqOrig(slot: number): number {
    return this.hot[slot * HOT_STRIDE + HOT_SEQ_ORIG]!;
  }

  seqReply(slot: number): number {
    return this.hot[slot * HOT_STRIDE + HOT_SEQ_REPLY]!;
  }

  setSeq(slot: number, orig: number, reply: number): void {
    const h = slot * HOT_STRIDE;
    this.hot[h + HOT_SEQ_ORIG] = orig >>> 0;
    this.hot[h + HOT_SEQ_REPLY] = reply >>> 0;
  }

  lastSeen(slot: number): number {
    return this.hot[slot * HOT_STRIDE + HOT_LAST_SEEN]!;
  }

  created(slot: number): number {
    return this.hot[slot * HOT_STRIDE + HOT_CREATED]!;
  }

  packets(slot: number): number {
    return this.hot[slot * HOT_STRIDE + HOT_PACKETS]!;
  }

  bytes(slot: number): number {
    const h = slot * HOT_STRIDE;
    return this.hot[h + HOT_BYTES_HI]! * 4294967296 + this.hot[h + HOT_BYTES_LO]!;
  }

  /** Counts one packet of `len` bytes and refreshes last-seen. */
  account(slot: number, len: number, now: number): void {
    const hot = this.hot;
    const h = slot * HOT_STRIDE;
    hot[h + HOT_LAST_SEEN] = now >>> 0;
    hot[h + HOT_PACKETS] = hot[h + HOT_PACKETS]! + 1;
    const lo = hot[h + HOT_BYTES_LO]! + len;
    if (lo > 0xffffffff) {
      hot[h + HOT_BYTES_LO] = lo - 4294967296;
      hot[h + HOT_BYTES_HI] = hot[h + HOT_BYTES_HI]! + 1;
    } else {
      hot[h + HOT_BYTES_LO] = lo;
    }
  }

  touch(slot: number, now: number): void {
    this.hot[slot * HOT_STRIDE + HOT_LAST_SEEN] = now >>> 0;
  }

  /** Removes every entry (e.g. on shutdown); counters are kept. */
  clear(): void {
    this.kg.fill(0);
    this.hot.fill(0);
    this.cold.fill(0);
    for (let s = 1; s <= this.side.capacity; s++) this.side.release(s);
    this.sources.clear();
    this.size = 0;
    this.halfOpen = 0;
  }
}
