// Shared fixtures for identity tests: one CA, two node agents, one workload each, and a driver
// for the full SYN -> SYN-ACK -> ACK exchange through the public API.
import {
  type Binding,
  type CaMaterial,
  type ClientHandshake,
  type IdentityConfig,
  IdentityAgent,
  type LocalWorkload,
  type ServerHandshake,
  bundleOf,
  createCa,
  issueNodeCredential,
} from '../../enforcer/identity/index.js';
import { Reason, reasonLabel } from '../../enforcer/reasons.js';

export const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
export const CLIENT_IP = 0xc6120001; // 198.18.0.1
export const SERVER_IP = 0xc6120002; // 198.18.0.2
export const CLIENT_ID = 'spiffe://cluster.local/ns/shop/sa/frontend';
export const SERVER_ID = 'spiffe://cluster.local/ns/shop/sa/cart';

export interface World {
  ca: CaMaterial;
  clientNode: IdentityAgent;
  serverNode: IdentityAgent;
  client: LocalWorkload;
  server: LocalWorkload;
}

export function world(config: Partial<IdentityConfig> = {}, ca = createCa({ trustDomain: 'cluster.local', nowMs: T0 })): World {
  const bundle = bundleOf(ca);
  const clientNode = new IdentityAgent({ node: issueNodeCredential(ca, { node: 'node-a', nowMs: T0 }), bundle, config });
  const serverNode = new IdentityAgent({ node: issueNodeCredential(ca, { node: 'node-b', nowMs: T0 }), bundle, config });
  const client = clientNode.registerWorkload({ spiffeId: CLIENT_ID, labels: { app: 'frontend' }, ip: CLIENT_IP }, T0);
  const server = serverNode.registerWorkload({ spiffeId: SERVER_ID, labels: { app: 'cart', tier: 'backend' }, ip: SERVER_IP }, T0);
  return { ca, clientNode, serverNode, client, server };
}

let port = 30000;
export function binding(over: Partial<Binding> = {}): Binding {
  port = port >= 60000 ? 30000 : port + 1;
  return { srcIp: CLIENT_IP, dstIp: SERVER_IP, srcPort: port, dstPort: 8080, proto: 6, isnC: (port * 7919) >>> 0, isnS: 0, ...over };
}

export interface Exchange {
  chs: ClientHandshake;
  shs: ServerHandshake;
  syn: Uint8Array;
  synAck: Uint8Array;
  ack: Uint8Array;
  /** Label of the first failing step's reason, 'ok' when all passed. */
  result: string;
  step: 'build-syn' | 'syn' | 'syn-ack' | 'ack' | 'done';
}

/** Runs one full handshake between w.client and w.server; stops at the first failure. */
export function handshake(w: World, nowMs = T0, b: Binding = binding(), isnS = 0x5eed0000 + (b.srcPort & 0xffff)): Exchange {
  const chs = w.clientNode.buildSyn(w.client, b, nowMs);
  const ex: Exchange = { chs, shs: undefined as unknown as ServerHandshake, syn: chs.token, synAck: new Uint8Array(0), ack: new Uint8Array(0), result: reasonLabel(chs.reason), step: 'build-syn' };
  if (chs.reason !== Reason.OK) return ex;
  ex.shs = w.serverNode.verifySyn(w.server, chs.token, b, nowMs);
  ex.step = 'syn';
  ex.result = reasonLabel(ex.shs.reason);
  if (ex.shs.reason !== Reason.OK) return ex;
  ex.synAck = w.serverNode.buildSynAck(ex.shs, isnS, nowMs);
  const b2 = { ...b, isnS };
  const r1 = w.clientNode.verifySynAck(chs, ex.synAck, b2, nowMs);
  ex.step = 'syn-ack';
  ex.result = reasonLabel(r1);
  if (r1 !== Reason.OK) return ex;
  ex.ack = w.clientNode.buildAck(chs);
  const r2 = w.serverNode.verifyAck(ex.shs, ex.ack, nowMs);
  ex.step = r2 === Reason.OK ? 'done' : 'ack';
  ex.result = reasonLabel(r2);
  return ex;
}

/** Counters that show asymmetric crypto. */
export function crypto(a: IdentityAgent): { sig: number; x25519: number } {
  return { sig: a.stats.signaturesVerified, x25519: a.stats.x25519Derivations };
}
