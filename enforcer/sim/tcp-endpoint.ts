// A small model of a Linux-like TCP endpoint (one simulated host: client and server side) that
// emits and consumes REAL Ethernet+IPv4+TCP frames with correct checksums.
// Invariants:
//  - every frame the host transmits is a complete frame with valid IPv4 and TCP checksums;
//  - frames with a bad checksum, or that are not IPv4/TCP, are counted and dropped before the
//    "stack" sees them (as a kernel would);
//  - every frame the stack accepts is recorded in `rx` (so tests can assert what reached a host),
//    and every byte handed to an application is recorded per connection in `appData`
//    (so tests can assert that no token bytes ever reach an application);
//  - ISNs, IP ids, ephemeral ports and timestamp offsets come from the seeded Prng: runs are
//    deterministic for a seed;
//  - no timers: retransmission happens only on demand (retransmitSyn / retransmitSynAck), the
//    simulator drives time through the wire's fake clock.
import type { Prng } from './prng.js';
import {
  TCPOLEN_MSS,
  TCPOLEN_SACK_PERM,
  TCPOLEN_TIMESTAMP,
  TCPOLEN_WSCALE,
  TCPOPT_MSS,
  TCPOPT_NOP,
  TCPOPT_SACK_PERM,
  TCPOPT_TIMESTAMP,
  TCPOPT_WSCALE,
} from '../packet/index.js';
import {
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  ipToU32,
  macForIp,
  parseFrame,
  u32ToIp,
  writeFrame,
  type ParsedFrame,
} from './frame.js';

export type TcpState =
  | 'CLOSED'
  | 'SYN_SENT'
  | 'SYN_RCVD'
  | 'ESTABLISHED'
  | 'FIN_WAIT_1'
  | 'FIN_WAIT_2'
  | 'CLOSING'
  | 'TIME_WAIT'
  | 'CLOSE_WAIT'
  | 'LAST_ACK';

export interface TcpHostOptions {
  /** Display name, e.g. `bookinfo/productpage`. */
  name: string;
  /** Dotted-quad IPv4 address of the host. */
  ip: string;
  prng: Prng;
  /** Current time in milliseconds (the wire's fake clock). */
  clock: () => number;
  mss?: number;
  /** Window scale shift announced in SYN/SYN-ACK (Linux default 7). */
  wscale?: number;
  sack?: boolean;
  timestamps?: boolean;
}

/** One frame accepted by the host's stack (after checksum verification). */
export interface RxRecord {
  time: number;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  flags: number;
  seq: number;
  ack: number;
  payloadLen: number;
  /** True iff the TCP header still carried an experimental (kind 253) option. */
  hadExperimentalOption: boolean;
  /** `NS/NAME`-free key `localPort>remoteIp:remotePort` of the connection it hit, or null. */
  conn: string | null;
}

export interface ConnectOptions {
  srcPort?: number;
  /** Force the initial sequence number (e.g. to model port reuse with a chosen ISN). */
  isn?: number;
  /** Application data to carry on the handshake's final ACK (a data-bearing third packet). */
  dataOnAck?: Uint8Array;
}

const LINUX_SYN_WINDOW = 64240;
const ESTABLISHED_WINDOW = 502;

