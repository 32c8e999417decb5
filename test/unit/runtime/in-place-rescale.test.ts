// The scaling loop's in-place rescales with fakes for time, the job as the JobManager shows it, the
// writer, the JobManager's resource requirements and Events: the path each write takes, how a
// rescale is followed until the job runs at it, and what happens when it is not taken or refused.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';

import type { ResourceRequirements } from '../../../src/domain/flink.js';
import type { JobRequirementsClient } from '../../../src/domain/ports.js';
import { FlinkHttpError } from '../../../src/errors.js';
import { deploymentAdapter } from '../../../src/kube/adapters/deployment.js';
import { PARALLELISM_OVERRIDES } from '../../../src/kube/adapters/flink-deployment.js';
import type { KubeObject } from '../../../src/kube/objects.js';
import { decodeStatus } from '../../../src/kube/status-annotation.js';
import type { RegisteredTarget, TargetSource } from '../../../src/kube/target-registry.js';
import type { JobAsSeen, WindowReadings } from '../../../src/metrics/metric-window.js';
import { metricValues } from '../../../src/metrics/expression-metric.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ScalingLoop } from '../../../src/runtime/scaling-loop.js';
import type { MetricsSource } from '../../../src/runtime/scaling-loop.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { FakeEvents } from '../../fakes/fake-events.js';
import { FakeWriter } from '../../fakes/fake-writer.js';
import { flinkDeployment, register } from '../../fakes/flink-deployment-target.js';
import { RUNNING_JOB, windowReadings } from '../../fakes/window-readings.js';

const VERTEX = RUNNING_JOB.vertices[0]?.id ?? '';

/** A FlinkDeployment the operator rescales in place. */
function inPlaceDeployment(options: Parameters<typeof flinkDeployment>[1] = {}): KubeObject {
  return flinkDeployment('job', {
    flinkVersion: 'v1_20',
    ...options,
    flinkConfiguration: { 'jobmanager.scheduler': 'adaptive', ...options.flinkConfiguration },
    annotations: { 'slotscaler.dev/rescale-confirm-timeout': '60s', ...options.annotations },
  });
}

/** A TaskManager Deployment with no operator, its job on the adaptive scheduler. */
function taskManagerDeployment(replicas: number, resourceVersion = '1'): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'job',
      namespace: 'flink',
      uid: 'uid-job',
      resourceVersion,
      generation: 1,
      annotations: {
        'slotscaler.dev/enabled': 'true',
        'slotscaler.dev/metrics': 'flink_busy_ratio=0.5',
        'slotscaler.dev/jobmanager-url': 'http://job-rest.flink:8081',
        'slotscaler.dev/task-slots': '2',
        'slotscaler.dev/rescale': 'in-place',
        'slotscaler.dev/scale-down-stabilization': '0s',
      },
    },
    spec: { replicas },
    status: { replicas, readyReplicas: replicas, observedGeneration: 1 },
  };
}

class World implements TargetSource, MetricsSource {
  target: RegisteredTarget | undefined;
  busy = 1;
  /** The job as the JobManager shows it. */
  job: JobAsSeen = RUNNING_JOB;
  constructor(private readonly clock: FakeClock) {}
  set(target: RegisteredTarget): void {
    this.target = target;
  }
  list(): readonly RegisteredTarget[] {
    return this.target === undefined ? [] : [this.target];
  }
  get(id: string): RegisteredTarget | undefined {
    return this.target?.id === id ? this.target : undefined;
  }
  /** The job runs at `parallelism` (every vertex), since now, seen now. */
  runsAt(parallelism: number, jobId = this.job.jobId): void {
    const now = this.clock.nowMs();
    this.job = {
      ...this.job,
      jobId,
      runningSinceMs: now,
      seenAtMs: now,
      vertices: this.job.vertices.map((vertex) => ({ ...vertex, parallelism })),
    };
  }
  readings(): WindowReadings {
    const now = this.clock.nowMs();
    return windowReadings(
      { value: this.busy },
      {
        spanSeconds: 2,
        lastSampleAtMs: now,
        job: { ...this.job, seenAtMs: Math.max(this.job.seenAtMs, now) },
      },
    );
  }
  values(): ReturnType<typeof metricValues> {
    return metricValues(this.readings().metrics, []);
  }
}

