// IdentityAgent: one per node enforcer. Builds and verifies the SYN / SYN-ACK / ACK tokens.
// Invariants:
//  - verify* and build* never throw: every failure is a numeric Reason on the returned
//    handshake (or the return value), and the handshake is unusable unless reason === OK;
//  - cheap checks run before any signature verification or X25519 derivation: kind byte,
//    protobuf decode and field shapes, binding, issue time, replay set, known issuer, validity
//    windows, deny-lists, negative cache, then per-source and global budgets;
//  - a credential or document enters the positive cache only after its signature verified,
//    keyed by the id of its exact bytes (first 16 bytes of SHA-256); a failed one enters the
//    negative cache for negativeTtlSec, so it is verified at most once per period;
//  - once both ends hold each other's documents and the pair key, a handshake does no
//    asymmetric crypto, only 4 HMAC-SHA256 computations in total: the SYN MAC (built by the
//    client, checked by the server) and one handshake MAC per side, whose two halves are the
//    SYN-ACK tag and the ACK tag (docs/identity.md explains why there is no per-connection key);
//  - cached entries are rechecked against the deny-lists and trust bundle whenever the
//    revocation generation changed, so revocation applies to the next handshake;
//  - bytes taken from a token are copied before being kept (tokens are views of frames).
// Allocation: the handshake path allocates (protobufjs encode/decode, the handshake objects);
// nothing here runs per established packet.
import crypto, { type KeyObject } from 'node:crypto';
import protobuf from 'protobufjs';
import { SyngateError } from '../errors.js';
import { Reason } from '../reasons.js';
import { BINDING_LEN, BIND_OFF_ISN_S, type Binding, bindingEquals, ipv4ToU32, writeBinding, writeU32 } from './binding.js';
import { BoundedMap, type BucketSpec, ReplayCache, TokenBuckets } from './caches.js';
import { CREDENTIAL_CONTEXT, DOCUMENT_CONTEXT, credentialMatchesKey, decodeCredential, type NodeIdentity, type TrustBundle } from './pki.js';
import {
  bytesFieldSize,
  ctEqual,
  derivePairKey,
  ed25519PublicFromRaw,
  type HmacKey,
  id16,
  idEquals,
  idNum,
  macOut,
  macOutHi,
  macOutLo,
  macTranscript,
  RandomPool,
  rawPublicKey,
  transcript,
  x25519PublicFromRaw,
} from './primitives.js';
import {
  AckTokenMsg,
  type AckTokenFields,
  DocumentBodyMsg,
  type DocumentBody,
  DocumentMsg,
  type Signed,
  SynAckTokenMsg,
  type SynAckTokenFields,
  SynTokenMsg,
  type SynTokenFields,
} from './schema.js';
import { parseSpiffeId, requireSpiffeId } from './spiffe.js';

// --- wire constants (docs/tokens.md) ---
export const TOKEN_KIND_SYN = 0x11;
export const TOKEN_KIND_SYNACK = 0x12;
export const TOKEN_KIND_ACK = 0x13;
export const NONCE_LEN = 16;
export const ID_LEN = 16;
export const SIG_LEN = 64;
export const SYN_MAC_LEN = 32;
export const HS_TAG_LEN = 16;
export const MAX_SYN_TOKEN = 600;

// SYN transcript: label(4) | client doc id(16) | peer doc id(16, zero when cold) | Nc(16) | binding(21) | issued_at(4)
export const TS_LABEL_SYN = Buffer.from('SG1S', 'ascii');
export const TS_OFF_CLIENT_DOC = 4;
export const TS_OFF_PEER_DOC = 20;
export const TS_OFF_NC = 36;
export const TS_OFF_SYN_BINDING = 52;
export const TS_OFF_ISSUED = 73;
export const TS_SYN_LEN = 77;
// Handshake transcript: label(4) | client doc id(16) | server doc id(16) | Nc(16) | Ns(16) | binding(21)
const TS_LABEL_HS = Buffer.from('SG1H', 'ascii');
const TH_OFF_CLIENT_DOC = 4;
const TH_OFF_SERVER_DOC = 20;
const TH_OFF_NC = 36;
const TH_OFF_NS = 52;
const TH_OFF_BINDING = 68;
const TH_LEN = 89;
export const SYN_SIG_CONTEXT = Buffer.from('syngate/v1 syn\0', 'ascii');

export interface IdentityConfig {
  /** Accepted clock difference between nodes, seconds (validity windows and SYN issue time). */
  clockSkewSec: number;
  /** A SYN token older than this (plus skew) is expired. */
  synMaxAgeSec: number;
  /** Lifetime of a workload identity document (and its ephemeral key). */
  docTtlSec: number;
  /** maintain() rotates a local ephemeral key once it is this old. */
  rotateAfterSec: number;
  credCacheSize: number;
  docCacheSize: number;
  pairCacheSize: number;
  /** Client-side knowledge of servers (document, which of our documents it has seen). */
  peerHintSize: number;
  negativeCacheSize: number;
  negativeTtlSec: number;
  /** Replay set: 2 generations growing up to 2^n slots each, refusing inserts at half load there. */
  replayCapacityLog2: number;
  /** Budget of signature verifications + X25519 derivations per source IPv4 address. */
  budgetPerSource: BucketSpec;
  /** Budget of signature verifications + X25519 derivations for the whole agent. */
  budgetGlobal: BucketSpec;
  budgetTableLog2: number;
}

export const DEFAULT_IDENTITY_CONFIG: Readonly<IdentityConfig> = Object.freeze({
  clockSkewSec: 30,
  synMaxAgeSec: 10,
  docTtlSec: 3600,
  rotateAfterSec: 1800,
  credCacheSize: 4096,
  docCacheSize: 65536,
  pairCacheSize: 65536,
  peerHintSize: 65536,
  negativeCacheSize: 16384,
  negativeTtlSec: 60,
  replayCapacityLog2: 22,
  budgetPerSource: { ratePerSec: 200, burst: 400 },
  budgetGlobal: { ratePerSec: 4000, burst: 8000 },
  budgetTableLog2: 12,
});

/** Who the peer proved to be. Shared and frozen: one object per verified document. */
export interface PeerIdentity {
  readonly spiffeId: string;
  readonly trustDomain: string;
  /** Kubernetes namespace for spiffe://<td>/ns/<ns>/sa/<sa>, else ''. */
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Node (enforcer) name from the credential that vouched for the document. */
  readonly node: string;
  /** Credential serial, 16 hex digits. */
  readonly credentialSerial: string;
  /** Document expiry, unix seconds. */
  readonly notAfter: number;
}