function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** True iff a < b in sequence space (RFC 1982 style). */
function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export class TcpConnection {
  readonly host: TcpHost;
  readonly localPort: number;
  readonly remoteIp: number;
  readonly remotePort: number;
  readonly role: 'client' | 'server';
  state: TcpState = 'CLOSED';
  /** Our initial sequence number. */
  readonly isn: number;
  /** The peer's initial sequence number (valid once known). */
  irs = 0;
  sndNxt: number;
  sndUna: number;
  rcvNxt = 0;
  /** Timestamp offset (Linux randomises TSval per connection). */
  readonly tsOffset: number;
  tsRecent = 0;
  peerMss: number | null = null;
  peerWscale: number | null = null;
  peerSackPermitted = false;
  peerTimestamps = false;
  /** Chunks handed to the application, in order. */
  readonly appData: Uint8Array[] = [];
  /** True once the server application accept()ed this connection (handshake completed). */
  accepted = false;
  /** True once the client application saw connect() succeed. */
  connected = false;
  /** True iff the connection was torn down by a received RST. */
  reset = false;
  /** Payload of the RST that reset us (an enforcer's reject RST may carry a reason). */
  resetPayload: Uint8Array | null = null;
  /** True once the peer's FIN was received (application read EOF). */
  eof = false;
  /** The exact bytes of our SYN or SYN-ACK, kept for retransmission. */
  private handshakeFrame: Uint8Array | null = null;
  private pendingAckData: Uint8Array | null = null;

  constructor(host: TcpHost, localPort: number, remoteIp: number, remotePort: number, role: 'client' | 'server', isn: number) {
    this.host = host;
    this.localPort = localPort;
    this.remoteIp = remoteIp;
    this.remotePort = remotePort;
    this.role = role;
    this.isn = isn >>> 0;
    this.sndNxt = this.isn;
    this.sndUna = this.isn;
    this.tsOffset = host.prng.nextU32();
  }

  get key(): string {
    return connKey(this.localPort, this.remoteIp, this.remotePort);
  }

  /** All application bytes received so far, concatenated. */
  received(): Uint8Array {
    return concat(this.appData);
  }

  private tsVal(): number {
    return (Math.floor(this.host.clock()) + this.tsOffset) >>> 0;
  }

  private options(kind: 'syn' | 'data'): Uint8Array {
    const h = this.host;
    if (kind === 'syn') {
      // Linux order: MSS, SACK-permitted, timestamps, NOP, window scale (20 bytes).
      const o: number[] = [TCPOPT_MSS, TCPOLEN_MSS, (h.mss >>> 8) & 0xff, h.mss & 0xff];
      const peerSaysSack = this.role === 'client' || this.peerSackPermitted;
      const peerSaysTs = this.role === 'client' || this.peerTimestamps;
      const peerSaysWs = this.role === 'client' || this.peerWscale !== null;
      if (h.sack && peerSaysSack) o.push(TCPOPT_SACK_PERM, TCPOLEN_SACK_PERM);
      else if (h.timestamps && peerSaysTs) o.push(TCPOPT_NOP, TCPOPT_NOP);
      if (h.timestamps && peerSaysTs) o.push(TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP, ...u32(this.tsVal()), ...u32(this.tsRecent));
      else if (h.sack && peerSaysSack) o.push(TCPOPT_NOP, TCPOPT_NOP);
      if (peerSaysWs) o.push(TCPOPT_NOP, TCPOPT_WSCALE, TCPOLEN_WSCALE, h.wscale);
      return Uint8Array.from(o);
    }
    if (h.timestamps && this.peerTimestamps) {
      return Uint8Array.from([TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP, ...u32(this.tsVal()), ...u32(this.tsRecent)]);
    }
    return new Uint8Array(0);
  }

  private emit(seq: number, flags: number, payload?: Uint8Array, optKind: 'syn' | 'data' = 'data'): Uint8Array {
    const window = flags & TCP_SYN ? LINUX_SYN_WINDOW : ESTABLISHED_WINDOW;
    const frame = this.host.buildFrame(this.remoteIp, this.localPort, this.remotePort, seq, flags & TCP_ACK ? this.rcvNxt : 0, flags, window, this.options(optKind), payload);
    this.host.transmit(frame);
    return frame;
  }

  /** Client: sends the SYN. */
  sendSyn(dataOnAck?: Uint8Array): void {
    this.state = 'SYN_SENT';
    this.pendingAckData = dataOnAck ?? null;
    this.handshakeFrame = this.emit(this.isn, TCP_SYN, undefined, 'syn');
    this.sndNxt = seqAdd(this.isn, 1);
  }

  /** Re-sends the exact bytes of the SYN (client in SYN_SENT). Returns false if not applicable. */
  retransmitSyn(): boolean {
    if (this.role !== 'client' || this.state !== 'SYN_SENT' || this.handshakeFrame === null) return false;
    this.host.transmit(this.handshakeFrame.slice());
    return true;
  }

  /** Re-sends the exact bytes of the SYN-ACK (server in SYN_RCVD). Returns false if not applicable. */
  retransmitSynAck(): boolean {
    if (this.role !== 'server' || this.state !== 'SYN_RCVD' || this.handshakeFrame === null) return false;
    this.host.transmit(this.handshakeFrame.slice());
    return true;
  }

  /** Application write: segments of at most the peer's MSS, each PSH|ACK. */
  send(data: Uint8Array): void {
    if (this.state !== 'ESTABLISHED' && this.state !== 'CLOSE_WAIT') {
      throw new Error(`send on ${this.state} connection ${this.describe()}`);
    }
    const mss = Math.max(1, Math.min(this.peerMss ?? 536, this.host.mss) - (this.peerTimestamps && this.host.timestamps ? 12 : 0));
    for (let o = 0; o < data.length; o += mss) {
      const chunk = data.subarray(o, Math.min(data.length, o + mss));
      this.emit(this.sndNxt, TCP_PSH | TCP_ACK, chunk);
      this.sndNxt = seqAdd(this.sndNxt, chunk.length);
    }
  }

  /** Application close: sends FIN. */
  close(): void {
    if (this.state === 'ESTABLISHED') this.state = 'FIN_WAIT_1';
    else if (this.state === 'CLOSE_WAIT') this.state = 'LAST_ACK';
    else return;
    this.emit(this.sndNxt, TCP_FIN | TCP_ACK);
    this.sndNxt = seqAdd(this.sndNxt, 1);
  }

  /** Application abort: sends RST and closes. */
  abort(): void {
    if (this.state === 'CLOSED') return;
    this.emit(this.sndNxt, TCP_RST | TCP_ACK);
    this.state = 'CLOSED';
  }

  describe(): string {
    return `${u32ToIp(this.host.ipU32)}:${this.localPort}->${u32ToIp(this.remoteIp)}:${this.remotePort}`;
  }

  private learnOptions(p: ParsedFrame): void {
    this.peerMss = p.mss;
    this.peerWscale = p.wscale;
    this.peerSackPermitted = p.sackPermitted;
    this.peerTimestamps = p.tsVal !== null;
  }

  /** Server: called by the host for a SYN to a listening port. */
  acceptSyn(p: ParsedFrame): void {
    this.irs = p.seq;
    this.rcvNxt = seqAdd(p.seq, 1);
    this.learnOptions(p);
    if (p.tsVal !== null) this.tsRecent = p.tsVal;
    this.state = 'SYN_RCVD';
    this.handshakeFrame = this.emit(this.isn, TCP_SYN | TCP_ACK, undefined, 'syn');
    this.sndNxt = seqAdd(this.isn, 1);
  }

  /** Handles a segment for this connection. */
  input(p: ParsedFrame, frame: Uint8Array): void {
    if (p.tsVal !== null && !(p.flags & TCP_RST)) this.tsRecent = p.tsVal;
    if (p.flags & TCP_RST) {
      // RFC 5961-lite: accept a RST whose seq is in the window (or acks our SYN in SYN_SENT).
      const ok =
        this.state === 'SYN_SENT'
          ? (p.flags & TCP_ACK) !== 0 && p.ack === this.sndNxt
          : !seqLt(p.seq, this.rcvNxt) && seqLt(p.seq, seqAdd(this.rcvNxt, 65535 << (this.host.wscale)));
      if (!ok) return;
      this.reset = true;
      this.resetPayload = p.payloadLen > 0 ? frame.slice(p.payloadOff, p.payloadOff + p.payloadLen) : null;
      this.state = 'CLOSED';
      return;
    }
    switch (this.state) {
      case 'SYN_SENT': {
        if ((p.flags & (TCP_SYN | TCP_ACK)) !== (TCP_SYN | TCP_ACK)) return;
        if (p.ack !== this.sndNxt) {
          this.host.sendRst(p, frame);
          return;
        }
        this.irs = p.seq;
        this.rcvNxt = seqAdd(p.seq, 1);
        this.learnOptions(p);
        this.sndUna = p.ack;
        this.state = 'ESTABLISHED';
        this.connected = true;
        const data = this.pendingAckData;
        this.pendingAckData = null;
        if (data !== null && data.length > 0) {
          this.emit(this.sndNxt, TCP_PSH | TCP_ACK, data);
          this.sndNxt = seqAdd(this.sndNxt, data.length);
        } else {
          this.emit(this.sndNxt, TCP_ACK);
        }
        return;
      }
      case 'SYN_RCVD': {
        if (p.flags & TCP_SYN) {
          // A retransmitted SYN with the same ISN: answer with the SYN-ACK again (Linux does).
          if (p.seq === this.irs && this.handshakeFrame !== null) this.host.transmit(this.handshakeFrame.slice());
          return;
        }
        if (!(p.flags & TCP_ACK) || p.ack !== this.sndNxt) return;
        this.sndUna = p.ack;
        this.state = 'ESTABLISHED';
        this.accepted = true;
        this.host.accepted.push(this);
        this.data(p, frame);
        return;
      }
      default:
        if (p.flags & TCP_SYN) {
          // Duplicate SYN-ACK after we are established: re-ACK (our ACK was lost).
          if (this.role === 'client' && p.seq === this.irs) this.emit(this.sndNxt, TCP_ACK);
          return;
        }
        if (p.flags & TCP_ACK && !seqLt(p.ack, this.sndUna) && !seqLt(this.sndNxt, p.ack)) this.sndUna = p.ack;
        this.data(p, frame);
    }
  }

  private data(p: ParsedFrame, frame: Uint8Array): void {
    let needAck = false;
    if (p.payloadLen > 0) {
      if (p.seq === this.rcvNxt && this.canReceive()) {
        this.appData.push(frame.slice(p.payloadOff, p.payloadOff + p.payloadLen));
        this.rcvNxt = seqAdd(this.rcvNxt, p.payloadLen);
      }
      needAck = true; // in-order: ACK; duplicate or out-of-order: duplicate ACK
    }
    if (p.flags & TCP_FIN && seqAdd(p.seq, p.payloadLen) === this.rcvNxt && this.canReceive()) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.eof = true;
      needAck = true;
      if (this.state === 'ESTABLISHED') this.state = 'CLOSE_WAIT';
      else if (this.state === 'FIN_WAIT_1') this.state = this.sndUna === this.sndNxt ? 'TIME_WAIT' : 'CLOSING';
      else if (this.state === 'FIN_WAIT_2') this.state = 'TIME_WAIT';
    }
    if (this.sndUna === this.sndNxt) {
      if (this.state === 'FIN_WAIT_1') this.state = 'FIN_WAIT_2';
      else if (this.state === 'CLOSING') this.state = 'TIME_WAIT';
      else if (this.state === 'LAST_ACK') this.state = 'CLOSED';
    }
    if (needAck) this.emit(this.sndNxt, TCP_ACK);
  }

  private canReceive(): boolean {
    return this.state === 'ESTABLISHED' || this.state === 'FIN_WAIT_1' || this.state === 'FIN_WAIT_2';
  }
}

