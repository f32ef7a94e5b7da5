// Typed, lazily loaded access to the native packet addons (optional dependencies: cap, nfqueue,
// raw-socket). Invariant: nothing here loads an addon at import time, so `syngate simulate` and the
// unit tests work on machines without libpcap/libnetfilter_queue; a missing addon surfaces as a
// SyngateError naming the package and the fix.
import { createRequire } from 'node:module';
import { SyngateError } from '../errors.js';

const require_ = createRequire(import.meta.url);

/** The subset of `cap`'s Cap object we use. */
export interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  send(buffer: Uint8Array, length: number): void;
  close(): boolean;
  setMinBytes?: (n: number) => void;
  on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): void;
  removeAllListeners(event?: string): void;
}
export interface CapModule {
  Cap: new () => CapHandle;
}

/** The subset of the `nfqueue` binding we use (`bindings` is the native object). */
export interface NfqPacketInfo {
  len: number;
  id: number;
  nfmark: number;
  indev: number;
  outdev: number;
}
export interface NfqNative {
  open(queue: number, bufSize: number): void;
  read(cb: (info: NfqPacketInfo, payload: Buffer) => number | undefined): void;
  setVerdict(id: number, verdict: number, buffer: Uint8Array | null): void;
  setVerdict(id: number, verdict: number, mark: number, buffer: Uint8Array | null): void;
}
export interface NfqueueModule {
  NF_DROP: number;
  NF_ACCEPT: number;
  NFQueue: new () => { bindings: NfqNative };
}

export interface RawSocket {
  send(
    buffer: Uint8Array,
    offset: number,
    length: number,
    address: string,
    afterCallback: (err: Error | null, bytes: number) => void,
  ): void;
  setOption(level: number, option: number, value: number): void;
  close(): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
export interface RawSocketModule {
  createSocket(opts: { protocol: number; addressFamily?: number }): RawSocket;
  Protocol: { TCP: number; None: number };
  SocketLevel: { IPPROTO_IP: number };
  SocketOption: { IP_HDRINCL: number };
}

function load<T>(pkg: string, why: string): T {
  try {
    return require_(pkg) as T;
  } catch (e) {
    throw new SyngateError(
      'SYNGATE_DATAPATH_ADDON_MISSING',
      `the native addon '${pkg}' could not be loaded (${why}); install it with \`npm install ${pkg}\` ` +
        `after installing the system libraries (scripts/install-system-deps.sh): ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
}

export function loadCap(): CapModule {
  return load<CapModule>('cap', 'needed by the pcap datapath; requires libpcap-dev');
}
export function loadNfqueue(): NfqueueModule {
  return load<NfqueueModule>('nfqueue', 'needed by the nfqueue datapath; requires libnetfilter-queue-dev');
}
export function loadRawSocket(): RawSocketModule {
  return load<RawSocketModule>('raw-socket', 'needed to send RSTs and token-only ACKs from the nfqueue datapath');
}
