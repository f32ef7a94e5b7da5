// The datapath adapter contract: how live packets (nfqueue, pcap bridge) reach a frame handler
// (normally the engine) and how its decision goes back to the kernel or the wire.
// Invariants:
//  - an adapter calls the handler synchronously, one frame at a time, never re-entrantly;
//  - the frame passed to the handler lives in an adapter-owned buffer with at least
//    FRAME_HEADROOM spare bytes past `off + len`; it is valid only during the call, and the
//    handler may rewrite it in place (the new length goes in `FrameDecision.length`);
//  - the FrameDecision object is adapter-owned and reset before every call (verdict DROP,
//    length = len, authorized false, outboxCount 0): a handler that throws or forgets to decide
//    leaves a DROP, so the adapter fails closed; a throw is counted in `handlerErrors`;
//  - outbox entries [0, outboxCount) are sent by the adapter before the next frame is handled
//    (OUTBOUND toward the network, INBOUND toward the local workload);
//  - start() resolves only when the adapter is `ready` (rules installed, queue bound / interfaces
//    open); it rejects with a SyngateError (SYNGATE_DATAPATH_*) and leaves nothing installed;
//  - stop() is idempotent and never throws.
import type { Direction, LinkType, OutboxEntry, Verdict } from '../engine/types.js';

/** Adapter-owned, reused result of one handler call. The handler fills it in. */
export interface FrameDecision {
  verdict: Verdict;
  /** Frame length after in-place rewrite (token inserted or stripped); `len` when unchanged. */
  length: number;
  /**
   * True iff, after this frame, the flow (in the role this frame was processed under) is fully
   * authorized, so later non-handshake packets of it may bypass userspace. The nfqueue adapter turns
   * this into a packet mark that its rules save to the connmark; the pcap adapter ignores it.
   */
  authorized: boolean;
  /** Extra packets to send; the adapter reads entries [0, outboxCount). */
  outbox: readonly OutboxEntry[];
  outboxCount: number;
}

/**
 * Decides one frame. `frame[off .. off+len)` is the packet: an Ethernet frame or a bare IPv4 packet
 * according to the adapter's `linkType`. The handler must fill `out` and must not keep references to
 * `frame` after returning. It should not throw (a throw is counted and the frame dropped).
 * The daemon wraps engine.process(frame, off, len, direction, now) in one of these.
 */
export type FrameHandler = (
  frame: Uint8Array,
  off: number,
  len: number,
  direction: Direction,
  out: FrameDecision,
) => void;

export type DatapathKind = 'nfqueue' | 'pcap';

/**
 * idle -> starting -> ready -> stopping -> stopped; starting -> failed when start() rejects.
 * `ready` is the daemon's /readyz condition.
 */
export type AdapterState = 'idle' | 'starting' | 'ready' | 'stopping' | 'stopped' | 'failed';

/**
 * Monotonic counters. Names are stable: the daemon exports them as
 * `syngate_datapath_<name>_total{datapath="nfqueue|pcap"}`.
 */
export interface DatapathCounters {
  /** Frames handed to the handler. */
  framesIn: number;
  bytesIn: number;
  /** Frames let through (accepted / injected on the other side). */
  framesForwarded: number;
  framesDropped: number;
  /** Frames dropped with RST(s) from the outbox. */
  framesReset: number;
  /** Forwarded frames whose length changed (token inserted or stripped). */
  framesRewritten: number;
  /** Frames whose decision said `authorized` (nfqueue: connmark bypass set). */
  flowsAuthorized: number;
  /** Outbox packets sent. */
  outboxSent: number;
  /** Failed sends or verdicts (the frame is lost; TCP retransmits). */
  sendErrors: number;
  /** Handler calls that threw (frame dropped). */
  handlerErrors: number;
  /** Frames too large for the adapter's buffer (dropped). */
  framesOversize: number;
  /** Frames that bypassed the handler without a decision (pcap: non-IPv4 such as ARP). */
  framesPassedThrough: number;
}

/** Where the client addressed a flow before any redirect downstream of the enforcer. */
export interface OriginalDestination {
  /** Dotted-quad IPv4. */
  ip: string;
  port: number;
}

export interface StopOptions {
  /**
   * nfqueue: remove the adapter's nftables table (default true). With `false` the queue rules stay:
   * while no daemon listens, new handshakes are dropped (fail closed) and connmark-authorized flows
   * keep working. The lab's enforcer restart and a DaemonSet rolling update want `false`.
   */
  removeRules?: boolean;
}

export interface DatapathAdapter {
  readonly kind: DatapathKind;
  /** nfqueue: RAW_IPV4; pcap: ETHERNET. Build the engine for this link type. */
  readonly linkType: LinkType;
  readonly state: AdapterState;
  /** Why the adapter failed or stopped unexpectedly; null otherwise. */
  readonly lastError: Error | null;
  /** Binds the queue / opens the interfaces, installs rules, then calls `handler` per frame. */
  start(handler: FrameHandler): Promise<void>;
  stop(opts?: StopOptions): Promise<void>;
  /** A snapshot of the counters. */
  counters(): DatapathCounters;
  /**
   * The destination the client addressed, for a flow seen by this adapter with client
   * `srcIp:srcPort` toward `dstIp` (the server address; a redirect may have changed the port only).
   * Answered from a bounded table filled from the SYNs the adapter saw (oldest entries are
   * overwritten); null when the flow is unknown.
   */
  originalDestination(srcIp: string, srcPort: number, dstIp: string): OriginalDestination | null;
  /** Called on every state change (e.g. to flip /readyz). One listener; later calls replace it. */
  onStateChange(listener: ((state: AdapterState, err: Error | null) => void) | null): void;
}

/** Options shared by both adapters. */
export interface CommonDatapathOptions {
  /** Operator log (one line per call, no trailing newline). Host-visible changes are always logged. */
  log?: (line: string) => void;
  /** Capacity of the original-destination table (power of two; default 4096). */
  origDstCapacity?: number;
}

export interface NfqueueOptions extends CommonDatapathOptions {
  kind: 'nfqueue';
  /**
   * Interfaces toward the protected workloads (nft `iifname`/`oifname` patterns, `*` suffix allowed,
   * e.g. `["veth*"]`, `["lan0"]`). Forwarded packets arriving on them are OUTBOUND, packets leaving
   * through them INBOUND.
   */
  workloadInterfaces: readonly string[];
  /** First of the 4 consecutive queue numbers the adapter binds (default 7100). */
  queueBase?: number;
  /** nftables table name (family ip) owned by this adapter (default `syngate`). */
  table?: string;
  /**
   * Queue bypass: when no daemon listens, packets pass unchecked instead of being dropped.
   * Off by default (fail closed); turning it on is logged as a warning.
   */
  failOpen?: boolean;
  /** Two connmark bits for "authorized as client" / "authorized as server" (defaults 0x10000000 / 0x20000000). */
  markClient?: number;
  markServer?: number;
  /** iptables binary (default `iptables`; `iptables-restore` is derived by suffix). */
  iptables?: string;
}

export interface PcapOptions extends CommonDatapathOptions {
  kind: 'pcap';
  /** Interface toward the protected workloads: frames read here are OUTBOUND. */
  inside: string;
  /** Interface toward the network: frames read here are INBOUND. */
  outside: string;
  /** libpcap kernel buffer per interface in bytes (default 8 MiB). */
  bufferSize?: number;
  /** Skip the `ethtool -k` offload check (tests only; TCP breaks with offloads on). */
  skipOffloadCheck?: boolean;
}

export type DatapathOptions = NfqueueOptions | PcapOptions;
