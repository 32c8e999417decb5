/**
 * A real Flink for the e2e tests: a Flink 1.20 MiniCluster (JobManager REST API on 127.0.0.1,
 * adaptive scheduler) running one streaming job whose load a test steers at run time.
 *
 * The job (test/e2e/flink-workload, see its README.md): a FLIP-27 source reading a modelled
 * external queue -> rebalance -> a map costing `costMicros` per record -> a counting sink. The
 * queue is offered `recordsPerSecond` in total, split over the source subtasks; what the source
 * could not emit yet is its standard `pendingRecords` metric, and it survives rescales like a
 * broker's backlog would. One map subtask processes 1e6 / costMicros records per second, so a rate
 * above parallelism × that capacity makes the map busy and back-pressures the source. The job
 * checkpoints the source's read positions, so a restart reads again what came after the last
 * checkpoint; the sink counts records out per 100 ms and the records it saw before (reprocessed).
 *
 * The JVM is built by test/e2e/flink-workload/build.sh (Maven, cached under
 * ${SLOTSCALER_CACHE_DIR:-<repo>/.cache}) and started by its run.sh. It leaves no process behind:
 * stop() sends SIGTERM then SIGKILL, this process's 'exit' kills it, and the JVM exits by itself
 * when its standard input (a pipe from this process) closes, which covers this process being killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A workload that failed to build or start; the message names Flink and ends with the log tail. */
export class FlinkWorkloadError extends Error {
  override readonly name = 'FlinkWorkloadError';
}

export interface FlinkWorkloadOptions {
  /** TaskManagers at start (default 1). More can be started and stopped with setTaskManagers(). */
  readonly taskManagers?: number;
  /** Slots per TaskManager (default 2). */
  readonly slotsPerTaskManager?: number;
  /** The job's parallelism at start (default taskManagers × slotsPerTaskManager). */
  readonly parallelism?: number;
  /** The job's max parallelism (default 128). */
  readonly maxParallelism?: number;
  /** Records offered per second, over all source subtasks together (default 1000). */
  readonly recordsPerSecond?: number;
  /** The map's cost per record in microseconds (default 1000: 1000 records/s per map subtask). */
  readonly costMicros?: number;
  /** Partitions of the modelled queue (default 840, divisible by 1..8, 10, 12, 14, 15...). */
  readonly partitions?: number;
  /** Checkpoint interval in milliseconds (default 2000; 0: no checkpoints). */
  readonly checkpointIntervalMs?: number;
  /** Flink configuration overriding the workload's defaults, e.g. `{'heartbeat.timeout': '10000'}`. */
  readonly flinkConf?: Readonly<Record<string, string>>;
  /** Extra JVM options, e.g. `['-Dworkload.logLevel=INFO']` (no spaces inside one option). */
  readonly javaOptions?: readonly string[];
  /** How long the JVM may take to print its READY line (default 120 s). */
  readonly readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL (default 10 s). */
  readonly stopTimeoutMs?: number;
  /** Where build.sh caches Maven's repository and the build; default $SLOTSCALER_CACHE_DIR or <repo>/.cache. */
  readonly cacheDir?: string;
  /** Folder of the JVM's log file (default <cacheDir>/flink-workload/logs). */
  readonly logDir?: string;
}

