// The peer benchmark's counting proxy and scenario runner against the fake JobManager: every call
// a system makes through the proxy is counted once, by route, and answered as the JobManager
// answered it; the runner applies the phases in order, sees each rescale once and sums up the run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { routeOf, startCountingProxy } from '../../../bench/peers/counting-proxy.js';
import type { CountingProxy } from '../../../bench/peers/counting-proxy.js';
import {
  neededParallelism,
  parallelismChanges,
  runScenario,
  scenarioTable,
  summarizeScenario,
} from '../../../bench/peers/scenario.js';
import type { JobObservation, ScenarioRun, ScenarioSample } from '../../../bench/peers/scenario.js';
import { startFakeJobManager, typicalJob } from '../../fakes/fake-jobmanager.js';
import type { FakeCluster, FakeJobManagerServer } from '../../fakes/fake-jobmanager.js';

const JOB_ID = '0123456789abcdef0123456789abcdef';

describe('peer bench: counting proxy', () => {
  let server: FakeJobManagerServer;
  let cluster: FakeCluster;
  let proxy: CountingProxy;

  before(async () => {
    ({ server, cluster } = await startFakeJobManager({
      jobs: [{ ...typicalJob({ vertices: 2, parallelism: 2 }), jid: JOB_ID }],
    }));
    cluster.recordRequests = true;
    proxy = await startCountingProxy(server.baseUrl);
  });

  after(async () => {
    await proxy.close();
    await server.close();
  });

  it('folds job, vertex and subtask ids out of the route', () => {
    assert.equal(routeOf('GET', `/jobs/${JOB_ID}?x=1`), 'GET /jobs/{id}');
    assert.equal(
      routeOf('GET', `/v1/jobs/${JOB_ID}/vertices/${'a'.repeat(32)}/subtasks/metrics?get=pendingRecords`),
      'GET /v1/jobs/{id}/vertices/{id}/subtasks/metrics',
    );
    assert.equal(
      routeOf('PUT', `/jobs/${JOB_ID}/resource-requirements`),
      'PUT /jobs/{id}/resource-requirements',
    );
    assert.equal(routeOf('GET', '/jobs/overview'), 'GET /jobs/overview');
  });

  it('counts each call once by route and passes the answer through unchanged', async () => {
    proxy.reset();
    const before = cluster.requests.length;
    const direct = await (await fetch(`${server.baseUrl}/jobs/${JOB_ID}`)).text();
    const paths = ['/jobs/overview', `/jobs/${JOB_ID}`, `/jobs/${JOB_ID}`, '/overview', '/taskmanagers'];
    const answers = [];
    for (const path of paths) answers.push(await fetch(`${proxy.url}${path}`));
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [200, 200, 200, 200, 200],
    );
    const proxied = await (await fetch(`${proxy.url}/jobs/${JOB_ID}`)).json();
    assert.deepEqual(
      (proxied as { vertices: { parallelism: number }[] }).vertices.map((v) => v.parallelism),
      (JSON.parse(direct) as { vertices: { parallelism: number }[] }).vertices.map((v) => v.parallelism),
    );
    // The fake refuses what is not a GET; the proxy passes the refusal on and still counts the call.
    const put = await fetch(`${proxy.url}/jobs/${JOB_ID}/resource-requirements`, {
      method: 'PUT',
      body: '{}',
    });
    assert.equal(put.status, 405);
    for (const answer of answers) await answer.text();

    assert.deepEqual(proxy.counts(), {
      total: 7,
      failed: 0,
      byRoute: {
        'GET /jobs/overview': 1,
        'GET /jobs/{id}': 3,
        'GET /overview': 1,
        'GET /taskmanagers': 1,
        'PUT /jobs/{id}/resource-requirements': 1,
      },
    });
    // The one direct call went around the proxy; the seven proxied ones reached the JobManager.
    assert.equal(cluster.requests.length - before, 8);
  });

  it('counts a call the JobManager cannot answer as failed, with a 502', async () => {
    const dead = await startCountingProxy('http://127.0.0.1:9');
    try {
      const answer = await fetch(`${dead.url}/jobs/overview`);
      assert.equal(answer.status, 502);
      await answer.text();
      assert.deepEqual(dead.counts(), { total: 1, failed: 1, byRoute: { 'GET /jobs/overview': 1 } });
    } finally {
      await dead.close();
    }
  });
});

