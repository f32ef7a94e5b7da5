// Every reject reason, end to end through two engines: the right reason on both sides, the client
// fails fast (RST), and nothing reaches the server application.
import { describe, expect, it } from 'vitest';
import { createCa } from '../../enforcer/identity/index.js';
import { Counter } from '../../enforcer/engine/index.js';
import { Reason } from '../../enforcer/reasons.js';
import { parseFrame, Prng, TcpHost, TCP_ACK, TCP_SYN, type WireFrameEvent } from '../../enforcer/sim/index.js';
import { ALLOW_FRONTEND, CLIENT_IP, enc, inventoryYaml, OTHER_IP, PORT, SERVER_IP, T0, TwoNodes } from './harness.js';

const ALLOW_BOTH = ALLOW_FRONTEND.replace('"cluster.local/ns/shop/sa/frontend"', '"cluster.local/ns/shop/sa/frontend", "cluster.local/ns/shop/sa/other"');

const isSyn = (f: Uint8Array): boolean => {
  const p = parseFrame(f, 0, f.length);
  return p !== null && (p.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
};
const isSynAck = (f: Uint8Array): boolean => {
  const p = parseFrame(f, 0, f.length);
  return p !== null && (p.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
};
/** The client's final ACK carrying the ACK token. */
const isTokenAck = (f: Uint8Array): boolean => {
  const p = parseFrame(f, 0, f.length);
  return p !== null && (p.flags & TCP_SYN) === 0 && p.hasExperimentalOption && p.payloadLen > 0;
};

/** Hook: at the network hop, apply `fn` once to the first frame matching `match`. */
function once(match: (f: Uint8Array) => boolean, fn: (f: Uint8Array) => Uint8Array | 'drop') {
  let done = false;
  return (ev: WireFrameEvent) => {
    if (done || ev.hop !== 'network' || !match(ev.frame)) return 'pass' as const;
    done = true;
    const r = fn(ev.frame.slice());
    return r === 'drop' ? ('drop' as const) : { replace: r };
  };
}

function expectRejected(t: TwoNodes, reason: string, serverApp = true): void {
  const d = t.serverEvents.find((e) => e.kind === 'decision');
  expect(d, JSON.stringify(t.serverEvents)).toMatchObject({ verdict: 'deny', reason });
  if (serverApp) expect(t.server.accepted).toHaveLength(0);
  expect(t.serverSawOption()).toBe(false);
}

describe('two engines: every reject reason', () => {
  it('policy: the server refuses a verified peer the policy does not allow; the client fails fast with peer-reject', () => {
    const t = new TwoNodes();
    const c = t.other.connect(SERVER_IP, PORT);
    t.run();
    expectRejected(t, 'policy');
    expect(t.server.rx).toHaveLength(0);
    expect(c.reset).toBe(true);
    expect(c.state).toBe('CLOSED');
    expect(t.clientEvents.find((e) => e.kind === 'peer-reject')).toMatchObject({ reason: 'policy', localClient: true });
    expect(t.clientEngine.peerRejects[Reason.POLICY]).toBe(1);
    expect(t.serverEngine.rejects[Reason.POLICY]).toBe(1);
  });

  it('no-token: a client without an enforcer is refused in enforce mode and told so', () => {
    const t = new TwoNodes({ clientWithoutEnforcer: true });
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expectRejected(t, 'no-token');
    expect(c.reset).toBe(true);
  });

  it('reject RSTs are rate-limited: beyond rejectRstPerSecond a refused SYN is dropped silently and counted', () => {
    const t = new TwoNodes({ clientWithoutEnforcer: true, serverRejectRstPerSecond: 2 });
    const se = t.serverEngine;
    const conns = Array.from({ length: 5 }, () => t.client.connect(SERVER_IP, PORT));
    t.run();
    // Two RSTs (the bucket holds one second's worth), three silent drops; every SYN refused and reported.
    expect(conns.map((c) => c.reset)).toEqual([true, true, false, false, false]);
    expect(se.counters[Counter.REJECT_RSTS_SUPPRESSED]).toBe(3);
    expect(se.counters[Counter.RSTS_SENT]).toBe(2);
    expect(se.rejects[Reason.NO_TOKEN]).toBe(5);
    expect(t.serverEvents.filter((e) => e.kind === 'decision' && e.reason === 'no-token')).toHaveLength(5);
    expect(t.server.accepted).toHaveLength(0);
    // Half a second refills one token: of the three retransmitted SYNs one is answered.
    t.clock.advance(500);
    for (const c of conns.slice(2)) expect(c.retransmitSyn()).toBe(true);
    t.run();
    expect(conns.map((c) => c.reset)).toEqual([true, true, true, false, false]);
    expect(se.counters[Counter.REJECT_RSTS_SUPPRESSED]).toBe(5);
    // rejectRstPerSecond 0: never an RST.
    const quiet = new TwoNodes({ clientWithoutEnforcer: true, serverRejectRstPerSecond: 0 });
    const q = quiet.client.connect(SERVER_IP, PORT);
    quiet.run();
    expect(q.reset).toBe(false);
    expect(quiet.serverEngine.counters[Counter.REJECT_RSTS_SUPPRESSED]).toBe(1);
    expect(quiet.serverEngine.rejects[Reason.NO_TOKEN]).toBe(1);
  });

  it('untrusted-issuer: a client whose node credential comes from another CA', () => {
    const t = new TwoNodes({ clientCa: createCa({ trustDomain: 'cluster.local', nowMs: T0 }) });
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expectRejected(t, 'untrusted-issuer');
    expect(c.reset).toBe(true);
  });

  it('bad-signature: a flipped signature byte in the SYN token', () => {
    const t = new TwoNodes();
    t.hook(once(isSyn, (f) => ((f[f.length - 3] = f[f.length - 3]! ^ 0x55), f)));
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expectRejected(t, 'bad-signature');
    expect(c.reset).toBe(true);
  });

  it('malformed: garbage where the token kind byte should be', () => {
    const t = new TwoNodes();
    t.hook(
      once(isSyn, (f) => {
        const p = parseFrame(f, 0, f.length)!;
        f[p.payloadOff] = 0x7f;
        return f;
      }),
    );
    t.client.connect(SERVER_IP, PORT);
    t.run();
    expectRejected(t, 'malformed');
  });

  it('binding-mismatch: the SYN re-addressed to another source port in flight', () => {
    const t = new TwoNodes();
    t.hook(
      once(isSyn, (f) => {
        const sp = 34 + 0; // Ethernet 14 + IPv4 20: TCP source port (big-endian)
        const port = ((f[sp]! << 8) | f[sp + 1]!) ^ 1;
        f[sp] = port >>> 8;
        f[sp + 1] = port & 0xff;
        return f;
      }),
    );
    t.client.connect(SERVER_IP, PORT);
    t.run();
    expectRejected(t, 'binding-mismatch');
  });

  it('replay: a captured SYN replayed after the flow is established is refused and the flow keeps working', () => {
    const t = new TwoNodes();
    let captured: Uint8Array | null = null;
    t.hook((ev) => {
      if (ev.hop === 'network' && captured === null && isSyn(ev.frame)) captured = ev.frame.slice();
      return 'pass';
    });
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(t.server.accepted).toHaveLength(1);
    t.wire.inject(captured!, 'network');
    t.run();
    expect(t.serverEvents.filter((e) => e.kind === 'decision').map((e) => e.reason)).toEqual(['ok', 'replay']);
    c.send(enc('still here'));
    t.run();
    expect(t.server.accepted[0]!.received()).toEqual(enc('still here'));
    expect(c.reset).toBe(false);
  });

  it('expired: a captured SYN replayed much later', () => {
    const t = new TwoNodes();
    let captured: Uint8Array | null = null;
    t.hook((ev) => {
      if (ev.hop === 'network' && captured === null && isSyn(ev.frame)) {
        captured = ev.frame.slice();
        return 'drop';
      }
      return 'pass';
    });
    t.client.connect(SERVER_IP, PORT);
    t.run();
    t.clock.advance(10 * 60_000);
    t.wire.inject(captured!, 'network');
    t.run();
    expectRejected(t, 'expired');
  });

  it('not-yet-valid: a client clock far ahead of the server', () => {
    const t = new TwoNodes({ clientClockSkewMs: 10 * 60_000 });
    t.client.connect(SERVER_IP, PORT);
    t.run();
    expectRejected(t, 'not-yet-valid');
  });

  it('bad-mac: a corrupted ACK token resets the server application and tells the client', () => {
    const t = new TwoNodes();
    t.hook(once(isTokenAck, (f) => ((f[f.length - 1] = f[f.length - 1]! ^ 1), f)));
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    const d = t.serverEvents.find((e) => e.kind === 'decision');
    expect(d).toMatchObject({ verdict: 'deny', reason: 'bad-mac' });
    expect(t.server.accepted).toHaveLength(0);
    const sconn = t.server.connections()[0]!;
    expect(sconn.reset).toBe(true);
    expect(c.reset).toBe(true);
    expect(t.serverSawOption()).toBe(false);
  });

  it('no-token on the final ACK: the ACK token stripped in flight', () => {
    const t = new TwoNodes();
    t.hook(
      once(isTokenAck, (f) => {
        // Rebuild the ACK without marker and payload (what an on-path attacker would send).
        const p = parseFrame(f, 0, f.length)!;
        const h = new TcpHost({ name: 'x', ip: CLIENT_IP, prng: new Prng(1), clock: () => 0 });
        return h.buildFrame(p.dstIp, p.srcPort, p.dstPort, p.seq, p.ack, TCP_ACK, p.window, new Uint8Array(0));
      }),
    );
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(t.serverEvents.find((e) => e.kind === 'decision')).toMatchObject({ verdict: 'deny', reason: 'no-token' });
    expect(t.server.accepted).toHaveLength(0);
    expect(t.server.connections()[0]!.reset).toBe(true);
    expect(c.reset).toBe(true);
  });

  it('table-full: a new flow is refused when the server table is full; established flows are untouched', () => {
    const t = new TwoNodes({ policy: ALLOW_BOTH, serverCt: { capacity: 2, seed: 3 } });
    const a = t.client.connect(SERVER_IP, PORT);
    const b = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(t.server.accepted).toHaveLength(2);
    const c = t.other.connect(SERVER_IP, PORT);
    t.run();
    expect(c.reset).toBe(true);
    expect(t.serverEvents.filter((e) => e.kind === 'decision').map((e) => e.reason)).toEqual(['ok', 'ok', 'table-full']);
    expect(t.clientEvents.find((e) => e.kind === 'peer-reject')).toMatchObject({ reason: 'table-full' });
    expect(t.serverEngine.ct.stats.tableFull).toBeGreaterThan(0);
    a.send(enc('a'));
    b.send(enc('b'));
    t.run();
    expect(t.server.accepted.map((s) => new TextDecoder().decode(s.received())).sort()).toEqual(['a', 'b']);
  });

  it('half-open-limit: a SYN flood from one source stays within its per-source cap; another source still connects', () => {
    const t = new TwoNodes({ policy: ALLOW_BOTH, serverCt: { capacity: 1024, seed: 3, halfOpenPerSource: 3 } });
    // The client's side never completes: its final ACKs are lost.
    const drop = t.hook((ev) => (ev.hop === 'network' && isTokenAck(ev.frame) && parseFrame(ev.frame, 0, ev.frame.length)!.srcIp === t.client.ipU32 ? 'drop' : 'pass'));
    const flood = Array.from({ length: 6 }, () => t.client.connect(SERVER_IP, PORT));
    t.run();
    drop();
    const decisions = t.serverEvents.filter((e) => e.kind === 'decision').map((e) => e.reason);
    expect(decisions).toEqual(['half-open-limit', 'half-open-limit', 'half-open-limit']);
    expect(flood.filter((c) => c.reset)).toHaveLength(3);
    expect(t.serverEngine.ct.halfOpen).toBe(3);
    const ok = t.other.connect(SERVER_IP, PORT);
    t.run();
    expect(ok.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(1);
    expect(t.server.accepted[0]!.remoteIp).toBe(t.other.ipU32);
  });

  it('rate-limited: the verification budget is spent', () => {
    const t = new TwoNodes({ identity: { budgetGlobal: { ratePerSec: 1, burst: 1 }, budgetPerSource: { ratePerSec: 1, burst: 1 } } });
    t.client.connect(SERVER_IP, PORT);
    t.run();
    expectRejected(t, 'rate-limited');
  });

  it('unknown-workload: a host the inventory does not know behind the client enforcer is dropped at egress', () => {
    const t = new TwoNodes();
    const stranger = new TcpHost({ name: 'stranger', ip: '198.18.0.9', prng: new Prng(3), clock: () => t.clock.now() });
    t.wire.attach(stranger, t.clientEngine);
    stranger.connect(SERVER_IP, PORT);
    t.run();
    expect(t.server.rx).toHaveLength(0);
    expect(t.clientEngine.rejects[Reason.UNKNOWN_WORKLOAD]).toBe(1);
  });

  it('stale-cache: a warm SYN the server can no longer resolve is swallowed and the retransmission goes cold', () => {
    const t = new TwoNodes();
    const first = t.client.connect(SERVER_IP, PORT);
    t.run();
    first.close();
    t.run();
    t.server.accepted[0]!.close();
    t.run();
    t.serverAgent.clearCaches();
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.state).toBe('SYN_SENT');
    expect(c.reset).toBe(false);
    expect(t.clientEngine.peerRejects[Reason.STALE_CACHE]).toBe(1);
    c.retransmitSyn();
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(2);
  });

  it('revoked and timeout and peer-reject are covered in lifecycle.test.ts; the inventory helper names the client', () => {
    expect(inventoryYaml()).toContain(CLIENT_IP);
    expect(OTHER_IP).not.toBe(CLIENT_IP);
  });
});