function u32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function connKey(localPort: number, remoteIp: number, remotePort: number): string {
  return `${localPort}>${u32ToIp(remoteIp)}:${remotePort}`;
}

/** One simulated host (a pod): an IP address, listening ports and a table of connections. */
export class TcpHost {
  readonly name: string;
  readonly ipU32: number;
  readonly mac: Uint8Array;
  readonly prng: Prng;
  readonly clock: () => number;
  readonly mss: number;
  readonly wscale: number;
  readonly sack: boolean;
  readonly timestamps: boolean;
  /** Called with every frame the host transmits (the wire installs this). */
  onTransmit: (frame: Uint8Array) => void = () => {};
  /** Frames the stack accepted, in arrival order (the last `rxLimit` of them). */
  readonly rx: RxRecord[] = [];
  /** How many rx records to keep (older ones are dropped; `rxTotal` still counts them). */
  rxLimit = Infinity;
  rxTotal = 0;
  /** Server connections whose handshake completed (application accept()), in order. */
  readonly accepted: TcpConnection[] = [];
  /** Frames dropped for a bad IPv4 or TCP checksum. */
  badChecksum = 0;
  /** Frames dropped as not IPv4/TCP, or not addressed to this host. */
  notForUs = 0;
  /** RSTs this host sent for segments that matched no connection or listener. */
  rstsSent = 0;
  private readonly listeners = new Set<number>();
  private readonly conns = new Map<string, TcpConnection>();
  private ipId: number;
  private nextEphemeral: number;

