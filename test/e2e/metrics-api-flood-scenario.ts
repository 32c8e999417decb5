/**
 * The set-up the flood test and the flood benchmark share: the real control plane (kube-apiserver
 * with its aggregator, the HPA controller), `slotscaler serve` registered as the external metrics
 * APIService, one FlinkDeployment whose JobManager is a fake (a steady job, 40 % busy) and an HPA
 * reading `flink_busy_ratio` for it; plus reads through the aggregator, timed, as the HPA controller
 * makes them (`GET /apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>?labelSelector=`).
 */
import { readFile } from 'node:fs/promises';
import { Agent, request as httpsRequest } from 'node:https';

import { startServe } from '../../src/app/serve.js';
import type { Serving } from '../../src/app/serve.js';
import type { Logger } from '../../src/observability/logger.js';
import { FakeJobManagerServer, typicalJob } from '../fakes/fake-jobmanager.js';
import { flinkDeploymentYaml, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { applyYaml, expectOk, externalMetricsApiServiceYaml, waitFor } from './harness/kube.js';
import { fastConfig } from './scaler-helpers.js';

const NAMESPACE = 'flood';
const TARGET = 'steady';
const HPA = 'steady';

/** One read through the aggregator. */
export interface TimedRead {
  readonly ok: boolean;
  readonly ms: number;
  /** The HTTP status, or 0 when there was no answer. */
  readonly status: number;
  /** Why it failed (empty when ok). */
  readonly detail: string;
}

/** A series of reads: latencies in ms of all of them, and the failures. */
export interface ReadSeries {
  readonly reads: number;
  readonly succeeded: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly failures: readonly TimedRead[];
}

export interface FloodScenario {
  readonly env: Environment;
  readonly serving: Serving;
  /** The metrics API's port (the one the flood is aimed at). */
  readonly metricsApiPort: number;
  /** The path of the HPA's read, through the API server. */
  readonly readPath: string;
  read(): Promise<TimedRead>;
  /** `count` reads, one every `intervalMs` (sequential: a slow read delays the next). */
  measureReads(count: number, intervalMs: number): Promise<ReadSeries>;
  /** Warning Events of the HPA so far, by reason (FailedGetExternalMetric...), counts summed. */
  hpaWarnings(): Promise<Record<string, number>>;
  /** Slotscaler's own Prometheus text (/metrics). */
  scrape(): Promise<string>;
  stop(): Promise<void>;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export function summarize(reads: readonly TimedRead[]): ReadSeries {
  const sorted = reads.map((read) => read.ms).sort((a, b) => a - b);
  return {
    reads: reads.length,
    succeeded: reads.filter((read) => read.ok).length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? 0,
    failures: reads.filter((read) => !read.ok),
  };
}

export async function startFloodScenario(options: {
  readonly logger: Logger;
  readonly log?: (message: string) => void;
}): Promise<FloodScenario> {
  const log = options.log ?? (() => undefined);
  const [env, jobManagers] = await Promise.all([
    startEnvironment({ flink: false, namespace: NAMESPACE, controlPlane: { hpaSyncPeriodSeconds: 5 }, log }),
    FakeJobManagerServer.start(),
  ]);
  let serving: Serving | undefined;
  let agent: Agent | undefined;
  try {
    const cp = env.controlPlane;
    const cluster = jobManagers.addCluster({
      name: TARGET,
      taskManagers: 1,
      slotsPerTaskManager: 2,
      jobs: [typicalJob({ name: TARGET, busyRatio: 0.4, parallelism: 2 })],
    });
    cluster.recordRequests = false;
    await env.applyYaml(
      flinkDeploymentYaml({
        name: TARGET,
        taskManagers: 1,
        slotsPerTaskManager: 2,
        annotations: {
          'slotscaler.dev/enabled': 'true',
          'slotscaler.dev/mode': 'metrics-only',
          'slotscaler.dev/jobmanager-url': cluster.url,
          'slotscaler.dev/metrics-window': '6s',
          // Long enough that a tick delayed by the flood does not leave the target without a value.
          'slotscaler.dev/metrics-max-age': '10m',
        },
      }),
    );
    serving = await startServe({
      loaded: fastConfig({
        tickInterval: '2s',
        writeApiServiceCaBundle: 'true',
        tlsSelfSignedHosts: 'slotscaler.default.svc,localhost,127.0.0.1',
      }),
      kubeconfigPath: env.kubeconfigPath,
      logger: options.logger,
      host: '127.0.0.1',
      metricsApiPort: 0,
      metricsPort: 0,
    });
    const port = serving.metricsApi.port;
    await applyYaml(cp, externalMetricsApiServiceYaml(port));
    await waitFor(
      'the APIService to trust our CA and be Available',
      async () => {
        const object = expectOk(
          await cp.request(
            'GET',
            '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io',
          ),
          'get APIService',
        ).body as {
          spec: { caBundle?: string };
          status?: { conditions?: { type: string; status: string }[] };
        };
        const available = object.status?.conditions?.find((c) => c.type === 'Available');
        return object.spec.caBundle !== undefined && available?.status === 'True' ? true : undefined;
      },
      { timeoutMs: 60_000 },
    );

    // The admin's own keep-alive connection to the API server, as the HPA controller keeps one.
    const [ca, cert, key] = await Promise.all([
      readFile(cp.caCertPath),
      readFile(cp.adminCertPath),
      readFile(cp.adminKeyPath),
    ]);
    agent = new Agent({ ca, cert, key, keepAlive: true, maxSockets: 4 });
    const readAgent = agent;
    const readPath = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/flink_busy_ratio?labelSelector=${encodeURIComponent(`target=${TARGET}`)}`;
    const read = (): Promise<TimedRead> =>
      new Promise((resolve) => {
        const started = performance.now();
        const done = (status: number, detail: string): void =>
          resolve({ ok: detail === '', ms: performance.now() - started, status, detail });
        const req = httpsRequest(
          new URL(readPath, cp.server),
          { agent: readAgent, headers: { Accept: 'application/json' }, timeout: 30_000 },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', (err) => done(res.statusCode ?? 0, err.message));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              if (res.statusCode !== 200) {
                done(res.statusCode ?? 0, text.slice(0, 300));
                return;
              }
              try {
                const list = JSON.parse(text) as { kind?: string; items?: { value?: string }[] };
                const value = list.items?.[0]?.value;
                done(
                  200,
                  list.kind === 'ExternalMetricValueList' && value !== undefined ? '' : text.slice(0, 300),
                );
              } catch (err) {
                done(200, `not JSON: ${(err as Error).message}`);
              }
            });
          },
        );
        req.once('timeout', () => req.destroy(new Error('no answer within 30 s')));
        req.once('error', (err) => done(0, err.message));
        req.end();
      });
    await waitFor('a value of flink_busy_ratio through the aggregator', async () =>
      (await read()).ok ? true : undefined,
    );

    await applyYaml(
      cp,
      `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: ${HPA}, namespace: ${NAMESPACE} }
spec:
  scaleTargetRef: { apiVersion: flink.apache.org/v1beta1, kind: FlinkDeployment, name: ${TARGET} }
  minReplicas: 1
  maxReplicas: 2
  metrics:
    - type: External
      external:
        metric: { name: flink_busy_ratio, selector: { matchLabels: { target: ${TARGET} } } }
        target: { type: Value, value: "10" }
`,
    );
    const hpaPath = `/apis/autoscaling/v2/namespaces/${NAMESPACE}/horizontalpodautoscalers/${HPA}`;
    await waitFor(
      'the HPA to read the metric (ScalingActive=True)',
      async () => {
        const status = (
          (await cp.request('GET', hpaPath)).body as {
            status?: { conditions?: { type: string; status: string }[] };
          }
        ).status;
        return status?.conditions?.some((c) => c.type === 'ScalingActive' && c.status === 'True') === true
          ? true
          : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );

    const metricsUrl = `http://127.0.0.1:${serving.metricsHttp.port}/metrics`;
    const started = serving;
    return {
      env,
      serving: started,
      metricsApiPort: port,
      readPath,
      read,
      measureReads: async (count, intervalMs) => {
        const reads: TimedRead[] = [];
        for (let i = 0; i < count; i++) {
          const next = performance.now() + intervalMs;
          reads.push(await read());
          const wait = next - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
        return summarize(reads);
      },
      hpaWarnings: async () => {
        const selector = encodeURIComponent(
          `involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=${HPA},type=Warning`,
        );
        const list = expectOk(
          await cp.request('GET', `/api/v1/namespaces/${NAMESPACE}/events?fieldSelector=${selector}`),
          'list the HPA Events',
        ).body as { items: { reason: string; count?: number; series?: { count?: number } }[] };
        const byReason: Record<string, number> = {};
        for (const event of list.items) {
          byReason[event.reason] = (byReason[event.reason] ?? 0) + (event.series?.count ?? event.count ?? 1);
        }
        return byReason;
      },
      scrape: async () => (await fetch(metricsUrl)).text(),
      stop: async () => {
        readAgent.destroy();
        await started.stop();
        await jobManagers.close();
        await env.stop();
      },
    };
  } catch (err) {
    agent?.destroy();
    await serving?.stop();
    await jobManagers.close();
    await env.stop();
    throw err;
  }
}
