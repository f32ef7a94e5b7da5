// Token carriage: insertToken adds the syngate marker option and appends the token as the TCP
// payload of a payload-free SYN, SYN-ACK or ACK; stripToken undoes it; stripReject turns a syngate
// reject RST into the plain RST an application may see.
// Invariants:
//  - all three work in place on view.buf, never allocate, never throw, and return the new frame length
//    or a negative PacketError (in which case the buffer and the view are untouched);
//  - on success the view describes the rewritten frame exactly as parseFrame would (updated in
//    place, not re-parsed; the property tests compare it with a fresh parse);
//  - the marker is inserted where the option list ends (before any EOL, so every option parser
//    sees it); the bytes that followed (EOL + padding) move 8 bytes right, so stripToken can
//    restore them exactly;
//  - checksums are updated incrementally (RFC 1624), never recomputed: a packet that arrived with
//    a wrong checksum still has a wrong one afterwards, and stripToken(insertToken(p)) === p byte
//    for byte for every packet whose checksum fields are not 0xffff (no valid IPv4/TCP header
//    has that value). An Ethernet trailer (minimum-frame padding) is dropped by insertToken.
//  - sequence numbers are never touched;
//  - stripToken leaves the token bytes where they were (past the new frame end), so offsets saved
//    from findMarker stay valid until the buffer is reused.
import {
  IPV4_MAX_TOTAL_LEN,
  IPV4_OFF_CSUM,
  IPV4_OFF_TOTAL_LEN,
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_MAX_HEADER_LEN,
  TCP_OFF_CSUM,
  TCP_OFF_DATA_OFF,
  TCP_OFF_FLAGS,
} from './constants.js';
import { csumAdjust, csumUpdate16, sumBytes } from './checksum.js';
import { findMarker, Marker, MARKER_TYPE_TOKEN, SYNGATE_MARKER_LEN, writeMarker } from './marker.js';
import { PacketError, PacketKind, ParseStatus } from './status.js';
import { u16, w16, type PacketView } from './view.js';

/** The data-offset/flags word grows by this much when the marker is added (2 words in the nibble). */
const DOFF_WORD_DELTA = (SYNGATE_MARKER_LEN >>> 2) << 12;
const HANDSHAKE_MASK = TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST | TCP_FLAG_FIN;

/** Returns 0 when the parsed view is a segment a token may ride on, else a PacketError. */
export function canCarryToken(view: PacketView): number {
  if (view.status !== ParseStatus.OK) return PacketError.NOT_PARSED;
  if (view.kind !== PacketKind.TCP) return PacketError.NOT_TCP;
  const f = view.buf[view.l4Off + TCP_OFF_FLAGS]! & HANDSHAKE_MASK;
  if (f !== TCP_FLAG_SYN && f !== (TCP_FLAG_SYN | TCP_FLAG_ACK) && f !== TCP_FLAG_ACK) return PacketError.NOT_HANDSHAKE;
  if (view.payloadLen !== 0) return PacketError.HAS_PAYLOAD;
  if (view.markerOff >= 0) return PacketError.ALREADY_MARKED;
  if (view.tcpHeaderLen + SYNGATE_MARKER_LEN > TCP_MAX_HEADER_LEN) return PacketError.OPTIONS_FULL;
  return 0;
}

/**
 * Adds the marker and token[tokenOff..tokenOff+tokenLen) to the frame `view` describes (view.buf
 * must be `buf`). `mtu` bounds the resulting IP packet length. The token must not overlap the frame.
 * Returns the new frame length or a negative PacketError.
 */
export function insertToken(
  buf: Uint8Array,
  view: PacketView,
  token: Uint8Array,
  tokenOff: number,
  tokenLen: number,
  mtu: number,
): number {
  if (view.buf !== buf) return PacketError.BAD_ARGUMENT;
  const can = canCarryToken(view);
  if (can !== 0) return can;
  if (!(tokenLen >= 1 && tokenLen <= 0xffff && tokenOff >= 0 && tokenOff + tokenLen <= token.length)) return PacketError.BAD_TOKEN;
  const l3 = view.l3Off;
  const l4 = view.l4Off;
  const oldTot = view.ipTotalLen;
  const grow = SYNGATE_MARKER_LEN + tokenLen;
  const newTot = oldTot + grow;
  if (newTot > mtu || newTot > IPV4_MAX_TOTAL_LEN) return PacketError.EXCEEDS_MTU;
  const newEnd = l3 + newTot;
  if (newEnd > buf.length) return PacketError.NO_ROOM;

  const p = view.optEnd;
  const h = l4 + view.tcpHeaderLen;
  const oldL4 = view.l4Len;
  const oldWord = u16(buf, l4 + TCP_OFF_DATA_OFF);
  const newWord = oldWord + DOFF_WORD_DELTA;

  // Move EOL + padding (if any) right; at most 39 bytes, so a backward byte loop beats copyWithin.
  for (let i = h - 1; i >= p; i--) buf[i + SYNGATE_MARKER_LEN] = buf[i]!;
  writeMarker(buf, p, MARKER_TYPE_TOKEN, tokenLen >>> 8, tokenLen & 0xff);
  const t = h + SYNGATE_MARKER_LEN;
  if (tokenOff === 0 && tokenLen === token.length) buf.set(token, t);
  else for (let i = 0; i < tokenLen; i++) buf[t + i] = token[tokenOff + i]!;

  w16(buf, l4 + TCP_OFF_DATA_OFF, newWord);
  w16(buf, l3 + IPV4_OFF_TOTAL_LEN, newTot);
  w16(buf, l3 + IPV4_OFF_CSUM, csumUpdate16(u16(buf, l3 + IPV4_OFF_CSUM), oldTot, newTot));
  const added =
    sumBytes(buf, p, p + SYNGATE_MARKER_LEN, ((p - l4) & 1) === 1) + sumBytes(buf, t, t + tokenLen) + newWord + (oldL4 + grow);
  w16(buf, l4 + TCP_OFF_CSUM, csumAdjust(u16(buf, l4 + TCP_OFF_CSUM), added, oldWord + oldL4));

  // Update the view to describe the rewritten frame (what parseFrame would find): the options
  // before p are unchanged, the marker sits at p, the option list now ends at p + 8.
  const newLen = newEnd - view.off;
  view.len = newLen;
  view.ipTotalLen = newTot;
  view.l4Len = oldL4 + grow;
  view.tcpHeaderLen += SYNGATE_MARKER_LEN;
  view.payloadOff = t;
  view.payloadLen = tokenLen;
  view.optEnd = p + SYNGATE_MARKER_LEN;
  view.markerOff = p;
  view.tokenOff = t;
  view.tokenLen = tokenLen;
  return newLen;
}