  constructor(opts: TcpHostOptions) {
    this.name = opts.name;
    this.ipU32 = ipToU32(opts.ip);
    this.mac = macForIp(this.ipU32);
    this.prng = opts.prng;
    this.clock = opts.clock;
    this.mss = opts.mss ?? 1460;
    this.wscale = opts.wscale ?? 7;
    this.sack = opts.sack ?? true;
    this.timestamps = opts.timestamps ?? true;
    this.ipId = this.prng.nextInt(0x10000);
    // Linux ip_local_port_range 32768-60999
    this.nextEphemeral = 32768 + this.prng.nextInt(60999 - 32768 + 1);
  }

  get ip(): string {
    return u32ToIp(this.ipU32);
  }

  listen(port: number): void {
    this.listeners.add(port);
  }

  isListening(port: number): boolean {
    return this.listeners.has(port);
  }

  /** Connections keyed `localPort>remoteIp:remotePort`. */
  connections(): TcpConnection[] {
    return [...this.conns.values()];
  }

  connection(localPort: number, remoteIp: string, remotePort: number): TcpConnection | undefined {
    return this.conns.get(connKey(localPort, ipToU32(remoteIp), remotePort));
  }

  /**
   * Forgets finished connections (CLOSED, TIME_WAIT) and the accepted list, so long runs keep
   * memory flat. Returns how many connections were dropped.
   */
  reap(): number {
    let n = 0;
    for (const [k, c] of this.conns) {
      if (c.state === 'CLOSED' || c.state === 'TIME_WAIT') {
        this.conns.delete(k);
        n++;
      }
    }
    this.accepted.length = 0;
    return n;
  }

