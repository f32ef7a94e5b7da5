// Standalone runner for one domain's BenchFns (`npx tsx bench/<domain>.ts [--quick]`), outside the
// harness. Invariant: each BenchFn is warmed up once (unless listed in `once`), then run `reps`
// times, and the median of each metric is reported; output is JSON then a plain table on stdout.
import type { BenchFn, BenchOptions, Metric } from './types.js';

export interface StandaloneOptions {
  quick: boolean;
  reps?: number;
  /** BenchFns that are expensive and self-contained: run once, no warm-up. */
  once?: readonly string[];
}

/** Runs every BenchFn and returns the median metric of each position. */
export async function runBenchesStandalone(benches: Record<string, BenchFn>, o: StandaloneOptions): Promise<Metric[]> {
  const opts: BenchOptions = { quick: o.quick, log: (m) => process.stderr.write(`${m}\n`) };
  const reps = o.reps ?? 3;
  const results: Metric[] = [];
  for (const [name, fn] of Object.entries(benches)) {
    const once = o.once?.includes(name) === true;
    if (!once) await fn(opts);
    const runs: Metric[][] = [];
    for (let r = 0; r < (once ? 1 : reps); r++) runs.push(await fn(opts));
    for (let k = 0; k < runs[0]!.length; k++) {
      const sorted = runs.map((x) => x[k]!).sort((a, b) => a.value - b.value);
      results.push(sorted[Math.floor(sorted.length / 2)]!);
    }
  }
  return results;
}

function fmt(x: number | undefined): string {
  if (x === undefined) return '';
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(3);
}

/** Prints `{suite, node, quick, metrics}` as JSON, then a table with the baseline column titled `baselineTitle`. */
export function printStandalone(suite: string, quick: boolean, results: readonly Metric[], baselineTitle: string): void {
  process.stdout.write(`${JSON.stringify({ suite, node: process.version, quick, metrics: results }, null, 2)}\n\n`);
  const rows = results.map((m) => [m.name, `${fmt(m.value)} ${m.unit}`, fmt(m.baseline), m.ratio?.toFixed(3) ?? '', String(m.check)]);
  const head = ['metric', 'value', baselineTitle, 'ratio', 'check'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i]!)).join('  ');
  process.stdout.write(`${line(head)}\n${w.map((x) => '-'.repeat(x)).join('  ')}\n${rows.map(line).join('\n')}\n`);
}
