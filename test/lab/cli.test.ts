// `syngate lab` from the CLI entry, without creating anything: status and down with no lab, bad
// options, and `lab test` with nothing up. (Root-only behaviour is in *.root.test.ts.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sglab-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


describe('syngate lab (no lab up)', () => {
  it('status says there is no lab', async () => {
    const r = await cli('lab', 'status', '--dir', dir);
    expect(r.status).toBe(0);
    expect(r.out).toContain(`no lab in ${dir}`);
    const j = await cli('lab', 'status', '--json', '--dir', dir);
    expect(JSON.parse(j.out)).toEqual({ up: false, dir });
  });
  it('down is idempotent with nothing to remove', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await cli('lab', 'down', '--dir', dir);
      expect(r.status).toBe(0);
      expect(r.err).toContain('nothing to remove');
    }
  });
  it('test refuses with no lab up', async () => {
    const r = await cli('lab', 'test', '--dir', dir);
    expect(r.status).toBe(2);
    expect(r.err).toContain('SYNGATE_LAB_NOT_UP');
  });
  it('up rejects a bad --datapath or --enforcer before touching anything', async () => {
    const a = await cli('lab', 'up', 'examples/bookinfo/scenario.yaml', '--datapath', 'ebpf', '--dir', dir);
    expect(a.status).toBe(2);
    expect(a.err).toContain('SYNGATE_LAB_USAGE');
    const b = await cli('lab', 'up', 'examples/bookinfo/scenario.yaml', '--enforcer', 'magic', '--dir', dir);
    expect(b.status).toBe(2);
    expect(b.err).toContain('--enforcer must be');
  });
  it('up names a scenario outside the lab range', async () => {
    const { writeFileSync } = await import('node:fs');
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'nodes: [n1]\nworkloads:\n  - {name: a, ip: 10.0.0.1, ports: [80]}\n');
    const r = await cli('lab', 'up', f, '--dir', join(dir, 'lab'));
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/SYNGATE_LAB_SCENARIO|SYNGATE_LAB_ROOT/);
  });
});
