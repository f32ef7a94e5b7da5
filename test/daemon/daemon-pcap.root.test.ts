// `syngate run` on the pcap datapath (bump in the wire): client pod ns -> node-a ns (daemon
// bridging lan0 <-> wan0) -> node-b ns (daemon bridging wan0 <-> lan0) -> server pod ns, one L2
// segment, offloads off on every veth end. Checks that the daemon's pcap wiring enforces: allowed
// connections complete, a port the policy does not allow is reset, a policy change takes effect,
// and an established flow the new policy denies is reset on its next segment; SIGTERM exits 0.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Procs, client, skipUnlessRoot, type Proc } from '../datapath/root-helpers.js';
import { bringUp, echoClient, policy, teardown, topology, until } from './topology.js';

const skip = skipUnlessRoot('syngate run (pcap datapath)');
const T = topology('pcap');
const { C, DIR } = T;
const ADMIN = '127.0.0.1:9912';
const procs = new Procs();

describe.skipIf(skip)('syngate run on the pcap datapath (root)', () => {
  const daemons: Proc[] = [];
  const polFile = join(DIR, 'policies', 'srv.yaml');

  beforeAll(async () => {
    daemons.push(...(await bringUp(procs, T, 'bridged', { serverIp: '198.18.1.3', datapath: '{type: pcap, inside: lan0, outside: wan0}', admin: ADMIN })));
  });
  afterAll(() => teardown(procs, T));

  it('allowed connections complete through both bridges; a port the policy lacks after a change is reset, and so is its established flow', async () => {
    expect(client(C, '198.18.1.3', 8080).outcome).toBe('allow');
    const long = await echoClient(procs, C, '198.18.1.3', 7001);
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
