// Public surface of the packet engine: zero-copy views, checksums, the syngate marker, token
// carriage, RST/ACK builders, frame builders, the frame pool and pcap files.
// Invariant: other domains import packet code from here only.
export * from './constants.js';
export * from './status.js';
export { PacketView, parseFrame, u16, u32, w16, w32 } from './view.js';
export * from './checksum.js';
export * from './marker.js';
export { canCarryToken, insertToken, stripReject, stripToken } from './token.js';
export * from './rst.js';
export * from './build.js';
export * from './pool.js';
export * from './pcap-file.js';
export * from './errors.js';
