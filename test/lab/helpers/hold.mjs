// Test helper: a long-lived connection through the lab. Connects to IP PORT, sends `GET /echo`,
// prints "connected" once the app answered, then sends each stdin line and prints "echo LINE" for
// each line echoed back. Usage: node hold.mjs IP PORT
import { connect } from 'node:net';
import { createInterface } from 'node:readline';

const [ip, port] = process.argv.slice(2);
const s = connect({ host: ip, port: Number(port) }, () => s.write(`GET /echo HTTP/1.1\r\nhost: ${ip}\r\n\r\n`));
let head = '';
let open = false;
s.on('error', (e) => {
  process.stdout.write(`error ${e.code ?? e.message}\n`);
  process.exit(1);
});
s.on('data', (d) => {
  if (open) return;
  head += d.toString('latin1');
  const end = head.indexOf('\r\n\r\n');
  if (end < 0) return;
  if (!head.startsWith('HTTP/1.1 200')) {
    process.stdout.write(`error ${head.split('\r\n')[0]}\n`);
    process.exit(1);
  }
  open = true;
  process.stdout.write('connected\n');
  createInterface({ input: s }).on('line', (l) => process.stdout.write(`echo ${l}\n`));
  const rest = head.slice(end + 4);
  if (rest.length > 0) s.unshift(Buffer.from(rest, 'latin1'));
});
createInterface({ input: process.stdin }).on('line', (l) => s.write(`${l}\n`));
