// Conntrack states and flags.
// Invariants: CtState values fit in 8 bits and never change once released (they appear in
// `syngate` JSON output); CtFlag values are `1 << n` below CtFlag.MAX (16 bits, stored in the
// high half of the key group's meta word); formatFlags shows unknown bits instead of hiding them.
// Only SYN_SENT..SYNACK_RCVD are half-open (counted against the caps, half-open timeout); ACK_SENT
// is client-side and past the caps (established timeout) but may keep its handshake side slot.

/** Per-flow state. FREE marks an empty slot. */
export const CtState = {
  FREE: 0,
  /** Client side: a local workload's SYN left with our token. */
  SYN_SENT: 1,
  /** Server side: a peer's SYN was verified and allowed; waiting for the local SYN-ACK. */
  SYN_RCVD: 2,
  /** Server side: our SYN-ACK token left; waiting for the peer's ACK token. */
  SYNACK_SENT: 3,
  /** Client side: the server's SYN-ACK verified and allowed; our ACK token is not sent yet. */
  SYNACK_RCVD: 4,
  /** Mutually authorized (or let through by audit/off/ip-identity policy): fast path. */
  ESTABLISHED: 5,
  /** A FIN was seen in one direction. */
  FIN_WAIT: 6,
  /** Both FINs or a RST were seen; the entry lingers for the closing timeout to absorb stragglers. */
  CLOSED: 7,
  /**
   * Client side: our ACK token left; the server has not been heard from since. Not half-open (no
   * caps, established timeout); the ACK token is re-sent with every outbound segment while the
   * handshake record is kept (released when the server speaks or the flow closes, or evicted
   * when a new handshake needs the side slot).
   */
  ACK_SENT: 8,
} as const;
export type CtState = (typeof CtState)[keyof typeof CtState];

export const CT_STATE_NAMES: readonly string[] = [
  'FREE',
  'SYN_SENT',
  'SYN_RCVD',
  'SYNACK_SENT',
  'SYNACK_RCVD',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSED',
  'ACK_SENT',
];

export function ctStateName(s: number): string {
  return CT_STATE_NAMES[s] ?? `unknown(${s})`;
}

/** Timeout class of a state: which configured timeout applies. */
export const TimeoutClass = { HALF_OPEN: 0, ESTABLISHED: 1, CLOSING: 2 } as const;
export type TimeoutClass = (typeof TimeoutClass)[keyof typeof TimeoutClass];

/**
 * STATE_CLASS[state] -> TimeoutClass. Indexed by CtState; FREE maps to CLOSING (never consulted);
 * 256 entries so any 8-bit state indexes it (unknown states: CLOSING).
 */
export const STATE_CLASS: Uint8Array = new Uint8Array(256).fill(TimeoutClass.CLOSING);
STATE_CLASS.set([2, 0, 0, 0, 0, 1, 2, 2, 1]);

/** True iff the state counts against the half-open caps and owns a handshake side-table slot. */
export function isHalfOpen(state: number): boolean {
  return state >= CtState.SYN_SENT && state <= CtState.SYNACK_RCVD;
}

export const CtFlag = {
  /** This enforcer is on the client side: the flow was initiated by a local workload. */
  LOCAL_CLIENT: 1 << 0,
  /** Mutual authentication completed (or the flow is allowed by an IP-identity rule). */
  AUTHORIZED: 1 << 1,
  /** Let through by audit mode although the decision was deny. */
  AUDIT_DENIED: 1 << 2,
  /** Inbound flow rewritten to the local Envoy port; the original port is kept in the entry. */
  REDIRECTED: 1 << 3,
  /** FIN seen from the initiator. */
  FIN_ORIG: 1 << 4,
  /** FIN seen from the responder. */
  FIN_REPLY: 1 << 5,
  /** The peer proved no token: the decision used its IP identity (CIDR rule / enforcer-less peer). */
  IP_IDENTITY: 1 << 6,
  /** Mode `off`: tracked for visibility only, no tokens, no decisions. */
  UNENFORCED: 1 << 7,
  /** Revoked by a policy swap (RSTs were sent). */
  REVOKED: 1 << 8,
  /** The verdict event for this flow's decision has been emitted. */
  REPORTED: 1 << 9,
  /** Sentinel: first unused bit. */
  MAX: 1 << 10,
} as const;

const FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [CtFlag.LOCAL_CLIENT, 'LOCAL_CLIENT'],
  [CtFlag.AUTHORIZED, 'AUTHORIZED'],
  [CtFlag.AUDIT_DENIED, 'AUDIT_DENIED'],
  [CtFlag.REDIRECTED, 'REDIRECTED'],
  [CtFlag.FIN_ORIG, 'FIN_ORIG'],
  [CtFlag.FIN_REPLY, 'FIN_REPLY'],
  [CtFlag.IP_IDENTITY, 'IP_IDENTITY'],
  [CtFlag.UNENFORCED, 'UNENFORCED'],
  [CtFlag.REVOKED, 'REVOKED'],
  [CtFlag.REPORTED, 'REPORTED'],
];

/** `AUTHORIZED|REDIRECTED`, `0` for none; bits at or above CtFlag.MAX print as `0x...`. */
export function formatFlags(flags: number): string {
  const parts: string[] = [];
  let rest = flags >>> 0;
  for (const [bit, name] of FLAG_NAMES) {
    if ((rest & bit) !== 0) {
      parts.push(name);
      rest &= ~bit;
    }
  }
  rest >>>= 0;
  if (rest !== 0) parts.push(`0x${rest.toString(16)}`);
  return parts.length === 0 ? '0' : parts.join('|');
}