/** GET /state of the control endpoint. The REST-derived fields are absent when the REST API failed. */
export interface WorkloadState {
  readonly recordsPerSecond: number;
  readonly costMicros: number;
  readonly partitions: number;
  /**
   * Records offered since the job first started; records read (the sum of the source's read
   * positions, which a restore from a checkpoint moves back); their difference.
   */
  readonly offeredRecords: number;
  readonly emittedRecords: number;
  readonly pendingRecords: number;
  /** Records out of the sink, every time one came out (replays included). */
  readonly recordsOut: number;
  /** Distinct records out of the sink: equals emittedRecords once nothing is in flight. */
  readonly distinctRecordsOut: number;
  /** Records that came out of the sink again (read again after a restore from a checkpoint). */
  readonly reprocessedRecords: number;
  readonly checkpointIntervalMillis: number;
  /** Redeploys done (POST /redeploy). */
  readonly redeploys: number;
  /** TaskManagers running in the MiniCluster (what setTaskManagers set). */
  readonly taskManagers: number;
  readonly slotsPerTaskManager: number;
  readonly jobId: string;
  readonly maxParallelism: number;
  readonly restPort: number;
  readonly restUrl: string;
  readonly jobState?: string;
  readonly vertices?: readonly { id: string; name: string; parallelism: number; status: string }[];
  /** The highest vertex parallelism (all vertices have the same here). */
  readonly parallelism?: number;
  /** TaskManagers registered at the ResourceManager (GET /overview). */
  readonly taskManagersRegistered?: number;
  readonly slotsTotal?: number;
  readonly slotsAvailable?: number;
  readonly restError?: string;
}

/** `GET|PUT /jobs/{jid}/resource-requirements` bodies, by vertex id. */
export type ResourceRequirements = Readonly<
  Record<string, { readonly parallelism: { readonly lowerBound: number; readonly upperBound: number } }>
>;

/** What POST /rescale did: the PUT it sent to Flink, and the requirements before. */
export interface RescaleReport {
  readonly method: string;
  readonly parallelism: number;
  readonly previous: ResourceRequirements;
  readonly requested: ResourceRequirements;
}

/** What POST /redeploy did: the stopped job, its savepoint, the new cluster and job. */
export interface RedeployReport {
  readonly previousJobId: string;
  readonly jobId: string;
  readonly savepointPath: string;
  readonly parallelism: number;
  readonly overrides: Readonly<Record<string, number>>;
  readonly taskManagers: number;
  readonly delayMillis: number;
  /** From the stop request to the job finished with its savepoint. */
  readonly stopMillis: number;
  /** Closing the MiniCluster (JobManager components and TaskManagers) after the stop. */
  readonly closeMillis: number;
  /** Starting the new MiniCluster (after the delay) until its REST endpoint and TaskManagers are up. */
  readonly clusterStartMillis: number;
  /** From the stop request to every vertex of the new job RUNNING. */
  readonly runningMillis: number;
}

/** What a redeploy resubmits the job with. */
export interface RedeployRequest {
  readonly parallelism: number;
  /** Vertex id to parallelism, as `pipeline.jobvertex-parallelism-overrides` holds them. */
  readonly overrides?: Readonly<Record<string, number>>;
  readonly taskManagers: number;
  /**
   * Wait between closing the old MiniCluster and starting the new one, standing for what a
   * MiniCluster in this JVM cannot spend: pod scheduling, image pull and JVM start.
   */
  readonly delayMs?: number;
}

/**
 * What came out of the sink between two moments: records per `bucketMillis` (the first bucket
 * starting at `startMillis`), and every pause of at least `minSilenceMillis` between two records
 * (wall clock, clipped to the window asked for; one still going on ends now).
 */
export interface OutputTimeline {
  readonly bucketMillis: number;
  readonly startMillis: number;
  readonly counts: readonly number[];
  readonly minSilenceMillis: number;
  readonly silences: readonly { readonly startMillis: number; readonly endMillis: number }[];
}

/**
 * The output gap: the longest time with no record out of the sink, in seconds. What a rescale
 * costs the job's consumers, as they see it. Taken from the pauses between records, not from the
 * buckets: an in-place restart on a MiniCluster can be shorter than one bucket.
 */
export function longestOutputGapSeconds(timeline: Pick<OutputTimeline, 'silences'>): number {
  let longest = 0;
  for (const silence of timeline.silences)
    longest = Math.max(longest, silence.endMillis - silence.startMillis);
  return longest / 1000;
}

