// The pcap bridge adapter on real interfaces: client ns -> bridge ns (ein | eout) -> server ns, one
// subnet. Checks: it refuses to start while offloads are on (naming the fix), bridges ARP and TCP
// once they are off, and stops cleanly.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Procs, RUNNER, client, delNamespaces, prefix, sh, skipUnlessRoot } from './root-helpers.js';

const skip = skipUnlessRoot('pcap datapath');
const P = prefix();
const C = `${P}-c`;
const B = `${P}-b`;
const S = `${P}-s`;
const statusFile = join(tmpdir(), `${P}-status.json`);
const procs = new Procs();
const offloads = (ns: string, dev: string, v: 'on' | 'off'): void => {
  sh(['ip', 'netns', 'exec', ns, 'ethtool', '-K', dev, 'tx', v, 'tso', v, 'gso', v, 'gro', v]);
};

describe.skipIf(skip)('pcap bridge adapter (root)', () => {
  beforeAll(async () => {
    for (const ns of [C, B, S]) {
      sh(['ip', 'netns', 'add', ns]);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    }
    sh(['ip', '-n', C, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'ein', 'netns', B]);
    sh(['ip', '-n', S, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eout', 'netns', B]);
    sh(['ip', '-n', C, 'addr', 'add', '198.18.1.2/24', 'dev', 'eth0']);
    sh(['ip', '-n', S, 'addr', 'add', '198.18.1.3/24', 'dev', 'eth0']);
    for (const [ns, dev] of [[C, 'eth0'], [S, 'eth0'], [B, 'ein'], [B, 'eout']] as const) sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    await procs.start(S, ['node', 'scripts/lab/app-server.mjs', '--name', 'srv', '--ports', '8080']);
  });
  afterAll(async () => {
    await procs.killAll();
    delNamespaces(P);
    rmSync(statusFile, { force: true });
    rmSync(`${statusFile}.tmp`, { force: true });
  });

  it('refuses to start while offloads are on, naming the interface and the fix', async () => {
    offloads(B, 'ein', 'on');
    const r = await procs.start(B, [...RUNNER, '--datapath', 'pcap', '--inside', 'ein', '--outside', 'eout'], null);
    expect(await r.exited).toBe(2);
    expect(r.stderr).toContain("offloads are on for 'ein'");
    expect(r.stderr).toContain('ethtool -K ein tx off tso off gso off gro off');
    expect(r.stderr).toContain('SYNGATE_DATAPATH_OFFLOADS');
  });

  it('bridges ARP and TCP with offloads off, and stops on SIGTERM', async () => {
    for (const [ns, dev] of [[C, 'eth0'], [S, 'eth0'], [B, 'ein'], [B, 'eout']] as const) offloads(ns, dev, 'off');
    const r = await procs.start(B, [...RUNNER, '--datapath', 'pcap', '--inside', 'ein', '--outside', 'eout', '--status', statusFile]);
    // no bridge, no path: the two ends only meet through the adapter
    const a = client(C, '198.18.1.3', 8080);
    expect(a.outcome).toBe('allow');
    expect(a.status).toBe(200);
    await new Promise((res) => setTimeout(res, 300));
    const c = (JSON.parse(readFileSync(statusFile, 'utf8')) as { counters: Record<string, number> }).counters;
    expect(c['framesPassedThrough']).toBeGreaterThanOrEqual(2); // ARP request + reply
    expect(c['framesForwarded']).toBeGreaterThanOrEqual(8); // whole TCP exchange, both ways
    r.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    // without the bridge, nothing gets through
    expect(client(C, '198.18.1.3', 8080, 800).outcome).toBe('timeout');
  });
});
