// Root-only: scripts/capture-fixtures.sh really captures Linux TCP between two fresh namespaces,
// every packet it writes parses, its namespaces are gone afterwards.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { linkTypeOfPcap, PacketKind, PacketView, parseFrame, ParseStatus, readPcapFile, verifyTcpChecksum } from '../../enforcer/packet/index.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const haveTools = ['tcpdump', 'ethtool', 'python3', 'ip'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
if (!isRoot || !haveTools) {
  const why = !isRoot ? 'not root' : 'tcpdump/ethtool/python3/ip missing';
  if (process.env['CI'] === 'true') throw new Error(`capture.root.test: cannot run under CI: ${why}`);
  console.log(`capture.root.test: skipped (${why})`);
}

describe.skipIf(!isRoot || !haveTools)('scripts/capture-fixtures.sh', () => {
  const out = mkdtempSync(join(tmpdir(), 'sg-capture-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('captures real handshakes that parse, then removes its namespaces', () => {
    const script = new URL('../../scripts/capture-fixtures.sh', import.meta.url).pathname;
    const log = execFileSync('bash', [script, out], { encoding: 'utf8', timeout: 120_000 });
    const ns = /namespaces (\S+) (\S+)/.exec(log);
    expect(ns).not.toBeNull();
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(left).not.toContain(ns![1]!);
    expect(left).not.toContain(ns![2]!);

    const files = readdirSync(out).filter((f) => f.endsWith('.pcap'));
    expect(files.sort()).toEqual(['echo2.pcap', 'handshake.pcap', 'mixed.pcap', 'refused.pcap', 'server-close.pcap']);
    const v = new PacketView();
    let syns = 0;
    for (const f of files) {
      const p = readPcapFile(join(out, f));
      for (const r of p.records) {
        expect(parseFrame(r.data, 0, r.data.length, linkTypeOfPcap(p.linkType), v)).toBe(ParseStatus.OK);
        if (v.kind === PacketKind.TCP) {
          expect(verifyTcpChecksum(v)).toBe(true);
          if (v.flags === 0x02) syns++;
        }
      }
    }
    expect(syns).toBe(4);
  });
});
