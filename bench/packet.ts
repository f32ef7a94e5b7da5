// Packet-engine micro-benchmarks: parse, parse + checksum verify, token insert + strip.
// Invariants: every figure is measured next to the same-process "Node limit" loop (read only the
// 5-tuple of the same frames with raw byte reads) and reported as a ratio; frames live in one
// preallocated ArrayBuffer and the measured loops allocate nothing; every metric carries a sanity
// `check` derived from the loop's results (5-tuple hash equal to the baseline's, all checksums
// valid, all frames restored), so a loop cannot be optimised away or silently measure nothing.
// Times are process CPU time (one core), so a busy machine distorts them less than wall time.
// Run standalone: `npx tsx bench/packet.ts [--quick]` prints JSON and a table.
import { pathToFileURL } from 'node:url';
import { FRAME_HEADROOM, LinkType } from '../enforcer/engine/types.js';
import {
  ETH_HEADER_LEN,
  insertToken,
  IPV4_OFF_DST,
  IPV4_OFF_PROTO,
  IPV4_OFF_SRC,
  PacketView,
  parseFrame,
  stripToken,
  TCP_FLAG_ACK,
  TCP_FLAG_PSH,
  TCP_FLAG_SYN,
  verifyIpv4Checksum,
  verifyTcpChecksum,
  writeTcpFrame,
} from '../enforcer/packet/index.js';
import { printStandalone, runBenchesStandalone } from './standalone.js';
import type { BenchFn, BenchOptions, Metric } from './types.js';

const STRIDE = 2048;
const TOKEN_LEN = 256;
const SYN_OPTS = Uint8Array.from([2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 10]);
const ACK_OPTS = Uint8Array.from([1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);

interface FrameSet {
  buf: Uint8Array;
  offs: Int32Array;
  lens: Int32Array;
  n: number;
  avgLen: number;
}

/**
 * `n` Ethernet frames at a fixed stride: with `handshakeOnly`, payload-free SYN / SYN-ACK / ACK
 * (what tokens ride on); otherwise a mix with data segments of 100 and 1400 bytes.
 */
function makeFrames(n: number, handshakeOnly: boolean): FrameSet {
  const buf = new Uint8Array(n * STRIDE);
  const offs = new Int32Array(n);
  const lens = new Int32Array(n);
  const payloadSmall = new Uint8Array(100).fill(0x61);
  const payloadBig = new Uint8Array(1400).fill(0x62);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const kind = handshakeOnly ? i % 3 : i % 5;
    const base = {
      srcIp: (198 << 24) | (18 << 16) | (i & 0xffff),
      dstIp: ((198 << 24) | (19 << 16) | ((i * 7) & 0xffff)) >>> 0,
      srcPort: 32768 + (i % 28000),
      dstPort: 80 + (i % 50),
      seq: (i * 2654435761) >>> 0,
      ack: (i * 40503) >>> 0,
      window: 64240,
      ipId: i & 0xffff,
    };
    const spec =
      kind === 0
        ? { ...base, srcIp: base.srcIp >>> 0, ack: 0, flags: TCP_FLAG_SYN, options: SYN_OPTS }
        : kind === 1
          ? { ...base, srcIp: base.srcIp >>> 0, flags: TCP_FLAG_SYN | TCP_FLAG_ACK, options: SYN_OPTS }
          : kind === 2
            ? { ...base, srcIp: base.srcIp >>> 0, flags: TCP_FLAG_ACK, options: ACK_OPTS }
            : { ...base, srcIp: base.srcIp >>> 0, flags: TCP_FLAG_ACK | TCP_FLAG_PSH, options: ACK_OPTS, payload: kind === 3 ? payloadSmall : payloadBig };
    const off = i * STRIDE;
    const len = writeTcpFrame(buf, off, spec, LinkType.ETHERNET);
    if (len < 0 || len + (handshakeOnly ? FRAME_HEADROOM : 0) > STRIDE) throw new Error(`bench frame ${i}: builder returned ${len}`);
    offs[i] = off;
    lens[i] = len;
    total += len;
  }
  return { buf, offs, lens, n, avgLen: total / n };
}

