// The attackers' side of the engine-based attacks: what a rogue pod with a forged, expired or
// stolen credential would put on the wire. An attacker "enforcer" here is the attacker's own tool:
// it builds the hostile SYN token with identity's attack builders (forgeSyn and friends, which
// make tokens exactly as an attacker could) and inserts it with packet's token carriage; the
// cluster's real engines decide.
// Invariants: only the attacker's outbound pure SYNs are touched (everything else passes as is);
// process() never throws (a SYN it cannot mark is forwarded unmarked); the tokens are bound to
// the exact tuple and ISN of the SYN they ride on, so the verifier's verdict is about the
// credential and keys, not about a sloppy binding.
import type { KeyObject } from 'node:crypto';
import { Direction, LinkType, Verdict, type OutboxEntry } from '../engine/types.js';
import {
  createCa,
  credentialWithWindow,
  forgeSyn,
  issueNodeCredential,
  synWithStolenCredential,
  type CaMaterial,
  type NodeIdentity,
} from '../identity/index.js';
import { insertToken, IPPROTO_TCP, PacketKind, PacketView, parseFrame as parsePacket, ParseStatus, TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN } from '../packet/index.js';
import type { ClusterEnforcer, EngineAttack, SimEvent } from './run.js';

const NO_OUTBOX: readonly OutboxEntry[] = Object.freeze([]) as readonly OutboxEntry[];

export interface AttackerMaterial {
  kind: EngineAttack;
  /** The cluster's CA (the expired credential is one it once issued). */
  ca: CaMaterial;
  /** The victim's node credential (public: it travels in every cold SYN). */
  victimCredential: Uint8Array;
  victimNode: string;
  /** SPIFFE ID the attacker claims (the victim's). */
  claim: string;
  labels: Record<string, string>;
  trustDomain: string;
  mtu?: number;
}

export class AttackerEnforcer implements ClusterEnforcer {
  readonly name: string;
  private readonly view = new PacketView();
  private readonly res = { verdict: Verdict.FORWARD as Verdict, length: 0, outbox: NO_OUTBOX };
  private readonly node: NodeIdentity | null;
  private readonly signingKey: KeyObject | null;
  /** SYNs this tool marked (for tests). */
  marked = 0;

  constructor(
    private readonly m: AttackerMaterial,
    nowMs: number,
  ) {
    this.name = `attacker(${m.kind})`;
    if (m.kind === 'forged-token') {
      // A CA of the attacker's own, for the cluster's trust domain, and a node credential from it.
      const rogueCa = createCa({ trustDomain: m.trustDomain, nowMs });
      this.node = issueNodeCredential(rogueCa, { node: m.victimNode, nowMs });
      this.signingKey = this.node.nodeKey;
    } else if (m.kind === 'expired') {
      // A genuine credential from the cluster's CA whose validity ended an hour ago.
      this.node = credentialWithWindow(m.ca, m.victimNode, nowMs - 3 * 3600_000, nowMs - 3600_000);
      this.signingKey = this.node.nodeKey;
    } else {
      this.node = null;
      this.signingKey = null;
    }
  }

  process(frame: Uint8Array, off: number, len: number, direction: Direction, now: number) {
    this.res.verdict = Verdict.FORWARD;
    this.res.length = len;
    if (direction !== Direction.OUTBOUND) return this.res;
    const v = this.view;
    parsePacket(frame, off, len, LinkType.ETHERNET, v);
    if (v.status !== ParseStatus.OK || v.kind !== PacketKind.TCP) return this.res;
    if ((v.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST | TCP_FLAG_FIN)) !== TCP_FLAG_SYN) return this.res;
    const binding = {
      srcIp: v.srcIp,
      dstIp: v.dstIp,
      srcPort: v.srcPort,
      dstPort: v.dstPort,
      proto: IPPROTO_TCP,
      isnC: v.seq,
      isnS: 0,
    };
    let token: Uint8Array;
    try {
      token =
        this.m.kind === 'stolen-credential'
          ? synWithStolenCredential(this.m.victimCredential, this.m.claim, binding, now)
          : forgeSyn({ node: this.node as NodeIdentity, signingKey: this.signingKey as KeyObject, spiffeId: this.m.claim, labels: this.m.labels, binding, nowMs: now });
    } catch {
      return this.res;
    }
    const n = insertToken(frame, v, token, 0, token.length, this.m.mtu ?? 1500);
    if (n > 0) {
      this.res.length = n;
      this.marked++;
    }
    return this.res;
  }

  drain(_out: SimEvent[]): void {}

  conntrackEntries(): number {
    return 0;
  }
}