  /** Opens a client connection: sends the SYN now. */
  connect(dstIp: string, dstPort: number, opts: ConnectOptions = {}): TcpConnection {
    const remote = ipToU32(dstIp);
    const srcPort = opts.srcPort ?? this.allocatePort(remote, dstPort);
    const isn = opts.isn ?? this.prng.nextU32();
    const conn = new TcpConnection(this, srcPort, remote, dstPort, 'client', isn);
    this.conns.set(conn.key, conn); // port reuse replaces the old connection
    conn.sendSyn(opts.dataOnAck);
    return conn;
  }

  private allocatePort(remote: number, dstPort: number): number {
    for (let i = 0; i < 28232; i++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p >= 60999 ? 32768 : p + 1;
      const c = this.conns.get(connKey(p, remote, dstPort));
      if (c === undefined || c.state === 'CLOSED' || c.state === 'TIME_WAIT') return p;
    }
    throw new Error(`${this.name}: no free ephemeral port toward ${u32ToIp(remote)}:${dstPort}`);
  }

  /** @internal builds a frame from this host. */
  buildFrame(dstIp: number, srcPort: number, dstPort: number, seq: number, ack: number, flags: number, window: number, options: Uint8Array, payload?: Uint8Array): Uint8Array {
    this.ipId = (this.ipId + 1) & 0xffff;
    return writeFrame({
      srcMac: this.mac,
      dstMac: macForIp(dstIp),
      srcIp: this.ipU32,
      dstIp,
      ipId: this.ipId,
      srcPort,
      dstPort,
      seq,
      ack,
      flags,
      window,
      options,
      ...(payload === undefined ? {} : { payload }),
    });
  }

