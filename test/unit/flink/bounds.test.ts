/**
 * The bounds every number from a JobManager is held to: the structural ones, checked by the parsers
 * (a typed error naming the field, the value and the bound), and the one validation of a snapshot's
 * readings before it enters a metric window.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import type { JobSnapshot } from '../../../src/domain/flink.js';
import { FlinkImplausibleResponseError, FlinkResponseTooLargeError } from '../../../src/errors.js';
import { MAX_JOB_VERTICES } from '../../../src/flink/bounds.js';
import {
  FLINK_MAX_PARALLELISM,
  MAX_RECORDS,
  implausibleReading,
} from '../../../src/metrics/sample-bounds.js';
import {
  MAX_JSON_CONTAINERS,
  decodeJsonBody,
  parseJobDetails,
  parseJobsOverview,
  parseTaskManagers,
} from '../../../src/flink/responses.js';
import { SOURCE, snapshotAt, T0 } from '../metrics/synthetic-job.js';

const JM_URL = 'http://jm:8081/jobs/x';

function fixture(name: string): Record<string, unknown> {
  return decodeJsonBody(
    readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'),
    JM_URL,
  ) as Record<string, unknown>;
}

type Vertex = Record<string, unknown>;
function jobWith(
  change: (job: Record<string, unknown>, vertices: Vertex[]) => void,
): Record<string, unknown> {
  const job = fixture('job-details-running.json');
  change(job, job['vertices'] as Vertex[]);
  return job;
}

/** Asserts `fn` throws a FlinkImplausibleResponseError for `field` with `value`, whose message matches `bound`. */
function assertImplausible(fn: () => unknown, field: string, value: number, bound: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FlinkImplausibleResponseError, String(err));
    assert.equal(err.code, 'FLINK_IMPLAUSIBLE_VALUE');
    assert.equal(err.field, field);
    assert.equal(err.value, value);
    assert.match(err.bound, bound);
    assert.ok(err.message.includes(`${field} = ${value}`), err.message);
    assert.ok(err.message.includes(JM_URL), err.message);
    return true;
  });
}

