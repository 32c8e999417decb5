// The small parts of src/kube: Events (recorded on the in-memory Kubernetes) and their rate limiting, status annotation, adapters. (The token bucket
// and the classification of write answers are in writer.test.ts.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseTargetAnnotations } from '../../../src/config/annotations.js';
import { isProblem } from '../../../src/kube/adapters/adapter.js';
import { customResourceAdapter } from '../../../src/kube/adapters/custom-resource.js';
import { deploymentAdapter } from '../../../src/kube/adapters/deployment.js';
import { flinkApplicationAdapter } from '../../../src/kube/adapters/flink-application.js';
import { flinkDeploymentAdapter, flinkDeploymentBusy } from '../../../src/kube/adapters/flink-deployment.js';
import {
  eventName,
  KubeEventRecorder,
  MAX_NOTE_BYTES,
  microTime,
  truncateNote,
} from '../../../src/kube/events.js';
import type { TargetRef } from '../../../src/kube/events.js';
import type { KubeObject } from '../../../src/kube/objects.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { InMemoryKube } from '../../fakes/kube/in-memory-kube.js';
import { TokenBucket } from '../../../src/lib/token-bucket.js';
import { callbackLogger } from '../../../src/observability/logger.js';
import {
  decodeStatus,
  encodeStatus,
  MAX_STATUS_ENTRIES,
  readStatus,
  STATUS_CLOCK_SKEW_ALLOWANCE_MS,
} from '../../../src/kube/status-annotation.js';

function configOf(annotations: Record<string, string> = {}) {
  const result = parseTargetAnnotations({ 'slotscaler.dev/enabled': 'true', ...annotations });
  assert.ok(result.ok);
  return result.config;
}

describe('Events', () => {
  it('names Events as client-go does and writes MicroTime', () => {
    assert.match(eventName('job', 1_767_225_600_000), /^job\.[0-9a-f]+$/);
    assert.equal(microTime(Date.UTC(2026, 0, 1, 0, 0, 0, 123)), '2026-01-01T00:00:00.123000Z');
  });

  it('cuts notes by UTF-8 bytes at a character boundary, as the API server counts them', () => {
    assert.equal(truncateNote('short'), 'short');
    const ascii = 'a'.repeat(MAX_NOTE_BYTES);
    assert.equal(truncateNote(ascii), ascii, 'exactly the limit is kept');
    for (const character of ['é', '日', '😀']) {
      // 600 characters of 2, 3 and 4 bytes: 1,200 to 2,400 bytes, over the limit in characters too.
      const note = `bad value: ${character.repeat(600)}`;
      const cut = truncateNote(note);
      assert.ok(Buffer.byteLength(cut, 'utf8') <= MAX_NOTE_BYTES, `${character}: ${Buffer.byteLength(cut)}`);
      assert.ok(Buffer.byteLength(cut, 'utf8') > MAX_NOTE_BYTES - 8, 'no more is cut than needed');
      assert.ok(cut.endsWith('...'));
      assert.ok(note.startsWith(cut.slice(0, -3)), 'a prefix of whole characters');
      assert.ok(!/[\uD800-\uDBFF]$/.test(cut.slice(0, -3)), 'no lone surrogate');
    }
  });
});

