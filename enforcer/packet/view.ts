// Zero-copy views over Ethernet / raw IPv4 frames: parseFrame fills a reusable PacketView with
// offsets into the caller's buffer; getters and setters read and write fields in place.
// Invariants:
//  - parseFrame never throws and never allocates; it returns a ParseStatus (0 = OK);
//  - every offset in the view is absolute (an index into view.buf), or -1 when absent;
//  - on OK with kind TCP, l3Off+ipTotalLen <= off+len and l4Off+tcpHeaderLen <= l3Off+ipTotalLen,
//    and every TCP option lies inside the TCP header;
//  - getters/setters do not check status: call them only on a view whose status covers the field
//    (IPv4 fields need l3Off >= 0 and kind TCP/UDP/ICMP/IPV4_OTHER; TCP fields need kind TCP and OK);
//  - setters change only the field's bytes, never a checksum (see checksum.ts for the fixes).
// Bytes past the IP packet inside an Ethernet frame (minimum-frame padding) are a "trailer" and are
// tolerated; on a raw IPv4 link the IP total length must equal the frame length.
import { LinkType } from '../engine/types.js';
import { PacketKind, ParseStatus } from './status.js';

// Hot-path constants: module-local copies of constants.ts / marker.ts (same names, same values;
// test/packet/constants-sync.test.ts checks they agree). Why copies: V8 (Node 20) compiles a
// non-exported module-level const to a cheap context-slot load, but every use of an imported (or
// exported) ESM binding goes through a module cell; with ~40 uses per parse that measured ~60 ns
// instead of ~35 ns per frame.
const ETH_HEADER_LEN = 14;
const ETH_OFF_TYPE = 12;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_VLAN = 0x8100;
const ICMP_MIN_HEADER_LEN = 8;
const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPV4_FLAG_MF = 0x2000;
const IPV4_FRAG_OFFSET_MASK = 0x1fff;
const IPV4_MIN_HEADER_LEN = 20;
const IPV4_OFF_CSUM = 10;
const IPV4_OFF_DST = 16;
const IPV4_OFF_FRAG = 6;
const IPV4_OFF_ID = 4;
const IPV4_OFF_PROTO = 9;
const IPV4_OFF_SRC = 12;
const IPV4_OFF_TOS = 1;
const IPV4_OFF_TOTAL_LEN = 2;
const IPV4_OFF_TTL = 8;
const IPV4_VERSION = 4;
const IPV6_VERSION = 6;
const TCP_FLAG_FIN = 0x01;
const TCP_FLAG_SYN = 0x02;
const TCP_MIN_HEADER_LEN = 20;
const TCP_OFF_ACK = 8;
const TCP_OFF_CSUM = 16;
const TCP_OFF_DATA_OFF = 12;
const TCP_OFF_DST_PORT = 2;
const TCP_OFF_FLAGS = 13;
const TCP_OFF_OPTIONS = 20;
const TCP_OFF_SEQ = 4;
const TCP_OFF_SRC_PORT = 0;
const TCP_OFF_URG_PTR = 18;
const TCP_OFF_WINDOW = 14;
const TCPOLEN_MSS = 4;
const TCPOLEN_SACK_PERM = 2;
const TCPOLEN_TIMESTAMP = 10;
const TCPOLEN_WSCALE = 3;
const TCPOPT_EOL = 0;
const TCPOPT_MSS = 2;
const TCPOPT_NOP = 1;
const TCPOPT_SACK_PERM = 4;
const TCPOPT_TIMESTAMP = 8;
const TCPOPT_WSCALE = 3;
const UDP_HEADER_LEN = 8;
const VLAN_ID_MASK = 0x0fff;
const VLAN_MAX_TAGS = 2;
const VLAN_TAG_LEN = 4;
const SYNGATE_EXID = 0x5347;
const SYNGATE_MARKER_LEN = 8;
const SYNGATE_OPT_KIND = 253;

const EMPTY = new Uint8Array(0);

