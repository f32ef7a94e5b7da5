// Scenario loader: a YAML file describing nodes, workloads, policies and traffic (docs/scenario.md).
// Invariants:
//  - loadScenario/parseScenario either return a fully validated Scenario or throw one
//    SyngateError('SYNGATE_SIM_SCENARIO') whose message lists every problem as
//    `FILE:LINE:COL: FIELD.PATH: message` (never a raw exception from the YAML library);
//  - unknown fields are errors; every `from`/`to`/`spoof`/`victim` names a known workload;
//  - workloads without `ip` get deterministic addresses from 198.18.0.0/15, in file order,
//    skipping explicit addresses and .0/.255 host bytes;
//  - the result is plain data: the same text always gives the same Scenario.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type YAMLMap } from 'yaml';
import { SyngateError } from '../errors.js';
import { ipToU32, u32ToIp } from './frame.js';

export const ATTACKS = ['no-token', 'forged-token', 'replay', 'stolen-credential', 'expired', 'tamper', 'spoofed-ip'] as const;
export type AttackKind = (typeof ATTACKS)[number];
export const MODES = ['enforce', 'audit', 'off'] as const;
export type Mode = (typeof MODES)[number];

export interface Pos {
  file: string;
  line: number;
  col: number;
}

export interface NamedPort {
  name: string | null;
  port: number;
}

export interface ScenarioWorkload {
  name: string;
  namespace: string;
  /** `NS/NAME` */
  id: string;
  serviceAccount: string;
  labels: Record<string, string>;
  ip: string;
  /** True iff the address was assigned by the loader. */
  ipAssigned: boolean;
  node: string;
  ports: NamedPort[];
  enforcer: boolean;
  /** Effective mode (workload, else namespace, else scenario). */
  mode: Mode;
  pos: Pos;
}

export type PolicySource =
  | { kind: 'path'; path: string; pos: Pos }
  | { kind: 'inline'; text: string; doc: unknown; pos: Pos };

export interface ScenarioTraffic {
  index: number;
  from: string;
  to: string;
  port: number;
  /** The port name when `port` was given by name. */
  portName: string | null;
  expect: 'allow' | 'deny' | null;
  /** Expected reason label (optional, checked when present). */
  reason: string | null;
  attack: AttackKind | null;
  /** Workload whose IP a spoofed-ip attack uses / whose connection replay and tamper capture. */
  victim: string | null;
  count: number;
  pos: Pos;
}

export interface NamespaceSettings {
  mode: Mode | null;
  defaultDeny: boolean | null;
}

export interface Scenario {
  file: string;
  dir: string;
  trustDomain: string;
  nodes: string[];
  mode: Mode;
  defaultDeny: boolean;
  namespaces: Record<string, NamespaceSettings>;
  envoy: { inboundPort: number; excludePorts: { from: number; to: number }[] } | null;
  workloads: ScenarioWorkload[];
  policies: PolicySource[];
  traffic: ScenarioTraffic[];
  seed: number | null;
  /** The inventory part of the file (policy inventory format), with assigned addresses filled in. */
  inventoryDoc: Record<string, unknown>;
}

/** Keys the scenario adds to the policy inventory format. */
export const SCENARIO_EXTRA_KEYS = ['nodes', 'envoy', 'policies', 'traffic', 'seed'] as const;
const SCENARIO_KEYS = ['trustDomain', 'rootNamespace', 'mode', 'defaultDeny', 'namespaces', 'workloads', ...SCENARIO_EXTRA_KEYS];
const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const NET_BASE = ipToU32('198.18.0.0');
const NET_SIZE = 1 << 17; // /15

class Collector {
  readonly errors: string[] = [];
  constructor(
    readonly file: string,
    private readonly lc: LineCounter,
  ) {}
  pos(node: YamlNode | null | undefined): Pos {
    const off = node?.range?.[0] ?? 0;
    const p = this.lc.linePos(off);
    return { file: this.file, line: p.line, col: p.col };
  }
  err(node: YamlNode | null | undefined, path: string, msg: string): void {
    const p = this.pos(node);
    this.errors.push(`${p.file}:${p.line}:${p.col}: ${path === '' ? '' : `${path}: `}${msg}`);
  }
}

