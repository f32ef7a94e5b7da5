// The few nfnetlink_queue messages the nfqueue adapter reads and writes itself (its drain path,
// see nfqueue-drain.ts): packet messages from the kernel, the queue-length config request and the
// kernel's ack. Pure codec over caller-provided buffers; nothing is allocated per message.
// Invariants:
//  - netlink headers and attribute headers are in host byte order; this codec reads them
//    little-endian and callers must check `os.endianness() === 'LE'` first (x86-64, arm64);
//    nfnetlink payload fields (packet id, mark, queue number, config values) are big-endian;
//  - a message is accepted only if its length field fits in the datagram; attributes that do not
//    fit in their message stop the attribute walk (the message is then reported without payload);
//  - parseNfqMessage never throws: malformed input is reported through its return value and `kind`.

/** struct nlmsghdr: 16 bytes, host byte order. */
export const NLMSG_HDRLEN = 16;
export const NLMSG_OFF_LEN = 0; // u32
export const NLMSG_OFF_TYPE = 4; // u16
export const NLMSG_OFF_FLAGS = 6; // u16
export const NLMSG_OFF_SEQ = 8; // u32
export const NLMSG_OFF_PID = 12; // u32
/** NLMSG_ERROR payload: int error (host order, 0 = ack, -errno otherwise), then the request's header. */
export const NLMSGERR_OFF_ERROR = NLMSG_HDRLEN;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;

/** struct nfgenmsg after the netlink header: family u8, version u8, res_id u16 (big-endian: the queue number). */
export const NFGENMSG_LEN = 4;
export const NFGEN_OFF_FAMILY = 0;
export const NFGEN_OFF_VERSION = 1;
export const NFGEN_OFF_RES_ID = 2;
export const NFNETLINK_V0 = 0;

/** struct nlattr: len u16, type u16 (host order); values padded to 4 bytes. */
export const NLA_HDRLEN = 4;
export const NLA_OFF_LEN = 0;
export const NLA_OFF_TYPE = 2;
/** Strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from an attribute type. */
export const NLA_TYPE_MASK = 0x3fff;

export const NFNL_SUBSYS_QUEUE = 3;
export const NFQNL_MSG_PACKET = 0;
export const NFQNL_MSG_CONFIG = 2;
/** nlmsg_type of a queued packet: subsystem << 8 | message. */
export const NFQ_TYPE_PACKET = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
export const NFQ_TYPE_CONFIG = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG;

/** Packet attributes. NFQA_PACKET_HDR: packet_id be32, hw_protocol be16, hook u8. */
export const NFQA_PACKET_HDR = 1;
export const NFQA_MARK = 3; // be32
export const NFQA_PAYLOAD = 10;
/** Config attribute: the queue's length limit (be32). */
export const NFQA_CFG_QUEUE_MAXLEN = 3;

export const NfqKind = {
  /** A queued packet with its id (payload may be absent: `payloadOff < 0`). */
  PACKET: 0,
  /** NLMSG_ERROR: `error` holds 0 (ack) or -errno. */
  ERROR: 1,
  /** Anything else (skipped). */
  OTHER: 2,
  /** A packet message without NFQA_PACKET_HDR: no id, so no verdict is possible. */
  NO_ID: 3,
} as const;
export type NfqKind = (typeof NfqKind)[keyof typeof NfqKind];

/** One parsed message; reused by the caller. */
export class NfqMessage {
  kind: NfqKind = NfqKind.OTHER;
  /** Queue number (nfgenmsg res_id). */
  queue = 0;
  id = 0;
  mark = 0;
  payloadOff = -1;
  payloadLen = 0;
  error = 0;
}

const align4 = (n: number): number => (n + 3) & ~3;

/**
 * Parses the netlink message at buf[off..end) into `out`. Returns the offset of the next message,
 * or -1 when no valid message starts at `off` (truncated or bad length: stop reading this datagram).
 */
