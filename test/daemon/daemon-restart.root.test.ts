// Restarting `syngate run` on nfqueue with `datapath.keepRulesOnExit: true` (what the DaemonSet
// uses for rolling updates): client pod -> node-a (daemon) -> node-b (daemon) -> server pod, routed.
// While node-b's daemon is down its queue rules stay: the established flow keeps working (connmark
// fast path in the kernel) and new connections fail closed; after a restart new connections work
// again and the established flow is still intact. (The rules left at the end go with the namespaces.)
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueNodeCredential } from '../../enforcer/identity/index.js';
import { CREDENTIAL_FILE, NODE_KEY_FILE } from '../../enforcer/daemon/core.js';
import { ECHO, Procs, client, delNamespaces, prefix, sh, skipUnlessRoot, type Proc } from '../datapath/root-helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const skip = skipUnlessRoot('syngate run restart (nfqueue, keepRulesOnExit)');
const P = prefix();
const C = `${P}-c`;
const NA = `${P}-na`;
const NB = `${P}-nb`;
const S = `${P}-s`;
const DIR = join(tmpdir(), `${P}-restart`);
const procs = new Procs();

function policy(ports: number[]): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: srv-allow, namespace: demo}
spec:
  selector: {matchLabels: {app: srv}}
  action: ALLOW
  rules:
    - from: [{source: {principals: ["cluster.local/ns/demo/sa/cli"]}}]
      to: [{operation: {ports: [${ports.map((p) => `"${p}"`).join(', ')}]}}]
`;
}

function ready(ns: string): boolean {
  return sh(['ip', 'netns', 'exec', ns, 'curl', '-s', '-m', '2', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:9913/readyz'], true).trim() === '200';
}

async function until(what: string, fn: () => boolean, ms: number, step = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, step));
  }
}

describe.skipIf(skip)('syngate run restart on nfqueue with keepRulesOnExit (root)', () => {
  const daemons: Proc[] = [];
  const polFile = join(DIR, 'policies', 'srv.yaml');

  beforeAll(async () => {
    mkdirSync(join(DIR, 'policies'), { recursive: true });
    const ca = createCa({ trustDomain: 'cluster.local' });
    writeFileSync(join(DIR, 'bundle.pem'), ca.certPem);
    writeFileSync(join(DIR, 'inventory.yaml'), `workloads:
  - {name: cli, namespace: demo, serviceAccount: cli, labels: {app: cli}, ip: 198.18.1.2, node: node-a}
  - {name: srv, namespace: demo, serviceAccount: srv, labels: {app: srv}, ip: 198.18.2.2, node: node-b, ports: [8080, 7001]}
`);
    writeFileSync(polFile, policy([8080, 7001]));
    for (const n of ['node-a', 'node-b']) {
      const cred = issueNodeCredential(ca, { node: n });
      mkdirSync(join(DIR, n), { recursive: true });
      writeFileSync(join(DIR, n, CREDENTIAL_FILE), cred.credential);
      writeFileSync(join(DIR, n, NODE_KEY_FILE), cred.nodeKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      writeFileSync(join(DIR, `${n}.yaml`), [`node: ${n}`, 'datapath: {type: nfqueue, interfaces: [lan0], queueBase: 7400, keepRulesOnExit: true}', `identity: {caBundle: bundle.pem, credentials: ${n}}`,
        'policy: {paths: [policies]}', 'inventory: {source: static, file: inventory.yaml}', 'admin: 127.0.0.1:9913', 'flowLog: {sink: off}', 'reload: {pollMillis: 100, debounceMillis: 50}', ''].join('\n'));
    }
    for (const ns of [C, NA, NB, S]) {
      sh(['ip', 'netns', 'add', ns]);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    sh(['ip', '-n', C, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', NA]);
    sh(['ip', '-n', S, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', NB]);
    sh(['ip', '-n', NA, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'wan0', 'netns', NB]);
    const addrs: [string, string, string][] = [
      [C, 'eth0', '198.18.1.2/24'], [NA, 'lan0', '198.18.1.1/24'], [NA, 'wan0', '198.18.3.1/24'],
      [NB, 'wan0', '198.18.3.2/24'], [NB, 'lan0', '198.18.2.1/24'], [S, 'eth0', '198.18.2.2/24'],
    ];
    for (const [ns, dev, a] of addrs) {
      sh(['ip', '-n', ns, 'addr', 'add', a, 'dev', dev]);
      sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    }
    sh(['ip', '-n', C, 'route', 'add', 'default', 'via', '198.18.1.1']);
    sh(['ip', '-n', S, 'route', 'add', 'default', 'via', '198.18.2.1']);
    sh(['ip', '-n', NA, 'route', 'add', '198.18.2.0/24', 'via', '198.18.3.2']);
    sh(['ip', '-n', NB, 'route', 'add', '198.18.1.0/24', 'via', '198.18.3.1']);
    for (const ns of [NA, NB]) sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await procs.start(S, ['node', join(ROOT, 'scripts/lab/app-server.mjs'), '--name', 'demo/srv', '--ports', '8080']);
    await procs.start(S, [...ECHO.slice(0, 1), join(ROOT, ECHO[1] as string), 'server', '7001']);
    for (const [ns, n] of [[NA, 'node-a'], [NB, 'node-b']] as const) {
      const d = await procs.start(ns, [process.execPath, join(ROOT, 'bin/syngate.js'), 'run', '--config', join(DIR, `${n}.yaml`)], null);
      daemons.push(d);
      await until(`${n} ready`, () => ready(ns), 20_000, 100).catch((e: unknown) => {
        throw new Error(`${String(e)}; stderr: ${d.stderr}`);
      });
    }
  });

  afterAll(async () => {
    await procs.killAll();
    delNamespaces(P);
    rmSync(DIR, { recursive: true, force: true });
  });

  const startB = async (): Promise<Proc> => {
    const d = await procs.start(NB, [process.execPath, join(ROOT, 'bin/syngate.js'), 'run', '--config', join(DIR, 'node-b.yaml')], null);
    await until('node-b ready', () => ready(NB), 20_000, 100).catch((e: unknown) => {
      throw new Error(`${String(e)}; stderr: ${d.stderr}`);
    });
    return d;
  };

  it('established flows survive a daemon restart, new ones fail closed while it is down and work after', async () => {
    expect(client(C, '198.18.2.2', 8080).outcome).toBe('allow');
    const long = await procs.start(C, [...ECHO.slice(0, 1), join(ROOT, ECHO[1] as string), 'client', '198.18.2.2', '7001'], /^connected$/);
    long.send('before');
    await long.waitLine(/^echo before$/, 5000);
    // Stop node-b's daemon: the rules stay.
    const old = daemons[1] as Proc;
    old.kill('SIGTERM');
    expect(await old.exited).toBe(0);
    expect(sh(['ip', 'netns', 'exec', NB, 'iptables-save'])).toMatch(/SYNGATE/);
    long.send('while-down');
    await long.waitLine(/^echo while-down$/, 5000);
    expect(client(C, '198.18.2.2', 8080, 1000).outcome).not.toBe('allow');
    // Restart: the new daemon takes over the same queues and rules.
    daemons[1] = await startB();
    expect(client(C, '198.18.2.2', 8080).outcome).toBe('allow');
    long.send('after');
    await long.waitLine(/^echo after$/, 5000);
  });

  it('SIGTERM exits 0 within 5 s', async () => {
    for (const d of daemons) {
      const t0 = Date.now();
      d.kill('SIGTERM');
      expect(await d.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000);
    }
  });
});
