// Experiment, not a product path: how much of the established path at 1M flows is memory latency.
// Runs, on the same 1M-flow fixture as `bench/engine.ts`: the minimal loop, the conntrack floor
// (5-tuple reads + ConntrackTable.lookup + account), engine.process() per packet, and
// engine.process() after a lean software-prefetch pass over a batch of B frames (hash every frame,
// read every home index slot, then read every indexed record: independent loads in tight loops, so
// the CPU overlaps their cache misses). No datapath feeds the engine in batches today, so the
// prefetched figure is an upper bound for a vectorised design, not a syngate number.
// Invariants: read-only on the table (the prefetch pass changes no state); every loop is checked
// to have found or forwarded every packet.
// Run: `npx tsx bench/experiments/established-prefetch.ts [reps]`.
import { Direction } from '../../enforcer/engine/index.js';
import { conntrackFloorLoop, cpuSec, establishedFixture, FRAMES, minimalLoop } from '../engine.js';

const FLOWS = 1_000_000;
const PACKETS = FRAMES * 32;
/** Ethernet + IPv4 offsets of the 5-tuple (the fixture's frames have no IP options). */
const ETH_LEN = 14;
const IP_SRC = 12;
const IP_DST = 16;
/** Words per conntrack record (REC_STRIDE) and the record word read by the prefetch (lastSeen). */
const REC_STRIDE = 12;
const REC_TOUCH = 4;

const f = establishedFixture(FLOWS);
const { engine, buf, offs } = f;
const ct = engine.ct;
let bits = 1;
while (2 ** bits < ct.capacity + 1) bits++;
const entryMask = 2 ** bits - 1;

function prefetchRun(batch: number): { rate: number; forwarded: number } {
  const home = new Int32Array(batch);
  const hint = new Uint32Array(batch);
  const idx = ct.idx;
  const rec = ct.kg;
  const slots = ct.indexSlots;
  let acc = 0;
  let forwarded = 0;
  const t0 = cpuSec();
  for (let k = 0; k < PACKETS; k += batch) {
    for (let j = 0; j < batch; j++) {
      const l3 = offs[(k + j) & (FRAMES - 1)]! + ETH_LEN;
      const l4 = l3 + ((buf[l3]! & 0x0f) << 2);
      const a = ((buf[l3 + IP_SRC]! << 24) | (buf[l3 + IP_SRC + 1]! << 16) | (buf[l3 + IP_SRC + 2]! << 8) | buf[l3 + IP_SRC + 3]!) >>> 0;
      const b = ((buf[l3 + IP_DST]! << 24) | (buf[l3 + IP_DST + 1]! << 16) | (buf[l3 + IP_DST + 2]! << 8) | buf[l3 + IP_DST + 3]!) >>> 0;
      const h = ct.hash(a, b, (buf[l4]! << 8) | buf[l4 + 1]!, (buf[l4 + 2]! << 8) | buf[l4 + 3]!);
      home[j] = ((h * slots) / 4294967296) | 0;
    }
    for (let j = 0; j < batch; j++) hint[j] = idx[home[j]!]!;
    for (let j = 0; j < batch; j++) {
      const v = hint[j]!;
      if (v !== 0) acc = (acc + rec[((v & entryMask) - 1) * REC_STRIDE + REC_TOUCH]!) | 0;
    }
    for (let j = 0; j < batch; j++) {
      if (engine.process(buf, offs[(k + j) & (FRAMES - 1)]!, 130, Direction.INBOUND, 1000).verdict === 0) forwarded++;
    }
  }
  const rate = PACKETS / (cpuSec() - t0);
  if (acc === 0x7fffffff) console.log('');
  return { rate, forwarded };
}

const reps = Number(process.argv[2] ?? 3);
const rows: string[][] = [];
for (let r = 0; r < reps; r++) {
  let t0 = cpuSec();
  minimalLoop(buf, offs, FRAMES, PACKETS, f.bare);
  const base = PACKETS / (cpuSec() - t0);
  t0 = cpuSec();
  let fwd = 0;
  for (let k = 0; k < PACKETS; k++) if (engine.process(buf, offs[k & (FRAMES - 1)]!, 130, Direction.INBOUND, 1000).verdict === 0) fwd++;
  const eng = PACKETS / (cpuSec() - t0);
  t0 = cpuSec();
  const found = conntrackFloorLoop(buf, offs, FRAMES, PACKETS, ct, 1000);
  const floor = PACKETS / (cpuSec() - t0);
  const pf16 = prefetchRun(16);
  const pf32 = prefetchRun(32);
  if (fwd !== PACKETS || found !== PACKETS || pf16.forwarded !== PACKETS || pf32.forwarded !== PACKETS) {
    throw new Error(`experiment check failed: forwarded ${fwd}, found ${found}, prefetch ${pf16.forwarded}/${pf32.forwarded} of ${PACKETS}`);
  }
  const m = (x: number): string => `${(x / 1e6).toFixed(2)}M (${(x / base).toFixed(2)})`;
  rows.push([String(r + 1), `${(base / 1e6).toFixed(2)}M`, m(floor), m(eng), m(pf16.rate), m(pf32.rate)]);
}
const head = ['run', 'minimal loop', 'conntrack floor', 'engine', 'engine + prefetch 16', 'engine + prefetch 32'];
console.log(`1M flows, ${PACKETS} packets per loop, pkt/cpu-s (ratio to the minimal loop of the same run)`);
console.log(head.join(' | '));
for (const r of rows) console.log(r.join(' | '));