export interface IdentityStats {
  signaturesVerified: number;
  signaturesCreated: number;
  x25519Derivations: number;
  credCacheHits: number;
  credCacheMisses: number;
  docCacheHits: number;
  docCacheMisses: number;
  pairCacheHits: number;
  pairCacheMisses: number;
  negativeCacheHits: number;
  replayRejects: number;
  replayFull: number;
  rateLimited: number;
  staleCache: number;
  coldSyns: number;
  warmSyns: number;
  retransmitCold: number;
  rotations: number;
}

function newStats(): IdentityStats {
  return {
    signaturesVerified: 0,
    signaturesCreated: 0,
    x25519Derivations: 0,
    credCacheHits: 0,
    credCacheMisses: 0,
    docCacheHits: 0,
    docCacheMisses: 0,
    pairCacheHits: 0,
    pairCacheMisses: 0,
    negativeCacheHits: 0,
    replayRejects: 0,
    replayFull: 0,
    rateLimited: 0,
    staleCache: 0,
    coldSyns: 0,
    warmSyns: 0,
    retransmitCold: 0,
    rotations: 0,
  };
}

// --- cache entries ---

class CredEntry {
  /** Revocation generation at which `status` was computed. */
  gen = -1;
  status: Reason = Reason.OK;
  constructor(
    readonly idKey: string,
    readonly id: Buffer,
    readonly bytes: Buffer,
    readonly trustDomain: string,
    readonly node: string,
    readonly nodeKey: KeyObject,
    readonly serialHex: string,
    readonly issuer: Buffer,
    readonly notBefore: number,
    readonly notAfter: number,
    /** The CA key the signature verified under; the bundle must still hold it. */
    readonly anchorKey: KeyObject,
  ) {}
}

class DocEntry {
  gen = -1;
  status: Reason = Reason.OK;
  /** Pair keys with our local keys, by LocalKey.no (bounded globally by the pair ring). */
  readonly pairs = new Map<number, HmacKey>();
  private ephObj: KeyObject | null = null;
  constructor(
    readonly idKey: string,
    readonly id: Buffer,
    readonly bytes: Buffer,
    readonly cred: CredEntry,
    readonly ephRaw: Buffer,
    readonly notBefore: number,
    readonly notAfter: number,
    readonly peer: PeerIdentity,
  ) {}
  /** The peer's X25519 public key; imported on first use. Throws on a bad key. */
  ephKey(): KeyObject {
    if (this.ephObj === null) this.ephObj = x25519PublicFromRaw(this.ephRaw);
    return this.ephObj;
  }
}

interface NegativeEntry {
  reason: Reason;
  untilSec: number;
}

/** Our node credential as loaded into the agent. */
class LocalCred {
  constructor(
    readonly bytes: Buffer,
    readonly id: Buffer,
    readonly nodeKey: KeyObject,
    readonly notBefore: number,
    readonly notAfter: number,
    readonly trustDomain: string,
    readonly node: string,
  ) {}
}

/** One ephemeral key of a local workload and the document that publishes it. */
export class LocalKey {
  constructor(
    readonly no: number,
    readonly workload: LocalWorkload,
    readonly ephPriv: KeyObject,
    readonly ephRaw: Buffer,
    readonly docBytes: Buffer,
    readonly docId: Buffer,
    readonly docIdKey: string,
    readonly cred: LocalCred,
    readonly createdSec: number,
    readonly notAfter: number,
  ) {}
}

/** A protected workload of this node. Handles are returned by registerWorkload. */
export class LocalWorkload {
  /** Current key; older keys stay usable by peers until their document expires (+ skew). */
  current!: LocalKey;
  readonly keys: LocalKey[] = [];
  constructor(
    readonly no: number,
    readonly spiffeId: string,
    readonly labels: Readonly<Record<string, string>>,
    readonly ip: number,
  ) {}
}

/** Client-side knowledge about one (local workload, server IP). */
class PeerHint {
  /** Client doc id the server has verified (its cache holds it). */
  seenDocIdKey = '';
  /** srcPort/isnC of the last warm SYN: seeing them again means a retransmission. */
  lastWarmPort = -1;
  lastWarmIsn = -1;
  constructor(public serverDoc: DocEntry) {}
}

/** Client side of one handshake. */
export class ClientHandshake {
  reason: Reason = Reason.OK;
  /** The server's identity, set once verifySynAck returned OK. */
  peer: PeerIdentity | null = null;
  /** SYN token bytes (kind byte + protobuf). */
  token: Uint8Array = EMPTY;
  cold = false;
  // Fully written by buildSyn before any read. `binding` is a Buffer (the engine reads it with
  // readUInt32BE); allocUnsafe draws from Node's pool.
  readonly nonce = new Uint8Array(NONCE_LEN);
  readonly binding = Buffer.allocUnsafe(BINDING_LEN);
  key: LocalKey | null = null;
  referencedDoc: DocEntry | null = null;
  ackTag: Uint8Array | null = null;
  hintKey = 0;
  constructor(readonly local: LocalWorkload) {}
}

/** Server side of one handshake. */
export class ServerHandshake {
  reason: Reason = Reason.OK;
  /** The client's identity, valid when reason === OK (authorization completes at verifyAck). */
  peer: PeerIdentity | null = null;
  /** SYN-ACK token bytes after buildSynAck. */
  token: Uint8Array = EMPTY;
  cold = false;
  // Written by verifySyn / buildSynAck before any read. Plain Uint8Arrays: cheaper than Buffers.
  readonly nonceC = new Uint8Array(NONCE_LEN);
  readonly nonceS = new Uint8Array(NONCE_LEN);
  readonly binding = new Uint8Array(BINDING_LEN);
  referencedKey: LocalKey | null = null;
  clientDoc: DocEntry | null = null;
  ackTag: Uint8Array | null = null;
  constructor(readonly local: LocalWorkload) {}
}

const EMPTY = new Uint8Array(0);
const ZERO_ID = Buffer.alloc(ID_LEN);

/**
 * The protobuf part of a token as a plain Uint8Array view: protobufjs's generic Reader slices
 * with Uint8Array#subarray, about 1.4x faster than its Buffer reader. Fields decode to views.
 */
function body(token: Uint8Array): Uint8Array {
  return new Uint8Array(token.buffer, token.byteOffset + 1, token.length - 1);
}

function keyOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}
function copy(b: Uint8Array): Buffer {
  return Buffer.from(b);
}

export interface IdentityAgentOptions {
  node: NodeIdentity;
  bundle: TrustBundle;
  config?: Partial<IdentityConfig>;
  nowMs?: number;
}

