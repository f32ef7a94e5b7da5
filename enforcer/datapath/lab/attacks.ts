// Live attacks for `lab test`: crafted SYNs sent with raw-socket from the attacker pod's namespace,
// built from real captured tokens or from identity's attack builders. The verdict is read from the
// deciding enforcer's flow log.
// Invariants:
//  - captures run tcpdump inside a lab namespace only: the fabric port of the server's node, so
//    they see the token on the wire between nodes. An attack whose victim shares a node with the
//    target is reported as not run, because its token never crosses a wire;
//  - every packet is sent from the attacker pod's namespace to an address inside the lab
//    (198.18.0.0/15);
//  - the processes started here (tcpdump, rawsend, client) are ended by PID before the call returns.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowRecord } from '../../engine/flow-record.js';
import { LinkType } from '../../engine/types.js';
import {
  caFromPem,
  credentialWithWindow,
  forgeSyn,
  foreignPki,
  issueNodeCredential,
  synWithStolenCredential,
} from '../../identity/index.js';
import type { Binding } from '../../identity/index.js';
import { MARKER_TYPE_TOKEN, Marker, PacketView, ParseStatus, TCP_FLAG_ACK, TCP_FLAG_SYN, findMarker, linkTypeOfPcap, parseFrame, readPcap, writeMarker, writeTcpFrame } from '../../packet/index.js';
import type { LabPod, LabState } from './lab.js';

export type LiveAttack = 'forged-token' | 'replay' | 'spoofed-ip' | 'stolen-credential' | 'expired';
export const LIVE_ATTACKS: readonly string[] = ['no-token', 'forged-token', 'replay', 'spoofed-ip', 'stolen-credential', 'expired'];

export interface AttackOutcome {
  /** Client tuple the deciding enforcer sees. */
  srcIp: string;
  srcPort: number;
  /** null when the attack could not be staged (the note says why). */
  sent: boolean;
  note: string;
}

const u32 = (s: string): number => s.split('.').reduce((a, b) => a * 256 + Number(b), 0) >>> 0;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Sends whole IPv4 packets from `ns` through the raw-socket helper. */
export function rawSendFrom(root: string, ns: string, packets: readonly Uint8Array[]): void {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, join(root, 'scripts', 'lab', 'rawsend.mjs'), ...packets.map((p) => Buffer.from(p).toString('hex'))], { encoding: 'utf8', timeout: 15_000 });
  if (!(r.stdout ?? '').startsWith(`sent ${packets.length}`)) throw new Error(`rawsend in ${ns}: ${r.stdout ?? ''}${r.stderr ?? ''}`);
}

/** A bare IPv4 SYN carrying `token` behind a TOKEN marker (or `options` verbatim when given). */
export function synPacket(o: { srcIp: number; dstIp: number; sport: number; dport: number; isn: number; token: Uint8Array; options?: Uint8Array }): Uint8Array {
  let opts = o.options;
  if (opts === undefined) {
    opts = new Uint8Array(8);
    writeMarker(opts, 0, MARKER_TYPE_TOKEN, o.token.length >>> 8, o.token.length & 0xff);
  }
  const buf = new Uint8Array(2048);
  const n = writeTcpFrame(buf, 0, { srcIp: o.srcIp, dstIp: o.dstIp, srcPort: o.sport, dstPort: o.dport, seq: o.isn, ack: 0, flags: TCP_FLAG_SYN, window: 64240, options: opts, payload: o.token }, LinkType.RAW_IPV4);
  if (n < 0) throw new Error(`cannot build a SYN (${n})`);
  return buf.slice(0, n);
}

export interface CapturedSyn {
  ip: Uint8Array;
  sport: number;
  options: Uint8Array;
  token: Uint8Array;
}

/**
 * Captures the token-carrying SYN of one real connection victim -> target:port on the fabric port of
 * the target's node. Returns null if the victim and the target share a node (no wire between them).
 */
