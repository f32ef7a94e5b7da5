// Cryptographic building blocks, all from node:crypto: SHA-256, HMAC-SHA256 (RFC 2104),
// HKDF-SHA256 (RFC 5869), Ed25519, ECDSA P-256, X25519, timingSafeEqual.
// Invariants:
//  - HmacKey computes exactly RFC 2104 HMAC-SHA256 (cross-checked against createHmac with the
//    RFC 4231 vectors in test/identity/primitives.test.ts). It precomputes the ipad/opad blocks
//    once per key and runs the two SHA-256 passes with crypto.hash() over preallocated buffers:
//    an Hmac object cannot be reused, and createHmac per call costs about 25% more;
//  - the transcript scratch buffer is module-owned and only valid until the next mac call
//    (single-threaded JS: no interleaving inside one call);
//  - nonces come from a pooled randomFillSync, refilled in 4 KiB batches.
import crypto, { type KeyObject } from 'node:crypto';

const SHA256_BLOCK = 64;
const SHA256_LEN = 32;
/** Largest transcript a MAC or signature covers (see docs/tokens.md). */
export const TRANSCRIPT_MAX = 192;

/** A per-key HMAC-SHA256 state: the key XOR ipad and XOR opad blocks. */
export class HmacKey {
  readonly ipad: Buffer;
  readonly opad: Buffer;
  constructor(key: Uint8Array) {
    let k: Uint8Array = key;
    if (k.length > SHA256_BLOCK) k = crypto.hash('sha256', k, 'buffer');
    this.ipad = Buffer.alloc(SHA256_BLOCK, 0x36);
    this.opad = Buffer.alloc(SHA256_BLOCK, 0x5c);
    for (let i = 0; i < k.length; i++) {
      const b = k[i] ?? 0;
      this.ipad[i] = b ^ 0x36;
      this.opad[i] = b ^ 0x5c;
    }
  }
}

// [ipad(64) | transcript(<= TRANSCRIPT_MAX)] and [opad(64) | inner digest(32)].
const innerBuf = Buffer.alloc(SHA256_BLOCK + TRANSCRIPT_MAX);
const outerBuf = Buffer.alloc(SHA256_BLOCK + SHA256_LEN);
// Views of innerBuf per transcript length, created once (subarray costs ~100 ns per call).
const innerViews: Buffer[] = [];

/** The transcript area: write a transcript at offset 0 of this view, then call macTranscript. */
export const transcript: Buffer = innerBuf.subarray(SHA256_BLOCK);
/** Output of the last macTranscript call (32 bytes); overwritten by the next call. */
export const macOut: Buffer = Buffer.alloc(SHA256_LEN);
export const macOutLo: Buffer = macOut.subarray(0, 16);
export const macOutHi: Buffer = macOut.subarray(16, 32);

/**
 * macOut = HMAC-SHA256(key, transcript[0..len]). crypto.hash() with a latin1 string result
 * is about 4x faster than with a Buffer result in Node 20, hence the string round trips.
 */
export function macTranscript(key: HmacKey, len: number): void {
  let view = innerViews[len];
  if (view === undefined) {
    view = innerBuf.subarray(0, SHA256_BLOCK + len);
    innerViews[len] = view;
  }
  innerBuf.set(key.ipad, 0);
  const inner = crypto.hash('sha256', view, 'binary');
  outerBuf.set(key.opad, 0);
  writeLatin1(outerBuf, inner, SHA256_BLOCK);
  writeLatin1(macOut, crypto.hash('sha256', outerBuf, 'binary'), 0);
}

// Buffer#latin1Write is what Buffer#write(s, off, len, 'latin1') ends in, minus the argument
// normalisation (~20% of an HMAC here). It is not in the typings; fall back to write() if absent.
type Latin1Writer = { latin1Write?: (s: string, off: number, len: number) => number };
const HAS_LATIN1_WRITE = typeof (Buffer.prototype as unknown as Latin1Writer).latin1Write === 'function';
function writeLatin1(buf: Buffer, s: string, off: number): void {
  if (HAS_LATIN1_WRITE) (buf as unknown as Required<Latin1Writer>).latin1Write(s, off, SHA256_LEN);
  else buf.write(s, off, SHA256_LEN, 'latin1');
}

