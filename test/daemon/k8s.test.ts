// Kubernetes inventory against API responses in the API server's wire format
// (test/fixtures/k8s/: a PodList and NamespaceList, watch streams with ADDED/MODIFIED/DELETED,
// a BOOKMARK and a 410 Gone ERROR, and the relist that follows). A local HTTPS server replays
// them to the real client (bearer token + CA file checked), so list, watch, resourceVersion
// handling and relist-after-410 run exactly as they would against an API server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { startFakeApiServer, type FakeApiServer } from './helpers/k8s-api.js';
import {
  KubeClient,
  KubeInventoryState,
  KubeWatcher,
  calicoInterfaceName,
  type KubeList,
  type KubeNamespace,
  type KubePod,
  type WatchEvent,
} from '../../enforcer/daemon/k8s.js';

const FIX = join(import.meta.dirname, '../fixtures/k8s');
const json = <T>(f: string): T => JSON.parse(readFileSync(join(FIX, f), 'utf8')) as T;
const lines = <T>(f: string): T[] =>
  readFileSync(join(FIX, f), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);

const names = (s: KubeInventoryState): string[] => s.workloads().map((w) => `${w.namespace}/${w.name}`);

describe('KubeInventoryState over the recorded stream', () => {
  it('maps pods on this node to workloads: namespace, service account, labels, IP, owner, ports', () => {
    const s = new KubeInventoryState('node-a', 'cali*');
    s.replaceNamespaces(json<KubeList<KubeNamespace>>('namespaces-list.json').items ?? []);
    s.replacePods(json<KubeList<KubePod>>('pods-list.json').items ?? []);
    const ws = s.workloads();
    expect(ws.map((w) => w.name)).toEqual(['details-v1-65cfcf56f9-4fzq8', 'productpage-v1-7d4b9c8f5-x2kqp', 'reviews-v1-5c5b7b9f8d-lm7xw']);
    const pp = ws.find((w) => w.name.startsWith('productpage'));
    expect(pp).toMatchObject({
      namespace: 'bookinfo',
      serviceAccount: 'bookinfo-productpage',
      ip: '198.19.1.10',
      node: 'node-a',
      owner: 'Deployment/productpage-v1',
      ports: [{ name: null, port: 9080, protocol: 'TCP' }],
      namespaceLabels: { 'kubernetes.io/metadata.name': 'bookinfo', 'istio-injection': 'enabled' },
    });
    expect(pp?.labels['app']).toBe('productpage');
    expect(pp?.hostInterface).toBe(calicoInterfaceName('bookinfo', 'productpage-v1-7d4b9c8f5-x2kqp'));
    expect(pp?.hostInterface).toMatch(/^cali[0-9a-f]{11}$/);
  });

  it('pods that appear, change labels or disappear change the workloads; other nodes are ignored', () => {
    const s = new KubeInventoryState('node-a');
    s.replacePods(json<KubeList<KubePod>>('pods-list.json').items ?? []);
    const v0 = s.version;
    const evs = lines<WatchEvent<KubePod>>('pods-watch.jsonl');
    // ADDED ratings while Pending (no IP): not a workload yet, so no change.
    expect(s.applyPod(evs[0] as WatchEvent<KubePod>)).toBe(false);
    expect(names(s)).not.toContain('bookinfo/ratings-v1-85c7b8f6d4-9sdf2');
    // MODIFIED ratings Running with an IP: appears.
    expect(s.applyPod(evs[1] as WatchEvent<KubePod>)).toBe(true);
    expect(names(s)).toContain('bookinfo/ratings-v1-85c7b8f6d4-9sdf2');
    // MODIFIED details: a label added.
    expect(s.applyPod(evs[2] as WatchEvent<KubePod>)).toBe(true);
    expect(s.workloads().find((w) => w.name.startsWith('details'))?.labels['tier']).toBe('backend');
    // MODIFIED reviews: terminating but still running keeps its identity until DELETED.
    s.applyPod(evs[3] as WatchEvent<KubePod>);
    expect(names(s)).toContain('bookinfo/reviews-v1-5c5b7b9f8d-lm7xw');
    // DELETED productpage: gone.
    expect(s.applyPod(evs[4] as WatchEvent<KubePod>)).toBe(true);
    expect(names(s)).not.toContain('bookinfo/productpage-v1-7d4b9c8f5-x2kqp');
    // BOOKMARK and ERROR never change state.
    expect(s.applyPod(evs[5] as WatchEvent<KubePod>)).toBe(false);
    expect(s.applyPod(evs[6] as WatchEvent<KubePod>)).toBe(false);
    expect(s.version).toBeGreaterThan(v0);
    // A pod scheduled on another node is not protected here.
    const other = structuredClone(evs[1]?.object as KubePod);
    other.metadata = { ...other.metadata, name: 'elsewhere' };
    other.spec = { ...other.spec, nodeName: 'node-b' };
    expect(s.applyPod({ type: 'ADDED', object: other })).toBe(false);
    expect(names(s)).not.toContain('bookinfo/elsewhere');
  });
});

