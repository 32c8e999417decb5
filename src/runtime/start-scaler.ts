/**
 * The scaler in the cluster, composed in one place: the Kubernetes client, the target registry
 * (informers), the collector over the targets' JobManagers, leader election, the writer with its
 * token bucket, Events, and the ticker that runs collect -> decide -> write every tick interval.
 * `slotscaler serve` calls `startScaler` and serves the metrics API next to it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';

import { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';

import { Collector, collectorTargetOf } from './collector.js';
import type { CollectorTarget } from './collector.js';
import { systemClock } from './clock.js';
import type { LoadedConfig } from '../config/load.js';
import type { MetricsSnapshot } from '../domain/metrics-snapshot.js';
import type { ServedTarget } from '../domain/metrics.js';
import type { Clock, PodMetricsDemand } from '../domain/ports.js';
import { FlinkHttpPool } from '../flink/rest-client.js';
import { silentLogger } from '../observability/logger.js';
import { createScalerMetrics, scalerMetricsSource } from './scaler-metrics.js';
import type { Logger } from '../observability/logger.js';
import { adaptersFor } from '../kube/adapters/index.js';
import { KubeEventRecorder } from '../kube/events.js';
import { HttpKubeClient } from '../kube/kube-client.js';
import type { KubeClient } from '../kube/kube-client.js';
import { alwaysLeader, LeaseElector } from '../kube/leader-election.js';
import type { LeaderState } from '../kube/leader-election.js';
import type { ResourceRef } from '../kube/objects.js';
import { renewDeadlineMs } from '../kube/lease.js';
import { ReplicaLeases } from '../kube/replica-leases.js';
import { ShardOwnership } from './shard-ownership.js';
import { PeerRecords } from './peer-records.js';
import { ScalingLoop } from './scaling-loop.js';
import type { RecommendationSource } from './scaling-loop.js';
import { SnapshotStore, snapshotTargetOf } from './snapshot.js';
import { TaskManagerLoadCollector, podMetricsTargetOf } from './taskmanager-loads.js';
import type { PodMetricsTarget } from './taskmanager-loads.js';
import { KubePodLister } from '../kube/pods.js';
import { RecentReads } from '../lib/recent-reads.js';
import type { SnapshotTarget } from './snapshot.js';
import { HpaIndex } from '../kube/hpa-index.js';
import { TargetRegistry } from '../kube/target-registry.js';
import type { RegisteredTarget, TargetSource } from '../kube/target-registry.js';
import { TokenBucket } from '../lib/token-bucket.js';
import { KubeScaleTargetWriter } from '../kube/writer.js';

export interface StartScalerOptions {
  /** The loaded global config (`loadConfig`). */
  readonly loaded: LoadedConfig;
  /** A kubeconfig file; by default the standard search (in-cluster service account, $KUBECONFIG, ~/.kube/config). */
  readonly kubeconfigPath?: string;
  /** Or a KubeConfig already loaded. */
  readonly kubeConfig?: KubeConfig;
  readonly logger?: Logger;
  /** This replica's name in the Lease and in Events; default $POD_NAME, else hostname + random suffix. */
  readonly identity?: string;
  readonly clock?: Clock;
  /** Shared with `slotscaler collect` and the metrics API, if the caller has one. */
  readonly flinkPool?: FlinkHttpPool;
  /** Where the scaler's Prometheus metrics go (collector, Flink and Kubernetes requests, per target, leader). */
  readonly metricsRegistry?: Registry;
  /** Overrides of the Kubernetes client (tests). */
  readonly kubeClient?: KubeClient;
}

export interface Scaler {
  /** Stops ticking, writes the status annotations (leader), releases the Lease, stops the watches. */
  stop(): Promise<void>;
  /** One tick now (collect, then decide), awaited; skipped when one is running. */
  tickNow(): Promise<void>;
  readonly identity: string;
  readonly registry: TargetRegistry;
  readonly collector: Collector;
  readonly loop: ScalingLoop;
  readonly leader: LeaderState;
  /** With `shards`: which targets this replica owns; undefined in the single-leader mode. */
  readonly ownership: ShardOwnership | undefined;
  /** `flink_recommended_taskmanagers` per target id. */
  readonly recommendations: RecommendationSource;
  /** The metrics of every target as of the latest tick, for the external metrics API's provider. */
  snapshot(): MetricsSnapshot;
  /** The records of `snapshot()` (of one namespace), for the per-target Prometheus gauges. */
  servedTargets(namespace?: string): readonly ServedTarget[];
  /** Where the custom metrics API marks the targets whose Pods metrics were read. */
  readonly podMetricsDemand: PodMetricsDemand;
  readonly events: KubeEventRecorder;
  readonly writer: KubeScaleTargetWriter;
  readonly client: KubeClient;
}

