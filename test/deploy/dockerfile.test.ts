// The Dockerfile without a Docker engine: multi-stage on slim Node 20, native-addon libraries at
// run time, a HEALTHCHECK, every COPY source present in the build context (and not excluded by
// .dockerignore), the entrypoint script present and dropping to the unprivileged user with only
// NET_ADMIN/NET_RAW. The capability drop itself is exercised with setpriv when running as root.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
// Instructions with line continuations joined.
const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

function ignored(path: string): boolean {
  return ignore.some((p) => !p.includes('*') && (path === p || path.startsWith(`${p}/`)));
}

describe('Dockerfile', () => {
  const froms = lines.filter((l) => l.startsWith('FROM '));

  it('is multi-stage on slim Node 20 images', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/^FROM node:20-[a-z]+-slim( AS \w+)?$/);
  });

  it('builds against the -dev headers and ships only the runtime libraries (+ conntrack, iptables)', () => {
    const runtimeAt = lines.findIndex((l) => /^FROM .* AS runtime$/.test(l));
    expect(runtimeAt).toBeGreaterThan(0);
    const build = lines.slice(0, runtimeAt).join('\n');
    const runtime = lines.slice(runtimeAt).join('\n');
    expect(build).toMatch(/libpcap-dev/);
    expect(build).toMatch(/libnetfilter-queue-dev/);
    for (const pkg of ['libpcap0.8', 'libnetfilter-queue1', 'iptables', 'conntrack', 'tini']) expect(runtime).toContain(pkg);
    expect(runtime).not.toMatch(/-dev\b/);
  });

  it('has a HEALTHCHECK on /healthz and an entrypoint that drops privileges', () => {
    expect(lines.some((l) => /^HEALTHCHECK .*\/healthz/.test(l))).toBe(true);
    const ep = lines.find((l) => l.startsWith('ENTRYPOINT '));
    expect(ep).toContain('/usr/local/bin/syngate-entrypoint');
    const script = readFileSync(join(ROOT, 'deploy/docker/entrypoint.sh'), 'utf8');
    expect(script).toMatch(/setpriv --reuid=10001 --regid=10001/);
    expect(script).toMatch(/--bounding-set="-all,\$caps"/);
    expect(script).toMatch(/--no-new-privs/);
    expect(text).toMatch(/useradd --system --uid 10001/);
  });

  it('every COPY source from the build context exists and is not excluded by .dockerignore', () => {
    const copies = lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from='));
    expect(copies.length).toBeGreaterThan(5);
    for (const c of copies) {
      const parts = c.split(/\s+/).slice(1);
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(ROOT, src)), src).toBe(true);
        expect(ignored(src.replace(/\/$/, '')), `${src} is excluded by .dockerignore`).toBe(false);
      }
    }
  });

  it.skipIf(typeof process.getuid !== 'function' || process.getuid() !== 0)('the setpriv drop the entrypoint performs leaves uid 10001 with NET_ADMIN+NET_RAW only, inherited by helpers', () => {
    const r = spawnSync('setpriv', ['--reuid=10001', '--regid=10001', '--clear-groups', '--inh-caps=-all,+net_admin,+net_raw', '--ambient-caps=-all,+net_admin,+net_raw',
      '--bounding-set=-all,+net_admin,+net_raw', '--no-new-privs', 'sh', '-c', 'id -u; sh -c "grep -E \'^Cap(Eff|Bnd|Amb):\' /proc/self/status"'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out[0]).toBe('10001');
    // CAP_NET_ADMIN (12) | CAP_NET_RAW (13) = 0x3000, in a grandchild process too.
    for (const l of out.slice(1)) expect(l).toMatch(/0000000000003000$/);
  });
});
