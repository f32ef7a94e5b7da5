// Named table of malformed and non-TCP frames: parseFrame returns the status naming the defect
// (never throws) and classifies what it recognised; findMarker rejects malformed markers; a view
// reused across frames never keeps fields of an earlier frame.
import { describe, expect, it } from 'vitest';
import { LinkType } from '../../enforcer/engine/types.js';
import {
  findMarker,
  Marker,
  PacketKind,
  PacketView,
  parseFrame,
  parseIpv4,
  ParseStatus,
  parseStatusLabel,
  TCP_FLAG_ACK,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  writeTcpFrame,
  type TcpFrameSpec,
} from '../../enforcer/packet/index.js';

const E = LinkType.ETHERNET;
const L3 = 14;
const L4 = 34;

function spec(over: Partial<TcpFrameSpec> = {}): TcpFrameSpec {
  return {
    srcIp: parseIpv4('198.18.0.1'),
    dstIp: parseIpv4('198.18.0.2'),
    srcPort: 1234,
    dstPort: 80,
    seq: 1,
    ack: 0,
    flags: TCP_FLAG_SYN,
    options: Uint8Array.of(2, 4, 5, 0xb4),
    ...over,
  };
}

function frame(over: Partial<TcpFrameSpec> = {}, lt: LinkType = E): Uint8Array {
  const b = new Uint8Array(2048);
  const n = writeTcpFrame(b, 0, spec(over), lt);
  return b.slice(0, n);
}

function withBytes(f: Uint8Array, at: number, ...bytes: number[]): Uint8Array {
  const c = f.slice();
  c.set(bytes, at);
  return c;
}

/** Sets IPv4 total length (no checksum fix: the parser does not verify checksums). */
function withTotal(f: Uint8Array, tot: number, l3 = L3): Uint8Array {
  return withBytes(f, l3 + 2, tot >>> 8, tot & 0xff);
}

/** A syngate marker option: kind 253, length, ExID 0x5347, type, version, two type-specific bytes. */
const MARKER = (len: number, type = 1, ver = 1, a = 0, b = 0): number[] => [253, len, 0x53, 0x47, type, ver, a, b];

interface Case {
  name: string;
  bytes: Uint8Array;
  len?: number;
  off?: number;
  lt?: number;
  status: ParseStatus;
  kind?: PacketKind;
}

const syn = frame();
const udp = (() => {
  const f = frame({ payload: new Uint8Array(4) });
  f[L3 + 9] = 17;
  return f;
})();

