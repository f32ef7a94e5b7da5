// `syngate ca init --trust-domain TD --out DIR [--ttl D] [--force]`
// `syngate ca issue --ca DIR --spiffe-id ID --out DIR [--ttl D] [--node NAME] [--key FILE]
//                   [--node-key FILE] [--allow-trust-domain TD ...] [--force]`
// Invariants: failures are SyngateErrors (exit status 2 through main.ts) naming the file or flag;
// existing key material is never overwritten without --force; --json prints only JSON on stdout.
import type { Command } from 'commander';
import { initCaDir, issueToDir, parseDuration } from '../../identity/index.js';
import type { SetStatus } from './index.js';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function registerCa(program: Command, setStatus: SetStatus): void {
  const ca = program.command('ca').description('certificate authority: create a CA, issue X.509-SVIDs and node credentials');

  ca.command('init')
    .description('create a root CA (ECDSA P-256, self-signed) for a trust domain')
    .requiredOption('--trust-domain <td>', 'SPIFFE trust domain, e.g. cluster.local')
    .requiredOption('--out <dir>', 'folder for ca.pem and ca.key')
    .option('--ttl <duration>', 'CA lifetime (e.g. 3650d)', '3650d')
    .option('--force', 'overwrite an existing CA in --out')
    .option('--json', 'print the result as JSON')
    .action((o: { trustDomain: string; out: string; ttl: string; force?: boolean; json?: boolean }) => {
      const r = initCaDir({ trustDomain: o.trustDomain, out: o.out, ttlSec: parseDuration(o.ttl), force: o.force === true });
      const info = { trustDomain: r.ca.trustDomain, caKeyId: r.ca.keyId.toString('hex'), files: r.files };
      if (o.json === true) process.stdout.write(JSON.stringify(info, null, 2) + '\n');
      else process.stdout.write(`CA for trust domain ${info.trustDomain} (key id ${info.caKeyId})\n${r.files.map((f) => `  wrote ${f}\n`).join('')}`);
      setStatus(0);
    });

  ca.command('issue')
    .description('issue an X.509-SVID (cert.pem, key.pem, bundle.pem) and, with --node, a node enforcer credential (node.cred, node.key)')
    .requiredOption('--ca <dir>', 'CA folder written by `syngate ca init`')
    .requiredOption('--spiffe-id <id>', 'spiffe://<trust-domain>/<path>, e.g. spiffe://cluster.local/ns/shop/sa/cart')
    .requiredOption('--out <dir>', 'output folder')
    .option('--ttl <duration>', 'lifetime: 90s, 30m, 12h, 7d', '24h')
    .option('--node <name>', 'also issue the wire credential for node enforcer NAME')
    .option('--key <file>', 'use this existing ECDSA P-256 private key (PEM) for the X.509-SVID')
    .option('--node-key <file>', 'use this existing Ed25519 private key (PEM) for the node credential')
    .option('--allow-trust-domain <td>', 'allow a SPIFFE ID from this foreign trust domain (repeatable)', collect, [] as string[])
    .option('--force', 'overwrite existing files in --out')
    .option('--json', 'print the result as JSON')
    .action(
      (o: {
        ca: string;
        spiffeId: string;
        out: string;
        ttl: string;
        node?: string;
        key?: string;
        nodeKey?: string;
        allowTrustDomain: string[];
        force?: boolean;
        json?: boolean;
      }) => {
        const r = issueToDir({
          caDir: o.ca,
          spiffeId: o.spiffeId,
          out: o.out,
          ttlSec: parseDuration(o.ttl),
          allowForeign: o.allowTrustDomain,
          force: o.force === true,
          ...(o.node === undefined ? {} : { node: o.node }),
          ...(o.key === undefined ? {} : { keyFile: o.key }),
          ...(o.nodeKey === undefined ? {} : { nodeKeyFile: o.nodeKey }),
        });
        const info = {
          spiffeId: r.svid.spiffeId,
          serial: r.svid.serialHex,
          notBefore: r.svid.notBefore.toISOString(),
          notAfter: r.svid.notAfter.toISOString(),
          ...(r.node === undefined ? {} : { node: r.node.name }),
          files: r.files,
        };
        if (o.json === true) process.stdout.write(JSON.stringify(info, null, 2) + '\n');
        else {
          process.stdout.write(
            `issued ${info.spiffeId} serial ${info.serial}, valid ${info.notBefore} .. ${info.notAfter}` +
              (r.node === undefined ? '' : ` (node credential for ${r.node.name})`) +
              `\n${r.files.map((f) => `  wrote ${f}\n`).join('')}`,
          );
        }
        setStatus(0);
      },
    );
}
