// Prometheus metrics of the daemon (and of `simulate --out metrics.prom`): every name documented in
// docs/metrics.md. Invariants: names carry the `syngate_` prefix, counters end in `_total`, units
// are base units (seconds, bytes); label values come from fixed sets (reason labels from
// enforcer/reasons.ts, actions allow|deny|audit) so cardinality is bounded; process and Node.js
// runtime metrics use prom-client's standard names (process_*, nodejs_*).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const HANDSHAKE_BUCKETS_SECONDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface SyngateMetrics {
  readonly registry: Registry;
  readonly verdicts: Counter<'action' | 'reason' | 'direction'>;
  readonly handshakeSeconds: Histogram<'direction'>;
  readonly conntrackEntries: Gauge;
  readonly conntrackHalfOpen: Gauge;
  readonly conntrackCapacity: Gauge;
  readonly conntrackEvictions: Counter<'reason'>;
  readonly conntrackInsertFailures: Counter<'reason'>;
  readonly tokenCacheHits: Counter<'cache'>;
  readonly tokenCacheMisses: Counter<'cache'>;
  readonly tokenCacheEntries: Gauge<'cache'>;
  readonly tokenCacheEvictions: Counter<'cache'>;
  readonly tokenCacheCapacity: Gauge<'cache'>;
  readonly flowsRevoked: Counter;
  readonly denyListEntries: Gauge<'kind'>;
  readonly denyListChanges: Counter<'change'>;
  readonly denyListFlowsRevoked: Counter;
  readonly policyReloads: Counter<'source' | 'result'>;
  readonly policyLastReloadSuccess: Gauge;
  readonly policyRevision: Gauge;
  readonly policyRules: Gauge;
  readonly identities: Gauge;
  readonly inventoryWorkloads: Gauge;
  readonly inventoryRelists: Counter;
  readonly inventoryListRestarts: Counter;
  readonly credentialExpiry: Gauge;
  readonly datapathPackets: Counter<'direction' | 'verdict'>;
  readonly datapathQueueDrops: Counter<'queue'>;
  readonly datapathErrors: Counter<'kind'>;
  readonly flowlogRecords: Counter<'state'>;
  readonly flowlogDropped: Counter<'reason'>;
  readonly engineCounters: Counter<'counter'>;
  readonly engineRejects: Counter<'reason'>;
  readonly ready: Gauge;
  readonly info: Gauge<'version' | 'datapath' | 'mode' | 'node'>;
}

/**
 * Create the metric set in a fresh registry. `processMetrics` adds prom-client's default
 * process_* / nodejs_* collectors (off for the simulator's snapshot, on in the daemon).
 */
