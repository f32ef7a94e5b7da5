// The daemon's configuration file (docs/config.md): YAML in, a fully validated DaemonConfig out.
// Invariants:
//  - loadConfig/parseConfig either return a config in which every field has been checked and
//    defaulted, or throw SyngateError(SYNGATE_DAEMON_CONFIG) whose message is
//    `FILE:LINE:COL: field.path: reason` — the first problem found, naming the field;
//  - unknown keys are errors (a typo must not silently fall back to a default);
//  - relative paths are resolved against the config file's directory;
//  - `${VAR}` in a string is replaced by the environment variable VAR; an unset VAR is an error;
//  - nothing here touches the network, the firewall or a packet;
//  - a deny-list (revocation.serials / spiffeIds, and the file revocation.file) holds only
//    lowercase 16-hex-digit node credential serials and canonical SPIFFE IDs; the file is parsed
//    by parseDenyList with the same FILE:LINE:COL: field: reason messages (code DENYLIST_ERROR).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isIP } from 'node:net';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, type Node as YamlNode } from 'yaml';
import { SyngateError } from '../errors.js';
import { DEFAULT_REJECT_RST_PER_SECOND } from '../engine/index.js';
import { parseSpiffeId } from '../identity/index.js';

export const CONFIG_ERROR = 'SYNGATE_DAEMON_CONFIG';
export const DENYLIST_ERROR = 'SYNGATE_DAEMON_DENYLIST';

export type Mode = 'enforce' | 'audit' | 'off';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface PortRange {
  from: number;
  to: number;
}

export interface NfqueueDatapathConfig {
  type: 'nfqueue';
  /** First of the 4 consecutive NFQUEUE numbers the adapter binds. */
  queueBase: number;
  /** Host-side interfaces of protected workloads (nft patterns, trailing `*` allowed). */
  interfaces: string[];
  /** Let packets through when no daemon listens on the queue (fail open). Off by default. */
  failOpen: boolean;
  /** nftables table (family ip) owned by the adapter. */
  table: string;
  /**
   * Leave the queue rules installed on exit: while no daemon listens, new handshakes fail (closed)
   * and authorized flows keep working; the next daemon takes over. Default false (exit removes them).
   */
  keepRulesOnExit: boolean;
}

export interface PcapDatapathConfig {
  type: 'pcap';
  /** Interface toward the protected workloads. */
  inside: string;
  /** Interface toward the network. */
  outside: string;
  /** libpcap kernel buffer per interface, bytes. */
  bufferSize: number;
}

export type DatapathConfig = NfqueueDatapathConfig | PcapDatapathConfig;

export interface StaticInventoryConfig {
  source: 'static';
  file: string;
}

export interface KubernetesInventoryConfig {
  source: 'kubernetes';
  /** This node's name: only pods with spec.nodeName equal to it are protected here. */
  nodeName: string;
  /** API server URL; null = in-cluster (KUBERNETES_SERVICE_HOST/PORT). */
  apiServer: string | null;
  tokenFile: string;
  caFile: string;
  /** Pod interface naming on this node, e.g. `veth*` or `cali*`; used by the datapath. */
  interfacePattern: string | null;
}

export type InventoryConfig = StaticInventoryConfig | KubernetesInventoryConfig;