/** A reusable, mutable view of one frame. Create one per thread of work and refill it with parseFrame. */
export class PacketView {
  /** The frame's buffer (not copied). */
  buf: Uint8Array = EMPTY;
  /** Frame start and length inside buf. */
  off = 0;
  len = 0;
  linkType: LinkType = LinkType.ETHERNET;
  status: ParseStatus = ParseStatus.BAD_BOUNDS;
  kind: PacketKind = PacketKind.NONE;
  /** EtherType after VLAN tags (ETHERTYPE_IPV4 on a raw IPv4 link), or -1. */
  etherType = -1;
  /** Innermost 802.1Q VLAN id, or -1 when untagged. */
  vlanId = -1;
  /** Number of VLAN tags skipped. */
  vlanTags = 0;
  /** IPv4 (or IPv6) header start, or -1. */
  l3Off = -1;
  ipHeaderLen = 0;
  /** IPv4 total length field (validated against the frame). */
  ipTotalLen = 0;
  /** IPv4 protocol number, or -1. */
  ipProto = -1;
  /** L4 header start, or -1. */
  l4Off = -1;
  /** L4 length = ipTotalLen - ipHeaderLen. */
  l4Len = 0;
  tcpHeaderLen = 0;
  /** Payload start (TCP/UDP/ICMP data), or -1. */
  payloadOff = -1;
  payloadLen = 0;
  /**
   * Where the TCP option list ends: the offset of the first EOL option, or the header end when
   * there is none. A new option inserted here is seen by every option parser.
   */
  optEnd = -1;
  /** Absolute offsets of recognised TCP options (the kind byte), or -1. */
  mssOff = -1;
  wscaleOff = -1;
  sackPermOff = -1;
  tsOff = -1;
  /** The syngate marker option (kind 253 + our ExID), or -1. */
  markerOff = -1;
  /** Set by findMarker: the token bytes (the payload) of a TOKEN marker, or -1/0. */
  tokenOff = -1;
  tokenLen = 0;

  /** Frame end (exclusive). */
  get end(): number {
    return this.off + this.len;
  }
  /** IP packet end (exclusive); bytes from here to `end` are an Ethernet trailer. */
  get ipEnd(): number {
    return this.l3Off + this.ipTotalLen;
  }

  // ---- IPv4 fields (in place) ----
  get tos(): number {
    return this.buf[this.l3Off + IPV4_OFF_TOS]!;
  }
  get totalLength(): number {
    return u16(this.buf, this.l3Off + IPV4_OFF_TOTAL_LEN);
  }
  set totalLength(v: number) {
    w16(this.buf, this.l3Off + IPV4_OFF_TOTAL_LEN, v);
  }
  get ipId(): number {
    return u16(this.buf, this.l3Off + IPV4_OFF_ID);
  }
  set ipId(v: number) {
    w16(this.buf, this.l3Off + IPV4_OFF_ID, v);
  }
  /** Flags + fragment offset word (big-endian). */
  get fragWord(): number {
    return u16(this.buf, this.l3Off + IPV4_OFF_FRAG);
  }
  get ttl(): number {
    return this.buf[this.l3Off + IPV4_OFF_TTL]!;
  }
  set ttl(v: number) {
    this.buf[this.l3Off + IPV4_OFF_TTL] = v;
  }
  get protocol(): number {
    return this.buf[this.l3Off + IPV4_OFF_PROTO]!;
  }
  get ipChecksum(): number {
    return u16(this.buf, this.l3Off + IPV4_OFF_CSUM);
  }
  set ipChecksum(v: number) {
    w16(this.buf, this.l3Off + IPV4_OFF_CSUM, v);
  }
  /** Source address as uint32 (network order read as a big-endian number). */
  get srcIp(): number {
    return u32(this.buf, this.l3Off + IPV4_OFF_SRC);
  }
  set srcIp(v: number) {
    w32(this.buf, this.l3Off + IPV4_OFF_SRC, v);
  }
  get dstIp(): number {
    return u32(this.buf, this.l3Off + IPV4_OFF_DST);
  }
  set dstIp(v: number) {
    w32(this.buf, this.l3Off + IPV4_OFF_DST, v);
  }

