// Tool-facing evaluation (explain, simulator), revocation after a table swap, and the policy store
// that swaps tables atomically.
// Invariants: evaluate() and revokedPairs() never throw for inputs naming unknown workloads (they
// report an error value instead); a PolicyStore's `current` only ever changes to a table compiled
// from a load without errors, in one assignment, with a strictly larger revision.
import { readFileSync } from 'node:fs';
import { compile, Dir, verdictAllowed, verdictRule } from './compile.js';
import type { CompileOptions, Decision, LayerDecision, PolicyTable } from './compile.js';
import { UNAUTHENTICATED } from './identity.js';
import { MODE_NAMES } from './inventory.js';
import type { Inventory, Workload, WorkloadMode } from './inventory.js';
import { parseIpv4 } from './ipv4.js';
import { expandPaths, hasErrors, loadPolicyTexts } from './parse.js';
import type { LoadResult } from './parse.js';
import type { Policy } from './model.js';
import type { Diagnostic } from './yaml-read.js';

export interface EvaluateQuery {
  /** `NS/NAME` of an inventory workload, or a dotted-quad IPv4 address (a peer outside the inventory). */
  from: string;
  to: string;
  port: number;
  /** `TCP` (default), `UDP`, `SCTP`, or an IP protocol number. */
  proto?: string | number;
  /** Source address to use instead of the workload's. */
  srcIp?: string;
  /** Destination address to use instead of the workload's. */
  dstIp?: string;
}

export interface SideResult {
  verdict: 'allow' | 'deny';
  rule: string;
  audit: string[];
  /** True iff this side runs an enforcer (only then does it vote). */
  enforced: boolean;
  mode: WorkloadMode;
  layers: LayerDecision[];
}

export interface EvaluateResult {
  verdict: 'allow' | 'deny';
  rule: string;
  audit: string[];
  layers: { egress?: SideResult; ingress?: SideResult };
}

export type EvaluateOutcome = EvaluateResult | { error: string };

function protoNumber(p: string | number | undefined): number | undefined {
  if (p === undefined) return 6;
  if (typeof p === 'number') return Number.isInteger(p) && p >= 0 && p <= 255 ? p : undefined;
  const u = p.toUpperCase();
  return u === 'TCP' ? 6 : u === 'UDP' ? 17 : u === 'SCTP' ? 132 : undefined;
}

interface End {
  workload?: Workload;
  ip: number;
  identity: number;
}

function resolveEnd(table: PolicyTable, ref: string, ipOverride: string | undefined): End | string {
  let workload: Workload | undefined;
  let ip: number | undefined;
  if (ref.includes('/')) {
    workload = table.inventory.byName.get(ref);
    if (workload === undefined) return `unknown workload "${ref}" (expected NS/NAME from the inventory)`;
    ip = workload.ipU32;
  } else {
    ip = parseIpv4(ref);
    if (ip === undefined) return `"${ref}" is neither NS/NAME nor an IPv4 address`;
    workload = table.inventory.byIp.get(ip);
  }
  if (ipOverride !== undefined) {
    const o = parseIpv4(ipOverride);
    if (o === undefined) return `invalid IPv4 address "${ipOverride}"`;
    ip = o;
  }
  // A peer proves an identity only if it runs an enforcer; otherwise only its address is known.
  const identity = workload !== undefined && workload.enforcer ? (table.workloadIdentity[workload.index] ?? 0) : UNAUTHENTICATED;
  const end: End = { ip, identity };
  if (workload !== undefined) end.workload = workload;
  return end;
}

function side(table: PolicyTable, d: Decision, w: Workload): SideResult {
  return {
    verdict: verdictAllowed(d.word) ? 'allow' : 'deny',
    rule: table.ruleId(verdictRule(d.word)),
    audit: d.audit.map((r) => table.ruleId(r)),
    enforced: w.enforcer,
    mode: MODE_NAMES[table.modeOf(w.index)] ?? 'enforce',
    layers: d.layers,
  };
}

/**
 * Evaluates one connection the way the two enforcers would: egress at the source (if it runs an
 * enforcer) and ingress at the destination (if it runs one); allowed iff every enforcing side
 * allows. The verdict is the policy's; `layers.*.mode` tells whether audit/off would let it pass.
 */
export function evaluate(table: PolicyTable, q: EvaluateQuery): EvaluateOutcome {
  const proto = protoNumber(q.proto);
  if (proto === undefined) return { error: `unknown protocol "${String(q.proto)}"` };
  if (!Number.isInteger(q.port) || q.port < 0 || q.port > 65535) return { error: `invalid port ${q.port}` };
  const src = resolveEnd(table, q.from, q.srcIp);
  if (typeof src === 'string') return { error: src };
  const dst = resolveEnd(table, q.to, q.dstIp);
  if (typeof dst === 'string') return { error: dst };
  const layers: EvaluateResult['layers'] = {};
  let eg: SideResult | undefined;
  let ing: SideResult | undefined;
  if (src.workload !== undefined) {
    const word = table.lookup(Dir.EGRESS, src.workload.index, dst.identity, dst.ip, proto, q.port);
    const d = table.decide(Dir.EGRESS, src.workload.index, dst.identity, dst.ip, proto, q.port);
    d.word = word; // the hot-path verdict is authoritative; decide() supplies the layer detail
    eg = side(table, d, src.workload);
    eg.audit = table.auditRules(Dir.EGRESS, src.workload.index, dst.identity, dst.ip, proto, q.port);
    layers.egress = eg;
  }
  if (dst.workload !== undefined) {
    const word = table.lookup(Dir.INGRESS, dst.workload.index, src.identity, src.ip, proto, q.port);
    const d = table.decide(Dir.INGRESS, dst.workload.index, src.identity, src.ip, proto, q.port);
    d.word = word;
    ing = side(table, d, dst.workload);
    ing.audit = table.auditRules(Dir.INGRESS, dst.workload.index, src.identity, src.ip, proto, q.port);
    layers.ingress = ing;
  }
  const voting = [eg, ing].filter((s): s is SideResult => s !== undefined && s.enforced);
  const denied = voting.find((s) => s.verdict === 'deny');
  const audit = [...new Set([...(eg?.audit ?? []), ...(ing?.audit ?? [])])];
  if (denied !== undefined) return { verdict: 'deny', rule: denied.rule, audit, layers };
  const explicit = [ing, eg].find((s) => s !== undefined && s.enforced && s.rule !== 'default-allow');
  const rule = explicit?.rule ?? voting[0]?.rule ?? 'default-allow';
  return { verdict: 'allow', rule, audit, layers };
}

