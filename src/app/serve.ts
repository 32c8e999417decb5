/**
 * `slotscaler serve`, composed: the scaler (watch, collect, decide, write), the external metrics
 * API over its targets, and our own Prometheus metrics. Every replica collects and serves; only
 * the leader writes (targets, and the APIService's caBundle of a self-signed certificate). Every
 * Kubernetes request goes through the scaler's one client: one user agent, one timeout, one count.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';

import type { LoadedConfig } from '../config/load.js';
import { startScaler } from '../runtime/start-scaler.js';
import type { Scaler } from '../runtime/start-scaler.js';
import {
  KubernetesAuthenticationConfigSource,
  KubernetesSubjectAccessReviewer,
  KubernetesTokenReviewer,
} from '../kube/auth-reviews.js';
import { metricsApiSettingsFromConfig } from '../metrics-api/options.js';
import { startMetricsApiServer } from '../metrics-api/server.js';
import type { MetricsApiAuthOptions, MetricsApiServer } from '../metrics-api/server.js';
import { TargetsCustomMetricsProvider } from '../metrics-api/custom-provider.js';
import { TargetsMetricsProvider } from '../metrics-api/targets-provider.js';
import { writeApiServiceCaBundle } from '../kube/api-service.js';
import type { Logger } from '../observability/logger.js';
import { registerProcessMetrics } from '../observability/metrics.js';
import { startMetricsHttpServer } from '../observability/metrics-server.js';
import type { MetricsHttpServer } from '../observability/metrics-server.js';
import { SLOTSCALER_VERSION } from '../version.js';

export interface ServeOptions {
  readonly loaded: LoadedConfig;
  /** A kubeconfig file; by default in-cluster, $KUBECONFIG or ~/.kube/config. */
  readonly kubeconfigPath?: string | undefined;
  readonly logger: Logger;
  /** Listen address of both servers; default every address. */
  readonly host?: string;
  /** Overrides the configured ports (tests use 0). */
  readonly metricsApiPort?: number;
  readonly metricsPort?: number;
  readonly identity?: string;
}

export interface Serving {
  readonly scaler: Scaler;
  readonly metricsApi: MetricsApiServer;
  readonly metricsHttp: MetricsHttpServer;
  stop(): Promise<void>;
}

/** How often the leader checks that the APIService trusts this replica's self-signed CA. */
const CA_BUNDLE_CHECK_MS = 30_000;

export async function startServe(options: ServeOptions): Promise<Serving> {
  const { loaded, logger } = options;
  logger.info({ version: SLOTSCALER_VERSION, node: process.version }, 'slotscaler starting');
  const settings = metricsApiSettingsFromConfig(loaded.config);
  const kubeConfig = new KubeConfig();
  if (options.kubeconfigPath === undefined) kubeConfig.loadFromDefault();
  else kubeConfig.loadFromFile(options.kubeconfigPath);

  const registry = new Registry();
  registerProcessMetrics(registry, { version: SLOTSCALER_VERSION, nodeVersion: process.version });

  const scaler = await startScaler({
    loaded,
    kubeConfig,
    logger,
    metricsRegistry: registry,
    ...(options.identity === undefined ? {} : { identity: options.identity }),
  });
  const stops: (() => Promise<void>)[] = [() => scaler.stop()];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse())
      await stop().catch((err: unknown) => logger.error({ err }, 'stop failed'));
  };

  try {
    let auth: MetricsApiAuthOptions;
    if (settings.authenticationDisabled) {
      auth = { disabled: true };
    } else {
      const configSource = new KubernetesAuthenticationConfigSource(
        scaler.client,
        logger.child({ component: 'authn-config' }),
      );
      await configSource.start();
      stops.push(() => configSource.stop());
      auth = {
        configSource,
        tokenReviewer: new KubernetesTokenReviewer(scaler.client),
        subjectAccessReviewer: new KubernetesSubjectAccessReviewer(scaler.client),
      };
    }
    const metricsApi = await startMetricsApiServer({
      provider: new TargetsMetricsProvider(scaler, () => Date.now()),
      customProvider: new TargetsCustomMetricsProvider(scaler, () => Date.now(), scaler.podMetricsDemand),
      tls: settings.tls,
      limits: settings.limits,
      tlsMinVersion: settings.tlsMinVersion,
      http2: settings.http2,
      ...(settings.tlsCiphers === undefined ? {} : { tlsCiphers: settings.tlsCiphers }),
      auth,
      ...(settings.upstream === undefined ? {} : { upstream: settings.upstream }),
      port: options.metricsApiPort ?? settings.port,
      ...(options.host === undefined ? {} : { host: options.host }),
      readiness: () => scaler.collector.readiness(),
      registry,
      logger: logger.child({ component: 'metrics-api' }),
    });
    stops.push(() => metricsApi.close());

    const metricsHttp = await startMetricsHttpServer({
      registry,
      port: options.metricsPort ?? settings.metricsPort,
      ...(options.host === undefined ? {} : { host: options.host }),
      logger,
    });
    stops.push(() => metricsHttp.close());

    const caPem = metricsApi.caPem;
    if (settings.writeApiServiceCaBundle && caPem !== undefined) {
      const writeCaInto = async (name: string, absentOk: boolean): Promise<void> => {
        try {
          const result = await writeApiServiceCaBundle(scaler.client, name, caPem, { absentOk });
          if (result === 'patched') logger.info({ apiService: name }, 'wrote our CA into the APIService');
        } catch (err) {
          logger.warn({ err, apiService: name }, 'cannot write our CA into the APIService');
        }
      };
      const writeCa = async (): Promise<void> => {
        if (!scaler.leader.isLeader()) return;
        await writeCaInto(settings.apiServiceName, false);
        // The custom metrics API is registered only where Slotscaler serves it.
        await writeCaInto(settings.customApiServiceName, true);
      };
      await writeCa();
      const timer = setInterval(() => void writeCa(), CA_BUNDLE_CHECK_MS);
      timer.unref();
      stops.push(() => {
        clearInterval(timer);
        return Promise.resolve();
      });
    }

    logger.info(
      { metricsApiPort: metricsApi.port, metricsPort: metricsHttp.port, identity: scaler.identity },
      'slotscaler is serving',
    );
    return { scaler, metricsApi, metricsHttp, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
