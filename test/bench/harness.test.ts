// The harness's own contract: aggregation (median, spread, ratios), loud sanity failures, module
// discovery, scaling plots, comparison against a saved run. Nothing here asserts on time.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchFn, Metric } from '../../bench/types.js';
import {
  runBenchFn, summarize, quantile, sanityProblem, collectBenchFns, parseScale, scalingPlots, compareReports,
  markdownReport, isRateUnit, loadBenchModule, runSuite, goalRows, type MetricSummary, type SuiteReport,
} from '../../bench/harness.js';
import { machineInfo } from '../../bench/machine.js';

const plan = { warmups: 1, reps: 5, budgetMs: 60_000 };
const opts = { quick: true, log: () => undefined };

function seq(values: number[], extra: Partial<Metric> = {}): { fn: BenchFn; calls: () => number } {
  let i = 0;
  const fn: BenchFn = async () => [{ name: 'x.rate', unit: 'ops/s', value: values[i++ % values.length] ?? 1, check: i, ...extra }];
  return { fn, calls: () => i };
}

describe('statistics', () => {
  it.each([
    [[1, 2, 3, 4, 5], 3, 1, 5],
    [[5, 1, 4, 2], 3, 1, 5],
    [[7], 7, 7, 7],
  ])('summarize(%j) -> median %d, min %d, max %d', (vals, med, min, max) => {
    const s = summarize(vals);
    expect(s.median).toBe(med);
    expect(s.min).toBe(min);
    expect(s.max).toBe(max);
  });
  it('quantile interpolates', () => {
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
  });
  it.each([['ops/s', true], ['pkt/s', true], ['Gbit/s', true], ['×', true], ['ns/op', false], ['µs', false], ['ms', false], ['bytes', false], ['bytes/flow', false]])(
    'isRateUnit(%s) = %s', (u, r) => expect(isRateUnit(u)).toBe(r));
});

describe('sanity checks', () => {
  it.each<[string, Record<string, unknown>]>([
    ['zero value', { value: 0 }],
    ['NaN value', { value: NaN }],
    ['infinite value', { value: Infinity }],
    ['missing check', { check: undefined }],
    ['empty check', { check: '' }],
    ['zero baseline', { baseline: 0 }],
  ])('rejects %s', (_n, over) => {
    const m = { name: 'a', unit: 'ops/s', value: 5, check: 1, ...over } as unknown as Metric;
    expect(sanityProblem(m)).toBeTypeOf('string');
  });
  it('accepts a normal metric', () => {
    expect(sanityProblem({ name: 'a', unit: 'ops/s', value: 5, check: 'c', baseline: 10, ratio: 0.5 })).toBeUndefined();
  });
});

describe('runBenchFn', () => {
  it('warms up, repeats, and reports the median and spread of the repetitions only', async () => {
    const { fn, calls } = seq([1000, 10, 30, 20, 50, 40]);
    const r = await runBenchFn('t', 'fn', fn, plan, opts);
    expect(calls()).toBe(6);
    expect(r.failures).toEqual([]);
    const m = r.metrics[0]!;
    expect(m).toMatchObject({ name: 'x.rate', runs: 5, median: 30, min: 10, max: 50, q1: 20, q3: 40, source: 't' });
  });
  it('computes ratio from baseline when the BenchFn gives none (rate: value/baseline, time: baseline/value)', async () => {
    const rate = await runBenchFn('t', 'r', async () => [{ name: 'r', unit: 'pkt/s', value: 50, baseline: 100, check: 1 }], plan, opts);
    expect(rate.metrics[0]!.ratio).toBe(0.5);
    const time = await runBenchFn('t', 'r', async () => [{ name: 't', unit: 'ns/op', value: 50, baseline: 100, check: 1 }], plan, opts);
    expect(time.metrics[0]!.ratio).toBe(2);
  });
  it('fails loudly on a zero result and on a missing check', async () => {
    const r = await runBenchFn('t', 'bad', async () => [
      { name: 'zero', unit: 'ops/s', value: 0, check: 1 },
      { name: 'nocheck', unit: 'ops/s', value: 3 } as Metric,
    ], plan, opts);
    expect(r.failures).toHaveLength(2);
    expect(r.metrics.map((m) => m.failed !== undefined)).toEqual([true, true]);
  });
  it('reports a throwing BenchFn as a failure instead of crashing', async () => {
    const r = await runBenchFn('t', 'boom', async () => {
      throw new Error('kaput');
    }, plan, opts);
    expect(r.failures[0]).toContain('kaput');
  });
});

