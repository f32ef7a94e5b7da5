// A pool of preallocated, reusable frame buffers carved from one ArrayBuffer.
// Invariants: capacity is a power of two; all memory and every Uint8Array view is created in the
// constructor (acquire/release allocate nothing); a slot is handed out at most once until released;
// release of a slot that is not in use is refused (returns false), never corrupts the free list.
import { SyngateError } from '../errors.js';
import { FRAME_HEADROOM } from '../engine/types.js';

/** Largest Ethernet frame without FCS with one VLAN tag (1500 + 14 + 4). */
export const MAX_FRAME_LEN = 1518;
/** Default buffer size: a full frame plus FRAME_HEADROOM, rounded up to 64 bytes. */
export const DEFAULT_FRAME_SIZE = (MAX_FRAME_LEN + FRAME_HEADROOM + 63) & ~63;
export const DEFAULT_POOL_CAPACITY = 1024;
/** Upper bound on total pool memory (1 GiB) to catch unit mistakes. */
const MAX_POOL_BYTES = 1 << 30;

export interface FramePoolOptions {
  /** Bytes per buffer (default DEFAULT_FRAME_SIZE). */
  frameSize?: number;
  /** Number of buffers, rounded up to a power of two (default 1024). */
  capacity?: number;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class FramePool {
  readonly frameSize: number;
  readonly capacity: number;
  private readonly frames: Uint8Array[];
  /** Stack of free slot numbers; free[0..top) are free. */
  private readonly free: Int32Array;
  private readonly used: Uint8Array;
  private top: number;

  constructor(opts: FramePoolOptions = {}) {
    const frameSize = opts.frameSize ?? DEFAULT_FRAME_SIZE;
    const requested = opts.capacity ?? DEFAULT_POOL_CAPACITY;
    if (!Number.isInteger(frameSize) || frameSize < 64) {
      throw new SyngateError('SYNGATE_PACKET_BAD_POOL_CONFIG', `frame pool: frameSize must be an integer >= 64, got ${frameSize}`);
    }
    if (!Number.isInteger(requested) || requested < 1) {
      throw new SyngateError('SYNGATE_PACKET_BAD_POOL_CONFIG', `frame pool: capacity must be an integer >= 1, got ${requested}`);
    }
    const capacity = nextPow2(requested);
    if (capacity * frameSize > MAX_POOL_BYTES) {
      throw new SyngateError(
        'SYNGATE_PACKET_BAD_POOL_CONFIG',
        `frame pool: ${capacity} x ${frameSize} bytes exceeds the ${MAX_POOL_BYTES}-byte limit`,
      );
    }
    this.frameSize = frameSize;
    this.capacity = capacity;
    const mem = new ArrayBuffer(capacity * frameSize);
    this.frames = new Array<Uint8Array>(capacity);
    this.free = new Int32Array(capacity);
    this.used = new Uint8Array(capacity);
    for (let i = 0; i < capacity; i++) {
      this.frames[i] = new Uint8Array(mem, i * frameSize, frameSize);
      this.free[i] = capacity - 1 - i;
    }
    this.top = capacity;
  }

  /** Number of free buffers. */
  get available(): number {
    return this.top;
  }

  /** Takes a free slot; returns its number, or -1 when the pool is exhausted. */
  acquire(): number {
    if (this.top === 0) return -1;
    const slot = this.free[--this.top]!;
    this.used[slot] = 1;
    return slot;
  }

  /** The buffer of a slot (frameSize bytes; the same object every time). Caller must hold the slot. */
  frame(slot: number): Uint8Array {
    return this.frames[slot & (this.capacity - 1)]!;
  }

  /** Returns a slot to the pool; false (and no change) if it is out of range or not in use. */
  release(slot: number): boolean {
    if (!(slot >= 0 && slot < this.capacity) || this.used[slot] !== 1) return false;
    this.used[slot] = 0;
    this.free[this.top++] = slot;
    return true;
  }

  /** True iff `slot` is currently handed out. */
  inUse(slot: number): boolean {
    return slot >= 0 && slot < this.capacity && this.used[slot] === 1;
  }
}
