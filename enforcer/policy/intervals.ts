// Sets of integers as sorted, disjoint, non-adjacent inclusive intervals, flattened [a0, b0, a1, b1, ...].
// Invariant: every function returns a normalised set (sorted, merged) and never mutates its inputs.
// Used for port sets over the compiled key space (proto slot << 16 | port); never on the hot path.

export type IntervalSet = readonly number[];

export const EMPTY: IntervalSet = [];

export function single(a: number, b: number): IntervalSet {
  return a <= b ? [a, b] : EMPTY;
}

export function normalise(pairs: number[]): IntervalSet {
  const list: [number, number][] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const a = pairs[i] ?? 0;
    const b = pairs[i + 1] ?? 0;
    if (a <= b) list.push([a, b]);
  }
  list.sort((x, y) => x[0] - y[0]);
  const out: number[] = [];
  for (const [a, b] of list) {
    const n = out.length;
    if (n > 0 && a <= (out[n - 1] ?? 0) + 1) {
      if (b > (out[n - 1] ?? 0)) out[n - 1] = b;
    } else out.push(a, b);
  }
  return out;
}

export function union(x: IntervalSet, y: IntervalSet): IntervalSet {
  if (x.length === 0) return y;
  if (y.length === 0) return x;
  return normalise([...x, ...y]);
}

export function intersect(x: IntervalSet, y: IntervalSet): IntervalSet {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const a = Math.max(x[i] ?? 0, y[j] ?? 0);
    const b = Math.min(x[i + 1] ?? 0, y[j + 1] ?? 0);
    if (a <= b) out.push(a, b);
    if ((x[i + 1] ?? 0) < (y[j + 1] ?? 0)) i += 2;
    else j += 2;
  }
  return out;
}

/** x minus y. */
export function subtract(x: IntervalSet, y: IntervalSet): IntervalSet {
  if (y.length === 0 || x.length === 0) return x;
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < x.length; i += 2) {
    let a = x[i] ?? 0;
    const b = x[i + 1] ?? 0;
    while (j < y.length && (y[j + 1] ?? 0) < a) j += 2;
    let k = j;
    while (k < y.length && (y[k] ?? 0) <= b && a <= b) {
      const ya = y[k] ?? 0;
      const yb = y[k + 1] ?? 0;
      if (ya > a) out.push(a, ya - 1);
      a = yb + 1;
      k += 2;
    }
    if (a <= b) out.push(a, b);
  }
  return out;
}

export function contains(x: IntervalSet, v: number): boolean {
  let lo = 0;
  let hi = (x.length >> 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (v < (x[2 * mid] ?? 0)) hi = mid - 1;
    else if (v > (x[2 * mid + 1] ?? 0)) lo = mid + 1;
    else return true;
  }
  return false;
}
