import { describe, expect, it } from 'vitest';
import { Direction, Verdict } from '../../enforcer/engine/types.js';
import {
  PASS_THROUGH,
  Prng,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  TcpHost,
  Wire,
  parseFrame,
  type SimEnforcer,
} from '../../enforcer/sim/index.js';

function pair(seed = 1, enforcerA: SimEnforcer | null = PASS_THROUGH, enforcerB: SimEnforcer | null = PASS_THROUGH) {
  const wire = new Wire({ capture: true });
  const prng = new Prng(seed);
  const clock = () => wire.clock.now();
  const a = new TcpHost({ name: 'a', ip: '198.18.0.1', prng: prng.fork('a'), clock });
  const b = new TcpHost({ name: 'b', ip: '198.18.0.2', prng: prng.fork('b'), clock });
  wire.attach(a, enforcerA);
  wire.attach(b, enforcerB);
  return { wire, a, b };
}

describe('TCP endpoint model over the wire', () => {
  it('handshake, data both ways and close, with valid checksums on every frame', () => {
    const { wire, a, b } = pair();
    b.listen(9080);
    const c = a.connect(b.ip, 9080);
    wire.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(b.accepted).toHaveLength(1);
    const s = b.accepted[0]!;
    expect(s.state).toBe('ESTABLISHED');
    const hello = new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n');
    c.send(hello);
    const big = new Uint8Array(5000).map((_, i) => i & 0xff);
    s.send(big);
    wire.run();
    expect(s.received()).toEqual(hello);
    expect(c.received()).toEqual(big);
    c.close();
    wire.run();
    s.close();
    wire.run();
    expect(c.state).toBe('TIME_WAIT');
    expect(s.state).toBe('CLOSED');
    for (const f of wire.captured) {
      const p = parseFrame(f, 0, f.length);
      expect(p).not.toBeNull();
      expect(p!.ipChecksumOk && p!.tcpChecksumOk).toBe(true);
    }
    expect(a.badChecksum + b.badChecksum).toBe(0);
  });

  it('sends a Linux-like SYN: MSS, SACK-permitted, timestamps, window scale', () => {
    const { wire, a, b } = pair();
    b.listen(80);
    a.connect(b.ip, 80);
    wire.run();
    const syn = parseFrame(wire.captured[0]!, 0, wire.captured[0]!.length)!;
    expect(syn.flags).toBe(TCP_SYN);
    expect(syn.mss).toBe(1460);
    expect(syn.sackPermitted).toBe(true);
    expect(syn.tsVal).not.toBeNull();
    expect(syn.wscale).toBe(7);
    expect(syn.payloadLen).toBe(0);
    const synack = parseFrame(wire.captured[1]!, 0, wire.captured[1]!.length)!;
    expect(synack.flags).toBe(TCP_SYN | TCP_ACK);
    expect(synack.ack).toBe((syn.seq + 1) >>> 0);
    expect(synack.tsEcr).toBe(syn.tsVal);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const isns = (seed: number) => {
      const { wire, a, b } = pair(seed);
      b.listen(80);
      a.connect(b.ip, 80);
      wire.run();
      return wire.captured.map((f) => Buffer.from(f).toString('hex'));
    };
    expect(isns(7)).toEqual(isns(7));
    expect(isns(7)).not.toEqual(isns(8));
  });

  it('answers a SYN to a closed port with RST and the client sees the reset', () => {
    const { wire, a, b } = pair();
    const c = a.connect(b.ip, 81);
    wire.run();
    expect(c.reset).toBe(true);
    expect(b.rstsSent).toBe(1);
  });

  it('retransmits the SYN and SYN-ACK on demand with identical bytes; one connection results', () => {
    const { wire, a, b } = pair();
    b.listen(80);
    let dropSynAck = true;
    wire.addHook((ev) => {
      const p = parseFrame(ev.frame, 0, ev.frame.length)!;
      if (ev.hop === 'network' && p.flags === (TCP_SYN | TCP_ACK) && dropSynAck) {
        dropSynAck = false;
        return 'drop';
      }
      return 'pass';
    });
    const c = a.connect(b.ip, 80);
    wire.run();
    expect(c.state).toBe('SYN_SENT');
    expect(c.retransmitSyn()).toBe(true);
    wire.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(b.accepted).toHaveLength(1);
    expect(Buffer.from(wire.captured[0]!).equals(Buffer.from(wire.captured[1]!))).toBe(true);
    // server retransmission: drop the final ACK once, then retransmit the SYN-ACK
    const { wire: w2, a: a2, b: b2 } = pair(3);
    b2.listen(80);
    let dropAck = true;
    w2.addHook((ev) => {
      const p = parseFrame(ev.frame, 0, ev.frame.length)!;
      if (ev.hop === 'network' && p.flags === TCP_ACK && dropAck) {
        dropAck = false;
        return 'drop';
      }
      return 'pass';
    });
    const c2 = a2.connect(b2.ip, 80);
    w2.run();
    expect(c2.state).toBe('ESTABLISHED');
    expect(b2.accepted).toHaveLength(0);
    const srv = b2.connections()[0]!;
    expect(srv.state).toBe('SYN_RCVD');
    expect(srv.retransmitSynAck()).toBe(true);
    w2.run();
    expect(b2.accepted).toHaveLength(1);
  });

  it('carries data on the final ACK when asked', () => {
    const { wire, a, b } = pair();
    b.listen(80);
    const data = new TextEncoder().encode('early');
    a.connect(b.ip, 80, { dataOnAck: data });
    wire.run();
    expect(b.accepted[0]!.received()).toEqual(data);
  });

  it('drops frames with a bad checksum before the stack sees them', () => {
    const { wire, a, b } = pair();
    b.listen(80);
    wire.addHook((ev) => {
      if (ev.hop !== 'network') return 'pass';
      const f = ev.frame.slice();
      f[f.length - 1] = f[f.length - 1]! ^ 0xff; // corrupt a TCP option byte
      return { replace: f };
    });
    a.connect(b.ip, 80);
    wire.run();
    expect(b.badChecksum).toBe(1);
    expect(b.rx).toHaveLength(0);
  });

  it('handles RST mid-connection and records an enforcer-style RST payload', () => {
    const { wire, a, b } = pair();
    b.listen(80);
    const c = a.connect(b.ip, 80);
    wire.run();
    const s = b.accepted[0]!;
    s.abort();
    wire.run();
    expect(c.reset).toBe(true);
    expect(c.state).toBe('CLOSED');
  });

  it('runs frames through the enforcers in the right directions and honours DROP', () => {
    const seen: string[] = [];
    const mk = (name: string, drop: boolean): SimEnforcer => ({
      name,
      process: (f, off, len, dir) => {
        const p = parseFrame(f, off, len)!;
        seen.push(`${name}:${dir === Direction.OUTBOUND ? 'out' : 'in'}:${p.flags}`);
        return { verdict: drop && dir === Direction.INBOUND ? Verdict.DROP : Verdict.FORWARD, length: len, outbox: [] };
      },
    });
    const { wire, a, b } = pair(1, mk('x', false), mk('y', true));
    b.listen(80);
    const c = a.connect(b.ip, 80);
    wire.run();
    expect(seen).toEqual([`x:out:${TCP_SYN}`, `y:in:${TCP_SYN}`]);
    expect(c.state).toBe('SYN_SENT');
    expect(b.rx).toHaveLength(0);
    void TCP_FIN;
    void TCP_RST;
  });
});
