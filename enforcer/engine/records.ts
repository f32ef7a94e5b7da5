// Flow records from engine events, built off the hot path (when the daemon or the simulator drains
// the event ring). Invariant: one record per DECISION deny/audit-deny, CLOSE, REVOKE, TIMEOUT and
// PEER_REJECT event; an allowed DECISION produces no record (the flow reports when it closes, or
// per interval through openRecord).
import type { FlowRecord } from './flow-record.js';
import { EVENT_VERDICT_NAMES, EventKind, EventVerdict, type EngineEvent } from './events.js';
import type { EnginePolicy } from './ports.js';
import { reasonLabel } from '../reasons.js';

const RULE_NONE = 0xffffff;

export function dotted(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/** True iff this event should become a flow-log line. */
export function eventWantsRecord(e: EngineEvent): boolean {
  return e.kind !== EventKind.DECISION || e.verdict !== EventVerdict.ALLOW;
}

/** The flow record for an event; `policy` names rules, identities and workloads. */
export function toFlowRecord(e: EngineEvent, policy: EnginePolicy<unknown>, enforcer: string): FlowRecord {
  const peerName = e.peerId === 0xffffffff ? null : policy.identityName(e.peerId);
  const clientIdentity = e.localClient ? null : peerName;
  const serverIdentity = e.localClient ? peerName : null;
  const state: FlowRecord['state'] =
    e.kind === EventKind.REVOKE ? 'revoked' : e.kind === EventKind.CLOSE ? 'closed' : e.verdict === EventVerdict.ALLOW ? 'open' : e.verdict === EventVerdict.AUDIT ? 'open' : 'rejected';
  const reason = e.kind === EventKind.PEER_REJECT ? 'peer-reject' : reasonLabel(e.reason);
  const rec: FlowRecord = {
    ts: new Date(e.time).toISOString(),
    enforcer,
    direction: e.localClient ? 'outbound' : 'inbound',
    src: { ip: dotted(e.saddr), port: e.sport, workload: policy.workloadName(e.saddr), identity: clientIdentity },
    dst: { ip: dotted(e.daddr), port: e.dport, workload: policy.workloadName(e.daddr), identity: serverIdentity },
    port: e.dport,
    verdict: EVENT_VERDICT_NAMES[e.verdict] ?? 'deny',
    reason,
    rule: e.rule === RULE_NONE ? (e.kind === EventKind.PEER_REJECT ? 'peer' : 'none') : policy.ruleName(e.rule),
    audit: [],
    state: e.kind === EventKind.TIMEOUT || e.kind === EventKind.PEER_REJECT ? 'rejected' : state,
    packets: e.packets,
    bytes: e.bytes,
    start: new Date(e.start).toISOString(),
  };
  if (e.redirectPort !== 0) rec.redirectPort = e.redirectPort;
  return rec;
}
