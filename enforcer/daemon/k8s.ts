// Kubernetes inventory source: a small hand-written API client over node:https (list + watch with
// resourceVersion, as client-go's reflector does) and the pure state that turns Pods and
// Namespaces into workloads. Why not @kubernetes/client-node: its 1.x/2.x lines pull in undici 8,
// which needs Node >= 22.19 (docs/deploy.md); we need two GET endpoints.
// Invariants:
//  - KubeInventoryState is pure: apply*/replace* only change it, snapshot() returns fresh objects;
//    `version` increases on every change that alters the workload list and never otherwise;
//  - instance labels (IGNORED_LABELS: pod-template-hash, Istio's canonical-* ...) are not workload labels;
//  - only pods with spec.nodeName == this node, a pod IP, and phase not Succeeded/Failed become
//    local workloads; a pod that disappears, finishes or moves is removed;
//  - the watcher never clears state on a watch error: it re-watches from the last resourceVersion,
//    and on 410 Gone (or a failed watch) relists and replaces the state only once the new list
//    arrived whole; every failure backs off (bounded) and is counted;
//  - a list is paged (`limit`, then `continue` until the server returns none); "whole" means every
//    page; the watch starts from the last page's resourceVersion; a continue token that expired
//    (410) restarts the list from its first page, and after MAX_PAGED_RESTARTS restarts the list is
//    fetched in one unpaged request; a list never takes more than MAX_LIST_PAGES pages;
//  - credentials (token, CA) are re-read on every request, so a rotated projected token works.
import { readFileSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import { SyngateError } from '../errors.js';

/** One protected workload as the inventory format of the policy domain describes it. */
export interface KubeWorkload {
  /** The pod's name (unique per namespace; a workload per pod keeps one IP per workload). */
  name: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  ip: string;
  node: string;
  /** Container ports: numbers, and named ports as `name=number`. */
  ports: { name: string | null; port: number; protocol: string }[];
  enforcer: true;
  /** Labels of the pod's namespace (for NetworkPolicy namespaceSelector). */
  namespaceLabels: Record<string, string>;
  /** Owner workload (`Deployment/x` via ReplicaSet, `StatefulSet/y`...), or null for a bare pod. */
  owner: string | null;
  /** Host-side interface name when it can be derived from the CNI naming (Calico `cali*`), else null. */
  hostInterface: string | null;
  uid: string;
}

interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  resourceVersion?: string;
  ownerReferences?: { kind?: string; name?: string; controller?: boolean }[];
}

export interface KubePod {
  metadata?: Meta;
  spec?: {
    nodeName?: string;
    serviceAccountName?: string;
    hostNetwork?: boolean;
    containers?: { ports?: { name?: string; containerPort?: number; protocol?: string }[] }[];
  };
  status?: { podIP?: string; podIPs?: { ip?: string }[]; phase?: string };
}

export interface KubeNamespace {
  metadata?: Meta;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T | { kind?: string; code?: number; reason?: string; message?: string; metadata?: Meta };
}

export interface KubeList<T> {
  /** `continue`: the token for the next page; absent or empty on the last page. */
  metadata?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items?: T[];
}

/** A list assembled from all its pages. */
export interface KubeFullList<T> {
  items: T[];
  /** The last page's resourceVersion: where the watch starts. */
  resourceVersion: string;
  pages: number;
  /** Restarts from the first page after an expired continue token. */
  restarts: number;
}

/** Items per LIST page (client-go's pager default). */
export const DEFAULT_LIST_PAGE_SIZE = 500;
/** Expired-token restarts of one list before it falls back to a single unpaged request. */
export const MAX_PAGED_RESTARTS = 2;
/** Upper bound on the pages of one list (500 × 100k items): a server that never ends a list is an error. */
const MAX_LIST_PAGES = 100_000;

/** Calico's host-side veth name: `cali` + first 11 hex chars of sha1("NAMESPACE.POD"). */
export function calicoInterfaceName(namespace: string, pod: string): string {
  return `cali${createHash('sha1').update(`${namespace}.${pod}`).digest('hex').slice(0, 11)}`;
}

function podKey(ns: string, name: string): string {
  return `${ns}/${name}`;
}

function ownerOf(meta: Meta): string | null {
  const ref = meta.ownerReferences?.find((r) => r.controller === true) ?? meta.ownerReferences?.[0];
  if (ref?.kind === undefined || ref.name === undefined) return null;
  // A ReplicaSet named `<deployment>-<pod-template-hash>` belongs to that Deployment.
  if (ref.kind === 'ReplicaSet') {
    const m = /^(.*)-[a-z0-9]{5,10}$/.exec(ref.name);
    if (m?.[1] !== undefined) return `Deployment/${m[1]}`;
  }
  return `${ref.kind}/${ref.name}`;
}

