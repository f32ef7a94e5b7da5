// Builders for the packets the engine originates: the syngate reject RST (recognisable by the
// peer enforcer), plain RSTs, and a payload-free ACK cloned from a data-carrying ACK.
// Invariants: every builder writes into out[outOff..) (which must not overlap the view's frame),
// uses the view's link type and addresses, returns the length written or a negative PacketError,
// allocates nothing and never throws. RST sequence numbers follow RFC 9293 3.10.7.1 (RFC 793
// "Reset Generation"): if the offending segment has ACK, <SEQ=SEG.ACK><CTL=RST>; otherwise
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, where SEG.LEN counts SYN, FIN and the application
// payload but not a syngate token (the peer's TCP never saw the token bytes).
import {
  ETH_ADDR_LEN,
  ETH_OFF_DST,
  ETH_OFF_SRC,
  ETH_OFF_TYPE,
  ETHERTYPE_IPV4,
  IPV4_MIN_HEADER_LEN,
  IPV4_OFF_CSUM,
  IPV4_OFF_TOTAL_LEN,
  TCP_FLAG_ACK,
  TCP_FLAG_ECE,
  TCP_FLAG_FIN,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_MIN_HEADER_LEN,
  TCP_OFF_CSUM,
  TCP_OFF_FLAGS,
} from './constants.js';
import { DEFAULT_TTL, linkHeaderLen, writeIpv4Header, writeTcpHeader } from './build.js';
import { ipv4HeaderChecksum, tcpChecksum } from './checksum.js';
import { findMarker, Marker, MARKER_OFF_REASON, MARKER_TYPE_REJECT, SYNGATE_MARKER_LEN, writeMarker } from './marker.js';
import { PacketError, PacketKind, ParseStatus } from './status.js';
import { w16, type PacketView } from './view.js';

/** Length of a reject RST's IP packet: IPv4(20) + TCP(20) + marker(8). */
export const REJECT_RST_IP_LEN = IPV4_MIN_HEADER_LEN + TCP_MIN_HEADER_LEN + SYNGATE_MARKER_LEN;
/** Length of a plain RST's IP packet: IPv4(20) + TCP(20). */
export const RST_IP_LEN = IPV4_MIN_HEADER_LEN + TCP_MIN_HEADER_LEN;

function checkTcp(view: PacketView): number {
  if (view.status !== ParseStatus.OK) return PacketError.NOT_PARSED;
  if (view.kind !== PacketKind.TCP) return PacketError.NOT_TCP;
  return 0;
}

/** SEG.LEN of the view as the sender's TCP sees it (token payload excluded). */
function appSegLen(view: PacketView): number {
  const f = view.flags;
  const pay = view.markerOff >= 0 ? 0 : view.payloadLen;
  return pay + (f & TCP_FLAG_SYN ? 1 : 0) + (f & TCP_FLAG_FIN ? 1 : 0);
}

/**
 * Writes an IPv4/TCP packet derived from `view` at out[outOff..): addresses, ports and MACs
 * swapped when `reverse`; window 0; an optional marker. Returns the frame length or NO_ROOM.
 */
function emit(
  out: Uint8Array,
  outOff: number,
  view: PacketView,
  reverse: boolean,
  seq: number,
  ack: number,
  flags: number,
  markerType: number,
  markerA: number,
): number {
  const l2 = linkHeaderLen(view.linkType);
  const optLen = markerType === 0 ? 0 : SYNGATE_MARKER_LEN;
  const tcpLen = TCP_MIN_HEADER_LEN + optLen;
  const ipLen = IPV4_MIN_HEADER_LEN + tcpLen;
  if (!(outOff >= 0) || outOff + l2 + ipLen > out.length) return PacketError.NO_ROOM;
  const b = view.buf;
  if (l2 !== 0) {
    const dstSrc = reverse ? view.off + ETH_OFF_SRC : view.off + ETH_OFF_DST;
    const srcSrc = reverse ? view.off + ETH_OFF_DST : view.off + ETH_OFF_SRC;
    for (let i = 0; i < ETH_ADDR_LEN; i++) {
      out[outOff + ETH_OFF_DST + i] = b[dstSrc + i]!;
      out[outOff + ETH_OFF_SRC + i] = b[srcSrc + i]!;
    }
    w16(out, outOff + ETH_OFF_TYPE, ETHERTYPE_IPV4);
  }
  const ip = outOff + l2;
  const s = view.srcIp;
  const d = view.dstIp;
  writeIpv4Header(out, ip, ipLen, reverse ? d : s, reverse ? s : d, DEFAULT_TTL, 0, true, 0);
  const t = ip + IPV4_MIN_HEADER_LEN;
  writeTcpHeader(out, t, reverse ? view.dstPort : view.srcPort, reverse ? view.srcPort : view.dstPort, seq, ack, tcpLen, flags, 0, 0);
  if (markerType !== 0) writeMarker(out, t + TCP_MIN_HEADER_LEN, markerType, markerA, 0);
  w16(out, t + TCP_OFF_CSUM, tcpChecksum(out, ip, t, tcpLen));
  return l2 + ipLen;
}

