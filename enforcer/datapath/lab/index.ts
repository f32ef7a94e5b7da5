// Public surface of the network-namespace lab (docs/lab.md): `syngate lab up|test|down|status`.
// Kept apart from enforcer/datapath/index.ts so the daemon never loads the lab's process and
// topology code.
export {
  DEFAULT_LAB_DIR,
  labUp,
  labTest,
  labDown,
  labStatus,
  formatStatus,
  labFlowRecords,
  findFlowRecord,
  runClient,
  startEnforcer,
  listNamespaces,
  type LabUpOptions,
  type LabTestResult,
  type LabConnection,
  type LabStatus,
  type DownReport,
  type ClientAttempt,
  type LabState,
  type LabProcess,
  type LabPlan,
  type LabPod,
  type LabNode,
  type LabDatapath,
} from './lab.js';
export { planLab, inLabRange, UNENFORCED_NODE } from './plan.js';
export { LIVE_ATTACKS, runAttack, type LiveAttack } from './attacks.js';
