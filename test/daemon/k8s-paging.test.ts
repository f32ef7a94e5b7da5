// Paged LIST responses (`limit` + `metadata.continue`) in the API server's wire format
// (test/fixtures/k8s/pods-page*.json, pods-restart-page*.json and the 410 Expired Status for a
// continue token that outlived the compaction window), replayed by a local HTTPS API server to
// the real client: every page is read before the state is replaced, the watch starts from the
// list's resourceVersion, and an expired token restarts the list from its first page.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { KubeClient, KubeWatcher, MAX_PAGED_RESTARTS, type KubeInventoryState, type KubePod } from '../../enforcer/daemon/k8s.js';
import { startFakeApiServer, type FakeApiServer } from './helpers/k8s-api.js';

const FIX = join(import.meta.dirname, '../fixtures/k8s');
const fixture = (f: string): Buffer => readFileSync(join(FIX, f));
const token = (f: string): string => (JSON.parse(fixture(f).toString()) as { metadata: { continue: string } }).metadata.continue;
const names = (s: KubeInventoryState): string[] => s.workloads().map((w) => `${w.namespace}/${w.name}`);

/** Serves namespaces (one page) and quiet watches; pod lists go to `pods`. */
function routeWith(pods: (url: URL, res: ServerResponse) => void) {
  return (url: URL, _req: unknown, res: ServerResponse, held: ServerResponse[]): void => {
    const watch = url.searchParams.get('watch') === '1';
    if (watch) {
      res.writeHead(200);
      held.push(res);
    } else if (url.pathname === '/api/v1/namespaces') res.end(fixture('namespaces-list.json'));
    else if (url.pathname === '/api/v1/pods') pods(url, res);
    else res.writeHead(404).end();
  };
}

const podLists = (seen: string[]): string[] => seen.filter((s) => s.startsWith('/api/v1/pods?') && !s.includes('watch=1'));
const podWatches = (seen: string[]): string[] => seen.filter((s) => s.startsWith('/api/v1/pods?') && s.includes('watch=1'));

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !cond()) await new Promise((r) => setTimeout(r, 10));
}