/** Where the other replicas reach this one: its pod IP ($POD_IP, from the downward API) and `peer-port`. */
function peerAddressOf(port: number): string {
  const host = process.env['POD_IP'] ?? '127.0.0.1';
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function defaultIdentity(): string {
  return process.env['POD_NAME'] ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
}

/** `group/version/plural` from the config into a resource reference. */
export function parseKind(text: string): ResourceRef {
  const [group = '', version = '', plural = ''] = text.split('/');
  return { group, version, plural, kind: '' };
}

export async function startScaler(options: StartScalerOptions): Promise<Scaler> {
  const { config, targetDefaults, describeKey } = options.loaded;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const identity = options.identity ?? defaultIdentity();
  let kubeConfig = options.kubeConfig;
  if (kubeConfig === undefined && options.kubeClient === undefined) {
    kubeConfig = new KubeConfig();
    if (options.kubeconfigPath === undefined) kubeConfig.loadFromDefault();
    else kubeConfig.loadFromFile(options.kubeconfigPath);
  }
  const metrics =
    options.metricsRegistry === undefined ? undefined : createScalerMetrics(options.metricsRegistry, clock);
  const httpClient =
    options.kubeClient === undefined && kubeConfig !== undefined
      ? new HttpKubeClient(kubeConfig, {
          requestTimeoutMs: config.kubeRequestTimeout * 1000,
          ...(metrics === undefined ? {} : { observer: metrics.kube }),
        })
      : undefined;
  const client: KubeClient = options.kubeClient ?? (httpClient as KubeClient);

  const tickMs = config.tickInterval * 1000;
  const ownPool = options.flinkPool === undefined;
  const observer = metrics?.collector;
  const pool =
    options.flinkPool ??
    new FlinkHttpPool(
      {
        requestTimeoutMs: config.flinkRequestTimeout * 1000,
        maxConcurrentRequests: config.flinkConcurrency,
        maxResponseBytes: config.flinkMaxResponseBytes,
      },
      observer === undefined ? {} : { observer },
    );
  // Pods metrics: per-TaskManager figures of the targets whose Pods metrics the metrics API was asked for lately.
  const podMetricsDemand = new RecentReads();
  const taskManagerLoads = new TaskManagerLoadCollector({
    clientFor: (url) => pool.clientFor(url),
    pods: new KubePodLister(client),
    demand: podMetricsDemand,
    readings: (id, nowMs) => collector.readings(id, nowMs),
    clock,
    logger: logger.child({ component: 'taskmanager-loads' }),
  });
  const collector = new Collector(
    {
      clientFor: (url) => pool.clientFor(url),
      clock,
      logger: logger.child({ component: 'collector' }),
      ...(observer === undefined ? {} : { observer }),
    },
    { intervalMs: tickMs, targetDeadlineMs: Math.max(1000, Math.min(12_000, tickMs * 0.8)) },
  );

  const registry: TargetRegistry = new TargetRegistry({
    client,
    adapters: adaptersFor(config.kinds.map(parseKind)),
    namespaces: config.namespaces,
    targetDefaults,
    describeDefaultKey: describeKey,
    logger: logger.child({ component: 'targets' }),
    onChange: () => {
      publishTargets();
    },
  });
  const hpas = new HpaIndex(client, config.namespaces, logger.child({ component: 'hpas' }));
  const leaseNamespace = config.leaseNamespace ?? process.env['POD_NAMESPACE'] ?? 'default';
  // With shards, each replica holds a Lease of its own and handles the targets the ring gives it.
  let ownership: ShardOwnership | undefined;
  // With shards and a peer certificate, the replicas hand each other the records of their targets.
  const sharesRecords = config.shards && config.peerTlsCertFile !== undefined;
  const replicaLeases = config.shards
    ? new ReplicaLeases({
        client,
        namespace: leaseNamespace,
        replicaSet: config.leaseName,
        identity,
        ...(sharesRecords ? { peerAddress: peerAddressOf(config.peerPort) } : {}),
        leaseDurationMs: config.leaseDuration * 1000,
        clock,
        logger: logger.child({ component: 'replica-leases' }),
        onChange: () => {
          ownership?.refresh();
          publishTargets();
        },
      })
    : undefined;
  if (replicaLeases !== undefined) {
    ownership = new ShardOwnership({
      membership: replicaLeases,
      identity,
      clock,
      // The former owner's fence: it stops writing within that long even if its watch stalled and
      // never showed it the joiner (a healthy watch tells it in far less).
      settleMs: renewDeadlineMs({ leaseDurationMs: config.leaseDuration * 1000 }),
      logger: logger.child({ component: 'shards' }),
    });
  }
  /** The targets this replica collects and plans: all of them, or with shards those the ring gives it. */
  const handled = (target: RegisteredTarget): boolean => ownership?.assigned(target.id) ?? true;
  const handledTargets: TargetSource = {
    list: () => (ownership === undefined ? registry.list() : registry.list().filter(handled)),
    get: (id) => registry.get(id),
  };
  /** The handled targets, to the collector (at start and whenever they or the ring change). */
  function publishTargets(): void {
    collector.setTargets(
      handledTargets
        .list()
        .map(collectorTargetOf)
        .filter((target): target is CollectorTarget => target !== null),
    );
  }

  const bucket = new TokenBucket(config.writeQps, config.writeBurst, clock);
  const writer = new KubeScaleTargetWriter(client, bucket, clock);
  const events = new KubeEventRecorder({
    client,
    bucket,
    clock,
    logger: logger.child({ component: 'events' }),
    identity,
    warningIntervalMs: config.warningEventInterval * 1000,
  });

  let elector: LeaseElector | undefined;
  const leader: LeaderState =
    ownership ??
    (config.leaderElect
      ? (elector = new LeaseElector({
          client,
          namespace: leaseNamespace,
          name: config.leaseName,
          identity,
          leaseDurationMs: config.leaseDuration * 1000,
          clock,
          logger: logger.child({ component: 'leader-election' }),
          onStartedLeading: () => {
            scalingLoop.reloadHistories();
          },
        }))
      : alwaysLeader);
  // One snapshot per tick: the loop plans on its readings, the metrics API serves it.
  const snapshots: SnapshotStore = new SnapshotStore({
    targets: () =>
      registry
        .list()
        .map(snapshotTargetOf)
        .filter((target): target is SnapshotTarget => target !== null),
    readings: (id, nowMs) => collector.readings(id, nowMs),
    pods: (id) => taskManagerLoads.pods(id),
    recommendations: { recommendation: (id) => scalingLoop.recommendation(id) },
    clock,
  });
  const scalingLoop: ScalingLoop = new ScalingLoop(
    {
      targets: handledTargets,
      metrics: snapshots,
      writer,
      events,
      leader,
      clock,
      logger,
      otherScalers: hpas,
      observer: metrics?.targets,
      jobManagers: (url) => pool.clientFor(url),
    },
    { dryRun: config.dryRun, statusAnnotation: config.statusAnnotation },
  );

  const owned = ownership;
  const peerRecords =
    sharesRecords && replicaLeases !== undefined && owned !== undefined
      ? new PeerRecords({
          identity,
          own: snapshots,
          owns: (id) => owned.assigned(id),
          peers: () => replicaLeases.peerAddresses(),
          tls: {
            certPem: readFileSync(config.peerTlsCertFile ?? '', 'utf8'),
            keyPem: readFileSync(config.peerTlsKeyFile ?? '', 'utf8'),
            caPem: readFileSync(config.peerTlsCaFile ?? '', 'utf8'),
          },
          port: config.peerPort,
          pollIntervalMs: tickMs / 2,
          requestTimeoutMs: config.kubeRequestTimeout * 1000,
          maxResponseBytes: 256 * 1024 * 1024,
          clock,
          logger: logger.child({ component: 'peer-records' }),
          ...(metrics === undefined ? {} : { observer: metrics.peers }),
        })
      : undefined;

  await Promise.all([registry.start(), hpas.start()]);
  await peerRecords?.start();
  publishTargets();
  await elector?.start();
  await replicaLeases?.start();

  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = (): Promise<void> => {
    if (running !== null || stopped) return running ?? Promise.resolve();
    running = (async () => {
      try {
        await collector.tick();
        await taskManagerLoads.tick(
          handledTargets
            .list()
            .map(podMetricsTargetOf)
            .filter((target): target is PodMetricsTarget => target !== null),
        );
        snapshots.collected();
        try {
          await scalingLoop.runOnce();
        } finally {
          // Even after a failed pass: the tick's metrics are served, with what the loop decided.
          snapshots.publish();
        }
      } catch (err) {
        logger.error({ err }, 'tick failed');
      }
    })().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => void tick(), tickMs);
  void tick();
  logger.info(
    {
      identity,
      tickIntervalSeconds: config.tickInterval,
      dryRun: config.dryRun,
      kinds: registry.watchedKinds(),
    },
    'scaler started',
  );

  const scaler: Scaler = {
    identity,
    registry: registry,
    collector,
    podMetricsDemand,
    loop: scalingLoop,
    leader,
    ownership,
    recommendations: scalingLoop,
    events,
    writer,
    client,
    tickNow: async () => {
      while (running !== null) await running;
      await tick();
    },
    // With shared records, the metrics API answers for every target; the gauges stay with the owner.
    snapshot: () => (peerRecords ?? snapshots).snapshot(),
    servedTargets(namespace?: string): readonly ServedTarget[] {
      const snapshot = snapshots.snapshot();
      return namespace === undefined ? snapshot.targets : snapshot.inNamespace(namespace);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      while (running !== null) await running;
      await collector.stop();
      try {
        await scalingLoop.flushStatus();
      } catch (err) {
        logger.warn({ err }, 'cannot write the status annotations at shutdown');
      }
      await Promise.race([events.flush(), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      await elector?.stop();
      await replicaLeases?.stop();
      await peerRecords?.stop();
      await Promise.all([registry.stop(), hpas.stop()]);
      if (ownPool) pool.close();
      httpClient?.close();
      logger.info({ identity }, 'scaler stopped');
    },
  };
  metrics?.targets.bind(scalerMetricsSource(scaler));
  return scaler;
}
