// An engine-backed frame handler built from a scenario, for the runner (lab and root tests) until
// `syngate run` drives the same engine from its config. Invariants:
//  - the handler copies the engine's ProcessResult into the adapter's decision field by field and
//    never allocates per frame; `now` is wall-clock milliseconds (Date.now());
//  - the node's identity is a fresh node credential issued from the CA files given (the lab's CA),
//    and only the scenario's workloads on this node with `enforcer: true` are registered as local;
//  - the engine does NO Envoy port rewrite (redirect off): in the lab the pod namespace's own
//    Istio-style REDIRECT rule does that, after the enforcer, as in a real mesh;
//  - flow records are drained from the engine's event ring off the packet path (every `intervalMs`)
//    and appended to the flow-log file as JSON lines (docs/flowlog.md);
//  - a flow between two local workloads crosses this enforcer twice (once per end). One engine keys
//    a flow by its tuple, so the server end of such a flow runs on a twin engine sharing the same
//    IdentityAgent (as the simulator does); SameNodeSplitter picks the instance per frame.
import { appendFileSync } from 'node:fs';
import { COUNTER_NAMES, Direction, LinkType, Verdict, createEngine, eventWantsRecord, toFlowRecord } from '../engine/index.js';
import type { Engine, AgentHandshake, FlowRecord, OutboxEntry, ProcessResult } from '../engine/index.js';
import { IdentityAgent, bundleOf, caFromPem, issueNodeCredential } from '../identity/index.js';
import type { PeerIdentity } from '../identity/index.js';
import { loadScenario } from '../sim/scenario.js';
import { buildScenarioPolicy } from '../sim/setup.js';
import { SyngateError } from '../errors.js';
import type { FrameHandler } from './types.js';
import { OrigDstTable } from './origdst.js';
import { IPV4_OFF_DST, IPV4_OFF_SRC, TCP_FLAG_ACK, TCP_FLAG_SYN, TCP_OFF_DST_PORT, TCP_OFF_FLAGS, TCP_OFF_SRC_PORT, ipv4Offset, readU16, readU32, tcpOffset } from './frame.js';

/** The part of an engine the handler drives (structurally Engine#process). */
export interface ProcessingEngine {
  process(frame: Uint8Array, off: number, len: number, direction: Direction, now: number): ProcessResult;
}

export interface EngineHandlerOptions {
  /** Handles everything except the server end of same-node flows. */
  engine: ProcessingEngine;
  /** A second engine instance (same IdentityAgent, same policy) for the server end of same-node flows. */
  twin: ProcessingEngine;
  linkType: LinkType;
  /** True iff `ip` is a protected workload of this node. */
  isLocal: (ip: number) => boolean;
  /** Clock in milliseconds (default Date.now). */
  now?: () => number;
}

/**
 * The frame handler a daemon should give its adapter: engine.process() plus the two things one
 * engine instance cannot do alone on a live node:
 *  - a flow between two local workloads crosses the enforcer twice (once per end) with the same
 *    tuple, so its server end runs on `twin` (SameNodeSplitter decides per frame);
 *  - on nfqueue (RAW_IPV4) outbox packets leave through a raw socket in the enforcer's own namespace
 *    and never cross FORWARD: a token-only ACK toward a LOCAL server would reach it with the token
 *    still in it. Such packets are run through the server end (twin, INBOUND) before being sent.
 * Never throws (the engines do not); allocates nothing per frame.
 */
export function createEngineHandler(o: EngineHandlerOptions): FrameHandler {
  const { engine, twin } = o;
  const clock = o.now ?? Date.now;
  const split = new SameNodeSplitter(o.linkType, o.isLocal);
  const loopback = o.linkType === LinkType.RAW_IPV4;
  const merged: OutboxEntry[] = [];
  return (frame, off, len, direction, out) => {
    const now = clock();
    const e = split.serverSide(frame, off, len, direction) ? twin : engine;
    const r = e.process(frame, off, len, direction as Direction, now);
    out.verdict = r.verdict;
    out.length = r.length;
    out.authorized = r.authorized;
    out.outbox = r.outbox;
    out.outboxCount = r.outboxCount;
    if (!loopback || e !== engine || r.outboxCount === 0) return;
    let k = 0;
    for (let i = 0; i < r.outboxCount; i++) {
      const ob = r.outbox[i];
      if (ob === undefined) continue;
      if (ob.direction === Direction.OUTBOUND && ob.length >= 20 && o.isLocal(readU32(ob.buf, IPV4_OFF_DST))) {
        const r2 = twin.process(ob.buf, 0, ob.length, Direction.INBOUND, now);
        if (r2.verdict !== Verdict.FORWARD) continue;
        ob.length = r2.length;
      }
      merged[k++] = ob;
    }
    out.outbox = merged;
    out.outboxCount = k;
  };
}

/**
 * Tells which end of a same-node flow a frame belongs to. Invariants: a flow is recorded as
 * same-node when an OUTBOUND SYN (without ACK) goes from a local workload to a local workload; the
 * table is bounded (a newer SYN on the same client tuple replaces the entry); no allocation per
 * frame. `serverSide` is true iff the frame is the server end's business: INBOUND toward the
 * server, or OUTBOUND from it. Everything else (all cross-node traffic) belongs to the main engine.
 */
