// In-memory PKI: the CA (ECDSA P-256), trust bundles, compact node credentials for the wire
// and X.509-SVIDs. No file I/O here (ca-files.ts does that).
// Invariants:
//  - a TrustBundle is immutable; anchors are keyed by CA key id (8 bytes, latin1 string);
//  - a node credential's body is signed by the CA over CREDENTIAL_CONTEXT || body, so a CA
//    signature over an X.509 TBSCertificate can never be replayed as a credential;
//  - credentials carry fixed-width validity (fixed32 seconds) and an 8-byte serial;
//  - functions here throw SyngateError on bad input (edge code); the hot path is in agent.ts.
import crypto, { type KeyObject, X509Certificate } from 'node:crypto';
import { SyngateError } from '../errors.js';
import { bytesFieldSize, caKeyId, rawPublicKey } from './primitives.js';
import { CredentialBodyMsg, CredentialMsg, type CredentialBody, type Signed } from './schema.js';
import { requireSpiffeId, validTrustDomain } from './spiffe.js';
import { buildCertificate, derToPem, NAME_OID, splitPemCertificates, subjectKeyId } from './x509.js';

export const CREDENTIAL_CONTEXT = Buffer.from('syngate/v1 credential\0', 'ascii');
export const DOCUMENT_CONTEXT = Buffer.from('syngate/v1 document\0', 'ascii');
export const SERIAL_LEN = 8;
export const DEFAULT_CA_TTL_SEC = 10 * 365 * 86400;
export const DEFAULT_CREDENTIAL_TTL_SEC = 24 * 3600;
/** Certificates and credentials start this far in the past so peers with slow clocks accept them. */
export const BACKDATE_SEC = 60;

export interface CaMaterial {
  readonly trustDomain: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** First 8 bytes of SHA-256(SPKI DER). */
  readonly keyId: Buffer;
  readonly certPem: string;
  readonly subjectKeyId: Buffer;
}

export interface TrustAnchor {
  readonly trustDomain: string;
  readonly publicKey: KeyObject;
  readonly keyId: Buffer;
}

/** The set of CAs this enforcer trusts. Replace the whole bundle to add or remove a CA. */
export class TrustBundle {
  private readonly byId = new Map<string, TrustAnchor>();
  constructor(anchors: readonly TrustAnchor[]) {
    for (const a of anchors) this.byId.set(a.keyId.toString('latin1'), a);
  }
  get size(): number {
    return this.byId.size;
  }
  anchors(): TrustAnchor[] {
    return [...this.byId.values()];
  }
  /** Anchor for an 8-byte issuer key id, or undefined. */
  lookup(issuer: Uint8Array): TrustAnchor | undefined {
    if (issuer.length !== 8) return undefined;
    return this.byId.get(Buffer.from(issuer.buffer, issuer.byteOffset, 8).toString('latin1'));
  }
  /** Bundle from one or more PEM CA certificates; each must be a CA with a spiffe://<td> URI SAN. */
  static fromPem(pem: string, source = 'trust bundle'): TrustBundle {
    const certs = splitPemCertificates(pem);
    if (certs.length === 0) {
      throw new SyngateError('SYNGATE_IDENTITY_BAD_BUNDLE', `${source}: no PEM CERTIFICATE block found`);
    }
    const anchors: TrustAnchor[] = [];
    for (const [i, c] of certs.entries()) {
      let x: X509Certificate;
      try {
        x = new X509Certificate(c);
      } catch (e) {
        throw new SyngateError('SYNGATE_IDENTITY_BAD_BUNDLE', `${source}: certificate #${i + 1} does not parse`, { cause: e });
      }
      if (!x.ca) throw new SyngateError('SYNGATE_IDENTITY_BAD_BUNDLE', `${source}: certificate #${i + 1} is not a CA`);
      if (x.publicKey.asymmetricKeyType !== 'ec') {
        throw new SyngateError('SYNGATE_IDENTITY_BAD_BUNDLE', `${source}: certificate #${i + 1} key is not ECDSA P-256`);
      }
      const td = trustDomainOfCert(x);
      if (td === undefined) {
        throw new SyngateError(
          'SYNGATE_IDENTITY_BAD_BUNDLE',
          `${source}: certificate #${i + 1} has no spiffe://<trust-domain> URI SAN`,
        );
      }
      anchors.push({ trustDomain: td, publicKey: x.publicKey, keyId: caKeyId(x.publicKey) });
    }
    return new TrustBundle(anchors);
  }
}

export function trustDomainOfCert(x: X509Certificate): string | undefined {
  const san = x.subjectAltName ?? '';
  const m = /URI:spiffe:\/\/([a-z0-9._-]+)(?:,|$)/.exec(san);
  return m?.[1];
}

