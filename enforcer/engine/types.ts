// The engine's contract with every datapath (sim, nfqueue, pcap).
// Invariants:
//  - process() never throws and never allocates on the established path;
//  - a frame whose identity was not verified is never returned with Verdict.FORWARD
//    unless the workload's mode is explicitly `audit` or `off`;
//  - the frame is rewritten in place; `result.length` is its new length (the buffer must have
//    FRAME_HEADROOM spare bytes past the original length for token insertion);
//  - extra packets the engine wants sent (RSTs, a token-only ACK) are written into the
//    engine-owned outbox and stay valid only until the next process() call.
//  - nothing the engine sends toward a local workload (an INBOUND frame it forwards, or an
//    INBOUND outbox entry) carries the syngate option: tokens are stripped, a peer's reject RST is
//    delivered as a plain RST, and the RSTs it originates toward an application are plain.

/** Which way a frame travels relative to the protected workloads of this enforcer. */
export const Direction = {
  /** From a local (protected) workload toward the network. */
  OUTBOUND: 0,
  /** From the network toward a local (protected) workload. */
  INBOUND: 1,
} as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

export const Verdict = {
  FORWARD: 0,
  DROP: 1,
  /** Drop this frame; the outbox holds the RST(s) to send. */
  RESET: 2,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** How the datapath hands frames over: nfqueue gives bare IPv4, pcap and sim give Ethernet. */
export const LinkType = {
  ETHERNET: 1,
  RAW_IPV4: 101,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

/** Room a datapath must leave past a frame's end so a token can be inserted in place. */
export const FRAME_HEADROOM = 768;

/** One extra packet the engine asks the datapath to send. */
export interface OutboxEntry {
  readonly buf: Uint8Array;
  length: number;
  /** OUTBOUND: send toward the network; INBOUND: deliver toward the local workload. */
  direction: Direction;
}

/**
 * What process() returns: one engine-owned object, overwritten by every call (never allocated
 * per packet). Structurally a `SimResult` (enforcer/sim) and the fields of a datapath
 * `FrameDecision`.
 */
export interface ProcessResult {
  verdict: Verdict;
  /** Frame length after the in-place rewrite. */
  length: number;
  /**
   * Extra packets, exactly `outboxCount` long. Datapaths send them BEFORE the frame itself when
   * the verdict is FORWARD (a token-only ACK must precede the data segment it was split from).
   */
  outbox: readonly OutboxEntry[];
  outboxCount: number;
  /** True iff the flow is authorized after this frame (nfqueue turns this into a connmark). */
  authorized: boolean;
  /** Reason code of the decision this frame caused (Reason.OK when forwarded normally). */
  reason: number;
}