  // ---- TCP fields (in place); srcPort/dstPort also valid for UDP ----
  get srcPort(): number {
    return u16(this.buf, this.l4Off + TCP_OFF_SRC_PORT);
  }
  set srcPort(v: number) {
    w16(this.buf, this.l4Off + TCP_OFF_SRC_PORT, v);
  }
  get dstPort(): number {
    return u16(this.buf, this.l4Off + TCP_OFF_DST_PORT);
  }
  set dstPort(v: number) {
    w16(this.buf, this.l4Off + TCP_OFF_DST_PORT, v);
  }
  get seq(): number {
    return u32(this.buf, this.l4Off + TCP_OFF_SEQ);
  }
  set seq(v: number) {
    w32(this.buf, this.l4Off + TCP_OFF_SEQ, v);
  }
  get ack(): number {
    return u32(this.buf, this.l4Off + TCP_OFF_ACK);
  }
  set ack(v: number) {
    w32(this.buf, this.l4Off + TCP_OFF_ACK, v);
  }
  /** TCP data offset in bytes (as parsed: tcpHeaderLen). */
  get dataOffset(): number {
    return (this.buf[this.l4Off + TCP_OFF_DATA_OFF]! >>> 4) << 2;
  }
  get flags(): number {
    return this.buf[this.l4Off + TCP_OFF_FLAGS]!;
  }
  set flags(v: number) {
    this.buf[this.l4Off + TCP_OFF_FLAGS] = v;
  }
  get window(): number {
    return u16(this.buf, this.l4Off + TCP_OFF_WINDOW);
  }
  set window(v: number) {
    w16(this.buf, this.l4Off + TCP_OFF_WINDOW, v);
  }
  get tcpChecksum(): number {
    return u16(this.buf, this.l4Off + TCP_OFF_CSUM);
  }
  set tcpChecksum(v: number) {
    w16(this.buf, this.l4Off + TCP_OFF_CSUM, v);
  }
  get urgentPointer(): number {
    return u16(this.buf, this.l4Off + TCP_OFF_URG_PTR);
  }

  // ---- TCP options (values, or -1 when absent) ----
  get mss(): number {
    return this.mssOff < 0 ? -1 : u16(this.buf, this.mssOff + 2);
  }
  get wscale(): number {
    return this.wscaleOff < 0 ? -1 : this.buf[this.wscaleOff + 2]!;
  }
  get sackPermitted(): boolean {
    return this.sackPermOff >= 0;
  }
  /** Timestamp value (TSval), uint32; -1 when absent. */
  get tsVal(): number {
    return this.tsOff < 0 ? -1 : u32(this.buf, this.tsOff + 2);
  }
  /** Timestamp echo reply (TSecr), uint32; -1 when absent. */
  get tsEcr(): number {
    return this.tsOff < 0 ? -1 : u32(this.buf, this.tsOff + 6);
  }
  /** TCP options length in bytes (header length - 20). */
  get optionsLen(): number {
    return this.tcpHeaderLen - TCP_MIN_HEADER_LEN;
  }
  /** Sequence space the segment occupies: payload + 1 for SYN + 1 for FIN. */
  get segLen(): number {
    const f = this.flags;
    return this.payloadLen + (f & TCP_FLAG_SYN ? 1 : 0) + (f & TCP_FLAG_FIN ? 1 : 0);
  }
}

function reset(v: PacketView): void {
  v.kind = PacketKind.NONE;
  v.etherType = -1;
  v.vlanId = -1;
  v.vlanTags = 0;
  v.l3Off = -1;
  v.ipHeaderLen = 0;
  v.ipTotalLen = 0;
  v.ipProto = -1;
  v.l4Off = -1;
  v.l4Len = 0;
  v.tcpHeaderLen = 0;
  v.payloadOff = -1;
  v.payloadLen = 0;
  v.optEnd = -1;
  v.mssOff = -1;
  v.wscaleOff = -1;
  v.sackPermOff = -1;
  v.tsOff = -1;
  v.markerOff = -1;
  v.tokenOff = -1;
  v.tokenLen = 0;
}

/**
 * Parses buf[off..off+len) as a frame of `linkType` into `view` (which is fully overwritten).
 * Returns view.status. Never throws; any input, including off/len outside buf, yields a status.
 */
