// File layout of CA and credential folders (what `syngate ca init/issue` write and the daemon
// reads). Invariants:
//  - private keys are written PKCS#8 PEM with mode 0600, and never overwritten without `force`;
//  - every load checks that each private key matches its certificate or credential, and names
//    the file in the SyngateError it throws (READ_FAILED, BAD_KEY, BAD_CERT, KEY_MISMATCH, ...);
//  - a credential folder is self-contained: cert.pem/key.pem (X.509-SVID), bundle.pem (CA),
//    and with a node name node.cred (wire credential) + node.key (Ed25519).
import crypto, { type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SyngateError } from '../errors.js';
import {
  caFromPem,
  createCa,
  credentialMatchesKey,
  decodeCredential,
  issueNodeCredential,
  issueSvid,
  type CaMaterial,
  type NodeIdentity,
  TrustBundle,
  type X509Svid,
} from './pki.js';

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca.key';
export const SVID_CERT_FILE = 'cert.pem';
export const SVID_KEY_FILE = 'key.pem';
export const BUNDLE_FILE = 'bundle.pem';
export const NODE_CRED_FILE = 'node.cred';
export const NODE_KEY_FILE = 'node.key';
export const SUMMARY_FILE = 'identity.json';

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new SyngateError('SYNGATE_IDENTITY_READ_FAILED', `${path}: cannot read ${what} (${code})`, { cause: e });
  }
}

