// An in-memory wire between simulated hosts, driven by a deterministic event queue and a fake clock.
// Path of a frame from pod A (node X) to pod B (node Y):
//   A --egress--> enforcer(X).process(OUTBOUND) --network--> enforcer(Y).process(INBOUND) --deliver--> B
// A host attached with enforcer `null` has no enforcer in its path (e.g. a rogue pod), in either direction.
// Invariants:
//  - events run in (time, insertion order): a run is a pure function of the inputs and the seed;
//  - every frame handed to an enforcer sits at offset 0 of the wire's scratch buffer with at least
//    FRAME_HEADROOM zeroed bytes past its end; the rewritten bytes [0, result.length) and the
//    outbox entries (engine-owned) are copied out before the next process() call;
//  - a frame whose verdict is DROP or RESET never continues on its path;
//  - hooks see every frame at every hop and may drop, replace, or duplicate it (attacks, fuzzing);
//  - run() is bounded by its event budget.
import { Direction, FRAME_HEADROOM, Verdict, type OutboxEntry } from '../engine/types.js';
import {
  ETH_HEADER_LEN,
  ETH_OFF_TYPE,
  ETHERTYPE_IPV4,
  IPPROTO_TCP,
  IPV4_OFF_DST,
  IPV4_OFF_PROTO,
  IPV4_OFF_SRC,
  IPV4_OFF_VER_IHL,
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_OFF_DST_PORT,
  TCP_OFF_FLAGS,
  TCP_OFF_SRC_PORT,
  u16,
  u32,
} from '../packet/index.js';
import { ETH_IPV4_TCP_MIN_LEN, parseFrame, u32ToIp } from './frame.js';
import type { TcpHost } from './tcp-endpoint.js';

/** What the wire needs from an enforcer (the engine, or a test double). */
export interface SimEnforcer {
  readonly name: string;
  /** Same contract as the engine's process(): may rewrite frame in place, never throws. */
  process(frame: Uint8Array, off: number, len: number, direction: Direction, now: number): SimResult;
}

export interface SimResult {
  verdict: Verdict;
  /** New length of the (rewritten) frame. */
  length: number;
  /** Extra packets to send; valid only until the next process() call. */
  outbox: readonly OutboxEntry[];
}

/** An enforcer that forwards everything unchanged (a node without syngate). */
export const PASS_THROUGH: SimEnforcer = {
  name: 'pass-through',
  process: (_f, _o, len) => ({ verdict: Verdict.FORWARD, length: len, outbox: [] }),
};

export type Hop =
  /** From a pod to its node's enforcer (before OUTBOUND processing). */
  | 'egress'
  /** Between nodes, after OUTBOUND processing (where an on-path attacker sits). */
  | 'network'
  /** From the destination node's enforcer to the pod (after INBOUND processing). */
  | 'deliver';

export interface WireFrameEvent {
  hop: Hop;
  time: number;
  /** The frame bytes (exact length). Hooks may read it; to change it return `{replace}`. */
  frame: Uint8Array;
  /** Host that transmitted (egress) or the enforcer-facing source host, when known. */
  from: TcpHost | null;
  /** Destination host by IP, when known. */
  to: TcpHost | null;
}

export type HookAction = 'pass' | 'drop' | { replace: Uint8Array } | { duplicate: number };
export type WireHook = (ev: WireFrameEvent) => HookAction;

/** A record of an enforcer decision, for tracing and tests. */
export interface WireDecision {
  time: number;
  enforcer: string;
  direction: Direction;
  verdict: Verdict;
  /** The frame as the enforcer received it. */
  before: Uint8Array;
  /** The frame as the enforcer returned it (FORWARD only, else null). */
  after: Uint8Array | null;
  outbox: Uint8Array[];
}

// Routing reads single header fields at fixed offsets of an untagged Ethernet/IPv4 frame (not a
// full parse: garbage with a routable destination must still reach the enforcer that drops it).
const IP_SRC = ETH_HEADER_LEN + IPV4_OFF_SRC;
const IP_DST = ETH_HEADER_LEN + IPV4_OFF_DST;
/** End of the IPv4 destination address in an untagged Ethernet frame. */
const ETH_IPV4_DST_END = IP_DST + 4;
const HANDSHAKE_FLAGS = TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST | TCP_FLAG_FIN;

