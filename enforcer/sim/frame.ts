// Ethernet + IPv4 + TCP frame writer and reader used by the simulated TCP endpoints.
// Invariants: every frame written here has a correct IPv4 header checksum and TCP checksum
// (pseudo-header included); all multi-byte fields are network byte order (big-endian);
// parseFrame never throws — it returns null for anything that is not a well-formed
// untagged Ethernet/IPv4/TCP frame. This is the simulator's own endpoint codec (it is not on the
// enforcer's hot path and may allocate); the enforcer parses with enforcer/packet/.
import { LinkType } from '../engine/types.js';
import { writeTcpFrame } from '../packet/index.js';

export const ETH_HDR_LEN = 14;
export const ETH_OFF_DST = 0;
export const ETH_OFF_SRC = 6;
/** u16 BE */
export const ETH_OFF_TYPE = 12;
export const ETHERTYPE_IPV4 = 0x0800;

export const IPV4_HDR_LEN = 20;
export const IPV4_OFF_VER_IHL = 0;
/** u16 BE */
export const IPV4_OFF_TOTAL_LEN = 2;
/** u16 BE */
export const IPV4_OFF_ID = 4;
/** u16 BE: flags (3 bits) + fragment offset (13 bits) */
export const IPV4_OFF_FLAGS_FRAG = 6;
export const IPV4_OFF_TTL = 8;
export const IPV4_OFF_PROTO = 9;
/** u16 BE */
export const IPV4_OFF_CSUM = 10;
/** u32 BE */
export const IPV4_OFF_SRC = 12;
/** u32 BE */
export const IPV4_OFF_DST = 16;
export const IPV4_FLAG_DF = 0x4000;
export const IPPROTO_TCP = 6;

export const TCP_HDR_LEN = 20;
/** u16 BE */
export const TCP_OFF_SPORT = 0;
/** u16 BE */
export const TCP_OFF_DPORT = 2;
/** u32 BE */
export const TCP_OFF_SEQ = 4;
/** u32 BE */
export const TCP_OFF_ACK = 8;
/** high nibble: data offset in 32-bit words */
export const TCP_OFF_DOFF = 12;
export const TCP_OFF_FLAGS = 13;
/** u16 BE */
export const TCP_OFF_WINDOW = 14;
/** u16 BE */
export const TCP_OFF_CSUM = 16;
/** u16 BE */
export const TCP_OFF_URG = 18;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERM = 4;
export const TCPOPT_TIMESTAMP = 8;
/** RFC 6994 experimental option kind carrying syngate's ExID marker. */
export const TCPOPT_EXP = 253;

export interface TcpFrameSpec {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  srcIp: number;
  dstIp: number;
  ipId: number;
  ttl?: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** Raw option bytes; padded with NOP... EOL to a 4-byte multiple. At most 40 bytes. */
  options?: Uint8Array;
  payload?: Uint8Array;
}

