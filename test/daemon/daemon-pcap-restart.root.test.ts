// Restart of `syngate run` on the pcap datapath (bump in the wire), same topology as
// daemon-pcap.root.test.ts: client pod ns -> node-a (bridge) -> node-b (bridge) -> server pod ns.
// node-b (the server-side enforcer) has conntrack.stateFile set. Checks that an established
// connection survives a graceful restart (SIGTERM, then start again: the authorized flows are saved
// and restored, data flows afterwards), that a new connection works after it, that the state file
// is written 0600 and deleted once restored, that a restored flow the policy in force denies is
// revoked, and that after kill -9 (no snapshot) an established
// flow is not forwarded any more (fail closed) while new connections still work.
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueNodeCredential } from '../../enforcer/identity/index.js';
import { CREDENTIAL_FILE, NODE_KEY_FILE } from '../../enforcer/daemon/core.js';
import { ECHO, Procs, client, delNamespaces, prefix, sh, skipUnlessRoot, type Proc } from '../datapath/root-helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const skip = skipUnlessRoot('syngate run restart (pcap datapath)');
const P = prefix();
const C = `${P}-c`;
const NA = `${P}-na`;
const NB = `${P}-nb`;
const S = `${P}-s`;
const DIR = join(tmpdir(), `${P}-pcaprs`);
const STATE = join(DIR, 'state', 'node-b.conntrack');
const procs = new Procs();

const POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: srv-allow, namespace: demo}
spec:
  selector: {matchLabels: {app: srv}}
  action: ALLOW
  rules:
    - from: [{source: {principals: ["cluster.local/ns/demo/sa/cli"]}}]
      to: [{operation: {ports: ["8080", "7001"]}}]
`;

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

async function startDaemon(ns: string, n: string): Promise<Proc> {
  const d = await procs.start(ns, [process.execPath, join(ROOT, 'bin/syngate.js'), 'run', '--config', join(DIR, `${n}.yaml`)], null);
  await until(`${n} ready`, () => ready(ns), 20_000, 100).catch((e: unknown) => {
    throw new Error(`${String(e)}; stderr: ${d.stderr}`);
  });
  return d;
}

describe.skipIf(skip)('syngate run on the pcap datapath: restart (root)', () => {
  let nodeB: Proc | null = null;

  beforeAll(async () => {
    mkdirSync(join(DIR, 'policies'), { recursive: true });
    const ca = createCa({ trustDomain: 'cluster.local' });
    writeFileSync(join(DIR, 'bundle.pem'), ca.certPem);
    writeFileSync(join(DIR, 'inventory.yaml'), `workloads:
  - {name: cli, namespace: demo, serviceAccount: cli, labels: {app: cli}, ip: 198.18.1.2, node: node-a}
  - {name: srv, namespace: demo, serviceAccount: srv, labels: {app: srv}, ip: 198.18.1.3, node: node-b, ports: [8080, 7001]}