function randomSerial(): Buffer {
  const s = crypto.randomBytes(SERIAL_LEN);
  s[0] = ((s[0] ?? 0) & 0x7f) | 0x40; // positive, minimal DER INTEGER
  return s;
}

function caSubject(td: string): Array<[string, string]> {
  return [
    [NAME_OID.organization, 'syngate'],
    [NAME_OID.commonName, `syngate CA ${td}`],
  ];
}

/** Creates a new root CA for `trustDomain` with a self-signed certificate. */
export function createCa(opts: { trustDomain: string; nowMs?: number; ttlSec?: number; privateKey?: KeyObject }): CaMaterial {
  const bad = validTrustDomain(opts.trustDomain);
  if (bad !== undefined) throw new SyngateError('SYNGATE_IDENTITY_BAD_SPIFFE_ID', `--trust-domain: ${bad}`);
  const privateKey = opts.privateKey ?? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  requireP256(privateKey, 'CA key');
  const publicKey = crypto.createPublicKey(privateKey);
  const now = opts.nowMs ?? Date.now();
  const der = buildCertificate({
    serial: randomSerial(),
    subject: caSubject(opts.trustDomain),
    issuer: caSubject(opts.trustDomain),
    notBefore: new Date(now - BACKDATE_SEC * 1000),
    notAfter: new Date(now + (opts.ttlSec ?? DEFAULT_CA_TTL_SEC) * 1000),
    publicKey,
    uriSan: `spiffe://${opts.trustDomain}`,
    isCa: true,
    signingKey: privateKey,
  });
  return {
    trustDomain: opts.trustDomain,
    privateKey,
    publicKey,
    keyId: caKeyId(publicKey),
    certPem: derToPem(der),
    subjectKeyId: subjectKeyId(publicKey),
  };
}

/** Rebuilds CA material from its certificate and key; refuses a key that does not match. */
export function caFromPem(certPem: string, keyPem: string, source = 'CA'): CaMaterial {
  let x: X509Certificate;
  try {
    x = new X509Certificate(certPem);
  } catch (e) {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_CERT', `${source}: CA certificate does not parse`, { cause: e });
  }
  let privateKey: KeyObject;
  try {
    privateKey = crypto.createPrivateKey(keyPem);
  } catch (e) {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_KEY', `${source}: CA private key does not parse`, { cause: e });
  }
  requireP256(privateKey, `${source}: CA key`);
  if (!x.checkPrivateKey(privateKey)) {
    throw new SyngateError('SYNGATE_IDENTITY_KEY_MISMATCH', `${source}: CA private key does not match the CA certificate`);
  }
  const td = trustDomainOfCert(x);
  if (td === undefined || !x.ca) {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_CERT', `${source}: not a syngate CA certificate (CA:true with spiffe://<td> URI SAN)`);
  }
  return {
    trustDomain: td,
    privateKey,
    publicKey: x.publicKey,
    keyId: caKeyId(x.publicKey),
    certPem: x.toString(),
    subjectKeyId: subjectKeyId(x.publicKey),
  };
}

export function bundleOf(...cas: CaMaterial[]): TrustBundle {
  return new TrustBundle(cas.map((c) => ({ trustDomain: c.trustDomain, publicKey: c.publicKey, keyId: c.keyId })));
}

function requireP256(k: KeyObject, what: string): void {
  if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_KEY', `${what}: expected an ECDSA P-256 key, got ${k.asymmetricKeyType ?? 'unknown'}`);
  }
}

