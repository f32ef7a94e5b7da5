// Adapters from the concrete identity and policy domains to the engine's ports, and a one-call
// engine factory for the daemon and the simulator.
// Invariants: adapters never throw out of a port method (the IdentityAgent and PolicyTable already
// return Reasons / verdict words; anything unexpected becomes Reason.INTERNAL or a deny); the policy
// port treats as local only the inventory workloads of this node that run an enforcer, so a node
// never enforces on another node's behalf; a policy port is bound to one table revision (build a
// new one per swap).
import {
  ClientHandshake,
  ServerHandshake,
  type Binding,
  type IdentityAgent,
  type PeerIdentity,
} from '../identity/index.js';
import { Dir, UNAUTHENTICATED, type PolicyTable, type Workload } from '../policy/index.js';
import { Reason } from '../reasons.js';
import { Engine, type EngineOptions } from './engine.js';
import { Mode, type EngineIdentity, type EnginePolicy, type HandshakeOut, type TupleRef } from './ports.js';

export type AgentHandshake = ClientHandshake | ServerHandshake;

// Byte offsets of the 21-byte binding (docs/tokens.md): src ip u32, dst ip u32, src port u16,
// dst port u16, proto u8, isnC u32, isnS u32 — all big-endian.
const B_SRC_IP = 0;
const B_DST_IP = 4;
const B_SRC_PORT = 8;
const B_DST_PORT = 10;
const B_PROTO = 12;
const B_ISN_C = 13;

function be32(k: Uint8Array, o: number): number {
  return ((k[o]! << 24) | (k[o + 1]! << 16) | (k[o + 2]! << 8) | k[o + 3]!) >>> 0;
}

/** The engine's identity port over an IdentityAgent. */
export class AgentIdentityPort implements EngineIdentity<AgentHandshake, PeerIdentity> {
  private readonly b: Binding = { srcIp: 0, dstIp: 0, srcPort: 0, dstPort: 0, proto: 6, isnC: 0, isnS: 0 };

  constructor(readonly agent: IdentityAgent) {}

  private bind(t: TupleRef, isnC: number, isnS: number): Binding {
    const b = this.b;
    b.srcIp = t.saddr >>> 0;
    b.dstIp = t.daddr >>> 0;
    b.srcPort = t.sport;
    b.dstPort = t.dport;
    b.proto = 6;
    b.isnC = isnC >>> 0;
    b.isnS = isnS >>> 0;
    return b;
  }

  clientSyn(t: TupleRef, isnC: number, now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    const local = this.agent.workloadForIp(t.saddr);
    if (local === undefined) {
      out.reason = Reason.UNKNOWN_WORKLOAD;
      return;
    }
    const hs = this.agent.buildSyn(local, this.bind(t, isnC, 0), now);
    out.reason = hs.reason;
    out.hs = hs;
    out.token = hs.token;
    out.tokenLen = hs.token.length;
    out.cold = hs.cold;
    if (hs.reason === Reason.OK && hs.token.length === 0) out.reason = Reason.INTERNAL;
  }

  serverSyn(t: TupleRef, isnC: number, token: Uint8Array, now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    const local = this.agent.workloadForIp(t.daddr);
    if (local === undefined) {
      out.reason = Reason.UNKNOWN_WORKLOAD;
      return;
    }
    const hs = this.agent.verifySyn(local, token, this.bind(t, isnC, 0), now);
    out.reason = hs.reason;
    out.hs = hs;
    out.peer = hs.peer;
    if (hs.reason === Reason.OK && hs.peer === null) out.reason = Reason.INTERNAL;
  }

  serverSynAck(hs: AgentHandshake, isnS: number, now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    if (!(hs instanceof ServerHandshake)) {
      out.reason = Reason.INTERNAL;
      return;
    }
    const tok = this.agent.buildSynAck(hs, isnS, now);
    out.reason = tok.length > 0 ? Reason.OK : hs.reason === Reason.OK ? Reason.INTERNAL : hs.reason;
    out.token = tok;
    out.tokenLen = tok.length;
  }

  clientSynAck(hs: AgentHandshake, isnS: number, token: Uint8Array, now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    if (!(hs instanceof ClientHandshake)) {
      out.reason = Reason.INTERNAL;
      return;
    }
    const k: Uint8Array = hs.binding;
    const b = this.b;
    b.srcIp = be32(k, B_SRC_IP);
    b.dstIp = be32(k, B_DST_IP);
    b.srcPort = (k[B_SRC_PORT]! << 8) | k[B_SRC_PORT + 1]!;
    b.dstPort = (k[B_DST_PORT]! << 8) | k[B_DST_PORT + 1]!;
    b.proto = k[B_PROTO]!;
    b.isnC = be32(k, B_ISN_C);
    b.isnS = isnS >>> 0;
    out.reason = this.agent.verifySynAck(hs, token, b, now);
    out.peer = hs.peer;
    if (out.reason === Reason.OK && hs.peer === null) out.reason = Reason.INTERNAL;
  }

