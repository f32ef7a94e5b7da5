// Per-source half-open counters: a bounded open-addressing table (linear probing, backward-shift
// deletion, no tombstones) keyed by IPv4 address (uint32).
// Invariants: at most `maxSources` keys are present (the caller's total half-open cap bounds the
// number of distinct sources); a key is present iff its count > 0; nothing allocates after the
// constructor.

export class SourceCounter {
  private readonly keys: Uint32Array;
  private readonly counts: Uint32Array;
  private readonly mask: number;
  private size = 0;

  constructor(readonly maxSources: number) {
    let n = 16;
    while (n < maxSources * 2) n *= 2;
    this.keys = new Uint32Array(n);
    this.counts = new Uint32Array(n);
    this.mask = n - 1;
  }

  get bytes(): number {
    return this.keys.byteLength + this.counts.byteLength;
  }

  get distinct(): number {
    return this.size;
  }

  private home(ip: number): number {
    let h = Math.imul(ip ^ 0x5bd1e995, 0x9e3779b1);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** Current count for `ip` (0 when absent). */
  get(ip: number): number {
    ip >>>= 0;
    let i = this.home(ip);
    for (let n = 0; n <= this.mask; n++) {
      if (this.counts[i] === 0) return 0;
      if (this.keys[i] === ip) return this.counts[i]!;
      i = (i + 1) & this.mask;
    }
    return 0;
  }

  /** Increments the count of `ip` unless it is already `limit`; returns false iff refused. */
  tryInc(ip: number, limit: number): boolean {
    ip >>>= 0;
    let i = this.home(ip);
    for (let n = 0; n <= this.mask; n++) {
      const c = this.counts[i]!;
      if (c === 0) {
        if (limit < 1 || this.size >= this.maxSources) return false;
        this.keys[i] = ip;
        this.counts[i] = 1;
        this.size++;
        return true;
      }
      if (this.keys[i] === ip) {
        if (c >= limit) return false;
        this.counts[i] = c + 1;
        return true;
      }
      i = (i + 1) & this.mask;
    }
    return false;
  }

  /** Decrements the count of `ip`; removes the key at zero. No-op when absent. */
  dec(ip: number): void {
    ip >>>= 0;
    const mask = this.mask;
    let i = this.home(ip);
    for (let n = 0; n <= mask; n++) {
      const c = this.counts[i]!;
      if (c === 0) return;
      if (this.keys[i] === ip) {
        if (c > 1) {
          this.counts[i] = c - 1;
          return;
        }
        this.size--;
        // Backward shift: pull later members of the cluster into the hole when that does not
        // move them before their home slot.
        let hole = i;
        let j = (i + 1) & mask;
        while (this.counts[j] !== 0) {
          const h = this.home(this.keys[j]!);
          // j may move to hole iff h is not cyclically in (hole, j].
          const dj = (j - h) & mask;
          const dh = (j - hole) & mask;
          if (dj >= dh) {
            this.keys[hole] = this.keys[j]!;
            this.counts[hole] = this.counts[j]!;
            hole = j;
          }
          j = (j + 1) & mask;
        }
        this.counts[hole] = 0;
        this.keys[hole] = 0;
        return;
      }
      i = (i + 1) & mask;
    }
  }

  clear(): void {
    this.keys.fill(0);
    this.counts.fill(0);
    this.size = 0;
  }
}
