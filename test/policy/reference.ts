// Reference evaluator, written from the semantics in docs/policy.md (Istio's and Kubernetes'
// documented behaviour) without intervals, IP classes, hashing or caching: it walks every policy
// for every single query. Slow on purpose; the property test checks the compiled table against it.
import type {
  AuthzPolicy, Cidr, Inventory, K8sSelector, LabelExpr, NetworkPolicy, PeerSpec, Policy, PortRange, StringMatch, Workload,
} from '../../enforcer/policy/index.js';

export interface RefPeer {
  /** Verified identity, or undefined for a peer without an enforcer. */
  spiffeId?: string;
  labels?: Record<string, string>;
  ip: number;
}

export interface RefQuery {
  /** 'ingress': local is the destination, peer the source. 'egress': local is the source. */
  dir: 'ingress' | 'egress';
  local: Workload;
  peer: RefPeer;
  proto: 'TCP' | 'UDP' | 'SCTP' | 'OTHER';
  port: number;
}

export interface RefVerdict {
  allow: boolean;
  rule: string;
  audit: string[];
}

export interface RefOptions {
  rootNamespace?: string;
  defaultDeny?: boolean;
}

function inCidr(c: Cidr, ip: number): boolean {
  if (c.v6) return false;
  const size = 2 ** (32 - c.bits);
  return Math.floor(ip / size) === Math.floor(c.start / size);
}

function strMatch(m: StringMatch, s: string): boolean {
  if (m.kind === 'any') return s.length > 0;
  if (m.kind === 'exact') return s === m.value;
  if (m.kind === 'prefix') return s.slice(0, m.value.length) === m.value;
  return s.length >= m.value.length && s.slice(s.length - m.value.length) === m.value;
}

function label(labels: Record<string, string> | undefined, k: string): string | undefined {
  if (labels === undefined) return undefined;
  return Object.prototype.hasOwnProperty.call(labels, k) ? labels[k] : undefined;
}

function exprHolds(e: LabelExpr, labels: Record<string, string> | undefined): boolean {
  const v = label(labels, e.key);
  if (e.op === 'exists') return v !== undefined;
  if (e.op === 'absent') return v === undefined;
  const eq = v !== undefined && e.value !== undefined && strMatch(e.value, v);
  return e.op === 'eq' ? eq : !eq;
}

function selectorHolds(sel: K8sSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (label(labels, k) !== v) return false;
  for (const r of sel.matchExpressions) {
    const v = label(labels, r.key);
    if (r.operator === 'In' && (v === undefined || !r.values.includes(v))) return false;
    if (r.operator === 'NotIn' && v !== undefined && r.values.includes(v)) return false;
    if (r.operator === 'Exists' && v === undefined) return false;
    if (r.operator === 'DoesNotExist' && v !== undefined) return false;
  }
  return true;
}

interface PeerFacts {
  authenticated: boolean;
  principal: string;
  namespace: string;
  sa: string;
  labels: Record<string, string>;
  ip: number;
}

function facts(p: RefPeer): PeerFacts {
  if (p.spiffeId === undefined) return { authenticated: false, principal: '', namespace: '', sa: '', labels: {}, ip: p.ip };
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p.spiffeId);
  return {
    authenticated: true,
    principal: p.spiffeId.replace(/^spiffe:\/\//, ''),
    namespace: m?.[2] ?? '',
    sa: m?.[3] ?? '',
    labels: p.labels ?? {},
    ip: p.ip,
  };
}