export function createMetrics(opts: { processMetrics?: boolean } = {}): SyngateMetrics {
  const registry = new Registry();
  const r = [registry];
  if (opts.processMetrics === true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    verdicts: new Counter({ name: 'syngate_verdicts_total', help: 'Connection verdicts, by action (allow|deny|audit), reason label and direction.', labelNames: ['action', 'reason', 'direction'], registers: r }),
    handshakeSeconds: new Histogram({ name: 'syngate_handshake_duration_seconds', help: 'Time from the SYN to the authorizing ACK as seen by this enforcer, by direction.', labelNames: ['direction'], buckets: HANDSHAKE_BUCKETS_SECONDS, registers: r }),
    conntrackEntries: new Gauge({ name: 'syngate_conntrack_entries', help: 'Entries in the connection tracking table.', registers: r }),
    conntrackHalfOpen: new Gauge({ name: 'syngate_conntrack_half_open_entries', help: 'Entries still in the handshake (half-open).', registers: r }),
    conntrackCapacity: new Gauge({ name: 'syngate_conntrack_capacity', help: 'Fixed capacity of the connection tracking table.', registers: r }),
    conntrackEvictions: new Counter({ name: 'syngate_conntrack_evictions_total', help: 'Entries removed from the table, by reason (closed|revoked|expired|expired-lazy).', labelNames: ['reason'], registers: r }),
    conntrackInsertFailures: new Counter({ name: 'syngate_conntrack_insert_failures_total', help: 'New flows refused because a table limit was reached, by reason (table-full|half-open-limit).', labelNames: ['reason'], registers: r }),
    tokenCacheHits: new Counter({ name: 'syngate_token_cache_hits_total', help: 'Identity cache hits, by cache (credential|document|pair).', labelNames: ['cache'], registers: r }),
    tokenCacheMisses: new Counter({ name: 'syngate_token_cache_misses_total', help: 'Identity cache misses, by cache.', labelNames: ['cache'], registers: r }),
    tokenCacheEntries: new Gauge({ name: 'syngate_token_cache_entries', help: 'Entries in each identity cache.', labelNames: ['cache'], registers: r }),
    tokenCacheCapacity: new Gauge({ name: 'syngate_token_cache_capacity', help: 'Bound of each identity cache (entries).', labelNames: ['cache'], registers: r }),
    tokenCacheEvictions: new Counter({ name: 'syngate_token_cache_evictions_total', help: 'Entries evicted from a full identity cache, by cache.', labelNames: ['cache'], registers: r }),
    flowsRevoked: new Counter({ name: 'syngate_flows_revoked_total', help: 'Established flows reset by a reload: a new policy denies them or their peer was deny-listed.', registers: r }),
    denyListEntries: new Gauge({ name: 'syngate_denylist_entries', help: 'Revoked identities in force, by kind (serial|spiffe-id).', labelNames: ['kind'], registers: r }),
    denyListChanges: new Counter({ name: 'syngate_denylist_changes_total', help: 'Deny-list entries added or removed by reloads, by change (added|removed).', labelNames: ['change'], registers: r }),
    denyListFlowsRevoked: new Counter({ name: 'syngate_denylist_flows_revoked_total', help: 'Established flows reset because their peer was deny-listed (also in syngate_flows_revoked_total).', registers: r }),
    policyReloads: new Counter({ name: 'syngate_policy_reloads_total', help: 'Reloads of policy, inventory or credentials, by trigger (start|signal|file|inventory) and result (success|error).', labelNames: ['source', 'result'], registers: r }),
    policyLastReloadSuccess: new Gauge({ name: 'syngate_policy_last_reload_success', help: '1 if the last reload succeeded, 0 if it failed and the previous state is still in force.', registers: r }),
    policyRevision: new Gauge({ name: 'syngate_policy_revision', help: 'Revision number of the compiled policy table in force.', registers: r }),
    policyRules: new Gauge({ name: 'syngate_policy_rules', help: 'Rules in the compiled policy table in force.', registers: r }),
    identities: new Gauge({ name: 'syngate_identities', help: 'Identities (numeric ids) known to the compiled policy.', registers: r }),
    inventoryWorkloads: new Gauge({ name: 'syngate_inventory_workloads', help: 'Workloads in the inventory (local and remote).', registers: r }),
    inventoryRelists: new Counter({ name: 'syngate_inventory_relists_total', help: 'Full relists of the Kubernetes inventory after a watch ended or failed.', registers: r }),
    inventoryListRestarts: new Counter({ name: 'syngate_inventory_list_restarts_total', help: 'Paged Kubernetes LISTs restarted from the first page because the continue token expired (HTTP 410), by resource.', labelNames: ['resource'], registers: r }),
    credentialExpiry: new Gauge({ name: 'syngate_credential_expiry_timestamp_seconds', help: "Unix time at which this node's credential expires.", registers: r }),
    datapathPackets: new Counter({ name: 'syngate_datapath_packets_total', help: 'Packets handed to the engine by the datapath, by direction (inbound|outbound; the daemon reports any) and verdict (forward|drop|reset).', labelNames: ['direction', 'verdict'], registers: r }),
    datapathQueueDrops: new Counter({ name: 'syngate_datapath_queue_drops_total', help: 'Packets the kernel dropped before userspace saw them (queue full, or capture buffer overrun), by queue or interface.', labelNames: ['queue'], registers: r }),
    datapathErrors: new Counter({ name: 'syngate_datapath_errors_total', help: 'Datapath send or verdict errors, by kind.', labelNames: ['kind'], registers: r }),
    flowlogRecords: new Counter({ name: 'syngate_flowlog_records_total', help: 'Flow records written, by state (open|closed|rejected|revoked).', labelNames: ['state'], registers: r }),
    flowlogDropped: new Counter({ name: 'syngate_flowlog_dropped_records_total', help: 'Flow records dropped (disk-full|write-error|backpressure|too-large|event-overflow).', labelNames: ['reason'], registers: r }),
    engineCounters: new Counter({ name: 'syngate_engine_events_total', help: 'Engine state-machine counters by name (handshakes_started, tokens_inserted, rsts_sent, ...; docs/engine.md).', labelNames: ['counter'], registers: r }),
    engineRejects: new Counter({ name: 'syngate_engine_rejects_total', help: 'Frames the engine rejected, by reason label (includes retransmissions; syngate_verdicts_total counts decisions).', labelNames: ['reason'], registers: r }),
    ready: new Gauge({ name: 'syngate_ready', help: '1 when the policy is compiled and the datapath attached (what /readyz reports).', registers: r }),
    info: new Gauge({ name: 'syngate_info', help: 'Constant 1, labelled with the version, datapath, default mode and node.', labelNames: ['version', 'datapath', 'mode', 'node'], registers: r }),
  };
}

/**
 * Feeds a monotonically growing source counter (e.g. an engine's typed-array counter) into a
 * prom-client Counter: increments by the delta since the last call. A source that went
 * backwards (engine restarted) restarts the baseline without decrementing.
 */
export class CounterSync {
  private readonly last = new Map<string, number>();
  /** `key` must be unique per (counter, labels) pair. */
  sync<L extends string>(key: string, counter: Counter<L>, labels: Partial<Record<L, string | number>>, value: number): void {
    const prev = this.last.get(key) ?? 0;
    this.last.set(key, value);
    const d = value >= prev ? value - prev : value;
    if (d > 0) counter.inc(labels, d);
  }
}
