// The application dependency map: flow records in, one self-contained HTML page out.
// Invariants: renderMap is a pure function of its inputs (same records -> same bytes; no clock,
// no randomness); the page loads nothing from the network (inline SVG, CSS and JS only); every
// string from the records is escaped (HTML/XML text and attributes, and `<` inside the embedded
// JSON), so workload names cannot inject markup; allowed and denied edges differ in colour AND
// dash style, so the picture reads in greyscale too. The layout (layoutMap) is deterministic and
// near-linear (sorts, bounded sweeps and label tries, a spatial grid; no pairwise-all loops over
// edges): namespace boxes are disjoint bands, every edge starts and ends on its workloads'
// borders at distinct ports, and label boxes never overlap each other or a workload unless no
// free spot exists within the bounded search. The daemon serves the same page at /map.
import type { FlowRecord } from '../engine/flow-record.js';

export interface MapWorkload {
  /** `NS/NAME` */
  id: string;
  ip?: string;
  node?: string;
  enforcer?: boolean;
}

export interface MapOptions {
  title?: string;
  /** Workloads to draw even when no flow touches them. */
  workloads?: readonly MapWorkload[];
}

export interface MapEdge {
  from: string;
  to: string;
  port: number;
  verdict: 'allow' | 'deny' | 'audit';
  count: number;
  rules: string[];
  reasons: string[];
  enforcers: string[];
}

export interface MapModel {
  namespaces: { name: string; workloads: string[] }[];
  edges: MapEdge[];
}

const NS_EXTERNAL = '(external)';
/**
 * Records of one tuple whose starts are this close, from different enforcers, are one connection
 * (the client's and the server's enforcer each log it; their clocks see the SYN at slightly
 * different times). A tuple is not reused that fast (TIME_WAIT lasts a minute).
 */
const SAME_CONNECTION_MS = 1000;

function endpointId(e: FlowRecord['src']): string {
  return e.workload ?? `${NS_EXTERNAL}/${e.ip}`;
}

/** A record's rule is worth showing: not empty/none, and not the client's view of a peer's reject. */
function decidingRule(r: FlowRecord): boolean {
  return r.rule !== '' && r.rule !== 'none' && r.reason !== 'peer-reject';
}

function nsOf(id: string): string {
  const i = id.indexOf('/');
  return i < 0 ? NS_EXTERNAL : id.slice(0, i);
}

function nameOf(id: string): string {
  const i = id.indexOf('/');
  return i < 0 ? id : id.slice(i + 1);
}

function addSorted(list: string[], v: string): void {
  if (!list.includes(v)) {
    list.push(v);
    list.sort();
  }
}

/**
 * Aggregates flow records into edges keyed (from, to, port, verdict). A flow seen by both the
 * client's and the server's enforcer is counted once: records of the same connection are
 * de-duplicated by (src ip:port, dst ip:port, start).
 */
