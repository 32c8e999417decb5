import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { FlinkBadResponseError, FlinkImplausibleResponseError } from '../../../src/errors.js';
import {
  decodeJsonBody,
  parseAggregatedMetrics,
  parseCheckpointConfig,
  parseCheckpointStats,
  parseJobDetails,
  parseJobsOverview,
  parseMetricNames,
  parseMetricValues,
  parseTaskManagers,
  toFiniteNumber,
} from '../../../src/flink/responses.js';

const JM_URL = 'http://jm:8081/x';

function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

function decoded(name: string): unknown {
  return decodeJsonBody(fixture(name), JM_URL);
}

describe('decodeJsonBody', () => {
  it('decodes JSON', () => {
    assert.deepEqual(decodeJsonBody('{"a":[1,"NaN"]}', JM_URL), { a: [1, 'NaN'] });
  });
  it('reads bare NaN and Infinity tokens as null, leaving strings alone', () => {
    assert.deepEqual(decodeJsonBody('{"a":NaN,"b":-Infinity,"c":"NaN Infinity","d":[Infinity]}', JM_URL), {
      a: null,
      b: null,
      c: 'NaN Infinity',
      d: [null],
    });
  });
  it('refuses an HTML page', () => {
    assert.throws(
      () => decodeJsonBody('  <!DOCTYPE html><html><body>Sign in</body></html>', JM_URL),
      (err: unknown) => err instanceof FlinkBadResponseError && /HTML/.test(err.message),
    );
  });
  it('refuses garbled, truncated and empty bodies', () => {
    for (const body of ['{"jid":"abc","state":"RUNN', 'hello', '', '   ', '{"a":NaNa}']) {
      assert.throws(() => decodeJsonBody(body, JM_URL), FlinkBadResponseError, body);
    }
  });
});

describe('toFiniteNumber', () => {
  it('takes numbers and numeric strings, nothing else', () => {
    assert.equal(toFiniteNumber(3.5), 3.5);
    assert.equal(toFiniteNumber(' 34 '), 34);
    assert.equal(toFiniteNumber('NaN'), null);
    assert.equal(toFiniteNumber('Infinity'), null);
    assert.equal(toFiniteNumber(Number.NaN), null);
    assert.equal(toFiniteNumber(''), null);
    assert.equal(toFiniteNumber('12abc'), null);
    assert.equal(toFiniteNumber(null), null);
    assert.equal(toFiniteNumber(true), null);
  });
});