export class IdentityAgent {
  readonly config: IdentityConfig;
  readonly stats: IdentityStats = newStats();
  private bundle: TrustBundle;
  private cred: LocalCred;
  private gen = 0;
  private readonly denySerials = new Set<string>();
  private readonly denySpiffe = new Set<string>();
  private readonly creds: BoundedMap<string, CredEntry>;
  private readonly docs: BoundedMap<number, DocEntry>;
  private readonly negative: BoundedMap<string, NegativeEntry>;
  // FIFO ring bounding the number of pair keys held across all DocEntry.pairs maps.
  private readonly pairRingDoc: Array<DocEntry | null>;
  private readonly pairRingNo: Int32Array;
  // Generation of each ring slot: clearCaches() bumps pairGen instead of sweeping the ring.
  private readonly pairRingGen: Int32Array;
  private pairGen = 0;
  private pairRingPos = 0;
  private pairCount = 0;
  private readonly hints: BoundedMap<number, PeerHint>;
  private readonly replay: ReplayCache;
  private readonly budget: TokenBuckets;
  private readonly rng = new RandomPool();
  private readonly localKeys = new Map<number, LocalKey>();
  private readonly workloads: LocalWorkload[] = [];
  private readonly byIp = new Map<number, LocalWorkload>();
  private keyNo = 0;
  private readonly bind = Buffer.alloc(BINDING_LEN);

  constructor(opts: IdentityAgentOptions) {
    this.config = { ...DEFAULT_IDENTITY_CONFIG, ...(opts.config ?? {}) };
    const c = this.config;
    this.bundle = opts.bundle;
    this.cred = this.loadOwnCredential(opts.node);
    this.creds = new BoundedMap(c.credCacheSize);
    this.docs = new BoundedMap(c.docCacheSize);
    this.negative = new BoundedMap(c.negativeCacheSize);
    this.pairRingDoc = new Array<DocEntry | null>(c.pairCacheSize).fill(null);
    this.pairRingNo = new Int32Array(c.pairCacheSize);
    this.pairRingGen = new Int32Array(c.pairCacheSize);
    this.hints = new BoundedMap(c.peerHintSize);
    this.replay = new ReplayCache(c.replayCapacityLog2, c.synMaxAgeSec + 2 * c.clockSkewSec + 1);
    this.budget = new TokenBuckets(c.budgetPerSource, c.budgetGlobal, c.budgetTableLog2);
  }

  private loadOwnCredential(node: NodeIdentity): LocalCred {
    const d = decodeCredential(node.credential);
    if (d === undefined) throw new SyngateError('SYNGATE_IDENTITY_BAD_CREDENTIAL', 'node credential does not decode');
    if (!credentialMatchesKey(node.credential, node.nodeKey)) {
      throw new SyngateError('SYNGATE_IDENTITY_KEY_MISMATCH', `node key does not match the credential of node "${d.node}"`);
    }
    const anchor = this.bundle.lookup(d.issuer);
    if (anchor === undefined || anchor.trustDomain !== d.trustDomain) {
      throw new SyngateError(
        'SYNGATE_IDENTITY_UNTRUSTED_CREDENTIAL',
        `node credential of "${d.node}" is not issued by a CA in the trust bundle for "${d.trustDomain}"`,
      );
    }
    const ok = crypto.verify('sha256', Buffer.concat([CREDENTIAL_CONTEXT, d.body]), { key: anchor.publicKey, dsaEncoding: 'ieee-p1363' }, d.sig);
    if (!ok) throw new SyngateError('SYNGATE_IDENTITY_UNTRUSTED_CREDENTIAL', `node credential of "${d.node}": CA signature does not verify`);
    const bytes = copy(node.credential);
    return new LocalCred(bytes, id16(bytes), node.nodeKey, d.notBefore, d.notAfter, d.trustDomain, d.node);
  }

  /** Trust domain and node name of this agent's credential. */
  get trustDomain(): string {
    return this.cred.trustDomain;
  }
  get nodeName(): string {
    return this.cred.node;
  }
  get credentialNotAfter(): number {
    return this.cred.notAfter;
  }

  // ------------------------------------------------------------------ workloads & rotation

  /**
   * Registers a local workload and signs its first identity document. Throws
   * SyngateError on a bad or foreign SPIFFE ID, or labels too large for a 600-byte SYN.
   */
  registerWorkload(spec: { spiffeId: string; labels?: Record<string, string>; ip?: number | string }, nowMs: number): LocalWorkload {
    const p = requireSpiffeId(spec.spiffeId, { trustDomain: this.cred.trustDomain, what: 'workload SPIFFE ID' });
    const ip = typeof spec.ip === 'string' ? ipv4ToU32(spec.ip) : (spec.ip ?? -1);
    if (typeof spec.ip === 'string' && ip < 0) {
      throw new SyngateError('SYNGATE_IDENTITY_BAD_WORKLOAD', `workload ${p.id}: ip "${spec.ip}" is not dotted IPv4`);
    }
    const labels = Object.freeze({ ...(spec.labels ?? {}) });
    for (const [k, v] of Object.entries(labels)) {
      if (typeof k !== 'string' || typeof v !== 'string' || k.length === 0) {
        throw new SyngateError('SYNGATE_IDENTITY_BAD_WORKLOAD', `workload ${p.id}: labels must be non-empty string keys with string values`);
      }
    }
    const w = new LocalWorkload(this.workloads.length, p.id, labels, ip);
    this.newKey(w, Math.floor(nowMs / 1000));
    const size = this.coldSynSize(w.current);
    if (size > MAX_SYN_TOKEN) {
      this.localKeys.delete(idNum(w.current.docId));
      throw new SyngateError(
        'SYNGATE_IDENTITY_TOKEN_TOO_LARGE',
        `workload ${p.id}: a cold SYN token would be ${size} bytes (limit ${MAX_SYN_TOKEN}); shorten labels or the SPIFFE ID`,
      );
    }
    this.workloads.push(w);
    if (ip >= 0) this.byIp.set(ip >>> 0, w);
    return w;
  }

  /** The workload registered with this IPv4 address (u32), if any. */
  workloadForIp(ip: number): LocalWorkload | undefined {
    return this.byIp.get(ip >>> 0);
  }

  private coldSynSize(k: LocalKey): number {
    const w = protobuf.Writer.create();
    w.uint32(TOKEN_KIND_SYN);
    SynTokenMsg.encode(
      { cred: k.cred.bytes, doc: k.docBytes, nonce: ZERO_ID, binding: Buffer.alloc(BINDING_LEN), issuedAt: 0xffffffff, sig: Buffer.alloc(SIG_LEN) },
      w,
    );
    return w.finish().length;
  }

