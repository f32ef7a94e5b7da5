// ACK_SENT in the flow table: off the half-open caps, established timeout, a retained side slot
// that is released on leaving ACK_SENT or removal, and evicted (oldest first) when a new
// handshake finds the side table full.
import { describe, expect, it } from 'vitest';
import { ConntrackTable, CtState, isHalfOpen, Sweeper } from '../../enforcer/conntrack/index.js';
import { Reason } from '../../enforcer/reasons.js';

const A = 0xc6120001; // 198.18.0.1
const B = 0xc6130002; // 198.19.0.2

function clientFlow(t: ConntrackTable<string>, port: number, now = 0): number {
  const s = t.insert(A, B, port, 80, CtState.SYN_SENT, 0, now);
  expect(s).toBeGreaterThanOrEqual(0);
  t.setHandshake(s, `hs${port}`);
  t.setState(s, CtState.SYNACK_RCVD);
  t.setState(s, CtState.ACK_SENT);
  return s;
}

describe('conntrack ACK_SENT', () => {
  it('is not half-open: caps released, side slot retained with its handshake object', () => {
    expect(isHalfOpen(CtState.ACK_SENT)).toBe(false);
    const t = new ConntrackTable<string>({ capacity: 16, seed: 1, halfOpenCap: 4, halfOpenPerSource: 2 });
    const s = clientFlow(t, 1000);
    expect(t.halfOpen).toBe(0);
    expect(t.sources.get(A)).toBe(0);
    expect(t.handshake(s)).toBe('hs1000');
    expect(t.side.retained).toBe(1);
    // Leaving ACK_SENT releases it.
    t.setState(s, CtState.ESTABLISHED);
    expect(t.sideSlot(s)).toBe(0);
    expect(t.side.used).toBe(0);
    expect(t.side.retained).toBe(0);
    // Removal releases it too.
    const s2 = clientFlow(t, 1001);
    expect(t.side.used).toBe(1);
    t.remove(s2);
    expect(t.side.used).toBe(0);
    expect(t.side.retained).toBe(0);
  });

  it('many ACK_SENT flows never refuse a new handshake: the oldest retained slot is evicted', () => {
    const t = new ConntrackTable<string>({ capacity: 64, seed: 1, halfOpenCap: 4, halfOpenPerSource: 2 });
    const flows: number[] = [];
    for (let i = 0; i < 10; i++) flows.push(clientFlow(t, 2000 + i));
    expect(t.size).toBe(10);
    expect(t.stats.halfOpenTotal + t.stats.halfOpenPerSource).toBe(0);
    expect(t.side.retained).toBe(4);
    expect(t.stats.sideEvicted).toBe(6);
    for (let i = 0; i < 6; i++) expect(t.handshake(flows[i]!)).toBeUndefined();
    for (let i = 6; i < 10; i++) expect(t.handshake(flows[i]!)).toBe(`hs${2000 + i}`);
    // Four half-open flows (the cap) all get side slots, evicting the rest.
    const half: number[] = [];
    for (let i = 0; i < 4; i++) {
      const s = t.insert(B + i, A, 3000, 80, CtState.SYN_RCVD, 0, 0);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(t.sideSlot(s)).not.toBe(0);
      half.push(s);
    }
    expect(t.side.retained).toBe(0);
    expect(t.stats.sideEvicted).toBe(10);
    expect(t.insert(B + 9, A, 3000, 80, CtState.SYN_RCVD, 0, 0)).toBe(-Reason.HALF_OPEN_LIMIT);
    // Side slots still consistent: each half-open owner is recorded.
    for (const s of half) expect(t.side.owner[t.sideSlot(s)]).toBe(s);
    t.clear();
    expect(t.side.used).toBe(0);
    expect(t.side.retained).toBe(0);
  });

  it('times out on the established timeout, not the half-open one', () => {
    const t = new ConntrackTable<string>({ capacity: 16, seed: 1, timeouts: { halfOpenMs: 1000, establishedMs: 50_000 } });
    const sw = new Sweeper(t as ConntrackTable<unknown>);
    const s = clientFlow(t, 4000, 0);
    sw.step(10_000, 16);
    expect(t.lookup(A, B, 4000, 80, 10_000)).toBe(s);
    sw.step(60_001, 16);
    expect(t.size).toBe(0);
    expect(t.side.used).toBe(0);
    expect(sw.stats.expiredByState[CtState.ACK_SENT]).toBe(1);
    expect(sw.summary()['expired.ACK_SENT']).toBe(1);
  });
});
