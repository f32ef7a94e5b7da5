// The daemon's deny-list (docs/config.md `revocation`, docs/security.md "Revoking a credential"):
// revoked node credential serials and SPIFFE IDs, from the config and an optional watched file.
// Invariants:
//  - the deny-list in force is the union of the config's lists and the file's; loadDenyListState
//    reads everything before anything is applied, and throws (naming FILE:LINE:COL) on a bad entry;
//  - syncAgent makes the agent's deny-lists equal the new list (revoke what was added, unrevoke
//    what was removed) and touches nothing when the list is unchanged;
//  - CredentialTrackingPort only observes: each handshake step is the wrapped AgentIdentityPort's,
//    unchanged; on a verified peer it records tuple -> the serial of the credential that vouched
//    for it, so established flows (whose conntrack entry keeps only the peer's policy identity)
//    can be matched against revoked serials. Its map is bounded by prune() against the live table;
//  - selectDenied picks only flows whose peer proved a token (never IP-identity flows).
import type { IdentityAgent, PeerIdentity } from '../identity/index.js';
import { AgentIdentityPort, type AgentHandshake, type EngineIdentity, type EnginePolicy, type HandshakeOut, type TupleRef } from '../engine/index.js';
import { CtFlag, CtState, PEER_NONE, type ConntrackTable } from '../conntrack/index.js';
import { Reason } from '../reasons.js';
import { loadDenyList, type RevocationConfig } from './config.js';

/** The deny-list in force. */
export interface DenyList {
  readonly serials: ReadonlySet<string>;
  readonly spiffeIds: ReadonlySet<string>;
}

export const EMPTY_DENY_LIST: DenyList = { serials: new Set(), spiffeIds: new Set() };

/** The config's lists plus the deny-list file's (read now). Throws SyngateError naming the file. */
export function loadDenyListState(cfg: RevocationConfig): DenyList {
  const serials = new Set(cfg.serials);
  const spiffeIds = new Set(cfg.spiffeIds);
  if (cfg.file !== null) {
    const f = loadDenyList(cfg.file);
    for (const s of f.serials) serials.add(s);
    for (const s of f.spiffeIds) spiffeIds.add(s);
  }
  return { serials, spiffeIds };
}

export interface DenyListChange {
  addedSerials: string[];
  removedSerials: string[];
  addedSpiffeIds: string[];
  removedSpiffeIds: string[];
}

export function diffDenyList(prev: DenyList, next: DenyList): DenyListChange {
  const minus = (a: ReadonlySet<string>, b: ReadonlySet<string>): string[] => [...a].filter((x) => !b.has(x));
  return {
    addedSerials: minus(next.serials, prev.serials),
    removedSerials: minus(prev.serials, next.serials),
    addedSpiffeIds: minus(next.spiffeIds, prev.spiffeIds),
    removedSpiffeIds: minus(prev.spiffeIds, next.spiffeIds),
  };
}

/** Applies a change to the agent's deny-lists (they apply to the next handshake and to cached peers). */
export function syncAgent(agent: IdentityAgent, ch: DenyListChange): void {
  for (const s of ch.addedSerials) agent.revokeSerial(s);
  for (const s of ch.removedSerials) agent.unrevokeSerial(s);
  for (const s of ch.addedSpiffeIds) agent.revokeSpiffeId(s);
  for (const s of ch.removedSpiffeIds) agent.unrevokeSpiffeId(s);
}

function tupleKey(saddr: number, daddr: number, sport: number, dport: number): string {
  return `${saddr >>> 0}:${sport}>${daddr >>> 0}:${dport}`;
}

/**
 * The engine's identity port over an IdentityAgent that also remembers which node credential
 * vouched for the verified peer of each tuple (client -> server, the port the client dialled).
 * One per engine: the twin engine sees the same tuples with the other end as peer.
 */
export class CredentialTrackingPort implements EngineIdentity<AgentHandshake, PeerIdentity> {
  private readonly inner: AgentIdentityPort;
  private readonly serials = new Map<string, string>();
  private readonly dialled = new WeakMap<AgentHandshake, string>();

  constructor(agent: IdentityAgent) {
    this.inner = new AgentIdentityPort(agent);
  }

  get size(): number {
    return this.serials.size;
  }

  clientSyn(t: TupleRef, isnC: number, now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    this.inner.clientSyn(t, isnC, now, out);
    if (out.reason === Reason.OK && out.hs !== null) this.dialled.set(out.hs, tupleKey(t.saddr, t.daddr, t.sport, t.dport));
  }

  serverSyn(t: TupleRef, isnC: number, token: Uint8Array, now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    this.inner.serverSyn(t, isnC, token, now, out);
    if (out.reason === Reason.OK && out.peer !== null) this.serials.set(tupleKey(t.saddr, t.daddr, t.sport, t.dport), out.peer.credentialSerial);
  }

  serverSynAck(hs: AgentHandshake, isnS: number, now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    this.inner.serverSynAck(hs, isnS, now, out);
  }

  clientSynAck(hs: AgentHandshake, isnS: number, token: Uint8Array, now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    this.inner.clientSynAck(hs, isnS, token, now, out);
    const key = this.dialled.get(hs);
    if (out.reason === Reason.OK && out.peer !== null && key !== undefined) this.serials.set(key, out.peer.credentialSerial);
  }

  clientAck(hs: AgentHandshake, now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    this.inner.clientAck(hs, now, out);
  }

  serverAck(hs: AgentHandshake, token: Uint8Array, now: number, out: HandshakeOut<AgentHandshake, PeerIdentity>): void {
    this.inner.serverAck(hs, token, now, out);
  }

  /** Serial of the credential that vouched for the peer of the flow in `slot`, if seen. */
  serialOf(ct: ConntrackTable<unknown>, slot: number): string | undefined {
    return this.serials.get(slotKey(ct, slot));
  }

  /** Forgets tuples no longer tracked in `ct`; returns how many were dropped. */
  prune(ct: ConntrackTable<unknown>): number {
    const live = new Set<string>();
    for (let s = 0; s < ct.slots; s++) if (ct.state(s) !== CtState.FREE) live.add(slotKey(ct, s));
    let n = 0;
    for (const k of this.serials.keys()) {
      if (!live.has(k)) {
        this.serials.delete(k);
        n++;
      }
    }
    return n;
  }
}

function slotKey(ct: ConntrackTable<unknown>, s: number): string {
  const dport = (ct.flags(s) & CtFlag.REDIRECTED) !== 0 ? ct.origPort(s) : ct.dport(s);
  return tupleKey(ct.saddr(s), ct.daddr(s), ct.sport(s), dport);
}

/**
 * Engine.revokeFlows selector: true iff the flow's verified peer has a deny-listed SPIFFE ID
 * (from its policy identity) or was vouched for by a deny-listed node credential serial.
 */
export function selectDenied(ct: ConntrackTable<unknown>, policy: EnginePolicy<PeerIdentity>, port: CredentialTrackingPort, deny: DenyList): (slot: number) => boolean {
  return (s) => {
    if ((ct.flags(s) & CtFlag.IP_IDENTITY) !== 0) return false;
    const id = ct.peerId(s);
    if (id !== PEER_NONE) {
      const name = policy.identityName(id);
      if (name !== null && deny.spiffeIds.has(name)) return true;
    }
    if (deny.serials.size === 0) return false;
    const serial = port.serialOf(ct, s);
    return serial !== undefined && deny.serials.has(serial);
  };
}
