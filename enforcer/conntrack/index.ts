// Public surface of conntrack/: the typed-array flow table, its sweep, states and flags.
export { CtState, CtFlag, CT_STATE_NAMES, ctStateName, formatFlags, isHalfOpen, TimeoutClass, STATE_CLASS } from './flags.js';
export {
  ConntrackTable,
  DEFAULT_TIMEOUTS,
  BYTES_PER_SLOT,
  RULE_NONE,
  PEER_NONE,
  DEFAULT_MAX_LOAD,
  KG_STRIDE,
  REC_STRIDE,
  KG_SADDR,
  KG_DADDR,
  KG_PORTS,
  KG_META,
  META_STATE_SHIFT,
  META_STATE_MASK,
  META_FLAGS_SHIFT,
  HOT_STRIDE,
  HOT_LAST_SEEN,
  HOT_CREATED,
  HOT_PACKETS,
  HOT_BYTES_LO,
  HOT_BYTES_HI,
  HOT_SEQ_ORIG,
  HOT_SEQ_REPLY,
  HOT_PEER_ID,
  type ConntrackOptions,
  type ConntrackTimeouts,
  type ConntrackStats,
  type ExpireHook,
} from './table.js';
export { Sweeper, type SweepStats } from './sweep.js';
export { HandshakeSideTable, SIDE_MAX_CAPACITY } from './side-table.js';
export { SourceCounter } from './source-limit.js';
export { snapshotConntrack, restoreConntrack, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SNAPSHOT_LAYOUT, type RestoreResult } from './snapshot.js';
