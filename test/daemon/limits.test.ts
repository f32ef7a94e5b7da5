// Resource limits at run time (issue 10 item 3): each degrades in its defined way with a metric
// and ONE log line per episode, the daemon keeps running and established state is untouched.
// The conntrack case runs the real daemon core with its engine joined to the simulator's wire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LimitReporter } from '../../enforcer/daemon/limits.js';
import { createLogger } from '../../enforcer/daemon/log.js';
import { Daemon } from '../../enforcer/daemon/daemon.js';
import { EngineCore, CREDENTIAL_FILE, NODE_KEY_FILE } from '../../enforcer/daemon/core.js';
import { parseConfig } from '../../enforcer/daemon/config.js';
import { createMetrics } from '../../enforcer/daemon/metrics.js';
import { createCa, issueNodeCredential } from '../../enforcer/identity/index.js';
import { FakeClock, Prng, TcpHost, Wire } from '../../enforcer/sim/index.js';
import type { AdapterState } from '../../enforcer/datapath/types.js';
import { parsePrometheusText, sample } from './prom.js';

type Line = Record<string, unknown>;

describe('LimitReporter', () => {
  it('one warning when a limit starts being hit, one info line when it stops, nothing in between', () => {
    const lines: Line[] = [];
    const r = new LimitReporter(createLogger('debug', (l) => lines.push(JSON.parse(l) as Line)), 1000);
    r.observe('x', 0, 0, 'refused', 'm');
    expect(lines).toEqual([]);
    r.observe('y', 3, 0, 'evicted', 'm2'); // counters start at 0: a first value above 0 is an episode
    expect(lines.splice(0)).toHaveLength(1);
    for (let t = 1; t <= 100; t++) r.observe('x', t * 5, t * 10, 'refused', 'm');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', msg: 'resource limit reached: x; refused', limit: 'x', count: 5, metric: 'm' });
    expect(r.active().sort()).toEqual(['x', 'y']);
    r.observe('x', 500, 1500, 'refused', 'm');
    expect(lines).toHaveLength(1);
    r.observe('x', 500, 2001, 'refused', 'm');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: 'info', msg: 'resource limit no longer hit: x', affected: 500 });
    expect(r.active()).toEqual(['y']);
  });
});

class WiredCore extends EngineCore {
  override async attach(onState: (s: AdapterState, err: Error | null) => void): Promise<void> {
    onState('ready', null);
  }
  override async detach(): Promise<void> {
    // nothing attached
  }
}

