// Every stable error code used in enforcer/ or bench/ is documented in docs/errors.md, and every documented
// code still exists (no stale rows).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const CODE_RE = /['"`](SYNGATE_[A-Z0-9_]+)['"`]/g;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('error code registry', () => {
  const used = new Map<string, string>();
  for (const file of [...sources(join(ROOT, 'enforcer')), ...sources(join(ROOT, 'bench'))]) {
    for (const m of readFileSync(file, 'utf8').matchAll(CODE_RE)) used.set(m[1]!, file.slice(ROOT.length));
  }
  const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/`(SYNGATE_[A-Z0-9_]+)`/g)].map((m) => m[1]!));

  it('documents every code used in enforcer/ and bench/', () => {
    const missing = [...used].filter(([c]) => !documented.has(c)).map(([c, f]) => `${c} (${f})`);
    expect(missing).toEqual([]);
  });

  it('has no documented code that the source no longer uses', () => {
    expect([...documented].filter((c) => !used.has(c))).toEqual([]);
  });
});
