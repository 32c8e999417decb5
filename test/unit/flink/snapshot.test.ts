import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';

import fc from 'fast-check';
import '../../support/property-seed.js';

import type { JobSnapshot } from '../../../src/domain/flink.js';
import type { FlinkClient } from '../../../src/domain/ports.js';
import {
  FlinkImplausibleResponseError,
  FlinkJobNotFoundError,
  FlinkResponseTooLargeError,
  FlinkUnreachableError,
} from '../../../src/errors.js';
import { parseJobDetails } from '../../../src/flink/responses.js';
import { FlinkHttpPool } from '../../../src/flink/rest-client.js';
import {
  MultipleRunningJobsError,
  NoRunningJobError,
  countPartitions,
  perSubtaskQueryLength,
  planSourceMetrics,
  slotsPerTaskManager,
  SnapshotState,
  takeSnapshot,
} from '../../../src/flink/snapshot.js';
import type { TakeSnapshotRequest } from '../../../src/flink/snapshot.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { FakeJobManagerServer, typicalJob } from '../../fakes/fake-jobmanager.js';
import type { FakeCluster, FakeClusterSpec } from '../../fakes/fake-jobmanager.js';

function calls(snapshot: JobSnapshot): number {
  return Object.values(snapshot.restCalls).reduce((sum, count) => sum + count, 0);
}

