// Shared fast-check parameters for fuzz properties (test/**/*.fuzz.test.ts).
// Invariant: in the normal test run every property is bounded (FUZZ_DEFAULT_RUNS); the long-run
// mode (`npm run fuzz -- --minutes N`) sets SYNGATE_FUZZ_MINUTES and each property then runs until
// its share of that time is used, with a run count high enough never to stop it earlier.
import type { Parameters } from 'fast-check';

export const FUZZ_DEFAULT_RUNS = 300;

/** fast-check parameters for one property; `weight` scales the default run count for cheap properties. */
export function fuzzParams<T>(weight = 1): Parameters<T> {
  const minutes = Number(process.env['SYNGATE_FUZZ_MINUTES'] ?? '0');
  const share = Number(process.env['SYNGATE_FUZZ_SHARE_MS'] ?? '0');
  if (minutes > 0 && share > 0) {
    return { numRuns: 1_000_000_000, interruptAfterTimeLimit: share, markInterruptAsFailure: false };
  }
  const seed = process.env['SYNGATE_FUZZ_SEED'];
  return {
    numRuns: Math.max(1, Math.round(FUZZ_DEFAULT_RUNS * weight)),
    ...(seed === undefined ? {} : { seed: Number(seed) }),
  };
}