export interface X509Svid {
  readonly spiffeId: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * Issues an X.509-SVID (ECDSA P-256) for `spiffeId`. A foreign trust domain is refused unless
 * listed in `allowForeign`. `privateKey` reuses an existing P-256 key.
 */
export function issueSvid(
  ca: CaMaterial,
  opts: { spiffeId: string; nowMs?: number; ttlSec?: number; privateKey?: KeyObject; allowForeign?: readonly string[]; serial?: Uint8Array },
): X509Svid {
  const parsed = requireSpiffeId(opts.spiffeId, {
    trustDomain: ca.trustDomain,
    ...(opts.allowForeign === undefined ? {} : { allowForeign: opts.allowForeign }),
  });
  const ttl = opts.ttlSec ?? DEFAULT_CREDENTIAL_TTL_SEC;
  if (!(ttl > 0)) throw new SyngateError('SYNGATE_IDENTITY_BAD_TTL', `ttl must be positive, got ${ttl}`);
  const privateKey = opts.privateKey ?? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  requireP256(privateKey, 'workload key');
  const now = opts.nowMs ?? Date.now();
  const serial = opts.serial ?? randomSerial();
  const notBefore = new Date(now - BACKDATE_SEC * 1000);
  const notAfter = new Date(now + ttl * 1000);
  const der = buildCertificate({
    serial,
    subject: [
      [NAME_OID.organization, parsed.trustDomain],
      [NAME_OID.commonName, parsed.path.slice(1).slice(0, 64)],
    ],
    issuer: caSubject(ca.trustDomain),
    notBefore,
    notAfter,
    publicKey: crypto.createPublicKey(privateKey),
    uriSan: parsed.id,
    isCa: false,
    authorityKeyId: ca.subjectKeyId,
    signingKey: ca.privateKey,
  });
  return {
    spiffeId: parsed.id,
    certPem: derToPem(der),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    serialHex: Buffer.from(serial).toString('hex'),
    notBefore,
    notAfter,
  };
}

/** A node enforcer's identity: its wire credential and the Ed25519 key the credential binds. */
export interface NodeIdentity {
  /** Encoded Credential (protobuf), as sent on the wire. */
  readonly credential: Uint8Array;
  readonly nodeKey: KeyObject;
}

/** Decoded credential fields (views into the encoded bytes). */
export interface DecodedCredential extends CredentialBody {
  readonly body: Uint8Array;
  readonly sig: Uint8Array;
}

/** Decodes a Credential; returns undefined if it is not well-formed. Never throws. */
export function decodeCredential(bytes: Uint8Array): DecodedCredential | undefined {
  try {
    const outer = CredentialMsg.decode(bytes) as unknown as Signed;
    if (outer.sig.length !== 64 || outer.body.length === 0) return undefined;
    // Reject unknown, duplicate or non-canonical outer fields: one credential, one encoding.
    if (bytesFieldSize(outer.body.length) + bytesFieldSize(64) !== bytes.length) return undefined;
    const b = CredentialBodyMsg.decode(outer.body) as unknown as CredentialBody;
    if (b.nodeKey.length !== 32 || b.serial.length !== SERIAL_LEN || b.issuer.length !== 8) return undefined;
    if (b.trustDomain.length === 0 || b.notAfter < b.notBefore) return undefined;
    return {
      body: outer.body,
      sig: outer.sig,
      trustDomain: b.trustDomain,
      node: b.node,
      nodeKey: b.nodeKey,
      serial: b.serial,
      notBefore: b.notBefore,
      notAfter: b.notAfter,
      issuer: b.issuer,
    };
  } catch {
    return undefined;
  }
}

/**
 * Issues the compact wire credential for node enforcer `node`, binding `nodeKey` (Ed25519; a
 * fresh one when omitted). `notBeforeMs`/`ttlSec` allow expired or future credentials in tests.
 */
export function issueNodeCredential(
  ca: CaMaterial,
  opts: { node: string; nowMs?: number; ttlSec?: number; nodeKey?: KeyObject; serial?: Uint8Array; notBeforeMs?: number },
): NodeIdentity & { serialHex: string; notBefore: number; notAfter: number } {
  if (!/^[A-Za-z0-9._-]{1,253}$/.test(opts.node)) {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_NODE_NAME', `node name "${opts.node}": expected 1-253 characters of [A-Za-z0-9._-]`);
  }
  const ttl = opts.ttlSec ?? DEFAULT_CREDENTIAL_TTL_SEC;
  if (!(ttl > 0)) throw new SyngateError('SYNGATE_IDENTITY_BAD_TTL', `ttl must be positive, got ${ttl}`);
  const nodeKey = opts.nodeKey ?? crypto.generateKeyPairSync('ed25519').privateKey;
  if (nodeKey.asymmetricKeyType !== 'ed25519' || nodeKey.type !== 'private') {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_KEY', 'node key: expected an Ed25519 private key');
  }
  const now = opts.nowMs ?? Date.now();
  const nb = Math.floor((opts.notBeforeMs ?? now - BACKDATE_SEC * 1000) / 1000);
  const na = Math.floor(now / 1000) + Math.floor(ttl);
  const serial = opts.serial ?? randomSerial();
  const body = CredentialBodyMsg.encode({
    trustDomain: ca.trustDomain,
    node: opts.node,
    nodeKey: rawPublicKey(crypto.createPublicKey(nodeKey)),
    serial,
    notBefore: nb >>> 0,
    notAfter: na >>> 0,
    issuer: ca.keyId,
  }).finish();
  const sig = crypto.sign('sha256', Buffer.concat([CREDENTIAL_CONTEXT, body]), { key: ca.privateKey, dsaEncoding: 'ieee-p1363' });
  const credential = CredentialMsg.encode({ body, sig }).finish();
  return { credential, nodeKey, serialHex: Buffer.from(serial).toString('hex'), notBefore: nb, notAfter: na };
}

/** Returns true iff `nodeKey` is the private half of the key the credential binds. */
export function credentialMatchesKey(credential: Uint8Array, nodeKey: KeyObject): boolean {
  const c = decodeCredential(credential);
  if (c === undefined || nodeKey.asymmetricKeyType !== 'ed25519') return false;
  return rawPublicKey(crypto.createPublicKey(nodeKey)).equals(Buffer.from(c.nodeKey));
}