describe('KubeEventRecorder', () => {
  const job: TargetRef = {
    apiVersion: 'flink.apache.org/v1beta1',
    kind: 'FlinkDeployment',
    namespace: 'flink',
    name: 'job',
    uid: 'uid-job',
  };
  const EVENTS = '/apis/events.k8s.io/v1/namespaces/flink/events';

  function recorder(options: { maxQueued?: number } = {}) {
    const kube = new InMemoryKube();
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const warnings: string[] = [];
    const events = new KubeEventRecorder({
      client: kube,
      bucket: new TokenBucket(100, 100, clock),
      clock,
      logger: callbackLogger(
        (_level, msg) => warnings.push(msg),
        (level) => level === 'warn',
      ),
      identity: 'scaler-0',
      warningIntervalMs: 60_000,
      ...options,
    });
    const stored = () =>
      kube.objects(EVENTS) as unknown as {
        reason: string;
        type: string;
        note: string;
        [key: string]: unknown;
      }[];
    return { kube, clock, events, warnings, stored };
  }

  it('creates an events.k8s.io/v1 Event about the target, as client-go fills one', async () => {
    const { events, stored, clock } = recorder();
    events.emit(job, 'Normal', 'Rescaled', 'TaskManagers 1 → 2');
    await events.flush();
    const [event] = stored();
    assert.ok(event !== undefined);
    assert.match((event['metadata'] as { name: string }).name, /^job\.[0-9a-f]+$/);
    assert.deepEqual(
      {
        eventTime: event['eventTime'],
        reportingController: event['reportingController'],
        reportingInstance: event['reportingInstance'],
        action: event['action'],
        reason: event.reason,
        type: event.type,
        note: event.note,
        regarding: event['regarding'],
      },
      {
        eventTime: microTime(clock.nowMs()),
        reportingController: 'slotscaler.dev/slotscaler',
        reportingInstance: 'scaler-0',
        action: 'Scale',
        reason: 'Rescaled',
        type: 'Normal',
        note: 'TaskManagers 1 → 2',
        regarding: { ...job },
      },
    );
    assert.equal(events.sent.get('Rescaled'), 1);
  });

  it('holds back a repeated warning for the interval, then sends it with the count held back; Rescaled never', async () => {
    const { events, stored, clock } = recorder();
    for (let i = 0; i < 3; i++) events.emit(job, 'Warning', 'MetricsUnavailable', 'no metric');
    for (let i = 0; i < 2; i++) events.emit(job, 'Normal', 'Rescaled', `rescale ${i}`);
    events.emit({ ...job, name: 'other' }, 'Warning', 'MetricsUnavailable', 'no metric');
    clock.advance(60_000);
    events.emit(job, 'Warning', 'MetricsUnavailable', 'no metric');
    await events.flush();
    assert.deepEqual(
      stored()
        .map((event) => `${(event['regarding'] as { name: string }).name} ${event.reason}: ${event.note}`)
        .sort(),
      [
        'job MetricsUnavailable: no metric',
        'job MetricsUnavailable: no metric (2 more like this held back)',
        'job Rescaled: rescale 0',
        'job Rescaled: rescale 1',
        'other MetricsUnavailable: no metric',
      ],
    );
  });

  it('a refused or failed Event is logged, never thrown, and the next one is still sent', async () => {
    const { kube, events, stored, warnings } = recorder();
    kube.inject(
      { verb: 'create', resource: 'events' },
      { status: 403, message: 'events.events.k8s.io is forbidden' },
    );
    kube.inject({ verb: 'create', resource: 'events' }, { network: 'read ECONNRESET' });
    events.emit(job, 'Warning', 'InvalidAnnotation', 'first');
    events.emit(job, 'Warning', 'RescaleRefused', 'second');
    events.emit(job, 'Normal', 'Rescaled', 'third');
    await events.flush();
    assert.deepEqual(
      stored().map((event) => event.note),
      ['third'],
    );
    assert.deepEqual(warnings, ['event refused', 'cannot record event']);
    assert.deepEqual([...events.sent], [['Rescaled', 1]]);
  });

  it('drops Events beyond its queue, saying so', async () => {
    const { events, stored, warnings } = recorder({ maxQueued: 2 });
    for (let i = 0; i < 4; i++) events.emit(job, 'Normal', 'Rescaled', `rescale ${i}`);
    await events.flush();
    assert.equal(stored().length, 2);
    assert.deepEqual(warnings, ['event dropped: queue full', 'event dropped: queue full']);
  });
});