export interface DaemonConfig {
  /** Absolute path of the file this came from. */
  file: string;
  /** This enforcer's name (node name), written into flow records. */
  node: string;
  trustDomain: string;
  mode: Mode;
  datapath: DatapathConfig;
  identity: {
    /** PEM bundle of trusted CA certificates. */
    caBundle: string;
    /** Directory holding this node's credential (as written by `syngate ca issue`). */
    credentials: string;
    /** Accepted clock skew between nodes, seconds. */
    clockSkewSeconds: number;
  };
  policy: {
    /** Files or folders of policy YAML. */
    paths: string[];
    rootNamespace: string;
    /** Strict default-deny for workloads no ALLOW policy selects. */
    defaultDeny: boolean;
  };
  inventory: InventoryConfig;
  envoy: {
    /** Local Envoy inbound port, or null for no redirect. */
    inboundPort: number | null;
    excludePorts: PortRange[];
  };
  conntrack: {
    capacity: number;
    halfOpenMax: number;
    halfOpenPerSource: number;
    timeouts: { halfOpenSeconds: number; establishedSeconds: number; closingSeconds: number };
    /** pcap datapath: where a graceful stop saves the authorized flows for the next start (null: off). */
    stateFile: string | null;
    /** A state file older than this at start is ignored (and deleted). */
    stateMaxAgeSeconds: number;
  };
  admin: { host: string; port: number };
  flowLog: {
    sink: 'file' | 'stdout' | 'off';
    /** Set iff sink is `file`. */
    path: string | null;
    maxBytes: number;
    maxFiles: number;
    /** Interval records for long flows, seconds. */
    intervalSeconds: number;
    /** Records kept in memory for /flows and /map. */
    recent: number;
  };
  log: { level: LogLevel };
  reload: { pollMillis: number; debounceMillis: number };
  revocation: RevocationConfig;
  rejects: {
    /** Reject RSTs per second for refused inbound SYNs; beyond it they are dropped silently (0: never send). */
    rstPerSecond: number;
  };
}

/** Revoked identities (docs/config.md, `revocation`). */
export interface DenyListEntries {
  /** Node credential serials, 16 lowercase hex digits each. */
  serials: string[];
  /** Canonical SPIFFE IDs. */
  spiffeIds: string[];
}

export interface RevocationConfig extends DenyListEntries {
  /** Deny-list file (YAML: serials, spiffeIds), watched and reloaded; null: none. */
  file: string | null;
}

type Path = (string | number)[];
type Obj = Record<string, unknown>;

/** Where a value came from, for error messages. */
class Locator {
  constructor(
    readonly file: string,
    private readonly root: YamlNode | null,
    private readonly lines: LineCounter,
  ) {}

  /** `FILE:LINE:COL` of the deepest existing node along `path` (the key itself when `key`). */
  at(path: Path, key = false): string {
    let node: unknown = this.root;
    let pos: number | undefined = rangeStart(node);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) break;
        pos = key && seg === path[path.length - 1] ? rangeStart(pair.key) : (rangeStart(pair.value) ?? rangeStart(pair.key));
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined) break;
        pos = rangeStart(item);
        node = item;
      } else break;
    }
    if (pos === undefined) return `${this.file}:1:1`;
    const lp = this.lines.linePos(pos);
    return `${this.file}:${lp.line}:${lp.col}`;
  }
}

function rangeStart(n: unknown): number | undefined {
  if (n !== null && typeof n === 'object' && 'range' in n) {
    const r = (n as { range?: [number, number, number] | null }).range;
    if (r) return r[0];
  }
  return undefined;
}

/** `a.b[0].c`; a key that is not a plain identifier is shown quoted, `a["we:ird"]`, so the message stays parseable. */
function fieldName(path: Path): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) s += `[${JSON.stringify(seg)}]`;
    else s += s === '' ? seg : `.${seg}`;
  }
  return s === '' ? '(top level)' : s;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Validation context: every check names its field and throws on the first problem. */
class Checker {
  constructor(
    readonly loc: Locator,
    readonly baseDir: string,
    readonly env: NodeJS.ProcessEnv,
    readonly code: string = CONFIG_ERROR,
  ) {}

  fail(path: Path, reason: string, key = false): never {
    throw new SyngateError(this.code, `${this.loc.at(path, key)}: ${fieldName(path)}: ${reason}`);
  }

