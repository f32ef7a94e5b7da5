// Benchmark harness behind `syngate bench SUITE`.
// Invariants:
//  - the harness owns warm-up, repetitions, median/spread, machine info and output files; domain
//    modules (bench/<domain>.ts) only export BenchFns (bench/types.ts);
//  - a domain module that does not exist yet is reported as "not available yet", never silently
//    skipped, and listed in the report's `unavailable`;
//  - a metric whose value is 0, NaN or infinite, whose baseline is not a positive number, or which
//    carries no `check`, marks the suite failed (exit status 1) and is printed as FAIL;
//  - every output file is written under the chosen out dir; nothing outside it is touched.
import { mkdirSync, writeFileSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BenchFn, BenchOptions, Metric } from './types.js';
import { machineInfo, machineLine, type MachineInfo } from './machine.js';
import { linePlot, type PlotSpec } from './svg.js';

export const SUITES = ['engine', 'policy', 'live', 'flood'] as const;
export type SuiteName = (typeof SUITES)[number];

/** Domain benchmark modules per suite, in run order (files bench/<module>.ts). */
export const SUITE_MODULES: Record<SuiteName, readonly string[]> = {
  engine: ['packet', 'identity', 'engine', 'sim'],
  policy: ['policy'],
  live: [],
  flood: [],
};

export interface MetricSummary {
  name: string;
  unit: string;
  /** Which module produced it (e.g. `packet`, `live`). */
  source: string;
  median: number;
  min: number;
  max: number;
  /** Quartiles of the per-run values (equal to min/max for fewer than 4 runs). */
  q1: number;
  q3: number;
  runs: number;
  baseline?: number;
  ratio?: number;
  /** What `ratio` is against, when not the domain's own baseline loop (e.g. `plain TCP`). */
  ratioOf?: string;
  check?: string | number;
  note?: string;
  failed?: string;
}

export interface SuiteReport {
  schema: 'syngate-bench/1';
  suite: string;
  quick: boolean;
  status: 'ok' | 'failed' | 'skipped';
  skipReason?: string;
  startedAt: string;
  durationMs: number;
  command: string;
  machine: MachineInfo;
  metrics: MetricSummary[];
  /** Modules that are not available yet (file missing or an import it needs is missing). */
  unavailable: string[];
  failures: string[];
  notes: string[];
  /** Files written next to the JSON (markdown, SVG). */
  files: string[];
  /** Extra per-suite data (e.g. raw latency samples summary) kept for later comparison. */
  extra?: Record<string, unknown>;
}

export interface RunOptions {
  quick: boolean;
  outDir: string;
  json: boolean;
  log: (msg: string) => void;
  command: string;
  /** Override the suite's module list (tests). */
  modules?: readonly string[];
}

/** What a self-driven suite (live, flood) hands back to the harness. */
export interface SuiteOutput {
  metrics: MetricSummary[];
  plots: Array<{ file: string; spec: PlotSpec }>;
  notes: string[];
  failures: string[];
  skipReason?: string;
  extra?: Record<string, unknown>;
}

// ---------------------------------------------------------------- statistics

export function quantile(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? NaN;
  const b = sorted[hi] ?? NaN;
  return a + (b - a) * (pos - lo);
}

export function summarize(values: readonly number[]): { median: number; min: number; max: number; q1: number; q3: number } {
  const s = [...values].sort((a, b) => a - b);
  return {
    median: quantile(s, 0.5),
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
  };
}

/** True iff a smaller value of this unit is better (times, sizes, CPU); everything else is a rate. */
export function isLowerBetter(unit: string): boolean {
  return /^(ns|us|µs|ms|s)(\/\w+)?$|byte|^B(\/\w+)?$|cpu|^%cpu/i.test(unit.trim());
}

/** True iff `unit` is a rate (higher is better). */
export function isRateUnit(unit: string): boolean {
  return !isLowerBetter(unit);
}

