// Reading an nfqueue netlink socket to empty in one wake-up, and setting the queue's length.
// Why this exists: the `nfqueue` binding (node_modules/nfqueue/src/node_nfqueue.cpp, PollAsync)
// does exactly one recv() per libuv readable event, i.e. one packet per event-loop turn (an
// epoll_wait, a recv and a JS callback per packet: `strace -c` of a flooded enforcer counts one
// recvfrom per epoll_pwait), and never calls nfq_set_queue_maxlen, so the kernel's default queue
// length of 1024 applies. The binding exposes neither its file descriptor nor these settings, so
// the adapter finds its sockets through /proc and reads them itself after each packet the binding
// hands it; verdicts still go through the binding (nfq_set_verdict on the same queue handle).
// Invariants:
//  - a socket is used only if /proc proves it is ours and bound to our queue: queue number ->
//    peer port id (/proc/net/netfilter/nfnetlink_queue) -> NETLINK_NETFILTER socket inode
//    (/proc/net/netlink) -> one of this process's fds (/proc/self/fd); and only if it is already
//    non-blocking (libuv's uv_poll_init sets O_NONBLOCK on the fd the binding polls), so a read
//    can never block the event loop; otherwise findQueueSockets returns the reason and the adapter
//    runs with the binding alone;
//  - drain(i) reads only queue i's socket, and is called only from queue i's own packet callback
//    (or synchronously during start): libuv's epoll is level-triggered and reports each fd once
//    per turn, so the binding never wakes for a socket we emptied in the same turn;
//  - after a packet from the binding, the queue is drained only while packets come back to back
//    (afterBindingPacket: the queue's previous callback ended less than DRAIN_IDLE_MS before this
//    one started, or the previous drain found packets). Skipping a drain loses nothing: the
//    socket stays readable and the binding reads the next packet on the next turn;
//  - at most DRAIN_BUDGET datagrams per call (then the fd stays readable and the next turn goes on);
//  - every packet message with an id is handed to `onPacket` (which must give it a verdict);
//    messages we cannot attribute (no id, or a queue number not ours) are counted, never guessed.
import { readFileSync, readSync, readdirSync, readlinkSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { NfqKind, NfqMessage, QUEUE_MAXLEN_MSG_LEN, encodeQueueMaxlen, parseNfqMessage } from './nfnetlink.js';

/** Datagrams read per drain() call at most. */
export const DRAIN_BUDGET = 256;
/**
 * A packet that reached the binding less than this long (ms) after the queue's previous callback
 * ended is part of a burst or a backlog: the adapter drains after it. Sparse packets (ordinary
 * connections) skip the drain, whose last read always fails with EAGAIN. Node throws that as an
 * exception: ~8-11 us hot, several times more cold, after every packet. On a busy 2-vCPU node,
 * that CPU time delayed the next enforcer's wake-up: the live bench's nfq-pass setup cost 515-523
 * us over plain TCP with a drain after every packet, and 364-385 us without (three paired runs).
 */
export const DRAIN_IDLE_MS = 0.1;
/** Receive buffer: the largest queued packet (copy range 0xffff) plus its netlink headers. */
const RX_BUFFER = 65535 + 4096;
/** netlink protocol number of nfnetlink (NETLINK_NETFILTER). */
const NETLINK_NETFILTER = 12;
/** O_NONBLOCK as /proc/PID/fdinfo prints `flags` (octal). */
const O_NONBLOCK = 0o4000;
/** Field positions in /proc/net/netlink rows: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode. */
const NL_COL_PROTO = 1;
const NL_COL_PORTID = 2;
const NL_COL_INODE = 9;
/** Field positions in /proc/net/netfilter/nfnetlink_queue rows: queue_num peer_portid ... */
const NFQ_COL_QUEUE = 0;
const NFQ_COL_PORTID = 1;

const fields = (line: string): string[] => line.trim().split(/\s+/);

/**
 * The fds of this process's netlink sockets bound to `queues` (same order), or a string saying
 * why they cannot be used. `proc` is the procfs mount (tests point it elsewhere).
 */
export function findQueueSockets(queues: readonly number[], proc = '/proc'): number[] | string {
  if (endianness() !== 'LE') return 'netlink headers are host byte order and this reader handles little-endian hosts only';
  let qtxt: string;
  let nltxt: string;
  try {
    qtxt = readFileSync(`${proc}/net/netfilter/nfnetlink_queue`, 'utf8');
    nltxt = readFileSync(`${proc}/net/netlink`, 'utf8');
  } catch (e) {
    return `cannot read ${proc}/net: ${e instanceof Error ? e.message : String(e)}`;
  }
  const portOf = new Map<number, number>();
  for (const line of qtxt.split('\n')) {
    const f = fields(line);
    if (f.length > NFQ_COL_PORTID) portOf.set(Number(f[NFQ_COL_QUEUE]), Number(f[NFQ_COL_PORTID]));
  }
  const inodeOf = new Map<number, number>();
  for (const line of nltxt.split('\n').slice(1)) {
    const f = fields(line);
    if (f.length > NL_COL_INODE && Number(f[NL_COL_PROTO]) === NETLINK_NETFILTER) inodeOf.set(Number(f[NL_COL_PORTID]), Number(f[NL_COL_INODE]));
  }
  const fdOf = new Map<number, number>();
  let names: string[];
  try {
    names = readdirSync(`${proc}/self/fd`);
  } catch (e) {
    return `cannot list ${proc}/self/fd: ${e instanceof Error ? e.message : String(e)}`;
  }
  for (const name of names) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${proc}/self/fd/${name}`));
      if (m !== null) fdOf.set(Number(m[1]), Number(name));
    } catch {
      // closed meanwhile (the readdir handle itself)
    }
  }
  const fds: number[] = [];
  for (const q of queues) {
    const port = portOf.get(q);
    if (port === undefined) return `queue ${q} is not listed in ${proc}/net/netfilter/nfnetlink_queue`;
    const inode = inodeOf.get(port);
    if (inode === undefined) return `queue ${q}'s port id ${port} has no NETLINK_NETFILTER socket in ${proc}/net/netlink`;
    const fd = fdOf.get(inode);
    if (fd === undefined) return `queue ${q}'s socket (inode ${inode}) is not one of this process's fds`;
    let flags = 0;
    try {
      const m = /^flags:\s+([0-7]+)/m.exec(readFileSync(`${proc}/self/fdinfo/${fd}`, 'utf8'));
      flags = m?.[1] === undefined ? 0 : parseInt(m[1], 8);
    } catch {
      // unreadable: treated as blocking
    }
    if ((flags & O_NONBLOCK) === 0) return `queue ${q}'s socket (fd ${fd}) is blocking; reading it could stall the daemon`;
    fds.push(fd);
  }
  return fds;
}

