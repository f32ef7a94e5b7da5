// The built CLI starts, prints help, and maps bad usage to exit status 2.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../../bin/syngate.js', import.meta.url).pathname;

describe('syngate CLI', () => {
  it('prints help and exits 0', () => {
    const r = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: syngate');
  });

  it('exits 2 on an unknown command', () => {
    const r = spawnSync(process.execPath, [BIN, 'no-such-command'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
  });
});
