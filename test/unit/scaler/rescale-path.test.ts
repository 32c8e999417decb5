import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { RescaleSupport } from '../../../src/domain/target.js';
import { requirementsFor, requirementsMatch } from '../../../src/flink/in-place.js';
import {
  PARALLELISM_OVERRIDES,
  flinkDeploymentAdapter,
  flinkDeploymentRescale,
  formatOverrides,
  parseOverrides,
} from '../../../src/kube/adapters/flink-deployment.js';
import type { KubeObject } from '../../../src/kube/objects.js';
import type { JobAsSeen } from '../../../src/metrics/metric-window.js';
import { choosePath, inPlaceVertices, rescaleProgress } from '../../../src/scaler/rescale-path.js';
import type { RescaleInFlight, RescaleRequest } from '../../../src/scaler/rescale-path.js';
import { TargetConfigSchema } from '../../../src/config/schema.js';

function spec(options: {
  mode?: 'native' | 'standalone';
  scheduler?: string;
  schedulerMode?: string;
  version?: string;
  inPlaceEnabled?: string;
  job?: boolean;
}): KubeObject {
  const flinkConfiguration: Record<string, string> = { 'taskmanager.numberOfTaskSlots': '2' };
  if (options.scheduler !== undefined) flinkConfiguration['jobmanager.scheduler'] = options.scheduler;
  if (options.schedulerMode !== undefined) flinkConfiguration['scheduler-mode'] = options.schedulerMode;
  if (options.inPlaceEnabled !== undefined) {
    flinkConfiguration['kubernetes.operator.job.upgrade.inplace-scaling.enabled'] = options.inPlaceEnabled;
  }
  return {
    apiVersion: 'flink.apache.org/v1beta1',
    kind: 'FlinkDeployment',
    metadata: { name: 'job', namespace: 'flink', resourceVersion: '7' },
    spec: {
      ...(options.mode === undefined ? {} : { mode: options.mode }),
      ...(options.version === undefined ? {} : { flinkVersion: options.version }),
      flinkConfiguration,
      taskManager: { replicas: 2 },
      ...(options.job === false ? {} : { job: { parallelism: 4, upgradeMode: 'savepoint' } }),
    },
  };
}

describe('the rescale path of a FlinkDeployment', () => {
  const versions = [undefined, 'v1_15', 'v1_17', 'v1_18', 'v1_20', 'v2_0', 'v2_1'];
  const schedulers = [undefined, 'default', 'adaptive', 'Adaptive'];
  const requests: RescaleRequest[] = ['auto', 'in-place', 'redeploy'];

  // The operator's rule (NativeFlinkService.supportsInPlaceScaling), written out for the table.
  const inPlaceOk = (version: string | undefined, scheduler: string | undefined): boolean => {
    const known = /^v(\d+)_(\d+)$/.exec(version ?? '');
    const recent = known !== null && (Number(known[1]) > 1 || Number(known[2]) >= 18);
    return recent && scheduler?.toLowerCase() === 'adaptive';
  };

  for (const version of versions) {
    for (const scheduler of schedulers) {
      for (const request of requests) {
        it(`native mode, flinkVersion ${version ?? 'absent'}, scheduler ${scheduler ?? 'absent'}, rescale ${request}`, () => {
          const support = flinkDeploymentRescale(
            spec({
              ...(version === undefined ? {} : { version }),
              ...(scheduler === undefined ? {} : { scheduler }),
            }),
          );
          const choice = choosePath(support, request);
          const ok = inPlaceOk(version, scheduler);
          if (request === 'redeploy') {
            assert.deepEqual(choice, { ok: true, path: 'redeploy', why: 'slotscaler.dev/rescale: redeploy' });
          } else if (ok) {
            assert.ok(choice.ok);
            assert.equal(choice.path, 'in-place');
          } else if (request === 'auto') {
            assert.ok(choice.ok);
            assert.equal(choice.path, 'redeploy');
            assert.match(choice.why, /the operator redeploys/);
          } else {
            // in-place asked for and impossible: refused, naming what is missing.
            assert.equal(choice.ok, false);
            assert.match(choice.why, /slotscaler\.dev\/rescale: in-place, but the spec lacks/);
            if (scheduler?.toLowerCase() !== 'adaptive') assert.match(choice.why, /adaptive scheduler/);
            if (!/^v(1_(1[89]|[2-9]\d)|[2-9]_\d+)$/.test(version ?? ''))
              assert.match(choice.why, /flinkVersion/);
          }
        });
      }
    }
  }

  for (const schedulerMode of [undefined, 'reactive']) {
    for (const request of requests) {
      it(`standalone mode, scheduler-mode ${schedulerMode ?? 'absent'}, rescale ${request}`, () => {
        const support = flinkDeploymentRescale(
          spec({
            mode: 'standalone',
            version: 'v1_20',
            scheduler: 'adaptive',
            ...(schedulerMode === undefined ? {} : { schedulerMode }),
          }),
        );
        const choice = choosePath(support, request);
        const notInPlace = schedulerMode === 'reactive' ? 'scale' : 'redeploy';
        if (request === 'in-place') {
          assert.equal(choice.ok, false);
          assert.match(choice.why, /standalone mode rescales through its scale fields/);
        } else {
          assert.ok(choice.ok);
          assert.equal(choice.path, notInPlace);
        }
      });
    }
  }

  it('an operator with in-place scaling turned off, or a session cluster, redeploys', () => {
    const off = flinkDeploymentRescale(
      spec({ version: 'v1_20', scheduler: 'adaptive', inPlaceEnabled: 'false' }),
    );
    assert.equal(off.auto, 'redeploy');
    assert.match(off.inPlaceMissing ?? '', /inplace-scaling\.enabled is false/);
    const session = flinkDeploymentRescale(spec({ version: 'v1_20', scheduler: 'adaptive', job: false }));
    assert.match(session.inPlaceMissing ?? '', /a session cluster/);
  });
});