/** Sanity problems of one metric, or undefined when it is usable. */
export function sanityProblem(m: Metric): string | undefined {
  if (typeof m.name !== 'string' || m.name === '') return 'metric has no name';
  if (typeof m.value !== 'number' || !Number.isFinite(m.value)) return `value is ${String(m.value)}`;
  if (m.value === 0) return 'value is 0 (measured nothing?)';
  if (m.check === undefined || m.check === null || m.check === '') return 'missing sanity `check`';
  if (m.baseline !== undefined && !(Number.isFinite(m.baseline) && m.baseline > 0)) return `baseline is ${String(m.baseline)}`;
  if (m.ratio !== undefined && !(Number.isFinite(m.ratio) && m.ratio > 0)) return `ratio is ${String(m.ratio)}`;
  return undefined;
}

// ---------------------------------------------------------------- module loading

export type ModuleLoad =
  | { kind: 'ok'; fns: Array<[string, BenchFn]> }
  | { kind: 'unavailable'; why: string }
  | { kind: 'error'; why: string };

/** Collects the BenchFns a module exports: `benches` (record or array) or every function named bench*. */
export function collectBenchFns(mod: Record<string, unknown>): Array<[string, BenchFn]> {
  const out: Array<[string, BenchFn]> = [];
  const benches = mod['benches'];
  if (Array.isArray(benches)) {
    benches.forEach((f, i) => {
      if (typeof f === 'function') out.push([(f as { name?: string }).name || `bench${i}`, f as BenchFn]);
    });
    return out;
  }
  if (benches !== null && typeof benches === 'object') {
    for (const [k, f] of Object.entries(benches as Record<string, unknown>)) if (typeof f === 'function') out.push([k, f as BenchFn]);
    return out;
  }
  for (const [k, f] of Object.entries(mod)) {
    if (typeof f === 'function' && /^bench/i.test(k)) out.push([k, f as BenchFn]);
  }
  if (out.length === 0 && typeof mod['default'] === 'function') out.push(['default', mod['default'] as BenchFn]);
  return out;
}

export async function loadBenchModule(name: string): Promise<ModuleLoad> {
  const url = new URL(`./${name}.js`, import.meta.url);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    const msg = (err.message ?? String(e)).split('\n')[0] ?? '';
    if (err.code === 'ERR_MODULE_NOT_FOUND' || /Cannot find module|Failed to load url|does not provide an export named/.test(msg)) {
      return { kind: 'unavailable', why: msg };
    }
    return { kind: 'error', why: `bench/${name}.ts failed to load: ${msg}` };
  }
  const fns = collectBenchFns(mod);
  if (fns.length === 0) return { kind: 'error', why: `bench/${name}.ts exports no BenchFn (export \`benches\` or functions named bench*)` };
  return { kind: 'ok', fns };
}

// ---------------------------------------------------------------- running BenchFns

interface RunPlan {
  warmups: number;
  reps: number;
  budgetMs: number;
}

/** A warm-up call longer than this is kept as the first measured run. */
export const LONG_CALL_MS = 10_000;

export function planFor(quick: boolean): RunPlan {
  // Quick (CI smoke) mode skips the harness warm-up call: domain BenchFns warm their own loops.
  return quick ? { warmups: 0, reps: 2, budgetMs: 8_000 } : { warmups: 1, reps: 5, budgetMs: 45_000 };
}

