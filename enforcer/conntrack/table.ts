// The flow table: dense entries in typed-array columns, found through an open-addressing index of
// fingerprinted entry numbers (linear probing, backward-shift deletion, no tombstones).
//
// Layout (entry e; all words uint32, host order; IPs and ports are numeric values, not bytes):
//   index      idx[i]            fingerprint << idxBits | (e + 1); 0 = empty      (4 B per index slot)
//   record     kg[e*12 + 0..11]  one 48-byte record per entry (`hot` is the same array as `kg`):
//     key group  words 0..3   saddr | daddr | sport<<16|dport | meta
//                meta = CtState (bits 8-15) | CtFlag set (bits 16-31); bits 0-7 are zero
//     hot group  words 4..11  lastSeen | created | packets | bytesLo | bytesHi | seqOrig | seqReply | peerId
//   cold group cold[e*2 + 0..1]  reason<<24|ruleId | origPort<<16|sideSlot  (8 B)
//   = 56 bytes per entry + 4 / maxLoad bytes of index per entry (about 63 B per flow at the default).
//   Key and hot group share one record so an established packet touches the index line and then one
//   record (one or two adjacent cache lines, one page) instead of two unrelated lines: measured
//   +5% packets/s at 1M flows against separate kg/hot columns (docs/benchmarks.md).
//
// Invariants:
//  - The stored tuple is in the ORIGINAL direction (initiator -> responder) as the local workload
//    sees it, i.e. after any Envoy redirect: for a redirected flow dport is the redirect port and
//    origPort holds the port the client dialled. lookup() matches either direction and sets
//    `reply` to say which one matched.
//  - The hash is symmetric in the two endpoints, so both directions share one probe sequence; the
//    index slot stores a fingerprint of the hash so a probe touches an entry only on a likely hit.
//  - Every live entry has exactly one index slot; between an entry's home slot and its index slot
//    there is no empty index slot (deletion shifts later members of the cluster back).
//  - Entries never move: an entry number (the "slot" of the accessors) stays valid until that flow
//    is removed. Free entries form a list threaded through their saddr word.
//  - size <= capacity; a new flow beyond capacity is refused (Reason.TABLE_FULL), and nothing
//    existing is evicted to make room: only expired entries are reclaimed.
//  - Half-open states (SYN_SENT..SYNACK_RCVD) are counted in total and per initiator address, and
//    each owns one handshake side-table slot; leaving half-open releases both, except that the
//    move SYNACK_RCVD -> ACK_SENT releases the caps but keeps the side slot as "retained". Only
//    ACK_SENT entries hold retained slots; leaving ACK_SENT or removal releases it, and a new
//    half-open flow that finds the side table full evicts the oldest retained slot (counted in
//    stats.sideEvicted), so half-open flows never lack a side slot.
//  - Times are milliseconds modulo 2^32; age = (now - t) mod 2^32, so any timeout must be < 2^31 ms.
//  - Nothing allocates after the constructor.
import { SyngateError } from '../errors.js';
import { Reason } from '../reasons.js';
import { CtState, STATE_CLASS, TimeoutClass, isHalfOpen } from './flags.js';
import { HandshakeSideTable, SIDE_MAX_CAPACITY } from './side-table.js';
import { SourceCounter } from './source-limit.js';

/** Words per entry record: the key group (4 words) then the hot group (8 words), 48 bytes. */
export const REC_STRIDE = 12;
export const KG_STRIDE = REC_STRIDE;
export const KG_SADDR = 0;
export const KG_DADDR = 1;
/** sport<<16 | dport. */
export const KG_PORTS = 2;
export const KG_META = 3;
export const META_STATE_SHIFT = 8;
export const META_STATE_MASK = 0xff00;
export const META_FLAGS_SHIFT = 16;

/** The hot group lives in the same record as the key group, right after it. */
export const HOT_STRIDE = REC_STRIDE;
export const HOT_LAST_SEEN = 4;
export const HOT_CREATED = 5;
export const HOT_PACKETS = 6;
export const HOT_BYTES_LO = 7;
export const HOT_BYTES_HI = 8;
/** Initiator's ISN during the handshake; its next sequence number afterwards. */
export const HOT_SEQ_ORIG = 9;
/** Responder's ISN during the handshake; its next sequence number afterwards. */
export const HOT_SEQ_REPLY = 10;
export const HOT_PEER_ID = 11;

