// The nfnetlink_queue codec of the nfqueue drain path, on messages written out byte by byte as
// the kernel sends them (netlink and attribute headers little-endian, nfnetlink fields
// big-endian), and the /proc walk that finds the binding's queue sockets, on a fake procfs.
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NfqKind, NfqMessage, QUEUE_MAXLEN_MSG_LEN, encodeQueueMaxlen, parseNfqMessage } from '../../enforcer/datapath/nfnetlink.js';
import { findQueueSockets } from '../../enforcer/datapath/nfqueue-drain.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+|\|/g, ''), 'hex');

// A SYN 198.18.1.2:12345 -> 198.18.2.2:8080, 40 bytes.
const SYN = '45000028 00010000 40060000 c6120102 c6120202 | 30391f90 00000001 00000000 5002faf0 00000000';
// NFQNL_MSG_PACKET for queue 7100 (0x1bbc): 92 bytes.
const PACKET =
  '5c000000 0003 0000 00000000 00000000' + // nlmsghdr: len 92, type 0x0300 (QUEUE << 8 | PACKET), flags, seq, pid
  '02 00 1bbc' + // nfgenmsg: AF_INET, v0, res_id 7100 (big-endian)
  '0b00 0100 0000002a 0800 02 00' + // NFQA_PACKET_HDR (len 11, padded): id 42, ETH_P_IP, hook FORWARD
  '0800 0300 10000000' + // NFQA_MARK 0x10000000
  '0800 0500 00000003' + // NFQA_IFINDEX_INDEV 3 (ignored)
  '2c00 0a00' + SYN; // NFQA_PAYLOAD, 40 bytes

describe('parseNfqMessage', () => {
  const m = new NfqMessage();

  it('reads queue, packet id, mark and the payload position of a packet message', () => {
    const b = hex(PACKET);
    expect(b.length).toBe(92);
    expect(parseNfqMessage(b, 0, b.length, m)).toBe(92);
    expect(m).toMatchObject({ kind: NfqKind.PACKET, queue: 7100, id: 42, mark: 0x10000000, payloadOff: 52, payloadLen: 40 });
    expect(b.subarray(m.payloadOff, m.payloadOff + m.payloadLen)).toEqual(hex(SYN));
  });

  it('walks several messages in one datagram, at any offset', () => {
    const two = Buffer.concat([Buffer.alloc(8), hex(PACKET), hex(PACKET.replace('0000002a', '0000002b'))]);
    const next = parseNfqMessage(two, 8, two.length, m);
    expect([next, m.id]).toEqual([100, 42]);
    expect([parseNfqMessage(two, next, two.length, m), m.id]).toEqual([two.length, 43]);
  });

  it('reports acks and errors (NLMSG_ERROR: 0 or -errno)', () => {
    const ack = hex('24000000 0200 0000 00001bbc 00000000 | 00000000 | 1c000000 0203 0500 00001bbc 00000000');
    expect(parseNfqMessage(ack, 0, ack.length, m)).toBe(36);
    expect([m.kind, m.error]).toEqual([NfqKind.ERROR, 0]);
    const eperm = hex('24000000 0200 0000 00001bbc 00000000 | ffffffff | 1c000000 0203 0500 00001bbc 00000000');
    parseNfqMessage(eperm, 0, eperm.length, m);
    expect([m.kind, m.error]).toEqual([NfqKind.ERROR, -1]);
  });

  it('refuses a length beyond the datagram, and a header shorter than 16 bytes', () => {
    const b = hex(PACKET);
    expect(parseNfqMessage(b, 0, 91, m)).toBe(-1);
    expect(parseNfqMessage(b, 0, 12, m)).toBe(-1);
    const tiny = hex('08000000 0003 0000 00000000 00000000');
    expect(parseNfqMessage(tiny, 0, tiny.length, m)).toBe(-1);
  });

  it('a payload attribute overrunning its message leaves the packet without payload (dropped by the adapter)', () => {
    const b = hex(PACKET.replace('2c00 0a00', '3000 0a00'));
    expect(parseNfqMessage(b, 0, b.length, m)).toBe(92);
    expect(m).toMatchObject({ kind: NfqKind.PACKET, id: 42, payloadOff: -1, payloadLen: 0 });
  });

  it('a packet message without NFQA_PACKET_HDR has no id and cannot get a verdict', () => {
    const b = hex(PACKET.replace('0b00 0100', '0b00 0f00'));
    parseNfqMessage(b, 0, b.length, m);
    expect(m.kind).toBe(NfqKind.NO_ID);
  });

  it('skips other message types', () => {
    const done = hex('14000000 0300 0200 00000000 00000000 00000000');
    expect(parseNfqMessage(done, 0, done.length, m)).toBe(20);
    expect(m.kind).toBe(NfqKind.OTHER);
  });
});

