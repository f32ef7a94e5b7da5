// Policy micro-benchmarks: compiled-table lookup and compile time at 10, 1k, 10k and 100k rules,
// row build cost, YAML load time and memory, each lookup figure next to a same-process baseline
// (a bare open-addressing probe on an Int32Array with the same number of rows and keys).
// Invariants: fixtures are deterministic (seeded); the measured loops allocate nothing; every
// lookup metric's `check` is the sum of verdict words, equal across repetitions, and the
// baseline's check is the sum of its probed values (so neither loop can be optimised away).
// Run standalone: `npx tsx bench/policy.ts [--quick] [--json]` prints a table (and JSON).
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { stringify } from 'yaml';
import { compile, Dir, loadInventoryText, loadPolicyObjects, loadPolicyTexts, verdictAllowed } from '../enforcer/policy/index.js';
import type { Inventory, Policy, PolicyTable } from '../enforcer/policy/index.js';
import type { BenchFn, BenchOptions, Metric } from './types.js';

const NS = 50;
const PER_NS = 20;
const APPS = 10;
const SAS = 5;
export const SIZES = [10, 1_000, 10_000, 100_000] as const;
const Q = 4096; // distinct queries (power of two)

/** A gc() for memory figures even without --expose-gc (V8 flag set at runtime; a fresh context exposes it). */
function getGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g !== undefined) return g;
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ip = (ns: number, j: number): string => `198.18.${ns}.${j + 1}`;

