// Client side after the ACK token left (CtState.ACK_SENT): off the half-open caps, established
// timeout, the handshake record kept (bounded) to re-send the ACK token until the server speaks.
import { describe, expect, it } from 'vitest';
import { Counter, swapTable } from '../../enforcer/engine/index.js';
import { CtFlag, CtState } from '../../enforcer/conntrack/index.js';
import { Reason } from '../../enforcer/reasons.js';
import { ipToU32, parseFrame, TCP_ACK, TCP_SYN, type TcpConnection, type WireFrameEvent } from '../../enforcer/sim/index.js';
import { ALLOW_FRONTEND, CLIENT_IP, compileTable, enc, inventoryYaml, PORT, SERVER_IP, TwoNodes } from './harness.js';

/** ALLOW_FRONTEND plus a NetworkPolicy isolating frontend for egress with no egress rule: frontend may dial nothing. */
const FRONTEND_NO_EGRESS = `${ALLOW_FRONTEND}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: frontend-no-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
`;

const isTokenAck = (f: Uint8Array): boolean => {
  const p = parseFrame(f, 0, f.length);
  return p !== null && (p.flags & TCP_SYN) === 0 && p.hasExperimentalOption && p.payloadLen > 0;
};
function dropFirst(match: (f: Uint8Array) => boolean, n = 1) {
  let left = n;
  return (ev: WireFrameEvent) => (left > 0 && ev.hop === 'network' && match(ev.frame) ? (left--, 'drop' as const) : ('pass' as const));
}

const HALF_OPEN_MS = 10_000;
const ESTABLISHED_MS = 3_600_000;

function slotOf(t: TwoNodes, side: 'client' | 'server', c: TcpConnection): number {
  const e = side === 'client' ? t.clientEngine : t.serverEngine;
  return e.ct.lookup(ipToU32(CLIENT_IP), ipToU32(SERVER_IP), c.localPort, PORT, t.clock.now());
}

/** Opens `n` connections one after another, each handshake run to the end (the server stays silent). */
function connectAll(t: TwoNodes, n: number): TcpConnection[] {
  const conns: TcpConnection[] = [];
  for (let i = 0; i < n; i++) {
    conns.push(t.client.connect(SERVER_IP, PORT));
    t.run();
  }
  return conns;
}

/** One connection whose client-side flow is in ACK_SENT (handshake done, the server silent): it and its client slot. */
function ackSentFlow(t: TwoNodes): { c: TcpConnection; cs: number } {
  const c = connectAll(t, 1)[0]!;
  const cs = slotOf(t, 'client', c);
  expect(t.clientEngine.ct.state(cs)).toBe(CtState.ACK_SENT);
  return { c, cs };
}