function entries(map: YAMLMap, c: Collector, path: string, allowed: readonly string[]): Map<string, YamlNode | null> {
  const out = new Map<string, YamlNode | null>();
  for (const pair of map.items) {
    const k = pair.key;
    const key = isScalar(k) ? String(k.value) : null;
    const keyNode = (isScalar(k) ? k : null) as YamlNode | null;
    if (key === null) {
      c.err(map, path, 'keys must be plain strings');
      continue;
    }
    const fp = path === '' ? key : `${path}.${key}`;
    if (!allowed.includes(key)) {
      c.err(keyNode, fp, `unknown field (expected one of: ${allowed.join(', ')})`);
      continue;
    }
    if (out.has(key)) c.err(keyNode, fp, 'duplicate field');
    out.set(key, (pair.value as YamlNode | null) ?? null);
  }
  return out;
}

function str(n: YamlNode | null | undefined, c: Collector, path: string): string | null {
  if (n === null || n === undefined || !isScalar(n) || typeof n.value !== 'string' || n.value === '') {
    c.err(n, path, 'expected a non-empty string');
    return null;
  }
  return n.value;
}

function int(n: YamlNode | null | undefined, c: Collector, path: string, min: number, max: number): number | null {
  if (n === null || n === undefined || !isScalar(n) || typeof n.value !== 'number' || !Number.isInteger(n.value) || n.value < min || n.value > max) {
    c.err(n, path, `expected an integer in ${min}..${max}`);
    return null;
  }
  return n.value;
}

function bool(n: YamlNode | null | undefined, c: Collector, path: string): boolean | null {
  if (n === null || n === undefined || !isScalar(n) || typeof n.value !== 'boolean') {
    c.err(n, path, 'expected true or false');
    return null;
  }
  return n.value;
}

function oneOf<T extends string>(n: YamlNode | null | undefined, c: Collector, path: string, values: readonly T[]): T | null {
  const s = str(n, c, path);
  if (s === null) return null;
  if (!(values as readonly string[]).includes(s)) {
    c.err(n, path, `expected one of ${values.join(', ')}, got ${JSON.stringify(s)}`);
    return null;
  }
  return s as T;
}

function seqOf(n: YamlNode | null | undefined, c: Collector, path: string): YamlNode[] | null {
  if (n === null || n === undefined || !isSeq(n)) {
    c.err(n, path, 'expected a list');
    return null;
  }
  return n.items as YamlNode[];
}

function mapOf(n: YamlNode | null | undefined, c: Collector, path: string): YAMLMap | null {
  if (n === null || n === undefined || !isMap(n)) {
    c.err(n, path, 'expected a mapping');
    return null;
  }
  return n;
}

function labelsOf(n: YamlNode | null, c: Collector, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const m = mapOf(n, c, path);
  if (m === null) return out;
  for (const pair of m.items) {
    const k = isScalar(pair.key) ? String(pair.key.value) : null;
    const v = pair.value as YamlNode | null;
    if (k === null || k === '') {
      c.err(m, path, 'label keys must be non-empty strings');
      continue;
    }
    if (v === null || !isScalar(v) || (typeof v.value !== 'string' && typeof v.value !== 'number' && typeof v.value !== 'boolean')) {
      c.err(v ?? m, `${path}.${k}`, 'label values must be scalars');
      continue;
    }
    out[k] = String(v.value);
  }
  return out;
}

