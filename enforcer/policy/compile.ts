// Policy compiler and the compiled table the engine probes per new connection.
//
// Invariants:
//  - compile() never throws: it returns a PolicyTable (revision > 0) or nothing plus diagnostics;
//    a table is immutable in meaning once built (rows are memoised, never changed);
//  - peer identity = (identity id from the shared IdentityRegistry, IP class of the peer address).
//    IP classes partition IPv4 by every CIDR boundary named in any policy, so every IP condition is
//    constant over a class and is folded into the peer identity instead of being scanned per lookup;
//  - selectors and peer conditions are evaluated when a (local workload, peer identity, IP class)
//    row is first needed (once per identity as it appears, or ahead of time by prepare()), never
//    per connection; a row is a port map: sorted interval starts over (proto slot << 16 | port)
//    with one verdict word per interval, so port ranges cost one interval, not one entry per port;
//  - lookup() is one open-addressing probe on (local, direction, identity, IP class) plus a binary
//    search of that row's interval starts; it allocates nothing once the row exists;
//  - with `previous`, rows of (workload, direction) families whose inputs are provably unchanged
//    are copied from the previous revision (rule indices translated) rather than rebuilt;
//  - a verdict word packs allow (bit 0), audit (bit 1) and the deciding rule index (bits 2..);
//    ruleId(index) and auditRules() give the strings; unknown workloads or identities get a
//    deny verdict (fail closed).
//
// Semantics (docs/policy.md has them in full):
//  Istio and native layers, per workload: a matching DENY rule denies and that is final; with no
//  ALLOW policy on the workload the layer allows by default; otherwise the flow needs a matching
//  ALLOW rule. AUDIT rules only mark. Kubernetes: a workload selected by a policy of a direction is
//  isolated in it and then needs a rule of one of those policies. Combined: every layer that has a
//  say must allow; with strict default-deny (ingress) some layer must allow explicitly.
import { cidrContains } from './ipv4.js';
import type { Cidr } from './ipv4.js';
import { IdentityRegistry } from './identity.js';
import type { IdentityInfo } from './identity.js';
import { contains, EMPTY, intersect, normalise, subtract, union } from './intervals.js';
import type { IntervalSet } from './intervals.js';
import { Mode } from './inventory.js';
import type { Inventory, Workload } from './inventory.js';
import { Proto, policyId, protoFromIpProto } from './model.js';
import type {
  AuthzPolicy, AuthzRule, K8sPeer, K8sRule, K8sSelector, LabelExpr, NetworkPolicy, OperationSpec, PeerSpec, Policy,
  PortRange, StringMatch,
} from './model.js';

/** Direction of a lookup; equal to the engine's Direction values. */
export const Dir = {
  /** At the source's enforcer: local = source, peer = destination. */
  EGRESS: 0,
  /** At the destination's enforcer: local = destination, peer = source. */
  INGRESS: 1,
} as const;
export type Dir = (typeof Dir)[keyof typeof Dir];

export const RULE_DEFAULT_ALLOW = 0;
export const RULE_DEFAULT_DENY = 1;
export const RULE_K8S_ISOLATION = 2;

export const VERDICT_ALLOW_BIT = 1;
export const VERDICT_AUDIT_BIT = 2;
export const VERDICT_RULE_SHIFT = 2;
/** The verdict for an unknown workload or identity: deny by `default-deny`. */
export const VERDICT_UNKNOWN = RULE_DEFAULT_DENY << VERDICT_RULE_SHIFT;

export function verdictAllowed(v: number): boolean {
  return (v & VERDICT_ALLOW_BIT) !== 0;
}
export function verdictAudited(v: number): boolean {
  return (v & VERDICT_AUDIT_BIT) !== 0;
}
export function verdictRule(v: number): number {
  return v >>> VERDICT_RULE_SHIFT;
}

/** Size of the compiled port key space: 4 protocol slots of 65536 ports. */
export const KEYSPACE = 4 << 16;
const TCP_ALL: IntervalSet = [0, 0xffff];
const ALL: IntervalSet = [0, KEYSPACE - 1];

export interface CompileOptions {
  /** Mesh root namespace; default: the inventory's, else `istio-system`. */
  rootNamespace?: string;
  /** Strict default-deny for every workload (ORed with the inventory's settings). */
  defaultDeny?: boolean;
  /** Revision number (> 0); default: previous.revision + 1, else 1. */
  revision?: number;
  /** Identity registry to share; default: the previous table's, else a new one. */
  identities?: IdentityRegistry;
  /** Previous table, for revision numbering and identity sharing. */
  previous?: PolicyTable;
  /** Rows beyond this many are computed per lookup instead of cached (default 4M). */
  maxRows?: number;
}

export interface LayerDecision {
  layer: 'istio' | 'syngate' | 'k8s';
  verdict: 'allow' | 'deny';
  rule: string;
  /** False when the layer allowed only because it has no ALLOW policy for the workload. */
  explicit: boolean;
}

export interface Decision {
  /** Verdict word (see verdictAllowed/verdictAudited/verdictRule). */
  word: number;
  /** Rule indices of the AUDIT rules that matched. */
  audit: number[];
  layers: LayerDecision[];
}

interface AuthzEntry {
  action: 0 | 1 | 2; // ALLOW, DENY, AUDIT
  rule: number;
  set: IntervalSet;
}
interface AuthzLayerCtx {
  layer: 'istio' | 'syngate';
  hasAllow: boolean;
  entries: AuthzEntry[];
}
interface RowCtx {
  authz: AuthzLayerCtx[];
  k8sIsolated: boolean;
  k8s: { rule: number; set: IntervalSet }[];
  strict: boolean;
}

interface PolicyRef {
  policy: Policy;
  /** Authz policies: the rules in fixed-shape compiled form (same order as policy.rules). */
  crules: CRule[];
  /** Table rule index of rules[0] (Authz) or ingress[0] (NetworkPolicy). */
  first: number;
  /** NetworkPolicy: table rule index of egress[0]. */
  firstEgress: number;
}

const ACTION_CODE = { ALLOW: 0, DENY: 1, AUDIT: 2 } as const;

export class PolicyTable {
  readonly revision: number;
  readonly inventory: Inventory;
  readonly identities: IdentityRegistry;
  readonly rootNamespace: string;
  readonly policies: readonly Policy[];
  /** Rule index -> rule id string. */
  readonly ruleIds: readonly string[];
  /** Sorted start addresses of the IP classes; class c covers [bounds[c], bounds[c+1]). */
  readonly ipBounds: Uint32Array;