function replySeqAck(view: PacketView, out: Uint8Array, outOff: number, markerType: number, reason: number): number {
  if (view.flags & TCP_FLAG_ACK) return emit(out, outOff, view, true, view.ack, 0, TCP_FLAG_RST, markerType, reason);
  const ack = (view.seq + appSegLen(view)) >>> 0;
  return emit(out, outOff, view, true, 0, ack, TCP_FLAG_RST | TCP_FLAG_ACK, markerType, reason);
}

/**
 * The syngate reject: an RST back to the sender of `view` (RFC 793 seq/ack rules) carrying the
 * marker option of type REJECT with `reason` (a Reason code, 0..255). Refuses to answer an RST.
 */
export function writeRejectRst(out: Uint8Array, outOff: number, view: PacketView, reason: number): number {
  const c = checkTcp(view);
  if (c !== 0) return c;
  if (view.flags & TCP_FLAG_RST) return PacketError.NOT_HANDSHAKE;
  if (!(reason >= 0 && reason <= 0xff)) return PacketError.BAD_ARGUMENT;
  return replySeqAck(view, out, outOff, MARKER_TYPE_REJECT, reason);
}

/** A plain RST back to the sender of `view` (RFC 793 seq/ack rules). Refuses to answer an RST. */
export function writeRstReply(out: Uint8Array, outOff: number, view: PacketView): number {
  const c = checkTcp(view);
  if (c !== 0) return c;
  if (view.flags & TCP_FLAG_RST) return PacketError.NOT_HANDSHAKE;
  return replySeqAck(view, out, outOff, 0, 0);
}

/**
 * A plain RST in the same direction as `view`, as if its sender reset the connection: seq =
 * SEG.SEQ, and when `view` has ACK, RST|ACK with ack = SEG.ACK. Used to reset the server
 * application when the client's final ACK fails verification (the server's RCV.NXT is SEG.SEQ).
 */
export function writeRstForward(out: Uint8Array, outOff: number, view: PacketView): number {
  const c = checkTcp(view);
  if (c !== 0) return c;
  const hasAck = (view.flags & TCP_FLAG_ACK) !== 0;
  return emit(out, outOff, view, false, view.seq, hasAck ? view.ack : 0, hasAck ? TCP_FLAG_RST | TCP_FLAG_ACK : TCP_FLAG_RST, 0, 0);
}

/**
 * Reason byte of a syngate reject RST, or -1 when `view` is not one (not an RST, no marker, or a
 * malformed marker).
 */
export function readRejectReason(view: PacketView): number {
  if (view.status !== ParseStatus.OK || view.kind !== PacketKind.TCP || view.markerOff < 0) return -1;
  if (findMarker(view) !== Marker.REJECT) return -1;
  return view.buf[view.markerOff + MARKER_OFF_REASON]!;
}

/**
 * Clones the headers (link, IPv4 with its options, TCP with its options) of a data-carrying ACK
 * into out[outOff..) without the payload: flags become ACK (plus ECE if set), PSH/FIN dropped;
 * seq, ack, window, options and IP id are kept; lengths and both checksums are recomputed. The
 * engine inserts its token into this bare ACK and sends it ahead of the data segment.
 */
export function writeBareAck(out: Uint8Array, outOff: number, view: PacketView): number {
  const c = checkTcp(view);
  if (c !== 0) return c;
  const f = view.flags;
  if ((f & TCP_FLAG_ACK) === 0 || (f & (TCP_FLAG_SYN | TCP_FLAG_RST)) !== 0) return PacketError.NOT_HANDSHAKE;
  const hdrEnd = view.l4Off + view.tcpHeaderLen;
  const len = hdrEnd - view.off;
  if (!(outOff >= 0) || outOff + len > out.length) return PacketError.NO_ROOM;
  const b = view.buf;
  for (let i = 0; i < len; i++) out[outOff + i] = b[view.off + i]!;
  const ip = outOff + (view.l3Off - view.off);
  const t = outOff + (view.l4Off - view.off);
  const ipLen = view.ipHeaderLen + view.tcpHeaderLen;
  w16(out, ip + IPV4_OFF_TOTAL_LEN, ipLen);
  w16(out, ip + IPV4_OFF_CSUM, ipv4HeaderChecksum(out, ip, view.ipHeaderLen));
  out[t + TCP_OFF_FLAGS] = TCP_FLAG_ACK | (f & TCP_FLAG_ECE);
  w16(out, t + TCP_OFF_CSUM, tcpChecksum(out, ip, t, view.tcpHeaderLen));
  return len;
}
