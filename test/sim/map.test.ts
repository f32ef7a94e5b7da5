import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../enforcer/engine/flow-record.js';
import { dumpDom, findChromium, screenshot } from '../../enforcer/sim/chromium.js';
import { buildMapModel, renderMap } from '../../enforcer/sim/map.js';
import { mapSize } from '../../enforcer/sim/output.js';

function rec(from: string, to: string, port: number, verdict: 'allow' | 'deny', reason: string, rule: string, sport: number, enforcer = 'node-b'): FlowRecord {
  const ip = (id: string) => `198.18.0.${(id.length * 7) % 250}`;
  return {
    ts: '2026-01-01T00:00:00.000Z',
    enforcer,
    direction: 'inbound',
    src: { ip: ip(from), port: sport, workload: from, identity: null },
    dst: { ip: ip(to), port, workload: to, identity: null },
    port,
    verdict,
    reason,
    rule,
    audit: [],
    state: verdict === 'allow' ? 'closed' : 'rejected',
    packets: 5,
    bytes: 300,
    start: `2026-01-01T00:00:00.${String(sport % 1000).padStart(3, '0')}Z`,
  };
}

const RECORDS: FlowRecord[] = [
  rec('bookinfo/productpage', 'bookinfo/details', 9080, 'allow', 'ok', 'AuthorizationPolicy/bookinfo/details-viewer#rules[0]', 40001),
  rec('bookinfo/productpage', 'bookinfo/details', 9080, 'allow', 'ok', 'AuthorizationPolicy/bookinfo/details-viewer#rules[0]', 40002),
  // the client-side record of the same connection: counted once
  rec('bookinfo/productpage', 'bookinfo/details', 9080, 'allow', 'ok', 'AuthorizationPolicy/bookinfo/details-viewer#rules[0]', 40002, 'node-a'),
  rec('bookinfo/reviews-v2', 'bookinfo/ratings', 9080, 'allow', 'ok', 'AuthorizationPolicy/bookinfo/ratings-viewer#rules[0]', 40003),
  rec('default/rogue', 'bookinfo/ratings', 9080, 'deny', 'untrusted-issuer', '', 40004),
  rec('default/<script>alert(1)</script>', 'bookinfo/ratings', 9080, 'deny', 'no-token', 'default-deny', 40005),
];

describe('dependency map', () => {
  it('aggregates edges by (from, to, port, verdict) and counts a connection once', () => {
    const m = buildMapModel(RECORDS);
    const pd = m.edges.find((e) => e.from === 'bookinfo/productpage' && e.to === 'bookinfo/details');
    expect(pd).toMatchObject({ port: 9080, verdict: 'allow', count: 2, enforcers: ['node-a', 'node-b'] });
    expect(m.namespaces.map((n) => n.name)).toEqual(['bookinfo', 'default']);
    expect(renderMap(RECORDS)).toBe(renderMap(RECORDS));
  });

  it('is self-contained and escapes names', () => {
    const html = renderMap(RECORDS);
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('stroke-dasharray="7 5"'); // denied edges are dashed
  });

  it.skipIf(findChromium() === null)('renders in headless Chromium: nodes, edges, styles; screenshot PNG written to out/', async () => {
    const dir = join('out', 'test-map');
    mkdirSync(dir, { recursive: true });
    const html = renderMap(RECORDS, { title: 'map test', workloads: [{ id: 'istio-system/jaeger', enforcer: true }] });
    const page = join(dir, 'map.html');
    writeFileSync(page, html);
    const dom = await dumpDom(page);
    expect(dom.error).toBeNull();
    // scripts ran
    expect(dom.stdout).toMatch(/data-rendered-edges="4"/);
    expect(dom.stdout).toMatch(/data-rendered-nodes="7"/);
    for (const id of ['bookinfo/productpage', 'bookinfo/details', 'bookinfo/ratings', 'bookinfo/reviews-v2', 'default/rogue', 'istio-system/jaeger']) {
      expect(dom.stdout).toContain(`data-node="${id}"`);
    }
    expect(dom.stdout).toMatch(/class="edge allow"[^>]*data-from="bookinfo\/productpage" data-to="bookinfo\/details" data-port="9080" data-verdict="allow" data-count="2"/);
    expect(dom.stdout).toMatch(/class="edge deny"[^>]*data-from="default\/rogue" data-to="bookinfo\/ratings"/);
    expect(dom.stdout).not.toContain('<script>alert(1)</script>');
    const png = join(dir, 'map.png');
    const shot = await screenshot(page, png, mapSize(html));
    expect(shot.error).toBeNull();
    expect(existsSync(png)).toBe(true);
    const bytes = readFileSync(png);
    expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(statSync(png).size).toBeGreaterThan(10_000);
    // the PNG is the size we asked for (IHDR width/height)
    expect(bytes.readUInt32BE(16)).toBe(mapSize(html).width);
  });
});