export function parseFrame(buf: Uint8Array, off: number, len: number, linkType: LinkType, view: PacketView): ParseStatus {
  view.buf = buf;
  view.off = off;
  view.len = len;
  view.linkType = linkType;
  // Fast path for the common frame: untagged Ethernet, IPv4 without options, unfragmented TCP.
  // It makes exactly the checks and records exactly the fields parseInto would for such a frame
  // (a property test compares the two on random and mutated frames); anything else falls through.
  const p = off + ETH_HEADER_LEN;
  if (
    linkType === LINK_ETHERNET &&
    off >= 0 &&
    (off | 0) === off &&
    (len | 0) === len &&
    len >= FAST_MIN_LEN &&
    off + len <= buf.length &&
    buf[off + ETH_OFF_TYPE] === ETHERTYPE_IPV4_HI &&
    buf[off + ETH_OFF_TYPE + 1] === ETHERTYPE_IPV4_LO &&
    buf[p] === IPV4_VER_IHL_5 &&
    buf[p + IPV4_OFF_PROTO] === IPPROTO_TCP
  ) {
    const tot = (buf[p + IPV4_OFF_TOTAL_LEN]! << 8) | buf[p + IPV4_OFF_TOTAL_LEN + 1]!;
    const l4 = p + IPV4_MIN_HEADER_LEN;
    const doff = (buf[l4 + TCP_OFF_DATA_OFF]! >>> 4) << 2;
    if (
      tot <= len - ETH_HEADER_LEN &&
      ((buf[p + IPV4_OFF_FRAG]! << 8) & FRAG_HI_MASK) === 0 &&
      buf[p + IPV4_OFF_FRAG + 1] === 0 &&
      doff >= TCP_MIN_HEADER_LEN &&
      doff <= tot - IPV4_MIN_HEADER_LEN
    ) {
      // Every field is written exactly once on this path (no reset()).
      setFastPathConstants(view);
      view.l3Off = p;
      view.ipTotalLen = tot;
      view.l4Off = l4;
      view.l4Len = tot - IPV4_MIN_HEADER_LEN;
      view.tcpHeaderLen = doff;
      view.payloadOff = l4 + doff;
      view.payloadLen = tot - IPV4_MIN_HEADER_LEN - doff;
      return (view.status = parseOptions(buf, l4 + TCP_OFF_OPTIONS, l4 + doff, view));
    }
  }
  return parseSlow(buf, off, len, linkType, view);
}

/** Everything but the fast path: reset, then the general parser. */
function parseSlow(buf: Uint8Array, off: number, len: number, linkType: LinkType, view: PacketView): ParseStatus {
  reset(view);
  return (view.status = parseInto(buf, off, len, linkType, view));
}

/**
 * The fields whose value is fixed on the fast path (a helper so parseFrame's bytecode stays under
 * TurboFan's inlining limit; it is inlined back).
 */
function setFastPathConstants(view: PacketView): void {
  view.kind = KIND_TCP;
  view.ipHeaderLen = IPV4_MIN_HEADER_LEN;
  view.ipProto = IPPROTO_TCP;
  view.etherType = ETHERTYPE_IPV4;
  view.vlanId = -1;
  view.vlanTags = 0;
  view.optEnd = -1;
  view.mssOff = -1;
  view.wscaleOff = -1;
  view.sackPermOff = -1;
  view.tsOff = -1;
  view.markerOff = -1;
  view.tokenOff = -1;
  view.tokenLen = 0;
}

/** The general parser alone (no fast path); exported for the test that compares the two. */
export function parseFrameGeneral(buf: Uint8Array, off: number, len: number, linkType: LinkType, view: PacketView): ParseStatus {
  view.buf = buf;
  view.off = off;
  view.len = len;
  view.linkType = linkType;
  return parseSlow(buf, off, len, linkType, view);
}

const LINK_ETHERNET = LinkType.ETHERNET;
const KIND_TCP = PacketKind.TCP;
/** Ethernet + IPv4 + TCP fixed headers. */
const FAST_MIN_LEN = ETH_HEADER_LEN + IPV4_MIN_HEADER_LEN + TCP_MIN_HEADER_LEN;
const ETHERTYPE_IPV4_HI = ETHERTYPE_IPV4 >>> 8;
const ETHERTYPE_IPV4_LO = ETHERTYPE_IPV4 & 0xff;
/** Version 4, IHL 5 (0x45). */
const IPV4_VER_IHL_5 = (IPV4_VERSION << 4) | (IPV4_MIN_HEADER_LEN >>> 2);
/** MF flag + high 5 bits of the fragment offset: the high byte of the flags/offset word. */
const FRAG_HI_MASK = (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK) & 0xff00;