describe('the in-place write of a FlinkDeployment', () => {
  const config = TargetConfigSchema.parse({});
  const object = spec({ version: 'v1_20', scheduler: 'adaptive' });

  it('is one guarded patch of the overrides key alone, leaving replicas and parallelism', () => {
    const steps = flinkDeploymentAdapter.planWrite(
      object,
      {
        replicas: 3,
        parallelism: 6,
        statusAnnotation: 's',
        path: 'in-place',
        vertices: [
          { id: 'a1', parallelism: 6 },
          { id: 'b2', parallelism: 4 },
        ],
      },
      config,
      null,
    );
    assert.equal(steps.length, 1);
    assert.deepEqual(steps[0]?.body, {
      metadata: { resourceVersion: '7', annotations: { 'slotscaler.dev/status': 's' } },
      spec: { flinkConfiguration: { [PARALLELISM_OVERRIDES]: 'a1:6,b2:4' } },
    });
  });

  it('reads the overrides back as the current parallelism and TaskManagers', () => {
    const rescaled = structuredClone(object);
    (rescaled.spec as { flinkConfiguration: Record<string, string> }).flinkConfiguration[
      PARALLELISM_OVERRIDES
    ] = 'a1:6,b2:4';
    const view = flinkDeploymentAdapter.describe(rescaled, config, null);
    assert.ok(!('problem' in view));
    assert.equal(view.currentParallelism, 6);
    assert.equal(view.currentReplicas, 3);
  });

  it('a redeploy removes overrides left in the spec, which would win over job.parallelism', () => {
    const rescaled = structuredClone(object);
    (rescaled.spec as { flinkConfiguration: Record<string, string> }).flinkConfiguration[
      PARALLELISM_OVERRIDES
    ] = 'a1:6';
    const steps = flinkDeploymentAdapter.planWrite(
      rescaled,
      { replicas: 1, parallelism: 2, statusAnnotation: undefined, path: 'redeploy', vertices: null },
      config,
      null,
    );
    assert.deepEqual((steps[0]?.body as { spec: unknown }).spec, {
      taskManager: { replicas: 1 },
      job: { parallelism: 2 },
      flinkConfiguration: { [PARALLELISM_OVERRIDES]: null },
    });
  });

  it('formats and parses Flink map values, refusing what is not one', () => {
    assert.equal(formatOverrides([{ id: 'x', parallelism: 2 }]), 'x:2');
    assert.deepEqual(
      [...(parseOverrides('x:2, y:3') ?? [])],
      [
        ['x', 2],
        ['y', 3],
      ],
    );
    for (const bad of ['x', 'x:0', 'x:1.5', 'x:2:3', ':2', 42])
      assert.equal(parseOverrides(bad), null, String(bad));
  });
});

const JOB: JobAsSeen = {
  jobId: 'j1',
  state: 'RUNNING',
  runningSinceMs: 1_000,
  seenAtMs: 2_000,
  vertices: [
    { id: 'src', name: 'Source', parallelism: 2, maxParallelism: 3, status: 'RUNNING' },
    { id: 'map', name: 'Map', parallelism: 2, maxParallelism: 128, status: 'RUNNING' },
  ],
};