export const COLD_STRIDE = 2;
/** reason<<24 | ruleId (24 bits). */
export const COLD_VERDICT = 0;
/** origPort<<16 | side-table slot (16 bits). */
export const COLD_PORT_SIDE = 1;
export const RULE_NONE = 0xffffff;
export const PEER_NONE = 0xffffffff;

// Hot-path copies of the layout constants above (same values; test/conntrack/constants-sync.test.ts
// checks them). V8 (Node 20) compiles a non-exported module-level const to a cheap context load,
// but every use of an exported or imported ESM binding goes through a module cell (measured in
// docs/packet.md); lookup() runs once or twice per packet.
const L_KG_DADDR = 1;
const L_KG_PORTS = 2;
const L_KG_META = 3;
const L_META_STATE_SHIFT = 8;
const L_REC_STRIDE = 12;
const L_HOT_LAST_SEEN = 4;

/** Slots examined per refused-because-full insert before giving up. */
export const RECLAIM_BUDGET = 512;

/** Bytes of the entry columns per entry (the index adds 4 / maxLoad per entry). */
export const BYTES_PER_SLOT = (REC_STRIDE + COLD_STRIDE) * 4;
/** Default index load: about 1.8 probes per hit, 7.3 bytes of index per flow. */
export const DEFAULT_MAX_LOAD = 0.55;

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
  /** Index load factor at full capacity (index slots = capacity / maxLoad). Default 0.55. */
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
  /** Retained handshake records of ACK_SENT flows evicted to give a new handshake a side slot. */
  sideEvicted: number;
}

/** Called just before an expired entry is removed (lazily or by the sweep). */
export type ExpireHook = (slot: number, now: number) => void;

function toU32(n: number): number {
  return n >>> 0;
}

export class ConntrackTable<H = unknown> {
  readonly capacity: number;
  /** Entry numbers are 0 .. slots-1 (= capacity); iterate them with state(e) !== FREE. */
  readonly slots: number;
  /** Index slots (> capacity). */
  readonly indexSlots: number;
  readonly halfOpenCap: number;
  readonly halfOpenPerSource: number;
  readonly idx: Uint32Array;
  readonly kg: Uint32Array;
  readonly hot: Uint32Array;
  readonly cold: Uint32Array;
  readonly side: HandshakeSideTable<H>;
  readonly sources: SourceCounter;
  /** Timeouts indexed by TimeoutClass, ms. */
  readonly timeouts: Uint32Array;
  /** Timeout by CtState (256 entries, from `timeouts` through STATE_CLASS), ms: one load per lookup. */
  private readonly stateTimeout = new Uint32Array(256);
  readonly stats: ConntrackStats;
  /** Set by lookup(): true iff the matched entry's stored tuple is the reverse of the query. */
  reply = false;
  /** Set by a successful lookup(): the meta word (state, flags) of the entry found. */
  lastMeta = 0;
  /** Number of live entries. */
  size = 0;
  /** Number of half-open entries. */
  halfOpen = 0;
  onExpire: ExpireHook | null = null;
  private readonly seed: number;
  private readonly idxBits: number;
  private readonly idxMask: number;
  private readonly fpMask: number;
  /** First free entry + 1 (0: none). */
  private freeHead = 0;
  private reclaimCursor = 0;

