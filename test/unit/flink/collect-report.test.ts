import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { compileExpressionMetric } from '../../../src/metrics/expression-metric.js';
import { FlinkBadResponseError, FlinkUnreachableError } from '../../../src/errors.js';
import { collectReport, formatCollectReport } from '../../../src/flink/collect-report.js';
import type { CollectReport } from '../../../src/flink/collect-report.js';
import { FlinkHttpPool } from '../../../src/flink/rest-client.js';
import { NoRunningJobError } from '../../../src/flink/snapshot.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { FakeJobManagerServer, typicalJob } from '../../fakes/fake-jobmanager.js';
import type { FakeCluster } from '../../fakes/fake-jobmanager.js';

describe('collectReport', () => {
  const clock = new FakeClock();
  const sleep = (ms: number): Promise<void> => {
    clock.advance(ms);
    return Promise.resolve();
  };
  const pool = new FlinkHttpPool({ requestTimeoutMs: 500, maxRetries: 0 });
  let server: FakeJobManagerServer;
  let cluster: FakeCluster;
  let report: CollectReport;

  before(async () => {
    server = await FakeJobManagerServer.start({ clock });
    cluster = server.addCluster({
      name: 'main',
      jobs: [
        typicalJob({ vertices: 4, sources: 2, busyRatio: 0.92, backPressureRatio: 0.6, parallelism: 3 }),
      ],
      taskManagers: 3,
      slotsPerTaskManager: 2,
    });
    report = await collectReport({
      client: pool.clientFor(cluster.url),
      clock,
      sleep,
      windowSeconds: 30,
      sampleIntervalSeconds: 5,
      expressionMetrics: [
        compileExpressionMetric('pressure', 'max(busy_ratio / 0.7, source_lag_seconds / 60)'),
      ],
    });
  });
  after(async () => {
    pool.close();
    await server.close();
  });

  it('samples the job for the window and reports what the autoscaler sees', () => {
    assert.equal(report.jobId, cluster.jobId);
    assert.equal(report.state, 'RUNNING');
    assert.equal(report.taskSlots, 2);
    assert.equal(report.samples, 7);
    assert.equal(report.spanSeconds, 30);
    const values: Record<string, number> = Object.fromEntries(
      report.metrics.map((metric) => [
        metric.name,
        'value' in metric.reading ? metric.reading.value : Number.NaN,
      ]),
    );
    assert.ok(Math.abs((values['flink_busy_ratio'] ?? 0) - 0.92) < 1e-9);
    assert.ok(Math.abs((values['flink_backpressure_ratio'] ?? 0) - 0.6) < 1e-9);
    assert.equal(values['flink_source_pending_records'], 600);
    assert.ok(Math.abs((values['flink_records_in_per_second'] ?? 0) - 2000) < 1e-6);
    assert.ok(Math.abs((values['flink_source_lag_seconds'] ?? 0) - 0.3) < 1e-9);
    assert.ok(Math.abs((values['pressure'] ?? 0) - 0.92 / 0.7) < 1e-9);
  });

  it('counts the REST calls it made: discovery first, then 1 + sources per sample', () => {
    assert.deepEqual(report.restCalls.perSample, [1 + 1 + 2 + 1, 3, 3, 3, 3, 3, 3]);
    assert.equal(report.restCalls.total, 23);
    assert.equal(report.restCalls.byEndpoint.job_details, 7);
    assert.equal(report.restCalls.total, cluster.requestCount);
  });

  it('prints a table', () => {
    const text = formatCollectReport(report, 'table');
    assert.match(text, /^jobmanager +http:\/\/127\.0\.0\.1:\d+\/c\/main$/m);
    assert.match(text, /^flink_busy_ratio +0\.920 +ratio 0\.\.1$/m);
    assert.match(text, /^flink_source_pending_records +600 +records$/m);
    assert.match(text, /^REST calls +23 \(per sample: 5, 3, 3, 3, 3, 3, 3\)$/m);
    assert.match(text, /^Source: Kafka 0 \(source\) +3 +0\.200 +0\.600 +300 +1000$/m);
    assert.match(text, /^pressure +1\.31 += max\(busy_ratio/m);
  });

  it('prints JSON', () => {
    const parsed = JSON.parse(formatCollectReport(report, 'json')) as CollectReport;
    assert.equal(parsed.jobId, report.jobId);
    assert.deepEqual(parsed.metrics[0], {
      name: 'flink_busy_ratio',
      unit: 'ratio 0..1',
      reading: report.metrics[0]?.reading,
    });
  });

  it('shows why a metric is unavailable', async () => {
    const young = server.addCluster({ name: 'young', jobs: [{ ...typicalJob({}), runningForMs: 5_000 }] });
    const youngReport = await collectReport({
      client: pool.clientFor(young.url),
      clock,
      sleep,
      windowSeconds: 10,
    });
    assert.deepEqual(youngReport.metrics[0]?.reading, { unavailable: 'restarting' });
    assert.match(formatCollectReport(youngReport, 'table'), /^flink_busy_ratio +unavailable \(restarting\)/m);
  });

  it('fails with a one-line typed error when there is no running job, no JobManager, or not Flink', async () => {
    const none = server.addCluster({
      name: 'none',
      jobs: [{ ...typicalJob({ name: 'done' }), state: 'FINISHED' }],
    });
    await assert.rejects(
      collectReport({ client: pool.clientFor(none.url), clock, sleep }),
      (err: unknown) => {
        assert.ok(err instanceof NoRunningJobError);
        assert.doesNotMatch(err.message, /\n/);
        assert.match(err.message, /"done" FINISHED/);
        return true;
      },
    );

    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(
      collectReport({ client: pool.clientFor(`http://127.0.0.1:${port}`), clock, sleep }),
      FlinkUnreachableError,
    );

    const web = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html><body>Welcome to nginx!</body></html>');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    try {
      const address = web.address() as AddressInfo;
      await assert.rejects(
        collectReport({ client: pool.clientFor(`http://127.0.0.1:${address.port}`), clock, sleep }),
        (err: unknown) =>
          err instanceof FlinkBadResponseError && /is it a Flink JobManager/.test(err.message),
      );
    } finally {
      web.closeAllConnections();
      await new Promise<void>((resolve) => web.close(() => resolve()));
    }
  });

  it('reports samples that failed after the first', async () => {
    const flaky = server.addCluster({ name: 'flaky', jobs: [typicalJob({})] });
    flaky.misbehave('server-error', { match: /^\/jobs\/[0-9a-f]+$/, times: 2 });
    const flakyReport = await collectReport({
      client: pool.clientFor(flaky.url),
      clock,
      sleep,
      windowSeconds: 20,
    }).catch((err: unknown) => err);
    assert.ok(flakyReport instanceof Error, 'the first sample failed: the report fails');

    const later = server.addCluster({ name: 'later', jobs: [typicalJob({})] });
    let samples = 0;
    const laterReport = await collectReport({
      client: pool.clientFor(later.url),
      clock,
      sleep: (ms) => {
        samples += 1;
        if (samples === 2) later.misbehave('server-error', { match: /^\/jobs\/[0-9a-f]+$/, times: 1 });
        return sleep(ms);
      },
      windowSeconds: 20,
    });
    assert.equal(laterReport.failedSamples.length, 1);
    assert.equal(laterReport.failedSamples[0]?.code, 'FLINK_HTTP_ERROR');
    assert.match(formatCollectReport(laterReport, 'table'), /1 sample\(s\) failed: .*HTTP 500/);
  });
});