export interface FlinkWorkload {
  /**
   * The JobManager REST API, e.g. `http://127.0.0.1:41234`. A redeploy's new MiniCluster binds the
   * same port (it refuses connections in between), as a JobManager Service keeps its address.
   */
  readonly restUrl: string;
  /** The workload's control endpoint, e.g. `http://127.0.0.1:41235`. */
  readonly controlUrl: string;
  /** The running job's id; a redeploy changes it. */
  readonly jobId: string;
  /** The JVM's stdout and stderr (Flink logs at WARN, the adaptive scheduler and JobMaster at INFO). */
  readonly logPath: string;
  readonly pid: number;
  /** Milliseconds from spawning the JVM to its READY line (job RUNNING). */
  readonly startupMs: number;
  /** Changes the offered rate (records per second, all source subtasks together). */
  setRate(recordsPerSecond: number): Promise<WorkloadState>;
  /** Changes the map's cost per record (microseconds). */
  setCost(microsPerRecord: number): Promise<WorkloadState>;
  /**
   * Starts or stops TaskManagers (newest first) until `count` run; resolves once done. With
   * `idleOnly` it stops only TaskManagers running no task (and may leave more than `count`).
   */
  setTaskManagers(count: number, options?: { readonly idleOnly?: boolean }): Promise<WorkloadState>;
  /**
   * Sets every vertex's parallelism bounds to [1, parallelism] through Flink's
   * `PUT /jobs/{jid}/resource-requirements`; the adaptive scheduler restarts the job at the new
   * parallelism when the slots are there (poll GET /jobs/{jid} to see it happen).
   */
  rescale(parallelism: number): Promise<RescaleReport>;
  /**
   * A full upgrade, as the Apache operator's on an application in native mode: stop with a
   * savepoint, close the MiniCluster (dispatcher, ResourceManager, REST endpoint, TaskManagers),
   * wait `delayMs`, start a new one on the same REST port with `taskManagers` TaskManagers, submit
   * the job again from the savepoint (a new job id). Resolves once the new job runs. The offered
   * load, its backlog and the sink's counts stay: they stand for the world outside Flink.
   */
  redeploy(request: RedeployRequest): Promise<RedeployReport>;
  state(): Promise<WorkloadState>;
  /** Records out of the sink per 100 ms between two wall-clock moments (default: all so far). */
  outputTimeline(sinceMs?: number, untilMs?: number): Promise<OutputTimeline>;
  /** The longest time with no record out of the sink between two wall-clock moments, in seconds. */
  outputGapAround(sinceMs: number, untilMs: number): Promise<number>;
  /** The last lines of the JVM's log, for a failing test's message. */
  logTail(lines?: number): string;
  /** Stops the JVM (SIGTERM, then SIGKILL after stopTimeoutMs). Safe to call more than once. */
  stop(): Promise<void>;
}

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const workloadDir = join(repoRoot, 'test/e2e/flink-workload');
const readyMarker = 'SLOTSCALER_WORKLOAD_READY ';

const defaults = {
  readyTimeoutMs: 120_000,
  stopTimeoutMs: 10_000,
  buildTimeoutMs: 20 * 60_000,
  requestTimeoutMs: 30_000,
  /** A savepoint under backpressure waits for the buffers in flight; then the new job starts. */
  redeployTimeoutMs: 180_000,
  logTailLines: 60,
};

function cacheDirOf(options: { readonly cacheDir?: string }): string {
  return options.cacheDir ?? process.env['SLOTSCALER_CACHE_DIR'] ?? join(repoRoot, '.cache');
}

/** One build per cache folder and process: build.sh is cheap when nothing changed, but not free. */
const builds = new Map<string, Promise<void>>();

/**
 * Runs test/e2e/flink-workload/build.sh (Maven; skipped by the script itself when its inputs are
 * unchanged). Rejects with a {@link FlinkWorkloadError} carrying the build's output tail.
 */
export function buildFlinkWorkload(options: { readonly cacheDir?: string } = {}): Promise<void> {
  const cacheDir = cacheDirOf(options);
  let build = builds.get(cacheDir);
  if (build === undefined) {
    build = runBuild(cacheDir);
    builds.set(cacheDir, build);
    build.catch(() => builds.delete(cacheDir));
  }
  return build;
}

