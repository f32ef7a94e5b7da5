// Minimal SVG line plots for benchmark results (no dependency).
// Invariants: output is a self-contained SVG 1.1 document; every text is XML-escaped; a log axis
// drops points <= 0 (and any non-finite or astronomically large value) and says so in the caption; an empty plot still
// renders axes and a "no data" note rather than throwing.

export interface Series {
  label: string;
  points: ReadonlyArray<readonly [number, number]>;
}

export interface PlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  logX?: boolean;
  logY?: boolean;
  /** Draw points as markers as well as lines (default: true when a series has <= 30 points). */
  markers?: boolean;
  /** Draw series as steps (for CDFs). */
  step?: boolean;
  width?: number;
  height?: number;
  /** Fixed y range, e.g. [0, 1] for a CDF. */
  yRange?: readonly [number, number];
}

/** Points beyond these magnitudes are not drawable (axis arithmetic would overflow). */
const MAX_ABS = 1e300;
/** Legend labels longer than this are cut (two columns must fit the width). */
const LEGEND_MAX = 52;
const MIN_LOG = 1e-300;

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Human number: 1234 -> "1.23k", 0.000012 -> "12µ". */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  const units: Array<[number, string]> = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
    [1, ''],
    [1e-3, 'm'],
    [1e-6, 'µ'],
    [1e-9, 'n'],
  ];
  if (a >= 1e-3 && a < 1) return String(Number(v.toPrecision(2)));
  for (const [scale, suffix] of units) {
    if (a >= scale) {
      const x = v / scale;
      const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
      return `${Number(x.toFixed(digits))}${suffix}`;
    }
  }
  return v.toExponential(1);
}

interface Axis {
  min: number;
  max: number;
  log: boolean;
}

