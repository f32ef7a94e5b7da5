// Typed-error wrappers over the numeric hot-path results, for callers off the hot path (CLI,
// tests, tools). Invariant: each PacketError / ParseStatus maps to one stable SyngateError code,
// listed in docs/errors.md; the message names the packet and the defect.
import { SyngateError } from '../errors.js';
import type { LinkType } from '../engine/types.js';
import { packetErrorLabel, parseStatusLabel, ParseStatus } from './status.js';
import { insertToken, stripToken } from './token.js';
import { parseFrame, type PacketView } from './view.js';

/** Stable error code for a negative PacketError (index = -code). */
const PACKET_ERROR_CODES: readonly string[] = [
  'SYNGATE_PACKET_INTERNAL',
  'SYNGATE_PACKET_NOT_PARSED',
  'SYNGATE_PACKET_NOT_TCP',
  'SYNGATE_PACKET_NOT_HANDSHAKE',
  'SYNGATE_PACKET_HAS_PAYLOAD',
  'SYNGATE_PACKET_OPTIONS_FULL',
  'SYNGATE_PACKET_EXCEEDS_MTU',
  'SYNGATE_PACKET_NO_ROOM',
  'SYNGATE_PACKET_ALREADY_MARKED',
  'SYNGATE_PACKET_BAD_TOKEN',
  'SYNGATE_PACKET_NO_MARKER',
  'SYNGATE_PACKET_BAD_MARKER',
  'SYNGATE_PACKET_BAD_ARGUMENT',
];

/** SyngateError code for a negative PacketError. */
export function packetErrorCode(e: number): string {
  return PACKET_ERROR_CODES[-e] ?? 'SYNGATE_PACKET_INTERNAL';
}

/** Builds the SyngateError for a negative PacketError; `what` names the packet (e.g. `fixture syn.pcap #3`). */
export function packetError(e: number, what: string): SyngateError {
  return new SyngateError(packetErrorCode(e), `${what}: ${packetErrorLabel(e)}`);
}

/** parseFrame that throws SYNGATE_PACKET_MALFORMED (naming the defect) unless the status is OK. */
export function parseFrameOrThrow(buf: Uint8Array, off: number, len: number, linkType: LinkType, view: PacketView, what = 'frame'): PacketView {
  const s = parseFrame(buf, off, len, linkType, view);
  if (s !== ParseStatus.OK) throw new SyngateError('SYNGATE_PACKET_MALFORMED', `${what}: ${parseStatusLabel(s)}`);
  return view;
}

/** insertToken that throws a SyngateError instead of returning a negative code. */
export function insertTokenOrThrow(buf: Uint8Array, view: PacketView, token: Uint8Array, mtu: number, what = 'frame'): number {
  const r = insertToken(buf, view, token, 0, token.length, mtu);
  if (r < 0) throw packetError(r, what);
  return r;
}

/** stripToken that throws a SyngateError instead of returning a negative code. */
export function stripTokenOrThrow(buf: Uint8Array, view: PacketView, what = 'frame'): number {
  const r = stripToken(buf, view);
  if (r < 0) throw packetError(r, what);
  return r;
}
