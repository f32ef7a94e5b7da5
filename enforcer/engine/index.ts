// Public surface of engine/: the per-packet engine, its ports and adapters, events and flow records.
export { Direction, Verdict, LinkType, FRAME_HEADROOM, type OutboxEntry, type ProcessResult } from './types.js';
export type { FlowRecord, FlowEndpoint } from './flow-record.js';
export {
  Engine,
  HsRecord,
  TokenBuf,
  Counter,
  COUNTER_NAMES,
  DEFAULT_ENVOY_PORT,
  DEFAULT_REJECT_RST_PER_SECOND,
  DEFAULT_REDIRECT_EXCLUDE,
  type EngineOptions,
  type RevocationResult,
} from './engine.js';
export {
  Mode,
  MODE_NAMES,
  packDecision,
  decisionDenies,
  decisionRule,
  DECISION_ALLOW_BIT,
  DECISION_AUDIT_BIT,
  DECISION_RULE_SHIFT,
  type PackedDecision,
  type EngineIdentity,
  type EnginePolicy,
  type HandshakeOut,
  type TupleRef,
} from './ports.js';
export { EventRing, EngineEvent, EventKind, EVENT_KIND_NAMES, EventVerdict, EVENT_VERDICT_NAMES } from './events.js';
export { toFlowRecord, eventWantsRecord, dotted } from './records.js';
export {
  AgentIdentityPort,
  TablePolicyPort,
  createEngine,
  swapTable,
  type AgentHandshake,
  type CreateEngineOptions,
  type TablePolicyOptions,
} from './adapters.js';
