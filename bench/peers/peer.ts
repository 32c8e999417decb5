/**
 * The peer of the benchmark: flink-autoscaler-standalone (Apache Flink Kubernetes Operator) built
 * by bench/peers/build.sh from its release source, run as its own JVM against a JobManager URL.
 * It reads the JobManager's REST API every control-loop interval and rescales in place through
 * the adaptive scheduler's `PUT /jobs/{jid}/resource-requirements` (its RescaleApiScalingRealizer).
 *
 * The knobs both autoscalers share are written once (`ScalingKnobs`) and turned into the peer's
 * `job.autoscaler.*` options and Slotscaler's annotations, so the two runs differ only where the
 * systems do.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/** The knobs both systems have, in the units both understand. */
export interface ScalingKnobs {
  /** Metrics window: the peer's `job.autoscaler.metrics.window`, Slotscaler's `metrics-window`. */
  readonly metricsWindowSeconds: number;
  /** No metrics this long after a (re)start: `stabilization.interval`, `metrics-hold-after-restart`. */
  readonly stabilizationSeconds: number;
  /** A backlog is to be drained within this long: `catch-up.duration`, `catch-up-duration`. */
  readonly catchUpSeconds: number;
  /** Scale down only after this long: `scale-down.interval`, `scale-down-stabilization`. */
  readonly scaleDownSeconds: number;
  /** `utilization.target`; Slotscaler's default metric target `flink_demand_ratio=<this>`. */
  readonly targetUtilization: number;
  /** `vertex.max-parallelism`; Slotscaler's `max-parallelism` (and its TaskManagers to match). */
  readonly maxParallelism: number;
  /** `autoscaler.standalone.control-loop.interval`; Slotscaler's `--tick-interval`. */
  readonly loopSeconds: number;
}

/** The peer's configuration for these knobs, as `--key value` pairs of its entrypoint. */
export function peerOptions(knobs: ScalingKnobs, jobManager: URL): Record<string, string> {
  return {
    'autoscaler.standalone.fetcher.flink-cluster.host': jobManager.hostname,
    'autoscaler.standalone.fetcher.flink-cluster.port': jobManager.port,
    'autoscaler.standalone.control-loop.interval': `${knobs.loopSeconds}s`,
    'job.autoscaler.enabled': 'true',
    'job.autoscaler.scaling.enabled': 'true',
    'job.autoscaler.metrics.window': `${knobs.metricsWindowSeconds}s`,
    'job.autoscaler.stabilization.interval': `${knobs.stabilizationSeconds}s`,
    'job.autoscaler.catch-up.duration': `${knobs.catchUpSeconds}s`,
    'job.autoscaler.scale-down.interval': `${knobs.scaleDownSeconds}s`,
    'job.autoscaler.utilization.target': String(knobs.targetUtilization),
    'job.autoscaler.vertex.max-parallelism': String(knobs.maxParallelism),
  };
}

/** Slotscaler's annotations for the same knobs, on a job of `slots` slots per TaskManager. */
export function slotscalerAnnotations(
  knobs: ScalingKnobs,
  slots: number,
  jobManagerUrl: string,
): Record<string, string> {
  return {
    'slotscaler.dev/enabled': 'true',
    'slotscaler.dev/jobmanager-url': jobManagerUrl,
    'slotscaler.dev/rescale': 'in-place',
    'slotscaler.dev/metrics': `flink_demand_ratio=${knobs.targetUtilization}`,
    'slotscaler.dev/metrics-window': `${knobs.metricsWindowSeconds}s`,
    'slotscaler.dev/metrics-hold-after-restart': `${knobs.stabilizationSeconds}s`,
    'slotscaler.dev/catch-up-duration': `${knobs.catchUpSeconds}s`,
    'slotscaler.dev/scale-down-stabilization': `${knobs.scaleDownSeconds}s`,
    'slotscaler.dev/max-parallelism': String(knobs.maxParallelism),
    'slotscaler.dev/max-taskmanagers': String(Math.ceil(knobs.maxParallelism / slots)),
  };
}

export interface PeerBuild {
  readonly jar: string;
  readonly tag: string;
  readonly source: string;
}

/** Runs build.sh (a no-op once the jar is cached) and returns the jar's path. */
export function buildPeer(): PeerBuild {
  const source =
    process.env['SLOTSCALER_PEER_SOURCE'] ?? 'https://github.com/apache/flink-kubernetes-operator';
  const tag = process.env['SLOTSCALER_PEER_TAG'] ?? 'release-1.15.0';
  const result = spawnSync('bash', [join(repoRoot, 'bench/peers/build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  const jar = result.stdout.trim().split('\n').at(-1) ?? '';
  if (result.status !== 0 || jar === '')
    throw new Error(`bench/peers/build.sh failed (exit ${String(result.status)})`);
  return { jar, tag, source };
}

export interface PeerProcess {
  readonly logPath: string;
  /** Lines of its log that report a scaling decision (its ScalingReport / "Scaling vertices"). */
  decisions(): readonly string[];
  stop(): Promise<void>;
}

/** Starts the standalone autoscaler against `jobManager` (the counting proxy's URL). */
export async function startPeer(
  build: PeerBuild,
  knobs: ScalingKnobs,
  jobManager: URL,
  logDir: string,
): Promise<PeerProcess> {
  await mkdir(logDir, { recursive: true });
  const logPath = join(logDir, `peer-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  const log = createWriteStream(logPath);
  log.on('error', () => undefined);
  const args = [
    '-Xmx512m',
    '--add-opens=java.base/java.lang=ALL-UNNAMED',
    '--add-opens=java.base/java.util=ALL-UNNAMED',
    '--add-opens=java.base/java.time=ALL-UNNAMED',
    '-jar',
    build.jar,
    ...Object.entries(peerOptions(knobs, jobManager)).flatMap(([key, value]) => [`--${key}`, value]),
  ];
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const decisions: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer): void => {
    log.write(chunk);
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (/ScalingReport|Scaling vertices|Rescal/i.test(line)) decisions.push(line);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((done) => child.once('close', () => done()));
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  return {
    logPath,
    decisions: () => decisions,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await new Promise<void>((done) => log.end(() => done()));
    },
  };
}
