// Public surface of the simulator: the in-memory wire, the TCP endpoint model and (as they land)
// the scenario loader, the runner and the dependency map.
export { Prng } from './prng.js';
export {
  TcpHost,
  TcpConnection,
  type TcpHostOptions,
  type TcpState,
  type RxRecord,
  type ConnectOptions,
} from './tcp-endpoint.js';
export {
  Wire,
  FakeClock,
  PASS_THROUGH,
  describeFrame,
  type SimEnforcer,
  type SimResult,
  type Hop,
  type HookAction,
  type WireHook,
  type WireFrameEvent,
  type WireDecision,
  type WireOptions,
  type WireStats,
} from './wire.js';
export {
  parseFrame,
  writeFrame,
  ipToU32,
  u32ToIp,
  macForIp,
  TCP_FIN,
  TCP_SYN,
  TCP_RST,
  TCP_PSH,
  TCP_ACK,
  type ParsedFrame,
  type TcpFrameSpec,
} from './frame.js';
export {
  loadScenario,
  parseScenario,
  ATTACKS,
  MODES,
  type Scenario,
  type ScenarioWorkload,
  type ScenarioTraffic,
  type AttackKind,
  type PolicySource,
} from './scenario.js';
export { buildScenarioPolicy, type ScenarioPolicy } from './setup.js';
export { runScenario, Simulation, type Cluster, type ClusterEnforcer, type ClusterFactory, type RunOptions, type RunMetrics, type SimEvent, type EngineAttack } from './run.js';
export { createCluster, type SimCluster } from './cluster.js';
export { AttackerEnforcer, type AttackerMaterial } from './attackers.js';
export { renderMap, buildMapModel, type MapWorkload, type MapOptions, type MapModel, type MapEdge } from './map.js';
export { formatTable, toJson, flowsJsonl, writeOutputs, mapSize, type ConnectionResult, type SimulationResult, type SimulationSummary, type SimulateJson, type WrittenOutputs } from './output.js';
export { simMetricsText } from './metrics.js';
export { screenshot, dumpDom, findChromium } from './chromium.js';
export { generateScale, writeScale, type ScaleOptions, type ScaleFiles } from './scale.js';
