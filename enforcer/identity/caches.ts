// Bounded caches for the identity hot path.
// Invariants:
//  - BoundedMap never holds more than `capacity` entries; inserting into a full map evicts the
//    oldest insertion (FIFO: a hit does not reorder, so a hit costs one Map probe);
//  - ReplayCache remembers every inserted nonce for at least `windowSec` seconds and at most
//    2 * windowSec (two generations of open-addressing tables over typed arrays, no per-entry
//    objects); a generation starts small and doubles when half full; at its maximum size and
//    half load add() refuses (fail closed: the caller rejects the SYN) rather than forget a
//    nonce that is still inside the window;
//  - TokenBuckets is a fixed-size, 4-way set-associative table of per-source buckets plus one
//    global bucket; a source that finds no slot evicts the least recently used slot of its set,
//    which restarts that source at a full bucket only if it had been idle longest.
export class BoundedMap<K, V> {
  private readonly m = new Map<K, V>();
  evictions = 0;
  constructor(readonly capacity: number) {}
  get size(): number {
    return this.m.size;
  }
  get(k: K): V | undefined {
    return this.m.get(k);
  }
  set(k: K, v: V): void {
    if (!this.m.has(k) && this.m.size >= this.capacity) {
      const oldest = this.m.keys().next();
      if (oldest.done !== true) {
        this.m.delete(oldest.value);
        this.evictions++;
      }
    }
    this.m.set(k, v);
  }
  delete(k: K): boolean {
    return this.m.delete(k);
  }
  clear(): void {
    this.m.clear();
  }
  /** Deletes every entry for which `drop` returns true. O(n): for maintenance, not the hot path. */
  sweep(drop: (v: V, k: K) => boolean): number {
    let n = 0;
    for (const [k, v] of this.m) {
      if (drop(v, k)) {
        this.m.delete(k);
        n++;
      }
    }
    return n;
  }
  values(): IterableIterator<V> {
    return this.m.values();
  }
}

/**
 * One open-addressing table of 8-byte nonce prefixes: slot i holds (hi, lo | 1) in words 2i and
 * 2i+1, so a probe touches one cache line and a zero `lo` word means "empty". Forcing the low bit
 * leaves 63 bits of the random nonce as the key.
 */
class NonceTable {
  readonly w: Uint32Array;
  readonly mask: number;
  count = 0;
  constructor(readonly log2: number) {
    this.w = new Uint32Array(2 << log2);
    this.mask = (1 << log2) - 1;
  }
  /** Slot index of (h, l), or -1 - (first free slot) when absent. Load stays <= 1/2, so a free slot exists. */
  find(h: number, l: number): number {
    const lo = (l | 1) >>> 0;
    const w = this.w;
    let i = (Math.imul(h ^ lo, 0x9e3779b1) >>> 0) & this.mask;
    for (let n = 0; n <= this.mask; n++) {
      const wl = w[2 * i + 1] ?? 0;
      if (wl === 0) return -1 - i;
      if (wl === lo && w[2 * i] === h) return i;
      i = (i + 1) & this.mask;
    }
    return -1 - this.mask - 1;
  }
  put(h: number, l: number): void {
    const r = this.find(h, l);
    if (r >= 0) return;
    this.putAt(-1 - r, h, l);
  }
  /** Stores (h, l) in free slot i (the caller found i with find() and nothing changed since). */
  putAt(i: number, h: number, l: number): void {
    this.w[2 * i] = h;
    this.w[2 * i + 1] = (l | 1) >>> 0;
    this.count++;
  }
}

