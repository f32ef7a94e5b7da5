// The daemon's lifecycle: start (load state, admin server, datapath), hot reload, shutdown.
// Invariants:
//  - start() loads and compiles everything BEFORE the datapath attaches; a start failure detaches
//    nothing because nothing was attached, and is a SyngateError (exit 2);
//  - reloads are serialized; a reload that fails keeps the state in force, logs the error with
//    file:line, counts syngate_policy_reloads_total{result="error"} and sets
//    syngate_policy_last_reload_success 0; a good one swaps atomically inside the core;
//  - SIGHUP reloads everything (the deny-list too); SIGTERM/SIGINT stop: datapath rules removed, flow log flushed,
//    admin closed; if that takes longer than STOP_DEADLINE_MS the process exits anyway (status 1),
//    so the daemon is always gone within 5 s;
//  - ready (/readyz, syngate_ready) iff the policy is compiled and the datapath is attached.
import { SyngateError } from '../errors.js';
import type { FlowRecord } from '../engine/flow-record.js';
import type { AdapterState } from '../datapath/types.js';
import type { DaemonConfig } from './config.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type SyngateMetrics } from './metrics.js';
import { FlowLog } from './flowlog.js';
import { startAdminServer, type AdminServer, type ReadyState } from './admin.js';
import { FileWatcher, type WatchGroup } from './watch.js';

export const STOP_DEADLINE_MS = 4500;
/** How often the core's housekeeping (sweep, interval flow records, metric sampling) runs. */
export const TICK_MS = 250;

export type ReloadTrigger = 'start' | 'signal' | 'file' | 'inventory';
export type StateGroup = 'policy' | 'inventory' | 'credentials' | 'revocation';

export interface ReloadResult {
  revision: number;
  rules: number;
  identities: number;
  workloads: number;
  /** Established flows reset because the new state denies them. */
  revoked: number;
  /** Warnings to log (e.g. L7 fields ignored), each naming file:line. */
  warnings: string[];
  /** The deny-list in force after the reload (absent: the core has none). */
  denyList?: {
    /** Entries in force. */
    serials: number;
    spiffeIds: number;
    /** Entries added / removed by this reload. */
    added: number;
    removed: number;
    /** Established flows reset because their peer was deny-listed (included in `revoked`). */
    revoked: number;
  };
}

/**
 * What the daemon drives: the engine plus its compiled state. The real one is
 * `createEngineCore` (core.ts); tests substitute fakes.
 */
export interface EnforcerCore {
  /** Load the given groups from disk (or the inventory source), compile, swap atomically, revoke. Throws on bad input; the old state then stays. */
  reload(groups: readonly StateGroup[], trigger: ReloadTrigger): Promise<ReloadResult>;
  /** Files to watch per group. */
  watchGroups(): WatchGroup[];
  /** Attach the datapath (after the first successful reload). */
  attach(onState: (s: AdapterState, err: Error | null) => void): Promise<void>;
  /** Detach: remove rules, close queues. Never throws. */
  detach(): Promise<void>;
  /** Housekeeping: conntrack sweep, interval/close flow records, metric sampling. */
  tick(nowMs: number, emit: (rec: FlowRecord) => void): void;
  /** Drain pending events into records and refresh metric samples (before /metrics and /flows answer). */
  flush?(nowMs: number, emit: (rec: FlowRecord) => void): void;
  /** Extra start work for dynamic inventory (Kubernetes watch); calls `changed` when the inventory moved. */
  startInventory?(changed: () => void): Promise<void>;
  stopInventory?(): void;
}

export interface DaemonOptions {
  logger?: Logger;
  metrics?: SyngateMetrics;
  /** Install SIGHUP/SIGTERM/SIGINT handlers (the CLI does; tests may not). */
  signals?: boolean;
  version?: string;
  /** Map HTML generator for /map. */
  renderMap?: (records: FlowRecord[]) => string;
}