/**
 * Labels Kubernetes and Istio put on every pod that identify an instance or a rollout, never a
 * workload: they are dropped from the workload's labels (which the node signs into the identity
 * document and the SYN token has room for only so much of).
 */
export const IGNORED_LABELS: readonly string[] = [
  'pod-template-hash',
  'controller-revision-hash',
  'pod-template-generation',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'controller-uid',
  'batch.kubernetes.io/controller-uid',
  'batch.kubernetes.io/job-name',
  'job-name',
  'security.istio.io/tlsMode',
  'service.istio.io/canonical-name',
  'service.istio.io/canonical-revision',
];

function workloadLabels(labels: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (!IGNORED_LABELS.includes(k)) out[k] = v;
  return out;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export class KubeInventoryState {
  private readonly pods = new Map<string, KubePod>();
  private readonly namespaces = new Map<string, Record<string, string>>();
  private fingerprint = '';
  version = 0;

  constructor(
    readonly nodeName: string,
    readonly interfacePattern: string | null = null,
  ) {}

  /** Apply one pod watch event. Returns true iff the workload list changed. */
  applyPod(ev: WatchEvent<KubePod>): boolean {
    if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') return false;
    const p = ev.object as KubePod;
    const ns = p.metadata?.namespace;
    const name = p.metadata?.name;
    if (ns === undefined || name === undefined) return false;
    if (ev.type === 'DELETED') this.pods.delete(podKey(ns, name));
    else this.pods.set(podKey(ns, name), p);
    return this.bump();
  }

  applyNamespace(ev: WatchEvent<KubeNamespace>): boolean {
    if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') return false;
    const n = ev.object as KubeNamespace;
    const name = n.metadata?.name;
    if (name === undefined) return false;
    if (ev.type === 'DELETED') this.namespaces.delete(name);
    else this.namespaces.set(name, { ...(n.metadata?.labels ?? {}) });
    return this.bump();
  }

  /** Replace every pod with a fresh list (relist). Returns true iff the workload list changed. */
  replacePods(items: readonly KubePod[]): boolean {
    this.pods.clear();
    for (const p of items) {
      const ns = p.metadata?.namespace;
      const name = p.metadata?.name;
      if (ns !== undefined && name !== undefined) this.pods.set(podKey(ns, name), p);
    }
    return this.bump();
  }

  replaceNamespaces(items: readonly KubeNamespace[]): boolean {
    this.namespaces.clear();
    for (const n of items) {
      const name = n.metadata?.name;
      if (name !== undefined) this.namespaces.set(name, { ...(n.metadata?.labels ?? {}) });
    }
    return this.bump();
  }

  /** The local workloads, sorted by namespace/name. */
  workloads(): KubeWorkload[] {
    const out: KubeWorkload[] = [];
    for (const p of this.pods.values()) {
      const meta = p.metadata ?? {};
      if (meta.name === undefined || meta.namespace === undefined) continue;
      if (p.spec?.nodeName !== this.nodeName) continue;
      if (p.spec.hostNetwork === true) continue; // shares the node's identity: not a workload we can isolate
      const phase = p.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      const ip = p.status?.podIP ?? p.status?.podIPs?.find((x) => x.ip !== undefined && IPV4.test(x.ip))?.ip;
      if (ip === undefined || !IPV4.test(ip)) continue;
      const ports: KubeWorkload['ports'] = [];
      for (const c of p.spec.containers ?? []) {
        for (const cp of c.ports ?? []) {
          if (cp.containerPort === undefined) continue;
          ports.push({ name: cp.name ?? null, port: cp.containerPort, protocol: cp.protocol ?? 'TCP' });
        }
      }
      out.push({
        name: meta.name,
        namespace: meta.namespace,
        serviceAccount: p.spec.serviceAccountName ?? 'default',
        labels: workloadLabels(meta.labels),
        ip,
        node: this.nodeName,
        ports,
        enforcer: true,
        namespaceLabels: { ...(this.namespaces.get(meta.namespace) ?? {}) },
        owner: ownerOf(meta),
        hostInterface: this.interfacePattern?.startsWith('cali') === true ? calicoInterfaceName(meta.namespace, meta.name) : null,
        uid: meta.uid ?? '',
      });
    }
    out.sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.namespace < b.namespace ? -1 : 1));
    return out;
  }

  private bump(): boolean {
    const fp = JSON.stringify(this.workloads());
    if (fp === this.fingerprint) return false;
    this.fingerprint = fp;
    this.version++;
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// The API client.

export interface KubeClientOptions {
  /** `https://host:port`; in-cluster default from KUBERNETES_SERVICE_HOST/PORT. */
  apiServer: string;
  tokenFile: string;
  caFile: string;
  /** Seconds the server keeps a watch open before ending it cleanly (we then re-watch). */
  watchTimeoutSeconds?: number;
  /** Items per LIST page (`limit`); default DEFAULT_LIST_PAGE_SIZE. */
  listPageSize?: number;
}

export function inClusterApiServer(env: NodeJS.ProcessEnv = process.env): string {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  if (host === undefined || host === '') {
    throw new SyngateError('SYNGATE_DAEMON_K8S', 'inventory.source is kubernetes but KUBERNETES_SERVICE_HOST is not set and inventory.apiServer is not given');
  }
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export class KubeApiError extends SyngateError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('SYNGATE_DAEMON_K8S', message);
  }
}