  private newKey(w: LocalWorkload, nowSec: number): LocalKey {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('x25519');
    const ephRaw = rawPublicKey(publicKey);
    const cred = this.cred;
    const notAfter = Math.min(nowSec + this.config.docTtlSec, cred.notAfter);
    const body = DocumentBodyMsg.encode({
      spiffeId: w.spiffeId,
      labels: w.labels,
      ephKey: ephRaw,
      notBefore: Math.max(0, nowSec - 60) >>> 0,
      notAfter: notAfter >>> 0,
      credId: cred.id,
    }).finish();
    const sig = crypto.sign(null, Buffer.concat([DOCUMENT_CONTEXT, body]), cred.nodeKey);
    this.stats.signaturesCreated++;
    const docBytes = Buffer.from(DocumentMsg.encode({ body, sig }).finish());
    const docId = id16(docBytes);
    const k = new LocalKey(++this.keyNo, w, privateKey, ephRaw, docBytes, docId, keyOf(docId), cred, nowSec, notAfter);
    w.current = k;
    w.keys.push(k);
    this.localKeys.set(idNum(docId), k);
    return k;
  }

  /**
   * Rotates a workload's ephemeral key and document. The previous key keeps answering warm
   * SYNs that name it until its document expires (+ clock skew), so connections in flight
   * and peers with cached documents keep working.
   */
  rotateWorkload(w: LocalWorkload, nowMs: number): void {
    this.newKey(w, Math.floor(nowMs / 1000));
    this.stats.rotations++;
  }

  /**
   * Installs a renewed node credential (and key). Every local workload gets a new document
   * signed under it; documents under the old credential stay valid until they expire.
   */
  setNodeCredential(node: NodeIdentity, nowMs: number): void {
    this.cred = this.loadOwnCredential(node);
    for (const w of this.workloads) this.rotateWorkload(w, nowMs);
  }

  /** Current key of w, rotating first if its document expired or the credential changed. */
  private currentKey(w: LocalWorkload, nowSec: number): LocalKey | null {
    let k = w.current;
    if (k.cred !== this.cred || nowSec >= k.notAfter) {
      if (nowSec > this.cred.notAfter || nowSec + this.config.clockSkewSec < this.cred.notBefore) return null;
      k = this.newKey(w, nowSec);
      this.stats.rotations++;
    }
    return k;
  }

  /**
   * Periodic upkeep (call about once a second): rotates keys older than rotateAfterSec,
   * retires keys whose documents expired, and drops expired cache entries.
   */
  maintain(nowMs: number): void {
    const nowSec = Math.floor(nowMs / 1000);
    const skew = this.config.clockSkewSec;
    for (const w of this.workloads) {
      if (nowSec - w.current.createdSec >= this.config.rotateAfterSec || nowSec >= w.current.notAfter || w.current.cred !== this.cred) {
        if (nowSec <= this.cred.notAfter) this.rotateWorkload(w, nowMs);
      }
      for (let i = w.keys.length - 1; i >= 0; i--) {
        const k = w.keys[i];
        if (k !== undefined && k !== w.current && nowSec > k.notAfter + skew) {
          w.keys.splice(i, 1);
          this.localKeys.delete(idNum(k.docId));
          for (const d of this.docs.values()) d.pairs.delete(k.no);
        }
      }
    }
    this.docs.sweep((d) => nowSec > d.notAfter + skew);
    this.creds.sweep((c) => nowSec > c.notAfter + skew);
    this.negative.sweep((n) => nowSec >= n.untilSec);
    this.hints.sweep((h) => nowSec > h.serverDoc.notAfter);
  }

  // ------------------------------------------------------------------ revocation & trust

  /** Denies a credential serial (16 hex digits); applies to the next handshake. */
  revokeSerial(serialHex: string): void {
    this.denySerials.add(serialHex.toLowerCase());
    this.gen++;
  }
  /** Denies a SPIFFE ID; applies to the next handshake. */
  revokeSpiffeId(id: string): void {
    this.denySpiffe.add(id);
    this.gen++;
  }
  unrevokeSerial(serialHex: string): void {
    this.denySerials.delete(serialHex.toLowerCase());
    this.gen++;
  }
  unrevokeSpiffeId(id: string): void {
    this.denySpiffe.delete(id);
    this.gen++;
  }
  /** Replaces the trust bundle (add or remove CAs); applies to the next handshake. */
  setTrustBundle(bundle: TrustBundle): void {
    this.bundle = bundle;
    this.gen++;
    this.negative.clear();
  }

  /**
   * Rechecks a peer proved earlier (e.g. for an established flow): OK, EXPIRED, REVOKED or
   * UNTRUSTED_ISSUER. Peers not in the cache any more return STALE_CACHE.
   */
  recheckPeer(peer: PeerIdentity, nowMs: number): Reason {
    const d = this.docOfPeer.get(peer);
    if (d === undefined || this.docs.get(idNum(d.id)) !== d) return Reason.STALE_CACHE;
    return this.checkDoc(d, Math.floor(nowMs / 1000));
  }

  private readonly docOfPeer = new WeakMap<PeerIdentity, DocEntry>();

  private credStatus(c: CredEntry): Reason {
    if (c.gen !== this.gen) {
      const a = this.bundle.lookup(c.issuer);
      c.status =
        a === undefined || a.trustDomain !== c.trustDomain || !a.publicKey.equals(c.anchorKey)
          ? Reason.UNTRUSTED_ISSUER
          : this.denySerials.has(c.serialHex)
            ? Reason.REVOKED
            : Reason.OK;
      c.gen = this.gen;
    }
    return c.status;
  }

  private timeStatus(notBefore: number, notAfter: number, nowSec: number): Reason {
    const s = this.config.clockSkewSec;
    if (nowSec + s < notBefore) return Reason.NOT_YET_VALID;
    if (nowSec - s > notAfter) return Reason.EXPIRED;
    return Reason.OK;
  }

  private checkDoc(d: DocEntry, nowSec: number): Reason {
    const t = this.timeStatus(d.notBefore, d.notAfter, nowSec);
    if (t !== Reason.OK) return t;
    const ct = this.timeStatus(d.cred.notBefore, d.cred.notAfter, nowSec);
    if (ct !== Reason.OK) return ct;
    if (d.gen !== this.gen) {
      const cs = this.credStatus(d.cred);
      d.status = cs !== Reason.OK ? cs : this.denySpiffe.has(d.peer.spiffeId) ? Reason.REVOKED : Reason.OK;
      d.gen = this.gen;
    }
    return d.status;
  }

  // ------------------------------------------------------------------ credential / document resolution