class FakeJobManager implements JobRequirementsClient {
  readonly baseUrl = 'http://job-rest.flink:8081';
  requirements: ResourceRequirements = {
    [VERTEX]: { parallelism: { lowerBound: 1, upperBound: 2 } },
  };
  readonly puts: ResourceRequirements[] = [];
  refuse: string | null = null;
  getResourceRequirements(): Promise<ResourceRequirements> {
    return Promise.resolve(this.requirements);
  }
  setResourceRequirements(_jobId: string, requirements: ResourceRequirements): Promise<void> {
    if (this.refuse !== null) {
      return Promise.reject(
        new FlinkHttpError(`${this.baseUrl}/jobs/x/resource-requirements`, 400, this.refuse),
      );
    }
    this.puts.push(requirements);
    this.requirements = requirements;
    return Promise.resolve();
  }
}

function setUp() {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const world = new World(clock);
  const writer = new FakeWriter();
  const events = new FakeEvents();
  const jobManager = new FakeJobManager();
  /** What happened, in order: kube writes and JobManager PUTs. */
  const order: string[] = [];
  writer.onWrite = (steps) => order.push(`kube ${steps.map((step) => step.what).join(' + ')}`);
  const loop = new ScalingLoop({
    targets: world,
    metrics: world,
    writer,
    events,
    leader: { isLeader: () => true },
    clock,
    logger: silentLogger,
    sleep: () => Promise.resolve(),
    jobManagers: () => ({
      baseUrl: jobManager.baseUrl,
      getResourceRequirements: () => jobManager.getResourceRequirements(),
      setResourceRequirements: async (jobId, requirements) => {
        await jobManager.setResourceRequirements(jobId, requirements);
        order.push(`flink ${JSON.stringify(requirements)}`);
      },
    }),
  });
  return { clock, world, writer, events, jobManager, order, loop };
}

const ID = 'flinkdeployment/flink/job';

