// The Prometheus text snapshot of a simulation (`simulate --out DIR` writes it as metrics.prom).
// Invariants: uses the daemon's metric set (createMetrics: the same names, help texts and label
// sets as a live enforcer, docs/metrics.md), without process metrics, so the snapshot is a pure
// function of the run; label values come from fixed sets (reason labels, allow|deny|audit).
import { createMetrics } from '../daemon/index.js';
import type { RunMetrics } from './run.js';

export async function simMetricsText(m: RunMetrics, info: { mode: string; version?: string }): Promise<string> {
  const x = createMetrics({ processMetrics: false });
  for (const v of m.verdicts) x.verdicts.inc({ action: v.action, reason: v.reason, direction: v.direction }, v.count);
  for (const h of m.handshakes) x.handshakeSeconds.observe({ direction: h.direction }, h.seconds);
  if (m.revoked > 0) x.flowsRevoked.inc(m.revoked);
  for (const p of m.packets) x.datapathPackets.inc({ direction: p.direction, verdict: p.verdict }, p.count);
  x.conntrackEntries.set(m.conntrack.reduce((n, c) => n + c.entries, 0));
  for (const [cache, s] of Object.entries(m.caches)) {
    if (s.hits > 0) x.tokenCacheHits.inc({ cache }, s.hits);
    if (s.misses > 0) x.tokenCacheMisses.inc({ cache }, s.misses);
  }
  const states = new Map<string, number>();
  for (const f of m.flows) states.set(f.state, (states.get(f.state) ?? 0) + 1);
  for (const [state, n] of states) x.flowlogRecords.inc({ state }, n);
  x.info.set({ version: info.version ?? '0.1.0', datapath: 'sim', mode: info.mode, node: 'sim' }, 1);
  x.ready.set(1);
  return x.registry.metrics();
}