export function buildMapModel(records: readonly FlowRecord[], workloads: readonly MapWorkload[] = []): MapModel {
  const nodes = new Set<string>(workloads.map((w) => w.id));
  const edges = new Map<string, MapEdge>();
  /** tuple -> [start ms, edge] of the connections seen on it (both enforcers log one connection). */
  const seen = new Map<string, { start: number; edge: MapEdge; by: string[] }[]>();
  for (const r of records) {
    const from = endpointId(r.src);
    const to = endpointId(r.dst);
    nodes.add(from);
    nodes.add(to);
    const conn = `${r.src.ip}:${r.src.port}>${r.dst.ip}:${r.dst.port}`;
    const start = Date.parse(r.start);
    const list = seen.get(conn) ?? [];
    const match = list.find((x) => Math.abs(x.start - start) <= SAME_CONNECTION_MS && !x.by.includes(`${r.enforcer}|${r.direction}`));
    const prior = match?.edge;
    if (match !== undefined && prior !== undefined) {
      match.by.push(`${r.enforcer}|${r.direction}`);
      // The other enforcer's record of the same connection: merge provenance, count once.
      // A deny by either side is the connection's verdict.
      addSorted(prior.enforcers, r.enforcer);
      if (r.verdict === 'deny' || prior.verdict !== 'deny') {
        if (decidingRule(r)) addSorted(prior.rules, r.rule);
        if (r.reason !== 'peer-reject' || prior.reasons.length === 0) addSorted(prior.reasons, r.reason);
      }
      continue;
    }
    const key = `${from}\u0000${to}\u0000${r.port}\u0000${r.verdict}`;
    let e = edges.get(key);
    if (e === undefined) {
      e = { from, to, port: r.port, verdict: r.verdict, count: 0, rules: [], reasons: [], enforcers: [] };
      edges.set(key, e);
    }
    e.count++;
    if (decidingRule(r)) addSorted(e.rules, r.rule);
    addSorted(e.reasons, r.reason);
    addSorted(e.enforcers, r.enforcer);
    list.push({ start, edge: e, by: [`${r.enforcer}|${r.direction}`] });
    seen.set(conn, list);
  }
  const byNs = new Map<string, string[]>();
  for (const id of [...nodes].sort()) {
    const ns = nsOf(id);
    const list = byNs.get(ns) ?? [];
    list.push(id);
    byNs.set(ns, list);
  }
  const namespaces = [...byNs.entries()]
    .sort((a, b) => (a[0] === NS_EXTERNAL ? 1 : b[0] === NS_EXTERNAL ? -1 : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([name, ws]) => ({ name, workloads: ws }));
  const edgeList = [...edges.values()].sort((a, b) =>
    a.from !== b.from ? (a.from < b.from ? -1 : 1) : a.to !== b.to ? (a.to < b.to ? -1 : 1) : a.port !== b.port ? a.port - b.port : a.verdict < b.verdict ? -1 : a.verdict > b.verdict ? 1 : 0,
  );
  return { namespaces, edges: edgeList };
}


// ---------------------------------------------------------------------------------------------
// Layout: a layered (Sugiyama-style) drawing. Columns are call depth over the allowed call graph
// (callers left, callees right); namespaces are horizontal bands, so a namespace's box never
// overlaps another's; edges spanning several columns pass through reserved slots ("dummies")
// in the columns between; a few barycenter sweeps order each column to reduce crossings.
// Everything is O((V + D) log(V + D)) per sweep, D = dummy slots (bounded by MAX_DUMMIES).

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LaidNode extends Rect {
  id: string;
  layer: number;
  namespace: string;
}

export interface LaidEdge {
  /** index into MapModel.edges */
  edge: number;
  /** SVG path data, drawn from the edge's client to its server */
  d: string;
  /** first and last points of the path: on the client's and the server's node border */
  start: { x: number; y: number };
  end: { x: number; y: number };
}

export interface LaidLabel extends Rect {
  /** indexes into MapModel.edges merged into this label (same client/server pair) */
  edges: number[];
  lines: { port: number; parts: { verdict: MapEdge['verdict']; count: number }[]; reverse: boolean }[];
}

export interface MapLayout {
  width: number;
  height: number;
  nodes: LaidNode[];
  namespaces: (Rect & { name: string })[];
  edges: LaidEdge[];
  labels: LaidLabel[];
  /** edge crossings between adjacent columns after ordering (reserved slots count as points) */
  crossings: number;
}

const NODE_W = 170;
const NODE_H = 36;
const PORT_PITCH = 9;
const ITEM_GAP = 22;
const DUMMY_PITCH = 14;
const LANE = 4;
const LAYER_GAP = 210;
const BAND_GAP = 36;
const NS_PAD = 14;
const NS_HEADER = 28;
const TOP = 64;
const LEFT = 30;
const SAME_LAYER_BULGE = 70;
const LABEL_FONT = 12;
const LABEL_CHAR_W = 7.4;
const LABEL_LINE_H = 15;
const LABEL_PAD_X = 5;
const SWEEPS = 4;
const Y_PASSES = 6;
/** Label candidates come from at most this many route segments (bounds the search per label). */
const MAX_LABEL_SEGMENTS = 3;
/** Beyond this many dummy slots long edges are drawn directly (keeps huge maps fast). */
const MAX_DUMMIES = 20_000;

interface Item {
  /** node id, or '' for a dummy */
  id: string;
  band: number;
  /** namespace index (a dummy: its route's layout-left workload's) */
  ns: number;
  layer: number;
  h: number;
  y: number;
  pos: number;
  up: Item[];
  down: Item[];
  key: string;
}

interface Group {
  key: string;
  /** layout-left end and layout-right end (same layer: sorted ids) */
  a: string;
  b: string;
  edges: number[];
  dummies: Item[];
  /** port y per lane at a's and b's border, filled by port assignment */
  ya: number;
  yb: number;
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Longest-path layers over the allowed edges (DFS back edges ignored); other nodes placed by their edges. */
function assignLayers(ids: string[], model: MapModel): Map<string, number> {
  const index = new Map(ids.map((id, i) => [id, i]));
  const out: number[][] = ids.map(() => []);
  const anyIn = ids.map(() => false);
  const anyAllowed = ids.map(() => false);
  for (const e of model.edges) {
    const u = index.get(e.from);
    const v = index.get(e.to);
    if (u === undefined || v === undefined || u === v) continue;
    anyIn[v] = true;
    if (e.verdict === 'deny') continue;
    anyAllowed[u] = true;
    anyAllowed[v] = true;
    if (!out[u]!.includes(v)) out[u]!.push(v);
  }
  // Iterative DFS: drop back edges, so what remains is a DAG; roots are nodes nobody calls, first.
  const state = new Uint8Array(ids.length); // 0 new, 1 on stack, 2 done
  const dag: number[][] = ids.map(() => []);
  const order = ids.map((_, i) => i).sort((p, q) => Number(anyIn[p]) - Number(anyIn[q]) || p - q);
  for (const root of order) {
    if (state[root] !== 0) continue;
    const stack: [number, number][] = [[root, 0]];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const [u, k] = top;
      if (k < out[u]!.length) {
        top[1] = k + 1;
        const v = out[u]![k]!;
        if (state[v] === 1) continue; // back edge: breaks a cycle
        dag[u]!.push(v);
        if (state[v] === 0) {
          state[v] = 1;
          stack.push([v, 0]);
        }
      } else {
        state[u] = 2;
        stack.pop();
      }
    }
  }
  // Kahn's order, longest path.
  const indeg = new Int32Array(ids.length);
  for (const vs of dag) for (const v of vs) indeg[v]!++;
  const layer = new Int32Array(ids.length);
  const queue: number[] = [];
  for (let i = 0; i < ids.length; i++) if (indeg[i] === 0) queue.push(i);
  for (let qi = 0; qi < queue.length; qi++) {
    const u = queue[qi]!;
    for (const v of dag[u]!) {
      if (layer[u]! + 1 > layer[v]!) layer[v] = layer[u]! + 1;
      if (--indeg[v]! === 0) queue.push(v);
    }
  }
  const res = new Map<string, number>();
  ids.forEach((id, i) => res.set(id, layer[i]!));
  // Nodes with only denied edges: pure callers stay in column 0; the rest sit right of their callers.
  for (const e of model.edges) {
    const u = index.get(e.from);
    const v = index.get(e.to);
    if (u === undefined || v === undefined || u === v || anyAllowed[v]) continue;
    res.set(e.to, Math.max(res.get(e.to) ?? 0, (res.get(e.from) ?? 0) + 1));
  }
  return res;
}

/** Crossings between adjacent columns (inversions of the edge list, by merge sort): O(E log E). */
export function countCrossings(layers: readonly (readonly { pos: number; down: readonly { pos: number }[] }[])[]): number {
  let total = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    const pairs: [number, number][] = [];
    for (const it of layers[l]!) for (const d of it.down) pairs.push([it.pos, d.pos]);
    pairs.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
    total += inversions(pairs.map((p) => p[1]));
  }
  return total;
}

