// fast-check generators of TCP/IPv4 frames for the packet property and fuzz tests.
import fc from 'fast-check';
import { LinkType } from '../../enforcer/engine/types.js';
import { TCP_FLAG_ACK, TCP_FLAG_CWR, TCP_FLAG_ECE, TCP_FLAG_PSH, TCP_FLAG_SYN, type TcpFrameSpec } from '../../enforcer/packet/index.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const be32 = (x: number): number[] => [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];

/** A well-formed TCP option list of at most `max` bytes, optionally ending in EOL (+ garbage-free padding). */
export function tcpOptionsArb(max: number): fc.Arbitrary<Uint8Array> {
  const one = fc.oneof(
    fc.constant([1]),
    u16.map((m) => [2, 4, m >>> 8, m & 255]),
    fc.integer({ min: 0, max: 14 }).map((w) => [3, 3, w]),
    fc.constant([4, 2]),
    fc.tuple(u32, u32).map(([a, b]) => [8, 10, ...be32(a), ...be32(b)]),
    fc.uint8Array({ maxLength: 6 }).map((d) => [254, d.length + 2, ...d]),
    fc.uint8Array({ minLength: 2, maxLength: 6 }).map((d) => [253, d.length + 2, 0x12, 0x34, ...d.subarray(2)]),
  );
  return fc
    .tuple(fc.array(one, { maxLength: 8 }), fc.boolean())
    .map(([list, eol]) => Uint8Array.from([...list.flat(), ...(eol ? [0] : [])]))
    .filter((o) => ((o.length + 3) & ~3) <= max);
}

export interface FrameCase {
  spec: TcpFrameSpec;
  linkType: LinkType;
  /** Offset of the frame inside its buffer. */
  at: number;
}

/** A payload-free SYN, SYN-ACK or ACK (with ECE/CWR/PSH noise) that has room for the marker. */
export const handshakeFrameArb: fc.Arbitrary<FrameCase> = fc.record({
  spec: fc.record({
    srcIp: u32,
    dstIp: u32,
    srcPort: u16,
    dstPort: u16,
    seq: u32,
    ack: u32,
    flags: fc
      .tuple(fc.constantFrom(TCP_FLAG_SYN, TCP_FLAG_SYN | TCP_FLAG_ACK, TCP_FLAG_ACK), fc.constantFrom(0, TCP_FLAG_ECE, TCP_FLAG_CWR, TCP_FLAG_ECE | TCP_FLAG_CWR, TCP_FLAG_PSH))
      .map(([a, b]) => a | b),
    window: u16,
    options: tcpOptionsArb(32),
    ttl: fc.integer({ min: 0, max: 255 }),
    ipId: u16,
    tos: fc.integer({ min: 0, max: 255 }),
    df: fc.boolean(),
    urgentPointer: u16,
    ipOptions: fc.uint8Array({ maxLength: 40 }),
  }),
  linkType: fc.constantFrom(LinkType.ETHERNET, LinkType.RAW_IPV4),
  at: fc.integer({ min: 0, max: 40 }),
});

/** Any TCP frame (any flags, maybe payload). */
export const anyTcpFrameArb: fc.Arbitrary<FrameCase> = fc
  .tuple(handshakeFrameArb, fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }))
  .map(([c, flags, payload]) => ({ ...c, spec: { ...c.spec, flags, payload } }));
