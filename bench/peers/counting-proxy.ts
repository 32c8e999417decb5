/**
 * A counting reverse proxy in front of a JobManager's REST port: each autoscaler under comparison
 * is given the proxy's URL instead of the JobManager's, so every call it makes is counted (by
 * method and route) and passed on unchanged, body and status included.
 *
 * Routes are counted with their ids folded (`GET /jobs/{id}/vertices/{id}/metrics`), so the counts
 * say which endpoints a system reads and how often, not which job it read.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RestCallCounts {
  readonly total: number;
  /** `METHOD /route` with ids folded to `{id}`, e.g. `GET /jobs/{id}`. */
  readonly byRoute: Readonly<Record<string, number>>;
  /** Answers the JobManager could not give (connection refused, reset): the proxy answered 502. */
  readonly failed: number;
}

export interface CountingProxy {
  /** The URL to give the system under test, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  counts(): RestCallCounts;
  /** Starts counting again from zero (between two systems' runs). */
  reset(): void;
  close(): Promise<void>;
}

/** Flink's job, vertex and TaskManager ids: 32 hex digits, or a TaskManager's resource id. */
const ID = /^(?:[0-9a-f]{32}|[0-9a-f-]{36}|\d+|[\w.-]*:\d+-[0-9a-f]{6})$/;

/** `/jobs/3f…9a/vertices/bc…01/metrics?get=x` → `/jobs/{id}/vertices/{id}/metrics`. */
export function routeOf(method: string, url: string): string {
  const path = url.split('?')[0] ?? '/';
  const folded = path
    .split('/')
    .map((segment) => (ID.test(segment) ? '{id}' : segment))
    .join('/');
  return `${method} ${folded}`;
}

const REQUEST_TIMEOUT_MS = 60_000;

/** Starts the proxy on 127.0.0.1 (port 0 unless given), forwarding to `targetUrl`. */
export async function startCountingProxy(targetUrl: string, port = 0): Promise<CountingProxy> {
  const target = new URL(targetUrl);
  let byRoute = new Map<string, number>();
  let total = 0;
  let failed = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  const server = http.createServer((req, res) => {
    const route = routeOf(req.method ?? 'GET', req.url ?? '/');
    total += 1;
    byRoute.set(route, (byRoute.get(route) ?? 0) + 1);
    const headers = { ...req.headers, host: target.host };
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
        agent,
        timeout: REQUEST_TIMEOUT_MS,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timeout')));
    upstream.on('error', (error) => {
      failed += 1;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [`counting proxy: ${error.message}`] }));
      } else {
        res.destroy(error);
      }
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    counts: () => ({ total, byRoute: Object.fromEntries(byRoute), failed }),
    reset() {
      total = 0;
      failed = 0;
      byRoute = new Map();
    },
    async close() {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
