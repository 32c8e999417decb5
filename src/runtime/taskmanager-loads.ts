/**
 * The Pods metrics' collection: after each collector tick, for the targets whose Pods metrics were
 * read lately (`PodMetricsDemand`) and only those, one call per vertex for the per-TaskManager
 * counters (src/flink/taskmanager-load.ts) and one pod LIST per namespace; each TaskManager's ratios
 * since the previous tick go to the pod it runs in. Every other target keeps the collector's budget
 * (1 + one call per source vertex per tick).
 *
 * A TaskManager is matched to a pod by its resource id (the pod name under Flink's native
 * Kubernetes integration; `<pod IP>:<port>-<suffix>` in standalone mode) or by its host (the pod IP,
 * the pod name, or a DNS name starting with either).
 */
import type { PodFacts, PodLister, PodMetricsDemand, Clock, FlinkClient } from '../domain/ports.js';
import type { ServedPod } from '../domain/metrics.js';
import type { RegisteredTarget } from '../kube/target-registry.js';
import { readTaskManagerTimes, taskManagerLoads } from '../flink/taskmanager-load.js';
import type { TaskManagerLoad, TaskManagerTimesSample } from '../flink/taskmanager-load.js';
import { POD_METRICS } from '../metrics/catalogue.js';
import type { WindowReadings } from '../metrics/metric-window.js';
import type { Logger } from '../observability/logger.js';

/** A target as the Pods metrics' collection needs it. */
export interface PodMetricsTarget {
  readonly id: string;
  readonly namespace: string;
  readonly jobManagerUrl: string;
  /** How long its figures may be served (`metrics-max-age`). */
  readonly maxSampleAgeSeconds: number;
}

/** A registered target whose JobManager can be read; null otherwise. */
export function podMetricsTargetOf(target: RegisteredTarget): PodMetricsTarget | null {
  if (target.state !== 'ready') return null;
  return {
    id: target.id,
    namespace: target.ref.namespace,
    jobManagerUrl: target.view.jobManagerUrl,
    maxSampleAgeSeconds: target.parsed.config.metricsMaxAge,
  };
}

/** Whether a TaskManager runs in a pod: by resource id, else by host (see the file comment). */
export function runsIn(taskManager: Pick<TaskManagerLoad, 'taskManagerId' | 'host'>, pod: PodFacts): boolean {
  const { taskManagerId } = taskManager;
  if (taskManagerId === pod.name) return true;
  if (pod.podIp !== null && taskManagerId.startsWith(`${pod.podIp}:`)) return true;
  const host = taskManager.host.replace(/:\d+$/, '');
  if (host === pod.name || host.startsWith(`${pod.name}.`)) return true;
  if (pod.podIp === null) return false;
  // A reverse lookup gives `10-244-1-5.<service>...` for pod 10.244.1.5.
  return host === pod.podIp || host.startsWith(`${pod.podIp.replaceAll('.', '-')}.`);
}

/** The pods of the loads, with their Pods metrics; a TaskManager without a pod is left out. */
export function servedPodsOf(
  loads: readonly TaskManagerLoad[],
  pods: readonly PodFacts[],
  sampled: { readonly fromMs: number; readonly toMs: number; readonly maxSampleAgeSeconds: number },
): readonly ServedPod[] {
  const served: ServedPod[] = [];
  for (const load of loads) {
    const pod = pods.find((candidate) => runsIn(load, candidate));
    if (pod === undefined) continue;
    const values = {
      flink_taskmanager_busy_ratio: load.busyRatio,
      flink_taskmanager_backpressure_ratio: load.backPressureRatio,
    };
    served.push({
      name: pod.name,
      labels: pod.labels,
      timestampMs: sampled.toMs,
      windowSeconds: Math.max(1, Math.round((sampled.toMs - sampled.fromMs) / 1000)),
      freshUntilMs: sampled.toMs + sampled.maxSampleAgeSeconds * 1000,
      metrics: Object.fromEntries(
        POD_METRICS.map(({ name }) => {
          const value = values[name];
          return [
            name,
            value === null
              ? {
                  unavailable: 'not-enough-samples',
                  detail: 'no counters of its subtasks in two consecutive ticks',
                }
              : { value },
          ];
        }),
      ),
    });
  }
  return served;
}

export interface TaskManagerLoadsDependencies {
  readonly clientFor: (jobManagerUrl: string) => FlinkClient;
  readonly pods: PodLister;
  readonly demand: PodMetricsDemand;
  /** A target's window readings (its job and vertices as of the collector's tick). */
  readonly readings: (targetId: string, nowMs: number) => WindowReadings | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The per-TaskManager figures of the targets whose Pods metrics are read, tick after tick. */
export class TaskManagerLoadCollector {
  private readonly samples = new Map<string, TaskManagerTimesSample>();
  private readonly served = new Map<string, readonly ServedPod[]>();

  constructor(private readonly deps: TaskManagerLoadsDependencies) {}

  /** The pods of a target as of the last tick; undefined when its Pods metrics are not collected. */
  pods(targetId: string): readonly ServedPod[] | undefined {
    return this.served.get(targetId);
  }

  /** One pass after the collector's tick. Never throws: a target that fails keeps what it had. */
  async tick(targets: readonly PodMetricsTarget[]): Promise<void> {
    const { clock, demand } = this.deps;
    const nowMs = clock.nowMs();
    const wanted = targets.filter((target) => demand.wanted(target.id, nowMs));
    const wantedIds = new Set(wanted.map((target) => target.id));
    for (const id of [...this.samples.keys(), ...this.served.keys()]) {
      if (wantedIds.has(id)) continue;
      this.samples.delete(id);
      this.served.delete(id);
    }
    if (wanted.length === 0) return;
    const podsByNamespace = new Map<string, Promise<readonly PodFacts[]>>();
    const podsOf = (namespace: string): Promise<readonly PodFacts[]> => {
      let pods = podsByNamespace.get(namespace);
      if (pods === undefined) {
        pods = this.deps.pods.runningPods(namespace);
        podsByNamespace.set(namespace, pods);
      }
      return pods;
    };
    await Promise.all(wanted.map((target) => this.collect(target, podsOf, nowMs)));
  }

  private async collect(
    target: PodMetricsTarget,
    podsOf: (namespace: string) => Promise<readonly PodFacts[]>,
    nowMs: number,
  ): Promise<void> {
    const readings = this.deps.readings(target.id, nowMs);
    if (readings?.jobId === null || readings === undefined || readings.vertices.length === 0) return;
    try {
      const current = await readTaskManagerTimes(
        this.deps.clientFor(target.jobManagerUrl),
        readings.jobId,
        readings.vertices.map((vertex) => vertex.id),
        () => this.deps.clock.nowMs(),
      );
      const previous = this.samples.get(target.id);
      this.samples.set(target.id, current);
      if (previous === undefined) return;
      const loads = taskManagerLoads(previous, current);
      const pods = await podsOf(target.namespace);
      this.served.set(
        target.id,
        servedPodsOf(loads, pods, {
          fromMs: previous.takenAtMs,
          toMs: current.takenAtMs,
          maxSampleAgeSeconds: target.maxSampleAgeSeconds,
        }),
      );
    } catch (err) {
      this.deps.logger.warn(
        { err, target: target.id },
        'cannot read the per-TaskManager figures of the Pods metrics',
      );
    }
  }
}
