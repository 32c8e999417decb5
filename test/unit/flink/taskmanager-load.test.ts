import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { TaskManagerVertexTimes } from '../../../src/domain/flink.js';
import { parseVertexTaskManagers } from '../../../src/flink/responses.js';
import { taskManagerLoads } from '../../../src/flink/taskmanager-load.js';
import type { TaskManagerTimesSample } from '../../../src/flink/taskmanager-load.js';

const URL_ = 'http://jm/jobs/j/vertices/v/taskmanagers';

function times(
  taskManagerId: string,
  busyTimeMs: number | null,
  backPressuredTimeMs: number | null,
  idleTimeMs: number | null,
): TaskManagerVertexTimes {
  return { taskManagerId, host: `${taskManagerId}-host:6121`, busyTimeMs, backPressuredTimeMs, idleTimeMs };
}

function sample(
  takenAtMs: number,
  vertices: Record<string, readonly TaskManagerVertexTimes[]>,
  jobId = 'j',
): TaskManagerTimesSample {
  return { jobId, takenAtMs, vertices: new Map(Object.entries(vertices)) };
}

describe('parseVertexTaskManagers', () => {
  it("reads each TaskManager's id, host and summed time counters (JobVertexTaskManagersInfo)", () => {
    const body = {
      id: 'v',
      name: 'Map',
      now: 1_700_000_000_000,
      taskmanagers: [
        {
          host: '10.244.1.5:6121',
          status: 'RUNNING',
          'start-time': 1,
          'end-time': -1,
          duration: 5,
          metrics: {
            'read-bytes': 0,
            'read-bytes-complete': true,
            'accumulated-backpressured-time': 120,
            'accumulated-idle-time': 3000,
            'accumulated-busy-time': 'NaN',
          },
          'status-counts': { RUNNING: 2 },
          'taskmanager-id': 'clicks-taskmanager-1-1',
        },
        { host: 'localhost:41234', 'taskmanager-id': 'f3a8' },
      ],
    };
    assert.deepEqual(parseVertexTaskManagers(body, URL_), [
      {
        taskManagerId: 'clicks-taskmanager-1-1',
        host: '10.244.1.5:6121',
        busyTimeMs: null,
        backPressuredTimeMs: 120,
        idleTimeMs: 3000,
      },
      {
        taskManagerId: 'f3a8',
        host: 'localhost:41234',
        busyTimeMs: null,
        backPressuredTimeMs: null,
        idleTimeMs: null,
      },
    ]);
  });

  it('refuses an answer that is not one', () => {
    assert.throws(() => parseVertexTaskManagers({ taskmanagers: [{ host: 'x' }] }, URL_), {
      code: 'FLINK_BAD_RESPONSE',
    });
    assert.throws(() => parseVertexTaskManagers([], URL_), { code: 'FLINK_BAD_RESPONSE' });
  });
});

describe('taskManagerLoads', () => {
  it('gives each TaskManager the max over its vertices of busy (and back-pressured) time over all the time of its subtasks', () => {
    const before = sample(0, {
      source: [times('tm-1', 0, 0, 0), times('tm-2', 0, 0, 0)],
      map: [times('tm-1', 1000, 0, 1000), times('tm-2', 0, 0, 0)],
    });
    // 10 s later: tm-1 runs 2 source subtasks (20,000 ms of task time) busy 25 %, and a map subtask
    // busy 90 %; tm-2 runs one of each, busy 50 % and back-pressured 40 % in the source.
    const after = sample(10_000, {
      source: [times('tm-1', 5000, 0, 15_000), times('tm-2', 5000, 4000, 1000)],
      map: [times('tm-1', 10_000, 0, 2000), times('tm-2', 1000, 0, 9000)],
    });
    const loads = taskManagerLoads(before, after);
    assert.equal(loads.length, 2);
    const [tm1, tm2] = loads;
    assert.equal(tm1?.taskManagerId, 'tm-1');
    assert.equal(tm1.host, 'tm-1-host:6121');
    assert.ok(Math.abs((tm1.busyRatio ?? -1) - 0.9) < 1e-12, String(tm1.busyRatio));
    assert.equal(tm1.backPressureRatio, 0);
    assert.equal(tm2?.busyRatio, 0.5);
    assert.equal(tm2.backPressureRatio, 0.4);
  });

  it('gives no figure for counters unknown, reset, idle for no time, or of a TaskManager new since the last sample', () => {
    const before = sample(0, {
      v: [times('unknown', 0, 0, 0), times('reset', 5000, 0, 5000), times('still', 7, 0, 3)],
    });
    const after = sample(10_000, {
      v: [
        times('unknown', null, 0, 100),
        times('reset', 10, 0, 10),
        times('still', 7, 0, 3),
        times('new', 100, 0, 0),
      ],
    });
    assert.deepEqual(
      taskManagerLoads(before, after).map((load) => [
        load.taskManagerId,
        load.busyRatio,
        load.backPressureRatio,
      ]),
      [
        ['new', null, null],
        ['reset', null, null],
        ['still', null, null],
        ['unknown', null, null],
      ],
    );
  });

  it('compares nothing across two jobs (a redeploy)', () => {
    const before = sample(0, { v: [times('tm', 0, 0, 0)] }, 'old');
    const after = sample(10_000, { v: [times('tm', 500, 0, 500)] }, 'new');
    assert.deepEqual(taskManagerLoads(before, after), []);
  });
});
