// Property tests of the packet engine's rewriting: insert-then-strip is the identity on bytes,
// incremental (RFC 1624) and full checksums agree, and inserted tokens verify.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAME_HEADROOM } from '../../enforcer/engine/types.js';
import {
  csumUpdate16,
  csumUpdate32,
  findMarker,
  insertToken,
  IPV4_OFF_CSUM,
  ipv4HeaderChecksum,
  Marker,
  PacketView,
  parseFrame,
  ParseStatus,
  readRejectReason,
  stripReject,
  stripToken,
  TCP_FLAG_ACK,
  TCP_FLAG_RST,
  TCP_OFF_CSUM,
  tcpChecksum,
  u16,
  verifyIpv4Checksum,
  verifyTcpChecksum,
  w16,
  writeTcpFrame,
} from '../../enforcer/packet/index.js';
import { fuzzParams } from '../fuzz/params.js';
import { anyTcpFrameArb, handshakeFrameArb, tcpOptionsArb, type FrameCase } from './arbitraries.js';

function build(c: FrameCase): { buf: Uint8Array; len: number } {
  const buf = new Uint8Array(c.at + 200 + FRAME_HEADROOM);
  const len = writeTcpFrame(buf, c.at, c.spec, c.linkType);
  if (len < 0) throw new Error(`builder refused: ${len}`);
  return { buf, len };
}

/** Every field parseFrame sets, for comparing an in-place-updated view with a fresh parse. */
function snapshot(v: PacketView): Record<string, number> {
  const { off, len, status, kind, l3Off, ipHeaderLen, ipTotalLen, l4Off, l4Len, tcpHeaderLen, payloadOff, payloadLen, optEnd, mssOff, wscaleOff, sackPermOff, tsOff, markerOff } = v;
  return { off, len, status, kind, l3Off, ipHeaderLen, ipTotalLen, l4Off, l4Len, tcpHeaderLen, payloadOff, payloadLen, optEnd, mssOff, wscaleOff, sackPermOff, tsOff, markerOff };
}

function expectFresh(v: PacketView): void {
  const fresh = new PacketView();
  parseFrame(v.buf, v.off, v.len, v.linkType, fresh);
  expect(snapshot(v)).toEqual(snapshot(fresh));
}

const tokenArb = fc.uint8Array({ minLength: 1, maxLength: FRAME_HEADROOM - 8 });

