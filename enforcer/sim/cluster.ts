// The simulated cluster: one CA, one node credential and IdentityAgent per node, one real Engine
// per node (engine.createEngine over the compiled policy table), and the attackers' tools.
// Invariants: node engines are exactly what the daemon runs (same adapters, same event → flow
// record conversion); every local workload with `enforcer: true` is registered with its node's
// agent under spiffe://TD/ns/NS/sa/SA with its labels and address; identity and engine clocks are
// the wire's fake clock; event rings are drained after every connection, so none overflow.
import { Direction, EVENT_KIND_NAMES, EventVerdict, LinkType, createEngine, toFlowRecord, eventWantsRecord, type Engine, type AgentHandshake } from '../engine/index.js';
import type { FlowRecord } from '../engine/flow-record.js';
import { IdentityAgent, bundleOf, createCa, issueNodeCredential, type CaMaterial, type NodeIdentity, type PeerIdentity } from '../identity/index.js';
import { AttackerEnforcer } from './attackers.js';
import { macForIp } from './frame.js';
import type { Prng } from './prng.js';
import type { Cluster, ClusterEnforcer, ClusterFactory, EngineAttack, SimEvent } from './run.js';
import type { Scenario, ScenarioWorkload } from './scenario.js';
import type { ScenarioPolicy } from './setup.js';
import type { FakeClock } from './wire.js';

const RULE_NONE = 0xffffff;
/** Whether same-node flows get a second engine instance for their server side (see createCluster). */
const SAME_NODE_TWIN = true;
const PEER_NONE = 0xffffffff;

class NodeEnforcer implements ClusterEnforcer {
  constructor(
    readonly name: string,
    readonly engine: Engine<AgentHandshake, PeerIdentity>,
    readonly agent: IdentityAgent,
    private readonly flows: FlowRecord[],
  ) {}

  process(frame: Uint8Array, off: number, len: number, direction: Direction, now: number) {
    return this.engine.process(frame, off, len, direction, now);
  }

  drain(out: SimEvent[]): void {
    const pol = this.engine.currentPolicy;
    this.engine.events.drain((e) => {
      if (eventWantsRecord(e)) this.flows.push(toFlowRecord(e, pol, this.name));
      out.push({
        enforcer: this.name,
        kind: (EVENT_KIND_NAMES[e.kind] ?? 'decision') as SimEvent['kind'],
        verdict: e.verdict === EventVerdict.ALLOW ? 'allow' : e.verdict === EventVerdict.AUDIT ? 'audit' : 'deny',
        reason: e.reason,
        localClient: e.localClient,
        saddr: e.saddr,
        daddr: e.daddr,
        sport: e.sport,
        dport: e.dport,
        redirectPort: e.redirectPort,
        rule: e.rule === RULE_NONE ? 'none' : pol.ruleName(e.rule),
        peer: e.peerId === PEER_NONE ? null : pol.identityName(e.peerId),
        verified: e.verified,
        time: e.time,
        start: e.start,
        packets: e.packets,
        bytes: e.bytes,
      });
    });
  }

  conntrackEntries(): number {
    return this.engine.ct.size;
  }
}

export interface SimCluster extends Cluster {
  readonly ca: CaMaterial;
  readonly nodes: ReadonlyMap<string, { identity: NodeIdentity; agent: IdentityAgent; engine: Engine<AgentHandshake, PeerIdentity> }>;
  /** Flow records produced by the node engines so far. */
  readonly flows: FlowRecord[];
}

/** Conntrack capacity per node: room for the scenario's flows in the table at once, bounded. */
function ctCapacity(s: Scenario): number {
  const conns = s.traffic.reduce((n, t) => n + t.count, 0);
  return Math.max(4096, Math.min(1 << 20, 2 ** Math.ceil(Math.log2(Math.max(1, conns) * 2))));
}

export const createCluster: ClusterFactory = (s: Scenario, p: ScenarioPolicy, clock: FakeClock, _prng: Prng): SimCluster => {
  const now = clock.now();
  const ca = createCa({ trustDomain: s.trustDomain, nowMs: now });
  const bundle = bundleOf(ca);
  const flows: FlowRecord[] = [];
  const nodes = new Map<string, { identity: NodeIdentity; agent: IdentityAgent; engine: Engine<AgentHandshake, PeerIdentity> }>();
  const enforcers = new Map<string, NodeEnforcer>();
  const twins = new Map<string, NodeEnforcer>();
  const capacity = ctCapacity(s);
  for (const node of s.nodes) {
    const identity = issueNodeCredential(ca, { node, nowMs: now });
    // The simulator plays many connections from few addresses in little simulated time: lift the
    // per-source crypto budget so legitimate traffic is never rate limited (floods are issue 10's).
    const agent = new IdentityAgent({ node: identity, bundle, nowMs: now, config: { budgetPerSource: { ratePerSec: 1e9, burst: 1e9 }, budgetGlobal: { ratePerSec: 1e9, burst: 1e9 } } });
    for (const w of s.workloads) {
      if (w.node !== node || !w.enforcer) continue;
      agent.registerWorkload({ spiffeId: `spiffe://${s.trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`, labels: w.labels, ip: w.ip }, now);
    }
    const make = (): Engine<AgentHandshake, PeerIdentity> =>
      createEngine({
        name: node,
        node,
        agent,
        table: p.table,
        linkType: LinkType.ETHERNET,
        conntrack: { capacity, seed: 0x5eed },
        macOf: macForIp,
        ...(s.envoy === null ? {} : { envoyPort: s.envoy.inboundPort, redirectExclude: s.envoy.excludePorts.map((r) => [r.from, r.to] as const), redirect: true }),
      });
    const engine = make();
    nodes.set(node, { identity, agent, engine });
    enforcers.set(node, new NodeEnforcer(node, engine, agent, flows));
    // One engine instance keys a flow by its tuple, so a flow between two pods of the same node
    // would meet the same conntrack entry as client and as server. The twin plays the server side.
    if (SAME_NODE_TWIN) twins.set(node, new NodeEnforcer(node, make(), agent, flows));
  }
  return {
    ca,
    nodes,
    flows,
    node(name: string): ClusterEnforcer {
      const e = enforcers.get(name);
      if (e === undefined) throw new Error(`no node ${name}`);
      return e;
    },
    twin(name: string): ClusterEnforcer | null {
      return twins.get(name) ?? null;
    },
    attacker(kind: EngineAttack, _attacker: ScenarioWorkload, victim: ScenarioWorkload): ClusterEnforcer {
      const vn = nodes.get(victim.node);
      return new AttackerEnforcer(
        {
          kind,
          ca,
          victimCredential: vn?.identity.credential ?? new Uint8Array(0),
          victimNode: victim.node,
          claim: `spiffe://${s.trustDomain}/ns/${victim.namespace}/sa/${victim.serviceAccount}`,
          labels: victim.labels,
          trustDomain: s.trustDomain,
        },
        clock.now(),
      );
    },
    cacheStats(): Record<string, { hits: number; misses: number }> {
      const out: Record<string, { hits: number; misses: number }> = {};
      for (const { agent } of nodes.values()) {
        const st = agent.stats as unknown as Record<string, number>;
        for (const [k, v] of Object.entries(st)) {
          const m = /^(.*?)(Hits|Misses)$/.exec(k);
          if (m === null || typeof v !== 'number') continue;
          const cache = (m[1] ?? k).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
          const slot = out[cache] ?? { hits: 0, misses: 0 };
          if (m[2] === 'Hits') slot.hits += v;
          else slot.misses += v;
          out[cache] = slot;
        }
      }
      return out;
    },
  };
};
