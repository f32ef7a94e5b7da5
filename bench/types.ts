// Contract between domain benchmarks and the harness (bench/harness.ts, `syngate bench`).
// Invariant: a BenchFn measures one thing repeatedly-callable; the harness owns warm-up,
// repetitions, median/spread, machine info and output. A Metric with `baseline` also carries the
// figure of the simplest same-process loop doing the same job, and `ratio = value / baseline`
// (for rates) so results are judged against the Node limit, not absolute numbers.

export interface Metric {
  /** Stable dotted name, e.g. `packet.parse`, `engine.established.1m`. */
  name: string;
  value: number;
  /** e.g. `pkt/s`, `ops/s`, `ns/op`, `bytes`, `ms`. */
  unit: string;
  /** The baseline loop's figure in the same unit, measured in the same process run. */
  baseline?: number;
  /** value / baseline (rates) or baseline / value (times): >1 means faster than baseline. */
  ratio?: number;
  /** Sanity check evidence: e.g. a checksum of results so the loop cannot be optimised away. */
  check?: string | number;
  note?: string;
}

export interface BenchOptions {
  quick: boolean;
  log: (msg: string) => void;
}

export type BenchFn = (opts: BenchOptions) => Promise<Metric[]>;
