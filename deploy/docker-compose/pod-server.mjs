// Small workload for the compose lab: answers HTTP on every port in $LISTEN with its workload name,
// and every 2 s calls each `IP:PORT` in $CALLS (its allowed downstreams, from
// examples/bookinfo/scenario.yaml), logging one JSON line per call: ok, refused (syngate reject) or timeout.
import { createServer, request } from 'node:http';

const me = process.env.WORKLOAD ?? 'unknown';
const listen = (process.env.LISTEN ?? '').split(/\s+/).filter(Boolean).map(Number);
const calls = (process.env.CALLS ?? '').split(/\s+/).filter(Boolean);
const log = (o) => process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), workload: me, ...o })}\n`);

for (const port of listen) {
  createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`${me}:${port} ${req.method} ${req.url}\n`);
  }).listen(port, '0.0.0.0', () => log({ listening: port }));
}

function call(target) {
  const [host, port] = target.split(':');
  const t0 = Date.now();
  const req = request({ host, port: Number(port), path: '/', timeout: 3000 }, (res) => {
    res.resume();
    res.on('end', () => log({ call: target, result: 'ok', status: res.statusCode, ms: Date.now() - t0 }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => log({ call: target, result: e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' ? 'refused' : 'error', error: e.code ?? e.message, ms: Date.now() - t0 }));
  req.end();
}

if (calls.length > 0) setInterval(() => calls.forEach(call), 2000);
process.on('SIGTERM', () => process.exit(0));