/** The Node limit: read only the 5-tuple (raw byte reads, Ethernet + IPv4 assumed). */
function minimalLoop(fs: FrameSet, rounds: number): number {
  const { buf: b, offs, n } = fs;
  let acc = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) {
      const ip = offs[i]! + ETH_HEADER_LEN;
      const t = ip + ((b[ip]! & 0x0f) << 2);
      const src = (b[ip + IPV4_OFF_SRC]! << 24) | (b[ip + IPV4_OFF_SRC + 1]! << 16) | (b[ip + IPV4_OFF_SRC + 2]! << 8) | b[ip + IPV4_OFF_SRC + 3]!;
      const dst = (b[ip + IPV4_OFF_DST]! << 24) | (b[ip + IPV4_OFF_DST + 1]! << 16) | (b[ip + IPV4_OFF_DST + 2]! << 8) | b[ip + IPV4_OFF_DST + 3]!;
      const ports = (b[t]! << 24) | (b[t + 1]! << 16) | (b[t + 2]! << 8) | b[t + 3]!;
      acc = ((acc ^ src ^ dst ^ ports ^ b[ip + IPV4_OFF_PROTO]!) + 1) | 0;
    }
  }
  return acc;
}

const view = new PacketView();

function parseLoop(fs: FrameSet, rounds: number): number {
  const v = view;
  const { buf, offs, lens, n } = fs;
  let acc = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) {
      parseFrame(buf, offs[i]!, lens[i]!, LinkType.ETHERNET, v);
      acc = ((acc ^ v.srcIp ^ v.dstIp ^ ((v.srcPort << 16) | v.dstPort) ^ v.ipProto) + 1) | 0;
    }
  }
  return acc;
}

/** Returns the 5-tuple hash, or -1 if any checksum failed. */
function parseVerifyLoop(fs: FrameSet, rounds: number): number {
  const v = view;
  let acc = 0;
  let bad = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < fs.n; i++) {
      parseFrame(fs.buf, fs.offs[i]!, fs.lens[i]!, LinkType.ETHERNET, v);
      if (!verifyIpv4Checksum(v) || !verifyTcpChecksum(v)) bad++;
      acc = ((acc ^ v.srcIp ^ v.dstIp ^ ((v.srcPort << 16) | v.dstPort) ^ v.ipProto) + 1) | 0;
    }
  }
  return bad === 0 ? acc : -1;
}

const token = Uint8Array.from({ length: TOKEN_LEN }, (_, i) => (i * 31 + 7) & 0xff);

/** Parse, insert a token, strip it; returns the number of failed operations (0 expected). */
function insertStripLoop(fs: FrameSet, rounds: number): number {
  const v = view;
  let fails = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < fs.n; i++) {
      const len = fs.lens[i]!;
      parseFrame(fs.buf, fs.offs[i]!, len, LinkType.ETHERNET, v);
      if (insertToken(fs.buf, v, token, 0, TOKEN_LEN, 1500) !== len + 8 + TOKEN_LEN) fails++;
      if (stripToken(fs.buf, v) !== len) fails++;
    }
  }
  return fails;
}

function fnv(fs: FrameSet): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < fs.n; i++) {
    const o = fs.offs[i]!;
    for (let j = 0; j < fs.lens[i]!; j++) h = Math.imul(h ^ fs.buf[o + j]!, 16777619);
  }
  return h >>> 0;
}

