// pcap files (both byte orders, nanosecond resolution, defects named by file and record), the
// SyngateError wrappers, builder refusals and pool configuration errors.
import { describe, expect, it } from 'vitest';
import { isSyngateError } from '../../enforcer/errors.js';
import { LinkType } from '../../enforcer/engine/types.js';
import {
  FramePool,
  insertTokenOrThrow,
  linkTypeOfPcap,
  PacketError,
  packetErrorCode,
  packetErrorLabel,
  PacketView,
  parseFrameOrThrow,
  parseIpv4,
  parseMac,
  macToString,
  PCAP_LINKTYPE_RAW,
  readPcap,
  stripTokenOrThrow,
  TCP_FLAG_ACK,
  TCP_FLAG_PSH,
  TCP_FLAG_SYN,
  tryParseIpv4,
  writePcap,
  writeTcpFrame,
} from '../../enforcer/packet/index.js';

function expectCode(f: () => unknown, code: string, msg?: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(isSyngateError(e, code)).toBe(true);
    if (msg) expect((e as Error).message).toMatch(msg);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('pcap files', () => {
  const rec = { tsSec: 1700000000, tsFrac: 123456789, data: Uint8Array.of(0x45, 0, 0, 20), origLen: 60 };

  it('round-trips nanosecond files and keeps origLen', () => {
    const bytes = writePcap({ linkType: PCAP_LINKTYPE_RAW, nanosecond: true, records: [rec] });
    const f = readPcap(bytes, 'x.pcap');
    expect(f.nanosecond).toBe(true);
    expect(linkTypeOfPcap(f.linkType)).toBe(LinkType.RAW_IPV4);
    expect(f.records).toHaveLength(1);
    expect(f.records[0]).toMatchObject({ tsSec: rec.tsSec, tsFrac: rec.tsFrac, origLen: 60 });
    expect([...f.records[0]!.data]).toEqual([...rec.data]);
  });

  it('reads big-endian files', () => {
    const le = writePcap({ linkType: 1, records: [rec] });
    const be = new Uint8Array(le.length);
    const src = new DataView(le.buffer);
    const dst = new DataView(be.buffer);
    for (const [o, w] of [[0, 4], [4, 2], [6, 2], [8, 4], [12, 4], [16, 4], [20, 4], [24, 4], [28, 4], [32, 4], [36, 4]] as const) {
      if (w === 4) dst.setUint32(o, src.getUint32(o, true), false);
      else dst.setUint16(o, src.getUint16(o, true), false);
    }
    be.set(le.subarray(40), 40);
    const f = readPcap(be, 'be.pcap');
    expect(f.records[0]!.tsSec).toBe(rec.tsSec);
    expect([...f.records[0]!.data]).toEqual([...rec.data]);
  });

  it('names the file and record on defects', () => {
    const good = writePcap({ linkType: 1, records: [rec, rec] });
    expectCode(() => readPcap(good.subarray(0, 10), 'a.pcap'), 'SYNGATE_PACKET_PCAP_TRUNCATED', /a\.pcap/);
    expectCode(() => readPcap(good.subarray(0, good.length - 1), 'b.pcap'), 'SYNGATE_PACKET_PCAP_TRUNCATED', /b\.pcap: record 1/);
    expectCode(() => readPcap(good.subarray(0, 24 + 20 + 5), 'c.pcap'), 'SYNGATE_PACKET_PCAP_TRUNCATED', /record 1 header/);
    const bad = good.slice();
    bad[0] = 0x0a;
    bad[1] = 0x0d;
    expectCode(() => readPcap(bad, 'ng.pcapng'), 'SYNGATE_PACKET_PCAP_BAD_MAGIC', /pcapng/);
    const huge = good.slice();
    new DataView(huge.buffer).setUint32(24 + 8, 0x7fffffff, true);
    expectCode(() => readPcap(huge, 'h.pcap'), 'SYNGATE_PACKET_PCAP_BAD_RECORD', /record 0/);
    expectCode(() => linkTypeOfPcap(113, 'sll.pcap'), 'SYNGATE_PACKET_PCAP_UNSUPPORTED_LINKTYPE', /113/);
  });
});

describe('typed-error wrappers', () => {
  const buf = new Uint8Array(2048);
  const base = { srcIp: parseIpv4('198.18.0.1'), dstIp: parseIpv4('198.18.0.2'), srcPort: 1, dstPort: 2, seq: 0, ack: 0 };

  it('map every PacketError to a documented SYNGATE_PACKET_ code', () => {
    for (const e of Object.values(PacketError)) {
      expect(packetErrorCode(e)).toBe(`SYNGATE_PACKET_${packetErrorLabel(e).toUpperCase().replace(/-/g, '_')}`);
    }
  });

  it('throw with the packet named', () => {
    const v = new PacketView();
    const n = writeTcpFrame(buf, 0, { ...base, flags: TCP_FLAG_ACK | TCP_FLAG_PSH, payload: Uint8Array.of(1) }, LinkType.ETHERNET);
    parseFrameOrThrow(buf, 0, n, LinkType.ETHERNET, v, 'pkt#1');
    expectCode(() => insertTokenOrThrow(buf, v, Uint8Array.of(1), 1500, 'pkt#1'), 'SYNGATE_PACKET_HAS_PAYLOAD', /pkt#1: has-payload/);
    expectCode(() => stripTokenOrThrow(buf, v, 'pkt#1'), 'SYNGATE_PACKET_NO_MARKER');
    expectCode(() => parseFrameOrThrow(buf, 0, 20, LinkType.ETHERNET, v, 'pkt#2'), 'SYNGATE_PACKET_MALFORMED', /pkt#2: truncated-ip/);
    const m = writeTcpFrame(buf, 0, { ...base, flags: TCP_FLAG_SYN }, LinkType.ETHERNET);
    parseFrameOrThrow(buf, 0, m, LinkType.ETHERNET, v);
    expect(insertTokenOrThrow(buf, v, Uint8Array.of(9, 9), 1500)).toBe(m + 10);
    expect(stripTokenOrThrow(buf, v)).toBe(m);
  });
});

describe('builders and helpers', () => {
  const base = { srcIp: 1, dstIp: 2, srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_FLAG_SYN };
  it('writeTcpFrame refuses what it cannot encode', () => {
    expect(writeTcpFrame(new Uint8Array(2048), 0, { ...base, options: new Uint8Array(41) }, LinkType.ETHERNET)).toBe(PacketError.OPTIONS_FULL);
    expect(writeTcpFrame(new Uint8Array(50), 0, base, LinkType.ETHERNET)).toBe(PacketError.NO_ROOM);
    expect(writeTcpFrame(new Uint8Array(2048), 0, base, 9 as LinkType)).toBe(PacketError.BAD_ARGUMENT);
    expect(writeTcpFrame(new Uint8Array(70000), 0, { ...base, payload: new Uint8Array(65500) }, LinkType.ETHERNET)).toBe(PacketError.BAD_ARGUMENT);
  });

  it('parses addresses strictly', () => {
    expect(parseIpv4('198.18.255.1')).toBe(0xc612ff01);
    for (const bad of ['198.18.0', '198.18.0.256', '01.2.3.4', '1.2.3.4 ', 'a.b.c.d']) expect(tryParseIpv4(bad)).toBe(-1);
    expectCode(() => parseIpv4('198.18.0.300'), 'SYNGATE_PACKET_BAD_IPV4', /198\.18\.0\.300/);
    expect(macToString(parseMac('02:53:47:00:0a:FF'))).toBe('02:53:47:00:0a:ff');
    expectCode(() => parseMac('02:53:47:00:0a'), 'SYNGATE_PACKET_BAD_MAC');
  });

  it('FramePool rejects bad sizes', () => {
    expectCode(() => new FramePool({ frameSize: 10 }), 'SYNGATE_PACKET_BAD_POOL_CONFIG', /frameSize/);
    expectCode(() => new FramePool({ capacity: 0 }), 'SYNGATE_PACKET_BAD_POOL_CONFIG', /capacity/);
    expectCode(() => new FramePool({ frameSize: 1 << 20, capacity: 2048 }), 'SYNGATE_PACKET_BAD_POOL_CONFIG', /limit/);
    const p = new FramePool();
    expect(p.frameSize).toBe(2304);
    expect(p.release(-1)).toBe(false);
    expect(p.inUse(0)).toBe(false);
  });
});
