// Named byte offsets, flags and protocol numbers for Ethernet, IPv4 and TCP.
// Invariants: every offset is relative to the start of its own header (Ethernet frame start,
// IPv4 header start = l3Off, TCP header start = l4Off); every multi-byte field is network byte
// order (big-endian) on the wire. Nothing here allocates.

// ---- Ethernet II (IEEE 802.3) ----
/** Destination MAC, 6 bytes. */
export const ETH_OFF_DST = 0;
/** Source MAC, 6 bytes. */
export const ETH_OFF_SRC = 6;
/** EtherType, uint16 big-endian (after any 802.1Q tags it moves by 4 bytes per tag). */
export const ETH_OFF_TYPE = 12;
export const ETH_HEADER_LEN = 14;
export const ETH_ADDR_LEN = 6;
/** 802.1Q / 802.1ad tag: TPID(2) + TCI(2); the TCI's low 12 bits are the VLAN id (big-endian). */
export const VLAN_TAG_LEN = 4;
export const VLAN_ID_MASK = 0x0fff;
/** At most this many stacked VLAN tags are skipped (802.1ad QinQ = 2). */
export const VLAN_MAX_TAGS = 2;
/** Minimum Ethernet frame without FCS; shorter frames are padded on the wire (trailer bytes). */
export const ETH_MIN_FRAME_LEN = 60;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_IPV6 = 0x86dd;

// ---- IPv4 (RFC 791) ----
/** Version (high nibble) and IHL in 32-bit words (low nibble). */
export const IPV4_OFF_VER_IHL = 0;
/** DSCP/ECN byte. */
export const IPV4_OFF_TOS = 1;
/** Total length of the IP packet in bytes, uint16 big-endian. */
export const IPV4_OFF_TOTAL_LEN = 2;
/** Identification, uint16 big-endian. */
export const IPV4_OFF_ID = 4;
/** Flags (3 high bits) + fragment offset (13 bits, 8-byte units), uint16 big-endian. */
export const IPV4_OFF_FRAG = 6;
export const IPV4_OFF_TTL = 8;
export const IPV4_OFF_PROTO = 9;
/** Header checksum, uint16 big-endian. */
export const IPV4_OFF_CSUM = 10;
/** Source address, uint32 big-endian. */
export const IPV4_OFF_SRC = 12;
/** Destination address, uint32 big-endian. */
export const IPV4_OFF_DST = 16;
export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;
export const IPV4_VERSION = 4;
export const IPV6_VERSION = 6;
/** Bits of the uint16 at IPV4_OFF_FRAG. */
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;
export const IPV4_MAX_TOTAL_LEN = 0xffff;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

// ---- TCP (RFC 9293) ----
/** Source port, uint16 big-endian. */
export const TCP_OFF_SRC_PORT = 0;
/** Destination port, uint16 big-endian. */
export const TCP_OFF_DST_PORT = 2;
/** Sequence number, uint32 big-endian. */
export const TCP_OFF_SEQ = 4;
/** Acknowledgment number, uint32 big-endian. */
export const TCP_OFF_ACK = 8;
/** Data offset in 32-bit words (high nibble) + reserved bits (low nibble). */
export const TCP_OFF_DATA_OFF = 12;
/** Flag byte: CWR ECE URG ACK PSH RST SYN FIN (bit 7..0). */
export const TCP_OFF_FLAGS = 13;
/** Receive window, uint16 big-endian. */
export const TCP_OFF_WINDOW = 14;
/** Checksum over pseudo-header + segment, uint16 big-endian. */
export const TCP_OFF_CSUM = 16;
/** Urgent pointer, uint16 big-endian. */
export const TCP_OFF_URG_PTR = 18;
/** First option byte. */
export const TCP_OFF_OPTIONS = 20;
export const TCP_MIN_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
export const TCP_MAX_OPTIONS_LEN = 40;

export const TCP_FLAG_FIN = 0x01;
export const TCP_FLAG_SYN = 0x02;
export const TCP_FLAG_RST = 0x04;
export const TCP_FLAG_PSH = 0x08;
export const TCP_FLAG_ACK = 0x10;
export const TCP_FLAG_URG = 0x20;
export const TCP_FLAG_ECE = 0x40;
export const TCP_FLAG_CWR = 0x80;

/** Option kinds (IANA "TCP Option Kind Numbers"). */
export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERM = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;
/** TCP Fast Open; syngate never uses it. */
export const TCPOPT_FASTOPEN = 34;
/** RFC 4727 / RFC 6994 experimental kinds (shared, disambiguated by a 16-bit ExID). */
export const TCPOPT_EXP1 = 253;
export const TCPOPT_EXP2 = 254;

export const TCPOLEN_MSS = 4;
export const TCPOLEN_WSCALE = 3;
export const TCPOLEN_SACK_PERM = 2;
export const TCPOLEN_TIMESTAMP = 10;

/** UDP header length; ICMP minimum header (type, code, checksum, rest-of-header). */
export const UDP_HEADER_LEN = 8;
export const ICMP_MIN_HEADER_LEN = 8;

/** IPv4 pseudo-header for the TCP checksum: src(4) dst(4) zero(1) proto(1) tcp length(2). */
export const PSEUDO_HEADER_LEN = 12;
