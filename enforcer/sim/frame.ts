// The simulated endpoints' view of frames: a decoded record (ParsedFrame) over the packet module's
// codec. Header layout, parsing and checksums are enforcer/packet/'s (one codec for the enforcer
// and the simulator); what is simulator-specific is the record itself (a plain object the TCP
// endpoint model keeps), the full option list it carries, and addressing helpers.
// Invariants: every frame writeFrame returns has correct IPv4 and TCP checksums; parseFrame never
// throws — it returns null for anything that is not a well-formed untagged, unfragmented
// Ethernet/IPv4/TCP frame with a well-formed option list; `hasExperimentalOption` is true for ANY
// option of kind 253 (whatever its ExID or length: the test oracle for "no syngate option reaches a
// stack"), so a malformed syngate marker still yields a record instead of hiding the frame.
// Not on the enforcer's hot path: records are allocated per call.
import { LinkType } from '../engine/types.js';
import {
  ETH_ADDR_LEN,
  ETH_HEADER_LEN,
  ETH_OFF_DST,
  ETH_OFF_SRC,
  fixIpv4Checksum,
  fixTcpChecksum,
  IPV4_MIN_HEADER_LEN,
  ipv4ToString,
  PacketKind,
  PacketView,
  parseFrame as parsePacket,
  ParseStatus,
  TCP_MAX_OPTIONS_LEN,
  TCP_MIN_HEADER_LEN,
  TCP_OFF_OPTIONS,
  TCPOLEN_MSS,
  TCPOLEN_SACK_PERM,
  TCPOLEN_TIMESTAMP,
  TCPOLEN_WSCALE,
  TCPOPT_EOL,
  TCPOPT_EXP1,
  TCPOPT_MSS,
  TCPOPT_NOP,
  TCPOPT_SACK_PERM,
  TCPOPT_TIMESTAMP,
  TCPOPT_WSCALE,
  tryParseIpv4,
  u16,
  u32,
  verifyIpv4Checksum,
  verifyTcpChecksum,
  writeTcpFrame,
} from '../packet/index.js';

// The simulator's short names for the TCP flag bits (part of its public surface).
export {
  TCP_FLAG_ACK as TCP_ACK,
  TCP_FLAG_FIN as TCP_FIN,
  TCP_FLAG_PSH as TCP_PSH,
  TCP_FLAG_RST as TCP_RST,
  TCP_FLAG_SYN as TCP_SYN,
} from '../packet/index.js';

/** Ethernet + IPv4 + TCP fixed headers: the shortest frame parseFrame accepts. */
export const ETH_IPV4_TCP_MIN_LEN = ETH_HEADER_LEN + IPV4_MIN_HEADER_LEN + TCP_MIN_HEADER_LEN;

/** Header fields a frame spec and a parsed record share (addresses as uint32, flags TCP_* bits). */
export interface TcpFrameFields {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  srcIp: number;
  dstIp: number;
  ipId: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
}

export interface TcpFrameSpec extends TcpFrameFields {
  /** Default 64. */
  ttl?: number;
  /** Raw option bytes; padded with EOL to a 4-byte multiple. At most 40 bytes. */
  options?: Uint8Array;
  payload?: Uint8Array;
}

