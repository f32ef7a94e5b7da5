// Property: the SVG plotter never throws and always emits one well-formed, escaped document,
// whatever numbers and labels a benchmark hands it (NaN, negatives on log axes, empty series).
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { linePlot, cdfPoints } from '../../bench/svg.js';
import { fuzzParams } from '../fuzz/params.js';

const num = fc.oneof(fc.double(), fc.integer({ min: -1e9, max: 1e9 }), fc.constantFrom(0, NaN, Infinity, -Infinity, 1e-12, 1e12));
const series = fc.record({
  label: fc.string({ maxLength: 20 }),
  points: fc.array(fc.tuple(num, num), { maxLength: 40 }),
});

describe('bench/svg', () => {
  it('linePlot never throws and escapes every label', () => {
    fc.assert(
      fc.property(
        fc.array(series, { maxLength: 6 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.string({ maxLength: 30 }),
        (ser, logX, logY, step, title) => {
          const svg = linePlot({ title, xLabel: 'x<&>', yLabel: 'y"', series: ser, logX, logY, step });
          expect(svg.startsWith('<svg ')).toBe(true);
          expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
          expect(svg).not.toMatch(/="[^"]*(NaN|Infinity)[^"]*"/);
          expect(svg).not.toContain('x<&>');
          expect((svg.match(/<svg /g) ?? []).length).toBe(1);
        },
      ),
      fuzzParams(0.5),
    );
  });

  it('cdfPoints is monotone and ends at 1', () => {
    fc.assert(
      fc.property(fc.array(num, { maxLength: 2000 }), (xs) => {
        const pts = cdfPoints(xs, 50);
        for (let i = 1; i < pts.length; i++) {
          expect(pts[i]![0]).toBeGreaterThanOrEqual(pts[i - 1]![0]);
          expect(pts[i]![1]).toBeGreaterThanOrEqual(pts[i - 1]![1]);
        }
        if (pts.length > 0) expect(pts[pts.length - 1]![1]).toBe(1);
      }),
      fuzzParams(0.5),
    );
  });
});
