// Numeric result codes of the packet engine.
// Invariants: values never change once released (they may appear in counters and logs);
// ParseStatus.OK is 0 and every defect is > 0; PacketError values are all < 0 so a function
// returning "new length or error" can be tested with `r < 0`; each table of labels is indexed
// by the code (PacketError by its negation).

/** Result of parseFrame: OK or the first defect found. */
export const ParseStatus = {
  OK: 0,
  /** off/len do not lie inside the buffer. */
  BAD_BOUNDS: 1,
  /** The link type is neither ETHERNET nor RAW_IPV4. */
  BAD_LINK_TYPE: 2,
  /** Shorter than the Ethernet header or a VLAN tag. */
  TRUNCATED_L2: 3,
  /** Fewer bytes than the IPv4 fixed header or than IHL*4. */
  TRUNCATED_IP: 4,
  /** EtherType says IPv4 but the version nibble is not 4 (or not 4/6 on a raw link). */
  BAD_IP_VERSION: 5,
  /** IHL < 5. */
  BAD_IHL: 6,
  /** IPv4 total length < IHL*4, larger than the bytes present, or (raw link) not equal to them. */
  BAD_TOTAL_LENGTH: 7,
  /** An IPv4 fragment (MF set or a non-zero fragment offset); L4 is not parsed. */
  FRAGMENT: 8,
  /** Fewer than 20 bytes of TCP header. */
  TRUNCATED_TCP: 9,
  /** TCP data offset < 5 words or past the end of the segment. */
  BAD_DATA_OFFSET: 10,
  /** A TCP option whose length byte is missing, < 2, or runs past the TCP header. */
  BAD_OPTION_LENGTH: 11,
  /** A syngate marker option (kind 253 with our ExID) of the wrong length, or two of them. */
  BAD_MARKER: 12,
  /** UDP or ICMP shorter than its fixed header. */
  TRUNCATED_L4: 13,
} as const;
export type ParseStatus = (typeof ParseStatus)[keyof typeof ParseStatus];

export const PARSE_STATUS_LABELS: readonly string[] = [
  'ok',
  'bad-bounds',
  'bad-link-type',
  'truncated-l2',
  'truncated-ip',
  'bad-ip-version',
  'bad-ihl',
  'bad-total-length',
  'fragment',
  'truncated-tcp',
  'bad-data-offset',
  'bad-option-length',
  'bad-marker',
  'truncated-l4',
];

export function parseStatusLabel(s: number): string {
  return PARSE_STATUS_LABELS[s] ?? `unknown(${s})`;
}

/** What the frame carries, as far as parseFrame classified it (valid whatever the status). */
export const PacketKind = {
  NONE: 0,
  TCP: 1,
  UDP: 2,
  ICMP: 3,
  /** IPv4 with another protocol number. */
  IPV4_OTHER: 4,
  /** IPv6: recognised, never parsed further. */
  IPV6: 5,
  ARP: 6,
  /** Ethernet with another EtherType. */
  OTHER_L2: 7,
} as const;
export type PacketKind = (typeof PacketKind)[keyof typeof PacketKind];

export const PACKET_KIND_LABELS: readonly string[] = ['none', 'tcp', 'udp', 'icmp', 'ipv4-other', 'ipv6', 'arp', 'other-l2'];

/**
 * Negative results of the rewriting and building functions (insertToken, stripToken, the RST and
 * ACK builders, writeTcpFrame). A successful call returns a length >= 0 instead.
 */
export const PacketError = {
  /** The view's status is not ParseStatus.OK. */
  NOT_PARSED: -1,
  /** The frame is not IPv4/TCP. */
  NOT_TCP: -2,
  /** Flags are not exactly SYN, SYN-ACK or ACK (ECE/CWR/PSH/URG ignored); RST and FIN refused. */
  NOT_HANDSHAKE: -3,
  /** insertToken: the segment already carries payload. */
  HAS_PAYLOAD: -4,
  /** The TCP options would exceed 40 bytes. */
  OPTIONS_FULL: -5,
  /** The resulting IP packet would be longer than the MTU. */
  EXCEEDS_MTU: -6,
  /** The buffer has no room for the result (FRAME_HEADROOM not honoured, or a small output buffer). */
  NO_ROOM: -7,
  /** insertToken: the segment already carries a syngate marker. */
  ALREADY_MARKED: -8,
  /** Token length 0, > 65535, or outside the token buffer. */
  BAD_TOKEN: -9,
  /** stripToken: no syngate token marker. */
  NO_MARKER: -10,
  /** stripToken: the marker's token length disagrees with the payload, or the marker type is not TOKEN. */
  BAD_MARKER: -11,
  /** A builder argument is out of range (option bytes not a multiple of 4 after padding > 40, bad MAC, ...). */
  BAD_ARGUMENT: -12,
} as const;
export type PacketError = (typeof PacketError)[keyof typeof PacketError];

export const PACKET_ERROR_LABELS: readonly string[] = [
  'none',
  'not-parsed',
  'not-tcp',
  'not-handshake',
  'has-payload',
  'options-full',
  'exceeds-mtu',
  'no-room',
  'already-marked',
  'bad-token',
  'no-marker',
  'bad-marker',
  'bad-argument',
];

export function packetErrorLabel(e: number): string {
  return PACKET_ERROR_LABELS[-e] ?? `unknown(${e})`;
}
