// `syngate run` on a real kernel: client pod ns -> node-a ns (daemon) -> node-b ns (daemon) ->
// server pod ns, nfqueue datapath, both daemons reading the same policy folder. Checks the issue's
// acceptance lines:
//  - /metrics parses as Prometheus text and its counters move with real traffic;
//  - a policy file changed on disk takes effect for new connections within 2 s;
//  - an established flow the new policy denies is reset;
//  - a broken policy file leaves traffic as it was and sets the error metric;
//  - SIGTERM exits 0 within 5 s and leaves no rules behind.
// Runs the built CLI (`node bin/syngate.js`; npm test builds first).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueNodeCredential } from '../../enforcer/identity/index.js';
import { CREDENTIAL_FILE, NODE_KEY_FILE } from '../../enforcer/daemon/core.js';
import { ECHO, Procs, client, delNamespaces, prefix, sh, skipUnlessRoot, type Proc } from '../datapath/root-helpers.js';
import { parsePrometheusText, sample } from './prom.js';
import { policy, until } from './topology.js';

const ROOT = resolve(import.meta.dirname, '../..');
const skip = skipUnlessRoot('syngate run (daemon)');
const P = prefix();
const C = `${P}-c`;
const NA = `${P}-na`;
const NB = `${P}-nb`;
const S = `${P}-s`;
const L = `${P}-l`;
const DIR = join(tmpdir(), `${P}-daemon`);
const procs = new Procs();
const ADMIN = '127.0.0.1:9911';

function adminGet(path: string, ns = NB): { status: number; body: string } {
  const out = sh(['ip', 'netns', 'exec', ns, 'curl', '-s', '-m', '3', '-w', '\n%{http_code}', `http://${ADMIN}${path}`], true);
  const i = out.lastIndexOf('\n');
  return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
}

function metric(name: string, labels: Record<string, string> = {}, ns = NB): number {
  return sample(parsePrometheusText(adminGet('/metrics', ns).body), name, labels) ?? 0;
}