describe('parseJobDetails', () => {
  it('reads a RUNNING job as Flink 1.18 sends it', () => {
    const job = parseJobDetails(decoded('job-details-running.json'), JM_URL);
    assert.equal(job.jobId, '0b5c5b2f5e6f4c8f9a1d2e3f4a5b6c7d');
    assert.equal(job.name, 'orders-enrichment');
    assert.equal(job.state, 'RUNNING');
    assert.equal(job.runningSinceMs, 1767225002000);
    assert.equal(job.nowMs, 1767225600000);
    assert.equal(job.maxParallelism, null, 'maxParallelism -1 means not configured');
    assert.equal(job.vertices.length, 3);
    const [source, map, sink] = job.vertices;
    assert.deepEqual(source?.counters, {
      busyTimeMs: 358740,
      backPressuredTimeMs: 717480,
      idleTimeMs: 119580,
      recordsRead: 0,
      recordsReadComplete: true,
      recordsWritten: 608000,
      recordsWrittenComplete: true,
    });
    assert.equal(map?.maxParallelism, 128);
    assert.equal(map.parallelism, 2);
    assert.equal(sink?.counters.busyTimeMs, null, '"NaN" (as Jackson writes it) is unknown');
    assert.equal(sink.counters.idleTimeMs, 1076220);
    assert.deepEqual(
      job.plan?.map((node) => [node.id, node.inputIds]),
      [
        ['2963852293169ba90d9d0e5a6aa35f6e', ['90bea66de1c231edf33913ecd54406c1']],
        ['90bea66de1c231edf33913ecd54406c1', ['cbc357ccb763df2852fee8c4fc7d55f2']],
        ['cbc357ccb763df2852fee8c4fc7d55f2', []],
      ],
    );
    assert.deepEqual(
      job.plan.map((node) => node.inputShipStrategies),
      [['FORWARD'], ['HASH'], []],
      'the keyed exchange (keyBy) is HASH',
    );
  });

  it('reads a RESTARTING job, its max parallelism and incomplete counters', () => {
    const job = parseJobDetails(decoded('job-details-restarting.json'), JM_URL);
    assert.equal(job.state, 'RESTARTING');
    assert.equal(job.maxParallelism, 256);
    assert.equal(job.vertices[0]?.status, 'CANCELED');
    assert.equal(job.vertices[0].counters.recordsWrittenComplete, false);
  });

  it('turns bare NaN and -Infinity counters into null', () => {
    const job = parseJobDetails(decodeJsonBody(fixture('job-details-bare-nan.txt'), JM_URL), JM_URL);
    const counters = job.vertices[0]?.counters;
    assert.equal(counters?.busyTimeMs, null);
    assert.equal(counters.backPressuredTimeMs, null);
    assert.equal(counters.idleTimeMs, null);
    assert.equal(counters.recordsWritten, 5);
    assert.deepEqual(job.plan?.[0]?.inputIds, []);
  });

  it('keeps a vertex without metrics, with unknown counters', () => {
    const body = decoded('job-details-running.json') as { vertices: Record<string, unknown>[] };
    delete body.vertices[0]?.['metrics'];
    const vertex = body.vertices[1];
    if (vertex !== undefined) vertex['metrics'] = 'garbage';
    const job = parseJobDetails(body, JM_URL);
    assert.equal(job.vertices[0]?.counters.busyTimeMs, null);
    assert.equal(job.vertices[0].counters.recordsWrittenComplete, false);
    assert.equal(job.vertices[1]?.counters.recordsRead, null);
  });

  it('reads negative counters as unknown, never as a number', () => {
    const body = decoded('job-details-running.json') as {
      vertices: { metrics: Record<string, unknown> }[];
    };
    const metrics = body.vertices[0]?.metrics;
    if (metrics !== undefined) metrics['accumulated-busy-time'] = -5;
    assert.equal(parseJobDetails(body, JM_URL).vertices[0]?.counters.busyTimeMs, null);
  });

  it('takes the plan as a JSON string (older Flink) and no plan at all', () => {
    const body = decoded('job-details-running.json') as Record<string, unknown>;
    body['plan'] = JSON.stringify(body['plan']);
    assert.equal(parseJobDetails(body, JM_URL).plan?.length, 3);
    delete body['plan'];
    assert.equal(parseJobDetails(body, JM_URL).plan, null);
  });

  it('reads RUNNING 0 (never reached) as no timestamp', () => {
    const body = decoded('job-details-running.json') as { timestamps: Record<string, number> };
    body.timestamps['RUNNING'] = 0;
    assert.equal(parseJobDetails(body, JM_URL).runningSinceMs, null);
  });

  it('refuses a body that is not a job', () => {
    for (const body of [
      {},
      [],
      { jid: 'x', state: 'RUNNING', vertices: [] },
      { errors: ['Job not found'] },
      null,
      'x',
    ]) {
      assert.throws(() => parseJobDetails(body, JM_URL), FlinkBadResponseError);
    }
    const body = decoded('job-details-running.json') as { vertices: Record<string, unknown>[] };
    const vertex = body.vertices[0];
    if (vertex !== undefined) vertex['parallelism'] = 0;
    assert.throws(() => parseJobDetails(body, JM_URL), /vertices\.0\.parallelism/);
  });
});

describe('the other endpoints', () => {
  it('reads /jobs/overview', () => {
    assert.deepEqual(parseJobsOverview(decoded('jobs-overview.json'), JM_URL), [
      {
        jobId: '0b5c5b2f5e6f4c8f9a1d2e3f4a5b6c7d',
        name: 'orders-enrichment',
        state: 'RUNNING',
        startTimeMs: 1767225000000,
      },
      {
        jobId: 'd41d8cd98f00b204e9800998ecf8427e',
        name: 'old-backfill',
        state: 'FINISHED',
        startTimeMs: 1767200000000,
      },
    ]);
    assert.deepEqual(parseJobsOverview({ jobs: [] }, JM_URL), []);
    assert.throws(() => parseJobsOverview({ jobs: [{ jid: 'x' }] }, JM_URL), FlinkBadResponseError);
  });

  it('reads /taskmanagers', () => {
    assert.deepEqual(
      parseTaskManagers(decoded('taskmanagers.json'), JM_URL).map((tm) => [tm.slots, tm.freeSlots]),
      [
        [2, 0],
        [2, 1],
      ],
    );
  });

  it('reads vertex metric values (strings), NaN as null', () => {
    assert.deepEqual(parseMetricValues(decoded('vertex-metrics-source.json'), JM_URL), [
      { id: '0.Source__Kafka_Source.pendingRecords', value: 1200 },
      { id: '1.Source__Kafka_Source.pendingRecords', value: 34 },
      { id: '0.Source__Kafka_Source.numRecordsIn', value: 304000 },
      { id: '1.Source__Kafka_Source.numRecordsIn', value: null },
    ]);
    assert.deepEqual(parseMetricValues([], JM_URL), [], 'an empty metric array is fine');
    assert.throws(() => parseMetricValues({ id: 'x' }, JM_URL), FlinkBadResponseError);
  });

  it('reads metric name listings', () => {
    assert.equal(parseMetricNames(decoded('subtask-metric-names.json'), JM_URL).length, 7);
  });

  it('reads aggregated subtask metrics, "NaN" as null, missing aggregations as null', () => {
    assert.deepEqual(parseAggregatedMetrics(decoded('subtask-metrics-aggregated.json'), JM_URL), [
      { id: 'busyTimeMsPerSecond', min: null, max: null, avg: null, sum: null },
      { id: 'backPressuredTimeMsPerSecond', min: 0, max: 812, avg: 406, sum: 812 },
      { id: 'idleTimeMsPerSecond', min: null, max: null, avg: 120.5, sum: null },
    ]);
    assert.deepEqual(parseAggregatedMetrics([], JM_URL), []);
  });
});