export class FakeClock {
  private t: number;
  constructor(startMs = 1_700_000_000_000) {
    this.t = startMs;
  }
  /** Current time in milliseconds. */
  now(): number {
    return this.t;
  }
  /** Moves time forward; negative steps are refused (time never goes back). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`clock cannot go back (${ms})`);
    this.t += ms;
  }
  /** Sets the time to `ms` if it is later than now. */
  advanceTo(ms: number): void {
    if (ms > this.t) this.t = ms;
  }
}

interface Attachment {
  host: TcpHost;
  enforcer: SimEnforcer | null;
}

interface WireEvent {
  time: number;
  seq: number;
  hop: Hop;
  frame: Uint8Array;
  /** For egress: the transmitting attachment. */
  src: Attachment | null;
  /** Whether hooks already saw this frame at this hop (injected frames skip hooks if asked). */
  skipHooks: boolean;
}

export interface WireOptions {
  clock?: FakeClock;
  /** Latency added at each hop, in ms (default 0.05). */
  hopLatencyMs?: number;
  /** Keep a copy of every frame crossing the network hop in `captured` (default false). */
  capture?: boolean;
  /** Keep every enforcer decision in `decisions` (default false). */
  trace?: boolean;
}

export interface WireStats {
  events: number;
  forwarded: number;
  dropped: number;
  reset: number;
  hookDropped: number;
  unroutable: number;
  outboxSent: number;
}

export class Wire {
  readonly clock: FakeClock;
  readonly hopLatencyMs: number;
  readonly captured: Uint8Array[] = [];
  readonly decisions: WireDecision[] = [];
  readonly stats: WireStats = { events: 0, forwarded: 0, dropped: 0, reset: 0, hookDropped: 0, unroutable: 0, outboxSent: 0 };
  private readonly capture: boolean;
  private readonly trace: boolean;
  private readonly byIp = new Map<number, Attachment>();
  private readonly byHost = new Map<TcpHost, Attachment>();
  private readonly hooks: WireHook[] = [];
  private readonly twins = new Map<SimEnforcer, SimEnforcer>();
  private scratch = new Uint8Array(2048 + FRAME_HEADROOM);
  /** Same-node flows: client endpoints `ip:port>serverIp`. */
  private readonly clients = new Set<string>();
  private readonly heap: WireEvent[] = [];
  private seq = 0;

  constructor(opts: WireOptions = {}) {
    this.clock = opts.clock ?? new FakeClock();
    this.hopLatencyMs = opts.hopLatencyMs ?? 0.05;
    this.capture = opts.capture ?? false;
    this.trace = opts.trace ?? false;
  }

  /** Connects a host; `enforcer` is its node's enforcer, or null for a host without one. */
  attach(host: TcpHost, enforcer: SimEnforcer | null): void {
    if (this.byIp.has(host.ipU32)) throw new Error(`wire: address ${host.ip} already attached`);
    const a: Attachment = { host, enforcer };
    this.byIp.set(host.ipU32, a);
    this.byHost.set(host, a);
    host.onTransmit = (frame) => this.schedule('egress', frame, a, false);
  }

  /** Replaces the enforcer in `host`'s path (e.g. an attacker's own engine); returns the previous one. */
  setEnforcer(host: TcpHost, enforcer: SimEnforcer | null): SimEnforcer | null {
    const a = this.byHost.get(host);
    if (a === undefined) throw new Error(`wire: host ${host.name} is not attached`);
    const prev = a.enforcer;
    a.enforcer = enforcer;
    return prev;
  }

  hostByIp(ip: number): TcpHost | null {
    return this.byIp.get(ip)?.host ?? null;
  }

