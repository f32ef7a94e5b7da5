import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ConntrackTable,
  CtFlag,
  CtState,
  formatFlags,
  Sweeper,
  BYTES_PER_SLOT,
  PEER_NONE,
} from '../../enforcer/conntrack/index.js';
import { Reason } from '../../enforcer/reasons.js';
import { isSyngateError } from '../../enforcer/errors.js';
import { fuzzParams } from '../fuzz/params.js';

const A = 0xc6120001; // 198.18.0.1
const B = 0xc6130002; // 198.19.0.2

describe('conntrack table', () => {
  it('finds a flow from both directions and says which', () => {
    const t = new ConntrackTable({ capacity: 64, seed: 1 });
    const s = t.insert(A, B, 40000, 80, CtState.ESTABLISHED, CtFlag.AUTHORIZED, 0);
    expect(s).toBeGreaterThanOrEqual(0);
    expect(t.lookup(A, B, 40000, 80, 1)).toBe(s);
    expect(t.reply).toBe(false);
    expect(t.lookup(B, A, 80, 40000, 1)).toBe(s);
    expect(t.reply).toBe(true);
    expect(t.lookup(A, B, 40001, 80, 1)).toBe(-1);
    expect(t.lookup(B, A, 40000, 80, 1)).toBe(-1);
    expect(t.saddr(s)).toBe(A);
    expect(t.sport(s)).toBe(40000);
    expect(t.dport(s)).toBe(80);
    expect(t.peerId(s)).toBe(PEER_NONE);
  });

  it('counts packets and bytes past 2^32', () => {
    const t = new ConntrackTable({ capacity: 4, seed: 1 });
    const s = t.insert(A, B, 1, 2, CtState.ESTABLISHED, 0, 0);
    t.account(s, 0xffffffff, 5);
    t.account(s, 10, 6);
    expect(t.packets(s)).toBe(2);
    expect(t.bytes(s)).toBe(0xffffffff + 10);
    expect(t.lastSeen(s)).toBe(6);
    expect(t.created(s)).toBe(0);
  });

  it('refuses a new flow with TABLE_FULL when full and keeps every existing entry', () => {
    const t = new ConntrackTable({ capacity: 100, seed: 7 });
    for (let i = 0; i < 100; i++) expect(t.insert(A, B, 1000 + i, 80, CtState.ESTABLISHED, CtFlag.AUTHORIZED, 0)).toBeGreaterThanOrEqual(0);
    expect(t.insert(A, B, 5000, 80, CtState.ESTABLISHED, 0, 1)).toBe(-Reason.TABLE_FULL);
    expect(t.stats.tableFull).toBe(1);
    for (let i = 0; i < 100; i++) {
      const s = t.lookup(A, B, 1000 + i, 80, 1);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(t.state(s)).toBe(CtState.ESTABLISHED);
      expect(t.flags(s)).toBe(CtFlag.AUTHORIZED);
    }
  });

  it('reclaims an expired entry when full instead of refusing', () => {
    const t = new ConntrackTable({ capacity: 10, seed: 7, timeouts: { closingMs: 100 } });
    for (let i = 0; i < 9; i++) t.insert(A, B, 1000 + i, 80, CtState.ESTABLISHED, 0, 0);
    t.insert(A, B, 999, 80, CtState.CLOSED, 0, 0);
    expect(t.insert(A, B, 5000, 80, CtState.ESTABLISHED, 0, 500)).toBeGreaterThanOrEqual(0);
    expect(t.lookup(A, B, 999, 80, 500)).toBe(-1);
    expect(t.size).toBe(10);
  });

  it('caps half-open flows per source and in total, and releases the caps when a flow leaves half-open', () => {
    const t = new ConntrackTable({ capacity: 1000, seed: 3, halfOpenCap: 8, halfOpenPerSource: 3 });
    const slots: number[] = [];
    for (let i = 0; i < 3; i++) slots.push(t.insert(A, B, 2000 + i, 80, CtState.SYN_RCVD, 0, 0));
    expect(slots.every((s) => s >= 0)).toBe(true);
    expect(t.insert(A, B, 2003, 80, CtState.SYN_RCVD, 0, 0)).toBe(-Reason.HALF_OPEN_LIMIT);
    expect(t.stats.halfOpenPerSource).toBe(1);
    // Another source is unaffected.
    expect(t.insert(B, A, 3000, 80, CtState.SYN_RCVD, 0, 0)).toBeGreaterThanOrEqual(0);
    // Established flows from the flooding source are still accepted.
    expect(t.insert(A, B, 4000, 80, CtState.ESTABLISHED, 0, 0)).toBeGreaterThanOrEqual(0);
    const s0 = t.lookup(A, B, 2000, 80, 0);
    t.setState(s0, CtState.ESTABLISHED);
    expect(t.sideSlot(s0)).toBe(0);
    expect(t.insert(A, B, 2003, 80, CtState.SYN_RCVD, 0, 0)).toBeGreaterThanOrEqual(0);
    expect(t.halfOpen).toBe(4);
    for (let i = 0; i < 4; i++) t.insert(0x0a000000 + i, B, 1, 80, CtState.SYN_RCVD, 0, 0);
    expect(t.halfOpen).toBe(8);
    expect(t.insert(0x0b000000, B, 1, 80, CtState.SYN_RCVD, 0, 0)).toBe(-Reason.HALF_OPEN_LIMIT);
    expect(t.stats.halfOpenTotal).toBe(1);
  });

  it('expires by state class lazily on lookup and by the sweep, with a fake clock', () => {
    const t = new ConntrackTable({ capacity: 100, seed: 5, timeouts: { halfOpenMs: 1000, establishedMs: 50_000, closingMs: 2000 } });
    const expired: number[] = [];
    t.onExpire = (slot) => expired.push(t.sport(slot));
    t.insert(A, B, 1, 80, CtState.SYN_SENT, 0, 0);
    t.insert(A, B, 2, 80, CtState.ESTABLISHED, 0, 0);
    t.insert(A, B, 3, 80, CtState.CLOSED, 0, 0);
    expect(t.lookup(A, B, 1, 80, 1000)).toBeGreaterThanOrEqual(0);
    expect(t.lookup(A, B, 1, 80, 1001)).toBe(-1);
    expect(expired).toEqual([1]);
    expect(t.halfOpen).toBe(0);
    const sw = new Sweeper(t);
    sw.step(2001, t.slots);
    expect(expired).toEqual([1, 3]);
    expect(sw.stats.expiredByState[CtState.CLOSED]).toBe(1);
    expect(t.lookup(A, B, 2, 80, 2001)).toBeGreaterThanOrEqual(0);
    sw.step(60_000, t.slots);
    expect(t.size).toBe(0);
  });

  it('keeps the side-table owner current while Robin Hood moves entries', () => {
    const t = new ConntrackTable<{ n: number }>({ capacity: 400, seed: 11, maxLoad: 0.95 });
    for (let i = 0; i < 380; i++) {
      const s = t.insert(A, B, 10000 + i, 443, i % 3 === 0 ? CtState.SYN_RCVD : CtState.ESTABLISHED, 0, 0);
      expect(s).toBeGreaterThanOrEqual(0);
      if (i % 3 === 0) t.setHandshake(s, { n: i });
    }
    for (let i = 0; i < 380; i += 2) t.remove(t.lookup(A, B, 10000 + i, 443, 0));
    for (let i = 1; i < 380; i += 2) {
      const s = t.lookup(A, B, 10000 + i, 443, 0);
      expect(s).toBeGreaterThanOrEqual(0);
      if (i % 3 === 0) {
        expect(t.handshake(s)).toEqual({ n: i });
        expect(t.side.owner[t.sideSlot(s)]).toBe(s);
      }
    }
  });

  it('rebuilds a wall-clock start time from the 32-bit created stamp', () => {
    const t = new ConntrackTable({ capacity: 4, seed: 1 });
    const start = 1_763_900_000_123;
    const s = t.insert(A, B, 1, 2, CtState.ESTABLISHED, 0, start);
    expect(t.startTime(s, start + 90_000)).toBe(start);
  });

  it('prints flags with unknown bits visible', () => {
    expect(formatFlags(0)).toBe('0');
    expect(formatFlags(CtFlag.AUTHORIZED | CtFlag.REDIRECTED)).toBe('AUTHORIZED|REDIRECTED');
    expect(formatFlags(CtFlag.LOCAL_CLIENT | (1 << 14))).toBe('LOCAL_CLIENT|0x4000');
  });

  it('rejects bad configuration with a coded error', () => {
    for (const bad of [{ capacity: 0 }, { capacity: 10, maxLoad: 1 }, { capacity: 10, halfOpenCap: 70000 }, { capacity: 10, timeouts: { halfOpenMs: 0 } }]) {
      try {
        new ConntrackTable(bad);
        expect.fail('accepted');
      } catch (e) {
        expect(isSyngateError(e, 'SYNGATE_CONNTRACK_CONFIG')).toBe(true);
      }
    }
  });

  it('stays within 64 bytes per flow at 1M flows', () => {
    const t = new ConntrackTable({ capacity: 1_000_000, seed: 1 });
    expect(BYTES_PER_SLOT).toBe(56);
    expect(t.flowBytes).toBe(56 * 1_000_000 + 4 * t.indexSlots);
    expect(t.totalBytes / t.capacity).toBeLessThanOrEqual(64);
  });

  it('behaves like a Map under random insert/remove/lookup (model test)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('ins', 'del', 'get'), fc.integer({ min: 0, max: 300 }), fc.boolean()), { maxLength: 600 }),
        (ops) => {
          const t = new ConntrackTable({ capacity: 200, seed: 42, maxLoad: 0.95 });
          const model = new Map<number, number>();
          for (const [op, k, rev] of ops) {
            const sa = 0x0a000000 + (k % 7);
            const sp = 1000 + k;
            if (op === 'ins') {
              if (t.lookup(sa, B, sp, 80, 0) >= 0) continue;
              const s = t.insert(sa, B, sp, 80, CtState.ESTABLISHED, k & 0xff, 0);
              if (model.size >= 200) expect(s).toBe(-Reason.TABLE_FULL);
              else {
                expect(s).toBeGreaterThanOrEqual(0);
                t.setVerdict(s, 0, k, k * 3);
                model.set(k, k * 3);
              }
            } else if (op === 'del') {
              const s = t.lookup(sa, B, sp, 80, 0);
              expect(s >= 0).toBe(model.has(k));
              if (s >= 0) t.remove(s);
              model.delete(k);
            } else {
              const s = rev ? t.lookup(B, sa, 80, sp, 0) : t.lookup(sa, B, sp, 80, 0);
              expect(s >= 0).toBe(model.has(k));
              if (s >= 0) {
                expect(t.peerId(s)).toBe(model.get(k));
                expect(t.ruleId(s)).toBe(k);
                expect(t.reply).toBe(rev);
              }
            }
            expect(t.size).toBe(model.size);
          }
        },
      ),
      fuzzParams(0.5),
    );
  });
});
