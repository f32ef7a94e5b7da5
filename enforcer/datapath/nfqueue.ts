// The nfqueue adapter: the production path. The kernel queues only handshake packets (see
// nfqueue-rules.ts); each is copied into one preallocated buffer with FRAME_HEADROOM spare bytes,
// decided by the handler, and returned with a verdict that may carry the rewritten packet and the
// role's "authorized" mark (saved to the connmark by our rules).
// Invariants:
//  - frames are bare IPv4 (LinkType.RAW_IPV4);
//  - a packet is accepted only if the handler said FORWARD; anything else, a throw, a packet
//    larger than the buffer, or a packet arriving while not `ready`, is dropped (fail closed);
//  - outbox packets are sent (synchronously, through a send-only raw IPv4 socket with the header
//    included) before the verdict on the packet that produced them, so a token-only ACK precedes
//    the data segment it was split from;
//  - rules are installed after all four queues are bound, idempotently (old chains of the same prefix
//    are removed first), and removed by stop() unless `removeRules: false`;
//  - the `nfqueue` binding cannot unbind a queue: after stop() the process must exit to release it
//    (the daemon does); packets still queued to us after stop() are dropped;
//  - after a packet the binding delivers while packets come back to back, the adapter reads that
//    queue's socket to empty itself (nfqueue-drain.ts: the binding reads one packet per event-loop
//    turn; sparse packets skip it, the binding reads them one per turn anyway) and each queue's length
//    is raised to QUEUE_MAXLEN; a packet read either way takes the same path (onPacket), a message
//    without a usable payload is dropped; if the sockets cannot be proven ours the adapter runs
//    with the binding alone (logged). Overflow beyond QUEUE_MAXLEN still drops (no fail-open flag).
import { execFileSync } from 'node:child_process';
import { SyngateError } from '../errors.js';
import { FRAME_HEADROOM, LinkType, Verdict } from '../engine/types.js';
import { Direction } from '../engine/types.js';
import { AdapterBase } from './base.js';
import { IPV4_OFF_DST, ipToString, readU32 } from './frame.js';
import { loadNfqueue, loadRawSocket } from './native.js';
import type { NfqNative, RawSocket } from './native.js';
import { DRAIN_BUDGET, NfqDrain, findQueueSockets } from './nfqueue-drain.js';
import { installScript, queueRoleMark, removalCommands } from './nfqueue-rules.js';
import type { NfqueueRuleSpec } from './nfqueue-rules.js';
import type { DatapathAdapter, FrameHandler, NfqueueOptions, StopOptions } from './types.js';

/** Largest IPv4 packet. */
const MAX_PACKET = 65535;
const IPPROTO_RAW = 255;
/**
 * Packets each queue holds awaiting a verdict before the kernel drops (kernel default 1024): room
 * for ~100 ms of scheduling gap (GC, a policy compile, a busy core) at 40k SYN/s, the rate one
 * enforcer core handles; a longer queue only adds latency once the reader falls behind for good
 * (docs/datapath.md, "Draining the queues"). Every queued packet also sits in the socket's
 * receive buffer (skb truesize, 1.3-2.3 KB for a SYN with a token), so the buffer is sized for a
 * full queue; the kernel doubles the value we ask for.
 */
export const QUEUE_MAXLEN = 4096;
const QUEUE_SOCKET_BUFFER = 8 << 20;
const IFNAME_RE = /^[A-Za-z0-9_.:-]{1,15}\*?$/;
const PREFIX_RE = /^[A-Za-z][A-Za-z0-9_]{0,15}$/;

export const DEFAULT_QUEUE_BASE = 7100;
export const DEFAULT_MARK_CLIENT = 0x10000000;
export const DEFAULT_MARK_SERVER = 0x20000000;

/** Runs iptables; throws with stderr on failure. */
function iptables(bin: string, args: readonly string[], input?: string): void {
  execFileSync(bin, ['-w', ...args], { input: input ?? '', stdio: ['pipe', 'ignore', 'pipe'], timeout: 20_000 });
}