  addHook(hook: WireHook): () => void {
    this.hooks.push(hook);
    return () => {
      const i = this.hooks.indexOf(hook);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /**
   * Puts a frame on the wire at `hop` (an attacker injecting or replaying bytes). At `network`, it is
   * routed by destination IP through the destination's enforcer (INBOUND); at `deliver` it goes
   * straight to the destination host; at `egress` it enters through `from`'s enforcer.
   */
  inject(frame: Uint8Array, hop: Hop = 'network', from: TcpHost | null = null, skipHooks = true): void {
    const src = from === null ? null : (this.byHost.get(from) ?? null);
    this.schedule(hop, frame.slice(), src, skipHooks);
  }

  /** Number of events waiting. */
  get pending(): number {
    return this.heap.length;
  }

  /** Runs events until the queue is empty or `maxEvents` ran; returns how many ran. */
  run(maxEvents = 1_000_000): number {
    let n = 0;
    while (n < maxEvents && this.heap.length > 0) {
      const ev = this.pop();
      this.clock.advanceTo(ev.time);
      this.step(ev);
      n++;
    }
    this.stats.events += n;
    return n;
  }

  private schedule(hop: Hop, frame: Uint8Array, src: Attachment | null, skipHooks: boolean): void {
    this.push({ time: this.clock.now() + this.hopLatencyMs, seq: this.seq++, hop, frame, src, skipHooks });
  }

  /** Routes on the IPv4 destination of an untagged Ethernet frame (no full parse: this runs per hop). */
  private dstOf(frame: Uint8Array): Attachment | null {
    if (frame.length < ETH_IPV4_DST_END || u16(frame, ETH_OFF_TYPE) !== ETHERTYPE_IPV4) return null;
    return this.byIp.get(u32(frame, IP_DST)) ?? null;
  }

  private step(ev: WireEvent): void {
    const dst = this.dstOf(ev.frame);
    let frames: Uint8Array[] = [ev.frame];
    if (!ev.skipHooks && this.hooks.length > 0) {
      frames = [];
      const wev: WireFrameEvent = { hop: ev.hop, time: this.clock.now(), frame: ev.frame, from: ev.src?.host ?? null, to: dst?.host ?? null };
      let current: Uint8Array[] = [ev.frame];
      for (const hook of this.hooks) {
        const next: Uint8Array[] = [];
        for (const f of current) {
          wev.frame = f;
          const act = hook(wev);
          if (act === 'pass') next.push(f);
          else if (act === 'drop') this.stats.hookDropped++;
          else if ('replace' in act) next.push(act.replace);
          else for (let i = 0; i <= Math.max(0, Math.min(act.duplicate, 64)); i++) next.push(i === 0 ? f : f.slice());
        }
        current = next;
      }
      frames = current;
    }
    for (const f of frames) this.hop(ev.hop, f, ev.src, dst);
  }

  private hop(hop: Hop, frame: Uint8Array, src: Attachment | null, dst: Attachment | null): void {
    switch (hop) {
      case 'egress': {
        let enf = src?.enforcer ?? null;
        if (enf === null) {
          this.toNetwork(frame);
          return;
        }
        // Same-node flow: the server's side of it runs on the node's twin instance.
        if (dst !== null && dst.enforcer === enf && this.twins.has(enf) && !this.senderIsClient(frame, true)) enf = this.twins.get(enf) ?? enf;
        this.runEnforcer(enf, frame, Direction.OUTBOUND, (out) => this.toNetwork(out), dst);
        return;
      }
      case 'network': {
        if (this.capture) this.captured.push(frame.slice());
        if (dst === null) {
          this.stats.unroutable++;
          return;
        }
        let enf = dst.enforcer;
        if (enf === null) {
          this.schedule('deliver', frame, null, false);
          return;
        }
        if (this.twins.has(enf) && this.srcEnforcer(frame) === enf && this.senderIsClient(frame, false)) enf = this.twins.get(enf) ?? enf;
        this.runEnforcer(enf, frame, Direction.INBOUND, (out) => this.schedule('deliver', out, null, false), dst);
        return;
      }
      case 'deliver':
        if (dst === null) {
          this.stats.unroutable++;
          return;
        }
        dst.host.receive(frame, 0, frame.length);
        return;
    }
  }

  /**
   * Declares `twin` as the instance that plays the server side of flows between two hosts that
   * share `enforcer` (same-node traffic passes the node's enforcer twice: once for each end).
   */
  setTwin(enforcer: SimEnforcer, twin: SimEnforcer): void {
    this.twins.set(enforcer, twin);
  }

  private srcEnforcer(frame: Uint8Array): SimEnforcer | null {
    if (frame.length < IP_SRC + 4) return null;
    return this.byIp.get(u32(frame, IP_SRC))?.enforcer ?? null;
  }

  /**
   * True iff the frame's sender is the client of its flow. Clients are learned from pure SYNs as
   * `clientIp:clientPort>serverIp` (the client's address and port are never rewritten, unlike the
   * server's port under an Envoy redirect); a sender of an unknown flow counts as its client.
   */
  private senderIsClient(frame: Uint8Array, learn: boolean): boolean {
    // Untagged Ethernet + IPv4 + TCP only; anything else counts as sent by a client.
    if (frame.length < ETH_IPV4_TCP_MIN_LEN || u16(frame, ETH_OFF_TYPE) !== ETHERTYPE_IPV4 || frame[ETH_HEADER_LEN + IPV4_OFF_PROTO] !== IPPROTO_TCP) return true;
    const l4 = ETH_HEADER_LEN + (frame[ETH_HEADER_LEN + IPV4_OFF_VER_IHL]! & 0x0f) * 4;
    if (frame.length < l4 + TCP_OFF_FLAGS + 1) return true;
    const srcIp = u32(frame, IP_SRC);
    const dstIp = u32(frame, IP_DST);
    const sport = u16(frame, l4 + TCP_OFF_SRC_PORT);
    const dport = u16(frame, l4 + TCP_OFF_DST_PORT);
    const flags = frame[l4 + TCP_OFF_FLAGS]!;
    const a = `${srcIp}:${sport}>${dstIp}`;
    if (learn && (flags & HANDSHAKE_FLAGS) === TCP_FLAG_SYN) this.clients.add(a);
    if (this.clients.has(a)) return true;
    return !this.clients.has(`${dstIp}:${dport}>${srcIp}`);
  }

  private toNetwork(frame: Uint8Array): void {
    this.schedule('network', frame, null, false);
  }

  private runEnforcer(enf: SimEnforcer, frame: Uint8Array, dir: Direction, forward: (f: Uint8Array) => void, _dst: Attachment | null): void {
    // One scratch buffer for every enforcer call: the engine rewrites in place and keeps nothing.
    if (this.scratch.length < frame.length + FRAME_HEADROOM) this.scratch = new Uint8Array(frame.length + FRAME_HEADROOM);
    const buf = this.scratch;
    buf.set(frame, 0);
    buf.fill(0, frame.length, frame.length + FRAME_HEADROOM);
    const res = enf.process(buf, 0, frame.length, dir, this.clock.now());
    const outbox: Uint8Array[] = [];
    for (const o of res.outbox) {
      const copy = o.buf.slice(0, o.length);
      outbox.push(copy);
      this.stats.outboxSent++;
      if (o.direction === Direction.OUTBOUND) this.toNetwork(copy);
      else this.schedule('deliver', copy, null, false);
    }
    let after: Uint8Array | null = null;
    if (res.verdict === Verdict.FORWARD) {
      after = buf.slice(0, res.length);
      this.stats.forwarded++;
      forward(after);
    } else if (res.verdict === Verdict.RESET) this.stats.reset++;
    else this.stats.dropped++;
    if (this.trace) this.decisions.push({ time: this.clock.now(), enforcer: enf.name, direction: dir, verdict: res.verdict, before: frame.slice(), after, outbox });
  }

  private push(ev: WireEvent): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = h[p] as WireEvent;
      if (!before(ev, pe)) break;
      h[i] = pe;
      i = p;
    }
    h[i] = ev;
  }

  private pop(): WireEvent {
    const h = this.heap;
    const top = h[0] as WireEvent;
    const last = h.pop() as WireEvent;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && before(h[r] as WireEvent, h[l] as WireEvent) ? r : l;
        if (!before(h[c] as WireEvent, last)) break;
        h[i] = h[c] as WireEvent;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function before(a: WireEvent, b: WireEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/** Short human description of a frame, for traces and test failure messages. */
export function describeFrame(frame: Uint8Array): string {
  const p = parseFrame(frame, 0, frame.length);
  if (p === null) return `<non-tcp ${frame.length}B>`;
  const f = ['FIN', 'SYN', 'RST', 'PSH', 'ACK'].filter((_, i) => p.flags & (1 << i)).join('|');
  return `${u32ToIp(p.srcIp)}:${p.srcPort} > ${u32ToIp(p.dstIp)}:${p.dstPort} [${f}] seq=${p.seq} ack=${p.ack} len=${p.payloadLen}${p.hasExperimentalOption ? ' +opt253' : ''}`;
}