async function runBuild(cacheDir: string): Promise<void> {
  const output = new LineTail(defaults.logTailLines);
  const child = spawn('bash', [join(workloadDir, 'build.sh')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SLOTSCALER_CACHE_DIR: cacheDir },
  });
  child.stdout.on('data', (chunk: Buffer) => {
    output.push(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output.push(chunk);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), defaults.buildTimeoutMs);
  try {
    const { code, signal, error } = await exitOf(child);
    if (error !== undefined || code !== 0) {
      const how = error?.message ?? (signal === null ? `exit code ${String(code)}` : `signal ${signal}`);
      throw new FlinkWorkloadError(
        `Flink workload: build.sh failed (${how})\n--- build output ---\n${output.text()}`,
      );
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Builds the workload when needed, starts the JVM and resolves once the job is RUNNING (the JVM
 * prints its READY line only then). Rejects with a {@link FlinkWorkloadError} naming Flink, with
 * the log tail, when the JVM exits first or is not ready within readyTimeoutMs.
 */
export async function startFlinkWorkload(options: FlinkWorkloadOptions = {}): Promise<FlinkWorkload> {
  const cacheDir = cacheDirOf(options);
  await buildFlinkWorkload({ cacheDir });

  const logDir = options.logDir ?? join(cacheDir, 'flink-workload', 'logs');
  await mkdir(logDir, { recursive: true });
  const logPath = join(
    logDir,
    `workload-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.log`,
  );
  // Flink's blob store, TaskManager working folders and such: removed by stop().
  const javaTmpDir = await mkdtemp(join(tmpdir(), 'slotscaler-flink-'));
  installExitHook();
  temporaryDirs.add(javaTmpDir);

  const args = ['--exit-on-stdin-eof'];
  const numeric: readonly [string, number | undefined][] = [
    ['--task-managers', options.taskManagers],
    ['--slots-per-task-manager', options.slotsPerTaskManager],
    ['--parallelism', options.parallelism],
    ['--max-parallelism', options.maxParallelism],
    ['--records-per-second', options.recordsPerSecond],
    ['--cost-micros', options.costMicros],
    ['--partitions', options.partitions],
    ['--checkpoint-interval-ms', options.checkpointIntervalMs],
  ];
  for (const [flag, value] of numeric) if (value !== undefined) args.push(flag, String(value));
  for (const [key, value] of Object.entries(options.flinkConf ?? {})) args.push('--conf', `${key}=${value}`);
  const javaOptions = [`-Djava.io.tmpdir=${javaTmpDir}`, ...(options.javaOptions ?? [])];

  const log = createWriteStream(logPath, { flags: 'a' });
  log.on('error', () => undefined); // a full disk must not crash the test; the tail is in memory
  log.write(`$ run.sh ${args.join(' ')}  (SLOTSCALER_WORKLOAD_JAVA_OPTS=${javaOptions.join(' ')})\n`);
  const tail = new LineTail(defaults.logTailLines);
  const spawnedAt = Date.now();
  // run.sh execs java, so the child's pid is the JVM's.
  const child = spawn('bash', [join(workloadDir, 'run.sh'), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      SLOTSCALER_CACHE_DIR: cacheDir,
      SLOTSCALER_WORKLOAD_JAVA_OPTS: javaOptions.join(' '),
    },
  });
  const process_ = superviseJvm(child, log, tail);

  const cleanUp = async (): Promise<void> => {
    await process_.stop(options.stopTimeoutMs ?? defaults.stopTimeoutMs);
    await closeStream(log);
    await rm(javaTmpDir, { recursive: true, force: true });
    temporaryDirs.delete(javaTmpDir);
  };

  let ready: ReadyLine;
  try {
    ready = await waitForReady(process_, options.readyTimeoutMs ?? defaults.readyTimeoutMs);
  } catch (error) {
    await cleanUp();
    const why = error instanceof Error ? error.message : String(error);
    throw new FlinkWorkloadError(
      `Flink workload did not start: ${why}\n--- last ${defaults.logTailLines} lines of ${logPath} ---\n${tail.text()}`,
      { cause: error },
    );
  }
  const startupMs = Date.now() - spawnedAt;
  // From here on, a forgotten stop() must not keep the test process alive: the 'exit' hook and the
  // closed stdin end the JVM when this process ends.
  process_.unref();

  let stopping: Promise<void> | undefined;
  const control = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const init: RequestInit = {
      method,
      signal: AbortSignal.timeout(
        path === '/redeploy' ? defaults.redeployTimeoutMs : defaults.requestTimeoutMs,
      ),
      headers: { 'content-type': 'application/json' },
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(`${ready.controlUrl}${path}`, init);
    const text = await response.text();
    if (!response.ok) {
      throw new FlinkWorkloadError(`Flink workload: ${method} ${path} answered ${response.status}: ${text}`);
    }
    return JSON.parse(text) as T;
  };

  let jobId = ready.jobId;
  const outputTimeline = (sinceMs = 0, untilMs = Number.MAX_SAFE_INTEGER): Promise<OutputTimeline> =>
    control<OutputTimeline>('GET', `/output?sinceMs=${Math.floor(sinceMs)}&untilMs=${Math.ceil(untilMs)}`);
  return {
    restUrl: ready.restUrl,
    controlUrl: ready.controlUrl,
    get jobId() {
      return jobId;
    },
    logPath,
    pid: process_.pid,
    startupMs,
    setRate: (recordsPerSecond) => control<WorkloadState>('POST', '/rate', { recordsPerSecond }),
    setCost: (microsPerRecord) => control<WorkloadState>('POST', '/cost', { microsPerRecord }),
    setTaskManagers: (count, how) =>
      control<WorkloadState>('POST', '/taskmanagers', { count, idleOnly: how?.idleOnly ?? false }),
    rescale: (parallelism) => control<RescaleReport>('POST', '/rescale', { parallelism }),
    async redeploy(request) {
      const report = await control<RedeployReport>('POST', '/redeploy', {
        parallelism: request.parallelism,
        overrides: request.overrides ?? {},
        taskManagers: request.taskManagers,
        delayMs: request.delayMs ?? 0,
      });
      jobId = report.jobId;
      return report;
    },
    async state() {
      const state = await control<WorkloadState>('GET', '/state');
      jobId = state.jobId;
      return state;
    },
    outputTimeline,
    async outputGapAround(sinceMs, untilMs) {
      return longestOutputGapSeconds(await outputTimeline(sinceMs, untilMs));
    },
    logTail: (lines = defaults.logTailLines) => tail.text(lines),
    stop: () => (stopping ??= cleanUp()),
  };
}

// ---------------------------------------------------------------------------------------------
// The JVM process

interface ReadyLine {
  readonly restUrl: string;
  readonly controlUrl: string;
  readonly jobId: string;
}

interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

interface SupervisedJvm {
  readonly pid: number;
  /** Resolves with the READY line's JSON text, once. */
  readonly readyLine: Promise<string>;
  /** Resolves (never rejects) when the JVM has exited or could not be started. */
  readonly exited: Promise<ExitInfo>;
  unref(): void;
  stop(timeoutMs: number): Promise<void>;
}

/** JVMs still running and their temporary folders; killed and removed when this process exits. */
const running = new Set<ChildProcess>();
const temporaryDirs = new Set<string>();
let exitHookInstalled = false;

function onProcessExit(): void {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of temporaryDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort: the folder is under the OS temporary folder anyway
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', onProcessExit);
}

function superviseJvm(child: ChildProcess, log: WriteStream, tail: LineTail): SupervisedJvm {
  installExitHook();
  running.add(child);
  const exited = exitOf(child).then((info) => {
    running.delete(child);
    return info;
  });
  // The JVM exits when this pipe closes; writes are never made, but an EPIPE must not crash us.
  child.stdin?.on('error', () => undefined);

  let resolveReady: (json: string) => void = () => undefined;
  const readyLine = new Promise<string>((resolvePromise) => (resolveReady = resolvePromise));
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    tail.push(chunk);
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const at = line.indexOf(readyMarker);
      if (at >= 0) resolveReady(line.slice(at + readyMarker.length));
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    tail.push(chunk);
  });

  return {
    pid: child.pid ?? -1,
    readyLine,
    exited,
    unref: () => {
      child.unref();
      for (const stream of [child.stdin, child.stdout, child.stderr]) {
        if (stream instanceof Socket) stream.unref();
      }
    },
    stop: async (timeoutMs) => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        try {
          await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      await exited;
    },
  };
}

