// The parser against real Linux traffic: every packet of every checked-in capture
// (scripts/capture-fixtures.sh) is parsed and compared field by field with tcpdump's own decoding
// (the *.txt next to each *.pcap). Tokens inserted into the fixtures' SYN, SYN-ACK and ACK packets
// are then checked by tshark/tcpdump (when installed) for correct checksums, and stripped back
// to the original bytes.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FRAME_HEADROOM } from '../../enforcer/engine/types.js';
import {
  canCarryToken,
  findMarker,
  insertToken,
  ipv4ToString,
  linkTypeOfPcap,
  Marker,
  PacketKind,
  PacketView,
  parseFrame,
  ParseStatus,
  readPcapFile,
  stripToken,
  SYNGATE_EXID,
  verifyIpv4Checksum,
  verifyTcpChecksum,
  writePcap,
  writePcapFile,
  type PcapRecord,
} from '../../enforcer/packet/index.js';
import { parseTcpdumpText, tcpdumpFlags } from './tcpdump-text.js';

const DIR = new URL('../fixtures/pcap/', import.meta.url).pathname;
const FIXTURES = readdirSync(DIR)
  .filter((f) => f.endsWith('.pcap'))
  .sort();

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

describe('fixtures', () => {
  it('exist (run scripts/capture-fixtures.sh as root to regenerate)', () => {
    expect(FIXTURES).toEqual(expect.arrayContaining(['handshake.pcap', 'refused.pcap', 'server-close.pcap', 'mixed.pcap']));
  });
});

for (const name of FIXTURES) {
  describe(`parser on ${name}`, () => {
    const file = readPcapFile(join(DIR, name));
    const lt = linkTypeOfPcap(file.linkType, name);
    const expected = parseTcpdumpText(readFileSync(join(DIR, name.replace(/\.pcap$/, '.txt')), 'utf8'));

    it('has one tcpdump entry per record', () => {
      expect(file.records.length).toBe(expected.length);
      expect(file.records.length).toBeGreaterThan(0);
    });

    file.records.forEach((rec, i) => {
      const e = expected[i]!;
      it(`#${i + 1}: ${e.text.split('\n').slice(-1)[0]!.trim().slice(0, 90)}`, () => {
        expect([rec.tsSec, rec.tsFrac]).toEqual([e.tsSec, e.tsUsec]);
        const v = new PacketView();
        const st = parseFrame(rec.data, 0, rec.data.length, lt, v);
        expect(st).toBe(ParseStatus.OK);
        if (e.proto === 'arp') {
          expect(v.kind).toBe(PacketKind.ARP);
          return;
        }
        if (e.proto === 'other') {
          expect([PacketKind.IPV6, PacketKind.OTHER_L2, PacketKind.IPV4_OTHER]).toContain(v.kind);
          return;
        }
        expect([v.tos, v.ttl, v.ipId, v.ipTotalLen]).toEqual([e.tos, e.ttl, e.id, e.ipLen]);
        expect((v.fragWord & 0x4000) !== 0).toBe(e.df);
        expect(verifyIpv4Checksum(v)).toBe(true);
        if (e.proto === 'icmp') {
          expect(v.kind).toBe(PacketKind.ICMP);
          return;
        }
        expect([ipv4ToString(v.srcIp), v.srcPort, ipv4ToString(v.dstIp), v.dstPort]).toEqual([e.src, e.sport, e.dst, e.dport]);
        expect(v.payloadLen).toBe(e.length);
        if (e.proto === 'udp') {
          expect(v.kind).toBe(PacketKind.UDP);
          return;
        }
        expect(v.kind).toBe(PacketKind.TCP);
        expect(tcpdumpFlags(v.flags)).toBe(e.flags);
        if (e.seq !== undefined) expect(v.seq).toBe(e.seq);
        if (e.ack !== undefined) expect(v.ack).toBe(e.ack);
        expect(v.window).toBe(e.win);
        expect(verifyTcpChecksum(v)).toBe(e.cksumCorrect);
        const opts = e.options ?? '';
        expect(v.mss).toBe(Number(/mss (\d+)/.exec(opts)?.[1] ?? -1));
        expect(v.wscale).toBe(Number(/wscale (\d+)/.exec(opts)?.[1] ?? -1));
        expect(v.sackPermitted).toBe(opts.includes('sackOK'));
        expect(v.tsVal).toBe(Number(/TS val (\d+)/.exec(opts)?.[1] ?? -1));
        expect(v.tsEcr).toBe(Number(/ecr (\d+)/.exec(opts)?.[1] ?? -1));
        expect(v.markerOff).toBe(-1);
        expect(v.optEnd).toBe(v.l4Off + v.tcpHeaderLen);
      });
    });
  });
}

