// Conntrack snapshots: the authorized flows of one or more tables as bytes, so a gracefully
// restarted enforcer (pcap datapath: no kernel state survives) keeps its established flows.
//
// Format (little endian):
//   header  magic u32 'SGCT' | version u16 | tables u16 | layout u32 | savedAt f64 (wall ms)
//           | metaLen u32 | checksum u32 (FNV-1a 32 of every byte after the header)     (28 B)
//   per table: capacity u32 | count u32 | count records of REC_WORDS u32
//   meta: metaLen opaque bytes (the caller's, e.g. the daemon's peer-identity names)
//   record: saddr daddr ports meta lastSeenAge createdAge packets bytesLo bytesHi seqOrig seqReply
//           peerId verdict origPort   (ages in ms before the save, on the saving table's clock)
// Invariants:
//  - Only ESTABLISHED / FIN_WAIT entries with AUTHORIZED set and REVOKED clear are saved: never
//    half-open or ACK_SENT entries, never handshake side-table state; restore refuses a snapshot
//    holding any other entry, so a restored flow was always authorized before the restart.
//  - restore validates the whole snapshot (magic, version, layout, table count, exact length,
//    checksum, states) before it inserts anything: a refused snapshot changes nothing
//    (SyngateError SYNGATE_CONNTRACK_SNAPSHOT).
//  - An entry whose idle age (age at save + wall time since the save) exceeds its state's timeout
//    in the restoring table is skipped; so is a tuple already present, and one that does not fit.
//  - Cold path: allocates freely; never called per packet.
import { SyngateError } from '../errors.js';
import { CtFlag, CtState, STATE_CLASS } from './flags.js';
import {
  COLD_PORT_SIDE, COLD_STRIDE, COLD_VERDICT, ConntrackTable, HOT_BYTES_HI, HOT_BYTES_LO, HOT_CREATED, HOT_LAST_SEEN,
  HOT_PACKETS, HOT_PEER_ID, HOT_SEQ_ORIG, HOT_SEQ_REPLY, HOT_STRIDE, KG_DADDR, KG_META, KG_PORTS, KG_SADDR, KG_STRIDE,
  META_FLAGS_SHIFT, META_STATE_SHIFT,
} from './table.js';

export const SNAPSHOT_MAGIC = 0x54434753; // 'SGCT' read little endian
export const SNAPSHOT_VERSION = 1;
export const SNAPSHOT_HEADER_BYTES = 28;
/** u32 words per saved flow. */
export const REC_WORDS = 14;
/** Layout fingerprint: column strides, record words and the flag set, so a changed table layout is refused. */
export const SNAPSHOT_LAYOUT = ((KG_STRIDE << 24) | (HOT_STRIDE << 16) | (COLD_STRIDE << 12) | (REC_WORDS << 4) | Math.log2(CtFlag.MAX)) >>> 0;

const H_MAGIC = 0;
const H_VERSION = 4;
const H_TABLES = 6;
const H_LAYOUT = 8;
const H_SAVED_AT = 12;
const H_META_LEN = 20;
const H_CHECKSUM = 24;

const R_SADDR = 0;
const R_DADDR = 1;
const R_PORTS = 2;
const R_META = 3;
const R_LAST_AGE = 4;
const R_CREATED_AGE = 5;
const R_PACKETS = 6;
const R_BYTES_LO = 7;
const R_BYTES_HI = 8;
const R_SEQ_ORIG = 9;
const R_SEQ_REPLY = 10;
const R_PEER = 11;
const R_VERDICT = 12;
const R_ORIG_PORT = 13;

export interface RestoreResult {
  /** Flows inserted, per table. */
  restored: number[];
  /** Entries skipped because they outlived their timeout. */
  expired: number;
  /** Entries skipped because their tuple was already tracked. */
  duplicate: number;
  /** Entries skipped because the table was full. */
  full: number;
  /** Wall-clock time of the save (ms since the epoch). */
  savedAtMs: number;
  /** The caller's opaque bytes given to snapshot(). */
  meta: Uint8Array;
}

