// deploy/kubernetes/: every manifest validates against the Kubernetes OpenAPI schemas (the
// `kubernetes-models` package, generated from the Kubernetes 1.33 OpenAPI spec: types, required
// fields, formats, enums), and, like `kubectl apply --validate=strict`, contains no field the
// schema does not define (checked against the same package's generated type declarations).
// Plus what the issue asks of the DaemonSet, RBAC, config and Secret layout.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../enforcer/daemon/config.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIR = join(ROOT, 'deploy/kubernetes');
const require = createRequire(import.meta.url);
const KM = dirname(require.resolve('kubernetes-models/package.json'));

type Obj = Record<string, unknown>;

interface Doc {
  file: string;
  obj: Obj;
}

function loadDocs(): Doc[] {
  const out: Doc[] = [];
  for (const f of readdirSync(DIR).filter((n) => n.endsWith('.yaml')).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(DIR, f), 'utf8'))) {
      expect(d.errors, f).toEqual([]);
      const obj = d.toJS() as Obj | null;
      if (obj !== null) out.push({ file: f, obj });
    }
  }
  return out;
}

/** kubernetes-models module path for apiVersion/kind, e.g. apps/v1 DaemonSet -> apps/v1/DaemonSet. */
function modelPath(apiVersion: string, kind: string): string {
  return apiVersion.includes('/') ? `${apiVersion}/${kind}` : `v1/${kind}`;
}

// --- strict field check from the generated .d.ts files ---
interface TypeInfo {
  props: Map<string, string | null>;
}
const typeCache = new Map<string, TypeInfo>();

function resolveImport(fromFile: string, spec: string): string {
  const base = spec.startsWith('.') ? resolve(dirname(fromFile), spec) : join(dirname(KM), spec);
  return `${base}.d.ts`;
}

function typeInfo(dts: string): TypeInfo {
  const hit = typeCache.get(dts);
  if (hit) return hit;
  const text = readFileSync(dts, 'utf8');
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) imports.set(m[1] as string, resolveImport(dts, m[2] as string));
  const start = text.search(/^export interface I\w+/m);
  const body = text.slice(start, text.indexOf('\n}', start));
  const props = new Map<string, string | null>();
  for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.+?);?$/gm)) {
    const t = (m[2] as string).trim();
    const ref = /^(?:Array<)?(I\w+)>?$/.exec(t)?.[1];
    props.set(m[1] as string, ref !== undefined && imports.has(ref) ? (imports.get(ref) as string) : null);
  }
  const info = { props };
  typeCache.set(dts, info);
  return info;
}

/** Unknown field paths in `v` against the type declared in `dts`. */
function unknownFields(v: unknown, dts: string, path: string, out: string[]): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => unknownFields(x, dts, `${path}[${i}]`, out));
    return;
  }
  if (v === null || typeof v !== 'object') return;
  const info = typeInfo(dts);
  if (info.props.size === 0) return; // opaque (IntOrString, Quantity, RawExtension...)
  for (const [k, x] of Object.entries(v as Obj)) {
    if (!info.props.has(k)) {
      out.push(`${path}.${k}`);
      continue;
    }
    const sub = info.props.get(k);
    if (sub !== null && sub !== undefined) unknownFields(x, sub, `${path}.${k}`, out);
  }
}

const docs = loadDocs();
const byKind = (kind: string): Obj[] => docs.filter((d) => d.obj['kind'] === kind).map((d) => d.obj);

describe('deploy/kubernetes manifests against the Kubernetes OpenAPI schema', () => {
  it('has the kinds the deployment needs', () => {
    expect(docs.map((d) => d.obj['kind']).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'ConfigMap', 'DaemonSet', 'Namespace', 'Secret', 'Secret', 'ServiceAccount']);
  });

  it.each(docs.map((d) => [`${d.file} ${String(d.obj['kind'])}/${String((d.obj['metadata'] as Obj)['name'])}`, d] as const))('%s validates', (_n, d) => {
    const kind = String(d.obj['kind']);
    const mp = modelPath(String(d.obj['apiVersion']), kind);
    const mod = require(join(KM, mp)) as Record<string, new (x: unknown) => { validate(): void }>;
    const Model = mod[kind];
    expect(Model, `no schema for ${mp}`).toBeDefined();
    expect(() => new (Model as new (x: unknown) => { validate(): void })(d.obj).validate()).not.toThrow();
    const unknown: string[] = [];
    unknownFields(d.obj, join(KM, `${mp}.d.ts`), kind, unknown);
    expect(unknown).toEqual([]);
  });

  it('the validator itself rejects a wrong type and the strict check an unknown field', () => {
    const ds = structuredClone(byKind('DaemonSet')[0]) as Obj;
    const { DaemonSet } = require(join(KM, 'apps/v1/DaemonSet')) as { DaemonSet: new (x: unknown) => { validate(): void } };
    const c = ((((ds['spec'] as Obj)['template'] as Obj)['spec'] as Obj)['containers'] as Obj[])[0] as Obj;
    const bad = structuredClone(ds);
    (((((bad['spec'] as Obj)['template'] as Obj)['spec'] as Obj)['containers'] as Obj[])[0] as Obj)['ports'] = [{ containerPort: 'admin' }];
    expect(() => new DaemonSet(bad).validate()).toThrow(/containerPort must be integer/);
    c['livenessProbe'] = { httpGet: { path: '/healthz', port: 9901 }, periodSecond: 10 };
    const unknown: string[] = [];
    unknownFields(ds, join(KM, 'apps/v1/DaemonSet.d.ts'), 'DaemonSet', unknown);
    expect(unknown).toEqual(['DaemonSet.spec.template.spec.containers[0].livenessProbe.periodSecond']);
  });
});