/** One established flow as the engine knows it. */
export interface EstablishedFlow {
  dir: number;
  local: number;
  peer: number;
  /** uint32 */
  peerIp: number;
  /** IP protocol number (6 = TCP). */
  proto: number;
  port: number;
}

/**
 * The established flows that `next` denies, in input order: the engine revokes them (or, for a
 * workload in audit/off mode, only logs them). Flows naming workloads or identities unknown to
 * `next` are listed too (fail closed). `prev` (the table being replaced) is unused: an
 * established flow is revoked because the new table denies it, whatever the old one said.
 */
export function revokedPairs<F extends EstablishedFlow>(_prev: PolicyTable | undefined, next: PolicyTable, flows: Iterable<F>): F[] {
  const out: F[] = [];
  for (const f of flows) {
    const v = next.lookup(f.dir, f.local, f.peer, f.peerIp, f.proto, f.port);
    if (!verdictAllowed(v)) out.push(f);
  }
  return out;
}

export interface ReloadResult {
  ok: boolean;
  diagnostics: Diagnostic[];
  /** The table now in force (the old one when ok is false). */
  table: PolicyTable | undefined;
  /** Files whose text changed since the last successful load. */
  changedFiles: string[];
}

/**
 * Holds the table in force and reloads it. Parsing is incremental per file (unchanged texts reuse
 * their parsed policies); a load with any error leaves the current table in force.
 */
export class PolicyStore {
  private table: PolicyTable | undefined;
  private readonly cache = new Map<string, { text: string; result: LoadResult }>();
  private readonly inventory: Inventory;
  private readonly options: Omit<CompileOptions, 'previous' | 'revision'>;

  constructor(inventory: Inventory, options: Omit<CompileOptions, 'previous' | 'revision'> = {}) {
    this.inventory = inventory;
    this.options = options;
  }

  /** The table in force, or undefined before the first successful load. */
  get current(): PolicyTable | undefined {
    return this.table;
  }

  /** Loads from in-memory texts. */
  loadTexts(inputs: readonly { file: string; text: string }[]): ReloadResult {
    const policies: Policy[] = [];
    const diagnostics: Diagnostic[] = [];
    const changedFiles: string[] = [];
    const seen = new Set<string>();
    const nextCache = new Map<string, { text: string; result: LoadResult }>();
    for (const inp of inputs) {
      let entry = this.cache.get(inp.file);
      if (entry === undefined || entry.text !== inp.text) {
        entry = { text: inp.text, result: loadPolicyTexts([inp]) };
        changedFiles.push(inp.file);
      }
      nextCache.set(inp.file, entry);
      diagnostics.push(...entry.result.diagnostics);
      for (const p of entry.result.policies) {
        const id = `${p.kind}/${p.namespace}/${p.name}`;
        if (seen.has(id)) {
          diagnostics.push({ ...p.pos, path: 'metadata.name', message: `duplicate policy ${id}`, severity: 'error' });
          continue;
        }
        seen.add(id);
        policies.push(p);
      }
    }
    if (hasErrors(diagnostics)) return { ok: false, diagnostics, table: this.table, changedFiles };
    const next = compile(this.inventory, policies, this.table === undefined ? { ...this.options } : { ...this.options, previous: this.table });
    this.cache.clear();
    for (const [k, v] of nextCache) this.cache.set(k, v);
    this.table = next; // the atomic swap: one assignment
    return { ok: true, diagnostics, table: next, changedFiles };
  }

  /** Loads every *.yaml/*.yml under the given files/folders. */
  loadPaths(paths: readonly string[]): ReloadResult {
    const diagnostics: Diagnostic[] = [];
    const files = expandPaths(paths, diagnostics);
    const inputs: { file: string; text: string }[] = [];
    for (const f of files) {
      try {
        inputs.push({ file: f, text: readFileSync(f, 'utf8') });
      } catch (e) {
        diagnostics.push({ file: f, line: 1, col: 1, path: '', message: `cannot read: ${(e as Error).message}`, severity: 'error' });
      }
    }
    if (hasErrors(diagnostics)) return { ok: false, diagnostics, table: this.table, changedFiles: [] };
    const r = this.loadTexts(inputs);
    return { ...r, diagnostics: [...diagnostics, ...r.diagnostics] };
  }
}