describe.skipIf(skip)('syngate run in network namespaces (root)', () => {
  let daemonA: Proc;
  let daemonB: Proc;
  const polFile = join(DIR, 'policies', 'srv.yaml');

  beforeAll(async () => {
    mkdirSync(join(DIR, 'policies'), { recursive: true });
    mkdirSync(join(DIR, 'cred'), { recursive: true });
    const ca = createCa({ trustDomain: 'cluster.local' });
    writeFileSync(join(DIR, 'bundle.pem'), ca.certPem);
    for (const n of ['node-a', 'node-b']) {
      const node = issueNodeCredential(ca, { node: n });
      mkdirSync(join(DIR, n), { recursive: true });
      writeFileSync(join(DIR, n, CREDENTIAL_FILE), node.credential);
      writeFileSync(join(DIR, n, NODE_KEY_FILE), node.nodeKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      writeFileSync(join(DIR, `${n}.yaml`), [
        `node: ${n}`,
        `datapath: {type: nfqueue, interfaces: [${n === 'node-a' ? 'lan0, lan1' : 'lan0'}], queueBase: 7300}`,
        `identity: {caBundle: bundle.pem, credentials: ${n}}`,
        'policy: {paths: [policies]}',
        'inventory: {source: static, file: inventory.yaml}',
        `admin: ${ADMIN}`,
        `flowLog: {sink: file, path: ${n}-flows.jsonl, recent: 100}`,
        'log: {level: info}',
        'reload: {pollMillis: 100, debounceMillis: 50}',
        '',
      ].join('\n'));
    }
    writeFileSync(join(DIR, 'inventory.yaml'), [
      'trustDomain: cluster.local',
      'workloads:',
      '  - {name: cli, namespace: demo, serviceAccount: cli, labels: {app: cli}, ip: 198.18.1.2, node: node-a}',
      '  - {name: srv, namespace: demo, serviceAccount: srv, labels: {app: srv}, ip: 198.18.2.2, node: node-b, ports: [8080, 7001]}',
      '  - {name: local-srv, namespace: demo, serviceAccount: local-srv, labels: {app: srv}, ip: 198.18.5.2, node: node-a, ports: [8080]}',
      '',
    ].join('\n'));
    writeFileSync(polFile, policy([8080, 7001]));
    for (const ns of [C, NA, NB, S, L]) {
      sh(['ip', 'netns', 'add', ns]);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    sh(['ip', '-n', C, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', NA]);
    sh(['ip', '-n', S, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', NB]);
    sh(['ip', '-n', NA, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'wan0', 'netns', NB]);
    sh(['ip', '-n', L, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan1', 'netns', NA]);
    const addrs: [string, string, string][] = [
      [C, 'eth0', '198.18.1.2/24'], [NA, 'lan0', '198.18.1.1/24'], [NA, 'wan0', '198.18.3.1/24'],
      [NB, 'wan0', '198.18.3.2/24'], [NB, 'lan0', '198.18.2.1/24'], [S, 'eth0', '198.18.2.2/24'],
      [NA, 'lan1', '198.18.5.1/24'], [L, 'eth0', '198.18.5.2/24'],
    ];
    for (const [ns, dev, a] of addrs) {
      sh(['ip', '-n', ns, 'addr', 'add', a, 'dev', dev]);
      sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    }
    sh(['ip', '-n', C, 'route', 'add', 'default', 'via', '198.18.1.1']);
    sh(['ip', '-n', S, 'route', 'add', 'default', 'via', '198.18.2.1']);
    // The same-node server: its own veth (lan1) and subnet on node-a.
    sh(['ip', '-n', L, 'route', 'add', 'default', 'via', '198.18.5.1']);
    sh(['ip', '-n', NA, 'route', 'add', '198.18.2.0/24', 'via', '198.18.3.2']);
    sh(['ip', '-n', NB, 'route', 'add', '198.18.1.0/24', 'via', '198.18.3.1']);
    for (const ns of [NA, NB]) sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await procs.start(S, ['node', join(ROOT, 'scripts/lab/app-server.mjs'), '--name', 'demo/srv', '--ports', '8080']);
    await procs.start(L, ['node', join(ROOT, 'scripts/lab/app-server.mjs'), '--name', 'demo/local-srv', '--ports', '8080']);
    await procs.start(S, [...ECHO.slice(0, 1), join(ROOT, ECHO[1] as string), 'server', '7001']);

    daemonA = await procs.start(NA, [process.execPath, join(ROOT, 'bin/syngate.js'), 'run', '--config', join(DIR, 'node-a.yaml')], null);
    daemonB = await procs.start(NB, [process.execPath, join(ROOT, 'bin/syngate.js'), 'run', '--config', join(DIR, 'node-b.yaml')], null);
    for (const [ns, d] of [[NA, daemonA], [NB, daemonB]] as const) {
      await until(`daemon in ${ns} ready`, () => adminGet('/readyz', ns).status === 200, 20_000, 100).catch((e: unknown) => {
        throw new Error(`${String(e)}; daemon stderr: ${d.stderr}`);
      });
    }
  });

  afterAll(async () => {
    if (process.env['SYNGATE_DEBUG'] === '1') process.stderr.write(`--- daemon stderr ---\n${daemonA?.stderr ?? ''}\n${daemonB?.stderr ?? ''}\n--- flows ---\n${adminGet('/flows?limit=20').body}\n`);
    await procs.killAll();
    delNamespaces(P);
    rmSync(DIR, { recursive: true, force: true });
  });

  it('serves /healthz and /readyz; /metrics parses as Prometheus text and counters move with real traffic', () => {
    expect(adminGet('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    const before = metric('syngate_verdicts_total', { action: 'allow', reason: 'ok', direction: 'inbound' });
    for (let i = 0; i < 3; i++) expect(client(C, '198.18.2.2', 8080).outcome).toBe('allow');
    const text = adminGet('/metrics').body;
    const fams = parsePrometheusText(text); // throws on any malformed line
    expect(fams.size).toBeGreaterThan(20);
    expect(sample(fams, 'syngate_ready')).toBe(1);
    expect(sample(fams, 'syngate_verdicts_total', { action: 'allow', reason: 'ok', direction: 'inbound' })).toBeGreaterThanOrEqual(before + 3);
    expect(metric('syngate_verdicts_total', { action: 'allow', reason: 'ok', direction: 'outbound' }, NA)).toBeGreaterThanOrEqual(3);
    expect(sample(fams, 'syngate_handshake_duration_seconds_count', { direction: 'inbound' })).toBeGreaterThanOrEqual(3);
    expect(sample(fams, 'syngate_conntrack_capacity')).toBeGreaterThan(0);
    expect(sample(fams, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    // A same-node flow (client and server both behind node-a) crosses node-a's enforcer twice.
    const local = client(C, '198.18.5.2', 8080);
    expect(local.outcome).toBe('allow');
    expect(local.body).toContain('demo/local-srv');
    const flows = JSON.parse(adminGet('/flows?limit=5').body) as { flows: { dst: { workload: string } }[] };
    expect(flows.flows.some((f) => f.dst.workload === 'demo/srv')).toBe(true);
    expect(adminGet('/map').body).toMatch(/<html|<!doctype/i);
  });

  it('a policy change on disk: new connections denied within 2 s, the established flow it denies is reset', async () => {
    const long = await procs.start(C, [...ECHO.slice(0, 1), join(ROOT, ECHO[1] as string), 'client', '198.18.2.2', '7001'], /^connected$/);
    long.send('hello');
    await long.waitLine(/^echo hello$/, 5000);
    expect(client(C, '198.18.2.2', 7001).outcome).not.toBe('reset');
    const revokedBefore = metric('syngate_flows_revoked_total');

    writeFileSync(polFile, policy([8080]));
    const t0 = Date.now();
    await until('new connection to 7001 denied', () => client(C, '198.18.2.2', 7001, 1000).outcome === 'reset', 2000, 20);
    const took = Date.now() - t0;
    process.stderr.write(`daemon.root: policy change denied new connections after ${took} ms\n`);
    expect(took).toBeLessThanOrEqual(2000);
    expect(client(C, '198.18.2.2', 8080).outcome).toBe('allow');

    // The established flow: its next packet is answered with a reset.
    long.send('after');
    await long.waitLine(/^error (ECONNRESET|EPIPE)/, 5000);
    expect(metric('syngate_flows_revoked_total')).toBeGreaterThan(revokedBefore);
    expect(metric('syngate_policy_reloads_total', { source: 'file', result: 'success' })).toBeGreaterThanOrEqual(1);
  });

  it('a broken policy file leaves traffic as it was and sets the error metric', async () => {
    const errorsBefore = metric('syngate_policy_reloads_total', { source: 'file', result: 'error' });
    writeFileSync(polFile, 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x, namespace: demo}\nspec:\n  action: MAYBE\n  rules: [[\n');
    await until('reload error counted', () => metric('syngate_policy_reloads_total', { source: 'file', result: 'error' }) > errorsBefore, 5000, 100);
    expect(metric('syngate_policy_last_reload_success')).toBe(0);
    expect(client(C, '198.18.2.2', 8080).outcome).toBe('allow');
    expect(client(C, '198.18.2.2', 7001, 1000).outcome).toBe('reset');
    expect(adminGet('/readyz').status).toBe(200);
    // SIGHUP reloads everything: still broken, so another error, and traffic still as it was.
    daemonB.kill('SIGHUP');
    await until('SIGHUP reload counted', () => metric('syngate_policy_reloads_total', { source: 'signal', result: 'error' }) >= 1, 5000, 100);
    expect(client(C, '198.18.2.2', 8080).outcome).toBe('allow');
    // Fixed: the next reload succeeds and the gauge returns to 1.
    writeFileSync(polFile, policy([8080]));
    await until('fixed file reloaded', () => metric('syngate_policy_last_reload_success') === 1, 5000, 100);
  });

  it('SIGTERM: exits 0 within 5 s and leaves no rules behind', async () => {
    for (const [ns, d] of [[NA, daemonA], [NB, daemonB]] as const) {
      expect(sh(['ip', 'netns', 'exec', ns, 'iptables-save'])).toMatch(/SYNGATE/);
      const t0 = Date.now();
      d.kill('SIGTERM');
      const code = await d.exited;
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(code).toBe(0);
      expect(sh(['ip', 'netns', 'exec', ns, 'iptables-save'])).not.toMatch(/SYNGATE|NFQUEUE/);
      expect(sh(['ip', 'netns', 'exec', ns, 'nft', 'list', 'ruleset'])).not.toMatch(/SYNGATE|queue/i);
    }
  });
});
