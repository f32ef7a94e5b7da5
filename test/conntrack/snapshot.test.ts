import { describe, expect, it } from 'vitest';
import { ConntrackTable, CtFlag, CtState, restoreConntrack, snapshotConntrack } from '../../enforcer/conntrack/index.js';
import { isSyngateError } from '../../enforcer/errors.js';

const A = 0xc6120001; // 198.18.0.1
const B = 0xc6130002; // 198.19.0.2
const T0 = 1_000_000;
const WALL = 1_800_000_000_000;

function table(): ConntrackTable {
  return new ConntrackTable({ capacity: 64, seed: 7, timeouts: { establishedMs: 60_000, closingMs: 5_000, halfOpenMs: 3_000 } });
}

function fill(t: ConntrackTable): { est: number; fin: number } {
  const est = t.insert(A, B, 40000, 15001, CtState.ESTABLISHED, CtFlag.AUTHORIZED | CtFlag.REDIRECTED, T0 - 500);
  t.setVerdict(est, 0, 17, 42);
  t.setOrigPort(est, 8080);
  t.setSeq(est, 0xdeadbeef, 0x12345678);
  t.account(est, 1500, T0 - 100);
  t.account(est, 60, T0 - 50);
  const fin = t.insert(B, A, 41000, 22, CtState.FIN_WAIT, CtFlag.AUTHORIZED | CtFlag.LOCAL_CLIENT | CtFlag.FIN_ORIG, T0 - 10);
  t.setVerdict(fin, 0, 3, 9);
  // Not saved: half-open, ACK_SENT, unauthorized, revoked.
  t.insert(A, B, 40001, 80, CtState.SYN_RCVD, 0, T0);
  t.insert(A, B, 40002, 80, CtState.SYN_SENT, CtFlag.LOCAL_CLIENT, T0);
  t.insert(A, B, 40003, 80, CtState.ACK_SENT, CtFlag.LOCAL_CLIENT | CtFlag.AUTHORIZED, T0);
  t.insert(A, B, 40004, 80, CtState.ESTABLISHED, 0, T0);
  t.insert(A, B, 40005, 80, CtState.FIN_WAIT, CtFlag.REVOKED, T0);
  return { est, fin };
}

describe('conntrack snapshot', () => {
  it('round trip keeps tuples, state, flags, verdict, peer, ports, seq tracking and counters; only authorized established flows', () => {
    const a = table();
    const other = table();
    const { est } = fill(a);
    const snap = snapshotConntrack([a, other], T0, WALL, new TextEncoder().encode('hello'));
    const b = table();
    const b2 = table();
    // Restored 2 s (wall) later on a clock that restarted near zero.
    const now = 5000;
    const r = restoreConntrack([b, b2], snap, now, WALL + 2000);
    expect(r.restored).toEqual([2, 0]);
    expect(r.expired).toBe(0);
    expect(new TextDecoder().decode(r.meta)).toBe('hello');
    expect(r.savedAtMs).toBe(WALL);
    expect(b.size).toBe(2);
    expect(b.halfOpen).toBe(0);
    const s = b.lookup(B, A, 15001, 40000, now);
    expect(s).toBeGreaterThanOrEqual(0);
    expect(b.reply).toBe(true);
    expect(b.saddr(s)).toBe(A >>> 0);
    expect(b.sport(s)).toBe(40000);
    expect(b.dport(s)).toBe(15001);
    expect(b.state(s)).toBe(CtState.ESTABLISHED);
    expect(b.flags(s)).toBe(CtFlag.AUTHORIZED | CtFlag.REDIRECTED);
    expect(b.ruleId(s)).toBe(17);
    expect(b.peerId(s)).toBe(42);
    expect(b.reason(s)).toBe(0);
    expect(b.origPort(s)).toBe(8080);
    expect(b.sideSlot(s)).toBe(0);
    expect(b.seqOrig(s)).toBe(0xdeadbeef);
    expect(b.seqReply(s)).toBe(0x12345678);
    expect(b.packets(s)).toBe(a.packets(est));
    expect(b.bytes(s)).toBe(1560);
    expect((now - b.lastSeen(s)) >>> 0).toBe(50 + 2000);
    expect((now - b.created(s)) >>> 0).toBe(500 + 2000);
    const f = b.lookup(B, A, 41000, 22, now);
    expect(b.state(f)).toBe(CtState.FIN_WAIT);
    expect(b.flags(f)).toBe(CtFlag.AUTHORIZED | CtFlag.LOCAL_CLIENT | CtFlag.FIN_ORIG);
    for (const p of [40001, 40002, 40003, 40004, 40005]) expect(b.lookup(A, B, p, 80, now)).toBe(-1);
  });

  it('skips entries older than their timeout, duplicates, and what does not fit; maps peer ids', () => {
    const a = table();
    fill(a);
    const snap = snapshotConntrack([a], T0, WALL);
    // 6 s later: the FIN_WAIT flow (closing 5 s) has expired, the established one (60 s) not.
    const b = table();
    const r = restoreConntrack([b], snap, 0, WALL + 6000, (p) => p + 100);
    expect(r.restored).toEqual([1]);
    expect(r.expired).toBe(1);
    expect(b.peerId(b.lookup(A, B, 40000, 15001, 0))).toBe(142);
    const again = restoreConntrack([b], snap, 0, WALL + 6000);
    expect(again.duplicate).toBe(1);
    const tiny = new ConntrackTable({ capacity: 1 });
    const rt = restoreConntrack([tiny], snap, 0, WALL);
    expect(rt.restored).toEqual([1]);
    expect(rt.full).toBe(1);
  });

  it('refuses a bad magic, version, layout, table count, truncation or corruption, changing nothing', () => {
    const a = table();
    fill(a);
    const snap = snapshotConntrack([a], T0, WALL);
    const cases: [string, Uint8Array][] = [];
    const mut = (f: (b: Uint8Array) => void): Uint8Array => {
      const c = snap.slice();
      f(c);
      return c;
    };
    cases.push(['magic', mut((b) => (b[0] = 0))]);
    cases.push(['version', mut((b) => (b[4] = 9))]);
    cases.push(["layout", mut((b) => (b[8] = (b[8] ?? 0) ^ 1))]);
    cases.push(['tables', mut((b) => (b[6] = 2))]);
    cases.push(["corrupt", mut((b) => (b[b.length - 3] = (b[b.length - 3] ?? 0) ^ 0x40))]);
    for (let n = 0; n < snap.length; n += 7) cases.push([`truncated ${n}`, snap.slice(0, n)]);
    cases.push(['extended', new Uint8Array([...snap, 0])]);
    for (const [what, bytes] of cases) {
      const b = table();
      let err: unknown = null;
      try {
        restoreConntrack([b], bytes, 0, WALL);
      } catch (e) {
        err = e;
      }
      expect(isSyngateError(err) && err.code === 'SYNGATE_CONNTRACK_SNAPSHOT', what).toBe(true);
      expect(b.size, what).toBe(0);
    }
  });
});