  /**
   * Resolves a presented (credential, document) pair to a verified DocEntry, running cheap
   * checks for both before any signature. Returns the entry or a Reason.
   */
  private resolve(credBytes: Uint8Array, docBytes: Uint8Array, src: number, nowMs: number): DocEntry | Reason {
    const nowSec = Math.floor(nowMs / 1000);
    // --- credential, cheap part
    const credId = id16(credBytes);
    const credKey = keyOf(credId);
    let cred = this.creds.get(credKey);
    let credAnchor: KeyObject | null = null;
    let credDecoded: ReturnType<typeof decodeCredential> = undefined;
    if (cred !== undefined) {
      this.stats.credCacheHits++;
      const t = this.timeStatus(cred.notBefore, cred.notAfter, nowSec);
      if (t !== Reason.OK) return t;
      const st = this.credStatus(cred);
      if (st !== Reason.OK) return st;
    } else {
      const neg = this.negative.get(credKey);
      if (neg !== undefined && nowSec < neg.untilSec) {
        this.stats.negativeCacheHits++;
        return neg.reason;
      }
      this.stats.credCacheMisses++;
      credDecoded = decodeCredential(credBytes);
      if (credDecoded === undefined) return Reason.MALFORMED;
      const anchor = this.bundle.lookup(credDecoded.issuer);
      if (anchor === undefined || anchor.trustDomain !== credDecoded.trustDomain) return Reason.UNTRUSTED_ISSUER;
      const t = this.timeStatus(credDecoded.notBefore, credDecoded.notAfter, nowSec);
      if (t !== Reason.OK) return t;
      if (this.denySerials.has(Buffer.from(credDecoded.serial).toString('hex'))) return Reason.REVOKED;
      credAnchor = anchor.publicKey;
    }
    // --- document, cheap part
    const docId = id16(docBytes);
    const docKey = keyOf(docId);
    const docNum = idNum(docId);
    const cachedDoc = this.docs.get(docNum);
    if (cachedDoc !== undefined && idEquals(cachedDoc.id, docId)) {
      if (cachedDoc.cred.idKey !== credKey) return Reason.UNTRUSTED_ISSUER;
      this.stats.docCacheHits++;
      const st = this.checkDoc(cachedDoc, nowSec);
      return st !== Reason.OK ? st : cachedDoc;
    }
    const neg = this.negative.get(docKey);
    if (neg !== undefined && nowSec < neg.untilSec) {
      this.stats.negativeCacheHits++;
      return neg.reason;
    }
    this.stats.docCacheMisses++;
    let outer: Signed;
    let body: DocumentBody;
    try {
      outer = DocumentMsg.decode(docBytes) as unknown as Signed;
      if (outer.sig.length !== SIG_LEN || outer.body.length === 0) return Reason.MALFORMED;
      if (bytesFieldSize(outer.body.length) + bytesFieldSize(SIG_LEN) !== docBytes.length) return Reason.MALFORMED;
      body = DocumentBodyMsg.decode(outer.body) as unknown as DocumentBody;
    } catch {
      return Reason.MALFORMED;
    }
    if (body.ephKey.length !== 32 || body.credId.length !== ID_LEN || body.notAfter < body.notBefore) return Reason.MALFORMED;
    if (!ctEqual(body.credId, 0, credId, 0, ID_LEN)) return Reason.UNTRUSTED_ISSUER;
    const sp = parseSpiffeId(body.spiffeId);
    if (!sp.ok) return Reason.MALFORMED;
    const credTd = cred !== undefined ? cred.trustDomain : (credDecoded?.trustDomain ?? '');
    if (sp.value.trustDomain !== credTd) return Reason.UNTRUSTED_ISSUER;
    const t = this.timeStatus(body.notBefore, body.notAfter, nowSec);
    if (t !== Reason.OK) return t;
    if (this.denySpiffe.has(sp.value.id)) return Reason.REVOKED;
    // --- budget for the expensive part
    const ops = (cred === undefined ? 1 : 0) + 1;
    if (!this.budget.take(src, ops, nowMs)) {
      this.stats.rateLimited++;
      return Reason.RATE_LIMITED;
    }
    // --- credential signature
    if (cred === undefined) {
      const d = credDecoded;
      if (d === undefined || credAnchor === null) return Reason.INTERNAL;
      this.stats.signaturesVerified++;
      const ok = crypto.verify(
        'sha256',
        Buffer.concat([CREDENTIAL_CONTEXT, d.body]),
        { key: credAnchor, dsaEncoding: 'ieee-p1363' },
        d.sig,
      );
      if (!ok) {
        this.negative.set(credKey, { reason: Reason.BAD_SIGNATURE, untilSec: nowSec + this.config.negativeTtlSec });
        return Reason.BAD_SIGNATURE;
      }
      let nodeKey: KeyObject;
      try {
        nodeKey = ed25519PublicFromRaw(d.nodeKey);
      } catch {
        return Reason.MALFORMED;
      }
      cred = new CredEntry(
        credKey,
        Buffer.from(credId),
        copy(credBytes),
        d.trustDomain,
        d.node,
        nodeKey,
        Buffer.from(d.serial).toString('hex'),
        copy(d.issuer),
        d.notBefore,
        d.notAfter,
        credAnchor,
      );
      this.creds.set(credKey, cred);
    }
    // --- document signature
    this.stats.signaturesVerified++;
    const ok = crypto.verify(null, Buffer.concat([DOCUMENT_CONTEXT, outer.body]), cred.nodeKey, outer.sig);
    if (!ok) {
      this.negative.set(docKey, { reason: Reason.BAD_SIGNATURE, untilSec: nowSec + this.config.negativeTtlSec });
      return Reason.BAD_SIGNATURE;
    }
    const ephRaw = copy(body.ephKey);
    const peer: PeerIdentity = Object.freeze({
      spiffeId: sp.value.id,
      trustDomain: sp.value.trustDomain,
      namespace: sp.value.namespace,
      serviceAccount: sp.value.serviceAccount,
      labels: Object.freeze({ ...body.labels }),
      node: cred.node,
      credentialSerial: cred.serialHex,
      notAfter: body.notAfter,
    });
    const entry = new DocEntry(docKey, Buffer.from(docId), copy(docBytes), cred, ephRaw, body.notBefore, body.notAfter, peer);
    this.docs.set(docNum, entry);
    this.docOfPeer.set(peer, entry);
    return entry;
  }

