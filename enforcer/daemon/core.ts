// The engine core the daemon drives: inventory + policy + identity + engine + datapath.
// Invariants:
//  - the first reload() starts with the JIT warm-up of the handshake path (warmup.ts), before the
//    agent, table and engines in force are built; it is bounded and cannot fail the start;
//  - reload() builds the complete new state (inventory, credentials, compiled policy) before it
//    touches anything in force; any error throws with FILE:LINE:COL and leaves the old state;
//  - the swap is one engine.setPolicy() call (atomic for the hot path, which runs on the same
//    thread); flows the new table denies are revoked by the engine, and on nfqueue their kernel
//    conntrack entries are dropped so the next packet of each reaches the engine and is answered
//    with RSTs built from that live packet (docs/deploy.md, "Revocation");
//  - the frame handler never throws and allocates nothing per packet beyond the engine's own work;
//  - pcap with conntrack.stateFile: a graceful detach saves the authorized established flows of
//    both engines (after the datapath stopped, so nothing changes under it) atomically (tmp +
//    rename, mode 0600); attach restores a file younger than stateMaxAgeSeconds BEFORE the
//    datapath starts, re-checks the restored flows against the policy in force (setPolicy: flows
//    it denies are revoked), and deletes the file whatever happened. A bad file is logged and
//    ignored (fail closed: its flows are dropped as unknown). Peer ids are saved with their
//    identity (SPIFFE ID + labels) and re-interned in the new table, so ids never alias;
//  - the deny-list (revocation) is read with the rest of the new state and applied at commit:
//    the agent's deny-lists are synced (new handshakes of a revoked peer fail with REVOKED), then
//    when entries were added both engines revoke the tracked flows of a revoked peer
//    (Engine.revokeFlows, the same REVOKE events, RSTs and kernel conntrack drop as a policy swap);
//    flows restored from a state file are checked against its SPIFFE IDs only (their credential
//    serial was not saved);
//  - flow records come only from engine events (one at authorization, one at close/revocation/
//    reject) and from the interval scan of established flows, never per packet.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { SyngateError } from '../errors.js';
import { reasonLabel } from '../reasons.js';
import {
  Engine, EventKind, EventVerdict, LinkType, TablePolicyPort, toFlowRecord,
  type AgentHandshake, type EngineEvent, type FlowRecord, type TablePolicyOptions,
} from '../engine/index.js';
import { CtFlag, CtState, PEER_NONE, restoreConntrack, snapshotConntrack } from '../conntrack/index.js';
import { createDatapath, createEngineHandler, type AdapterState, type DatapathAdapter } from '../datapath/index.js';
import { IdentityAgent, NODE_CRED_FILE, NODE_KEY_FILE, credentialMatchesKey, decodeCredential, loadNodeIdentityDir, loadTrustBundleFile, type LocalWorkload, type NodeIdentity, type PeerIdentity, type TrustBundle } from '../identity/index.js';
import { compile, formatDiagnostic, loadInventoryFile, loadInventoryText, loadPolicyPaths, type Diagnostic, type Inventory, type PolicyTable } from '../policy/index.js';
import type { DaemonConfig } from './config.js';
import type { EnforcerCore, ReloadResult, StateGroup } from './daemon.js';
import type { Logger } from './log.js';
import { CounterSync, type SyngateMetrics } from './metrics.js';
import { LimitReporter } from './limits.js';
import type { WatchGroup } from './watch.js';
import { KubeClient, KubeWatcher, inClusterApiServer, type KubeInventoryState } from './k8s.js';
import { WARMUP_BUDGET_MS, WARMUP_HANDSHAKES, warmHandshakePath, type WarmupResult } from './warmup.js';
import { CredentialTrackingPort, EMPTY_DENY_LIST, diffDenyList, loadDenyListState, selectDenied, syncAgent, type DenyList } from './revocation.js';

/** Files of a node credential folder (as `syngate ca issue --node` writes them). */
export const CREDENTIAL_FILE = NODE_CRED_FILE;
export { NODE_KEY_FILE };

function u32ToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function throwDiagnostics(what: string, diags: readonly Diagnostic[]): never {
  const errors = diags.filter((d) => d.severity === 'error');
  const shown = errors.slice(0, 5).map(formatDiagnostic).join('; ');
  throw new SyngateError('SYNGATE_DAEMON_START', `${what}: ${shown}${errors.length > 5 ? ` (and ${errors.length - 5} more)` : ''}`);
}

export interface Credentials {
  bundle: TrustBundle;
  node: NodeIdentity;
  /** Text of the inputs, to tell whether a reload changed anything. */
  fingerprint: string;
}

