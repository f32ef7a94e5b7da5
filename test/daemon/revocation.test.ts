// Revocation through the daemon's deny-list (docs/config.md `revocation`, docs/security.md), in
// process: two real Daemons with EngineCore (config, inventory, credentials, policy, deny-list file,
// reload with its atomic swap) whose engines are joined by the simulator's wire instead of a kernel
// datapath, as in reload-under-load.test.ts. daemon.root.test.ts covers the kernel path.
// Asserts, for a revoked SPIFFE ID (server side) and a revoked node credential serial (client and
// server side): after the deny-list file is reloaded, an established flow's next segment is answered with
// a reset, a new connection is refused with reason `revoked`, the metrics and flow records say so;
// removing the entry lets new connections through again; a bad deny-list file keeps the old one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Daemon } from '../../enforcer/daemon/daemon.js';
import { FakeClock, Prng, TcpHost, Wire, type TcpConnection } from '../../enforcer/sim/index.js';
import type { FlowRecord } from '../../enforcer/engine/flow-record.js';
import { parsePrometheusText, sample } from './prom.js';
import { policy } from './topology.js';
import { startWiredNodes, type WiredCore } from './helpers/wired.js';

const CLIENT_IP = '198.18.9.1';
const SERVER_IP = '198.18.9.2';
const CLI_ID = 'spiffe://cluster.local/ns/demo/sa/cli';

async function metric(d: Daemon, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sample(parsePrometheusText(await d.metrics.registry.metrics()), name, labels) ?? 0;
}