describe('in-place rescales of a FlinkDeployment', () => {
  let t: ReturnType<typeof setUp>;
  beforeEach(() => {
    t = setUp();
  });

  it('writes the overrides key alone, says "in place", and follows the job to the new parallelism', async () => {
    t.world.set(register(inPlaceDeployment()));
    assert.equal((await t.loop.runOnce()).outcomes.get(ID), 'scaled');
    const body = t.writer.plans[0]?.[0]?.body as {
      spec: unknown;
      metadata: { annotations: Record<string, string> };
    };
    assert.deepEqual(body.spec, { flinkConfiguration: { [PARALLELISM_OVERRIDES]: `${VERTEX}:4` } });
    assert.equal(
      decodeStatus(body.metadata.annotations['slotscaler.dev/status'])?.lastDecision?.path,
      'in-place',
    );
    assert.match(t.events.events[0]?.note ?? '', /; in place \(native mode on the adaptive scheduler/);

    // The operator took it (the spec now carries the overrides); the job has not rescaled yet.
    t.world.set(
      register(inPlaceDeployment({ flinkConfiguration: { [PARALLELISM_OVERRIDES]: `${VERTEX}:4` } })),
    );
    t.clock.advance(2_000);
    t.world.busy = 1.5;
    assert.equal((await t.loop.runOnce()).outcomes.get(ID), 'held');
    assert.match(
      t.events.events.at(-1)?.note ?? '',
      /held: the in-place rescale to parallelism 4 has not shown/,
    );

    // Three seconds later it runs at 4 under the same job: done, and the cooldown counts from then.
    t.clock.advance(3_000);
    t.world.runsAt(4);
    t.clock.advance(3_000);
    await t.loop.runOnce();
    const done = t.events.events.find((event) => event.reason === 'RescaleDone');
    assert.equal(
      done?.note,
      'the job runs at parallelism 4 (rescaled in place, same job), 5 s after the write',
    );
    assert.equal(t.loop.status(ID)?.rescaleDoneAtMs, Date.UTC(2026, 0, 1) + 5_000);
  });

  it('an in-place rescale that reaches the job under a new job id is a Warning: it was redeployed', async () => {
    t.world.set(register(inPlaceDeployment()));
    await t.loop.runOnce();
    t.clock.advance(30_000);
    t.world.runsAt(4, 'c'.repeat(32));
    t.clock.advance(1_000);
    await t.loop.runOnce();
    const warning = t.events.events.find((event) => event.reason === 'RescaleRedeployed');
    assert.equal(warning?.type, 'Warning');
    assert.match(
      warning.note,
      /under a new job id c+ \(was a+\): the job was redeployed, not rescaled in place/,
    );
  });

  it('not taken in time: a Warning, then with rescale auto one redeploy at that parallelism', async () => {
    t.world.set(register(inPlaceDeployment()));
    await t.loop.runOnce();
    t.world.set(
      register(inPlaceDeployment({ flinkConfiguration: { [PARALLELISM_OVERRIDES]: `${VERTEX}:4` } })),
    );
    t.clock.advance(61_000);
    assert.equal((await t.loop.runOnce()).outcomes.get(ID), 'scaled');
    const warning = t.events.events.find((event) => event.reason === 'RescaleNotTaken');
    assert.match(
      warning?.note ?? '',
      /^the in-place rescale to parallelism 4 did not show on the JobManager within 60 s \(seen: job a+ RUNNING: source 2 RUNNING\); redeploying at that parallelism/,
    );
    assert.deepEqual((t.writer.plans[1]?.[0]?.body as { spec: unknown }).spec, {
      taskManager: { replicas: 2 },
      job: { parallelism: 4 },
      flinkConfiguration: { [PARALLELISM_OVERRIDES]: null },
    });
    assert.match(
      t.events.events.at(-1)?.note ?? '',
      /; redeploy \(the job did not take the in-place rescale/,
    );
  });

  it('an in-place rescale that comes late, after it was reported not taken, is not redeployed', async () => {
    const overrides = { [PARALLELISM_OVERRIDES]: `${VERTEX}:4` };
    t.world.set(register(inPlaceDeployment()));
    await t.loop.runOnce();
    // Not taken in time, while the operator is busy: the redeploy that would follow is held...
    t.world.set(register(inPlaceDeployment({ flinkConfiguration: overrides, lifecycleState: 'UPGRADING' })));
    t.clock.advance(61_000);
    assert.equal((await t.loop.runOnce()).outcomes.get(ID), 'held');
    assert.ok(t.events.events.some((event) => event.reason === 'RescaleNotTaken'));
    // ...and then the job runs at it: nothing more to write.
    t.world.set(register(inPlaceDeployment({ flinkConfiguration: overrides })));
    t.world.runsAt(4);
    t.clock.advance(1_000);
    await t.loop.runOnce();
    assert.equal(t.writer.plans.length, 1, 'no redeploy');
  });

  it('not taken with rescale in-place: a Warning and no redeploy', async () => {
    t.world.set(register(inPlaceDeployment({ annotations: { 'slotscaler.dev/rescale': 'in-place' } })));
    await t.loop.runOnce();
    t.world.set(
      register(
        inPlaceDeployment({
          annotations: { 'slotscaler.dev/rescale': 'in-place' },
          flinkConfiguration: { [PARALLELISM_OVERRIDES]: `${VERTEX}:4` },
        }),
      ),
    );
    t.clock.advance(61_000);
    t.world.busy = 1; // the decision still wants 2 TaskManagers: what the spec says
    await t.loop.runOnce();
    t.clock.advance(15_000);
    await t.loop.runOnce();
    assert.equal(t.writer.plans.length, 1, 'no second write');
    assert.match(
      t.events.events.find((event) => event.reason === 'RescaleNotTaken')?.note ?? '',
      /; no redeploy follows/,
    );
  });

  it('in-place asked for on a spec that cannot: a Warning naming what is missing, nothing written', async () => {
    t.world.set(register(flinkDeployment('job', { annotations: { 'slotscaler.dev/rescale': 'in-place' } })));
    assert.equal((await t.loop.runOnce()).outcomes.get(ID), 'held');
    assert.equal(t.writer.plans.length, 0);
    const warning = t.events.events.find((event) => event.reason === 'RescalePathUnavailable');
    assert.equal(warning?.type, 'Warning');
    assert.match(warning.note, /in-place, but the spec lacks a known flinkVersion .*the adaptive scheduler/);
  });

  it('a spec that cannot rescale in place is redeployed, and the Event says why', async () => {
    t.world.set(
      register(
        flinkDeployment('job', {
          flinkVersion: 'v1_17',
          flinkConfiguration: { 'jobmanager.scheduler': 'adaptive' },
        }),
      ),
    );
    await t.loop.runOnce();
    assert.deepEqual((t.writer.plans[0]?.[0]?.body as { spec: unknown }).spec, {
      taskManager: { replicas: 2 },
      job: { parallelism: 4 },
    });
    assert.match(
      t.events.events[0]?.note ?? '',
      /; redeploy \(not in place without Flink 1\.18 or later \(flinkVersion v1_17\)/,
    );
  });
});

describe('in-place rescales of a TaskManager Deployment without an operator', () => {
  const ID_DEPLOYMENT = 'deployment/flink/job';
  let t: ReturnType<typeof setUp>;
  beforeEach(() => {
    t = setUp();
  });

  it("up: the TaskManagers first, then the job's requirements (lower bound kept)", async () => {
    t.world.set(register(taskManagerDeployment(1), deploymentAdapter));
    assert.equal((await t.loop.runOnce()).outcomes.get(ID_DEPLOYMENT), 'scaled');
    assert.deepEqual(t.order, [
      'kube scale.spec.replicas=2 + slotscaler.dev/status',
      `flink {"${VERTEX}":{"parallelism":{"lowerBound":1,"upperBound":4}}}`,
    ]);
  });

  it('down: the requirements first, then the TaskManagers', async () => {
    t.world.set(register(taskManagerDeployment(4), deploymentAdapter));
    t.world.runsAt(8);
    t.world.busy = 0.1;
    t.jobManager.requirements = { [VERTEX]: { parallelism: { lowerBound: 8, upperBound: 8 } } };
    t.clock.advance(1_000);
    assert.equal((await t.loop.runOnce()).outcomes.get(ID_DEPLOYMENT), 'scaled');
    assert.deepEqual(t.order, [
      `flink {"${VERTEX}":{"parallelism":{"lowerBound":2,"upperBound":2}}}`,
      'kube scale.spec.replicas=1 + slotscaler.dev/status',
    ]);
  });

  it('a refusal by the JobManager is one Warning, no retry loop, no redeploy, and the TaskManagers stay', async () => {
    t.world.set(register(taskManagerDeployment(4), deploymentAdapter));
    t.world.runsAt(8);
    t.world.busy = 0.1;
    t.jobManager.requirements = { [VERTEX]: { parallelism: { lowerBound: 1, upperBound: 8 } } };
    t.jobManager.refuse = 'Rescaling is not supported in reactive mode';
    for (let tick = 0; tick < 8; tick += 1) {
      t.clock.advance(15_000);
      await t.loop.runOnce();
    }
    assert.equal(t.writer.plans.length, 0, 'the Deployment was not scaled down under the job');
    const refusals = t.events.events.filter((event) => event.reason === 'RescaleRefused');
    assert.equal(refusals.length, 1);
    assert.match(
      refusals[0]?.note ?? '',
      /the JobManager refused the in-place rescale: .*reactive mode.*; not retried for 60 s, and no redeploy/,
    );
  });
});
