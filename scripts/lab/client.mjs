// Lab client: one (or --count) TCP connection(s) + HTTP GET from inside a pod namespace.
// Prints one JSON line per attempt: {outcome, ms, localPort, status, body, error}.
// outcome: "allow" (HTTP response read), "reset" (ECONNRESET / ECONNREFUSED: a RST arrived),
// "timeout" (nothing within --timeout ms), "error" (anything else), "bad-response".
// Usage: node client.mjs --to IP --port N [--count K] [--timeout MS] [--hold MS]
import { connect } from 'node:net';

const arg = (n, d) => {
  const i = process.argv.indexOf(n);
  return i >= 0 ? process.argv[i + 1] : d;
};
const to = arg('--to');
const port = Number(arg('--port'));
const count = Number(arg('--count', '1'));
const timeout = Number(arg('--timeout', '3000'));

// The client picks its own source port (below Linux's ephemeral range) so the port is known even
// when the connection is refused, and flow-log records can be matched to attempts.
const pickPort = () => 20000 + Math.floor(Math.random() * 12000);

async function once() {
  for (let i = 0; i < 5; i++) {
    const r = await attempt(pickPort());
    if (r.error !== 'EADDRINUSE') return r;
  }
  return attempt(0);
}

function attempt(bindPort) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    let localPort = bindPort === 0 ? null : bindPort;
    let buf = '';
    let settled = false;
    const s = connect({ host: to, port, ...(bindPort === 0 ? {} : { localPort: bindPort }) });
    const done = (r) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ ...r, ms: Math.round(ms() * 100) / 100, localPort });
    };
    const timer = setTimeout(() => done({ outcome: 'timeout' }), timeout);
    s.on('connect', () => {
      localPort = s.localPort;
      s.write(`GET /lab HTTP/1.1\r\nhost: ${to}:${port}\r\nconnection: close\r\n\r\n`);
    });
    s.on('data', (d) => {
      buf += d.toString('latin1');
    });
    s.on('end', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      if (m === null) return done({ outcome: 'bad-response', body: buf.slice(0, 200) });
      const body = buf.slice(buf.indexOf('\r\n\r\n') + 4);
      done({ outcome: 'allow', status: Number(m[1]), body });
    });
    s.on('error', (e) => {
      const code = e.code ?? '';
      done({ outcome: code === 'ECONNRESET' || code === 'ECONNREFUSED' ? 'reset' : 'error', error: code || e.message });
    });
  });
}

for (let i = 0; i < count; i++) process.stdout.write(JSON.stringify(await once()) + '\n');
