// What the engine needs from identity/ and policy/: two narrow ports, so the state machine is
// testable on its own and the concrete agents plug in through small adapters (engine/adapters.ts).
// Invariants the engine relies on:
//  - port methods never throw (an adapter catches and returns Reason.INTERNAL: fail closed);
//  - the engine-owned objects passed in (TupleRef, HandshakeOut) are reused: an implementation
//    must copy what it keeps; `token` bytes handed in are a view into the frame, valid only
//    during the call;
//  - the tuple is always client -> server with the port the client dialled (before any redirect).
import type { Reason } from '../reasons.js';

/** Client -> server addresses (uint32) and ports, as the client addressed them. */
export interface TupleRef {
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
}

/** Output slot of one handshake step; the engine resets it before each call. */
export interface HandshakeOut<H, P> {
  /** Reason.OK or why the step failed. */
  reason: Reason;
  /** The per-connection handshake object (set by clientSyn and serverSyn). */
  hs: H | null;
  /** Token to insert: token[0 .. tokenLen). The engine copies it before the next call. */
  token: Uint8Array | null;
  tokenLen: number;
  /** The verified peer (set by serverSyn and clientSynAck on success). */
  peer: P | null;
  /**
   * clientSyn: true iff the token is self-contained (signature); false for a warm token that relies
   * on the server's cache. A retransmitted warm SYN is rebuilt (the identity layer then goes cold).
   */
  cold: boolean;
}

/** The handshake protocol (identity/): builds and verifies the three tokens. */
export interface EngineIdentity<H, P> {
  /** Client enforcer, outbound SYN: a token for this tuple and client ISN. */
  clientSyn(t: TupleRef, isnC: number, now: number, out: HandshakeOut<H, P>): void;
  /** Server enforcer, inbound SYN: verifies the client's token. */
  serverSyn(t: TupleRef, isnC: number, token: Uint8Array, now: number, out: HandshakeOut<H, P>): void;
  /** Server enforcer, outbound SYN-ACK: the server token (both ISNs now known). */
  serverSynAck(hs: H, isnS: number, now: number, out: HandshakeOut<H, P>): void;
  /** Client enforcer, inbound SYN-ACK: verifies the server's token. */
  clientSynAck(hs: H, isnS: number, token: Uint8Array, now: number, out: HandshakeOut<H, P>): void;
  /** Client enforcer, outbound final ACK: the ACK token. */
  clientAck(hs: H, now: number, out: HandshakeOut<H, P>): void;
  /** Server enforcer, inbound final ACK: verifies the ACK token. */
  serverAck(hs: H, token: Uint8Array, now: number, out: HandshakeOut<H, P>): void;
}

/** Per-workload enforcement mode. */
export const Mode = {
  /** Decide and enforce (the default). */
  ENFORCE: 0,
  /** Decide and log, forward everything (tokens are still exchanged and stripped). */
  AUDIT: 1,
  /** No tokens, no decisions: forwarded as if syngate were absent (token bytes are still stripped). */
  OFF: 2,
} as const;
export type Mode = (typeof Mode)[keyof typeof Mode];
export const MODE_NAMES: readonly string[] = ['enforce', 'audit', 'off'];

/**
 * Packed decision, the policy table's verdict word: bit 0 allow, bit 1 audit (an AUDIT rule
 * matched), bits 2.. the deciding rule index (< 2^24 so it fits the conntrack rule field).
 */
export type PackedDecision = number;
export const DECISION_ALLOW_BIT = 1;
export const DECISION_AUDIT_BIT = 2;
export const DECISION_RULE_SHIFT = 2;
export function packDecision(deny: boolean, rule: number, audit = false): PackedDecision {
  return (((rule & 0xffffff) << DECISION_RULE_SHIFT) | (deny ? 0 : DECISION_ALLOW_BIT) | (audit ? DECISION_AUDIT_BIT : 0)) >>> 0;
}
export function decisionDenies(d: PackedDecision): boolean {
  return (d & DECISION_ALLOW_BIT) === 0;
}
export function decisionRule(d: PackedDecision): number {
  return (d >>> DECISION_RULE_SHIFT) & 0xffffff;
}

/** The compiled policy (policy/), as the engine consumes it. */
export interface EnginePolicy<P> {
  /** Table revision (> 0); a new revision swapped in triggers revocation checks. */
  readonly revision: number;
  /** Index of the protected local workload with this address, or -1. */
  workloadOf(ip: number): number;
  mode(workload: number): Mode;
  /** True iff authorized inbound flows to this workload go to the local Envoy port. */
  redirect(workload: number): boolean;
  /** Numeric identity id of a verified peer. */
  peerId(peer: P): number;
  /** Numeric identity id of a peer known only by address (it proved no token): the unauthenticated id. */
  ipPeerId(ip: number): number;
  /**
   * The identity the inventory expects at `ip` (for the egress pre-check of an outbound SYN, before
   * the server has proved anything); the unauthenticated id when unknown. Never used to admit a
   * peer: the SYN-ACK's verified identity decides.
   */
  expectedPeerId(ip: number): number;
  /** Ingress decision for `workload` receiving from (`peerId`, `peerIp`) on `port`. */
  ingress(workload: number, peerId: number, peerIp: number, proto: number, port: number): PackedDecision;
  /** Egress decision for `workload` connecting to (`peerId`, `peerIp`) on `port`. */
  egress(workload: number, peerId: number, peerIp: number, proto: number, port: number): PackedDecision;
  /** Human names, for flow records (off the hot path). */
  ruleName(rule: number): string;
  identityName(peerId: number): string | null;
  workloadName(ip: number): string | null;
}
