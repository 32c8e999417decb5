/**
 * External metrics API benchmark (a figure, not a test): metric reads over TLS with keep-alive
 * connections, as the HPA controller makes them through the aggregator (front-proxy client
 * certificate, X-Remote-User, a SubjectAccessReview answered by a fake and cached), 64 concurrent
 * clients each asking for a random one of 1,000 targets. The server is the real one with the real
 * provider over a published snapshot, built as the scaler builds it: from a real Collector's metric
 * windows after two ticks over a fleet of fake JobManagers (closed before the load starts), each
 * target with one expression metric and a recommendation.
 *
 * A baseline runs first in the same process, with the same certificates, clients and load
 * generator: an empty node:https handler that answers every read with the body our server gave
 * for it, looked up by URL. Its req/s is the ceiling of TLS and HTTP/1.1 in Node on this machine.
 *
 * Both protocols are measured. HTTP/1.1: the clients offer only HTTP/1.1, one request at a time on
 * each of --clients connections, against the server as configured by default. h2 (Go load
 * generator only): the clients offer h2 as the aggregator's proxy transport does (client-go
 * enables HTTP/2) and our server offers it too (`metrics-api-http2: true`), so the --clients
 * concurrent reads are streams of one connection; the baseline for that is an empty node:http2
 * handler (same TLS, same handler). Every row says which protocol was negotiated.
 *
 *   node --import tsx bench/metrics-api.bench.ts [--targets 1000] [--clients 64] [--seconds 10]
 *     [--rate 2000] [--load child|in-process]
 *
 * Two phases: `max` (every client sends its next request when the last one is answered: the
 * throughput ceiling) and `rate` (requests scheduled at --rate per second over the clients; latency
 * is measured from the scheduled time, so a server that falls behind is charged for the queue).
 * `--load child` (default) runs the clients in another process, so the CPU figure is the server's
 * own (on 2 cores the two processes still share the machine); `in-process` runs them in this one.
 * Prints a table (both servers) and writes bench-results-metrics-api.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { startMetricsApiServer } from '../src/metrics-api/server.js';
import { createCertificateAuthority, issueCertificate } from '../src/metrics-api/tls/certificates.js';
import { FakeAuthenticationConfigSource, FakeSubjectAccessReviewer } from '../test/fakes/auth.js';
import type { Clock } from '../src/domain/ports.js';
import { FlinkHttpPool } from '../src/flink/rest-client.js';
import { compileExpressionMetric } from '../src/metrics/expression-metric.js';
import { externalMetricValueList } from '../src/metrics-api/discovery.js';
import { parseLabelSelector } from '../src/metrics-api/label-selector.js';
import { TargetsMetricsProvider } from '../src/metrics-api/targets-provider.js';
import { Collector } from '../src/runtime/collector.js';
import { SnapshotStore } from '../src/runtime/snapshot.js';
import { startFleet } from './fake-fleet.js';

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

interface LoadOptions {
  readonly port: number;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly targets: number;
  readonly clients: number;
  readonly seconds: number;
  readonly rate: number;
  /** What the clients offer over ALPN: HTTP/1.1 only, or h2 and HTTP/1.1 (as the aggregator). */
  readonly protocol: Protocol;
}

type Protocol = 'http/1.1' | 'h2';

