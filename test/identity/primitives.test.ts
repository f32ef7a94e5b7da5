// Building blocks: the pooled HMAC matches RFC 4231 and createHmac; the schema's message types
// come from proto/token.proto; bounded caches keep their bounds; the replay set keeps nonces for its window.
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BoundedMap, ReplayCache, TokenBuckets } from '../../enforcer/identity/caches.js';
import { HmacKey, hmac, macOut, macTranscript, transcript, bytesFieldSize } from '../../enforcer/identity/primitives.js';
import { AckTokenMsg, CredentialBodyMsg, CredentialMsg, DocumentBodyMsg, DocumentMsg, SynAckTokenMsg, SynTokenMsg } from '../../enforcer/identity/schema.js';
import { readProtoFile } from '../../enforcer/proto.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

describe('HMAC-SHA256 (RFC 4231 test cases 1, 2, 3, 4, 6, 7)', () => {
  const cases: Array<[string, Buffer, Buffer, string]> = [
    ['1', Buffer.alloc(20, 0x0b), Buffer.from('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
    ['2', Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
    ['3', Buffer.alloc(20, 0xaa), Buffer.alloc(50, 0xdd), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
    ['4', hex('0102030405060708090a0b0c0d0e0f10111213141516171819'), Buffer.alloc(50, 0xcd), '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b'],
    ['6', Buffer.alloc(131, 0xaa), Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
    [
      '7',
      Buffer.alloc(131, 0xaa),
      Buffer.from('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
      '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    ],
  ];
  for (const [name, key, msg, want] of cases) {
    it(`case ${name}`, () => {
      const k = new HmacKey(key);
      expect(hmac(k, msg).toString('hex')).toBe(want);
      expect(crypto.createHmac('sha256', key).update(msg).digest('hex')).toBe(want);
      if (msg.length <= 192) {
        msg.copy(transcript, 0);
        macTranscript(k, msg.length);
        expect(macOut.toString('hex')).toBe(want);
      }
    });
  }
  it('matches createHmac on random keys and transcripts', () => {
    for (let i = 0; i < 200; i++) {
      const key = crypto.randomBytes(32);
      const msg = crypto.randomBytes(1 + (i % 192));
      msg.copy(transcript, 0);
      macTranscript(new HmacKey(key), msg.length);
      expect(macOut.equals(crypto.createHmac('sha256', key).update(msg).digest())).toBe(true);
    }
  });
});

describe('schema', () => {
  it('the message types come from proto/token.proto and carry the fields the decoders expect', () => {
    expect(readProtoFile('token.proto')).toBe(readFileSync(new URL('../../proto/token.proto', import.meta.url), 'utf8'));
    const fields = (t: { fieldsArray: ReadonlyArray<{ name: string }> }): string[] => t.fieldsArray.map((f) => f.name).sort();
    expect(fields(CredentialMsg)).toEqual(['body', 'sig']);
    expect(fields(DocumentMsg)).toEqual(['body', 'sig']);
    expect(fields(CredentialBodyMsg)).toEqual(['issuer', 'node', 'nodeKey', 'notAfter', 'notBefore', 'serial', 'trustDomain']);
    expect(fields(DocumentBodyMsg)).toEqual(['credId', 'ephKey', 'labels', 'notAfter', 'notBefore', 'spiffeId']);
    expect(fields(SynTokenMsg)).toEqual(['binding', 'cred', 'doc', 'docId', 'issuedAt', 'mac', 'nonce', 'peerDocId', 'sig']);
    expect(fields(SynAckTokenMsg)).toEqual(['binding', 'cred', 'doc', 'mac', 'nonce', 'peerNonce']);
    expect(fields(AckTokenMsg)).toEqual(['mac']);
  });
  it('a schema file that is not shipped is a SYNGATE_PROTO_MISSING error naming it', () => {
    expect(() => readProtoFile('missing.proto' as 'token.proto')).toThrow(expect.objectContaining({ code: 'SYNGATE_PROTO_MISSING', message: expect.stringContaining('proto/missing.proto') }));
  });
  it('bytesFieldSize follows the protobuf varint length rule', () => {
    expect(bytesFieldSize(0)).toBe(0);
    expect(bytesFieldSize(16)).toBe(18);
    expect(bytesFieldSize(127)).toBe(129);
    expect(bytesFieldSize(128)).toBe(131);
  });
});

describe('bounded caches', () => {
  it('BoundedMap evicts the oldest insertion beyond capacity', () => {
    const m = new BoundedMap<number, string>(3);
    for (let i = 0; i < 10; i++) m.set(i, String(i));
    expect(m.size).toBe(3);
    expect(m.get(6)).toBeUndefined();
    expect(m.get(9)).toBe('9');
    expect(m.evictions).toBe(7);
  });

  it('ReplayCache remembers a nonce for at least its window, forgets it after two', () => {
    const r = new ReplayCache(8, 10);
    const n = crypto.randomBytes(16);
    expect(r.has(n, 0, 1000)).toBe(false);
    expect(r.add(n, 0, 1000)).toBe(true);
    expect(r.has(n, 0, 1000)).toBe(true);
    expect(r.has(n, 0, 1009)).toBe(true);
    expect(r.has(n, 0, 1015)).toBe(true); // rolled once: previous generation
    expect(r.has(n, 0, 1031)).toBe(false);
  });

  it('ReplayCache: interleaved has/add pairs (the add reuses the probe of the matching has)', () => {
    const r = new ReplayCache(10, 10, 3);
    const xs = Array.from({ length: 200 }, () => crypto.randomBytes(16));
    for (let i = 0; i < xs.length; i += 2) {
      const a = xs[i] as Buffer;
      const b = xs[i + 1] as Buffer;
      expect(r.has(a, 0, 1)).toBe(false);
      expect(r.has(b, 0, 1)).toBe(false);
      expect(r.add(a, 0, 1)).toBe(true);
      expect(r.add(b, 0, 1)).toBe(true);
    }
    expect(xs.every((x) => r.has(x, 0, 2))).toBe(true);
    expect(r.size).toBe(200);
  });

  it('ReplayCache refuses inserts when half full (fail closed) instead of forgetting', () => {
    const r = new ReplayCache(6, 10, 2); // grows 4 -> 64 slots, limit 32
    const nonces = Array.from({ length: 40 }, () => crypto.randomBytes(16));
    let ok = 0;
    for (const n of nonces) if (r.add(n, 0, 5)) ok++;
    expect(ok).toBe(32);
    expect(r.refusedFull).toBe(8);
    // Growth kept every accepted nonce.
    expect(nonces.slice(0, 32).every((n) => r.has(n, 0, 6))).toBe(true);
    expect(nonces.slice(32).some((n) => r.has(n, 0, 6))).toBe(false);
  });

  it('TokenBuckets: per-source isolation, global cap, refill over time', () => {
    const b = new TokenBuckets({ ratePerSec: 1, burst: 3 }, { ratePerSec: 100, burst: 5 }, 4);
    expect([1, 2, 3, 4].map(() => b.take(1, 1, 0))).toEqual([true, true, true, false]);
    expect(b.take(2, 1, 0)).toBe(true);
    expect(b.take(2, 1, 0)).toBe(true);
    expect(b.take(3, 1, 0)).toBe(false); // global burst of 5 used
    expect(b.take(1, 1, 1000)).toBe(true); // refilled
    // A bounded table: many sources never grow memory.
    for (let ip = 0; ip < 10_000; ip++) b.take(ip, 0, 2000);
  });
});
