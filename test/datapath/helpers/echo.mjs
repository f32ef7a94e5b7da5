// Test helper. `server PORT`: echoes each line back. `client IP PORT`: connects, prints "connected",
// then writes each stdin line and prints each echoed line (a long-lived connection under test control).
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';

const [mode, a, b] = process.argv.slice(2);
if (mode === 'server') {
  createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  }).listen(Number(a), '0.0.0.0', () => process.stdout.write('ready\n'));
} else {
  const s = connect({ host: a, port: Number(b) }, () => process.stdout.write('connected\n'));
  s.on('error', (e) => {
    process.stdout.write(`error ${e.code ?? e.message}\n`);
    process.exit(1);
  });
  createInterface({ input: s }).on('line', (l) => process.stdout.write(`echo ${l}\n`));
  createInterface({ input: process.stdin }).on('line', (l) => s.write(`${l}\n`));
}