  /** Pair key for (local key, peer document): cached, else one X25519 + HKDF. */
  private pairFor(k: LocalKey, d: DocEntry): HmacKey | null {
    const hit = d.pairs.get(k.no);
    if (hit !== undefined) {
      this.stats.pairCacheHits++;
      return hit;
    }
    this.stats.pairCacheMisses++;
    let p: HmacKey;
    try {
      this.stats.x25519Derivations++;
      p = derivePairKey(k.ephPriv, k.ephRaw, d.ephKey(), d.ephRaw);
    } catch {
      return null;
    }
    const cap = this.pairRingNo.length;
    const pos = this.pairRingPos;
    const old = this.pairRingDoc[pos];
    if (old !== null && old !== undefined && this.pairRingGen[pos] === this.pairGen && old.pairs.delete(this.pairRingNo[pos] ?? -1)) {
      this.pairCount--;
    }
    this.pairRingDoc[pos] = d;
    this.pairRingNo[pos] = k.no;
    this.pairRingGen[pos] = this.pairGen;
    this.pairRingPos = (pos + 1) % cap;
    if (!d.pairs.has(k.no)) this.pairCount++;
    d.pairs.set(k.no, p);
    return p;
  }

  private hasPair(k: LocalKey, d: DocEntry): boolean {
    return d.pairs.has(k.no);
  }

  // ------------------------------------------------------------------ client side

  /**
   * Client enforcer, outgoing SYN of `local`: builds the SYN token. `binding.isnS` is ignored.
   * Cold (signature) unless this agent holds the server's document from an earlier handshake;
   * a SYN retransmitted after a warm attempt (same port and ISN) is rebuilt cold.
   */
  buildSyn(local: LocalWorkload, binding: Binding, nowMs: number): ClientHandshake {
    const hs = new ClientHandshake(local);
    const nowSec = Math.floor(nowMs / 1000);
    const k = this.currentKey(local, nowSec);
    if (k === null) {
      hs.reason = Reason.EXPIRED;
      return hs;
    }
    hs.key = k;
    const hintKey = local.no * 4294967296 + (binding.dstIp >>> 0);
    hs.hintKey = hintKey;
    let hint = this.hints.get(hintKey);
    if (hint !== undefined) {
      if (this.checkDoc(hint.serverDoc, nowSec) !== Reason.OK || nowSec >= hint.serverDoc.notAfter) {
        this.hints.delete(hintKey);
        hint = undefined;
      } else if (hint.lastWarmPort === binding.srcPort && hint.lastWarmIsn === binding.isnC >>> 0) {
        // Retransmission of a warm SYN: the server may have lost our state. Go cold.
        this.stats.retransmitCold++;
        this.hints.delete(hintKey);
        hint = undefined;
      }
    }
    this.rng.fill(hs.nonce, 0, NONCE_LEN);
    writeBinding(binding, 0, hs.binding, 0);
    const full = hint === undefined || hint.seenDocIdKey !== k.docIdKey;
    const ts = transcript;
    ts.set(TS_LABEL_SYN, 0);
    ts.set(k.docId, TS_OFF_CLIENT_DOC);
    ts.set(hint !== undefined ? hint.serverDoc.id : ZERO_ID, TS_OFF_PEER_DOC);
    ts.set(hs.nonce, TS_OFF_NC);
    ts.set(hs.binding, TS_OFF_SYN_BINDING);
    ts.writeUInt32BE(nowSec >>> 0, TS_OFF_ISSUED);
    const msg: Partial<SynTokenFields> = { nonce: hs.nonce, binding: hs.binding, issuedAt: nowSec >>> 0 };
    if (full) {
      msg.cred = k.cred.bytes;
      msg.doc = k.docBytes;
    } else {
      msg.docId = k.docId;
    }
    if (hint !== undefined) {
      const pair = this.pairFor(k, hint.serverDoc);
      if (pair === null) {
        hs.reason = Reason.MALFORMED;
        return hs;
      }
      macTranscript(pair, TS_SYN_LEN);
      msg.mac = macOut;
      msg.peerDocId = hint.serverDoc.id;
      hs.referencedDoc = hint.serverDoc;
      hint.lastWarmPort = binding.srcPort;
      hint.lastWarmIsn = binding.isnC >>> 0;
      this.stats.warmSyns++;
    } else {
      msg.sig = crypto.sign(null, Buffer.concat([SYN_SIG_CONTEXT, ts.subarray(0, TS_SYN_LEN)]), k.cred.nodeKey);
      this.stats.signaturesCreated++;
      this.stats.coldSyns++;
      hs.cold = true;
    }
    hs.token = this.encodeToken(TOKEN_KIND_SYN, SynTokenMsg, msg);
    return hs;
  }

  /**
   * Client enforcer, incoming SYN-ACK: verifies the server's token against our SYN. `binding`
   * is the observed connection in SYN orientation with isnS from the SYN-ACK. On OK, hs.peer
   * is the server's identity and buildAck may be called.
   */
  verifySynAck(hs: ClientHandshake, token: Uint8Array, binding: Binding, nowMs: number): Reason {
    const r = this.verifySynAckInner(hs, token, binding, nowMs);
    hs.reason = r;
    return r;
  }

  private verifySynAckInner(hs: ClientHandshake, token: Uint8Array, binding: Binding, nowMs: number): Reason {
    if (hs.key === null || hs.token.length === 0) return Reason.INTERNAL;
    if (token.length === 0) return Reason.NO_TOKEN;
    if (token[0] !== TOKEN_KIND_SYNACK) return Reason.MALFORMED;
    let m: SynAckTokenFields;
    try {
      m = SynAckTokenMsg.decode(body(token)) as unknown as SynAckTokenFields;
    } catch {
      return Reason.MALFORMED;
    }
    const full = m.cred.length > 0 || m.doc.length > 0;
    if (
      m.nonce.length !== NONCE_LEN ||
      m.peerNonce.length !== NONCE_LEN ||
      m.binding.length !== BINDING_LEN ||
      m.mac.length !== HS_TAG_LEN ||
      (full && (m.cred.length === 0 || m.doc.length === 0)) ||
      (!full && hs.referencedDoc === null) ||
      synAckSize(m) !== token.length - 1
    ) {
      return Reason.MALFORMED;
    }
    if (!crypto.timingSafeEqual(m.peerNonce, hs.nonce)) return Reason.BINDING_MISMATCH;
    writeBinding(binding, binding.isnS >>> 0, this.bind, 0);
    if (!bindingEquals(this.bind, 0, m.binding, 0)) return Reason.BINDING_MISMATCH;
    for (let i = 0; i < BIND_OFF_ISN_S; i++) if (this.bind[i] !== hs.binding[i]) return Reason.BINDING_MISMATCH;
    const nowSec = Math.floor(nowMs / 1000);
    let serverDoc: DocEntry;
    if (full) {
      const res = this.resolve(m.cred, m.doc, binding.dstIp >>> 0, nowMs);
      if (typeof res === 'number') return res;
      serverDoc = res;
    } else {
      serverDoc = hs.referencedDoc as DocEntry;
      const st = this.checkDoc(serverDoc, nowSec);
      if (st !== Reason.OK) return st;
    }
    const pair = this.pairFor(hs.key, serverDoc);
    if (pair === null) return Reason.MALFORMED;
    this.handshakeMac(pair, hs.key.docId, serverDoc.id, hs.nonce, m.nonce, this.bind);
    if (!crypto.timingSafeEqual(macOutLo, m.mac)) return Reason.BAD_MAC;
    hs.ackTag = new Uint8Array(macOutHi);
    hs.peer = serverDoc.peer;
    let hint = this.hints.get(hs.hintKey);
    if (hint === undefined) {
      hint = new PeerHint(serverDoc);
      this.hints.set(hs.hintKey, hint);
    } else {
      hint.serverDoc = serverDoc;
    }
    hint.seenDocIdKey = hs.key.docIdKey;
    hint.lastWarmPort = -1;
    hint.lastWarmIsn = -1;
    return Reason.OK;
  }

