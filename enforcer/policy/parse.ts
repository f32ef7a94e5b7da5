// Semantic loader: YAML documents -> validated Policy objects (model.ts).
// Invariants: never throws (any input yields policies + diagnostics); a document with any error
// contributes no policy (a half-understood policy is never enforced); every diagnostic names
// file:line:col and the field path; unknown fields, wrong types, bad CIDRs, bad ports and unknown
// kinds are errors; L7 fields are warnings that say how the rule is reduced to L4 (as ztunnel does:
// an ALLOW rule needing L7 never matches, a DENY rule with L7 denies on its L4 part).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join as pjoin } from 'node:path';
import { Document, LineCounter } from 'yaml';
import type { Node } from 'yaml';
import { parseCidr } from './ipv4.js';
import type { Cidr } from './ipv4.js';
import type {
  Action,
  AuthzPolicy,
  AuthzRule,
  Condition,
  K8sPeer,
  K8sPort,
  K8sRule,
  K8sSelector,
  K8sSelectorReq,
  LabelExpr,
  NetworkPolicy,
  OperationSpec,
  PeerSpec,
  Policy,
  PortRange,
  SourcePos,
  StringMatch,
  ToSpec,
} from './model.js';
import { policyId } from './model.js';
import { join, parseYamlText, Reader } from './yaml-read.js';
import type { Diagnostic } from './yaml-read.js';

export interface LoadResult {
  policies: Policy[];
  diagnostics: Diagnostic[];
  /** Files read, in load order. */
  files: string[];
}

/** True iff any diagnostic is an error. */
export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

const TOP_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'] as const;
const META_FIELDS = [
  'name', 'namespace', 'labels', 'annotations', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'managedFields', 'finalizers', 'ownerReferences', 'generateName', 'selfLink', 'deletionTimestamp',
  'deletionGracePeriodSeconds',
] as const;

const ISTIO_VERSIONS = ['security.istio.io/v1', 'security.istio.io/v1beta1'];
const K8S_VERSION = 'networking.k8s.io/v1';
const NATIVE_VERSION = 'syngate.io/v1alpha1';

/** Loads policy documents from in-memory texts (file names are used in messages only). */
export function loadPolicyTexts(inputs: readonly { file: string; text: string }[]): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const policies: Policy[] = [];
  const seen = new Map<string, SourcePos>();
  for (const { file, text } of inputs) {
    const parsed = parseYamlText(text, file, diagnostics);
    for (const doc of parsed.docs) {
      let p: Policy | undefined;
      try {
        p = parseDocument(new Reader(file, parsed.lc, diagnostics, doc), doc);
      } catch (e) {
        // Defence in depth: a loader bug must not crash callers; the document is refused.
        diagnostics.push({ file, line: 1, col: 1, path: '', message: `internal loader error: ${String(e)}`, severity: 'error' });
        p = undefined;
      }
      if (p === undefined) continue;
      const id = policyId(p);
      const prev = seen.get(id);
      if (prev !== undefined) {
        diagnostics.push({
          ...p.pos, path: 'metadata.name', severity: 'error',
          message: `duplicate policy ${id} (first defined at ${prev.file}:${prev.line}:${prev.col})`,
        });
        continue;
      }
      seen.set(id, p.pos);
      policies.push(p);
    }
  }
  // Stable order for humans: per file, by position (files keep their input order).
  const fileOrder = new Map(inputs.map((inp, i) => [inp.file, i]));
  diagnostics.sort((a, b) => (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || a.line - b.line || a.col - b.col);
  return { policies, diagnostics, files: inputs.map((i) => i.file) };
}

/**
 * Loads policy documents given as plain values (already-parsed YAML/JSON), e.g. from a scenario
 * file or a generator. Same validation as loadPolicyTexts; positions are 1:1 (there is no text).
 */
export function loadPolicyObjects(inputs: readonly { file: string; value: unknown }[]): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const policies: Policy[] = [];
  const seen = new Map<string, SourcePos>();
  const lc = new LineCounter();
  lc.addNewLine(0);
  for (const { file, value } of inputs) {
    let p: Policy | undefined;
    try {
      const doc = new Document(value, { aliasDuplicateObjects: false }) as unknown as Document.Parsed;
      p = parseDocument(new Reader(file, lc, diagnostics, doc), doc);
    } catch (e) {
      diagnostics.push({ file, line: 1, col: 1, path: '', message: `internal loader error: ${String(e)}`, severity: 'error' });
      p = undefined;
    }
    if (p === undefined) continue;
    const id = policyId(p);
    if (seen.has(id)) {
      diagnostics.push({ ...p.pos, path: 'metadata.name', severity: 'error', message: `duplicate policy ${id}` });
      continue;
    }
    seen.set(id, p.pos);
    policies.push(p);
  }
  return { policies, diagnostics, files: [...new Set(inputs.map((i) => i.file))] };
}

