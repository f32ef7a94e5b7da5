// Public surface of the identity domain: CA and credentials (pki, ca-files), the per-node
// IdentityAgent that builds and verifies handshake tokens, SPIFFE ID parsing, and helpers
// that build hostile tokens for tests and the simulator (attacks).
// Invariant: other domains import identity only from this file.
export {
  IdentityAgent,
  ClientHandshake,
  ServerHandshake,
  LocalWorkload,
  DEFAULT_IDENTITY_CONFIG,
  MAX_SYN_TOKEN,
  TOKEN_KIND_SYN,
  TOKEN_KIND_SYNACK,
  TOKEN_KIND_ACK,
  type IdentityAgentOptions,
  type IdentityConfig,
  type IdentityStats,
  type PeerIdentity,
} from './agent.js';
export { type Binding, BINDING_LEN, writeBinding, ipv4ToU32, u32ToIpv4 } from './binding.js';
export { type BucketSpec } from './caches.js';
export {
  TrustBundle,
  createCa,
  caFromPem,
  bundleOf,
  issueSvid,
  issueNodeCredential,
  decodeCredential,
  credentialMatchesKey,
  DEFAULT_CREDENTIAL_TTL_SEC,
  type CaMaterial,
  type TrustAnchor,
  type NodeIdentity,
  type X509Svid,
  type DecodedCredential,
} from './pki.js';
export { parseSpiffeId, requireSpiffeId, type ParsedSpiffeId } from './spiffe.js';
export { forgeSyn, synWithStolenCredential, foreignPki, credentialWithWindow, rebindSyn, type ForgeSynOptions } from './attacks.js';
export {
  initCaDir,
  loadCaDir,
  issueToDir,
  loadNodeIdentityDir,
  loadTrustBundleFile,
  loadSvidDir,
  parseDuration,
  CA_CERT_FILE,
  CA_KEY_FILE,
  SVID_CERT_FILE,
  SVID_KEY_FILE,
  BUNDLE_FILE,
  NODE_CRED_FILE,
  NODE_KEY_FILE,
  type IssueResult,
} from './ca-files.js';
