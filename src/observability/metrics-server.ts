/**
 * The plain-HTTP port Prometheus scrapes: `GET /metrics` of one prom-client registry. Separate from
 * the external metrics API's HTTPS port, which needs client credentials.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Registry } from 'prom-client';

import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';

export interface MetricsHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on `port` (0: any free port) and serves `registry` at /metrics. */
export async function startMetricsHttpServer(options: {
  readonly registry: Registry;
  readonly port: number;
  readonly host?: string;
  readonly logger?: Logger;
}): Promise<MetricsHttpServer> {
  const logger = options.logger ?? silentLogger;
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    options.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
      (err: unknown) => {
        logger.error({ err }, 'cannot render the Prometheus metrics');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('cannot render metrics\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port }, 'Prometheus metrics served on /metrics');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