/** Crossings among the edges of u and v (u above v) to both neighbouring columns. */
function pairCrossings(u: Item, v: Item): number {
  let n = 0;
  for (const a of u.up) for (const b of v.up) if (a.pos > b.pos) n++;
  for (const a of u.down) for (const b of v.down) if (a.pos > b.pos) n++;
  return n;
}

/** Swaps neighbours of one band in a column when that removes crossings (bounded work per pair). */
function transpose(layer: Item[]): void {
  for (let pass = 0; pass < 2; pass++) {
    let improved = false;
    for (let i = 0; i + 1 < layer.length; i++) {
      const u = layer[i]!;
      const v = layer[i + 1]!;
      if (u.band !== v.band) continue;
      if ((u.up.length + u.down.length) * (v.up.length + v.down.length) > TRANSPOSE_WORK) continue;
      if (pairCrossings(v, u) < pairCrossings(u, v)) {
        layer[i] = v;
        layer[i + 1] = u;
        v.pos = i;
        u.pos = i + 1;
        improved = true;
      }
    }
    if (!improved) break;
  }
}

const TRANSPOSE_WORK = 4096;

/** All orderings of a short list, in lexicographic order. */
function permutations(xs: readonly number[]): number[][] {
  if (xs.length <= 1) return [xs.slice()];
  const out: number[][] = [];
  xs.forEach((x, i) => {
    for (const rest of permutations(xs.filter((_, j) => j !== i))) out.push([x, ...rest]);
  });
  return out;
}

/** Namespace counts up to which every band order is tried (4! = 24 orderings). */
const MAX_BAND_PERMUTE = 4;
/** ...and only for maps this small (workloads plus reserved slots), so big maps stay fast. */
const MAX_PERMUTE_ITEMS = 2_000;
/** Cost of an edge passing through one namespace band it does not belong to, in crossings. */
const THROUGH_BAND_COST = 4;

function inversions(a: number[]): number {
  if (a.length < 2) return 0;
  const mid = a.length >> 1;
  const left = a.slice(0, mid);
  const right = a.slice(mid);
  let n = inversions(left) + inversions(right);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < left.length && j < right.length) {
    if (left[i]! <= right[j]!) a[k++] = left[i++]!;
    else {
      a[k++] = right[j++]!;
      n += left.length - i;
    }
  }
  while (i < left.length) a[k++] = left[i++]!;
  while (j < right.length) a[k++] = right[j++]!;
  return n;
}

function labelWidth(text: string): number {
  return Math.ceil(text.length * LABEL_CHAR_W + 2 * LABEL_PAD_X);
}

export function labelLineText(line: LaidLabel['lines'][number]): string {
  return `${line.reverse ? '← ' : ''}${line.port} ${line.parts.map((p) => `${p.verdict} ×${p.count}`).join(' · ')}`;
}

/** Uniform grid of placed rectangles, for label collision checks in near-constant time. */
class RectGrid {
  private readonly cells = new Map<number, Rect[]>();
  private static readonly CELL = 96;
  private keys(r: Rect): number[] {
    const c = RectGrid.CELL;
    const ks: number[] = [];
    for (let gx = Math.floor(r.x / c); gx <= Math.floor((r.x + r.w) / c); gx++) {
      for (let gy = Math.floor(r.y / c); gy <= Math.floor((r.y + r.h) / c); gy++) ks.push(gx * 100_003 + gy);
    }
    return ks;
  }
  add(r: Rect): void {
    for (const k of this.keys(r)) {
      const l = this.cells.get(k);
      if (l === undefined) this.cells.set(k, [r]);
      else l.push(r);
    }
  }
  hits(r: Rect): boolean {
    for (const k of this.keys(r)) for (const o of this.cells.get(k) ?? []) if (overlaps(r, o)) return true;
    return false;
  }
}