/** A minimal Kubernetes API client: GET lists and streaming watches. */
export class KubeClient {
  constructor(private readonly opts: KubeClientOptions) {}

  private requestOptions(path: string): RequestOptions {
    const u = new URL(path, this.opts.apiServer);
    const token = readFileSync(this.opts.tokenFile, 'utf8').trim();
    const ca = readFileSync(this.opts.caFile);
    return {
      protocol: 'https:',
      hostname: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port === '' ? 443 : Number(u.port),
      path: `${u.pathname}${u.search}`,
      method: 'GET',
      ca,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    };
  }

  private open(path: string, signal?: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolveP, reject) => {
      let ro: RequestOptions;
      try {
        ro = this.requestOptions(path);
      } catch (e) {
        reject(new SyngateError('SYNGATE_DAEMON_K8S', `cannot read the service account credentials: ${(e as Error).message}`, { cause: e }));
        return;
      }
      const req = httpsRequest({ ...ro, ...(signal === undefined ? {} : { signal }) }, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            if (body.length < 4096) body += d;
          });
          res.on('end', () => reject(new KubeApiError(status, `GET ${ro.path ?? path}: HTTP ${status} ${body.slice(0, 300)}`)));
          res.on('error', reject);
          return;
        }
        resolveP(res);
      });
      req.setTimeout(30_000, () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  async list<T>(path: string, signal?: AbortSignal): Promise<KubeList<T>> {
    const res = await this.open(path, signal);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as KubeList<T>;
    } catch (e) {
      throw new SyngateError('SYNGATE_DAEMON_K8S', `GET ${path}: response is not JSON`, { cause: e });
    }
  }

  /**
   * Lists every page of `path`: `limit=N`, then `continue=TOKEN` (same selectors, no
   * resourceVersion, as the API requires) until a page carries no token. An expired token (HTTP
   * 410 on a continue request) restarts from the first page (`onRestart` is called); after
   * MAX_PAGED_RESTARTS restarts the list is requested unpaged. Other errors are thrown.
   */
  async listAll<T>(path: string, signal?: AbortSignal, onRestart?: () => void): Promise<KubeFullList<T>> {
    const sep = path.includes('?') ? '&' : '?';
    const limit = this.opts.listPageSize ?? DEFAULT_LIST_PAGE_SIZE;
    if (!Number.isInteger(limit) || limit < 1) throw new SyngateError('SYNGATE_DAEMON_K8S', `listPageSize ${limit} must be a positive integer`);
    let items: T[] = [];
    let token = '';
    let pages = 0;
    let restarts = 0;
    // Bounded: each pass either ends the list, takes one more page (<= MAX_LIST_PAGES), or
    // restarts (<= MAX_PAGED_RESTARTS + 1 times; the last restart lists unpaged, in one request).
    for (;;) {
      const paged = restarts <= MAX_PAGED_RESTARTS;
      const q = !paged ? path : token === '' ? `${path}${sep}limit=${limit}` : `${path}${sep}limit=${limit}&continue=${encodeURIComponent(token)}`;
      let page: KubeList<T>;
      try {
        page = await this.list<T>(q, signal);
      } catch (e) {
        if (token !== '' && e instanceof KubeApiError && e.status === 410) {
          // The continue token outlived the server's compaction window: start a fresh list.
          restarts++;
          items = [];
          token = '';
          pages = 0;
          onRestart?.();
          continue;
        }
        throw e;
      }
      pages++;
      for (const it of page.items ?? []) items.push(it);
      const next = paged ? (page.metadata?.continue ?? '') : '';
      if (next === '') return { items, resourceVersion: page.metadata?.resourceVersion ?? '0', pages, restarts };
      if (next === token) throw new SyngateError('SYNGATE_DAEMON_K8S', `GET ${path}: the server returned the same continue token twice`);
      if (pages >= MAX_LIST_PAGES) throw new SyngateError('SYNGATE_DAEMON_K8S', `GET ${path}: the list did not end after ${MAX_LIST_PAGES} pages`);
      token = next;
    }
  }

  /** Streams watch events (one JSON object per line) until the server ends the watch. */
  async watch<T>(path: string, onEvent: (ev: WatchEvent<T>) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.open(path, signal);
    res.setEncoding('utf8');
    let buf = '';
    for await (const chunk of res) {
      buf += chunk as string;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        let ev: WatchEvent<T>;
        try {
          ev = JSON.parse(line) as WatchEvent<T>;
        } catch (e) {
          throw new SyngateError('SYNGATE_DAEMON_K8S', `watch ${path}: bad event line`, { cause: e });
        }
        onEvent(ev);
      }
    }
  }
}