/** Reads the CA bundle and this node's credential (identity's loaders: the key must match). Throws SyngateError naming the file. */
export function loadCredentials(cfg: DaemonConfig): Credentials {
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new SyngateError('SYNGATE_DAEMON_START', `credentials: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
  const bundle = wrap(() => loadTrustBundleFile(cfg.identity.caBundle));
  const dir = cfg.identity.credentials;
  // A shared folder (one Kubernetes Secret for every node) holds `<node>.cred` + `<node>.key`;
  // a node's own folder holds node.cred + node.key, as `syngate ca issue --node` writes them.
  const perNode = existsSync(join(dir, `${cfg.node}.cred`));
  const credPath = join(dir, perNode ? `${cfg.node}.cred` : NODE_CRED_FILE);
  const keyPath = join(dir, perNode ? `${cfg.node}.key` : NODE_KEY_FILE);
  const node = wrap(() => {
    if (!perNode) return loadNodeIdentityDir(dir);
    const credential = new Uint8Array(readFileSync(credPath));
    if (decodeCredential(credential) === undefined) throw new Error(`${credPath}: not a syngate node credential`);
    const nodeKey = createPrivateKey(readFileSync(keyPath, 'utf8'));
    if (!credentialMatchesKey(credential, nodeKey)) throw new Error(`${keyPath}: does not match the node credential ${credPath}`);
    return { credential, nodeKey };
  });
  const bundleText = wrap(() => readFileSync(cfg.identity.caBundle, 'utf8'));
  const keyText = wrap(() => readFileSync(keyPath, 'utf8'));
  return { bundle, node, fingerprint: `${bundleText}\0${Buffer.from(node.credential).toString('base64')}\0${keyText}` };
}

/** Workloads of the Kubernetes watcher as an inventory (the policy domain's format). */
export function inventoryFromKube(state: KubeInventoryState, cfg: DaemonConfig): Inventory {
  const wls = state.workloads();
  const namespaces = new Map<string, Record<string, string>>();
  for (const w of wls) namespaces.set(w.namespace, w.namespaceLabels);
  const doc = {
    trustDomain: cfg.trustDomain,
    mode: cfg.mode,
    namespaces: [...namespaces].map(([name, labels]) => ({ name, labels })),
    workloads: wls.map((w) => ({
      name: w.name,
      namespace: w.namespace,
      serviceAccount: w.serviceAccount,
      labels: w.labels,
      ip: w.ip,
      node: w.node,
      ports: w.ports.map((p) => (p.name === null ? { port: p.port, protocol: p.protocol } : { name: p.name, port: p.port, protocol: p.protocol })),
    })),
  };
  const r = loadInventoryText(stringify(doc), `kubernetes:${state.nodeName}`);
  if (r.inventory === undefined) throwDiagnostics('kubernetes inventory', r.diagnostics);
  return r.inventory;
}

/** Kernel NFQUEUE drops, from /proc/net/netfilter/nfnetlink_queue (queue -> dropped). */
export function readNfqueueDrops(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // queue_number peer_portid queue_total copy_mode copy_range queue_dropped user_dropped id_sequence 1
    if (f.length < 7) continue;
    const q = Number(f[0]);
    const dropped = Number(f[5]) + Number(f[6]);
    if (Number.isInteger(q) && Number.isFinite(dropped)) out.set(q, dropped);
  }
  return out;
}

export class EngineCore implements EnforcerCore {
  private inventory: Inventory | null = null;
  private creds: Credentials | null = null;
  private table: PolicyTable | null = null;
  private agent: IdentityAgent | null = null;
  private readonly registered = new Map<string, LocalWorkload>();
  private readonly refused = new Set<string>();
  private port: TablePolicyPort | null = null;
  /** Handles every frame except the server end of same-node flows. */
  engine: Engine<AgentHandshake, PeerIdentity> | null = null;
  /** The server end of flows between two local workloads (same agent, same table; see createEngineHandler). */
  twin: Engine<AgentHandshake, PeerIdentity> | null = null;
  /** Identity ports of `engine` and `twin` (they remember which credential vouched for each peer). */
  private readonly idPorts = new Map<Engine<AgentHandshake, PeerIdentity>, CredentialTrackingPort>();
  private deny: DenyList | null = null;
  adapter: DatapathAdapter | null = null;
  private revision = 0;
  private kube: KubeWatcher | null = null;
  private readonly sync = new CounterSync();
  private lastInterval = 0;
  private readonly pendingRecords: FlowRecord[] = [];
  private conntrackWarned = false;
  private warmed = false;
  private readonly limits: LimitReporter;
  private readonly lastMisses = new Map<string, number>();
  private cacheEvictions = { credential: 0, document: 0, pair: 0 };
  readonly linkType: LinkType;

  constructor(
    readonly cfg: DaemonConfig,
    private readonly log: Logger,
    private readonly metrics: SyngateMetrics,
  ) {
    this.linkType = cfg.datapath.type === 'nfqueue' ? LinkType.RAW_IPV4 : LinkType.ETHERNET;
    this.limits = new LimitReporter(log);
  }

  /** An engine as this daemon runs it (also used, with throwaway ports, by the JIT warm-up). */
  newEngine(identity: CredentialTrackingPort, port: TablePolicyPort, name: string, capacity: number): Engine<AgentHandshake, PeerIdentity> {
    const c = this.cfg.conntrack;
    return new Engine<AgentHandshake, PeerIdentity>({
      identity,
      policy: port,
      name,
      linkType: this.linkType,
      conntrack: {
        capacity,
        halfOpenCap: Math.min(c.halfOpenMax, capacity, 65535),
        halfOpenPerSource: c.halfOpenPerSource,
        timeouts: { halfOpenMs: c.timeouts.halfOpenSeconds * 1000, establishedMs: c.timeouts.establishedSeconds * 1000, closingMs: c.timeouts.closingSeconds * 1000 },
      },
      ...(this.cfg.envoy.inboundPort === null ? {} : { envoyPort: this.cfg.envoy.inboundPort }),
      redirectExclude: this.cfg.envoy.excludePorts.map((r) => [r.from, r.to] as const),
      rejectRstPerSecond: this.cfg.rejects.rstPerSecond,
    });
  }

  /**
   * Runs the handshake path through throwaway engines until V8 has optimized it (warmup.ts), so the
   * first real connections do not pay for the interpreter. Called once, at the start of the first
   * reload, before the agent, table and engines in force exist. Logged; a failure only logs.
   */
  warmUp(handshakes = WARMUP_HANDSHAKES, budgetMs = WARMUP_BUDGET_MS): WarmupResult {
    const r = warmHandshakePath({
      linkType: this.linkType,
      build: (agent, port, name, capacity) => this.newEngine(new CredentialTrackingPort(agent), port, name, capacity),
      handshakes,
      budgetMs,
      cfg: this.cfg,
    });
    const fields = { handshakes: r.completed, elapsedMs: Math.round(r.elapsedMs) };
    if (r.error === null) this.log.info('handshake path warmed up', fields);
    else this.log.warn('handshake path warm-up stopped early (enforcement is unaffected)', { ...fields, error: r.error });
    return r;
  }

  watchGroups(): WatchGroup[] {
    const g: WatchGroup[] = [
      { name: 'policy', paths: this.cfg.policy.paths },
      { name: 'credentials', paths: [this.cfg.identity.caBundle, this.cfg.identity.credentials] },
    ];
    if (this.cfg.inventory.source === 'static') g.push({ name: 'inventory', paths: [this.cfg.inventory.file] });
    if (this.cfg.revocation.file !== null) g.push({ name: 'revocation', paths: [this.cfg.revocation.file] });
    return g;
  }

  private loadInventory(): Inventory {
    const inv = this.cfg.inventory;
    if (inv.source === 'static') {
      const r = loadInventoryFile(inv.file);
      if (r.inventory === undefined || r.diagnostics.some((d) => d.severity === 'error')) throwDiagnostics('inventory', r.diagnostics);
      return r.inventory;
    }
    if (this.kube === null) throw new SyngateError('SYNGATE_DAEMON_START', 'kubernetes inventory: the watcher is not started');
    return inventoryFromKube(this.kube.state, this.cfg);
  }

  async reload(groups: readonly StateGroup[]): Promise<ReloadResult> {
    // Before anything of ours exists: objects built before the warm-up changed the shape V8
    // tracks for their class would make the optimized code deoptimize on their first use.
    if (!this.warmed) {
      this.warmed = true;
      this.warmUp();
    }
    const now = Date.now();
    const warnings: string[] = [];
    // 1. Build everything new, touching nothing in force.
    // The deny-list first: its errors name a small file an operator just edited.
    const deny = groups.includes('revocation') || this.deny === null ? loadDenyListState(this.cfg.revocation) : this.deny;
    const inventory = groups.includes('inventory') || this.inventory === null ? this.loadInventory() : this.inventory;
    let creds = this.creds;
    if (groups.includes('credentials') || creds === null) {
      const c = loadCredentials(this.cfg);
      if (creds === null || c.fingerprint !== creds.fingerprint) creds = c;
    }
    const loaded = loadPolicyPaths(this.cfg.policy.paths);
    if (loaded.diagnostics.some((d) => d.severity === 'error')) throwDiagnostics('policy', loaded.diagnostics);
    for (const d of loaded.diagnostics) if (d.severity === 'warning') warnings.push(formatDiagnostic(d));
    const table = compile(inventory, loaded.policies, {
      rootNamespace: this.cfg.policy.rootNamespace,
      defaultDeny: this.cfg.policy.defaultDeny,
      ...(this.table === null ? {} : { previous: this.table }),
    });

    // 2. Identity: create, or rotate credentials / trust bundle in place.
    let agent = this.agent;
    if (agent === null) {
      if (creds === null) throw new SyngateError('SYNGATE_DAEMON_START', 'credentials missing');
      agent = new IdentityAgent({ node: creds.node, bundle: creds.bundle, config: { clockSkewSec: this.cfg.identity.clockSkewSeconds }, nowMs: now });
    } else if (creds !== this.creds && creds !== null) {
      agent.setTrustBundle(creds.bundle);
      agent.setNodeCredential(creds.node, now);
      this.log.info('credentials rotated', { caBundle: this.cfg.identity.caBundle, credentials: this.cfg.identity.credentials });
    }
    for (const w of inventory.workloads) {
      if (!w.enforcer || w.node !== this.cfg.node) continue;
      const key = `${w.namespace}/${w.name}@${w.ip}@${w.spiffeId}@${JSON.stringify(w.labels)}`;
      if (this.registered.has(key) || this.refused.has(key)) continue;
      try {
        this.registered.set(key, agent.registerWorkload({ spiffeId: w.spiffeId, labels: { ...w.labels }, ip: w.ip }, now));
      } catch (e) {
        // One workload the identity agent refuses (e.g. labels too large for a SYN token) must not
        // block every other workload: it gets no identity, so its flows fail closed.
        this.refused.add(key);
        warnings.push(`${w.pos.file}:${w.pos.line}:${w.pos.col}: workload ${w.namespace}/${w.name}: no identity, its connections will be refused: ${e instanceof Error ? e.message : String(e)}`);
      }
    }

    // 3. Commit: the engine swap (revocation happens here).
    const portOpts: TablePolicyOptions = { node: this.cfg.node, redirect: this.cfg.envoy.inboundPort !== null };
    this.inventory = inventory;
    this.creds = creds;
    this.table = table;
    this.agent = agent;
    this.revision = table.revision;
    const change = diffDenyList(this.deny ?? EMPTY_DENY_LIST, deny);
    syncAgent(agent, change);
    this.deny = deny;
    let revoked = 0;
    let denyRevoked = 0;
    if (this.engine === null) {
      const c = this.cfg.conntrack;
      const port = new TablePolicyPort(table, portOpts);
      const make = (): Engine<AgentHandshake, PeerIdentity> => {
        const identity = new CredentialTrackingPort(agent);
        const e = this.newEngine(identity, port, this.cfg.node, c.capacity);
        this.idPorts.set(e, identity);
        return e;
      };
      this.engine = make();
      this.twin = make();
      this.port = port;
      this.metrics.conntrackCapacity.set(this.engine.ct.capacity + this.twin.ct.capacity);
    } else {
      const port = new TablePolicyPort(table, portOpts);
      // Events before the swap are named by the old table.
      this.drainEvents(now, (rec) => this.pendingRecords.push(rec));
      const r = this.engine.setPolicy(port, now);
      const r2 = this.twin?.setPolicy(port, now);
      this.port = port;
      revoked = r.revoked + (r2?.revoked ?? 0);
      // Flows of a newly revoked peer (the agent already refuses its new handshakes).
      if (change.addedSerials.length + change.addedSpiffeIds.length > 0) denyRevoked = this.revokeDenied(now);
      revoked += denyRevoked;
      // Events of the revocation: records now, and the kernel side of each revoked flow.
      const tuples: { s: string; d: string; sp: number; dp: number }[] = [];
      this.drainEvents(now, (rec, ev) => {
        this.pendingRecords.push(rec);
        if (ev.kind === EventKind.REVOKE && ev.verdict === EventVerdict.DENY) tuples.push({ s: u32ToIp(ev.saddr), d: u32ToIp(ev.daddr), sp: ev.sport, dp: ev.redirectPort !== 0 ? ev.redirectPort : ev.dport });
      });
      if (tuples.length > 0 && this.cfg.datapath.type === 'nfqueue') await this.forgetKernelFlows(tuples);
    }
    const denyList = {
      serials: deny.serials.size,
      spiffeIds: deny.spiffeIds.size,
      added: change.addedSerials.length + change.addedSpiffeIds.length,
      removed: change.removedSerials.length + change.removedSpiffeIds.length,
      revoked: denyRevoked,
    };
    return { revision: this.revision, rules: table.ruleIds.length, identities: table.identities.size, workloads: inventory.workloads.length, revoked, warnings, denyList };
  }

  /** Revokes, on both engines, the tracked flows whose peer is on the deny-list in force. */
  private revokeDenied(now: number): number {
    const deny = this.deny;
    const port = this.port;
    if (deny === null || port === null || deny.serials.size + deny.spiffeIds.size === 0) return 0;
    let n = 0;
    for (const e of this.engines()) {
      const ids = this.idPorts.get(e);
      if (ids !== undefined) n += e.revokeFlows(selectDenied(e.ct, port, ids, deny), now).revoked;
    }
    return n;
  }

  /**
   * nfqueue: authorized flows bypass userspace through their connmark. Deleting their kernel
   * conntrack entries makes the next packet of each pass the queue rules again (a mid-stream
   * packet starts a fresh entry without our mark), so the engine sees it and resets the flow.
   */
  private async forgetKernelFlows(tuples: { s: string; d: string; sp: number; dp: number }[]): Promise<void> {
    await Promise.all(
      tuples.map(
        (t) =>
          new Promise<void>((resolveP) => {
            execFile('conntrack', ['-D', '-p', 'tcp', '-s', t.s, '-d', t.d, '--sport', String(t.sp), '--dport', String(t.dp)], { timeout: 2000 }, (err, _o, stderr) => {
              if (err !== null && !/0 flow entries/.test(stderr)) {
                if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
                  if (!this.conntrackWarned) this.log.warn('conntrack(8) not found: revoked nfqueue flows are reset only when the policy engine next sees them (install conntrack)', {});
                  this.conntrackWarned = true;
                } else this.log.warn('could not drop the kernel conntrack entry of a revoked flow', { flow: `${t.s}:${t.sp} -> ${t.d}:${t.dp}`, error: stderr.trim() || err.message });
              }
              resolveP();
            });
          }),
      ),
    );
  }

  /** Identities of the saved peer ids, carried in the snapshot's meta bytes. */
  private peerMeta(): Uint8Array {
    const peers: Record<string, { spiffeId: string; labels: Record<string, string> }> = {};
    const table = this.table;
    if (table !== null) {
      for (const e of this.engines()) {
        const ct = e.ct;
        for (let s = 0; s < ct.slots; s++) {
          if (ct.state(s) === CtState.FREE) continue;
          const id = ct.peerId(s);
          const info = table.identities.get(id);
          if (info !== undefined && info.authenticated && peers[id] === undefined) peers[id] = { spiffeId: info.spiffeId, labels: { ...info.labels } };
        }
      }
    }
    return new TextEncoder().encode(JSON.stringify({ peers }));
  }

  /** Graceful stop (pcap): writes the state file. Never throws. */
  private saveFlows(): void {
    const file = this.cfg.conntrack.stateFile;
    if (file === null || this.cfg.datapath.type !== 'pcap' || this.engine === null) return;
    const now = Date.now();
    try {
      const bytes = snapshotConntrack(this.engines().map((e) => e.ct), now, now, this.peerMeta());
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, bytes, { mode: 0o600 });
      renameSync(tmp, file);
      const flows = this.engines().reduce((n, e) => n + e.ct.size, 0);
      this.log.info('conntrack state saved for the next start', { stateFile: file, bytes: bytes.length, tracked: flows });
    } catch (e) {
      this.log.error('could not save the conntrack state; established flows will be dropped after the restart', { stateFile: file, error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Start (pcap): restores a recent state file into the engines, re-checks it against policy, deletes it. Never throws. */
  private restoreFlows(): void {
    const file = this.cfg.conntrack.stateFile;
    if (file === null || this.cfg.datapath.type !== 'pcap' || this.engine === null || !existsSync(file)) return;
    const now = Date.now();
    try {
      const ageMs = now - statSync(file).mtimeMs;
      const maxMs = this.cfg.conntrack.stateMaxAgeSeconds * 1000;
      if (ageMs > maxMs) {
        this.log.warn('conntrack state file is too old; ignored (its flows are dropped as unknown)', { stateFile: file, ageSeconds: Math.round(ageMs / 1000), maxAgeSeconds: this.cfg.conntrack.stateMaxAgeSeconds });
        return;
      }
      const bytes = new Uint8Array(readFileSync(file));
      const tables = this.engines().map((e) => e.ct);
      // Only the restored flows are in the tables: the datapath has not started yet.
      const r = restoreConntrack(tables, bytes, now, now);
      // Saved peer ids -> ids of the table in force (same identity, possibly new numbering).
      let peers: Record<string, { spiffeId?: unknown; labels?: unknown }> = {};
      try {
        const parsed = JSON.parse(new TextDecoder().decode(r.meta)) as { peers?: typeof peers };
        if (parsed.peers !== undefined && typeof parsed.peers === 'object' && parsed.peers !== null) peers = parsed.peers;
      } catch {
        peers = {};
      }
      const table = this.table;
      const unauth = this.port?.ipPeerId(0) ?? PEER_NONE;
      for (const ct of tables) {
        for (let s = 0; s < ct.slots; s++) {
          if (ct.state(s) === CtState.FREE) continue;
          const old = ct.peerId(s);
          if (old === PEER_NONE) continue;
          const p = peers[old];
          const ok = p !== undefined && typeof p.spiffeId === 'string' && typeof p.labels === 'object' && p.labels !== null && table !== null;
          ct.setVerdict(s, ct.reason(s), ct.ruleId(s), ok ? table.identity(p.spiffeId as string, p.labels as Record<string, string>) : unauth);
        }
      }
      const restored = r.restored.reduce((a, b) => a + b, 0);
      // Re-check every restored flow against the policy in force: denied ones are revoked.
      let revoked = 0;
      const port = this.port;
      if (port !== null) for (const e of this.engines()) revoked += e.setPolicy(port, now).revoked;
      revoked += this.revokeDenied(now);
      this.log.info('conntrack state restored', { stateFile: file, restored, revoked, expired: r.expired, duplicate: r.duplicate, full: r.full, savedSecondsAgo: Math.round((now - r.savedAtMs) / 1000) });
    } catch (e) {
      this.log.warn('conntrack state file refused; starting with an empty table (its flows are dropped as unknown)', { stateFile: file, error: e instanceof Error ? e.message : String(e) });
    } finally {
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    }
  }

  async attach(onState: (s: AdapterState, err: Error | null) => void): Promise<void> {
    const engine = this.engine;
    if (engine === null) throw new SyngateError('SYNGATE_DAEMON_START', 'attach before the first reload');
    this.restoreFlows();
    const d = this.cfg.datapath;
    const log = (line: string): void => this.log.info(line, { component: 'datapath' });
    this.adapter =
      d.type === 'nfqueue'
        ? createDatapath({ kind: 'nfqueue', workloadInterfaces: d.interfaces, queueBase: d.queueBase, failOpen: d.failOpen, table: d.table, log })
        : createDatapath({ kind: 'pcap', inside: d.inside, outside: d.outside, bufferSize: d.bufferSize, log });
    this.adapter.onStateChange(onState);
    const twin = this.twin ?? engine;
    const handler = createEngineHandler({ engine, twin, linkType: this.linkType, isLocal: (ip) => (this.port?.workloadOf(ip) ?? -1) >= 0 });
    await this.adapter.start(handler);
  }

  async detach(): Promise<void> {
    const a = this.adapter;
    if (a === null) return;
    try {
      const keep = this.cfg.datapath.type === 'nfqueue' && this.cfg.datapath.keepRulesOnExit;
      if (keep) this.log.info('leaving the queue rules installed (datapath.keepRulesOnExit): new handshakes fail closed until the next daemon starts; authorized flows continue', {});
      await a.stop({ removeRules: !keep });
    } catch (e) {
      this.log.error('datapath stop failed', { error: e instanceof Error ? e.message : String(e) });
    }
    this.saveFlows();
  }

  async startInventory(changed: () => void): Promise<void> {
    const inv = this.cfg.inventory;
    if (inv.source !== 'kubernetes') return;
    const client = new KubeClient({ apiServer: inv.apiServer ?? inClusterApiServer(), tokenFile: inv.tokenFile, caFile: inv.caFile });
    await new Promise<void>((resolveP) => {
      let synced = false;
      this.kube = new KubeWatcher(client, inv.nodeName, inv.interfacePattern, {
        onChange: () => {
          if (synced) changed();
        },
        onRelist: () => this.metrics.inventoryRelists.inc(),
        onListRestart: (resource) => {
          this.metrics.inventoryListRestarts.inc({ resource });
          this.log.warn('kubernetes list continue token expired; listing again from the first page', { resource });
        },
        onError: (resource, err) => this.log.warn('kubernetes watch failed; keeping the current inventory and retrying', { resource, error: err.message }),
        onSynced: () => {
          synced = true;
          resolveP();
        },
      });
      this.kube.start();
    });
  }

  stopInventory(): void {
    this.kube?.stop();
  }

  /** The local workload's SPIFFE ID for an address of this node. */
  private localIdentity(ip: number): string | null {
    const w = this.inventory?.byIp.get(ip >>> 0);
    return w !== undefined && w.node === this.cfg.node && w.enforcer ? w.spiffeId : null;
  }

  /** Converts drained engine events to flow records (toFlowRecord, plus the local identity) and verdict metrics. */
  private drainEvents(now: number, emit: (rec: FlowRecord, ev: EngineEvent) => void): void {
    for (const e of this.engines()) this.drainOne(e, now, emit);
  }

  private engines(): Engine<AgentHandshake, PeerIdentity>[] {
    const out: Engine<AgentHandshake, PeerIdentity>[] = [];
    if (this.engine !== null) out.push(this.engine);
    if (this.twin !== null) out.push(this.twin);
    return out;
  }

  private drainOne(engine: Engine<AgentHandshake, PeerIdentity>, _now: number, emit: (rec: FlowRecord, ev: EngineEvent) => void): void {
    const port = this.port;
    if (port === null) return;
    const m = this.metrics;
    engine.events.drain((ev) => {
      const direction = ev.localClient ? 'outbound' : 'inbound';
      const deny = ev.verdict === EventVerdict.DENY;
      switch (ev.kind) {
        case EventKind.DECISION:
          m.verdicts.inc({ action: deny ? 'deny' : ev.verdict === EventVerdict.AUDIT ? 'audit' : 'allow', reason: deny ? reasonLabel(ev.reason) : 'ok', direction });
          if (!deny && ev.time >= ev.start) m.handshakeSeconds.observe({ direction }, (ev.time - ev.start) / 1000);
          break;
        case EventKind.CLOSE:
          m.conntrackEvictions.inc({ reason: 'closed' });
          break;
        case EventKind.REVOKE:
          if (deny) m.conntrackEvictions.inc({ reason: 'revoked' });
          break;
        case EventKind.TIMEOUT:
          m.verdicts.inc({ action: 'deny', reason: 'timeout', direction });
          m.conntrackEvictions.inc({ reason: 'expired' });
          break;
        case EventKind.PEER_REJECT:
          m.verdicts.inc({ action: 'deny', reason: reasonLabel(ev.reason), direction });
          break;
        default:
          break;
      }
      const rec = toFlowRecord(ev, port, this.cfg.node);
      if (ev.localClient) rec.src.identity ??= this.localIdentity(ev.saddr);
      else rec.dst.identity ??= this.localIdentity(ev.daddr);
      emit(rec, ev);
    });
  }

  /** An interval record of an established flow, from its conntrack slot. */
  private intervalRecord(engine: Engine<AgentHandshake, PeerIdentity>, s: number, now: number): FlowRecord {
    const port = this.port as TablePolicyPort;
    const ct = engine.ct;
    const fl = ct.flags(s);
    const localClient = (fl & CtFlag.LOCAL_CLIENT) !== 0;
    const redirected = (fl & CtFlag.REDIRECTED) !== 0;
    const saddr = ct.saddr(s);
    const daddr = ct.daddr(s);
    const peer = (fl & CtFlag.IP_IDENTITY) === 0 ? port.identityName(ct.peerId(s)) : null;
    const dport = redirected ? ct.origPort(s) : ct.dport(s);
    const rec: FlowRecord = {
      ts: new Date(now).toISOString(),
      enforcer: this.cfg.node,
      direction: localClient ? 'outbound' : 'inbound',
      src: { ip: u32ToIp(saddr), port: ct.sport(s), workload: port.workloadName(saddr), identity: localClient ? this.localIdentity(saddr) : peer },
      dst: { ip: u32ToIp(daddr), port: dport, workload: port.workloadName(daddr), identity: localClient ? peer : this.localIdentity(daddr) },
      port: dport,
      verdict: 'allow',
      reason: 'ok',
      rule: port.ruleName(ct.ruleId(s)),
      audit: [],
      state: 'open',
      packets: ct.packets(s),
      bytes: ct.bytes(s),
      start: new Date(ct.created(s)).toISOString(),
    };
    if (redirected) rec.redirectPort = ct.dport(s);
    return rec;
  }

  flush(now: number, emit: (rec: FlowRecord) => void): void {
    for (const r of this.pendingRecords.splice(0)) emit(r);
    this.drainEvents(now, (rec) => emit(rec));
    this.sampleMetrics();
  }

  tick(now: number, emit: (rec: FlowRecord) => void): void {
    if (this.engine === null) return;
    for (const e of this.engines()) {
      e.tick(now);
      // Bound the tuple -> credential memo by the live table (amortized: only when it outgrew it).
      const ids = this.idPorts.get(e);
      if (ids !== undefined && ids.size > 2 * e.ct.size + 1024) ids.prune(e.ct);
    }
    this.agent?.maintain(now);
    for (const r of this.pendingRecords.splice(0)) emit(r);
    this.drainEvents(now, (rec) => emit(rec));
    // Interval records of long flows.
    const intervalMs = this.cfg.flowLog.intervalSeconds * 1000;
    if (now - this.lastInterval >= intervalMs) {
      this.lastInterval = now;
      for (const engine of this.engines()) {
        const ct = engine.ct;
        for (let s = 0; s < ct.slots; s++) {
          if (ct.state(s) !== CtState.ESTABLISHED) continue;
          const fl = ct.flags(s);
          if ((fl & CtFlag.AUTHORIZED) === 0 || now - ct.created(s) < intervalMs) continue;
          emit(this.intervalRecord(engine, s, now));
        }
      }
    }
    this.sampleMetrics(now);
  }

  private sampleMetrics(now = Date.now()): void {
    const engines = this.engines();
    if (engines.length === 0) return;
    const m = this.metrics;
    const L = this.limits;
    const sum = (f: (e: Engine<AgentHandshake, PeerIdentity>) => number): number => engines.reduce((n, e) => n + f(e), 0);
    const tableFull = sum((e) => e.ct.stats.tableFull);
    const halfOpen = sum((e) => e.ct.stats.halfOpenTotal + e.ct.stats.halfOpenPerSource);
    const overwritten = sum((e) => e.events.overwritten);
    L.observe('conntrack table full', tableFull, now, 'new flows are refused with reason table-full; established flows are untouched', 'syngate_conntrack_insert_failures_total{reason="table-full"}');
    L.observe('half-open budget', halfOpen, now, 'new handshakes beyond the total or per-source half-open cap are refused (half-open-limit)', 'syngate_conntrack_insert_failures_total{reason="half-open-limit"}');
    L.observe('engine event ring', overwritten, now, 'the oldest verdict events are overwritten before the flow log reads them; their records are lost', 'syngate_flowlog_dropped_records_total{reason="event-overflow"}');
    this.sync.sync('ev-over', m.flowlogDropped, { reason: 'event-overflow' }, overwritten);
    m.conntrackEntries.set(sum((e) => e.ct.size));
    m.conntrackHalfOpen.set(sum((e) => e.ct.halfOpen));
    this.sync.sync('ct-full', m.conntrackInsertFailures, { reason: 'table-full' }, tableFull);
    this.sync.sync('ct-ho', m.conntrackInsertFailures, { reason: 'half-open-limit' }, halfOpen);
    this.sync.sync('ct-lazy', m.conntrackEvictions, { reason: 'expired-lazy' }, sum((e) => e.ct.stats.expiredLazy));
    const snaps = engines.map((e) => e.counterSnapshot());
    for (const k of Object.keys(snaps[0] ?? {})) this.sync.sync(`e-${k}`, m.engineCounters, { counter: k }, snaps.reduce((n, x) => n + (x[k] ?? 0), 0));
    for (let r = 0; r < 256; r++) {
      const v = sum((e) => e.rejects[r] ?? 0);
      if (v > 0) this.sync.sync(`r-${r}`, m.engineRejects, { reason: reasonLabel(r) }, v);
    }
    const st = this.agent?.stats;
    if (st !== undefined) {
      const pairs: [string, number, number][] = [
        ['credential', st.credCacheHits, st.credCacheMisses],
        ['document', st.docCacheHits, st.docCacheMisses],
        ['pair', st.pairCacheHits, st.pairCacheMisses],
      ];
      for (const [cache, hits, misses] of pairs) {
        this.sync.sync(`h-${cache}`, m.tokenCacheHits, { cache }, hits);
        this.sync.sync(`m-${cache}`, m.tokenCacheMisses, { cache }, misses);
      }
      const agent = this.agent;
      if (agent !== null) {
        const sizes = agent.cacheSizes();
        const cfgI = agent.config;
        const caches: [keyof typeof this.cacheEvictions, number, number, number][] = [
          ['credential', sizes.credentials, cfgI.credCacheSize, st.credCacheMisses],
          ['document', sizes.documents, cfgI.docCacheSize, st.docCacheMisses],
          ['pair', sizes.pairKeys, cfgI.pairCacheSize, st.pairCacheMisses],
        ];
        for (const [cache, size, cap, misses] of caches) {
          m.tokenCacheEntries.set({ cache }, size);
          m.tokenCacheCapacity.set({ cache }, cap);
          // A full bounded cache evicts its oldest entry for every new one: each miss while full is an eviction.
          const key = `miss-full-${cache}`;
          const prevMisses = this.lastMisses.get(key) ?? misses;
          this.lastMisses.set(key, misses);
          if (size >= cap && misses > prevMisses) this.cacheEvictions[cache] += misses - prevMisses;
          this.sync.sync(`ev-${cache}`, m.tokenCacheEvictions, { cache }, this.cacheEvictions[cache]);
          L.observe(`${cache} cache full`, this.cacheEvictions[cache], now, 'the oldest entries are evicted; peers they served pay one more verification (cold handshake)', `syngate_token_cache_evictions_total{cache="${cache}"}`);
        }
        L.observe('verification budget', st.rateLimited, now, 'handshakes beyond the per-source or global signature budget are refused (rate-limited)', 'syngate_verdicts_total{reason="rate-limited"}');
        L.observe('replay cache full', st.replayFull, now, 'SYN tokens that cannot be recorded for replay detection are refused (fail closed)', 'syngate_verdicts_total{reason="replay"}');
      }
    }
    if (this.agent !== null) m.credentialExpiry.set(this.agent.credentialNotAfter);
    const a = this.adapter;
    if (a !== null) {
      const c = a.counters();
      this.sync.sync('dp-f', m.datapathPackets, { direction: 'any', verdict: 'forward' }, c.framesForwarded);
      this.sync.sync('dp-d', m.datapathPackets, { direction: 'any', verdict: 'drop' }, c.framesDropped);
      this.sync.sync('dp-r', m.datapathPackets, { direction: 'any', verdict: 'reset' }, c.framesReset);
      this.sync.sync('dp-se', m.datapathErrors, { kind: 'send' }, c.sendErrors);
      this.sync.sync('dp-he', m.datapathErrors, { kind: 'handler' }, c.handlerErrors);
      this.sync.sync('dp-os', m.datapathErrors, { kind: 'oversize' }, c.framesOversize);
      if (this.cfg.datapath.type === 'nfqueue') {
        let text = '';
        try {
          text = readFileSync('/proc/net/netfilter/nfnetlink_queue', 'utf8');
        } catch {
          text = '';
        }
        const drops = readNfqueueDrops(text);
        for (let q = this.cfg.datapath.queueBase; q < this.cfg.datapath.queueBase + 4; q++) {
          const v = drops.get(q);
          if (v !== undefined) this.sync.sync(`q${q}`, m.datapathQueueDrops, { queue: String(q) }, v);
        }
      }
    }
  }
}

export async function createEngineCore(cfg: DaemonConfig, log: Logger, metrics: SyngateMetrics): Promise<EnforcerCore> {
  return new EngineCore(cfg, log, metrics);
}

/** The simulator's dependency map renderer, when present. */
export async function loadMapRenderer(): Promise<((r: FlowRecord[]) => string) | null> {
  try {
    const sim = (await import('../sim/index.js')) as { renderMap?: (r: readonly FlowRecord[], o?: object) => string };
    if (typeof sim.renderMap === 'function') {
      const render = sim.renderMap;
      return (r) => render(r, {});
    }
  } catch {
    // the simulator is optional for the daemon
  }
  return null;
}