async function waitForReady(jvm: SupervisedJvm, timeoutMs: number): Promise<ReadyLine> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no READY line within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const early = jvm.exited.then((info): never => {
    if (info.error !== undefined) throw new Error(`java could not be started: ${info.error.message}`);
    const how = info.signal === null ? `with code ${String(info.code)}` : `by ${info.signal}`;
    throw new Error(`the JVM exited ${how} before it was ready`);
  });
  try {
    const json = await Promise.race([jvm.readyLine, early, deadline]);
    return parseReadyLine(json);
  } finally {
    clearTimeout(timer);
  }
}

function parseReadyLine(json: string): ReadyLine {
  const parsed: unknown = JSON.parse(json);
  if (typeof parsed === 'object' && parsed !== null) {
    const { restUrl, controlUrl, jobId } = parsed as Record<string, unknown>;
    if (typeof restUrl === 'string' && typeof controlUrl === 'string' && typeof jobId === 'string') {
      return { restUrl, controlUrl, jobId };
    }
  }
  throw new Error(`unexpected READY line: ${json}`);
}

function exitOf(child: ChildProcess): Promise<ExitInfo> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolvePromise({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    // 'close', not 'exit': it comes after stdout and stderr are drained, so nothing is written to
    // the log after it was closed.
    child.once('close', (code, signal) => {
      resolvePromise({ code, signal });
    });
    child.once('error', (error) => {
      // Only a failed spawn leaves no pid; other errors (a failed kill) are not an exit.
      if (child.pid === undefined) resolvePromise({ code: null, signal: null, error });
    });
  });
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolvePromise) =>
    stream.end(() => {
      resolvePromise();
    }),
  );
}