function writeFile(path: string, data: string | Uint8Array, secret: boolean): void {
  try {
    writeFileSync(path, data, { mode: secret ? 0o600 : 0o644 });
    if (secret) chmodSync(path, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new SyngateError('SYNGATE_IDENTITY_READ_FAILED', `${path}: cannot write (${code})`, { cause: e });
  }
}

function prepareDir(dir: string, files: readonly string[], force: boolean): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new SyngateError('SYNGATE_IDENTITY_READ_FAILED', `${dir}: cannot create directory (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
  }
  if (force) return;
  const present = files.filter((f) => existsSync(join(dir, f)));
  if (present.length > 0) {
    throw new SyngateError('SYNGATE_IDENTITY_EXISTS', `${dir}: already holds ${present.join(', ')}; refusing to overwrite (use --force)`);
  }
}

function privateKeyFrom(path: string, what: string): KeyObject {
  const pem = readFile(path, what);
  try {
    return crypto.createPrivateKey(pem);
  } catch (e) {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_KEY', `${path}: ${what} is not a PEM/DER private key`, { cause: e });
  }
}

/** Parses `90s`, `30m`, `12h`, `7d` or a bare number of seconds. */
export function parseDuration(s: string, what = '--ttl'): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(s.trim());
  const unit = m?.[2] ?? '';
  const mult = unit === 'm' ? 60 : unit === 'h' ? 3600 : unit === 'd' ? 86400 : 1;
  const v = m === null ? NaN : Number(m[1]) * mult;
  if (!Number.isSafeInteger(v) || v <= 0) {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_TTL', `${what} "${s}": expected a positive duration such as 90s, 30m, 12h or 7d`);
  }
  return v;
}

/** `ca init`: creates DIR/ca.pem and DIR/ca.key. */
export function initCaDir(o: { trustDomain: string; out: string; ttlSec?: number; force?: boolean; nowMs?: number }): { ca: CaMaterial; files: string[] } {
  const ca = createCa({ trustDomain: o.trustDomain, ...(o.ttlSec === undefined ? {} : { ttlSec: o.ttlSec }), ...(o.nowMs === undefined ? {} : { nowMs: o.nowMs }) });
  prepareDir(o.out, [CA_CERT_FILE, CA_KEY_FILE], o.force === true);
  const keyPath = join(o.out, CA_KEY_FILE);
  const certPath = join(o.out, CA_CERT_FILE);
  writeFile(keyPath, ca.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), true);
  writeFile(certPath, ca.certPem, false);
  return { ca, files: [certPath, keyPath] };
}

/** Loads a CA folder; refuses an unreadable file or a key that does not match the certificate. */
export function loadCaDir(dir: string): CaMaterial {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const cert = readFile(certPath, 'the CA certificate').toString('utf8');
  const key = readFile(keyPath, 'the CA private key').toString('utf8');
  return caFromPem(cert, key, dir);
}

export interface IssueResult {
  svid: X509Svid;
  node?: { name: string; serialHex: string; notBefore: number; notAfter: number };
  files: string[];
}

/**
 * `ca issue`: an X.509-SVID for `spiffeId` (cert.pem, key.pem, bundle.pem) and, with `node`, the
 * node enforcer's wire credential (node.cred, node.key). The SVID and credential share a serial.
 */
export function issueToDir(o: {
  caDir: string;
  spiffeId: string;
  out: string;
  ttlSec?: number;
  node?: string;
  keyFile?: string;
  nodeKeyFile?: string;
  allowForeign?: readonly string[];
  force?: boolean;
  nowMs?: number;
}): IssueResult {
  const ca = loadCaDir(o.caDir);
  const privateKey = o.keyFile === undefined ? undefined : privateKeyFrom(o.keyFile, 'the workload key');
  const nodeKey = o.nodeKeyFile === undefined ? undefined : privateKeyFrom(o.nodeKeyFile, 'the node key');
  if (nodeKey !== undefined && nodeKey.asymmetricKeyType !== 'ed25519') {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_KEY', `${o.nodeKeyFile}: node key must be Ed25519, got ${nodeKey.asymmetricKeyType ?? 'unknown'}`);
  }
  const serial = crypto.randomBytes(8);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  const common = {
    ...(o.ttlSec === undefined ? {} : { ttlSec: o.ttlSec }),
    ...(o.nowMs === undefined ? {} : { nowMs: o.nowMs }),
  };
  let svid: X509Svid;
  try {
    svid = issueSvid(ca, {
      spiffeId: o.spiffeId,
      serial,
      ...common,
      ...(privateKey === undefined ? {} : { privateKey }),
      ...(o.allowForeign === undefined ? {} : { allowForeign: o.allowForeign }),
    });
  } catch (e) {
    if (e instanceof SyngateError && e.code === 'SYNGATE_IDENTITY_BAD_KEY' && o.keyFile !== undefined) {
      throw new SyngateError(e.code, `${o.keyFile}: ${e.message}`, { cause: e });
    }
    throw e;
  }
  const files = [SVID_CERT_FILE, SVID_KEY_FILE, BUNDLE_FILE, SUMMARY_FILE];
  let node: (NodeIdentity & { serialHex: string; notBefore: number; notAfter: number }) | undefined;
  if (o.node !== undefined) {
    node = issueNodeCredential(ca, { node: o.node, serial, ...common, ...(nodeKey === undefined ? {} : { nodeKey }) });
    files.push(NODE_CRED_FILE, NODE_KEY_FILE);
  }
  prepareDir(o.out, files, o.force === true);
  const written: string[] = [];
  const put = (name: string, data: string | Uint8Array, secret: boolean): void => {
    const p = join(o.out, name);
    writeFile(p, data, secret);
    written.push(p);
  };
  put(SVID_CERT_FILE, svid.certPem, false);
  put(SVID_KEY_FILE, svid.keyPem, true);
  put(BUNDLE_FILE, ca.certPem, false);
  const summary: Record<string, unknown> = {
    spiffeId: svid.spiffeId,
    trustDomain: ca.trustDomain,
    serial: svid.serialHex,
    notBefore: svid.notBefore.toISOString(),
    notAfter: svid.notAfter.toISOString(),
  };
  if (node !== undefined && o.node !== undefined) {
    put(NODE_CRED_FILE, node.credential, false);
    put(NODE_KEY_FILE, node.nodeKey.export({ type: 'pkcs8', format: 'pem' }).toString(), true);
    summary['node'] = { name: o.node, serial: node.serialHex, notBefore: new Date(node.notBefore * 1000).toISOString(), notAfter: new Date(node.notAfter * 1000).toISOString() };
  }
  put(SUMMARY_FILE, JSON.stringify(summary, null, 2) + '\n', false);
  return {
    svid,
    ...(node === undefined || o.node === undefined ? {} : { node: { name: o.node, serialHex: node.serialHex, notBefore: node.notBefore, notAfter: node.notAfter } }),
    files: written,
  };
}

/** Loads node.cred + node.key from a credential folder; refuses a key that does not match. */
export function loadNodeIdentityDir(dir: string): NodeIdentity {
  const credPath = join(dir, NODE_CRED_FILE);
  const keyPath = join(dir, NODE_KEY_FILE);
  const credential = new Uint8Array(readFile(credPath, 'the node credential'));
  if (decodeCredential(credential) === undefined) {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_CREDENTIAL', `${credPath}: not a syngate node credential (protobuf Credential)`);
  }
  const nodeKey = privateKeyFrom(keyPath, 'the node key');
  if (nodeKey.asymmetricKeyType !== 'ed25519') {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_KEY', `${keyPath}: node key must be Ed25519, got ${nodeKey.asymmetricKeyType ?? 'unknown'}`);
  }
  if (!credentialMatchesKey(credential, nodeKey)) {
    throw new SyngateError('SYNGATE_IDENTITY_KEY_MISMATCH', `${keyPath}: does not match the node credential ${credPath}`);
  }
  return { credential, nodeKey };
}

/** Loads a PEM trust bundle (one or more CA certificates). */
export function loadTrustBundleFile(path: string): TrustBundle {
  return TrustBundle.fromPem(readFile(path, 'the trust bundle').toString('utf8'), path);
}

/** Loads an X.509-SVID folder (cert.pem + key.pem), refusing a key that does not match. */
export function loadSvidDir(dir: string): { certPem: string; keyPem: string; bundlePem: string } {
  const certPath = join(dir, SVID_CERT_FILE);
  const keyPath = join(dir, SVID_KEY_FILE);
  const certPem = readFile(certPath, 'the certificate').toString('utf8');
  const keyPem = readFile(keyPath, 'the private key').toString('utf8');
  const bundlePem = readFile(join(dir, BUNDLE_FILE), 'the trust bundle').toString('utf8');
  let x: crypto.X509Certificate;
  try {
    x = new crypto.X509Certificate(certPem);
  } catch (e) {
    throw new SyngateError('SYNGATE_IDENTITY_BAD_CERT', `${certPath}: does not parse as an X.509 certificate`, { cause: e });
  }
  const key = privateKeyFrom(keyPath, 'the private key');
  if (!x.checkPrivateKey(key)) throw new SyngateError('SYNGATE_IDENTITY_KEY_MISMATCH', `${keyPath}: does not match ${certPath}`);
  return { certPem, keyPem, bundlePem };
}
