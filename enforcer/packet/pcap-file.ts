// Classic libpcap capture files (not pcapng): read and write, LINKTYPE_ETHERNET and LINKTYPE_RAW.
// Invariants: readPcap accepts both byte orders and microsecond/nanosecond magics, returns records
// whose `data` are views into the input (no copies), and throws SyngateError naming the file and
// the record index on any defect (never returns a partial file). writePcap writes the native
// little-endian microsecond (or nanosecond) format that tcpdump and tshark read.
import { readFileSync, writeFileSync } from 'node:fs';
import { SyngateError } from '../errors.js';
import { LinkType } from '../engine/types.js';

export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
export const PCAP_LINKTYPE_ETHERNET = 1;
export const PCAP_LINKTYPE_RAW = 101;
/** LINKTYPE_IPV4: raw IPv4 without link header. */
export const PCAP_LINKTYPE_IPV4 = 228;
/** Global header: magic(4) major(2) minor(2) thiszone(4) sigfigs(4) snaplen(4) network(4). */
export const PCAP_GLOBAL_HEADER_LEN = 24;
/** Record header: ts_sec(4) ts_frac(4) incl_len(4) orig_len(4). */
export const PCAP_RECORD_HEADER_LEN = 16;
export const PCAP_DEFAULT_SNAPLEN = 262144;

export interface PcapRecord {
  tsSec: number;
  /** Microseconds, or nanoseconds when the file is nanosecond-resolution. */
  tsFrac: number;
  /** Captured bytes (a view into the file buffer when read). */
  data: Uint8Array;
  /** Original length on the wire (>= data.length). */
  origLen: number;
}

export interface PcapFile {
  /** PCAP_LINKTYPE_* value from the header. */
  linkType: number;
  snaplen: number;
  nanosecond: boolean;
  records: PcapRecord[];
}

/** Maps a pcap link type to the engine's LinkType; throws SYNGATE_PACKET_PCAP_UNSUPPORTED_LINKTYPE. */
export function linkTypeOfPcap(pcapLinkType: number, name = 'pcap'): LinkType {
  if (pcapLinkType === PCAP_LINKTYPE_ETHERNET) return LinkType.ETHERNET;
  if (pcapLinkType === PCAP_LINKTYPE_RAW || pcapLinkType === PCAP_LINKTYPE_IPV4) return LinkType.RAW_IPV4;
  throw new SyngateError(
    'SYNGATE_PACKET_PCAP_UNSUPPORTED_LINKTYPE',
    `${name}: link type ${pcapLinkType} is not supported (only 1 ETHERNET, 101 RAW, 228 IPV4)`,
  );
}

/** Parses a classic pcap file held in memory. `name` is used in error messages. */
export function readPcap(bytes: Uint8Array, name = '<buffer>'): PcapFile {
  if (bytes.length < PCAP_GLOBAL_HEADER_LEN) {
    throw new SyngateError('SYNGATE_PACKET_PCAP_TRUNCATED', `${name}: ${bytes.length} bytes is shorter than the 24-byte pcap header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le: boolean;
  let nanosecond: boolean;
  const mLe = dv.getUint32(0, true);
  const mBe = dv.getUint32(0, false);
  if (mLe === PCAP_MAGIC_USEC || mLe === PCAP_MAGIC_NSEC) {
    le = true;
    nanosecond = mLe === PCAP_MAGIC_NSEC;
  } else if (mBe === PCAP_MAGIC_USEC || mBe === PCAP_MAGIC_NSEC) {
    le = false;
    nanosecond = mBe === PCAP_MAGIC_NSEC;
  } else {
    throw new SyngateError(
      'SYNGATE_PACKET_PCAP_BAD_MAGIC',
      `${name}: magic 0x${mBe.toString(16).padStart(8, '0')} is not a classic pcap file (pcapng is not supported)`,
    );
  }
  const snaplen = dv.getUint32(16, le);
  const linkType = dv.getUint32(20, le) & 0x0fffffff;
  const records: PcapRecord[] = [];
  let p = PCAP_GLOBAL_HEADER_LEN;
  while (p < bytes.length) {
    const idx = records.length;
    if (p + PCAP_RECORD_HEADER_LEN > bytes.length) {
      throw new SyngateError('SYNGATE_PACKET_PCAP_TRUNCATED', `${name}: record ${idx} header truncated at byte ${p}`);
    }
    const tsSec = dv.getUint32(p, le);
    const tsFrac = dv.getUint32(p + 4, le);
    const incl = dv.getUint32(p + 8, le);
    const orig = dv.getUint32(p + 12, le);
    if (incl > Math.max(snaplen, PCAP_DEFAULT_SNAPLEN)) {
      throw new SyngateError('SYNGATE_PACKET_PCAP_BAD_RECORD', `${name}: record ${idx} claims ${incl} captured bytes (snaplen ${snaplen})`);
    }
    const start = p + PCAP_RECORD_HEADER_LEN;
    if (start + incl > bytes.length) {
      throw new SyngateError('SYNGATE_PACKET_PCAP_TRUNCATED', `${name}: record ${idx} data truncated (${incl} bytes at byte ${start})`);
    }
    records.push({ tsSec, tsFrac, data: bytes.subarray(start, start + incl), origLen: Math.max(orig, incl) });
    p = start + incl;
  }
  return { linkType, snaplen, nanosecond, records };
}

/** Encodes a classic little-endian pcap file. */
export function writePcap(file: { linkType: number; snaplen?: number; nanosecond?: boolean; records: readonly PcapRecord[] }): Uint8Array {
  let size = PCAP_GLOBAL_HEADER_LEN;
  for (const r of file.records) size += PCAP_RECORD_HEADER_LEN + r.data.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, file.nanosecond === true ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setInt32(8, 0, true);
  dv.setUint32(12, 0, true);
  dv.setUint32(16, file.snaplen ?? PCAP_DEFAULT_SNAPLEN, true);
  dv.setUint32(20, file.linkType, true);
  let p = PCAP_GLOBAL_HEADER_LEN;
  for (const r of file.records) {
    dv.setUint32(p, r.tsSec >>> 0, true);
    dv.setUint32(p + 4, r.tsFrac >>> 0, true);
    dv.setUint32(p + 8, r.data.length, true);
    dv.setUint32(p + 12, Math.max(r.origLen, r.data.length), true);
    out.set(r.data, p + PCAP_RECORD_HEADER_LEN);
    p += PCAP_RECORD_HEADER_LEN + r.data.length;
  }
  return out;
}

/** Reads and parses a pcap file from disk; throws SYNGATE_PACKET_PCAP_READ naming the path on I/O errors. */
export function readPcapFile(path: string): PcapFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SyngateError('SYNGATE_PACKET_PCAP_READ', `${path}: cannot read pcap file`, { cause: e });
  }
  return readPcap(bytes, path);
}

/** Writes a pcap file to disk. */
export function writePcapFile(path: string, file: Parameters<typeof writePcap>[0]): void {
  writeFileSync(path, writePcap(file));
}
