// Public surface of conntrack/: the typed-array flow table, its sweep, states and flags.
export { CtState, CtFlag, CT_STATE_NAMES, ctStateName, formatFlags, isHalfOpen, TimeoutClass, STATE_CLASS } from './flags.js';
export {
  ConntrackTable,
  DEFAULT_TIMEOUTS,
  BYTES_PER_SLOT,
  RULE_NONE,
  PEER_NONE,
  MAX_DIST,
  type ConntrackOptions,
  type ConntrackTimeouts,
  type ConntrackStats,
  type ExpireHook,
} from './table.js';
export { Sweeper, type SweepStats } from './sweep.js';
export { HandshakeSideTable, SIDE_MAX_CAPACITY } from './side-table.js';
export { SourceCounter } from './source-limit.js';
