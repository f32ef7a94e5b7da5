// Handshake edge cases and flow lifecycle through two engines: retransmissions, data on the final
// ACK, port reuse, RST mid-handshake, half-open timeout, revocation, Envoy redirect, audit/off modes.
import { describe, expect, it } from 'vitest';
import { Counter, Direction, FRAME_HEADROOM, swapTable, Verdict } from '../../enforcer/engine/index.js';
import { CtState } from '../../enforcer/conntrack/index.js';
import { Reason } from '../../enforcer/reasons.js';
import { ipToU32, parseFrame, TCP_ACK, TCP_SYN, type WireFrameEvent } from '../../enforcer/sim/index.js';
import { ALLOW_FRONTEND, CLIENT_IP, compileTable, DENY_ALL_CART, enc, inventoryYaml, LEGACY_IP, PORT, SERVER_IP, TwoNodes } from './harness.js';

const flagsOf = (f: Uint8Array): number => parseFrame(f, 0, f.length)?.flags ?? -1;
const isSynAck = (f: Uint8Array): boolean => (flagsOf(f) & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
const isTokenAck = (f: Uint8Array): boolean => {
  const p = parseFrame(f, 0, f.length);
  return p !== null && (p.flags & TCP_SYN) === 0 && p.hasExperimentalOption && p.payloadLen > 0;
};
function dropFirst(match: (f: Uint8Array) => boolean, n = 1) {
  let left = n;
  return (ev: WireFrameEvent) => (left > 0 && ev.hop === 'network' && match(ev.frame) ? (left--, 'drop' as const) : ('pass' as const));
}

describe('two engines: retransmissions', () => {
  it('a retransmitted SYN (SYN-ACK lost) reuses the handshake state and completes', () => {
    const t = new TwoNodes();
    t.hook(dropFirst(isSynAck));
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.state).toBe('SYN_SENT');
    expect(c.retransmitSyn()).toBe(true);
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(1);
    expect(t.clientEngine.counters[Counter.RETRANSMITS]).toBe(1);
    expect(t.serverEngine.counters[Counter.RETRANSMITS]).toBeGreaterThanOrEqual(1);
    expect(t.serverEngine.counters[Counter.HANDSHAKES_VERIFIED]).toBe(1);
    expect(t.serverSawOption()).toBe(false);
  });

  it('a retransmitted warm SYN is rebuilt cold and verified again by the server', () => {
    const t = new TwoNodes();
    const first = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(first.state).toBe('ESTABLISHED');
    t.hook(dropFirst(isSynAck));
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.retransmitSyn()).toBe(true);
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(2);
    expect(t.serverEngine.counters[Counter.PORT_REUSE]).toBe(1); // the half-open entry replaced after re-verification
  });

  it('a retransmitted SYN-ACK (final ACK lost) gets the ACK token again', () => {
    const t = new TwoNodes();
    t.hook(dropFirst(isTokenAck));
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(0);
    const sconn = t.server.connections()[0]!;
    expect(sconn.retransmitSynAck()).toBe(true);
    t.run();
    expect(t.server.accepted).toHaveLength(1);
    c.send(enc('after'));
    t.run();
    expect(t.server.accepted[0]!.received()).toEqual(enc('after'));
    expect(t.clientSawOption()).toBe(false);
  });
});