  obj(v: unknown, path: Path, allowed: readonly string[]): Obj {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(path, `must be a mapping (got ${show(v)})`);
    const o = v as Obj;
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail([...path, k], `unknown field (allowed: ${allowed.join(', ')})`, true);
    }
    return o;
  }

  str(o: Obj, path: Path, def?: string): string {
    const k = path[path.length - 1] as string;
    let v = o[k];
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(path, 'is required');
      return def;
    }
    if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
    if (typeof v !== 'string') this.fail(path, `must be a string (got ${show(v)})`);
    const s = this.expand(v, path);
    if (s.trim() === '') this.fail(path, 'must not be empty');
    return s;
  }

  expand(s: string, path: Path): string {
    return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = this.env[name];
      if (v === undefined || v === '') this.fail(path, `environment variable ${name} is not set`);
      return v;
    });
  }

  enumOf<T extends string>(o: Obj, path: Path, values: readonly T[], def?: T): T {
    const s = this.str(o, path, def);
    if (!(values as readonly string[]).includes(s)) this.fail(path, `must be one of ${values.join(', ')} (got ${show(s)})`);
    return s as T;
  }

  int(o: Obj, path: Path, min: number, max: number, def?: number): number {
    const k = path[path.length - 1] as string;
    const v = o[k];
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(path, 'is required');
      return def;
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(path, `must be an integer (got ${show(v)})`);
    if (v < min || v > max) this.fail(path, `must be between ${min} and ${max} (got ${v})`);
    return v;
  }

  bool(o: Obj, path: Path, def: boolean): boolean {
    const k = path[path.length - 1] as string;
    const v = o[k];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') this.fail(path, `must be true or false (got ${show(v)})`);
    return v;
  }

  file(o: Obj, path: Path, def?: string): string {
    const s = this.str(o, path, def);
    return isAbsolute(s) ? s : resolve(this.baseDir, s);
  }

  list(o: Obj, path: Path, def?: unknown[]): unknown[] {
    const k = path[path.length - 1] as string;
    const v = o[k];
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(path, 'is required');
      return def;
    }
    if (!Array.isArray(v)) this.fail(path, `must be a list (got ${show(v)})`);
    return v;
  }

  iface(v: unknown, path: Path): string {
    if (typeof v !== 'string') this.fail(path, `must be an interface name (got ${show(v)})`);
    const s = this.expand(v, path);
    // Linux IFNAMSIZ is 16 including the NUL; `*` allowed as a trailing wildcard.
    if (!/^[A-Za-z0-9_.:@-]{1,15}\*?$/.test(s)) this.fail(path, `is not a valid interface name (got ${show(s)})`);
    return s;
  }
}

const TOP = [
  'node', 'trustDomain', 'mode', 'datapath', 'identity', 'policy', 'inventory', 'envoy', 'conntrack',
  'admin', 'flowLog', 'log', 'reload', 'revocation', 'rejects',
] as const;

const SERIAL_HEX = /^[0-9a-fA-F]{16}$/;

/** One node credential serial: exactly 16 hex digits (as `syngate ca issue` prints it), lowercased. */
function parseSerial(c: Checker, v: unknown, path: Path): string {
  if (typeof v === 'number') c.fail(path, `must be a quoted string: YAML read this serial as the number ${String(v)}; write it in quotes, e.g. "4f3a09c2d1b8e675"`);
  if (typeof v !== 'string') c.fail(path, `must be a node credential serial, 16 hex digits (got ${show(v)})`);
  const s = v.trim();
  if (!SERIAL_HEX.test(s)) c.fail(path, `must be a node credential serial, exactly 16 hex digits as \`syngate ca issue\` prints it (got ${show(v)})`);
  return s.toLowerCase();
}

/** One SPIFFE ID, in the (only accepted) canonical form identity/ compares against. */
function parseRevokedSpiffeId(c: Checker, v: unknown, path: Path): string {
  if (typeof v !== 'string') c.fail(path, `must be a SPIFFE ID string (got ${show(v)})`);
  const r = parseSpiffeId(v);
  if (!r.ok) c.fail(path, `is not a valid SPIFFE ID: ${r.error} (got ${show(v)})`);
  return r.value.id; // parseSpiffeId accepts only the canonical form, so this equals v
}