const CASES: Case[] = [
  { name: 'a valid SYN', bytes: syn, status: ParseStatus.OK, kind: PacketKind.TCP },
  { name: 'a valid SYN on a raw IPv4 link', bytes: frame({}, LinkType.RAW_IPV4), lt: LinkType.RAW_IPV4, status: ParseStatus.OK, kind: PacketKind.TCP },
  { name: 'off/len past the buffer', bytes: syn, off: 10, len: syn.length, status: ParseStatus.BAD_BOUNDS },
  { name: 'negative offset', bytes: syn, off: -1, status: ParseStatus.BAD_BOUNDS },
  { name: 'fractional length', bytes: syn, len: 10.5, status: ParseStatus.BAD_BOUNDS },
  { name: 'unknown link type', bytes: syn, lt: 7, status: ParseStatus.BAD_LINK_TYPE },
  { name: 'shorter than an Ethernet header', bytes: syn, len: 13, status: ParseStatus.TRUNCATED_L2 },
  { name: 'VLAN tag cut short', bytes: withBytes(syn, 12, 0x81, 0x00), len: 16, status: ParseStatus.TRUNCATED_L2 },
  { name: 'IPv6 EtherType is classified, not parsed', bytes: withBytes(syn, 12, 0x86, 0xdd), status: ParseStatus.OK, kind: PacketKind.IPV6 },
  { name: 'ARP is classified', bytes: withBytes(syn, 12, 0x08, 0x06), status: ParseStatus.OK, kind: PacketKind.ARP },
  { name: 'another EtherType', bytes: withBytes(syn, 12, 0x88, 0xcc), status: ParseStatus.OK, kind: PacketKind.OTHER_L2 },
  { name: 'raw link carrying IPv6', bytes: withBytes(frame({}, LinkType.RAW_IPV4), 0, 0x60), lt: LinkType.RAW_IPV4, status: ParseStatus.OK, kind: PacketKind.IPV6 },
  { name: 'IPv4 header truncated', bytes: syn, len: L3 + 19, status: ParseStatus.TRUNCATED_IP },
  { name: 'empty raw frame', bytes: syn, len: 0, lt: LinkType.RAW_IPV4, status: ParseStatus.TRUNCATED_IP },
  { name: 'version 6 under EtherType IPv4', bytes: withBytes(syn, L3, 0x65), status: ParseStatus.BAD_IP_VERSION },
  { name: 'IHL < 5', bytes: withBytes(syn, L3, 0x44), status: ParseStatus.BAD_IHL },
  { name: 'IHL past the frame', bytes: withBytes(syn, L3, 0x4f), len: L3 + 40, status: ParseStatus.TRUNCATED_IP },
  { name: 'total length longer than the frame', bytes: withTotal(syn, syn.length - L3 + 1), status: ParseStatus.BAD_TOTAL_LENGTH },
  { name: 'total length shorter than IHL', bytes: withTotal(syn, 19), status: ParseStatus.BAD_TOTAL_LENGTH },
  { name: 'raw link: bytes after the IP packet', bytes: Uint8Array.from([...frame({}, LinkType.RAW_IPV4), 0]), lt: LinkType.RAW_IPV4, status: ParseStatus.BAD_TOTAL_LENGTH },
  { name: 'Ethernet trailer (padding) after the IP packet', bytes: Uint8Array.from([...syn, 0, 0, 0, 0]), status: ParseStatus.OK, kind: PacketKind.TCP },
  { name: 'more-fragments flag', bytes: withBytes(syn, L3 + 6, 0x20, 0x00), status: ParseStatus.FRAGMENT, kind: PacketKind.TCP },
  { name: 'non-zero fragment offset', bytes: withBytes(syn, L3 + 6, 0x40, 0x10), status: ParseStatus.FRAGMENT, kind: PacketKind.TCP },
  { name: 'TCP header truncated', bytes: withTotal(syn, 20 + 19), len: L4 + 19, status: ParseStatus.TRUNCATED_TCP },
  { name: 'data offset < 5', bytes: withBytes(syn, L4 + 12, 0x40), status: ParseStatus.BAD_DATA_OFFSET },
  { name: 'data offset past the segment', bytes: withBytes(syn, L4 + 12, 0xf0), status: ParseStatus.BAD_DATA_OFFSET },
  { name: 'option length 0', bytes: frame({ options: Uint8Array.of(2, 0, 5, 0xb4) }), status: ParseStatus.BAD_OPTION_LENGTH },
  { name: 'option length 1', bytes: frame({ options: Uint8Array.of(3, 1, 1, 1) }), status: ParseStatus.BAD_OPTION_LENGTH },
  { name: 'option past the header', bytes: frame({ options: Uint8Array.of(1, 1, 8, 10) }), status: ParseStatus.BAD_OPTION_LENGTH },
  { name: 'option kind on the last byte without a length', bytes: frame({ options: Uint8Array.of(1, 1, 1, 2) }), status: ParseStatus.BAD_OPTION_LENGTH },
  { name: 'garbage after EOL is ignored', bytes: frame({ options: Uint8Array.of(0, 99, 0, 0) }), status: ParseStatus.OK, kind: PacketKind.TCP },
  { name: 'syngate marker with length 6', bytes: frame({ options: Uint8Array.of(253, 6, 0x53, 0x47, 1, 1, 1, 1) }), status: ParseStatus.BAD_MARKER },
  { name: 'two syngate markers', bytes: frame({ options: Uint8Array.from([...MARKER(8), ...MARKER(8)]) }), status: ParseStatus.BAD_MARKER },
  { name: 'kind 253 with another ExID is just an option', bytes: frame({ options: Uint8Array.of(253, 4, 0x12, 0x34) }), status: ParseStatus.OK, kind: PacketKind.TCP },
  { name: 'UDP', bytes: udp, status: ParseStatus.OK, kind: PacketKind.UDP },
  { name: 'UDP shorter than its header', bytes: withTotal(udp, 27), len: L3 + 27, status: ParseStatus.TRUNCATED_L4, kind: PacketKind.UDP },
  { name: 'ICMP shorter than its header', bytes: withBytes(withTotal(udp, 27), L3 + 9, 1), len: L3 + 27, status: ParseStatus.TRUNCATED_L4, kind: PacketKind.ICMP },
  { name: 'another IPv4 protocol', bytes: withBytes(syn, L3 + 9, 47), status: ParseStatus.OK, kind: PacketKind.IPV4_OTHER },
];