describe('deploy/kubernetes content', () => {
  const ds = byKind('DaemonSet')[0] as Obj;
  const tpl = (ds['spec'] as Obj)['template'] as Obj;
  const pod = tpl['spec'] as Obj;
  const ctr = (pod['containers'] as Obj[])[0] as Obj;

  it('DaemonSet: hostNetwork, only the needed capabilities, probes on /healthz and /readyz, requests and limits, tolerations', () => {
    expect(pod['hostNetwork']).toBe(true);
    const sc = ctr['securityContext'] as Obj;
    expect(sc['privileged']).toBe(false);
    expect(sc['allowPrivilegeEscalation']).toBe(false);
    expect((sc['capabilities'] as Obj)['drop']).toEqual(['ALL']);
    expect([...((sc['capabilities'] as Obj)['add'] as string[])].sort()).toEqual(['NET_ADMIN', 'NET_RAW', 'SETGID', 'SETPCAP', 'SETUID']);
    expect(((ctr['livenessProbe'] as Obj)['httpGet'] as Obj)['path']).toBe('/healthz');
    expect(((ctr['readinessProbe'] as Obj)['httpGet'] as Obj)['path']).toBe('/readyz');
    const res = ctr['resources'] as Obj;
    expect(Object.keys(res['requests'] as Obj).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(res['limits'] as Obj).sort()).toEqual(['cpu', 'memory']);
    expect((pod['tolerations'] as Obj[]).length).toBeGreaterThan(0);
    expect(pod['terminationGracePeriodSeconds']).toBeGreaterThan(5);
    const ann = (tpl['metadata'] as Obj)['annotations'] as Obj;
    expect(ann['prometheus.io/scrape']).toBe('true');
    expect(ann['prometheus.io/port']).toBe(String((ctr['ports'] as Obj[])[0]?.['containerPort']));
  });

  it('every volume mount names a volume, every volume names an existing ConfigMap or Secret', () => {
    const vols = new Map((pod['volumes'] as Obj[]).map((v) => [String(v['name']), v]));
    for (const m of ctr['volumeMounts'] as Obj[]) expect(vols.has(String(m['name'])), String(m['name'])).toBe(true);
    const cms = new Set(byKind('ConfigMap').map((c) => String((c['metadata'] as Obj)['name'])));
    const secrets = new Set(byKind('Secret').map((c) => String((c['metadata'] as Obj)['name'])));
    for (const v of vols.values()) {
      if (v['configMap'] !== undefined) expect(cms.has(String((v['configMap'] as Obj)['name']))).toBe(true);
      if (v['secret'] !== undefined) expect(secrets.has(String((v['secret'] as Obj)['secretName']))).toBe(true);
    }
    expect(pod['serviceAccountName']).toBe((byKind('ServiceAccount')[0]?.['metadata'] as Obj)['name']);
  });

  it('RBAC: read Pods and Namespaces only, bound to the DaemonSet service account', () => {
    const role = byKind('ClusterRole')[0] as Obj;
    const rules = role['rules'] as Obj[];
    expect(rules).toEqual([{ apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['get', 'list', 'watch'] }]);
    const b = byKind('ClusterRoleBinding')[0] as Obj;
    expect((b['roleRef'] as Obj)['name']).toBe((role['metadata'] as Obj)['name']);
    expect(b['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'syngate', namespace: 'syngate-system' }]);
  });

  it('the config in the ConfigMap is a valid daemon config with the Kubernetes inventory, mounted where args point', () => {
    const cm = byKind('ConfigMap').find((c) => (c['metadata'] as Obj)['name'] === 'syngate-config') as Obj;
    const text = (cm['data'] as Obj)['syngate.yaml'] as string;
    const cfg = parseConfig(text, '/etc/syngate/config/syngate.yaml', { NODE_NAME: 'node-a', POD_IP: '10.0.0.5' });
    expect(cfg.inventory.source).toBe('kubernetes');
    expect(cfg.datapath.type).toBe('nfqueue');
    expect(cfg.admin).toEqual({ host: '10.0.0.5', port: 9901 });
    const mounts = new Map((ctr['volumeMounts'] as Obj[]).map((m) => [String(m['mountPath']), String(m['name'])]));
    expect((ctr['args'] as string[]).join(' ')).toContain('/etc/syngate/config/syngate.yaml');
    expect(mounts.get('/etc/syngate/config')).toBe('config');
    expect(mounts.get(dirname(cfg.identity.caBundle))).toBe('ca');
    expect(mounts.get(cfg.identity.credentials)).toBe('credentials');
    expect(mounts.get(cfg.policy.paths[0] as string)).toBe('policies');
    const envs = (ctr['env'] as Obj[]).map((e) => e['name']);
    expect(envs).toContain('NODE_NAME');
    expect(envs).toContain('POD_IP');
  });

  it('the README documents how to apply it', () => {
    expect(existsSync(join(DIR, 'README.md'))).toBe(true);
  });
});