export interface KubeWatcherHooks {
  /** Called after every change of the workload list (already applied to `state`). */
  onChange(state: KubeInventoryState): void;
  onRelist?(resource: 'pods' | 'namespaces'): void;
  /** A paged list restarted from its first page because its continue token expired. */
  onListRestart?(resource: 'pods' | 'namespaces'): void;
  onError?(resource: 'pods' | 'namespaces', err: Error): void;
  /** Called once both resources have been listed. */
  onSynced?(): void;
}

/**
 * Keeps `state` in sync with the API server: list (all pages), then watch from the list's
 * resourceVersion; on a clean end re-watch from the last seen version; on 410 Gone or an error, relist.
 */
export class KubeWatcher {
  private readonly abort = new AbortController();
  private stopped = false;
  private synced = 0;
  readonly state: KubeInventoryState;
  relists = 0;
  errors = 0;
  /** Paged lists restarted after an expired continue token. */
  listRestarts = 0;

  constructor(
    private readonly client: KubeClient,
    nodeName: string,
    interfacePattern: string | null,
    private readonly hooks: KubeWatcherHooks,
    private readonly backoff: { minMs: number; maxMs: number } = { minMs: 200, maxMs: 30_000 },
  ) {
    this.state = new KubeInventoryState(nodeName, interfacePattern);
  }

  start(): void {
    const node = encodeURIComponent(`spec.nodeName=${this.state.nodeName}`);
    void this.loop<KubePod>('pods', `/api/v1/pods?fieldSelector=${node}`, (items) => this.state.replacePods(items), (ev) => this.state.applyPod(ev));
    void this.loop<KubeNamespace>('namespaces', '/api/v1/namespaces', (items) => this.state.replaceNamespaces(items), (ev) => this.state.applyNamespace(ev));
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      t.unref();
      this.abort.signal.addEventListener('abort', () => {
        clearTimeout(t);
        r();
      }, { once: true });
    });
  }

  private async loop<T>(
    resource: 'pods' | 'namespaces',
    base: string,
    replace: (items: T[]) => boolean,
    apply: (ev: WatchEvent<T>) => boolean,
  ): Promise<void> {
    const sep = base.includes('?') ? '&' : '?';
    let rv: string | null = null;
    let delay = this.backoff.minMs;
    let first = true;
    while (!this.stopped) {
      try {
        if (rv === null) {
          const list = await this.client.listAll<T>(base, this.abort.signal, () => {
            this.listRestarts++;
            this.hooks.onListRestart?.(resource);
          });
          if (!first) {
            this.relists++;
            this.hooks.onRelist?.(resource);
          }
          if (replace(list.items)) this.hooks.onChange(this.state);
          rv = list.resourceVersion;
          if (first) {
            first = false;
            if (++this.synced === 2) this.hooks.onSynced?.();
          }
        }
        let gone = false;
        await this.client.watch<T>(`${base}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(rv)}`, (ev) => {
          if (ev.type === 'ERROR') {
            const st = ev.object as { code?: number; message?: string };
            if (st.code === 410) gone = true;
            else throw new KubeApiError(st.code ?? 0, `watch ${resource}: ${st.message ?? 'error event'}`);
            return;
          }
          const v = (ev.object as { metadata?: Meta }).metadata?.resourceVersion;
          if (v !== undefined) rv = v;
          if (apply(ev)) this.hooks.onChange(this.state);
        }, this.abort.signal);
        if (gone) rv = null; // 410: our version is too old; relist (state kept until the list is in)
        delay = this.backoff.minMs;
      } catch (e) {
        if (this.stopped) return;
        this.errors++;
        this.hooks.onError?.(resource, e instanceof Error ? e : new Error(String(e)));
        // Relist after an error: events may have been missed; the current state stays in force.
        rv = null;
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.backoff.maxMs);
      }
    }
  }
}
