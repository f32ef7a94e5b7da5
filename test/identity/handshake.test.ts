// Issue 3 acceptance: full SYN -> SYN-ACK -> ACK exchanges through the public API, each attack
// rejected with its own reason code, and the cache behaviour shown with counters.
import { describe, expect, it } from 'vitest';
import {
  createCa,
  credentialWithWindow,
  forgeSyn,
  foreignPki,
  IdentityAgent,
  bundleOf,
  issueNodeCredential,
  rebindSyn,
  synWithStolenCredential,
} from '../../enforcer/identity/index.js';
import { Reason, reasonLabel } from '../../enforcer/reasons.js';
import { binding, CLIENT_ID, crypto, handshake, SERVER_ID, T0, world } from './helpers.js';

const label = reasonLabel;

describe('handshake: honest peers', () => {
  it('completes cold, then warm, with both identities proved', () => {
    const w = world();
    const first = handshake(w);
    expect(first.result).toBe('ok');
    expect(first.step).toBe('done');
    expect(first.chs.cold).toBe(true);
    expect(first.shs.peer).toMatchObject({
      spiffeId: CLIENT_ID,
      trustDomain: 'cluster.local',
      namespace: 'shop',
      serviceAccount: 'frontend',
      node: 'node-a',
      labels: { app: 'frontend' },
    });
    expect(first.chs.peer).toMatchObject({ spiffeId: SERVER_ID, serviceAccount: 'cart', node: 'node-b', labels: { app: 'cart', tier: 'backend' } });
    expect(first.shs.peer?.credentialSerial).toMatch(/^[0-9a-f]{16}$/);
    const second = handshake(w);
    expect(second.result).toBe('ok');
    expect(second.chs.cold).toBe(false);
    expect(second.shs.cold).toBe(false);
  });

  it('token sizes: SYN <= 600 bytes, SYN-ACK and ACK smaller', () => {
    const w = world();
    const cold = handshake(w);
    const warm = handshake(w);
    for (const ex of [cold, warm]) {
      expect(ex.syn.length).toBeLessThanOrEqual(600);
      expect(ex.synAck.length).toBeLessThan(ex.syn.length);
      expect(ex.ack.length).toBeLessThan(ex.synAck.length);
    }
    expect(warm.syn.length).toBeLessThan(cold.syn.length);
  });

  it('the second connection between the same workloads does no signature verification and no X25519', () => {
    const w = world();
    expect(handshake(w).result).toBe('ok');
    const c0 = crypto(w.clientNode);
    const s0 = crypto(w.serverNode);
    expect(handshake(w).result).toBe('ok');
    expect(crypto(w.clientNode)).toEqual(c0);
    expect(crypto(w.serverNode)).toEqual(s0);
    expect(w.serverNode.stats.warmSyns).toBe(1);
  });

  it('after the client rotates its key: exactly one verification and one derivation again, then none', () => {
    const w = world();
    handshake(w);
    handshake(w);
    w.clientNode.rotateWorkload(w.client, T0 + 1000);
    const c0 = crypto(w.clientNode);
    const s0 = crypto(w.serverNode);
    expect(handshake(w, T0 + 2000).result).toBe('ok');
    // Server: verifies the new document once (credential cached), derives one pair key.
    expect(crypto(w.serverNode)).toEqual({ sig: s0.sig + 1, x25519: s0.x25519 + 1 });
    // Client: the server's document is cached; one derivation for the new key.
    expect(crypto(w.clientNode)).toEqual({ sig: c0.sig, x25519: c0.x25519 + 1 });
    const c1 = crypto(w.clientNode);
    const s1 = crypto(w.serverNode);
    expect(handshake(w, T0 + 3000).result).toBe('ok');
    expect(crypto(w.clientNode)).toEqual(c1);
    expect(crypto(w.serverNode)).toEqual(s1);
  });

  it('after the server rotates: the old key answers during grace, the new document spreads once', () => {
    const w = world();
    handshake(w);
    handshake(w);
    w.serverNode.rotateWorkload(w.server, T0 + 1000);
    const c0 = crypto(w.clientNode);
    const s0 = crypto(w.serverNode);
    const ex = handshake(w, T0 + 2000);
    expect(ex.result).toBe('ok');
    expect(ex.chs.cold).toBe(false); // warm SYN under the old server key
    expect(crypto(w.clientNode)).toEqual({ sig: c0.sig + 1, x25519: c0.x25519 + 1 });
    expect(crypto(w.serverNode)).toEqual({ sig: s0.sig, x25519: s0.x25519 + 1 });
    const c1 = crypto(w.clientNode);
    const s1 = crypto(w.serverNode);
    expect(handshake(w, T0 + 3000).result).toBe('ok');
    expect(crypto(w.clientNode)).toEqual(c1);
    expect(crypto(w.serverNode)).toEqual(s1);
  });

  it('a handshake in flight survives a rotation on either side', () => {
    const w = world();
    handshake(w);
    const b = binding();
    const chs = w.clientNode.buildSyn(w.client, b, T0);
    const shs = w.serverNode.verifySyn(w.server, chs.token, b, T0);
    w.serverNode.rotateWorkload(w.server, T0 + 1);
    w.clientNode.rotateWorkload(w.client, T0 + 1);
    const sa = w.serverNode.buildSynAck(shs, 99, T0 + 2);
    expect(label(w.clientNode.verifySynAck(chs, sa, { ...b, isnS: 99 }, T0 + 2))).toBe('ok');
    expect(label(w.serverNode.verifyAck(shs, w.clientNode.buildAck(chs), T0 + 3))).toBe('ok');
  });

  it('renewed node credential: new documents, old ones keep working until they expire', () => {
    const w = world();
    handshake(w);
    w.serverNode.setNodeCredential(issueNodeCredential(w.ca, { node: 'node-b', nowMs: T0 + 5000 }), T0 + 5000);
    expect(handshake(w, T0 + 6000).result).toBe('ok');
    expect(handshake(w, T0 + 7000).result).toBe('ok');
  });

  it('a server that lost its state answers stale-cache; the retransmitted SYN goes cold and succeeds', () => {
    const w = world();
    handshake(w);
    // Server enforcer restarts: same node identity, empty caches, new ephemeral keys.
    const node = issueNodeCredential(w.ca, { node: 'node-b', nowMs: T0 });
    w.serverNode = new IdentityAgent({ node, bundle: bundleOf(w.ca) });
    w.server = w.serverNode.registerWorkload({ spiffeId: SERVER_ID, ip: 0xc6120002 }, T0);
    const b = binding();
    const first = handshake(w, T0 + 1000, b);
    expect(first.result).toBe('stale-cache');
    const retry = handshake(w, T0 + 2000, b);
    expect(retry.chs.cold).toBe(true);
    expect(retry.result).toBe('ok');
    expect(w.clientNode.stats.retransmitCold).toBe(1);
  });
});