/**
 * Removes the marker and the token payload from the frame `view` describes (view.buf must be
 * `buf`), restoring the frame insertToken was given. Returns the new frame length or a negative
 * PacketError (NO_MARKER when there is no syngate marker, BAD_MARKER when it is not a well-formed
 * TOKEN marker).
 */
export function stripToken(buf: Uint8Array, view: PacketView): number {
  const c = checkMarked(buf, view);
  if (c !== 0) return c;
  if (findMarker(view) !== Marker.TOKEN) return PacketError.BAD_MARKER;
  return cutMarker(buf, view, false);
}

/**
 * Removes the REJECT marker from a syngate reject RST (view.buf must be `buf`), leaving a plain
 * RST: the option bytes after the marker and any payload move 8 bytes left, the data offset and
 * IPv4 total length shrink by 8, both checksums are updated incrementally. Read the reason
 * (readRejectReason) first. Returns the new frame length or a negative PacketError (NO_MARKER,
 * BAD_MARKER when the marker is not a well-formed REJECT on an RST).
 */
export function stripReject(buf: Uint8Array, view: PacketView): number {
  const c = checkMarked(buf, view);
  if (c !== 0) return c;
  if (findMarker(view) !== Marker.REJECT) return PacketError.BAD_MARKER;
  return cutMarker(buf, view, true);
}

function checkMarked(buf: Uint8Array, view: PacketView): number {
  if (view.buf !== buf) return PacketError.BAD_ARGUMENT;
  if (view.status !== ParseStatus.OK) return PacketError.NOT_PARSED;
  if (view.kind !== PacketKind.TCP) return PacketError.NOT_TCP;
  if (view.markerOff < 0) return PacketError.NO_MARKER;
  return 0;
}

/**
 * Cuts the 8-byte marker out of a parsed, marked TCP view; with `keepPayload` false the payload
 * (a token) goes too and stays in place past the new frame end, otherwise it moves 8 bytes left.
 * The bytes moved shift by an even count, so their checksum contribution is unchanged.
 */
function cutMarker(buf: Uint8Array, view: PacketView, keepPayload: boolean): number {
  const l3 = view.l3Off;
  const l4 = view.l4Off;
  const m = view.markerOff;
  const h = l4 + view.tcpHeaderLen;
  const payLen = view.payloadLen;
  const gone = keepPayload ? 0 : payLen;
  const oldTot = view.ipTotalLen;
  const shrink = SYNGATE_MARKER_LEN + gone;
  const newTot = oldTot - shrink;
  const oldL4 = view.l4Len;
  const oldWord = u16(buf, l4 + TCP_OFF_DATA_OFF);
  const newWord = oldWord - DOFF_WORD_DELTA;

  const removed =
    sumBytes(buf, m, m + SYNGATE_MARKER_LEN, ((m - l4) & 1) === 1) + (gone === 0 ? 0 : sumBytes(buf, h, h + gone)) + oldWord + oldL4;
  const tcpCsum = csumAdjust(u16(buf, l4 + TCP_OFF_CSUM), newWord + (oldL4 - shrink), removed);

  const moveEnd = keepPayload ? h + payLen : h;
  for (let i = m + SYNGATE_MARKER_LEN; i < moveEnd; i++) buf[i - SYNGATE_MARKER_LEN] = buf[i]!;
  w16(buf, l4 + TCP_OFF_DATA_OFF, newWord);
  w16(buf, l4 + TCP_OFF_CSUM, tcpCsum);
  w16(buf, l3 + IPV4_OFF_TOTAL_LEN, newTot);
  w16(buf, l3 + IPV4_OFF_CSUM, csumUpdate16(u16(buf, l3 + IPV4_OFF_CSUM), oldTot, newTot));

  // Update the view: options after the marker (and a kept payload) moved 8 bytes left.
  const newLen = l3 + newTot - view.off;
  view.len = newLen;
  view.ipTotalLen = newTot;
  view.l4Len = oldL4 - shrink;
  view.tcpHeaderLen -= SYNGATE_MARKER_LEN;
  view.payloadOff = h - SYNGATE_MARKER_LEN;
  view.payloadLen = payLen - gone;
  view.optEnd -= SYNGATE_MARKER_LEN;
  if (view.mssOff > m) view.mssOff -= SYNGATE_MARKER_LEN;
  if (view.wscaleOff > m) view.wscaleOff -= SYNGATE_MARKER_LEN;
  if (view.sackPermOff > m) view.sackPermOff -= SYNGATE_MARKER_LEN;
  if (view.tsOff > m) view.tsOff -= SYNGATE_MARKER_LEN;
  view.markerOff = -1;
  view.tokenOff = -1;
  view.tokenLen = 0;
  return newLen;
}
