// The connection binding: what every handshake token is tied to.
// Invariant: the binding is always written in the SYN's orientation (client = source), also for
// the SYN-ACK whose IP header runs the other way. All fields are network byte order.

/** 5-tuple + both initial sequence numbers, as unsigned 32/16/8-bit numbers. */
export interface Binding {
  /** Client IPv4 address as a u32 (e.g. 198.18.0.1 = 0xc6120001). */
  srcIp: number;
  /** Server IPv4 address as a u32. */
  dstIp: number;
  srcPort: number;
  dstPort: number;
  /** IP protocol number (6 = TCP). */
  proto: number;
  /** Client initial sequence number (from the SYN). */
  isnC: number;
  /** Server initial sequence number (from the SYN-ACK); 0 while unknown. */
  isnS: number;
}

export const BINDING_LEN = 21;
export const BIND_OFF_SRC_IP = 0; // u32
export const BIND_OFF_DST_IP = 4; // u32
export const BIND_OFF_SRC_PORT = 8; // u16
export const BIND_OFF_DST_PORT = 10; // u16
export const BIND_OFF_PROTO = 12; // u8
export const BIND_OFF_ISN_C = 13; // u32
export const BIND_OFF_ISN_S = 17; // u32

/** Writes v as a big-endian u32 at b[o..o+4]. */
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Writes the 21-byte binding into out[off..]; `isnS` is written as given (0 for the SYN). */
export function writeBinding(b: Binding, isnS: number, out: Uint8Array, off: number): void {
  writeU32(out, off + BIND_OFF_SRC_IP, b.srcIp);
  writeU32(out, off + BIND_OFF_DST_IP, b.dstIp);
  out[off + BIND_OFF_SRC_PORT] = (b.srcPort >>> 8) & 0xff;
  out[off + BIND_OFF_SRC_PORT + 1] = b.srcPort & 0xff;
  out[off + BIND_OFF_DST_PORT] = (b.dstPort >>> 8) & 0xff;
  out[off + BIND_OFF_DST_PORT + 1] = b.dstPort & 0xff;
  out[off + BIND_OFF_PROTO] = b.proto & 0xff;
  writeU32(out, off + BIND_OFF_ISN_C, b.isnC);
  writeU32(out, off + BIND_OFF_ISN_S, isnS);
}

/** Byte equality of two bindings (not secret: plain comparison). */
export function bindingEquals(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  if (a.length < ao + BINDING_LEN || b.length < bo + BINDING_LEN) return false;
  for (let i = 0; i < BINDING_LEN; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/** Parses dotted IPv4 into a u32; returns -1 if malformed. */
export function ipv4ToU32(s: string): number {
  const p = s.split('.');
  if (p.length !== 4) return -1;
  let v = 0;
  for (const x of p) {
    if (!/^\d{1,3}$/.test(x)) return -1;
    const n = Number(x);
    if (n > 255) return -1;
    v = v * 256 + n;
  }
  return v >>> 0;
}

export function u32ToIpv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}