  /** @internal */
  transmit(frame: Uint8Array): void {
    this.onTransmit(frame);
  }

  /** @internal replies with a RST to an unexpected segment (RFC 793 reset generation). */
  sendRst(p: ParsedFrame, _frame: Uint8Array): void {
    if (p.flags & TCP_RST) return;
    this.rstsSent++;
    let seq = 0;
    let ack = 0;
    let flags = TCP_RST;
    if (p.flags & TCP_ACK) seq = p.ack;
    else {
      flags |= TCP_ACK;
      ack = seqAdd(p.seq, p.payloadLen + (p.flags & TCP_SYN ? 1 : 0) + (p.flags & TCP_FIN ? 1 : 0));
    }
    this.transmit(this.buildFrame(p.srcIp, p.dstPort, p.srcPort, seq, ack, flags, 0, new Uint8Array(0)));
  }

  /** Delivers one frame buf[off, off+len) to this host's stack. */
  receive(buf: Uint8Array, off = 0, len = buf.length - off): void {
    const p = parseFrame(buf, off, len);
    if (p === null || p.dstIp !== this.ipU32) {
      this.notForUs++;
      return;
    }
    if (!p.ipChecksumOk || !p.tcpChecksumOk) {
      this.badChecksum++;
      return;
    }
    const frame = off === 0 && len === buf.length ? buf : buf.subarray(off, off + len);
    // Offsets in `p` are relative to `buf`; rebase them onto `frame`.
    const rel: ParsedFrame = off === 0 ? p : { ...p, payloadOff: p.payloadOff - off };
    const key = connKey(p.dstPort, p.srcIp, p.srcPort);
    let conn = this.conns.get(key);
    this.rxTotal++;
    if (this.rx.length >= this.rxLimit) this.rx.splice(0, this.rx.length - this.rxLimit + 1);
    if (this.rxLimit > 0) this.rx.push({
      time: this.clock(),
      srcIp: u32ToIp(p.srcIp),
      dstIp: u32ToIp(p.dstIp),
      srcPort: p.srcPort,
      dstPort: p.dstPort,
      flags: p.flags,
      seq: p.seq,
      ack: p.ack,
      payloadLen: p.payloadLen,
      hadExperimentalOption: p.hasExperimentalOption,
      conn: conn === undefined ? null : key,
    });
    const isPureSyn = (p.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
    if (isPureSyn && this.listeners.has(p.dstPort)) {
      // New connection, or port reuse after the old one finished (a SYN with a new ISN).
      const reusable = conn === undefined || conn.state === 'CLOSED' || conn.state === 'TIME_WAIT';
      if (reusable) {
        conn = new TcpConnection(this, p.dstPort, p.srcIp, p.srcPort, 'server', this.prng.nextU32());
        this.conns.set(key, conn);
        conn.acceptSyn(rel);
        return;
      }
    }
    if (conn === undefined || (conn.state === 'CLOSED' && !(p.flags & TCP_RST))) {
      this.sendRst(rel, frame);
      return;
    }
    conn.input(rel, frame);
  }
}
