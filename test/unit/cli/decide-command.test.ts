import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { runDecide } from '../../../src/cli/decide-command.js';
import { parseDecisionInput } from '../../../src/cli/decision-json.js';

/** The input of the README's `decide` example. */
export const DOCUMENTED_INPUT = {
  now: '2026-01-01T00:10:00Z',
  currentReplicas: 5,
  readyReplicas: 5,
  statusReplicas: 5,
  minReplicas: 1,
  maxReplicas: 10,
  metrics: [
    { name: 'flink_busy_ratio', type: 'Value', value: 0.93, target: 0.7 },
    { name: 'flink_source_lag_seconds', type: 'AverageValue', value: null, target: 60 },
  ],
  tolerance: 0.1,
  behavior: {
    scaleUp: {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [
        { type: 'Pods', value: 4, periodSeconds: 15 },
        { type: 'Percent', value: 100, periodSeconds: 15 },
      ],
    },
    scaleDown: {
      stabilizationWindowSeconds: 300,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    },
  },
  recommendations: [{ replicas: 6, timestamp: '2026-01-01T00:08:00Z' }],
  scaleEvents: [{ replicaChange: 2, timestamp: '2026-01-01T00:09:30Z' }],
  taskSlots: 2,
  maxParallelism: 128,
};

function run(stdin: string, pretty = false) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runDecide(
    { stdin, write: (line) => out.push(line), writeError: (line) => err.push(line) },
    { pretty },
  );
  return { code, out, err };
}