  /**
   * Directory over /16 prefixes (only when there are many classes): the first and last class
   * touching each /16, so ipClassOf() usually answers with two loads and searches only within a
   * /16 that CIDR boundaries actually cut.
   */
  private readonly ipDirLo: Int32Array | undefined;
  private readonly ipDirHi: Int32Array | undefined;
  /** Per /16: offset into ipSubPool of a /24-level (lo, hi) directory when the /16 spans many classes, else -1. */
  private readonly ipSub: Int32Array | undefined;
  private readonly ipSubPool: Int32Array | undefined;

  /**
   * Direct-mapped memo of ipClassOf (4096 slots): ipMemoKey holds the address (as int32),
   * ipMemoVal the class + 1 (0 = empty). Peers repeat, so this is usually a hit; a miss costs
   * the directory walk and overwrites the slot. Only used when there are several classes.
   */
  private readonly ipMemoKey = new Int32Array(4096);
  private readonly ipMemoVal = new Int32Array(4096);

  /** Per workload: numeric Mode and strict default-deny. */
  readonly modes: Uint8Array;
  private readonly strict: Uint8Array;
  /** Identity id of each inventory workload. */
  readonly workloadIdentity: Int32Array;
  private readonly identityWorkloads = new Map<number, Workload[]>();
  /** Per (workload * 2 + dir): applicable policy refs per layer, in deciding order. */
  private readonly applicable: { istio: PolicyRef[]; syngate: PolicyRef[]; k8s: PolicyRef[] }[];

  // Row cache: open addressing, 4 int32 per slot: key0 = local << 1 | dir (-1 = empty), identity, ipClass, map offset.
  private slots: Int32Array;
  private mask: number;
  private rows = 0;
  private readonly maxRows: number;
  /**
   * Incremental recompilation: the previous revision and, per (workload * 2 + dir), 1 when that
   * row family is provably unchanged (same inventory, same applicable policy objects in the same
   * order, same IP classes, same strictness). Such rows are copied from the previous table on first
   * use (rule indices translated) instead of being rebuilt.
   */
  private carry: { from: PolicyTable; rows: Uint8Array } | undefined;
  /** Previous rule index -> this table's rule index (built on first carried row). */
  private ruleMap: Int32Array | undefined;
  private carried = 0;
  private readonly carryMemo = new Map<number, number>();
  private readonly nLocal: number;
  // Port maps: at offset o: n, starts[n], words[n], auditSetIds[n].
  private pool: Int32Array;
  private poolUsed = 0;
  private readonly mapDedup = new Map<string, number>();
  private readonly auditSets: number[][] = [[]];
  private readonly auditDedup = new Map<string, number>([['', 0]]);

  /** @internal use compile(). */
  constructor(init: {
    revision: number; inventory: Inventory; identities: IdentityRegistry; rootNamespace: string; policies: Policy[];
    ruleIds: string[]; ipBounds: Uint32Array; modes: Uint8Array; strict: Uint8Array; workloadIdentity: Int32Array;
    applicable: { istio: PolicyRef[]; syngate: PolicyRef[]; k8s: PolicyRef[] }[]; maxRows: number;
    carry: { from: PolicyTable; rows: Uint8Array } | undefined;
  }) {
    this.revision = init.revision;
    this.inventory = init.inventory;
    this.identities = init.identities;
    this.rootNamespace = init.rootNamespace;
    this.policies = init.policies;
    this.ruleIds = init.ruleIds;
    this.ipBounds = init.ipBounds;
    this.modes = init.modes;
    this.strict = init.strict;
    this.workloadIdentity = init.workloadIdentity;
    this.applicable = init.applicable;
    this.maxRows = init.maxRows;
    this.carry = init.carry;
    this.ruleMap = undefined;
    this.nLocal = init.inventory.workloads.length;
    for (const w of this.inventory.workloads) {
      const id = this.workloadIdentity[w.index] ?? 0;
      const list = this.identityWorkloads.get(id);
      if (list === undefined) this.identityWorkloads.set(id, [w]);
      else list.push(w);
    }
    // Every field is assigned on every path so that all tables share one hidden class (the
    // engine's call site stays monomorphic).
    this.ipDirLo = undefined;
    this.ipDirHi = undefined;
    this.ipSub = undefined;
    this.ipSubPool = undefined;
    if (this.ipBounds.length > 32) {
      const lo = new Int32Array(65536);
      const hi = new Int32Array(65536);
      for (let p = 0; p < 65536; p++) {
        lo[p] = this.searchClass(p * 65536, 0, this.ipBounds.length - 1);
        hi[p] = this.searchClass(p * 65536 + 0xffff, 0, this.ipBounds.length - 1);
      }
      this.ipDirLo = lo;
      this.ipDirHi = hi;
      const sub = new Int32Array(65536).fill(-1);
      let busy = 0;
      for (let p = 0; p < 65536; p++) if ((hi[p] ?? 0) - (lo[p] ?? 0) > 8) busy++;
      const pool = new Int32Array(busy * 512);
      let used = 0;
      for (let p = 0; p < 65536; p++) {
        const l = lo[p] ?? 0;
        const h = hi[p] ?? 0;
        if (h - l <= 8) continue;
        sub[p] = used;
        for (let q = 0; q < 256; q++) {
          const base = p * 65536 + q * 256;
          pool[used + 2 * q] = this.searchClass(base, l, h);
          pool[used + 2 * q + 1] = this.searchClass(base + 255, l, h);
        }
        used += 512;
      }
      this.ipSub = sub;
      this.ipSubPool = pool;
    }
    this.slots = new Int32Array(4 * 1024).fill(-1);
    this.mask = 1023;
    this.pool = new Int32Array(4096);
  }

  /** Number of inventory workloads (valid local ids are 0..workloadCount-1). */
  get workloadCount(): number {
    return this.nLocal;
  }

  /** Number of rows (local, direction, identity, IP class) compiled so far. */
  get rowCount(): number {
    return this.rows;
  }

  /** Bytes held by the typed arrays of this table (rows, port maps, IP classes, per-workload data). */
  get typedBytes(): number {
    return this.slots.byteLength + this.pool.byteLength + this.ipBounds.byteLength + this.modes.byteLength + 2 * 4096 * 4 +
      (this.ipDirLo?.byteLength ?? 0) * 3 + (this.ipSubPool?.byteLength ?? 0) +
      this.strict.byteLength + this.workloadIdentity.byteLength;
  }

