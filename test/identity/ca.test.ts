// CA and X.509-SVIDs: `syngate ca init/issue` through the CLI entry, certificates checked by
// openssl (when installed) and by node:tls in a loopback mutual-TLS 1.3 connection, refusals
// with their error codes, and the credential folder feeding an IdentityAgent.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as cli } from '../helpers/cli.js';
import { isSyngateError } from '../../enforcer/errors.js';
import {
  IdentityAgent,
  issueToDir,
  loadCaDir,
  loadNodeIdentityDir,
  loadSvidDir,
  loadTrustBundleFile,
  parseSpiffeId,
} from '../../enforcer/identity/index.js';
import { binding, SERVER_ID, T0 } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sg-ca-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;


function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return isSyngateError(e) ? e.code : `not a SyngateError: ${String(e)}`;
  }
  return 'no error';
}

describe('syngate ca', () => {
  const caDir = join(dir, 'ca');
  const cartDir = join(dir, 'cart');
  const webDir = join(dir, 'web');

  it('init and issue write a CA, workload SVIDs and a node credential', async () => {
    expect((await cli('ca', 'init', '--trust-domain', 'cluster.local', '--out', caDir)).status).toBe(0);
    const r = await cli('ca', 'issue', '--ca', caDir, '--spiffe-id', 'spiffe://cluster.local/ns/shop/sa/cart', '--out', cartDir, '--node', 'node-b', '--ttl', '2h', '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.out) as { spiffeId: string; notBefore: string; notAfter: string; node: string };
    expect(info.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    expect(info.node).toBe('node-b');
    const lifetime = Date.parse(info.notAfter) - Date.parse(info.notBefore);
    expect(lifetime).toBeGreaterThan(2 * 3600_000 - 1);
    expect(lifetime).toBeLessThan(2 * 3600_000 + 120_000);
    expect((await cli('ca', 'issue', '--ca', caDir, '--spiffe-id', 'spiffe://cluster.local/ns/shop/sa/web', '--out', webDir)).status).toBe(0);
    // Private keys are not world-readable.
    const mode = (p: string): number => Number(execFileSync('stat', ['-c', '%a', p]).toString().trim());
    expect(mode(join(caDir, 'ca.key'))).toBe(600);
    expect(mode(join(cartDir, 'key.pem'))).toBe(600);
    expect(mode(join(cartDir, 'node.key'))).toBe(600);
  });

  it.runIf(hasOpenssl)('openssl verify accepts the SVIDs and x509 -text shows the URI SAN and SVID key usages', () => {
    for (const d of [cartDir, webDir]) {
      const v = spawnSync('openssl', ['verify', '-CAfile', join(caDir, 'ca.pem'), join(d, 'cert.pem')], { encoding: 'utf8' });
      expect(v.stdout.trim()).toMatch(/: OK$/);
      expect(v.status).toBe(0);
    }
    const text = execFileSync('openssl', ['x509', '-in', join(cartDir, 'cert.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toContain('URI:spiffe://cluster.local/ns/shop/sa/cart');
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toContain('ecdsa-with-SHA256');
    expect(text).toContain('X509v3 Subject Key Identifier');
    expect(text).toContain('X509v3 Authority Key Identifier');
    const ca = execFileSync('openssl', ['x509', '-in', join(caDir, 'ca.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(ca).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(ca).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(ca).toContain('URI:spiffe://cluster.local');
    // Strict chain checks too (x509_strict + purpose).
    const strict = spawnSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', join(caDir, 'ca.pem'), join(cartDir, 'cert.pem')], { encoding: 'utf8' });
    expect(strict.status).toBe(0);
    // A certificate from another CA is refused.
    const other = join(dir, 'other-ca');
    execFileSync('openssl', ['version']);
    return cli('ca', 'init', '--trust-domain', 'cluster.local', '--out', other).then(() => {
      const bad = spawnSync('openssl', ['verify', '-CAfile', join(other, 'ca.pem'), join(cartDir, 'cert.pem')], { encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
    });
  });

  it('node:tls accepts the SVIDs for mutual TLS 1.3 and sees the peer SPIFFE ID', async () => {
    const server = loadSvidDir(cartDir);
    const client = loadSvidDir(webDir);
    const srv = tls.createServer({
      key: server.keyPem,
      cert: server.certPem,
      ca: server.bundlePem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    });
    const seenByServer = new Promise<string>((resolve) => {
      srv.on('secureConnection', (s) => {
        resolve(s.getPeerCertificate().subjectaltname ?? '');
        s.end('hi');
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (srv.address() as AddressInfo).port;
      const result = await new Promise<{ san: string; authorized: boolean; protocol: string | null; data: string }>((resolve, reject) => {
        const s = tls.connect({
          host: '127.0.0.1',
          port,
          key: client.keyPem,
          cert: client.certPem,
          ca: client.bundlePem,
          rejectUnauthorized: true,
          // SPIFFE authenticates by URI SAN, not DNS name.
          checkServerIdentity: () => undefined,
        });
        let data = '';
        s.on('data', (d: Buffer) => (data += d.toString()));
        s.on('error', reject);
        s.on('end', () => resolve({ san: s.getPeerCertificate().subjectaltname ?? '', authorized: s.authorized, protocol: s.getProtocol(), data }));
      });
      expect(result.authorized).toBe(true);
      expect(result.protocol).toBe('TLSv1.3');
      expect(result.san).toBe('URI:spiffe://cluster.local/ns/shop/sa/cart');
      expect(result.data).toBe('hi');
      expect(await seenByServer).toBe('URI:spiffe://cluster.local/ns/shop/sa/web');
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('node:tls refuses a client whose certificate comes from another CA', async () => {
    const server = loadSvidDir(cartDir);
    const otherCa = join(dir, 'ca2');
    const rogueDir = join(dir, 'rogue');
    await cli('ca', 'init', '--trust-domain', 'cluster.local', '--out', otherCa);
    await cli('ca', 'issue', '--ca', otherCa, '--spiffe-id', 'spiffe://cluster.local/ns/shop/sa/web', '--out', rogueDir);
    const rogue = loadSvidDir(rogueDir);
    const srv = tls.createServer({ key: server.keyPem, cert: server.certPem, ca: server.bundlePem, requestCert: true, rejectUnauthorized: true });
    srv.on('secureConnection', (s) => s.end('should not happen'));
    srv.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (srv.address() as AddressInfo).port;
      const outcome = await new Promise<string>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port, key: rogue.keyPem, cert: rogue.certPem, ca: server.bundlePem, checkServerIdentity: () => undefined });
        let data = '';
        s.on('data', (d: Buffer) => (data += d.toString()));
        s.on('error', (e) => resolve(`error: ${e.message}`));
        s.on('close', () => resolve(data === '' ? 'closed' : `data: ${data}`));
      });
      expect(outcome).not.toContain('should not happen');
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('the node credential folder and bundle drive an IdentityAgent handshake', () => {
    const bundle = loadTrustBundleFile(join(cartDir, 'bundle.pem'));
    const node = loadNodeIdentityDir(cartDir);
    const ca = loadCaDir(caDir);
    const now = Date.now();
    const serverNode = new IdentityAgent({ node, bundle });
    const server = serverNode.registerWorkload({ spiffeId: SERVER_ID }, now);
    const clientDir = join(dir, 'node-a');
    issueToDir({ caDir, spiffeId: 'spiffe://cluster.local/node/node-a', out: clientDir, node: 'node-a' });
    const clientNode = new IdentityAgent({ node: loadNodeIdentityDir(clientDir), bundle: loadTrustBundleFile(join(clientDir, 'bundle.pem')) });
    const client = clientNode.registerWorkload({ spiffeId: 'spiffe://cluster.local/ns/shop/sa/web' }, now);
    const b = binding();
    const chs = clientNode.buildSyn(client, b, now);
    const shs = serverNode.verifySyn(server, chs.token, b, now);
    expect(shs.reason).toBe(0);
    expect(shs.peer?.node).toBe('node-a');
    expect(ca.trustDomain).toBe('cluster.local');
    void T0;
  });

  it('refuses bad SPIFFE IDs, each with a message naming the problem', async () => {
    const cases: Array<[string, RegExp]> = [
      ['http://cluster.local/ns/a/sa/b', /wrong scheme/],
      ['spiffe://cluster.local//sa/b', /empty path segment/],
      ['spiffe://cluster.local/ns/a/', /trailing slash/],
      ['spiffe:///ns/a', /empty trust domain/],
      ['spiffe://Cluster.local/ns/a', /characters outside/],
      ['spiffe://cluster.local:8080/ns/a', /port not allowed/],
      ['spiffe://cluster.local/ns/a?x=1', /query not allowed/],
      ['spiffe://cluster.local/ns/../a', /not allowed/],
      ['spiffe://cluster.local', /missing path/],
      ['cluster.local/ns/a', /missing scheme/],
    ];
    for (const [id, msg] of cases) {
      const r = await cli('ca', 'issue', '--ca', caDir, '--spiffe-id', id, '--out', join(dir, 'never'));
      expect(r.status, id).toBe(2);
      expect(r.err, id).toMatch(msg);
      expect(r.err, id).toContain('SYNGATE_IDENTITY_BAD_SPIFFE_ID');
    }
    expect(parseSpiffeId('spiffe://cluster.local/ns/shop/sa/cart')).toMatchObject({ ok: true, value: { namespace: 'shop', serviceAccount: 'cart' } });
  });

  it('refuses a foreign trust domain unless it is allowed', async () => {
    const refused = await cli('ca', 'issue', '--ca', caDir, '--spiffe-id', 'spiffe://partner.example/ns/a/sa/b', '--out', join(dir, 'f1'));
    expect(refused.status).toBe(2);
    expect(refused.err).toContain('SYNGATE_IDENTITY_FOREIGN_TRUST_DOMAIN');
    const allowed = await cli('ca', 'issue', '--ca', caDir, '--spiffe-id', 'spiffe://partner.example/ns/a/sa/b', '--out', join(dir, 'f2'), '--allow-trust-domain', 'partner.example');
    expect(allowed.status).toBe(0);
  });

  it('refuses unreadable and mismatched key files', async () => {
    expect((await cli('ca', 'issue', '--ca', join(dir, 'missing'), '--spiffe-id', 'spiffe://cluster.local/a', '--out', join(dir, 'm'))).err).toContain('SYNGATE_IDENTITY_READ_FAILED');
    // CA key replaced by another key.
    const mixed = join(dir, 'mixed-ca');
    await cli('ca', 'init', '--trust-domain', 'cluster.local', '--out', mixed);
    writeFileSync(join(mixed, 'ca.key'), crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const r = await cli('ca', 'issue', '--ca', mixed, '--spiffe-id', 'spiffe://cluster.local/a', '--out', join(dir, 'm2'));
    expect(r.err).toContain('SYNGATE_IDENTITY_KEY_MISMATCH');
    expect(r.err).toContain(mixed);
    // Garbage key file.
    writeFileSync(join(mixed, 'ca.key'), 'not a key');
    expect((await cli('ca', 'issue', '--ca', mixed, '--spiffe-id', 'spiffe://cluster.local/a', '--out', join(dir, 'm3'))).err).toContain('SYNGATE_IDENTITY_BAD_KEY');
    // --key: unreadable, wrong type.
    expect((await cli('ca', 'issue', '--ca', caDir, '--spiffe-id', 'spiffe://cluster.local/a', '--out', join(dir, 'm4'), '--key', join(dir, 'nokey.pem'))).err).toContain('SYNGATE_IDENTITY_READ_FAILED');
    const rsa = join(dir, 'rsa.pem');
    writeFileSync(rsa, crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const wrongType = await cli('ca', 'issue', '--ca', caDir, '--spiffe-id', 'spiffe://cluster.local/a', '--out', join(dir, 'm5'), '--key', rsa);
    expect(wrongType.err).toContain('SYNGATE_IDENTITY_BAD_KEY');
    expect(wrongType.err).toContain('rsa.pem');
    // An existing P-256 key is reused.
    const p256 = join(dir, 'p256.pem');
    const k = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    writeFileSync(p256, k.export({ type: 'pkcs8', format: 'pem' }));
    expect((await cli('ca', 'issue', '--ca', caDir, '--spiffe-id', 'spiffe://cluster.local/a', '--out', join(dir, 'm6'), '--key', p256)).status).toBe(0);
    expect(new crypto.X509Certificate(readFileSync(join(dir, 'm6', 'cert.pem'))).checkPrivateKey(k)).toBe(true);
    // Node key that does not match node.cred.
    const nodeDir = join(dir, 'node-mismatch');
    issueToDir({ caDir, spiffeId: 'spiffe://cluster.local/node/x', out: nodeDir, node: 'x' });
    writeFileSync(join(nodeDir, 'node.key'), crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect(code(() => loadNodeIdentityDir(nodeDir))).toBe('SYNGATE_IDENTITY_KEY_MISMATCH');
    writeFileSync(join(nodeDir, 'node.cred'), 'garbage');
    expect(code(() => loadNodeIdentityDir(nodeDir))).toBe('SYNGATE_IDENTITY_BAD_CREDENTIAL');
    // Refuses to overwrite without --force.
    const again = await cli('ca', 'init', '--trust-domain', 'cluster.local', '--out', caDir);
    expect(again.err).toContain('SYNGATE_IDENTITY_EXISTS');
    expect(code(() => loadTrustBundleFile(join(dir, 'nope.pem')))).toBe('SYNGATE_IDENTITY_READ_FAILED');
    writeFileSync(join(dir, 'leaf-bundle.pem'), readFileSync(join(cartDir, 'cert.pem')));
    expect(code(() => loadTrustBundleFile(join(dir, 'leaf-bundle.pem')))).toBe('SYNGATE_IDENTITY_BAD_BUNDLE');
    expect((await cli('ca', 'init', '--trust-domain', 'Bad_Domain', '--out', join(dir, 'bad'))).err).toContain('SYNGATE_IDENTITY_BAD_SPIFFE_ID');
    expect((await cli('ca', 'issue', '--ca', caDir, '--spiffe-id', 'spiffe://cluster.local/a', '--out', join(dir, 'm7'), '--node', 'bad node')).err).toContain('SYNGATE_IDENTITY_BAD_NODE_NAME');
  });
});
