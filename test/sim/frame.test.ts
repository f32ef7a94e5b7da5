// The simulator's frame record over the packet codec: round trip, the option-253 oracle (any kind
// 253, even a marker the packet parser calls malformed), rejection of what a stack would not take.
import { describe, expect, it } from 'vitest';
import { ETHERTYPE_VLAN, SYNGATE_EXID } from '../../enforcer/packet/index.js';
import { macForIp, parseFrame, TCP_ACK, TCP_SYN, writeFrame, type TcpFrameSpec } from '../../enforcer/sim/index.js';
import { refreshChecksums } from '../../enforcer/sim/frame.js';

const base: TcpFrameSpec = {
  srcMac: macForIp(0xc6120001),
  dstMac: macForIp(0xc6120002),
  srcIp: 0xc6120001,
  dstIp: 0xc6120002,
  ipId: 7,
  srcPort: 40000,
  dstPort: 8080,
  seq: 0xfffffff0,
  ack: 0,
  flags: TCP_SYN,
  window: 64240,
  // MSS 1460, SACK-permitted, timestamps, NOP, window scale 7 (the Linux SYN layout)
  options: Uint8Array.of(2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7),
};

describe('sim frame record over the packet codec', () => {
  it('round-trips every field of the record, with both checksums valid', () => {
    const f = writeFrame({ ...base, payload: Uint8Array.of(1, 2, 3) });
    const p = parseFrame(f, 0, f.length)!;
    expect(p).toMatchObject({ srcIp: base.srcIp, dstIp: base.dstIp, ipId: 7, ttl: 64, srcPort: 40000, dstPort: 8080, seq: 0xfffffff0, ack: 0, flags: TCP_SYN, window: 64240 });
    expect(p).toMatchObject({ mss: 1460, wscale: 7, sackPermitted: true, tsVal: 1, tsEcr: 0, payloadLen: 3, payloadOff: 54 + 20 });
    expect(p.options.map((o) => o.kind)).toEqual([2, 4, 8, 3]);
    expect(p.ipChecksumOk && p.tcpChecksumOk).toBe(true);
    expect(p.hasExperimentalOption).toBe(false);
    expect([...p.srcMac]).toEqual([...base.srcMac]);
  });

  it('reports any kind-253 option, including two syngate markers the packet parser refuses', () => {
    const marker = [253, 8, SYNGATE_EXID >>> 8, SYNGATE_EXID & 0xff, 1, 1, 0, 3];
    const f = writeFrame({ ...base, flags: TCP_ACK, options: Uint8Array.from([...marker, ...marker]), payload: Uint8Array.of(9, 9, 9) });
    const p = parseFrame(f, 0, f.length);
    expect(p).not.toBeNull();
    expect(p!.hasExperimentalOption).toBe(true);
    const other = writeFrame({ ...base, options: Uint8Array.of(253, 4, 0x12, 0x34) });
    expect(parseFrame(other, 0, other.length)!.hasExperimentalOption).toBe(true);
  });

  it('returns null for a bad option length, a VLAN tag, a fragment and a truncated frame', () => {
    const bad = writeFrame({ ...base, options: Uint8Array.of(2, 9, 0, 0) });
    expect(parseFrame(bad, 0, bad.length)).toBeNull();
    const f = writeFrame(base);
    const tagged = new Uint8Array(f.length + 4);
    tagged.set(f.subarray(0, 12));
    tagged.set([ETHERTYPE_VLAN >>> 8, ETHERTYPE_VLAN & 0xff, 0, 5], 12);
    tagged.set(f.subarray(12), 16);
    expect(parseFrame(tagged, 0, tagged.length)).toBeNull();
    const frag = f.slice();
    frag[14 + 6] = 0x20; // MF
    expect(parseFrame(frag, 0, frag.length)).toBeNull();
    expect(parseFrame(f, 0, 53)).toBeNull();
  });

  it('refreshChecksums makes a rewritten frame valid again', () => {
    const f = writeFrame({ ...base, payload: Uint8Array.of(1, 2, 3) });
    f[f.length - 1] = 0x55;
    expect(parseFrame(f, 0, f.length)!.tcpChecksumOk).toBe(false);
    expect(refreshChecksums(f)).toBe(true);
    const p = parseFrame(f, 0, f.length)!;
    expect(p.ipChecksumOk && p.tcpChecksumOk).toBe(true);
    expect(refreshChecksums(Uint8Array.of(1, 2, 3))).toBe(false);
  });
});
