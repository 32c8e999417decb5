/**
 * Kubernetes API load of the scaler (a figure, not a test): a real kube-apiserver with its audit
 * log on, 20 FlinkDeployment targets (the stand-in operator keeps their status) whose fake
 * JobManagers report a steady load, and one scaler with leader election. After a warm-up, every
 * request the API server logs with our user agent (`slotscaler/<version>`) over the steady state is
 * counted by verb, and reported per target per hour.
 *
 *   node --import tsx bench/api-load.bench.ts [--targets 20] [--seconds 300] [--warmup 30]
 *
 * Why the audit log: `apiserver_request_total` has no user-agent label, and the stand-in operator,
 * the controller manager and the bench itself also call the API server; the audit log records each
 * request's user agent, verb and resource as the server saw it. Watches are counted when they start
 * (stage ResponseStarted); everything else when it completes. Writes bench-results-api-load.json.
 */
import { createReadStream, writeFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { FakeJobManagerServer, typicalJob } from '../test/fakes/fake-jobmanager.js';
import { flinkDeploymentYaml, startEnvironment } from '../test/e2e/harness/environment.js';
import { resolveConfig } from '../src/config/load.js';
import { USER_AGENT } from '../src/kube/kube-client.js';
import { startScaler } from '../src/runtime/start-scaler.js';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const targets = flag('targets', 20);
const seconds = flag('seconds', 300);
const warmupSeconds = flag('warmup', 30);

interface AuditEvent {
  readonly stage?: string;
  readonly verb?: string;
  readonly userAgent?: string;
  readonly requestReceivedTimestamp?: string;
  readonly objectRef?: { readonly resource?: string; readonly subresource?: string };
}

async function countAudit(path: string, fromMs: number, toMs: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) {
    let event: AuditEvent;
    try {
      event = JSON.parse(line) as AuditEvent;
    } catch {
      continue;
    }
    if (!(event.userAgent ?? '').startsWith(USER_AGENT)) continue;
    const at = Date.parse(event.requestReceivedTimestamp ?? '');
    if (!(at >= fromMs && at < toMs)) continue;
    const watch = event.verb === 'watch';
    if (watch ? event.stage !== 'ResponseStarted' : event.stage !== 'ResponseComplete') continue;
    const resource = `${event.objectRef?.resource ?? '?'}${event.objectRef?.subresource === undefined ? '' : `/${event.objectRef.subresource}`}`;
    const key = `${event.verb ?? '?'} ${resource}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'slotscaler-api-load-'));
  const policy = join(dir, 'audit-policy.yaml');
  const auditLog = join(dir, 'audit.log');
  await writeFile(policy, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n');
  const [env, jobManagers] = await Promise.all([
    startEnvironment({
      flink: false,
      controlPlane: {
        extraArgs: {
          'kube-apiserver': [
            `--audit-policy-file=${policy}`,
            `--audit-log-path=${auditLog}`,
            '--audit-log-mode=blocking',
          ],
        },
      },
    }),
    FakeJobManagerServer.start(),
  ]);
  try {
    for (let i = 0; i < targets; i++) {
      const cluster = jobManagers.addCluster({
        name: `job-${i}`,
        taskManagers: 2,
        slotsPerTaskManager: 2,
        jobs: [typicalJob({ name: `job-${i}`, busyRatio: 0.6, parallelism: 4 })],
      });
      await env.applyYaml(
        flinkDeploymentYaml({
          name: `job-${i}`,
          taskManagers: 2,
          slotsPerTaskManager: 2,
          annotations: {
            'slotscaler.dev/enabled': 'true',
            'slotscaler.dev/jobmanager-url': cluster.url,
            'slotscaler.dev/metrics': 'flink_busy_ratio=0.6',
          },
        }),
      );
    }
    const startedMs = Date.now();
    const scaler = await startScaler({
      loaded: resolveConfig({ flags: { leaseNamespace: env.namespace } }),
      kubeconfigPath: env.kubeconfigPath,
      identity: 'bench',
    });
    console.log(
      `${targets} targets, tick ${scaler.loop.options.dryRun ? 'dry-run' : 'scale'}; warming up ${warmupSeconds} s`,
    );
    await new Promise((resolve) => setTimeout(resolve, warmupSeconds * 1000));
    const fromMs = Date.now();
    console.log(`steady state: ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const toMs = Date.now();
    const writes = scaler.loop.writes.length;
    await scaler.stop();
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const counts = await countAudit(auditLog, fromMs, toMs);
    const warmup = await countAudit(auditLog, startedMs, fromMs);
    const hours = (toMs - fromMs) / 3_600_000;
    const perTargetHour = (n: number): number => Math.round((n / targets / hours) * 100) / 100;
    const sum = (filter: (verb: string, resource: string) => boolean): number =>
      [...counts].reduce((total, [key, n]) => {
        const [verb = '', resource = ''] = key.split(' ');
        return filter(verb, resource) ? total + n : total;
      }, 0);
    const isWrite = (verb: string): boolean => ['create', 'update', 'patch', 'delete'].includes(verb);
    const reads = sum((verb) => verb === 'get' || verb === 'list');
    const watches = sum((verb) => verb === 'watch');
    const targetWrites = sum((verb, resource) => isWrite(verb) && resource.startsWith('flinkdeployments'));
    const eventWrites = sum((verb, resource) => isWrite(verb) && resource === 'events');
    const leaseWrites = sum((verb, resource) => isWrite(verb) && resource === 'leases');
    const result = {
      targets,
      seconds: Math.round((toMs - fromMs) / 1000),
      userAgent: USER_AGENT,
      decisionsWritten: writes,
      byVerbAndResource: Object.fromEntries([...counts].sort()),
      /** Start-up (the informers' LISTs and watches, the Lease), before the steady state. */
      warmupByVerbAndResource: Object.fromEntries([...warmup].sort()),
      perTargetPerHour: {
        reads: perTargetHour(reads),
        watchStarts: perTargetHour(watches),
        targetWrites: perTargetHour(targetWrites),
        eventWrites: perTargetHour(eventWrites),
      },
      perHour: { leaseWrites: Math.round(leaseWrites / hours), watchStarts: Math.round(watches / hours) },
    };
    console.log(JSON.stringify(result, null, 2));
    writeFileSync('bench-results-api-load.json', `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await jobManagers.close();
    await env.stop();
  }
}

await main();