describe('handshake: attacks, each with its own reason', () => {
  it('a token signed by another CA: untrusted-issuer', () => {
    const w = world();
    const rogue = foreignPki({ nowMs: T0 });
    const wl = rogue.agent.registerWorkload({ spiffeId: CLIENT_ID }, T0);
    const b = binding();
    const syn = rogue.agent.buildSyn(wl, b, T0).token;
    expect(label(w.serverNode.verifySyn(w.server, syn, b, T0).reason)).toBe('untrusted-issuer');
  });

  it('another CA on the SYN-ACK side: the client rejects with untrusted-issuer', () => {
    const w = world();
    const rogueCa = createCa({ trustDomain: 'cluster.local', nowMs: T0 });
    // The rogue server trusts our CA (to accept the SYN) but holds a credential from its own.
    const rogue = new IdentityAgent({ node: issueNodeCredential(rogueCa, { node: 'evil', nowMs: T0 }), bundle: bundleOf(rogueCa, w.ca) });
    const srv = rogue.registerWorkload({ spiffeId: SERVER_ID }, T0);
    const b = binding();
    const chs = w.clientNode.buildSyn(w.client, b, T0);
    const shs = rogue.verifySyn(srv, chs.token, b, T0);
    expect(label(shs.reason)).toBe('ok');
    const sa = rogue.buildSynAck(shs, 5, T0);
    expect(label(w.clientNode.verifySynAck(chs, sa, { ...b, isnS: 5 }, T0))).toBe('untrusted-issuer');
  });

  it('an expired credential: expired', () => {
    const w = world();
    const old = credentialWithWindow(w.ca, 'node-old', T0 - 2 * 86400_000, T0 - 86400_000);
    const b = binding();
    const syn = forgeSyn({ node: old, spiffeId: CLIENT_ID, binding: b, nowMs: T0 });
    expect(label(w.serverNode.verifySyn(w.server, syn, b, T0).reason)).toBe('expired');
  });

  it('a not-yet-valid credential: not-yet-valid', () => {
    const w = world();
    const future = credentialWithWindow(w.ca, 'node-new', T0 + 86400_000, T0 + 2 * 86400_000);
    const b = binding();
    const syn = forgeSyn({ node: future, spiffeId: CLIENT_ID, binding: b, nowMs: T0 });
    expect(label(w.serverNode.verifySyn(w.server, syn, b, T0).reason)).toBe('not-yet-valid');
  });

  it('an honest agent refuses to build a SYN with its expired credential', () => {
    const ca = createCa({ trustDomain: 'cluster.local', nowMs: T0 });
    const a = new IdentityAgent({ node: issueNodeCredential(ca, { node: 'n', nowMs: T0, ttlSec: 600 }), bundle: bundleOf(ca) });
    const wl = a.registerWorkload({ spiffeId: CLIENT_ID }, T0);
    expect(label(a.buildSyn(wl, binding(), T0 + 3600_000).reason)).toBe('expired');
  });

  it('a SYN replayed on a different tuple: binding-mismatch', () => {
    const w = world();
    const ex = handshake(w);
    expect(ex.result).toBe('ok');
    const other = binding({ srcIp: 0xc6120009 });
    expect(label(w.serverNode.verifySyn(w.server, ex.syn, other, T0).reason)).toBe('binding-mismatch');
    const otherPort = binding();
    expect(label(w.serverNode.verifySyn(w.server, ex.syn, otherPort, T0).reason)).toBe('binding-mismatch');
  });

  it('a SYN replayed with a different ISN: binding-mismatch', () => {
    const w = world();
    const b = binding();
    const ex = handshake(w, T0, b);
    expect(label(w.serverNode.verifySyn(w.server, ex.syn, { ...b, isnC: (b.isnC + 1) >>> 0 }, T0).reason)).toBe('binding-mismatch');
  });

  it('a SYN replayed on its own tuple and ISN: replay (cold and warm)', () => {
    const w = world();
    const b1 = binding();
    const cold = handshake(w, T0, b1);
    expect(label(w.serverNode.verifySyn(w.server, cold.syn, b1, T0 + 500).reason)).toBe('replay');
    const b2 = binding();
    const warm = handshake(w, T0, b2);
    expect(warm.chs.cold).toBe(false);
    expect(label(w.serverNode.verifySyn(w.server, warm.syn, b2, T0 + 500).reason)).toBe('replay');
  });

  it('a SYN captured in flight and rebound to a new tuple: bad-signature (cold) / bad-mac (warm)', () => {
    const w = world();
    const cold = w.clientNode.buildSyn(w.client, binding(), T0);
    const nb = binding();
    expect(label(w.serverNode.verifySyn(w.server, rebindSyn(cold.token, nb), nb, T0).reason)).toBe('bad-signature');
    expect(handshake(w).result).toBe('ok');
    const warm = w.clientNode.buildSyn(w.client, binding(), T0);
    expect(warm.cold).toBe(false);
    const nb2 = binding();
    expect(label(w.serverNode.verifySyn(w.server, rebindSyn(warm.token, nb2), nb2, T0).reason)).toBe('bad-mac');
  });

  it('a SYN replayed after its window: expired', () => {
    const w = world();
    const b = binding();
    const chs = w.clientNode.buildSyn(w.client, b, T0);
    const late = T0 + (w.serverNode.config.synMaxAgeSec + w.serverNode.config.clockSkewSec + 1) * 1000;
    expect(label(w.serverNode.verifySyn(w.server, chs.token, b, late).reason)).toBe('expired');
  });

  it('a SYN-ACK built for another SYN nonce: binding-mismatch', () => {
    const w = world();
    const b = binding();
    const first = w.clientNode.buildSyn(w.client, b, T0);
    const second = w.clientNode.buildSyn(w.client, b, T0); // same tuple and ISN, new nonce
    const shs = w.serverNode.verifySyn(w.server, second.token, b, T0);
    expect(label(shs.reason)).toBe('ok');
    const sa = w.serverNode.buildSynAck(shs, 42, T0);
    expect(label(w.clientNode.verifySynAck(first, sa, { ...b, isnS: 42 }, T0))).toBe('binding-mismatch');
    expect(label(w.clientNode.verifySynAck(second, sa, { ...b, isnS: 42 }, T0))).toBe('ok');
  });

  it('a SYN-ACK whose ISN differs from the packet: binding-mismatch', () => {
    const w = world();
    const b = binding();
    const chs = w.clientNode.buildSyn(w.client, b, T0);
    const shs = w.serverNode.verifySyn(w.server, chs.token, b, T0);
    const sa = w.serverNode.buildSynAck(shs, 42, T0);
    expect(label(w.clientNode.verifySynAck(chs, sa, { ...b, isnS: 43 }, T0))).toBe('binding-mismatch');
  });

  it('an ACK with a wrong MAC: bad-mac', () => {
    const w = world();
    const b = binding();
    const chs = w.clientNode.buildSyn(w.client, b, T0);
    const shs = w.serverNode.verifySyn(w.server, chs.token, b, T0);
    const sa = w.serverNode.buildSynAck(shs, 7, T0);
    expect(label(w.clientNode.verifySynAck(chs, sa, { ...b, isnS: 7 }, T0))).toBe('ok');
    const ack = Uint8Array.from(w.clientNode.buildAck(chs));
    ack[ack.length - 1] = (ack[ack.length - 1] ?? 0) ^ 1;
    expect(label(w.serverNode.verifyAck(shs, ack, T0))).toBe('bad-mac');
  });

  it('an ACK from another handshake between the same workloads: bad-mac', () => {
    const w = world();
    const a = handshake(w);
    const b = binding();
    const chs = w.clientNode.buildSyn(w.client, b, T0);
    const shs = w.serverNode.verifySyn(w.server, chs.token, b, T0);
    w.serverNode.buildSynAck(shs, 7, T0);
    expect(label(w.serverNode.verifyAck(shs, a.ack, T0))).toBe('bad-mac');
  });

  it('a revoked SPIFFE ID: revoked, also when its document is cached and for a handshake in flight', () => {
    const w = world();
    expect(handshake(w).result).toBe('ok');
    const b = binding();
    const chs = w.clientNode.buildSyn(w.client, b, T0);
    const shs = w.serverNode.verifySyn(w.server, chs.token, b, T0);
    const sa = w.serverNode.buildSynAck(shs, 7, T0);
    w.serverNode.revokeSpiffeId(CLIENT_ID);
    expect(handshake(w).result).toBe('revoked');
    expect(label(w.clientNode.verifySynAck(chs, sa, { ...b, isnS: 7 }, T0))).toBe('ok');
    expect(label(w.serverNode.verifyAck(shs, w.clientNode.buildAck(chs), T0))).toBe('revoked');
    w.serverNode.unrevokeSpiffeId(CLIENT_ID);
    expect(handshake(w).result).toBe('ok');
  });

  it('a revoked credential serial: revoked on both sides of the handshake', () => {
    const w = world();
    const ex = handshake(w);
    w.serverNode.revokeSerial(ex.shs.peer?.credentialSerial ?? '');
    expect(handshake(w).result).toBe('revoked');
    const w2 = world();
    const ex2 = handshake(w2);
    w2.clientNode.revokeSerial(ex2.chs.peer?.credentialSerial ?? '');
    const r = handshake(w2);
    expect(r.step).toBe('syn-ack');
    expect(r.result).toBe('revoked');
  });

  it('removing a CA from the trust bundle applies to the next handshake', () => {
    const w = world();
    expect(handshake(w).result).toBe('ok');
    const other = createCa({ trustDomain: 'cluster.local', nowMs: T0 });
    w.serverNode.setTrustBundle(bundleOf(other));
    expect(handshake(w).result).toBe('untrusted-issuer');
    w.serverNode.setTrustBundle(bundleOf(other, w.ca));
    expect(handshake(w).result).toBe('ok');
  });

  it('a stolen credential without its private key: bad-signature', () => {
    const w = world();
    const ex = handshake(w);
    expect(ex.result).toBe('ok');
    // The credential travels in every cold SYN: anyone on the path can copy it.
    const ca = issueNodeCredential(w.ca, { node: 'node-a', nowMs: T0 });
    const stolen = ca.credential;
    const b = binding();
    const syn = synWithStolenCredential(stolen, CLIENT_ID, b, T0);
    expect(label(w.serverNode.verifySyn(w.server, syn, b, T0).reason)).toBe('bad-signature');
  });

  it('no token and garbage: no-token, malformed', () => {
    const w = world();
    const b = binding();
    expect(label(w.serverNode.verifySyn(w.server, new Uint8Array(0), b, T0).reason)).toBe('no-token');
    expect(label(w.serverNode.verifySyn(w.server, Uint8Array.of(0x11, 0xff, 0xff), b, T0).reason)).toBe('malformed');
    expect(label(w.serverNode.verifySyn(w.server, Uint8Array.of(0x12), b, T0).reason)).toBe('malformed');
  });

  it('a workload of another trust domain cannot be registered, nor can a client claim one', () => {
    const w = world();
    expect(() => w.clientNode.registerWorkload({ spiffeId: 'spiffe://evil.example/ns/a/sa/b' }, T0)).toThrow(/trust domain/);
    const b = binding();
    const node = issueNodeCredential(w.ca, { node: 'node-x', nowMs: T0 });
    const syn = forgeSyn({ node, spiffeId: 'spiffe://evil.example/ns/a/sa/b', binding: b, nowMs: T0 });
    expect(label(w.serverNode.verifySyn(w.server, syn, b, T0).reason)).toBe('untrusted-issuer');
  });
});

