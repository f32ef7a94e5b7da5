// Workload inventory: the YAML list of workloads (and namespaces) that policies are compiled for.
// The simulator's scenario embeds the same format (inventoryFromMap with its own extra keys).
// Invariants: loaders never throw; a loaded Inventory has unique NS/NAME keys and unique IPv4
// addresses, every workload has a SPIFFE ID spiffe://<trustDomain>/ns/<ns>/sa/<sa>, a resolved
// mode (workload, else namespace, else global, else `enforce`) and a resolved strict default-deny
// flag; every namespace carries the label kubernetes.io/metadata.name=<name> as Kubernetes does.
import { readFileSync } from 'node:fs';
import type { Node, YAMLMap } from 'yaml';
import { parseIpv4 } from './ipv4.js';
import type { SourcePos } from './model.js';
import { join, parseYamlText, Reader } from './yaml-read.js';
import type { Diagnostic } from './yaml-read.js';

export type WorkloadMode = 'enforce' | 'audit' | 'off';
/** Numeric modes for the hot path (Uint8Array slots). */
export const Mode = { ENFORCE: 0, AUDIT: 1, OFF: 2 } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];
export const MODE_NAMES: readonly WorkloadMode[] = ['enforce', 'audit', 'off'];

export interface WorkloadPort {
  name?: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface Workload {
  /** Position in Inventory.workloads; the compiled table's local workload id. */
  readonly index: number;
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ip: string;
  /** `ip` as uint32. */
  readonly ipU32: number;
  readonly node: string;
  readonly ports: readonly WorkloadPort[];
  readonly enforcer: boolean;
  readonly mode: WorkloadMode;
  readonly defaultDeny: boolean;
  /** spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount> */
  readonly spiffeId: string;
  readonly pos: SourcePos;
}

export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly mode?: WorkloadMode;
  readonly defaultDeny?: boolean;
}

export interface Inventory {
  readonly trustDomain: string;
  /** Root namespace named by the inventory, if any (compile options may override). */
  readonly rootNamespace?: string;
  readonly mode: WorkloadMode;
  readonly defaultDeny: boolean;
  readonly namespaces: ReadonlyMap<string, NamespaceInfo>;
  readonly workloads: readonly Workload[];
  /** `NS/NAME` -> workload */
  readonly byName: ReadonlyMap<string, Workload>;
  /** uint32 IP -> workload */
  readonly byIp: ReadonlyMap<number, Workload>;
}