export function parseNfqMessage(buf: Buffer, off: number, end: number, out: NfqMessage): number {
  if (end - off < NLMSG_HDRLEN) return -1;
  const len = buf.readUInt32LE(off + NLMSG_OFF_LEN);
  if (len < NLMSG_HDRLEN || len > end - off) return -1;
  const type = buf.readUInt16LE(off + NLMSG_OFF_TYPE);
  const msgEnd = off + len;
  const next = Math.min(off + align4(len), end);
  out.kind = NfqKind.OTHER;
  out.payloadOff = -1;
  out.payloadLen = 0;
  out.mark = 0;
  out.id = 0;
  out.error = 0;
  if (type === NLMSG_ERROR) {
    if (len >= NLMSG_HDRLEN + 4) {
      out.kind = NfqKind.ERROR;
      out.error = buf.readInt32LE(off + NLMSGERR_OFF_ERROR);
    }
    return next;
  }
  if (type !== NFQ_TYPE_PACKET || len < NLMSG_HDRLEN + NFGENMSG_LEN) return next;
  out.queue = buf.readUInt16BE(off + NLMSG_HDRLEN + NFGEN_OFF_RES_ID);
  let haveId = false;
  let a = off + NLMSG_HDRLEN + NFGENMSG_LEN;
  while (msgEnd - a >= NLA_HDRLEN) {
    const alen = buf.readUInt16LE(a + NLA_OFF_LEN);
    if (alen < NLA_HDRLEN || alen > msgEnd - a) break;
    const atype = buf.readUInt16LE(a + NLA_OFF_TYPE) & NLA_TYPE_MASK;
    const v = a + NLA_HDRLEN;
    const vlen = alen - NLA_HDRLEN;
    if (atype === NFQA_PACKET_HDR && vlen >= 4) {
      out.id = buf.readUInt32BE(v);
      haveId = true;
    } else if (atype === NFQA_MARK && vlen >= 4) {
      out.mark = buf.readUInt32BE(v);
    } else if (atype === NFQA_PAYLOAD) {
      out.payloadOff = v;
      out.payloadLen = vlen;
    }
    a += align4(alen);
  }
  out.kind = haveId ? NfqKind.PACKET : NfqKind.NO_ID;
  return next;
}

/** Length of the message encodeQueueMaxlen writes. */
export const QUEUE_MAXLEN_MSG_LEN = NLMSG_HDRLEN + NFGENMSG_LEN + NLA_HDRLEN + 4;

/**
 * Writes an NFQNL_MSG_CONFIG request setting `queue`'s length limit, asking for an ack, at
 * buf[off..off+QUEUE_MAXLEN_MSG_LEN). Returns the length written. The kernel accepts it only
 * from the socket bound to the queue.
 */
export function encodeQueueMaxlen(buf: Buffer, off: number, queue: number, maxlen: number, seq: number): number {
  buf.fill(0, off, off + QUEUE_MAXLEN_MSG_LEN);
  buf.writeUInt32LE(QUEUE_MAXLEN_MSG_LEN, off + NLMSG_OFF_LEN);
  buf.writeUInt16LE(NFQ_TYPE_CONFIG, off + NLMSG_OFF_TYPE);
  buf.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK, off + NLMSG_OFF_FLAGS);
  buf.writeUInt32LE(seq >>> 0, off + NLMSG_OFF_SEQ);
  // nlmsg_pid 0: the kernel fills in the sender's port id.
  const g = off + NLMSG_HDRLEN;
  buf.writeUInt8(0, g + NFGEN_OFF_FAMILY); // AF_UNSPEC
  buf.writeUInt8(NFNETLINK_V0, g + NFGEN_OFF_VERSION);
  buf.writeUInt16BE(queue, g + NFGEN_OFF_RES_ID);
  const a = g + NFGENMSG_LEN;
  buf.writeUInt16LE(NLA_HDRLEN + 4, a + NLA_OFF_LEN);
  buf.writeUInt16LE(NFQA_CFG_QUEUE_MAXLEN, a + NLA_OFF_TYPE);
  buf.writeUInt32BE(maxlen >>> 0, a + NLA_HDRLEN);
  return QUEUE_MAXLEN_MSG_LEN;
}
