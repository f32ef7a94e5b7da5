// Lab application server: listens on every port given, answers one HTTP/1.1 request per connection.
// Invariant: it replies 200 only if the very first bytes it received on the connection are the
// client's request line ("GET /... HTTP/1.1"); anything else (e.g. token bytes that leaked through an
// enforcer) gets 400 and a log line with the first bytes in hex. One JSON line per connection goes to
// --log. `GET /echo` answers 200 and then echoes every later byte, keeping the connection open (the
// lab tests' long-lived flow). Usage: node app-server.mjs --name NS/NAME --ports 9080,9090 --log FILE
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:net';

const arg = (n) => {
  const i = process.argv.indexOf(n);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const name = arg('--name') ?? 'app';
const ports = (arg('--ports') ?? '').split(',').filter(Boolean).map(Number);
const logFile = arg('--log');
const REQ = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS) \/[\x21-\x7e]* HTTP\/1\.[01]\r\n/;
const log = (o) => {
  if (logFile) appendFileSync(logFile, JSON.stringify({ ts: new Date().toISOString(), workload: name, ...o }) + '\n');
};

let listening = 0;
for (const port of ports) {
  const srv = createServer((sock) => {
    let got = Buffer.alloc(0);
    let done = false;
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      if (done) return;
      got = Buffer.concat([got, d]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0 && got.length < 8192) {
        // Not a full request yet; but the first bytes must already look like one.
        if (got.length >= 4 && !/^[A-Z]{3,7} /.test(got.subarray(0, Math.min(got.length, 8)).toString('latin1'))) finish(false);
        return;
      }
      finish(REQ.test(got.toString('latin1')));
    });
    function finish(ok) {
      done = true;
      const firstHex = got.subarray(0, 32).toString('hex');
      log({ port, peer, ok, firstHex, bytes: got.length });
      if (ok && got.toString('latin1').startsWith('GET /echo ')) {
        sock.setTimeout(0);
        sock.write('HTTP/1.1 200 OK\r\nconnection: keep-alive\r\n\r\n');
        const rest = got.subarray(got.indexOf('\r\n\r\n') + 4);
        if (rest.length > 0) sock.write(rest);
        sock.on('data', (d) => sock.write(d));
        return;
      }
      const body = JSON.stringify({ workload: name, port, ok, peer, firstHex: ok ? undefined : firstHex }) + '\n';
      const status = ok ? '200 OK' : '400 Bad Request';
      sock.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    }
  });
  srv.listen(port, '0.0.0.0', () => {
    if (++listening === ports.length) process.stdout.write('ready\n');
  });
}
if (ports.length === 0) process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