/** Set of recently seen 16-byte nonces, keyed by their first 8 bytes. */
export class ReplayCache {
  private cur: NonceTable;
  private prev: NonceTable;
  private genStartSec = -1;
  // The free slot has() found in `cur` for its last (absent) nonce, so that the add() which
  // follows a successful verification skips the second probe.
  private lastTable: NonceTable | null = null;
  private lastH = 0;
  private lastL = 0;
  private lastSlot = -1;
  refusedFull = 0;
  /**
   * Tables start at 2^initialLog2 slots and double (rehash) when half full, up to
   * 2^maxLog2 slots; at that size and half load, add() refuses.
   */
  constructor(
    readonly maxLog2: number,
    readonly windowSec: number,
    readonly initialLog2 = Math.min(12, maxLog2),
  ) {
    this.cur = new NonceTable(this.initialLog2);
    this.prev = new NonceTable(this.initialLog2);
  }
  get size(): number {
    return this.cur.count + this.prev.count;
  }
  private roll(nowSec: number): void {
    if (this.genStartSec < 0) {
      this.genStartSec = nowSec;
      return;
    }
    const age = nowSec - this.genStartSec;
    if (age < this.windowSec) return;
    // Entries of `prev` are older than one window: drop them. If `cur` is older than one window
    // too (age >= 2 windows), drop it as well.
    this.prev = age >= 2 * this.windowSec ? new NonceTable(this.initialLog2) : this.cur;
    this.cur = new NonceTable(Math.max(this.initialLog2, Math.min(this.prev.log2, this.maxLog2)));
    this.genStartSec = nowSec;
  }
  private grow(): boolean {
    const t = this.cur;
    if (t.log2 >= this.maxLog2) return false;
    const n = new NonceTable(t.log2 + 1);
    for (let i = 0; i <= t.mask; i++) {
      const lo = t.w[2 * i + 1] ?? 0;
      if (lo !== 0) n.put(t.w[2 * i] ?? 0, lo);
    }
    this.cur = n;
    return true;
  }
  /** Returns true iff the nonce at nonce[off..off+8] was added within the window. */
  has(nonce: Uint8Array, off: number, nowSec: number): boolean {
    this.roll(nowSec);
    const h = readU32(nonce, off);
    const l = readU32(nonce, off + 4);
    const r = this.cur.find(h, l);
    if (r >= 0 || this.prev.find(h, l) >= 0) return true;
    this.lastTable = this.cur;
    this.lastH = h;
    this.lastL = l;
    this.lastSlot = -1 - r;
    return false;
  }
  /** Adds a nonce; returns false iff the cache is at its maximum size (the caller must reject). */
  add(nonce: Uint8Array, off: number, nowSec: number): boolean {
    this.roll(nowSec);
    if (this.cur.count >= (this.cur.mask + 1) >>> 1 && !this.grow()) {
      this.refusedFull++;
      return false;
    }
    const h = readU32(nonce, off);
    const l = readU32(nonce, off + 4);
    const t = this.cur;
    const i = this.lastSlot;
    if (this.lastTable === t && this.lastH === h && this.lastL === l && i >= 0 && i <= t.mask && t.w[2 * i + 1] === 0) {
      t.putAt(i, h, l);
    } else {
      t.put(h, l);
    }
    this.lastTable = null;
    return true;
  }
  clear(): void {
    this.cur = new NonceTable(this.initialLog2);
    this.prev = new NonceTable(this.initialLog2);
  }
}

function readU32(b: Uint8Array, o: number): number {
  return (((b[o] ?? 0) << 24) | ((b[o + 1] ?? 0) << 16) | ((b[o + 2] ?? 0) << 8) | (b[o + 3] ?? 0)) >>> 0;
}

export interface BucketSpec {
  /** Tokens added per second. */
  ratePerSec: number;
  /** Bucket size (maximum burst). */
  burst: number;
}

const WAYS = 4;

/** Verification budgets: one bucket per source IPv4 address (bounded table) plus a global one. */
export class TokenBuckets {
  private readonly sets: number;
  private readonly ip: Uint32Array;
  private readonly used: Uint8Array;
  private readonly tokens: Float64Array;
  private readonly last: Float64Array;
  private globalTokens: number;
  private globalLast = -1;
  constructor(
    readonly perSource: BucketSpec,
    readonly global: BucketSpec,
    tableLog2 = 12,
  ) {
    const n = 1 << tableLog2;
    this.sets = n / WAYS;
    this.ip = new Uint32Array(n);
    this.used = new Uint8Array(n);
    this.tokens = new Float64Array(n);
    this.last = new Float64Array(n);
    this.globalTokens = global.burst;
  }
  private slot(src: number, nowMs: number): number {
    const base = ((Math.imul(src, 0x9e3779b1) >>> 0) % this.sets) * WAYS;
    let victim = base;
    for (let w = 0; w < WAYS; w++) {
      const i = base + w;
      if (this.used[i] === 1 && this.ip[i] === src) return i;
      if (this.used[i] === 0) {
        victim = i;
        break;
      }
      if ((this.last[i] ?? 0) < (this.last[victim] ?? 0)) victim = i;
    }
    this.used[victim] = 1;
    this.ip[victim] = src;
    this.tokens[victim] = this.perSource.burst;
    this.last[victim] = nowMs;
    return victim;
  }
  /** Takes n tokens from src's bucket and the global bucket; returns false (taking none) if either lacks them. */
  take(src: number, n: number, nowMs: number): boolean {
    if (this.globalLast < 0) this.globalLast = nowMs;
    const gdt = Math.max(0, nowMs - this.globalLast) / 1000;
    this.globalLast = Math.max(this.globalLast, nowMs);
    this.globalTokens = Math.min(this.global.burst, this.globalTokens + gdt * this.global.ratePerSec);
    const i = this.slot(src >>> 0, nowMs);
    const dt = Math.max(0, nowMs - (this.last[i] ?? nowMs)) / 1000;
    const t = Math.min(this.perSource.burst, (this.tokens[i] ?? 0) + dt * this.perSource.ratePerSec);
    this.last[i] = Math.max(this.last[i] ?? 0, nowMs);
    this.tokens[i] = t;
    if (t < n || this.globalTokens < n) return false;
    this.tokens[i] = t - n;
    this.globalTokens -= n;
    return true;
  }
}
