// The lab with the datapath runner (`--enforcer engine`: enforcer/datapath/runner.ts with the real
// engine, the lab CA and the scenario's policies) as every node's enforcer, on nfqueue: the same
// frame handler as the daemon (createEngineHandler: engine + twin) decides bookinfo's traffic,
// cross-node and same-node, attacks included, exactly as the scenario expects.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labTest, labUp, listNamespaces } from '../../enforcer/datapath/lab/lab.js';
import type { LabState, LabTestResult } from '../../enforcer/datapath/lab/lab.js';
import { skipUnlessRoot } from '../datapath/root-helpers.js';

const skip = skipUnlessRoot('lab with the datapath runner');

describe.skipIf(skip)('bookinfo lab with runner enforcers (root)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sglab-runner-'));
  let state: LabState;
  let result: LabTestResult;
  beforeAll(async () => {
    state = await labUp({ scenario: 'examples/bookinfo/scenario.yaml', datapath: 'nfqueue', enforcer: 'engine', dir });
    result = await labTest({ dir });
  }, 180_000);
  afterAll(async () => {
    const prefix = state?.prefix;
    await labDown({ dir });
    if (prefix !== undefined) expect(listNamespaces().filter((n) => n.startsWith(prefix))).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('all traffic gets the expected verdicts and reasons from the runner', () => {
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