describe('paged LIST (limit + continue)', () => {
  let api: FakeApiServer | null = null;
  afterEach(async () => {
    await api?.close();
    api = null;
  });

  const clientFor = (a: FakeApiServer, listPageSize?: number): KubeClient =>
    new KubeClient({ apiServer: `https://127.0.0.1:${a.port}`, tokenFile: join(a.dir, 'token'), caFile: join(a.dir, 'ca.crt'), ...(listPageSize === undefined ? {} : { listPageSize }) });

  it('reads every page before replacing the state, then watches from the list resourceVersion', async () => {
    const t1 = token('pods-page1.json');
    api = await startFakeApiServer(routeWith((url, res) => {
      expect(url.searchParams.get('limit')).toBe('2');
      expect(url.searchParams.get('resourceVersion')).toBeNull(); // never with continue, nor on a fresh list
      const c = url.searchParams.get('continue');
      if (c === null) res.end(fixture('pods-page1.json'));
      else if (c === t1) res.end(fixture('pods-page2.json'));
      else res.writeHead(400).end();
    }));
    const snapshots: string[][] = [];
    const errors: string[] = [];
    const w = new KubeWatcher(clientFor(api, 2), 'node-a', null, { onChange: (s) => snapshots.push(names(s)), onError: (_r, e) => errors.push(e.message) }, { minMs: 10, maxMs: 50 });
    const seen = api.seen;
    w.start();
    await until(() => podWatches(seen).length > 0);
    w.stop();
    expect(errors).toEqual([]);
    // One page at a time, the second with the first page's token (URL-encoded), same selector.
    expect(podLists(seen)).toEqual([
      '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=2',
      `/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=2&continue=${t1}`,
    ]);
    expect(podWatches(seen)).toEqual(['/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&watch=1&allowWatchBookmarks=true&resourceVersion=2000']);
    // The pod on page 2 is there; no state ever held page 1 alone (the empty state is the one
    // before the pod list arrived, when the namespace list came first).
    const all = ['bookinfo/details-v1-65cfcf56f9-4fzq8', 'bookinfo/productpage-v1-7d4b9c8f5-x2kqp', 'bookinfo/reviews-v1-5c5b7b9f8d-lm7xw'];
    expect(names(w.state)).toEqual(all);
    for (const snap of snapshots) expect([[], all]).toContainEqual(snap);
    expect(snapshots.at(-1)).toEqual(all);
    expect(w.listRestarts).toBe(0);
  });

  it('restarts the list from its first page when a continue token expired (410), keeping the old state until then', async () => {
    const t1 = token('pods-page1.json');
    const t2 = token('pods-restart-page1.json');
    let firstPages = 0;
    api = await startFakeApiServer(routeWith((url, res) => {
      const c = url.searchParams.get('continue');
      if (c === null) res.end(fixture(++firstPages === 1 ? 'pods-page1.json' : 'pods-restart-page1.json'));
      else if (c === t1) res.writeHead(410).end(fixture('pods-continue-expired.json')); // compacted meanwhile
      else if (c === t2) res.end(fixture('pods-restart-page2.json'));
      else res.writeHead(400).end();
    }));
    const snapshots: string[][] = [];
    const errors: string[] = [];
    const restarts: string[] = [];
    const w = new KubeWatcher(clientFor(api), 'node-a', null, {
      onChange: (s) => snapshots.push(names(s)),
      onError: (_r, e) => errors.push(e.message),
      onListRestart: (r) => restarts.push(r),
    }, { minMs: 10, maxMs: 50 });
    // The state from before this list (e.g. an earlier list + watch) stays in force meanwhile.
    const old = ['bookinfo/reviews-v1-5c5b7b9f8d-lm7xw'];
    w.state.replacePods((JSON.parse(fixture('pods-page2.json').toString()) as { items: KubePod[] }).items);
    expect(names(w.state)).toEqual(old);
    const seen = api.seen;
    w.start();
    await until(() => podWatches(seen).length > 0);
    w.stop();
    // An expired token is not an error: the list starts again, with the default page size.
    expect(errors).toEqual([]);
    expect(restarts).toEqual(['pods']);
    expect(w.listRestarts).toBe(1);
    expect(podLists(seen)).toEqual([
      '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=500',
      `/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=500&continue=${t1}`,
      '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=500',
      `/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=500&continue=${t2}`,
    ]);
    expect(podWatches(seen)).toEqual(['/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&watch=1&allowWatchBookmarks=true&resourceVersion=2150']);
    // Only the restarted list, whole, reached the state: never the first attempt's page 1.
    const restarted = ['bookinfo/details-v1-65cfcf56f9-4fzq8', 'bookinfo/ratings-v1-85c7b8f6d4-9sdf2', 'bookinfo/reviews-v2-6b7f9c4d8b-q8wzt'];
    for (const snap of snapshots) expect([old, restarted]).toContainEqual(snap);
    expect(snapshots.at(-1)).toEqual(restarted);
    expect(names(w.state)).toEqual(restarted);
  });

  it(`falls back to one unpaged list after ${MAX_PAGED_RESTARTS} expired restarts`, async () => {
    const t1 = token('pods-page1.json');
    api = await startFakeApiServer(routeWith((url, res) => {
      const c = url.searchParams.get('continue');
      if (url.searchParams.get('limit') === null) res.end(fixture('pods-list.json'));
      else if (c === null) res.end(fixture('pods-page1.json'));
      else if (c === t1) res.writeHead(410).end(fixture('pods-continue-expired.json'));
      else res.writeHead(400).end();
    }));
    let restarted = 0;
    const list = await clientFor(api).listAll<KubePod>('/api/v1/pods', undefined, () => restarted++);
    expect(restarted).toBe(MAX_PAGED_RESTARTS + 1);
    expect(list.restarts).toBe(MAX_PAGED_RESTARTS + 1);
    expect(list.pages).toBe(1);
    expect(list.resourceVersion).toBe('1000');
    expect(list.items.map((p) => p.metadata?.name).sort()).toEqual(['details-v1-65cfcf56f9-4fzq8', 'productpage-v1-7d4b9c8f5-x2kqp', 'reviews-v1-5c5b7b9f8d-lm7xw']);
    expect(podLists(api.seen).at(-1)).toBe('/api/v1/pods?');
  });

  it('a 410 on the first page is an error (no token to restart), and a token that does not advance is refused', async () => {
    api = await startFakeApiServer(routeWith((url, res) => {
      if (url.searchParams.get('limit') === '1') res.writeHead(410).end(fixture('pods-continue-expired.json'));
      else res.end(fixture('pods-page1.json')); // always the same page: its token never advances
    }));
    await expect(clientFor(api, 1).listAll<KubePod>('/api/v1/pods')).rejects.toThrow(/HTTP 410/);
    await expect(clientFor(api, 2).listAll<KubePod>('/api/v1/pods')).rejects.toThrow(/same continue token twice/);
    await expect(clientFor(api, 0).listAll<KubePod>('/api/v1/pods')).rejects.toThrow(/listPageSize 0/);
  });
});