export class Daemon {
  readonly log: Logger;
  readonly metrics: SyngateMetrics;
  readonly flowLog: FlowLog;
  private admin: AdminServer | null = null;
  private watcher: FileWatcher | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private compiled = false;
  private attached = false;
  private reloadChain: Promise<unknown> = Promise.resolve();
  private stopping: Promise<number> | null = null;
  private shuttingDown = false;
  private resolveDone: ((status: number) => void) | null = null;
  readonly done: Promise<number>;
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];
  lastReload: ReloadResult | null = null;
  lastReloadError: string | null = null;

  constructor(
    readonly config: DaemonConfig,
    private readonly core: EnforcerCore,
    private readonly opts: DaemonOptions = {},
  ) {
    this.log = opts.logger ?? createLogger(config.log.level);
    this.metrics = opts.metrics ?? createMetrics({ processMetrics: true });
    this.flowLog = new FlowLog(config.flowLog, this.metrics, this.log);
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
    this.metrics.conntrackCapacity.set(config.conntrack.capacity);
    this.metrics.info.set({ version: opts.version ?? '0.1.0', datapath: config.datapath.type, mode: config.mode, node: config.node }, 1);
    this.metrics.ready.set(0);
  }

  get adminAddress(): { host: string; port: number } | null {
    return this.admin === null ? null : { host: this.admin.host, port: this.admin.port };
  }

  readyState(): ReadyState {
    const waiting: string[] = [];
    if (!this.compiled) waiting.push('policy not compiled');
    if (!this.attached) waiting.push('datapath not attached');
    return { ready: waiting.length === 0, waiting };
  }

  private updateReady(): void {
    this.metrics.ready.set(this.readyState().ready ? 1 : 0);
  }

  async start(): Promise<void> {
    const c = this.config;
    this.log.info('starting', { node: c.node, datapath: c.datapath.type, mode: c.mode, config: c.file });
    // 0. Dynamic inventory: the first full list arrives before the state is built from it.
    if (this.core.startInventory !== undefined) {
      let started = false;
      await this.core.startInventory(() => {
        if (started) void this.reload(['inventory'], 'inventory');
      });
      started = true;
    }
    // 1. State first: a broken policy/inventory/credential at start is fatal (exit 2).
    try {
      await this.doReload(['credentials', 'inventory', 'policy', 'revocation'], 'start', true);
    } catch (e) {
      this.core.stopInventory?.();
      throw new SyngateError('SYNGATE_DAEMON_START', `cannot load the initial state: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    // 2. Admin server (so /healthz answers while the datapath attaches).
    try {
      this.admin = await startAdminServer(c.admin.host, c.admin.port, {
        registry: this.metrics.registry,
        ready: () => this.readyState(),
        beforeScrape: () => this.flushCore(),
        flows: (n) => {
          this.flushCore();
          return this.flowLog.recent(n);
        },
        map: (recs) => (this.opts.renderMap ?? defaultMap)(recs),
        mapLimit: c.flowLog.recent,
      });
    } catch (e) {
      throw new SyngateError('SYNGATE_DAEMON_START', `admin: cannot listen on ${c.admin.host}:${c.admin.port} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
    }
    this.log.info('admin server listening', { address: `${this.admin.host}:${this.admin.port}` });
    // 4. Datapath.
    try {
      await this.core.attach((s, err) => {
        const was = this.attached;
        this.attached = s === 'ready';
        this.updateReady();
        if (was && !this.attached && !this.shuttingDown) this.log.error('datapath detached unexpectedly', { state: s, error: err?.message });
      });
    } catch (e) {
      await this.closeAdmin();
      this.core.stopInventory?.();
      throw new SyngateError('SYNGATE_DAEMON_START', `datapath ${c.datapath.type}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    this.attached = true;
    this.updateReady();
    // 5. Housekeeping, reload triggers.
    this.tickTimer = setInterval(() => {
      try {
        this.core.tick(Date.now(), (r) => this.flowLog.write(r));
      } catch (e) {
        this.log.error('housekeeping failed', { error: e instanceof Error ? e.message : String(e) });
      }
    }, TICK_MS);
    this.watcher = new FileWatcher(this.core.watchGroups(), (groups) => this.reload(groups as StateGroup[], 'file').then(() => undefined), c.reload.pollMillis, c.reload.debounceMillis);
    this.watcher.start();
    if (this.opts.signals === true) this.installSignals();
    this.log.info('ready', { revision: this.lastReload?.revision, workloads: this.lastReload?.workloads });
  }

  private flushCore(): void {
    try {
      this.core.flush?.(Date.now(), (r) => this.flowLog.write(r));
    } catch (e) {
      this.log.error('flush failed', { error: e instanceof Error ? e.message : String(e) });
    }
  }

  private installSignals(): void {
    const on = (sig: NodeJS.Signals, fn: () => void): void => {
      process.on(sig, fn);
      this.signalHandlers.push([sig, fn]);
    };
    on('SIGHUP', () => {
      this.log.info('SIGHUP: reloading policy, inventory, credentials and the deny-list');
      void this.reload(['credentials', 'inventory', 'policy', 'revocation'], 'signal');
    });
    on('SIGTERM', () => void this.stop('SIGTERM'));
    on('SIGINT', () => void this.stop('SIGINT'));
  }

  /** Serialized reload; resolves true iff the new state is in force. Never rejects. */
  reload(groups: readonly StateGroup[], trigger: ReloadTrigger): Promise<boolean> {
    const p = this.reloadChain.then(async () => {
      if (this.shuttingDown) return false;
      try {
        await this.doReload(groups, trigger, false);
        return true;
      } catch {
        return false;
      }
    });
    this.reloadChain = p;
    return p;
  }

  private async doReload(groups: readonly StateGroup[], trigger: ReloadTrigger, atStart: boolean): Promise<void> {
    try {
      const r = await this.core.reload(groups, trigger);
      this.lastReload = r;
      this.lastReloadError = null;
      this.compiled = true;
      this.updateReady();
      this.metrics.policyReloads.inc({ source: trigger, result: 'success' });
      this.metrics.policyLastReloadSuccess.set(1);
      this.metrics.policyRevision.set(r.revision);
      this.metrics.policyRules.set(r.rules);
      this.metrics.identities.set(r.identities);
      this.metrics.inventoryWorkloads.set(r.workloads);
      if (r.revoked > 0) this.metrics.flowsRevoked.inc(r.revoked);
      const dl = r.denyList;
      if (dl !== undefined) {
        this.metrics.denyListEntries.set({ kind: 'serial' }, dl.serials);
        this.metrics.denyListEntries.set({ kind: 'spiffe-id' }, dl.spiffeIds);
        if (dl.added > 0) this.metrics.denyListChanges.inc({ change: 'added' }, dl.added);
        if (dl.removed > 0) this.metrics.denyListChanges.inc({ change: 'removed' }, dl.removed);
        if (dl.revoked > 0) this.metrics.denyListFlowsRevoked.inc(dl.revoked);
      }
      for (const w of r.warnings) this.log.warn(w, { trigger });
      const denyFields = dl === undefined ? {} : { denySerials: dl.serials, denySpiffeIds: dl.spiffeIds, denyAdded: dl.added, denyRemoved: dl.removed, denyRevoked: dl.revoked };
      this.log.info(atStart ? 'state loaded' : 'reloaded', { trigger, groups, revision: r.revision, rules: r.rules, identities: r.identities, workloads: r.workloads, revoked: r.revoked, ...denyFields });
      this.watcher?.snapshot();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.lastReloadError = msg;
      this.metrics.policyReloads.inc({ source: trigger, result: 'error' });
      this.metrics.policyLastReloadSuccess.set(0);
      if (!atStart) this.log.error('reload failed; the previous state stays in force', { trigger, groups, error: msg, code: (e as { code?: unknown }).code });
      throw e;
    }
  }

  private async closeAdmin(): Promise<void> {
    if (this.admin !== null) {
      const a = this.admin;
      this.admin = null;
      await a.close();
    }
  }

  /** Stop everything; resolves with the exit status. Idempotent. */
  stop(why = 'stop'): Promise<number> {
    if (this.stopping !== null) return this.stopping;
    this.shuttingDown = true;
    this.log.info('stopping', { why });
    const deadline = setTimeout(() => {
      this.log.error('shutdown exceeded its deadline; exiting now', { ms: STOP_DEADLINE_MS });
      this.flowLog.close();
      process.exit(1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    this.stopping = (async () => {
      this.watcher?.stop();
      if (this.tickTimer !== null) clearInterval(this.tickTimer);
      this.core.stopInventory?.();
      await this.core.detach();
      this.attached = false;
      this.updateReady();
      try {
        this.core.tick(Date.now(), (r) => this.flowLog.write(r));
      } catch {
        // final records are best effort
      }
      this.flowLog.close();
      await this.closeAdmin();
      for (const [sig, fn] of this.signalHandlers) process.off(sig, fn);
      clearTimeout(deadline);
      this.log.info('stopped');
      this.resolveDone?.(0);
      return 0;
    })();
    return this.stopping;
  }
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Fallback /map when no renderer is wired: a plain table of edges. */
export function defaultMap(records: FlowRecord[]): string {
  const edges = new Map<string, { n: number; verdict: string; rule: string }>();
  for (const r of records) {
    const k = `${r.src.workload ?? r.src.ip} -> ${r.dst.workload ?? r.dst.ip}:${r.port}`;
    const e = edges.get(k);
    if (e === undefined) edges.set(k, { n: 1, verdict: r.verdict, rule: r.rule });
    else e.n++;
  }
  const rows = [...edges].map(([k, e]) => `<tr class="${esc(e.verdict)}"><td>${esc(k)}</td><td>${esc(e.verdict)}</td><td>${e.n}</td><td>${esc(e.rule)}</td></tr>`).join('');
  return `<!doctype html><meta charset="utf-8"><title>syngate map</title><style>.deny{color:#b00}.allow{color:#070}</style><table><tr><th>edge</th><th>verdict</th><th>flows</th><th>rule</th></tr>${rows}</table>\n`;
}