/** Runs one BenchFn: warm-up call(s), then repetitions until `reps` or the time budget; aggregates by metric name. */
export async function runBenchFn(
  source: string,
  fnName: string,
  fn: BenchFn,
  plan: RunPlan,
  opts: BenchOptions,
): Promise<{ metrics: MetricSummary[]; failures: string[] }> {
  const failures: string[] = [];
  const t0 = performance.now();
  const perName = new Map<string, Metric[]>();
  const order: string[] = [];
  const record = (res: Metric[]): void => {
    for (const m of res) {
      const key = m?.name ?? '(unnamed)';
      let arr = perName.get(key);
      if (!arr) {
        arr = [];
        perName.set(key, arr);
        order.push(key);
      }
      arr.push(m);
    }
  };
  let measured = 0;
  for (let w = 0; w < plan.warmups; w++) {
    const tw = performance.now();
    let res: Metric[];
    try {
      res = await fn(opts);
    } catch (e) {
      return { metrics: [], failures: [`${source}.${fnName}: threw during warm-up: ${errText(e)}`] };
    }
    // A call this long warms its own loops; measuring it again only doubles the cost of the suite.
    if (performance.now() - tw > LONG_CALL_MS && Array.isArray(res) && res.length > 0) {
      record(res);
      measured++;
      break;
    }
  }
  for (let r = measured; r < plan.reps; r++) {
    const elapsed = performance.now() - t0;
    // Stop when the next run would likely overshoot the budget (at least one measured run).
    if (measured > 0 && elapsed + elapsed / (measured + plan.warmups) > plan.budgetMs) break;
    let res: Metric[];
    try {
      res = await fn(opts);
    } catch (e) {
      failures.push(`${source}.${fnName}: threw in run ${r + 1}: ${errText(e)}`);
      break;
    }
    if (!Array.isArray(res) || res.length === 0) {
      failures.push(`${source}.${fnName}: returned no metrics`);
      break;
    }
    record(res);
    measured++;
  }
  const metrics: MetricSummary[] = [];
  for (const name of order) {
    const runs = perName.get(name) ?? [];
    const bad = runs.map(sanityProblem).find((p) => p !== undefined);
    const first = runs[0];
    if (!first) continue;
    const s = summarize(runs.map((m) => m.value));
    const summary: MetricSummary = { name, unit: first.unit, source, ...s, runs: runs.length };
    const baselines = runs.map((m) => m.baseline).filter((b): b is number => typeof b === 'number');
    if (baselines.length > 0) summary.baseline = summarize(baselines).median;
    const ratios = runs.map((m) => {
      if (typeof m.ratio === 'number') return m.ratio;
      if (typeof m.baseline === 'number' && m.baseline > 0) return isRateUnit(m.unit) ? m.value / m.baseline : m.baseline / m.value;
      return undefined;
    });
    const rs = ratios.filter((x): x is number => typeof x === 'number');
    if (rs.length > 0) summary.ratio = summarize(rs).median;
    const last = runs[runs.length - 1];
    if (last?.check !== undefined) summary.check = last.check;
    if (last?.note !== undefined) summary.note = last.note;
    if (bad !== undefined) {
      summary.failed = bad;
      failures.push(`${source}: ${name}: ${bad}`);
    }
    metrics.push(summary);
  }
  return { metrics, failures };
}

function errText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 3).join(' | ') : String(e);
}

// ---------------------------------------------------------------- scaling plots

/** Parses a trailing rule/flow count like `.10`, `.1k`, `.100k`, `.1m` in a metric name. */
export function parseScale(name: string): { prefix: string; n: number } | undefined {
  const m = /^(.*)\.(\d+(?:\.\d+)?)([kKmM]?)(?:[-_]?(?:rules?|flows?))?$/.exec(name);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  const mult = m[3] === 'k' || m[3] === 'K' ? 1e3 : m[3] === 'm' || m[3] === 'M' ? 1e6 : 1;
  return { prefix: m[1], n: Number(m[2]) * mult };
}

/** One plot per unit for metric families with >= 3 sizes (e.g. policy.lookup.{10,1k,10k,100k}). */
export function scalingPlots(suite: string, metrics: readonly MetricSummary[]): Array<{ file: string; spec: PlotSpec }> {
  const fam = new Map<string, Map<string, Array<[number, number]>>>();
  for (const m of metrics) {
    if (m.failed) continue;
    const p = parseScale(m.name);
    if (!p) continue;
    let byPrefix = fam.get(m.unit);
    if (!byPrefix) fam.set(m.unit, (byPrefix = new Map()));
    let pts = byPrefix.get(p.prefix);
    if (!pts) byPrefix.set(p.prefix, (pts = []));
    pts.push([p.n, m.median]);
  }
  const plots: Array<{ file: string; spec: PlotSpec }> = [];
  for (const [unit, byPrefix] of fam) {
    const series = [...byPrefix].filter(([, pts]) => pts.length >= 3).map(([label, points]) => ({ label, points }));
    if (series.length === 0) continue;
    const slug = unit.replace(/[^a-z0-9]+/gi, '_').replace(/^_|_$/g, '');
    plots.push({
      file: `${suite}-scaling-${slug}.svg`,
      spec: {
        title: `${suite}: ${series.map((s) => s.label).join(', ')} vs size`,
        xLabel: 'rules / entries',
        yLabel: unit,
        series,
        logX: true,
        logY: true,
      },
    });
  }
  return plots;
}