describe('module discovery', () => {
  it('takes `benches` (record) first, else exported bench* functions', () => {
    const f: BenchFn = async () => [];
    expect(collectBenchFns({ benches: { a: f, b: f }, benchX: f }).map(([n]) => n)).toEqual(['a', 'b']);
    expect(collectBenchFns({ benchParse: f, helper: f, CONST: 3 }).map(([n]) => n)).toEqual(['benchParse']);
  });
  it('reports a missing module as not available yet', async () => {
    const r = await loadBenchModule('no-such-domain-module');
    expect(r.kind).toBe('unavailable');
  });
});

describe('scaling plots', () => {
  it.each([
    ['policy.lookup.10', 'policy.lookup', 10],
    ['policy.lookup.1k', 'policy.lookup', 1000],
    ['policy.compile.100k', 'policy.compile', 100_000],
    ['engine.established.1m', 'engine.established', 1_000_000],
  ])('parseScale(%s)', (name, prefix, n) => expect(parseScale(name)).toEqual({ prefix, n }));
  it('plots a family with >= 3 sizes on log axes', () => {
    const mk = (name: string, median: number): MetricSummary => ({ name, unit: 'ns/op', source: 'policy', median, min: median, max: median, q1: median, q3: median, runs: 1, check: 1 });
    const plots = scalingPlots('policy', [mk('policy.lookup.10', 50), mk('policy.lookup.1k', 55), mk('policy.lookup.100k', 60), mk('policy.other', 3)]);
    expect(plots).toHaveLength(1);
    expect(plots[0]!.spec.logX).toBe(true);
    expect(plots[0]!.spec.series[0]!.points).toHaveLength(3);
  });
});

describe('reports', () => {
  const base = (medians: Record<string, number>): SuiteReport => ({
    schema: 'syngate-bench/1', suite: 'engine', quick: true, status: 'ok', startedAt: '', durationMs: 1, command: 'x',
    machine: machineInfo(), unavailable: [], failures: [], notes: [], files: [],
    metrics: Object.entries(medians).map(([name, median]) => ({ name, unit: name.endsWith('rate') ? 'ops/s' : 'ns/op', source: 's', median, min: median, max: median, q1: median, q3: median, runs: 1, check: 1 })),
  });
  it('compares by metric name; speedup > 1 means better now for rates and times', () => {
    const c = compareReports(base({ 'a.rate': 200, 'b.time': 50, 'c.new': 1 }), base({ 'a.rate': 100, 'b.time': 100 }));
    expect(c.map((x) => [x.name, x.speedup])).toEqual([['a.rate', 2], ['b.time', 2]]);
  });
  it('writes JSON and markdown for a suite, and lists missing modules as not available yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgbench-'));
    const r = await runSuite('policy', { quick: true, outDir: dir, json: true, log: () => undefined, command: 'test', modules: ['no-such-domain-module'] });
    expect(r.unavailable).toEqual(['no-such-domain-module']);
    const saved = JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8')) as SuiteReport;
    expect(saved.schema).toBe('syngate-bench/1');
    expect(saved.suite).toBe('policy');
    expect(existsSync(join(dir, 'policy.md'))).toBe(true);
    expect(markdownReport(r)).toContain('`policy` suite');
    for (const u of r.unavailable) expect(readFileSync(join(dir, 'policy.md'), 'utf8')).toContain(`bench/${u}.ts: not available yet`);
  });
});

describe('goals', () => {
  const rep = (metrics: Array<Partial<MetricSummary> & { name: string; median: number }>): SuiteReport => ({
    schema: 'syngate-bench/1', suite: 'live', quick: false, status: 'ok', startedAt: '', durationMs: 1, command: 'x',
    machine: machineInfo(), unavailable: [], failures: [], notes: [], files: [],
    metrics: metrics.map((m) => ({ unit: 'µs', source: 'live', min: m.median, max: m.median, q1: m.median, q3: m.median, runs: 1, check: 1, ...m })),
  });
  it('judges each goal from the live metrics, and says "not measured" when a variant is missing', () => {
    const rows = goalRows([rep([
      { name: 'live.setup.syngate-nfqueue.vs-mtls', median: 4 },
      { name: 'live.setup.syngate-nfqueue.added-p50', median: 200 },
      { name: 'live.throughput.syngate-nfqueue', median: 9, ratio: 0.97 },
    ])]);
    const by = Object.fromEntries(rows.map((r) => [r.goal, r.status]));
    expect(by['syngate (nfqueue) setup vs mTLS 1.3']).toBe('met');
    expect(by['syngate (nfqueue) p50 setup added over plain TCP']).toBe('NOT met');
    expect(by['nfqueue throughput vs direct']).toBe('met');
    expect(by['syngate (pcap) setup vs mTLS 1.3']).toBe('not measured');
    expect(by['pcap bridge + engine vs bare pcap bridge']).toBe('not measured');
  });
});
