// Binary (protobuf) form of flow records, from proto/flow.proto.
// Invariants: decode(encode(records)) deep-equals records for every valid FlowRecord (null
// workload/identity and an absent redirectPort survive the trip); the schema is read once, from the
// package's proto/ folder (enforcer/proto.ts), at first use; malformed input throws SyngateError
// SYNGATE_DAEMON_FLOW_PROTO naming the reason, never a bare protobufjs error.
import protobuf from 'protobufjs';
import type { FlowEndpoint, FlowRecord } from '../engine/flow-record.js';
import { SyngateError } from '../errors.js';
import { readProtoFile } from '../proto.js';

let batchType: protobuf.Type | null = null;

function schema(): protobuf.Type {
  if (batchType !== null) return batchType;
  const text = readProtoFile('flow.proto');
  batchType = protobuf.parse(text, { keepCase: true }).root.lookupType('syngate.flow.v1.FlowBatch');
  return batchType;
}

/** Encodes records as one FlowBatch message. */
export function encodeFlowBatch(records: readonly FlowRecord[]): Uint8Array {
  const t = schema();
  const msg = { records: records.map((r) => ({ ...r, src: endpointOut(r.src), dst: endpointOut(r.dst) })) };
  const err = t.verify(msg);
  if (err !== null) throw new SyngateError('SYNGATE_DAEMON_FLOW_PROTO', `flow record does not fit proto/flow.proto: ${err}`);
  return t.encode(t.fromObject(msg)).finish();
}

/** Decodes a FlowBatch message back into flow records. */
export function decodeFlowBatch(bytes: Uint8Array): FlowRecord[] {
  const t = schema();
  let obj: { records?: Record<string, unknown>[] };
  try {
    obj = t.toObject(t.decode(bytes), { longs: Number, defaults: true, arrays: true }) as typeof obj;
  } catch (e) {
    throw new SyngateError('SYNGATE_DAEMON_FLOW_PROTO', `malformed FlowBatch: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return (obj.records ?? []).map(recordIn);
}

function endpointOut(e: FlowEndpoint): Record<string, unknown> {
  const o: Record<string, unknown> = { ip: e.ip, port: e.port };
  if (e.workload !== null) o['workload'] = e.workload;
  if (e.identity !== null) o['identity'] = e.identity;
  return o;
}

function endpointIn(o: unknown): FlowEndpoint {
  const e = (o ?? {}) as Record<string, unknown>;
  return {
    ip: String(e['ip'] ?? ''),
    port: Number(e['port'] ?? 0),
    workload: typeof e['workload'] === 'string' ? e['workload'] : null,
    identity: typeof e['identity'] === 'string' ? e['identity'] : null,
  };
}

function recordIn(o: Record<string, unknown>): FlowRecord {
  const r: FlowRecord = {
    ts: String(o['ts']),
    enforcer: String(o['enforcer']),
    direction: o['direction'] as FlowRecord['direction'],
    src: endpointIn(o['src']),
    dst: endpointIn(o['dst']),
    port: Number(o['port']),
    verdict: o['verdict'] as FlowRecord['verdict'],
    reason: String(o['reason']),
    rule: String(o['rule']),
    audit: (o['audit'] as string[] | undefined) ?? [],
    state: o['state'] as FlowRecord['state'],
    packets: Number(o['packets']),
    bytes: Number(o['bytes']),
    start: String(o['start']),
  };
  if (typeof o['redirectPort'] === 'number') r.redirectPort = o['redirectPort'];
  return r;
}