  /** Client enforcer: the ACK token completing hs (after verifySynAck returned OK). */
  buildAck(hs: ClientHandshake): Uint8Array {
    if (hs.reason !== Reason.OK || hs.ackTag === null) return EMPTY;
    return this.encodeToken(TOKEN_KIND_ACK, AckTokenMsg, { mac: hs.ackTag });
  }

  /** macOut = HMAC(pair, handshake transcript); halves are the SYN-ACK and ACK tags. */
  private handshakeMac(pair: HmacKey, clientDocId: Buffer, serverDocId: Buffer, nc: Uint8Array, ns: Uint8Array, bind: Uint8Array): void {
    const t = transcript;
    t.set(TS_LABEL_HS, 0);
    t.set(clientDocId, TH_OFF_CLIENT_DOC);
    t.set(serverDocId, TH_OFF_SERVER_DOC);
    t.set(nc, TH_OFF_NC);
    t.set(ns, TH_OFF_NS);
    t.set(bind, TH_OFF_BINDING);
    macTranscript(pair, TH_LEN);
  }

  // ------------------------------------------------------------------ server side

  /**
   * Server enforcer, incoming SYN toward `local`: verifies the SYN token. `binding` is the
   * observed connection (isnS ignored). On OK, hs.peer is the client's identity; the flow is
   * authorized only after verifyAck. A duplicate nonce is REPLAY even on the same tuple: the
   * engine must recognise its own SYN retransmissions before calling this.
   */
  verifySyn(local: LocalWorkload, token: Uint8Array, binding: Binding, nowMs: number): ServerHandshake {
    const hs = new ServerHandshake(local);
    hs.reason = this.verifySynInner(hs, local, token, binding, nowMs);
    return hs;
  }

  private verifySynInner(hs: ServerHandshake, local: LocalWorkload, token: Uint8Array, binding: Binding, nowMs: number): Reason {
    if (token.length === 0) return Reason.NO_TOKEN;
    if (token[0] !== TOKEN_KIND_SYN) return Reason.MALFORMED;
    let m: SynTokenFields;
    try {
      m = SynTokenMsg.decode(body(token)) as unknown as SynTokenFields;
    } catch {
      return Reason.MALFORMED;
    }
    const full = m.cred.length > 0 || m.doc.length > 0;
    const warm = m.mac.length > 0 || m.peerDocId.length > 0;
    if (
      m.nonce.length !== NONCE_LEN ||
      m.binding.length !== BINDING_LEN ||
      (full ? m.cred.length === 0 || m.doc.length === 0 || m.docId.length !== 0 : m.docId.length !== ID_LEN) ||
      (warm ? m.mac.length !== SYN_MAC_LEN || m.peerDocId.length !== ID_LEN || m.sig.length !== 0 : m.sig.length !== SIG_LEN) ||
      m.issuedAt === 0 ||
      synSize(m) !== token.length - 1
    ) {
      return Reason.MALFORMED;
    }
    writeBinding(binding, 0, this.bind, 0);
    if (!bindingEquals(this.bind, 0, m.binding, 0)) return Reason.BINDING_MISMATCH;
    const nowSec = Math.floor(nowMs / 1000);
    const skew = this.config.clockSkewSec;
    if (m.issuedAt > nowSec + skew) return Reason.NOT_YET_VALID;
    if (m.issuedAt + this.config.synMaxAgeSec + skew < nowSec) return Reason.EXPIRED;
    if (this.replay.has(m.nonce, 0, nowSec)) {
      this.stats.replayRejects++;
      return Reason.REPLAY;
    }
    const src = binding.srcIp >>> 0;
    // Which of our keys the client used (warm), and which we answer with.
    let refKey: LocalKey | null = null;
    if (warm) {
      refKey = this.localKeys.get(idNum(m.peerDocId)) ?? null;
      if (refKey === null || !idEquals(refKey.docId, m.peerDocId) || refKey.workload !== local || nowSec > refKey.notAfter + skew) {
        this.stats.staleCache++;
        return Reason.STALE_CACHE;
      }
    }
    const cur = this.currentKey(local, nowSec);
    if (cur === null) return Reason.EXPIRED;
    let doc: DocEntry;
    if (full) {
      const res = this.resolve(m.cred, m.doc, src, nowMs);
      if (typeof res === 'number') return res;
      doc = res;
    } else {
      const d = this.docs.get(idNum(m.docId));
      if (d === undefined || !idEquals(d.id, m.docId)) {
        this.stats.docCacheMisses++;
        this.stats.staleCache++;
        return Reason.STALE_CACHE;
      }
      this.stats.docCacheHits++;
      const st = this.checkDoc(d, nowSec);
      if (st !== Reason.OK) return st;
      doc = d;
    }
    // Budget for what is left: the SYN signature (cold) and X25519 derivations.
    const ops = (warm ? 0 : 1) + (this.hasPair(cur, doc) ? 0 : 1) + (refKey !== null && refKey !== cur && !this.hasPair(refKey, doc) ? 1 : 0);
    if (ops > 0 && !this.budget.take(src, ops, nowMs)) {
      this.stats.rateLimited++;
      return Reason.RATE_LIMITED;
    }
    const ts = transcript;
    ts.set(TS_LABEL_SYN, 0);
    ts.set(doc.id, TS_OFF_CLIENT_DOC);
    ts.set(refKey !== null ? refKey.docId : ZERO_ID, TS_OFF_PEER_DOC);
    ts.set(m.nonce, TS_OFF_NC);
    ts.set(this.bind, TS_OFF_SYN_BINDING);
    ts.writeUInt32BE(m.issuedAt >>> 0, TS_OFF_ISSUED);
    if (refKey !== null) {
      const pair = this.pairFor(refKey, doc);
      if (pair === null) return Reason.MALFORMED;
      macTranscript(pair, TS_SYN_LEN);
      if (!crypto.timingSafeEqual(macOut, m.mac)) return Reason.BAD_MAC;
      this.stats.warmSyns++;
    } else {
      this.stats.signaturesVerified++;
      if (!crypto.verify(null, Buffer.concat([SYN_SIG_CONTEXT, ts.subarray(0, TS_SYN_LEN)]), doc.cred.nodeKey, m.sig)) {
        return Reason.BAD_SIGNATURE;
      }
      this.stats.coldSyns++;
      hs.cold = true;
    }
    if (!this.replay.add(m.nonce, 0, nowSec)) {
      this.stats.replayFull++;
      return Reason.RATE_LIMITED;
    }
    hs.nonceC.set(m.nonce);
    hs.binding.set(this.bind);
    hs.referencedKey = refKey;
    hs.clientDoc = doc;
    hs.peer = doc.peer;
    return Reason.OK;
  }

