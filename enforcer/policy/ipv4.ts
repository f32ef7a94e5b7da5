// IPv4 addresses and CIDR blocks as unsigned 32-bit integers.
// Invariants: every address is a uint32 in host order (a.b.c.d -> a<<24|b<<16|c<<8|d, read `>>> 0`);
// a Cidr covers the inclusive range [start, end]; an IPv6 block parses to `v6: true` and an empty
// range, because syngate only sees IPv4 peers and such a block can therefore never match.
// Parsers return undefined on bad input rather than throwing.

export interface Cidr {
  /** First address (uint32). */
  readonly start: number;
  /** Last address (uint32, inclusive). */
  readonly end: number;
  /** Prefix length 0..32 (128 for an IPv6 block). */
  readonly bits: number;
  /** True for an IPv6 block: it never contains an IPv4 address. */
  readonly v6: boolean;
  /** The block as written. */
  readonly text: string;
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted quad; returns the uint32 or undefined. Leading zeros are refused (ambiguous). */
export function parseIpv4(s: string): number | undefined {
  const m = DOTTED.exec(s);
  if (m === null) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] ?? '';
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v >>> 0;
}

export function formatIpv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function looksV6(s: string): boolean {
  return s.includes(':') && /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(s);
}

/**
 * Parses `a.b.c.d/n` or a bare address (a /32). With `strictHost`, host bits below the prefix must be
 * zero (Kubernetes accepts them; we normalise instead). Returns undefined for malformed input.
 */
export function parseCidr(s: string): Cidr | undefined {
  const text = s.trim();
  if (looksV6(text)) {
    const slash = text.indexOf('/');
    const bits = slash < 0 ? 128 : Number(text.slice(slash + 1));
    if (!Number.isInteger(bits) || bits < 0 || bits > 128) return undefined;
    return { start: 1, end: 0, bits, v6: true, text };
  }
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = parseIpv4(addrText);
  if (addr === undefined) return undefined;
  let bits = 32;
  if (slash >= 0) {
    const bt = text.slice(slash + 1);
    if (!/^\d{1,2}$/.test(bt)) return undefined;
    bits = Number(bt);
    if (bits > 32) return undefined;
  }
  const size = 2 ** (32 - bits);
  const start = addr - (addr % size);
  return { start, end: start + size - 1, bits, v6: false, text };
}

/** Returns true iff `ip` (uint32) lies in `c`. */
export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.start && ip <= c.end;
}
