// Builders of hostile handshake tokens, for tests and the simulator's attack scenarios.
// Invariants: these produce well-formed tokens exactly as an attacker could (they never touch
// an agent's private state); each documents which Reason an honest verifier must return.
// Capabilities modelled: a foreign CA, a stolen credential without its private key, expired
// or not-yet-valid credentials, replays (re-send captured bytes), and rebinding a captured
// token to a new tuple.
import crypto, { type KeyObject } from 'node:crypto';
import protobuf from 'protobufjs';
import {
  IdentityAgent,
  SYN_SIG_CONTEXT,
  TOKEN_KIND_SYN,
  TS_LABEL_SYN,
  TS_OFF_CLIENT_DOC,
  TS_OFF_ISSUED,
  TS_OFF_NC,
  TS_OFF_SYN_BINDING,
  TS_SYN_LEN,
} from './agent.js';
import { BINDING_LEN, type Binding, writeBinding } from './binding.js';
import { bundleOf, createCa, DOCUMENT_CONTEXT, issueNodeCredential, type CaMaterial, type NodeIdentity } from './pki.js';
import { id16, rawPublicKey } from './primitives.js';
import { DocumentBodyMsg, DocumentMsg, SynTokenMsg, type SynTokenFields } from './schema.js';

export interface ForgeSynOptions {
  /** Credential presented in the token (may be foreign, expired, not yet valid or stolen). */
  node: NodeIdentity;
  /** Key that signs the document and the SYN; defaults to node.nodeKey. A different key models a thief. */
  signingKey?: KeyObject;
  spiffeId: string;
  labels?: Record<string, string>;
  binding: Binding;
  nowMs: number;
  /** SYN issue time (unix seconds); default now. */
  issuedAtSec?: number;
  docNotBeforeSec?: number;
  docNotAfterSec?: number;
  nonce?: Uint8Array;
}

/**
 * A cold SYN token built from raw material, bypassing every check an honest agent makes.
 * Expected verdicts: foreign CA -> untrusted-issuer; expired / future credential -> expired /
 * not-yet-valid; signingKey not the credential's -> bad-signature.
 */
export function forgeSyn(o: ForgeSynOptions): Uint8Array {
  const nowSec = Math.floor(o.nowMs / 1000);
  const key = o.signingKey ?? o.node.nodeKey;
  const credId = id16(o.node.credential);
  const body = DocumentBodyMsg.encode({
    spiffeId: o.spiffeId,
    labels: o.labels ?? {},
    ephKey: rawPublicKey(crypto.generateKeyPairSync('x25519').publicKey),
    notBefore: (o.docNotBeforeSec ?? nowSec - 60) >>> 0,
    notAfter: (o.docNotAfterSec ?? nowSec + 3600) >>> 0,
    credId,
  }).finish();
  const docSig = crypto.sign(null, Buffer.concat([DOCUMENT_CONTEXT, body]), key);
  const doc = DocumentMsg.encode({ body, sig: docSig }).finish();
  const nonce = o.nonce ?? crypto.randomBytes(16);
  const binding = Buffer.alloc(BINDING_LEN);
  writeBinding(o.binding, 0, binding, 0);
  const issuedAt = (o.issuedAtSec ?? nowSec) >>> 0;
  const ts = Buffer.alloc(TS_SYN_LEN); // peer doc id stays zero: a cold SYN
  ts.set(TS_LABEL_SYN, 0);
  ts.set(id16(doc), TS_OFF_CLIENT_DOC);
  ts.set(nonce, TS_OFF_NC);
  ts.set(binding, TS_OFF_SYN_BINDING);
  ts.writeUInt32BE(issuedAt, TS_OFF_ISSUED);
  const sig = crypto.sign(null, Buffer.concat([SYN_SIG_CONTEXT, ts]), key);
  const w = protobuf.Writer.create();
  w.uint32(TOKEN_KIND_SYN);
  SynTokenMsg.encode({ cred: o.node.credential, doc, nonce, binding, issuedAt, sig }, w);
  return w.finish();
}

/** A SYN carrying a captured (public) credential, signed by a key the thief does own: bad-signature. */
export function synWithStolenCredential(stolen: Uint8Array, spiffeId: string, binding: Binding, nowMs: number): Uint8Array {
  const thiefKey = crypto.generateKeyPairSync('ed25519').privateKey;
  return forgeSyn({ node: { credential: stolen, nodeKey: thiefKey }, signingKey: thiefKey, spiffeId, binding, nowMs });
}

/** A whole PKI the victim does not trust: tokens from its agent verify as untrusted-issuer. */
export function foreignPki(opts: { trustDomain?: string; node?: string; nowMs: number }): { ca: CaMaterial; agent: IdentityAgent } {
  const ca = createCa({ trustDomain: opts.trustDomain ?? 'cluster.local', nowMs: opts.nowMs });
  const agent = new IdentityAgent({ node: issueNodeCredential(ca, { node: opts.node ?? 'rogue', nowMs: opts.nowMs }), bundle: bundleOf(ca) });
  return { ca, agent };
}

/** A node identity valid only in [notBeforeMs, notAfterMs] (expired or not-yet-valid credentials). */
export function credentialWithWindow(ca: CaMaterial, node: string, notBeforeMs: number, notAfterMs: number): NodeIdentity {
  const ttlSec = Math.max(1, Math.floor(notAfterMs / 1000) - Math.floor(notBeforeMs / 1000));
  return issueNodeCredential(ca, { node, nowMs: notAfterMs - ttlSec * 1000, ttlSec, notBeforeMs });
}

/**
 * Re-targets a captured SYN token at another tuple by rewriting its binding field (an attacker
 * adapting a replay): the proof no longer matches, so bad-signature (cold) or bad-mac (warm).
 */
export function rebindSyn(token: Uint8Array, binding: Binding): Uint8Array {
  const m = SynTokenMsg.decode(token.subarray(1)) as unknown as SynTokenFields;
  const b = Buffer.alloc(BINDING_LEN);
  writeBinding(binding, 0, b, 0);
  const w = protobuf.Writer.create();
  w.uint32(TOKEN_KIND_SYN);
  SynTokenMsg.encode({ ...m, binding: b }, w);
  return w.finish();
}