describe('peer bench: scenario runner', () => {
  let server: FakeJobManagerServer;
  let cluster: FakeCluster;
  let proxy: CountingProxy;

  before(async () => {
    ({ server, cluster } = await startFakeJobManager({
      jobs: [{ ...typicalJob({ vertices: 2, parallelism: 2, pendingRecordsPerSubtask: 0 }), jid: JOB_ID }],
    }));
    proxy = await startCountingProxy(server.baseUrl);
  });

  after(async () => {
    await proxy.close();
    await server.close();
  });

  it('applies the phases in order, counts the system’s calls only, and sees each rescale once', async () => {
    // A scripted "autoscaler": on each sample it reads the job through the proxy (two calls) and
    // restarts the fake job at the parallelism of the script; the runner reads the parallelism
    // back from the fake JobManager, around the proxy. The backlog follows the script; time is
    // simulated.
    let nowMs = 1_000_000;
    const rates: number[] = [];
    const gapsAskedFor: [number, number][] = [];
    let sampleIndex = 0;
    const script: readonly { parallelism: number; backlog: number; running: boolean }[] = [
      { parallelism: 2, backlog: 0, running: true }, // warm-up
      { parallelism: 2, backlog: 0, running: true },
      { parallelism: 2, backlog: 4000, running: true }, // step up
      { parallelism: 2, backlog: 9000, running: false },
      { parallelism: 6, backlog: 12_000, running: true },
      { parallelism: 6, backlog: 3000, running: true },
      { parallelism: 6, backlog: 10, running: true }, // step down
      { parallelism: 2, backlog: 0, running: true },
    ];
    const run = await runScenario({
      phases: [
        { name: 'warm-up', recordsPerSecond: 1000, seconds: 4 },
        { name: 'step up', recordsPerSecond: 5000, seconds: 8 },
        { name: 'step down', recordsPerSecond: 1000, seconds: 4 },
      ],
      proxy,
      sampleIntervalMs: 2000,
      gapSettleMs: 5000,
      nowMs: () => nowMs,
      sleep: (ms) => {
        nowMs += ms;
        return Promise.resolve();
      },
      probe: {
        setRate(recordsPerSecond) {
          rates.push(recordsPerSecond);
          return Promise.resolve();
        },
        async observe(): Promise<JobObservation> {
          for (const path of ['/jobs/overview', `/jobs/${JOB_ID}`])
            await (await fetch(`${proxy.url}${path}`)).text();
          const step = script[sampleIndex] ?? { parallelism: 2, backlog: 0, running: true };
          sampleIndex += 1;
          // The scripted rescale reaches the JobManager; the runner's own read goes around the proxy.
          const running = (await (await fetch(`${server.baseUrl}/jobs/${JOB_ID}`)).json()) as {
            vertices: { parallelism: number }[];
          };
          if (Math.max(...running.vertices.map((v) => v.parallelism)) !== step.parallelism)
            cluster.restartJob({ parallelism: step.parallelism });
          const job = (await (await fetch(`${server.baseUrl}/jobs/${JOB_ID}`)).json()) as {
            vertices: { parallelism: number }[];
          };
          return {
            parallelism: Math.max(...job.vertices.map((v) => v.parallelism)),
            backlogRecords: step.backlog,
            running: step.running,
          };
        },
        outputGapSeconds(sinceMs, untilMs) {
          gapsAskedFor.push([sinceMs, untilMs]);
          return Promise.resolve(0.25 * gapsAskedFor.length);
        },
      },
    });

    assert.deepEqual(rates, [1000, 5000, 1000]);
    assert.equal(run.samples.length, 8);
    assert.deepEqual(
      run.samples.map((s) => s.phase),
      ['warm-up', 'warm-up', 'step up', 'step up', 'step up', 'step up', 'step down', 'step down'],
    );
    assert.equal(run.durationSeconds, 16);
    assert.deepEqual(run.restCalls, {
      total: 16,
      failed: 0,
      byRoute: { 'GET /jobs/overview': 8, 'GET /jobs/{id}': 8 },
    });
    assert.deepEqual(run.rescales, [
      {
        seconds: 10,
        phase: 'step up',
        fromParallelism: 2,
        toParallelism: 6,
        up: true,
        outputGapSeconds: 0.25,
      },
      {
        seconds: 16,
        phase: 'step down',
        fromParallelism: 6,
        toParallelism: 2,
        up: false,
        outputGapSeconds: 0.5,
      },
    ]);
    // The gap of the scale-up is looked for from the last sample that saw the job running at 2
    // (6 s: the one at 8 s saw it restarting) to 5 s after the sample that saw it at 6.
    assert.deepEqual(gapsAskedFor[0], [1_000_000 + 6000, 1_000_000 + 15_000]);

    const summary = summarizeScenario(run, {
      recordsPerSubtaskPerSecond: 1000,
      targetUtilization: 0.7,
      drainedRecords: 100,
    });
    assert.equal(summary.scaleUps, 1);
    assert.equal(summary.scaleDowns, 1);
    assert.equal(summary.peakBacklogRecords, 12_000);
    // The step up starts at 4 s; the backlog peaked at 10 s and was at or under 100 at 14 s.
    assert.equal(summary.backlogGrewSeconds, 6);
    assert.equal(summary.drainedSeconds, 10);
    assert.equal(summary.restCallsPerMinute, 60);
    assert.deepEqual(summary.outputGapsSeconds, [0.25, 0.5]);
    assert.deepEqual(
      summary.phases.map((p) => [p.phase, p.finalParallelism, p.neededParallelism]),
      [
        ['warm-up', 2, 2],
        ['step up', 6, 8],
        ['step down', 2, 2],
      ],
    );
    const table = scenarioTable([{ system: 'scripted', summary }]);
    assert.match(
      table,
      /\| scripted +\| 1 \/ 1 +\| 6 +\| 10 +\| 12000 +\| warm-up 2\/2, step up 6\/8, step down 2\/2 \| 60\.0 +\| 0\.25, 0\.50 +\|/,
    );
  });

  it('a rescale of a vertex other than the widest counts too, up or down by the subtasks in all', () => {
    const at = (seconds: number, vertices: Record<string, number>): ScenarioSample => ({
      seconds,
      phase: 'p',
      recordsPerSecond: 1,
      parallelism: Math.max(...Object.values(vertices)),
      vertexParallelism: vertices,
      backlogRecords: 0,
      running: true,
    });
    const changes = parallelismChanges([
      at(2, { source: 2, map: 2 }),
      at(4, { source: 2, map: 10 }),
      at(6, { source: 1, map: 10 }),
      at(8, { source: 1, map: 10 }),
      at(10, { source: 1, map: 8 }),
    ]);
    assert.deepEqual(
      changes.map(({ seconds, fromParallelism, toParallelism, up }) => [
        seconds,
        fromParallelism,
        toParallelism,
        up,
      ]),
      [
        [4, 2, 10, true],
        [6, 10, 10, false],
        [10, 10, 8, false],
      ],
    );
  });

  it('a backlog that never drains says never', () => {
    const samples: ScenarioSample[] = [
      { seconds: 2, phase: 'up', recordsPerSecond: 5000, parallelism: 2, backlogRecords: 500, running: true },
      { seconds: 4, phase: 'up', recordsPerSecond: 5000, parallelism: 2, backlogRecords: 900, running: true },
    ];
    const run: ScenarioRun = {
      startedAtMs: 0,
      durationSeconds: 4,
      phases: [{ name: 'up', recordsPerSecond: 5000, seconds: 4, startSeconds: 0 }],
      samples,
      rescales: [],
      restCalls: { total: 0, failed: 0, byRoute: {} },
    };
    const summary = summarizeScenario(run, {
      recordsPerSubtaskPerSecond: 1000,
      targetUtilization: 0.7,
      drainedRecords: 10,
    });
    assert.equal(summary.backlogGrewSeconds, 4);
    assert.equal(summary.drainedSeconds, null);
    assert.deepEqual(parallelismChanges(samples), []);
    assert.equal(
      neededParallelism(5000, {
        recordsPerSubtaskPerSecond: 1000,
        targetUtilization: 0.7,
        drainedRecords: 0,
      }),
      8,
    );
  });
});