interface PhaseResult {
  readonly phase: 'max' | 'rate';
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** The protocol the responses came in (the Go load generator reports it; the Node one speaks HTTP/1.1). */
  readonly negotiated?: string;
  /** Connections the clients opened, warm-up included (Go load generator). */
  readonly connectionsOpened?: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** The clients: runs both phases, calling `onPhase` at each boundary (for the server's CPU clock). */
async function runLoad(
  options: LoadOptions,
  onPhase: (event: 'start' | 'end', phase: PhaseResult['phase']) => void,
): Promise<PhaseResult[]> {
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: options.clients,
    ca: readFileSync(options.caFile),
    cert: readFileSync(options.certFile),
    key: readFileSync(options.keyFile),
    servername: 'localhost',
    noDelay: true,
  });
  const headers = { 'X-Remote-User': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler' };
  const get = (target: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const request = https.request(
        {
          host: '127.0.0.1',
          port: options.port,
          path: `/apis/external.metrics.k8s.io/v1beta1/namespaces/flink/flink_busy_ratio?labelSelector=target%3Dtarget-${target}`,
          agent,
          headers,
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end();
    });
  const randomTarget = () => Math.floor(Math.random() * options.targets);

  // Warm up: open every connection, fill the review cache, let V8 optimize.
  const warmUntil = Date.now() + 2000;
  await Promise.all(
    Array.from({ length: options.clients }, async () => {
      while (Date.now() < warmUntil) await get(randomTarget());
    }),
  );

  const results: PhaseResult[] = [];
  for (const phase of ['max', 'rate'] as const) {
    const latencies: number[] = [];
    let errors = 0;
    onPhase('start', phase);
    const started = performance.now();
    const end = started + options.seconds * 1000;
    const intervalMs = 1000 / options.rate;
    await Promise.all(
      Array.from({ length: options.clients }, async (_, client) => {
        for (let k = 0; ; k++) {
          let from: number;
          if (phase === 'rate') {
            const scheduled = started + (k * options.clients + client) * intervalMs;
            if (scheduled >= end) return;
            const wait = scheduled - performance.now();
            if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
            // Late: charged from the scheduled time. Early (a timer may fire up to 1 ms early): from now.
            from = Math.min(performance.now(), scheduled);
          } else {
            from = performance.now();
            if (from >= end) return;
          }
          const code = await get(randomTarget()).catch(() => 0);
          if (code !== 200) errors++;
          latencies.push(performance.now() - from);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    onPhase('end', phase);
    latencies.sort((a, b) => a - b);
    results.push({
      phase,
      requests: latencies.length,
      errors,
      seconds,
      requestsPerSecond: latencies.length / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1) ?? 0,
    });
  }
  agent.destroy();
  return results;
}

if (process.argv.includes('--load-child')) {
  // The client process: options as JSON in argv, phase boundaries and results as lines on stdout.
  const options = JSON.parse(flag('load-child', '{}')) as LoadOptions;
  const results = await runLoad(options, (event, phase) => console.log(JSON.stringify({ event, phase })));
  console.log(JSON.stringify({ results }));
  process.exit(0);
}

const targets = Number(flag('targets', '1000'));
const clients = Number(flag('clients', '64'));
const seconds = Number(flag('seconds', '10'));
const rate = Number(flag('rate', '2000'));
/** `go` (default where Go is installed): bench/loadgen, far cheaper per request than Node clients. */
const goAvailable = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
const loadMode = flag('load', goAvailable ? 'go' : 'child');

// The PKI: a serving certificate and the aggregator's front-proxy client certificate.
const directory = mkdtempSync(join(tmpdir(), 'slotscaler-bench-'));
const servingCa = await createCertificateAuthority({ commonName: 'bench-serving-ca' });
const frontProxyCa = await createCertificateAuthority({ commonName: 'bench-front-proxy-ca' });
const serving = await issueCertificate(servingCa, {
  commonName: 'localhost',
  usage: 'server',
  hosts: ['localhost'],
});
const frontProxy = await issueCertificate(frontProxyCa, {
  commonName: 'front-proxy-client',
  usage: 'client',
});
const files = {
  caFile: join(directory, 'ca.crt'),
  certFile: join(directory, 'client.crt'),
  keyFile: join(directory, 'client.key'),
  servingCert: join(directory, 'tls.crt'),
  servingKey: join(directory, 'tls.key'),
};
writeFileSync(files.caFile, servingCa.certPem);
writeFileSync(files.certFile, frontProxy.certPem);
writeFileSync(files.keyFile, frontProxy.keyPem);
writeFileSync(files.servingCert, serving.certPem);
writeFileSync(files.servingKey, serving.keyPem);

// The readings: a real Collector over fake JobManagers, ticks a tick interval apart (a rate needs
// two samples), read for the rest of the run (window and age limit raised so they stay served).
class OffsetClock implements Clock {
  offsetMs = 0;
  nowMs(): number {
    return Date.now() + this.offsetMs;
  }
}
const clock = new OffsetClock();
const fleet = await startFleet({ targets, vertices: 4, sources: 1, servers: 4, parallelism: 2 });
const pool = new FlinkHttpPool({ maxConcurrentRequests: 32, maxIdleSocketsPerHost: 32 });
const collector = new Collector({ clientFor: (url) => pool.clientFor(url), clock });
const benchTargets = fleet.urls.map((url, index) => ({
  id: `flinkdeployment/flink/target-${index}`,
  kind: 'FlinkDeployment',
  namespace: 'flink',
  name: `target-${index}`,
  jobManagerUrl: url,
  windowSeconds: 60,
  expressions: [compileExpressionMetric('pressure', 'busy_ratio * 2 + backpressure_ratio')],
  recommendedReplicas: 1 + (index % 10),
  object: {
    apiVersion: 'flink.apache.org/v1beta1',
    kind: 'FlinkDeployment',
    resource: 'flinkdeployments.flink.apache.org',
  },
  labels: {},
}));
collector.setTargets(
  benchTargets.map((target) => ({
    id: target.id,
    jobManagerUrl: target.jobManagerUrl,
    window: { windowSeconds: 86_400, maxSampleAgeSeconds: 86_400, restartHoldoffSeconds: 0 },
  })),
);
// Ticks until every target has two samples (a busy machine may fail a few snapshots in a tick).
const hasValue = (id: string): boolean => {
  const reading = collector.readings(id)?.metrics.flink_busy_ratio;
  return reading !== undefined && 'value' in reading;
};
for (let tick = 0; tick < 2 || (tick < 6 && !benchTargets.every((target) => hasValue(target.id))); tick++) {
  if (tick > 0) clock.offsetMs += 15_000;
  await collector.tick();
}
pool.close();
await fleet.close();

// One tick's snapshot, built and published as the scaler does after a collection and a pass.
const recommendations = new Map(benchTargets.map((target) => [target.id, target.recommendedReplicas]));
const snapshots = new SnapshotStore({
  targets: () => benchTargets.map((target) => ({ ...target, maxSampleAgeSeconds: 86_400 })),
  readings: (id, nowMs) => collector.readings(id, nowMs),
  recommendations: {
    recommendation: (id) => {
      const replicas = recommendations.get(id);
      return replicas === undefined
        ? undefined
        : { replicas, parallelism: 2 * replicas, reason: 'bench', atMs: clock.nowMs(), jobId: null };
    },
  },
  clock,
});
snapshots.collected();
snapshots.publish();
const provider = new TargetsMetricsProvider(snapshots, () => clock.nowMs());

// Every read the clients make, answered once through the provider: the baseline's bodies, and a
// check that every target has a value (an error would measure a different path).
const pathOf = (index: number): string =>
  `/apis/external.metrics.k8s.io/v1beta1/namespaces/flink/flink_busy_ratio?labelSelector=target%3Dtarget-${index}`;
const bodies = new Map<string, string>();
for (let index = 0; index < targets; index++) {
  const items = await provider.getMetric(
    'flink',
    'flink_busy_ratio',
    parseLabelSelector(`target=target-${index}`),
  );
  bodies.set(pathOf(index), JSON.stringify(externalMetricValueList(items)));
}

const tlsFiles = { cert: readFileSync(files.servingCert), key: readFileSync(files.servingKey) };

/** The empty handler: sends the known body of a read. */
function emptyHandler(
  request: IncomingMessage | Http2ServerRequest,
  response: ServerResponse | Http2ServerResponse,
): void {
  const body = bodies.get(request.url ?? '');
  response.statusCode = body === undefined ? 404 : 200;
  response.setHeader('Content-Type', 'application/json');
  response.setHeader('Cache-Control', 'no-cache, private');
  response.end(body ?? '{}');
}

/**
 * A baseline: the empty handler on node:https (HTTP/1.1 only: it offers no h2), or on node:http2
 * with HTTP/1.1 allowed as our server has it, with our TLS settings.
 */
async function startEmptyHandler(kind: 'https' | 'http2'): Promise<{ port: number; close(): Promise<void> }> {
  const options = {
    ...tlsFiles,
    ca: frontProxyCa.certPem,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
  } as const;
  const server =
    kind === 'https'
      ? https.createServer(options, emptyHandler)
      : http2.createSecureServer({ ...options, allowHTTP1: true }, emptyHandler);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

async function startApiServer(http2: boolean): Promise<{ port: number; close(): Promise<void> }> {
  return startMetricsApiServer({
    http2,
    provider,
    tls: { kind: 'files', certFile: files.servingCert, keyFile: files.servingKey },
    auth: {
      configSource: new FakeAuthenticationConfigSource({
        'requestheader-client-ca-file': frontProxyCa.certPem,
        'requestheader-allowed-names': '["front-proxy-client"]',
        'requestheader-username-headers': '["X-Remote-User"]',
        'requestheader-group-headers': '["X-Remote-Group"]',
        'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
      }),
      subjectAccessReviewer: new FakeSubjectAccessReviewer(() => true),
    },
    port: 0,
    host: '127.0.0.1',
  });
}

interface MeasuredPhase extends PhaseResult {
  readonly serverCpuMsPer1000Requests: number;
  readonly serverCpuCores: number;
  readonly serverEventLoopDelayP99Ms: number;
}

// How late the server's event loop runs: queueing inside the server (its own work, or the CPU
// taken by other processes), as opposed to latency added by the clients.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

/** Both phases of load against one server of this process, with its CPU per phase. */
async function measure(port: number, protocol: Protocol): Promise<MeasuredPhase[]> {
  const loadOptions: LoadOptions = {
    port,
    caFile: files.caFile,
    certFile: files.certFile,
    keyFile: files.keyFile,
    targets,
    clients,
    seconds,
    rate,
    protocol,
  };
  const cpuAtStart = new Map<string, NodeJS.CpuUsage>();
  const serverCpuMs = new Map<string, number>();
  const serverLoopDelayP99Ms = new Map<string, number>();
  const onPhase = (event: 'start' | 'end', phase: string): void => {
    if (event === 'start') {
      cpuAtStart.set(phase, process.cpuUsage());
      loopDelay.reset();
    } else {
      const used = process.cpuUsage(cpuAtStart.get(phase));
      serverCpuMs.set(phase, (used.user + used.system) / 1000);
      serverLoopDelayP99Ms.set(phase, loopDelay.percentile(99) / 1e6);
    }
  };
  let results: PhaseResult[];
  if (loadMode === 'in-process') {
    results = await runLoad(loadOptions, onPhase);
  } else {
    let command = process.execPath;
    let args = [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--load-child',
      JSON.stringify(loadOptions),
    ];
    if (loadMode === 'go') {
      command = loadgenBinary();
      args = [JSON.stringify(loadOptions)];
    }
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    results = await new Promise<PhaseResult[]>((resolve, reject) => {
      let final: PhaseResult[] | undefined;
      createInterface({ input: child.stdout }).on('line', (line) => {
        const message = JSON.parse(line) as {
          event?: 'start' | 'end';
          phase?: string;
          results?: PhaseResult[];
        };
        if (message.event !== undefined && message.phase !== undefined) onPhase(message.event, message.phase);
        if (message.results !== undefined) final = message.results;
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        final === undefined ? reject(new Error(`load process exited with ${code}`)) : resolve(final),
      );
    });
  }
  return results.map((result) => {
    const cpuMs = serverCpuMs.get(result.phase) ?? 0;
    return {
      ...result,
      serverCpuMsPer1000Requests: result.requests === 0 ? 0 : (cpuMs / result.requests) * 1000,
      serverCpuCores: cpuMs / 1000 / result.seconds,
      serverEventLoopDelayP99Ms: serverLoopDelayP99Ms.get(result.phase) ?? 0,
    };
  });
}

let loadgen: string | undefined;
/** bench/loadgen, built once into the cache. */
function loadgenBinary(): string {
  if (loadgen !== undefined) return loadgen;
  const repo = fileURLToPath(new URL('..', import.meta.url));
  const cache = process.env['SLOTSCALER_CACHE_DIR'] ?? join(repo, '.cache');
  const command = join(cache, 'bin', 'slotscaler-loadgen');
  const built = spawnSync('go', ['build', '-C', join(repo, 'bench/loadgen'), '-o', command, '.'], {
    stdio: 'inherit',
    env: { ...process.env, GOTOOLCHAIN: 'local', GOCACHE: join(cache, 'go', 'build'), GOFLAGS: '-mod=mod' },
  });
  if (built.status !== 0) throw new Error('cannot build bench/loadgen');
  loadgen = command;
  return command;
}

const loadAverageAtStart = loadavg()[0] ?? 0;
/** One server measured under load: started, both phases, closed. */
async function run(
  start: () => Promise<{ port: number; close(): Promise<void> }>,
  protocol: Protocol,
): Promise<MeasuredPhase[]> {
  const server = await start();
  try {
    return await measure(server.port, protocol);
  } finally {
    await server.close();
  }
}
const baseline = await run(() => startEmptyHandler('https'), 'http/1.1');
const rows = await run(() => startApiServer(false), 'http/1.1');
// h2 needs the Go load generator (the Node clients here speak HTTP/1.1 only).
const h2 =
  loadMode === 'go'
    ? {
        baseline: await run(() => startEmptyHandler('http2'), 'h2'),
        phases: await run(() => startApiServer(true), 'h2'),
      }
    : undefined;

const maxOf = (phases: readonly MeasuredPhase[]) => phases.find((phase) => phase.phase === 'max');
const rateOf = (phases: readonly MeasuredPhase[]) => phases.find((phase) => phase.phase === 'rate');
/** The most req/s of `ours` as a share of `theirs`, in percent. */
const percentOf = (ours: readonly MeasuredPhase[], theirs: readonly MeasuredPhase[]): number =>
  (100 * (maxOf(ours)?.requestsPerSecond ?? 0)) / Math.max(1, maxOf(theirs)?.requestsPerSecond ?? 0);
/** Our server's most req/s as a share of the empty node:https handler's, both over HTTP/1.1, in percent. */
const ofBaselinePercent = percentOf(rows, baseline);
const goal = {
  p99MsAtMost: 5,
  atRequestsPerSecond: rate,
  serverCpuMsPer1000RequestsAtMost: 50,
  ofBaselinePercentAtLeast: 50,
};
/** Each goal, checked on one protocol's rows. */
const goalsOf = (phases: readonly MeasuredPhase[], percent: number) => {
  const rateRow = rateOf(phases);
  return {
    p99:
      rateRow !== undefined && rateRow.p99Ms <= goal.p99MsAtMost && rateRow.requestsPerSecond >= rate * 0.98,
    serverCpu:
      rateRow !== undefined && rateRow.serverCpuMsPer1000Requests <= goal.serverCpuMsPer1000RequestsAtMost,
    ofBaseline: percent >= goal.ofBaselinePercentAtLeast,
  };
};
const goalsMet = {
  'http/1.1': goalsOf(rows, ofBaselinePercent),
  ...(h2 === undefined ? {} : { h2: goalsOf(h2.phases, percentOf(h2.phases, baseline)) }),
};
const report = {
  benchmark: 'metrics-api',
  node: process.version,
  cpus: cpus().length,
  // Other processes on the machine skew the latencies: the 1-minute load average before and after.
  loadAverage: { start: loadAverageAtStart, end: loadavg()[0] ?? 0 },
  load: loadMode,
  targets,
  clients,
  seconds,
  rate,
  /** Over HTTP/1.1: our server, and the empty node:https handler. */
  phases: rows,
  baseline,
  ofBaselinePercent,
  /** Clients offering h2 as the aggregator does: our server, and an empty node:http2 handler. */
  ...(h2 === undefined
    ? {}
    : {
        h2: {
          phases: h2.phases,
          baseline: h2.baseline,
          /** Our most req/s over h2 as a share of the empty node:https handler's over HTTP/1.1. */
          ofHttpsBaselinePercent: percentOf(h2.phases, baseline),
          /** Our most req/s over h2 as a share of the empty node:http2 handler's over h2. */
          ofHttp2BaselinePercent: percentOf(h2.phases, h2.baseline),
        },
      }),
  goal,
  goalsMet,
  /** Every goal, each on the HTTP/1.1 rows (the ones the ratio to node:https is defined on). */
  goalMet: Object.values(goalsMet['http/1.1']).every(Boolean),
};
writeFileSync('bench-results-metrics-api.json', `${JSON.stringify(report, null, 2)}\n`);

const pad = (text: string, width: number) => text.padStart(width);
console.log(
  `metrics API: ${targets} targets, ${clients} concurrent TLS clients (${loadMode} load), ${seconds} s per phase, node ${process.version}`,
);
console.log(
  [
    'server',
    'protocol',
    'phase',
    'requests',
    'errors',
    'req/s',
    'p50 ms',
    'p99 ms',
    'max ms',
    'CPU ms/1000 req',
    'server cores',
    'loop p99 ms',
    'conns',
  ]
    .map((title, i) => pad(title, i === 0 ? 20 : i === 1 ? 9 : i === 2 ? 6 : 10))
    .join(' '),
);
const tables: (readonly [string, readonly MeasuredPhase[]])[] = [
  ['empty node:https', baseline],
  ['metrics API', rows],
  ...(h2 === undefined
    ? []
    : ([
        ['empty node:http2', h2.baseline],
        ['metrics API', h2.phases],
      ] as const)),
];
for (const [server, phases] of tables) {
  for (const row of phases) {
    console.log(
      [
        pad(server, 20),
        pad(row.negotiated ?? 'HTTP/1.1', 9),
        pad(row.phase === 'rate' ? `${rate}/s` : 'max', 6),
        pad(String(row.requests), 10),
        pad(String(row.errors), 10),
        pad(row.requestsPerSecond.toFixed(0), 10),
        pad(row.p50Ms.toFixed(2), 10),
        pad(row.p99Ms.toFixed(2), 10),
        pad(row.maxMs.toFixed(2), 10),
        pad(row.serverCpuMsPer1000Requests.toFixed(1), 10),
        pad(row.serverCpuCores.toFixed(2), 10),
        pad(row.serverEventLoopDelayP99Ms.toFixed(2), 10),
        pad(String(row.connectionsOpened ?? '-'), 10),
      ].join(' '),
    );
  }
}
console.log(
  `most req/s over HTTP/1.1: ${ofBaselinePercent.toFixed(0)} % of the empty node:https handler's (HTTP/1.1)`,
);
if (report.h2 !== undefined) {
  console.log(
    `most req/s over h2 (clients offering it as the aggregator, metrics-api-http2 on): ${report.h2.ofHttpsBaselinePercent.toFixed(0)} % of the empty node:https handler's (HTTP/1.1), ${report.h2.ofHttp2BaselinePercent.toFixed(0)} % of the empty node:http2 handler's (h2)`,
  );
}
console.log(
  `load average ${report.loadAverage.start.toFixed(2)} -> ${report.loadAverage.end.toFixed(2)} on ${report.cpus} CPUs`,
);
const verdict = (goals: { p99: boolean; serverCpu: boolean; ofBaseline: boolean }) =>
  `p99 ${goals.p99 ? 'met' : 'NOT met'}, CPU ${goals.serverCpu ? 'met' : 'NOT met'}, share of node:https ${goals.ofBaseline ? 'met' : 'NOT met'}`;
console.log(
  `goal (p99 ≤ ${goal.p99MsAtMost} ms at ${rate} req/s, ≤ ${goal.serverCpuMsPer1000RequestsAtMost} ms CPU per 1,000 reads, ≥ ${goal.ofBaselinePercentAtLeast} % of the empty node:https handler's req/s): HTTP/1.1: ${verdict(goalsMet['http/1.1'])}` +
    (goalsMet.h2 === undefined ? '' : `; h2: ${verdict(goalsMet.h2)}`) +
    '; written to bench-results-metrics-api.json',
);