/** Validated rule spec from options. Throws SYNGATE_DATAPATH_CONFIG. */
export function nfqueueRuleSpec(o: NfqueueOptions): NfqueueRuleSpec {
  const bad = (what: string): never => {
    throw new SyngateError('SYNGATE_DATAPATH_CONFIG', `nfqueue datapath: ${what}`);
  };
  if (o.workloadInterfaces.length === 0) bad('workloadInterfaces must name at least one interface (e.g. "veth*")');
  for (const w of o.workloadInterfaces) if (!IFNAME_RE.test(w)) bad(`workloadInterfaces: '${w}' is not an interface name or prefix pattern (NAME or PREFIX*)`);
  const prefix = (o.table ?? 'syngate').toUpperCase();
  if (!PREFIX_RE.test(prefix)) bad(`table: '${o.table ?? ''}' must be 1-16 letters, digits or _ starting with a letter`);
  const queueBase = o.queueBase ?? DEFAULT_QUEUE_BASE;
  if (!Number.isInteger(queueBase) || queueBase < 0 || queueBase > 65532) bad(`queueBase: ${queueBase} must be an integer in 0..65532 (4 queues are used)`);
  const markClient = o.markClient ?? DEFAULT_MARK_CLIENT;
  const markServer = o.markServer ?? DEFAULT_MARK_SERVER;
  for (const [k, m] of [['markClient', markClient], ['markServer', markServer]] as const) {
    if (!Number.isInteger(m) || m <= 0 || m > 0xffffffff || (m & (m - 1)) !== 0) bad(`${k}: ${m} must be a single bit`);
  }
  if (markClient === markServer) bad('markClient and markServer must differ');
  return { prefix, workloadInterfaces: o.workloadInterfaces, queueBase, failOpen: o.failOpen === true, markClient, markServer };
}

export class NfqueueAdapter extends AdapterBase implements DatapathAdapter {
  readonly kind = 'nfqueue' as const;
  readonly linkType = LinkType.RAW_IPV4;
  private readonly spec: NfqueueRuleSpec;
  private readonly frame = Buffer.alloc(MAX_PACKET + FRAME_HEADROOM);
  private readonly queues: NfqNative[] = [];
  /** Per queue index: the role mark its authorized packets carry. */
  private readonly marks: number[] = [];
  private drainer: NfqDrain | null = null;
  private raw: RawSocket | null = null;
  private rawSend: ((buf: Uint8Array, off: number, len: number, addr: string, cb: (bytes: number) => void) => void) | null = null;
  private rulesInstalled = false;
  private accept = 1;
  private drop = 0;
  private readonly iptablesBin: string;

  constructor(opts: NfqueueOptions) {
    super(LinkType.RAW_IPV4, opts.origDstCapacity, opts.log);
    this.spec = nfqueueRuleSpec(opts);
    this.iptablesBin = opts.iptables ?? 'iptables';
  }