/** Istio source / native peer: every named field must hold; a list holds if any entry does. */
function sourceHolds(s: PeerSpec, f: PeerFacts): boolean {
  const some = (l: StringMatch[] | undefined, v: string): boolean => f.authenticated && (l ?? []).some((m) => strMatch(m, v));
  if (s.principals && !some(s.principals, f.principal)) return false;
  if (s.notPrincipals && some(s.notPrincipals, f.principal)) return false;
  if (s.namespaces && !some(s.namespaces, f.namespace)) return false;
  if (s.notNamespaces && some(s.notNamespaces, f.namespace)) return false;
  const saIn = (l: { ns: string; sa: string }[]): boolean => f.authenticated && l.some((x) => x.ns === f.namespace && x.sa === f.sa);
  if (s.serviceAccounts && !saIn(s.serviceAccounts)) return false;
  if (s.notServiceAccounts && saIn(s.notServiceAccounts)) return false;
  if (s.ipBlocks && !s.ipBlocks.some((c) => inCidr(c, f.ip))) return false;
  if (s.notIpBlocks && s.notIpBlocks.some((c) => inCidr(c, f.ip))) return false;
  if (s.labels && !(f.authenticated && s.labels.every((e) => exprHolds(e, f.labels)))) return false;
  if (s.networks && (f.authenticated || !s.networks.some((c) => inCidr(c, f.ip)))) return false;
  return true;
}

function portIn(list: PortRange[], port: number): boolean {
  return list.some((r) => port >= r.from && port <= r.to);
}

/** Does this Istio-shaped rule match the query? (Only asked for TCP.) */
function authzRuleMatches(p: AuthzPolicy, ri: number, q: RefQuery, f: PeerFacts): boolean {
  const rule = p.rules[ri];
  if (rule === undefined) return false;
  if (rule.l7 && p.action === 'ALLOW') return false; // needs L7: can never be satisfied at L4
  const fromOk = rule.from === undefined || rule.from.some((e) => e.source === undefined || sourceHolds(e.source, f));
  if (!fromOk) return false;
  const toOk =
    rule.to === undefined ||
    rule.to.some((t) => {
      if (t.destination !== undefined && !sourceHolds(t.destination, f)) return false;
      const op = t.operation;
      if (op === undefined) return true;
      if (op.ports !== undefined && !portIn(op.ports, q.port)) return false;
      if (op.notPorts !== undefined && portIn(op.notPorts, q.port)) return false;
      return true;
    });
  if (!toOk) return false;
  for (const c of rule.when ?? []) {
    if (c.l7) continue;
    if (c.key === 'source.ip' || c.key === 'destination.ip') {
      const ip = c.key === 'source.ip' ? f.ip : q.local.ipU32;
      if (c.values !== undefined && !c.values.some((x) => inCidr(x, ip))) return false;
      if (c.notValues !== undefined && c.notValues.some((x) => inCidr(x, ip))) return false;
    } else if (c.key === 'source.namespace' || c.key === 'source.principal') {
      const v = c.key === 'source.namespace' ? f.namespace : f.principal;
      const hit = (l: StringMatch[]): boolean => f.authenticated && l.some((m) => strMatch(m, v));
      if (c.values !== undefined && !hit(c.values)) return false;
      if (c.notValues !== undefined && hit(c.notValues)) return false;
    } else if (c.key === 'destination.port') {
      if (c.values !== undefined && !portIn(c.values, q.port)) return false;
      if (c.notValues !== undefined && portIn(c.notValues, q.port)) return false;
    }
  }
  return true;
}

/** When several rules match, the reported one is the first by (namespace, name, rule index). */
function order(a: Policy, b: Policy): number {
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return 0;
}

function k8sPeerHolds(np: NetworkPolicy, pe: NonNullable<NetworkPolicy['ingress'][number]['peers']>[number], f: PeerFacts, inv: Inventory): boolean {
  if ('ipBlock' in pe) return inCidr(pe.ipBlock.cidr, f.ip) && !pe.ipBlock.except.some((e) => inCidr(e, f.ip));
  if (!f.authenticated) return false;
  if (pe.podSelector && !selectorHolds(pe.podSelector, f.labels)) return false;
  if (pe.namespaceSelector) {
    if (f.namespace === '') return false;
    const nsLabels = inv.namespaces.get(f.namespace)?.labels ?? { 'kubernetes.io/metadata.name': f.namespace };
    return selectorHolds(pe.namespaceSelector, { ...nsLabels });
  }
  return f.namespace === np.namespace;
}