let invCache: Inventory | undefined;
/** 1000 workloads: 50 namespaces x 20 workloads, 10 apps, 5 service accounts per namespace. */
export function benchInventory(): Inventory {
  if (invCache !== undefined) return invCache;
  const workloads = [];
  for (let n = 0; n < NS; n++) {
    for (let j = 0; j < PER_NS; j++) {
      workloads.push({
        name: `w${j}`, namespace: `ns${n}`, serviceAccount: `sa${j % SAS}`, labels: { app: `a${j % APPS}`, ring: `r${j % 3}` },
        ip: ip(n, j), node: `node${n % 4}`, ports: [{ name: 'http', port: 1000 + j }],
      });
    }
  }
  const r = loadInventoryText(stringify({ trustDomain: 'cluster.local', workloads }), 'bench-inventory.yaml');
  if (r.inventory === undefined) throw new Error(`bench inventory: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  invCache = r.inventory;
  return invCache;
}

/**
 * Policy documents with `rules` rules in total, 10 per policy: 70% Istio ALLOW on principals and
 * ports, 10% Istio DENY that never match (worst case: they are checked on every row), 5% AUDIT,
 * 10% native policies with label selectors and port ranges, 5% NetworkPolicies; every 20th rule
 * names an ipBlock (so IP classes grow with the rule count).
 */
export function benchPolicyDocs(rules: number, seed = 1): object[] {
  const r = rng(seed);
  const pick = (n: number): number => Math.floor(r() * n);
  const docs: object[] = [];
  const perPolicy = Math.min(10, rules);
  let made = 0;
  for (let i = 0; made < rules; i++) {
    const n = Math.min(perPolicy, rules - made);
    const ns = `ns${i % NS}`;
    const sel = { matchLabels: { app: `a${i % APPS}` } };
    const kindRoll = r();
    const name = `p${i}`;
    if (kindRoll < 0.05) {
      const ingress = Array.from({ length: n }, () => ({
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': `ns${pick(NS)}` } }, podSelector: { matchLabels: { app: `a${pick(APPS)}` } } }],
        ports: [{ port: 1000 + pick(1000) }],
      }));
      docs.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec: { podSelector: sel, ingress } });
    } else if (kindRoll < 0.15) {
      const rulesArr = Array.from({ length: n }, () => ({
        from: [{ source: { labels: [`app=a${pick(APPS)}`, `ring!=r${pick(3)}`] } }],
        to: [{ operation: { ports: [`${1000 + pick(500)}-${1500 + pick(500)}`] } }],
      }));
      docs.push({ apiVersion: 'syngate.io/v1alpha1', kind: 'SyngatePolicy', metadata: { name, namespace: ns }, spec: { selector: sel, rules: rulesArr } });
    } else {
      const action = kindRoll < 0.25 ? 'DENY' : kindRoll < 0.3 ? 'AUDIT' : 'ALLOW';
      const rulesArr = Array.from({ length: n }, (_, k) => {
        const source: Record<string, unknown> =
          action === 'DENY'
            ? { principals: [`cluster.local/ns/ns${pick(NS)}/sa/ghost${pick(100)}`] }
            : { principals: [`cluster.local/ns/ns${pick(NS)}/sa/sa${pick(SAS)}`, `cluster.local/ns/ns${pick(NS)}/*`] };
        if ((made + k) % 20 === 0) source['ipBlocks'] = [`198.18.${pick(NS)}.${pick(16) * 16}/28`, `10.${pick(256)}.${pick(256)}.0/24`];
        return { from: [{ source }], to: [{ operation: { ports: [`${1000 + pick(1000)}`, `${1000 + pick(1000)}`] } }] };
      });
      docs.push({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: ns }, spec: { selector: sel, action, rules: rulesArr } });
    }
    made += n;
  }
  return docs;
}

interface Fixture {
  rules: number;
  policies: Policy[];
}
const fixtures = new Map<number, Fixture>();

/** The policies for `rules` rules, validated by the loader from plain objects (no YAML text). */
export function benchFixture(rules: number): Fixture {
  const hit = fixtures.get(rules);
  if (hit !== undefined) return hit;
  const docs = benchPolicyDocs(rules);
  const r = loadPolicyObjects(docs.map((value, i) => ({ file: `bench-${rules}#${i}`, value })));
  const errs = r.diagnostics.filter((d) => d.severity === 'error');
  if (errs.length > 0) throw new Error(`bench fixture ${rules}: ${errs.slice(0, 3).map((d) => `${d.file} ${d.path}: ${d.message}`).join('; ')}`);
  const f = { rules, policies: r.policies };
  fixtures.set(rules, f);
  return f;
}

/** Milliseconds to load `rules` rules from YAML text (parse, validate, positions). */
function yamlLoadMs(rules: number): { ms: number; bytes: number; policies: number } {
  const text = benchPolicyDocs(rules).map((d) => stringify(d)).join('---\n');
  const t0 = performance.now();
  const r = loadPolicyTexts([{ file: `bench-${rules}.yaml`, text }]);
  return { ms: performance.now() - t0, bytes: text.length, policies: r.policies.length };
}

interface Queries {
  local: Int32Array;
  peer: Int32Array;
  ip: Uint32Array;
  port: Int32Array;
  dir: Int32Array;
}

/** Q queries: a random local workload, a random inventory peer (its verified identity and IP), a port used by rules. */
function makeQueries(t: PolicyTable, seed = 7): Queries {
  const r = rng(seed);
  const inv = t.inventory;
  const q: Queries = { local: new Int32Array(Q), peer: new Int32Array(Q), ip: new Uint32Array(Q), port: new Int32Array(Q), dir: new Int32Array(Q) };
  for (let i = 0; i < Q; i++) {
    const l = Math.floor(r() * inv.workloads.length);
    const p = inv.workloads[Math.floor(r() * inv.workloads.length)];
    q.local[i] = l;
    q.peer[i] = p === undefined ? 0 : (t.workloadIdentity[p.index] ?? 0);
    // 1 query in 16 comes from an unauthenticated address outside the inventory.
    q.ip[i] = i % 16 === 0 ? ((10 << 24) | Math.floor(r() * 0xffffff)) >>> 0 : (p?.ipU32 ?? 0);
    if (i % 16 === 0) q.peer[i] = 0;
    q.port[i] = 1000 + Math.floor(r() * 1000);
    q.dir[i] = i % 8 === 0 ? Dir.EGRESS : Dir.INGRESS;
  }
  return q;
}

function lookupLoop(t: PolicyTable, q: Queries, iters: number): number {
  let acc = 0;
  for (let i = 0; i < iters; i++) {
    const k = i & (Q - 1);
    acc = (acc + t.lookup(q.dir[k] ?? 0, q.local[k] ?? 0, q.peer[k] ?? 0, q.ip[k] ?? 0, 6, q.port[k] ?? 0)) | 0;
  }
  return acc;
}

/** The baseline: a bare 3-int-key open-addressing probe over `rows` entries, same query stream shape. */
class BareProbe {
  readonly slots: Int32Array;
  readonly mask: number;
  constructor(rows: number) {
    let cap = 1024;
    while (cap < rows * 2) cap *= 2;
    this.slots = new Int32Array(cap * 4).fill(-1);
    this.mask = cap - 1;
  }
  static hash(a: number, b: number, c: number): number {
    let h = Math.imul(a ^ 0x5bd1e995, 0x9e3779b1);
    h ^= Math.imul(b + 0x7f4a7c15, 0x85ebca77);
    h = (h << 13) | (h >>> 19);
    h ^= Math.imul(c + 0x165667b1, 0xc2b2ae3d);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return h ^ (h >>> 12);
  }
  insert(a: number, b: number, c: number, v: number): void {
    let i = BareProbe.hash(a, b, c) & this.mask;
    for (;;) {
      const s = i << 2;
      if (this.slots[s] === -1 || (this.slots[s] === a && this.slots[s + 1] === b && this.slots[s + 2] === c)) {
        this.slots[s] = a;
        this.slots[s + 1] = b;
        this.slots[s + 2] = c;
        this.slots[s + 3] = v;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }
  probe(a: number, b: number, c: number): number {
    const slots = this.slots;
    let i = BareProbe.hash(a, b, c) & this.mask;
    for (;;) {
      const s = i << 2;
      const k = slots[s];
      if (k === a && slots[s + 1] === b && slots[s + 2] === c) return slots[s + 3] ?? 0;
      if (k === -1) return -1;
      i = (i + 1) & this.mask;
    }
  }
}

function baselineLoop(bp: BareProbe, q: Queries, iters: number): number {
  let acc = 0;
  for (let i = 0; i < iters; i++) {
    const k = i & (Q - 1);
    acc = (acc + bp.probe(((q.local[k] ?? 0) << 1) | (q.dir[k] ?? 0), q.peer[k] ?? 0, (q.ip[k] ?? 0) >>> 24)) | 0;
  }
  return acc;
}

const SIZE_LABEL: Record<number, string> = { 10: '10', 1000: '1k', 10000: '10k', 100000: '100k' };

interface Prepared {
  table: PolicyTable;
  q: Queries;
  bp: BareProbe;
  rowBuildUsPerRow: number;
  allowed: number;
}
const prepared = new Map<number, Prepared>();

function prepare(rules: number): Prepared {
  const hit = prepared.get(rules);
  if (hit !== undefined) return hit;
  const f = benchFixture(rules);
  const table = compile(benchInventory(), f.policies);
  const q = makeQueries(table);
  getGc()?.(); // so that the loader's garbage is not charged to row building
  const t0 = performance.now();
  let allowed = 0;
  for (let k = 0; k < Q; k++) {
    if (verdictAllowed(table.lookup(q.dir[k] ?? 0, q.local[k] ?? 0, q.peer[k] ?? 0, q.ip[k] ?? 0, 6, q.port[k] ?? 0))) allowed++;
  }
  const rowBuildUsPerRow = ((performance.now() - t0) * 1000) / Math.max(1, table.rowCount);
  const bp = new BareProbe(table.rowCount);
  for (let k = 0; k < Q; k++) bp.insert(((q.local[k] ?? 0) << 1) | (q.dir[k] ?? 0), q.peer[k] ?? 0, (q.ip[k] ?? 0) >>> 24, k);
  const p = { table, q, bp, rowBuildUsPerRow, allowed };
  prepared.set(rules, p);
  return p;
}

function sizesFor(quick: boolean): readonly number[] {
  return quick ? [10, 1_000, 10_000, 100_000] : SIZES;
}

/** Lookup ns/op per size, each with the bare-probe baseline; plus the 100k/10 ratio (goal <= 1.5). */
export const benchPolicyLookup: BenchFn = async (opts: BenchOptions): Promise<Metric[]> => {
  const sizes = sizesFor(opts.quick);
  const rounds = opts.quick ? 5 : 9;
  const iters = opts.quick ? 1 << 19 : 1 << 21;
  const preps = sizes.map((s) => prepare(s));
  // Warm the JIT on every table first, then interleave sizes round by round so that machine noise
  // and tier-up hit all sizes alike; report the median round per size.
  for (const p of preps) lookupLoop(p.table, p.q, Q * 64);
  for (const p of preps) baselineLoop(p.bp, p.q, Q * 64);
  const times = preps.map(() => [] as number[]);
  const btimes = preps.map(() => [] as number[]);
  const checks = preps.map(() => 0);
  const bchecks = preps.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    preps.forEach((p, i) => {
      const t0 = performance.now();
      checks[i] = lookupLoop(p.table, p.q, iters);
      const t1 = performance.now();
      bchecks[i] = baselineLoop(p.bp, p.q, iters);
      const t2 = performance.now();
      times[i]?.push(((t1 - t0) * 1e6) / iters);
      btimes[i]?.push(((t2 - t1) * 1e6) / iters);
    });
  }
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1] ?? NaN;
  const out: Metric[] = [];
  const per = new Map<number, number>();
  sizes.forEach((size, i) => {
    const p = preps[i];
    if (p === undefined) return;
    const ns = median(times[i] ?? []);
    const bns = median(btimes[i] ?? []);
    per.set(size, ns);
    out.push({
      name: `policy.lookup.${SIZE_LABEL[size]}`, value: ns, unit: 'ns/op', baseline: bns, ratio: bns / ns, check: checks[i] ?? 0,
      note: `${p.table.rowCount} rows, ${p.table.ipBounds.length} IP classes, ${p.allowed}/${Q} queries allowed; baseline check ${bchecks[i] ?? 0}`,
    });
  });
  const small = per.get(10);
  const big = per.get(100_000);
  if (small !== undefined && big !== undefined) {
    out.push({ name: 'policy.lookup.ratio_100k_vs_10', value: big / small, unit: 'x', check: Math.round(big * 1000), note: 'goal: <= 1.5' });
  }
  return out;
};

/** Compile time, row build cost and memory per size; YAML load time for the loader. */
export const benchPolicyCompile: BenchFn = async (opts: BenchOptions): Promise<Metric[]> => {
  const out: Metric[] = [];
  const gc = getGc();
  for (const size of sizesFor(opts.quick)) {
    const f = benchFixture(size);
    const inv = benchInventory();
    gc?.();
    const h0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const t = compile(inv, f.policies);
    const ms = performance.now() - t0;
    const q = makeQueries(t);
    let acc = 0;
    for (let k = 0; k < Q; k++) acc = (acc + t.lookup(q.dir[k] ?? 0, q.local[k] ?? 0, q.peer[k] ?? 0, q.ip[k] ?? 0, 6, q.port[k] ?? 0)) | 0;
    gc?.();
    const h1 = process.memoryUsage().heapUsed;
    const label = SIZE_LABEL[size] ?? String(size);
    out.push({ name: `policy.compile.${label}`, value: ms, unit: 'ms', check: t.ruleIds.length, note: `${t.policies.length} policies, ${t.ruleIds.length - 3} rules` });
    // Reload after a one-policy change: with the previous revision (unchanged rows carried over)
    // versus from scratch, each followed by answering the same Q queries (rows rebuilt or copied).
    const extra = loadPolicyObjects([{ file: 'extra', value: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'zz-extra', namespace: 'ns0' }, spec: { action: 'DENY', rules: [{ to: [{ operation: { ports: ['1999'] } }] }] } } }]).policies;
    const next = [...f.policies, ...extra];
    gc?.();
    const r0 = performance.now();
    const inc = compile(inv, next, { previous: t });
    let acc2 = 0;
    for (let k = 0; k < Q; k++) acc2 = (acc2 + inc.lookup(q.dir[k] ?? 0, q.local[k] ?? 0, q.peer[k] ?? 0, q.ip[k] ?? 0, 6, q.port[k] ?? 0)) | 0;
    let r1 = performance.now();
    const incMs = r1 - r0;
    gc?.();
    r1 = performance.now();
    const full = compile(inv, next, { identities: t.identities });
    let acc3 = 0;
    for (let k = 0; k < Q; k++) acc3 = (acc3 + full.lookup(q.dir[k] ?? 0, q.local[k] ?? 0, q.peer[k] ?? 0, q.ip[k] ?? 0, 6, q.port[k] ?? 0)) | 0;
    const r2 = performance.now();
    out.push({
      name: `policy.reload.${label}`, value: incMs, unit: 'ms', baseline: r2 - r1, ratio: (r2 - r1) / incMs, check: acc2 === acc3 ? inc.carriedRows : -1,
      note: `one policy added, then ${Q} lookups: incremental (${inc.carriedRows} rows carried) vs from scratch (baseline)`,
    });
    const pr = prepare(size);
    out.push({ name: `policy.rowbuild.${label}`, value: pr.rowBuildUsPerRow, unit: 'us/row', check: pr.table.rowCount, note: 'first lookup of a (workload, identity, IP class) row: selectors and rules evaluated once' });
    out.push({ name: `policy.memory.typed.${label}`, value: t.typedBytes, unit: 'bytes', check: acc, note: `typed arrays after ${t.rowCount} rows` });
    if (gc !== undefined) out.push({ name: `policy.memory.heap.${label}`, value: Math.max(0, h1 - h0), unit: 'bytes', check: t.rowCount, note: 'heap growth for the compiled table with its rows (excluding the parsed policies)' });
  }
  // The YAML loader (the yaml package's parser dominates); 100k rules of YAML take minutes, so 1k/10k only.
  for (const size of opts.quick ? [1_000] : [1_000, 10_000]) {
    const y = yamlLoadMs(size);
    out.push({ name: `policy.load.yaml.${SIZE_LABEL[size]}`, value: y.ms, unit: 'ms', check: y.policies, note: `${y.bytes} bytes of YAML, parsed and validated with positions` });
  }
  return out;
};

export const benches = { benchPolicyLookup, benchPolicyCompile };

function table(metrics: Metric[]): string {
  const rows = metrics.map((m) => [
    m.name, `${m.value.toFixed(m.value < 10 ? 3 : 1)} ${m.unit}`, m.baseline === undefined ? '' : `${m.baseline.toFixed(3)} ${m.unit}`,
    m.ratio === undefined ? '' : m.ratio.toFixed(2), m.note ?? '',
  ]);
  const head = ['metric', 'value', 'baseline', 'ratio', 'note'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i] ?? 0)).join('  ').trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  const opts: BenchOptions = { quick, log: (m) => process.stderr.write(`${m}\n`) };
  const all = [...(await benchPolicyCompile(opts)), ...(await benchPolicyLookup(opts))];
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
  process.stdout.write(`${table(all)}\n`);
}
