// The lab with `syngate run --config` as every node's enforcer (nfqueue, the production path): the
// lab generates each node's credential folder, the inventory and the config; the daemon's datapath
// and engine decide bookinfo's cross-node traffic exactly as the scenario expects, with reasons in
// its flow log, for cross-node and same-node flows alike (the daemon's frame handler is
// createEngineHandler: engine + twin, docs/datapath.md), attacks included.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labTest, labUp, listNamespaces } from '../../enforcer/datapath/lab/lab.js';
import type { LabState, LabTestResult } from '../../enforcer/datapath/lab/lab.js';
import { skipUnlessRoot } from '../datapath/root-helpers.js';

const skip = skipUnlessRoot('lab with syngate run');

describe.skipIf(skip)('bookinfo lab with `syngate run` enforcers (root)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sglab-daemon-'));
  let state: LabState;
  let result: LabTestResult;
  beforeAll(async () => {
    state = await labUp({ scenario: 'examples/bookinfo/scenario.yaml', datapath: 'nfqueue', enforcer: 'daemon', dir });
    result = await labTest({ dir });
  }, 180_000);
  afterAll(async () => {
    const prefix = state?.prefix;
    await labDown({ dir });
    if (prefix !== undefined) expect(listNamespaces().filter((n) => n.startsWith(prefix))).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('all traffic gets the expected verdicts and reasons from the daemon', () => {
    const nodeOf = new Map(state.plan.pods.map((p) => [p.id, p.node]));
    const cross = result.connections.filter((c) => nodeOf.get(c.from) !== nodeOf.get(c.to));
    const same = result.connections.filter((c) => nodeOf.get(c.from) === nodeOf.get(c.to));
    expect(cross.length).toBeGreaterThanOrEqual(15);
    expect(cross.filter((c) => c.unexpected).map((c) => `${c.from} -> ${c.to}:${c.port}: ${c.note} (${c.reason})`)).toEqual([]);
    for (const c of cross.filter((x) => x.verdict === 'deny' && x.attempts.length > 0)) {
      expect(c.attempts[0]?.outcome).toBe('reset');
      expect(c.reason).toBe(c.expectReason);
    }
    expect(same.length).toBeGreaterThanOrEqual(4);
    expect(same.filter((c) => c.unexpected).map((c) => `${c.from} -> ${c.to}:${c.port}: ${c.note} (${c.reason})`)).toEqual([]);
    expect(result.json.summary.unexpected).toBe(0);
  });
});
