import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../enforcer/engine/flow-record.js';
import { dumpDom, findChromium } from '../../enforcer/sim/chromium.js';
import { buildMapModel, labelLineText, layoutMap, overlaps, renderMap, type MapLayout, type MapModel, type MapWorkload } from '../../enforcer/sim/map.js';

let model: MapModel;
let lay: MapLayout;
let flows: FlowRecord[];
let workloads: MapWorkload[];

beforeAll(async () => {
  const { buildScenarioPolicy, createCluster, loadScenario, runScenario } = await import('../../enforcer/sim/index.js');
  const s = loadScenario('examples/bookinfo/scenario.yaml');
  const r = await runScenario(s, buildScenarioPolicy(s), { cluster: createCluster });
  flows = r.flows;
  workloads = r.workloads;
  model = buildMapModel(flows, workloads);
  lay = layoutMap(model);
});

const node = (id: string) => {
  const n = lay.nodes.find((x) => x.id === id);
  if (n === undefined) throw new Error(`no node ${id}`);
  return n;
};

describe('dependency map layout on bookinfo', () => {
  it('puts callers left of callees by call depth', () => {
    expect(node('istio-system/istio-ingressgateway').layer).toBe(0);
    expect(node('default/rogue').layer).toBe(0);
    expect(node('bookinfo/productpage').layer).toBe(1);
    for (const r of ['details', 'reviews-v1', 'reviews-v2', 'reviews-v3']) expect(node(`bookinfo/${r}`).layer).toBe(2);
    expect(node('bookinfo/ratings').layer).toBe(3);
    expect(node('istio-system/istiod').layer).toBeGreaterThan(node('bookinfo/ratings').layer);
    // every allowed edge that is not part of a cycle runs left to right
    for (const e of model.edges.filter((x) => x.verdict === 'allow' && !(x.from === 'istio-system/prometheus' && x.to === 'bookinfo/ratings'))) {
      expect(node(e.from).layer, `${e.from} -> ${e.to}`).toBeLessThan(node(e.to).layer);
    }
  });

  it('namespaces are disjoint boxes that contain their workloads', () => {
    for (const a of lay.namespaces) for (const b of lay.namespaces) if (a !== b) expect(overlaps(a, b), `${a.name} / ${b.name}`).toBe(false);
    for (const n of lay.nodes) {
      const ns = lay.namespaces.find((x) => x.name === n.namespace)!;
      expect(n.x >= ns.x && n.x + n.w <= ns.x + ns.w && n.y >= ns.y && n.y + n.h <= ns.y + ns.h, n.id).toBe(true);
    }
    for (const a of lay.nodes) for (const b of lay.nodes) if (a !== b) expect(overlaps(a, b), `${a.id} / ${b.id}`).toBe(false);
  });

  it('no edge passes through the box of a namespace it does not touch (rogue\'s attacks stay clear of istio-system)', () => {
    for (const e of model.edges) {
      const a = node(e.from);
      const b = node(e.to);
      const top = Math.min(a.y, b.y);
      const bottom = Math.max(a.y + a.h, b.y + b.h);
      for (const ns of lay.namespaces) {
        if (ns.name === a.namespace || ns.name === b.namespace) continue;
        expect(ns.y > top && ns.y + ns.h < bottom, `${e.from} -> ${e.to} crosses ${ns.name}`).toBe(false);
      }
    }
  });

  it('every edge endpoint is on its node\'s border, and no two endpoints meet at one point', () => {
    expect(lay.edges).toHaveLength(model.edges.length);
    const onBorder = (id: string, p: { x: number; y: number }) => {
      const n = node(id);
      const onSide = Math.abs(p.x - n.x) < 0.01 || Math.abs(p.x - (n.x + n.w)) < 0.01;
      return onSide && p.y >= n.y && p.y <= n.y + n.h;
    };
    const points = new Set<string>();
    for (const le of lay.edges) {
      const e = model.edges[le.edge]!;
      expect(onBorder(e.from, le.start), `start of ${e.from} -> ${e.to}`).toBe(true);
      expect(onBorder(e.to, le.end), `end of ${e.from} -> ${e.to}`).toBe(true);
      expect(le.d.startsWith(`M${Math.round(le.start.x * 10) / 10},${Math.round(le.start.y * 10) / 10}`)).toBe(true);
      expect(le.d.endsWith(`${Math.round(le.end.x * 10) / 10},${Math.round(le.end.y * 10) / 10}`)).toBe(true);
      for (const p of [le.start, le.end]) {
        const k = `${p.x.toFixed(1)},${p.y.toFixed(1)}`;
        expect(points.has(k), `two edges meet at ${k}`).toBe(false);
        points.add(k);
      }
    }
  });

  it('one label per workload pair (parallel edges merged), no two labels overlap, none covers a workload', () => {
    const pairs = new Set(model.edges.map((e) => [e.from, e.to].sort().join('|')));
    expect(lay.labels).toHaveLength(pairs.size);
    expect(lay.labels.flatMap((l) => l.edges).sort((a, b) => a - b)).toEqual(model.edges.map((_, i) => i));
    for (let i = 0; i < lay.labels.length; i++) {
      for (let j = i + 1; j < lay.labels.length; j++) expect(overlaps(lay.labels[i]!, lay.labels[j]!), `labels ${i} and ${j}`).toBe(false);
      for (const n of lay.nodes) expect(overlaps(lay.labels[i]!, n), `label ${i} on ${n.id}`).toBe(false);
      const l = lay.labels[i]!;
      expect(l.x >= 0 && l.y >= 0 && l.x + l.w <= lay.width && l.y + l.h <= lay.height).toBe(true);
    }
    // reviews-v2 -> ratings: allowed x3 and the replayed SYN denied x1 share one combined label
    const i = model.edges.findIndex((e) => e.from === 'bookinfo/reviews-v2' && e.to === 'bookinfo/ratings' && e.verdict === 'allow');
    const label = lay.labels.find((l) => l.edges.includes(i))!;
    expect(label.lines.map(labelLineText)).toEqual(['9080 allow ×3 · deny ×1']);
    // prometheus scrapes ratings; ratings' denied call to prometheus goes the other way: one label,
    // a line per direction, the reverse one marked with an arrow
    const j = model.edges.findIndex((e) => e.from === 'bookinfo/ratings' && e.to === 'istio-system/prometheus');
    const both = lay.labels.find((l) => l.edges.includes(j))!;
    expect(both.lines.map(labelLineText)).toEqual(['15020 allow ×1', '← 9090 deny ×1']);
  });

  it('the page carries the layout: edges drawn as curves, labels with their boxes, verdict colours and dashes', () => {
    const html = renderMap(flows, { workloads });
    expect(html).toBe(renderMap(flows, { workloads }));
    for (const le of lay.edges) expect(html).toContain(`d="${le.d}"`);
    for (const l of lay.labels) expect(html).toContain(`data-box="${l.x},${l.y},${l.w},${l.h}"`);
    expect(html).toMatch(/<path d="M[^"]*C[^"]*" fill="none" stroke="#c62828"[^>]*stroke-dasharray="7 5"/);
    expect(html).toMatch(/<path d="M[^"]*C[^"]*" fill="none" stroke="#1b7f3b"[^>]*marker-end/);
    expect(html).toMatch(/class="legend"[\s\S]*denied[\s\S]*no enforcer/);
  });
});