  /** @internal carry planning: the applicable policy lists of (workload * 2 + dir). */
  applicableAt(i: number): { istio: PolicyRef[]; syngate: PolicyRef[]; k8s: PolicyRef[] } | undefined {
    return this.applicable[i];
  }

  /** @internal carry planning: strict default-deny flag of a workload. */
  strictAt(local: number): number {
    return this.strict[local] ?? 0;
  }

  /** @internal a retired table stops carrying from its own predecessor (no chains kept alive). */
  dropCarry(): void {
    this.carry = undefined;
  }

  /** Local workload id for NS/NAME, or -1. */
  workloadIndex(namespace: string, name: string): number {
    return this.inventory.byName.get(`${namespace}/${name}`)?.index ?? -1;
  }

  /** Local workload id owning a uint32 IPv4 address, or -1. */
  workloadByIp(ip: number): number {
    return this.inventory.byIp.get(ip >>> 0)?.index ?? -1;
  }

  /** Identity id for a verified (SPIFFE ID, labels); creates it on first sight (cold path). */
  identity(spiffeId: string, labels?: Readonly<Record<string, string>>): number {
    return this.identities.intern(spiffeId, labels);
  }

  /** The IP class of a uint32 address. Allocation-free binary search over the class starts. */
  ipClassOf(ip: number): number {
    const v = ip >>> 0;
    if (this.ipBounds.length === 1) return 0;
    const slot = (Math.imul(v, 0x9e3779b1) >>> 20) & 4095;
    const memo = this.ipMemoVal[slot] ?? 0;
    if (memo !== 0 && this.ipMemoKey[slot] === (v | 0)) return memo - 1;
    const c = this.classOfSlow(v);
    this.ipMemoKey[slot] = v | 0;
    this.ipMemoVal[slot] = c + 1;
    return c;
  }

  private classOfSlow(v: number): number {
    const dl = this.ipDirLo;
    if (dl === undefined) return this.searchClass(v, 0, this.ipBounds.length - 1);
    const p = v >>> 16;
    let lo = dl[p] ?? 0;
    let hi = this.ipDirHi?.[p] ?? lo;
    if (lo === hi) return lo;
    const sub = this.ipSub?.[p] ?? -1;
    if (sub >= 0) {
      const o = sub + 2 * ((v >>> 8) & 255);
      lo = this.ipSubPool?.[o] ?? lo;
      hi = this.ipSubPool?.[o + 1] ?? hi;
      if (lo === hi) return lo;
    }
    return this.searchClass(v, lo, hi);
  }