export interface InventoryResult {
  inventory?: Inventory;
  diagnostics: Diagnostic[];
}

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Splits spiffe://TD/ns/NS/sa/SA; returns undefined for any other shape. */
export function parseSpiffeId(id: string): { trustDomain: string; namespace: string; serviceAccount: string } | undefined {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(id);
  if (m === null) return undefined;
  return { trustDomain: m[1] ?? '', namespace: m[2] ?? '', serviceAccount: m[3] ?? '' };
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const TOP = ['trustDomain', 'rootNamespace', 'mode', 'defaultDeny', 'namespaces', 'workloads'];
const WL = ['name', 'namespace', 'serviceAccount', 'labels', 'ip', 'node', 'ports', 'enforcer', 'mode', 'defaultDeny'];

/** Builds an inventory from a parsed mapping; `extra` names keys owned by an embedding format. */
export function inventoryFromMap(r: Reader, m: YAMLMap, path: string, extra: readonly string[] = []): Inventory | undefined {
  const before = r.diags.filter((d) => d.severity === 'error').length;
  const f = r.fields(m, path, [...TOP, ...extra]);
  let trustDomain = 'cluster.local';
  if (f.has('trustDomain') && !r.isNull(f.get('trustDomain'))) {
    const td = r.str(f.get('trustDomain'), join(path, 'trustDomain'));
    if (td !== undefined) {
      if (!/^[a-z0-9.-]+$/.test(td) || td === '') r.error(f.get('trustDomain'), join(path, 'trustDomain'), `invalid trust domain "${td}"`);
      trustDomain = td;
    }
  }
  let rootNamespace: string | undefined;
  if (f.has('rootNamespace') && !r.isNull(f.get('rootNamespace'))) {
    rootNamespace = r.str(f.get('rootNamespace'), join(path, 'rootNamespace'));
  }
  const mode = readMode(r, f.get('mode'), join(path, 'mode')) ?? 'enforce';
  const defaultDeny = readBool(r, f.get('defaultDeny'), join(path, 'defaultDeny')) ?? false;

  const namespaces = new Map<string, NamespaceInfo>();
  if (f.has('namespaces') && !r.isNull(f.get('namespaces'))) {
    const items = r.seq(f.get('namespaces'), join(path, 'namespaces')) ?? [];
    items.forEach((it, i) => {
      const p = `${join(path, 'namespaces')}[${i}]`;
      const nm = r.map(it, p);
      if (nm === undefined) return;
      const nf = r.fields(nm, p, ['name', 'labels', 'mode', 'defaultDeny']);
      if (!nf.has('name')) {
        r.error(nm, join(p, 'name'), 'name is required');
        return;
      }
      const name = r.str(nf.get('name'), join(p, 'name'));
      if (name === undefined) return;
      if (!NAME_RE.test(name)) r.error(nf.get('name'), join(p, 'name'), `invalid namespace name "${name}"`);
      if (namespaces.has(name)) r.error(nf.get('name'), join(p, 'name'), `duplicate namespace "${name}"`);
      const labels = { ...(r.labelMap(nf.get('labels'), join(p, 'labels')) ?? {}), 'kubernetes.io/metadata.name': name };
      const nsMode = readMode(r, nf.get('mode'), join(p, 'mode'));
      const nsDeny = readBool(r, nf.get('defaultDeny'), join(p, 'defaultDeny'));
      const info: { name: string; labels: Record<string, string>; mode?: WorkloadMode; defaultDeny?: boolean } = { name, labels };
      if (nsMode !== undefined) info.mode = nsMode;
      if (nsDeny !== undefined) info.defaultDeny = nsDeny;
      namespaces.set(name, info);
    });
  }

  const workloads: Workload[] = [];
  const byName = new Map<string, Workload>();
  const byIp = new Map<number, Workload>();
  if (f.has('workloads') && !r.isNull(f.get('workloads'))) {
    const items = r.seq(f.get('workloads'), join(path, 'workloads')) ?? [];
    items.forEach((it, i) => {
      const p = `${join(path, 'workloads')}[${i}]`;
      const wm = r.map(it, p);
      if (wm === undefined) return;
      const wf = r.fields(wm, p, WL);
      const req = (k: string): string | undefined => {
        if (!wf.has(k) || r.isNull(wf.get(k))) {
          r.error(wm, join(p, k), `${k} is required`);
          return undefined;
        }
        return r.str(wf.get(k), join(p, k));
      };
      const name = req('name');
      const namespace = req('namespace');
      const ipText = req('ip');
      let serviceAccount = 'default';
      if (wf.has('serviceAccount') && !r.isNull(wf.get('serviceAccount'))) {
        serviceAccount = r.str(wf.get('serviceAccount'), join(p, 'serviceAccount')) ?? 'default';
      }
      let node = '';
      if (wf.has('node') && !r.isNull(wf.get('node'))) node = r.str(wf.get('node'), join(p, 'node')) ?? '';
      const labels = r.labelMap(wf.get('labels'), join(p, 'labels')) ?? (Object.create(null) as Record<string, string>);
      const enforcer = readBool(r, wf.get('enforcer'), join(p, 'enforcer')) ?? true;
      const wMode = readMode(r, wf.get('mode'), join(p, 'mode'));
      const wDeny = readBool(r, wf.get('defaultDeny'), join(p, 'defaultDeny'));
      const ports = readPorts(r, wf.get('ports'), join(p, 'ports'));
      if (name === undefined || namespace === undefined || ipText === undefined) return;
      if (!NAME_RE.test(name)) r.error(wf.get('name'), join(p, 'name'), `invalid workload name "${name}"`);
      if (!NAME_RE.test(namespace)) r.error(wf.get('namespace'), join(p, 'namespace'), `invalid namespace "${namespace}"`);
      if (!NAME_RE.test(serviceAccount)) r.error(wf.get('serviceAccount'), join(p, 'serviceAccount'), `invalid service account "${serviceAccount}"`);
      const ipU32 = parseIpv4(ipText);
      if (ipU32 === undefined) {
        r.error(wf.get('ip'), join(p, 'ip'), `invalid IPv4 address "${ipText}"`);
        return;
      }
      const key = `${namespace}/${name}`;
      if (byName.has(key)) {
        r.error(wf.get('name'), join(p, 'name'), `duplicate workload ${key}`);
        return;
      }
      const other = byIp.get(ipU32);
      if (other !== undefined) {
        r.error(wf.get('ip'), join(p, 'ip'), `IP ${ipText} is already used by ${other.namespace}/${other.name}`);
        return;
      }
      // Namespaces were read above, so mode and strictness resolve here: workload, namespace, global.
      const ns = namespaces.get(namespace);
      const w: Workload = {
        index: workloads.length, name, namespace, serviceAccount, labels, ip: ipText, ipU32, node, ports, enforcer,
        mode: wMode ?? ns?.mode ?? mode, defaultDeny: wDeny ?? ns?.defaultDeny ?? defaultDeny,
        spiffeId: spiffeId(trustDomain, namespace, serviceAccount), pos: r.pos(wm),
      };
      workloads.push(w);
      byName.set(key, w);
      byIp.set(ipU32, w);
    });
  }
  for (const w of workloads) {
    if (!namespaces.has(w.namespace)) {
      namespaces.set(w.namespace, { name: w.namespace, labels: { 'kubernetes.io/metadata.name': w.namespace } });
    }
  }
  const after = r.diags.filter((d) => d.severity === 'error').length;
  if (after > before) return undefined;
  const inv: { -readonly [K in keyof Inventory]: Inventory[K] } = {
    trustDomain, mode, defaultDeny, namespaces, workloads, byName, byIp,
  };
  if (rootNamespace !== undefined) inv.rootNamespace = rootNamespace;
  return inv;
}

function readMode(r: Reader, node: Node | null | undefined, path: string): WorkloadMode | undefined {
  if (r.isNull(node)) return undefined;
  const s = r.str(node, path);
  if (s === undefined) return undefined;
  if (s === 'enforce' || s === 'audit' || s === 'off') return s;
  r.error(node, path, `unknown mode "${s}" (expected enforce, audit or off)`);
  return undefined;
}

function readBool(r: Reader, node: Node | null | undefined, path: string): boolean | undefined {
  if (r.isNull(node)) return undefined;
  return r.bool(node, path);
}

function readPorts(r: Reader, node: Node | null | undefined, path: string): WorkloadPort[] {
  if (r.isNull(node)) return [];
  const items = r.seq(node, path) ?? [];
  const out: WorkloadPort[] = [];
  const names = new Set<string>();
  items.forEach((it, i) => {
    const p = `${path}[${i}]`;
    const n = r.deref(it, p);
    if (n !== undefined && 'value' in n && typeof (n as { value: unknown }).value === 'number') {
      const port = r.int(n, p);
      if (port === undefined) return;
      if (port < 1 || port > 65535) r.error(n, p, `port out of range 1..65535: ${port}`);
      else out.push({ port, protocol: 'TCP' });
      return;
    }
    const m = r.map(n, p);
    if (m === undefined) return;
    const f = r.fields(m, p, ['name', 'port', 'protocol', 'containerPort']);
    const portNode = f.has('port') ? f.get('port') : f.get('containerPort');
    if (portNode === undefined || r.isNull(portNode)) {
      r.error(m, join(p, 'port'), 'port is required');
      return;
    }
    const port = r.int(portNode, join(p, 'port'));
    if (port === undefined) return;
    if (port < 1 || port > 65535) {
      r.error(portNode, join(p, 'port'), `port out of range 1..65535: ${port}`);
      return;
    }
    let protocol: WorkloadPort['protocol'] = 'TCP';
    if (f.has('protocol') && !r.isNull(f.get('protocol'))) {
      const pr = r.str(f.get('protocol'), join(p, 'protocol'));
      if (pr === 'TCP' || pr === 'UDP' || pr === 'SCTP') protocol = pr;
      else if (pr !== undefined) r.error(f.get('protocol'), join(p, 'protocol'), `unknown protocol "${pr}"`);
    }
    const wp: WorkloadPort = { port, protocol };
    if (f.has('name') && !r.isNull(f.get('name'))) {
      const nm = r.str(f.get('name'), join(p, 'name'));
      if (nm !== undefined) {
        if (!/^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(nm)) r.error(f.get('name'), join(p, 'name'), `invalid port name "${nm}"`);
        if (names.has(nm)) r.error(f.get('name'), join(p, 'name'), `duplicate port name "${nm}"`);
        names.add(nm);
        wp.name = nm;
      }
    }
    out.push(wp);
  });
  return out;
}

/** Parses an inventory YAML text (one document). Never throws. */
export function loadInventoryText(text: string, file: string): InventoryResult {
  const diagnostics: Diagnostic[] = [];
  try {
    const parsed = parseYamlText(text, file, diagnostics);
    const docs = parsed.docs.filter((d) => d.contents !== null);
    if (docs.length !== 1) {
      if (diagnostics.length === 0) {
        diagnostics.push({ file, line: 1, col: 1, path: '', message: `expected exactly one YAML document, found ${docs.length}`, severity: 'error' });
      }
      return { diagnostics };
    }
    const doc = docs[0];
    if (doc === undefined) return { diagnostics };
    const r = new Reader(file, parsed.lc, diagnostics, doc);
    const m = r.map(doc.contents, '');
    if (m === undefined) return { diagnostics };
    const inventory = inventoryFromMap(r, m, '');
    return inventory === undefined ? { diagnostics } : { inventory, diagnostics };
  } catch (e) {
    diagnostics.push({ file, line: 1, col: 1, path: '', message: `internal loader error: ${String(e)}`, severity: 'error' });
    return { diagnostics };
  }
}

/** Reads and parses an inventory file. Never throws. */
export function loadInventoryFile(path: string): InventoryResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { diagnostics: [{ file: path, line: 1, col: 1, path: '', message: `cannot read: ${(e as Error).message}`, severity: 'error' }] };
  }
  return loadInventoryText(text, path);
}
