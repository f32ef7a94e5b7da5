// The wire schema: message types of proto/token.proto (the only copy; read once when this module
// loads, see enforcer/proto.ts).
// Invariant: the decoded message interfaces below mirror the schema (test/identity/primitives.test.ts
// checks their field names against the file); bytes fields decode to views of the input
// (protobufjs subarray), so callers copy before keeping them.
import protobuf from 'protobufjs';
import { readProtoFile } from '../proto.js';

const root = protobuf.parse(readProtoFile('token.proto')).root;
const PKG = 'syngate.identity.v1.';

export const CredentialMsg = root.lookupType(PKG + 'Credential');
export const CredentialBodyMsg = root.lookupType(PKG + 'CredentialBody');
export const DocumentMsg = root.lookupType(PKG + 'Document');
export const DocumentBodyMsg = root.lookupType(PKG + 'DocumentBody');
export const SynTokenMsg = root.lookupType(PKG + 'SynToken');
export const SynAckTokenMsg = root.lookupType(PKG + 'SynAckToken');
export const AckTokenMsg = root.lookupType(PKG + 'AckToken');

export interface Signed {
  body: Uint8Array;
  sig: Uint8Array;
}
export interface CredentialBody {
  trustDomain: string;
  node: string;
  nodeKey: Uint8Array;
  serial: Uint8Array;
  notBefore: number;
  notAfter: number;
  issuer: Uint8Array;
}
export interface DocumentBody {
  spiffeId: string;
  labels: { [k: string]: string };
  ephKey: Uint8Array;
  notBefore: number;
  notAfter: number;
  credId: Uint8Array;
}
export interface SynTokenFields {
  cred: Uint8Array;
  doc: Uint8Array;
  docId: Uint8Array;
  nonce: Uint8Array;
  binding: Uint8Array;
  issuedAt: number;
  peerDocId: Uint8Array;
  sig: Uint8Array;
  mac: Uint8Array;
}
export interface SynAckTokenFields {
  cred: Uint8Array;
  doc: Uint8Array;
  nonce: Uint8Array;
  peerNonce: Uint8Array;
  binding: Uint8Array;
  mac: Uint8Array;
}
export interface AckTokenFields {
  mac: Uint8Array;
}