describe('client side after the ACK token (ACK_SENT)', () => {
  it('an idle connection outlives the half-open timeout: data both ways afterwards, no RST', () => {
    const ct = { capacity: 1024, timeouts: { halfOpenMs: HALF_OPEN_MS, establishedMs: ESTABLISHED_MS } };
    const t = new TwoNodes({ clientCt: { ...ct, seed: 1 }, serverCt: { ...ct, seed: 2 } });
    const a = t.client.connect(SERVER_IP, PORT); // the client speaks first after the idle time
    const b = t.client.connect(SERVER_IP, PORT); // the server speaks first after the idle time
    t.run();
    expect(a.state).toBe('ESTABLISHED');
    expect(b.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(2);
    const ce = t.clientEngine;
    for (const c of [a, b]) {
      const s = slotOf(t, 'client', c);
      expect(ce.ct.state(s)).toBe(CtState.ACK_SENT);
      expect(ce.ct.handshake(s)).toBeDefined(); // kept to re-send the ACK token
    }
    expect(ce.ct.halfOpen).toBe(0);
    expect(ce.ct.sources.get(ipToU32(CLIENT_IP))).toBe(0);

    // Six half-open timeouts of silence, swept to the end on both engines.
    t.clock.advance(6 * HALF_OPEN_MS);
    ce.tick(t.clock.now(), 1 << 20);
    t.serverEngine.tick(t.clock.now(), 1 << 20);
    expect(ce.ct.size).toBe(2);
    expect(t.serverEngine.ct.size).toBe(2);
    t.drain();
    expect(t.clientEvents.filter((e) => e.kind === 'timeout')).toEqual([]);

    const sa = t.server.accepted[0]!;
    const sb = t.server.accepted[1]!;
    a.send(enc('ping a'));
    sb.send(enc('hello b'));
    t.run();
    sa.send(enc('pong a'));
    b.send(enc('reply b'));
    t.run();
    expect(sa.received()).toEqual(enc('ping a'));
    expect(a.received()).toEqual(enc('pong a'));
    expect(b.received()).toEqual(enc('hello b'));
    expect(sb.received()).toEqual(enc('reply b'));
    for (const c of [a, b, sa, sb]) expect(c.reset).toBe(false);
    expect(t.client.rx.some((r) => (r.flags & 0x04) !== 0)).toBe(false);
    expect(t.server.rx.some((r) => (r.flags & 0x04) !== 0)).toBe(false);
    for (const c of [a, b]) {
      const s = slotOf(t, 'client', c);
      expect(ce.ct.state(s)).toBe(CtState.ESTABLISHED);
      expect(ce.ct.flags(s) & CtFlag.AUTHORIZED).toBe(CtFlag.AUTHORIZED);
      expect(ce.ct.sideSlot(s)).toBe(0); // the record is released once the server spoke
    }
    expect(ce.ct.side.used).toBe(0);
    t.drain();
    expect(t.clientEvents.filter((e) => e.kind === 'decision').map((e) => e.verdict)).toEqual(['allow', 'allow']);
    expect(ce.counters[Counter.UNKNOWN_FLOW_DROPPED]).toBe(0);
    expect(t.serverEngine.counters[Counter.UNKNOWN_FLOW_DROPPED]).toBe(0);
    expect(t.clientSawOption()).toBe(false);
    expect(t.serverSawOption()).toBe(false);
  });

  it('2,000 connections the server never speaks on do not exhaust the half-open caps (64 total, 32 per source)', () => {
    const ct = { capacity: 4096, halfOpenCap: 64, halfOpenPerSource: 32 };
    const t = new TwoNodes({ clientCt: { ...ct, seed: 1 }, serverCt: { ...ct, seed: 2 } });
    const conns = connectAll(t, 2000);
    expect(conns.filter((c) => c.state === 'ESTABLISHED')).toHaveLength(2000);
    expect(conns.filter((c) => c.reset)).toHaveLength(0);
    expect(t.server.accepted).toHaveLength(2000);
    const ce = t.clientEngine;
    expect(ce.ct.size).toBe(2000); // every flow still open
    expect(ce.ct.halfOpen).toBe(0);
    expect(ce.rejects[Reason.HALF_OPEN_LIMIT]).toBe(0);
    expect(t.serverEngine.rejects[Reason.HALF_OPEN_LIMIT]).toBe(0);
    expect(ce.ct.stats.halfOpenTotal + ce.ct.stats.halfOpenPerSource).toBe(0);
    expect(conns.every((c) => ce.ct.state(slotOf(t, 'client', c)) === CtState.ACK_SENT)).toBe(true);
    // Retained records are bounded by the side table (= half-open cap); the oldest were evicted.
    expect(ce.ct.side.retained).toBe(64);
    expect(ce.ct.stats.sideEvicted).toBe(2000 - 64);
    expect(ce.ct.handshake(slotOf(t, 'client', conns[0]!))).toBeUndefined();
    expect(ce.ct.handshake(slotOf(t, 'client', conns[1999]!))).toBeDefined();

    // The oldest (record evicted) and the newest (record kept) still work both ways.
    for (const i of [0, 1, 1999]) {
      const c = conns[i]!;
      const s = t.server.accepted[i]!;
      expect(s.remotePort).toBe(c.localPort);
      c.send(enc(`req ${i}`));
      t.run();
      s.send(enc(`res ${i}`));
      t.run();
      expect(s.received()).toEqual(enc(`req ${i}`));
      expect(c.received()).toEqual(enc(`res ${i}`));
      expect(ce.ct.state(slotOf(t, 'client', c))).toBe(CtState.ESTABLISHED);
    }
    // And a new handshake still gets a side slot.
    const late = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(late.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(2001);
    expect(t.clientSawOption()).toBe(false);
    expect(t.serverSawOption()).toBe(false);
  });

  it('a lost token ACK is recovered: the retransmitted SYN-ACK is answered with the ACK token again; both sides authorize', () => {
    const t = new TwoNodes();
    t.hook(dropFirst(isTokenAck));
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(0);
    const ce = t.clientEngine;
    const se = t.serverEngine;
    const cs = slotOf(t, 'client', c);
    expect(ce.ct.state(cs)).toBe(CtState.ACK_SENT);
    expect(ce.ct.halfOpen).toBe(0);
    expect(ce.ct.handshake(cs)?.ackToken.len).toBeGreaterThan(0);
    const ss = slotOf(t, 'server', c);
    expect(se.ct.state(ss)).toBe(CtState.SYNACK_SENT);

    t.clock.advance(1000); // the server kernel's first SYN-ACK retransmission timer
    const sconn = t.server.connections()[0]!;
    expect(sconn.retransmitSynAck()).toBe(true);
    t.run();
    expect(t.server.accepted).toHaveLength(1);
    expect(se.ct.state(ss)).toBe(CtState.ESTABLISHED);
    expect(se.ct.flags(ss) & CtFlag.AUTHORIZED).toBe(CtFlag.AUTHORIZED);
    expect(ce.counters[Counter.RETRANSMITS]).toBe(1);

    sconn.send(enc('welcome'));
    t.run();
    c.send(enc('thanks'));
    t.run();
    expect(c.received()).toEqual(enc('welcome'));
    expect(sconn.received()).toEqual(enc('thanks'));
    expect(ce.ct.state(cs)).toBe(CtState.ESTABLISHED);
    expect(ce.ct.flags(cs) & CtFlag.AUTHORIZED).toBe(CtFlag.AUTHORIZED);
    expect(ce.ct.side.used).toBe(0);
    t.drain();
    expect(t.clientEvents.find((e) => e.kind === 'decision')).toMatchObject({ verdict: 'allow', reason: 'ok' });
    expect(t.serverEvents.find((e) => e.kind === 'decision')).toMatchObject({ verdict: 'allow', reason: 'ok' });
    expect(t.clientSawOption()).toBe(false);
    expect(t.serverSawOption()).toBe(false);
  });

  it('an ACK_SENT flow idle past the established timeout expires with a timeout event, its record released', () => {
    const ct = { capacity: 64, timeouts: { halfOpenMs: HALF_OPEN_MS, establishedMs: 120_000 } };
    const t = new TwoNodes({ clientCt: { ...ct, seed: 1 }, serverCt: { ...ct, seed: 2 } });
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    const ce = t.clientEngine;
    expect(ce.ct.state(slotOf(t, 'client', c))).toBe(CtState.ACK_SENT);
    t.clock.advance(120_001);
    ce.tick(t.clock.now(), 1 << 20);
    t.drain();
    expect(ce.ct.size).toBe(0);
    expect(ce.ct.side.used).toBe(0);
    expect(t.clientEvents.find((e) => e.kind === 'timeout')).toMatchObject({ verdict: 'deny', reason: 'timeout', localClient: true });
  });

  it('the client closes first while ACK_SENT: FIN_ORIG kept, FIN_WAIT once the server speaks, CLOSED on its FIN (close event)', () => {
    const t = new TwoNodes();
    const { c, cs } = ackSentFlow(t);
    const ce = t.clientEngine;
    c.close(); // FIN before the server said anything: token-only ACK, then the FIN
    t.run(); // the server kernel ACKs the FIN: the server spoke
    expect(ce.ct.state(cs)).toBe(CtState.FIN_WAIT);
    expect(ce.ct.flags(cs) & (CtFlag.FIN_ORIG | CtFlag.FIN_REPLY | CtFlag.AUTHORIZED)).toBe(CtFlag.FIN_ORIG | CtFlag.AUTHORIZED);
    expect(ce.ct.side.used).toBe(0);
    t.server.accepted[0]!.close();
    t.run();
    expect(c.state).toBe('TIME_WAIT');
    expect(ce.ct.state(cs)).toBe(CtState.CLOSED);
    expect(t.serverEngine.ct.state(slotOf(t, 'server', c))).toBe(CtState.CLOSED);
    expect(ce.counters[Counter.FLOWS_CLOSED]).toBe(1);
    t.drain();
    expect(t.clientEvents.map((e) => `${e.kind}:${e.verdict}`)).toEqual(['decision:allow', 'close:allow']);
    // The closing timeout, not the established one, ends the entry.
    t.clock.advance(10_001);
    ce.tick(t.clock.now(), 1 << 20);
    expect(ce.ct.size).toBe(0);
    t.drain();
    expect(t.clientEvents.filter((e) => e.kind === 'timeout')).toEqual([]);
  });

  it('the client closes first while ACK_SENT and the final ACK token was lost: the FIN\'s token-only ACK authorizes it', () => {
    const t = new TwoNodes();
    t.hook(dropFirst(isTokenAck));
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    const ce = t.clientEngine;
    const se = t.serverEngine;
    const cs = slotOf(t, 'client', c);
    expect(t.server.accepted).toHaveLength(0);
    expect(se.ct.state(slotOf(t, 'server', c))).toBe(CtState.SYNACK_SENT);
    c.close();
    t.run();
    expect(t.server.accepted).toHaveLength(1);
    expect(t.server.accepted[0]!.eof).toBe(true);
    expect(ce.ct.state(cs)).toBe(CtState.FIN_WAIT);
    t.server.accepted[0]!.close();
    t.run();
    expect(c.state).toBe('TIME_WAIT');
    expect(ce.ct.state(cs)).toBe(CtState.CLOSED);
    expect(se.ct.state(slotOf(t, 'server', c))).toBe(CtState.CLOSED);
    t.drain();
    expect(t.clientEvents.map((e) => e.kind)).toEqual(['decision', 'close']);
    expect(t.serverEvents.map((e) => e.kind)).toEqual(['decision', 'close']);
    expect(t.serverSawOption()).toBe(false);
  });

  it('the client closes first while ACK_SENT with its record evicted: the FIN still counts', () => {
    const ct = { capacity: 256, halfOpenCap: 4, halfOpenPerSource: 4 };
    const t = new TwoNodes({ clientCt: { ...ct, seed: 1 }, serverCt: { ...ct, seed: 2 } });
    const conns = connectAll(t, 6);
    const ce = t.clientEngine;
    const c = conns[0]!;
    const cs = slotOf(t, 'client', c);
    expect(ce.ct.state(cs)).toBe(CtState.ACK_SENT);
    expect(ce.ct.handshake(cs)).toBeUndefined();
    c.close();
    t.run();
    expect(ce.ct.state(cs)).toBe(CtState.FIN_WAIT);
    t.server.accepted[0]!.close();
    t.run();
    expect(c.state).toBe('TIME_WAIT');
    expect(ce.ct.state(cs)).toBe(CtState.CLOSED);
    expect(ce.counters[Counter.FLOWS_CLOSED]).toBe(1);
  });

  it('the server closes first while ACK_SENT: its FIN authorizes the flow (FIN_REPLY, FIN_WAIT), the client FIN closes it', () => {
    const t = new TwoNodes();
    const { c, cs } = ackSentFlow(t);
    const ce = t.clientEngine;
    t.server.accepted[0]!.close();
    t.run();
    expect(c.eof).toBe(true);
    expect(ce.ct.state(cs)).toBe(CtState.FIN_WAIT);
    expect(ce.ct.flags(cs) & (CtFlag.FIN_ORIG | CtFlag.FIN_REPLY | CtFlag.AUTHORIZED)).toBe(CtFlag.FIN_REPLY | CtFlag.AUTHORIZED);
    expect(ce.ct.side.used).toBe(0);
    c.close();
    t.run();
    expect(t.server.accepted[0]!.state).toBe('TIME_WAIT');
    expect(c.state).toBe('CLOSED');
    expect(ce.ct.state(cs)).toBe(CtState.CLOSED);
    expect(ce.counters[Counter.FLOWS_CLOSED]).toBe(1);
    t.drain();
    expect(t.clientEvents.map((e) => `${e.kind}:${e.verdict}`)).toEqual(['decision:allow', 'close:allow']);
  });

  it('an RST in ACK_SENT (either end) closes the flow and releases its record', () => {
    for (const who of ['client', 'server'] as const) {
      const t = new TwoNodes();
      const { c, cs } = ackSentFlow(t);
      const ce = t.clientEngine;
      (who === 'client' ? c : t.server.accepted[0]!).abort();
      t.run();
      expect(who === 'client' ? t.server.accepted[0]!.reset : c.reset).toBe(true);
      expect(ce.ct.state(cs)).toBe(CtState.CLOSED);
      expect(ce.ct.side.used).toBe(0);
    }
  });

  it('keepalive probes in ACK_SENT reach the server: the token goes in a token-only ACK ahead, not in the probe', () => {
    const t = new TwoNodes();
    const { c, cs } = ackSentFlow(t);
    const ce = t.clientEngine;
    const se = t.serverEngine;
    const s = t.server.accepted[0]!;
    const tokensBefore = ce.counters[Counter.TOKENS_INSERTED]!;
    // Linux keepalive probe: seq = snd_una - 1, no payload, ACK; twice, as the kernel repeats it.
    for (let i = 1; i <= 2; i++) {
      t.clock.advance(15_000);
      const rxBefore = t.server.rx.length;
      t.client.transmit(t.client.buildFrame(ipToU32(SERVER_IP), c.localPort, PORT, (c.sndUna - 1) >>> 0, c.rcvNxt, TCP_ACK, 502, new Uint8Array(0)));
      t.run();
      const got = t.server.rx.slice(rxBefore);
      expect(got.map((r) => [r.seq, r.payloadLen, r.hadExperimentalOption])).toEqual([[(c.sndUna - 1) >>> 0, 0, false]]);
      expect(ce.ct.state(cs)).toBe(CtState.ACK_SENT);
      expect(ce.counters[Counter.TOKENS_INSERTED]).toBe(tokensBefore + i); // one token-only ACK per probe
      expect(ce.counters[Counter.TOKEN_ACKS_SPLIT]).toBe(i);
      expect(se.counters[Counter.MARKER_DROPPED]).toBe(i); // the copy; the probe itself passed
    }
    // The probes did not move the tracked next sequence number back: a revocation now resets the
    // server application (an RST below its rcv_nxt would be ignored).
    const r = swapTable(ce, compileTable(FRONTEND_NO_EGRESS, inventoryYaml(), t.table), { node: 'n1' }, t.clock.now());
    expect(r.revoked).toBe(1);
    t.sendEngineOutput(r.packets);
    expect(s.reset).toBe(true);
    expect(c.reset).toBe(true);
  });

  it('the server kernel\'s answer to a keepalive probe in ACK_SENT authorizes the flow on the client', () => {
    const t = new TwoNodes();
    const { c, cs } = ackSentFlow(t);
    const s = t.server.accepted[0]!;
    t.client.transmit(t.client.buildFrame(ipToU32(SERVER_IP), c.localPort, PORT, (c.sndUna - 1) >>> 0, c.rcvNxt, TCP_ACK, 502, new Uint8Array(0)));
    t.run();
    // Linux answers an out-of-window probe with a duplicate ACK (the simulated stack does not).
    t.server.transmit(t.server.buildFrame(ipToU32(CLIENT_IP), PORT, c.localPort, s.sndNxt, s.rcvNxt, TCP_ACK, 502, new Uint8Array(0)));
    t.run();
    expect(t.clientEngine.ct.state(cs)).toBe(CtState.ESTABLISHED);
    expect(t.clientEngine.ct.side.used).toBe(0);
    t.drain();
    expect(t.clientEvents.map((e) => `${e.kind}:${e.verdict}`)).toEqual(['decision:allow']);
  });

  it('revoking an ACK_SENT flow on the client resets both applications (RST sequence numbers they accept)', () => {
    const t = new TwoNodes();
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    const ce = t.clientEngine;
    const cs = slotOf(t, 'client', c);
    expect(ce.ct.state(cs)).toBe(CtState.ACK_SENT);
    const r = swapTable(ce, compileTable(FRONTEND_NO_EGRESS, inventoryYaml(), t.table), { node: 'n1' }, t.clock.now());
    expect(r.revoked).toBe(1);
    expect(r.packets).toHaveLength(2);
    expect(ce.ct.side.used).toBe(0);
    t.sendEngineOutput(r.packets);
    expect(c.reset).toBe(true);
    expect(t.server.accepted[0]!.reset).toBe(true);
  });
});

/** Non-SYN frames that crossed the network with a syngate token: the client's ACK tokens. */
const ackTokensOnWire = (t: TwoNodes): number => t.wire.captured.filter(isTokenAck).length;

describe('how many ACK tokens a connection carries (the client repeats it until the server speaks)', () => {
  // [name, what the applications do after connect(), ACK tokens on the wire, of them token-only ACKs split off a segment]
  const cases: ReadonlyArray<readonly [string, (t: TwoNodes, c: TcpConnection) => void, number, number]> = [
    ['the server speaks first (a banner): the final ACK only', (t, c) => {
      t.server.accepted[0]!.send(enc('220 ready'));
      t.run();
      c.send(enc('HELO'));
    }, 1, 0],
    ['the client speaks first, one segment: final ACK + a token-only ACK ahead of the request', (t, c) => {
      c.send(enc('GET / HTTP/1.1\r\n\r\n'));
      t.run();
      t.server.accepted[0]!.send(enc('200'));
    }, 2, 1],
    ['the client sends 3 segments back to back before any answer: final ACK + one per segment', (t, c) => {
      c.send(new Uint8Array(4000));
      t.run();
      t.server.accepted[0]!.send(enc('200'));
    }, 4, 3],
    ['the client writes 3 times, each answered by the server kernel ACK: only the first write repeats it', (t, c) => {
      for (let i = 0; i < 3; i++) {
        c.send(enc(`w${i}`));
        t.run();
      }
    }, 2, 1],
    ['the client closes first: final ACK + a token-only ACK ahead of the FIN', (t, c) => {
      c.close();
      t.run();
      t.server.accepted[0]!.close();
    }, 2, 1],
  ];
  for (const [name, act, tokens, split] of cases) {
    it(name, () => {
      const t = new TwoNodes();
      const c = t.client.connect(SERVER_IP, PORT);
      t.run();
      act(t, c);
      t.run();
      const ce = t.clientEngine;
      const se = t.serverEngine;
      expect(ackTokensOnWire(t)).toBe(tokens);
      expect(ce.counters[Counter.TOKENS_INSERTED]).toBe(1 + tokens); // + the SYN token
      expect(ce.counters[Counter.TOKEN_ACKS_SPLIT]).toBe(split);
      // The server's enforcer verifies the first and drops every later copy (no token reaches the app).
      expect(se.counters[Counter.HANDSHAKES_VERIFIED]).toBe(1);
      expect(se.counters[Counter.FLOWS_AUTHORIZED]).toBe(1);
      expect(se.counters[Counter.MARKER_DROPPED]).toBe(tokens - 1);
      expect(ce.ct.state(slotOf(t, 'client', c))).not.toBe(CtState.ACK_SENT);
      expect(t.serverSawOption()).toBe(false);
    });
  }

  it('data on the final ACK: a single token-only ACK, never a second one', () => {
    const t = new TwoNodes();
    const c = t.client.connect(SERVER_IP, PORT, { dataOnAck: enc('GET /') });
    t.run();
    t.server.accepted[0]!.send(enc('200'));
    t.run();
    expect(c.received()).toEqual(enc('200'));
    expect(ackTokensOnWire(t)).toBe(1);
    expect(t.clientEngine.counters[Counter.TOKEN_ACKS_SPLIT]).toBe(1);
    expect(t.serverEngine.counters[Counter.MARKER_DROPPED]).toBe(0);
  });

  it('the repeat is what rescues a lost final-ACK token: the token-only ACK ahead of the request authorizes the client at once', () => {
    const t = new TwoNodes();
    t.hook(dropFirst(isTokenAck));
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(t.server.accepted).toHaveLength(0);
    c.send(enc('GET / HTTP/1.1\r\n\r\n')); // no SYN-ACK retransmission needed
    t.run();
    expect(t.server.accepted).toHaveLength(1);
    expect(t.server.accepted[0]!.received()).toEqual(enc('GET / HTTP/1.1\r\n\r\n'));
    expect(t.serverEngine.counters[Counter.MARKER_DROPPED]).toBe(0);
    expect(t.serverSawOption()).toBe(false);
  });
});
