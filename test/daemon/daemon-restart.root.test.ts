// Restarting `syngate run` on nfqueue with `datapath.keepRulesOnExit: true` (what the DaemonSet
// uses for rolling updates): client pod -> node-a (daemon) -> node-b (daemon) -> server pod, routed.
// While node-b's daemon is down its queue rules stay: the established flow keeps working (connmark
// fast path in the kernel) and new connections fail closed; after a restart new connections work
// again and the established flow is still intact. (The rules left at the end go with the namespaces.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Procs, client, sh, skipUnlessRoot, type Proc } from '../datapath/root-helpers.js';
import { bringUp, echoClient, startDaemon, teardown, topology } from './topology.js';

const skip = skipUnlessRoot('syngate run restart (nfqueue, keepRulesOnExit)');
const T = topology('restart');
const { C, NB } = T;
const ADMIN = '127.0.0.1:9913';
const procs = new Procs();

describe.skipIf(skip)('syngate run restart on nfqueue with keepRulesOnExit (root)', () => {
  const daemons: Proc[] = [];

  beforeAll(async () => {
    daemons.push(...(await bringUp(procs, T, 'routed', { serverIp: '198.18.2.2', datapath: '{type: nfqueue, interfaces: [lan0], queueBase: 7400, keepRulesOnExit: true}', admin: ADMIN })));
  });
  afterAll(() => teardown(procs, T));

  const startB = (): Promise<Proc> => startDaemon(procs, T, NB, 'node-b', ADMIN);

  it('established flows survive a daemon restart, new ones fail closed while it is down and work after', async () => {
    expect(client(C, '198.18.2.2', 8080).outcome).toBe('allow');
    const long = await echoClient(procs, C, '198.18.2.2', 7001);
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