/** The `serials` and `spiffeIds` lists of mapping `o` at `path` (both optional, duplicates folded). */
function parseDenyEntries(c: Checker, o: Obj, path: Path): DenyListEntries {
  const serials = c.list(o, [...path, 'serials'], []).map((v, i) => parseSerial(c, v, [...path, 'serials', i]));
  const spiffeIds = c.list(o, [...path, 'spiffeIds'], []).map((v, i) => parseRevokedSpiffeId(c, v, [...path, 'spiffeIds', i]));
  return { serials: [...new Set(serials)], spiffeIds: [...new Set(spiffeIds)] };
}

const DNS_LABELS = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

function parsePortRange(c: Checker, v: unknown, path: Path): PortRange {
  let from: number;
  let to: number;
  if (typeof v === 'number') {
    from = to = v;
  } else if (typeof v === 'string' && /^\d+(-\d+)?$/.test(v.trim())) {
    const [a, b] = v.trim().split('-');
    from = Number(a);
    to = b === undefined ? from : Number(b);
  } else {
    c.fail(path, `must be a port or a range like 15000-15090 (got ${show(v)})`);
  }
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to > 65535 || from > to) {
    c.fail(path, `must be ports within 1-65535 with start <= end (got ${show(v)})`);
  }
  return { from, to };
}

function parseAdmin(c: Checker, o: Obj, path: Path): { host: string; port: number } {
  const s = c.str(o, path, '127.0.0.1:9901');
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d+)$/.exec(s);
  if (!m) c.fail(path, `must be HOST:PORT, e.g. 127.0.0.1:9901 (got ${show(s)})`);
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (isIP(host) === 0 && host !== 'localhost') c.fail(path, `host must be an IP address or localhost (got ${show(host)})`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) c.fail(path, `port must be between 0 and 65535 (got ${m[3]})`);
  return { host, port };
}

function parseDatapath(c: Checker, v: unknown): DatapathConfig {
  const P: Path = ['datapath'];
  if (v === undefined || v === null) c.fail(P, 'is required');
  const o0 = c.obj(v, P, ['type', 'queueBase', 'interfaces', 'failOpen', 'table', 'keepRulesOnExit', 'inside', 'outside', 'bufferSize']);
  const type = c.enumOf(o0, [...P, 'type'], ['nfqueue', 'pcap'] as const);
  if (type === 'nfqueue') {
    const o = c.obj(v, P, ['type', 'queueBase', 'interfaces', 'failOpen', 'table', 'keepRulesOnExit']);
    const queueBase = c.int(o, [...P, 'queueBase'], 0, 65532, 7100);
    const ifs = c.list(o, [...P, 'interfaces']);
    if (ifs.length === 0) c.fail([...P, 'interfaces'], 'must name at least one workload interface (pattern), e.g. veth*');
    const interfaces = ifs.map((x, i) => c.iface(x, [...P, 'interfaces', i]));
    const table = c.str(o, [...P, 'table'], 'syngate');
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(table)) c.fail([...P, 'table'], `must be an nftables table name (got ${show(table)})`);
    const failOpen = c.bool(o, [...P, 'failOpen'], false);
    const keepRulesOnExit = c.bool(o, [...P, 'keepRulesOnExit'], false);
    if (failOpen && keepRulesOnExit) c.fail([...P, 'keepRulesOnExit'], 'cannot be combined with failOpen: rules left behind with queue bypass would let every handshake through unchecked while no daemon runs');
    return { type, queueBase, interfaces, failOpen, table, keepRulesOnExit };
  }
  const o = c.obj(v, P, ['type', 'inside', 'outside', 'bufferSize']);
  if (o['inside'] === undefined) c.fail([...P, 'inside'], 'is required for the pcap datapath');
  if (o['outside'] === undefined) c.fail([...P, 'outside'], 'is required for the pcap datapath');
  const inside = c.iface(o['inside'], [...P, 'inside']);
  const outside = c.iface(o['outside'], [...P, 'outside']);
  if (inside.endsWith('*')) c.fail([...P, 'inside'], 'pcap interfaces must be exact names');
  if (outside.endsWith('*')) c.fail([...P, 'outside'], 'pcap interfaces must be exact names');
  if (inside === outside) c.fail([...P, 'outside'], `must differ from datapath.inside (both ${show(inside)})`);
  return { type, inside, outside, bufferSize: c.int(o, [...P, 'bufferSize'], 65536, 1 << 30, 8 << 20) };
}