  /**
   * Server enforcer, outgoing SYN-ACK: builds the token for a SYN that verified OK. Returns
   * the token (empty and hs.reason set on failure).
   */
  buildSynAck(hs: ServerHandshake, isnS: number, nowMs: number): Uint8Array {
    if (hs.reason !== Reason.OK || hs.clientDoc === null) return EMPTY;
    const nowSec = Math.floor(nowMs / 1000);
    const cur = this.currentKey(hs.local, nowSec);
    if (cur === null) {
      hs.reason = Reason.EXPIRED;
      return EMPTY;
    }
    const pair = this.pairFor(cur, hs.clientDoc);
    if (pair === null) {
      hs.reason = Reason.MALFORMED;
      return EMPTY;
    }
    this.rng.fill(hs.nonceS, 0, NONCE_LEN);
    writeU32(hs.binding, BIND_OFF_ISN_S, isnS);
    this.handshakeMac(pair, hs.clientDoc.id, cur.docId, hs.nonceC, hs.nonceS, hs.binding);
    hs.ackTag = new Uint8Array(macOutHi);
    const msg: Partial<SynAckTokenFields> = {
      nonce: hs.nonceS,
      peerNonce: hs.nonceC,
      binding: hs.binding,
      mac: macOutLo,
    };
    if (hs.referencedKey !== cur) {
      msg.cred = cur.cred.bytes;
      msg.doc = cur.docBytes;
    }
    hs.token = this.encodeToken(TOKEN_KIND_SYNACK, SynAckTokenMsg, msg);
    return hs.token;
  }

  /**
   * Server enforcer, incoming final ACK: OK completes mutual authentication. Also rechecks
   * the client's document against deny-lists changed since the SYN.
   */
  verifyAck(hs: ServerHandshake, token: Uint8Array, nowMs: number): Reason {
    const r = this.verifyAckInner(hs, token, nowMs);
    hs.reason = r;
    return r;
  }

  private verifyAckInner(hs: ServerHandshake, token: Uint8Array, nowMs: number): Reason {
    if (hs.ackTag === null || hs.clientDoc === null) return Reason.INTERNAL;
    if (token.length === 0) return Reason.NO_TOKEN;
    if (token[0] !== TOKEN_KIND_ACK) return Reason.MALFORMED;
    let m: AckTokenFields;
    try {
      m = AckTokenMsg.decode(body(token)) as unknown as AckTokenFields;
    } catch {
      return Reason.MALFORMED;
    }
    if (m.mac.length !== HS_TAG_LEN || bytesFieldSize(m.mac.length) !== token.length - 1) return Reason.MALFORMED;
    if (!crypto.timingSafeEqual(m.mac, hs.ackTag)) return Reason.BAD_MAC;
    return this.checkDoc(hs.clientDoc, Math.floor(nowMs / 1000));
  }

  // One writer reused for every token (protobufjs 8 writers write into a growing buffer and
  // reset to position 0); finish() returns a fresh copy the caller may keep.
  private writer = protobuf.Writer.create();

  private encodeToken(kind: number, type: protobuf.Type, msg: object): Uint8Array {
    const w = this.writer.reset();
    try {
      w.uint32(kind);
      type.encode(msg, w);
      return w.finish();
    } catch {
      this.writer = protobuf.Writer.create();
      return EMPTY;
    }
  }

  /** Forgets what this agent knows about server `dstIp` for `local` (next SYN is cold). */
  forgetPeer(local: LocalWorkload, dstIp: number): void {
    this.hints.delete(local.no * 4294967296 + (dstIp >>> 0));
  }

  /** Drops every cache (documents, credentials, pair keys, hints, negative entries). */
  clearCaches(): void {
    this.creds.clear();
    this.docs.clear();
    this.pairGen++;
    this.pairCount = 0;
    this.hints.clear();
    this.negative.clear();
  }

  /** Cache occupancy, for metrics. */
  cacheSizes(): { credentials: number; documents: number; pairKeys: number; peerHints: number; negative: number; replay: number } {
    return {
      credentials: this.creds.size,
      documents: this.docs.size,
      pairKeys: this.pairCount,
      peerHints: this.hints.size,
      negative: this.negative.size,
      replay: this.replay.size,
    };
  }
}


/** Canonical encoded size of a decoded SYN token (without the kind byte). */
function synSize(m: SynTokenFields): number {
  return (
    bytesFieldSize(m.cred.length) +
    bytesFieldSize(m.doc.length) +
    bytesFieldSize(m.docId.length) +
    bytesFieldSize(m.nonce.length) +
    bytesFieldSize(m.binding.length) +
    (m.issuedAt !== 0 ? 5 : 0) +
    bytesFieldSize(m.peerDocId.length) +
    bytesFieldSize(m.sig.length) +
    bytesFieldSize(m.mac.length)
  );
}

/** Canonical encoded size of a decoded SYN-ACK token (without the kind byte). */
function synAckSize(m: SynAckTokenFields): number {
  return (
    bytesFieldSize(m.cred.length) +
    bytesFieldSize(m.doc.length) +
    bytesFieldSize(m.nonce.length) +
    bytesFieldSize(m.peerNonce.length) +
    bytesFieldSize(m.binding.length) +
    bytesFieldSize(m.mac.length)
  );
}
