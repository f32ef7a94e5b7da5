// Helper for flowlog-disk.root.test.ts: writes N flow records through the daemon's FlowLog into
// DIR (a tiny tmpfs), then prints one JSON summary line: records written and dropped, warning
// lines logged, the dropped-records metric, and the files left with their sizes.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FlowLog } from '../../../enforcer/daemon/flowlog.js';
import { createLogger } from '../../../enforcer/daemon/log.js';
import { createMetrics } from '../../../enforcer/daemon/metrics.js';

const dir = process.argv[2] ?? '.';
const n = Number(process.argv[3] ?? '3000');
const logs: { level: string; msg: string }[] = [];
const metrics = createMetrics();
const fl = new FlowLog({ sink: 'file', path: join(dir, 'flows.jsonl'), maxBytes: 1 << 20, maxFiles: 3, recent: 100 }, metrics, createLogger('info', (l) => logs.push(JSON.parse(l) as { level: string; msg: string })));
for (let i = 0; i < n; i++) {
  fl.write({
    ts: new Date().toISOString(), enforcer: 'node-a', direction: 'inbound',
    src: { ip: '198.18.1.2', port: 30000 + (i % 30000), workload: 'demo/cli', identity: 'spiffe://cluster.local/ns/demo/sa/cli' },
    dst: { ip: '198.18.2.2', port: 8080, workload: 'demo/srv', identity: 'spiffe://cluster.local/ns/demo/sa/srv' },
    port: 8080, verdict: 'allow', reason: 'ok', rule: 'AuthorizationPolicy/demo/srv-allow#rules[0]', audit: [], state: 'closed', packets: i, bytes: i * 60, start: new Date().toISOString(),
  });
  if (i % 100 === 99) fl.flush();
}
fl.close();
const text = await metrics.registry.metrics();
const dropped = Number(/syngate_flowlog_dropped_records_total\{reason="disk-full"\} (\d+)/.exec(text)?.[1] ?? 0);
const files = readdirSync(dir).map((f) => {
  const body = readFileSync(join(dir, f), 'utf8');
  let whole = true;
  for (const l of body.split('\n').filter((x) => x !== '')) {
    try {
      JSON.parse(l);
    } catch {
      whole = false;
    }
  }
  return { f, size: statSync(join(dir, f)).size, whole: whole && (body === '' || body.endsWith('\n')) };
});
process.stdout.write(`${JSON.stringify({ written: fl.written, dropped: fl.dropped, metricDiskFull: dropped, warns: logs.filter((l) => l.level === 'warn').length, recent: fl.recent(10).length, files })}\n`);
