// The pcap bridge adapter: bump-in-the-wire between two interfaces. `cap` copies every frame read on
// one side into that side's preallocated buffer (FRAME_HEADROOM spare bytes past 65535) and emits
// it synchronously; the handler decides; the frame is injected on the other side with cap.send.
// Invariants:
//  - frames are Ethernet (LinkType.ETHERNET); the buffer is reused, so nothing keeps a reference to
//    a frame after its packet event returns;
//  - ARP passes through unchanged (the bridge must be transparent at L2); IPv4 goes to the handler;
//    every other EtherType (IPv6 included: the engine enforces IPv4 only) is dropped and counted;
//  - no BPF filter and no direction filter: a packet socket never receives its own transmissions,
//    and an inbound filter lost the first ARP replies (see /work/shared/MEASUREMENTS.md);
//  - outbox frames (RSTs, token-only ACKs) are whole Ethernet frames, sent with cap.send on the side
//    their direction names (OUTBOUND: `outside`, INBOUND: `inside`) before the frame that produced
//    them is forwarded; cap.send (360k pkt/s) is used rather than raw-socket (12k pkt/s) because
//    the bridge's namespace needs no IP address or route for it;
//  - start() refuses when checksum/segmentation/receive offloads are on for either interface: TCP
//    then carries partial checksums and GSO super-frames that cannot be re-injected.
import { execFileSync } from 'node:child_process';
import { SyngateError } from '../errors.js';
import { Direction, FRAME_HEADROOM, LinkType, Verdict } from '../engine/types.js';
import { AdapterBase } from './base.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, etherType } from './frame.js';
import { loadCap } from './native.js';
import type { CapHandle } from './native.js';
import type { DatapathAdapter, FrameHandler, PcapOptions, StopOptions } from './types.js';

const SNAPLEN = 65535;
const DEFAULT_BUFFER = 8 << 20;
/** ethtool -k features that must be off on both bridged interfaces. */
export const OFFLOAD_FEATURES = ['tx-checksumming', 'tcp-segmentation-offload', 'generic-segmentation-offload', 'generic-receive-offload'] as const;

/** Features from OFFLOAD_FEATURES that `ethtool -k` output reports as on. */
export function offloadsOn(ethtoolOutput: string): string[] {
  const on: string[] = [];
  for (const line of ethtoolOutput.split('\n')) {
    const m = /^([a-z0-9-]+):\s+(on|off)/.exec(line.trim());
    if (m === null) continue;
    const [, name, value] = m;
    if (value === 'on' && (OFFLOAD_FEATURES as readonly string[]).includes(name ?? '')) on.push(name ?? '');
  }
  return on;
}