describe('KubeWatcher against a replaying HTTPS API server', () => {
  let api: FakeApiServer;
  let dir = '';
  let port = 0;
  let seen: string[] = [];
  let held: ServerResponse[] = [];
  let podLists = 0;

  beforeAll(async () => {
    api = await startFakeApiServer((url, _req, res, hold) => {
      const watch = url.searchParams.get('watch') === '1';
      const rv = url.searchParams.get('resourceVersion');
      if (url.pathname === '/api/v1/pods') {
        expect(url.searchParams.get('fieldSelector')).toBe('spec.nodeName=node-a');
        if (!watch) {
          podLists++;
          res.end(readFileSync(join(FIX, podLists === 1 ? 'pods-list.json' : 'pods-relist.json')));
        } else if (rv === '1000') {
          res.writeHead(200);
          // The stream as the API server sends it: one event per line, then the 410.
          res.end(readFileSync(join(FIX, 'pods-watch.jsonl')));
        } else {
          res.writeHead(200);
          hold.push(res); // a quiet watch, kept open until the test ends
        }
        return;
      }
      if (url.pathname === '/api/v1/namespaces') {
        if (!watch) res.end(readFileSync(join(FIX, 'namespaces-list.json')));
        else if (rv === '1001') res.end(readFileSync(join(FIX, 'namespaces-watch.jsonl')));
        else {
          res.writeHead(200);
          hold.push(res);
        }
        return;
      }
      res.writeHead(404).end();
    });
    ({ dir, port, seen, held } = api);
  });

  afterAll(async () => {
    await api.close();
  });

  it('lists, watches from the resourceVersion, relists after 410 Gone and converges', async () => {
    const client = new KubeClient({ apiServer: `https://127.0.0.1:${port}`, tokenFile: join(dir, 'token'), caFile: join(dir, 'ca.crt') });
    const snapshots: string[][] = [];
    let relisted = 0;
    const errors: string[] = [];
    const w = new KubeWatcher(client, 'node-a', null, {
      onChange: (s) => snapshots.push(names(s)),
      onRelist: () => relisted++,
      onError: (_r, e) => errors.push(e.message),
    }, { minMs: 10, maxMs: 50 });
    w.start();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (relisted === 0 || held.length < 2)) await new Promise((r) => setTimeout(r, 20));
    w.stop();
    expect(errors).toEqual([]);
    expect(relisted).toBe(1);
    // Watches resumed from the versions the server gave.
    expect(seen).toContain('/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&watch=1&allowWatchBookmarks=true&resourceVersion=1000');
    expect(seen).toContain('/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&watch=1&allowWatchBookmarks=true&resourceVersion=1200');
    expect(seen).toContain('/api/v1/namespaces?watch=1&allowWatchBookmarks=true&resourceVersion=1200');
    // The state passed through every step of the stream, and the final state is the relist.
    expect(snapshots.some((s) => s.includes('bookinfo/ratings-v1-85c7b8f6d4-9sdf2') && s.includes('bookinfo/productpage-v1-7d4b9c8f5-x2kqp'))).toBe(true);
    expect(names(w.state)).toEqual(['bookinfo/details-v1-65cfcf56f9-4fzq8', 'bookinfo/ratings-v1-85c7b8f6d4-9sdf2', 'bookinfo/reviews-v2-6b7f9c4d8b-q8wzt']);
    expect(w.state.workloads()[0]?.namespaceLabels['env']).toBe('prod');
  });

  it('drives the daemon: started from the first list, reloaded on every change, relisted after 410', async () => {
    podLists = 0;
    const { Daemon } = await import('../../enforcer/daemon/daemon.js');
    const { EngineCore } = await import('../../enforcer/daemon/core.js');
    const { parseConfig } = await import('../../enforcer/daemon/config.js');
    const { createLogger } = await import('../../enforcer/daemon/log.js');
    const { createMetrics } = await import('../../enforcer/daemon/metrics.js');
    const { createCa, issueNodeCredential } = await import('../../enforcer/identity/index.js');
    const { mkdirSync } = await import('node:fs');
    class NoDatapath extends EngineCore {
      override async attach(onState: (s: 'ready', e: null) => void): Promise<void> {
        onState('ready', null);
      }
      override async detach(): Promise<void> {
        // nothing attached
      }
    }
    const ca = createCa({ trustDomain: 'cluster.local' });
    const cred = issueNodeCredential(ca, { node: 'node-a' });
    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    mkdirSync(join(dir, 'cred'), { recursive: true });
    writeFileSync(join(dir, 'cred', 'node.cred'), cred.credential);
    writeFileSync(join(dir, 'cred', 'node.key'), cred.nodeKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    mkdirSync(join(dir, 'pol'), { recursive: true });
    writeFileSync(join(dir, 'pol', 'p.yaml'), 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-backend, namespace: bookinfo}\nspec: {selector: {matchLabels: {tier: backend}}, action: DENY, rules: [{}]}\n');
    const cfg = parseConfig([
      'node: node-a', 'datapath: {type: nfqueue, interfaces: [cali*]}', 'identity: {caBundle: ca.pem, credentials: cred}', 'policy: {paths: [pol]}',
      `inventory: {source: kubernetes, nodeName: node-a, apiServer: "https://127.0.0.1:${port}", tokenFile: token, caFile: ca.crt}`,
      'admin: 127.0.0.1:0', 'flowLog: {sink: off}', 'reload: {pollMillis: 60000}',
    ].join('\n'), join(dir, 'syngate.yaml'));
    const metrics = createMetrics();
    const logger = createLogger('error', () => undefined);
    const d = new Daemon(cfg, new NoDatapath(cfg, logger, metrics), { logger, metrics });
    await d.start();
    try {
      const deadline = Date.now() + 10_000;
      const relists = async (): Promise<number> => {
        const m = /syngate_inventory_relists_total (\d+)/.exec(await metrics.registry.metrics());
        return Number(m?.[1] ?? 0);
      };
      while (Date.now() < deadline && ((await relists()) < 1 || d.lastReload?.workloads !== 3)) await new Promise((r) => setTimeout(r, 20));
      const text = await metrics.registry.metrics();
      expect(text).toContain('syngate_policy_reloads_total{source="start",result="success"} 1');
      expect(Number(/syngate_policy_reloads_total\{source="inventory",result="success"\} (\d+)/.exec(text)?.[1] ?? 0)).toBeGreaterThanOrEqual(3);
      expect(await relists()).toBe(1);
      expect(d.lastReload?.workloads).toBe(3);
      expect(d.readyState().ready).toBe(true);
    } finally {
      await d.stop('test');
    }
  });

  it('a rejected token is an error, retried with backoff, and state is kept', async () => {
    writeFileSync(join(dir, 'bad-token'), 'nope\n');
    const client = new KubeClient({ apiServer: `https://127.0.0.1:${port}`, tokenFile: join(dir, 'bad-token'), caFile: join(dir, 'ca.crt') });
    const errors: string[] = [];
    const w = new KubeWatcher(client, 'node-a', null, { onChange: () => undefined, onError: (_r, e) => errors.push(e.message) }, { minMs: 5, maxMs: 10 });
    w.state.replacePods(json<KubeList<KubePod>>('pods-list.json').items ?? []);
    w.start();
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && errors.length < 4) await new Promise((r) => setTimeout(r, 10));
    w.stop();
    expect(errors.length).toBeGreaterThanOrEqual(4);
    expect(errors[0]).toMatch(/HTTP 401/);
    expect(w.state.workloads()).toHaveLength(3);
  });
});

