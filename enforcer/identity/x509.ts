// X.509 v3 certificates for the syngate CA and its X.509-SVIDs, built with node-forge's ASN.1
// module and signed with node:crypto ECDSA P-256 / SHA-256 (forge's pki only signs with RSA).
// Invariants:
//  - every certificate is DER per RFC 5280: v3, positive minimal serial, ecdsa-with-SHA256,
//    UTCTime before 2050 and GeneralizedTime from 2050 on, SKI on every cert, AKI on leaves;
//  - a CA cert has basicConstraints CA:true (critical), keyUsage keyCertSign+cRLSign (critical)
//    and the trust domain's SPIFFE ID (spiffe://<td>) as URI SAN;
//  - a leaf (X.509-SVID) has basicConstraints CA:false (critical), keyUsage digitalSignature
//    (critical), extKeyUsage serverAuth+clientAuth, and exactly one URI SAN: its SPIFFE ID.
import crypto, { type KeyObject } from 'node:crypto';
import forge from 'node-forge';

const asn1 = forge.asn1;
type Asn1 = forge.asn1.Asn1;
const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  organization: '2.5.4.10',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** keyUsage BIT STRING contents: first byte = unused bits, then the bits (bit 0 = MSB). */
const KU_DIGITAL_SIGNATURE = '\x07\x80';
const KU_KEYCERTSIGN_CRLSIGN = '\x01\x06';

export interface CertSpec {
  serial: Uint8Array;
  /** Subject attributes, in order. */
  subject: ReadonlyArray<readonly [oid: string, value: string]>;
  issuer: ReadonlyArray<readonly [oid: string, value: string]>;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  uriSan: string;
  isCa: boolean;
  /** Subject key id of the issuer (AKI); omitted for a self-signed CA. */
  authorityKeyId?: Uint8Array;
  /** Issuer's private key (ECDSA P-256). */
  signingKey: KeyObject;
}

const bin = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('binary');
const oid = (o: string): Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes());
const seq = (items: Asn1[]): Asn1 => asn1.create(U, T.SEQUENCE, true, items);

function name(attrs: CertSpec['subject']): Asn1 {
  return seq(
    attrs.map(([o, v]) =>
      asn1.create(U, T.SET, true, [seq([oid(o), asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(v))])]),
    ),
  );
}

function time(d: Date): Asn1 {
  return d.getUTCFullYear() < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

function ext(o: string, critical: boolean, value: Asn1): Asn1 {
  const items: Asn1[] = [oid(o)];
  if (critical) items.push(asn1.create(U, T.BOOLEAN, false, '\xff'));
  items.push(asn1.create(U, T.OCTETSTRING, false, asn1.toDer(value).getBytes()));
  return seq(items);
}

/** Minimal positive INTEGER contents from serial bytes. */
function serialInteger(serial: Uint8Array): string {
  let i = 0;
  while (i < serial.length - 1 && serial[i] === 0) i++;
  let s = bin(serial.subarray(i));
  if ((serial[i] ?? 0) & 0x80) s = '\x00' + s;
  return s;
}

/** Subject key id: SHA-1 over the subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2 method 1). */
export function subjectKeyId(pub: KeyObject): Buffer {
  const spki = pub.export({ format: 'der', type: 'spki' });
  const parsed = asn1.fromDer(forge.util.createBuffer(spki.toString('binary')));
  const bits = (parsed.value as Asn1[])[1];
  const raw = typeof bits?.value === 'string' ? bits.value.slice(1) : '';
  return crypto.createHash('sha1').update(Buffer.from(raw, 'binary')).digest();
}

/** Builds and signs a certificate; returns its DER. */
export function buildCertificate(spec: CertSpec): Buffer {
  const spkiDer = spec.publicKey.export({ format: 'der', type: 'spki' });
  const spki = asn1.fromDer(forge.util.createBuffer(spkiDer.toString('binary')));
  const sigAlg = seq([oid(OID.ecdsaWithSha256)]);
  const exts: Asn1[] = [];
  exts.push(
    ext(
      OID.basicConstraints,
      true,
      seq(spec.isCa ? [asn1.create(U, T.BOOLEAN, false, '\xff')] : []),
    ),
  );
  exts.push(
    ext(OID.keyUsage, true, asn1.create(U, T.BITSTRING, false, spec.isCa ? KU_KEYCERTSIGN_CRLSIGN : KU_DIGITAL_SIGNATURE)),
  );
  if (!spec.isCa) exts.push(ext(OID.extKeyUsage, false, seq([oid(OID.serverAuth), oid(OID.clientAuth)])));
  // GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String.
  exts.push(ext(OID.subjectAltName, false, seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 6, false, spec.uriSan)])));
  exts.push(ext(OID.subjectKeyId, false, asn1.create(U, T.OCTETSTRING, false, bin(subjectKeyId(spec.publicKey)))));
  if (spec.authorityKeyId !== undefined) {
    exts.push(
      ext(OID.authorityKeyId, false, seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, bin(spec.authorityKeyId))])),
    );
  }
  const tbs = seq([
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(U, T.INTEGER, false, '\x02')]),
    asn1.create(U, T.INTEGER, false, serialInteger(spec.serial)),
    sigAlg,
    name(spec.issuer),
    seq([time(spec.notBefore), time(spec.notAfter)]),
    name(spec.subject),
    spki,
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [seq(exts)]),
  ]);
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  const sig = crypto.sign('sha256', tbsDer, { key: spec.signingKey, dsaEncoding: 'der' });
  const cert = seq([tbs, seq([oid(OID.ecdsaWithSha256)]), asn1.create(U, T.BITSTRING, false, '\x00' + bin(sig))]);
  return Buffer.from(asn1.toDer(cert).getBytes(), 'binary');
}

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Splits a PEM bundle into its CERTIFICATE blocks (other blocks are ignored). */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((s) => s + '\n') ?? [];
}

export const NAME_OID = { organization: OID.organization, commonName: OID.commonName } as const;