function parseInventory(c: Checker, v: unknown): InventoryConfig {
  const P: Path = ['inventory'];
  if (v === undefined || v === null) c.fail(P, 'is required');
  const o0 = c.obj(v, P, ['source', 'file', 'nodeName', 'apiServer', 'tokenFile', 'caFile', 'interfacePattern']);
  const source = c.enumOf(o0, [...P, 'source'], ['static', 'kubernetes'] as const);
  if (source === 'static') {
    const o = c.obj(v, P, ['source', 'file']);
    return { source, file: c.file(o, [...P, 'file']) };
  }
  const o = c.obj(v, P, ['source', 'nodeName', 'apiServer', 'tokenFile', 'caFile', 'interfacePattern']);
  const nodeName = c.str(o, [...P, 'nodeName']);
  if (!DNS_LABELS.test(nodeName) || nodeName.length > 253) c.fail([...P, 'nodeName'], `is not a valid Kubernetes node name (got ${show(nodeName)})`);
  let apiServer: string | null = null;
  if (o['apiServer'] !== undefined && o['apiServer'] !== null) {
    apiServer = c.str(o, [...P, 'apiServer']);
    let u: URL | null = null;
    try {
      u = new URL(apiServer);
    } catch {
      u = null;
    }
    if (u === null || u.protocol !== 'https:') c.fail([...P, 'apiServer'], `must be an https:// URL (got ${show(apiServer)})`);
  }
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  const interfacePattern = o['interfacePattern'] === undefined || o['interfacePattern'] === null ? null : c.iface(o['interfacePattern'], [...P, 'interfacePattern']);
  return {
    source,
    nodeName,
    apiServer,
    tokenFile: c.file(o, [...P, 'tokenFile'], `${sa}/token`),
    caFile: c.file(o, [...P, 'caFile'], `${sa}/ca.crt`),
    interfacePattern,
  };
}