describe.skipIf(findChromium() === null)('bookinfo dependency map (the main job\'s picture)', () => {
  it('simulate --out writes map.html and map.png into out/; Chromium renders every workload and the expected edges', async () => {
    const { buildScenarioPolicy, createCluster, loadScenario, runScenario, simMetricsText, writeOutputs } = await import('../../enforcer/sim/index.js');
    const s = loadScenario('examples/bookinfo/scenario.yaml');
    const r = await runScenario(s, buildScenarioPolicy(s), { cluster: createCluster, metrics: (m) => simMetricsText(m, { mode: s.mode }) });
    const w = await writeOutputs(r, 'out', { title: 'syngate: examples/bookinfo/scenario.yaml' });
    expect(w.pngError).toBeNull();
    expect(w.png).toBe(join('out', 'map.png'));
    const png = readFileSync(join('out', 'map.png'));
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png.length).toBeGreaterThan(30_000);
    const dom = await dumpDom(join('out', 'map.html'));
    expect(dom.error).toBeNull();
    for (const wl of s.workloads) expect(dom.stdout).toContain(`data-node="${wl.id}"`);
    expect(dom.stdout).toMatch(new RegExp(`data-rendered-nodes="${s.workloads.length}"`));
    const edge = (from: string, to: string, port: number, verdict: string) =>
      new RegExp(`class="edge ${verdict}"[^>]*data-from="${from}" data-to="${to}" data-port="${port}" data-verdict="${verdict}"`);
    expect(dom.stdout).toMatch(edge('bookinfo/productpage', 'bookinfo/details', 9080, 'allow'));
    expect(dom.stdout).toMatch(edge('bookinfo/reviews-v2', 'bookinfo/ratings', 9080, 'allow'));
    expect(dom.stdout).toMatch(edge('bookinfo/reviews-v1', 'bookinfo/ratings', 9080, 'deny'));
    expect(dom.stdout).toMatch(edge('default/rogue', 'bookinfo/ratings', 9080, 'deny'));
    expect(dom.stdout).toMatch(edge('istio-system/prometheus', 'bookinfo/productpage', 15020, 'allow'));
    // reviews-v2 -> ratings: twice in the traffic plus the connection the replay attack captured
    // its SYN from (one allowed edge, count 3); the replayed SYN itself carries reviews-v2's
    // address and is the denied edge
    expect(dom.stdout).toMatch(/data-from="bookinfo\/reviews-v2" data-to="bookinfo\/ratings" data-port="9080" data-verdict="allow" data-count="3"/);
    expect(dom.stdout).toMatch(/data-from="bookinfo\/reviews-v2" data-to="bookinfo\/ratings" data-port="9080" data-verdict="deny" data-count="1"/);
    expect(readFileSync(join('out', 'flows.jsonl'), 'utf8').trim().split('\n').length).toBe(r.flows.length);
    expect(readFileSync(join('out', 'metrics.prom'), 'utf8')).toContain('syngate_verdicts_total');
  });
});