describe('a full conntrack table in the running daemon', () => {
  let dir = '';
  let daemon: Daemon;
  let core: WiredCore;
  let client: WiredCore;
  let clientDaemon: Daemon;
  const lines: Line[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sg-limits-'));
    mkdirSync(join(dir, 'policies'));
    const ca = createCa({ trustDomain: 'cluster.local' });
    writeFileSync(join(dir, 'bundle.pem'), ca.certPem);
    writeFileSync(join(dir, 'inventory.yaml'), `workloads:
  - {name: cli, namespace: demo, serviceAccount: cli, labels: {app: cli}, ip: 198.18.8.1, node: node-a}
  - {name: srv, namespace: demo, serviceAccount: srv, labels: {app: srv}, ip: 198.18.8.2, node: node-b, ports: [8080]}
`);
    writeFileSync(join(dir, 'policies', 'p.yaml'), 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: demo}\nspec: {selector: {matchLabels: {app: srv}}, action: ALLOW, rules: [{}]}\n');
    for (const n of ['node-a', 'node-b']) {
      const cred = issueNodeCredential(ca, { node: n });
      mkdirSync(join(dir, n));
      writeFileSync(join(dir, n, CREDENTIAL_FILE), cred.credential);
      writeFileSync(join(dir, n, NODE_KEY_FILE), cred.nodeKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      const cap = n === 'node-b' ? 1024 : 8192;
      const cfg = parseConfig(
        [`node: ${n}`, 'datapath: {type: pcap, inside: in0, outside: out0}', `identity: {caBundle: bundle.pem, credentials: ${n}}`, 'policy: {paths: [policies]}',
          'inventory: {source: static, file: inventory.yaml}', 'admin: 127.0.0.1:0', 'flowLog: {sink: off, recent: 10}', 'reload: {pollMillis: 60000}',
          `conntrack: {capacity: ${cap}, halfOpenMax: ${Math.min(cap, 8192)}, halfOpenPerSource: ${Math.min(cap, 8192)}}`].join('\n'),
        join(dir, `${n}.yaml`),
      );
      const metrics = createMetrics();
      const logger = createLogger('info', (l) => {
        if (n === 'node-b') lines.push(JSON.parse(l) as Line);
      });
      const c = new WiredCore(cfg, logger, metrics);
      const d = new Daemon(cfg, c, { logger, metrics });
      await d.start();
      if (n === 'node-b') {
        daemon = d;
        core = c;
      } else {
        clientDaemon = d;
        client = c;
      }
    }
  });

  afterAll(async () => {
    await daemon.stop('test');
    await clientDaemon.stop('test');
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses new flows with table-full, counts them, logs once, keeps established flows working', async () => {
    const clock = new FakeClock(Date.now());
    const wire = new Wire({ clock, trace: false });
    const prng = new Prng(5);
    const cli = new TcpHost({ name: 'cli', ip: '198.18.8.1', prng: prng.fork('c'), clock: () => clock.now() });
    const srv = new TcpHost({ name: 'srv', ip: '198.18.8.2', prng: prng.fork('s'), clock: () => clock.now() });
    wire.attach(cli, client.engine!); // eslint-disable-line @typescript-eslint/no-non-null-assertion
    wire.attach(srv, core.engine!); // eslint-disable-line @typescript-eslint/no-non-null-assertion
    srv.listen(8080);
    const first = cli.connect('198.18.8.2', 8080);
    wire.run(100_000);
    expect(first.state).toBe('ESTABLISHED');
    const conns = [];
    for (let i = 0; i < 1100; i++) {
      conns.push(cli.connect('198.18.8.2', 8080));
      if (i % 50 === 49) wire.run(1_000_000);
    }
    wire.run(1_000_000);
    const est = conns.filter((c) => c.state === 'ESTABLISHED').length;
    const capacity = core.engine?.ct.capacity ?? 0;
    expect(est).toBeLessThanOrEqual(capacity);
    expect(est).toBeGreaterThan(900);
    // The established flow from before still carries data.
    first.send(new Uint8Array([1, 2, 3]));
    wire.run(100_000);
    expect(srv.connection(8080, '198.18.8.1', first.localPort)?.received()).toEqual(new Uint8Array([1, 2, 3]));
    // Metric and exactly one warning line.
    core.flush(Date.now(), () => undefined); // what /metrics does before it renders
    if (process.env['SYNGATE_DEBUG'] === '1') process.stderr.write(`est=${est} cap=${capacity} size=${String(core.engine?.ct.size)} stats=${JSON.stringify(core.engine?.ct.stats)} cli=${JSON.stringify(client.engine?.ct.stats)} counters=${JSON.stringify(core.engine?.counterSnapshot())} states=${JSON.stringify(conns.reduce<Record<string, number>>((a, c) => ((a[c.state] = (a[c.state] ?? 0) + 1), a), {}))}\n`);
    expect(core.engine?.ct.stats.tableFull).toBeGreaterThan(0);
    const fams = parsePrometheusText(await daemon.metrics.registry.metrics());
    const refused = sample(fams, 'syngate_conntrack_insert_failures_total', { reason: 'table-full' }) ?? 0;
    expect(refused).toBeGreaterThan(0);
    const warns = lines.filter((l) => l['level'] === 'warn');
    expect(warns).toHaveLength(1);
    expect(String(warns[0]?.['msg'])).toMatch(/conntrack table full/);
    expect(daemon.readyState().ready).toBe(true);
  }, 120_000);
});
