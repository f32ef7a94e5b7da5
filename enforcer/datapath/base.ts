// Shared machinery of the live adapters: counters, the reused FrameDecision, the state machine and
// the original-destination table (AdapterCore), and the DatapathAdapter accessors every live adapter
// exposes unchanged from its core (AdapterBase). Invariants: `decide()` resets the decision before calling the
// handler and turns a throw into DROP (fail closed, counted); state moves only along
// idle -> starting -> (ready | failed), ready -> stopping -> stopped; listeners never throw into us.
import { Direction, Verdict } from '../engine/types.js';
import type { LinkType, OutboxEntry } from '../engine/types.js';
import { OrigDstTable } from './origdst.js';
import { IPV4_OFF_DST, IPV4_OFF_SRC, TCP_FLAG_ACK, TCP_FLAG_SYN, TCP_OFF_DST_PORT, TCP_OFF_FLAGS, TCP_OFF_SRC_PORT, ipv4Offset, readU16, readU32, tcpOffset } from './frame.js';
import type { AdapterState, DatapathCounters, FrameDecision, FrameHandler, OriginalDestination } from './types.js';

const NO_OUTBOX: readonly OutboxEntry[] = [];

export function zeroCounters(): DatapathCounters {
  return {
    framesIn: 0,
    bytesIn: 0,
    framesForwarded: 0,
    framesDropped: 0,
    framesReset: 0,
    framesRewritten: 0,
    flowsAuthorized: 0,
    outboxSent: 0,
    sendErrors: 0,
    handlerErrors: 0,
    framesOversize: 0,
    framesPassedThrough: 0,
  };
}

export function newDecision(): FrameDecision {
  return { verdict: Verdict.DROP, length: 0, authorized: false, outbox: NO_OUTBOX, outboxCount: 0 };
}

export class AdapterCore {
  state: AdapterState = 'idle';
  lastError: Error | null = null;
  readonly c: DatapathCounters = zeroCounters();
  readonly decision: FrameDecision = newDecision();
  readonly origDst: OrigDstTable;
  private listener: ((state: AdapterState, err: Error | null) => void) | null = null;
  handler: FrameHandler | null = null;

  constructor(
    private readonly link: LinkType,
    origDstCapacity: number | undefined,
    readonly log: (line: string) => void,
  ) {
    this.origDst = new OrigDstTable(origDstCapacity ?? 4096);
  }

  setState(s: AdapterState, err: Error | null = null): void {
    this.state = s;
    if (err !== null) this.lastError = err;
    const l = this.listener;
    if (l !== null) {
      try {
        l(s, err);
      } catch {
        // A listener's failure must not break the datapath.
      }
    }
  }

  onStateChange(l: ((state: AdapterState, err: Error | null) => void) | null): void {
    this.listener = l;
  }

  /**
   * Runs the handler on frame[off..off+len). Records the original destination of OUTBOUND SYNs
   * (client side: the address the client used) and INBOUND SYNs (server side: the address on the
   * wire before any redirect inside the workload's namespace). Returns the decision object.
   */
  decide(frame: Uint8Array, off: number, len: number, direction: Direction): FrameDecision {
    const d = this.decision;
    d.verdict = Verdict.DROP;
    d.length = len;
    d.authorized = false;
    d.outbox = NO_OUTBOX;
    d.outboxCount = 0;
    this.c.framesIn++;
    this.c.bytesIn += len;
    this.noteSyn(frame, off, len);
    const h = this.handler;
    if (h === null) return d;
    try {
      h(frame, off, len, direction, d);
    } catch (e) {
      this.c.handlerErrors++;
      d.verdict = Verdict.DROP;
      d.outboxCount = 0;
      if (this.c.handlerErrors <= 5) this.log(`datapath: handler threw (frame dropped): ${e instanceof Error ? e.message : String(e)}`);
    }
    const v: Verdict = d.verdict as Verdict;
    if (v === Verdict.FORWARD) {
      this.c.framesForwarded++;
      if (d.length !== len) this.c.framesRewritten++;
      if (d.authorized) this.c.flowsAuthorized++;
    } else if (v === Verdict.RESET) this.c.framesReset++;
    else this.c.framesDropped++;
    if (d.outboxCount > d.outbox.length) d.outboxCount = d.outbox.length;
    return d;
  }

  private noteSyn(frame: Uint8Array, off: number, len: number): void {
    const l3 = ipv4Offset(frame, off, len, this.link);
    if (l3 < 0) return;
    const l4 = tcpOffset(frame, l3, off + len);
    if (l4 < 0) return;
    const flags = frame[l4 + TCP_OFF_FLAGS] ?? 0;
    if ((flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) !== TCP_FLAG_SYN) return;
    this.origDst.insert(readU32(frame, l3 + IPV4_OFF_SRC), readU16(frame, l4 + TCP_OFF_SRC_PORT), readU32(frame, l3 + IPV4_OFF_DST), readU16(frame, l4 + TCP_OFF_DST_PORT));
  }

  originalDestination(srcIp: string, srcPort: number, dstIp: string): OriginalDestination | null {
    return this.origDst.query(srcIp, srcPort, dstIp);
  }

  counters(): DatapathCounters {
    return { ...this.c };
  }
}

/**
 * Base of the live adapters: owns the AdapterCore and implements the DatapathAdapter members that
 * only read or forward to it. Subclasses implement kind, linkType, start() and stop().
 */
export abstract class AdapterBase {
  protected readonly core: AdapterCore;

  /** `log` defaults to one line on stderr. */
  protected constructor(link: LinkType, origDstCapacity: number | undefined, log: ((line: string) => void) | undefined) {
    this.core = new AdapterCore(link, origDstCapacity, log ?? ((l) => process.stderr.write(l + '\n')));
  }

  get state(): AdapterState {
    return this.core.state;
  }
  get lastError(): Error | null {
    return this.core.lastError;
  }
  counters(): DatapathCounters {
    return this.core.counters();
  }
  originalDestination(srcIp: string, srcPort: number, dstIp: string): OriginalDestination | null {
    return this.core.originalDestination(srcIp, srcPort, dstIp);
  }
  onStateChange(l: ((state: AdapterState, err: Error | null) => void) | null): void {
    this.core.onStateChange(l);
  }
}

/** A handler that forwards every frame unchanged (lab bring-up, adapter tests, `--handler pass`). */
export const passThroughHandler: FrameHandler = (_frame, _off, len, _direction, out) => {
  out.verdict = Verdict.FORWARD;
  out.length = len;
};

export { Direction };