describe('encodeQueueMaxlen', () => {
  it('writes NFQNL_MSG_CONFIG with NFQA_CFG_QUEUE_MAXLEN, acked, at an offset', () => {
    const b = Buffer.alloc(4 + QUEUE_MAXLEN_MSG_LEN, 0xee);
    expect(encodeQueueMaxlen(b, 4, 7100, 4096, 7)).toBe(28);
    expect(b.subarray(0, 4)).toEqual(hex('eeeeeeee'));
    expect(b.subarray(4).toString('hex')).toBe(
      hex('1c000000 0203 0500 07000000 00000000' + '00 00 1bbc' + '0800 0300 00001000').toString('hex'),
    );
  });
});

describe('findQueueSockets on a fake procfs', () => {
  const root = mkdtempSync(join(tmpdir(), 'sg-proc-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** queue -> [portid, inode, fd, fdinfo flags (octal)] */
  function fakeProc(name: string, socks: Array<[number, number, number, number, string]>, extraFds: Array<[number, string]> = []): string {
    const p = join(root, name);
    mkdirSync(join(p, 'net', 'netfilter'), { recursive: true });
    mkdirSync(join(p, 'self', 'fd'), { recursive: true });
    mkdirSync(join(p, 'self', 'fdinfo'), { recursive: true });
    writeFileSync(join(p, 'net', 'netfilter', 'nfnetlink_queue'), socks.map(([q, port]) => ` ${q} ${port}     0 2 65531     0     0        0  1\n`).join(''));
    writeFileSync(
      join(p, 'net', 'netlink'),
      'sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n' +
        socks.map(([, port, inode]) => `0000000000000000 12  ${port} 00000000 0        0        0     2        0        ${inode}\n`).join('') +
        '0000000000000000 0   4242       00000000 0        0        0     2        0        999\n',
    );
    for (const [, , inode, fd, flags] of socks) {
      symlinkSync(`socket:[${inode}]`, join(p, 'self', 'fd', String(fd)));
      writeFileSync(join(p, 'self', 'fdinfo', String(fd)), `pos:\t0\nflags:\t${flags}\nmnt_id:\t9\n`);
    }
    for (const [fd, target] of extraFds) symlinkSync(target, join(p, 'self', 'fd', String(fd)));
    return p;
  }

  it('maps queue -> port id -> socket inode -> our fd, in the order asked', () => {
    const p = fakeProc('ok', [[7100, 31, 501, 21, '02004002'], [7101, 4294963200, 502, 23, '02004002']], [[0, '/dev/null'], [5, 'pipe:[77]']]);
    expect(findQueueSockets([7101, 7100], p)).toEqual([23, 21]);
  });

  it('refuses a blocking socket, a queue bound by someone else, and a queue not bound', () => {
    expect(findQueueSockets([7100], fakeProc('blocking', [[7100, 31, 501, 21, '02000002']]))).toMatch(/blocking/);
    const other = fakeProc('other', [[7100, 31, 501, 21, '02004002']]);
    rmSync(join(other, 'self', 'fd', '21'));
    expect(findQueueSockets([7100], other)).toMatch(/not one of this process's fds/);
    expect(findQueueSockets([7300], other)).toMatch(/queue 7300 is not listed/);
    expect(findQueueSockets([7100], join(root, 'missing'))).toMatch(/cannot read/);
  });
});