// ---------------------------------------------------------------- suites

export async function runModuleSuite(suite: SuiteName, opts: RunOptions): Promise<SuiteOutput> {
  const plan = planFor(opts.quick);
  const out: SuiteOutput = { metrics: [], plots: [], notes: [], failures: [] };
  const unavailable: string[] = [];
  for (const modName of opts.modules ?? SUITE_MODULES[suite]) {
    const load = await loadBenchModule(modName);
    if (load.kind === 'unavailable') {
      opts.log(`  bench/${modName}.ts: not available yet (${load.why})`);
      unavailable.push(modName);
      continue;
    }
    if (load.kind === 'error') {
      opts.log(`  FAIL ${load.why}`);
      out.failures.push(load.why);
      continue;
    }
    for (const [fnName, fn] of load.fns) {
      opts.log(`  ${modName}.${fnName}: warm-up ${plan.warmups}, up to ${plan.reps} runs`);
      const t = performance.now();
      const r = await runBenchFn(modName, fnName, fn, plan, { quick: opts.quick, log: (m) => opts.log(`    ${m}`) });
      opts.log(`  ${modName}.${fnName}: ${r.metrics.length} metrics in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      for (const f of r.failures) opts.log(`  FAIL ${f}`);
      out.metrics.push(...r.metrics);
      out.failures.push(...r.failures);
    }
  }
  out.plots.push(...scalingPlots(suite, out.metrics));
  out.extra = { unavailable };
  return out;
}

async function runSelfDriven(suite: 'live' | 'flood', opts: RunOptions): Promise<SuiteOutput> {
  const url = new URL(`./${suite}.js`, import.meta.url);
  const mod = (await import(url.href)) as { runSuite: (o: RunOptions) => Promise<SuiteOutput> };
  return mod.runSuite(opts);
}

/** Runs one suite end to end and writes its files; never throws for a failing benchmark (status says so). */
export async function runSuite(suite: SuiteName, opts: RunOptions): Promise<SuiteReport> {
  const startedAt = new Date();
  const t0 = performance.now();
  opts.log(`suite ${suite}${opts.quick ? ' (quick)' : ''}`);
  let res: SuiteOutput;
  try {
    res = suite === 'live' || suite === 'flood' ? await runSelfDriven(suite, opts) : await runModuleSuite(suite, opts);
  } catch (e) {
    res = { metrics: [], plots: [], notes: [], failures: [`suite ${suite} crashed: ${errText(e)}`] };
  }
  const unavailable = Array.isArray(res.extra?.['unavailable']) ? (res.extra['unavailable'] as string[]) : [];
  const report: SuiteReport = {
    schema: 'syngate-bench/1',
    suite,
    quick: opts.quick,
    status: res.skipReason !== undefined ? 'skipped' : res.failures.length > 0 ? 'failed' : 'ok',
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    command: opts.command,
    machine: machineInfo(),
    metrics: res.metrics,
    unavailable,
    failures: res.failures,
    notes: res.notes,
    files: [],
  };
  if (res.skipReason !== undefined) report.skipReason = res.skipReason;
  if (res.extra !== undefined) {
    const { unavailable: _u, ...rest } = res.extra;
    if (Object.keys(rest).length > 0) report.extra = rest;
  }
  if (report.status !== 'skipped' && report.metrics.length === 0 && report.failures.length === 0 && unavailable.length > 0) {
    report.notes.push(`no metrics: every module of this suite is not available yet (${unavailable.join(', ')})`);
  }
  mkdirSync(opts.outDir, { recursive: true });
  for (const p of res.plots) {
    writeFileSync(join(opts.outDir, p.file), linePlot(p.spec));
    report.files.push(p.file);
  }
  const md = `${suite}.md`;
  report.files.push(md, `${suite}.json`);
  writeFileSync(join(opts.outDir, md), markdownReport(report));
  writeFileSync(join(opts.outDir, `${suite}.json`), JSON.stringify(report, null, 2) + '\n');
  return report;
}

// ---------------------------------------------------------------- formatting

export function fmtValue(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return v === undefined ? '' : String(v);
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

function ratioText(m: MetricSummary): string {
  if (m.ratio === undefined) return '';
  return `${m.ratio.toFixed(m.ratio >= 10 ? 1 : 3)}×${m.ratioOf ? ` vs ${m.ratioOf}` : ''}`;
}

const COLS = ['metric', 'median', 'unit', 'min – max', 'IQR', 'baseline', 'ratio', 'runs', 'check'] as const;

function rows(report: SuiteReport): string[][] {
  return report.metrics.map((m) => [
    (m.failed ? 'FAIL ' : '') + m.name,
    fmtValue(m.median),
    m.unit,
    `${fmtValue(m.min)} – ${fmtValue(m.max)}`,
    `${fmtValue(m.q1)} – ${fmtValue(m.q3)}`,
    fmtValue(m.baseline),
    ratioText(m),
    String(m.runs),
    m.check === undefined ? '' : String(m.check).slice(0, 24),
  ]);
}

export function markdownReport(report: SuiteReport): string {
  const lines: string[] = [];
  lines.push(`## \`${report.suite}\` suite${report.quick ? ' (quick)' : ''}`, '');
  lines.push(`- command: \`${report.command}\``);
  lines.push(`- machine: ${machineLine(report.machine)}`);
  lines.push(`- started ${report.startedAt}, took ${(report.durationMs / 1000).toFixed(1)} s; status **${report.status}**`);
  if (report.skipReason) lines.push(`- skipped: ${report.skipReason}`);
  for (const u of report.unavailable) lines.push(`- bench/${u}.ts: not available yet`);
  for (const n of report.notes) lines.push(`- ${n}`);
  for (const f of report.failures) lines.push(`- **FAIL** ${f}`);
  lines.push('');
  if (report.metrics.length > 0) {
    lines.push(`| ${COLS.join(' | ')} |`, `|${COLS.map((_, i) => (i === 0 || i === 2 || i === 8 ? '---' : '---:')).join('|')}|`);
    for (const r of rows(report)) lines.push(`| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
    lines.push('');
    const notes = report.metrics.filter((m) => m.note);
    if (notes.length > 0) {
      for (const m of notes) lines.push(`- \`${m.name}\`: ${m.note}`);
      lines.push('');
    }
  }
  for (const f of report.files.filter((x) => x.endsWith('.svg'))) lines.push(`![${f}](${f})`, '');
  return lines.join('\n');
}

/** Plain-text aligned table for the terminal. */
export function textReport(report: SuiteReport): string {
  const head = [...COLS] as string[];
  const body = rows(report);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 || i === 2 ? c.padEnd(w[i] ?? 0) : c.padStart(w[i] ?? 0))).join('  ');
  const out: string[] = [];
  out.push(`== ${report.suite}: ${report.status}${report.skipReason ? ` (${report.skipReason})` : ''}, ${(report.durationMs / 1000).toFixed(1)} s`);
  out.push(`   ${machineLine(report.machine)}`);
  if (body.length > 0) {
    out.push(line(head));
    for (const r of body) out.push(line(r));
  }
  for (const u of report.unavailable) out.push(`   bench/${u}.ts: not available yet`);
  for (const n of report.notes) out.push(`   note: ${n}`);
  for (const f of report.failures) out.push(`   FAIL ${f}`);
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------- comparison

/** Loads saved suite reports from a file (suite JSON or an `all` JSON) or a result directory. */
export function loadSaved(path: string, suite: string): SuiteReport | undefined {
  let file = resolve(path);
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, `${suite}.json`);
  if (!existsSync(file)) return undefined;
  const data = JSON.parse(readFileSync(file, 'utf8')) as Partial<SuiteReport> & { suites?: SuiteReport[] };
  if (Array.isArray(data.suites)) return data.suites.find((s) => s.suite === suite);
  if (data.schema === 'syngate-bench/1' && Array.isArray(data.metrics)) return data as SuiteReport;
  return undefined;
}