export function referenceEvaluate(inv: Inventory, policies: readonly Policy[], q: RefQuery, opts: RefOptions = {}): RefVerdict {
  const root = opts.rootNamespace ?? inv.rootNamespace ?? 'istio-system';
  const f = facts(q.peer);
  const w = q.local;
  const sorted = [...policies].sort(order);
  const audit: string[] = [];
  let deny: string | undefined;
  let allow: string | undefined;

  for (const layer of ['istio', 'syngate'] as const) {
    if (q.proto !== 'TCP') continue; // Istio-shaped layers authorize TCP only
    const applies = sorted.filter((p): p is AuthzPolicy => {
      if (p.kind === 'NetworkPolicy' || p.layer !== layer || p.direction !== q.dir) return false;
      if (p.namespace !== w.namespace && p.namespace !== root) return false;
      const s = p.selector;
      if (s?.matchLabels) for (const [k, v] of Object.entries(s.matchLabels)) if (label({ ...w.labels }, k) !== v) return false;
      if (s?.labels && !s.labels.every((e) => exprHolds(e, { ...w.labels }))) return false;
      return true;
    });
    if (applies.length === 0) continue;
    const matches = (action: string): string[] => {
      const out: string[] = [];
      for (const p of applies) {
        if (p.action !== action) continue;
        p.rules.forEach((_, i) => {
          if (authzRuleMatches(p, i, q, f)) out.push(`${p.kind}/${p.namespace}/${p.name}#rules[${i}]`);
        });
      }
      return out;
    };
    audit.push(...matches('AUDIT'));
    const denies = matches('DENY');
    if (denies.length > 0) {
      deny ??= denies[0];
      continue;
    }
    if (!applies.some((p) => p.action === 'ALLOW')) continue; // layer allows by default
    const allows = matches('ALLOW');
    if (allows.length > 0) allow ??= allows[0];
    else deny ??= 'default-deny';
  }

  const nps = sorted.filter(
    (p): p is NetworkPolicy =>
      p.kind === 'NetworkPolicy' && p.namespace === w.namespace && selectorHolds(p.podSelector, { ...w.labels }) &&
      (q.dir === 'ingress' ? p.ingressIsolated : p.egressIsolated),
  );
  if (nps.length > 0) {
    let hit: string | undefined;
    for (const np of nps) {
      const rules = q.dir === 'ingress' ? np.ingress : np.egress;
      rules.forEach((r, i) => {
        if (hit !== undefined) return;
        const peerOk = r.peers === undefined || r.peers.some((pe) => k8sPeerHolds(np, pe, f, inv));
        if (!peerOk) return;
        let portOk = r.ports === undefined;
        for (const pp of r.ports ?? []) {
          if (pp.protocol !== q.proto) continue;
          if (pp.port === undefined) portOk = true;
          else if (typeof pp.port === 'number') {
            if (q.port >= pp.port && q.port <= (pp.endPort ?? pp.port)) portOk = true;
          } else {
            // named port: on the destination pod (local on ingress; the peer's workloads on egress)
            const owners =
              q.dir === 'ingress'
                ? [w]
                : f.authenticated
                  ? inv.workloads.filter((x) => x.spiffeId === q.peer.spiffeId && sameLabels(x.labels, f.labels))
                  : [];
            if (owners.some((o) => o.ports.some((wp) => wp.name === pp.port && wp.protocol === pp.protocol && wp.port === q.port))) {
              portOk = true;
            }
          }
        }
        if (portOk) hit = `NetworkPolicy/${np.namespace}/${np.name}#${q.dir}[${i}]`;
      });
    }
    if (hit !== undefined) allow ??= hit;
    else deny ??= 'k8s-isolation';
  }

  const auditSorted = [...new Set(audit)].sort();
  if (deny !== undefined) return { allow: false, rule: deny, audit: auditSorted };
  if (allow !== undefined) return { allow: true, rule: allow, audit: auditSorted };
  const strict = q.dir === 'ingress' && (w.defaultDeny || opts.defaultDeny === true);
  return strict ? { allow: false, rule: 'default-deny', audit: auditSorted } : { allow: true, rule: 'default-allow', audit: auditSorted };
}

function sameLabels(a: Readonly<Record<string, string>>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}