describe('clock skew tolerance (issue 10, time)', () => {
  const SKEW = 30;
  it('credential validity: accepted up to the tolerance, rejected one second beyond', () => {
    const w = world({ clockSkewSec: SKEW });
    const notBefore = T0 + 600_000;
    const future = credentialWithWindow(w.ca, 'node-f', notBefore, notBefore + 86400_000);
    const at = (nowMs: number): string => {
      const b = binding();
      const syn = forgeSyn({ node: future, spiffeId: CLIENT_ID, binding: b, nowMs, docNotBeforeSec: Math.floor(notBefore / 1000) });
      return label(w.serverNode.verifySyn(w.server, syn, b, nowMs).reason);
    };
    expect(at(notBefore - SKEW * 1000)).toBe('ok');
    expect(at(notBefore - (SKEW + 1) * 1000)).toBe('not-yet-valid');

    const notAfter = T0 + 600_000;
    const ending = credentialWithWindow(w.ca, 'node-e', T0 - 86400_000, notAfter);
    const at2 = (nowMs: number): string => {
      const b = binding();
      const syn = forgeSyn({ node: ending, spiffeId: CLIENT_ID, binding: b, nowMs, docNotAfterSec: Math.floor(notAfter / 1000) });
      return label(w.serverNode.verifySyn(w.server, syn, b, nowMs).reason);
    };
    expect(at2(notAfter + SKEW * 1000)).toBe('ok');
    expect(at2(notAfter + (SKEW + 1) * 1000)).toBe('expired');
  });

  it('SYN issue time: a client clock ahead by the tolerance is accepted, one second more is not', () => {
    const w = world({ clockSkewSec: SKEW });
    const node = issueNodeCredential(w.ca, { node: 'node-c', nowMs: T0 });
    const at = (issuedDelta: number): string => {
      const b = binding();
      const syn = forgeSyn({ node, spiffeId: CLIENT_ID, binding: b, nowMs: T0, issuedAtSec: Math.floor(T0 / 1000) + issuedDelta });
      return label(w.serverNode.verifySyn(w.server, syn, b, T0).reason);
    };
    expect(at(SKEW)).toBe('ok');
    expect(at(SKEW + 1)).toBe('not-yet-valid');
    const maxAge = w.serverNode.config.synMaxAgeSec;
    expect(at(-(SKEW + maxAge))).toBe('ok');
    expect(at(-(SKEW + maxAge + 1))).toBe('expired');
  });

  it('whole handshakes between nodes whose clocks differ by the tolerance', () => {
    const w = world({ clockSkewSec: SKEW });
    const b = binding();
    const chs = w.clientNode.buildSyn(w.client, b, T0 + SKEW * 1000);
    const shs = w.serverNode.verifySyn(w.server, chs.token, b, T0);
    expect(label(shs.reason)).toBe('ok');
    const chs2 = w.clientNode.buildSyn(w.client, binding(), T0 + (SKEW + 1) * 1000);
    expect(label(w.serverNode.verifySyn(w.server, chs2.token, { ...b, srcPort: 1, isnC: 2 }, T0).reason)).toBe('binding-mismatch');
  });
});