describe('inPlaceVertices', () => {
  it('names every vertex, capped by its own max parallelism', () => {
    assert.deepEqual(inPlaceVertices(JOB, 4), [
      { id: 'src', parallelism: 3 },
      { id: 'map', parallelism: 4 },
    ]);
  });
});

describe('rescaleProgress', () => {
  const inFlight: RescaleInFlight = {
    path: 'in-place',
    atMs: 10_000,
    replicas: 2,
    parallelism: 4,
    jobId: 'j1',
    vertices: inPlaceVertices(JOB, 4),
    deadlineMs: 130_000,
  };
  const at = (parallelism: number, overrides: Partial<JobAsSeen> = {}): JobAsSeen => ({
    ...JOB,
    seenAtMs: 20_000,
    runningSinceMs: 14_000,
    vertices: JOB.vertices.map((vertex) => ({
      ...vertex,
      parallelism: Math.min(parallelism, vertex.maxParallelism ?? parallelism),
    })),
    ...overrides,
  });

  it('waits for a snapshot taken after the write, with every vertex RUNNING at its new parallelism', () => {
    assert.equal(rescaleProgress(inFlight, null, 20_000).state, 'waiting');
    assert.equal(rescaleProgress(inFlight, at(4, { seenAtMs: 9_000 }), 20_000).state, 'waiting');
    assert.equal(rescaleProgress(inFlight, at(2), 20_000).state, 'waiting');
    assert.equal(rescaleProgress(inFlight, at(4, { state: 'RESTARTING' }), 20_000).state, 'waiting');
    const deploying = at(4);
    const notRunning = {
      ...deploying,
      vertices: deploying.vertices.map((vertex) => ({ ...vertex, status: 'DEPLOYING' })),
    };
    assert.equal(rescaleProgress(inFlight, notRunning, 20_000).state, 'waiting');
  });

  it('is done when the same job runs at it, since its RUNNING timestamp', () => {
    assert.deepEqual(rescaleProgress(inFlight, at(4), 20_000), {
      state: 'done',
      runningSinceMs: 14_000,
      replaced: false,
    });
  });

  it('says when an in-place rescale reached the job under a new job id (a redeploy)', () => {
    const progress = rescaleProgress(inFlight, at(4, { jobId: 'j2' }), 20_000);
    assert.ok(progress.state === 'done' && progress.replaced);
    const redeploy = { ...inFlight, path: 'redeploy' as const, vertices: null };
    const after = rescaleProgress(redeploy, at(4, { jobId: 'j2' }), 20_000);
    assert.ok(after.state === 'done' && !after.replaced);
  });

  it('times out at the deadline, saying what it saw', () => {
    const progress = rescaleProgress(inFlight, at(2), 130_000);
    assert.ok(progress.state === 'timed-out');
    assert.match(progress.seen, /job j1 RUNNING: Source 2 RUNNING, Map 2 RUNNING/);
  });
});

describe('the resource requirements of an in-place rescale', () => {
  const current = {
    src: { parallelism: { lowerBound: 1, upperBound: 2 } },
    map: { parallelism: { lowerBound: 2, upperBound: 2 } },
    other: { parallelism: { lowerBound: 1, upperBound: 5 } },
  };

  it('sets the upper bound, lowers the lower bound with it and never raises it, leaves other vertices', () => {
    assert.deepEqual(
      requirementsFor(current, [
        { id: 'src', parallelism: 4 },
        { id: 'map', parallelism: 1 },
      ]),
      {
        src: { parallelism: { lowerBound: 1, upperBound: 4 } },
        map: { parallelism: { lowerBound: 1, upperBound: 1 } },
        other: { parallelism: { lowerBound: 1, upperBound: 5 } },
      },
    );
    assert.ok(requirementsMatch(current, [{ id: 'src', parallelism: 2 }]));
    assert.ok(!requirementsMatch(current, [{ id: 'src', parallelism: 3 }]));
  });
});

describe('choosePath', () => {
  const support: RescaleSupport = {
    auto: 'scale',
    autoWhy: 'reactive',
    inPlaceMissing: null,
    notInPlace: 'scale',
  };
  it('takes the kind’s own path on auto, and in place when asked and possible', () => {
    assert.deepEqual(choosePath(support, 'auto'), { ok: true, path: 'scale', why: 'reactive' });
    assert.equal((choosePath(support, 'in-place') as { path: string }).path, 'in-place');
    assert.equal((choosePath(support, 'redeploy') as { path: string }).path, 'scale');
  });
});
