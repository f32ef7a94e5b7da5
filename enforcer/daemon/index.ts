// Public surface of the daemon domain (`syngate run`): config loading, the metric set shared with
// the simulator, the flow-log sink, the admin server, the Kubernetes inventory and the lifecycle.
// Invariant: importing this module starts nothing and loads no native addon; runDaemon() loads
// the engine core (and through it the datapath adapters) only when a daemon really starts.
import type { DaemonConfig } from './config.js';
import { Daemon } from './daemon.js';
import { createLogger } from './log.js';
import { createMetrics } from './metrics.js';

export { CONFIG_ERROR, DENYLIST_ERROR, loadConfig, loadDenyList, parseConfig, parseDenyList } from './config.js';
export type { DaemonConfig, DatapathConfig, DenyListEntries, InventoryConfig, LogLevel, Mode, PortRange, RevocationConfig } from './config.js';
export { createLogger } from './log.js';
export type { Logger, LogFields } from './log.js';
export { CounterSync, HANDSHAKE_BUCKETS_SECONDS, createMetrics } from './metrics.js';
export type { SyngateMetrics } from './metrics.js';
export { FlowLog, nodeFlowLogFs } from './flowlog.js';
export { decodeFlowBatch, encodeFlowBatch } from './flow-proto.js';
export type { FlowLogFs, FlowLogOptions } from './flowlog.js';
export { startAdminServer } from './admin.js';
export type { AdminHandlers, AdminServer, ReadyState } from './admin.js';
export { FileWatcher, pathSignature } from './watch.js';
export { Daemon, STOP_DEADLINE_MS, defaultMap } from './daemon.js';
export type { DaemonOptions, EnforcerCore, ReloadResult, ReloadTrigger, StateGroup } from './daemon.js';
export { IGNORED_LABELS, KubeClient, KubeInventoryState, KubeWatcher, calicoInterfaceName, inClusterApiServer } from './k8s.js';
export { LimitReporter } from './limits.js';
export type { EngineCore, Credentials } from './core.js';
export type { KubeWorkload, KubePod, KubeNamespace, WatchEvent } from './k8s.js';

/** Start the daemon for a validated config and resolve with its exit status once it stopped. */
export async function runDaemon(config: DaemonConfig): Promise<number> {
  const logger = createLogger(config.log.level);
  const metrics = createMetrics({ processMetrics: true });
  const { createEngineCore, loadMapRenderer } = await import('./core.js');
  const core = await createEngineCore(config, logger, metrics);
  const renderMap = await loadMapRenderer();
  const daemon = new Daemon(config, core, { logger, metrics, signals: true, ...(renderMap === null ? {} : { renderMap }) });
  await daemon.start();
  const status = await daemon.done;
  // Everything the daemon owns is closed now. A native addon may still hold a libuv handle
  // (a netlink or capture socket) that keeps the loop alive; the daemon must not outlive its
  // stop, so exit once the CLI had a moment to return its status normally.
  setTimeout(() => process.exit(status), 300).unref();
  return status;
}