describe('takeSnapshot', () => {
  const clock = new FakeClock();
  const pool = new FlinkHttpPool({ requestTimeoutMs: 500, maxRetries: 0 });
  let server: FakeJobManagerServer;
  let clusters = 0;

  beforeEach(async () => {
    server = await FakeJobManagerServer.start({ clock });
  });
  afterEach(async () => {
    await server.close();
  });
  after(() => pool.close());

  function setUp(spec: FakeClusterSpec): {
    cluster: FakeCluster;
    state: SnapshotState;
    take: (extra?: Partial<TakeSnapshotRequest>) => Promise<JobSnapshot>;
  } {
    clusters += 1;
    const cluster = server.addCluster({ name: `c${clusters}`, ...spec });
    const client = pool.clientFor(cluster.url);
    const state = new SnapshotState();
    return {
      cluster,
      state,
      take: (extra = {}) => takeSnapshot(client, { state, clock, ...extra }),
    };
  }

  it('discovers the one RUNNING job and stays within 1 + sources calls per tick', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({ vertices: 6, sources: 2, parallelism: 3 })] });
    const first = await take();
    assert.equal(first.jobId, cluster.jobId);
    assert.equal(first.state, 'RUNNING');
    assert.equal(first.keyed, true, 'the fake plan ships every input by HASH');
    assert.deepEqual(first.restCalls, { jobs_overview: 1, job_details: 1, subtask_metrics: 2 });
    assert.deepEqual(
      first.vertices.map((vertex) => [vertex.isSource, vertex.source?.pendingRecords ?? null]),
      [
        [true, null],
        [true, null],
        [false, null],
        [false, null],
        [false, null],
        [false, null],
      ],
      'the first tick lists the source metric names; values come from the next',
    );
    for (let tick = 0; tick < 5; tick += 1) {
      clock.advance(15_000);
      const snapshot = await take();
      assert.deepEqual(snapshot.restCalls, { job_details: 1, vertex_metrics: 2 });
      assert.equal(calls(snapshot), 1 + 2);
    }
    const last = await take();
    const sources = last.vertices.filter((vertex) => vertex.isSource);
    assert.deepEqual(
      sources.map((vertex) => vertex.source?.pendingRecords),
      [300, 300],
      'pendingRecords summed over the 3 subtasks',
    );
    assert.ok(sources.every((vertex) => (vertex.source?.recordsIn ?? 0) > 0));
    assert.ok(last.vertices.every((vertex) => vertex.gauges === null));
    assert.ok(last.vertices.every((vertex) => vertex.parallelism === 3 && vertex.maxParallelism === 128));
  });

  it('reads the checkpoint interval once per job id and the latest completed checkpoint every tick, when asked', async () => {
    const job = { ...typicalJob({ sources: 1 }), checkpointIntervalMs: 10_000, runningForMs: 95_000 };
    const { cluster, take } = setUp({ jobs: [job] });
    const runningSinceMs = clock.nowMs() - 95_000;
    const first = await take({ wantCheckpoints: true });
    assert.deepEqual(first.restCalls, {
      jobs_overview: 1,
      job_details: 1,
      subtask_metrics: 1,
      checkpoint_config: 1,
      checkpoints: 1,
    });
    assert.deepEqual(first.checkpointing, {
      intervalMs: 10_000,
      stats: {
        completed: 9,
        inProgress: 0,
        failed: 0,
        latestCompleted: {
          id: 9,
          triggeredAtMs: runningSinceMs + 89_950,
          completedAtMs: runningSinceMs + 90_000,
        },
      },
    });
    for (let tick = 0; tick < 3; tick += 1) {
      clock.advance(15_000);
      const snapshot = await take({ wantCheckpoints: true });
      // The budget grows by one call per tick: 1 + sources + the checkpoint summary.
      assert.deepEqual(snapshot.restCalls, { job_details: 1, vertex_metrics: 1, checkpoints: 1 });
    }
    // Not asked for: not read, and the snapshot says nothing of them.
    const plain = await take();
    assert.equal(plain.restCalls.checkpoints, undefined);
    assert.equal(plain.checkpointing, null);
    assert.equal(cluster.requests.filter((path) => path.endsWith('/checkpoints/config')).length, 1);
  });

  it('takes a 404 of the checkpoint config as no checkpoints, asks no more, and keeps the job', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({})] });
    const first = await take({ wantCheckpoints: true });
    assert.deepEqual(first.checkpointing, { intervalMs: null, stats: null });
    assert.equal(first.restCalls.checkpoints, undefined);
    clock.advance(15_000);
    const second = await take({ wantCheckpoints: true });
    assert.equal(second.jobId, cluster.jobId);
    assert.deepEqual(second.checkpointing, { intervalMs: null, stats: null });
    assert.equal(second.restCalls.checkpoint_config, undefined, 'read once per job id');
  });

  it('leaves the checkpointing unknown for a tick when its call fails, the rest of the snapshot standing', async () => {
    const job = { ...typicalJob({}), checkpointIntervalMs: 10_000 };
    const { cluster, take } = setUp({ jobs: [job] });
    cluster.misbehave('server-error', { match: /\/checkpoints$/, times: 1 });
    const failed = await take({ wantCheckpoints: true });
    assert.equal(failed.checkpointing, null);
    assert.equal(failed.state, 'RUNNING');
    clock.advance(15_000);
    assert.equal((await take({ wantCheckpoints: true })).checkpointing?.intervalMs, 10_000);
  });

  it('reads a named job without discovery', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({}), typicalJob({ name: 'other' })] });
    const [, secondId] = [...cluster.jobs.keys()];
    const snapshot = await take({ jobId: secondId });
    assert.equal(snapshot.jobId, secondId);
    assert.equal(snapshot.restCalls.jobs_overview, undefined);
  });

  it('names the jobs it found when none is RUNNING', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({ name: 'a' }), typicalJob({ name: 'b' })] });
    const [first, second] = [...cluster.jobs.keys()];
    cluster.setJobState('FINISHED', first);
    cluster.setJobState('FAILED', second);
    await assert.rejects(take(), (err: unknown) => {
      assert.ok(err instanceof NoRunningJobError);
      assert.deepEqual(
        err.jobs.map((job) => `${job.name} ${job.state}`),
        ['a FINISHED', 'b FAILED'],
      );
      assert.match(err.message, /no RUNNING job .* found .*"a" FINISHED, .*"b" FAILED/);
      return true;
    });
    const empty = setUp({ jobs: [] });
    await assert.rejects(empty.take(), /found no jobs/);
  });

  it('refuses to guess between several RUNNING jobs', async () => {
    const { take } = setUp({ jobs: [typicalJob({ name: 'a' }), typicalJob({ name: 'b' })] });
    await assert.rejects(take(), MultipleRunningJobsError);
  });

  it('rediscovers when the job vanished (404) or finished', async () => {
    const { cluster, state, take } = setUp({ jobs: [typicalJob({ name: 'first' })] });
    await take();
    cluster.jobs.clear();
    await assert.rejects(take(), FlinkJobNotFoundError);
    assert.equal(state.discoveredJobId, null);
    const next = cluster.addJob(typicalJob({ name: 'second' }));
    assert.equal((await take()).jobId, next);
    cluster.setJobState('FINISHED');
    assert.equal((await take()).state, 'FINISHED');
    assert.equal(state.discoveredJobId, null, 'a FINISHED job is never coming back');
  });

  it('finds the sources of each job it reads, not those of the job before', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({ name: 'first', vertices: 3, sources: 1 })] });
    await take();
    assert.deepEqual(
      (await take()).vertices.map((vertex) => vertex.isSource),
      [true, false, false],
    );
    cluster.jobs.clear();
    await assert.rejects(take(), FlinkJobNotFoundError);
    cluster.addJob(typicalJob({ name: 'second', vertices: 3, sources: 2 }));
    assert.deepEqual(
      (await take()).vertices.map((vertex) => vertex.isSource),
      [true, true, false],
    );
  });

  it('reads no source metrics while the job is not RUNNING', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({ sources: 2 })] });
    await take();
    cluster.setJobState('RESTARTING');
    const snapshot = await take();
    assert.equal(snapshot.state, 'RESTARTING');
    assert.deepEqual(snapshot.restCalls, { job_details: 1 });
  });

  it('reports pendingRecords as unknown until every subtask has it', async () => {
    const { cluster, take } = setUp({
      jobs: [typicalJob({ sources: 1, parallelism: 2, pendingRecordsPerSubtask: null })],
    });
    const options = { metricNamesRefreshTicks: 3 };
    await take({ options }); // tick 1 lists: nothing yet
    clock.advance(15_000);
    let snapshot = await take({ options }); // tick 2 lists again (1 tick after the first empty listing)
    assert.equal(snapshot.restCalls.subtask_metrics, 1);
    snapshot = await take({ options }); // tick 3 reads
    assert.equal(snapshot.vertices[0]?.source?.pendingRecords, null, 'not registered: unknown, not 0');
    assert.ok((snapshot.vertices[0].source.recordsIn ?? 0) > 0, 'numRecordsIn is there all along');
    cluster.setSource(0, { pendingRecordsPerSubtask: 50, pendingRegisteredSubtasks: 1 });
    snapshot = await take({ options }); // tick 4 lists (2 ticks after the second)
    assert.equal(snapshot.restCalls.subtask_metrics, 1, 're-listed while pendingRecords is missing');
    snapshot = await take({ options });
    assert.equal(snapshot.vertices[0]?.source?.pendingRecords, null, 'one subtask of two: still unknown');
    cluster.setSource(0, { pendingRegisteredSubtasks: 2 });
    snapshot = await take({ options });
    assert.equal(snapshot.vertices[0]?.source?.pendingRecords, 100);
  });

  it('lists a source without pendingRecords again after 1, 2, 4, ... ticks, at most metricNamesRefreshTicks apart', async () => {
    const { cluster, take } = setUp({
      jobs: [typicalJob({ sources: 1, parallelism: 2, pendingRecordsPerSubtask: null })],
    });
    const options = { metricNamesRefreshTicks: 10 };
    const listedAt: number[] = [];
    for (let tick = 1; tick <= 40; tick += 1) {
      const snapshot = await take({ options });
      if ((snapshot.restCalls.subtask_metrics ?? 0) > 0) listedAt.push(tick);
      clock.advance(15_000);
    }
    assert.deepEqual(listedAt, [1, 2, 4, 8, 16, 26, 36]);
    // Once it shows, it is read every tick and not listed again.
    cluster.setSource(0, { pendingRecordsPerSubtask: 50, pendingRegisteredSubtasks: 2 });
    let found: number | null = null;
    for (let tick = 41; tick <= 60; tick += 1) {
      const snapshot = await take({ options });
      if ((snapshot.restCalls.subtask_metrics ?? 0) > 0) listedAt.push(tick);
      if (found === null && snapshot.vertices[0]?.source?.pendingRecords === 100) found = tick;
      clock.advance(15_000);
    }
    assert.deepEqual(listedAt.slice(7), [46]);
    assert.equal(found, 47);
  });

  it('uses the aggregated endpoint when the per-subtask query would be too long', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({ sources: 1, parallelism: 4 })] });
    const options = { maxMetricQueryLength: 50 };
    await take({ options });
    let snapshot = await take({ options });
    assert.deepEqual(snapshot.restCalls, { job_details: 1, subtask_metrics: 1 });
    assert.equal(snapshot.vertices[0]?.source?.pendingRecords, 400);
    cluster.setSource(0, { pendingRegisteredSubtasks: 3 });
    snapshot = await take({ options });
    assert.equal(snapshot.vertices[0]?.source?.pendingRecords, null, 'sum / avg = 3 subtasks of 4: unknown');
  });

  it('asks the subtask gauges only where counters are missing, and not again when Flink has none', async () => {
    const { cluster, take } = setUp({
      jobs: [{ ...typicalJob({ vertices: 3, sources: 1 }), counters: 'nan-string' }],
    });
    let snapshot = await take();
    assert.equal(snapshot.restCalls.subtask_metrics, 1 + 3, 'one listing and one gauge query per vertex');
    assert.ok(snapshot.vertices.every((vertex) => vertex.counters.busyTimeMs === null));
    assert.ok(
      snapshot.vertices.every((vertex) => vertex.gauges === null),
      'busyTimeMsPerSecond is NaN too',
    );
    snapshot = await take();
    assert.deepEqual(snapshot.restCalls, { job_details: 1, vertex_metrics: 1 }, 'back within budget');

    cluster.setCounters('missing');
    cluster.restartJob();
    snapshot = await take();
    assert.ok(snapshot.vertices.every((vertex) => vertex.gauges?.busyTimeMsPerSecond !== null));
    assert.equal(snapshot.vertices[1]?.gauges?.busyTimeMsPerSecond, 500);
    assert.equal(snapshot.vertices[1].gauges.backPressuredTimeMsPerSecond, 0);
  });

  it('turns bare NaN counters into null', async () => {
    const { take } = setUp({ jobs: [{ ...typicalJob({ vertices: 2 }), counters: 'nan-bare' }] });
    const snapshot = await take();
    assert.equal(snapshot.vertices[0]?.counters.busyTimeMs, null);
    assert.ok((snapshot.vertices[0].counters.idleTimeMs ?? 0) > 0);
  });

  it('reads task slots once, when asked, and again after a restart', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({})], taskManagers: 3, slotsPerTaskManager: 4 });
    assert.equal((await take()).taskSlots, null);
    let snapshot = await take({ wantTaskSlots: true });
    assert.equal(snapshot.taskSlots, 4);
    assert.equal(snapshot.restCalls.taskmanagers, 1);
    snapshot = await take({ wantTaskSlots: true });
    assert.equal(snapshot.restCalls.taskmanagers, undefined);
    cluster.slotsPerTaskManager = 8;
    cluster.restartJob();
    snapshot = await take({ wantTaskSlots: true });
    assert.equal(snapshot.taskSlots, 8);
  });

  it('forgets the source metric names when the job restarts with another parallelism', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({ sources: 1, parallelism: 2 })] });
    await take();
    assert.equal((await take()).vertices[0]?.source?.pendingRecords, 200);
    clock.advance(1000);
    cluster.restartJob({ parallelism: 3 });
    const restarted = await take();
    assert.notEqual(restarted.runningSinceMs, null);
    assert.equal(restarted.restCalls.subtask_metrics, 1, 'listed again');
    assert.equal((await take()).vertices[0]?.source?.pendingRecords, 300);
  });

  it('keeps the snapshot when a source metric call fails', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({ sources: 1 })] });
    await take();
    cluster.misbehave('server-error', { match: /\/metrics/ });
    const snapshot = await take();
    assert.equal(snapshot.state, 'RUNNING');
    assert.equal(snapshot.vertices[0]?.source?.pendingRecords, null);
  });

  it('fails with a typed error when the job details cannot be read', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({})] });
    await take();
    cluster.misbehave('reset');
    await assert.rejects(take(), FlinkUnreachableError);
  });

  it('fails a JobManager claiming a parallelism of 1e9 with a typed error, asking nothing per subtask', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({ vertices: 3, sources: 1 })] });
    await take();
    cluster.requests.length = 0;
    cluster.claimParallelism(0, 1e9);
    await assert.rejects(take(), (err: unknown) => {
      assert.ok(err instanceof FlinkImplausibleResponseError, String(err));
      assert.match(
        err.message,
        /vertices\[0\]\.parallelism = 1000000000, above Flink's maximum parallelism of 32768/,
      );
      return true;
    });
    assert.deepEqual(cluster.requests, [`/jobs/${cluster.jobId}`]);
  });

  it('fails the snapshot when a source call answers beyond the bounds, rather than call it unknown', async () => {
    const { cluster, take } = setUp({ jobs: [typicalJob({ sources: 1 })] });
    await take();
    cluster.misbehave('huge', { match: /\/metrics/ });
    await assert.rejects(take(), FlinkResponseTooLargeError);
    cluster.behave();
    assert.equal((await take()).state, 'RUNNING');
  });

  it('finds sources by name when the plan is missing', async () => {
    const { take } = setUp({ jobs: [typicalJob({ vertices: 3 })] });
    const snapshot = await take();
    assert.deepEqual(
      snapshot.vertices.map((vertex) => vertex.isSource),
      [true, false, false],
    );
  });
});