describe('parseFrame statuses', () => {
  for (const c of CASES) {
    it(`${c.name} -> ${parseStatusLabel(c.status)}`, () => {
      const v = new PacketView();
      const st = parseFrame(c.bytes, c.off ?? 0, c.len ?? c.bytes.length, (c.lt ?? E) as LinkType, v);
      expect(parseStatusLabel(st)).toBe(parseStatusLabel(c.status));
      expect(v.status).toBe(st);
      if (c.kind !== undefined) expect(v.kind).toBe(c.kind);
    });
  }

  it('skips an 802.1Q tag and reports its VLAN id', () => {
    const tagged = Uint8Array.from([...syn.subarray(0, 12), 0x81, 0x00, 0x20, 0x2a, ...syn.subarray(12)]);
    const v = new PacketView();
    expect(parseFrame(tagged, 0, tagged.length, E, v)).toBe(ParseStatus.OK);
    expect([v.vlanId, v.vlanTags, v.l3Off, v.srcPort, v.mss]).toEqual([42, 1, 18, 1234, 1460]);
  });

  it('a reused view keeps nothing from the previous frame', () => {
    const v = new PacketView();
    const marked = frame({ options: Uint8Array.from([2, 4, 5, 0xb4, ...MARKER(8, 1, 1, 0, 3)]), payload: Uint8Array.of(1, 2, 3) });
    for (const c of CASES) {
      parseFrame(marked, 0, marked.length, E, v);
      expect(findMarker(v)).toBe(Marker.TOKEN);
      parseFrame(c.bytes, c.off ?? 0, c.len ?? c.bytes.length, (c.lt ?? E) as LinkType, v);
      const fresh = new PacketView();
      parseFrame(c.bytes, c.off ?? 0, c.len ?? c.bytes.length, (c.lt ?? E) as LinkType, fresh);
      findMarker(fresh);
      findMarker(v);
      expect({ ...v }).toEqual({ ...fresh });
    }
  });
});

describe('findMarker', () => {
  const v = new PacketView();
  const cases: Array<[string, Partial<TcpFrameSpec>, Marker]> = [
    ['no marker', {}, Marker.NONE],
    ['token of 3 bytes', { options: Uint8Array.from(MARKER(8, 1, 1, 0, 3)), payload: Uint8Array.of(7, 8, 9) }, Marker.TOKEN],
    ['token length longer than the payload', { options: Uint8Array.from(MARKER(8, 1, 1, 0, 4)), payload: Uint8Array.of(7, 8, 9) }, Marker.MALFORMED],
    ['token length shorter than the payload (data hidden behind a token)', { options: Uint8Array.from(MARKER(8, 1, 1, 0, 2)), payload: Uint8Array.of(7, 8, 9) }, Marker.MALFORMED],
    ['token length 0', { options: Uint8Array.from(MARKER(8, 1, 1, 0, 0)) }, Marker.MALFORMED],
    ['unknown version', { options: Uint8Array.from(MARKER(8, 1, 2, 0, 3)), payload: Uint8Array.of(7, 8, 9) }, Marker.MALFORMED],
    ['unknown type', { options: Uint8Array.from(MARKER(8, 9, 1, 0, 0)) }, Marker.MALFORMED],
    ['reject on a SYN', { options: Uint8Array.from(MARKER(8, 2, 1, 11, 0)) }, Marker.MALFORMED],
    ['reject on an RST', { flags: TCP_FLAG_RST | TCP_FLAG_ACK, options: Uint8Array.from(MARKER(8, 2, 1, 11, 0)) }, Marker.REJECT],
  ];
  for (const [name, over, want] of cases) {
    it(name, () => {
      const f = frame(over);
      expect(parseFrame(f, 0, f.length, E, v)).toBe(ParseStatus.OK);
      expect(findMarker(v)).toBe(want);
      if (want === Marker.TOKEN) expect([v.tokenOff, v.tokenLen]).toEqual([v.payloadOff, 3]);
      else expect([v.tokenOff, v.tokenLen]).toEqual([-1, 0]);
    });
  }
});