describe('two engines: data on the final ACK, port reuse, RST mid-handshake, half-open timeout', () => {
  it('an ACK carrying data is preceded by a token-only ACK; sequence numbers untouched; no token bytes delivered', () => {
    const t = new TwoNodes();
    const req = enc('POST /checkout HTTP/1.1\r\ncontent-length: 0\r\n\r\n');
    const c = t.client.connect(SERVER_IP, PORT, { dataOnAck: req });
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(1);
    expect(t.server.accepted[0]!.received()).toEqual(req);
    expect(t.clientEngine.counters[Counter.TOKEN_ACKS_SPLIT]).toBe(1);
    expect(t.serverSawOption()).toBe(false);
  });

  it('port reuse with a new ISN restarts the handshake on both engines', () => {
    const t = new TwoNodes();
    const a = t.client.connect(SERVER_IP, PORT, { srcPort: 40000, isn: 1000 });
    t.run();
    a.send(enc('one'));
    t.run();
    a.close();
    t.run();
    t.server.accepted[0]!.close();
    t.run();
    const b = t.client.connect(SERVER_IP, PORT, { srcPort: 40000, isn: 900_000_000 });
    t.run();
    expect(b.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(2);
    b.send(enc('two'));
    t.run();
    expect(t.server.accepted[1]!.received()).toEqual(enc('two'));
    expect(t.clientEngine.counters[Counter.PORT_REUSE]).toBe(1);
    expect(t.serverEngine.counters[Counter.PORT_REUSE]).toBe(1);
  });

  it('an RST in the middle of the handshake tears the flow down on both engines; nothing is accepted', () => {
    const t = new TwoNodes();
    t.hook(dropFirst(isTokenAck));
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    c.abort();
    t.run();
    const sconn = t.server.connections()[0]!;
    expect(sconn.reset).toBe(true);
    expect(t.server.accepted).toHaveLength(0);
    const slot = t.serverEngine.ct.lookup(ipToU32(CLIENT_IP), ipToU32(SERVER_IP), c.localPort, PORT, t.clock.now());
    expect(t.serverEngine.ct.state(slot)).toBe(CtState.CLOSED);
    expect(t.serverEngine.ct.halfOpen).toBe(0);
    // A late ACK token for that flow is not let through.
    sconn.retransmitSynAck();
    t.run();
    expect(t.server.accepted).toHaveLength(0);
  });

  it('a half-open flow times out (fake clock): reported, removed, its caps released', () => {
    const t = new TwoNodes({ serverCt: { capacity: 64, seed: 9, timeouts: { halfOpenMs: 5000 } } });
    t.hook(dropFirst(isTokenAck));
    t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(t.serverEngine.ct.halfOpen).toBe(1);
    t.clock.advance(5001);
    t.serverEngine.tick(t.clock.now());
    t.drain();
    expect(t.serverEvents.find((e) => e.kind === 'timeout')).toMatchObject({ verdict: 'deny', reason: 'timeout' });
    expect(t.serverEngine.ct.halfOpen).toBe(0);
    expect(t.serverEngine.ct.size).toBe(0);
    expect(t.serverEngine.rejects[Reason.TIMEOUT]).toBe(1);
  });
});

describe('two engines: revocation, redirect, modes, enforcer-less peers', () => {
  it('revocation after a policy swap: RSTs to both ends, counted, reported', () => {
    const t = new TwoNodes();
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    const s = t.server.accepted[0]!;
    c.send(enc('x'));
    t.run();
    const next = compileTable(DENY_ALL_CART, inventoryYaml(), t.table);
    const r = swapTable(t.serverEngine, next, { node: 'n2' }, t.clock.now());
    expect(r.revoked).toBe(1);
    expect(r.packets).toHaveLength(2);
    t.sendEngineOutput(r.packets);
    expect(s.reset).toBe(true);
    expect(c.reset).toBe(true);
    expect(t.serverEngine.counters[Counter.REVOKED]).toBe(1);
    expect(t.serverEvents.find((e) => e.kind === 'revoke')).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    // An allowed flow survives a swap to an equivalent policy.
    const t2 = new TwoNodes();
    t2.client.connect(SERVER_IP, PORT);
    t2.run();
    const same = swapTable(t2.serverEngine, compileTable(ALLOW_FRONTEND, inventoryYaml(), t2.table), { node: 'n2' }, t2.clock.now());
    expect(same.revoked).toBe(0);
    expect(same.checked).toBe(1);
  });

  it('a retransmission or a keepalive probe on an established flow does not move the tracked next sequence number back, so revocation RSTs still land', () => {
    const t = new TwoNodes();
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    const s = t.server.accepted[0]!;
    c.send(enc('hello'));
    c.send(enc('world'));
    t.run();
    s.send(enc('hi'));
    t.run();
    const se = t.serverEngine;
    const slot = se.ct.lookup(ipToU32(CLIENT_IP), ipToU32(SERVER_IP), c.localPort, PORT, t.clock.now());
    expect(se.ct.state(slot)).toBe(CtState.ESTABLISHED);
    expect(se.ct.seqOrig(slot)).toBe(c.sndNxt);
    const fastBefore = se.counters[Counter.FAST_PATH]!;
    const rxBefore = t.server.rx.length;
    const none = new Uint8Array(0);
    // A retransmission of the first segment (it ends 5 bytes before snd.nxt) ...
    t.client.transmit(t.client.buildFrame(ipToU32(SERVER_IP), c.localPort, PORT, (c.sndNxt - 10) >>> 0, c.rcvNxt, TCP_ACK, 502, none, enc('hello')));
    t.run();
    expect(se.ct.seqOrig(slot)).toBe(c.sndNxt);
    // ... and a Linux keepalive probe (seq = snd.una - 1, no payload) after 15 s idle.
    t.clock.advance(15_000);
    t.client.transmit(t.client.buildFrame(ipToU32(SERVER_IP), c.localPort, PORT, (c.sndUna - 1) >>> 0, c.rcvNxt, TCP_ACK, 502, none));
    t.run();
    expect(se.ct.seqOrig(slot)).toBe(c.sndNxt);
    // Both took the fast path and reached the server stack (which answers each with a duplicate ACK).
    expect(se.counters[Counter.FAST_PATH]).toBeGreaterThanOrEqual(fastBefore + 2);
    expect(t.server.rx.slice(rxBefore).map((x) => [x.seq, x.payloadLen])).toEqual([
      [(c.sndNxt - 10) >>> 0, 5],
      [(c.sndUna - 1) >>> 0, 0],
    ]);
    const r = swapTable(se, compileTable(DENY_ALL_CART, inventoryYaml(), t.table), { node: 'n2' }, t.clock.now());
    expect(r.revoked).toBe(1);
    t.sendEngineOutput(r.packets);
    expect(s.reset).toBe(true);
    expect(c.reset).toBe(true);
  });

  it('Envoy redirect: authorized inbound flows reach the Envoy port, return traffic is translated back, original port queryable', () => {
    const policy = ALLOW_FRONTEND.replace('ports: ["8080"]', 'ports: ["8080", "15020"]');
    const t = new TwoNodes({ redirect: true, policy });
    t.server.listen(15006);
    t.server.listen(15020);
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(1);
    const s = t.server.accepted[0]!;
    expect(s.localPort).toBe(15006);
    c.send(enc('to envoy'));
    s.send(enc('from envoy'));
    t.run();
    expect(s.received()).toEqual(enc('to envoy'));
    expect(c.received()).toEqual(enc('from envoy'));
    expect(t.serverEngine.originalDstPort(ipToU32(CLIENT_IP), c.localPort, ipToU32(SERVER_IP), 15006, t.clock.now())).toBe(PORT);
    expect(t.serverEvents.find((e) => e.kind === 'decision')).toMatchObject({ dport: PORT, redirectPort: 15006 });
    // Every frame the client saw came from port 8080.
    expect(t.client.rx.every((r) => r.srcPort === PORT)).toBe(true);
    // Excluded ports (15000-15090) are never redirected.
    const d = t.client.connect(SERVER_IP, 15020);
    t.run();
    expect(d.state).toBe('ESTABLISHED');
    expect(t.server.accepted[1]!.localPort).toBe(15020);
    c.close();
    t.run();
    s.close();
    t.run();
    expect(c.state).toBe('TIME_WAIT');
    expect(t.serverSawOption()).toBe(false);
  });

  it('audit mode: a denied flow is decided, logged as audit and forwarded', () => {
    const t = new TwoNodes({ policy: DENY_ALL_CART, inventory: inventoryYaml({ serverMode: 'audit' }) });
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(1);
    c.send(enc('audited'));
    t.run();
    expect(t.server.accepted[0]!.received()).toEqual(enc('audited'));
    expect(t.serverEvents.find((e) => e.kind === 'decision')).toMatchObject({ verdict: 'audit', reason: 'policy' });
    expect(t.serverSawOption()).toBe(false);
  });

  it('audit mode: even a client without an enforcer is forwarded and logged', () => {
    const t = new TwoNodes({ clientWithoutEnforcer: true, inventory: inventoryYaml({ serverMode: 'audit' }) });
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(t.serverEvents.find((e) => e.kind === 'decision')).toMatchObject({ verdict: 'audit', reason: 'no-token' });
  });

  it('off mode: no decision, the token is still stripped, the flow works', () => {
    const t = new TwoNodes({ policy: DENY_ALL_CART, inventory: inventoryYaml({ serverMode: 'off' }) });
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    c.send(enc('plain'));
    t.run();
    expect(t.server.accepted[0]!.received()).toEqual(enc('plain'));
    expect(t.serverSawOption()).toBe(false);
    expect(t.serverEvents.filter((e) => e.kind === 'decision')).toHaveLength(0);
  });

  it('a peer without an enforcer is allowed by a CIDR rule (IP identity)', () => {
    const policy = ALLOW_FRONTEND.replace('principals: ["cluster.local/ns/shop/sa/frontend"]', `ipBlocks: ["${CLIENT_IP}/32"]`);
    const t = new TwoNodes({ clientWithoutEnforcer: true, policy });
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    c.send(enc('legacy'));
    t.run();
    expect(t.server.accepted[0]!.received()).toEqual(enc('legacy'));
    expect(t.serverEvents.find((e) => e.kind === 'decision')).toMatchObject({ verdict: 'allow', peer: null });
    expect(LEGACY_IP).toBeTruthy();
  });
});

describe('two engines: direction checks (a frame that contradicts its flow\'s role)', () => {
  // Frames built by the client or server host for the tracked flow, handed to the client engine
  // (local client) the wrong way: [name, built by, TCP flags, direction at the client engine].
  const cases: ReadonlyArray<readonly [string, 'client' | 'server', number, Direction]> = [
    ['a SYN-ACK from the initiator (outbound)', 'client', TCP_SYN | TCP_ACK, Direction.OUTBOUND],
    ['a SYN-ACK from the initiator (inbound)', 'client', TCP_SYN | TCP_ACK, Direction.INBOUND],
    ['the server\'s SYN-ACK travelling outbound', 'server', TCP_SYN | TCP_ACK, Direction.OUTBOUND],
    ['the server\'s ACK travelling outbound', 'server', TCP_ACK, Direction.OUTBOUND],
    ['the client\'s ACK travelling inbound', 'client', TCP_ACK, Direction.INBOUND],
  ];
  for (const [name, from, flags, dir] of cases) {
    it(`${name}: dropped, counted in wrong_direction, the flow untouched`, () => {
      const t = new TwoNodes();
      const c = t.client.connect(SERVER_IP, PORT);
      t.run();
      const ce = t.clientEngine;
      const slot = ce.ct.lookup(ipToU32(CLIENT_IP), ipToU32(SERVER_IP), c.localPort, PORT, t.clock.now());
      const state = ce.ct.state(slot);
      const f = from === 'client'
        ? t.client.buildFrame(ipToU32(SERVER_IP), c.localPort, PORT, c.sndNxt, c.rcvNxt, flags, 502, new Uint8Array(0))
        : t.server.buildFrame(ipToU32(CLIENT_IP), PORT, c.localPort, c.rcvNxt, c.sndNxt, flags, 502, new Uint8Array(0));
      const buf = new Uint8Array(f.length + FRAME_HEADROOM);
      buf.set(f);
      const r = ce.process(buf, 0, f.length, dir, t.clock.now());
      expect(r.verdict).toBe(Verdict.DROP);
      expect(r.reason).toBe(Reason.MALFORMED);
      expect(ce.counters[Counter.WRONG_DIRECTION]).toBe(1);
      expect(ce.ct.state(slot)).toBe(state);
    });
  }

  it('a SYN-ACK or segment of no tracked flow is dropped as unknown', () => {
    const t = new TwoNodes();
    for (const flags of [TCP_SYN | TCP_ACK, TCP_ACK]) {
      const f = t.server.buildFrame(ipToU32(CLIENT_IP), PORT, 40001, 1, 1, flags, 502, new Uint8Array(0));
      const buf = new Uint8Array(f.length + FRAME_HEADROOM);
      buf.set(f);
      expect(t.clientEngine.process(buf, 0, f.length, Direction.INBOUND, t.clock.now()).verdict).toBe(Verdict.DROP);
    }
    expect(t.clientEngine.counters[Counter.UNKNOWN_FLOW_DROPPED]).toBe(2);
    expect(t.clientEngine.counters[Counter.WRONG_DIRECTION]).toBe(0);
  });
});