describe('dependency map ordering', () => {
  it('barycenter sweeps remove avoidable crossings', () => {
    // by name, column 1 would be [x-a, x-b] under callers [a, b] with a -> x-b and b -> x-a: one crossing
    const recs: FlowRecord[] = [
      ['ns/a', 'ns/zb'], ['ns/b', 'ns/za'], ['ns/a', 'ns/zc'], ['ns/c', 'ns/za'],
    ].map(([from, to], k) => ({
      ts: '2026-01-01T00:00:00.000Z', enforcer: 'n', direction: 'inbound' as const,
      src: { ip: `198.18.0.${k + 1}`, port: 40000 + k, workload: from!, identity: null },
      dst: { ip: `198.18.1.${k + 1}`, port: 80, workload: to!, identity: null },
      port: 80, verdict: 'allow' as const, reason: 'ok', rule: 'r', audit: [], state: 'closed' as const, packets: 1, bytes: 1,
      start: '2026-01-01T00:00:00.000Z',
    }));
    const l = layoutMap(buildMapModel(recs));
    expect(l.crossings).toBe(0);
    const y = (id: string) => l.nodes.find((n) => n.id === id)!.y;
    // callers and callees in matching order: zb (a's) above za (b's and c's)
    expect(y('ns/a')).toBeLessThan(y('ns/b'));
    expect(y('ns/zb')).toBeLessThan(y('ns/za'));
  });

  it('bookinfo is drawn with few crossings (regression guard: 10 at the time of writing)', () => {
    expect(lay.crossings).toBeLessThanOrEqual(10);
  });
});

describe('dependency map layout at scale', () => {
  it('lays out 1,000 workloads and thousands of edges (near-linear; every edge drawn, labels disjoint)', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const recs: FlowRecord[] = [];
    const W = 1000;
    const id = (i: number) => `ns${i % 20}/w${i}`;
    for (let k = 0; k < 6000; k++) {
      const a = Math.floor(rnd() * W);
      const b = rnd() < 0.7 ? Math.min(W - 1, a + 1 + Math.floor(rnd() * 40)) : Math.floor(rnd() * W);
      recs.push({
        ts: '2026-01-01T00:00:00.000Z', enforcer: 'n', direction: 'inbound',
        src: { ip: `10.0.${a >> 8}.${a & 255}`, port: 30000 + k, workload: id(a), identity: null },
        dst: { ip: `10.1.${b >> 8}.${b & 255}`, port: 80, workload: id(b), identity: null },
        port: 80 + (k % 3), verdict: rnd() < 0.8 ? 'allow' : 'deny', reason: 'ok', rule: 'r', audit: [], state: 'closed', packets: 1, bytes: 1,
        start: new Date(1e12 + k * 5000).toISOString(),
      });
    }
    const m = buildMapModel(recs);
    const l = layoutMap(m);
    expect(l.nodes).toHaveLength(W);
    expect(l.edges).toHaveLength(m.edges.length);
    // labels disjoint: sweep by x so the check itself stays near-linear
    const byX = l.labels.slice().sort((a, b) => a.x - b.x);
    for (let i = 0; i < byX.length; i++) {
      for (let j = i + 1; j < byX.length && byX[j]!.x < byX[i]!.x + byX[i]!.w; j++) expect(overlaps(byX[i]!, byX[j]!)).toBe(false);
    }
  }, 60_000);
});

describe.skipIf(findChromium() === null)('dependency map in Chromium', () => {
  it('every label\'s rendered text fits the box the layout reserved for it (so reserved boxes not overlapping means labels not overlapping)', async () => {
    const dir = join('out', 'test-map-layout');
    mkdirSync(dir, { recursive: true });
    const page = join(dir, 'map.html');
    writeFileSync(page, renderMap(flows, { title: 'bookinfo layout', workloads }));
    const dom = await dumpDom(page);
    expect(dom.error).toBeNull();
    expect(dom.stdout).toMatch(/data-label-overflow="0"/);
    expect(dom.stdout).toMatch(new RegExp(`data-rendered-edges="${model.edges.length}"`));
  });
});