/** Throws SYNGATE_DATAPATH_OFFLOADS naming the interface, the features and the command that fixes it. */
export function checkOffloads(ifname: string, ethtool = 'ethtool'): void {
  let out: string;
  try {
    out = execFileSync(ethtool, ['-k', ifname], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    throw new SyngateError('SYNGATE_DATAPATH_OFFLOADS', `pcap datapath: cannot read offload settings of '${ifname}' with \`${ethtool} -k ${ifname}\`: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const on = offloadsOn(out);
  if (on.length > 0) {
    throw new SyngateError(
      'SYNGATE_DATAPATH_OFFLOADS',
      `pcap datapath: offloads are on for '${ifname}' (${on.join(', ')}); a userspace bridge then sees partial checksums and GSO super-frames and TCP breaks. ` +
        `Turn them off on both bridged interfaces and their peers: \`ethtool -K ${ifname} tx off tso off gso off gro off\``,
    );
  }
}

interface Side {
  name: string;
  cap: CapHandle;
  buf: Buffer;
  direction: Direction;
}

export class PcapAdapter extends AdapterBase implements DatapathAdapter {
  readonly kind = 'pcap' as const;
  readonly linkType = LinkType.ETHERNET;
  private inside: Side | null = null;
  private outside: Side | null = null;

  constructor(private readonly opts: PcapOptions) {
    super(LinkType.ETHERNET, opts.origDstCapacity, opts.log);
    if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(opts.inside) || !/^[A-Za-z0-9_.:-]{1,15}$/.test(opts.outside) || opts.inside === opts.outside) {
      throw new SyngateError('SYNGATE_DATAPATH_CONFIG', `pcap datapath: inside ('${opts.inside}') and outside ('${opts.outside}') must be two different interface names`);
    }
  }

  async start(handler: FrameHandler): Promise<void> {
    if (this.core.state !== 'idle') throw new SyngateError('SYNGATE_DATAPATH_STATE', `pcap datapath: start() called in state ${this.core.state}`);
    this.core.handler = handler;
    this.core.setState('starting');
    try {
      if (this.opts.skipOffloadCheck !== true) {
        checkOffloads(this.opts.inside);
        checkOffloads(this.opts.outside);
      } else {
        this.core.log('pcap datapath: offload check skipped (skipOffloadCheck)');
      }
      const mod = loadCap();
      const bufSize = this.opts.bufferSize ?? DEFAULT_BUFFER;
      this.inside = this.open(mod.Cap, this.opts.inside, bufSize, Direction.OUTBOUND);
      this.outside = this.open(mod.Cap, this.opts.outside, bufSize, Direction.INBOUND);
      const inside = this.inside;
      const outside = this.outside;
      inside.cap.on('packet', (n, trunc) => this.onFrame(inside, outside, n, trunc));
      outside.cap.on('packet', (n, trunc) => this.onFrame(outside, inside, n, trunc));
      this.core.log(`pcap datapath: bridging ${this.opts.inside} (workloads, OUTBOUND) <-> ${this.opts.outside} (network, INBOUND); both interfaces are in promiscuous mode`);
      this.core.setState('ready');
    } catch (e) {
      this.closeAll();
      const err = e instanceof SyngateError ? e : new SyngateError('SYNGATE_DATAPATH_START', `pcap datapath: start failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      this.core.setState('failed', err);
      throw err;
    }
  }

  private open(Cap: new () => CapHandle, name: string, bufSize: number, direction: Direction): Side {
    const cap = new Cap();
    const buf = Buffer.alloc(SNAPLEN + FRAME_HEADROOM);
    let link: string;
    try {
      link = cap.open(name, '', bufSize, buf);
    } catch (e) {
      throw new SyngateError('SYNGATE_DATAPATH_OPEN', `pcap datapath: cannot open interface '${name}' (missing, or not root?): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (link !== 'ETHERNET') {
      cap.close();
      throw new SyngateError('SYNGATE_DATAPATH_OPEN', `pcap datapath: interface '${name}' has link type ${link}; only Ethernet can be bridged`);
    }
    // setMinBytes exists only on Windows builds of cap.
    if (typeof cap.setMinBytes === 'function') cap.setMinBytes(0);
    return { name, cap, buf, direction };
  }

  private onFrame(from: Side, to: Side, nbytes: number, truncated: boolean): void {
    const c = this.core.c;
    if (this.core.state !== 'ready') return;
    if (truncated || nbytes > SNAPLEN) {
      c.framesOversize++;
      return;
    }
    const buf = from.buf;
    const et = etherType(buf, 0, nbytes);
    if (et === ETHERTYPE_ARP) {
      c.framesPassedThrough++;
      this.send(to, buf, nbytes);
      return;
    }
    if (et !== ETHERTYPE_IPV4) {
      c.framesDropped++;
      return;
    }
    const d = this.core.decide(buf, 0, nbytes, from.direction);
    for (let i = 0; i < d.outboxCount; i++) {
      const e = d.outbox[i];
      if (e === undefined) continue;
      const side = e.direction === Direction.OUTBOUND ? this.outside : this.inside;
      if (side !== null && this.send(side, e.buf, e.length)) c.outboxSent++;
    }
    if ((d.verdict as Verdict) === Verdict.FORWARD) this.send(to, buf, d.length);
  }

  private send(side: Side, buf: Uint8Array, length: number): boolean {
    try {
      side.cap.send(buf, length);
      return true;
    } catch (e) {
      this.core.c.sendErrors++;
      if (this.core.c.sendErrors <= 5) this.core.log(`pcap datapath: send on ${side.name} failed: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  private closeAll(): void {
    for (const s of [this.inside, this.outside]) {
      if (s === null) continue;
      try {
        s.cap.removeAllListeners('packet');
        s.cap.close();
      } catch {
        // Already closed.
      }
    }
    this.inside = null;
    this.outside = null;
  }

  async stop(_opts?: StopOptions): Promise<void> {
    const st = this.core.state;
    if (st === 'stopped' || st === 'stopping') return;
    this.core.setState('stopping');
    this.closeAll();
    this.core.handler = null;
    this.core.setState('stopped');
  }
}