  constructor(opts: ConntrackOptions) {
    const cap = opts.capacity;
    if (!Number.isInteger(cap) || cap < 1 || cap > 64_000_000) {
      throw new SyngateError('SYNGATE_CONNTRACK_CONFIG', `conntrack capacity must be an integer in 1..64000000, got ${String(cap)}`);
    }
    const maxLoad = opts.maxLoad ?? DEFAULT_MAX_LOAD;
    if (!(maxLoad >= 0.1 && maxLoad <= 0.95)) {
      throw new SyngateError('SYNGATE_CONNTRACK_CONFIG', `conntrack maxLoad must be in [0.1, 0.95], got ${String(maxLoad)}`);
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
    this.slots = cap;
    this.indexSlots = Math.max(cap + 1, Math.ceil(cap / maxLoad));
    let bits = 1;
    while (2 ** bits < cap + 1) bits++;
    this.idxBits = bits;
    this.idxMask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
    this.fpMask = bits >= 31 ? 0 : 2 ** (32 - bits) - 1;
    this.halfOpenCap = hoc;
    this.halfOpenPerSource = hops;
    this.idx = new Uint32Array(this.indexSlots);
    this.kg = new Uint32Array(cap * REC_STRIDE);
    this.hot = this.kg;
    this.cold = new Uint32Array(cap * COLD_STRIDE);
    this.side = new HandshakeSideTable<H>(hoc);
    this.sources = new SourceCounter(hoc);
    this.timeouts = new Uint32Array(3);
    this.timeouts[TimeoutClass.HALF_OPEN] = t.halfOpenMs;
    this.timeouts[TimeoutClass.ESTABLISHED] = t.establishedMs;
    this.timeouts[TimeoutClass.CLOSING] = t.closingMs;
    this.syncStateTimeouts();
    this.seed = (opts.seed ?? (Math.random() * 0x100000000) >>> 0) | 0;
    this.stats = { inserts: 0, removes: 0, expiredLazy: 0, tableFull: 0, halfOpenTotal: 0, halfOpenPerSource: 0, sideEvicted: 0 };
    this.resetFreeList();
  }

  private resetFreeList(): void {
    const kg = this.kg;
    for (let e = 0; e < this.capacity; e++) kg[e * KG_STRIDE + KG_SADDR] = e + 2 <= this.capacity ? e + 2 : 0;
    this.freeHead = 1;
  }

  /** Bytes of the index and the entry columns (excluding the side table and source counters). */
  get flowBytes(): number {
    return this.idx.byteLength + this.kg.byteLength + this.cold.byteLength;
  }

  /** All fixed memory: index + entry columns + side table + per-source counters. */
  get totalBytes(): number {
    return this.flowBytes + this.side.bytes + this.sources.bytes;
  }

  setTimeouts(t: Partial<ConntrackTimeouts>): void {
    if (t.halfOpenMs !== undefined) this.timeouts[TimeoutClass.HALF_OPEN] = t.halfOpenMs;
    if (t.establishedMs !== undefined) this.timeouts[TimeoutClass.ESTABLISHED] = t.establishedMs;
    if (t.closingMs !== undefined) this.timeouts[TimeoutClass.CLOSING] = t.closingMs;
    this.syncStateTimeouts();
  }

  private syncStateTimeouts(): void {
    for (let st = 0; st < 256; st++) this.stateTimeout[st] = this.timeouts[STATE_CLASS[st]!]!;
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

  /** Index home slot of a hash (high bits: multiply-shift onto indexSlots). */
  home(h: number): number {
    return ((h * this.indexSlots) / 4294967296) | 0;
  }

  private homeOfEntry(e: number): number {
    const b = e * KG_STRIDE;
    const p = this.kg[b + KG_PORTS]!;
    return this.home(this.hash(this.kg[b]!, this.kg[b + KG_DADDR]!, p >>> 16, p & 0xffff));
  }

  /**
   * Finds the flow of a packet (any direction). Returns its entry number, or -1. Sets `reply` and
   * `lastMeta`. An entry found expired is removed (onExpire is told) and -1 is returned.
   * Caller must pass addresses and ports as unsigned values.
   */
  lookup(saddr: number, daddr: number, sport: number, dport: number, now: number): number {
    const idx = this.idx;
    const kg = this.kg;
    const n = this.indexSlots;
    const h = this.hash(saddr, daddr, sport, dport);
    const fp = h & this.fpMask;
    const bits = this.idxBits;
    const mask = this.idxMask;
    const fwd = ((sport << 16) | dport) >>> 0;
    let i = ((h * n) / 4294967296) | 0;
    for (let k = 0; k < n; k++) {
      const v = idx[i]!;
      if (v === 0) return -1;
      if (v >>> bits === fp) {
        const e = (v & mask) - 1;
        const b = e * L_REC_STRIDE;
        const s = kg[b]!;
        if (s === saddr) {
          if (kg[b + L_KG_DADDR] === daddr && kg[b + L_KG_PORTS] === fwd) {
            this.reply = false;
            return this.liveOrExpire(e, kg[b + L_KG_META]!, now);
          }
        }
        if (s === daddr && kg[b + L_KG_DADDR] === saddr && kg[b + L_KG_PORTS] === (((dport << 16) | sport) >>> 0)) {
          this.reply = true;
          return this.liveOrExpire(e, kg[b + L_KG_META]!, now);
        }
      }
      if (++i === n) i = 0;
    }
    return -1;
  }

  private liveOrExpire(e: number, meta: number, now: number): number {
    const age = ((now >>> 0) - this.kg[e * L_REC_STRIDE + L_HOT_LAST_SEEN]!) >>> 0;
    if (age > this.stateTimeout[(meta >>> L_META_STATE_SHIFT) & 0xff]!) {
      this.stats.expiredLazy++;
      this.expire(e, now);
      return -1;
    }
    this.lastMeta = meta;
    return e;
  }

  /** True iff the live entry `slot` has outlived its state's timeout. */
  isExpired(slot: number, now: number): boolean {
    const meta = this.kg[slot * KG_STRIDE + KG_META]!;
    if ((meta & META_STATE_MASK) === 0) return false;
    const age = (toU32(now) - this.hot[slot * HOT_STRIDE + HOT_LAST_SEEN]!) >>> 0;
    return age > this.stateTimeout[(meta >>> L_META_STATE_SHIFT) & 0xff]!;
  }

  /** Removes an expired entry after telling onExpire. */
  expire(slot: number, now: number): void {
    if (this.onExpire !== null) this.onExpire(slot, now);
    this.remove(slot);
  }

  /**
   * Inserts a new flow (the caller has checked it is absent) with its tuple in the ORIGINAL
   * direction. Returns the entry number, or -Reason (TABLE_FULL, HALF_OPEN_LIMIT) when refused; a
   * refusal changes nothing. When `state` is half-open a side-table slot is attached.
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
    // Take a free entry.
    const e = this.freeHead - 1;
    const b = e * KG_STRIDE;
    this.freeHead = this.kg[b + KG_SADDR]!;
    // Index it: first empty slot from home (the index is never full: indexSlots > capacity).
    const h = this.hash(saddr, daddr, sport, dport);
    const n = this.indexSlots;
    let i = this.home(h);
    while (this.idx[i] !== 0) if (++i === n) i = 0;
    this.idx[i] = ((((h & this.fpMask) * 2 ** this.idxBits) + e + 1) >>> 0);
    const now32 = toU32(now);
    this.kg[b + KG_SADDR] = saddr;
    this.kg[b + KG_DADDR] = daddr;
    this.kg[b + KG_PORTS] = ((sport << 16) | dport) >>> 0;
    this.kg[b + KG_META] = ((state << META_STATE_SHIFT) | ((flags & 0xffff) << META_FLAGS_SHIFT)) >>> 0;
    const hb = e * HOT_STRIDE;
    this.hot[hb + HOT_LAST_SEEN] = now32;
    this.hot[hb + HOT_CREATED] = now32;
    this.hot[hb + HOT_PACKETS] = 0;
    this.hot[hb + HOT_BYTES_LO] = 0;
    this.hot[hb + HOT_BYTES_HI] = 0;
    this.hot[hb + HOT_SEQ_ORIG] = 0;
    this.hot[hb + HOT_SEQ_REPLY] = 0;
    this.hot[hb + HOT_PEER_ID] = PEER_NONE;
    const c = e * COLD_STRIDE;
    this.cold[c + COLD_VERDICT] = RULE_NONE;
    this.cold[c + COLD_PORT_SIDE] = 0;
    if (half) {
      this.halfOpen++;
      this.cold[c + COLD_PORT_SIDE] = this.allocSide(e);
    }
    this.size++;
    this.stats.inserts++;
    return e;
  }

  /** Removes the entry `slot` (no-op on a free entry), releasing half-open accounting. */
  remove(slot: number): void {
    const kg = this.kg;
    const b = slot * KG_STRIDE;
    const meta = kg[b + KG_META]!;
    const state = (meta >>> META_STATE_SHIFT) & 0xff;
    if (state === CtState.FREE || slot < 0 || slot >= this.capacity) return;
    if (isHalfOpen(state)) this.leaveHalfOpen(slot, false);
    else this.dropSide(slot);
    this.size--;
    this.stats.removes++;
    // Find its index slot, then shift the rest of the cluster back over it.
    const idx = this.idx;
    const n = this.indexSlots;
    const mask = this.idxMask;
    let i = this.homeOfEntry(slot);
    for (let k = 0; k < n && (idx[i]! & mask) !== slot + 1; k++) if (++i === n) i = 0;
    let hole = i;
    let j = i + 1 === n ? 0 : i + 1;
    for (let k = 0; k < n; k++) {
      const v = idx[j]!;
      if (v === 0) break;
      const hj = this.homeOfEntry((v & mask) - 1);
      // The member at j may fill the hole iff its home is not cyclically inside (hole, j].
      const dj = j >= hj ? j - hj : j + n - hj;
      const dh = j >= hole ? j - hole : j + n - hole;
      if (dj >= dh) {
        idx[hole] = v;
        hole = j;
      }
      if (++j === n) j = 0;
    }
    idx[hole] = 0;
    // Free the entry.
    kg[b + KG_DADDR] = 0;
    kg[b + KG_PORTS] = 0;
    kg[b + KG_META] = 0;
    this.cold[slot * COLD_STRIDE + COLD_PORT_SIDE] = 0;
    kg[b + KG_SADDR] = this.freeHead;
    this.freeHead = slot + 1;
  }

  /** Releases the half-open caps; the side slot too unless `keepSide` (then it becomes retained). */
  private leaveHalfOpen(slot: number, keepSide: boolean): void {
    this.halfOpen--;
    this.sources.dec(this.kg[slot * KG_STRIDE + KG_SADDR]!);
    if (keepSide) this.side.retain(this.cold[slot * COLD_STRIDE + COLD_PORT_SIDE]! & 0xffff);
    else this.dropSide(slot);
  }

  /** Releases the entry's side slot, if any. */
  private dropSide(slot: number): void {
    const c = slot * COLD_STRIDE + COLD_PORT_SIDE;
    const ps = this.cold[c]!;
    if ((ps & 0xffff) === 0) return;
    this.side.release(ps & 0xffff);
    this.cold[c] = (ps & 0xffff0000) >>> 0;
  }

  /** A side slot for entry `owner`, evicting the oldest retained slot when none is free (0: none at all). */
  private allocSide(owner: number): number {
    const side = this.side;
    const s = side.alloc(owner);
    if (s !== 0) return s;
    const victim = side.oldestRetained();
    if (victim === 0) return 0;
    const f = side.owner[victim]!;
    if (f >= 0) {
      const c = f * COLD_STRIDE + COLD_PORT_SIDE;
      this.cold[c] = (this.cold[c]! & 0xffff0000) >>> 0;
    }
    side.release(victim);
    this.stats.sideEvicted++;
    return side.alloc(owner);
  }

  /**
   * Runs only when the table is full: scans at most RECLAIM_BUDGET entries from a rotating cursor
   * and removes the first expired entry found (so a flood against a full table costs bounded work).
   */
  private reclaim(now: number): void {
    const n = this.capacity;
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

  // ---- field access (slot must be live) ----

  state(slot: number): CtState {
    return ((this.kg[slot * KG_STRIDE + KG_META]! >>> META_STATE_SHIFT) & 0xff) as CtState;
  }

  /**
   * Sets the state. Leaving half-open releases the caps and the side slot (entering ACK_SENT keeps
   * the side slot, retained; leaving ACK_SENT releases it); entering half-open from another state
   * counts against the caps without refusing (callers restart a handshake by remove + insert,
   * which does check them).
   */
  setState(slot: number, state: CtState): void {
    const b = slot * KG_STRIDE + KG_META;
    const meta = this.kg[b]!;
    const old = (meta >>> META_STATE_SHIFT) & 0xff;
    if (old === state) return;
    const wasHalf = isHalfOpen(old);
    const half = isHalfOpen(state);
    if (wasHalf && !half) this.leaveHalfOpen(slot, state === CtState.ACK_SENT);
    else if (!wasHalf) {
      if (old === CtState.ACK_SENT) this.dropSide(slot);
      if (half) {
        this.halfOpen++;
        this.sources.tryInc(this.kg[slot * KG_STRIDE]!, 0xffffffff);
        const c = slot * COLD_STRIDE + COLD_PORT_SIDE;
        this.cold[c] = ((this.cold[c]! & 0xffff0000) | this.allocSide(slot)) >>> 0;
      }
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

  /** The handshake object of a half-open flow (or of an ACK_SENT flow whose record is retained). */
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

  /**
   * Start time of the flow in ms on the caller's clock: created is stored mod 2^32, so it is
   * rebuilt relative to `now` (valid for flows younger than 2^31 ms).
   */
  startTime(slot: number, now: number): number {
    return now - (((now >>> 0) - this.hot[slot * HOT_STRIDE + HOT_CREATED]!) >>> 0);
  }

  /** Removes every entry (e.g. on shutdown); counters are kept. */
  clear(): void {
    this.idx.fill(0);
    this.kg.fill(0);
    this.hot.fill(0);
    this.cold.fill(0);
    for (let s = 1; s <= this.side.capacity; s++) this.side.release(s);
    this.sources.clear();
    this.size = 0;
    this.halfOpen = 0;
    this.resetFreeList();
  }
}