describe('planSourceMetrics', () => {
  const names = [
    'numRecordsIn',
    'busyTimeMsPerSecond',
    'Source__Kafka.pendingRecords',
    'Source__Kafka.numRecordsIn',
    'Source__Kafka.numRecordsOut',
    'Map.numRecordsIn',
  ];
  it('finds the source operator and picks per-subtask reads when the query is short', () => {
    assert.deepEqual(planSourceMetrics(names, 2, 1, 3000), {
      parallelism: 2,
      listedAtTick: 1,
      pendingNames: ['Source__Kafka.pendingRecords'],
      recordsInName: 'Source__Kafka.numRecordsIn',
      recordsOutName: 'Source__Kafka.numRecordsOut',
      taskTimeNames: [],
      mode: 'per-subtask',
      partitions: null,
    });
  });
  it('counts the partitions the Kafka and Pulsar readers name in their metrics', () => {
    const kafka = (topic: string, partition: number, cluster = '') =>
      `Source__Kafka${cluster}.KafkaSourceReader.topic.${topic}.partition.${partition}.currentOffset`;
    const listed = [
      ...names,
      kafka('orders', 0),
      kafka('orders', 1),
      kafka('orders', 11),
      kafka('orders.eu', 1), // a topic with a dot is another topic
      kafka('orders', 1, '.kafkaCluster.east'), // the same topic on another cluster is another partition
      'Source__Kafka.KafkaSourceReader.topic.orders.partition.2.committedOffset', // not the offset counted
    ];
    assert.equal(planSourceMetrics(listed, 2, 1, 3000).partitions, 5);
    assert.equal(
      countPartitions(['Source.PulsarConsumer.persistent://t/n/x-partition-3.c1.numMsgsReceived']),
      1,
    );
    assert.equal(countPartitions(names), null);
  });
  it('reads the task’s accumulated times with the source metrics when all three are listed', () => {
    const times = ['accumulateBusyTimeMs', 'accumulateIdleTimeMs', 'accumulateBackPressuredTimeMs'];
    assert.deepEqual(planSourceMetrics([...names, ...times], 2, 1, 3000).taskTimeNames, times);
    assert.deepEqual(planSourceMetrics([...names, ...times.slice(1)], 2, 1, 3000).taskTimeNames, []);
    // Only as the clock of a backlog: without pendingRecords they are not read.
    assert.deepEqual(
      planSourceMetrics(['Source__Legacy.numRecordsIn', ...times], 1, 1, 3000).taskTimeNames,
      [],
    );
  });
  it('falls back to the aggregated endpoint for a long query', () => {
    assert.equal(planSourceMetrics(names, 500, 1, 3000).mode, 'aggregated');
  });
  it('takes an operator named Source when there is no pendingRecords', () => {
    const plan = planSourceMetrics(['Source__Legacy.numRecordsIn', 'numRecordsIn'], 1, 1, 3000);
    assert.deepEqual(
      [plan.pendingNames, plan.recordsInName, plan.mode],
      [[], 'Source__Legacy.numRecordsIn', 'per-subtask'],
    );
    assert.equal(planSourceMetrics(['numRecordsIn'], 1, 1, 3000).mode, 'none');
  });
});

