// Live revocation through the deny-list file on a real kernel: client pod -> node-a (daemon) ->
// node-b (daemon) -> server pod, routed, nfqueue, both daemons watching the same `revoked.yaml`
// (`revocation.file`). Checks: revoking the client's SPIFFE ID resets its established flow (the
// kernel conntrack entry is dropped, so the next packet reaches the engine) and refuses new
// connections with reason revoked; emptying the file lets new connections through; revoking the
// server node's credential serial resets the established flow at the client's enforcer.
// Runs the built CLI (`node bin/syngate.js`; npm test builds first).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCredential } from '../../enforcer/identity/index.js';
import { CREDENTIAL_FILE } from '../../enforcer/daemon/core.js';
import { Procs, client, sh, skipUnlessRoot } from '../datapath/root-helpers.js';
import { parsePrometheusText, sample } from './prom.js';
import { bringUp, echoClient, teardown, topology, until } from './topology.js';

const skip = skipUnlessRoot('syngate run deny-list revocation (nfqueue)');
const T = topology('revoke');
const { C, NA, NB } = T;
const ADMIN = '127.0.0.1:9914';
const DENY = join(T.DIR, 'revoked.yaml');
const procs = new Procs();

function metric(ns: string, name: string, labels: Record<string, string> = {}): number {
  const body = sh(['ip', 'netns', 'exec', ns, 'curl', '-s', '-m', '3', `http://${ADMIN}/metrics`], true);
  return sample(parsePrometheusText(body), name, labels) ?? 0;
}

describe.skipIf(skip)('deny-list revocation in network namespaces (root)', () => {
  beforeAll(async () => {
    mkdirSync(T.DIR, { recursive: true });
    writeFileSync(DENY, '');
    await bringUp(procs, T, 'routed', {
      serverIp: '198.18.2.2',
      datapath: '{type: nfqueue, interfaces: [lan0], queueBase: 7500}',
      admin: ADMIN,
      extra: () => ['revocation: {file: revoked.yaml}'],
    });
  });
  afterAll(() => teardown(procs, T));

  it('a revoked SPIFFE ID: the established flow is reset, new connections are refused with reason revoked', async () => {
    expect(client(C, '198.18.2.2', 8080).outcome).toBe('allow');
    const long = await echoClient(procs, C, '198.18.2.2', 7001);
    long.send('before');
    await long.waitLine(/^echo before$/, 5000);

    writeFileSync(DENY, 'spiffeIds: [spiffe://cluster.local/ns/demo/sa/cli]\n');
    await until('node-b loaded the deny-list', () => metric(NB, 'syngate_denylist_entries', { kind: 'spiffe-id' }) === 1, 5000, 100);
    expect(metric(NB, 'syngate_denylist_flows_revoked_total')).toBeGreaterThanOrEqual(1);
    long.send('after');
    await long.waitLine(/^error (ECONNRESET|EPIPE)/, 5000);
    expect(client(C, '198.18.2.2', 8080, 1000).outcome).toBe('reset');
    await until('revoked verdict counted', () => metric(NB, 'syngate_verdicts_total', { action: 'deny', reason: 'revoked', direction: 'inbound' }) >= 1, 3000, 100);

    writeFileSync(DENY, '# nothing revoked\n');
    await until('new connections allowed again', () => client(C, '198.18.2.2', 8080, 1000).outcome === 'allow', 5000, 100);
  });

  it("a revoked node credential serial: the client's enforcer resets the flow to that node", async () => {
    const long = await echoClient(procs, C, '198.18.2.2', 7001);
    long.send('before');
    await long.waitLine(/^echo before$/, 5000);
    const cred = decodeCredential(new Uint8Array(readFileSync(join(T.DIR, 'node-b', CREDENTIAL_FILE))));
    if (cred === undefined) throw new Error('node-b credential does not decode');
    const serial = Buffer.from(cred.serial).toString('hex');

    writeFileSync(DENY, `serials: ["${serial}"]\n`);
    await until('node-a loaded the deny-list', () => metric(NA, 'syngate_denylist_entries', { kind: 'serial' }) === 1, 5000, 100);
    expect(metric(NA, 'syngate_denylist_flows_revoked_total')).toBeGreaterThanOrEqual(1);
    long.send('after');
    await long.waitLine(/^error (ECONNRESET|EPIPE)/, 5000);
    expect(client(C, '198.18.2.2', 8080, 1000).outcome).not.toBe('allow');
  });
});
