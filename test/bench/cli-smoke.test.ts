// CI smoke test of `syngate bench` through the built CLI (dist/): the engine and policy suites in
// --quick mode must exit 0 and print JSON of the documented shape. Nothing asserts on time.
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'bin', 'syngate.js');

interface Shape {
  schema: string;
  suite: string;
  quick: boolean;
  status: string;
  machine: Record<string, unknown>;
  metrics: Array<Record<string, unknown>>;
  unavailable: unknown[];
  failures: unknown[];
  files: string[];
}

function validate(doc: Shape, suite: string): void {
  expect(doc.schema).toBe('syngate-bench/1');
  expect(doc.suite).toBe(suite);
  expect(doc.quick).toBe(true);
  expect(doc.status).toBe('ok');
  expect(doc.failures).toEqual([]);
  for (const k of ['cpuModel', 'cores', 'kernel', 'node', 'openssl']) expect(doc.machine).toHaveProperty(k);
  expect(Array.isArray(doc.unavailable)).toBe(true);
  for (const m of doc.metrics) {
    expect(typeof m['name']).toBe('string');
    expect(typeof m['unit']).toBe('string');
    for (const k of ['median', 'min', 'max', 'q1', 'q3', 'runs']) {
      expect(typeof m[k], `${String(m['name'])}.${k}`).toBe('number');
      expect(Number.isFinite(m[k] as number), `${String(m['name'])}.${k}`).toBe(true);
    }
    expect(m['check'], `${String(m['name'])} has a sanity check`).toBeDefined();
    if (m['baseline'] !== undefined) expect(m['baseline'] as number).toBeGreaterThan(0);
    if (m['ratio'] !== undefined) expect(m['ratio'] as number).toBeGreaterThan(0);
    expect(m['failed']).toBeUndefined();
  }
  // A suite whose every module is missing must say so rather than pass empty.
  if (doc.metrics.length === 0) expect(doc.unavailable.length).toBeGreaterThan(0);
}

describe.each(['engine', 'policy'])('syngate bench %s --quick --json', (suite) => {
  // Asynchronous on purpose: a synchronous child of a minute would block the vitest worker's
  // event loop past its RPC timeout.
  it('exits 0 and prints the documented JSON shape', async () => {
    expect(existsSync(join(root, 'dist', 'enforcer', 'cli', 'main.js')), 'build first: npx tsc -p tsconfig.build.json').toBe(true);
    const out = mkdtempSync(join(tmpdir(), `sgbench-${suite}-`));
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'bench', suite, '--quick', '--json', '--out', out], {
      cwd: root,
      encoding: 'utf8',
      timeout: 170_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const doc = JSON.parse(stdout) as Shape;
    validate(doc, suite);
    const saved = JSON.parse(readFileSync(join(out, `${suite}.json`), 'utf8')) as Shape;
    expect(saved.metrics.map((m) => m['name'])).toEqual(doc.metrics.map((m) => m['name']));
    for (const f of doc.files) expect(existsSync(join(out, f)), f).toBe(true);
  }, 180_000);
});