  clientAck(hs: AgentHandshake, _now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    if (!(hs instanceof ClientHandshake)) {
      out.reason = Reason.INTERNAL;
      return;
    }
    const tok = this.agent.buildAck(hs);
    out.reason = tok.length > 0 ? Reason.OK : Reason.INTERNAL;
    out.token = tok;
    out.tokenLen = tok.length;
  }

  serverAck(hs: AgentHandshake, token: Uint8Array, now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    if (!(hs instanceof ServerHandshake)) {
      out.reason = Reason.INTERNAL;
      return;
    }
    out.reason = this.agent.verifyAck(hs, token, now);
  }
}

export interface TablePolicyOptions {
  /** This enforcer's node name: its local workloads are the inventory's workloads on it with `enforcer: true`. */
  node: string;
  /** Which local workloads have an Envoy sidecar whose inbound port receives their authorized flows (default none). */
  redirect?: boolean | ((w: Workload) => boolean);
}

/** The engine's policy port over one compiled PolicyTable revision. */
export class TablePolicyPort implements EnginePolicy<PeerIdentity> {
  readonly revision: number;
  private readonly local = new Map<number, number>();
  private readonly redirects: Uint8Array;
  private readonly ids = new WeakMap<PeerIdentity, number>();

  constructor(
    readonly table: PolicyTable,
    opts: TablePolicyOptions,
  ) {
    this.revision = table.revision;
    const ws = table.inventory.workloads;
    this.redirects = new Uint8Array(ws.length);
    for (const w of ws) {
      if (w.node !== opts.node || !w.enforcer) continue;
      this.local.set(w.ipU32 >>> 0, w.index);
      const r = opts.redirect;
      if (r === true || (typeof r === 'function' && r(w))) this.redirects[w.index] = 1;
    }
  }

  workloadOf(ip: number): number {
    return this.local.get(ip >>> 0) ?? -1;
  }

  mode(workload: number): Mode {
    const m = this.table.modeOf(workload);
    return m === Mode.AUDIT ? Mode.AUDIT : m === Mode.OFF ? Mode.OFF : Mode.ENFORCE;
  }

  redirect(workload: number): boolean {
    return this.redirects[workload] === 1;
  }

  peerId(peer: PeerIdentity): number {
    let id = this.ids.get(peer);
    if (id === undefined) {
      id = this.table.identity(peer.spiffeId, peer.labels);
      this.ids.set(peer, id);
    }
    return id;
  }

  ipPeerId(_ip: number): number {
    return UNAUTHENTICATED;
  }

  expectedPeerId(ip: number): number {
    const w = this.table.inventory.byIp.get(ip >>> 0);
    return w === undefined || !w.enforcer ? UNAUTHENTICATED : (this.table.workloadIdentity[w.index] ?? UNAUTHENTICATED);
  }

  ingress(workload: number, peerId: number, peerIp: number, proto: number, port: number): number {
    return this.table.lookup(Dir.INGRESS, workload, peerId, peerIp, proto, port);
  }

  egress(workload: number, peerId: number, peerIp: number, proto: number, port: number): number {
    return this.table.lookup(Dir.EGRESS, workload, peerId, peerIp, proto, port);
  }

  ruleName(rule: number): string {
    return this.table.ruleId(rule);
  }

  identityName(peerId: number): string | null {
    const i = this.table.identities.get(peerId);
    return i === undefined || !i.authenticated ? null : i.spiffeId;
  }

  workloadName(ip: number): string | null {
    const w = this.table.inventory.byIp.get(ip >>> 0);
    return w === undefined ? null : `${w.namespace}/${w.name}`;
  }
}

export interface CreateEngineOptions extends Omit<EngineOptions<AgentHandshake, PeerIdentity>, 'identity' | 'policy'> {
  agent: IdentityAgent;
  table: PolicyTable;
  /** Node name (defaults to the engine name). */
  node?: string;
  redirect?: TablePolicyOptions['redirect'];
}

/** An engine wired to a real IdentityAgent and PolicyTable. */
export function createEngine(opts: CreateEngineOptions): Engine<AgentHandshake, PeerIdentity> {
  const node = opts.node ?? opts.name ?? opts.agent.nodeName;
  const { agent, table, redirect, ...rest } = opts;
  return new Engine<AgentHandshake, PeerIdentity>({
    ...rest,
    name: opts.name ?? node,
    identity: new AgentIdentityPort(agent),
    policy: new TablePolicyPort(table, redirect === undefined ? { node } : { node, redirect }),
  });
}

/** Swaps in a new table on an engine built by createEngine (revocation included). */
export function swapTable(engine: Engine<AgentHandshake, PeerIdentity>, table: PolicyTable, opts: TablePolicyOptions, now: number): ReturnType<Engine['setPolicy']> {
  return engine.setPolicy(new TablePolicyPort(table, opts), now);
}