function ticks(ax: Axis): number[] {
  if (ax.log) {
    const out: number[] = [];
    const lo = Math.floor(Math.log10(ax.min));
    const hi = Math.ceil(Math.log10(ax.max));
    for (let e = lo; e <= hi && out.length < 20; e++) out.push(10 ** e);
    return out;
  }
  const span = ax.max - ax.min || 1;
  const raw = span / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= 6) ?? 10 * mag;
  const out: number[] = [];
  const first = Math.ceil(ax.min / step) * step;
  for (let t = first; t <= ax.max + step * 1e-9 && out.length < 20; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function niceRange(vals: number[], log: boolean, fixed?: readonly [number, number]): Axis {
  if (fixed && fixed[0] < fixed[1]) return { min: fixed[0], max: fixed[1], log };
  if (vals.length === 0) return { min: log ? 1 : 0, max: log ? 10 : 1, log };
  let min = Math.min(...vals);
  let max = Math.max(...vals);
  if (log) {
    min = 10 ** Math.floor(Math.log10(min));
    max = 10 ** Math.ceil(Math.log10(max));
    if (min === max) max = min * 10;
  } else {
    if (min > 0 && min < max * 0.5) min = 0;
    if (max - min <= Math.abs(max) * 1e-9) {
      const pad = Math.max(1, Math.abs(min) * 0.1);
      min = min - pad;
      max = max + pad;
    }
  }
  return { min, max, log };
}

/** Renders a line plot as an SVG document string. */
export function linePlot(spec: PlotSpec): string {
  const W = spec.width ?? 760;
  const legendRows = Math.ceil(spec.series.length / 2);
  const ml = 78;
  const mr = 24;
  const mt = 40;
  const mb = 60 + legendRows * 16;
  const H = (spec.height ?? 440) + Math.max(0, legendRows - 2) * 16;
  const pw = W - ml - mr;
  const ph = H - mt - mb;
  let dropped = 0;
  const keep = (p: readonly [number, number]): boolean => {
    const ok =
      Math.abs(p[0]) <= MAX_ABS && Math.abs(p[1]) <= MAX_ABS &&
      (!spec.logX || p[0] >= MIN_LOG) && (!spec.logY || p[1] >= MIN_LOG);
    if (!ok) dropped++;
    return ok;
  };
  const series = spec.series.map((s) => ({ label: s.label, points: s.points.filter(keep) }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const ax = niceRange(xs, spec.logX ?? false);
  const ay = niceRange(ys, spec.logY ?? false, spec.yRange);
  const sx = (v: number): number =>
    ml + (ax.log ? (Math.log10(v) - Math.log10(ax.min)) / (Math.log10(ax.max) - Math.log10(ax.min)) : (v - ax.min) / (ax.max - ax.min)) * pw;
  const sy = (v: number): number =>
    mt + ph - (ay.log ? (Math.log10(v) - Math.log10(ay.min)) / (Math.log10(ay.max) - Math.log10(ay.min)) : (v - ay.min) / (ay.max - ay.min)) * ph;
  const f = (v: number): string => v.toFixed(1);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`);
  // grid + ticks
  for (const t of ticks(ax)) {
    if (t < ax.min || t > ax.max) continue;
    const x = sx(t);
    out.push(`<line x1="${f(x)}" y1="${mt}" x2="${f(x)}" y2="${mt + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${f(x)}" y="${mt + ph + 16}" text-anchor="middle">${escapeXml(fmtNum(t))}</text>`);
  }
  for (const t of ticks(ay)) {
    if (t < ay.min || t > ay.max) continue;
    const y = sy(t);
    out.push(`<line x1="${ml}" y1="${f(y)}" x2="${ml + pw}" y2="${f(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${ml - 6}" y="${f(y + 4)}" text-anchor="end">${escapeXml(fmtNum(t))}</text>`);
  }
  out.push(`<rect x="${ml}" y="${mt}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  const xl = spec.xLabel + (ax.log ? ' (log scale)' : '');
  const yl = spec.yLabel + (ay.log ? ' (log scale)' : '');
  out.push(`<text x="${ml + pw / 2}" y="${mt + ph + 36}" text-anchor="middle">${escapeXml(xl)}</text>`);
  out.push(`<text transform="translate(16 ${mt + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yl)}</text>`);
  if (xs.length === 0) out.push(`<text x="${ml + pw / 2}" y="${mt + ph / 2}" text-anchor="middle" fill="#999">no data</text>`);
  // series
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length] ?? '#000';
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    if (pts.length > 0) {
      let d = '';
      pts.forEach((p, j) => {
        const x = sx(p[0]);
        const y = sy(p[1]);
        if (j === 0) d += `M${f(x)},${f(y)}`;
        else if (spec.step) d += `H${f(x)}V${f(y)}`;
        else d += `L${f(x)},${f(y)}`;
      });
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
      const markers = spec.markers ?? pts.length <= 30;
      if (markers) for (const p of pts) out.push(`<circle cx="${f(sx(p[0]))}" cy="${f(sy(p[1]))}" r="3" fill="${color}"/>`);
    }
    // legend below the plot, two per row
    const lx = ml + (i % 2) * (pw / 2);
    const ly = mt + ph + 56 + Math.floor(i / 2) * 16;
    out.push(`<line x1="${f(lx)}" y1="${ly - 4}" x2="${f(lx + 18)}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`);
    const label = s.label.length > LEGEND_MAX ? `${s.label.slice(0, LEGEND_MAX - 1)}…` : s.label;
    out.push(`<text x="${f(lx + 24)}" y="${ly}">${escapeXml(label)}</text>`);
  });
  if (dropped > 0) out.push(`<text x="${W - mr}" y="${H - 6}" text-anchor="end" fill="#999" font-size="10">${dropped} point(s) not drawable on a log axis omitted</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Empirical CDF points of a sample (sorted copy), thinned to at most `maxPoints`. */
export function cdfPoints(sample: readonly number[], maxPoints = 400): Array<[number, number]> {
  const s = [...sample].filter(Number.isFinite).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return [];
  const step = Math.max(1, Math.floor(n / maxPoints));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n; i += step) out.push([s[i] ?? 0, (i + 1) / n]);
  const last = s[n - 1] ?? 0;
  if (out.length === 0 || out[out.length - 1]?.[1] !== 1) out.push([last, 1]);
  return out;
}
