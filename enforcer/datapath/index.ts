// Public surface of the live datapaths. `createDatapath` validates options and builds an adapter;
// native addons load only in start(), so importing this module is safe anywhere.
import { NfqueueAdapter } from './nfqueue.js';
import { PcapAdapter } from './pcap.js';
import type { DatapathAdapter, DatapathOptions } from './types.js';

export type {
  AdapterState,
  CommonDatapathOptions,
  DatapathAdapter,
  DatapathCounters,
  DatapathKind,
  DatapathOptions,
  FrameDecision,
  FrameHandler,
  NfqueueOptions,
  OriginalDestination,
  PcapOptions,
  StopOptions,
} from './types.js';
export { passThroughHandler, newDecision, zeroCounters } from './base.js';
export { NfqueueAdapter, DEFAULT_QUEUE_BASE, DEFAULT_MARK_CLIENT, DEFAULT_MARK_SERVER, nfqueueRuleSpec } from './nfqueue.js';
export { installScript, removalCommands } from './nfqueue-rules.js';
export { PcapAdapter, checkOffloads, offloadsOn } from './pcap.js';
export { OrigDstTable } from './origdst.js';
export { createEngineHandler, SameNodeSplitter, buildScenarioEnforcer } from './engine-handler.js';
export type { EngineHandlerOptions, ProcessingEngine, ScenarioEnforcer, ScenarioEnforcerOptions } from './engine-handler.js';

/** Builds the adapter named by `opts.kind`. Throws SYNGATE_DATAPATH_CONFIG on bad options. */
export function createDatapath(opts: DatapathOptions): DatapathAdapter {
  return opts.kind === 'nfqueue' ? new NfqueueAdapter(opts) : new PcapAdapter(opts);
}