export interface Comparison {
  name: string;
  unit: string;
  saved: number;
  now: number;
  /** now / saved */
  change: number;
  /** >1 means better now (rates higher, times lower). */
  speedup: number;
}

export function compareReports(now: SuiteReport, saved: SuiteReport): Comparison[] {
  const byName = new Map(saved.metrics.map((m) => [m.name, m]));
  const out: Comparison[] = [];
  for (const m of now.metrics) {
    const s = byName.get(m.name);
    if (!s || !(s.median > 0) || !(m.median > 0)) continue;
    const change = m.median / s.median;
    out.push({ name: m.name, unit: m.unit, saved: s.median, now: m.median, change, speedup: isRateUnit(m.unit) ? change : 1 / change });
  }
  return out;
}

export function comparisonText(suite: string, savedPath: string, cmp: readonly Comparison[], load?: { saved: number; now: number }): string {
  const out = [`== ${suite} compared with ${savedPath} (speedup > 1 = better now)`];
  if (load) out.push(`   1-minute load average: saved run ${load.saved}, this run ${load.now}${Math.abs(load.now - load.saved) > 1 ? '  (different load: treat absolute changes with care, prefer ratios)' : ''}`);
  const head = ['metric', 'saved', 'now', 'unit', 'now/saved', 'speedup'];
  const body = cmp.map((c) => [c.name, fmtValue(c.saved), fmtValue(c.now), c.unit, c.change.toFixed(3), `${c.speedup.toFixed(3)}×${c.speedup < 0.9 ? '  (slower)' : c.speedup > 1.1 ? '  (faster)' : ''}`]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 || i === 3 || i === 5 ? c.padEnd(w[i] ?? 0) : c.padStart(w[i] ?? 0))).join('  ');
  out.push(line(head));
  for (const r of body) out.push(line(r));
  if (cmp.length === 0) out.push('   (no metric names in common)');
  return out.join('\n') + '\n';
}