`);
    writeFileSync(join(DIR, 'policies', 'srv.yaml'), POLICY);
    for (const n of ['node-a', 'node-b']) {
      const cred = issueNodeCredential(ca, { node: n });
      mkdirSync(join(DIR, n), { recursive: true });
      writeFileSync(join(DIR, n, CREDENTIAL_FILE), cred.credential);
      writeFileSync(join(DIR, n, NODE_KEY_FILE), cred.nodeKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      writeFileSync(join(DIR, `${n}.yaml`), [`node: ${n}`, 'datapath: {type: pcap, inside: lan0, outside: wan0}', `identity: {caBundle: bundle.pem, credentials: ${n}}`,
        'policy: {paths: [policies]}', 'inventory: {source: static, file: inventory.yaml}', 'admin: 127.0.0.1:9912', 'flowLog: {sink: off}', 'reload: {pollMillis: 100, debounceMillis: 50}',
        ...(n === 'node-b' ? [`conntrack: {stateFile: ${STATE}, stateMaxAgeSeconds: 60}`] : []), ''].join('\n'));
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
    await startDaemon(NA, 'node-a');
    nodeB = await startDaemon(NB, 'node-b');
  });

  afterAll(async () => {
    await procs.killAll();
    delNamespaces(P);
    rmSync(DIR, { recursive: true, force: true });
  });

  it('an established connection survives a graceful restart of the server-side enforcer; new connections work after it', async () => {
    expect(client(C, '198.18.1.3', 8080).outcome).toBe('allow');
    const long = await procs.start(C, [...ECHO.slice(0, 1), join(ROOT, ECHO[1] as string), 'client', '198.18.1.3', '7001'], /^connected$/);
    long.send('one');
    await long.waitLine(/^echo one$/, 5000);

    const old = nodeB as Proc;
    old.kill('SIGTERM');
    expect(await old.exited).toBe(0);
    expect(old.stderr).toMatch(/conntrack state saved/);
    expect(existsSync(STATE)).toBe(true);
    expect(statSync(STATE).mode & 0o777).toBe(0o600);

    nodeB = await startDaemon(NB, 'node-b');
    await until('restore logged', () => /conntrack state restored/.test(nodeB?.stderr ?? ''), 5000);
    const line = (nodeB.stderr.split('\n').find((l) => l.includes('conntrack state restored')) ?? '{}');
    const rec = JSON.parse(line) as { restored?: number; revoked?: number };
    expect(rec.restored).toBeGreaterThanOrEqual(1);
    expect(rec.revoked).toBe(0);
    expect(existsSync(STATE)).toBe(false);

    long.send('two');
    await long.waitLine(/^echo two$/, 10_000);
    long.send('three');
    await long.waitLine(/^echo three$/, 5000);
    expect(client(C, '198.18.1.3', 8080).outcome).toBe('allow');
    long.kill('SIGKILL');
  });

  it('a restored flow the policy in force denies is revoked at start (reset on its next segment)', async () => {
    const long = await procs.start(C, [...ECHO.slice(0, 1), join(ROOT, ECHO[1] as string), 'client', '198.18.1.3', '7001'], /^connected$/);
    long.send('one');
    await long.waitLine(/^echo one$/, 5000);
    const old = nodeB as Proc;
    old.kill('SIGTERM');
    expect(await old.exited).toBe(0);
    expect(existsSync(STATE)).toBe(true);
    writeFileSync(join(DIR, 'policies', 'srv.yaml'), POLICY.replace(', "7001"', ''));
    try {
      nodeB = await startDaemon(NB, 'node-b');
      await until('restore logged', () => /conntrack state restored/.test(nodeB?.stderr ?? ''), 5000);
      const line = nodeB.stderr.split('\n').find((l) => l.includes('conntrack state restored')) ?? '{}';
      const rec = JSON.parse(line) as { restored?: number; revoked?: number };
      expect(rec.restored).toBeGreaterThanOrEqual(1);
      expect(rec.revoked).toBeGreaterThanOrEqual(1);
      long.send('two');
      await long.waitLine(/^error (ECONNRESET|EPIPE)/, 10_000);
      expect(long.lines).not.toContain('echo two');
    } finally {
      writeFileSync(join(DIR, 'policies', 'srv.yaml'), POLICY);
    }
    // Port 7001 allowed again for the next test: wait for the reload, then check a fresh connection.
    await until('policy reloaded', () => /"reloaded"/.test(nodeB?.stderr ?? ''), 5000);
    const fresh = await procs.start(C, [...ECHO.slice(0, 1), join(ROOT, ECHO[1] as string), 'client', '198.18.1.3', '7001'], /^connected$/);
    fresh.send('back');
    await fresh.waitLine(/^echo back$/, 5000);
    fresh.kill('SIGKILL');
  });

  it('after kill -9 (no snapshot) an established flow is no longer forwarded (fail closed); new connections work', async () => {
    const long = await procs.start(C, [...ECHO.slice(0, 1), join(ROOT, ECHO[1] as string), 'client', '198.18.1.3', '7001'], /^connected$/);
    long.send('one');
    await long.waitLine(/^echo one$/, 5000);
    const old = nodeB as Proc;
    old.kill('SIGKILL');
    await old.exited;
    expect(existsSync(STATE)).toBe(false);
    nodeB = await startDaemon(NB, 'node-b');
    expect(nodeB.stderr).not.toMatch(/conntrack state restored/);
    expect(client(C, '198.18.1.3', 8080).outcome).toBe('allow');
    long.send('lost');
    // The flow is unknown to the restarted enforcer: its segments are dropped (or reset), never echoed.
    const got = await long.waitLine(/^(echo lost|error .*)$/, 3000).catch(() => 'nothing');
    expect(got).not.toBe('echo lost');
    long.kill('SIGKILL');
  });
});
