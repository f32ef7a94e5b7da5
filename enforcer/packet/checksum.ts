// Internet checksums (RFC 1071) for IPv4 headers and TCP segments, full and incremental (RFC 1624).
// Invariants: functions never allocate or throw; sums are accumulated in a JS number that stays
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

/**
 * Unfolded sum of the 16-bit big-endian words of b[start..end). `odd` = the range starts at an odd
 * offset of the checksummed data (its bytes then sit in the low half of each word). An odd-length
 * range is padded with a zero byte.
 */
export function sumBytes(b: Uint8Array, start: number, end: number, odd = false): number {
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
  if (s > 0x7fffffff) s = fold(s);
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
