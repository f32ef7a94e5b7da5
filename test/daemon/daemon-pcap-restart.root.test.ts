// Restart of `syngate run` on the pcap datapath (bump in the wire), same topology as
// daemon-pcap.root.test.ts: client pod ns -> node-a (bridge) -> node-b (bridge) -> server pod ns.
// node-b (the server-side enforcer) has conntrack.stateFile set. Checks that an established
// connection survives a graceful restart (SIGTERM, then start again: the authorized flows are saved
// and restored, data flows afterwards), that a new connection works after it, that the state file
// is written 0600 and deleted once restored, that a restored flow the policy in force denies is
// revoked, and that after kill -9 (no snapshot) an established
// flow is not forwarded any more (fail closed) while new connections still work.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Procs, client, skipUnlessRoot, type Proc } from '../datapath/root-helpers.js';
import { bringUp, echoClient, policy, startDaemon as startNode, teardown, topology, until } from './topology.js';

const skip = skipUnlessRoot('syngate run restart (pcap datapath)');
const T = topology('pcaprs');
const { C, NB, DIR } = T;
const STATE = join(DIR, 'state', 'node-b.conntrack');
const ADMIN = '127.0.0.1:9912';
const procs = new Procs();

const POLICY = policy([8080, 7001]);

function startDaemon(ns: string, n: string): Promise<Proc> {
  return startNode(procs, T, ns, n, ADMIN);
}

describe.skipIf(skip)('syngate run on the pcap datapath: restart (root)', () => {
  let nodeB: Proc | null = null;

  beforeAll(async () => {
    [, nodeB] = await bringUp(procs, T, 'bridged', {
      serverIp: '198.18.1.3', datapath: '{type: pcap, inside: lan0, outside: wan0}', admin: ADMIN,
      extra: (n) => (n === 'node-b' ? [`conntrack: {stateFile: ${STATE}, stateMaxAgeSeconds: 60}`] : []),
    });
  });
  afterAll(() => teardown(procs, T));

  it('an established connection survives a graceful restart of the server-side enforcer; new connections work after it', async () => {
    expect(client(C, '198.18.1.3', 8080).outcome).toBe('allow');
    const long = await echoClient(procs, C, '198.18.1.3', 7001);
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
    const long = await echoClient(procs, C, '198.18.1.3', 7001);
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
    const fresh = await echoClient(procs, C, '198.18.1.3', 7001);
    fresh.send('back');
    await fresh.waitLine(/^echo back$/, 5000);
    fresh.kill('SIGKILL');
  });

  it('after kill -9 (no snapshot) an established flow is no longer forwarded (fail closed); new connections work', async () => {
    const long = await echoClient(procs, C, '198.18.1.3', 7001);
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