function parseInto(b: Uint8Array, off: number, len: number, linkType: LinkType, v: PacketView): ParseStatus {
  if (!(off >= 0 && len >= 0 && off + len <= b.length) || (off | 0) !== off || (len | 0) !== len) return ParseStatus.BAD_BOUNDS;
  const end = off + len;
  let p: number;
  if (linkType === LinkType.ETHERNET) {
    if (len < ETH_HEADER_LEN) return ParseStatus.TRUNCATED_L2;
    let et = u16(b, off + ETH_OFF_TYPE);
    p = off + ETH_HEADER_LEN;
    for (let i = 0; i < VLAN_MAX_TAGS && (et === ETHERTYPE_VLAN || et === ETHERTYPE_QINQ); i++) {
      if (p + VLAN_TAG_LEN > end) return ParseStatus.TRUNCATED_L2;
      v.vlanId = u16(b, p) & VLAN_ID_MASK;
      v.vlanTags++;
      et = u16(b, p + 2);
      p += VLAN_TAG_LEN;
    }
    v.etherType = et;
    if (et === ETHERTYPE_IPV6) {
      v.kind = PacketKind.IPV6;
      v.l3Off = p;
      return ParseStatus.OK;
    }
    if (et === ETHERTYPE_ARP) {
      v.kind = PacketKind.ARP;
      v.l3Off = p;
      return ParseStatus.OK;
    }
    if (et !== ETHERTYPE_IPV4) {
      v.kind = PacketKind.OTHER_L2;
      return ParseStatus.OK;
    }
  } else if (linkType === LinkType.RAW_IPV4) {
    p = off;
    if (len < 1) return ParseStatus.TRUNCATED_IP;
    if (b[p]! >>> 4 === IPV6_VERSION) {
      v.etherType = ETHERTYPE_IPV6;
      v.kind = PacketKind.IPV6;
      v.l3Off = p;
      return ParseStatus.OK;
    }
    v.etherType = ETHERTYPE_IPV4;
  } else {
    return ParseStatus.BAD_LINK_TYPE;
  }

  // ---- IPv4 ----
  const avail = end - p;
  if (avail < IPV4_MIN_HEADER_LEN) return ParseStatus.TRUNCATED_IP;
  const vihl = b[p]!;
  if (vihl >>> 4 !== IPV4_VERSION) return ParseStatus.BAD_IP_VERSION;
  const ihl = (vihl & 0x0f) << 2;
  if (ihl < IPV4_MIN_HEADER_LEN) return ParseStatus.BAD_IHL;
  if (ihl > avail) return ParseStatus.TRUNCATED_IP;
  v.l3Off = p;
  v.ipHeaderLen = ihl;
  const proto = b[p + IPV4_OFF_PROTO]!;
  v.ipProto = proto;
  v.kind =
    proto === IPPROTO_TCP ? PacketKind.TCP : proto === IPPROTO_UDP ? PacketKind.UDP : proto === IPPROTO_ICMP ? PacketKind.ICMP : PacketKind.IPV4_OTHER;
  const tot = u16(b, p + IPV4_OFF_TOTAL_LEN);
  if (tot < ihl || tot > avail || (linkType === LinkType.RAW_IPV4 && tot !== avail)) return ParseStatus.BAD_TOTAL_LENGTH;
  v.ipTotalLen = tot;
  if ((u16(b, p + IPV4_OFF_FRAG) & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK)) !== 0) return ParseStatus.FRAGMENT;
  const l4 = p + ihl;
  const l4Len = tot - ihl;
  v.l4Off = l4;
  v.l4Len = l4Len;

  if (proto === IPPROTO_TCP) {
    if (l4Len < TCP_MIN_HEADER_LEN) return ParseStatus.TRUNCATED_TCP;
    const doff = (b[l4 + TCP_OFF_DATA_OFF]! >>> 4) << 2;
    if (doff < TCP_MIN_HEADER_LEN || doff > l4Len) return ParseStatus.BAD_DATA_OFFSET;
    v.tcpHeaderLen = doff;
    v.payloadOff = l4 + doff;
    v.payloadLen = l4Len - doff;
    return parseOptions(b, l4 + TCP_OFF_OPTIONS, l4 + doff, v);
  }
  if (proto === IPPROTO_UDP) {
    if (l4Len < UDP_HEADER_LEN) return ParseStatus.TRUNCATED_L4;
    v.payloadOff = l4 + UDP_HEADER_LEN;
    v.payloadLen = l4Len - UDP_HEADER_LEN;
    return ParseStatus.OK;
  }
  if (proto === IPPROTO_ICMP) {
    if (l4Len < ICMP_MIN_HEADER_LEN) return ParseStatus.TRUNCATED_L4;
    v.payloadOff = l4 + ICMP_MIN_HEADER_LEN;
    v.payloadLen = l4Len - ICMP_MIN_HEADER_LEN;
    return ParseStatus.OK;
  }
  v.payloadOff = l4;
  v.payloadLen = l4Len;
  return ParseStatus.OK;
}

