// The daemon's JIT warm-up of the handshake path (enforcer/daemon/warmup.ts): every synthetic
// connection must really pass the whole path (SYN, SYN-ACK, final ACK, the split token-only ACK, a
// data segment each way, both ends authorized), on both link types, through engines built exactly
// as the daemon builds them; it is bounded, touches none of the daemon's state and never throws.
import { describe, expect, it } from 'vitest';
import { EngineCore } from '../../enforcer/daemon/core.js';
import { parseConfig } from '../../enforcer/daemon/config.js';
import { createLogger } from '../../enforcer/daemon/log.js';
import { createMetrics } from '../../enforcer/daemon/metrics.js';
import { Counter, LinkType, type AgentHandshake, type Engine } from '../../enforcer/engine/index.js';
import { CredentialTrackingPort } from '../../enforcer/daemon/revocation.js';
import type { IdentityAgent, PeerIdentity } from '../../enforcer/identity/index.js';
import { warmHandshakePath } from '../../enforcer/daemon/warmup.js';

function core(datapath: 'nfqueue' | 'pcap'): { core: EngineCore; lines: Record<string, unknown>[] } {
  const cfg = parseConfig(
    [
      'node: n1',
      datapath === 'nfqueue' ? 'datapath: {type: nfqueue, interfaces: [lan0]}' : 'datapath: {type: pcap, inside: in0, outside: out0}',
      'identity: {caBundle: bundle.pem, credentials: creds}',
      'policy: {paths: [policies]}',
      'inventory: {source: static, file: inventory.yaml}',
    ].join('\n'),
    '/nonexistent/syngate.yaml',
  );
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>));
  return { core: new EngineCore(cfg, logger, createMetrics()), lines };
}

describe('handshake path warm-up', () => {
  for (const dp of ['nfqueue', 'pcap'] as const) {
    it(`${dp}: every warm-up connection passes the whole handshake and data path, both ends authorized`, () => {
      const { core: c, lines } = core(dp);
      expect(c.linkType).toBe(dp === 'nfqueue' ? LinkType.RAW_IPV4 : LinkType.ETHERNET);
      const r = c.warmUp(40, 60_000);
      expect(r.error).toBeNull();
      expect(r.tried).toBe(40);
      expect(r.completed).toBe(40);
      expect(lines.some((l) => l['msg'] === 'handshake path warmed up' && l['handshakes'] === 40)).toBe(true);
      // Throwaway state only: the daemon has no engine before its first reload, and still has none.
      expect(c.engine).toBeNull();
      expect(c.twin).toBeNull();
    });
  }

  it('also runs cold handshakes and port reuse over a still-tracked flow, the paths a live daemon meets early', () => {
    const { core: c } = core('nfqueue');
    const agents: IdentityAgent[] = [];
    const engines: Engine<AgentHandshake, PeerIdentity>[] = [];
    const r = warmHandshakePath({
      linkType: LinkType.RAW_IPV4,
      build: (agent, port, name, capacity) => {
        if (!agents.includes(agent)) agents.push(agent);
        const e = c.newEngine(new CredentialTrackingPort(agent), port, name, capacity);
        engines.push(e);
        return e;
      },
      handshakes: 200,
      budgetMs: 60_000,
    });
    expect(r.error).toBeNull();
    expect(r.completed).toBe(200);
    const [client, server] = agents;
    // The first connection, then one in 64: cold on both ends (a signature made and one verified).
    expect(client?.stats.coldSyns).toBe(1 + Math.floor(200 / 64));
    expect(server?.stats.coldSyns).toBe(1 + Math.floor(200 / 64));
    expect(client?.stats.warmSyns).toBe(200 - 1 - Math.floor(200 / 64));
    // One in 16 reuses the previous port while both engines still track its flow.
    const reuse = (e: Engine<AgentHandshake, PeerIdentity>): number => e.counters[Counter.PORT_REUSE] ?? 0;
    expect(engines.map(reuse)).toEqual([Math.floor(200 / 16), 0, Math.floor(200 / 16), 0]);
  });

  it('stops at the wall-time budget', () => {
    const { core: c } = core('nfqueue');
    const r = c.warmUp(1000, 0);
    expect(r.tried).toBe(0);
    expect(r.error).toBeNull();
  });

  it('a failure is returned, never thrown', () => {
    const r = warmHandshakePath({
      linkType: LinkType.RAW_IPV4,
      build: () => {
        throw new Error('no engine today');
      },
      handshakes: 10,
      budgetMs: 60_000,
    });
    expect(r.completed).toBe(0);
    expect(r.error).toMatch(/no engine today/);
  });
});

