// The Prometheus text snapshot of a simulation (`simulate --out DIR` writes it as metrics.prom).
// Invariants: uses the daemon's metric set (createMetrics: the same names, help texts and label
// sets as a live enforcer, docs/metrics.md), without process metrics, so the snapshot is a pure
// function of the run; label values come from fixed sets (reason labels, allow|deny|audit).
import { createMetrics } from '../daemon/index.js';
import { reasonLabel } from '../reasons.js';
import type { RunMetrics } from './run.js';

export async function simMetricsText(m: RunMetrics, info: { mode: string; version?: string }): Promise<string> {
  const x = createMetrics({ processMetrics: false });
  for (const ev of m.events) {
    const direction = ev.localClient ? 'outbound' : 'inbound';
    if (ev.kind === 'decision' || ev.kind === 'peer-reject') {
      x.verdicts.inc({ action: ev.verdict, reason: ev.verdict === 'deny' ? reasonLabel(ev.reason) : 'ok', direction });
      if (ev.kind === 'decision' && ev.verdict !== 'deny' && ev.time >= ev.start) x.handshakeSeconds.observe({ direction }, (ev.time - ev.start) / 1000);
    } else if (ev.kind === 'revoke') x.flowsRevoked.inc();
    else if (ev.kind === 'timeout') x.verdicts.inc({ action: 'deny', reason: 'timeout', direction });
  }
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
