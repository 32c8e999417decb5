// A real `slotscaler serve` process on the real API server, among JobManagers that lie or flood:
// parallelism 1e6 and 1e9, pendingRecords 1e303, and a fleet of thirty answering 15 MB bodies and
// bodies that never end. The process must live, stay under the chart's memory limit, keep serving
// the honest targets' metrics, serve no invalid quantity, and say on each liar what bound it broke.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { parse as parseYaml } from 'yaml';

import { FakeJobManagerServer, typicalJob } from '../fakes/fake-jobmanager.js';
import type { FakeCluster } from '../fakes/fake-jobmanager.js';
import { fakeJobTargetYaml, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { waitFor } from './harness/kube.js';
import { freePorts } from './harness/ports.js';
import { spawnSlotscaler } from './harness/slotscaler-process.js';
import { eventsFor } from './scaler-helpers.js';
import type { CoreEvent } from './scaler-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The chart's memory limit (charts/slotscaler/values.yaml `resources.limits.memory`). */
const CHART_LIMIT_BYTES = await chartMemoryLimitBytes();
/** Thirty JobManagers of the flood: half answer 15 MB, half an answer that never ends. */
const FLOOD = 30;

async function chartMemoryLimitBytes(): Promise<number> {
  const values = parseYaml(await readFile(join(ROOT, 'charts/slotscaler/values.yaml'), 'utf8')) as {
    resources: { limits: { memory: string } };
  };
  const match = /^(\d+)Mi$/.exec(values.resources.limits.memory);
  assert.ok(match !== null, values.resources.limits.memory);
  return Number(match[1]) * 1024 * 1024;
}

/** VmRSS and VmHWM (peak) of a process, in bytes, from /proc/<pid>/status. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024 };
}

const MIB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(0)} MiB`;

/** quantity.go's serialization format (`<signedNumber><suffix>`). */
const QUANTITY =
  /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)|m|k|M|G|T|P|E)?$/;

interface MetricRead {
  readonly status: number;
  readonly values: string[];
  readonly message: string;
  readonly ms: number;
}