describe('CPU exhaustion defence (issue 10)', () => {
  it('a flood of forged SYNs from one source is rate-limited, another source still succeeds', () => {
    const w = world({ budgetPerSource: { ratePerSec: 10, burst: 20 }, budgetGlobal: { ratePerSec: 10_000, burst: 10_000 } });
    const flooder = 0xc6120063;
    const node = issueNodeCredential(w.ca, { node: 'node-x', nowMs: T0 });
    let limited = 0;
    let verified0 = w.serverNode.stats.signaturesVerified;
    for (let i = 0; i < 100; i++) {
      const b = binding({ srcIp: flooder });
      const thief = synWithStolenCredential(node.credential, CLIENT_ID, b, T0);
      const r = w.serverNode.verifySyn(w.server, thief, b, T0).reason;
      if (r === Reason.RATE_LIMITED) limited++;
      else expect(label(r)).toBe('bad-signature');
    }
    expect(limited).toBeGreaterThan(80);
    // The flooder's credential verified once (then cached); each forged document once, within budget.
    expect(w.serverNode.stats.signaturesVerified - verified0).toBeLessThanOrEqual(20);
    expect(handshake(w).result).toBe('ok');
    verified0 = w.serverNode.stats.signaturesVerified;
    // Budgets refill with time.
    const b = binding({ srcIp: flooder });
    const r = w.serverNode.verifySyn(w.server, synWithStolenCredential(node.credential, CLIENT_ID, b, T0 + 10_000), b, T0 + 10_000).reason;
    expect(label(r)).toBe('bad-signature');
  });

  it('the global budget caps verification across sources', () => {
    const w = world({ budgetPerSource: { ratePerSec: 1000, burst: 1000 }, budgetGlobal: { ratePerSec: 1, burst: 10 } });
    const node = issueNodeCredential(w.ca, { node: 'node-x', nowMs: T0 });
    const reasons = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const b = binding({ srcIp: 0xc6120100 + i });
      reasons.add(label(w.serverNode.verifySyn(w.server, synWithStolenCredential(node.credential, CLIENT_ID, b, T0), b, T0).reason));
    }
    expect(reasons).toEqual(new Set(['bad-signature', 'rate-limited']));
  });

  it('a bad credential or document is verified at most once per negative-cache period', () => {
    const w = world({ negativeTtlSec: 60 });
    const thiefKey = issueNodeCredential(w.ca, { node: 'n', nowMs: T0 }).nodeKey;
    const node = issueNodeCredential(w.ca, { node: 'node-z', nowMs: T0 });
    // One forged document (fixed bytes) sent many times on fresh tuples.
    const synFor = (b: ReturnType<typeof binding>): Uint8Array =>
      forgeSyn({ node, signingKey: thiefKey, spiffeId: CLIENT_ID, binding: b, nowMs: T0, docNotBeforeSec: 1, docNotAfterSec: Math.floor(T0 / 1000) + 999 });
    const v0 = w.serverNode.stats.signaturesVerified;
    for (let i = 0; i < 5; i++) {
      const b = binding();
      expect(label(w.serverNode.verifySyn(w.server, synFor(b), b, T0).reason)).toBe('bad-signature');
    }
    // Each forged SYN has a fresh random ephemeral key, hence a fresh document: verified each time,
    // but the credential is verified once.
    expect(w.serverNode.stats.signaturesVerified - v0).toBe(1 + 5);
    const neg0 = w.serverNode.stats.negativeCacheHits;
    const b = binding();
    const fixed = synWithStolenCredential(node.credential, CLIENT_ID, b, T0);
    w.serverNode.verifySyn(w.server, fixed, b, T0);
    const v1 = w.serverNode.stats.signaturesVerified;
    // The same forged document again: answered from the negative cache, no verification.
    expect(label(w.serverNode.verifySyn(w.server, fixed, b, T0).reason)).toBe('bad-signature');
    expect(w.serverNode.stats.signaturesVerified).toBe(v1);
    expect(w.serverNode.stats.negativeCacheHits).toBe(neg0 + 1);
    // A new forged document later is verified (within budget), and refused.
    const later = T0 + 61_000;
    const b3 = binding();
    const again = synWithStolenCredential(node.credential, CLIENT_ID, b3, later);
    expect(label(w.serverNode.verifySyn(w.server, again, b3, later).reason)).toBe('bad-signature');
  });
});

