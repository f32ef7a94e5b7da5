// The application dependency map: flow records in, one self-contained HTML page out.
// Invariants: renderMap is a pure function of its inputs (same records -> same bytes; no clock,
// no randomness); the page loads nothing from the network (inline SVG, CSS and JS only); every
// string from the records is escaped (HTML/XML text and attributes, and `<` inside the embedded
// JSON), so workload names cannot inject markup; allowed and denied edges differ in colour AND
// dash style, so the picture reads in greyscale too. The daemon serves the same page at /map.
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

/**
 * Depth of each workload in its namespace's own call graph (longest path from a workload no one
 * in the namespace calls), capped so a box stays readable; cycles stop at the cap.
 */
function intraNamespaceRanks(model: MapModel): Map<string, number> {
  const rank = new Map<string, number>();
  const intra = model.edges.filter((e) => e.verdict !== 'deny' && nsOf(e.from) === nsOf(e.to) && e.from !== e.to);
  for (const ns of model.namespaces) for (const id of ns.workloads) rank.set(id, 0);
  for (let round = 0; round < MAX_SUBCOLS; round++) {
    let changed = false;
    for (const e of intra) {
      const r = Math.min(MAX_SUBCOLS - 1, (rank.get(e.from) ?? 0) + 1);
      if (r > (rank.get(e.to) ?? 0)) {
        rank.set(e.to, r);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return rank;
}

const MAX_SUBCOLS = 4;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const NODE_W = 170;
const NODE_H = 34;
const NODE_GAP = 22;
const SUBCOL_GAP = 110;
const NS_GAP = 150;
const NS_PAD = 16;
const NS_HEADER = 30;
const TOP = 70;
const LEFT = 30;

const STYLE = {
  allow: { color: '#1b7f3b', dash: '', label: 'allowed' },
  deny: { color: '#c62828', dash: '7 5', label: 'denied' },
  audit: { color: '#b26a00', dash: '2 4', label: 'audit' },
} as const;

/** Renders the dependency map as a self-contained HTML page. */
export function renderMap(records: readonly FlowRecord[], opts: MapOptions = {}): string {
  const model = buildMapModel(records, opts.workloads ?? []);
  const title = opts.title ?? 'syngate dependency map';
  const pos = new Map<string, { x: number; y: number }>();
  const rank = intraNamespaceRanks(model);
  let maxRows = 0;
  let x = LEFT;
  const nsBoxes: string[] = [];
  for (const ns of model.namespaces) {
    // Sub-columns by call depth inside the namespace, so its own edges run left to right.
    const cols: string[][] = [];
    for (const id of ns.workloads) {
      const r = rank.get(id) ?? 0;
      while (cols.length <= r) cols.push([]);
      cols[r]?.push(id);
    }
    const rows = Math.max(1, ...cols.map((c) => c.length));
    maxRows = Math.max(maxRows, rows);
    const w = cols.length * NODE_W + (cols.length - 1) * SUBCOL_GAP + 2 * NS_PAD;
    const h = NS_HEADER + rows * (NODE_H + NODE_GAP) + NS_PAD;
    nsBoxes.push(
      `<g class="ns" data-namespace="${esc(ns.name)}"><rect x="${x}" y="${TOP}" width="${w}" height="${h}" rx="10" fill="#f4f6fa" stroke="#9aa5b8"/>` +
        `<text x="${x + NS_PAD}" y="${TOP + 20}" class="nsl">${esc(ns.name)}</text></g>`,
    );
    cols.forEach((col, c) => {
      // centre shorter columns vertically
      const y0 = TOP + NS_HEADER + ((rows - col.length) * (NODE_H + NODE_GAP)) / 2;
      col.forEach((id, row) => pos.set(id, { x: x + NS_PAD + c * (NODE_W + SUBCOL_GAP), y: y0 + row * (NODE_H + NODE_GAP) }));
    });
    x += w + NS_GAP;
  }
  const width = Math.max(640, x - NS_GAP + LEFT);
  const height = TOP + NS_HEADER + maxRows * (NODE_H + NODE_GAP) + NS_PAD + 60;

  // Edges: from the right/left side of the source box to the other side of the target box.
  const pairCount = new Map<string, number>();
  const placed: { x: number; y: number }[] = [];
  const edgeSvg: string[] = [];
  model.edges.forEach((e, i) => {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (a === undefined || b === undefined) return;
    const pairKey = e.from < e.to ? `${e.from}|${e.to}` : `${e.to}|${e.from}`;
    const k = pairCount.get(pairKey) ?? 0;
    pairCount.set(pairKey, k + 1);
    const sameCol = Math.abs(a.x - b.x) < NODE_W;
    const forward = b.x > a.x;
    const x1 = sameCol ? a.x + NODE_W : forward ? a.x + NODE_W : a.x;
    const x2 = sameCol ? b.x + NODE_W : forward ? b.x : b.x + NODE_W;
    const y1 = a.y + NODE_H / 2 + (k % 3) * 4 - 4;
    const y2 = b.y + NODE_H / 2 + (k % 3) * 4 - 4;
    const bend = sameCol ? 90 + 30 * k : (k % 2 === 0 ? 1 : -1) * (18 + 16 * Math.floor(k / 2)) + (forward ? 0 : 30);
    const cx = sameCol ? x1 + bend : (x1 + x2) / 2;
    const cy = sameCol ? (y1 + y2) / 2 : (y1 + y2) / 2 - bend;
    const lx = 0.25 * x1 + 0.5 * cx + 0.25 * x2;
    let ly = 0.25 * y1 + 0.5 * cy + 0.25 * y2;
    // Keep labels from overlapping: move down in 13px steps past any placed label (bounded).
    for (let tries = 0; tries < 24 && placed.some((b) => Math.abs(b.x - lx) < 56 && Math.abs(b.y - ly) < 13); tries++) ly += 13;
    placed.push({ x: lx, y: ly });
    const st = STYLE[e.verdict];
    const label = `${e.port} ×${e.count}`;
    const tip = `${e.from} → ${e.to}:${e.port}\n${st.label} ×${e.count}\nrule: ${e.rules.join(', ') || '-'}\nreason: ${e.reasons.join(', ')}\nenforcer: ${e.enforcers.join(', ')}`;
    edgeSvg.push(
      `<g class="edge ${e.verdict}" data-edge="${i}" data-from="${esc(e.from)}" data-to="${esc(e.to)}" data-port="${e.port}" data-verdict="${e.verdict}" data-count="${e.count}" tabindex="0">` +
        `<title>${esc(tip)}</title>` +
        `<path d="M${x1},${y1} Q${cx},${cy} ${x2},${y2}" fill="none" stroke="${st.color}" stroke-width="${Math.min(6, 1.6 + Math.log2(e.count))}"${st.dash === '' ? '' : ` stroke-dasharray="${st.dash}"`} marker-end="url(#arrow-${e.verdict})"/>` +
        `<path class="hit" d="M${x1},${y1} Q${cx},${cy} ${x2},${y2}" fill="none" stroke="transparent" stroke-width="12"/>` +
        `<text x="${lx.toFixed(1)}" y="${(ly - 4).toFixed(1)}" class="el" fill="${st.color}">${esc(label)}</text></g>`,
    );
  });
  const nodeSvg: string[] = [];
  for (const ns of model.namespaces) {
    for (const id of ns.workloads) {
      const p = pos.get(id);
      if (p === undefined) continue;
      const w = (opts.workloads ?? []).find((x) => x.id === id);
      const noEnf = w?.enforcer === false || ns.name === NS_EXTERNAL;
      nodeSvg.push(
        `<g class="node" data-node="${esc(id)}" tabindex="0"><title>${esc(`${id}${w?.ip === undefined ? '' : `\n${w.ip}`}${w?.node === undefined ? '' : `\nnode ${w.node}`}${noEnf ? '\nno enforcer' : ''}`)}</title>` +
          `<rect x="${p.x}" y="${p.y}" width="${NODE_W}" height="${NODE_H}" rx="6" fill="${noEnf ? '#fff4f4' : '#ffffff'}" stroke="${noEnf ? '#c62828' : '#3d5a80'}"${noEnf ? ' stroke-dasharray="4 3"' : ''}/>` +
          `<text x="${p.x + NODE_W / 2}" y="${p.y + NODE_H / 2 + 5}" class="nl">${esc(nameOf(id))}</text></g>`,
      );
    }
  }
  const counts = { allow: 0, deny: 0, audit: 0 };
  for (const e of model.edges) counts[e.verdict] += e.count;
  const markers = (['allow', 'deny', 'audit'] as const)
    .map((v) => `<marker id="arrow-${v}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${STYLE[v].color}"/></marker>`)
    .join('');
  const legend =
    `<g class="legend" transform="translate(${LEFT},22)">` +
    (['allow', 'deny', 'audit'] as const)
      .map((v, i) => `<g transform="translate(${i * 150},0)"><line x1="0" y1="6" x2="40" y2="6" stroke="${STYLE[v].color}" stroke-width="3"${STYLE[v].dash === '' ? '' : ` stroke-dasharray="${STYLE[v].dash}"`}/><text x="48" y="11" class="lg">${STYLE[v].label} (${counts[v]})</text></g>`)
      .join('') +
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
.nsl{font-weight:600;font-size:13px;fill:#33415c}
.nl{font-size:12px;text-anchor:middle;fill:#1d2433}
.el{font-size:11px;text-anchor:middle;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px}
.lg{font-size:12px;fill:#333}
.edge,.node{cursor:pointer}
.edge:hover path:first-of-type,.edge.sel path:first-of-type{stroke-width:5}
.node.sel rect{stroke-width:3}
#detail{position:fixed;right:12px;top:60px;max-width:360px;background:#fff;border:1px solid #9aa5b8;border-radius:8px;padding:10px 12px;font-size:12px;white-space:pre-wrap;box-shadow:0 2px 8px #0002;display:none}
</style></head>
<body><header><h1>${esc(title)}</h1><div id="summary">${model.namespaces.reduce((n, ns) => n + ns.workloads.length, 0)} workloads, ${model.edges.length} edges: ${counts.allow} allowed, ${counts.deny} denied, ${counts.audit} audit connections</div></header>
<svg xmlns="http://www.w3.org/2000/svg" id="map" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="dependency map">
<defs>${markers}</defs>${legend}
${nsBoxes.join('\n')}
${edgeSvg.join('\n')}
${nodeSvg.join('\n')}
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
  document.body.setAttribute('data-rendered-edges', String(edges.length));
  document.body.setAttribute('data-rendered-nodes', String(nodes.length));
})();
</script>
</body></html>
`;
}
