// Core behaviour of the packet engine on hand-built frames: parse, checksums, token carriage,
// RST builders, pool.
import { describe, expect, it } from 'vitest';
import { FRAME_HEADROOM, LinkType } from '../../enforcer/engine/types.js';
import { Reason } from '../../enforcer/reasons.js';
import {
  findMarker,
  FramePool,
  insertToken,
  ipv4ToString,
  Marker,
  PacketError,
  PacketKind,
  PacketView,
  parseFrame,
  parseIpv4,
  ParseStatus,
  readRejectReason,
  stripToken,
  TCP_FLAG_ACK,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  verifyIpv4Checksum,
  verifyTcpChecksum,
  writeBareAck,
  writeRejectRst,
  writeRstForward,
  writeRstReply,
  writeTcpFrame,
  type TcpFrameSpec,
} from '../../enforcer/packet/index.js';

const LINUX_SYN_OPTS = Uint8Array.from([2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);

function synSpec(over: Partial<TcpFrameSpec> = {}): TcpFrameSpec {
  return {
    srcIp: parseIpv4('198.18.0.1'),
    dstIp: parseIpv4('198.18.0.2'),
    srcPort: 40000,
    dstPort: 8080,
    seq: 0x11223344,
    ack: 0,
    flags: TCP_FLAG_SYN,
    window: 64240,
    options: LINUX_SYN_OPTS,
    ttl: 64,
    ipId: 0x1234,
    ...over,
  };
}

function frame(spec: TcpFrameSpec, lt: LinkType = LinkType.ETHERNET): { buf: Uint8Array; len: number } {
  const buf = new Uint8Array(1600 + FRAME_HEADROOM);
  const len = writeTcpFrame(buf, 0, spec, lt);
  expect(len).toBeGreaterThan(0);
  return { buf, len };
}

describe('parseFrame on built frames', () => {
  for (const lt of [LinkType.ETHERNET, LinkType.RAW_IPV4]) {
    it(`reads every field of a SYN (link ${lt})`, () => {
      const { buf, len } = frame(synSpec(), lt);
      const v = new PacketView();
      expect(parseFrame(buf, 0, len, lt, v)).toBe(ParseStatus.OK);
      expect(v.kind).toBe(PacketKind.TCP);
      expect(ipv4ToString(v.srcIp)).toBe('198.18.0.1');
      expect(ipv4ToString(v.dstIp)).toBe('198.18.0.2');
      expect([v.srcPort, v.dstPort, v.seq, v.ack, v.flags, v.window, v.ttl, v.ipId]).toEqual([
        40000, 8080, 0x11223344, 0, TCP_FLAG_SYN, 64240, 64, 0x1234,
      ]);
      expect([v.ipHeaderLen, v.tcpHeaderLen, v.payloadLen, v.mss, v.wscale, v.tsVal, v.tsEcr]).toEqual([20, 40, 0, 1460, 7, 1, 0]);
      expect(v.sackPermitted).toBe(true);
      expect(verifyIpv4Checksum(v)).toBe(true);
      expect(verifyTcpChecksum(v)).toBe(true);
    });
  }
});

describe('token carriage', () => {
  it('insert then strip restores the SYN byte for byte, checksums valid in between', () => {
    const { buf, len } = frame(synSpec());
    const orig = buf.slice(0, len);
    const v = new PacketView();
    parseFrame(buf, 0, len, LinkType.ETHERNET, v);
    const token = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const n = insertToken(buf, v, token, 0, token.length, 1500);
    expect(n).toBe(len + 8 + 300);
    expect(v.status).toBe(ParseStatus.OK);
    expect(v.tcpHeaderLen).toBe(48);
    expect(v.payloadLen).toBe(300);
    expect(verifyIpv4Checksum(v)).toBe(true);
    expect(verifyTcpChecksum(v)).toBe(true);
    expect(findMarker(v)).toBe(Marker.TOKEN);
    expect(buf.subarray(v.tokenOff, v.tokenOff + v.tokenLen)).toEqual(token);
    expect(v.mss).toBe(1460);
    const m = stripToken(buf, v);
    expect(m).toBe(len);
    expect(buf.slice(0, len)).toEqual(orig);
  });

  it('works on an 802.1Q-tagged frame and keeps the token bytes in place past the stripped frame', () => {
    const { buf: plain, len: plen } = frame(synSpec());
    const buf = new Uint8Array(plen + 4 + FRAME_HEADROOM);
    buf.set(plain.subarray(0, 12));
    buf.set([0x81, 0x00, 0x00, 0x07], 12);
    buf.set(plain.subarray(12, plen), 16);
    const len = plen + 4;
    const orig = buf.slice(0, len);
    const v = new PacketView();
    expect(parseFrame(buf, 0, len, LinkType.ETHERNET, v)).toBe(ParseStatus.OK);
    expect(v.vlanId).toBe(7);
    const token = Uint8Array.from({ length: 40 }, (_, i) => 200 - i);
    expect(insertToken(buf, v, token, 0, token.length, 1500)).toBe(len + 48);
    expect(verifyIpv4Checksum(v) && verifyTcpChecksum(v)).toBe(true);
    expect(findMarker(v)).toBe(Marker.TOKEN);
    const { tokenOff, tokenLen } = v;
    expect(stripToken(buf, v)).toBe(len);
    expect(buf.slice(0, len)).toEqual(orig);
    // Documented: stripping does not touch the token bytes, so offsets saved from findMarker stay
    // valid (past the new frame end) until the buffer is reused.
    expect(tokenOff).toBeGreaterThanOrEqual(len);
    expect(buf.slice(tokenOff, tokenOff + tokenLen)).toEqual(token);
  });

  it('refuses payload, full options, MTU, marked packets and RSTs', () => {
    const v = new PacketView();
    const tok = new Uint8Array(100);
    let f = frame(synSpec({ flags: TCP_FLAG_ACK | TCP_FLAG_PSH, payload: Uint8Array.of(1, 2, 3) }));
    parseFrame(f.buf, 0, f.len, LinkType.ETHERNET, v);
    expect(insertToken(f.buf, v, tok, 0, 100, 1500)).toBe(PacketError.HAS_PAYLOAD);
    f = frame(synSpec({ options: new Uint8Array(36).fill(1) }));
    parseFrame(f.buf, 0, f.len, LinkType.ETHERNET, v);
    expect(insertToken(f.buf, v, tok, 0, 100, 1500)).toBe(PacketError.OPTIONS_FULL);
    f = frame(synSpec());
    parseFrame(f.buf, 0, f.len, LinkType.ETHERNET, v);
    expect(insertToken(f.buf, v, tok, 0, 100, 100)).toBe(PacketError.EXCEEDS_MTU);
    expect(insertToken(f.buf, v, tok, 0, 100, 1500)).toBeGreaterThan(0);
    expect(insertToken(f.buf, v, tok, 0, 100, 1500)).toBe(PacketError.HAS_PAYLOAD);
    f = frame(synSpec({ flags: TCP_FLAG_RST }));
    parseFrame(f.buf, 0, f.len, LinkType.ETHERNET, v);
    expect(insertToken(f.buf, v, tok, 0, 100, 1500)).toBe(PacketError.NOT_HANDSHAKE);
    expect(stripToken(f.buf, v)).toBe(PacketError.NO_MARKER);
  });
});

describe('RST and ACK builders', () => {
  it('reject RST answers a SYN with ack = ISN+1 and carries the reason', () => {
    const { buf, len } = frame(synSpec());
    const v = new PacketView();
    parseFrame(buf, 0, len, LinkType.ETHERNET, v);
    const out = new Uint8Array(128);
    const n = writeRejectRst(out, 0, v, Reason.POLICY);
    const r = new PacketView();
    expect(parseFrame(out, 0, n, LinkType.ETHERNET, r)).toBe(ParseStatus.OK);
    expect(r.flags).toBe(TCP_FLAG_RST | TCP_FLAG_ACK);
    expect([r.srcPort, r.dstPort, r.seq, r.ack]).toEqual([8080, 40000, 0, 0x11223345]);
    expect(ipv4ToString(r.srcIp)).toBe('198.18.0.2');
    expect(verifyIpv4Checksum(r) && verifyTcpChecksum(r)).toBe(true);
    expect(readRejectReason(r)).toBe(Reason.POLICY);
    const n2 = writeRstReply(out, 0, v);
    parseFrame(out, 0, n2, LinkType.ETHERNET, r);
    expect(readRejectReason(r)).toBe(-1);
    expect(r.ack).toBe(0x11223345);
  });

  it('RST to an ACK uses SEG.ACK; forward RST keeps direction', () => {
    const { buf, len } = frame(synSpec({ flags: TCP_FLAG_ACK, seq: 1000, ack: 5000 }));
    const v = new PacketView();
    parseFrame(buf, 0, len, LinkType.ETHERNET, v);
    const out = new Uint8Array(128);
    const r = new PacketView();
    parseFrame(out, 0, writeRejectRst(out, 0, v, Reason.BAD_MAC), LinkType.ETHERNET, r);
    expect([r.flags, r.seq, r.ack, r.srcPort]).toEqual([TCP_FLAG_RST, 5000, 0, 8080]);
    parseFrame(out, 0, writeRstForward(out, 0, v), LinkType.ETHERNET, r);
    expect([r.flags, r.seq, r.ack, r.srcPort]).toEqual([TCP_FLAG_RST | TCP_FLAG_ACK, 1000, 5000, 40000]);
    expect(verifyTcpChecksum(r)).toBe(true);
  });

  it('bare ACK drops the payload and keeps seq/ack/options', () => {
    const { buf, len } = frame(synSpec({ flags: TCP_FLAG_ACK | TCP_FLAG_PSH, seq: 7, ack: 9, payload: new Uint8Array(50).fill(7) }));
    const v = new PacketView();
    parseFrame(buf, 0, len, LinkType.ETHERNET, v);
    const out = new Uint8Array(2048);
    const n = writeBareAck(out, 0, v);
    const r = new PacketView();
    expect(parseFrame(out, 0, n, LinkType.ETHERNET, r)).toBe(ParseStatus.OK);
    expect([r.flags, r.seq, r.ack, r.payloadLen, r.mss]).toEqual([TCP_FLAG_ACK, 7, 9, 0, 1460]);
    expect(verifyIpv4Checksum(r) && verifyTcpChecksum(r)).toBe(true);
  });
});

describe('FramePool', () => {
  it('hands out each buffer once and refuses double release', () => {
    const p = new FramePool({ frameSize: 128, capacity: 3 });
    expect(p.capacity).toBe(4);
    const slots = [p.acquire(), p.acquire(), p.acquire(), p.acquire()];
    expect(new Set(slots).size).toBe(4);
    expect(p.acquire()).toBe(-1);
    expect(p.release(slots[0]!)).toBe(true);
    expect(p.release(slots[0]!)).toBe(false);
    expect(p.frame(slots[1]!).length).toBe(128);
    expect(p.acquire()).toBe(slots[0]);
  });
});