describe('status annotation', () => {
  it('round-trips, bounded', () => {
    const status = {
      lastDecision: {
        atMs: 5,
        fromReplicas: 1,
        toReplicas: 2,
        fromParallelism: 2,
        toParallelism: 4,
        reason: 'ScaleUpLimit',
        outcome: 'scaled',
        metrics: [{ name: 'flink_busy_ratio', value: 0.93, target: 0.7, type: 'Value' as const }],
      },
      lastRescaleAtMs: 5,
      rescaleDoneAtMs: null,
      recommendations: Array.from({ length: 300 }, (_, i) => ({ replicas: i % 7, timestampMs: i })),
      scaleEvents: [{ replicaChange: -1, timestampMs: 3 }],
    };
    const decoded = decodeStatus(encodeStatus(status));
    assert.ok(decoded !== null);
    assert.deepEqual(decoded.lastDecision, status.lastDecision);
    assert.equal(decoded.recommendations.length, MAX_STATUS_ENTRIES);
    assert.deepEqual(decoded.recommendations.at(-1), { replicas: 299 % 7, timestampMs: 299 });
    assert.deepEqual(decoded.scaleEvents, status.scaleEvents);
    assert.ok(encodeStatus(status).length < 4096);
  });

  it('keeps the rescales of the last hour for the restart budget, and reads a status without them', () => {
    const status = {
      lastDecision: null,
      lastRescaleAtMs: 3000,
      rescaleDoneAtMs: null,
      recommendations: [],
      scaleEvents: [],
      rescalesAtMs: [3000, 1000, 2000],
    };
    assert.deepEqual(decodeStatus(encodeStatus(status))?.rescalesAtMs, [1000, 2000, 3000]);
    const before = decodeStatus('{"v":1,"last":null,"rescaledAt":null,"rec":[],"ev":[]}');
    assert.ok(before !== null);
    assert.equal(before.rescalesAtMs, undefined);
    const ahead = readStatus(
      encodeStatus({ ...status, rescalesAtMs: [Date.UTC(2036, 0, 1)] }),
      Date.UTC(2026, 0, 1),
    );
    assert.deepEqual(
      ahead.status?.rescalesAtMs,
      [Date.UTC(2026, 0, 1)],
      'a rescale in the future is taken as now',
    );
  });

  it('ignores what is not ours', () => {
    assert.equal(decodeStatus(undefined), null);
    assert.equal(decodeStatus('not json'), null);
    assert.equal(decodeStatus('{"v":2}'), null);
    assert.match(readStatus('not json').problems.join(), /not JSON/);
    assert.match(readStatus('{"v":2}').problems.join(), /not a status this version writes \(v:/);
    const absurd = '{"v":1,"last":null,"rescaledAt":null,"rec":[[1e9,5]],"ev":[]}';
    assert.equal(readStatus(absurd).status, null, 'a history naming a billion TaskManagers is not taken');
  });
});

describe('adapters', () => {
  const fd: KubeObject = {
    metadata: { name: 'job', namespace: 'ns', resourceVersion: '7', generation: 3 },
    spec: {
      flinkConfiguration: { 'taskmanager.numberOfTaskSlots': '4' },
      taskManager: { replicas: 2 },
      job: { parallelism: 8, upgradeMode: 'savepoint' },
    },
    status: {
      lifecycleState: 'STABLE',
      observedGeneration: 3,
      taskManager: { replicas: 2 },
      jobStatus: { state: 'RUNNING' },
    },
  };

  it('FlinkDeployment: the default JobManager URL, slots from flinkConfiguration, busy states', () => {
    const view = flinkDeploymentAdapter.describe(fd, configOf(), null);
    assert.ok(!isProblem(view));
    assert.equal(view.jobManagerUrl, 'http://job-rest.ns:8081');
    assert.equal(view.taskSlots, 4);
    assert.equal(view.currentReplicas, 2);
    assert.equal(view.operatorBusy, null);
    const withUrl = flinkDeploymentAdapter.describe(
      fd,
      configOf({ 'slotscaler.dev/jobmanager-url': 'http://jm:8081', 'slotscaler.dev/task-slots': '3' }),
      null,
    );
    assert.ok(!isProblem(withUrl));
    assert.equal(withUrl.jobManagerUrl, 'http://jm:8081');
    assert.equal(withUrl.taskSlots, 3);
    const status = fd.status as Record<string, unknown>;
    assert.match(
      flinkDeploymentBusy({ ...fd, status: { ...status, lifecycleState: 'UPGRADING' } }) ?? '',
      /UPGRADING/,
    );
    assert.match(
      flinkDeploymentBusy({ ...fd, status: { ...status, observedGeneration: 2 } }) ?? '',
      /generation 3/,
    );
    assert.match(
      flinkDeploymentBusy({
        ...fd,
        status: { ...status, jobStatus: { state: 'RUNNING', savepointInfo: { triggerId: 'x' } } },
      }) ?? '',
      /savepoint/,
    );
  });

  it('FlinkDeployment: one guarded merge patch of both fields', () => {
    const steps = flinkDeploymentAdapter.planWrite(
      fd,
      { replicas: 3, parallelism: 12, statusAnnotation: 's', path: 'redeploy', vertices: null },
      configOf(),
      null,
    );
    assert.deepEqual(
      steps.map((step) => [step.path, step.body]),
      [
        [
          '/apis/flink.apache.org/v1beta1/namespaces/ns/flinkdeployments/job',
          {
            metadata: { resourceVersion: '7', annotations: { 'slotscaler.dev/status': 's' } },
            spec: { taskManager: { replicas: 3 }, job: { parallelism: 12 } },
          },
        ],
      ],
    );
  });

  it('FlinkApplication: spec.parallelism', () => {
    const app: KubeObject = {
      metadata: { name: 'app', namespace: 'ns', resourceVersion: '1' },
      spec: { parallelism: 6, taskManagerConfig: { taskSlots: 3 } },
      status: { phase: 'Running' },
    };
    const view = flinkApplicationAdapter.describe(app, configOf(), null);
    assert.ok(!isProblem(view));
    assert.equal(view.currentReplicas, 2);
    const steps = flinkApplicationAdapter.planWrite(
      app,
      { replicas: 3, parallelism: 9, statusAnnotation: undefined, path: 'redeploy', vertices: null },
      configOf(),
      null,
    );
    assert.deepEqual(steps[0]?.body, { metadata: { resourceVersion: '1' }, spec: { parallelism: 9 } });
  });

  it('Deployment: /scale, and a JobManager URL is required', () => {
    const deployment: KubeObject = {
      metadata: { name: 'tm', namespace: 'ns', resourceVersion: '9' },
      spec: { replicas: 2 },
      status: { replicas: 2, readyReplicas: 1 },
    };
    assert.ok(isProblem(deploymentAdapter.describe(deployment, configOf(), null)));
    const config = configOf({ 'slotscaler.dev/jobmanager-url': 'http://jm:8081' });
    const view = deploymentAdapter.describe(deployment, config, null);
    assert.ok(!isProblem(view));
    assert.equal(view.readyReplicas, 1);
    const steps = deploymentAdapter.planWrite(
      deployment,
      { replicas: 3, parallelism: 3, statusAnnotation: 's', path: 'redeploy', vertices: null },
      config,
      null,
    );
    assert.deepEqual(
      steps.map((step) => step.path),
      ['/apis/apps/v1/namespaces/ns/deployments/tm/scale', '/apis/apps/v1/namespaces/ns/deployments/tm'],
    );
    assert.deepEqual(steps[0]?.body, { metadata: { resourceVersion: '9' }, spec: { replicas: 3 } });
  });

  it('other kinds: parallelism path first, then /scale; one patch when both are paths', () => {
    const adapter = customResourceAdapter({
      group: 'example.com',
      version: 'v1',
      plural: 'flinkjobs',
      kind: 'FlinkJob',
    });
    const object: KubeObject = {
      metadata: { name: 'j', namespace: 'ns', resourceVersion: '3' },
      spec: { tms: 2, p: 4 },
    };
    const viaScale = configOf({
      'slotscaler.dev/jobmanager-url': 'http://jm:8081',
      'slotscaler.dev/parallelism-path': '.spec.p',
    });
    const crd = { specReplicasPath: '.spec.tms', statusReplicasPath: null };
    const view = adapter.describe(object, viaScale, crd);
    assert.ok(!isProblem(view));
    assert.equal(view.currentReplicas, 2);
    assert.deepEqual(
      adapter
        .planWrite(
          object,
          { replicas: 3, parallelism: 6, statusAnnotation: undefined, path: 'redeploy', vertices: null },
          viaScale,
          crd,
        )
        .map((s) => [s.path, s.body]),
      [
        [
          '/apis/example.com/v1/namespaces/ns/flinkjobs/j',
          { metadata: { resourceVersion: '3' }, spec: { p: 6 } },
        ],
        ['/apis/example.com/v1/namespaces/ns/flinkjobs/j/scale', { spec: { replicas: 3 } }],
      ],
    );
    const bothPaths = configOf({
      'slotscaler.dev/jobmanager-url': 'http://jm:8081',
      'slotscaler.dev/parallelism-path': '.spec.p',
      'slotscaler.dev/replicas-path': '.spec.tms',
    });
    assert.deepEqual(
      adapter
        .planWrite(
          object,
          { replicas: 3, parallelism: 6, statusAnnotation: undefined, path: 'redeploy', vertices: null },
          bothPaths,
          null,
        )
        .map((s) => s.body),
      [{ metadata: { resourceVersion: '3' }, spec: { tms: 3, p: 6 } }],
    );
    assert.ok(
      isProblem(
        adapter.describe(object, configOf({ 'slotscaler.dev/jobmanager-url': 'http://jm:8081' }), null),
      ),
    );
  });
});

describe('status annotation timestamps from the future', () => {
  const nowMs = Date.UTC(2026, 11, 4, 12, 0, 0);
  const in2036 = Date.UTC(2036, 0, 1);
  const status = {
    lastDecision: {
      atMs: in2036,
      fromReplicas: 1,
      toReplicas: 2,
      fromParallelism: 2,
      toParallelism: 4,
      reason: 'ScaleUpLimit',
      outcome: 'scaled',
      metrics: [],
    },
    lastRescaleAtMs: in2036,
    rescaleDoneAtMs: null,
    recommendations: [
      { replicas: 2, timestampMs: nowMs - 10_000 },
      { replicas: 3, timestampMs: in2036 },
    ],
    scaleEvents: [{ replicaChange: 1, timestampMs: in2036 }],
  };

  it('takes every timestamp beyond the skew allowance as now, and says so', () => {
    const { status: read, problems } = readStatus(encodeStatus(status), nowMs);
    assert.ok(read !== null);
    assert.equal(read.lastRescaleAtMs, nowMs);
    assert.equal(read.lastDecision?.atMs, nowMs);
    assert.deepEqual(read.recommendations, [
      { replicas: 2, timestampMs: nowMs - 10_000 },
      { replicas: 3, timestampMs: nowMs },
    ]);
    assert.deepEqual(read.scaleEvents, [{ replicaChange: 1, timestampMs: nowMs }]);
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.match(problems.join('\n'), /rescaledAt 2036-01-01T00:00:00.000Z is 9.1 years ahead/);
    assert.match(problems.join('\n'), /1 recommendation entries, the latest at 2036/);
  });

  it('keeps timestamps within the allowance as they are (clocks of two replicas differ a little)', () => {
    const nearFuture = nowMs + STATUS_CLOCK_SKEW_ALLOWANCE_MS;
    const { status: read, problems } = readStatus(
      encodeStatus({
        ...status,
        lastDecision: null,
        lastRescaleAtMs: nearFuture,
        rescaleDoneAtMs: null,
        recommendations: [],
        scaleEvents: [],
      }),
      nowMs,
    );
    assert.deepEqual(problems, []);
    assert.equal(read?.lastRescaleAtMs, nearFuture);
  });
});