/** YAML text -> plain value plus a locator for messages; a syntax error throws `code` naming FILE:LINE:COL. */
function readYaml(text: string, file: string, code: string): { loc: Locator; raw: unknown } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const loc = new Locator(file, doc.contents as YamlNode | null, lines);
  const yamlErr = doc.errors[0];
  if (yamlErr !== undefined) {
    const lp = lines.linePos(yamlErr.pos[0]);
    const first = yamlErr.message.split('\n')[0] ?? yamlErr.message;
    throw new SyngateError(code, `${file}:${lp.line}:${lp.col}: (yaml): ${first}`);
  }
  try {
    return { loc, raw: doc.toJS({ maxAliasCount: 100 }) };
  } catch (e) {
    throw new SyngateError(code, `${file}:1:1: (yaml): ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Parse and validate config text. `file` names the source in messages and anchors relative paths. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const abs = resolve(file);
  const { loc, raw } = readYaml(text, file, CONFIG_ERROR);
  const c = new Checker(loc, dirname(abs), env);
  if (raw === null || raw === undefined) c.fail([], 'the file is empty; see docs/config.md');
  const top = c.obj(raw, [], TOP);

  const nodeName = top['node'] === undefined ? (env['NODE_NAME'] ?? env['HOSTNAME'] ?? 'syngate') : c.str(top, ['node']);
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,252})$/.test(nodeName)) c.fail(['node'], `must be a host-style name (got ${show(nodeName)})`);
  const trustDomain = c.str(top, ['trustDomain'], 'cluster.local');
  if (!DNS_LABELS.test(trustDomain)) c.fail(['trustDomain'], `must be a lowercase DNS name (got ${show(trustDomain)})`);
  const mode = c.enumOf(top, ['mode'], ['enforce', 'audit', 'off'] as const, 'enforce');
  const datapath = parseDatapath(c, top['datapath']);

  const idO = c.obj(top['identity'], ['identity'], ['caBundle', 'credentials', 'clockSkewSeconds']);
  if (top['identity'] === undefined || top['identity'] === null) c.fail(['identity'], 'is required');
  const identity = {
    caBundle: c.file(idO, ['identity', 'caBundle']),
    credentials: c.file(idO, ['identity', 'credentials']),
    clockSkewSeconds: c.int(idO, ['identity', 'clockSkewSeconds'], 0, 3600, 30),
  };

  if (top['policy'] === undefined || top['policy'] === null) c.fail(['policy'], 'is required');
  const poO = c.obj(top['policy'], ['policy'], ['paths', 'rootNamespace', 'defaultDeny']);
  const pathsRaw = c.list(poO, ['policy', 'paths']);
  if (pathsRaw.length === 0) c.fail(['policy', 'paths'], 'must list at least one file or folder');
  const paths = pathsRaw.map((p, i) => {
    if (typeof p !== 'string' || p.trim() === '') c.fail(['policy', 'paths', i], `must be a path (got ${show(p)})`);
    const s = c.expand(p as string, ['policy', 'paths', i]);
    return isAbsolute(s) ? s : resolve(dirname(abs), s);
  });
  const policy = {
    paths,
    rootNamespace: c.str(poO, ['policy', 'rootNamespace'], 'istio-system'),
    defaultDeny: c.bool(poO, ['policy', 'defaultDeny'], false),
  };

  const inventory = parseInventory(c, top['inventory']);

  const enO = c.obj(top['envoy'], ['envoy'], ['inboundPort', 'excludePorts']);
  const inboundPort = enO['inboundPort'] === undefined || enO['inboundPort'] === null ? null : c.int(enO, ['envoy', 'inboundPort'], 1, 65535);
  const excludePorts = c.list(enO, ['envoy', 'excludePorts'], ['15000-15090']).map((p, i) => parsePortRange(c, p, ['envoy', 'excludePorts', i]));

  const ctO = c.obj(top['conntrack'], ['conntrack'], ['capacity', 'halfOpenMax', 'halfOpenPerSource', 'timeouts', 'stateFile', 'stateMaxAgeSeconds']);
  const capacity = c.int(ctO, ['conntrack', 'capacity'], 1024, 1 << 24, 1 << 16);
  const halfOpenMax = c.int(ctO, ['conntrack', 'halfOpenMax'], 16, 1 << 22, 4096);
  if (halfOpenMax > capacity) c.fail(['conntrack', 'halfOpenMax'], `must not exceed conntrack.capacity (${capacity})`);
  const halfOpenPerSource = c.int(ctO, ['conntrack', 'halfOpenPerSource'], 1, 1 << 22, 256);
  if (halfOpenPerSource > halfOpenMax) c.fail(['conntrack', 'halfOpenPerSource'], `must not exceed conntrack.halfOpenMax (${halfOpenMax})`);
  const toO = c.obj(ctO['timeouts'], ['conntrack', 'timeouts'], ['halfOpenSeconds', 'establishedSeconds', 'closingSeconds']);
  const conntrack = {
    capacity,
    halfOpenMax,
    halfOpenPerSource,
    timeouts: {
      halfOpenSeconds: c.int(toO, ['conntrack', 'timeouts', 'halfOpenSeconds'], 1, 600, 10),
      establishedSeconds: c.int(toO, ['conntrack', 'timeouts', 'establishedSeconds'], 10, 7 * 86400, 3600),
      closingSeconds: c.int(toO, ['conntrack', 'timeouts', 'closingSeconds'], 1, 600, 10),
    },
    stateFile: ctO['stateFile'] === undefined || ctO['stateFile'] === null ? null : c.file(ctO, ['conntrack', 'stateFile']),
    stateMaxAgeSeconds: c.int(ctO, ['conntrack', 'stateMaxAgeSeconds'], 1, 3600, 60),
  };
  if (conntrack.stateFile !== null && datapath.type !== 'pcap') c.fail(['conntrack', 'stateFile'], `is only used with datapath type pcap (the kernel keeps nfqueue flows across restarts); datapath is ${datapath.type}`);

  const admin = parseAdmin(c, top, ['admin']);

  const flO = c.obj(top['flowLog'], ['flowLog'], ['sink', 'path', 'maxBytes', 'maxFiles', 'intervalSeconds', 'recent']);
  const sink = c.enumOf(flO, ['flowLog', 'sink'], ['file', 'stdout', 'off'] as const, 'stdout');
  let flPath: string | null = null;
  if (sink === 'file') flPath = c.file(flO, ['flowLog', 'path']);
  else if (flO['path'] !== undefined) c.fail(['flowLog', 'path'], `is only valid with sink: file (sink is ${sink})`);
  const flowLog = {
    sink,
    path: flPath,
    maxBytes: c.int(flO, ['flowLog', 'maxBytes'], 4096, 2 ** 40, 64 * 1024 * 1024),
    maxFiles: c.int(flO, ['flowLog', 'maxFiles'], 1, 100, 5),
    intervalSeconds: c.int(flO, ['flowLog', 'intervalSeconds'], 1, 86400, 60),
    recent: c.int(flO, ['flowLog', 'recent'], 0, 1_000_000, 1000),
  };

  const lgO = c.obj(top['log'], ['log'], ['level']);
  const log = { level: c.enumOf(lgO, ['log', 'level'], ['debug', 'info', 'warn', 'error'] as const, 'info') };

  const rlO = c.obj(top['reload'], ['reload'], ['pollMillis', 'debounceMillis']);
  const reload = {
    pollMillis: c.int(rlO, ['reload', 'pollMillis'], 50, 60_000, 250),
    debounceMillis: c.int(rlO, ['reload', 'debounceMillis'], 0, 10_000, 100),
  };

  const rvO = c.obj(top['revocation'], ['revocation'], ['serials', 'spiffeIds', 'file']);
  const revocation: RevocationConfig = {
    ...parseDenyEntries(c, rvO, ['revocation']),
    file: rvO['file'] === undefined || rvO['file'] === null ? null : c.file(rvO, ['revocation', 'file']),
  };

  const rjO = c.obj(top['rejects'], ['rejects'], ['rstPerSecond']);
  const rejects = { rstPerSecond: c.int(rjO, ['rejects', 'rstPerSecond'], 0, 1_000_000, DEFAULT_REJECT_RST_PER_SECOND) };

  return { file: abs, node: nodeName, trustDomain, mode, datapath, identity, policy, inventory, envoy: { inboundPort, excludePorts }, conntrack, admin, flowLog, log, reload, revocation, rejects };
}

/**
 * Parses a deny-list file (`revocation.file`): YAML with optional `serials` and `spiffeIds` lists;
 * an empty file is an empty list. Throws SyngateError(DENYLIST_ERROR) `FILE:LINE:COL: field: reason`.
 */
export function parseDenyList(text: string, file: string): DenyListEntries {
  const { loc, raw } = readYaml(text, file, DENYLIST_ERROR);
  const c = new Checker(loc, dirname(resolve(file)), {}, DENYLIST_ERROR);
  if (Array.isArray(raw) || (raw !== null && raw !== undefined && typeof raw !== 'object')) c.fail([], `must be a mapping with serials and/or spiffeIds lists (got ${show(raw)})`);
  return parseDenyEntries(c, c.obj(raw, [], ['serials', 'spiffeIds']), []);
}

/** Reads and parses a deny-list file; an unreadable file is a DENYLIST_ERROR naming it. */
export function loadDenyList(file: string): DenyListEntries {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new SyngateError(DENYLIST_ERROR, `${file}:1:1: (file): cannot read the deny-list file (${code})`, { cause: e });
  }
  return parseDenyList(text, file);
}

/** Read and validate a config file. Unreadable files are reported as config errors too. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new SyngateError(CONFIG_ERROR, `${file}:1:1: (file): cannot read the config file (${code})`, { cause: e });
  }
  return parseConfig(text, file, env);
}
