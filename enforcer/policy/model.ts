// The validated policy model: what the loaders produce and what the compiler and the reference
// evaluator consume. Invariants: every value here was checked at the edge (ports 1..65535, ranges
// ordered, CIDRs parsed, patterns with at most one leading or trailing `*`); an absent list means
// "no constraint" and is `undefined`, never an empty array; L7 fields are already reduced to the
// `l7` flags (an ALLOW/AUDIT rule with `l7` never matches; DENY ignores them).
import type { Cidr } from './ipv4.js';

/** Where a value came from, for messages and explain output. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** A string pattern: exact, `prefix*`, `*suffix`, or `*` (any non-empty value). */
export interface StringMatch {
  readonly kind: 'exact' | 'prefix' | 'suffix' | 'any';
  readonly value: string;
}

/** Transport protocol slots used in compiled keys. */
export const Proto = { TCP: 0, UDP: 1, SCTP: 2, OTHER: 3 } as const;
export type Proto = (typeof Proto)[keyof typeof Proto];
export const PROTO_NAMES = ['TCP', 'UDP', 'SCTP', 'OTHER'] as const;

/** Maps an IP protocol number (6, 17, 132) to a Proto slot. */
export function protoFromIpProto(n: number): Proto {
  return n === 6 ? Proto.TCP : n === 17 ? Proto.UDP : n === 132 ? Proto.SCTP : Proto.OTHER;
}

/** Inclusive port range, 1..65535 (0..65535 when it means "every port"). */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/** One native label expression on the peer's signed labels. */
export interface LabelExpr {
  readonly op: 'eq' | 'ne' | 'exists' | 'absent';
  readonly key: string;
  /** For eq/ne: the value pattern (exact or with a leading/trailing `*`). */
  readonly value?: StringMatch;
  readonly text: string;
}

/** Istio `source` (and the native peer): every present field must match (AND); within a list, any (OR). */
export interface PeerSpec {
  principals?: StringMatch[];
  notPrincipals?: StringMatch[];
  namespaces?: StringMatch[];
  notNamespaces?: StringMatch[];
  /** Istio `serviceAccounts`: `ns/sa` pairs. */
  serviceAccounts?: { ns: string; sa: string }[];
  notServiceAccounts?: { ns: string; sa: string }[];
  ipBlocks?: Cidr[];
  notIpBlocks?: Cidr[];
  /** Native: label expressions on the peer's signed labels, ANDed. */
  labels?: LabelExpr[];
  /** Native: CIDRs of peers that run no enforcer (matches only unauthenticated peers). */
  networks?: Cidr[];
  /** True if the element named L7-only fields (requestPrincipals, remoteIpBlocks...). */
  l7: boolean;
}

export interface OperationSpec {
  ports?: PortRange[];
  notPorts?: PortRange[];
  l7: boolean;
}

export type ConditionKey =
  | 'source.ip'
  | 'source.namespace'
  | 'source.principal'
  | 'destination.port'
  | 'destination.ip';

/** One `when` entry. L7 keys are kept only as `l7: true` with no values. */
export type Condition =
  | { key: 'source.ip' | 'destination.ip'; values?: Cidr[]; notValues?: Cidr[]; l7: false }
  | { key: 'source.namespace' | 'source.principal'; values?: StringMatch[]; notValues?: StringMatch[]; l7: false }
  | { key: 'destination.port'; values?: PortRange[]; notValues?: PortRange[]; l7: false }
  | { key: string; l7: true };

export interface ToSpec {
  operation?: OperationSpec;
  /** Native Egress policies only: the destination peer. */
  destination?: PeerSpec;
}

export interface AuthzRule {
  /** Absent or empty in the source: any peer. */
  from?: { source?: PeerSpec }[];
  /** Absent or empty in the source: any operation. */
  to?: ToSpec[];
  when?: Condition[];
  /** True if any part of the rule names an L7 field. */
  l7: boolean;
  /** L7 field paths, for warnings and explain. */
  l7Fields: string[];
  pos: SourcePos;
}

export type Action = 'ALLOW' | 'DENY' | 'AUDIT';

/** Istio AuthorizationPolicy or syngate's native policy (same shape). */
export interface AuthzPolicy {
  readonly kind: 'AuthorizationPolicy' | 'SyngatePolicy';
  readonly layer: 'istio' | 'syngate';
  readonly namespace: string;
  readonly name: string;
  readonly action: Action;
  /** Absent: every workload of the namespace (or the mesh, in the root namespace). */
  readonly selector?: { matchLabels?: Record<string, string>; labels?: LabelExpr[] };
  /** Istio policies are always ingress. */
  readonly direction: 'ingress' | 'egress';
  /** Empty: the policy has no rules (an ALLOW policy then allows nothing). */
  readonly rules: AuthzRule[];
  readonly pos: SourcePos;
}

export interface K8sSelectorReq {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

/** Kubernetes label selector; empty (no labels, no expressions) selects everything. */
export interface K8sSelector {
  matchLabels: Record<string, string>;
  matchExpressions: K8sSelectorReq[];
}

export type K8sPeer =
  | { podSelector?: K8sSelector; namespaceSelector?: K8sSelector }
  | { ipBlock: { cidr: Cidr; except: Cidr[] } };

export interface K8sPort {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  /** Absent: every port of the protocol. A string is a named port. */
  port?: number | string;
  endPort?: number;
}

export interface K8sRule {
  /** Absent or empty: every peer. */
  peers?: K8sPeer[];
  /** Absent or empty: every port. */
  ports?: K8sPort[];
  pos: SourcePos;
}

export interface NetworkPolicy {
  readonly kind: 'NetworkPolicy';
  readonly layer: 'k8s';
  readonly namespace: string;
  readonly name: string;
  readonly podSelector: K8sSelector;
  readonly ingressIsolated: boolean;
  readonly egressIsolated: boolean;
  readonly ingress: K8sRule[];
  readonly egress: K8sRule[];
  readonly pos: SourcePos;
}

export type Policy = AuthzPolicy | NetworkPolicy;

/** Stable id of a policy: `KIND/NAMESPACE/NAME`. */
export function policyId(p: Policy): string {
  return `${p.kind}/${p.namespace}/${p.name}`;
}
