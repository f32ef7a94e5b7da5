// A local HTTPS server standing in for the Kubernetes API server in the k8s tests: a throwaway CA
// certificate (the client's caFile), a bearer token file, every request path logged in `seen`,
// 401 for a wrong token, and a test-supplied route for everything else.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_TOKEN = 'test-token-abc';

export interface FakeApiServer {
  /** Holds `token` (TEST_TOKEN) and `ca.crt`; removed by close(). */
  dir: string;
  port: number;
  /** `PATH?QUERY` of every request, in order. */
  seen: string[];
  /** Responses kept open (quiet watches); ended by close(). */
  held: ServerResponse[];
  close(): Promise<void>;
}

export async function startFakeApiServer(route: (url: URL, req: IncomingMessage, res: ServerResponse, held: ServerResponse[]) => void): Promise<FakeApiServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-k8s-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'ca.crt')], { stdio: 'ignore' });
  writeFileSync(join(dir, 'token'), `${TEST_TOKEN}\n`);
  const seen: string[] = [];
  const held: ServerResponse[] = [];
  const server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.crt')) }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://x');
    seen.push(`${url.pathname}?${url.searchParams.toString()}`);
    if (req.headers.authorization !== `Bearer ${TEST_TOKEN}`) {
      res.writeHead(401).end('{"kind":"Status","code":401}');
      return;
    }
    res.setHeader('content-type', 'application/json');
    route(url, req, res, held);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    dir,
    port: (server.address() as AddressInfo).port,
    seen,
    held,
    async close(): Promise<void> {
      for (const r of held) r.end();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