function portsOf(n: YamlNode | null, c: Collector, path: string): NamedPort[] {
  const items = seqOf(n, c, path);
  if (items === null) return [];
  const out: NamedPort[] = [];
  items.forEach((it, i) => {
    const p = `${path}[${i}]`;
    if (isScalar(it) && typeof it.value === 'number') {
      const port = int(it, c, p, 1, 65535);
      if (port !== null) out.push({ name: null, port });
      return;
    }
    const m = mapOf(it, c, p);
    if (m === null) return;
    const f = entries(m, c, p, ['name', 'port', 'containerPort', 'protocol']);
    const name = f.has('name') ? str(f.get('name'), c, `${p}.name`) : null;
    const portNode = f.get('port') ?? f.get('containerPort');
    const port = int(portNode, c, `${p}.port`, 1, 65535);
    if (f.has('protocol')) {
      const proto = str(f.get('protocol'), c, `${p}.protocol`);
      if (proto !== null && proto !== 'TCP') c.err(f.get('protocol'), `${p}.protocol`, 'only TCP is simulated');
    }
    if (port !== null) out.push({ name, port });
  });
  return out;
}

/** Parses scenario text; `file` is used in messages and `dir` resolves policy paths. */
export function parseScenario(text: string, file: string, dir: string = dirname(resolve(file))): Scenario {
  const lc = new LineCounter();
  const c = new Collector(file, lc);
  let doc;
  try {
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  } catch (e) {
    throw new SyngateError('SYNGATE_SIM_SCENARIO', `${file}: cannot parse YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    c.errors.push(`${file}:${p.line}:${p.col}: YAML: ${e.message.split('\n')[0] ?? e.message}`);
  }
  if (c.errors.length > 0) throw new SyngateError('SYNGATE_SIM_SCENARIO', c.errors.join('\n'));
  const root = mapOf(doc.contents as YamlNode | null, c, '');
  if (root === null) throw new SyngateError('SYNGATE_SIM_SCENARIO', c.errors.join('\n'));
  const top = entries(root, c, '', SCENARIO_KEYS);

  const trustDomain = top.has('trustDomain') ? (str(top.get('trustDomain'), c, 'trustDomain') ?? 'cluster.local') : 'cluster.local';
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(trustDomain)) c.err(top.get('trustDomain'), 'trustDomain', 'expected a DNS-like trust domain (lowercase letters, digits, - and .)');
  const nodes: string[] = [];
  const nodesNode = top.get('nodes');
  if (nodesNode === undefined) c.err(root, 'nodes', 'required: the list of node names');
  else {
    (seqOf(nodesNode, c, 'nodes') ?? []).forEach((n, i) => {
      const s = str(n, c, `nodes[${i}]`);
      if (s === null) return;
      if (!NAME_RE.test(s)) c.err(n, `nodes[${i}]`, 'expected a DNS-1123 name');
      else if (nodes.includes(s)) c.err(n, `nodes[${i}]`, `duplicate node ${JSON.stringify(s)}`);
      else nodes.push(s);
    });
    if (nodes.length === 0 && c.errors.length === 0) c.err(nodesNode, 'nodes', 'at least one node is required');
  }
  const mode: Mode = top.has('mode') ? (oneOf(top.get('mode'), c, 'mode', MODES) ?? 'enforce') : 'enforce';
  const defaultDeny = top.has('defaultDeny') ? (bool(top.get('defaultDeny'), c, 'defaultDeny') ?? false) : false;
  const seed = top.has('seed') ? int(top.get('seed'), c, 'seed', 0, 0xffffffff) : null;

  const namespaces: Record<string, NamespaceSettings> = {};
  if (top.has('namespaces')) {
    (seqOf(top.get('namespaces'), c, 'namespaces') ?? []).forEach((it, i) => {
      const p = `namespaces[${i}]`;
      const sm = mapOf(it, c, p);
      if (sm === null) return;
      const f = entries(sm, c, p, ['name', 'labels', 'mode', 'defaultDeny']);
      const ns = str(f.get('name'), c, `${p}.name`);
      if (ns === null) return;
      if (!NAME_RE.test(ns)) c.err(f.get('name'), `${p}.name`, 'expected a namespace name');
      if (f.has('labels')) labelsOf(f.get('labels') ?? null, c, `${p}.labels`);
      namespaces[ns] = {
        mode: f.has('mode') ? oneOf(f.get('mode'), c, `${p}.mode`, MODES) : null,
        defaultDeny: f.has('defaultDeny') ? bool(f.get('defaultDeny'), c, `${p}.defaultDeny`) : null,
      };
    });
  }
  if (top.has('rootNamespace')) {
    const rn = str(top.get('rootNamespace'), c, 'rootNamespace');
    if (rn !== null && !NAME_RE.test(rn)) c.err(top.get('rootNamespace'), 'rootNamespace', 'expected a namespace name');
  }

  let envoy: Scenario['envoy'] = null;
  if (top.has('envoy')) {
    const m = mapOf(top.get('envoy'), c, 'envoy');
    if (m !== null) {
      const f = entries(m, c, 'envoy', ['inboundPort', 'excludePorts']);
      const inboundPort = f.has('inboundPort') ? (int(f.get('inboundPort'), c, 'envoy.inboundPort', 1, 65535) ?? 15006) : 15006;
      const excludePorts: { from: number; to: number }[] = [];
      if (f.has('excludePorts')) {
        (seqOf(f.get('excludePorts'), c, 'envoy.excludePorts') ?? []).forEach((it, i) => {
          const p = `envoy.excludePorts[${i}]`;
          if (isScalar(it) && typeof it.value === 'string') {
            const mm = /^(\d{1,5})-(\d{1,5})$/.exec(it.value);
            const a = Number(mm?.[1]);
            const b = Number(mm?.[2]);
            if (mm === null || !(a >= 1 && b <= 65535 && a <= b)) c.err(it, p, 'expected PORT or FROM-TO');
            else excludePorts.push({ from: a, to: b });
          } else {
            const port = int(it, c, p, 1, 65535);
            if (port !== null) excludePorts.push({ from: port, to: port });
          }
        });
      } else excludePorts.push({ from: 15000, to: 15090 });
      envoy = { inboundPort, excludePorts };
    }
  }

  // Workloads
  const workloads: ScenarioWorkload[] = [];
  const byId = new Map<string, ScenarioWorkload>();
  const usedIps = new Set<number>();
  const wlNodes = top.get('workloads');
  const pendingIp: ScenarioWorkload[] = [];
  if (wlNodes === undefined) c.err(root, 'workloads', 'required: the list of workloads');
  (wlNodes === undefined ? [] : (seqOf(wlNodes, c, 'workloads') ?? [])).forEach((it, i) => {
    const p = `workloads[${i}]`;
    const m = mapOf(it, c, p);
    if (m === null) return;
    const f = entries(m, c, p, ['name', 'namespace', 'serviceAccount', 'labels', 'ip', 'node', 'ports', 'enforcer', 'mode', 'defaultDeny']);
    const name = str(f.get('name'), c, `${p}.name`);
    if (name !== null && !NAME_RE.test(name)) c.err(f.get('name'), `${p}.name`, 'expected a DNS-1123 name');
    const namespace = f.has('namespace') ? str(f.get('namespace'), c, `${p}.namespace`) : 'default';
    if (namespace !== null && !NAME_RE.test(namespace)) c.err(f.get('namespace'), `${p}.namespace`, 'expected a DNS-1123 name');
    const serviceAccount = f.has('serviceAccount') ? str(f.get('serviceAccount'), c, `${p}.serviceAccount`) : 'default';
    if (serviceAccount !== null && !NAME_RE.test(serviceAccount)) c.err(f.get('serviceAccount'), `${p}.serviceAccount`, 'expected a DNS-1123 name');
    const labels = f.has('labels') ? labelsOf(f.get('labels') ?? null, c, `${p}.labels`) : {};
    let node: string | null = null;
    if (f.has('node')) {
      node = str(f.get('node'), c, `${p}.node`);
      if (node !== null && !nodes.includes(node)) c.err(f.get('node'), `${p}.node`, `unknown node ${JSON.stringify(node)} (nodes: ${nodes.join(', ')})`);
    } else node = nodes[i % Math.max(1, nodes.length)] ?? null;
    const ports = f.has('ports') ? portsOf(f.get('ports') ?? null, c, `${p}.ports`) : [];
    const enforcer = f.has('enforcer') ? (bool(f.get('enforcer'), c, `${p}.enforcer`) ?? true) : true;
    const wmode = f.has('mode') ? oneOf(f.get('mode'), c, `${p}.mode`, MODES) : null;
    if (f.has('defaultDeny')) bool(f.get('defaultDeny'), c, `${p}.defaultDeny`);
    let ip = '';
    let ipAssigned = true;
    if (f.has('ip')) {
      const s = str(f.get('ip'), c, `${p}.ip`);
      if (s !== null) {
        try {
          const v = ipToU32(s);
          if (usedIps.has(v)) c.err(f.get('ip'), `${p}.ip`, `address ${s} is already used by another workload`);
          usedIps.add(v);
          ip = s;
          ipAssigned = false;
        } catch {
          c.err(f.get('ip'), `${p}.ip`, `not an IPv4 address: ${JSON.stringify(s)}`);
        }
      }
    }
    if (name === null || namespace === null || serviceAccount === null || node === null) return;
    const id = `${namespace}/${name}`;
    const w: ScenarioWorkload = {
      name,
      namespace,
      id,
      serviceAccount,
      labels,
      ip,
      ipAssigned,
      node,
      ports,
      enforcer,
      mode: wmode ?? namespaces[namespace]?.mode ?? mode,
      pos: c.pos(it),
    };
    if (byId.has(id)) c.err(it, p, `duplicate workload ${id}`);
    byId.set(id, w);
    workloads.push(w);
    if (ipAssigned) pendingIp.push(w);
  });
  let next = 0;
  for (const w of pendingIp) {
    for (;;) {
      if (next >= NET_SIZE) {
        c.err(null, 'workloads', 'more workloads than addresses in 198.18.0.0/15');
        break;
      }
      const v = (NET_BASE + next++) >>> 0;
      const last = v & 0xff;
      if (last === 0 || last === 255 || last === 1 || usedIps.has(v)) continue;
      usedIps.add(v);
      w.ip = u32ToIp(v);
      break;
    }
  }

  // Policies
  const policies: PolicySource[] = [];
  if (top.has('policies')) {
    (seqOf(top.get('policies'), c, 'policies') ?? []).forEach((it, i) => {
      const p = `policies[${i}]`;
      if (isScalar(it) && typeof it.value === 'string' && it.value !== '') {
        policies.push({ kind: 'path', path: resolve(dir, it.value), pos: c.pos(it) });
      } else if (isMap(it)) {
        const pos = c.pos(it);
        const docText = inlineText(text, it.range?.[0] ?? 0, it.range?.[1] ?? 0, pos);
        policies.push({ kind: 'inline', text: docText, doc: it.toJSON(), pos });
      } else c.err(it, p, 'expected a path (file or folder, relative to the scenario) or an inline policy document');
    });
  }

  // Traffic
  const traffic: ScenarioTraffic[] = [];
  const trNodes = top.get('traffic');
  (trNodes === undefined ? [] : (seqOf(trNodes, c, 'traffic') ?? [])).forEach((it, i) => {
    const p = `traffic[${i}]`;
    const m = mapOf(it, c, p);
    if (m === null) return;
    const f = entries(m, c, p, ['from', 'to', 'port', 'expect', 'reason', 'attack', 'victim', 'spoof', 'count']);
    const ref = (key: string): string | null => {
      const n = f.get(key);
      const s = str(n, c, `${p}.${key}`);
      if (s === null) return null;
      if (!/^[^/\s]+\/[^/\s]+$/.test(s)) {
        c.err(n, `${p}.${key}`, `expected NAMESPACE/NAME, got ${JSON.stringify(s)}`);
        return null;
      }
      if (!byId.has(s)) {
        c.err(n, `${p}.${key}`, `unknown workload ${JSON.stringify(s)}`);
        return null;
      }
      return s;
    };
    const from = ref('from');
    const to = ref('to');
    let port: number | null = null;
    let portName: string | null = null;
    const portNode = f.get('port');
    if (portNode === undefined) c.err(it, `${p}.port`, 'required');
    else if (isScalar(portNode) && typeof portNode.value === 'string') {
      portName = portNode.value;
      const target = to === null ? undefined : byId.get(to);
      const np = target?.ports.find((x) => x.name === portName);
      if (target !== undefined && np === undefined) c.err(portNode, `${p}.port`, `workload ${to} has no port named ${JSON.stringify(portName)}`);
      port = np?.port ?? null;
    } else port = int(portNode, c, `${p}.port`, 1, 65535);
    const expect = f.has('expect') ? oneOf(f.get('expect'), c, `${p}.expect`, ['allow', 'deny'] as const) : null;
    const reason = f.has('reason') ? str(f.get('reason'), c, `${p}.reason`) : null;
    const attack = f.has('attack') ? oneOf(f.get('attack'), c, `${p}.attack`, ATTACKS) : null;
    if (f.has('victim') && f.has('spoof')) c.err(f.get('spoof'), `${p}.spoof`, 'give either victim or spoof, not both');
    const victim = f.has('victim') ? ref('victim') : f.has('spoof') ? ref('spoof') : null;
    if (victim !== null && attack === null) c.err(f.get('victim') ?? f.get('spoof'), `${p}.victim`, 'only meaningful with an attack');
    const count = f.has('count') ? (int(f.get('count'), c, `${p}.count`, 1, 1_000_000) ?? 1) : 1;
    if (from !== null && to !== null && from === to) c.err(it, p, 'from and to are the same workload');
    if (from === null || to === null || port === null) return;
    traffic.push({ index: i, from, to, port, portName, expect, reason, attack, victim, count, pos: c.pos(it) });
  });

  if (c.errors.length > 0) throw new SyngateError('SYNGATE_SIM_SCENARIO', c.errors.join('\n'));
  const json = root.toJSON() as Record<string, unknown>;
  const inventoryDoc: Record<string, unknown> = {};
  for (const k of ['trustDomain', 'rootNamespace', 'mode', 'defaultDeny', 'namespaces']) if (json[k] !== undefined) inventoryDoc[k] = json[k];
  inventoryDoc['trustDomain'] = trustDomain;
  const rawWl = Array.isArray(json['workloads']) ? (json['workloads'] as Record<string, unknown>[]) : [];
  inventoryDoc['workloads'] = rawWl.map((w, i) => ({ namespace: 'default', ...w, ip: workloads[i]?.ip, node: workloads[i]?.node }));
  return {
    inventoryDoc,
    file,
    dir,
    trustDomain,
    nodes,
    mode,
    defaultDeny,
    namespaces,
    envoy,
    workloads,
    policies,
    traffic,
    seed,
  };
}

/**
 * The source of an inline policy document as standalone YAML whose line numbers equal the
 * scenario's: preceded by blank lines, continuation lines dedented to the document's column.
 */
function inlineText(src: string, a: number, b: number, pos: Pos): string {
  const lines = src.slice(a, b).split('\n');
  const indent = pos.col - 1;
  const body = lines.map((l, i) => (i === 0 ? l : l.slice(Math.min(indent, l.length - l.trimStart().length)))).join('\n');
  return '\n'.repeat(pos.line - 1) + body;
}

/** Reads and parses a scenario file. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SyngateError('SYNGATE_SIM_SCENARIO', `${path}: cannot read scenario: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return parseScenario(text, path, dirname(resolve(path)));
}