function fnv1a(b: Uint8Array, from: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** True iff the entry `s` is one a snapshot keeps (see invariants). */
function saveable(meta: number): boolean {
  const state = (meta >>> META_STATE_SHIFT) & 0xff;
  const flags = meta >>> META_FLAGS_SHIFT;
  return (state === CtState.ESTABLISHED || state === CtState.FIN_WAIT) && (flags & CtFlag.AUTHORIZED) !== 0 && (flags & CtFlag.REVOKED) === 0;
}

/** Serializes the authorized established flows of `tables` (in order); `now` is the tables' clock, `wallMs` the epoch time. */
export function snapshotConntrack(tables: readonly ConntrackTable<unknown>[], now: number, wallMs: number = Date.now(), meta: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (tables.length > 0xffff) throw new SyngateError('SYNGATE_CONNTRACK_SNAPSHOT', `too many tables (${tables.length})`);
  const counts = tables.map((t) => {
    let n = 0;
    for (let e = 0; e < t.slots; e++) if (saveable(t.kg[e * KG_STRIDE + KG_META]!)) n++;
    return n;
  });
  const words = counts.reduce((a, n) => a + 2 + n * REC_WORDS, 0);
  const out = new Uint8Array(SNAPSHOT_HEADER_BYTES + words * 4 + meta.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(H_MAGIC, SNAPSHOT_MAGIC, true);
  dv.setUint16(H_VERSION, SNAPSHOT_VERSION, true);
  dv.setUint16(H_TABLES, tables.length, true);
  dv.setUint32(H_LAYOUT, SNAPSHOT_LAYOUT, true);
  dv.setFloat64(H_SAVED_AT, wallMs, true);
  dv.setUint32(H_META_LEN, meta.length, true);
  let o = SNAPSHOT_HEADER_BYTES;
  const put = (v: number): void => {
    dv.setUint32(o, v >>> 0, true);
    o += 4;
  };
  const now32 = now >>> 0;
  tables.forEach((t, ti) => {
    put(t.capacity);
    put(counts[ti]!);
    for (let e = 0; e < t.slots; e++) {
      const k = e * KG_STRIDE;
      if (!saveable(t.kg[k + KG_META]!)) continue;
      const h = e * HOT_STRIDE;
      const c = e * COLD_STRIDE;
      put(t.kg[k + KG_SADDR]!);
      put(t.kg[k + KG_DADDR]!);
      put(t.kg[k + KG_PORTS]!);
      put(t.kg[k + KG_META]!);
      put((now32 - t.hot[h + HOT_LAST_SEEN]!) >>> 0);
      put((now32 - t.hot[h + HOT_CREATED]!) >>> 0);
      put(t.hot[h + HOT_PACKETS]!);
      put(t.hot[h + HOT_BYTES_LO]!);
      put(t.hot[h + HOT_BYTES_HI]!);
      put(t.hot[h + HOT_SEQ_ORIG]!);
      put(t.hot[h + HOT_SEQ_REPLY]!);
      put(t.hot[h + HOT_PEER_ID]!);
      put(t.cold[c + COLD_VERDICT]!);
      put(t.cold[c + COLD_PORT_SIDE]! >>> 16);
    }
  });
  out.set(meta, o);
  dv.setUint32(H_CHECKSUM, fnv1a(out, SNAPSHOT_HEADER_BYTES), true);
  return out;
}

function refuse(why: string): never {
  throw new SyngateError('SYNGATE_CONNTRACK_SNAPSHOT', `conntrack snapshot refused: ${why}`);
}

/**
 * Inserts the flows of a snapshot into `tables` (same count and order as saved). Throws
 * SyngateError SYNGATE_CONNTRACK_SNAPSHOT, changing nothing, when the snapshot is malformed.
 * `mapPeer` may translate saved peer identity ids (e.g. into a freshly compiled policy's ids).
 */
export function restoreConntrack(
  tables: readonly ConntrackTable<unknown>[],
  bytes: Uint8Array,
  now: number,
  wallMs: number = Date.now(),
  mapPeer?: (savedPeerId: number) => number,
): RestoreResult {
  if (bytes.length < SNAPSHOT_HEADER_BYTES) refuse(`truncated header (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(H_MAGIC, true) !== SNAPSHOT_MAGIC) refuse('bad magic (not a syngate conntrack snapshot)');
  const version = dv.getUint16(H_VERSION, true);
  if (version !== SNAPSHOT_VERSION) refuse(`unsupported version ${version} (this build reads ${SNAPSHOT_VERSION})`);
  const nTables = dv.getUint16(H_TABLES, true);
  if (nTables !== tables.length) refuse(`it holds ${nTables} tables, ${tables.length} expected`);
  if (dv.getUint32(H_LAYOUT, true) !== SNAPSHOT_LAYOUT) refuse('table layout differs from this build');
  const savedAtMs = dv.getFloat64(H_SAVED_AT, true);
  if (!Number.isFinite(savedAtMs)) refuse('bad save time');
  const metaLen = dv.getUint32(H_META_LEN, true);
  // Walk the table sections to check the exact length before trusting any count.
  const sections: { at: number; count: number }[] = [];
  let o = SNAPSHOT_HEADER_BYTES;
  for (let t = 0; t < nTables; t++) {
    if (o + 8 > bytes.length) refuse(`truncated (table ${t} header)`);
    const count = dv.getUint32(o + 4, true);
    o += 8;
    if (count > (bytes.length - o) / (REC_WORDS * 4)) refuse(`truncated (table ${t}: ${count} flows announced)`);
    sections.push({ at: o, count });
    o += count * REC_WORDS * 4;
  }
  if (o + metaLen !== bytes.length) refuse(`length ${bytes.length} does not match its contents (${o + metaLen})`);
  if (fnv1a(bytes, SNAPSHOT_HEADER_BYTES) !== dv.getUint32(H_CHECKSUM, true)) refuse('checksum mismatch (corrupted)');
  for (const s of sections) {
    for (let r = 0; r < s.count; r++) {
      const m = dv.getUint32(s.at + (r * REC_WORDS + R_META) * 4, true);
      if (!saveable(m)) refuse(`an entry is not an authorized established flow (meta 0x${m.toString(16)})`);
    }
  }
  // Apply.
  const elapsed = Math.max(0, Math.min(2 ** 31, wallMs - savedAtMs));
  const res: RestoreResult = { restored: [], expired: 0, duplicate: 0, full: 0, savedAtMs, meta: bytes.slice(o, o + metaLen) };
  const now32 = now >>> 0;
  sections.forEach((s, ti) => {
    const t = tables[ti]!;
    let n = 0;
    for (let r = 0; r < s.count; r++) {
      const w = (i: number): number => dv.getUint32(s.at + (r * REC_WORDS + i) * 4, true);
      const meta = w(R_META);
      const state = ((meta >>> META_STATE_SHIFT) & 0xff) as CtState;
      const lastAge = w(R_LAST_AGE) + elapsed;
      if (lastAge > t.timeouts[STATE_CLASS[state]!]!) {
        res.expired++;
        continue;
      }
      const saddr = w(R_SADDR);
      const daddr = w(R_DADDR);
      const ports = w(R_PORTS);
      if (t.lookup(saddr, daddr, ports >>> 16, ports & 0xffff, now) >= 0) {
        res.duplicate++;
        continue;
      }
      const e = t.insert(saddr, daddr, ports >>> 16, ports & 0xffff, state, meta >>> META_FLAGS_SHIFT, now);
      if (e < 0) {
        res.full++;
        continue;
      }
      const h = e * HOT_STRIDE;
      t.hot[h + HOT_LAST_SEEN] = (now32 - lastAge) >>> 0;
      t.hot[h + HOT_CREATED] = (now32 - Math.min(2 ** 31, w(R_CREATED_AGE) + elapsed)) >>> 0;
      t.hot[h + HOT_PACKETS] = w(R_PACKETS);
      t.hot[h + HOT_BYTES_LO] = w(R_BYTES_LO);
      t.hot[h + HOT_BYTES_HI] = w(R_BYTES_HI);
      t.hot[h + HOT_SEQ_ORIG] = w(R_SEQ_ORIG);
      t.hot[h + HOT_SEQ_REPLY] = w(R_SEQ_REPLY);
      const peer = w(R_PEER);
      t.hot[h + HOT_PEER_ID] = mapPeer === undefined ? peer : mapPeer(peer) >>> 0;
      t.cold[e * COLD_STRIDE + COLD_VERDICT] = w(R_VERDICT);
      t.setOrigPort(e, w(R_ORIG_PORT));
      n++;
    }
    res.restored.push(n);
  });
  return res;
}