/** Drains queue sockets; one instance per adapter (one receive buffer, reused). */
export class NfqDrain {
  private readonly rx = Buffer.alloc(RX_BUFFER);
  private readonly msg = new NfqMessage();
  private readonly tx = Buffer.alloc(QUEUE_MAXLEN_MSG_LEN);
  /** Packets read here (not through the binding). */
  packets = 0;
  /** Read errors other than "empty", unparsable datagrams, and messages that cannot get a verdict. */
  errors = 0;
  /** The last NLMSG_ERROR seen (0 = ack), or null. */
  lastAck: number | null = null;
  /** Per queue: when its last binding callback ended (clock ms). */
  private readonly lastEnd: Float64Array;
  /** Per queue: 1 iff its last drain read at least one datagram. */
  private readonly backlog: Uint8Array;

  constructor(
    private readonly fds: readonly number[],
    /** Must give the packet a verdict; `buf` is reused after it returns. */
    private readonly onPacket: (queue: number, id: number, mark: number, buf: Buffer, off: number, len: number) => void,
    /** Milliseconds, monotonic (tests pass a fake). */
    readonly clock: () => number = () => performance.now(),
  ) {
    this.lastEnd = new Float64Array(fds.length).fill(-Infinity);
    this.backlog = new Uint8Array(fds.length);
  }

  /**
   * Call after the binding's packet of queue `index` got its verdict, with the clock reading taken
   * when that callback started. Drains the queue iff packets are coming back to back (see
   * DRAIN_IDLE_MS) or its previous drain found packets. Returns the datagrams read.
   */
  afterBindingPacket(index: number, startedMs: number): number {
    const idle = startedMs - (this.lastEnd[index] ?? -Infinity);
    let n = 0;
    if (this.backlog[index] === 1 || idle < DRAIN_IDLE_MS) {
      n = this.drain(index);
      this.backlog[index] = n > 0 ? 1 : 0;
    }
    this.lastEnd[index] = this.clock();
    return n;
  }

  /** Reads queue `index`'s socket until it is empty or DRAIN_BUDGET datagrams were read. Returns the datagrams read. */
  drain(index: number): number {
    const fd = this.fds[index];
    if (fd === undefined) return 0;
    const rx = this.rx;
    const m = this.msg;
    for (let i = 0; i < DRAIN_BUDGET; i++) {
      let n: number;
      try {
        n = readSync(fd, rx, 0, rx.length, null);
      } catch (e) {
        // EAGAIN: empty. Anything else: stop here; the binding's own read goes on as before.
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') this.errors++;
        return i;
      }
      if (n <= 0) return i;
      let off = 0;
      while (off < n) {
        const next = parseNfqMessage(rx, off, n, m);
        if (next < 0) {
          this.errors++;
          break;
        }
        if (m.kind === NfqKind.PACKET) {
          this.packets++;
          this.onPacket(m.queue, m.id, m.mark, rx, m.payloadOff, m.payloadOff < 0 ? -1 : m.payloadLen);
        } else if (m.kind === NfqKind.ERROR) {
          this.lastAck = m.error;
        } else if (m.kind === NfqKind.NO_ID) {
          this.errors++;
        }
        off = next;
      }
    }
    return DRAIN_BUDGET;
  }

  /**
   * Sets queue `index`'s length limit with an acked config request on its own socket (the kernel
   * accepts it only from there). Packets read while waiting for the ack go to `onPacket`.
   * Returns null on success, else the reason.
   */
  setMaxlen(index: number, queue: number, maxlen: number): string | null {
    const fd = this.fds[index];
    if (fd === undefined) return 'no socket';
    const len = encodeQueueMaxlen(this.tx, 0, queue, maxlen, queue);
    try {
      writeSync(fd, this.tx, 0, len);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    // The kernel handles a netlink request inside the send: the ack is already queued.
    this.lastAck = null;
    this.drain(index);
    const ack = this.lastAck as number | null;
    if (ack === null) return 'no ack from the kernel';
    if (ack !== 0) return `kernel refused it (errno ${-ack})`;
    return null;
  }
}