describe('tokens in real packets', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sg-packet-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const token = Uint8Array.from({ length: 333 }, (_, i) => (i * 37 + 11) & 0xff);
  const out: PcapRecord[] = [];
  const originals: Uint8Array[] = [];
  let linkType = 1;
  const kinds = new Set<string>();

  for (const name of FIXTURES) {
    const file = readPcapFile(join(DIR, name));
    linkType = file.linkType;
    const lt = linkTypeOfPcap(file.linkType, name);
    const v = new PacketView();
    for (const rec of file.records) {
      const buf = new Uint8Array(rec.data.length + FRAME_HEADROOM);
      buf.set(rec.data);
      if (parseFrame(buf, 0, rec.data.length, lt, v) !== ParseStatus.OK || canCarryToken(v) !== 0) continue;
      kinds.add(tcpdumpFlags(v.flags));
      const n = insertToken(buf, v, token, 0, token.length, 1500);
      expect(n).toBe(rec.data.length + 8 + token.length);
      out.push({ tsSec: rec.tsSec, tsFrac: rec.tsFrac, data: buf.slice(0, n), origLen: n });
      originals.push(Uint8Array.from(rec.data));
    }
  }

  it('cover SYN, SYN-ACK and ACK', () => {
    expect([...kinds].sort()).toEqual(['.', 'S', 'S.']);
    expect(out.length).toBeGreaterThanOrEqual(9);
  });

  it('parse back with a TOKEN marker and valid checksums, then strip to the original bytes', () => {
    const lt = linkTypeOfPcap(linkType);
    const v = new PacketView();
    out.forEach((rec, i) => {
      const buf = new Uint8Array(rec.data.length + FRAME_HEADROOM);
      buf.set(rec.data);
      expect(parseFrame(buf, 0, rec.data.length, lt, v)).toBe(ParseStatus.OK);
      expect(findMarker(v)).toBe(Marker.TOKEN);
      expect(buf.subarray(v.tokenOff, v.tokenOff + v.tokenLen)).toEqual(token);
      expect(verifyIpv4Checksum(v) && verifyTcpChecksum(v)).toBe(true);
      const n = stripToken(buf, v);
      expect(buf.subarray(0, n)).toEqual(originals[i]);
    });
  });

  it.skipIf(!has('tshark'))('tshark reports both checksums good and sees our ExID', () => {
    const path = join(tmp, 'tokens.pcap');
    writePcapFile(path, { linkType, records: out });
    const txt = execFileSync(
      'tshark',
      ['-r', path, '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=/t',
        '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'tcp.options.experimental.exid', '-e', 'tcp.len', '-e', '_ws.malformed'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const rows = txt.trim().split('\n').map((l) => l.split('\t'));
    expect(rows.length).toBe(out.length);
    for (const r of rows) {
      // proto_checksum_enum: 1 = good.
      expect(r.slice(0, 4)).toEqual(['1', '1', `0x${SYNGATE_EXID.toString(16)}`, String(token.length)]);
      expect(r[4] ?? '').toBe('');
    }
  });

  it.skipIf(!has('tcpdump'))('tcpdump -vv reports every TCP checksum correct', () => {
    const path = join(tmp, 'tokens-tcpdump.pcap');
    writePcapFile(path, { linkType, records: out });
    const txt = execFileSync('tcpdump', ['-vv', '-nn', '-r', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const entries = parseTcpdumpText(txt.split('\n').map((l) => l.replace(/^\d\d:\d\d:\d\d\.\d+ /, '0.0 ')).join('\n'));
    expect(entries.length).toBe(out.length);
    for (const e of entries) {
      expect(e.cksumCorrect).toBe(true);
      expect(e.text).not.toMatch(/bad cksum/);
      expect(e.length).toBe(token.length);
    }
  });
});

describe('pcap file round trip', () => {
  it('writePcap(readPcap(x)) reproduces the capture records', () => {
    for (const name of FIXTURES) {
      const bytes = readFileSync(join(DIR, name));
      const f = readPcapFile(join(DIR, name));
      const again = writePcap(f);
      const back = readPcapFile(join(DIR, name));
      expect(again.length).toBe(bytes.length);
      expect(back.records.map((r) => [r.tsSec, r.tsFrac, Buffer.from(r.data).toString('hex')])).toEqual(
        f.records.map((r) => [r.tsSec, r.tsFrac, Buffer.from(r.data).toString('hex')]),
      );
    }
  });
});
