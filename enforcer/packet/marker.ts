// The syngate marker: a TCP experimental option (kind 253) disambiguated by a 16-bit ExID
// (RFC 6994). Never kind 34 (TCP Fast Open).
// Layout (8 bytes, a whole number of 32-bit words so it never needs padding):
//
//    0        1        2        3        4        5        6        7
//  +--------+--------+--------+--------+--------+--------+--------+--------+
//  |  253   |   8    |  ExID 0x5347    |  type  |version |  type-specific  |
//  +--------+--------+--------+--------+--------+--------+--------+--------+
//   type 1 TOKEN : bytes 6-7 = token length (uint16 big-endian); the token is the whole TCP payload
//   type 2 REJECT: byte 6 = Reason code (enforcer/reasons.ts), byte 7 = 0; the segment is an RST
//
// Invariants: findMarker never throws and never allocates; a marker is reported TOKEN only when its
// token length equals the payload length exactly (no application byte can hide behind a token);
// anything else carrying our ExID is MALFORMED (fail closed).
import { TCP_FLAG_RST, TCP_OFF_FLAGS } from './constants.js';
import type { PacketView } from './view.js';

export const SYNGATE_OPT_KIND = 253;
/**
 * Our RFC 6994 Experiment ID: ASCII "SG". Not IANA-registered (first-come-first-served registry);
 * it does not collide with any ExID listed there as of this writing. Change it only together with
 * SYNGATE_MARKER_VERSION, since peers match on it.
 */
export const SYNGATE_EXID = 0x5347;
export const SYNGATE_MARKER_LEN = 8;
export const SYNGATE_MARKER_VERSION = 1;

export const MARKER_OFF_KIND = 0;
export const MARKER_OFF_LEN = 1;
/** ExID, uint16 big-endian. */
export const MARKER_OFF_EXID = 2;
export const MARKER_OFF_TYPE = 4;
export const MARKER_OFF_VERSION = 5;
/** TOKEN: token length, uint16 big-endian. */
export const MARKER_OFF_TOKEN_LEN = 6;
/** REJECT: the Reason byte. */
export const MARKER_OFF_REASON = 6;
export const MARKER_OFF_RESERVED = 7;

export const MARKER_TYPE_TOKEN = 1;
export const MARKER_TYPE_REJECT = 2;

/** Result of findMarker. */
export const Marker = {
  NONE: 0,
  TOKEN: 1,
  REJECT: 2,
  /** Our ExID with an unknown type/version, a token length that disagrees with the payload, or a REJECT on a non-RST. */
  MALFORMED: 3,
} as const;
export type Marker = (typeof Marker)[keyof typeof Marker];

/** Writes an 8-byte marker at buf[at..at+8). Caller guarantees room. */
export function writeMarker(buf: Uint8Array, at: number, type: number, a: number, b: number): void {
  buf[at + MARKER_OFF_KIND] = SYNGATE_OPT_KIND;
  buf[at + MARKER_OFF_LEN] = SYNGATE_MARKER_LEN;
  buf[at + MARKER_OFF_EXID] = SYNGATE_EXID >>> 8;
  buf[at + MARKER_OFF_EXID + 1] = SYNGATE_EXID & 0xff;
  buf[at + MARKER_OFF_TYPE] = type;
  buf[at + MARKER_OFF_VERSION] = SYNGATE_MARKER_VERSION;
  buf[at + 6] = a;
  buf[at + 7] = b;
}

/**
 * Classifies the syngate marker of a parsed TCP view (ParseStatus.OK). On TOKEN it sets
 * view.tokenOff/view.tokenLen to the token bytes inside view.buf (zero-copy); otherwise they are
 * -1/0. Returns a Marker value.
 */
export function findMarker(view: PacketView): Marker {
  view.tokenOff = -1;
  view.tokenLen = 0;
  const m = view.markerOff;
  if (m < 0) return Marker.NONE;
  const b = view.buf;
  if (b[m + MARKER_OFF_VERSION] !== SYNGATE_MARKER_VERSION) return Marker.MALFORMED;
  const type = b[m + MARKER_OFF_TYPE];
  if (type === MARKER_TYPE_TOKEN) {
    const tl = (b[m + MARKER_OFF_TOKEN_LEN]! << 8) | b[m + MARKER_OFF_TOKEN_LEN + 1]!;
    if (tl === 0 || tl !== view.payloadLen) return Marker.MALFORMED;
    view.tokenOff = view.payloadOff;
    view.tokenLen = tl;
    return Marker.TOKEN;
  }
  if (type === MARKER_TYPE_REJECT) {
    if ((b[view.l4Off + TCP_OFF_FLAGS]! & TCP_FLAG_RST) === 0) return Marker.MALFORMED;
    return Marker.REJECT;
  }
  return Marker.MALFORMED;
}
