// Reliability (issue 10 item 4), at the engine + reload level, in process: two daemons (the real
// Daemon lifecycle and EngineCore: config files, inventory, credentials, policy folder, reload with
// compile + atomic swap + revocation, metrics) whose engines are joined by the simulator's wire
// (real Ethernet/IPv4/TCP bytes from the TCP endpoint model) instead of a kernel datapath.
// 1,000 policy reloads alternate between two policies that both allow port 8080 (and differ on
// 8081/8082), under continuous load: new 8080 connections opened before, across and after every
// swap (some caught mid-handshake), and long-lived 8080 connections carrying data throughout.
// Asserts: 0 of the connections both policies allow is dropped, reset or left unestablished, every
// byte arrives, and the swaps do take effect (8081 flows are revoked and new ones denied under the
// policy that does not allow 8081). This runs in process because 1,000 reloads through network
// namespaces and a kernel queue would take minutes; daemon.root.test.ts covers the kernel path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Daemon } from '../../enforcer/daemon/daemon.js';
import { FakeClock, Prng, TcpHost, Wire, type TcpConnection } from '../../enforcer/sim/index.js';
import { parsePrometheusText, sample } from './prom.js';
import { policy } from './topology.js';
import { startWiredNodes, type WiredCore } from './helpers/wired.js';

const RELOADS = Number(process.env['SYNGATE_RELOADS'] ?? '1000');
const CLIENT_IP = '198.18.7.1';
const SERVER_IP = '198.18.7.2';

describe('policy reloads under connection load', () => {
  let dir = '';
  let daemons: Daemon[] = [];
  let cores: WiredCore[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-reload-'));
    ({ daemons, cores } = await startWiredNodes(dir, {
      nodes: ['node-a', 'node-b'],
      inventory: `trustDomain: cluster.local
workloads:
  - {name: cli, namespace: demo, serviceAccount: cli, labels: {app: cli}, ip: ${CLIENT_IP}, node: node-a}
  - {name: srv, namespace: demo, serviceAccount: srv, labels: {app: srv}, ip: ${SERVER_IP}, node: node-b, ports: [8080, 8081, 8082]}
`,
      policy: policy([8080, 8081]),
    }));
  });

  afterAll(async () => {
    for (const d of daemons) await d.stop('test');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${RELOADS} reloads drop 0 connections both policies allow`, async () => {
    const [a, b] = cores as [WiredCore, WiredCore];
    const [da, db] = daemons as [Daemon, Daemon];
    const ea = a.engine;
    const eb = b.engine;
    if (ea === null || eb === null) throw new Error('engines not built');
    const clock = new FakeClock(Date.now());
    const wire = new Wire({ clock, trace: false });
    const prng = new Prng(11);
    const client = new TcpHost({ name: 'cli', ip: CLIENT_IP, prng: prng.fork('c'), clock: () => clock.now() });
    const server = new TcpHost({ name: 'srv', ip: SERVER_IP, prng: prng.fork('s'), clock: () => clock.now() });
    wire.attach(client, ea);
    wire.attach(server, eb);
    for (const p of [8080, 8081, 8082]) server.listen(p);

    const allowed: TcpConnection[] = [];
    const established = new Set<TcpConnection>();
    const long: TcpConnection[] = [];
    const sentBytes = new Map<TcpConnection, number>();
    const send = (c: TcpConnection, n: number): void => {
      c.send(new Uint8Array(n).fill(0x61));
      sentBytes.set(c, (sentBytes.get(c) ?? 0) + n);
    };
    // Long-lived allowed flows, open for the whole run.
    for (let i = 0; i < 4; i++) long.push(client.connect(SERVER_IP, 8080));
    wire.run(100_000);
    for (const c of long) expect(c.state).toBe('ESTABLISHED');

    let revoked8081 = 0;
    let denied8081 = 0;
    let probes8081 = 0;
    const polFile = join(dir, 'policies', 'srv.yaml');
    for (let i = 1; i <= RELOADS; i++) {
      // Load: one connection that completes before the swap, one caught mid-handshake across it.
      const before = client.connect(SERVER_IP, 8080);
      allowed.push(before);
      wire.run(100_000);
      const across = client.connect(SERVER_IP, 8080);
      allowed.push(across);
      wire.run(2 + (i % 4)); // SYN (and maybe SYN-ACK) in flight
      // A flow on 8081 when 8081 is allowed now, to see the next swap revoke it.
      const odd = (i % 2) === 1;
      let p8081: TcpConnection | null = null;
      if (odd && i % 10 === 1) {
        p8081 = client.connect(SERVER_IP, 8081);
        wire.run(100_000);
      }
      // The swap, through the daemon's reload path on both nodes (server side decides ingress).
      writeFileSync(polFile, policy(odd ? [8080, 8082] : [8080, 8081]));
      const okA = await da.reload(['policy'], 'file');
      const okB = await db.reload(['policy'], 'file');
      expect(okA && okB).toBe(true);
      // Traffic continues on everything both policies allow.
      for (const c of long) send(c, 100);
      wire.run(100_000);
      for (const c of [before, across]) if (c.state === 'ESTABLISHED' && !c.reset) established.add(c);
      if (p8081 !== null) {
        // 8081 was allowed when it opened and is denied now: its next segment gets a reset.
        if (p8081.state !== 'ESTABLISHED') throw new Error(`8081 probe ${i} not established before the swap: ${p8081.describe()} reset=${String(p8081.reset)}`);
        p8081.send(new Uint8Array([1]));
        wire.run(100_000);
        if (p8081.reset) revoked8081++;
        probes8081++;
        const fresh = client.connect(SERVER_IP, 8081);
        wire.run(100_000);
        if (fresh.state !== 'ESTABLISHED') denied8081++;
      }
      // Short connections end (both sides close), so the tables churn as in real load.
      for (const c of [before, across]) {
        if (c.state !== 'ESTABLISHED') continue;
        c.close();
        server.connection(c.remotePort, CLIENT_IP, c.localPort)?.close();
      }
      wire.run(100_000);
      clock.advance(50);
    }
    wire.run(1_000_000);

    const notEstablished = allowed.filter((c) => c.reset || !['ESTABLISHED', 'TIME_WAIT', 'CLOSED', 'FIN_WAIT_2'].includes(c.state) || !established.has(c));
    expect(notEstablished.map((c) => `${c.localPort}:${c.state}`)).toEqual([]);
    for (const c of long) {
      expect(c.state).toBe('ESTABLISHED');
      expect(c.reset).toBe(false);
    }
    const acceptedBytes = new Map(server.accepted.map((s) => [s.remotePort, s.received().length]));
    for (const c of long) expect(acceptedBytes.get(c.localPort)).toBe(sentBytes.get(c));
    expect(allowed.length).toBe(2 * RELOADS);
    // The swaps did take effect.
    expect(probes8081).toBeGreaterThan(0);
    expect(revoked8081).toBe(probes8081);
    expect(denied8081).toBe(probes8081);
    // And the daemons counted every reload as a success.
    const text = await db.metrics.registry.metrics();
    const fams = parsePrometheusText(text);
    expect(sample(fams, 'syngate_policy_reloads_total', { source: 'file', result: 'success' })).toBe(RELOADS);
    expect(sample(fams, 'syngate_policy_reloads_total', { source: 'file', result: 'error' }) ?? 0).toBe(0);
    process.stderr.write(`reload-under-load: ${RELOADS} reloads, ${allowed.length + long.length} allowed connections, 0 dropped; ${probes8081} revocation probes all reset\n`);
  }, 600_000);
});