/** The last lines of a process's output, kept in memory (no flush race with the log file). */
class LineTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    const parts = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }

  text(lines = this.max): string {
    const all = this.partial === '' ? this.lines : [...this.lines, this.partial];
    return all.slice(-lines).join('\n');
  }
}

// ---------------------------------------------------------------------------------------------
// Reading Flink's REST API

/** GET `${restUrl}${path}` and parse the JSON; throws on a non-2xx answer (with its body). */
export async function flinkGet(restUrl: string, path: string): Promise<unknown> {
  const response = await fetch(`${restUrl}${path}`, {
    signal: AbortSignal.timeout(defaults.requestTimeoutMs),
  });
  const text = await response.text();
  if (!response.ok)
    throw new FlinkWorkloadError(`Flink REST GET ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as unknown;
}

/**
 * Calls `probe` every `intervalMs` until `accept` holds for its value, and returns that value.
 * A probe that throws counts as not yet (REST calls fail briefly while a job restarts). After
 * `timeoutMs` it throws, quoting the last value or error.
 */
export async function pollUntil<T>(
  description: string,
  timeoutMs: number,
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'nothing yet';
  for (;;) {
    try {
      const value = await probe();
      if (accept(value)) return value;
      last = JSON.stringify(value);
    } catch (error) {
      last = `error: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() >= deadline) throw new Error(`${description}: not within ${timeoutMs} ms; last: ${last}`);
    await new Promise((resolvePromise) => setTimeout(resolvePromise, intervalMs));
  }
}