/** HMAC-SHA256 of an arbitrary message (not for the hot path). */
export function hmac(key: HmacKey, msg: Uint8Array): Buffer {
  const inner = crypto.hash('sha256', Buffer.concat([key.ipad, msg]), 'buffer');
  return crypto.hash('sha256', Buffer.concat([key.opad, inner]), 'buffer');
}

/** First 16 bytes of SHA-256(bytes): the cache id of a credential or document. */
export function id16(bytes: Uint8Array): Buffer {
  return Buffer.from(crypto.hash('sha256', bytes, 'binary').slice(0, 16), 'binary');
}

/** The first 6 bytes of an id as a number (48 bits): a cheap Map key; confirm with idEquals. */
export function idNum(b: Uint8Array): number {
  const hi = (b[0] ?? 0) * 0x100 + (b[1] ?? 0);
  const lo = (((b[2] ?? 0) << 24) | ((b[3] ?? 0) << 16) | ((b[4] ?? 0) << 8) | (b[5] ?? 0)) >>> 0;
  return hi * 0x100000000 + lo;
}

/** Equality of two 16-byte ids (public values: not constant-time). */
export function idEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== 16 || b.length !== 16) return false;
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Constant-time equality of a[ao..ao+n] and b[bo..bo+n]; false if either is too short. */
export function ctEqual(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  if (ao + n > a.length || bo + n > b.length) return false;
  return crypto.timingSafeEqual(a.subarray(ao, ao + n), b.subarray(bo, bo + n));
}

/** Pooled CSPRNG output: one randomFillSync per 4 KiB. */
export class RandomPool {
  private readonly pool = Buffer.alloc(4096);
  private pos = 4096;
  /** Writes n (<= 4096) random bytes into dst at off. */
  fill(dst: Uint8Array, off: number, n: number): void {
    if (this.pos + n > this.pool.length) {
      crypto.randomFillSync(this.pool);
      this.pos = 0;
    }
    // pos only moves forward: the same bytes are never handed out twice.
    this.pool.copy(dst, off, this.pos, this.pos + n);
    this.pos += n;
  }
}

// --- raw key import/export (JWK is ~10x faster to import than SPKI DER) ---

function b64url(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');
}

export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('not an OKP public key');
  return Buffer.from(jwk.x, 'base64url');
}

export function ed25519PublicFromRaw(raw: Uint8Array): KeyObject {
  return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(raw) }, format: 'jwk' });
}

export function x25519PublicFromRaw(raw: Uint8Array): KeyObject {
  return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(raw) }, format: 'jwk' });
}

/** Key id of a CA: first 8 bytes of SHA-256 over its SubjectPublicKeyInfo DER. */
export function caKeyId(pub: KeyObject): Buffer {
  const spki = pub.export({ format: 'der', type: 'spki' });
  return crypto.hash('sha256', spki, 'buffer').subarray(0, 8);
}

const PAIR_SALT = Buffer.from('syngate/v1 pair key', 'ascii');

/**
 * Kpair = HKDF-SHA256(ikm = X25519(localPriv, peerPub), salt = "syngate/v1 pair key",
 * info = lower public key || higher public key). Symmetric in the two parties, so one key
 * serves both connection directions; messages are separated by transcript labels.
 * Throws if OpenSSL rejects the peer key (low-order point): callers map that to MALFORMED.
 */
export function derivePairKey(localPriv: KeyObject, localPub: Uint8Array, peerPub: KeyObject, peerPubRaw: Uint8Array): HmacKey {
  const shared = crypto.diffieHellman({ privateKey: localPriv, publicKey: peerPub });
  const lowFirst = Buffer.compare(Buffer.from(localPub), Buffer.from(peerPubRaw)) <= 0;
  const info = lowFirst ? Buffer.concat([localPub, peerPubRaw]) : Buffer.concat([peerPubRaw, localPub]);
  const okm = Buffer.from(crypto.hkdfSync('sha256', shared, PAIR_SALT, info, 32));
  return new HmacKey(okm);
}

/**
 * Encoded size of a proto3 length-delimited field with a 1-byte tag (field number < 16);
 * 0 when the field is empty (proto3 omits it). Used to reject tokens with unknown, duplicate
 * or non-canonically encoded fields: a decoded token must re-encode to exactly its length.
 */
export function bytesFieldSize(len: number): number {
  if (len === 0) return 0;
  return 1 + (len < 0x80 ? 1 : len < 0x4000 ? 2 : len < 0x200000 ? 3 : 4) + len;
}
