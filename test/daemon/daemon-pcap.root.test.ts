// `syngate run` on the pcap datapath (bump in the wire): client pod ns -> node-a ns (daemon
// bridging lan0 <-> wan0) -> node-b ns (daemon bridging wan0 <-> lan0) -> server pod ns, one L2
// segment, offloads off on every veth end. Checks that the daemon's pcap wiring enforces: allowed
// connections complete, a port the policy does not allow is reset, a policy change takes effect,
// and an established flow the new policy denies is reset on its next segment; SIGTERM exits 0.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueNodeCredential } from '../../enforcer/identity/index.js';
import { CREDENTIAL_FILE, NODE_KEY_FILE } from '../../enforcer/daemon/core.js';
import { ECHO, Procs, client, delNamespaces, prefix, sh, skipUnlessRoot, type Proc } from '../datapath/root-helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const skip = skipUnlessRoot('syngate run (pcap datapath)');
const P = prefix();
const C = `${P}-c`;
const NA = `${P}-na`;
const NB = `${P}-nb`;
const S = `${P}-s`;
const DIR = join(tmpdir(), `${P}-pcap`);
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
  return sh(['ip', 'netns', 'exec', ns, 'curl', '-s', '-m', '2', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:9912/readyz'], true).trim() === '200';
}

async function until(what: string, fn: () => boolean, ms: number, step = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, step));
  }
}

describe.skipIf(skip)('syngate run on the pcap datapath (root)', () => {
  const daemons: Proc[] = [];
  const polFile = join(DIR, 'policies', 'srv.yaml');

  beforeAll(async () => {
    mkdirSync(join(DIR, 'policies'), { recursive: true });
    const ca = createCa({ trustDomain: 'cluster.local' });
    writeFileSync(join(DIR, 'bundle.pem'), ca.certPem);
    writeFileSync(join(DIR, 'inventory.yaml'), `workloads:
  - {name: cli, namespace: demo, serviceAccount: cli, labels: {app: cli}, ip: 198.18.1.2, node: node-a}
  - {name: srv, namespace: demo, serviceAccount: srv, labels: {app: srv}, ip: 198.18.1.3, node: node-b, ports: [8080, 7001]}
`);
    writeFileSync(polFile, policy([8080, 7001]));
    for (const n of ['node-a', 'node-b']) {
      const cred = issueNodeCredential(ca, { node: n });
      mkdirSync(join(DIR, n), { recursive: true });
      writeFileSync(join(DIR, n, CREDENTIAL_FILE), cred.credential);
      writeFileSync(join(DIR, n, NODE_KEY_FILE), cred.nodeKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      writeFileSync(join(DIR, `${n}.yaml`), [`node: ${n}`, 'datapath: {type: pcap, inside: lan0, outside: wan0}', `identity: {caBundle: bundle.pem, credentials: ${n}}`,
        'policy: {paths: [policies]}', 'inventory: {source: static, file: inventory.yaml}', 'admin: 127.0.0.1:9912', 'flowLog: {sink: off}', 'reload: {pollMillis: 100, debounceMillis: 50}', ''].join('\n'));
    }
    for (const ns of [C, NA, NB, S]) {
      sh(['ip', 'netns', 'add', ns]);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    sh(['ip', '-n', C, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', NA]);
    sh(['ip', '-n', NA, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'wan0', 'netns', NB]);
    sh(['ip', '-n', S, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', NB]);
    sh(['ip', '-n', C, 'addr', 'add', '198.18.1.2/24', 'dev', 'eth0']);
    sh(['ip', '-n', S, 'addr', 'add', '198.18.1.3/24', 'dev', 'eth0']);
    for (const [ns, dev] of [[C, 'eth0'], [NA, 'lan0'], [NA, 'wan0'], [NB, 'wan0'], [NB, 'lan0'], [S, 'eth0']] as const) {
      sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
      sh(['ip', 'netns', 'exec', ns, 'ethtool', '-K', dev, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    }
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

  it('allowed connections complete through both bridges; a port the policy lacks after a change is reset, and so is its established flow', async () => {
    expect(client(C, '198.18.1.3', 8080).outcome).toBe('allow');
    const long = await procs.start(C, [...ECHO.slice(0, 1), join(ROOT, ECHO[1] as string), 'client', '198.18.1.3', '7001'], /^connected$/);
    long.send('one');
    await long.waitLine(/^echo one$/, 5000);
    writeFileSync(polFile, policy([8080]));
    await until('7001 denied', () => client(C, '198.18.1.3', 7001, 1000).outcome === 'reset', 3000, 20);
    expect(client(C, '198.18.1.3', 8080).outcome).toBe('allow');
    long.send('two');
    await long.waitLine(/^error (ECONNRESET|EPIPE)/, 5000);
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