/** Expands files and folders (recursively, *.yaml / *.yml, sorted) into a file list. */
export function expandPaths(paths: readonly string[], diags: Diagnostic[]): string[] {
  const out: string[] = [];
  const walk = (p: string, depth: number): void => {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      diags.push({ file: p, line: 1, col: 1, path: '', message: `cannot read: ${(e as Error).message}`, severity: 'error' });
      return;
    }
    if (st.isDirectory()) {
      if (depth > 16) return;
      let names: string[];
      try {
        names = readdirSync(p).sort();
      } catch (e) {
        diags.push({ file: p, line: 1, col: 1, path: '', message: `cannot list: ${(e as Error).message}`, severity: 'error' });
        return;
      }
      for (const n of names) {
        if (n.startsWith('.')) continue;
        const child = pjoin(p, n);
        let cst;
        try {
          cst = statSync(child);
        } catch {
          continue;
        }
        if (cst.isDirectory()) walk(child, depth + 1);
        else if (['.yaml', '.yml'].includes(extname(n))) out.push(child);
      }
    } else {
      out.push(p);
    }
  };
  for (const p of paths) walk(p, 0);
  return out;
}

/** Loads every policy document under the given files/folders. Never throws. */
export function loadPolicyPaths(paths: readonly string[]): LoadResult {
  const diags: Diagnostic[] = [];
  const files = expandPaths(paths, diags);
  const inputs: { file: string; text: string }[] = [];
  for (const f of files) {
    try {
      inputs.push({ file: f, text: readFileSync(f, 'utf8') });
    } catch (e) {
      diags.push({ file: f, line: 1, col: 1, path: '', message: `cannot read: ${(e as Error).message}`, severity: 'error' });
    }
  }
  const r = loadPolicyTexts(inputs);
  return { policies: r.policies, diagnostics: [...diags, ...r.diagnostics], files };
}

// ---------------------------------------------------------------------------------------------

function parseDocument(r: Reader, doc: Document.Parsed): Policy | undefined {
  if (r.isNull(doc.contents)) return undefined; // empty document (e.g. a trailing `---`)
  const before = r.diags.filter((d) => d.severity === 'error').length;
  const top = r.map(doc.contents, '');
  if (top === undefined) return undefined;
  const f = r.fields(top, '', TOP_FIELDS);
  const api = f.has('apiVersion') ? r.str(f.get('apiVersion'), 'apiVersion') : undefined;
  const kind = f.has('kind') ? r.str(f.get('kind'), 'kind') : undefined;
  if (!f.has('apiVersion')) r.error(top, 'apiVersion', 'apiVersion is required');
  if (!f.has('kind')) r.error(top, 'kind', 'kind is required');
  if (api === undefined || kind === undefined) return undefined;
  const kindNode = f.get('kind') ?? top;
  let which: 'istio' | 'k8s' | 'native' | undefined;
  if (ISTIO_VERSIONS.includes(api) && kind === 'AuthorizationPolicy') which = 'istio';
  else if (api === K8S_VERSION && kind === 'NetworkPolicy') which = 'k8s';
  else if (api === NATIVE_VERSION && kind === 'SyngatePolicy') which = 'native';
  else {
    r.error(kindNode, 'kind', `unknown kind ${api}/${kind} (expected security.istio.io/v1 AuthorizationPolicy, ` +
      `networking.k8s.io/v1 NetworkPolicy or syngate.io/v1alpha1 SyngatePolicy)`);
    return undefined;
  }
  const meta = parseMetadata(r, f.get('metadata'), top);
  const pos = r.pos(top);
  let result: Policy | undefined;
  const specNode = f.get('spec');
  if (which === 'k8s') {
    if (r.isNull(specNode)) r.error(top, 'spec', 'spec is required');
    else result = parseNetworkPolicy(r, specNode, meta, pos);
  } else {
    // Istio: a missing/empty spec is an ALLOW policy with no rules (it allows nothing).
    result = parseAuthz(r, specNode, meta, pos, which === 'native');
  }
  const after = r.diags.filter((d) => d.severity === 'error').length;
  return after > before || meta === undefined ? undefined : result;
}

