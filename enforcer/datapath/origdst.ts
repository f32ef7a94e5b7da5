// Bounded table of original destinations, filled from the SYNs an adapter sees.
// Invariants: fixed capacity (power of two) allocated once; insert never allocates; a newer SYN for
// the same (client ip, client port, server ip) replaces the older one; when a probe window is full
// the oldest slot in it is overwritten (the table forgets, never grows). Keys and values are
// host-order integers.
import { ipFromString, ipToString } from './frame.js';
import type { OriginalDestination } from './types.js';

/** Slots examined per insert/lookup. */
const PROBE = 8;

export class OrigDstTable {
  private readonly mask: number;
  private readonly srcIp: Uint32Array;
  private readonly dstIp: Uint32Array;
  /** (client port << 16) | original destination port; 0 = empty slot. */
  private readonly ports: Uint32Array;
  private readonly stamp: Float64Array;
  private seq = 0;

  constructor(capacity = 4096) {
    let cap = 16;
    while (cap < capacity && cap < 1 << 24) cap <<= 1;
    this.mask = cap - 1;
    this.srcIp = new Uint32Array(cap);
    this.dstIp = new Uint32Array(cap);
    this.ports = new Uint32Array(cap);
    this.stamp = new Float64Array(cap);
  }

  private hash(src: number, sport: number, dst: number): number {
    let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(dst, 0xc2b2ae35) ^ Math.imul(sport, 0x27d4eb2f);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** Records that client src:sport addressed dst:dport. */
  insert(src: number, sport: number, dst: number, dport: number): void {
    const h = this.hash(src, sport, dst);
    let victim = h;
    let oldest = Infinity;
    for (let i = 0; i < PROBE; i++) {
      const s = (h + i) & this.mask;
      const p = this.ports[s] ?? 0;
      if (p === 0 || (this.srcIp[s] === src && this.dstIp[s] === dst && p >>> 16 === sport)) {
        victim = s;
        break;
      }
      const t = this.stamp[s] ?? 0;
      if (t < oldest) {
        oldest = t;
        victim = s;
      }
    }
    this.srcIp[victim] = src;
    this.dstIp[victim] = dst;
    this.ports[victim] = ((sport << 16) | (dport & 0xffff)) >>> 0;
    this.stamp[victim] = ++this.seq;
  }

  /** Original destination port for client src:sport toward dst, or -1. */
  lookup(src: number, sport: number, dst: number): number {
    const h = this.hash(src, sport, dst);
    for (let i = 0; i < PROBE; i++) {
      const s = (h + i) & this.mask;
      const p = this.ports[s] ?? 0;
      if (p !== 0 && this.srcIp[s] === src && this.dstIp[s] === dst && p >>> 16 === sport) return p & 0xffff;
    }
    return -1;
  }

  /** String-keyed convenience for the adapters' public query. */
  query(srcIp: string, srcPort: number, dstIp: string): OriginalDestination | null {
    const s = ipFromString(srcIp);
    const d = ipFromString(dstIp);
    if (s < 0 || d < 0) return null;
    const port = this.lookup(s, srcPort, d);
    return port < 0 ? null : { ip: ipToString(d), port };
  }
}
