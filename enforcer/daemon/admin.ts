// The admin HTTP server: /metrics, /healthz, /readyz, /flows?limit=N, /map.
// Invariants: read-only (GET/HEAD only; anything else is 405); binds where the config says
// (loopback by default); a handler error answers 500 and never takes the daemon down;
// /flows caps `limit` at MAX_FLOWS_LIMIT.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FlowRecord } from '../engine/flow-record.js';
import type { Registry } from 'prom-client';

export const MAX_FLOWS_LIMIT = 10_000;
export const DEFAULT_FLOWS_LIMIT = 100;

export interface ReadyState {
  ready: boolean;
  /** What is missing when not ready, e.g. `policy not compiled`, `datapath not attached`. */
  waiting: string[];
}

export interface AdminHandlers {
  registry: Registry;
  ready(): ReadyState;
  /** Called before /metrics renders (refresh sampled values). */
  beforeScrape?(): void;
  flows(limit: number): FlowRecord[];
  /** Self-contained HTML of the dependency map over the given records. */
  map(records: FlowRecord[]): string;
  /** Records /map is drawn from. */
  mapLimit: number;
}

export interface AdminServer {
  readonly server: Server;
  /** The bound address (port resolved when 0 was asked). */
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function handle(h: AdminHandlers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  const url = new URL(req.url ?? '/', 'http://admin');
  switch (url.pathname) {
    case '/metrics': {
      h.beforeScrape?.();
      const body = await h.registry.metrics();
      send(res, 200, h.registry.contentType, body);
      return;
    }
    case '/healthz':
      send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
      return;
    case '/readyz': {
      const r = h.ready();
      send(res, r.ready ? 200 : 503, 'application/json', `${JSON.stringify(r)}\n`);
      return;
    }
    case '/flows': {
      const raw = url.searchParams.get('limit');
      let limit = DEFAULT_FLOWS_LIMIT;
      if (raw !== null) {
        if (!/^\d{1,9}$/.test(raw)) {
          send(res, 400, 'application/json', `${JSON.stringify({ error: 'limit must be a non-negative integer' })}\n`);
          return;
        }
        limit = Math.min(Number(raw), MAX_FLOWS_LIMIT);
      }
      send(res, 200, 'application/json', `${JSON.stringify({ flows: h.flows(limit) })}\n`);
      return;
    }
    case '/map':
      send(res, 200, 'text/html; charset=utf-8', h.map(h.flows(h.mapLimit)));
      return;
    case '/':
      send(res, 200, 'text/plain; charset=utf-8', 'syngate admin: /metrics /healthz /readyz /flows?limit=N /map\n');
      return;
    default:
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  }
}

/** Start the admin server; resolves once it listens. Rejects with the listen error (e.g. EADDRINUSE). */
export function startAdminServer(host: string, port: number, h: AdminHandlers): Promise<AdminServer> {
  const server = createServer((req, res) => {
    handle(h, req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${e instanceof Error ? e.message : String(e)}\n`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolvePromise({
        server,
        host: a.address,
        port: a.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