function parseMetadata(r: Reader, node: Node | null | undefined, top: Node): { name: string; namespace: string } | undefined {
  if (r.isNull(node)) {
    r.error(top, 'metadata', 'metadata.name is required');
    return undefined;
  }
  const m = r.map(node, 'metadata');
  if (m === undefined) return undefined;
  const f = r.fields(m, 'metadata', META_FIELDS);
  const name = f.has('name') ? r.str(f.get('name'), 'metadata.name') : undefined;
  if (!f.has('name')) r.error(m, 'metadata.name', 'metadata.name is required');
  let namespace = 'default';
  if (f.has('namespace') && !r.isNull(f.get('namespace'))) {
    const ns = r.str(f.get('namespace'), 'metadata.namespace');
    if (ns !== undefined) {
      if (!DNS_LABEL.test(ns)) r.error(f.get('namespace'), 'metadata.namespace', `invalid namespace "${ns}"`);
      namespace = ns;
    }
  }
  if (f.has('labels')) r.labelMap(f.get('labels'), 'metadata.labels');
  if (name === undefined) return undefined;
  if (name === '' || name.length > 253 || /[\s/#]/.test(name)) {
    r.error(f.get('name'), 'metadata.name', `invalid name "${name}"`);
    return undefined;
  }
  return { name, namespace };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

// ---------------------------------------------------------------------------------------------
// Istio AuthorizationPolicy and syngate's native policy

const L7_SOURCE = ['requestPrincipals', 'notRequestPrincipals', 'remoteIpBlocks', 'notRemoteIpBlocks'];
const L7_OPERATION = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'];
const SOURCE_FIELDS = [
  'principals', 'notPrincipals', 'namespaces', 'notNamespaces', 'ipBlocks', 'notIpBlocks',
  'serviceAccounts', 'notServiceAccounts', ...L7_SOURCE,
];
const NATIVE_PEER_FIELDS = [...SOURCE_FIELDS, 'labels', 'networks'];

function parseAuthz(
  r: Reader,
  node: Node | null | undefined,
  meta: { name: string; namespace: string } | undefined,
  pos: SourcePos,
  native: boolean,
): AuthzPolicy | undefined {
  const kind = native ? 'SyngatePolicy' : 'AuthorizationPolicy';
  let action: Action = 'ALLOW';
  let selector: AuthzPolicy['selector'];
  let direction: 'ingress' | 'egress' = 'ingress';
  const rules: AuthzRule[] = [];
  if (!r.isNull(node)) {
    const m = r.map(node, 'spec');
    if (m === undefined) return undefined;
    const allowed = native
      ? ['selector', 'action', 'rules', 'direction']
      : ['selector', 'action', 'rules', 'provider', 'targetRef', 'targetRefs'];
    const f = r.fields(m, 'spec', allowed);
    for (const k of ['provider', 'targetRef', 'targetRefs']) {
      if (f.has(k)) r.error(f.get(k), `spec.${k}`, `${k} is not supported: syngate enforces at L4 on workloads (use selector)`);
    }
    if (f.has('action') && !r.isNull(f.get('action'))) {
      const a = r.str(f.get('action'), 'spec.action');
      if (a === 'CUSTOM') r.error(f.get('action'), 'spec.action', 'action CUSTOM (external authorizer) is not supported at L4');
      else if (a === 'ALLOW' || a === 'DENY' || a === 'AUDIT') action = a;
      else if (a !== undefined) r.error(f.get('action'), 'spec.action', `unknown action "${a}" (expected ALLOW, DENY or AUDIT)`);
    }
    if (native && f.has('direction') && !r.isNull(f.get('direction'))) {
      const d = r.str(f.get('direction'), 'spec.direction');
      if (d === 'Egress') direction = 'egress';
      else if (d !== undefined && d !== 'Ingress') r.error(f.get('direction'), 'spec.direction', `expected Ingress or Egress, got "${d}"`);
    }
    if (f.has('selector') && !r.isNull(f.get('selector'))) {
      selector = parseAuthzSelector(r, f.get('selector'), 'spec.selector', native);
    }
    if (f.has('rules') && !r.isNull(f.get('rules'))) {
      const items = r.seq(f.get('rules'), 'spec.rules') ?? [];
      items.forEach((it, i) => {
        const rule = parseAuthzRule(r, it, `spec.rules[${i}]`, action, native, direction);
        if (rule !== undefined) rules.push(rule);
      });
    }
  }
  if (meta === undefined) return undefined;
  const base = { kind, layer: native ? 'syngate' : 'istio', namespace: meta.namespace, name: meta.name, action, direction, rules, pos } as const;
  return selector === undefined ? base : { ...base, selector };
}

function parseAuthzSelector(r: Reader, node: unknown, path: string, native: boolean): AuthzPolicy['selector'] {
  const m = r.map(node, path);
  if (m === undefined) return undefined;
  const f = r.fields(m, path, native ? ['matchLabels', 'labels'] : ['matchLabels']);
  const out: { matchLabels?: Record<string, string>; labels?: LabelExpr[] } = {};
  const ml = r.labelMap(f.get('matchLabels'), join(path, 'matchLabels'));
  if (ml !== undefined) out.matchLabels = ml;
  if (native && f.has('labels')) {
    const l = parseLabelExprs(r, f.get('labels'), join(path, 'labels'));
    if (l !== undefined) out.labels = l;
  }
  return out;
}

function l7Warning(r: Reader, node: Node | null | undefined, path: string, field: string, action: Action): void {
  const what =
    action === 'ALLOW'
      ? 'this ALLOW rule never matches (as in ztunnel)'
      : action === 'DENY'
        ? 'this DENY rule denies on its L4 part alone (as in ztunnel)'
        : 'this AUDIT rule marks on its L4 part alone';
  r.warn(node, path, `L7 field "${field}" cannot be enforced at L4: ${what}`);
}

function parseAuthzRule(
  r: Reader, node: unknown, path: string, action: Action, native: boolean, direction: 'ingress' | 'egress',
): AuthzRule | undefined {
  const nn = r.deref(node, path);
  if (r.isNull(nn)) return { l7: false, l7Fields: [], pos: r.pos(nn ?? null) }; // `- {}` or `-` : matches everything
  const m = r.map(nn, path);
  if (m === undefined) return undefined;
  const f = r.fields(m, path, ['from', 'to', 'when']);
  const rule: AuthzRule = { l7: false, l7Fields: [], pos: r.pos(m) };
  const markL7 = (n: Node | null | undefined, p: string, field: string): void => {
    rule.l7 = true;
    rule.l7Fields.push(p);
    l7Warning(r, n, p, field, action);
  };
  if (f.has('from') && !r.isNull(f.get('from'))) {
    if (direction === 'egress') r.error(f.get('from'), join(path, 'from'), 'an Egress policy names its peers in to[].destination, not from');
    const items = r.seq(f.get('from'), join(path, 'from')) ?? [];
    const from: { source?: PeerSpec }[] = [];
    items.forEach((it, i) => {
      const p = `${path}.from[${i}]`;
      const itn = r.deref(it, p);
      if (r.isNull(itn)) {
        from.push({});
        return;
      }
      const em = r.map(itn, p);
      if (em === undefined) return;
      const ef = r.fields(em, p, ['source']);
      if (!ef.has('source') || r.isNull(ef.get('source'))) {
        from.push({});
        return;
      }
      const src = parsePeer(r, ef.get('source'), join(p, 'source'), native, markL7);
      if (src !== undefined) from.push({ source: src });
    });
    if (from.length > 0) rule.from = from;
  }
  if (f.has('to') && !r.isNull(f.get('to'))) {
    const items = r.seq(f.get('to'), join(path, 'to')) ?? [];
    const to: ToSpec[] = [];
    items.forEach((it, i) => {
      const p = `${path}.to[${i}]`;
      const itn = r.deref(it, p);
      if (r.isNull(itn)) {
        to.push({});
        return;
      }
      const em = r.map(itn, p);
      if (em === undefined) return;
      const allowed = native && direction === 'egress' ? ['operation', 'destination'] : ['operation'];
      const ef = r.fields(em, p, allowed);
      const t: ToSpec = {};
      if (ef.has('operation') && !r.isNull(ef.get('operation'))) {
        const op = parseOperation(r, ef.get('operation'), join(p, 'operation'), native, markL7);
        if (op !== undefined) t.operation = op;
      }
      if (ef.has('destination') && !r.isNull(ef.get('destination'))) {
        const d = parsePeer(r, ef.get('destination'), join(p, 'destination'), native, markL7);
        if (d !== undefined) t.destination = d;
      }
      to.push(t);
    });
    if (to.length > 0) rule.to = to;
  }
  if (f.has('when') && !r.isNull(f.get('when'))) {
    if (direction === 'egress') r.error(f.get('when'), join(path, 'when'), 'when is not supported in Egress policies');
    const items = r.seq(f.get('when'), join(path, 'when')) ?? [];
    const when: Condition[] = [];
    items.forEach((it, i) => {
      const c = parseCondition(r, it, `${path}.when[${i}]`, markL7);
      if (c !== undefined) when.push(c);
    });
    if (when.length > 0) rule.when = when;
  }
  return rule;
}

type MarkL7 = (n: Node | null | undefined, path: string, field: string) => void;

function parsePeer(r: Reader, node: unknown, path: string, native: boolean, markL7: MarkL7): PeerSpec | undefined {
  const m = r.map(node, path);
  if (m === undefined) return undefined;
  const f = r.fields(m, path, native ? NATIVE_PEER_FIELDS : SOURCE_FIELDS);
  const peer: PeerSpec = { l7: false };
  for (const [k, v] of f) {
    const p = join(path, k);
    if (L7_SOURCE.includes(k)) {
      peer.l7 = true;
      markL7(v, p, k);
      continue;
    }
    if (r.isNull(v)) continue;
    switch (k) {
      case 'principals':
      case 'notPrincipals':
      case 'namespaces':
      case 'notNamespaces': {
        const list = patternList(r, v, p);
        if (list !== undefined && list.length > 0) peer[k] = list;
        break;
      }
      case 'serviceAccounts':
      case 'notServiceAccounts': {
        const items = r.strList(v, p) ?? [];
        const out: { ns: string; sa: string }[] = [];
        for (const it of items) {
          const parts = it.value.split('/');
          if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
            r.error(it.node, it.path, `expected NAMESPACE/SERVICEACCOUNT, got "${it.value}"`);
          } else out.push({ ns: parts[0] ?? '', sa: parts[1] ?? '' });
        }
        if (out.length > 0) peer[k] = out;
        break;
      }
      case 'ipBlocks':
      case 'notIpBlocks':
      case 'networks': {
        const list = cidrList(r, v, p);
        if (list !== undefined && list.length > 0) peer[k] = list;
        break;
      }
      case 'labels': {
        const l = parseLabelExprs(r, v, p);
        if (l !== undefined && l.length > 0) peer.labels = l;
        break;
      }
      default:
        break;
    }
  }
  return peer;
}

function parseOperation(r: Reader, node: unknown, path: string, native: boolean, markL7: MarkL7): OperationSpec | undefined {
  const m = r.map(node, path);
  if (m === undefined) return undefined;
  const f = r.fields(m, path, ['ports', 'notPorts', ...L7_OPERATION]);
  const op: OperationSpec = { l7: false };
  for (const [k, v] of f) {
    const p = join(path, k);
    if (L7_OPERATION.includes(k)) {
      op.l7 = true;
      markL7(v, p, k);
      continue;
    }
    if (r.isNull(v)) continue;
    const list = portList(r, v, p, native);
    if (list !== undefined && list.length > 0) {
      if (k === 'ports') op.ports = list;
      else op.notPorts = list;
    }
  }
  return op;
}

const L7_WHEN_PREFIXES = ['request.', 'connection.', 'experimental.'];
const L7_WHEN_KEYS = ['remote.ip'];

function parseCondition(r: Reader, node: unknown, path: string, markL7: MarkL7): Condition | undefined {
  const m = r.map(node, path);
  if (m === undefined) return undefined;
  const f = r.fields(m, path, ['key', 'values', 'notValues']);
  if (!f.has('key')) {
    r.error(m, join(path, 'key'), 'key is required');
    return undefined;
  }
  const key = r.str(f.get('key'), join(path, 'key'));
  if (key === undefined) return undefined;
  const hasValues = f.has('values') && !r.isNull(f.get('values'));
  const hasNot = f.has('notValues') && !r.isNull(f.get('notValues'));
  if (!hasValues && !hasNot) {
    r.error(m, path, `condition "${key}" needs values or notValues`);
    return undefined;
  }
  if (L7_WHEN_KEYS.includes(key) || L7_WHEN_PREFIXES.some((p) => key.startsWith(p))) {
    markL7(f.get('key'), join(path, 'key'), key);
    return { key, l7: true };
  }
  const vp = join(path, 'values');
  const np = join(path, 'notValues');
  switch (key) {
    case 'source.ip':
    case 'destination.ip': {
      const c: Condition = { key, l7: false };
      if (hasValues) {
        const l = cidrList(r, f.get('values'), vp);
        if (l !== undefined) c.values = l;
      }
      if (hasNot) {
        const l = cidrList(r, f.get('notValues'), np);
        if (l !== undefined) c.notValues = l;
      }
      return c;
    }
    case 'source.namespace':
    case 'source.principal': {
      const c: Condition = { key, l7: false };
      if (hasValues) {
        const l = patternList(r, f.get('values'), vp);
        if (l !== undefined) c.values = l;
      }
      if (hasNot) {
        const l = patternList(r, f.get('notValues'), np);
        if (l !== undefined) c.notValues = l;
      }
      return c;
    }
    case 'destination.port': {
      const c: Condition = { key, l7: false };
      if (hasValues) {
        const l = portList(r, f.get('values'), vp, false);
        if (l !== undefined) c.values = l;
      }
      if (hasNot) {
        const l = portList(r, f.get('notValues'), np, false);
        if (l !== undefined) c.notValues = l;
      }
      return c;
    }
    default:
      r.error(f.get('key'), join(path, 'key'), `unknown condition key "${key}" (L4 keys: source.ip, source.namespace, ` +
        'source.principal, destination.ip, destination.port)');
      return undefined;
  }
}

/** Parses a pattern: exact, `prefix*`, `*suffix` or `*`. */
export function parsePattern(s: string): StringMatch | string {
  if (s === '') return 'empty value';
  if (s === '*') return { kind: 'any', value: '' };
  const stars = s.split('*').length - 1;
  if (stars === 0) return { kind: 'exact', value: s };
  if (stars === 1 && s.endsWith('*')) return { kind: 'prefix', value: s.slice(0, -1) };
  if (stars === 1 && s.startsWith('*')) return { kind: 'suffix', value: s.slice(1) };
  return `"${s}": only one "*", at the start or the end, is allowed`;
}

function patternList(r: Reader, node: unknown, path: string): StringMatch[] | undefined {
  const items = r.strList(node, path);
  if (items === undefined) return undefined;
  const out: StringMatch[] = [];
  for (const it of items) {
    const p = parsePattern(it.value);
    if (typeof p === 'string') r.error(it.node, it.path, p);
    else out.push(p);
  }
  return out;
}

function cidrList(r: Reader, node: unknown, path: string): Cidr[] | undefined {
  const items = r.strList(node, path);
  if (items === undefined) return undefined;
  const out: Cidr[] = [];
  for (const it of items) {
    const c = parseCidr(it.value);
    if (c === undefined) r.error(it.node, it.path, `invalid IP address or CIDR "${it.value}"`);
    else {
      if (c.v6) r.warn(it.node, it.path, `IPv6 block "${it.value}" never matches: syngate enforces IPv4 only`);
      out.push(c);
    }
  }
  return out;
}

/** Parses a port `N` (1..65535) or, when ranges are allowed, `A-B`. */
export function parsePortText(s: string, ranges: boolean): PortRange | string {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s.trim());
  if (m === null) return `invalid port "${s}"`;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (m[2] !== undefined && !ranges) return `port ranges are not allowed here ("${s}")`;
  if (a < 1 || a > 65535 || b < 1 || b > 65535) return `port out of range 1..65535: "${s}"`;
  if (b < a) return `port range "${s}" ends before it starts`;
  return { from: a, to: b };
}

