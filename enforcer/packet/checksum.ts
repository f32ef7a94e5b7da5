// Internet checksums (RFC 1071) for IPv4 headers and TCP segments, full and incremental (RFC 1624).
// Invariants: functions never throw and allocate nothing on the per-packet path (the word fast
// path caches one Uint32Array per ArrayBuffer, see wordsOf); sums are accumulated in a JS number that stays
// below 2^32 for any IPv4 packet (<= 32768 words of <= 0xffff plus the pseudo-header), then folded
// with end-around carry; checksum values are uint16 as stored on the wire (big-endian field).
// Incremental updates use RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), which never turns a
// checksum that is not 0xffff into 0xffff, and preserves a wrong checksum as wrong (an update
// never "launders" a corrupted packet into a valid one).
import { IPPROTO_TCP, IPV4_OFF_CSUM, IPV4_OFF_DST, IPV4_OFF_SRC, TCP_OFF_CSUM } from './constants.js';
import type { PacketView } from './view.js';

/** Folds a 32-bit sum to 16 bits with end-around carry. */
export function fold(sum: number): number {
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** True on little-endian hosts (x86, ARM as run by Node): enables the 32-bit word fast path. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** Ranges at least this long are summed 32 bits at a time. */
const FAST_MIN = 96;
/**
 * Uint32Array views over the ArrayBuffers most recently summed (a 4-entry round-robin cache).
 * Invariant: no allocation while frames come from at most 4 ArrayBuffers (a FramePool is one).
 */
const CACHE = 4;
const cacheBuf: (ArrayBufferLike | null)[] = [null, null, null, null];
const cacheWords: Uint32Array[] = [new Uint32Array(0), new Uint32Array(0), new Uint32Array(0), new Uint32Array(0)];
let cacheNext = 0;

function wordsOf(ab: ArrayBufferLike): Uint32Array {
  for (let k = 0; k < CACHE; k++) if (cacheBuf[k] === ab) return cacheWords[k]!;
  const k = cacheNext;
  cacheNext = (k + 1) & (CACHE - 1);
  cacheBuf[k] = ab;
  const w = new Uint32Array(ab, 0, ab.byteLength >>> 2);
  cacheWords[k] = w;
  return w;
}

/**
 * Unfolded sum of the 16-bit big-endian words of b[start..end). `odd` = the range starts at an odd
 * offset of the checksummed data (its bytes then sit in the low half of each word). An odd-length
 * range is padded with a zero byte. The result is below 2^32 for any range up to 65535 bytes.
 */
export function sumBytes(b: Uint8Array, start: number, end: number, odd = false): number {
  if (end - start >= FAST_MIN && LITTLE_ENDIAN) return sumWords(b, start, end, odd);
  let s = 0;
  let i = start;
  if (odd && i < end) {
    s = b[i]!;
    i++;
  }
  const last4 = end - 3;
  for (; i < last4; i += 4) s += ((b[i]! << 8) | b[i + 1]!) + ((b[i + 2]! << 8) | b[i + 3]!);
  const last = end - 1;
  for (; i < last; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i < end) s += b[i]! << 8;
  return s;
}

/**
 * sumBytes for long ranges: unaligned head and tail byte by byte, the 4-byte-aligned middle as
 * host (little-endian) 32-bit words. By RFC 1071's byte-order independence, the folded
 * little-endian sum of a region equals the byte-swapped big-endian sum when the region starts on
 * a high byte (even position), and equals it unswapped when it starts on a low byte.
 */
function sumWords(b: Uint8Array, start: number, end: number, odd: boolean): number {
  const base = b.byteOffset;
  let s = 0;
  let low = odd;
  let i = start;
  for (; ((base + i) & 3) !== 0; i++) {
    s += low ? b[i]! : b[i]! << 8;
    low = !low;
  }
  const w = wordsOf(b.buffer);
  let wi = (base + i) >>> 2;
  const n = (end - i) >>> 2;
  const wend = wi + n;
  let ws = 0;
  for (; wi < wend; wi++) {
    const x = w[wi]!;
    ws += (x & 0xffff) + (x >>> 16);
  }
  ws = fold(ws);
  s += low ? ws : ((ws & 0xff) << 8) | (ws >>> 8);
  for (i += n << 2; i < end; i++) {
    s += low ? b[i]! : b[i]! << 8;
    low = !low;
  }
  return s;
}

/** IPv4 header checksum of b[l3Off..l3Off+ihl) with the checksum field taken as zero. */
export function ipv4HeaderChecksum(b: Uint8Array, l3Off: number, ihl: number): number {
  let s = 0;
  const end = l3Off + ihl;
  const skip = l3Off + IPV4_OFF_CSUM;
  for (let i = l3Off; i < end; i += 2) if (i !== skip) s += (b[i]! << 8) | b[i + 1]!;
  return ~fold(s) & 0xffff;
}

/** Sum of the IPv4 pseudo-header (src, dst, zero, proto, l4Len) read from the IPv4 header at l3Off. */
export function pseudoHeaderSum(b: Uint8Array, l3Off: number, proto: number, l4Len: number): number {
  const a = l3Off + IPV4_OFF_SRC;
  const d = l3Off + IPV4_OFF_DST;
  return (
    ((b[a]! << 8) | b[a + 1]!) +
    ((b[a + 2]! << 8) | b[a + 3]!) +
    ((b[d]! << 8) | b[d + 1]!) +
    ((b[d + 2]! << 8) | b[d + 3]!) +
    proto +
    l4Len
  );
}

/** TCP checksum of the segment b[l4Off..l4Off+l4Len) with its checksum field taken as zero. */
export function tcpChecksum(b: Uint8Array, l3Off: number, l4Off: number, l4Len: number): number {
  const c = l4Off + TCP_OFF_CSUM;
  let s = pseudoHeaderSum(b, l3Off, IPPROTO_TCP, l4Len) + sumBytes(b, l4Off, c) + sumBytes(b, c + 2, l4Off + l4Len);
  s = fold(s);
  return ~s & 0xffff;
}

/** True iff the IPv4 header checksum of a parsed view is correct. */
export function verifyIpv4Checksum(v: PacketView): boolean {
  return fold(sumBytes(v.buf, v.l3Off, v.l3Off + v.ipHeaderLen)) === 0xffff;
}

/** True iff the TCP checksum of a parsed TCP view is correct. */
export function verifyTcpChecksum(v: PacketView): boolean {
  const s = pseudoHeaderSum(v.buf, v.l3Off, IPPROTO_TCP, v.l4Len) + sumBytes(v.buf, v.l4Off, v.l4Off + v.l4Len);
  return fold(s) === 0xffff;
}

/** Recomputes and stores the IPv4 header checksum. */
export function fixIpv4Checksum(v: PacketView): void {
  const c = ipv4HeaderChecksum(v.buf, v.l3Off, v.ipHeaderLen);
  v.buf[v.l3Off + IPV4_OFF_CSUM] = c >>> 8;
  v.buf[v.l3Off + IPV4_OFF_CSUM + 1] = c;
}

/** Recomputes and stores the TCP checksum. */
export function fixTcpChecksum(v: PacketView): void {
  const c = tcpChecksum(v.buf, v.l3Off, v.l4Off, v.l4Len);
  v.buf[v.l4Off + TCP_OFF_CSUM] = c >>> 8;
  v.buf[v.l4Off + TCP_OFF_CSUM + 1] = c;
}

/** RFC 1624 eqn. 3 for a 16-bit field changing from `oldV` to `newV`: returns the new checksum. */
export function csumUpdate16(hc: number, oldV: number, newV: number): number {
  return ~fold((~hc & 0xffff) + (~oldV & 0xffff) + (newV & 0xffff)) & 0xffff;
}

/** RFC 1624 eqn. 3 for a 32-bit field (two 16-bit words) changing from `oldV` to `newV`. */
export function csumUpdate32(hc: number, oldV: number, newV: number): number {
  const s = (~hc & 0xffff) + (~oldV >>> 16 & 0xffff) + (~oldV & 0xffff) + (newV >>> 16 & 0xffff) + (newV & 0xffff);
  return ~fold(s) & 0xffff;
}

/**
 * Adds `add` and subtracts `sub` (unfolded word sums) from checksum `hc`:
 * HC' = ~(~HC + sub' + add) where sub' is the ones'-complement negation of fold(sub).
 */
export function csumAdjust(hc: number, add: number, sub: number): number {
  return ~fold((~hc & 0xffff) + fold(add) + (~fold(sub) & 0xffff)) & 0xffff;
}
