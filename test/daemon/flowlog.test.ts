// Flow-log sink: size rotation, the ring behind /flows, and the defined degrade when the disk is
// full (records dropped and counted, one warning, daemon keeps going, recovery logged).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlowLog, nodeFlowLogFs, type FlowLogFs } from '../../enforcer/daemon/flowlog.js';
import { createLogger } from '../../enforcer/daemon/log.js';
import { createMetrics } from '../../enforcer/daemon/metrics.js';
import type { FlowRecord } from '../../enforcer/engine/flow-record.js';

function rec(i: number, state: FlowRecord['state'] = 'closed'): FlowRecord {
  return {
    ts: '2026-11-23T12:00:00.000Z',
    enforcer: 'node-a',
    direction: 'inbound',
    src: { ip: '198.18.1.2', port: 40000 + (i % 20000), workload: 'bookinfo/productpage', identity: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage' },
    dst: { ip: '198.18.2.2', port: 9080, workload: 'bookinfo/details', identity: null },
    port: 9080,
    verdict: 'allow',
    reason: 'ok',
    rule: 'AuthorizationPolicy/bookinfo/details-viewer#rules[0]',
    audit: [],
    state,
    packets: i,
    bytes: i * 100,
    start: '2026-11-23T11:59:59.000Z',
  };
}

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-flowlog-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('FlowLog', () => {
  it('writes JSON lines and rotates by size, never exceeding maxBytes, keeping maxFiles generations', () => {
    const path = join(dir, 'flows.jsonl');
    const lines: string[] = [];
    const fl = new FlowLog({ sink: 'file', path, maxBytes: 8192, maxFiles: 3, recent: 50 }, createMetrics(), createLogger('debug', (l) => lines.push(l)));
    for (let i = 0; i < 200; i++) fl.write(rec(i));
    fl.close();
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['flows.jsonl', 'flows.jsonl.1', 'flows.jsonl.2']);
    for (const f of files) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(8192);
    // Every line of every kept file is a whole record; the newest is last in the live file.
    const live = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as FlowRecord);
    expect(live.at(-1)?.packets).toBe(199);
    const older = readFileSync(`${path}.1`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as FlowRecord);
    expect((older.at(-1)?.packets ?? 0) + 1).toBe(live[0]?.packets);
    expect(fl.dropped).toBe(0);
    expect(lines).toEqual([]);
  });

  it('keeps the newest records in the ring for /flows, newest first', () => {
    const fl = new FlowLog({ sink: 'off', path: null, maxBytes: 4096, maxFiles: 1, recent: 5 }, null, createLogger('error'));
    for (let i = 0; i < 12; i++) fl.write(rec(i));
    expect(fl.recent(3).map((r) => r.packets)).toEqual([11, 10, 9]);
    expect(fl.recent(100).map((r) => r.packets)).toEqual([11, 10, 9, 8, 7]);
    expect(fl.recent(0)).toEqual([]);
  });

  it('a full disk drops records with a metric and ONE log line, then recovers', async () => {
    let full = true;
    const fs: FlowLogFs = {
      ...nodeFlowLogFs,
      write: (fd, data) => {
        if (full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        nodeFlowLogFs.write(fd, data);
      },
    };
    const path = join(dir, 'flows.jsonl');
    const logs: Record<string, unknown>[] = [];
    const metrics = createMetrics();
    const fl = new FlowLog({ sink: 'file', path, maxBytes: 1 << 20, maxFiles: 2, recent: 10 }, metrics, createLogger('info', (l) => logs.push(JSON.parse(l) as Record<string, unknown>)), fs);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 10; i++) fl.write(rec(i));
      fl.flush();
    }
    expect(fl.dropped).toBe(50);
    expect(logs.filter((l) => l['level'] === 'warn')).toHaveLength(1);
    expect(logs[0]).toMatchObject({ level: 'warn', reason: 'disk-full' });
    const text = await metrics.registry.metrics();
    expect(text).toContain('syngate_flowlog_dropped_records_total{reason="disk-full"} 50');
    // The ring (and so /flows) still has the records.
    expect(fl.recent(10)).toHaveLength(10);
    full = false;
    fl.write(rec(99));
    fl.flush();
    expect(logs.at(-1)).toMatchObject({ level: 'info', msg: 'flow log sink writing again', dropped: 50 });
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
    fl.close();
  });

  it('a sink that cannot even be opened degrades the same way', () => {
    const logs: string[] = [];
    const fl = new FlowLog({ sink: 'file', path: join(dir, 'no/such/dir/flows.jsonl'), maxBytes: 1 << 20, maxFiles: 2, recent: 1 }, createMetrics(), createLogger('info', (l) => logs.push(l)));
    for (let i = 0; i < 3; i++) {
      fl.write(rec(i));
      fl.flush();
    }
    expect(fl.dropped).toBe(3);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/"reason":"write-error"/);
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });

  it('stdout sink drops under backpressure instead of growing without bound', () => {
    const out = { writableLength: 10 * 1024 * 1024, write: () => true } as unknown as NodeJS.WritableStream;
    const logs: string[] = [];
    const fl = new FlowLog({ sink: 'stdout', path: null, maxBytes: 4096, maxFiles: 1, recent: 0 }, createMetrics(), createLogger('info', (l) => logs.push(l)), nodeFlowLogFs, out);
    fl.write(rec(1));
    fl.flush();
    expect(fl.dropped).toBe(1);
    expect(logs[0]).toMatch(/backpressure/);
  });
});
