// The wire schema, embedded so the runtime never reads files: a copy of proto/token.proto,
// which stays the source of truth (test/identity/schema.test.ts fails if the two differ;
// after editing the .proto, paste it here between the backticks).
// Invariant: the decoded message interfaces below mirror the schema; bytes fields decode to
// views of the input (protobufjs subarray), so callers copy before keeping them.
import protobuf from 'protobufjs';

export const TOKEN_PROTO = `// syngate wire identity: node credentials, workload identity documents and handshake tokens.
// Byte layout, signature inputs and MAC transcripts: docs/tokens.md.
//
// Invariants the decoder relies on (enforcer/identity/tokens.ts):
//  - every number that a signature or MAC covers is fixed-width (fixed32 or fixed-length bytes),
//    so no single-byte change can re-encode the same value (varints have redundant encodings);
//  - signed objects carry their body as opaque bytes ("body"), and the signature covers exactly
//    those bytes: verifiers never re-encode;
//  - a token on the wire is one kind byte (0x11 SYN, 0x12 SYN-ACK, 0x13 ACK) followed by one of
//    the messages below.
syntax = "proto3";

package syngate.identity.v1;

// Signed by the CA (ECDSA P-256, SHA-256, IEEE P1363 r||s) over the ASCII context "syngate/v1 credential" plus one zero byte, then body.
message Credential {
  bytes body = 1;  // encoded CredentialBody
  bytes sig = 2;   // 64 bytes
}

message CredentialBody {
  string trust_domain = 1;
  string node = 2;
  bytes node_key = 3;      // Ed25519 public key, 32 bytes raw
  bytes serial = 4;        // 8 bytes, big-endian
  fixed32 not_before = 5;  // unix seconds
  fixed32 not_after = 6;   // unix seconds
  bytes issuer = 7;        // CA key id: first 8 bytes of SHA-256(CA SubjectPublicKeyInfo DER)
}

// Signed by the node key (Ed25519) over the ASCII context "syngate/v1 document" plus one zero byte, then body.
message Document {
  bytes body = 1;  // encoded DocumentBody
  bytes sig = 2;   // 64 bytes
}

message DocumentBody {
  string spiffe_id = 1;
  map<string, string> labels = 2;
  bytes eph_key = 3;       // X25519 public key, 32 bytes raw
  fixed32 not_before = 4;  // unix seconds
  fixed32 not_after = 5;   // unix seconds
  bytes cred_id = 6;       // id (16 bytes) of the Credential whose node key signed this document
}

// Kind byte 0x11. Client material is either (cred, doc) or doc_id; proof is either sig (cold)
// or mac + peer_doc_id (warm). Any other combination is malformed.
message SynToken {
  bytes cred = 1;          // encoded Credential
  bytes doc = 2;           // encoded Document
  bytes doc_id = 3;        // 16 bytes: id of a Document the server has already seen
  bytes nonce = 4;         // 16 bytes, client nonce Nc
  bytes binding = 5;       // 21 bytes: src ip, dst ip, src port, dst port, proto, isn_c, isn_s (0)
  fixed32 issued_at = 6;   // unix seconds, client clock
  bytes peer_doc_id = 7;   // 16 bytes: server Document the client used for the warm MAC
  bytes sig = 8;           // 64 bytes: Ed25519 by the node key over the SYN transcript (cold)
  bytes mac = 9;           // 32 bytes: HMAC-SHA256(Kpair, SYN transcript) (warm)
}

// Kind byte 0x12. Server material (cred, doc) is present unless the client's SYN named the
// server's current Document in peer_doc_id.
message SynAckToken {
  bytes cred = 1;
  bytes doc = 2;
  bytes nonce = 4;         // 16 bytes, server nonce Ns
  bytes peer_nonce = 5;    // 16 bytes, echo of Nc
  bytes binding = 6;       // 21 bytes, both ISNs
  bytes mac = 7;           // 16 bytes: first half of HMAC-SHA256(Kpair, handshake transcript)
}

// Kind byte 0x13.
message AckToken {
  bytes mac = 1;           // 16 bytes: second half of HMAC-SHA256(Kpair, handshake transcript)
}
`;

const root = protobuf.parse(TOKEN_PROTO).root;
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