describe('the structural bounds of GET /jobs/{jid}', () => {
  it('accept the recorded answers of a real JobManager', () => {
    assert.equal(parseJobDetails(fixture('job-details-running.json'), JM_URL).vertices.length, 3);
    assert.equal(parseJobDetails(fixture('job-details-restarting.json'), JM_URL).vertices.length, 1);
  });

  it('refuse a parallelism above Flink’s ceiling of 32,768, the claim that crashed serve', () => {
    for (const claimed of [1e9, 1e6, FLINK_MAX_PARALLELISM + 1]) {
      const body = jobWith((_job, [source]) => {
        if (source !== undefined) {
          source['parallelism'] = claimed;
          delete source['maxParallelism'];
        }
      });
      assertImplausible(
        () => parseJobDetails(body, JM_URL),
        'vertices[0].parallelism',
        claimed,
        /above Flink's maximum parallelism of 32768/,
      );
    }
  });

  it('refuse a parallelism above the vertex’s own max parallelism, or else the job’s', () => {
    assertImplausible(
      () =>
        parseJobDetails(
          jobWith((_job, vertices) => {
            const map = vertices[1];
            if (map !== undefined) map['parallelism'] = 129;
          }),
          JM_URL,
        ),
      'vertices[1].parallelism',
      129,
      /above the vertex's max parallelism of 128/,
    );
    assertImplausible(
      () =>
        parseJobDetails(
          jobWith((job, vertices) => {
            job['maxParallelism'] = 4;
            for (const vertex of vertices) delete vertex['maxParallelism'];
            const sink = vertices[2];
            if (sink !== undefined) sink['parallelism'] = 5;
          }),
          JM_URL,
        ),
      'vertices[2].parallelism',
      5,
      /above the job's max parallelism of 4/,
    );
    // At the ceiling itself: fine.
    const atCeiling = jobWith((_job, vertices) => {
      for (const vertex of vertices) {
        vertex['parallelism'] = FLINK_MAX_PARALLELISM;
        vertex['maxParallelism'] = FLINK_MAX_PARALLELISM;
      }
    });
    assert.equal(parseJobDetails(atCeiling, JM_URL).vertices[0]?.parallelism, FLINK_MAX_PARALLELISM);
  });

  it('refuse a max parallelism above Flink’s ceiling, for the job or a vertex', () => {
    assertImplausible(
      () =>
        parseJobDetails(
          jobWith((job) => (job['maxParallelism'] = 65_536)),
          JM_URL,
        ),
      'maxParallelism',
      65_536,
      /maximum parallelism of 32768/,
    );
    assertImplausible(
      () =>
        parseJobDetails(
          jobWith((_job, vertices) => {
            const map = vertices[1];
            if (map !== undefined) map['maxParallelism'] = 1e12;
          }),
          JM_URL,
        ),
      'vertices[1].maxParallelism',
      1e12,
      /maximum parallelism of 32768/,
    );
  });

  it(`refuse more than ${MAX_JOB_VERTICES} vertices`, () => {
    const body = jobWith((job, [source]) => {
      job['vertices'] = Array.from({ length: MAX_JOB_VERTICES + 1 }, (_, index) => ({
        ...source,
        id: `v${index}`,
      }));
      delete job['plan'];
    });
    assertImplausible(
      () => parseJobDetails(body, JM_URL),
      'vertices.length',
      MAX_JOB_VERTICES + 1,
      /above the job vertices Slotscaler reads of 1000/,
    );
  });

  it('refuse timestamps after the JobManager’s own now, and a now after 2100', () => {
    const now = fixture('job-details-running.json')['now'] as number;
    assertImplausible(
      () =>
        parseJobDetails(
          jobWith((job) => ((job['timestamps'] as Record<string, number>)['RUNNING'] = now + 1)),
          JM_URL,
        ),
      'timestamps.RUNNING',
      now + 1,
      /after the JobManager's own now/,
    );
    assertImplausible(
      () =>
        parseJobDetails(
          jobWith((job) => (job['now'] = 1e300)),
          JM_URL,
        ),
      'now',
      1e300,
      /after 2100-01-01/,
    );
  });
});

describe('the structural bounds of the other answers', () => {
  it('hold task slots to what any job can use, and free slots to the slots', () => {
    const body = fixture('taskmanagers.json');
    const [first] = body['taskmanagers'] as Record<string, unknown>[];
    if (first !== undefined) first['slotsNumber'] = 1e9;
    assertImplausible(
      () => parseTaskManagers(body, JM_URL),
      'taskmanagers[0].slotsNumber',
      1e9,
      /task slots any job can use of 32768/,
    );
    if (first !== undefined) {
      first['slotsNumber'] = 2;
      first['freeSlots'] = 3;
    }
    assertImplausible(() => parseTaskManagers(body, JM_URL), 'taskmanagers[0].freeSlots', 3, /slots of 2/);
  });

  it('hold job start times before 2100', () => {
    const body = fixture('jobs-overview.json');
    const [first] = body['jobs'] as Record<string, unknown>[];
    if (first !== undefined) first['start-time'] = 1e20;
    assertImplausible(() => parseJobsOverview(body, JM_URL), 'jobs[0].start-time', 1e20, /after 2100/);
  });

  it(`refuse a body of more than ${MAX_JSON_CONTAINERS} JSON objects and arrays before parsing it`, () => {
    const flat = `[${Array.from({ length: MAX_JSON_CONTAINERS + 1 }, () => '{}').join(',')}]`;
    const deep = `${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}`;
    for (const body of [flat, deep]) {
      assert.throws(
        () => decodeJsonBody(body, JM_URL),
        (err: unknown) =>
          err instanceof FlinkResponseTooLargeError && /more than 100000 JSON objects/.test(err.message),
      );
    }
    const many = `[${Array.from({ length: MAX_JSON_CONTAINERS - 1 }, () => '{}').join(',')}]`;
    assert.equal((decodeJsonBody(many, JM_URL) as unknown[]).length, MAX_JSON_CONTAINERS - 1);
  });
});