describe('insertToken / stripToken properties', () => {
  it('insert then strip restores the frame byte for byte; in between both checksums verify', () => {
    fc.assert(
      fc.property(handshakeFrameArb, tokenArb, (c, token) => {
        const { buf, len } = build(c);
        const orig = buf.slice();
        const v = new PacketView();
        expect(parseFrame(buf, c.at, len, c.linkType, v)).toBe(ParseStatus.OK);
        const n = insertToken(buf, v, token, 0, token.length, 65535);
        expect(n).toBe(len + 8 + token.length);
        expectFresh(v);
        expect(verifyIpv4Checksum(v)).toBe(true);
        expect(verifyTcpChecksum(v)).toBe(true);
        expect(v.tcpChecksum).toBe(tcpChecksum(buf, v.l3Off, v.l4Off, v.l4Len));
        expect(v.ipChecksum).toBe(ipv4HeaderChecksum(buf, v.l3Off, v.ipHeaderLen));
        expect(findMarker(v)).toBe(Marker.TOKEN);
        expect(buf.subarray(v.tokenOff, v.tokenOff + v.tokenLen)).toEqual(token);
        expect(stripToken(buf, v)).toBe(len);
        expectFresh(v);
        expect(v.markerOff).toBe(-1);
        expect(v.payloadLen).toBe(0);
        expect(buf.subarray(c.at, c.at + len)).toEqual(orig.subarray(c.at, c.at + len));
      }),
      fuzzParams(),
    );
  });

  it('preserves wrong checksums exactly (an update never launders a corrupted packet)', () => {
    fc.assert(
      fc.property(handshakeFrameArb, tokenArb, fc.integer({ min: 0, max: 0xfffe }), fc.integer({ min: 0, max: 0xfffe }), (c, token, ic, tc) => {
        const { buf, len } = build(c);
        const v = new PacketView();
        parseFrame(buf, c.at, len, c.linkType, v);
        w16(buf, v.l3Off + IPV4_OFF_CSUM, ic);
        w16(buf, v.l4Off + TCP_OFF_CSUM, tc);
        const orig = buf.slice(c.at, c.at + len);
        const ipOk = verifyIpv4Checksum(v);
        const tcpOk = verifyTcpChecksum(v);
        expect(insertToken(buf, v, token, 0, token.length, 65535)).toBeGreaterThan(0);
        expect(verifyIpv4Checksum(v)).toBe(ipOk);
        expect(verifyTcpChecksum(v)).toBe(tcpOk);
        expect(stripToken(buf, v)).toBe(len);
        expect(buf.subarray(c.at, c.at + len)).toEqual(orig);
      }),
      fuzzParams(),
    );
  });

  it('token sub-range: only token[off..off+len) is carried', () => {
    fc.assert(
      fc.property(handshakeFrameArb, fc.uint8Array({ minLength: 2, maxLength: 400 }), fc.nat(), fc.nat(), (c, tok, a, b) => {
        const off = a % tok.length;
        const tl = 1 + (b % (tok.length - off));
        const { buf, len } = build(c);
        const v = new PacketView();
        parseFrame(buf, c.at, len, c.linkType, v);
        expect(insertToken(buf, v, tok, off, tl, 65535)).toBe(len + 8 + tl);
        findMarker(v);
        expect(buf.subarray(v.tokenOff, v.tokenOff + v.tokenLen)).toEqual(tok.subarray(off, off + tl));
      }),
      fuzzParams(0.5),
    );
  });
});

describe('stripReject properties', () => {
  /** Options that do not end the list (no trailing EOL), so an option after them is parsed. */
  const openOptionsArb = tcpOptionsArb(16).filter((o) => o.length === 0 || o[o.length - 1] !== 0);

  it('a reject RST with the marker anywhere among options, IP options and payload becomes exactly the same RST built without it', () => {
    fc.assert(
      fc.property(handshakeFrameArb, openOptionsArb, tcpOptionsArb(16), fc.boolean(), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), (c, before, after, ack, reason, payload) => {
        const marker = Uint8Array.of(253, 8, 0x53, 0x47, 2, 1, reason, 0);
        const flags = TCP_FLAG_RST | (ack ? TCP_FLAG_ACK : 0);
        const marked = build({ ...c, spec: { ...c.spec, flags, payload, options: Uint8Array.from([...before, ...marker, ...after]) } });
        const plain = build({ ...c, spec: { ...c.spec, flags, payload, options: Uint8Array.from([...before, ...after]) } });
        const v = new PacketView();
        expect(parseFrame(marked.buf, c.at, marked.len, c.linkType, v)).toBe(ParseStatus.OK);
        expect(findMarker(v)).toBe(Marker.REJECT);
        expect(readRejectReason(v)).toBe(reason);
        expect(stripReject(marked.buf, v)).toBe(plain.len);
        expectFresh(v);
        expect(v.markerOff).toBe(-1);
        expect(v.payloadLen).toBe(payload.length);
        expect(verifyIpv4Checksum(v)).toBe(true);
        expect(verifyTcpChecksum(v)).toBe(true);
        expect(marked.buf.subarray(c.at, c.at + plain.len)).toEqual(plain.buf.subarray(c.at, c.at + plain.len));
      }),
      fuzzParams(),
    );
  });

  it('refuses a TOKEN marker and a frame without a marker, leaving the bytes untouched', () => {
    fc.assert(
      fc.property(handshakeFrameArb, tokenArb, (c, token) => {
        const { buf, len } = build(c);
        const v = new PacketView();
        parseFrame(buf, c.at, len, c.linkType, v);
        const orig = buf.slice();
        expect(stripReject(buf, v)).toBeLessThan(0);
        expect(insertToken(buf, v, token, 0, token.length, 65535)).toBeGreaterThan(0);
        const withToken = buf.slice();
        expect(stripReject(buf, v)).toBeLessThan(0);
        expect(buf).toEqual(withToken);
        expect(stripToken(buf, v)).toBe(len);
        expect(buf.subarray(c.at, c.at + len)).toEqual(orig.subarray(c.at, c.at + len));
      }),
      fuzzParams(0.5),
    );
  });
});

