// Frame builders: encode a TCP/IPv4 frame into a caller-provided buffer at an offset, with correct
// checksums; address helpers.
// Invariants: writeTcpFrame writes only buf[off..off+returned length) and returns a negative
// PacketError (writing nothing) when the spec cannot be encoded; it never throws on a spec whose
// numbers are in range (values are truncated to their field width). Options are padded with EOL
// (zero) bytes to a multiple of 4. The builder allocates nothing.
import { SyngateError } from '../errors.js';
import { LinkType } from '../engine/types.js';
import {
  ETH_ADDR_LEN,
  ETH_HEADER_LEN,
  ETH_OFF_DST,
  ETH_OFF_SRC,
  ETH_OFF_TYPE,
  ETHERTYPE_IPV4,
  IPPROTO_TCP,
  IPV4_FLAG_DF,
  IPV4_MAX_HEADER_LEN,
  IPV4_MAX_TOTAL_LEN,
  IPV4_MIN_HEADER_LEN,
  IPV4_OFF_CSUM,
  IPV4_OFF_DST,
  IPV4_OFF_FRAG,
  IPV4_OFF_ID,
  IPV4_OFF_PROTO,
  IPV4_OFF_SRC,
  IPV4_OFF_TOS,
  IPV4_OFF_TOTAL_LEN,
  IPV4_OFF_TTL,
  IPV4_OFF_VER_IHL,
  IPV4_VERSION,
  TCP_MAX_OPTIONS_LEN,
  TCP_MIN_HEADER_LEN,
  TCP_OFF_ACK,
  TCP_OFF_CSUM,
  TCP_OFF_DATA_OFF,
  TCP_OFF_DST_PORT,
  TCP_OFF_FLAGS,
  TCP_OFF_SEQ,
  TCP_OFF_SRC_PORT,
  TCP_OFF_URG_PTR,
  TCP_OFF_WINDOW,
} from './constants.js';
import { ipv4HeaderChecksum, tcpChecksum } from './checksum.js';
import { PacketError } from './status.js';
import { w16, w32 } from './view.js';

/** Locally administered placeholder MACs used when a spec gives none. */
export const DEFAULT_SRC_MAC: Readonly<Uint8Array> = Uint8Array.of(0x02, 0x53, 0x47, 0x00, 0x00, 0x01);
export const DEFAULT_DST_MAC: Readonly<Uint8Array> = Uint8Array.of(0x02, 0x53, 0x47, 0x00, 0x00, 0x02);
export const DEFAULT_TTL = 64;
export const DEFAULT_WINDOW = 65535;

export interface TcpFrameSpec {
  /** Ethernet only; 6 bytes. */
  srcMac?: Uint8Array;
  dstMac?: Uint8Array;
  /** IPv4 addresses as uint32 (see parseIpv4). */
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** TCP_FLAG_* bits. */
  flags: number;
  /** Default 65535. */
  window?: number;
  /** Raw option bytes (<= 40; padded with EOL to a multiple of 4). */
  options?: Uint8Array;
  payload?: Uint8Array;
  /** Default 64. */
  ttl?: number;
  /** Default 0. */
  ipId?: number;
  /** Don't Fragment; default true. */
  df?: boolean;
  /** Default 0. */
  tos?: number;
  /** Default 0. */
  urgentPointer?: number;
  /** Raw IPv4 option bytes (<= 40; padded with EOL to a multiple of 4). */
  ipOptions?: Uint8Array;
}

/** Link header length for a link type (0 for raw IPv4). */
export function linkHeaderLen(linkType: LinkType): number {
  return linkType === LinkType.ETHERNET ? ETH_HEADER_LEN : 0;
}

/** Writes an Ethernet II header with EtherType IPv4 at buf[off..off+14). */
export function writeEthernetHeader(buf: Uint8Array, off: number, srcMac: Uint8Array, dstMac: Uint8Array): void {
  for (let i = 0; i < ETH_ADDR_LEN; i++) {
    buf[off + ETH_OFF_DST + i] = dstMac[i] ?? 0;
    buf[off + ETH_OFF_SRC + i] = srcMac[i] ?? 0;
  }
  w16(buf, off + ETH_OFF_TYPE, ETHERTYPE_IPV4);
}