describe('implausibleReading: the one validation of a sample', () => {
  const JOB = [{ ...SOURCE, parallelism: 2 }];
  const withSource = (source: Partial<NonNullable<JobSnapshot['vertices'][number]['source']>>) => {
    const snapshot = snapshotAt(T0, JOB);
    return {
      ...snapshot,
      vertices: snapshot.vertices.map((vertex) => ({
        ...vertex,
        source: vertex.source === null ? null : { ...vertex.source, ...source },
      })),
    };
  };

  it('passes the samples of a job that behaves', () => {
    for (let at = T0; at <= T0 + 120_000; at += 15_000)
      assert.equal(implausibleReading(snapshotAt(at, JOB)), null);
  });

  it('names pendingRecords of 1e303, and any count above 2^53 − 1', () => {
    assert.deepEqual(implausibleReading(withSource({ pendingRecords: 1e303 })), {
      field: 'vertex "source" pendingRecords',
      value: 1e303,
      bound: `above the ceiling of a record count of ${MAX_RECORDS}`,
    });
    assert.equal(implausibleReading(withSource({ pendingRecords: MAX_RECORDS })), null);
    assert.equal(
      implausibleReading(withSource({ recordsIn: MAX_RECORDS + 2 }))?.field,
      'vertex "source" numRecordsIn',
    );
    assert.equal(implausibleReading(withSource({ recordsOut: -1 }))?.bound, 'below 0');
  });

  it('holds task time to parallelism × the time since RUNNING', () => {
    // Running for 10 minutes at parallelism 2: 1,200,000 ms of task time, 1 % and a minute each more.
    const ranFor = snapshotAt(T0, JOB, { runningSinceMs: T0 - 600_000 });
    const limit = 2 * (600_000 * 1.01 + 60_000);
    const at = (busyTimeMs: number): JobSnapshot => ({
      ...ranFor,
      vertices: ranFor.vertices.map((vertex) => ({
        ...vertex,
        counters: { ...vertex.counters, busyTimeMs },
      })),
    });
    assert.equal(implausibleReading(at(limit)), null);
    const over = implausibleReading(at(limit + 1));
    assert.ok(over !== null);
    assert.equal(over.field, 'vertex "source" accumulated-busy-time');
    assert.match(over.bound, /parallelism × time since RUNNING/);
    assert.equal(
      implausibleReading(withSource({ taskTimeMs: 1e15 }))?.field,
      'vertex "source" accumulated task time',
    );
  });

  it('holds the time gauges to 1,100 ms per second', () => {
    const snapshot = snapshotAt(T0, JOB);
    const gauges = (busyTimeMsPerSecond: number): JobSnapshot => ({
      ...snapshot,
      vertices: snapshot.vertices.map((vertex) => ({
        ...vertex,
        gauges: { busyTimeMsPerSecond, backPressuredTimeMsPerSecond: 0, idleTimeMsPerSecond: 0 },
      })),
    });
    assert.equal(implausibleReading(gauges(1000)), null);
    assert.equal(implausibleReading(gauges(5000))?.field, 'vertex "source" busyTimeMsPerSecond');
  });

  it('refuses a parallelism outside 1..32,768 and a clock that is not one', () => {
    const snapshot = snapshotAt(T0, JOB);
    const parallel = (parallelism: number): JobSnapshot => ({
      ...snapshot,
      vertices: snapshot.vertices.map((vertex) => ({ ...vertex, parallelism })),
    });
    assert.equal(implausibleReading(parallel(1e9))?.field, 'vertex "source" parallelism');
    assert.equal(implausibleReading(parallel(0.5))?.field, 'vertex "source" parallelism');
    assert.equal(implausibleReading({ ...snapshot, jobManagerNowMs: Number.NaN })?.field, 'now');
    assert.equal(
      implausibleReading({ ...snapshot, takenAtMs: Number.POSITIVE_INFINITY })?.field,
      'sample time',
    );
  });
});