describe('deny-list revocation through the daemon reload path', () => {
  let dir = '';
  let daemons: Daemon[] = [];
  let cores: WiredCore[] = [];
  let serials: string[] = [];
  const records: FlowRecord[][] = [[], []];
  let wire: Wire;
  let client: TcpHost;
  let server: TcpHost;
  const denyFile = (n: number): string => join(dir, `revoked-${n}.yaml`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-revoke-'));
    for (const i of [0, 1]) writeFileSync(denyFile(i), '# nothing revoked yet\n');
    ({ daemons, cores, serials } = await startWiredNodes(dir, {
      nodes: ['node-a', 'node-b'],
      inventory: `trustDomain: cluster.local
workloads:
  - {name: cli, namespace: demo, serviceAccount: cli, labels: {app: cli}, ip: ${CLIENT_IP}, node: node-a}
  - {name: srv, namespace: demo, serviceAccount: srv, labels: {app: srv}, ip: ${SERVER_IP}, node: node-b, ports: [8080]}
`,
      policy: policy([8080]),
      extraConfig: (i) => [`revocation: {file: revoked-${i}.yaml}`],
    }));
    const [a, b] = cores as [WiredCore, WiredCore];
    if (a.engine === null || b.engine === null) throw new Error('engines not built');
    const clock = new FakeClock(Date.now());
    wire = new Wire({ clock, trace: false });
    const prng = new Prng(5);
    client = new TcpHost({ name: 'cli', ip: CLIENT_IP, prng: prng.fork('c'), clock: () => clock.now() });
    server = new TcpHost({ name: 'srv', ip: SERVER_IP, prng: prng.fork('s'), clock: () => clock.now() });
    wire.attach(client, a.engine);
    wire.attach(server, b.engine);
    server.listen(8080);
  });

  afterAll(async () => {
    for (const d of daemons) await d.stop('test');
    rmSync(dir, { recursive: true, force: true });
  });

  function connect(): TcpConnection {
    const c = client.connect(SERVER_IP, 8080);
    wire.run(100_000);
    return c;
  }

  /** Records and verdict metrics of both daemons up to now. */
  function flush(): void {
    cores.forEach((c, i) => c.flush(Date.now(), (r) => records[i]!.push(r)));
  }

  it('a revoked SPIFFE ID: the established flow is reset, a new connection is refused with reason revoked', async () => {
    const [, db] = daemons as [Daemon, Daemon];
    const est = connect();
    expect(est.state).toBe('ESTABLISHED');
    // The server's enforcer revokes the client's workload identity.
    writeFileSync(denyFile(1), `spiffeIds:\n  - ${CLI_ID}\n`);
    expect(await db.reload(['revocation'], 'file')).toBe(true);
    expect(db.lastReload?.denyList).toEqual({ serials: 0, spiffeIds: 1, added: 1, removed: 0, revoked: 1 });
    expect(db.lastReload?.revoked).toBe(1);
    est.send(new Uint8Array([1, 2, 3]));
    wire.run(100_000);
    expect(est.reset).toBe(true);
    const fresh = connect();
    expect(fresh.state).not.toBe('ESTABLISHED');
    flush();
    expect(await metric(db, 'syngate_verdicts_total', { action: 'deny', reason: 'revoked', direction: 'inbound' })).toBeGreaterThanOrEqual(1);
    expect(await metric(db, 'syngate_denylist_flows_revoked_total')).toBe(1);
    expect(await metric(db, 'syngate_flows_revoked_total')).toBe(1);
    expect(await metric(db, 'syngate_denylist_entries', { kind: 'spiffe-id' })).toBe(1);
    expect(await metric(db, 'syngate_denylist_changes_total', { change: 'added' })).toBe(1);
    const mine = records[1]!.filter((r) => r.src.port === est.localPort);
    expect(mine.map((r) => [r.state, r.reason])).toContainEqual(['revoked', 'revoked']);
    expect(records[1]!.filter((r) => r.src.port === fresh.localPort).map((r) => [r.state, r.reason])).toContainEqual(['rejected', 'revoked']);
  });

  it('removing the entry lets new connections through again', async () => {
    const [, db] = daemons as [Daemon, Daemon];
    writeFileSync(denyFile(1), 'spiffeIds: []\n');
    expect(await db.reload(['revocation'], 'file')).toBe(true);
    expect(db.lastReload?.denyList).toEqual({ serials: 0, spiffeIds: 0, added: 0, removed: 1, revoked: 0 });
    expect(connect().state).toBe('ESTABLISHED');
  });

  it('a revoked node credential serial (client side): the flow to that node is reset, new ones refused', async () => {
    const [da] = daemons as [Daemon, Daemon];
    const est = connect();
    const other = connect();
    expect(est.state).toBe('ESTABLISHED');
    // The client's enforcer revokes the server node's credential, written in capitals (case-insensitive).
    writeFileSync(denyFile(0), `serials: ["${serials[1]!.toUpperCase()}"]\n`);
    expect(await da.reload(['revocation'], 'file')).toBe(true);
    // Both open flows to node-b are revoked (the earlier test's flow was closed by its reset).
    expect(da.lastReload?.denyList?.revoked).toBeGreaterThanOrEqual(2);
    est.send(new Uint8Array([9]));
    other.send(new Uint8Array([9]));
    wire.run(100_000);
    expect(est.reset).toBe(true);
    expect(other.reset).toBe(true);
    const fresh = connect();
    expect(fresh.state).not.toBe('ESTABLISHED');
    flush();
    // The client enforcer refuses the server's SYN-ACK: an outbound deny with reason revoked.
    expect(await metric(da, 'syngate_verdicts_total', { action: 'deny', reason: 'revoked', direction: 'outbound' })).toBeGreaterThanOrEqual(1);
    expect(await metric(da, 'syngate_denylist_entries', { kind: 'serial' })).toBe(1);
  });

  it('a bad deny-list file keeps the previous deny-list and counts a reload error naming the file and line', async () => {
    const [da] = daemons as [Daemon, Daemon];
    const before = await metric(da, 'syngate_policy_reloads_total', { source: 'file', result: 'error' });
    writeFileSync(denyFile(0), `serials:\n  - "${serials[1]}"\n  - "12345"\n`);
    expect(await da.reload(['revocation'], 'file')).toBe(false);
    expect(da.lastReloadError).toContain(`${denyFile(0)}:3:5: serials[1]: must be a node credential serial, exactly 16 hex digits`);
    expect(await metric(da, 'syngate_policy_reloads_total', { source: 'file', result: 'error' })).toBe(before + 1);
    expect(await metric(da, 'syngate_policy_last_reload_success')).toBe(0);
    // Still revoked.
    expect(connect().state).not.toBe('ESTABLISHED');
    // A missing file is an error too (the old list stays).
    rmSync(denyFile(0));
    expect(await da.reload(['revocation'], 'file')).toBe(false);
    expect(da.lastReloadError).toMatch(/revoked-0\.yaml:1:1: \(file\): cannot read the deny-list file \(ENOENT\)/);
    expect(connect().state).not.toBe('ESTABLISHED');
    // An empty file lifts it.
    writeFileSync(denyFile(0), '');
    expect(await da.reload(['revocation'], 'file')).toBe(true);
    expect(await metric(da, 'syngate_policy_last_reload_success')).toBe(1);
    expect(connect().state).toBe('ESTABLISHED');
  });

  it("a revoked node credential serial (server side): the server's enforcer resets the client node's flows", async () => {
    const [, db] = daemons as [Daemon, Daemon];
    const est = connect();
    expect(est.state).toBe('ESTABLISHED');
    const revokedBefore = await metric(db, 'syngate_denylist_flows_revoked_total');
    writeFileSync(denyFile(1), `serials:\n  - "${serials[0]}"\n`);
    expect(await db.reload(['revocation'], 'file')).toBe(true);
    expect(db.lastReload?.denyList).toMatchObject({ serials: 1, spiffeIds: 0, added: 1 });
    expect(db.lastReload?.denyList?.revoked).toBeGreaterThanOrEqual(1);
    est.send(new Uint8Array([7]));
    wire.run(100_000);
    expect(est.reset).toBe(true);
    expect(connect().state).not.toBe('ESTABLISHED');
    flush();
    expect(await metric(db, 'syngate_denylist_flows_revoked_total')).toBeGreaterThan(revokedBefore);
    expect(records[1]!.filter((r) => r.src.port === est.localPort).map((r) => [r.state, r.reason])).toContainEqual(['revoked', 'revoked']);
  });
});