  async start(handler: FrameHandler): Promise<void> {
    if (this.core.state !== 'idle') throw new SyngateError('SYNGATE_DATAPATH_STATE', `nfqueue datapath: start() called in state ${this.core.state}`);
    this.core.handler = handler;
    this.core.setState('starting');
    const log = this.core.log;
    try {
      const nfq = loadNfqueue();
      this.accept = nfq.NF_ACCEPT;
      this.drop = nfq.NF_DROP;
      const rs = loadRawSocket();
      const raw = rs.createSocket({ protocol: IPPROTO_RAW });
      raw.on('error', (e) => {
        this.core.c.sendErrors++;
        log(`nfqueue datapath: raw socket error: ${e.message}`);
      });
      this.raw = raw;
      // The binding's SocketWrap.send is a synchronous sendto(); the public send() defers to the
      // next writable event, which would reorder outbox packets after the verdict.
      const wrap = (raw as unknown as { wrap: { send: (b: Uint8Array, o: number, l: number, a: string, cb: (n: number) => void) => void; pause?: (r: boolean, s: boolean) => void } }).wrap;
      wrap.pause?.(true, true);
      this.rawSend = wrap.send.bind(wrap);
      for (let i = 0; i < 4; i++) {
        const q = new nfq.NFQueue().bindings;
        const num = this.spec.queueBase + i;
        try {
          q.open(num, QUEUE_SOCKET_BUFFER);
        } catch (e) {
          throw new SyngateError(
            'SYNGATE_DATAPATH_QUEUE_BIND',
            `nfqueue datapath: cannot bind netfilter queue ${num} (is another syngate running in this network namespace, or are we not root?): ${e instanceof Error ? e.message : String(e)}`,
            { cause: e },
          );
        }
        const index = i;
        q.read((info, payload) => {
          const dr = this.drainer;
          const started = dr === null ? 0 : dr.clock();
          this.onPacket(index, info.id, info.nfmark, payload, 0, payload.length);
          dr?.afterBindingPacket(index, started);
          return 0;
        });
        this.queues.push(q);
        this.marks.push(queueRoleMark(i, this.spec));
      }
      this.startDrain();
      this.installRules();
      if (this.spec.failOpen) {
        log(`nfqueue datapath: WARNING queue bypass (fail-open) is ON: while no daemon listens on queues ${this.spec.queueBase}-${this.spec.queueBase + 3}, handshakes pass UNCHECKED`);
      }
      this.core.setState('ready');
    } catch (e) {
      this.removeRules();
      const err = e instanceof SyngateError ? e : new SyngateError('SYNGATE_DATAPATH_START', `nfqueue datapath: start failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      this.core.setState('failed', err);
      throw err;
    }
  }

  /** Finds the queue sockets and raises their length; without them the binding alone reads (logged). */
  private startDrain(): void {
    const base = this.spec.queueBase;
    const fds = findQueueSockets([base, base + 1, base + 2, base + 3]);
    if (typeof fds === 'string') {
      this.core.log(`nfqueue datapath: WARNING reading one packet per wake-up and kernel queue length 1024: ${fds}`);
      return;
    }
    const drainer = new NfqDrain(fds, (queue, id, mark, buf, off, len) => this.onPacket(queue - base, id, mark, buf, off, len));
    const refused: string[] = [];
    for (let i = 0; i < 4; i++) {
      const why = drainer.setMaxlen(i, base + i, QUEUE_MAXLEN);
      if (why !== null) refused.push(`queue ${base + i}: ${why}`);
    }
    this.drainer = drainer;
    this.core.log(
      `nfqueue datapath: reading each queue socket to empty per wake-up (at most ${DRAIN_BUDGET} packets); ` +
        (refused.length === 0 ? `queue length ${QUEUE_MAXLEN}` : `WARNING queue length left at the kernel default 1024 (${refused.join('; ')})`),
    );
  }

  private installRules(): void {
    const log = this.core.log;
    this.removeRules(true);
    const script = installScript(this.spec);
    try {
      iptables(`${this.iptablesBin}-restore`, ['--noflush'], script);
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
      throw new SyngateError('SYNGATE_DATAPATH_RULES', `nfqueue datapath: installing iptables rules failed: ${stderr || (e instanceof Error ? e.message : String(e))}`, { cause: e });
    }
    this.rulesInstalled = true;
    log(
      `nfqueue datapath: installed iptables chains ${this.spec.prefix}-* in this network namespace (jumps from mangle FORWARD, mangle POSTROUTING, filter FORWARD); ` +
        `workload interfaces ${this.spec.workloadInterfaces.join(',')}; queues ${this.spec.queueBase}-${this.spec.queueBase + 3}; ` +
        `connmark bits client=0x${this.spec.markClient.toString(16)} server=0x${this.spec.markServer.toString(16)}; fail-open ${this.spec.failOpen ? 'ON' : 'off'}`,
    );
  }

  /** True iff a chain of ours is still present (iptables-save of mangle and filter). */
  private chainsPresent(): boolean {
    const marker = `:${this.spec.prefix}-`;
    for (const t of ['mangle', 'filter']) {
      try {
        const out = execFileSync(`${this.iptablesBin}-save`, ['-t', t], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
        if (out.includes(marker)) return true;
      } catch {
        // table absent: nothing of ours there
      }
    }
    return false;
  }

  /**
   * Removes our jumps and chains. Each command may fail because the object is already gone
   * (idempotent); a transient failure (xtables lock, concurrent nft transaction) is caught by
   * checking iptables-save afterwards and retrying, a bounded number of times.
   */
  private removeRules(quiet = false): void {
    let removed = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      for (const args of removalCommands(this.spec.prefix)) {
        try {
          iptables(this.iptablesBin, args);
          removed++;
        } catch {
          // Already absent: removal is idempotent.
        }
      }
      if (!this.chainsPresent()) break;
      if (attempt === 3) this.core.log(`nfqueue datapath: WARNING could not remove every iptables chain ${this.spec.prefix}-* (see iptables-save)`);
    }
    if (!quiet && (removed > 0 || this.rulesInstalled)) this.core.log(`nfqueue datapath: removed iptables chains ${this.spec.prefix}-*`);
    this.rulesInstalled = false;
  }

  /**
   * One queued packet: queue index (0..3), kernel packet id, its mark, and its bytes at
   * src[off..off+len) (len < 0: the message carried none). Gives it exactly one verdict.
   */
  private onPacket(index: number, id: number, nfmark: number, src: Buffer, off: number, len: number): void {
    const q = this.queues[index];
    if (q === undefined) {
      this.core.c.framesDropped++; // not one of our queues: no handle to give it a verdict with
      return;
    }
    if (this.core.state !== 'ready' || len < 0 || len > MAX_PACKET) {
      if (len > MAX_PACKET) this.core.c.framesOversize++;
      q.setVerdict(id, this.drop, null);
      return;
    }
    const direction = index < 2 ? Direction.OUTBOUND : Direction.INBOUND;
    const frame = this.frame;
    src.copy(frame, 0, off, off + len);
    const d = this.core.decide(frame, 0, len, direction);
    for (let i = 0; i < d.outboxCount; i++) {
      const e = d.outbox[i];
      if (e !== undefined) this.sendRaw(e.buf, e.length);
    }
    try {
      if (d.verdict === Verdict.FORWARD) {
        const rewritten = d.length !== len || frame.compare(src, off, off + len, 0, len) !== 0;
        const buf = rewritten ? frame.subarray(0, d.length) : null;
        if (d.authorized) q.setVerdict(id, this.accept, (nfmark | (this.marks[index] ?? 0)) >>> 0, buf);
        else q.setVerdict(id, this.accept, buf);
      } else {
        q.setVerdict(id, this.drop, null);
      }
    } catch (e) {
      this.core.c.sendErrors++;
      if (this.core.c.sendErrors <= 5) this.core.log(`nfqueue datapath: verdict failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private sendRaw(buf: Uint8Array, length: number): void {
    const send = this.rawSend;
    if (send === null || length < 20) return;
    try {
      // IPv4 header included; the destination address routes it (toward the network or the workload).
      send(buf, 0, length, ipToString(readU32(buf, IPV4_OFF_DST)), () => undefined);
      this.core.c.outboxSent++;
    } catch (e) {
      this.core.c.sendErrors++;
      if (this.core.c.sendErrors <= 5) this.core.log(`nfqueue datapath: sending an outbox packet failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async stop(opts?: StopOptions): Promise<void> {
    const st = this.core.state;
    if (st === 'stopped' || st === 'stopping') return;
    this.core.setState('stopping');
    if (opts?.removeRules === false) {
      if (this.rulesInstalled) this.core.log(`nfqueue datapath: leaving iptables chains ${this.spec.prefix}-* installed: new handshakes are ${this.spec.failOpen ? 'passed unchecked (fail-open)' : 'dropped'} until a daemon binds the queues again`);
    } else {
      this.removeRules();
    }
    try {
      this.raw?.close();
    } catch {
      // Closing a socket that never opened.
    }
    this.raw = null;
    this.rawSend = null;
    this.core.handler = null;
    const dr = this.drainer;
    if (dr !== null) this.core.log(`nfqueue datapath: ${dr.packets} packets were read by the drain (beyond the binding's one per wake-up); ${dr.errors} unreadable`);
    this.core.setState('stopped');
  }
}
