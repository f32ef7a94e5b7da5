// The flow record: one line of the JSON-lines flow log written by `simulate --out` and by the
// daemon. Invariant: field names and label values are a stable public format (documented in
// docs/flowlog.md); one record per flow at close or per interval for long flows, never per packet.

export interface FlowEndpoint {
  /** Dotted-quad IPv4. */
  ip: string;
  port: number;
  /** `NS/NAME` when the inventory knows the address, else null. */
  workload: string | null;
  /** Verified SPIFFE ID, or null when the peer proved none. */
  identity: string | null;
}

export interface FlowRecord {
  /** ISO-8601 time the record was written. */
  ts: string;
  /** Name of the enforcer (node) that decided. */
  enforcer: string;
  direction: 'inbound' | 'outbound';
  src: FlowEndpoint;
  dst: FlowEndpoint;
  /** Original destination port (before any Envoy redirect). */
  port: number;
  verdict: 'allow' | 'deny' | 'audit';
  /** A label from enforcer/reasons.ts (`ok` for allowed flows). */
  reason: string;
  /** Deciding rule id, e.g. `AuthorizationPolicy/bookinfo/details-viewer#rules[0]`, `default-deny`. */
  rule: string;
  /** AUDIT rules that matched. */
  audit: string[];
  /** `open` for interval records of live flows, `closed` at the end, `rejected` for denied handshakes. */
  state: 'open' | 'closed' | 'rejected' | 'revoked';
  packets: number;
  bytes: number;
  /** ISO-8601 start of the flow. */
  start: string;
  /** Envoy redirect target port, when redirected. */
  redirectPort?: number;
}