export class SameNodeSplitter {
  /** client ip, client port, server ip -> server port. */
  private readonly flows: OrigDstTable;
  constructor(
    private readonly link: LinkType,
    readonly isLocal: (ip: number) => boolean,
    capacity = 4096,
  ) {
    this.flows = new OrigDstTable(capacity);
  }

  serverSide(frame: Uint8Array, off: number, len: number, direction: number): boolean {
    const l3 = ipv4Offset(frame, off, len, this.link);
    if (l3 < 0) return false;
    const l4 = tcpOffset(frame, l3, off + len);
    if (l4 < 0) return false;
    const src = readU32(frame, l3 + IPV4_OFF_SRC);
    const dst = readU32(frame, l3 + IPV4_OFF_DST);
    const sport = readU16(frame, l4 + TCP_OFF_SRC_PORT);
    const dport = readU16(frame, l4 + TCP_OFF_DST_PORT);
    const flags = frame[l4 + TCP_OFF_FLAGS] ?? 0;
    if (direction === Direction.OUTBOUND && (flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) === TCP_FLAG_SYN && this.isLocal(src) && this.isLocal(dst)) {
      this.flows.insert(src, sport, dst, dport);
      return false; // the client's SYN, leaving the client: main engine
    }
    if (this.flows.lookup(src, sport, dst) === dport) {
      // client -> server segment: the server end sees it arriving (INBOUND)
      return direction === Direction.INBOUND;
    }
    if (this.flows.lookup(dst, dport, src) === sport) {
      // server -> client segment: the server end sees it leaving (OUTBOUND)
      return direction === Direction.OUTBOUND;
    }
    return false;
  }
}

export interface ScenarioEnforcerOptions {
  scenario: string;
  node: string;
  caCertPem: string;
  caKeyPem: string;
  linkType: LinkType;
  /** Flow-log file (JSON lines); null for none. */
  flowLog: string | null;
  log?: (line: string) => void;
}

export interface ScenarioEnforcer {
  handler: FrameHandler;
  engine: Engine<AgentHandshake, PeerIdentity>;
  /** Drains pending engine events into flow records (and the flow-log file); returns them. */
  drain(): FlowRecord[];
  /** Runs the engine's periodic work (sweep); call every ~100 ms. */
  tick(): void;
  /** Named engine counters. */
  counters(): Record<string, number>;
}

export function buildScenarioEnforcer(o: ScenarioEnforcerOptions): ScenarioEnforcer {
  const sc = loadScenario(o.scenario);
  if (!sc.nodes.includes(o.node)) throw new SyngateError('SYNGATE_DATAPATH_CONFIG', `${o.scenario}: no node named '${o.node}' (nodes: ${sc.nodes.join(', ')})`);
  const pol = buildScenarioPolicy(sc);
  const ca = caFromPem(o.caCertPem, o.caKeyPem, 'lab CA');
  const now0 = Date.now();
  const node = issueNodeCredential(ca, { node: o.node, nowMs: now0 });
  const agent = new IdentityAgent({ node, bundle: bundleOf(ca) });
  let local = 0;
  for (const w of sc.workloads) {
    if (w.node !== o.node || !w.enforcer) continue;
    agent.registerWorkload({ spiffeId: `spiffe://${sc.trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`, labels: w.labels, ip: w.ip }, now0);
    local++;
  }
  o.log?.(`engine: node ${o.node}: ${local} local workloads, policy revision ${pol.table.revision}${pol.warnings.length > 0 ? `, ${pol.warnings.length} policy warnings` : ''}`);
  const make = (): Engine<AgentHandshake, PeerIdentity> => createEngine({ agent, table: pol.table, node: o.node, name: o.node, linkType: o.linkType, redirect: false });
  const engine = make();
  const twin = make();
  const handler = createEngineHandler({ engine, twin, linkType: o.linkType, isLocal: (ip) => engine.currentPolicy.workloadOf(ip) >= 0 });
  const drain = (): FlowRecord[] => {
    const recs: FlowRecord[] = [];
    for (const eng of [engine, twin]) {
      const policy = eng.currentPolicy;
      eng.events.drain((e) => {
        if (eventWantsRecord(e)) recs.push(toFlowRecord(e, policy, o.node));
      });
    }
    if (recs.length > 0 && o.flowLog !== null) appendFileSync(o.flowLog, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    return recs;
  };
  return {
    handler,
    engine,
    drain,
    tick: () => {
      engine.tick(Date.now());
      twin.tick(Date.now());
      agent.maintain(Date.now());
    },
    counters: () => {
      const c: Record<string, number> = {};
      for (const eng of [engine, twin]) {
        eng.counters.forEach((v, i) => {
          const k = COUNTER_NAMES[i] ?? `counter_${i}`;
          c[k] = (c[k] ?? 0) + v;
        });
      }
      return c;
    },
  };
}
