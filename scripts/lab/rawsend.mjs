// Test helper: sends whole IPv4 packets (hex on argv) through a send-only raw socket (IP header
// included), from whatever network namespace it runs in. Prints "sent N".
import { createRequire } from 'node:module';

const raw = createRequire(import.meta.url)('raw-socket');
const IPPROTO_RAW = 255;
const sock = raw.createSocket({ protocol: IPPROTO_RAW });
let n = 0;
const pkts = process.argv.slice(2).map((h) => Buffer.from(h, 'hex'));
const next = () => {
  const p = pkts.shift();
  if (p === undefined) {
    process.stdout.write(`sent ${n}\n`);
    sock.close();
    return;
  }
  const dst = `${p[16]}.${p[17]}.${p[18]}.${p[19]}`;
  sock.send(p, 0, p.length, dst, (err) => {
    if (err) {
      process.stdout.write(`error ${err.message}\n`);
      process.exit(1);
    }
    n++;
    next();
  });
};
next();
