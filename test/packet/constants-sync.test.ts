// view.ts keeps module-local copies of the byte-offset constants for speed (see its header);
// every copy must equal the exported constant of the same name.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as packet from '../../enforcer/packet/index.js';

describe('view.ts constant copies', () => {
  const src = readFileSync(new URL('../../enforcer/packet/view.ts', import.meta.url), 'utf8');
  const copies = [...src.matchAll(/^const ([A-Z][A-Z0-9_]+) = (0x[0-9a-f]+|\d+);$/gm)].map((m) => [m[1]!, Number(m[2])] as const);

  it('exist', () => {
    expect(copies.length).toBeGreaterThan(30);
  });

  for (const [name, value] of copies) {
    it(`${name} = ${value}`, () => {
      expect((packet as Record<string, unknown>)[name]).toBe(value);
    });
  }
});