describe('the work of a snapshot is bounded by the bounds, not by claims', () => {
  const names = ['Source__Kafka.pendingRecords', 'Source__Kafka.numRecordsIn', 'Source__Kafka.numRecordsOut'];

  it('plans a parallelism of 1e9 without building a list per subtask', () => {
    const plan = planSourceMetrics(names, 1e9, 1, 3000);
    assert.equal(plan.mode, 'aggregated');
    assert.equal(perSubtaskQueryLength(names, 1e9) > 3000, true);
  });

  it('computes the length of the per-subtask query without the list', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 3000 }),
        (metricNames, parallelism) => {
          let materialized = 0;
          for (let subtask = 0; subtask < parallelism; subtask += 1) {
            for (const name of metricNames) materialized += `${subtask}.${name}`.length + 1;
          }
          assert.equal(perSubtaskQueryLength(metricNames, parallelism), materialized);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('plans from a listing of 200,000 names in one pass (it was quadratic)', () => {
    const listing: string[] = [];
    for (let index = 0; index < 100_000; index += 1) {
      listing.push(`Op${index}.pendingRecords`, `Other${index}.numRecordsIn`);
    }
    listing.push('Op99999.numRecordsIn');
    const plan = planSourceMetrics(listing, 2, 1, 3000);
    assert.equal(plan.recordsInName, 'Op99999.numRecordsIn');
    assert.equal(plan.pendingNames.length, 100_000);
  });

  it('fails the target when a source vertex lists more than 64 pendingRecords gauges', async () => {
    const details = parseJobDetails(
      {
        jid: 'j',
        state: 'RUNNING',
        now: Date.UTC(2026, 0, 1),
        vertices: [{ id: 's', name: 'Source', parallelism: 2, maxParallelism: 128 }],
        plan: { nodes: [{ id: 's' }] },
      },
      'http://jm/jobs/j',
    );
    const listing = Array.from({ length: 65 }, (_, index) => `Source_${index}.pendingRecords`);
    const client: FlinkClient = {
      baseUrl: 'http://jm',
      listJobs: () => Promise.resolve([]),
      getJobDetails: () => Promise.resolve(details),
      getVertexMetrics: () => Promise.resolve([]),
      listSubtaskMetricNames: () => Promise.resolve(listing),
      getAggregatedSubtaskMetrics: () => Promise.resolve([]),
      listTaskManagers: () => Promise.resolve([]),
      // A snapshot never reads per-TaskManager figures: they are not part of its budget.
      getVertexTaskManagers: () => Promise.reject(new Error('not part of a snapshot')),
      // Nor its checkpointing, unless asked for (`wantCheckpoints`).
      getCheckpointConfig: () => Promise.reject(new Error('not asked for')),
      getCheckpointStats: () => Promise.reject(new Error('not asked for')),
    };
    await assert.rejects(
      takeSnapshot(client, { jobId: 'j', state: new SnapshotState(), clock: new FakeClock() }),
      (err: unknown) =>
        err instanceof FlinkImplausibleResponseError &&
        err.field === 'pendingRecords metrics' &&
        err.value === 65 &&
        /source operators Slotscaler reads in one vertex of 64/.test(err.message),
    );
  });
});

describe('slotsPerTaskManager', () => {
  it('is the most common slot count, the smaller on a tie, null without TaskManagers', () => {
    assert.equal(slotsPerTaskManager([2, 2, 4]), 2);
    assert.equal(slotsPerTaskManager([4, 2]), 2);
    assert.equal(slotsPerTaskManager([]), null);
    assert.equal(slotsPerTaskManager([0]), null);
  });
});
