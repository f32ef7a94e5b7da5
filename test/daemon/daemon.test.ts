// Daemon lifecycle over a scripted core: admin endpoints, readiness, hot reload on file change and
// on SIGHUP-equivalent, a broken file keeping the old state with the error metric, clean stop.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
import { Daemon, type EnforcerCore, type ReloadResult, type StateGroup } from '../../enforcer/daemon/daemon.js';
import { parseConfig } from '../../enforcer/daemon/config.js';
import { createLogger } from '../../enforcer/daemon/log.js';
import { createMetrics } from '../../enforcer/daemon/metrics.js';
import type { AdapterState } from '../../enforcer/datapath/types.js';
import type { FlowRecord } from '../../enforcer/engine/flow-record.js';

function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A core whose "policy" is the text of one file: `allow N` compiles to revision N; anything else is an error at line 1. */
class FakeCore implements EnforcerCore {
  revision = 0;
  attached = false;
  detached = false;
  reloads: StateGroup[][] = [];
  emitted = 0;
  constructor(private readonly policyFile: string) {}
  async reload(groups: readonly StateGroup[]): Promise<ReloadResult> {
    this.reloads.push([...groups]);
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(this.policyFile, 'utf8').trim();
    const m = /^allow (\d+)$/.exec(text);
    if (!m) throw new Error(`${this.policyFile}:1:1: spec: cannot parse ${JSON.stringify(text)}`);
    this.revision = Number(m[1]);
    return { revision: this.revision, rules: 1, identities: 2, workloads: 3, revoked: this.revision === 3 ? 1 : 0, warnings: [] };
  }
  watchGroups() {
    return [{ name: 'policy', paths: [this.policyFile] }];
  }
  async attach(onState: (s: AdapterState, e: Error | null) => void): Promise<void> {
    this.attached = true;
    onState('ready', null);
  }
  async detach(): Promise<void> {
    this.detached = true;
  }
  tick(_now: number, emit: (r: FlowRecord) => void): void {
    if (this.emitted++ === 0) {
      emit({
        ts: new Date().toISOString(), enforcer: 'node-a', direction: 'inbound',
        src: { ip: '198.18.1.2', port: 40000, workload: 'bookinfo/productpage', identity: 'spiffe://cluster.local/ns/bookinfo/sa/productpage' },
        dst: { ip: '198.18.2.2', port: 9080, workload: 'bookinfo/details', identity: null },
        port: 9080, verdict: 'deny', reason: 'policy', rule: 'default-deny', audit: [], state: 'rejected', packets: 1, bytes: 60, start: new Date().toISOString(),
      });
    }
  }
}

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-daemon-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(policy: string) {
  return parseConfig(
    ['node: node-a', 'datapath: {type: nfqueue, interfaces: [veth*]}', 'identity: {caBundle: ca.pem, credentials: cred}', `policy: {paths: [${policy}]}`,
      'inventory: {source: static, file: inv.yaml}', 'admin: 127.0.0.1:0', 'flowLog: {sink: off, recent: 10}', 'reload: {pollMillis: 50, debounceMillis: 10}'].join('\n'),
    join(dir, 'syngate.yaml'),
  );
}

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not met in time');
}