describe('the recorded stream changes the compiled identities', () => {
  it('pods that appear, change labels or disappear change the compiled table the daemon would swap in', async () => {
    const { inventoryFromKube } = await import('../../enforcer/daemon/core.js');
    const { parseConfig } = await import('../../enforcer/daemon/config.js');
    const { compile, loadPolicyTexts, Dir, verdictAllowed } = await import('../../enforcer/policy/index.js');
    const cfg = parseConfig('node: node-a\ndatapath: {type: nfqueue, interfaces: [cali*]}\nidentity: {caBundle: a, credentials: b}\npolicy: {paths: [p]}\ninventory: {source: kubernetes, nodeName: node-a}\n', '/etc/syngate/syngate.yaml');
    // Backend-tier workloads accept nothing: selected by a label the stream adds later.
    const pol = loadPolicyTexts([{ file: 'deny-backend.yaml', text: 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-backend, namespace: bookinfo}\nspec:\n  selector: {matchLabels: {tier: backend}}\n  action: DENY\n  rules: [{}]\n' }]);
    expect(pol.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const s = new KubeInventoryState('node-a');
    s.replaceNamespaces(json<KubeList<KubeNamespace>>('namespaces-list.json').items ?? []);
    s.replacePods(json<KubeList<KubePod>>('pods-list.json').items ?? []);
    let table = compile(inventoryFromKube(s, cfg), pol.policies);
    const localNames = (): string[] => table.inventory.workloads.map((w) => `${w.namespace}/${w.name}`).sort();
    const ppPeer = (): number => table.identity('spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage', { app: 'productpage', version: 'v1' });
    const detailsAllows = (): boolean => {
      const d = table.inventory.workloads.find((w) => w.name.startsWith('details'));
      if (d === undefined) throw new Error('no details');
      return verdictAllowed(table.lookup(Dir.INGRESS, d.index, ppPeer(), 0xc613010a, 6, 9080));
    };
    expect(localNames()).toEqual(['bookinfo/details-v1-65cfcf56f9-4fzq8', 'bookinfo/productpage-v1-7d4b9c8f5-x2kqp', 'bookinfo/reviews-v1-5c5b7b9f8d-lm7xw']);
    expect(table.inventory.workloads.find((w) => w.name.startsWith('details'))?.spiffeId).toBe('spiffe://cluster.local/ns/bookinfo/sa/bookinfo-details');
    expect(detailsAllows()).toBe(true);
    const evs = lines<WatchEvent<KubePod>>('pods-watch.jsonl');
    const step = (i: number): void => {
      if (s.applyPod(evs[i] as WatchEvent<KubePod>)) table = compile(inventoryFromKube(s, cfg), pol.policies, { previous: table });
    };
    step(0);
    step(1); // ratings appears
    expect(localNames()).toContain('bookinfo/ratings-v1-85c7b8f6d4-9sdf2');
    expect(table.inventory.workloads.find((w) => w.name.startsWith('ratings'))?.spiffeId).toBe('spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings');
    step(2); // details gets tier=backend: now selected by the DENY policy
    expect(detailsAllows()).toBe(false);
    step(3);
    step(4); // productpage deleted
    expect(localNames()).not.toContain('bookinfo/productpage-v1-7d4b9c8f5-x2kqp');
    expect(table.revision).toBeGreaterThanOrEqual(4);
  });
});
