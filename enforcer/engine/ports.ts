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

/** Packed decision: `rule << 1 | deny` (rule < 2^24; RULE_NONE when no rule decided). */
export type PackedDecision = number;
export const DECISION_DENY = 1;
export function packDecision(deny: boolean, rule: number): PackedDecision {
  return ((rule & 0xffffff) * 2) + (deny ? 1 : 0);
}
export function decisionDenies(d: PackedDecision): boolean {
  return (d & 1) === 1;
}
export function decisionRule(d: PackedDecision): number {
  return Math.floor(d / 2);
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
  /** Numeric identity id of a peer known only by address (it proved no token). */
  ipPeerId(ip: number): number;
  /** Ingress decision for `workload` receiving from `peerId` on `port`; `verified` false = IP identity only. */
  ingress(workload: number, peerId: number, proto: number, port: number, verified: boolean): PackedDecision;
  /** Egress decision for `workload` connecting to `peerId` on `port`. */
  egress(workload: number, peerId: number, proto: number, port: number, verified: boolean): PackedDecision;
  /** Human names, for flow records (off the hot path). */
  ruleName(rule: number): string;
  identityName(peerId: number): string | null;
  workloadName(ip: number): string | null;
}