/** One's-complement sum of bytes [off, off+len) folded into 32 bits (not complemented). */
function sum16(buf: Uint8Array, off: number, len: number, initial: number): number {
  let s = initial;
  const end = off + len - 1;
  let i = off;
  for (; i < end; i += 2) s += ((buf[i] ?? 0) << 8) | (buf[i + 1] ?? 0);
  if (i === end) s += (buf[i] ?? 0) << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

export function ipv4HeaderChecksum(buf: Uint8Array, ipOff: number, ihlBytes: number): number {
  const saved0 = buf[ipOff + IPV4_OFF_CSUM] ?? 0;
  const saved1 = buf[ipOff + IPV4_OFF_CSUM + 1] ?? 0;
  buf[ipOff + IPV4_OFF_CSUM] = 0;
  buf[ipOff + IPV4_OFF_CSUM + 1] = 0;
  const c = ~fold(sum16(buf, ipOff, ihlBytes, 0)) & 0xffff;
  buf[ipOff + IPV4_OFF_CSUM] = saved0;
  buf[ipOff + IPV4_OFF_CSUM + 1] = saved1;
  return c;
}

export function tcpChecksum(buf: Uint8Array, srcIp: number, dstIp: number, tcpOff: number, tcpLen: number): number {
  let s = (srcIp >>> 16) + (srcIp & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) + IPPROTO_TCP + tcpLen;
  const saved0 = buf[tcpOff + TCP_OFF_CSUM] ?? 0;
  const saved1 = buf[tcpOff + TCP_OFF_CSUM + 1] ?? 0;
  buf[tcpOff + TCP_OFF_CSUM] = 0;
  buf[tcpOff + TCP_OFF_CSUM + 1] = 0;
  s = sum16(buf, tcpOff, tcpLen, s);
  buf[tcpOff + TCP_OFF_CSUM] = saved0;
  buf[tcpOff + TCP_OFF_CSUM + 1] = saved1;
  const c = ~fold(s) & 0xffff;
  return c;
}

/** Writes a complete frame with both checksums set (through packet/'s writeTcpFrame); returns a new exactly-sized buffer. */
export function writeFrame(spec: TcpFrameSpec): Uint8Array {
  const optLen = spec.options?.length ?? 0;
  if (optLen > 40) throw new RangeError(`TCP options ${optLen} bytes exceed 40`);
  const size = ETH_HDR_LEN + IPV4_HDR_LEN + TCP_HDR_LEN + ((optLen + 3) & ~3) + (spec.payload?.length ?? 0);
  const buf = new Uint8Array(size);
  const n = writeTcpFrame(
    buf,
    0,
    {
      srcMac: spec.srcMac,
      dstMac: spec.dstMac,
      srcIp: spec.srcIp >>> 0,
      dstIp: spec.dstIp >>> 0,
      srcPort: spec.srcPort,
      dstPort: spec.dstPort,
      seq: spec.seq >>> 0,
      ack: spec.ack >>> 0,
      flags: spec.flags,
      window: spec.window,
      ipId: spec.ipId & 0xffff,
      ttl: spec.ttl ?? 64,
      df: true,
      ...(spec.options === undefined ? {} : { options: spec.options }),
      ...(spec.payload === undefined ? {} : { payload: spec.payload }),
    },
    LinkType.ETHERNET,
  );
  if (n !== size) throw new RangeError(`cannot encode frame (packet error ${n})`);
  return buf;
}

export interface TcpOptionView {
  kind: number;
  /** Offset of the option's kind byte within the frame. */
  off: number;
  /** Total option length including kind (and length) byte. */
  len: number;
}

export interface ParsedFrame {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  srcIp: number;
  dstIp: number;
  ipId: number;
  ttl: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  options: TcpOptionView[];
  /** Offset of the TCP payload within the frame (absolute, not relative to `off`). */
  payloadOff: number;
  payloadLen: number;
  ipChecksumOk: boolean;
  tcpChecksumOk: boolean;
  /** True iff the TCP option list contains the experimental kind 253 (syngate's marker kind). */
  hasExperimentalOption: boolean;
  mss: number | null;
  wscale: number | null;
  sackPermitted: boolean;
  tsVal: number | null;
  tsEcr: number | null;
}

/** Parses an untagged Ethernet/IPv4/TCP frame in buf[off, off+len); returns null if it is not one. */
export function parseFrame(buf: Uint8Array, off: number, len: number): ParsedFrame | null {
  if (off < 0 || len < ETH_HDR_LEN + IPV4_HDR_LEN + TCP_HDR_LEN || off + len > buf.length) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint16(off + ETH_OFF_TYPE) !== ETHERTYPE_IPV4) return null;
  const ip = off + ETH_HDR_LEN;
  const verIhl = buf[ip + IPV4_OFF_VER_IHL] ?? 0;
  if (verIhl >> 4 !== 4) return null;
  const ihl = (verIhl & 0x0f) * 4;
  if (ihl < IPV4_HDR_LEN) return null;
  const totalLen = dv.getUint16(ip + IPV4_OFF_TOTAL_LEN);
  if (totalLen < ihl + TCP_HDR_LEN || ip + totalLen > off + len) return null;
  if ((buf[ip + IPV4_OFF_PROTO] ?? 0) !== IPPROTO_TCP) return null;
  if ((dv.getUint16(ip + IPV4_OFF_FLAGS_FRAG) & 0x3fff) !== 0) return null;
  const tcp = ip + ihl;
  const doff = ((buf[tcp + TCP_OFF_DOFF] ?? 0) >> 4) * 4;
  const tcpLen = totalLen - ihl;
  if (doff < TCP_HDR_LEN || doff > tcpLen) return null;
  const srcIp = dv.getUint32(ip + IPV4_OFF_SRC);
  const dstIp = dv.getUint32(ip + IPV4_OFF_DST);
  const options: TcpOptionView[] = [];
  let mss: number | null = null;
  let wscale: number | null = null;
  let sackPermitted = false;
  let tsVal: number | null = null;
  let tsEcr: number | null = null;
  let hasExp = false;
  let o = tcp + TCP_HDR_LEN;
  const oEnd = tcp + doff;
  while (o < oEnd) {
    const kind = buf[o] ?? 0;
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      o++;
      continue;
    }
    if (o + 1 >= oEnd) return null;
    const olen = buf[o + 1] ?? 0;
    if (olen < 2 || o + olen > oEnd) return null;
    options.push({ kind, off: o, len: olen });
    if (kind === TCPOPT_MSS && olen === 4) mss = dv.getUint16(o + 2);
    else if (kind === TCPOPT_WSCALE && olen === 3) wscale = buf[o + 2] ?? 0;
    else if (kind === TCPOPT_SACK_PERM && olen === 2) sackPermitted = true;
    else if (kind === TCPOPT_TIMESTAMP && olen === 10) {
      tsVal = dv.getUint32(o + 2);
      tsEcr = dv.getUint32(o + 6);
    } else if (kind === TCPOPT_EXP) hasExp = true;
    o += olen;
  }
  const storedIpCsum = dv.getUint16(ip + IPV4_OFF_CSUM);
  const storedTcpCsum = dv.getUint16(tcp + TCP_OFF_CSUM);
  return {
    dstMac: buf.slice(off + ETH_OFF_DST, off + ETH_OFF_DST + 6),
    srcMac: buf.slice(off + ETH_OFF_SRC, off + ETH_OFF_SRC + 6),
    srcIp,
    dstIp,
    ipId: dv.getUint16(ip + IPV4_OFF_ID),
    ttl: buf[ip + IPV4_OFF_TTL] ?? 0,
    srcPort: dv.getUint16(tcp + TCP_OFF_SPORT),
    dstPort: dv.getUint16(tcp + TCP_OFF_DPORT),
    seq: dv.getUint32(tcp + TCP_OFF_SEQ),
    ack: dv.getUint32(tcp + TCP_OFF_ACK),
    flags: buf[tcp + TCP_OFF_FLAGS] ?? 0,
    window: dv.getUint16(tcp + TCP_OFF_WINDOW),
    options,
    payloadOff: tcp + doff,
    payloadLen: tcpLen - doff,
    ipChecksumOk: ipv4HeaderChecksum(buf, ip, ihl) === storedIpCsum,
    tcpChecksumOk: tcpChecksum(buf, srcIp, dstIp, tcp, tcpLen) === storedTcpCsum,
    hasExperimentalOption: hasExp,
    mss,
    wscale,
    sackPermitted,
    tsVal,
    tsEcr,
  };
}

export function ipToU32(ip: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (m === null) throw new RangeError(`not a dotted-quad IPv4 address: ${JSON.stringify(ip)}`);
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) throw new RangeError(`not a dotted-quad IPv4 address: ${JSON.stringify(ip)}`);
    v = v * 256 + n;
  }
  return v >>> 0;
}

export function u32ToIp(v: number): string {
  return `${(v >>> 24) & 0xff}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** Locally administered MAC derived from an IPv4 address: 02:53:a.b.c.d. */
export function macForIp(ip: number): Uint8Array {
  return Uint8Array.of(0x02, 0x53, (ip >>> 24) & 0xff, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff);
}