export function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** Computes the picture's geometry (pure; same model -> same layout). */
export function layoutMap(model: MapModel): MapLayout {
  const ids = model.namespaces.flatMap((ns) => ns.workloads);
  const nsIndex = new Map<string, number>();
  model.namespaces.forEach((ns, i) => ns.workloads.forEach((id) => nsIndex.set(id, i)));
  const layerOf = assignLayers(ids, model);

  // Band order: the namespace with the most cross-namespace traffic in the middle, the next ones
  // alternately above and below it, so the heaviest inter-namespace edges are short.
  const weight = model.namespaces.map(() => 0);
  for (const e of model.edges) {
    const a = nsIndex.get(e.from) ?? 0;
    const b = nsIndex.get(e.to) ?? 0;
    if (a !== b) {
      weight[a]! += 1;
      weight[b]! += 1;
    }
  }
  const byWeight = model.namespaces.map((_, i) => i).sort((p, q) => weight[q]! - weight[p]! || p - q);
  let bandSeq: number[] = [];
  byWeight.forEach((ns, k) => (k % 2 === 1 ? bandSeq.unshift(ns) : bandSeq.push(ns)));
  const bandOfNs = new Map<number, number>();
  bandSeq.forEach((ns, band) => bandOfNs.set(ns, band));
  const bandOf = (id: string): number => bandOfNs.get(nsIndex.get(id) ?? 0) ?? 0;

  // Node heights grow with the number of distinct peers on a side, so ports stay apart.
  const peers = new Map<string, Set<string>>();
  const addPeer = (id: string, side: string, other: string): void => {
    const k = `${id}\u0000${side}`;
    const s = peers.get(k) ?? new Set<string>();
    s.add(other);
    peers.set(k, s);
  };
  for (const e of model.edges) {
    const la = layerOf.get(e.from) ?? 0;
    const lb = layerOf.get(e.to) ?? 0;
    addPeer(e.from, la <= lb ? 'r' : 'l', e.to);
    addPeer(e.to, la < lb ? 'l' : 'r', e.from);
  }
  const nodeH = (id: string): number =>
    Math.max(NODE_H, PORT_PITCH * (1 + Math.max(peers.get(`${id}\u0000l`)?.size ?? 0, peers.get(`${id}\u0000r`)?.size ?? 0)));

  const nLayers = Math.max(1, ...ids.map((id) => (layerOf.get(id) ?? 0) + 1));
  const layers: Item[][] = Array.from({ length: nLayers }, () => []);
  const itemOf = new Map<string, Item>();
  for (const id of ids) {
    const it: Item = { id, band: bandOf(id), ns: nsIndex.get(id) ?? 0, layer: layerOf.get(id) ?? 0, h: nodeH(id), y: 0, pos: 0, up: [], down: [], key: id };
    layers[it.layer]!.push(it);
    itemOf.set(id, it);
  }

  // Merge parallel edges (same pair of workloads, either direction) into one routed group.
  const groups = new Map<string, Group>();
  model.edges.forEach((e, i) => {
    if (!itemOf.has(e.from) || !itemOf.has(e.to)) return;
    const la = layerOf.get(e.from) ?? 0;
    const lb = layerOf.get(e.to) ?? 0;
    const [a, b] = la < lb || (la === lb && e.from <= e.to) ? [e.from, e.to] : [e.to, e.from];
    const key = `${a}\u0000${b}`;
    const g = groups.get(key) ?? { key, a, b, edges: [], dummies: [], ya: 0, yb: 0 };
    g.edges.push(i);
    groups.set(key, g);
  });
  const groupList = [...groups.values()];
  let dummyBudget = MAX_DUMMIES;
  for (const g of groupList) {
    const ia = itemOf.get(g.a)!;
    const ib = itemOf.get(g.b)!;
    if (ia.layer === ib.layer) continue;
    let prev = ia;
    const span = ib.layer - ia.layer - 1;
    if (span > 0 && dummyBudget >= span) {
      dummyBudget -= span;
      for (let l = ia.layer + 1; l < ib.layer; l++) {
        const d: Item = { id: '', band: ia.band, ns: ia.ns, layer: l, h: DUMMY_PITCH + LANE * (g.edges.length - 1), y: 0, pos: 0, up: [prev], down: [], key: `${g.key}\u0000${l}` };
        prev.down.push(d);
        layers[l]!.push(d);
        g.dummies.push(d);
        prev = d;
      }
    }
    prev.down.push(ib);
    ib.up.push(prev);
  }

  // Crossing reduction: barycenter sweeps, bands kept contiguous in every column.
  const sortLayer = (layer: Item[], bary: (it: Item) => number): void => {
    const keyed = layer.map((it) => ({ it, b: bary(it), p: it.pos }));
    keyed.sort((p, q) => p.it.band - q.it.band || p.b - q.b || p.p - q.p);
    keyed.forEach((k, i) => {
      layer[i] = k.it;
      k.it.pos = i;
    });
  };
  const mean = (xs: Item[], own: number): number => (xs.length === 0 ? own : xs.reduce((s, x) => s + x.pos, 0) / xs.length);
  const orderFor = (seq: readonly number[]): { crossings: number; cost: number; layers: Item[][] } => {
    const band = new Map<number, number>();
    seq.forEach((ns, b) => band.set(ns, b));
    for (const layer of layers) {
      for (const it of layer) it.band = band.get(it.ns) ?? 0;
      layer.sort((p, q) => p.band - q.band || cmpStr(p.key, q.key));
      layer.forEach((it, i) => (it.pos = i));
    }
    // Keep the ordering with the fewest crossings seen (a sweep can make things worse).
    let best = layers.map((l) => l.slice());
    let bestC = countCrossings(layers);
    for (let s = 0; s < SWEEPS && bestC > 0; s++) {
      for (let l = 1; l < nLayers; l++) sortLayer(layers[l]!, (it) => mean(it.up, it.pos));
      for (let l = nLayers - 2; l >= 0; l--) sortLayer(layers[l]!, (it) => mean(it.down, it.pos));
      for (const layer of layers) transpose(layer);
      const c = countCrossings(layers);
      if (c < bestC) {
        bestC = c;
        best = layers.map((l) => l.slice());
      }
    }
    // an edge through another namespace's box costs like several crossings
    let through = 0;
    for (const g of groupList) through += Math.max(0, Math.abs(itemOf.get(g.a)!.band - itemOf.get(g.b)!.band) - 1);
    return { crossings: bestC, cost: bestC + THROUGH_BAND_COST * through, layers: best };
  };
  // The heuristic band order first; with few namespaces, every order is tried and the cheapest
  // wins (crossings, plus a penalty per namespace box an edge passes through; ties keep the earlier).
  let chosenSeq = bandSeq;
  let chosen = orderFor(bandSeq);
  const itemCount = layers.reduce((n, l) => n + l.length, 0);
  if (bandSeq.length > 1 && bandSeq.length <= MAX_BAND_PERMUTE && itemCount <= MAX_PERMUTE_ITEMS) {
    for (const seq of permutations(bandSeq.slice().sort((p, q) => p - q))) {
      if (chosen.cost === 0) break;
      const r = orderFor(seq);
      if (r.cost < chosen.cost) {
        chosen = r;
        chosenSeq = seq;
      }
    }
  }
  bandSeq = chosenSeq;
  const bestCrossings = chosen.crossings;
  bandSeq.forEach((ns, b) => bandOfNs.set(ns, b));
  chosen.layers.forEach((l, i) => {
    layers[i] = l;
    l.forEach((it, k) => {
      it.pos = k;
      it.band = bandOfNs.get(it.ns) ?? 0;
    });
  });

  // Vertical placement: each band is as tall as its fullest column; items pulled towards the
  // mean height of their neighbours, keeping order and spacing inside the band.
  const nBands = bandSeq.length;
  const bandInner = new Array<number>(nBands).fill(0);
  const columns: Item[][][] = layers.map((layer) => {
    const cols: Item[][] = Array.from({ length: nBands }, () => []);
    for (const it of layer) cols[it.band]!.push(it);
    return cols;
  });
  const stackH = (col: Item[]): number => col.reduce((s, it) => s + it.h, 0) + Math.max(0, col.length - 1) * ITEM_GAP;
  for (const cols of columns) cols.forEach((col, b) => (bandInner[b] = Math.max(bandInner[b]!, stackH(col))));
  const bandTop: number[] = [];
  let yCursor = TOP;
  for (let b = 0; b < nBands; b++) {
    bandTop.push(yCursor + NS_HEADER);
    yCursor += NS_HEADER + Math.max(NODE_H, bandInner[b]!) + NS_PAD + BAND_GAP;
  }
  for (const cols of columns) {
    cols.forEach((col, b) => {
      let y = bandTop[b]! + (Math.max(NODE_H, bandInner[b]!) - stackH(col)) / 2;
      for (const it of col) {
        it.y = y;
        y += it.h + ITEM_GAP;
      }
    });
  }
  const centre = (it: Item): number => it.y + it.h / 2;
  for (let pass = 0; pass < Y_PASSES; pass++) {
    for (const cols of columns) {
      cols.forEach((col, b) => {
        if (col.length === 0) return;
        const top = bandTop[b]!;
        const bottom = top + Math.max(NODE_H, bandInner[b]!);
        const want = col.map((it) => {
          const nb = it.up.concat(it.down);
          return nb.length === 0 ? it.y : nb.reduce((s, x) => s + centre(x), 0) / nb.length - it.h / 2;
        });
        let floor = top;
        col.forEach((it, i) => {
          it.y = Math.max(want[i]!, floor);
          floor = it.y + it.h + ITEM_GAP;
        });
        let ceil = bottom;
        for (let i = col.length - 1; i >= 0; i--) {
          const it = col[i]!;
          it.y = Math.min(it.y, ceil - it.h);
          ceil = it.y - ITEM_GAP;
        }
      });
    }
  }

  const layerX = (l: number): number => LEFT + l * (NODE_W + LAYER_GAP);
  const nodes: LaidNode[] = ids.map((id) => {
    const it = itemOf.get(id)!;
    return { id, layer: it.layer, namespace: model.namespaces[nsIndex.get(id) ?? 0]!.name, x: layerX(it.layer), y: it.y, w: NODE_W, h: it.h };
  });
  const rectOf = new Map(nodes.map((n) => [n.id, n]));

  // Ports: per node side, groups sorted by the height of the next point on their route, spread
  // evenly along the side (no two groups meet at one point); a group's lanes sit LANE apart.
  const sideList = new Map<string, { g: Group; end: 'a' | 'b'; toward: number }[]>();
  const pushSide = (id: string, side: 'l' | 'r', g: Group, end: 'a' | 'b', toward: number): void => {
    const k = `${id}\u0000${side}`;
    const l = sideList.get(k) ?? [];
    l.push({ g, end, toward });
    sideList.set(k, l);
  };
  for (const g of groupList) {
    const ia = itemOf.get(g.a)!;
    const ib = itemOf.get(g.b)!;
    if (g.a === g.b) continue;
    if (ia.layer === ib.layer) {
      pushSide(g.a, 'r', g, 'a', centre(ib));
      pushSide(g.b, 'r', g, 'b', centre(ia));
      continue;
    }
    pushSide(g.a, 'r', g, 'a', centre(g.dummies[0] ?? ib));
    pushSide(g.b, 'l', g, 'b', centre(g.dummies[g.dummies.length - 1] ?? ia));
  }
  for (const [k, list] of [...sideList.entries()].sort((p, q) => cmpStr(p[0], q[0]))) {
    const n = rectOf.get(k.slice(0, k.indexOf('\u0000')))!;
    list.sort((p, q) => p.toward - q.toward || cmpStr(p.g.key, q.g.key));
    list.forEach((s, i) => {
      const y = n.y + (n.h * (i + 1)) / (list.length + 1);
      if (s.end === 'a') s.g.ya = y;
      else s.g.yb = y;
    });
  }

  // Routes: horizontal-tangent cubic segments between columns, straight through reserved slots.
  type Pt = { x: number; y: number };
  const edges: LaidEdge[] = [];
  const labels: LaidLabel[] = [];
  const grid = new RectGrid();
  // workloads are obstacles, with room left and right for the arrowheads and port fan
  for (const n of nodes) grid.add({ x: n.x - 16, y: n.y - 4, w: n.w + 32, h: n.h + 8 });
  const cubic = (p: Pt, q: Pt, t: number): Pt => {
    const dx = (q.x - p.x) / 2;
    const c1 = { x: p.x + dx, y: p.y };
    const c2 = { x: q.x - dx, y: q.y };
    const s = 1 - t;
    return {
      x: s * s * s * p.x + 3 * s * s * t * c1.x + 3 * s * t * t * c2.x + t * t * t * q.x,
      y: s * s * s * p.y + 3 * s * s * t * c1.y + 3 * s * t * t * c2.y + t * t * t * q.y,
    };
  };
  const f = (v: number): string => (Math.round(v * 10) / 10).toString();
  let maxX = layerX(nLayers - 1) + NODE_W;
  // Groups with more traffic place their labels first (they get the best spots).
  const ordered = groupList.slice().sort((p, q) => {
    const c = (g: Group): number => g.edges.reduce((s, i) => s + model.edges[i]!.count, 0);
    return c(q) - c(p) || cmpStr(p.key, q.key);
  });
  for (const g of ordered) {
    const ra = rectOf.get(g.a)!;
    const rb = rectOf.get(g.b)!;
    const lanes = g.edges.length;
    const gapSegs: [Pt, Pt][] = [];
    g.edges.forEach((ei, lane) => {
      const e = model.edges[ei]!;
      const off = (lane - (lanes - 1) / 2) * LANE;
      const pts: Pt[] = [];
      let d: string;
      if (g.a === g.b) {
        const x = ra.x + ra.w;
        const y1 = ra.y + ra.h * 0.3 + off;
        const y2 = ra.y + ra.h * 0.7 + off;
        d = `M${f(x)},${f(y1)} C${f(x + 50)},${f(y1 - 20)} ${f(x + 50)},${f(y2 + 20)} ${f(x)},${f(y2)}`;
        edges.push({ edge: ei, d, start: { x, y: y1 }, end: { x, y: y2 } });
        if (lane === 0) gapSegs.push([{ x: x + 30, y: ra.y + ra.h / 2 }, { x: x + 40, y: ra.y + ra.h / 2 }]);
        return;
      }
      if (ra.layer === rb.layer) {
        const p = { x: ra.x + ra.w, y: g.ya + off };
        const q = { x: rb.x + rb.w, y: g.yb + off };
        const bx = Math.max(p.x, q.x) + SAME_LAYER_BULGE + 12 * lane;
        maxX = Math.max(maxX, bx);
        const fwd = e.from === g.a;
        const [s, t] = fwd ? [p, q] : [q, p];
        d = `M${f(s.x)},${f(s.y)} C${f(bx)},${f(s.y)} ${f(bx)},${f(t.y)} ${f(t.x)},${f(t.y)}`;
        edges.push({ edge: ei, d, start: s, end: t });
        if (lane === 0) {
          const mid = { x: 0.25 * p.x + 0.75 * bx, y: (p.y + q.y) / 2 };
          gapSegs.push([mid, { x: mid.x + 1, y: mid.y }]);
        }
        return;
      }
      pts.push({ x: ra.x + ra.w, y: g.ya + off });
      for (const dm of g.dummies) {
        const x = layerX(dm.layer);
        pts.push({ x, y: centre(dm) + off }, { x: x + NODE_W, y: centre(dm) + off });
      }
      pts.push({ x: rb.x, y: g.yb + off });
      if (lane === 0) for (let i = 0; i + 1 < pts.length; i += 2) gapSegs.push([pts[i]!, pts[i + 1]!]);
      const fwd = e.from === g.a;
      const seq = fwd ? pts : pts.slice().reverse();
      const parts = [`M${f(seq[0]!.x)},${f(seq[0]!.y)}`];
      for (let i = 1; i < seq.length; i++) {
        const p = seq[i - 1]!;
        const q = seq[i]!;
        // segments inside a column (between a dummy's two points) are straight
        const inColumn = (fwd ? i - 1 : seq.length - 1 - i) % 2 === 1;
        if (inColumn) parts.push(`L${f(q.x)},${f(q.y)}`);
        else {
          const dx = (q.x - p.x) / 2;
          parts.push(`C${f(p.x + dx)},${f(p.y)} ${f(q.x - dx)},${f(q.y)} ${f(q.x)},${f(q.y)}`);
        }
      }
      edges.push({ edge: ei, d: parts.join(' '), start: seq[0]!, end: seq[seq.length - 1]! });
    });

    // One label for the whole group: a line per (direction, port), its verdicts and counts;
    // the group's own direction first.
    const lineMap = new Map<string, LaidLabel['lines'][number]>();
    const rev = (i: number): number => (model.edges[i]!.from === g.a ? 0 : 1);
    for (const ei of g.edges.slice().sort((p, q) => rev(p) - rev(q) || model.edges[p]!.port - model.edges[q]!.port || p - q)) {
      const e = model.edges[ei]!;
      const reverse = e.from !== g.a;
      const k = `${e.port}|${reverse ? 1 : 0}`;
      const line = lineMap.get(k) ?? { port: e.port, parts: [], reverse };
      line.parts.push({ verdict: e.verdict, count: e.count });
      lineMap.set(k, line);
    }
    const lines = [...lineMap.values()];
    const w = Math.max(...lines.map((l) => labelWidth(labelLineText(l))));
    const h = lines.length * LABEL_LINE_H + 4;
    // Candidates: along each between-column segment (middle segments first), then shifted up/down.
    const segOrder = gapSegs.map((_, i) => i).sort((p, q) => Math.abs(p - (gapSegs.length - 1) / 2) - Math.abs(q - (gapSegs.length - 1) / 2) || q - p);
    const cands: Pt[] = [];
    // Prefer the end where fewer edges meet (a fan-out's labels near its targets, a fan-in's near
    // its sources), where neighbouring curves have already spread apart.
    const crowdA = sideList.get(`${g.a}\u0000r`)?.length ?? 0;
    const crowdB = sideList.get(`${g.b}\u0000${ra.layer === rb.layer ? 'r' : 'l'}`)?.length ?? 0;
    const ts = crowdA > crowdB ? [0.62, 0.74, 0.5, 0.38, 0.26] : crowdA < crowdB ? [0.38, 0.26, 0.5, 0.62, 0.74] : [0.5, 0.38, 0.62, 0.26, 0.74];
    for (const si of segOrder.slice(0, MAX_LABEL_SEGMENTS)) for (const t of ts) cands.push(cubic(gapSegs[si]![0], gapSegs[si]![1], t));
    let chosen: Rect | null = null;
    for (let shift = 0; shift <= 8 && chosen === null; shift++) {
      for (const c of cands) {
        const dy = shift === 0 ? 0 : (shift % 2 === 1 ? -1 : 1) * Math.ceil(shift / 2) * (h / 2 + 3);
        const r = { x: Math.round(c.x - w / 2), y: Math.round(c.y - h / 2 + dy), w, h };
        if (r.x < 2 || r.y < TOP - 10 || grid.hits(r)) continue;
        chosen = r;
        break;
      }
    }
    // Nowhere free: stack below the lowest clashing label (bounded), never on top of one.
    if (chosen === null && cands.length > 0) {
      const c = cands[0]!;
      const r = { x: Math.max(2, Math.round(c.x - w / 2)), y: Math.round(c.y - h / 2), w, h };
      for (let i = 0; i < 200 && grid.hits(r); i++) r.y += 6;
      chosen = r;
    }
    if (chosen !== null) {
      grid.add(chosen);
      labels.push({ ...chosen, edges: g.edges.slice().sort((p, q) => p - q), lines });
      maxX = Math.max(maxX, chosen.x + chosen.w);
    }
  }
  edges.sort((p, q) => p.edge - q.edge);
  labels.sort((p, q) => p.edges[0]! - q.edges[0]!);

  const namespaces = bandSeq.map((ns, b) => {
    const members = nodes.filter((n) => (nsIndex.get(n.id) ?? -1) === ns);
    const x0 = Math.min(...members.map((n) => n.x)) - NS_PAD;
    const x1 = Math.max(...members.map((n) => n.x + n.w)) + NS_PAD;
    const y0 = bandTop[b]! - NS_HEADER;
    return { name: model.namespaces[ns]!.name, x: x0, y: y0, w: x1 - x0, h: NS_HEADER + Math.max(NODE_H, bandInner[b]!) + NS_PAD };
  });
  const maxY = Math.max(yCursor - BAND_GAP, ...labels.map((l) => l.y + l.h));
  return { width: Math.max(640, Math.ceil(maxX + LEFT)), height: Math.ceil(maxY + 30), nodes, namespaces, edges, labels, crossings: bestCrossings };
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const STYLE = {
  allow: { color: '#1b7f3b', dash: '', label: 'allowed' },
  deny: { color: '#c62828', dash: '7 5', label: 'denied' },
  audit: { color: '#b26a00', dash: '2 4', label: 'audit' },
} as const;

/** Renders the dependency map as a self-contained HTML page. */
export function renderMap(records: readonly FlowRecord[], opts: MapOptions = {}): string {
  const model = buildMapModel(records, opts.workloads ?? []);
  const title = opts.title ?? 'syngate dependency map';
  const lay = layoutMap(model);
  const { width, height } = lay;
  const wlById = new Map((opts.workloads ?? []).map((w) => [w.id, w]));

  const nsBoxes = lay.namespaces.map(
    (ns) =>
      `<g class="ns" data-namespace="${esc(ns.name)}"><rect x="${ns.x}" y="${ns.y}" width="${ns.w}" height="${ns.h}" rx="10" fill="#f4f6fa" stroke="#9aa5b8"/>` +
      `<text x="${ns.x + NS_PAD}" y="${ns.y + 19}" class="nsl">${esc(ns.name)}</text></g>`,
  );
  const edgeSvg = lay.edges.map((le) => {
    const e = model.edges[le.edge]!;
    const st = STYLE[e.verdict];
    const tip = `${e.from} → ${e.to}:${e.port}\n${st.label} ×${e.count}\nrule: ${e.rules.join(', ') || '-'}\nreason: ${e.reasons.join(', ')}\nenforcer: ${e.enforcers.join(', ')}`;
    return (
      `<g class="edge ${e.verdict}" data-edge="${le.edge}" data-from="${esc(e.from)}" data-to="${esc(e.to)}" data-port="${e.port}" data-verdict="${e.verdict}" data-count="${e.count}" tabindex="0">` +
      `<title>${esc(tip)}</title>` +
      `<path d="${le.d}" fill="none" stroke="${st.color}" stroke-width="${(Math.min(4.5, 1.6 + 0.6 * Math.log2(e.count))).toFixed(2)}"${st.dash === '' ? '' : ` stroke-dasharray="${st.dash}"`} marker-end="url(#arrow-${e.verdict})"/>` +
      `<path class="hit" d="${le.d}" fill="none" stroke="transparent" stroke-width="12"/></g>`
    );
  });
  const labelSvg = lay.labels.map((l) => {
    const tspans = l.lines
      .map((line, i) => {
        const parts = line.parts
          .map((p, j) => `${j === 0 ? '' : '<tspan fill="#667"> · </tspan>'}<tspan fill="${STYLE[p.verdict].color}">${p.verdict} ×${p.count}</tspan>`)
          .join('');
        return `<tspan x="${l.x + LABEL_PAD_X}" y="${l.y + 2 + (i + 1) * LABEL_LINE_H - 4}">${line.reverse ? '← ' : ''}<tspan class="port">${line.port}</tspan> ${parts}</tspan>`;
      })
      .join('');
    return (
      `<g class="elabel" data-edges="${l.edges.join(' ')}" data-box="${l.x},${l.y},${l.w},${l.h}" tabindex="0">` +
      `<rect x="${l.x}" y="${l.y}" width="${l.w}" height="${l.h}" rx="4" fill="#ffffff" fill-opacity="0.92" stroke="#c8cfdc"/>` +
      `<text class="el">${tspans}</text></g>`
    );
  });
  const nodeSvg = lay.nodes.map((p) => {
    const w = wlById.get(p.id);
    const noEnf = w?.enforcer === false || p.namespace === NS_EXTERNAL;
    return (
      `<g class="node" data-node="${esc(p.id)}" tabindex="0"><title>${esc(`${p.id}${w?.ip === undefined ? '' : `\n${w.ip}`}${w?.node === undefined ? '' : `\nnode ${w.node}`}${noEnf ? '\nno enforcer' : ''}`)}</title>` +
      `<rect x="${p.x}" y="${f1(p.y)}" width="${p.w}" height="${p.h}" rx="6" fill="${noEnf ? '#fff4f4' : '#ffffff'}" stroke="${noEnf ? '#c62828' : '#3d5a80'}"${noEnf ? ' stroke-dasharray="4 3"' : ''}/>` +
      `<text x="${p.x + p.w / 2}" y="${f1(p.y + p.h / 2 + 5)}" class="nl">${esc(fitName(nameOf(p.id)))}</text></g>`
    );
  });
  const counts = { allow: 0, deny: 0, audit: 0 };
  for (const e of model.edges) counts[e.verdict] += e.count;
  const markers = (['allow', 'deny', 'audit'] as const)
    .map((v) => `<marker id="arrow-${v}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${STYLE[v].color}"/></marker>`)
    .join('');
  const legend =
    `<g class="legend" transform="translate(${LEFT},20)">` +
    (['allow', 'deny', 'audit'] as const)
      .map((v, i) => `<g transform="translate(${i * 150},0)"><line x1="0" y1="7" x2="40" y2="7" stroke="${STYLE[v].color}" stroke-width="3"${STYLE[v].dash === '' ? '' : ` stroke-dasharray="${STYLE[v].dash}"`}/><text x="48" y="12" class="lg">${STYLE[v].label} (${counts[v]})</text></g>`)
      .join('') +
    `<g transform="translate(450,0)"><rect x="0" y="0" width="40" height="14" rx="3" fill="#fff4f4" stroke="#c62828" stroke-dasharray="4 3"/><text x="48" y="12" class="lg">no enforcer</text></g>` +
    `</g>`;
  const data = JSON.stringify(model).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<style>
body{font:14px system-ui,sans-serif;margin:0;color:#1d2433;background:#fff}
header{padding:10px 16px;border-bottom:1px solid #dde}
h1{font-size:18px;margin:0}
#summary{color:#555;font-size:13px}
.nsl{font-weight:600;font-size:14px;fill:#33415c}
.nl{font-size:13px;text-anchor:middle;fill:#1d2433}
.el{font-size:${LABEL_FONT}px;font-family:'DejaVu Sans',system-ui,sans-serif}
.el .port{font-weight:600;fill:#1d2433}
.lg{font-size:12px;fill:#333}
.edge,.node,.elabel{cursor:pointer}
.edge:hover path:first-of-type,.edge.sel path:first-of-type{stroke-width:4.5}
.node.sel rect,.elabel.sel rect{stroke-width:3}
#detail{position:fixed;right:12px;top:60px;max-width:380px;background:#fff;border:1px solid #9aa5b8;border-radius:8px;padding:10px 12px;font-size:12px;white-space:pre-wrap;box-shadow:0 2px 8px #0002;display:none}
</style></head>
<body><header><h1>${esc(title)}</h1><div id="summary">${lay.nodes.length} workloads, ${model.edges.length} edges: ${counts.allow} allowed, ${counts.deny} denied, ${counts.audit} audit connections. Labels read <b>port</b> verdict ×connections; hover or click an edge, label or workload for the deciding rule and reasons.</div></header>
<svg xmlns="http://www.w3.org/2000/svg" id="map" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="dependency map">
<defs>${markers}</defs>${legend}
${nsBoxes.join('\n')}
${edgeSvg.join('\n')}
${nodeSvg.join('\n')}
${labelSvg.join('\n')}
</svg>
<div id="detail" role="status"></div>
<script type="application/json" id="map-data">${data}</script>
<script>
(function(){
  var model = JSON.parse(document.getElementById('map-data').textContent);
  var detail = document.getElementById('detail');
  function show(text, el){
    var prev = document.querySelectorAll('.sel');
    for (var i = 0; i < prev.length; i++) prev[i].classList.remove('sel');
    if (el) el.classList.add('sel');
    detail.textContent = text; detail.style.display = text ? 'block' : 'none';
  }
  function edgeText(e){
    return e.from + ' \\u2192 ' + e.to + ' port ' + e.port + '\\n' + e.verdict + ' \\u00d7' + e.count +
      '\\ndeciding rule: ' + (e.rules.join(', ') || '-') + '\\nreasons: ' + e.reasons.join(', ') +
      '\\nenforcers: ' + e.enforcers.join(', ');
  }
  var edges = document.querySelectorAll('g.edge');
  for (var i = 0; i < edges.length; i++) (function(g){
    var e = model.edges[Number(g.getAttribute('data-edge'))];
    g.addEventListener('click', function(ev){ ev.stopPropagation(); show(edgeText(e), g); });
    g.addEventListener('mouseenter', function(){ show(edgeText(e), g); });
  })(edges[i]);
  var labels = document.querySelectorAll('g.elabel');
  for (var k = 0; k < labels.length; k++) (function(g){
    var list = g.getAttribute('data-edges').split(' ').map(function(n){ return model.edges[Number(n)]; });
    function all(){ return list.map(edgeText).join('\\n\\n'); }
    g.addEventListener('click', function(ev){ ev.stopPropagation(); show(all(), g); });
    g.addEventListener('mouseenter', function(){ show(all(), g); });
  })(labels[k]);
  var nodes = document.querySelectorAll('g.node');
  for (var j = 0; j < nodes.length; j++) (function(g){
    var id = g.getAttribute('data-node');
    g.addEventListener('click', function(ev){
      ev.stopPropagation();
      var lines = [id];
      model.edges.forEach(function(e){ if (e.from === id || e.to === id) lines.push(edgeText(e)); });
      show(lines.join('\\n\\n'), g);
    });
  })(nodes[j]);
  document.addEventListener('click', function(){ show('', null); });
  // labels whose rendered text is wider than the box the layout reserved (tests expect none)
  var overflow = 0;
  for (var m = 0; m < labels.length; m++) {
    var box = labels[m].querySelector('rect'), text = labels[m].querySelector('text');
    if (box && text && text.getBBox().width > Number(box.getAttribute('width')) - 2) overflow++;
  }
  document.body.setAttribute('data-label-overflow', String(overflow));
  document.body.setAttribute('data-rendered-edges', String(edges.length));
  document.body.setAttribute('data-rendered-nodes', String(nodes.length));
})();
</script>
</body></html>
`;
}

/** A workload name cut to fit its box (the full id is in the tooltip and the detail panel). */
function fitName(name: string): string {
  return name.length <= MAX_NAME_CHARS ? name : `${name.slice(0, MAX_NAME_CHARS - 1)}…`;
}

const MAX_NAME_CHARS = 22;

function f1(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}