export async function captureVictimSyn(state: LabState, root: string, victim: LabPod, target: LabPod, port: number, connect: () => void): Promise<CapturedSyn | null> {
  if (victim.nodeIndex === target.nodeIndex) return null;
  const file = join(state.dir, `capture-${victim.ns}-${Date.now()}.pcap`);
  const filter = `tcp and src host ${victim.ip} and dst host ${target.ip} and dst port ${port}`;
  const td = spawn('ip', ['netns', 'exec', state.plan.fabricNs, 'tcpdump', '--immediate-mode', '-i', `n${target.nodeIndex}`, '-s', '0', '-U', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  td.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  try {
    for (let i = 0; i < 200 && !/listening on/.test(err); i++) await sleep(25);
    connect();
    await sleep(500);
  } finally {
    if (td.pid !== undefined && td.exitCode === null) process.kill(td.pid, 'SIGTERM');
    await new Promise((r) => (td.exitCode !== null ? r(null) : td.once('exit', r)));
  }
  if (!existsSync(file)) return null;
  const pcap = readPcap(readFileSync(file), file);
  rmSync(file, { force: true });
  const link = linkTypeOfPcap(pcap.linkType, file);
  const v = new PacketView();
  for (const r of pcap.records) {
    if (parseFrame(r.data, 0, r.data.length, link, v) !== ParseStatus.OK) continue;
    if ((v.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) !== TCP_FLAG_SYN || findMarker(v) !== Marker.TOKEN) continue;
    return {
      ip: r.data.slice(v.l3Off, v.l3Off + v.ipTotalLen),
      sport: v.srcPort,
      options: r.data.slice(v.l4Off + 20, v.l4Off + v.tcpHeaderLen),
      token: r.data.slice(v.tokenOff, v.tokenOff + v.tokenLen),
    };
  }
  return null;
}

/** The lab CA (DIR/ca), for attacks that present credentials the lab CA did issue. */
function labCa(state: LabState): ReturnType<typeof caFromPem> {
  return caFromPem(readFileSync(join(state.dir, 'ca', 'ca.pem'), 'utf8'), readFileSync(join(state.dir, 'ca', 'ca.key'), 'utf8'), 'lab CA');
}

/**
 * Stages one attack from `attacker` toward `target:port`. Crafted SYNs only: the verdict is read
 * from the flow log by the caller (tuple srcIp:srcPort -> target).
 */
export async function runAttack(
  kind: LiveAttack,
  state: LabState,
  root: string,
  sc: { trustDomain: string; spiffeOf: (id: string) => string | null; nodeOf: (id: string) => string },
  attacker: LabPod,
  target: LabPod,
  port: number,
  victim: LabPod | null,
  legit: (from: LabPod) => void,
): Promise<AttackOutcome> {
  const now = Date.now();
  const sport = 40000 + Math.floor(Math.random() * 20000);
  const isn = (Math.random() * 0xffffffff) >>> 0;
  const own: Binding = { srcIp: u32(attacker.ip), dstIp: u32(target.ip), srcPort: sport, dstPort: port, proto: 6, isnC: isn, isnS: 0 };
  const send = (pkt: Uint8Array): void => rawSendFrom(root, attacker.ns, [pkt]);
  const claim = victim === null ? `spiffe://${sc.trustDomain}/ns/${target.namespace}/sa/default` : (sc.spiffeOf(victim.id) ?? `spiffe://${sc.trustDomain}/ns/${victim.namespace}/sa/default`);
  switch (kind) {
    case 'forged-token': {
      // a PKI the cluster does not trust
      const foreign = foreignPki({ trustDomain: sc.trustDomain, node: 'rogue', nowMs: now });
      const token = forgeSyn({ node: issueNodeCredential(foreign.ca, { node: 'rogue', nowMs: now }), spiffeId: claim, binding: own, nowMs: now });
      send(synPacket({ srcIp: own.srcIp, dstIp: own.dstIp, sport, dport: port, isn, token }));
      return { srcIp: attacker.ip, srcPort: sport, sent: true, note: '' };
    }
    case 'expired': {
      // a credential the lab CA did issue, expired an hour ago
      const cred = credentialWithWindow(labCa(state), victim === null ? 'rogue' : sc.nodeOf(victim.id), now - 7200_000, now - 3600_000);
      const token = forgeSyn({ node: cred, spiffeId: claim, binding: own, nowMs: now });
      send(synPacket({ srcIp: own.srcIp, dstIp: own.dstIp, sport, dport: port, isn, token }));
      return { srcIp: attacker.ip, srcPort: sport, sent: true, note: '' };
    }
    case 'stolen-credential': {
      // the victim node's (public) credential, presented with a key the thief owns
      const stolen = issueNodeCredential(labCa(state), { node: victim === null ? 'rogue' : sc.nodeOf(victim.id), nowMs: now }).credential;
      const token = synWithStolenCredential(stolen, claim, own, now);
      send(synPacket({ srcIp: own.srcIp, dstIp: own.dstIp, sport, dport: port, isn, token }));
      return { srcIp: attacker.ip, srcPort: sport, sent: true, note: '' };
    }
    case 'replay':
    case 'spoofed-ip': {
      if (victim === null) return { srcIp: attacker.ip, srcPort: sport, sent: false, note: `${kind} needs a victim` };
      const cap = await captureVictimSyn(state, root, victim, target, port, () => legit(victim));
      if (cap === null) return { srcIp: victim.ip, srcPort: 0, sent: false, note: `no SYN of ${victim.id} -> ${target.id}:${port} on a wire between nodes to capture` };
      if (kind === 'replay') {
        send(cap.ip); // byte for byte, the victim's address included
        return { srcIp: victim.ip, srcPort: cap.sport, sent: true, note: '' };
      }
      // the victim's address and token, the attacker's own port and ISN
      send(synPacket({ srcIp: u32(victim.ip), dstIp: u32(target.ip), sport, dport: port, isn, token: cap.token, options: cap.options }));
      return { srcIp: victim.ip, srcPort: sport, sent: true, note: '' };
    }
  }
}

/** The deciding enforcer's deny record for an attack tuple (waits up to `ms`). */
export type FindRecord = (srcIp: string, srcPort: number, dstIp: string, ms: number) => Promise<FlowRecord | undefined>;