describe('Daemon', () => {
  it('serves /healthz /readyz /metrics /flows /map and hot-reloads on file change, keeping state on error', async () => {
    const pol = join(dir, 'policy.txt');
    writeFileSync(pol, 'allow 1\n');
    const core = new FakeCore(pol);
    const logs: Record<string, unknown>[] = [];
    const d = new Daemon(config(pol), core, { logger: createLogger('debug', (l) => logs.push(JSON.parse(l) as Record<string, unknown>)), metrics: createMetrics({ processMetrics: true }) });
    await d.start();
    try {
      const port = d.adminAddress?.port ?? 0;
      expect((await get(port, '/healthz')).status).toBe(200);
      const ready = await get(port, '/readyz');
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body)).toEqual({ ready: true, waiting: [] });
      let m = await get(port, '/metrics');
      expect(m.type).toMatch(/text\/plain/);
      expect(m.body).toContain('syngate_policy_reloads_total{source="start",result="success"} 1');
      expect(m.body).toContain('syngate_policy_revision 1');
      expect(m.body).toContain('syngate_ready 1');
      expect(m.body).toContain('process_cpu_user_seconds_total');

      await until(() => d.flowLog.recent(1).length === 1);
      const flows = JSON.parse((await get(port, '/flows?limit=5')).body) as { flows: FlowRecord[] };
      expect(flows.flows[0]?.rule).toBe('default-deny');
      expect((await get(port, '/flows?limit=x')).status).toBe(400);
      const map = await get(port, '/map');
      expect(map.type).toMatch(/text\/html/);
      expect(map.body).toContain('bookinfo/details');

      // A changed file is picked up by the watcher.
      writeFileSync(pol, 'allow 2\n');
      await until(() => core.revision === 2);
      // A broken file keeps revision 2 and sets the error metric, with file:line in the log.
      writeFileSync(pol, 'allow everything!\n');
      await until(() => d.lastReloadError !== null);
      expect(core.revision).toBe(2);
      m = await get(port, '/metrics');
      expect(m.body).toContain('syngate_policy_reloads_total{source="file",result="error"} 1');
      expect(m.body).toContain('syngate_policy_last_reload_success 0');
      expect(m.body).toContain('syngate_policy_revision 2');
      const err = logs.find((l) => l['msg'] === 'reload failed; the previous state stays in force');
      expect(String(err?.['error'])).toContain(`${pol}:1:1:`);
      // Still ready: the old policy is in force.
      expect((await get(port, '/readyz')).status).toBe(200);
      // Fixed again, with one revoked flow counted; an explicit reload (what SIGHUP does) works too.
      writeFileSync(pol, 'allow 3\n');
      await until(() => core.revision === 3);
      expect(await d.reload(['policy', 'inventory', 'credentials'], 'signal')).toBe(true);
      m = await get(port, '/metrics');
      expect(m.body).toContain('syngate_policy_last_reload_success 1');
      expect(m.body).toContain('syngate_flows_revoked_total 2');
      expect(m.body).toContain('syngate_policy_reloads_total{source="signal",result="success"} 1');
    } finally {
      expect(await d.stop('test')).toBe(0);
    }
    expect(core.detached).toBe(true);
    expect(d.adminAddress).toBeNull();
  });

  it('a broken policy at start fails start with SYNGATE_DAEMON_START and attaches nothing', async () => {
    const pol = join(dir, 'policy.txt');
    writeFileSync(pol, 'nonsense\n');
    const core = new FakeCore(pol);
    const d = new Daemon(config(pol), core, { logger: createLogger('error', () => undefined), metrics: createMetrics() });
    await expect(d.start()).rejects.toMatchObject({ code: 'SYNGATE_DAEMON_START' });
    expect(core.attached).toBe(false);
    expect(d.readyState()).toEqual({ ready: false, waiting: ['policy not compiled', 'datapath not attached'] });
  });
});

describe('credential layouts', () => {
  it('reads a node folder (node.cred + node.key) or a shared folder (<node>.cred + <node>.key), and refuses a mismatched key with the file named', async () => {
    const { loadCredentials } = await import('../../enforcer/daemon/core.js');
    const { createCa, issueNodeCredential } = await import('../../enforcer/identity/index.js');
    const { mkdirSync } = await import('node:fs');
    const ca = createCa({ trustDomain: 'cluster.local' });
    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    const a = issueNodeCredential(ca, { node: 'node-a' });
    const b = issueNodeCredential(ca, { node: 'node-b' });
    const pem = (k: typeof a.nodeKey): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();
    mkdirSync(join(dir, 'own'));
    writeFileSync(join(dir, 'own', 'node.cred'), a.credential);
    writeFileSync(join(dir, 'own', 'node.key'), pem(a.nodeKey));
    mkdirSync(join(dir, 'shared'));
    for (const [n, c] of [['node-a', a], ['node-b', b]] as const) {
      writeFileSync(join(dir, 'shared', `${n}.cred`), c.credential);
      writeFileSync(join(dir, 'shared', `${n}.key`), pem(c.nodeKey));
    }
    const cfg = (node: string, creds: string) => parseConfig(`node: ${node}\ndatapath: {type: nfqueue, interfaces: [veth*]}\nidentity: {caBundle: ca.pem, credentials: ${creds}}\npolicy: {paths: [p]}\ninventory: {source: static, file: i.yaml}\n`, join(dir, 'c.yaml'));
    expect(Buffer.from(loadCredentials(cfg('node-a', 'own')).node.credential)).toEqual(Buffer.from(a.credential));
    expect(Buffer.from(loadCredentials(cfg('node-b', 'shared')).node.credential)).toEqual(Buffer.from(b.credential));
    writeFileSync(join(dir, 'shared', 'node-b.key'), pem(a.nodeKey));
    expect(() => loadCredentials(cfg('node-b', 'shared'))).toThrow(/node-b\.key: does not match/);
  });
});

describe('examples/config/syngate.yaml', () => {
  it('is a valid config (with NODE_NAME set) and names the documented defaults', () => {
    const file = join(import.meta.dirname, '../../examples/config/syngate.yaml');
    const { readFileSync } = require('node:fs') as typeof import('node:fs');
    const c = parseConfig(readFileSync(file, 'utf8'), file, { NODE_NAME: 'node-a' });
    expect(c.node).toBe('node-a');
    expect(c.admin).toEqual({ host: '127.0.0.1', port: 9901 });
    expect(c.datapath).toMatchObject({ type: 'nfqueue', failOpen: false, keepRulesOnExit: false });
    expect(c.revocation).toEqual({ serials: [], spiffeIds: [], file: null });
  });
});
