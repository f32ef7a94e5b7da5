// Output formats of `syngate simulate`: the verdict table, the --json document, and the --out
// directory (flows.jsonl, metrics.prom, map.html, map.png).
// Invariants: the --json document has exactly the documented shape
// ({connections:[{from,to,port,verdict,reason,rule}], summary:{allowed,denied,unexpected}}, key
// order fixed, validated by test/schemas/simulate-output.schema.json); the table and JSON are pure
// functions of the result (deterministic for a seed); files are written whole or an error names
// the file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SyngateError } from '../errors.js';
import type { FlowRecord } from '../engine/flow-record.js';
import { renderMap, type MapWorkload } from './map.js';
import { screenshot } from './chromium.js';

export interface ConnectionResult {
  /** Index of the traffic entry in the scenario. */
  traffic: number;
  from: string;
  to: string;
  port: number;
  verdict: 'allow' | 'deny';
  reason: string;
  rule: string;
  attack: string | null;
  expect: 'allow' | 'deny' | null;
  expectReason: string | null;
  unexpected: boolean;
  /** Why it is unexpected (empty when expected). */
  note: string;
}

export interface SimulationSummary {
  allowed: number;
  denied: number;
  unexpected: number;
}

export interface SimulationResult {
  connections: ConnectionResult[];
  summary: SimulationSummary;
  flows: FlowRecord[];
  workloads: MapWorkload[];
  /** Prometheus text exposition of the run's metrics. */
  metrics: string;
  seed: number;
  elapsedMs: number;
}

export interface SimulateJson {
  connections: { from: string; to: string; port: number; verdict: 'allow' | 'deny'; reason: string; rule: string }[];
  summary: SimulationSummary;
}

export function toJson(r: SimulationResult): SimulateJson {
  return {
    connections: r.connections.map((c) => ({ from: c.from, to: c.to, port: c.port, verdict: c.verdict, reason: c.reason, rule: c.rule })),
    summary: { allowed: r.summary.allowed, denied: r.summary.denied, unexpected: r.summary.unexpected },
  };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/**
 * The readable verdict table. Consecutive connections with identical columns are folded into one
 * row with a count (a scale run prints thousands of rows otherwise). Unexpected rows are marked.
 */
export function formatTable(r: SimulationResult, opts: { color?: boolean; maxRows?: number } = {}): string {
  const color = opts.color ?? false;
  const paint = (code: string, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  interface Row {
    cols: string[];
    verdict: 'allow' | 'deny';
    unexpected: boolean;
    count: number;
  }
  const rows: Row[] = [];
  for (const c of r.connections) {
    const cols = [c.from, c.to, String(c.port), c.verdict, c.reason, c.rule, c.attack ?? '', c.unexpected ? `UNEXPECTED: ${c.note}` : ''];
    const last = rows[rows.length - 1];
    if (last !== undefined && last.cols.every((v, i) => v === cols[i])) last.count++;
    else rows.push({ cols, verdict: c.verdict, unexpected: c.unexpected, count: 1 });
  }
  const header = ['FROM', 'TO', 'PORT', 'VERDICT', 'REASON', 'RULE', 'ATTACK', ''];
  const maxRows = opts.maxRows ?? 200;
  const shown = rows.length > maxRows ? [...rows.filter((x) => x.unexpected).slice(0, maxRows), ...rows.filter((x) => !x.unexpected)].slice(0, maxRows) : rows;
  const cells = shown.map((row) => {
    const c = [...row.cols];
    if (row.count > 1) c[3] = `${c[3]} ×${row.count}`;
    return c;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const lines: string[] = [];
  lines.push(paint('1', header.map((h, i) => pad(h, widths[i] ?? 0)).join('  ').trimEnd()));
  shown.forEach((row, k) => {
    const c = cells[k] ?? [];
    let line = c.map((v, i) => pad(v, widths[i] ?? 0)).join('  ').trimEnd();
    if (row.unexpected) line = paint('1;33', line);
    else line = row.verdict === 'allow' ? paint('32', line) : paint('31', line);
    lines.push(line);
  });
  if (shown.length < rows.length) lines.push(`... ${rows.length - shown.length} more rows (use --json or --out for everything)`);
  const s = r.summary;
  lines.push('');
  lines.push(`${r.connections.length} connections: ${s.allowed} allowed, ${s.denied} denied, ${s.unexpected} unexpected (seed ${r.seed})`);
  return lines.join('\n') + '\n';
}

export function flowsJsonl(flows: readonly FlowRecord[]): string {
  let out = '';
  for (const f of flows) out += JSON.stringify(f) + '\n';
  return out;
}

export interface WrittenOutputs {
  flows: string;
  metrics: string;
  map: string;
  png: string | null;
  pngError: string | null;
}

function writeOrThrow(path: string, data: string): void {
  try {
    writeFileSync(path, data);
  } catch (e) {
    throw new SyngateError('SYNGATE_SIM_OUTPUT', `${path}: cannot write: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Writes flows.jsonl, metrics.prom, map.html and (with chromium) map.png into `dir`. */
export async function writeOutputs(r: SimulationResult, dir: string, opts: { title?: string; screenshot?: boolean } = {}): Promise<WrittenOutputs> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new SyngateError('SYNGATE_SIM_OUTPUT', `${dir}: cannot create output directory: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const flows = join(dir, 'flows.jsonl');
  const metrics = join(dir, 'metrics.prom');
  const map = join(dir, 'map.html');
  writeOrThrow(flows, flowsJsonl(r.flows));
  writeOrThrow(metrics, r.metrics);
  const html = renderMap(r.flows, { title: opts.title ?? 'syngate dependency map', workloads: r.workloads });
  writeOrThrow(map, html);
  let png: string | null = null;
  let pngError: string | null = null;
  if (opts.screenshot !== false) {
    const size = mapSize(html);
    const target = join(dir, 'map.png');
    const res = await screenshot(map, target, size);
    if (res.ok) png = target;
    else pngError = res.error;
  }
  return { flows, metrics, map, png, pngError };
}

/** The page size needed to show the whole map (from the SVG's declared size). */
export function mapSize(html: string): { width: number; height: number } {
  const m = /<svg[^>]*\swidth="(\d+)"\s+height="(\d+)"/.exec(html);
  const w = Number(m?.[1] ?? 1200);
  const h = Number(m?.[2] ?? 800);
  return { width: w + 40, height: h + 90 };
}