type FieldChange = { field: 'ipId' | 'ttl' | 'tos' | 'srcIp' | 'dstIp' | 'srcPort' | 'dstPort' | 'window' | 'seq' | 'ack' | 'urg'; value: number };

const changeArb: fc.Arbitrary<FieldChange> = fc.oneof(
  fc.record({ field: fc.constantFrom('ipId' as const, 'srcPort' as const, 'dstPort' as const, 'window' as const, 'urg' as const), value: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ field: fc.constantFrom('ttl' as const, 'tos' as const), value: fc.integer({ min: 0, max: 0xff }) }),
  fc.record({ field: fc.constantFrom('srcIp' as const, 'dstIp' as const, 'seq' as const, 'ack' as const), value: fc.integer({ min: 0, max: 0xffffffff }) }),
);

describe('incremental checksum (RFC 1624) agrees with the full checksum', () => {
  it('for random packets and random 8/16/32-bit field changes', () => {
    fc.assert(
      fc.property(anyTcpFrameArb, fc.array(changeArb, { minLength: 1, maxLength: 4 }), (c, changes) => {
        const { buf, len } = build(c);
        const v = new PacketView();
        expect(parseFrame(buf, c.at, len, c.linkType, v)).toBe(ParseStatus.OK);
        for (const ch of changes) {
          let ipc = v.ipChecksum;
          let tc = v.tcpChecksum;
          const l3 = v.l3Off;
          const l4 = v.l4Off;
          switch (ch.field) {
            case 'ipId':
              ipc = csumUpdate16(ipc, v.ipId, ch.value);
              v.ipId = ch.value;
              break;
            case 'ttl': {
              const old = u16(buf, l3 + 8);
              v.ttl = ch.value;
              ipc = csumUpdate16(ipc, old, u16(buf, l3 + 8));
              break;
            }
            case 'tos': {
              const old = u16(buf, l3);
              buf[l3 + 1] = ch.value;
              ipc = csumUpdate16(ipc, old, u16(buf, l3));
              break;
            }
            case 'srcIp':
              ipc = csumUpdate32(ipc, v.srcIp, ch.value);
              tc = csumUpdate32(tc, v.srcIp, ch.value);
              v.srcIp = ch.value;
              break;
            case 'dstIp':
              ipc = csumUpdate32(ipc, v.dstIp, ch.value);
              tc = csumUpdate32(tc, v.dstIp, ch.value);
              v.dstIp = ch.value;
              break;
            case 'srcPort':
              tc = csumUpdate16(tc, v.srcPort, ch.value);
              v.srcPort = ch.value;
              break;
            case 'dstPort':
              tc = csumUpdate16(tc, v.dstPort, ch.value);
              v.dstPort = ch.value;
              break;
            case 'window':
              tc = csumUpdate16(tc, v.window, ch.value);
              v.window = ch.value;
              break;
            case 'urg': {
              const old = u16(buf, l4 + 18);
              w16(buf, l4 + 18, ch.value);
              tc = csumUpdate16(tc, old, ch.value);
              break;
            }
            case 'seq':
              tc = csumUpdate32(tc, v.seq, ch.value);
              v.seq = ch.value;
              break;
            case 'ack':
              tc = csumUpdate32(tc, v.ack, ch.value);
              v.ack = ch.value;
              break;
          }
          v.ipChecksum = ipc;
          v.tcpChecksum = tc;
          expect(ipc).toBe(ipv4HeaderChecksum(buf, l3, v.ipHeaderLen));
          expect(tc).toBe(tcpChecksum(buf, l3, l4, v.l4Len));
          expect(verifyIpv4Checksum(v) && verifyTcpChecksum(v)).toBe(true);
        }
      }),
      fuzzParams(),
    );
  });
});