describe('established flows', () => {
  it('recheckPeer follows revocation and expiry of a peer proved earlier', () => {
    const w = world();
    const ex = handshake(w);
    const peer = ex.shs.peer;
    if (peer === null) throw new Error('no peer');
    expect(reasonLabel(w.serverNode.recheckPeer(peer, T0))).toBe('ok');
    w.serverNode.revokeSpiffeId(CLIENT_ID);
    expect(reasonLabel(w.serverNode.recheckPeer(peer, T0))).toBe('revoked');
    w.serverNode.unrevokeSpiffeId(CLIENT_ID);
    expect(reasonLabel(w.serverNode.recheckPeer(peer, T0 + 2 * 3600_000))).toBe('expired');
    w.serverNode.clearCaches();
    expect(reasonLabel(w.serverNode.recheckPeer(peer, T0))).toBe('stale-cache');
  });
});

describe('upkeep and limits', () => {
  it('maintain() rotates keys after rotateAfterSec and retires them after their document expires', () => {
    const w = world({ rotateAfterSec: 600, docTtlSec: 1200 });
    expect(handshake(w).result).toBe('ok');
    const first = w.server.current;
    w.serverNode.maintain(T0 + 601_000);
    expect(w.server.current).not.toBe(first);
    expect(w.server.keys).toContain(first);
    // The client still holds the old server document: the old key answers (grace).
    expect(handshake(w, T0 + 602_000).result).toBe('ok');
    // Past the old document's expiry (+ skew) the old key is gone.
    const later = T0 + (1200 + w.serverNode.config.clockSkewSec + 5) * 1000;
    w.serverNode.maintain(later);
    expect(w.server.keys).not.toContain(first);
    expect(w.server.keys.length).toBeGreaterThanOrEqual(1);
    expect(handshake(w, later).result).toBe('ok');
  });

  it('a client stops using a server document when it expires, before the server retires its key', () => {
    const w = world({ rotateAfterSec: 60, docTtlSec: 120, clockSkewSec: 5 });
    expect(handshake(w).result).toBe('ok');
    w.serverNode.rotateWorkload(w.server, T0 + 1000);
    const t = T0 + 130_000; // past the first document's expiry + skew: its key is retired
    w.serverNode.maintain(t);
    const ex = handshake(w, t);
    expect(ex.chs.cold).toBe(true); // the hint expired with the document: no stale-cache round
    expect(ex.result).toBe('ok');
  });

  it('labels that would push the SYN past 600 bytes are refused at registration', () => {
    const w = world();
    const labels: Record<string, string> = {};
    for (let i = 0; i < 20; i++) labels[`label-${i}`] = 'x'.repeat(20);
    expect(() => w.clientNode.registerWorkload({ spiffeId: 'spiffe://cluster.local/ns/a/sa/big', labels }, T0)).toThrow(/600/);
  });
});
