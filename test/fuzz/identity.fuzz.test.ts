// Fuzz properties for identity tokens (issues 3 and 10).
// Invariants checked: no single-byte mutation of a valid token of any kind ever verifies (and
// the untouched token still verifies afterwards, so rejections are not replay artefacts);
// arbitrary bytes never verify; nothing throws out of verifySyn / verifySynAck / verifyAck.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Binding, ClientHandshake, ServerHandshake } from '../../enforcer/identity/index.js';
import { Reason, reasonLabel } from '../../enforcer/reasons.js';
import { binding, handshake, T0, world, type World } from '../identity/helpers.js';
import { fuzzParams } from './params.js';

const UNLIMITED = {
  budgetPerSource: { ratePerSec: 1e9, burst: 1e9 },
  budgetGlobal: { ratePerSec: 1e9, burst: 1e9 },
};

interface Fixture {
  name: string;
  token: Uint8Array;
  /** Verifies a candidate token against fresh-enough state; returns the Reason. */
  verify: (t: Uint8Array) => Reason;
}

function synFixture(w: World, warm: boolean): Fixture {
  if (warm) handshake(w);
  const b = binding();
  const chs = w.clientNode.buildSyn(w.client, b, T0);
  expect(chs.cold).toBe(!warm);
  return { name: warm ? 'warm SYN' : 'cold SYN', token: chs.token, verify: (t) => w.serverNode.verifySyn(w.server, t, b, T0).reason };
}

function synAckFixture(w: World, warm: boolean): Fixture {
  if (warm) handshake(w);
  const b: Binding = binding();
  const chs: ClientHandshake = w.clientNode.buildSyn(w.client, b, T0);
  const shs = w.serverNode.verifySyn(w.server, chs.token, b, T0);
  const sa = w.serverNode.buildSynAck(shs, 0x01020304, T0);
  const b2 = { ...b, isnS: 0x01020304 };
  return { name: warm ? 'SYN-ACK (ids)' : 'SYN-ACK (full)', token: sa, verify: (t) => w.clientNode.verifySynAck(chs, t, b2, T0) };
}

function ackFixture(w: World): Fixture {
  const b = binding();
  const chs = w.clientNode.buildSyn(w.client, b, T0);
  const shs: ServerHandshake = w.serverNode.verifySyn(w.server, chs.token, b, T0);
  const sa = w.serverNode.buildSynAck(shs, 77, T0);
  w.clientNode.verifySynAck(chs, sa, { ...b, isnS: 77 }, T0);
  const ack = w.clientNode.buildAck(chs);
  return { name: 'ACK', token: ack, verify: (t) => w.serverNode.verifyAck(shs, t, T0) };
}

function fixtures(): Fixture[] {
  return [
    synFixture(world(UNLIMITED), false),
    synFixture(world(UNLIMITED), true),
    synAckFixture(world(UNLIMITED), false),
    synAckFixture(world(UNLIMITED), true),
    ackFixture(world(UNLIMITED)),
  ];
}

function mutate(t: Uint8Array, pos: number, xor: number): Uint8Array {
  const m = Uint8Array.from(t);
  m[pos] = (m[pos] ?? 0) ^ xor;
  return m;
}

describe('identity tokens under mutation', () => {
  it('every position of every token kind, flipped, never verifies', () => {
    for (const f of fixtures()) {
      for (let pos = 0; pos < f.token.length; pos++) {
        for (const xor of [0x01, 0x80, 0xff]) {
          const r = f.verify(mutate(f.token, pos, xor));
          if (r === Reason.OK) throw new Error(`${f.name}: byte ${pos} ^ 0x${xor.toString(16)} verified`);
        }
      }
      expect(reasonLabel(f.verify(f.token)), `${f.name} untouched`).toBe('ok');
    }
  });

  it('property: any single-byte change to any token kind never verifies', () => {
    const fx = fixtures();
    fc.assert(
      fc.property(fc.nat(fx.length - 1), fc.nat(), fc.integer({ min: 1, max: 255 }), (k, p, x) => {
        const f = fx[k];
        if (f === undefined) return;
        const pos = p % f.token.length;
        expect(f.verify(mutate(f.token, pos, x))).not.toBe(Reason.OK);
      }),
      fuzzParams(),
    );
    for (const f of fx) expect(reasonLabel(f.verify(f.token)), `${f.name} untouched`).toBe('ok');
  });

  it('property: truncations and extensions never verify', () => {
    const fx = fixtures();
    fc.assert(
      fc.property(fc.nat(fx.length - 1), fc.nat(), fc.uint8Array({ minLength: 0, maxLength: 8 }), (k, cut, tail) => {
        const f = fx[k];
        if (f === undefined) return;
        const n = cut % f.token.length;
        expect(f.verify(f.token.subarray(0, n))).not.toBe(Reason.OK);
        if (tail.length > 0) {
          const ext = new Uint8Array(f.token.length + tail.length);
          ext.set(f.token);
          ext.set(tail, f.token.length);
          expect(f.verify(ext)).not.toBe(Reason.OK);
        }
      }),
      fuzzParams(),
    );
    for (const f of fx) expect(reasonLabel(f.verify(f.token)), `${f.name} untouched`).toBe('ok');
  });

  it('property: arbitrary bytes never verify and never throw', () => {
    const fx = fixtures();
    fc.assert(
      fc.property(fc.nat(fx.length - 1), fc.uint8Array({ maxLength: 700 }), fc.boolean(), (k, bytes, keepKind) => {
        const f = fx[k];
        if (f === undefined) return;
        const t = Uint8Array.from(bytes);
        if (keepKind && t.length > 0) t[0] = f.token[0] ?? 0;
        expect(f.verify(t)).not.toBe(Reason.OK);
      }),
      fuzzParams(),
    );
  });
});