/** Default output directory: bench/results/<timestamp>/ under the current directory. */
export function defaultOutDir(now = new Date()): string {
  const ts = now.toISOString().replace(/[:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return join('bench', 'results', ts);
}

// ---------------------------------------------------------------- goals and headline ratios

export interface GoalRow {
  goal: string;
  target: string;
  measured: string;
  status: 'met' | 'NOT met' | 'not measured';
}

function metricOf(reports: readonly SuiteReport[], name: string): MetricSummary | undefined {
  for (const r of reports) {
    const m = r.metrics.find((x) => x.name === name && x.failed === undefined);
    if (m) return m;
  }
  return undefined;
}

/** The issue-9 goals, judged from whatever suites ran (honestly: unmeasured says so). */
export function goalRows(reports: readonly SuiteReport[]): GoalRow[] {
  const rows: GoalRow[] = [];
  const judge = (goal: string, target: string, m: MetricSummary | undefined, ok: (v: number) => boolean, fmt: (m: MetricSummary) => string): void => {
    rows.push(m === undefined ? { goal, target, measured: '—', status: 'not measured' } : { goal, target, measured: fmt(m), status: ok(m.median) ? 'met' : 'NOT met' });
  };
  for (const dp of ['nfqueue', 'pcap']) {
    judge(`syngate (${dp}) setup vs mTLS 1.3`, '>= 3× faster (p50)', metricOf(reports, `live.setup.syngate-${dp}.vs-mtls`), (v) => v >= 3, (m) => `${m.median.toFixed(2)}× faster`);
  }
  judge('syngate (nfqueue) p50 setup added over plain TCP', '< 150 µs', metricOf(reports, 'live.setup.syngate-nfqueue.added-p50'), (v) => v < 150,
    (m) => `${m.median.toFixed(0)} µs (per-round ${m.min.toFixed(0)} – ${m.max.toFixed(0)})`);
  const tn = metricOf(reports, 'live.throughput.syngate-nfqueue');
  rows.push(tn?.ratio === undefined ? { goal: 'nfqueue throughput vs direct', target: '>= 95%', measured: '—', status: 'not measured' }
    : { goal: 'nfqueue throughput vs direct', target: '>= 95%', measured: `${(tn.ratio * 100).toFixed(1)}% (${tn.median.toFixed(2)} Gbit/s)`, status: tn.ratio >= 0.95 ? 'met' : 'NOT met' });
  const tp = metricOf(reports, 'live.throughput.syngate-pcap');
  rows.push(tp?.ratio === undefined ? { goal: 'pcap bridge + engine vs bare pcap bridge', target: '>= 80%', measured: '—', status: 'not measured' }
    : { goal: 'pcap bridge + engine vs bare pcap bridge', target: '>= 80%', measured: `${(tp.ratio * 100).toFixed(1)}% (${tp.median.toFixed(3)} Gbit/s)`, status: tp.ratio >= 0.8 ? 'met' : 'NOT met' });
  return rows;
}

/** Headline ratios for the README (setup vs TCP and mTLS, throughput vs direct, warm vs cold). */
export function headlineLines(reports: readonly SuiteReport[]): string[] {
  const out: string[] = [];
  const g = (n: string): MetricSummary | undefined => metricOf(reports, n);
  const tcp = g('live.setup.tcp.p50');
  const mtls = g('live.setup.mtls.p50');
  for (const dp of ['nfqueue', 'pcap']) {
    const s = g(`live.setup.syngate-${dp}.p50`);
    if (s && tcp && mtls) {
      out.push(`connection setup with syngate (${dp}): p50 ${s.median.toFixed(0)} µs = ${(s.median / tcp.median).toFixed(2)}× plain TCP (${tcp.median.toFixed(0)} µs), ${(mtls.median / s.median).toFixed(2)}× faster than mutual TLS 1.3 (${mtls.median.toFixed(0)} µs)`);
    }
  }
  const tn = g('live.throughput.syngate-nfqueue');
  if (tn?.ratio !== undefined) out.push(`bulk throughput through syngate (nfqueue): ${(tn.ratio * 100).toFixed(0)}% of the direct path (${tn.median.toFixed(2)} Gbit/s)`);
  const tp = g('live.throughput.syngate-pcap');
  if (tp?.ratio !== undefined) out.push(`bulk throughput through syngate (pcap bridge): ${(tp.ratio * 100).toFixed(0)}% of a bare pcap bridge (${tp.median.toFixed(3)} Gbit/s)`);
  const w = g('engine.handshake.warm');
  const c = g('engine.handshake.cold');
  if (w && c) out.push(`engine handshakes: warm (HMAC only) ${w.median.toFixed(0)}/cpu-s vs cold (signatures) ${c.median.toFixed(0)}/cpu-s = ${(w.median / c.median).toFixed(0)}×`);
  const f = g('flood.max-sustained-rate');
  if (f) out.push(`forged-token SYN flood: highest sustained rate ${f.median.toFixed(0)} SYN/s — ${f.note ?? ''}`);
  return out;
}

export function summaryMarkdown(reports: readonly SuiteReport[], command: string): string {
  const lines = ['# syngate bench summary', '', `- command: \`${command}\``];
  const m = reports[0]?.machine;
  if (m) lines.push(`- machine: ${machineLine(m)} (load average at start ${m.loadavg1m})`);
  lines.push(`- suites: ${reports.map((r) => `${r.suite} (${r.status}, ${(r.durationMs / 1000).toFixed(0)} s)`).join(', ')}`, '');
  lines.push('## Goals', '', '| goal | target | measured | status |', '|---|---|---|---|');
  for (const r of goalRows(reports)) lines.push(`| ${r.goal} | ${r.target} | ${r.measured} | **${r.status}** |`);
  lines.push('', '## Headline ratios', '');
  for (const h of headlineLines(reports)) lines.push(`- ${h}`);
  const missing = reports.flatMap((r) => r.unavailable.map((u) => `bench/${u}.ts`));
  if (missing.length > 0) lines.push('', `Not available yet: ${missing.join(', ')}`);
  return lines.join('\n') + '\n';
}