describe('serve among hostile JobManagers', { timeout: 600_000 }, () => {
  let env: Environment;
  let jobManagers: FakeJobManagerServer;
  let serve: ChildProcess;
  let logDir: string;
  let apiPort: number;
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const peaks: number[] = [];
  let sampler: NodeJS.Timeout | undefined;

  const honest: Record<string, FakeCluster> = {};
  const liars: Record<string, FakeCluster> = {};
  const flood: FakeCluster[] = [];

  function read(metric: string, target: string): Promise<MetricRead> {
    const started = performance.now();
    const path = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${env.namespace}/${metric}?labelSelector=${encodeURIComponent(`target=${target}`)}`;
    return new Promise((resolve, reject) => {
      const request = https.get(
        { host: '127.0.0.1', port: apiPort, path, rejectUnauthorized: false, timeout: 10_000 },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => {
            const parsed = JSON.parse(body) as { items?: { value: string }[]; message?: string };
            resolve({
              status: response.statusCode ?? 0,
              values: (parsed.items ?? []).map((item) => item.value),
              message: parsed.message ?? '',
              ms: performance.now() - started,
            });
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within 10 s: ${path}`)));
      request.on('error', reject);
    });
  }

  async function createTarget(
    name: string,
    cluster: FakeCluster,
    mode: 'metrics-only' | 'recommend',
  ): Promise<void> {
    await env.applyYaml(
      fakeJobTargetYaml({
        name,
        mode,
        jobManagerUrl: cluster.url,
        metricsWindow: '10s',
        metricsMaxAge: '30s',
      }),
    );
  }

  function cluster(name: string): FakeCluster {
    return jobManagers.addCluster({
      name,
      taskManagers: 1,
      slotsPerTaskManager: 2,
      jobs: [typicalJob({ name, busyRatio: 0.5, parallelism: 2, vertices: 3, sources: 1 })],
    });
  }

  /** The Warning Events on a target, once one says `pattern`. */
  async function warningSaying(name: string, pattern: RegExp): Promise<CoreEvent> {
    let seen: CoreEvent[] = [];
    try {
      return await waitFor(
        `a Warning Event on ${name} matching ${String(pattern)}`,
        async () => {
          seen = await eventsFor(env.controlPlane, env.namespace, name);
          return seen.find((event) => event.type === 'Warning' && pattern.test(event.message));
        },
        { timeoutMs: 90_000, intervalMs: 1000 },
      );
    } catch (err) {
      for (const event of seen)
        console.log(`# Event on ${name}: ${event.type} ${event.reason} ${event.message}`);
      throw err;
    }
  }

  /**
   * `count` reads of each honest target's busy ratio, their times in ms (sorted). Ten a second at
   * most: the metrics API limits the requests of a client without a verified certificate.
   */
  async function readsOfHonestTargets(count: number): Promise<number[]> {
    const times: number[] = [];
    for (let index = 0; index < count; index += 1) {
      for (const name of Object.keys(honest)) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const answer = await read('flink_busy_ratio', name);
        assert.equal(answer.status, 200, `${name}: ${answer.message}`);
        assert.equal(answer.values.length, 1);
        assert.match(answer.values[0] ?? '', QUANTITY);
        times.push(answer.ms);
      }
    }
    return times.sort((a, b) => a - b);
  }

  const percentile = (sorted: readonly number[], p: number): string =>
    (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN).toFixed(1);

  before(async () => {
    [env, jobManagers] = await Promise.all([
      startEnvironment({ flink: false, namespace: 'hostile', log: (message) => console.log(`# ${message}`) }),
      FakeJobManagerServer.start(),
    ]);
    for (const name of ['honest-a', 'honest-b']) {
      honest[name] = cluster(name);
      await createTarget(name, honest[name], 'metrics-only');
    }
    const [metricsApiPort = 0, metricsPort = 0] = await freePorts(2);
    apiPort = metricsApiPort;
    logDir = await mkdtemp(join(tmpdir(), 'slotscaler-hostile-'));
    const log = createWriteStream(join(logDir, 'serve.log'));
    serve = spawnSlotscaler([
      'serve',
      '--kubeconfig',
      env.kubeconfigPath,
      '--namespaces',
      env.namespace,
      '--tick-interval',
      '3s',
      '--leader-elect',
      'false',
      '--warning-event-interval',
      '30s',
      '--metrics-api-port',
      String(metricsApiPort),
      '--metrics-port',
      String(metricsPort),
      '--authentication-disabled',
      '--tls-self-signed-hosts',
      'localhost,127.0.0.1',
      '--log-level',
      'info',
    ]);
    serve.stdout?.pipe(log);
    serve.stderr?.pipe(log);
    serve.once('exit', (code, signal) => (exited = { code, signal }));
    const pid = serve.pid;
    assert.ok(pid !== undefined);
    sampler = setInterval(() => {
      memoryOf(pid).then(
        ({ peak }) => peaks.push(peak),
        () => undefined,
      );
    }, 500);
  });

  after(async () => {
    clearInterval(sampler);
    if (exited === undefined && serve.pid !== undefined) {
      serve.kill('SIGTERM');
      await new Promise((resolve) => serve.once('exit', resolve));
    }
    const tail = (await readFile(join(logDir, 'serve.log'), 'utf8').catch(() => '')).split('\n').slice(-15);
    console.log(`# serve log, last lines:\n${tail.map((line) => `#   ${line.slice(0, 300)}`).join('\n')}`);
    await rm(logDir, { recursive: true, force: true });
    await jobManagers.close();
    await env.stop();
  });

  it('serves the honest targets; then, among liars and a flood, stays alive, small and fast', async () => {
    await waitFor(
      'the honest targets’ metrics',
      async () => {
        const reads = await Promise.all(Object.keys(honest).map((name) => read('flink_busy_ratio', name)));
        return reads.every((answer) => answer.status === 200) ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    const pid = serve.pid ?? 0;
    const quiet = await readsOfHonestTargets(20);
    const quietMemory = await memoryOf(pid);

    // The liars and the flood.
    liars['claims-1e6'] = cluster('claims-1e6');
    liars['claims-1e6'].claimParallelism(0, 1e6);
    liars['claims-1e9'] = cluster('claims-1e9');
    liars['claims-1e9'].claimParallelism(0, 1e9);
    liars['pending-1e303'] = cluster('pending-1e303');
    liars['pending-1e303'].setSource(0, { pendingRecordsPerSubtask: 1e303 });
    for (let index = 0; index < FLOOD; index += 1) {
      const member = cluster(`flood-${index}`);
      member.misbehave(index % 2 === 0 ? 'huge' : 'endless');
      member.recordRequests = false;
      flood.push(member);
    }
    for (const [name, liar] of Object.entries(liars)) await createTarget(name, liar, 'recommend');
    for (const [index, member] of flood.entries()) await createTarget(`flood-${index}`, member, 'recommend');

    // Each liar is told what bound it broke.
    const events = {
      '1e6': await warningSaying(
        'claims-1e6',
        /vertices\[0\]\.parallelism = 1000000, above Flink's maximum parallelism of 32768/,
      ),
      '1e9': await warningSaying(
        'claims-1e9',
        /vertices\[0\]\.parallelism = 1000000000, above Flink's maximum parallelism of 32768/,
      ),
      pending: await warningSaying(
        'pending-1e303',
        /pendingRecords = 2e\+303, above the ceiling of a record count of 9007199254740991/,
      ),
      huge: await warningSaying('flood-0', /over the limit of 4194304 bytes \(flink-max-response-bytes\)/),
      endless: await warningSaying(
        'flood-1',
        /answer did not complete within 5000 ms \(cut there\)|no complete snapshot within/,
      ),
    };
    for (const event of Object.values(events)) assert.equal(event.reason, 'MetricsUnavailable');
    console.log(`# Event on claims-1e9: ${events['1e9'].message}`);
    console.log(`# Event on flood-0: ${events.huge.message}`);

    // Under the flood for a while: the honest targets are read as fast as before.
    const flooded: number[] = [];
    const until = Date.now() + 30_000;
    while (Date.now() < until) flooded.push(...(await readsOfHonestTargets(5)));
    flooded.sort((a, b) => a - b);

    // pendingRecords of 1e303 is never served, let alone as "2e+306m".
    const pending = await read('flink_source_pending_records', 'pending-1e303');
    assert.ok(
      pending.status === 404 ||
        (pending.status === 200 && pending.values.every((value) => QUANTITY.test(value))),
      JSON.stringify(pending),
    );
    assert.match(pending.message, /is unavailable \(implausible\)/);

    const bodies = flood.reduce(
      (sum, member) => ({
        cut: sum.cut + member.bodies.cut,
        completed: sum.completed + member.bodies.completed,
        bytes: sum.bytes + member.bodies.bytesWritten,
      }),
      { cut: 0, completed: 0, bytes: 0 },
    );
    const memory = await memoryOf(pid);
    const peak = Math.max(memory.peak, ...peaks);
    console.log(
      `# serve RSS: ${mib(quietMemory.rss)} with the honest targets alone, ${mib(memory.rss)} after 30 s of the flood, peak ${mib(peak)} (chart limit ${mib(CHART_LIMIT_BYTES)})`,
    );
    console.log(
      `# metric reads of the honest targets, ms: quiet p50 ${percentile(quiet, 0.5)} max ${percentile(quiet, 1)} (${quiet.length} reads); flooded p50 ${percentile(flooded, 0.5)} p90 ${percentile(flooded, 0.9)} max ${percentile(flooded, 1)} (${flooded.length} reads)`,
    );
    console.log(
      `# flood answers: ${bodies.cut} cut off by serve, ${bodies.completed} sent whole, ${mib(bodies.bytes)} written in all`,
    );

    assert.equal(exited, undefined, 'serve is alive');
    assert.ok(peak < CHART_LIMIT_BYTES, `peak RSS ${mib(peak)}`);
    assert.ok(bodies.cut > 0 && bodies.completed === 0, JSON.stringify(bodies));
  });
});