/** Writes a complete frame with both checksums set (packet's writeTcpFrame, DF set); returns a new exactly-sized buffer. */
export function writeFrame(spec: TcpFrameSpec): Uint8Array {
  const optLen = spec.options?.length ?? 0;
  if (optLen > TCP_MAX_OPTIONS_LEN) throw new RangeError(`TCP options ${optLen} bytes exceed ${TCP_MAX_OPTIONS_LEN}`);
  const size = ETH_IPV4_TCP_MIN_LEN + ((optLen + 3) & ~3) + (spec.payload?.length ?? 0);
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

export interface ParsedFrame extends TcpFrameFields {
  ttl: number;
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

/** Scratch view: the simulator is single-threaded and parseFrame copies what it keeps. */
const view = new PacketView();

/**
 * Parses with the packet module: the headers must parse (a malformed syngate marker is reported by
 * the packet parser as BAD_MARKER after the headers are known, and is accepted here), untagged.
 * Returns false for anything else.
 */
function parseHeaders(buf: Uint8Array, off: number, len: number): boolean {
  const st = parsePacket(buf, off, len, LinkType.ETHERNET, view);
  return (st === ParseStatus.OK || st === ParseStatus.BAD_MARKER) && view.kind === PacketKind.TCP && view.vlanTags === 0;
}

/** Every option in b[i..end) up to an EOL; null when an option's length is malformed. */
function listOptions(b: Uint8Array, i: number, end: number): TcpOptionView[] | null {
  const out: TcpOptionView[] = [];
  while (i < end) {
    const kind = b[i]!;
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return null;
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return null;
    out.push({ kind, off: i, len });
    i += len;
  }
  return out;
}

/** Parses an untagged Ethernet/IPv4/TCP frame in buf[off, off+len); returns null if it is not one. */
export function parseFrame(buf: Uint8Array, off: number, len: number): ParsedFrame | null {
  if (!parseHeaders(buf, off, len)) return null;
  const l4 = view.l4Off;
  const options = listOptions(buf, l4 + TCP_OFF_OPTIONS, view.payloadOff);
  if (options === null) return null;
  let mss: number | null = null;
  let wscale: number | null = null;
  let sackPermitted = false;
  let tsVal: number | null = null;
  let tsEcr: number | null = null;
  let hasExp = false;
  for (const o of options) {
    if (o.kind === TCPOPT_MSS && o.len === TCPOLEN_MSS) mss = u16(buf, o.off + 2);
    else if (o.kind === TCPOPT_WSCALE && o.len === TCPOLEN_WSCALE) wscale = buf[o.off + 2]!;
    else if (o.kind === TCPOPT_SACK_PERM && o.len === TCPOLEN_SACK_PERM) sackPermitted = true;
    else if (o.kind === TCPOPT_TIMESTAMP && o.len === TCPOLEN_TIMESTAMP) {
      tsVal = u32(buf, o.off + 2);
      tsEcr = u32(buf, o.off + 6);
    } else if (o.kind === TCPOPT_EXP1) hasExp = true;
  }
  return {
    dstMac: buf.slice(off + ETH_OFF_DST, off + ETH_OFF_DST + ETH_ADDR_LEN),
    srcMac: buf.slice(off + ETH_OFF_SRC, off + ETH_OFF_SRC + ETH_ADDR_LEN),
    srcIp: view.srcIp,
    dstIp: view.dstIp,
    ipId: view.ipId,
    ttl: view.ttl,
    srcPort: view.srcPort,
    dstPort: view.dstPort,
    seq: view.seq,
    ack: view.ack,
    flags: view.flags,
    window: view.window,
    options,
    payloadOff: view.payloadOff,
    payloadLen: view.payloadLen,
    ipChecksumOk: verifyIpv4Checksum(view),
    tcpChecksumOk: verifyTcpChecksum(view),
    hasExperimentalOption: hasExp,
    mss,
    wscale,
    sackPermitted,
    tsVal,
    tsEcr,
  };
}

/**
 * Recomputes both checksums of an Ethernet/IPv4/TCP frame in place (an attacker who fixes them
 * after rewriting bytes). Returns false, changing nothing, when the frame does not parse.
 */
export function refreshChecksums(frame: Uint8Array): boolean {
  if (!parseHeaders(frame, 0, frame.length)) return false;
  fixIpv4Checksum(view);
  fixTcpChecksum(view);
  return true;
}

/** Dotted quad -> uint32; throws RangeError naming the input (packet's parser: canonical quads only). */
export function ipToU32(ip: string): number {
  const v = tryParseIpv4(ip);
  if (v < 0) throw new RangeError(`not a dotted-quad IPv4 address: ${JSON.stringify(ip)}`);
  return v;
}

/** uint32 -> dotted quad. */
export const u32ToIp: (ip: number) => string = ipv4ToString;

/** Locally administered MAC derived from an IPv4 address: 02:53:a.b.c.d. */
export function macForIp(ip: number): Uint8Array {
  return Uint8Array.of(0x02, 0x53, (ip >>> 24) & 0xff, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff);
}