function portList(r: Reader, node: unknown, path: string, ranges: boolean): PortRange[] | undefined {
  const items = r.strList(node, path, true);
  if (items === undefined) return undefined;
  const out: PortRange[] = [];
  for (const it of items) {
    const p = parsePortText(it.value, ranges);
    if (typeof p === 'string') r.error(it.node, it.path, p);
    else out.push(p);
  }
  return out;
}

/** Parses one native label expression: `k=v`, `k!=v`, `k`, `!k`; values may start or end with `*`. */
export function parseLabelExpr(s: string): LabelExpr | string {
  const text = s.trim();
  const keyOk = (k: string): boolean => /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/.test(k) && k.length <= 253;
  const ne = text.indexOf('!=');
  if (ne > 0) {
    const key = text.slice(0, ne).trim();
    const pv = parsePattern(text.slice(ne + 2).trim());
    if (!keyOk(key)) return `invalid label key in "${s}"`;
    if (typeof pv === 'string') return `invalid label value in "${s}": ${pv}`;
    return { op: 'ne', key, value: pv, text };
  }
  const eq = text.indexOf('=');
  if (eq > 0) {
    const key = text.slice(0, eq).trim();
    const pv = parsePattern(text.slice(eq + 1).trim());
    if (!keyOk(key)) return `invalid label key in "${s}"`;
    if (typeof pv === 'string') return `invalid label value in "${s}": ${pv}`;
    return { op: 'eq', key, value: pv, text };
  }
  if (text.startsWith('!')) {
    const key = text.slice(1).trim();
    if (!keyOk(key)) return `invalid label key in "${s}"`;
    return { op: 'absent', key, text };
  }
  if (!keyOk(text)) return `invalid label expression "${s}" (expected key=value, key!=value, key or !key)`;
  return { op: 'exists', key: text, text };
}