/**
 * Walks TCP options in b[i..hend). Bounded: every step advances i by >= 1.
 * An if-chain, not a switch: V8 compiles this loop several times faster that way (measured).
 * Fast paths, checked before the general walk: the RFC 7323 Appendix A layout NOP,NOP,TS(10)
 * that established Linux/BSD segments carry, and Linux's SYN/SYN-ACK layout. Both record exactly
 * what the general walk would (the property tests compare against frames with other layouts).
 */
function parseOptions(b: Uint8Array, i: number, hend: number, v: PacketView): ParseStatus {
  if (hend - i === TCP_TS_FAST_LEN && b[i] === TCPOPT_NOP && b[i + 1] === TCPOPT_NOP && b[i + 2] === TCPOPT_TIMESTAMP && b[i + 3] === TCPOLEN_TIMESTAMP) {
    v.tsOff = i + 2;
    v.optEnd = hend;
    return ParseStatus.OK;
  }
  if (
    hend - i === LINUX_SYN_OPTS_LEN &&
    b[i] === TCPOPT_MSS &&
    b[i + 1] === TCPOLEN_MSS &&
    b[i + 4] === TCPOPT_SACK_PERM &&
    b[i + 5] === TCPOLEN_SACK_PERM &&
    b[i + 6] === TCPOPT_TIMESTAMP &&
    b[i + 7] === TCPOLEN_TIMESTAMP &&
    b[i + 16] === TCPOPT_NOP &&
    b[i + 17] === TCPOPT_WSCALE &&
    b[i + 18] === TCPOLEN_WSCALE
  ) {
    v.mssOff = i;
    v.sackPermOff = i + 4;
    v.tsOff = i + 6;
    v.wscaleOff = i + 17;
    v.optEnd = hend;
    return ParseStatus.OK;
  }
  return walkOptions(b, i, hend, v);
}

/** The general option walk (split from parseOptions so the fast paths stay small enough to inline). */
function walkOptions(b: Uint8Array, i: number, hend: number, v: PacketView): ParseStatus {
  while (i < hend) {
    const kind = b[i]!;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (kind === TCPOPT_EOL) {
      v.optEnd = i;
      return ParseStatus.OK;
    }
    if (i + 1 >= hend) return ParseStatus.BAD_OPTION_LENGTH;
    const ol = b[i + 1]!;
    if (ol < 2 || i + ol > hend) return ParseStatus.BAD_OPTION_LENGTH;
    if (kind === TCPOPT_MSS) {
      if (ol === TCPOLEN_MSS) v.mssOff = i;
    } else if (kind === TCPOPT_TIMESTAMP) {
      if (ol === TCPOLEN_TIMESTAMP) v.tsOff = i;
    } else if (kind === TCPOPT_WSCALE) {
      if (ol === TCPOLEN_WSCALE) v.wscaleOff = i;
    } else if (kind === TCPOPT_SACK_PERM) {
      if (ol === TCPOLEN_SACK_PERM) v.sackPermOff = i;
    } else if (kind === SYNGATE_OPT_KIND && ol >= 4 && ((b[i + 2]! << 8) | b[i + 3]!) === SYNGATE_EXID) {
      if (ol !== SYNGATE_MARKER_LEN || v.markerOff >= 0) return ParseStatus.BAD_MARKER;
      v.markerOff = i;
    }
    i += ol;
  }
  v.optEnd = hend;
  return ParseStatus.OK;
}

/** NOP, NOP, TS: 12 bytes. */
const TCP_TS_FAST_LEN = 2 + TCPOLEN_TIMESTAMP;
/** Linux SYN / SYN-ACK layout MSS(4), SACK_PERM(2), TS(10), NOP, WSCALE(3): 20 bytes. */
const LINUX_SYN_OPTS_LEN = TCPOLEN_MSS + TCPOLEN_SACK_PERM + TCPOLEN_TIMESTAMP + 1 + TCPOLEN_WSCALE;

/** Reads a uint16, big-endian. */
export function u16(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!;
}
/** Reads a uint32, big-endian, as a non-negative number. */
export function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}
/** Writes a uint16, big-endian. */
export function w16(b: Uint8Array, i: number, x: number): void {
  b[i] = x >>> 8;
  b[i + 1] = x;
}
/** Writes a uint32, big-endian. */
export function w32(b: Uint8Array, i: number, x: number): void {
  b[i] = x >>> 24;
  b[i + 1] = x >>> 16;
  b[i + 2] = x >>> 8;
  b[i + 3] = x;
}
