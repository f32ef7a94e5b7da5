// Numeric verdict reasons shared by identity, policy, conntrack and engine.
// Invariant: numeric values never change once released (they appear in flow records and metrics);
// REASON_LABELS[r] is the stable kebab-case label used in metrics, the flow log and `--json` output.
// Reason.OK is 0 so a zeroed typed-array slot reads as "no reason".

export const Reason = {
  OK: 0,
  NO_TOKEN: 1,
  MALFORMED: 2,
  UNTRUSTED_ISSUER: 3,
  BAD_SIGNATURE: 4,
  EXPIRED: 5,
  NOT_YET_VALID: 6,
  REPLAY: 7,
  BINDING_MISMATCH: 8,
  BAD_MAC: 9,
  REVOKED: 10,
  POLICY: 11,
  TABLE_FULL: 12,
  HALF_OPEN_LIMIT: 13,
  RATE_LIMITED: 14,
  INTERNAL: 15,
  TIMEOUT: 16,
  PEER_REJECT: 17,
  UNKNOWN_WORKLOAD: 18,
  /** A warm token named cached state (a document id or a key) the receiver no longer holds:
   *  the SYN is dropped, a reject for it never reaches the client application, and the
   *  retransmitted SYN carries a cold token. */
  STALE_CACHE: 19,
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export const REASON_LABELS: readonly string[] = [
  'ok',
  'no-token',
  'malformed',
  'untrusted-issuer',
  'bad-signature',
  'expired',
  'not-yet-valid',
  'replay',
  'binding-mismatch',
  'bad-mac',
  'revoked',
  'policy',
  'table-full',
  'half-open-limit',
  'rate-limited',
  'internal',
  'timeout',
  'peer-reject',
  'unknown-workload',
  'stale-cache',
];

/** Label for a reason code; unknown codes print as `unknown(N)` rather than being hidden. */
export function reasonLabel(r: number): string {
  return REASON_LABELS[r] ?? `unknown(${r})`;
}

/** Inverse of reasonLabel; returns undefined for an unknown label. */
export function reasonFromLabel(label: string): Reason | undefined {
  const i = REASON_LABELS.indexOf(label);
  return i < 0 ? undefined : (i as Reason);
}