function parseLabelExprs(r: Reader, node: unknown, path: string): LabelExpr[] | undefined {
  const items = r.strList(node, path);
  if (items === undefined) return undefined;
  const out: LabelExpr[] = [];
  for (const it of items) {
    const e = parseLabelExpr(it.value);
    if (typeof e === 'string') r.error(it.node, it.path, e);
    else out.push(e);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes NetworkPolicy

function parseNetworkPolicy(
  r: Reader, node: Node | null | undefined, meta: { name: string; namespace: string } | undefined, pos: SourcePos,
): NetworkPolicy | undefined {
  const m = r.map(node, 'spec');
  if (m === undefined) return undefined;
  const f = r.fields(m, 'spec', ['podSelector', 'policyTypes', 'ingress', 'egress']);
  let podSelector: K8sSelector | undefined;
  if (!f.has('podSelector')) r.error(m, 'spec.podSelector', 'podSelector is required (use {} for every pod)');
  else podSelector = parseK8sSelector(r, f.get('podSelector'), 'spec.podSelector');
  let ingressIsolated = true;
  let egressIsolated = f.has('egress') && !r.isNull(f.get('egress'));
  if (f.has('policyTypes') && !r.isNull(f.get('policyTypes'))) {
    const items = r.strList(f.get('policyTypes'), 'spec.policyTypes') ?? [];
    ingressIsolated = false;
    egressIsolated = false;
    for (const it of items) {
      if (it.value === 'Ingress') ingressIsolated = true;
      else if (it.value === 'Egress') egressIsolated = true;
      else r.error(it.node, it.path, `unknown policy type "${it.value}" (expected Ingress or Egress)`);
    }
  }
  const ingress: K8sRule[] = [];
  const egress: K8sRule[] = [];
  for (const dir of ['ingress', 'egress'] as const) {
    const n = f.get(dir);
    if (!f.has(dir) || r.isNull(n)) continue;
    const items = r.seq(n, `spec.${dir}`) ?? [];
    items.forEach((it, i) => {
      const rule = parseK8sRule(r, it, `spec.${dir}[${i}]`, dir === 'ingress' ? 'from' : 'to');
      if (rule !== undefined) (dir === 'ingress' ? ingress : egress).push(rule);
    });
  }
  if (meta === undefined || podSelector === undefined) return undefined;
  return {
    kind: 'NetworkPolicy', layer: 'k8s', namespace: meta.namespace, name: meta.name, podSelector,
    ingressIsolated, egressIsolated, ingress, egress, pos,
  };
}

function parseK8sSelector(r: Reader, node: unknown, path: string): K8sSelector | undefined {
  const sel: K8sSelector = { matchLabels: Object.create(null) as Record<string, string>, matchExpressions: [] };
  if (r.isNull(node)) return sel;
  const m = r.map(node, path);
  if (m === undefined) return undefined;
  const f = r.fields(m, path, ['matchLabels', 'matchExpressions']);
  const ml = r.labelMap(f.get('matchLabels'), join(path, 'matchLabels'));
  if (ml !== undefined) sel.matchLabels = ml;
  if (f.has('matchExpressions') && !r.isNull(f.get('matchExpressions'))) {
    const items = r.seq(f.get('matchExpressions'), join(path, 'matchExpressions')) ?? [];
    items.forEach((it, i) => {
      const p = `${path}.matchExpressions[${i}]`;
      const em = r.map(it, p);
      if (em === undefined) return;
      const ef = r.fields(em, p, ['key', 'operator', 'values']);
      const key = ef.has('key') ? r.str(ef.get('key'), join(p, 'key')) : undefined;
      if (!ef.has('key')) r.error(em, join(p, 'key'), 'key is required');
      const op = ef.has('operator') ? r.str(ef.get('operator'), join(p, 'operator')) : undefined;
      if (!ef.has('operator')) r.error(em, join(p, 'operator'), 'operator is required');
      const values = (r.strList(ef.get('values'), join(p, 'values'), true) ?? []).map((v) => v.value);
      if (key === undefined || op === undefined) return;
      if (op !== 'In' && op !== 'NotIn' && op !== 'Exists' && op !== 'DoesNotExist') {
        r.error(ef.get('operator'), join(p, 'operator'), `unknown operator "${op}" (expected In, NotIn, Exists, DoesNotExist)`);
        return;
      }
      if ((op === 'In' || op === 'NotIn') && values.length === 0) {
        r.error(em, join(p, 'values'), `operator ${op} needs at least one value`);
        return;
      }
      if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) {
        r.error(ef.get('values'), join(p, 'values'), `operator ${op} takes no values`);
        return;
      }
      const req: K8sSelectorReq = { key, operator: op, values };
      sel.matchExpressions.push(req);
    });
  }
  return sel;
}

function parseK8sRule(r: Reader, node: unknown, path: string, peersField: 'from' | 'to'): K8sRule | undefined {
  const nn = r.deref(node, path);
  if (r.isNull(nn)) return { pos: r.pos(nn ?? null) };
  const m = r.map(nn, path);
  if (m === undefined) return undefined;
  const f = r.fields(m, path, [peersField, 'ports']);
  const rule: K8sRule = { pos: r.pos(m) };
  if (f.has(peersField) && !r.isNull(f.get(peersField))) {
    const items = r.seq(f.get(peersField), join(path, peersField)) ?? [];
    const peers: K8sPeer[] = [];
    items.forEach((it, i) => {
      const p = `${path}.${peersField}[${i}]`;
      const pe = parseK8sPeer(r, it, p);
      if (pe !== undefined) peers.push(pe);
    });
    if (peers.length > 0) rule.peers = peers;
  }
  if (f.has('ports') && !r.isNull(f.get('ports'))) {
    const items = r.seq(f.get('ports'), join(path, 'ports')) ?? [];
    const ports: K8sPort[] = [];
    items.forEach((it, i) => {
      const p = parseK8sPort(r, it, `${path}.ports[${i}]`);
      if (p !== undefined) ports.push(p);
    });
    if (ports.length > 0) rule.ports = ports;
  }
  return rule;
}

function parseK8sPeer(r: Reader, node: unknown, path: string): K8sPeer | undefined {
  const m = r.map(node, path);
  if (m === undefined) return undefined;
  const f = r.fields(m, path, ['podSelector', 'namespaceSelector', 'ipBlock']);
  for (const k of [...f.keys()]) if (r.isNull(f.get(k))) f.delete(k);
  if (f.size === 0) {
    r.error(m, path, 'a peer needs podSelector, namespaceSelector or ipBlock');
    return undefined;
  }
  if (f.has('ipBlock')) {
    if (f.has('podSelector') || f.has('namespaceSelector')) {
      r.error(f.get('ipBlock'), join(path, 'ipBlock'), 'ipBlock cannot be combined with podSelector or namespaceSelector');
      return undefined;
    }
    const bp = join(path, 'ipBlock');
    const bm = r.map(f.get('ipBlock'), bp);
    if (bm === undefined) return undefined;
    const bf = r.fields(bm, bp, ['cidr', 'except']);
    if (!bf.has('cidr')) {
      r.error(bm, join(bp, 'cidr'), 'cidr is required');
      return undefined;
    }
    const ct = r.str(bf.get('cidr'), join(bp, 'cidr'));
    if (ct === undefined) return undefined;
    const cidr = parseCidr(ct);
    if (cidr === undefined || !ct.includes('/')) {
      r.error(bf.get('cidr'), join(bp, 'cidr'), `invalid CIDR "${ct}"`);
      return undefined;
    }
    if (cidr.v6) r.warn(bf.get('cidr'), join(bp, 'cidr'), `IPv6 block "${ct}" never matches: syngate enforces IPv4 only`);
    const except: Cidr[] = [];
    for (const it of r.strList(bf.get('except'), join(bp, 'except')) ?? []) {
      const c = parseCidr(it.value);
      if (c === undefined || !it.value.includes('/')) r.error(it.node, it.path, `invalid CIDR "${it.value}"`);
      else if (c.v6 !== cidr.v6 || (!c.v6 && (c.start < cidr.start || c.end > cidr.end))) {
        r.error(it.node, it.path, `except "${it.value}" is not inside cidr "${ct}"`);
      } else except.push(c);
    }
    return { ipBlock: { cidr, except } };
  }
  const out: { podSelector?: K8sSelector; namespaceSelector?: K8sSelector } = {};
  if (f.has('podSelector')) {
    const s = parseK8sSelector(r, f.get('podSelector'), join(path, 'podSelector'));
    if (s === undefined) return undefined;
    out.podSelector = s;
  }
  if (f.has('namespaceSelector')) {
    const s = parseK8sSelector(r, f.get('namespaceSelector'), join(path, 'namespaceSelector'));
    if (s === undefined) return undefined;
    out.namespaceSelector = s;
  }
  return out;
}

const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

function parseK8sPort(r: Reader, node: unknown, path: string): K8sPort | undefined {
  const m = r.map(node, path);
  if (m === undefined) return undefined;
  const f = r.fields(m, path, ['protocol', 'port', 'endPort']);
  const out: K8sPort = { protocol: 'TCP' };
  if (f.has('protocol') && !r.isNull(f.get('protocol'))) {
    const p = r.str(f.get('protocol'), join(path, 'protocol'));
    if (p === 'TCP' || p === 'UDP' || p === 'SCTP') out.protocol = p;
    else if (p !== undefined) {
      r.error(f.get('protocol'), join(path, 'protocol'), `unknown protocol "${p}" (expected TCP, UDP or SCTP)`);
    }
  }
  if (f.has('port') && !r.isNull(f.get('port'))) {
    const pn = f.get('port');
    const raw = r.strOrNum(pn, join(path, 'port'));
    if (raw === undefined) return undefined;
    if (/^\d+$/.test(raw)) {
      const n = Number(raw);
      if (n < 1 || n > 65535) {
        r.error(pn, join(path, 'port'), `port out of range 1..65535: ${raw}`);
        return undefined;
      }
      out.port = n;
    } else if (IANA_SVC_NAME.test(raw)) {
      out.port = raw;
    } else {
      r.error(pn, join(path, 'port'), `invalid port "${raw}" (a number 1..65535 or a port name)`);
      return undefined;
    }
  }
  if (f.has('endPort') && !r.isNull(f.get('endPort'))) {
    const e = r.int(f.get('endPort'), join(path, 'endPort'));
    if (e === undefined) return undefined;
    if (typeof out.port !== 'number') {
      r.error(f.get('endPort'), join(path, 'endPort'), 'endPort needs a numeric port');
      return undefined;
    }
    if (e < out.port || e > 65535) {
      r.error(f.get('endPort'), join(path, 'endPort'), `endPort ${e} must be between port ${out.port} and 65535`);
      return undefined;
    }
    out.endPort = e;
  }
  return out;
}
