// Handshake side table: holds per-connection handshake material (the identity layer's handshake
// state object: nonces, connection key, token bytes for retransmission) for half-open flows, and
// for client-side ACK_SENT flows until the server is heard from ("retained" slots).
// Invariants: capacity equals the total half-open cap (at most 65535, so a slot number fits the
// 16-bit field of the flow entry); slot 0 is never used (0 in the flow entry means "none") and is
// the sentinel of the retained list; `owner[s]` is the flow-table slot that references s, kept
// current when the flow table moves entries; a freed slot drops its object reference so it can be
// collected; retained slots form one FIFO list (oldest first) so the oldest can be evicted in O(1)
// when a new handshake finds no free slot; nothing allocates after the constructor.

export const SIDE_MAX_CAPACITY = 0xffff;

export class HandshakeSideTable<H> {
  /** Flow-table slot owning each side slot, -1 when free. */
  readonly owner: Int32Array;
  private readonly objs: Array<H | undefined>;
  private readonly free: Uint16Array;
  private freeTop: number;
  /** Retained list links (slot 0 = sentinel); a slot not in the list has next = prev = 0 and retainedBit 0. */
  private readonly next: Uint16Array;
  private readonly prev: Uint16Array;
  private readonly retainedBit: Uint8Array;
  /** Number of retained slots. */
  retained = 0;

  constructor(readonly capacity: number) {
    this.owner = new Int32Array(capacity + 1).fill(-1);
    this.objs = new Array<H | undefined>(capacity + 1).fill(undefined);
    this.free = new Uint16Array(capacity);
    this.next = new Uint16Array(capacity + 1);
    this.prev = new Uint16Array(capacity + 1);
    this.retainedBit = new Uint8Array(capacity + 1);
    // Pop order 1, 2, 3, ... for readable dumps.
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - i;
    this.freeTop = capacity;
  }

  get used(): number {
    return this.capacity - this.freeTop;
  }

  /** Fixed bytes of the typed parts plus one reference per slot (8 bytes on 64-bit V8). */
  get bytes(): number {
    return this.owner.byteLength + this.free.byteLength + this.next.byteLength + this.prev.byteLength + this.retainedBit.byteLength + this.objs.length * 8;
  }

  /** Takes a slot for flow-table slot `owner`; returns 0 when none is free. */
  alloc(owner: number): number {
    if (this.freeTop === 0) return 0;
    const s = this.free[--this.freeTop]!;
    this.owner[s] = owner;
    this.objs[s] = undefined;
    return s;
  }

  release(s: number): void {
    if (s <= 0 || s > this.capacity || this.owner[s] === -1) return;
    if (this.retainedBit[s] === 1) this.unlink(s);
    this.owner[s] = -1;
    this.objs[s] = undefined;
    this.free[this.freeTop++] = s;
  }

  /** Marks a used slot retained (appended as the newest); no-op when free or already retained. */
  retain(s: number): void {
    if (s <= 0 || s > this.capacity || this.owner[s] === -1 || this.retainedBit[s] === 1) return;
    const last = this.prev[0]!;
    this.next[last] = s;
    this.prev[s] = last;
    this.next[s] = 0;
    this.prev[0] = s;
    this.retainedBit[s] = 1;
    this.retained++;
  }

  isRetained(s: number): boolean {
    return s > 0 && s <= this.capacity && this.retainedBit[s] === 1;
  }

  /** The oldest retained slot, 0 when none. */
  oldestRetained(): number {
    return this.next[0]!;
  }

  private unlink(s: number): void {
    const p = this.prev[s]!;
    const n = this.next[s]!;
    this.next[p] = n;
    this.prev[n] = p;
    this.next[s] = 0;
    this.prev[s] = 0;
    this.retainedBit[s] = 0;
    this.retained--;
  }

  get(s: number): H | undefined {
    return this.objs[s];
  }

  set(s: number, h: H | undefined): void {
    if (s > 0 && s <= this.capacity) this.objs[s] = h;
  }
}
