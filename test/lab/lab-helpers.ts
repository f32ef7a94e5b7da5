// Helpers for the lab acceptance tests: packet captures with tcpdump, capture analysis (where the
// syngate token appears), crafted SYNs (forged, replayed) sent with raw-socket from a namespace.
import { readFileSync } from 'node:fs';
import { Direction, LinkType } from '../../enforcer/engine/types.js';
import {
  Marker,
  MARKER_TYPE_TOKEN,
  PacketView,
  ParseStatus,
  TCP_FLAG_ACK,
  TCP_FLAG_SYN,
  findMarker,
  linkTypeOfPcap,
  parseFrame,
  readPcap,
  writeMarker,
  writeTcpFrame,
} from '../../enforcer/packet/index.js';
import { foreignPki, forgeSyn, issueNodeCredential } from '../../enforcer/identity/index.js';
import { Procs, sh } from '../datapath/root-helpers.js';
import type { Proc } from '../datapath/root-helpers.js';

export { Direction };

export interface CapturedSegment {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
  payloadLen: number;
  marker: Marker;
  tokenLen: number;
  /** The whole IPv4 packet (no link header). */
  ip: Uint8Array;
}

const dq = (v: number): string => `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;

/** Every TCP segment of a classic pcap file, with its syngate marker classified. */
export function readCapture(file: string): CapturedSegment[] {
  const pcap = readPcap(readFileSync(file), file);
  const link = linkTypeOfPcap(pcap.linkType, file);
  const out: CapturedSegment[] = [];
  const v = new PacketView();
  for (const r of pcap.records) {
    if (parseFrame(r.data, 0, r.data.length, link, v) !== ParseStatus.OK || v.ipProto !== 6) continue;
    const marker = findMarker(v);
    out.push({
      src: dq(v.srcIp),
      dst: dq(v.dstIp),
      sport: v.srcPort,
      dport: v.dstPort,
      flags: v.flags,
      payloadLen: v.payloadLen,
      marker,
      tokenLen: v.tokenLen,
      ip: r.data.slice(v.l3Off, v.l3Off + v.ipTotalLen),
    });
  }
  return out;
}

export const isSyn = (s: CapturedSegment): boolean => (s.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) === TCP_FLAG_SYN;
export const isSynAck = (s: CapturedSegment): boolean => (s.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) === (TCP_FLAG_SYN | TCP_FLAG_ACK);

/** Starts tcpdump on `iface` in `ns`, writing `file`; resolves once it is listening. */
export async function startCapture(procs: Procs, ns: string, iface: string, file: string, filter = 'tcp'): Promise<Proc> {
  const p = await procs.start(ns, ['tcpdump', '--immediate-mode', '-i', iface, '-s', '0', '-U', '-w', file, filter], null);
  for (let i = 0; i < 200 && !/listening on/.test(p.stderr); i++) await new Promise((r) => setTimeout(r, 25));
  if (!/listening on/.test(p.stderr)) throw new Error(`tcpdump in ${ns} did not start: ${p.stderr}`);
  return p;
}

export async function stopCapture(p: Proc): Promise<void> {
  // tcpdump drops what it has not read yet when it is signalled: give it time to drain
  await new Promise((r) => setTimeout(r, 500));
  p.kill('SIGTERM');
  await p.exited;
}

/** Sends whole IPv4 packets from inside `ns` through a raw socket (scripts/lab/rawsend.mjs). */
export function rawSend(ns: string, packets: readonly Uint8Array[]): void {
  const out = sh(['ip', 'netns', 'exec', ns, 'node', 'scripts/lab/rawsend.mjs', ...packets.map((p) => Buffer.from(p).toString('hex'))]);
  if (!out.startsWith(`sent ${packets.length}`)) throw new Error(`rawsend: ${out}`);
}

const ipU32 = (s: string): number => s.split('.').reduce((a, b) => a * 256 + Number(b), 0) >>> 0;

/**
 * A SYN from `srcIp:sport` to `dstIp:dport` carrying a token forged with a foreign CA (an attacker
 * with its own PKI claiming `spiffeId`), as a bare IPv4 packet.
 */
export function forgedSyn(o: { srcIp: string; sport: number; dstIp: string; dport: number; spiffeId: string; trustDomain: string }): Uint8Array {
  const now = Date.now();
  const isn = 0x1000_0000 + Math.floor(Math.random() * 0x1000_0000);
  const foreign = foreignPki({ trustDomain: o.trustDomain, node: 'rogue', nowMs: now });
  const token = forgeSyn({
    node: issueNodeCredential(foreign.ca, { node: 'rogue', nowMs: now }),
    spiffeId: o.spiffeId,
    binding: { srcIp: ipU32(o.srcIp), dstIp: ipU32(o.dstIp), srcPort: o.sport, dstPort: o.dport, proto: 6, isnC: isn, isnS: 0 },
    nowMs: now,
  });
  const opt = new Uint8Array(8);
  writeMarker(opt, 0, MARKER_TYPE_TOKEN, token.length >>> 8, token.length & 0xff);
  const buf = new Uint8Array(2048);
  const n = writeTcpFrame(buf, 0, { srcIp: ipU32(o.srcIp), dstIp: ipU32(o.dstIp), srcPort: o.sport, dstPort: o.dport, seq: isn, ack: 0, flags: TCP_FLAG_SYN, window: 64240, options: opt, payload: token }, LinkType.RAW_IPV4);
  if (n < 0) throw new Error(`writeTcpFrame: ${n}`);
  return buf.slice(0, n);
}