describe('parseCheckpointConfig', () => {
  it('reads the interval in ms, and the interval Flink stores for "off" (Long.MAX_VALUE) as none', () => {
    assert.deepEqual(
      parseCheckpointConfig({ mode: 'exactly_once', interval: 10_000, timeout: 600_000 }, JM_URL),
      {
        intervalMs: 10_000,
      },
    );
    // Jackson writes the long exactly; JSON.parse rounds it to 2^63.
    const off = decodeJsonBody('{"mode":"exactly_once","interval":9223372036854775807}', JM_URL);
    assert.deepEqual(parseCheckpointConfig(off, JM_URL), { intervalMs: null });
  });
  it('refuses an answer without a positive interval', () => {
    for (const body of [{}, { interval: 0 }, { interval: -1 }, { interval: 'soon' }, []]) {
      assert.throws(() => parseCheckpointConfig(body, JM_URL), FlinkBadResponseError, JSON.stringify(body));
    }
  });
});

describe('parseCheckpointStats', () => {
  const completed = {
    className: 'completed',
    id: 42,
    status: 'COMPLETED',
    is_savepoint: false,
    trigger_timestamp: 1_767_225_600_000,
    latest_ack_timestamp: 1_767_225_600_180,
    end_to_end_duration: 180,
    checkpoint_type: 'CHECKPOINT',
    tasks: {},
    external_path: '<checkpoint-not-externally-addressable>',
    discarded: false,
  };
  const body = (latest: unknown, counts = { completed: 42, in_progress: 1, failed: 2 }): unknown => ({
    counts: { restored: 0, total: counts.completed + counts.in_progress + counts.failed, ...counts },
    summary: {},
    latest: { completed: latest, savepoint: null, failed: null, restored: null },
    history: [{ ...completed, id: 43, status: 'IN_PROGRESS' }],
  });

  it('reads the counts and the latest completed checkpoint, nothing of the history', () => {
    assert.deepEqual(parseCheckpointStats(body(completed), JM_URL), {
      completed: 42,
      inProgress: 1,
      failed: 2,
      latestCompleted: { id: 42, triggeredAtMs: 1_767_225_600_000, completedAtMs: 1_767_225_600_180 },
    });
  });
  it('has no latest completed checkpoint before the first one', () => {
    const none = parseCheckpointStats(body(null, { completed: 0, in_progress: 1, failed: 0 }), JM_URL);
    assert.equal(none.latestCompleted, null);
    assert.equal(none.inProgress, 1);
  });
  it('refuses a checkpoint completed before it was triggered, after 2100, or listed with none counted', () => {
    assert.throws(
      () =>
        parseCheckpointStats(
          body({ ...completed, latest_ack_timestamp: completed.trigger_timestamp - 1 }),
          JM_URL,
        ),
      FlinkImplausibleResponseError,
    );
    assert.throws(
      () =>
        parseCheckpointStats(
          body({
            ...completed,
            trigger_timestamp: 4_200_000_000_000,
            latest_ack_timestamp: 4_200_000_000_001,
          }),
          JM_URL,
        ),
      FlinkImplausibleResponseError,
    );
    assert.throws(
      () => parseCheckpointStats(body(completed, { completed: 0, in_progress: 0, failed: 0 }), JM_URL),
      FlinkImplausibleResponseError,
    );
  });
  it('refuses counts that are not whole numbers ≥ 0', () => {
    for (const counts of [{ completed: -1 }, { completed: 1.5 }, { completed: '3' }]) {
      assert.throws(
        () =>
          parseCheckpointStats({ counts: { in_progress: 0, failed: 0, ...counts }, latest: null }, JM_URL),
        FlinkBadResponseError,
        JSON.stringify(counts),
      );
    }
  });
});
