/**
 * Slotscaler's own Prometheus metrics (prom-client), registered on a registry the caller creates
 * (never the global default), so every test can have its own. Names are
 * `slotscaler_<what>_<unit>`, counters end in `_total` (STYLE.md).
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

import type { FlinkEndpoint } from '../domain/flink.js';

/** How one HTTP attempt against a JobManager ended: the `outcome` label. */
export type FlinkRequestOutcome =
  'ok' | 'timeout' | 'unreachable' | 'not_found' | 'http_4xx' | 'http_5xx' | 'bad_response';

/** Why samples left a window before their time: the `reason` label. */
export type SampleDropReason = 'restart' | 'job_not_running' | 'capacity' | 'out_of_order' | 'invalid';

/** A target's state in the collector: the `state` label. */
export type CollectorTargetState = 'ok' | 'failing' | 'pending';

/** Receives one observation per HTTP attempt (retries count separately). */
export interface FlinkRequestObserver {
  observeFlinkRequest(endpoint: FlinkEndpoint, outcome: FlinkRequestOutcome): void;
}

/** What the collector reports about itself. */
export interface CollectorObserver {
  observeTickDuration(seconds: number): void;
  observeTickSkipped(): void;
  observeSamplesDropped(reason: SampleDropReason, count: number): void;
  setTargetCounts(counts: Readonly<Record<CollectorTargetState, number>>): void;
}

export type CollectorMetrics = FlinkRequestObserver & CollectorObserver;

/** Registers the Flink and collector metrics on `registry`. */
export function createCollectorMetrics(registry: Registry): CollectorMetrics {
  const requests = new Counter({
    name: 'slotscaler_flink_requests_total',
    help: 'HTTP requests to Flink JobManagers, by endpoint and outcome (each retry counts)',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [registry],
  });
  const tickDuration = new Histogram({
    name: 'slotscaler_collector_tick_duration_seconds',
    help: 'Duration of one collector tick over all targets',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60],
    registers: [registry],
  });
  const ticksSkipped = new Counter({
    name: 'slotscaler_collector_ticks_skipped_total',
    help: 'Ticks skipped because the previous tick was still running',
    registers: [registry],
  });
  const samplesDropped = new Counter({
    name: 'slotscaler_collector_samples_dropped_total',
    help: 'Samples removed from metric windows before they aged out, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const targets = new Gauge({
    name: 'slotscaler_collector_targets',
    help: 'Targets the collector polls, by state of their last tick',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  return {
    observeFlinkRequest: (endpoint, outcome) => requests.inc({ endpoint, outcome }),
    observeTickDuration: (seconds) => tickDuration.observe(seconds),
    observeTickSkipped: () => ticksSkipped.inc(),
    observeSamplesDropped: (reason, count) => {
      if (count > 0) samplesDropped.inc({ reason }, count);
    },
    setTargetCounts: (counts) => {
      for (const [state, count] of Object.entries(counts)) targets.set({ state }, count);
    },
  };
}
