// Fuzz: restoreConntrack on random bytes and on mutated real snapshots. Nothing but a
// SYNGATE_CONNTRACK_SNAPSHOT error leaves it; a refusal inserts nothing; whatever it accepts is an
// authorized ESTABLISHED/FIN_WAIT flow (never half-open, never unauthorized).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConntrackTable, CtFlag, CtState, restoreConntrack, snapshotConntrack } from '../../enforcer/conntrack/index.js';
import { isSyngateError } from '../../enforcer/errors.js';
import { fuzzParams } from './params.js';

function seeded(): Uint8Array {
  const t = new ConntrackTable({ capacity: 32, seed: 3 });
  for (let i = 0; i < 6; i++) {
    const e = t.insert(0xc6120001, 0xc6120002 + i, 40000 + i, 8080, i % 2 === 0 ? CtState.ESTABLISHED : CtState.FIN_WAIT, CtFlag.AUTHORIZED | (i & 1 ? CtFlag.LOCAL_CLIENT : 0), 1000);
    t.setVerdict(e, 0, i, i);
    t.setSeq(e, i * 1000, i * 2000);
  }
  return snapshotConntrack([t], 1000, 1_800_000_000_000, new TextEncoder().encode('{"peers":{}}'));
}

function check(bytes: Uint8Array): void {
  const t = new ConntrackTable({ capacity: 32, seed: 5 });
  try {
    restoreConntrack([t], bytes, 2000, 1_800_000_000_500);
  } catch (e) {
    expect(isSyngateError(e) && e.code === 'SYNGATE_CONNTRACK_SNAPSHOT').toBe(true);
    expect(t.size).toBe(0);
    return;
  }
  expect(t.halfOpen).toBe(0);
  for (let s = 0; s < t.slots; s++) {
    const st = t.state(s);
    if (st === CtState.FREE) continue;
    expect([CtState.ESTABLISHED, CtState.FIN_WAIT]).toContain(st);
    expect(t.flags(s) & CtFlag.AUTHORIZED).not.toBe(0);
    expect(t.flags(s) & CtFlag.REVOKED).toBe(0);
  }
}

describe('conntrack snapshot restore (fuzz)', () => {
  const base = seeded();
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => check(b)), fuzzParams());
  });
  it('mutated snapshots (byte flips, truncation)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(base.length), (flips, cut) => {
        const b = base.slice(0, cut === 0 ? base.length : cut);
        for (const [i, v] of flips) if (i < b.length) b[i] = v;
        check(b);
      }),
      fuzzParams(),
    );
  });
});
