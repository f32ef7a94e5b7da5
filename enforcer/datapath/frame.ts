// Minimal header peeking the adapters need around the handler (never for decisions): where the
// IPv4 header starts, and the 4-tuple + flags of a TCP segment, to fill the original-destination
// table from SYNs. Invariants: never throws, never allocates; every read is bounds-checked against
// `off + len`; multi-byte fields are big-endian on the wire. Offsets mirror enforcer/packet/constants.ts
// (kept local so the adapters depend only on the engine contract).
import { LinkType } from '../engine/types.js';

/** Ethernet: EtherType, uint16 big-endian. */
export const ETH_OFF_TYPE = 12;
export const ETH_HEADER_LEN = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
/** IPv4: version/IHL byte. */
export const IPV4_OFF_VER_IHL = 0;
export const IPV4_OFF_PROTO = 9;
/** IPv4 source / destination, uint32 big-endian. */
export const IPV4_OFF_SRC = 12;
export const IPV4_OFF_DST = 16;
export const IPV4_MIN_HEADER_LEN = 20;
export const IPPROTO_TCP = 6;
/** TCP ports, uint16 big-endian. */
export const TCP_OFF_SRC_PORT = 0;
export const TCP_OFF_DST_PORT = 2;
export const TCP_OFF_FLAGS = 13;
export const TCP_MIN_HEADER_LEN = 20;
export const TCP_FLAG_SYN = 0x02;
export const TCP_FLAG_ACK = 0x10;

/** EtherType of an Ethernet frame, or -1 when too short. */
export function etherType(buf: Uint8Array, off: number, len: number): number {
  if (len < ETH_HEADER_LEN) return -1;
  return ((buf[off + ETH_OFF_TYPE] ?? 0) << 8) | (buf[off + ETH_OFF_TYPE + 1] ?? 0);
}

/** Offset of the IPv4 header, or -1 if the frame holds no IPv4 packet. */
export function ipv4Offset(buf: Uint8Array, off: number, len: number, link: LinkType): number {
  let l3 = off;
  if (link === LinkType.ETHERNET) {
    if (etherType(buf, off, len) !== ETHERTYPE_IPV4) return -1;
    l3 = off + ETH_HEADER_LEN;
  }
  if (off + len - l3 < IPV4_MIN_HEADER_LEN) return -1;
  if (((buf[l3 + IPV4_OFF_VER_IHL] ?? 0) >>> 4) !== 4) return -1;
  return l3;
}

export function readU32(buf: Uint8Array, at: number): number {
  return (((buf[at] ?? 0) << 24) | ((buf[at + 1] ?? 0) << 16) | ((buf[at + 2] ?? 0) << 8) | (buf[at + 3] ?? 0)) >>> 0;
}
export function readU16(buf: Uint8Array, at: number): number {
  return ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0);
}

/**
 * Offset of the TCP header of an IPv4 packet at `l3`, or -1 (not TCP, too short).
 */
export function tcpOffset(buf: Uint8Array, l3: number, end: number): number {
  if ((buf[l3 + IPV4_OFF_PROTO] ?? 0) !== IPPROTO_TCP) return -1;
  const l4 = l3 + ((buf[l3 + IPV4_OFF_VER_IHL] ?? 0) & 0x0f) * 4;
  if (end - l4 < TCP_MIN_HEADER_LEN) return -1;
  return l4;
}

export function ipToString(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** Parses a dotted quad; returns -1 for anything else. */
export function ipFromString(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) return -1;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return -1;
    const n = Number(p);
    if (n > 255) return -1;
    v = v * 256 + n;
  }
  return v >>> 0;
}