describe('slotscaler decide', () => {
  it('answers the documented input: 5 → 7 TaskManagers, parallelism 14', () => {
    const { code, out, err } = run(JSON.stringify(DOCUMENTED_INPUT, null, 2));
    assert.equal(code, 0);
    assert.deepEqual(err, []);
    assert.equal(out.length, 1);
    const decision = JSON.parse(out[0] ?? '') as Record<string, unknown>;
    assert.equal(decision['desiredReplicas'], 7); // ceil(930/700 × 5) = ceil(6.64)
    assert.equal(decision['parallelism'], 14);
    assert.equal(decision['reason'], 'DesiredWithinRange'); // limit max(5+4, 5×2) = 10 does not bind 7
    assert.deepEqual(decision['proposals'], [
      { name: 'flink_busy_ratio', replicas: 7, ratio: 1.3286 },
      { name: 'flink_source_lag_seconds', replicas: null, ratio: null },
    ]);
    assert.deepEqual(decision['recommendations'], [
      { replicas: 6, timestamp: '2026-01-01T00:08:00.000Z' },
      { replicas: 7, timestamp: '2026-01-01T00:10:00.000Z' },
    ]);
    // The earlier scale-up is older than the longest policy period (15 s): its slot is reused.
    assert.deepEqual(decision['scaleEvents'], [{ replicaChange: 2, timestamp: '2026-01-01T00:10:00.000Z' }]);
  });

  it('applies every documented default', () => {
    const parsed = parseDecisionInput({
      now: 1_000,
      currentReplicas: 3,
      maxReplicas: 5,
      metrics: [{ name: 'm', value: '1', target: '500m' }],
    });
    if (!parsed.ok) assert.fail(parsed.error);
    const { input } = parsed;
    assert.equal(input.readyReplicas, 3);
    assert.equal(input.statusReplicas, 3);
    assert.equal(input.minReplicas, 1);
    assert.deepEqual(input.tolerance, { scaleUp: 0.1, scaleDown: 0.1 });
    assert.equal(input.behavior.scaleDown.stabilizationWindowSeconds, 300);
    assert.equal(input.behavior.scaleUp.policies.length, 2);
    assert.equal(input.recommendations, null);
    assert.deepEqual(input.scaleEvents, []);
    assert.equal(input.taskSlots, 1);
    assert.equal(input.maxParallelism, null);
    assert.deepEqual(input.metrics, [{ name: 'm', type: 'Value', usageMilli: 1000, targetMilli: 500 }]);
  });

  it('reads partial behavior and asymmetric tolerance', () => {
    const parsed = parseDecisionInput({
      now: '2026-01-01T00:00:00+01:00',
      currentReplicas: 3,
      maxReplicas: 5,
      metrics: [{ name: 'm', value: 1, target: 1 }],
      tolerance: { scaleUp: 0.05, scaleDown: 0.2 },
      behavior: { scaleDown: { selectPolicy: 'Disabled' } },
      recommendations: [],
    });
    if (!parsed.ok) assert.fail(parsed.error);
    assert.equal(parsed.input.nowMs, Date.parse('2025-12-31T23:00:00Z'));
    assert.equal(parsed.input.behavior.scaleDown.selectPolicy, 'Disabled');
    assert.equal(parsed.input.behavior.scaleDown.stabilizationWindowSeconds, 300);
    assert.deepEqual(parsed.input.tolerance, { scaleUp: 0.05, scaleDown: 0.2 });
    assert.deepEqual(parsed.input.recommendations, []);
  });

  describe('a tolerance of 1 or more, as the HPA takes one (no upper bound)', () => {
    /** One metric at `value` against a target of 0.7 on 5 TaskManagers, no scale-down window. */
    function decideWith(tolerance: unknown, value: number) {
      const { code, out, err } = run(
        JSON.stringify({
          now: '2026-01-01T00:10:00Z',
          currentReplicas: 5,
          maxReplicas: 40,
          metrics: [{ name: 'm', value, target: 0.7 }],
          tolerance,
          behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
        }),
      );
      assert.deepEqual(err, []);
      assert.equal(code, 0);
      const decision = JSON.parse(out[0] ?? '') as {
        desiredReplicas: number;
        reason: string;
        proposals: { replicas: number; ratio: number }[];
      };
      return { ...decision, ratio: decision.proposals[0]?.ratio };
    }

    // upstream: (1 - scaleDown) <= ratio <= (1 + scaleUp) keeps the current count
    // (k8s.io/kubernetes pkg/controller/podautoscaler/replica_calculator.go `Tolerances.isWithin`).
    for (const [tolerance, value, ratio, proposed, desired] of [
      [1.5, 0.07, 0.1, 5, 5], // 1 - 1.5 <= 0.1: within, so no scale-down, however low the usage
      [1.5, 0, 0, 5, 5],
      [1.5, 1.75, 2.5, 5, 5], // at 1 + 1.5 exactly: within
      [1.5, 1.82, 2.6, 13, 10], // past it: ceil(2.6 × 5), held to the scale-up limit max(5 + 4, 2 × 5)
      [1.5, -0.7, -1, -5, 1], // a negative external metric is below 1 - 1.5: down to the minimum
      [3, 0, 0, 5, 5],
      [3, -0.7, -1, 5, 5], // 1 - 3 <= -1: within
      [3, 2.8, 4, 5, 5],
      [3, 2.87, 4.1, 21, 10],
      ['1500m', 0.07, 0.1, 5, 5], // a quantity string, as in an HPA's YAML
      ['3', 2.8, 4, 5, 5],
    ] as const) {
      it(`tolerance ${JSON.stringify(tolerance)}, ratio ${ratio}: proposes ${proposed}, decides ${desired}`, () => {
        const decision = decideWith(tolerance, value);
        assert.equal(decision.ratio, ratio);
        assert.equal(decision.proposals[0]?.replicas, proposed);
        assert.equal(decision.desiredReplicas, desired);
      });
    }

    it('takes separate directions above 1: never down, up past 1 + scaleUp', () => {
      assert.equal(decideWith({ scaleUp: 0.1, scaleDown: 1 }, 0).desiredReplicas, 5);
      assert.equal(decideWith({ scaleUp: 0.1, scaleDown: 1 }, 0.8).desiredReplicas, 6); // ceil(8/7 × 5)
      assert.equal(decideWith({ scaleUp: 2, scaleDown: 1.5 }, 2.1).desiredReplicas, 5);
    });
  });

  const invalid: [string, unknown, string][] = [
    ['not an object', [1, 2], 'expected a JSON object'],
    ['missing now', { currentReplicas: 1, maxReplicas: 2, metrics: [] }, 'now: is required'],
    [
      'bad time',
      { ...DOCUMENTED_INPUT, now: 'yesterday' },
      'now: expected an RFC 3339 time or epoch milliseconds',
    ],
    [
      'negative replicas',
      { ...DOCUMENTED_INPUT, currentReplicas: -1 },
      'currentReplicas: expected a replica count of 0 or more',
    ],
    [
      'fractional replicas',
      { ...DOCUMENTED_INPUT, readyReplicas: 1.5 },
      'readyReplicas: expected a whole number',
    ],
    ['missing maxReplicas', { ...DOCUMENTED_INPUT, maxReplicas: undefined }, 'maxReplicas: is required'],
    [
      'min above max',
      { ...DOCUMENTED_INPUT, minReplicas: 11 },
      'minReplicas: must not be more than maxReplicas',
    ],
    ['no metrics', { ...DOCUMENTED_INPUT, metrics: [] }, 'metrics: expected at least one metric'],
    [
      'unknown target type',
      { ...DOCUMENTED_INPUT, metrics: [{ name: 'm', type: 'Utilization', value: 1, target: 1 }] },
      'metrics[0].type: expected "Value" or "AverageValue"',
    ],
    [
      'bad quantity',
      { ...DOCUMENTED_INPUT, metrics: [{ name: 'm', value: '12 apples', target: 1 }] },
      'metrics[0].value: expected a number or a Kubernetes quantity such as 500m, 1.5 or 2k',
    ],
    [
      'zero target',
      { ...DOCUMENTED_INPUT, metrics: [{ name: 'm', value: 1, target: 0 }] },
      'metrics[0].target: expected a target greater than 0',
    ],
    [
      'unknown policy type',
      {
        ...DOCUMENTED_INPUT,
        behavior: { scaleUp: { policies: [{ type: 'Replicas', value: 1, periodSeconds: 15 }] } },
      },
      'behavior.scaleUp.policies[0].type: expected "Pods" or "Percent"',
    ],
    [
      'unknown select policy',
      { ...DOCUMENTED_INPUT, behavior: { scaleDown: { selectPolicy: 'Largest' } } },
      'behavior.scaleDown.selectPolicy: expected "Max", "Min" or "Disabled"',
    ],
    ['misspelled field', { ...DOCUMENTED_INPUT, maxReplica: 3 }, 'unknown field "maxReplica"'],
    ...(
      [-0.1, '-1', 'lots', '0x10', '1e309', true, { scaleUp: -1, scaleDown: 0.1 }, { scaleUp: 0.1 }] as const
    ).map((tolerance): [string, unknown, string] => [
      `tolerance ${JSON.stringify(tolerance)}`,
      { ...DOCUMENTED_INPUT, tolerance },
      'tolerance: expected a number or quantity of 0 or more, or {"scaleUp": x, "scaleDown": y}',
    ]),
    [
      'zero scale event',
      { ...DOCUMENTED_INPUT, scaleEvents: [{ replicaChange: 0, timestamp: 0 }] },
      'scaleEvents[0].replicaChange: expected a non-zero change',
    ],
  ];
  for (const [name, document, message] of invalid) {
    it(`refuses ${name} with a message naming the field`, () => {
      const { code, out, err } = run(JSON.stringify(document));
      assert.equal(code, 2);
      assert.deepEqual(out, []);
      assert.deepEqual(err, [`slotscaler decide: ${message}`]);
    });
  }

  it('refuses bad JSON and empty input', () => {
    assert.match(run('{"now": ').err[0] ?? '', /^slotscaler decide: invalid JSON: /);
    assert.deepEqual(run('  \n').err, ['slotscaler decide: expected a JSON decision input on stdin']);
  });

  it('answers NDJSON line by line, a bad line with an error on its line', () => {
    const good = JSON.stringify(DOCUMENTED_INPUT);
    const { code, out, err } = run(`${good}\n{"now": "x"}\nnot json\n\n${good}\n`);
    assert.equal(code, 2);
    assert.deepEqual(err, []);
    assert.equal(out.length, 4);
    assert.equal((JSON.parse(out[0] ?? '') as { desiredReplicas: number }).desiredReplicas, 7);
    assert.deepEqual(JSON.parse(out[1] ?? ''), {
      error: 'now: expected an RFC 3339 time or epoch milliseconds',
    });
    assert.match((JSON.parse(out[2] ?? '') as { error: string }).error, /^invalid JSON/);
    assert.equal((JSON.parse(out[3] ?? '') as { desiredReplicas: number }).desiredReplicas, 7);
  });

  it('exits 0 when every NDJSON line is answered', () => {
    const good = JSON.stringify(DOCUMENTED_INPUT);
    const { code, out } = run(`${good}\n${good}\n`);
    assert.equal(code, 0);
    assert.equal(out.length, 2);
  });

  it('indents with --pretty', () => {
    const { out } = run(JSON.stringify(DOCUMENTED_INPUT), true);
    assert.match(out[0] ?? '', /^\{\n {2}"desiredReplicas": 7,/);
  });

  describe('with capacity units', () => {
    const keyed = {
      now: 0,
      currentReplicas: 64,
      maxReplicas: 200,
      maxParallelism: 128,
      keyed: true,
      metrics: [{ name: 'flink_busy_ratio', value: 1.1, target: 0.7 }],
    };
    const decideOne = (input: unknown): Record<string, unknown> => {
      const { code, out, err } = run(JSON.stringify(input));
      assert.deepEqual(err, []);
      assert.equal(code, 0);
      return JSON.parse(out[0] ?? '') as Record<string, unknown>;
    };

    it('a keyed job asking 101 of 128 key groups gets all 128: 101 to 127 give 64 effective subtasks', () => {
      const decision = decideOne(keyed);
      assert.equal(decision['proposedReplicas'], 101);
      assert.equal(decision['desiredReplicas'], 128);
      assert.equal(decision['parallelism'], 128);
      assert.equal(decision['effectiveParallelism'], 128);
      assert.equal(decision['reason'], 'KeyGroupAlignment');
      assert.match(String(decision['alignment']), /^101 TaskManagers \(101 subtasks needed\) → 128/);
    });
    it('a keyed job capped at 100 TaskManagers stays at 64: nothing between buys capacity', () => {
      const decision = decideOne({ ...keyed, maxReplicas: 100 });
      assert.equal(decision['desiredReplicas'], 64);
      assert.equal(decision['effectiveParallelism'], 64);
      assert.equal(decision['reason'], 'NoCapacityGain');
      assert.deepEqual(decision['scaleEvents'], []);
    });
    it('7 source partitions: 5 subtasks needed become 7', () => {
      const decision = decideOne({
        now: 0,
        currentReplicas: 4,
        maxReplicas: 100,
        sourcePartitions: 7,
        metrics: [{ name: 'flink_busy_ratio', value: 0.8, target: 0.7 }],
      });
      assert.equal(decision['desiredReplicas'], 7);
      assert.equal(decision['reason'], 'SourcePartitionAlignment');
    });
    it('an aligned count is answered with its effective parallelism and no alignment text', () => {
      const decision = decideOne({
        ...keyed,
        metrics: [{ name: 'flink_busy_ratio', value: 1.4, target: 0.7 }],
      });
      assert.equal(decision['desiredReplicas'], 128);
      assert.equal(decision['reason'], 'DesiredWithinRange');
      assert.equal(decision['effectiveParallelism'], 128);
      assert.equal('alignment' in decision, false);
    });
    it('an input without them has neither field', () => {
      const decision = decideOne(DOCUMENTED_INPUT);
      assert.equal('effectiveParallelism' in decision, false);
      assert.equal('alignment' in decision, false);
    });
    it('"keyed" without maxParallelism is refused', () => {
      const { code, err } = run(JSON.stringify({ ...keyed, maxParallelism: undefined }));
      assert.equal(code, 2);
      assert.match(err[0] ?? '', /maxParallelism: is required/);
    });
  });
});
