// Handshake side table: holds per-connection handshake material (the identity layer's handshake
// state object: nonces, connection key, token bytes for retransmission) for half-open flows only.
// Invariants: capacity equals the total half-open cap (at most 65535, so a slot number fits the
// 16-bit field of the flow entry); slot 0 is never used (0 in the flow entry means "none");
// `owner[s]` is the flow-table slot that references s, kept current when the flow table moves
// entries; a freed slot drops its object reference so it can be collected.

export const SIDE_MAX_CAPACITY = 0xffff;

export class HandshakeSideTable<H> {
  /** Flow-table slot owning each side slot, -1 when free. */
  readonly owner: Int32Array;
  private readonly objs: Array<H | undefined>;
  private readonly free: Uint16Array;
  private freeTop: number;

  constructor(readonly capacity: number) {
    this.owner = new Int32Array(capacity + 1).fill(-1);
    this.objs = new Array<H | undefined>(capacity + 1).fill(undefined);
    this.free = new Uint16Array(capacity);
    // Pop order 1, 2, 3, ... for readable dumps.
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - i;
    this.freeTop = capacity;
  }

  get used(): number {
    return this.capacity - this.freeTop;
  }

  /** Fixed bytes of the typed parts plus one reference per slot (8 bytes on 64-bit V8). */
  get bytes(): number {
    return this.owner.byteLength + this.free.byteLength + this.objs.length * 8;
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
    this.owner[s] = -1;
    this.objs[s] = undefined;
    this.free[this.freeTop++] = s;
  }

  get(s: number): H | undefined {
    return this.objs[s];
  }

  set(s: number, h: H | undefined): void {
    if (s > 0 && s <= this.capacity) this.objs[s] = h;
  }
}