/**
 * CPU time of this process in ms (user + system). Used instead of wall time so that other
 * processes on a loaded machine do not distort the figures: "packets per second of one core".
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Rounds of `loop` that take about `ms` milliseconds (calibrated; bounded at 2^20 rounds). */
function calibrate(fs: FrameSet, loop: (fs: FrameSet, rounds: number) => number, ms: number): number {
  let rounds = 1;
  for (let k = 0; k < 21; k++) {
    const t0 = cpuMs();
    loop(fs, rounds);
    const t = cpuMs() - t0;
    if (t >= ms / 2) return Math.max(1, Math.round((rounds * ms) / t));
    rounds *= 2;
  }
  return rounds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Pair {
  pps: number;
  basePps: number;
  ratio: number;
}

/**
 * Alternates short slices of the baseline loop and the measured loop (so machine drift and other
 * processes hit both alike) and reports medians: packets/s of each and the median per-slice ratio.
 */
function measurePair(fs: FrameSet, base: (fs: FrameSet, r: number) => number, loop: (fs: FrameSet, r: number) => number, opts: BenchOptions): Pair {
  const sliceMs = 20;
  const slices = opts.quick ? 7 : 25;
  const rb = calibrate(fs, base, sliceMs);
  const rl = calibrate(fs, loop, sliceMs);
  const bs: number[] = [];
  const ls: number[] = [];
  const rs: number[] = [];
  for (let k = 0; k < slices; k++) {
    let t0 = cpuMs();
    base(fs, rb);
    const b = (rb * fs.n) / (Math.max(cpuMs() - t0, 0.001) / 1000);
    t0 = cpuMs();
    loop(fs, rl);
    const l = (rl * fs.n) / (Math.max(cpuMs() - t0, 0.001) / 1000);
    bs.push(b);
    ls.push(l);
    rs.push(l / b);
  }
  return { pps: median(ls), basePps: median(bs), ratio: median(rs) };
}

const FRAMES = 4096;
let mixed: FrameSet | undefined;
let handshakes: FrameSet | undefined;
const mixedSet = (): FrameSet => (mixed ??= makeFrames(FRAMES, false));
const handshakeSet = (): FrameSet => (handshakes ??= makeFrames(FRAMES, true));

export const benchParse: BenchFn = async (opts) => {
  const fs = mixedSet();
  const m = measurePair(fs, minimalLoop, parseLoop, opts);
  const want = minimalLoop(fs, 1);
  const got = parseLoop(fs, 1);
  return [
    {
      name: 'packet.parse',
      value: m.pps,
      unit: 'pkt/s',
      baseline: m.basePps,
      ratio: m.ratio,
      check: got === want ? `5-tuple hash ${got >>> 0} = baseline` : `MISMATCH ${got} != ${want}`,
      note: `${FRAMES} Ethernet frames, avg ${fs.avgLen.toFixed(0)} B (SYN/SYN-ACK/ACK/100 B/1400 B data); baseline reads only the 5-tuple`,
    },
  ];
};

export const benchParseVerify: BenchFn = async (opts) => {
  const fs = mixedSet();
  const m = measurePair(fs, minimalLoop, parseVerifyLoop, opts);
  const want = minimalLoop(fs, 1);
  const got = parseVerifyLoop(fs, 1);
  return [
    {
      name: 'packet.parse_verify',
      value: m.pps,
      unit: 'pkt/s',
      baseline: m.basePps,
      ratio: m.ratio,
      check: got === want ? `all checksums valid; 5-tuple hash ${got >>> 0}` : `FAILED (result ${got})`,
      note: `parse + full IPv4 header and TCP (pseudo-header) checksum verify; avg ${fs.avgLen.toFixed(0)} B`,
    },
  ];
};

export const benchInsertStrip: BenchFn = async (opts) => {
  const fs = handshakeSet();
  const before = fnv(fs);
  const m = measurePair(fs, minimalLoop, insertStripLoop, opts);
  const fails = insertStripLoop(fs, 1);
  const after = fnv(fs);
  const ok = fails === 0 && before === after;
  const out: Metric[] = [
    {
      name: 'packet.insert_strip',
      value: m.pps,
      unit: 'pkt/s',
      baseline: m.basePps,
      ratio: m.ratio,
      check: ok ? `0 failures; frames restored (fnv ${after})` : `FAILED: ${fails} failures, fnv ${before} -> ${after}`,
      note: `parse + insertToken(${TOKEN_LEN} B) + stripToken per packet, SYN/SYN-ACK/ACK frames; goal >= 1M pkt/s`,
    },
  ];
  return out;
};

export const benches: Record<string, BenchFn> = {
  parse: benchParse,
  parseVerify: benchParseVerify,
  insertStrip: benchInsertStrip,
};

/** Standalone runner (bench/standalone.ts): each bench warmed up, then `reps` times, median reported. */
export async function runPacketBenchStandalone(quick: boolean, reps = 3): Promise<Metric[]> {
  return runBenchesStandalone(benches, { quick, reps });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  printStandalone('packet', quick, await runPacketBenchStandalone(quick), 'Node limit');
}
