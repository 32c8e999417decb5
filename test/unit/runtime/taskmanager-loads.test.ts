import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { TaskManagerVertexTimes } from '../../../src/domain/flink.js';
import type { FlinkClient, PodFacts } from '../../../src/domain/ports.js';
import { RecentReads } from '../../../src/lib/recent-reads.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { TaskManagerLoadCollector, runsIn, servedPodsOf } from '../../../src/runtime/taskmanager-loads.js';
import type { PodMetricsTarget } from '../../../src/runtime/taskmanager-loads.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { windowReadings } from '../../fakes/window-readings.js';

const POD: PodFacts = { name: 'clicks-taskmanager-1-1', labels: { app: 'clicks' }, podIp: '10.244.1.5' };

describe('runsIn', () => {
  const cases: [string, string, boolean][] = [
    // Native Kubernetes: the resource id is the pod name.
    ['clicks-taskmanager-1-1', '10.244.1.5:6121', true],
    // Standalone: the resource id starts with the pod IP.
    ['10.244.1.5:6122-a1b2c3', 'somewhere:6121', true],
    // By host: the IP, the pod name, a name under it, the dashed IP of a reverse lookup.
    ['f3a8', '10.244.1.5:6121', true],
    ['f3a8', 'clicks-taskmanager-1-1:6121', true],
    ['f3a8', 'clicks-taskmanager-1-1.clicks.flink.svc:6121', true],
    ['f3a8', '10-244-1-5.clicks-rest.flink.svc.cluster.local:6121', true],
    // Not it: another IP sharing a prefix, another pod whose name starts alike.
    ['f3a8', '10.244.1.50:6121', false],
    ['10.244.1.50:6122-a1b2c3', 'x:1', false],
    ['clicks-taskmanager-1-10', 'clicks-taskmanager-1-10:6121', false],
    ['f3a8', '10-244-1-50.clicks:6121', false],
  ];
  for (const [taskManagerId, host, expected] of cases) {
    it(`${expected ? 'matches' : 'does not match'} ${taskManagerId} at ${host}`, () => {
      assert.equal(runsIn({ taskManagerId, host }, POD), expected);
    });
  }

  it('matches by name only a pod without an IP', () => {
    const pending = { ...POD, podIp: null };
    assert.equal(runsIn({ taskManagerId: 'f3a8', host: '10.244.1.5:6121' }, pending), false);
    assert.equal(runsIn({ taskManagerId: 'clicks-taskmanager-1-1', host: 'x:1' }, pending), true);
  });
});

describe('servedPodsOf', () => {
  it('serves each matched TaskManager under its pod, with the window between the samples, unknown ratios as unavailable', () => {
    const served = servedPodsOf(
      [
        { taskManagerId: 'clicks-taskmanager-1-1', host: 'x:1', busyRatio: 0.75, backPressureRatio: null },
        { taskManagerId: 'elsewhere', host: '10.0.0.9:6121', busyRatio: 0.1, backPressureRatio: 0 },
      ],
      [POD],
      { fromMs: 1_000, toMs: 16_400, maxSampleAgeSeconds: 60 },
    );
    assert.deepEqual(served, [
      {
        name: 'clicks-taskmanager-1-1',
        labels: { app: 'clicks' },
        timestampMs: 16_400,
        windowSeconds: 15,
        freshUntilMs: 76_400,
        metrics: {
          flink_taskmanager_busy_ratio: { value: 0.75 },
          flink_taskmanager_backpressure_ratio: {
            unavailable: 'not-enough-samples',
            detail: 'no counters of its subtasks in two consecutive ticks',
          },
        },
      },
    ]);
  });
});

describe('TaskManagerLoadCollector', () => {
  function fixture() {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const calls: string[] = [];
    const listed: string[] = [];
    let busyMs = 0;
    const client = (url: string): FlinkClient =>
      ({
        baseUrl: url,
        getVertexTaskManagers: (
          jobId: string,
          vertexId: string,
        ): Promise<readonly TaskManagerVertexTimes[]> => {
          calls.push(`${url} ${jobId} ${vertexId}`);
          return Promise.resolve([
            {
              taskManagerId: `${vertexId}-tm`,
              host: '10.244.1.5:6121',
              busyTimeMs: busyMs,
              backPressuredTimeMs: 0,
              // Idle three times as long as busy: a busy ratio of 0.25 between any two samples.
              idleTimeMs: 3 * busyMs,
            },
          ]);
        },
      }) as unknown as FlinkClient;
    const demand = new RecentReads();
    const collector = new TaskManagerLoadCollector({
      clientFor: client,
      pods: {
        runningPods: (namespace) => {
          listed.push(namespace);
          return Promise.resolve([POD]);
        },
      },
      demand,
      readings: () =>
        windowReadings(
          { value: 0.5 },
          {
            jobId: 'j',
            vertices: [
              {
                id: 'v1',
                name: 'Source',
                parallelism: 1,
                isSource: true,
                busyRatio: 0.5,
                backPressureRatio: 0,
                pendingRecords: null,
                recordsInPerSecond: null,
                backlogGrowthPerRecord: null,
                newestBacklogGrowthPerRecord: null,
                newestArrivalOverRead: null,
                newestBusyRatio: null,
                timeCountersReported: true,
              },
            ],
          },
        ),
      clock,
      logger: silentLogger,
    });
    const targets: PodMetricsTarget[] = [
      {
        id: 'flinkdeployment/flink/read',
        namespace: 'flink',
        jobManagerUrl: 'http://read',
        maxSampleAgeSeconds: 60,
      },
      {
        id: 'flinkdeployment/flink/unread',
        namespace: 'flink',
        jobManagerUrl: 'http://unread',
        maxSampleAgeSeconds: 60,
      },
    ];
    return { clock, calls, listed, demand, collector, targets, setBusy: (ms: number) => (busyMs = ms) };
  }

  it('reads nothing while no Pods metric is read: the collector budget holds', async () => {
    const { collector, targets, calls, listed, clock } = fixture();
    await collector.tick(targets);
    clock.advance(15_000);
    await collector.tick(targets);
    assert.deepEqual(calls, []);
    assert.deepEqual(listed, []);
    assert.equal(collector.pods(targets[0]?.id ?? ''), undefined);
  });

  it('reads the marked target only, serves its pods from the second tick, and stops once its reads are old', async () => {
    const { collector, targets, calls, listed, clock, demand, setBusy } = fixture();
    const [read, unread] = targets;
    assert.ok(read && unread);
    demand.markRead(read.id, clock.nowMs());
    await collector.tick(targets);
    assert.deepEqual(calls, ['http://read j v1']);
    assert.equal(collector.pods(read.id), undefined, 'one sample gives no ratio');
    clock.advance(15_000);
    setBusy(2_500);
    await collector.tick(targets);
    assert.deepEqual(calls, ['http://read j v1', 'http://read j v1']);
    assert.deepEqual(listed, ['flink']);
    const pods = collector.pods(read.id);
    assert.equal(pods?.length, 1);
    assert.deepEqual(pods[0]?.metrics.flink_taskmanager_busy_ratio, { value: 0.25 });
    assert.equal(collector.pods(unread.id), undefined);
    clock.advance(5 * 60_000 + 1);
    await collector.tick(targets);
    assert.equal(calls.length, 2);
    assert.equal(collector.pods(read.id), undefined);
  });
});
