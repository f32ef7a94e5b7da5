// When the nfqueue adapter drains a queue socket after a packet from the binding: only while
// packets come back to back (or the last drain found a backlog). A sparse packet skips the drain
// (whose final read always ends in an EAGAIN exception) and leaves the socket to the binding.
// The socket here is a non-blocking FIFO carrying nfnetlink_queue packet messages; the clock is fake.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DRAIN_IDLE_MS, NfqDrain } from '../../enforcer/datapath/nfqueue-drain.js';

/** NFQNL_MSG_PACKET for `queue` with packet id `id` and a 20-byte payload (netlink headers little-endian, nfnetlink fields big-endian). */
function packetMessage(queue: number, id: number): Buffer {
  const payload = Buffer.alloc(20, 0x45);
  const hdr = Buffer.alloc(12); // NFQA_PACKET_HDR: len 11 (+1 pad), type 1: id, hw_protocol, hook
  hdr.writeUInt16LE(11, 0);
  hdr.writeUInt16LE(1, 2);
  hdr.writeUInt32BE(id, 4);
  hdr.writeUInt16BE(0x0800, 8);
  hdr[10] = 2;
  const pay = Buffer.alloc(4); // NFQA_PAYLOAD, type 10
  pay.writeUInt16LE(4 + payload.length, 0);
  pay.writeUInt16LE(10, 2);
  const nfgen = Buffer.from([2, 0, (queue >> 8) & 0xff, queue & 0xff]);
  const body = Buffer.concat([nfgen, hdr, pay, payload]);
  const nl = Buffer.alloc(16);
  nl.writeUInt32LE(16 + body.length, 0);
  nl.writeUInt16LE(0x0300, 4);
  return Buffer.concat([nl, body]);
}

describe('NfqDrain.afterBindingPacket', () => {
  let dir: string;
  let fd: number;
  let now: number;
  let seen: number[];
  let drain: NfqDrain;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-drain-'));
    const fifo = join(dir, 'q');
    execFileSync('mkfifo', [fifo]);
    fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    now = 1000;
    seen = [];
    drain = new NfqDrain([fd], (_q, id) => seen.push(id), () => now);
  });
  afterEach(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });

  const queue = (...ids: number[]): void => {
    for (const id of ids) writeSync(fd, packetMessage(7100, id));
  };

  it('skips the drain after a sparse packet: the queued packets stay for the binding', () => {
    drain.afterBindingPacket(0, now); // the queue's first callback ends at t=1000
    now += 5; // 5 ms later: an ordinary connection's next packet
    queue(1, 2);
    expect(drain.afterBindingPacket(0, now)).toBe(0);
    expect(seen).toEqual([]);
    expect(drain.drain(0)).toBeGreaterThan(0); // still there
    expect(seen).toEqual([1, 2]);
  });

  it('drains after a packet that came back to back, and keeps draining while it finds a backlog', () => {
    drain.afterBindingPacket(0, now);
    queue(3, 4);
    now += DRAIN_IDLE_MS / 2;
    expect(drain.afterBindingPacket(0, now)).toBeGreaterThan(0);
    expect(seen).toEqual([3, 4]);
    // The last drain found packets: the next one drains even after a pause (and finds the rest).
    now += 10;
    queue(5);
    expect(drain.afterBindingPacket(0, now)).toBeGreaterThan(0);
    expect(seen).toEqual([3, 4, 5]);
    // An empty drain ends the backlog; after another pause the drain is skipped again.
    now += 10;
    expect(drain.afterBindingPacket(0, now)).toBe(0);
    now += 10;
    queue(6);
    expect(drain.afterBindingPacket(0, now)).toBe(0);
    expect(seen).toEqual([3, 4, 5]);
    expect(drain.errors).toBe(0);
  });
});
