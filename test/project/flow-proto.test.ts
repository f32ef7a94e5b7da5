// proto/flow.proto stays in step with the JSON flow log: its field names are exactly the JSON
// record's keys, and real records written by `syngate simulate` round-trip through the binary form.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFlowBatch, encodeFlowBatch } from '../../enforcer/daemon/index.js';
import type { FlowRecord } from '../../enforcer/engine/flow-record.js';
import { isSyngateError } from '../../enforcer/errors.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/syngate.js');

describe('proto/flow.proto', () => {
  let dir = '';
  let records: FlowRecord[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-flowproto-'));
    const r = spawnSync(process.execPath, [BIN, 'simulate', join(ROOT, 'examples/bookinfo/scenario.yaml'), '--out', dir, '--no-screenshot', '--no-progress'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    records = readFileSync(join(dir, 'flows.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as FlowRecord);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names exactly the JSON record fields', () => {
    const root = protobuf.parse(readFileSync(join(ROOT, 'proto/flow.proto'), 'utf8'), { keepCase: true }).root;
    const rec = root.lookupType('syngate.flow.v1.FlowRecord');
    const ep = root.lookupType('syngate.flow.v1.FlowEndpoint');
    const keys = new Set<string>();
    const epKeys = new Set<string>();
    for (const r of records) {
      for (const k of Object.keys(r)) keys.add(k);
      for (const k of Object.keys(r.src)) epKeys.add(k);
    }
    keys.add('redirectPort'); // optional: present only on redirected flows
    expect(Object.keys(rec.fields).sort()).toEqual([...keys].sort());
    expect(Object.keys(ep.fields).sort()).toEqual([...epKeys].sort());
  });

  it('round-trips every record the simulator wrote, nulls and redirects included', () => {
    expect(records.length).toBeGreaterThan(10);
    expect(records.some((r) => r.src.identity === null || r.dst.workload === null || r.src.workload === null)).toBe(true);
    const withRedirect: FlowRecord[] = [...records, { ...records[0]!, redirectPort: 15006 }];
    expect(decodeFlowBatch(encodeFlowBatch(withRedirect))).toEqual(withRedirect);
  });

  it('refuses malformed bytes with a coded error', () => {
    let err: unknown = null;
    try {
      decodeFlowBatch(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f]));
    } catch (e) {
      err = e;
    }
    expect(isSyngateError(err, 'SYNGATE_DAEMON_FLOW_PROTO')).toBe(true);
  });

  it('finds the schema from the compiled package too', async () => {
    const built = join(ROOT, 'dist/enforcer/daemon/flow-proto.js');
    expect(existsSync(built)).toBe(true);
    const mod = (await import(built)) as { encodeFlowBatch: typeof encodeFlowBatch; decodeFlowBatch: typeof decodeFlowBatch };
    expect(mod.decodeFlowBatch(mod.encodeFlowBatch(records))).toEqual(records);
  });
});