  /** Largest class index c in [lo, hi] with ipBounds[c] <= v (v uint32). */
  private searchClass(v: number, lo0: number, hi0: number): number {
    const b = this.ipBounds;
    let lo = lo0;
    let hi = hi0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((b[mid] ?? 0) <= v) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Numeric Mode of a local workload (Mode.ENFORCE for an unknown id: fail closed). */
  modeOf(local: number): number {
    return this.modes[local] ?? Mode.ENFORCE;
  }

  ruleId(index: number): string {
    return this.ruleIds[index] ?? `unknown-rule(${index})`;
  }

  /**
   * The verdict word for a new connection. `dir`: Dir.INGRESS at the destination (peer = source),
   * Dir.EGRESS at the source (peer = destination). `peer`: identity id (0 = unauthenticated).
   * `peerIp`: uint32. `ipProto`: 6 TCP, 17 UDP, 132 SCTP. Never throws.
   */
  lookup(dir: number, local: number, peer: number, peerIp: number, ipProto: number, port: number): number {
    // Fail closed on anything but valid integer ids (NaN >>> 0 would otherwise read as 0).
    if ((local | 0) !== local || (peer | 0) !== peer || local >>> 0 >= this.nLocal || peer >>> 0 >= this.identities.size || dir >>> 1 !== 0) {
      return VERDICT_UNKNOWN;
    }
    const c = this.ipClassOf(peerIp);
    const k0 = (local << 1) | dir;
    const slots = this.slots;
    const mask = this.mask;
    let i = hash3(k0, peer, c) & mask;
    let off = -1;
    for (;;) {
      const s = i << 2;
      const a = slots[s];
      if (a === k0 && slots[s + 1] === peer && slots[s + 2] === c) {
        off = slots[s + 3] ?? -1;
        break;
      }
      if (a === -1) {
        off = this.fill(dir, local, peer, c);
        break;
      }
      i = (i + 1) & mask;
    }
    const pool = this.pool;
    const n = pool[off] ?? 0;
    if (n === 1) return pool[off + 2] ?? VERDICT_UNKNOWN;
    const key = (protoFromIpProto(ipProto) << 16) | (port & 0xffff);
    return pool[off + 1 + n + this.mapIndex(off, key)] ?? VERDICT_UNKNOWN;
  }

  /** Rule ids of the AUDIT rules matching this connection (cold path; allocates). */
  auditRules(dir: number, local: number, peer: number, peerIp: number, ipProto: number, port: number): string[] {
    if (local >>> 0 >= this.inventory.workloads.length || peer >>> 0 >= this.identities.size || (dir !== 0 && dir !== 1)) {
      return [];
    }
    const off = this.rowOffset(dir, local, peer, this.ipClassOf(peerIp));
    const key = (protoFromIpProto(ipProto) << 16) | (port & 0xffff);
    const n = this.pool[off] ?? 0;
    const set = this.auditSets[this.pool[off + 1 + 2 * n + this.mapIndex(off, key)] ?? 0] ?? [];
    return set.map((r) => this.ruleId(r));
  }

  /** Builds the row for this peer ahead of its first connection (cold path). */
  prepare(dir: number, local: number, peer: number, peerIp: number): void {
    if (local >>> 0 >= this.inventory.workloads.length || peer >>> 0 >= this.identities.size || (dir !== 0 && dir !== 1)) return;
    this.rowOffset(dir, local, peer, this.ipClassOf(peerIp));
  }

  /** The full decision with per-layer detail, computed from the policies (slow path, for tools). */
  decide(dir: number, local: number, peer: number, peerIp: number, ipProto: number, port: number): Decision {
    if (local >>> 0 >= this.inventory.workloads.length || peer >>> 0 >= this.identities.size || (dir !== 0 && dir !== 1)) {
      return { word: VERDICT_UNKNOWN, audit: [], layers: [] };
    }
    const ctx = this.rowCtx(dir as Dir, local, peer, this.ipBounds[this.ipClassOf(peerIp)] ?? 0);
    return decideAt(ctx, (protoFromIpProto(ipProto) << 16) | (port & 0xffff), this.ruleIds);
  }

  // ----- row cache -------------------------------------------------------------------------------

  private rowOffset(dir: number, local: number, peer: number, c: number): number {
    const k0 = (local << 1) | dir;
    let i = hash3(k0, peer, c) & this.mask;
    for (;;) {
      const s = i << 2;
      const a = this.slots[s];
      if (a === k0 && this.slots[s + 1] === peer && this.slots[s + 2] === c) return this.slots[s + 3] ?? -1;
      if (a === -1) return this.fill(dir, local, peer, c);
      i = (i + 1) & this.mask;
    }
  }

  private mapIndex(off: number, key: number): number {
    const pool = this.pool;
    const n = pool[off] ?? 0;
    let lo = 0;
    let hi = n - 1;
    const base = off + 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((pool[base + mid] ?? 0) <= key) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Computes and (unless full) caches a row; returns its port map offset. */
  private fill(dir: number, local: number, peer: number, c: number): number {
    let off = -1;
    const carry = this.carry;
    if (carry !== undefined && carry.rows[local * 2 + dir] === 1) off = this.carryRow(carry.from, dir, local, peer, c);
    if (off < 0) off = this.buildMap(this.rowCtx(dir as Dir, local, peer, this.ipBounds[c] ?? 0));
    if (this.rows >= this.maxRows) return off;
    if ((this.rows + 1) * 2 > this.mask + 1) this.grow();
    const k0 = (local << 1) | dir;
    let i = hash3(k0, peer, c) & this.mask;
    while (this.slots[i << 2] !== -1) i = (i + 1) & this.mask;
    const s = i << 2;
    this.slots[s] = k0;
    this.slots[s + 1] = peer;
    this.slots[s + 2] = c;
    this.slots[s + 3] = off;
    this.rows++;
    return off;
  }

  /** The previous table's port map offset for this row if it has one (never builds it), else -1. */
  existingRow(dir: number, local: number, peer: number, c: number): number {
    const k0 = (local << 1) | dir;
    let i = hash3(k0, peer, c) & this.mask;
    for (;;) {
      const s = i << 2;
      const a = this.slots[s];
      if (a === k0 && this.slots[s + 1] === peer && this.slots[s + 2] === c) return this.slots[s + 3] ?? -1;
      if (a === -1) return -1;
      i = (i + 1) & this.mask;
    }
  }

  /** Port map `off` of this table as (starts, words, audit rule lists), for carrying into a successor. */
  portMap(off: number): { starts: number[]; words: number[]; audits: number[][] } {
    const n = this.pool[off] ?? 0;
    const starts: number[] = [];
    const words: number[] = [];
    const audits: number[][] = [];
    for (let i = 0; i < n; i++) {
      starts.push(this.pool[off + 1 + i] ?? 0);
      words.push(this.pool[off + 1 + n + i] ?? 0);
      audits.push(this.auditSets[this.pool[off + 1 + 2 * n + i] ?? 0] ?? []);
    }
    return { starts, words, audits };
  }

  private carryRow(prev: PolicyTable, dir: number, local: number, peer: number, c: number): number {
    const off = prev.existingRow(dir, local, peer, c);
    if (off < 0) return -1;
    const memo = this.carryMemo.get(off);
    if (memo !== undefined) {
      this.carried++;
      return memo;
    }
    if (this.ruleMap === undefined) {
      const byId = new Map<string, number>();
      this.ruleIds.forEach((id, i) => byId.set(id, i));
      this.ruleMap = Int32Array.from(prev.ruleIds, (id) => byId.get(id) ?? -1);
    }
    const map = this.ruleMap;
    const m = prev.portMap(off);
    const words: number[] = [];
    for (const w of m.words) {
      const r = map[w >>> VERDICT_RULE_SHIFT] ?? -1;
      if (r < 0) return -1; // cannot happen for an unchanged row family; rebuild to be safe
      words.push((r << VERDICT_RULE_SHIFT) | (w & (VERDICT_ALLOW_BIT | VERDICT_AUDIT_BIT)));
    }
    const audits: number[] = [];
    for (const a of m.audits) {
      const t = a.map((r) => map[r] ?? -1);
      if (t.some((r) => r < 0)) return -1;
      audits.push(this.auditSetId(t));
    }
    this.carried++;
    const stored = this.storeMap(m.starts, words, audits);
    this.carryMemo.set(off, stored); // port maps are shared by many rows: translate each once
    return stored;
  }

  /** Rows copied from the previous revision instead of rebuilt (incremental recompilation). */
  get carriedRows(): number {
    return this.carried;
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    const slots = new Int32Array(cap * 4).fill(-1);
    const mask = cap - 1;
    for (let s = 0; s < old.length; s += 4) {
      const k0 = old[s] ?? -1;
      if (k0 === -1) continue;
      let i = hash3(k0, old[s + 1] ?? 0, old[s + 2] ?? 0) & mask;
      while (slots[i << 2] !== -1) i = (i + 1) & mask;
      slots.set(old.subarray(s, s + 4), i << 2);
    }
    this.slots = slots;
    this.mask = mask;
  }

  private buildMap(ctx: RowCtx): number {
    const cuts = new Set<number>([0, 1 << 16, 2 << 16, 3 << 16]);
    const addCuts = (set: IntervalSet): void => {
      for (let i = 0; i < set.length; i += 2) {
        cuts.add(set[i] ?? 0);
        const end = (set[i + 1] ?? 0) + 1;
        if (end < KEYSPACE) cuts.add(end);
      }
    };
    for (const l of ctx.authz) for (const e of l.entries) addCuts(e.set);
    for (const e of ctx.k8s) addCuts(e.set);
    const starts = [...cuts].sort((a, b) => a - b);
    const outStarts: number[] = [];
    const outWords: number[] = [];
    const outAudit: number[] = [];
    for (const s of starts) {
      const d = decideAt(ctx, s, undefined);
      const a = this.auditSetId(d.audit);
      const n = outWords.length;
      if (n > 0 && outWords[n - 1] === d.word && outAudit[n - 1] === a) continue;
      outStarts.push(s);
      outWords.push(d.word);
      outAudit.push(a);
    }
    return this.storeMap(outStarts, outWords, outAudit);
  }

  /** Stores (or finds the identical) port map; returns its offset in the pool. */
  private storeMap(outStarts: number[], outWords: number[], outAudit: number[]): number {
    const key = `${outStarts.join(',')}|${outWords.join(',')}|${outAudit.join(',')}`;
    const hit = this.mapDedup.get(key);
    if (hit !== undefined) return hit;
    const n = outStarts.length;
    const need = 1 + 3 * n;
    if (this.poolUsed + need > this.pool.length) {
      const bigger = new Int32Array(Math.max(this.pool.length * 2, this.poolUsed + need));
      bigger.set(this.pool.subarray(0, this.poolUsed));
      this.pool = bigger;
    }
    const off = this.poolUsed;
    this.pool[off] = n;
    for (let i = 0; i < n; i++) {
      this.pool[off + 1 + i] = outStarts[i] ?? 0;
      this.pool[off + 1 + n + i] = outWords[i] ?? 0;
      this.pool[off + 1 + 2 * n + i] = outAudit[i] ?? 0;
    }
    this.poolUsed += need;
    this.mapDedup.set(key, off);
    return off;
  }

  private auditSetId(rules: number[]): number {
    if (rules.length === 0) return 0;
    const sorted = [...new Set(rules)].sort((a, b) => a - b);
    const key = sorted.join(',');
    const hit = this.auditDedup.get(key);
    if (hit !== undefined) return hit;
    const id = this.auditSets.length;
    this.auditSets.push(sorted);
    this.auditDedup.set(key, id);
    return id;
  }

  // ----- semantics ------------------------------------------------------------------------------

  private rowCtx(dir: Dir, local: number, peer: number, peerIp: number): RowCtx {
    const w = this.inventory.workloads[local];
    const info = this.identities.get(peer);
    const app = this.applicable[local * 2 + dir];
    const ctx: RowCtx = { authz: [], k8sIsolated: false, k8s: [], strict: dir === Dir.INGRESS && this.strict[local] === 1 };
    if (w === undefined || info === undefined || app === undefined) return ctx;
    for (const layer of ['istio', 'syngate'] as const) {
      const refs = app[layer];
      if (refs.length === 0) continue;
      const l: AuthzLayerCtx = { layer, hasAllow: false, entries: [] };
      for (const ref of refs) {
        const p = ref.policy as AuthzPolicy;
        if (p.action === 'ALLOW') l.hasAllow = true;
        const action = ACTION_CODE[p.action];
        const crules = ref.crules;
        for (let i = 0; i < crules.length; i++) {
          const rule = crules[i];
          if (rule === undefined) continue;
          const set = cruleSet(rule, w, info, peerIp);
          if (set.length > 0) l.entries.push({ action, rule: ref.first + i, set });
        }
      }
      ctx.authz.push(l);
    }
    if (app.k8s.length > 0) {
      ctx.k8sIsolated = true;
      for (const ref of app.k8s) {
        const np = ref.policy as NetworkPolicy;
        const rules = dir === Dir.INGRESS ? np.ingress : np.egress;
        const first = dir === Dir.INGRESS ? ref.first : ref.firstEgress;
        rules.forEach((rule, i) => {
          const set = this.k8sRuleSet(np, rule, dir, w, info, peerIp);
          if (set.length > 0) ctx.k8s.push({ rule: first + i, set });
        });
      }
    }
    return ctx;
  }

  private k8sRuleSet(np: NetworkPolicy, rule: K8sRule, dir: Dir, w: Workload, info: IdentityInfo, ip: number): IntervalSet {
    if (rule.peers !== undefined && !rule.peers.some((pe) => this.k8sPeerMatches(np, pe, info, ip))) return EMPTY;
    if (rule.ports === undefined) return ALL;
    const pairs: number[] = [];
    for (const pp of rule.ports) {
      const slot = pp.protocol === 'TCP' ? Proto.TCP : pp.protocol === 'UDP' ? Proto.UDP : Proto.SCTP;
      const base = slot << 16;
      if (pp.port === undefined) pairs.push(base, base + 0xffff);
      else if (typeof pp.port === 'number') pairs.push(base + pp.port, base + (pp.endPort ?? pp.port));
      else {
        // A named port is the port of that name on the destination pod: the local workload on
        // ingress, the peer's workloads (by identity) on egress.
        const owners = dir === Dir.INGRESS ? [w] : info.authenticated ? (this.identityWorkloads.get(info.id) ?? []) : [];
        for (const o of owners) {
          for (const wp of o.ports) if (wp.name === pp.port && wp.protocol === pp.protocol) pairs.push(base + wp.port, base + wp.port);
        }
      }
    }
    return normalise(pairs);
  }

  private k8sPeerMatches(np: NetworkPolicy, pe: K8sPeer, info: IdentityInfo, ip: number): boolean {
    if ('ipBlock' in pe) {
      const b = pe.ipBlock;
      return cidrContains(b.cidr, ip) && !b.except.some((e) => cidrContains(e, ip));
    }
    if (!info.authenticated) return false;
    if (pe.podSelector !== undefined && !k8sSelectorMatches(pe.podSelector, info.labels)) return false;
    if (pe.namespaceSelector !== undefined) {
      const ns = this.inventory.namespaces.get(info.namespace);
      const labels = ns?.labels ?? { 'kubernetes.io/metadata.name': info.namespace };
      return info.namespace !== '' && k8sSelectorMatches(pe.namespaceSelector, labels);
    }
    return info.namespace === np.namespace;
  }
}

function hash3(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x5bd1e995, 0x9e3779b1);
  h ^= Math.imul(b + 0x7f4a7c15, 0x85ebca77);
  h = (h << 13) | (h >>> 19);
  h ^= Math.imul(c + 0x165667b1, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h;
}

/** Decides one key (proto slot << 16 | port) of a row. `ruleIds` given: fill layer detail. */
function decideAt(ctx: RowCtx, key: number, ruleIds: readonly string[] | undefined): Decision {
  const slot = key >>> 16;
  const audit: number[] = [];
  const layers: LayerDecision[] = [];
  let deny = -1;
  let allow = -1;
  const rid = (r: number): string => ruleIds?.[r] ?? '';
  // Istio-shaped layers vote on TCP only (Istio authorizes TCP connections; syngate tokens ride TCP).
  if (slot === Proto.TCP) {
    for (const l of ctx.authz) {
      // "If there are any DENY policies that match the request, deny the request." (checked first; sticky)
      let d = -1;
      for (const e of l.entries) {
        if (e.action === 1 && contains(e.set, key)) {
          d = e.rule;
          break;
        }
      }
      for (const e of l.entries) if (e.action === 2 && contains(e.set, key)) audit.push(e.rule);
      if (d >= 0) {
        if (deny < 0) deny = d;
        layers.push({ layer: l.layer, verdict: 'deny', rule: rid(d), explicit: true });
        continue;
      }
      if (!l.hasAllow) {
        layers.push({ layer: l.layer, verdict: 'allow', rule: rid(RULE_DEFAULT_ALLOW), explicit: false });
        continue;
      }
      let a = -1;
      for (const e of l.entries) {
        if (e.action === 0 && contains(e.set, key)) {
          a = e.rule;
          break;
        }
      }
      if (a >= 0) {
        if (allow < 0) allow = a;
        layers.push({ layer: l.layer, verdict: 'allow', rule: rid(a), explicit: true });
      } else {
        if (deny < 0) deny = RULE_DEFAULT_DENY;
        layers.push({ layer: l.layer, verdict: 'deny', rule: rid(RULE_DEFAULT_DENY), explicit: true });
      }
    }
  }
  if (ctx.k8sIsolated) {
    let a = -1;
    for (const e of ctx.k8s) {
      if (contains(e.set, key)) {
        a = e.rule;
        break;
      }
    }
    if (a >= 0) {
      if (allow < 0) allow = a;
      layers.push({ layer: 'k8s', verdict: 'allow', rule: rid(a), explicit: true });
    } else {
      if (deny < 0) deny = RULE_K8S_ISOLATION;
      layers.push({ layer: 'k8s', verdict: 'deny', rule: rid(RULE_K8S_ISOLATION), explicit: true });
    }
  }
  const auditBit = audit.length > 0 ? VERDICT_AUDIT_BIT : 0;
  let word: number;
  if (deny >= 0) word = (deny << VERDICT_RULE_SHIFT) | auditBit;
  else if (allow >= 0) word = (allow << VERDICT_RULE_SHIFT) | VERDICT_ALLOW_BIT | auditBit;
  else if (ctx.strict) word = (RULE_DEFAULT_DENY << VERDICT_RULE_SHIFT) | auditBit;
  else word = (RULE_DEFAULT_ALLOW << VERDICT_RULE_SHIFT) | VERDICT_ALLOW_BIT | auditBit;
  return { word, audit, layers };
}

// ----- matching helpers (compile side) ---------------------------------------------------------

export function stringMatches(m: StringMatch, s: string): boolean {
  switch (m.kind) {
    case 'exact':
      return s === m.value;
    case 'prefix':
      return s.startsWith(m.value);
    case 'suffix':
      return s.endsWith(m.value);
    case 'any':
      return s !== '';
  }
}

export function labelExprMatches(e: LabelExpr, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, e.key);
  switch (e.op) {
    case 'exists':
      return has;
    case 'absent':
      return !has;
    case 'eq':
      return has && e.value !== undefined && stringMatches(e.value, labels[e.key] ?? '');
    case 'ne':
      return !(has && e.value !== undefined && stringMatches(e.value, labels[e.key] ?? ''));
  }
}

export function k8sSelectorMatches(sel: K8sSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const k of Object.keys(sel.matchLabels)) {
    if (!Object.prototype.hasOwnProperty.call(labels, k) || labels[k] !== sel.matchLabels[k]) return false;
  }
  for (const req of sel.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    const v = labels[req.key] ?? '';
    switch (req.operator) {
      case 'In':
        if (!has || !req.values.includes(v)) return false;
        break;
      case 'NotIn':
        if (has && req.values.includes(v)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

function anyCidr(list: readonly Cidr[], ip: number): boolean {
  for (const c of list) if (ip >= c.start && ip <= c.end) return true;
  return false;
}

function anyStr(auth: boolean, list: readonly StringMatch[], v: string): boolean {
  if (!auth) return false;
  for (const m of list) if (stringMatches(m, v)) return true;
  return false;
}

function anySa(info: IdentityInfo, list: readonly { ns: string; sa: string }[]): boolean {
  if (!info.authenticated) return false;
  for (const x of list) if (x.ns === info.namespace && x.sa === info.serviceAccount) return true;
  return false;
}

function peerMatches(spec: CPeer, info: IdentityInfo, ip: number): boolean {
  const auth = info.authenticated;
  if (spec.principals !== null && !anyStr(auth, spec.principals, info.principal)) return false;
  if (spec.notPrincipals !== null && anyStr(auth, spec.notPrincipals, info.principal)) return false;
  if (spec.namespaces !== null && !anyStr(auth, spec.namespaces, info.namespace)) return false;
  if (spec.notNamespaces !== null && anyStr(auth, spec.notNamespaces, info.namespace)) return false;
  if (spec.serviceAccounts !== null && !anySa(info, spec.serviceAccounts)) return false;
  if (spec.notServiceAccounts !== null && anySa(info, spec.notServiceAccounts)) return false;
  if (spec.ipBlocks !== null && !anyCidr(spec.ipBlocks, ip)) return false;
  if (spec.notIpBlocks !== null && anyCidr(spec.notIpBlocks, ip)) return false;
  if (spec.labels !== null) {
    if (!auth) return false;
    for (const e of spec.labels) if (!labelExprMatches(e, info.labels)) return false;
  }
  if (spec.networks !== null && (auth || !anyCidr(spec.networks, ip))) return false;
  return true;
}

function tcpSet(list: readonly PortRange[]): IntervalSet {
  const pairs: number[] = [];
  for (const r of list) pairs.push(r.from, r.to);
  return normalise(pairs);
}

function operationSet(op: OperationSpec | undefined): IntervalSet {
  if (op === undefined) return TCP_ALL;
  let s = op.ports === undefined ? TCP_ALL : tcpSet(op.ports);
  if (op.notPorts !== undefined) s = subtract(s, tcpSet(op.notPorts));
  return s;
}

// Compiled, fixed-shape forms of the Istio-shaped model. Row building walks thousands of these;
// giving every rule, peer and condition one hidden class keeps those property loads monomorphic.
// Absent lists are null; port sets are precomputed intervals (they do not depend on the peer).

interface CPeer {
  principals: StringMatch[] | null;
  notPrincipals: StringMatch[] | null;
  namespaces: StringMatch[] | null;
  notNamespaces: StringMatch[] | null;
  serviceAccounts: { ns: string; sa: string }[] | null;
  notServiceAccounts: { ns: string; sa: string }[] | null;
  ipBlocks: Cidr[] | null;
  notIpBlocks: Cidr[] | null;
  labels: LabelExpr[] | null;
  networks: Cidr[] | null;
}

const enum CondKind {
  SRC_IP = 0,
  DST_IP = 1,
  SRC_NS = 2,
  SRC_PRINCIPAL = 3,
}

interface CCond {
  kind: CondKind;
  cidrs: Cidr[] | null;
  notCidrs: Cidr[] | null;
  strs: StringMatch[] | null;
  notStrs: StringMatch[] | null;
}

interface CTo {
  /** Native Egress: the destination peer; null = any. */
  dest: CPeer | null;
  ports: IntervalSet;
}

interface CRule {
  /** An ALLOW rule that needs L7 attributes: never matches. */
  never: boolean;
  /** null = any peer; an entry null = a from element without source (any peer). */
  from: (CPeer | null)[] | null;
  /** null = any operation (all TCP ports). */
  to: CTo[] | null;
  conds: CCond[];
  /** Intersection of the destination.port conditions (TCP_ALL when none). */
  whenPorts: IntervalSet;
}

function cpeer(p: PeerSpec): CPeer {
  return {
    principals: p.principals ?? null, notPrincipals: p.notPrincipals ?? null, namespaces: p.namespaces ?? null,
    notNamespaces: p.notNamespaces ?? null, serviceAccounts: p.serviceAccounts ?? null,
    notServiceAccounts: p.notServiceAccounts ?? null, ipBlocks: p.ipBlocks ?? null, notIpBlocks: p.notIpBlocks ?? null,
    labels: p.labels ?? null, networks: p.networks ?? null,
  };
}

function crule(p: AuthzPolicy, rule: AuthzRule): CRule {
  // ztunnel: an ALLOW rule that needs L7 attributes can never be satisfied at L4. DENY/AUDIT rules
  // drop their L7 parts (the L7 source fields and conditions are not in the model; see parse.ts).
  const never = rule.l7 && p.action === 'ALLOW';
  const conds: CCond[] = [];
  let whenPorts = TCP_ALL;
  for (const c of rule.when ?? []) {
    if (c.l7) continue;
    switch (c.key) {
      case 'source.ip':
      case 'destination.ip':
        conds.push({ kind: c.key === 'source.ip' ? CondKind.SRC_IP : CondKind.DST_IP, cidrs: c.values ?? null, notCidrs: c.notValues ?? null, strs: null, notStrs: null });
        break;
      case 'source.namespace':
      case 'source.principal':
        conds.push({ kind: c.key === 'source.namespace' ? CondKind.SRC_NS : CondKind.SRC_PRINCIPAL, cidrs: null, notCidrs: null, strs: c.values ?? null, notStrs: c.notValues ?? null });
        break;
      case 'destination.port':
        if (c.values !== undefined) whenPorts = intersect(whenPorts, tcpSet(c.values));
        if (c.notValues !== undefined) whenPorts = subtract(whenPorts, tcpSet(c.notValues));
        break;
    }
  }
  return {
    never,
    from: rule.from === undefined ? null : rule.from.map((f) => (f.source === undefined ? null : cpeer(f.source))),
    to: rule.to === undefined ? null : rule.to.map((t) => ({ dest: t.destination === undefined ? null : cpeer(t.destination), ports: operationSet(t.operation) })),
    conds,
    whenPorts,
  };
}

/** The TCP port set on which a compiled Istio-shaped rule matches this (workload, peer), or EMPTY. */
function cruleSet(rule: CRule, w: Workload, info: IdentityInfo, ip: number): IntervalSet {
  if (rule.never) return EMPTY;
  const from = rule.from;
  if (from !== null) {
    let hit = false;
    for (let i = 0; i < from.length; i++) {
      const f = from[i];
      if (f === null || f === undefined || peerMatches(f, info, ip)) {
        hit = true;
        break;
      }
    }
    if (!hit) return EMPTY;
  }
  const conds = rule.conds;
  for (let i = 0; i < conds.length; i++) {
    const c = conds[i];
    if (c === undefined) continue;
    if (c.kind === CondKind.SRC_IP || c.kind === CondKind.DST_IP) {
      const v = c.kind === CondKind.SRC_IP ? ip : w.ipU32;
      if (c.cidrs !== null && !anyCidr(c.cidrs, v)) return EMPTY;
      if (c.notCidrs !== null && anyCidr(c.notCidrs, v)) return EMPTY;
    } else {
      const v = c.kind === CondKind.SRC_NS ? info.namespace : info.principal;
      if (c.strs !== null && !anyStr(info.authenticated, c.strs, v)) return EMPTY;
      if (c.notStrs !== null && anyStr(info.authenticated, c.notStrs, v)) return EMPTY;
    }
  }
  const to = rule.to;
  if (to === null) return rule.whenPorts;
  let set = EMPTY;
  for (let i = 0; i < to.length; i++) {
    const t = to[i];
    if (t === undefined || (t.dest !== null && !peerMatches(t.dest, info, ip))) continue;
    set = set.length === 0 ? t.ports : union(set, t.ports);
  }
  return rule.whenPorts === TCP_ALL ? set : intersect(set, rule.whenPorts);
}

function authzSelects(p: AuthzPolicy, w: Workload): boolean {
  const s = p.selector;
  if (s === undefined) return true;
  if (s.matchLabels !== undefined) {
    for (const k of Object.keys(s.matchLabels)) {
      if (!Object.prototype.hasOwnProperty.call(w.labels, k) || w.labels[k] !== s.matchLabels[k]) return false;
    }
  }
  if (s.labels !== undefined && !s.labels.every((e) => labelExprMatches(e, w.labels))) return false;
  return true;
}

function collectCidrs(p: Policy, out: Cidr[]): void {
  const peer = (s: PeerSpec | undefined): void => {
    if (s === undefined) return;
    for (const l of [s.ipBlocks, s.notIpBlocks, s.networks]) if (l !== undefined) out.push(...l);
  };
  if (p.kind === 'NetworkPolicy') {
    for (const r of [...p.ingress, ...p.egress]) {
      for (const pe of r.peers ?? []) if ('ipBlock' in pe) out.push(pe.ipBlock.cidr, ...pe.ipBlock.except);
    }
    return;
  }
  for (const r of p.rules) {
    for (const f of r.from ?? []) peer(f.source);
    for (const t of r.to ?? []) peer(t.destination);
    for (const c of r.when ?? []) {
      if (!c.l7 && c.key === 'source.ip') {
        if (c.values !== undefined) out.push(...c.values);
        if (c.notValues !== undefined) out.push(...c.notValues);
      }
    }
  }
}

/** Deciding order inside a layer: by namespace, then name (rules in document order). */
function byNsName(a: Policy, b: Policy): number {
  return a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Compiles validated policies for an inventory. Never throws; the result is ready for lookup().
 * Rows are built on first use (or by prepare()); everything else is computed here.
 */
export function compile(inventory: Inventory, policies: readonly Policy[], opts: CompileOptions = {}): PolicyTable {
  const identities = opts.identities ?? opts.previous?.identities ?? new IdentityRegistry();
  const revision = opts.revision ?? (opts.previous === undefined ? 1 : opts.previous.revision + 1);
  const rootNamespace = opts.rootNamespace ?? inventory.rootNamespace ?? 'istio-system';
  const sorted = [...policies].sort(byNsName);

  const ruleIds: string[] = ['default-allow', 'default-deny', 'k8s-isolation'];
  const refs: PolicyRef[] = [];
  for (const p of sorted) {
    const id = policyId(p);
    const ref: PolicyRef = { policy: p, crules: p.kind === 'NetworkPolicy' ? [] : p.rules.map((r) => crule(p, r)), first: ruleIds.length, firstEgress: -1 };
    if (p.kind === 'NetworkPolicy') {
      p.ingress.forEach((_, i) => ruleIds.push(`${id}#ingress[${i}]`));
      ref.firstEgress = ruleIds.length;
      p.egress.forEach((_, i) => ruleIds.push(`${id}#egress[${i}]`));
    } else {
      p.rules.forEach((_, i) => ruleIds.push(`${id}#rules[${i}]`));
    }
    refs.push(ref);
  }

  // IP classes: every CIDR start and end+1 is a class boundary.
  const cidrs: Cidr[] = [];
  for (const p of sorted) collectCidrs(p, cidrs);
  const cuts = new Set<number>([0]);
  for (const c of cidrs) {
    if (c.v6) continue;
    cuts.add(c.start);
    if (c.end < 0xffffffff) cuts.add(c.end + 1);
  }
  const ipBounds = Uint32Array.from([...cuts].sort((a, b) => a - b));

  // Applicability: namespace-local policies plus the root namespace's Istio/native ones.
  const byNs = new Map<string, PolicyRef[]>();
  const rootRefs: PolicyRef[] = [];
  for (const ref of refs) {
    const p = ref.policy;
    if (p.kind !== 'NetworkPolicy' && p.namespace === rootNamespace) {
      rootRefs.push(ref);
      continue;
    }
    const l = byNs.get(p.namespace);
    if (l === undefined) byNs.set(p.namespace, [ref]);
    else l.push(ref);
  }
  const n = inventory.workloads.length;
  const modes = new Uint8Array(n);
  const strict = new Uint8Array(n);
  const workloadIdentity = new Int32Array(n);
  const applicable: { istio: PolicyRef[]; syngate: PolicyRef[]; k8s: PolicyRef[] }[] = new Array(n * 2);
  for (const w of inventory.workloads) {
    modes[w.index] = w.mode === 'audit' ? Mode.AUDIT : w.mode === 'off' ? Mode.OFF : Mode.ENFORCE;
    strict[w.index] = w.defaultDeny || opts.defaultDeny === true ? 1 : 0;
    workloadIdentity[w.index] = identities.intern(w.spiffeId, w.labels);
    const ing = { istio: [] as PolicyRef[], syngate: [] as PolicyRef[], k8s: [] as PolicyRef[] };
    const eg = { istio: [] as PolicyRef[], syngate: [] as PolicyRef[], k8s: [] as PolicyRef[] };
    const local = byNs.get(w.namespace) ?? [];
    const cands = w.namespace === rootNamespace ? [...rootRefs, ...local] : [...local, ...rootRefs];
    cands.sort((a, b) => byNsName(a.policy, b.policy));
    for (const ref of cands) {
      const p = ref.policy;
      if (p.kind === 'NetworkPolicy') {
        if (!k8sSelectorMatches(p.podSelector, w.labels)) continue;
        if (p.ingressIsolated) ing.k8s.push(ref);
        if (p.egressIsolated) eg.k8s.push(ref);
      } else {
        if (!authzSelects(p, w)) continue;
        const tgt = p.direction === 'ingress' ? ing : eg;
        if (p.layer === 'istio') tgt.istio.push(ref);
        else tgt.syngate.push(ref);
      }
    }
    applicable[w.index * 2 + Dir.INGRESS] = ing;
    applicable[w.index * 2 + Dir.EGRESS] = eg;
  }
  const carry = carryPlan(opts.previous, inventory, ipBounds, strict, applicable);
  if (opts.previous !== undefined) opts.previous.dropCarry(); // no chains of retired tables
  return new PolicyTable({
    revision: Math.max(1, revision), inventory, identities, rootNamespace, policies: sorted, ruleIds, ipBounds, modes,
    strict, workloadIdentity, applicable, maxRows: opts.maxRows ?? 4_000_000, carry,
  });
}

/** Which row families of `prev` are provably unchanged and may be copied (see PolicyTable.carry). */
function carryPlan(
  prev: PolicyTable | undefined, inventory: Inventory, ipBounds: Uint32Array, strict: Uint8Array,
  applicable: { istio: PolicyRef[]; syngate: PolicyRef[]; k8s: PolicyRef[] }[],
): { from: PolicyTable; rows: Uint8Array } | undefined {
  if (prev === undefined || prev.inventory !== inventory || prev.ipBounds.length !== ipBounds.length) return undefined;
  for (let i = 0; i < ipBounds.length; i++) if (prev.ipBounds[i] !== ipBounds[i]) return undefined;
  const rows = new Uint8Array(applicable.length);
  let any = false;
  for (let i = 0; i < applicable.length; i++) {
    const a = applicable[i];
    const b = prev.applicableAt(i);
    if (a === undefined || b === undefined || prev.strictAt(i >> 1) !== (strict[i >> 1] ?? 0)) continue;
    const same = (x: PolicyRef[], y: PolicyRef[]): boolean => x.length === y.length && x.every((r, k) => r.policy === y[k]?.policy);
    if (same(a.istio, b.istio) && same(a.syngate, b.syngate) && same(a.k8s, b.k8s)) {
      rows[i] = 1;
      any = true;
    }
  }
  return any ? { from: prev, rows } : undefined;
}
