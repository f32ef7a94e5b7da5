// The nfqueue adapter on a real kernel: client ns -> router ns (enforcer) -> server ns.
// Checks: only handshakes reach userspace once a flow is authorized (connmark fast path); the rules
// are installed idempotently and removed on SIGTERM; killing the enforcer keeps established flows
// and fails new ones closed; a restart restores service.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ECHO, Procs, RUNNER, client, delNamespaces, prefix, sh, skipUnlessRoot } from './root-helpers.js';
import type { Proc } from './root-helpers.js';

const skip = skipUnlessRoot('nfqueue datapath');
const P = prefix();
const C = `${P}-c`;
const R = `${P}-r`;
const S = `${P}-s`;
const statusFile = join(tmpdir(), `${P}-status.json`);
const procs = new Procs();

function counters(): Record<string, number> {
  return (JSON.parse(readFileSync(statusFile, 'utf8')) as { counters: Record<string, number> }).counters;
}
function rules(): string {
  return sh(['ip', 'netns', 'exec', R, 'iptables-save']);
}
async function settle(ms = 300): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe.skipIf(skip)('nfqueue adapter (root)', () => {
  let runner: Proc;
  beforeAll(async () => {
    for (const ns of [C, R, S]) {
      sh(['ip', 'netns', 'add', ns]);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    sh(['ip', '-n', C, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', R]);
    sh(['ip', '-n', S, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'wan0', 'netns', R]);
    sh(['ip', '-n', C, 'addr', 'add', '198.18.1.2/24', 'dev', 'eth0']);
    sh(['ip', '-n', S, 'addr', 'add', '198.18.2.2/24', 'dev', 'eth0']);
    sh(['ip', '-n', R, 'addr', 'add', '198.18.1.1/24', 'dev', 'lan0']);
    sh(['ip', '-n', R, 'addr', 'add', '198.18.2.1/24', 'dev', 'wan0']);
    for (const [ns, dev] of [[C, 'eth0'], [S, 'eth0'], [R, 'lan0'], [R, 'wan0']] as const) sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    sh(['ip', '-n', C, 'route', 'add', 'default', 'via', '198.18.1.1']);
    sh(['ip', '-n', S, 'route', 'add', 'default', 'via', '198.18.2.1']);
    sh(['ip', 'netns', 'exec', R, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await procs.start(S, ['node', 'scripts/lab/app-server.mjs', '--name', 'srv', '--ports', '8080']);
    await procs.start(S, [...ECHO, 'server', '7000']);
  });
  afterAll(async () => {
    await procs.killAll();
    delNamespaces(P);
    rmSync(statusFile, { force: true });
    rmSync(`${statusFile}.tmp`, { force: true });
  });

  const startRunner = (): Promise<Proc> => procs.start(R, [...RUNNER, '--datapath', 'nfqueue', '--workload-if', 'lan0', '--handler', 'auth', '--status', statusFile]);

  it('installs its chains once and lets an authorized flow bypass userspace', async () => {
    runner = await startRunner();
    const saved = rules();
    expect(saved.match(/-A FORWARD -j SYNGATE-OUT/g)).toHaveLength(1);
    expect(saved.match(/-A FORWARD -j SYNGATE-IN/g)).toHaveLength(1);
    const a = client(C, '198.18.2.2', 8080);
    expect(a.outcome).toBe('allow');
    expect(a.status).toBe(200);
    await settle();
    const before = counters()['framesIn'] ?? 0;
    expect(before).toBeGreaterThanOrEqual(3);
    // a long-lived flow: 200 round trips, but only the handshake goes through the queue
    const echo = await procs.start(C, [...ECHO, 'client', '198.18.2.2', '7000'], /^connected$/);
    for (let i = 0; i < 200; i++) echo.send(`m${i}`);
    await echo.waitLine(/^echo m199$/);
    await settle();
    const after = counters();
    expect((after['framesIn'] ?? 0) - before).toBeLessThanOrEqual(6);
    expect(after['flowsAuthorized']).toBeGreaterThanOrEqual(2);

    // kill -9: established flows keep working, new handshakes fail closed
    runner.kill('SIGKILL');
    await runner.exited;
    expect(rules()).toContain('SYNGATE-OUTQ');
    echo.send('after-kill');
    await echo.waitLine(/^echo after-kill$/);
    const denied = client(C, '198.18.2.2', 8080, 1500);
    expect(denied.outcome).toBe('timeout');

    // restart: idempotent install, new connections work again
    runner = await startRunner();
    const again = rules();
    expect(again.match(/-A FORWARD -j SYNGATE-OUT/g)).toHaveLength(1);
    expect(again.match(/-A POSTROUTING -j SYNGATE-SAVE/g)).toHaveLength(1);
    const b = client(C, '198.18.2.2', 8080);
    expect(b.outcome).toBe('allow');
    echo.send('after-restart');
    await echo.waitLine(/^echo after-restart$/);
    echo.kill('SIGKILL');
  });

  it('drains a backlog: handshakes queued while the enforcer was paused all complete once it resumes', async () => {
    // 40 connections at once while the runner is stopped: their SYNs wait in queue 7100; on
    // SIGCONT the binding reads one per wake-up and the drain must read the rest.
    runner.kill('SIGSTOP');
    let burst: Proc;
    try {
      const script = 'for i in $(seq 40); do (exec 3<>/dev/tcp/198.18.2.2/7000 && echo ok) & done; wait';
      burst = await procs.start(C, ['bash', '-c', script], null);
      await settle(800);
    } finally {
      runner.kill('SIGCONT');
    }
    expect(await burst.exited).toBe(0);
    expect(burst.lines.filter((l) => l === 'ok')).toHaveLength(40);
    runner.kill('SIGTERM');
    expect(await runner.exited).toBe(0);
    const m = /nfqueue datapath: (\d+) packets were read by the drain/.exec(runner.stderr);
    expect(m, runner.stderr).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(20);
    expect(runner.stderr).toContain('queue length 4096');
    runner = await startRunner();
  });

  it('removes every rule on SIGTERM', async () => {
    runner.kill('SIGTERM');
    expect(await runner.exited).toBe(0);
    expect(rules()).not.toContain('SYNGATE');
  });

  it('fails open only with --fail-open', async () => {
    const r = await procs.start(R, [...RUNNER, '--datapath', 'nfqueue', '--workload-if', 'lan0', '--fail-open', '--queue-base', '7200']);
    expect(r.stderr).toContain('fail-open) is ON');
    expect(rules()).toContain('--queue-bypass');
    r.kill('SIGKILL');
    await r.exited;
    // no listener, bypass on: handshakes pass unchecked
    expect(client(C, '198.18.2.2', 8080).outcome).toBe('allow');
    const r2 = await procs.start(R, [...RUNNER, '--datapath', 'nfqueue', '--workload-if', 'lan0', '--queue-base', '7200']);
    r2.kill('SIGTERM');
    expect(await r2.exited, r2.stderr).toBe(0);
    expect(rules(), r2.stderr).not.toContain('SYNGATE');
  });

  it('refuses a second enforcer on the same queues with a clear error', async () => {
    const first = await startRunner();
    const second = await procs.start(R, [...RUNNER, '--datapath', 'nfqueue', '--workload-if', 'lan0'], null);
    expect(await second.exited).toBe(2);
    expect(second.stderr).toMatch(/cannot bind netfilter queue 7100|SYNGATE_DATAPATH/);
    first.kill('SIGTERM');
    await first.exited;
  });
});
