/**
 * The external metrics API's own Prometheus metrics, registered on a registry the caller creates
 * (never the global default).
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

import type { AuthenticationFailure } from './auth/authenticator.js';
import type { ConnectionLimitReason } from './connection-guard.js';

/** What the server reports about itself. */
export interface MetricsApiObserver {
  /**
   * One finished request: `metric` is a served metric name or a `_`-prefixed class (app.ts
   * `metricLabelOf`; `_throttled` for a 429 of the per-client request rate).
   */
  observeRequest(metric: string, code: number, seconds: number): void;
  observeAuthFailure(reason: AuthenticationFailure): void;
  /** One forwarded read: the upstream's status code, or `error` when it did not answer. */
  observeUpstreamForward(code: number | 'error'): void;
  /** A connection a limit closed, refused or (over the per-client cap) serves only 429s. */
  observeConnectionLimited(reason: ConnectionLimitReason): void;
  /** The open connections, by whether their client certificate verified (every second). */
  observeOpenConnections(open: { readonly verified: number; readonly unverified: number }): void;
}

export const noopMetricsApiObserver: MetricsApiObserver = {
  observeRequest: () => undefined,
  observeAuthFailure: () => undefined,
  observeUpstreamForward: () => undefined,
  observeConnectionLimited: () => undefined,
  observeOpenConnections: () => undefined,
};

/** Registers the metrics API's metrics on `registry`. */
export function createMetricsApiMetrics(registry: Registry): MetricsApiObserver {
  const requests = new Counter({
    name: 'slotscaler_metrics_api_requests_total',
    help: 'Requests to the external metrics API, by metric (or request class) and HTTP status code',
    labelNames: ['metric', 'code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'slotscaler_metrics_api_request_duration_seconds',
    help: 'Time to answer a request to the external metrics API',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'slotscaler_metrics_api_auth_failures_total',
    help: 'Requests to the external metrics API that were not authenticated, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const forwards = new Counter({
    name: 'slotscaler_metrics_api_upstream_forwards_total',
    help: 'Reads forwarded to the upstream external metrics server, by its status code (error: no answer)',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const limited = new Counter({
    name: 'slotscaler_metrics_api_connections_limited_total',
    help: 'Connections to the external metrics API a limit acted on, by reason: closed or refused at max_connections, closed when idle or at the handshake_timeout, served only 429s over the per-client cap (client_connections)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const open = new Gauge({
    name: 'slotscaler_metrics_api_open_connections',
    help: 'Open connections to the external metrics API, by whether the client certificate verified (client="verified") or not (client="unverified", TLS handshakes included)',
    labelNames: ['client'] as const,
    registers: [registry],
  });
  return {
    observeRequest: (metric, code, seconds) => {
      requests.inc({ metric, code: String(code) });
      duration.observe(seconds);
    },
    observeAuthFailure: (reason) => authFailures.inc({ reason }),
    observeUpstreamForward: (code) => forwards.inc({ code: String(code) }),
    observeConnectionLimited: (reason) => limited.inc({ reason }),
    observeOpenConnections: ({ verified, unverified }) => {
      open.set({ client: 'verified' }, verified);
      open.set({ client: 'unverified' }, unverified);
    },
  };
}
