// Shared fast-check parameters for fuzz properties (test/**/*.fuzz.test.ts).
// Invariant: in the normal test run every property is bounded (FUZZ_DEFAULT_RUNS); the long-run
// mode (`npm run fuzz -- --minutes N`) sets SYNGATE_FUZZ_MINUTES and each property then runs until
// its share of that time is used, with a run count high enough never to stop it earlier.
// When SYNGATE_FUZZ_STATS_DIR is set (scripts/fuzz.js does), each property also writes one JSON
// record (name, executions, outcome) there through a fast-check reporter that still throws on a
// failure exactly like the default one; SYNGATE_FUZZ_DISCOVER=1 runs each property once (counting).
import { defaultReportMessage, type Parameters, type RunDetails } from 'fast-check';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

export const FUZZ_DEFAULT_RUNS = 300;

/** fast-check parameters for one property; `weight` scales the default run count for cheap properties. */
export function fuzzParams<T>(weight = 1): Parameters<T> {
  const minutes = Number(process.env['SYNGATE_FUZZ_MINUTES'] ?? '0');
  const share = Number(process.env['SYNGATE_FUZZ_SHARE_MS'] ?? '0');
  let params: Parameters<T>;
  if (process.env['SYNGATE_FUZZ_DISCOVER'] === '1') {
    params = { numRuns: 1 };
  } else if (minutes > 0 && share > 0) {
    params = { numRuns: 1_000_000_000, interruptAfterTimeLimit: share, markInterruptAsFailure: false };
  } else {
    // SYNGATE_FUZZ_SEED (+ SYNGATE_FUZZ_PATH) replays a reported counterexample exactly.
    const seed = process.env['SYNGATE_FUZZ_SEED'];
    const path = process.env['SYNGATE_FUZZ_PATH'];
    params = {
      numRuns: Math.max(1, Math.round(FUZZ_DEFAULT_RUNS * weight)),
      ...(seed === undefined ? {} : { seed: Number(seed) }),
      ...(seed === undefined || path === undefined ? {} : { path, endOnFailure: true }),
    };
  }
  const statsDir = process.env['SYNGATE_FUZZ_STATS_DIR'];
  return statsDir === undefined || statsDir === '' ? params : { ...params, reporter: statsReporter<T>(statsDir) };
}

/** One record per property run, written by the stats reporter. */
export interface FuzzStat {
  name: string;
  file: string;
  numRuns: number;
  numSkips: number;
  failed: boolean;
  interrupted: boolean;
  ms: number;
  seed: number;
}

let statSeq = 0;
const namesSeen = new Map<string, number>();

function statsReporter<T>(dir: string): (out: RunDetails<T>) => void {
  const t0 = performance.now();
  let test = 'unknown';
  let file = '';
  try {
    const st = expect.getState();
    test = st.currentTestName ?? test;
    file = st.testPath ?? '';
  } catch {
    /* outside a vitest test: keep defaults */
  }
  const k = namesSeen.get(test) ?? 0;
  namesSeen.set(test, k + 1);
  const name = k === 0 ? test : `${test} #${k + 1}`;
  return (out) => {
    const stat: FuzzStat = {
      name,
      file,
      numRuns: out.numRuns,
      numSkips: out.numSkips,
      failed: out.failed,
      interrupted: out.interrupted,
      ms: Math.round(performance.now() - t0),
      seed: out.seed,
    };
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${process.pid}-${++statSeq}.json`), JSON.stringify(stat) + '\n');
    } catch {
      /* statistics are best effort; the property outcome below is what matters */
    }
    if (out.failed) throw new Error(defaultReportMessage(out), { cause: out.errorInstance });
  };
}