/** Encodes `spec` at buf[off..]; returns the frame length or a negative PacketError. */
export function writeTcpFrame(buf: Uint8Array, off: number, spec: TcpFrameSpec, linkType: LinkType): number {
  const optLen = spec.options === undefined ? 0 : spec.options.length;
  if (optLen > TCP_MAX_OPTIONS_LEN) return PacketError.OPTIONS_FULL;
  const paddedOpt = (optLen + 3) & ~3;
  const tcpHdr = TCP_MIN_HEADER_LEN + paddedOpt;
  const payLen = spec.payload === undefined ? 0 : spec.payload.length;
  const ipOptLen = spec.ipOptions === undefined ? 0 : spec.ipOptions.length;
  if (ipOptLen > IPV4_MAX_HEADER_LEN - IPV4_MIN_HEADER_LEN) return PacketError.BAD_ARGUMENT;
  const ihl = IPV4_MIN_HEADER_LEN + ((ipOptLen + 3) & ~3);
  const total = ihl + tcpHdr + payLen;
  if (total > IPV4_MAX_TOTAL_LEN) return PacketError.BAD_ARGUMENT;
  if (linkType !== LinkType.ETHERNET && linkType !== LinkType.RAW_IPV4) return PacketError.BAD_ARGUMENT;
  const l2 = linkHeaderLen(linkType);
  const frameLen = l2 + total;
  if (!(off >= 0) || off + frameLen > buf.length) return PacketError.NO_ROOM;
  if (linkType === LinkType.ETHERNET) {
    writeEthernetHeader(buf, off, spec.srcMac ?? DEFAULT_SRC_MAC, spec.dstMac ?? DEFAULT_DST_MAC);
  }
  const ip = off + l2;
  if (spec.ipOptions !== undefined) buf.set(spec.ipOptions, ip + IPV4_MIN_HEADER_LEN);
  buf.fill(0, ip + IPV4_MIN_HEADER_LEN + ipOptLen, ip + ihl);
  writeIpv4Header(buf, ip, total, spec.srcIp, spec.dstIp, spec.ttl ?? DEFAULT_TTL, spec.ipId ?? 0, spec.df ?? true, spec.tos ?? 0, ihl);
  const t = ip + ihl;
  writeTcpHeader(buf, t, spec.srcPort, spec.dstPort, spec.seq, spec.ack, tcpHdr, spec.flags, spec.window ?? DEFAULT_WINDOW, spec.urgentPointer ?? 0);
  const o = t + TCP_MIN_HEADER_LEN;
  if (spec.options !== undefined) buf.set(spec.options, o);
  buf.fill(0, o + optLen, o + paddedOpt);
  if (spec.payload !== undefined) buf.set(spec.payload, t + tcpHdr);
  w16(buf, t + TCP_OFF_CSUM, tcpChecksum(buf, ip, t, tcpHdr + payLen));
  return frameLen;
}

/**
 * Writes the fixed 20 bytes of a TCP header at buf[t..t+20) with a zero checksum (the caller
 * writes options and payload, then the checksum). `headerLen` is the data offset in bytes.
 */
export function writeTcpHeader(
  buf: Uint8Array,
  t: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  headerLen: number,
  flags: number,
  window: number,
  urgentPointer: number,
): void {
  w16(buf, t + TCP_OFF_SRC_PORT, srcPort);
  w16(buf, t + TCP_OFF_DST_PORT, dstPort);
  w32(buf, t + TCP_OFF_SEQ, seq);
  w32(buf, t + TCP_OFF_ACK, ack);
  buf[t + TCP_OFF_DATA_OFF] = (headerLen >>> 2) << 4;
  buf[t + TCP_OFF_FLAGS] = flags;
  w16(buf, t + TCP_OFF_WINDOW, window);
  w16(buf, t + TCP_OFF_CSUM, 0);
  w16(buf, t + TCP_OFF_URG_PTR, urgentPointer);
}

/**
 * Writes the fixed part of an IPv4 header at buf[ip..ip+20) and its checksum over `ihl` bytes
 * (default 20; any option bytes must already be in place).
 */
export function writeIpv4Header(
  buf: Uint8Array,
  ip: number,
  totalLen: number,
  srcIp: number,
  dstIp: number,
  ttl: number,
  ipId: number,
  df: boolean,
  tos: number,
  ihl: number = IPV4_MIN_HEADER_LEN,
): void {
  buf[ip + IPV4_OFF_VER_IHL] = (IPV4_VERSION << 4) | (ihl >>> 2);
  buf[ip + IPV4_OFF_TOS] = tos;
  w16(buf, ip + IPV4_OFF_TOTAL_LEN, totalLen);
  w16(buf, ip + IPV4_OFF_ID, ipId);
  w16(buf, ip + IPV4_OFF_FRAG, df ? IPV4_FLAG_DF : 0);
  buf[ip + IPV4_OFF_TTL] = ttl;
  buf[ip + IPV4_OFF_PROTO] = IPPROTO_TCP;
  w16(buf, ip + IPV4_OFF_CSUM, 0);
  w32(buf, ip + IPV4_OFF_SRC, srcIp);
  w32(buf, ip + IPV4_OFF_DST, dstIp);
  w16(buf, ip + IPV4_OFF_CSUM, ipv4HeaderChecksum(buf, ip, ihl));
}

/** uint32 -> dotted quad. */
export function ipv4ToString(ip: number): string {
  return `${(ip >>> 24) & 0xff}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Dotted quad -> uint32, or -1 when `s` is not a canonical dotted quad (no leading zeros, each <= 255). */
export function tryParseIpv4(s: string): number {
  const m = IPV4_RE.exec(s);
  if (m === null) return -1;
  let r = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part[0] === '0') return -1;
    const n = Number(part);
    if (n > 255) return -1;
    r = r * 256 + n;
  }
  return r;
}

/** Dotted quad -> uint32. Throws SyngateError SYNGATE_PACKET_BAD_IPV4 naming the input. */
export function parseIpv4(s: string): number {
  const r = tryParseIpv4(s);
  if (r < 0) throw new SyngateError('SYNGATE_PACKET_BAD_IPV4', `not an IPv4 dotted quad: ${JSON.stringify(s)}`);
  return r;
}

/** 6 bytes -> `aa:bb:cc:dd:ee:ff`. */
export function macToString(b: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < ETH_ADDR_LEN; i++) s += (i ? ':' : '') + (b[off + i] ?? 0).toString(16).padStart(2, '0');
  return s;
}

/** `aa:bb:cc:dd:ee:ff` -> 6 bytes. Throws SyngateError SYNGATE_PACKET_BAD_MAC. */
export function parseMac(s: string): Uint8Array {
  const parts = s.split(':');
  if (parts.length !== ETH_ADDR_LEN || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new SyngateError('SYNGATE_PACKET_BAD_MAC', `not a MAC address: ${JSON.stringify(s)}`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}
