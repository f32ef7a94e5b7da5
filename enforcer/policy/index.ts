// Public surface of the policy domain: loaders (policies, inventory), the compiler and its table,
// tool-facing evaluation, revocation and the reloading store. Other domains import only from here.
export type { Cidr } from './ipv4.js';
export { cidrContains, formatIpv4, parseCidr, parseIpv4 } from './ipv4.js';
export type { Diagnostic } from './yaml-read.js';
export { formatDiagnostic, parseYamlText, Reader } from './yaml-read.js';
export type * from './model.js';
export { Proto, PROTO_NAMES, policyId, protoFromIpProto } from './model.js';
export type { LoadResult } from './parse.js';
export { expandPaths, hasErrors, loadPolicyObjects, loadPolicyPaths, loadPolicyTexts, parseLabelExpr, parsePattern, parsePortText } from './parse.js';
export type { Inventory, InventoryResult, NamespaceInfo, Workload, WorkloadMode, WorkloadPort } from './inventory.js';
export {
  inventoryFromMap, loadInventoryFile, loadInventoryText, Mode, MODE_NAMES, parseSpiffeId, spiffeId,
} from './inventory.js';
export type { IdentityInfo } from './identity.js';
export { IdentityRegistry, UNAUTHENTICATED } from './identity.js';
export type { CompileOptions, Decision, LayerDecision } from './compile.js';
export {
  compile, Dir, KEYSPACE, PolicyTable, RULE_DEFAULT_ALLOW, RULE_DEFAULT_DENY, RULE_K8S_ISOLATION, VERDICT_ALLOW_BIT,
  VERDICT_AUDIT_BIT, VERDICT_RULE_SHIFT, VERDICT_UNKNOWN, verdictAllowed, verdictAudited, verdictRule,
} from './compile.js';
export type { EstablishedFlow, EvaluateOutcome, EvaluateQuery, EvaluateResult, ReloadResult, SideResult } from './evaluate.js';
export { evaluate, PolicyStore, revokedPairs } from './evaluate.js';
