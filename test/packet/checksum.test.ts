// The word-at-a-time checksum path agrees with a byte-by-byte reference on every alignment,
// parity and length; RFC 1071 examples; incremental updates on known values.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csumUpdate16, csumUpdate32, fold, sumBytes } from '../../enforcer/packet/index.js';
import { fuzzParams } from '../fuzz/params.js';

/** Reference: 16-bit big-endian words, byte at an odd position in the low half. */
function refSum(b: Uint8Array, start: number, end: number, odd: boolean): number {
  let s = 0;
  for (let i = start, low = odd; i < end; i++, low = !low) s += low ? b[i]! : b[i]! << 8;
  return fold(s);
}

describe('sumBytes', () => {
  it('matches the byte-by-byte reference (fast and slow paths, any alignment and parity)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1600 }), fc.nat(7), fc.nat(), fc.nat(), fc.boolean(), (data, shift, a, c, odd) => {
        const ab = new ArrayBuffer(data.length + 16);
        const b = new Uint8Array(ab, shift, data.length + 8);
        b.set(data);
        const start = data.length === 0 ? 0 : a % data.length;
        const end = start + (data.length === 0 ? 0 : c % (data.length - start + 1));
        expect(fold(sumBytes(b, start, end, odd))).toBe(refSum(b, start, end, odd));
      }),
      fuzzParams(2),
    );
  });

  it('RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2', () => {
    const b = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(fold(sumBytes(b, 0, 8))).toBe(0xddf2);
  });

  it('RFC 1624 incremental update: known header checksum after a TTL decrement', () => {
    // 45 00 00 3c 1c 46 40 00 40 06 [b1 e6] ac 10 0a 63 ac 10 0a 0c (a classic worked example)
    const hc = 0xb1e6;
    expect(csumUpdate16(hc, 0x4006, 0x3f06)).toBe(0xb2e6);
    expect(csumUpdate32(csumUpdate32(hc, 0xac100a63, 0xc6120001), 0xc6120001, 0xac100a63)).toBe(hc);
  });
});
