// A really full disk (root only): the flow log writes into a 64 KiB tmpfs mounted in a private
// mount namespace (unshare -m; the host's mounts are untouched). ENOSPC must degrade as defined:
// records dropped and counted as disk-full, ONE warning line, the process carries on, the ring
// behind /flows still has the records, and what was written is whole lines within the space.
import { mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { skipUnlessRoot } from '../datapath/root-helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const skip = skipUnlessRoot('flow log on a full disk');
const dir = mkdtempSync(join(tmpdir(), 'sg-fulldisk-'));

describe.skipIf(skip)('flow log on a full disk (root, private tmpfs)', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('drops and counts records with one warning, and keeps running', () => {
    const script = `mount -t tmpfs -o size=64k syngate-test "${dir}" && exec "${process.execPath}" --import tsx "${join(ROOT, 'test/daemon/helpers/flowlog-fill.ts')}" "${dir}" 3000`;
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { written: number; dropped: number; metricDiskFull: number; warns: number; recent: number; files: { f: string; size: number; whole: boolean }[] };
    expect(s.written).toBeGreaterThan(0);
    expect(s.dropped).toBeGreaterThan(0);
    expect(s.written + s.dropped).toBe(3000);
    expect(s.metricDiskFull).toBe(s.dropped);
    expect(s.warns).toBe(1);
    expect(s.recent).toBe(10);
    const total = s.files.reduce((n, f) => n + f.size, 0);
    expect(total).toBeLessThanOrEqual(64 * 1024);
    for (const f of s.files) expect(f.whole, `${f.f} holds only whole lines`).toBe(true);
    process.stderr.write(`flowlog-disk: ${s.written} records written, ${s.dropped} dropped as disk-full, 1 warning\n`);
  });
});
