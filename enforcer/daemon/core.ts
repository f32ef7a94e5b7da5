// The engine core the daemon drives (policy + inventory + identity + engine + datapath).
// Wired to the engine once it lands.
import { SyngateError } from '../errors.js';
import type { DaemonConfig } from './config.js';
import type { EnforcerCore } from './daemon.js';
import type { Logger } from './log.js';
import type { SyngateMetrics } from './metrics.js';
import type { FlowRecord } from '../engine/flow-record.js';

export async function createEngineCore(_c: DaemonConfig, _l: Logger, _m: SyngateMetrics): Promise<EnforcerCore> {
  throw new SyngateError('SYNGATE_DAEMON_START', 'the engine core is not wired yet');
}

export async function loadMapRenderer(): Promise<((r: FlowRecord[]) => string) | null> {
  return null;
}
