import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatIssue, optInOf, parseTargetAnnotations } from '../../../src/config/annotations.js';
import type { AnnotationResult, ConfigIssue } from '../../../src/config/annotations.js';
import { describeFields } from '../../../src/config/schema.js';

const KNOWN = [
  'flink_busy_ratio',
  'flink_backpressure_ratio',
  'flink_source_lag_seconds',
  'flink_demand_ratio',
];

function issuesOf(result: AnnotationResult): readonly ConfigIssue[] {
  if (result.ok) assert.fail('expected the annotations to be refused');
  return result.issues;
}

function configOf(result: AnnotationResult) {
  if (!result.ok) assert.fail(`unexpected issues: ${result.issues.map(formatIssue).join('; ')}`);
  return result.config;
}

describe('target annotations', () => {
  it('gives every default when only enabled is set', () => {
    const config = configOf(parseTargetAnnotations({ 'slotscaler.dev/enabled': 'true' }));
    assert.equal(config.enabled, true);
    assert.equal(config.mode, 'scale');
    assert.deepEqual(config.metrics, [{ name: 'flink_demand_ratio', type: 'Value', targetMilli: 700 }]);
    assert.equal(config.minTaskmanagers, 1);
    assert.equal(config.maxTaskmanagers, 10);
    assert.deepEqual(config.tolerance, { scaleUp: 0.1, scaleDown: 0.1 });
    assert.equal(config.scaleUpStabilization, 0);
    assert.equal(config.scaleDownStabilization, 300);
    assert.deepEqual(config.scaleUpPolicies, [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ]);
    assert.deepEqual(config.scaleDownPolicies, [{ type: 'Percent', value: 100, periodSeconds: 15 }]);
    assert.equal(config.selectPolicy, 'Max');
    assert.equal(config.scaleUpSelectPolicy, undefined);
    assert.equal(config.taskSlots, undefined);
    assert.equal(config.cooldownAfterRescale, 60);
    assert.equal(config.allowStatelessRescale, false);
  });

  it('reads every key', () => {
    const config = configOf(
      parseTargetAnnotations(
        {
          'slotscaler.dev/enabled': 'TRUE',
          'slotscaler.dev/mode': 'recommend',
          'slotscaler.dev/metrics': 'flink_busy_ratio=0.8,flink_source_lag_seconds=60:AverageValue',
          'slotscaler.dev/min-taskmanagers': '2',
          'slotscaler.dev/max-taskmanagers': '20',
          'slotscaler.dev/tolerance': 'up=0.05,down=0.2',
          'slotscaler.dev/scale-up-stabilization': '30s',
          'slotscaler.dev/scale-down-stabilization': '1h',
          'slotscaler.dev/scale-up-policies': 'pods=2/1m',
          'slotscaler.dev/scale-down-policies': 'pods=1/5m,percent=10/5m',
          'slotscaler.dev/select-policy': 'min',
          'slotscaler.dev/scale-down-select-policy': 'Disabled',
          'slotscaler.dev/cooldown-after-rescale': '2m',
          'slotscaler.dev/task-slots': '4',
          'slotscaler.dev/max-parallelism': '128',
          'slotscaler.dev/jobmanager-url': 'http://job-rest.flink:8081/',
          'slotscaler.dev/job-id': 'a5b3c1e2d4f60718293a4b5c6d7e8f90',
          'slotscaler.dev/replicas-path': '.spec.taskManagers',
          'slotscaler.dev/parallelism-path': '.spec.job.parallelism',
          'slotscaler.dev/allow-stateless-rescale': 'true',
          'slotscaler.dev/metrics-window': '2m',
          'slotscaler.dev/metrics-hold-after-restart': '90s',
          'slotscaler.dev/metrics-max-age': '45s',
          'slotscaler.dev/status': '{"written":"by slotscaler"}',
          'other.io/ignored': 'anything',
        },
        { knownMetrics: KNOWN },
      ),
    );
    assert.equal(config.mode, 'recommend');
    assert.equal(config.maxTaskmanagers, 20);
    assert.deepEqual(config.tolerance, { scaleUp: 0.05, scaleDown: 0.2 });
    assert.equal(config.scaleDownStabilization, 3600);
    assert.equal(config.selectPolicy, 'Min');
    assert.equal(config.scaleDownSelectPolicy, 'Disabled');
    assert.equal(config.taskSlots, 4);
    assert.equal(config.jobmanagerUrl, 'http://job-rest.flink:8081');
    assert.equal(config.replicasPath, '.spec.taskManagers');
    assert.equal(config.metricsWindow, 120);
    assert.equal(config.allowStatelessRescale, true);
  });

  it('lets annotations override the global defaults, which override the built-in ones', () => {
    const config = configOf(
      parseTargetAnnotations(
        { 'slotscaler.dev/max-taskmanagers': '7' },
        { defaults: { maxTaskmanagers: 30, scaleDownStabilization: '10m' } },
      ),
    );
    assert.equal(config.maxTaskmanagers, 7);
    assert.equal(config.scaleDownStabilization, 600);
  });

  it('reports one issue per problem, naming the key, the value and what was expected', () => {
    const issues = issuesOf(
      parseTargetAnnotations({
        'slotscaler.dev/max-taskmanagers': 'ten',
        'slotscaler.dev/scale-down-stabilization': '5 minutes',
        'slotscaler.dev/tolerance': '-2',
        'slotscaler.dev/mode': 'auto',
      }),
    );
    assert.deepEqual(issues.map(formatIssue).sort(), [
      'slotscaler.dev/max-taskmanagers: "ten": expected a whole number',
      'slotscaler.dev/mode: "auto": expected one of scale, recommend, metrics-only',
      'slotscaler.dev/scale-down-stabilization: "5 minutes": expected a duration such as 30s, 5m or 1h30m',
      'slotscaler.dev/tolerance: "-2": the tolerance must be a number or quantity of 0 or more (0.1, 100m, 1.5), not "-2"',
    ]);
  });

  const badValues: [string, string, RegExp][] = [
    ['enabled', 'yes', /true or false/],
    ['min-taskmanagers', '-1', /from 0 to 10000/],
    ['max-taskmanagers', '0', /from 1 to 10000/],
    ['max-taskmanagers', '1.5', /whole number/],
    ['metrics', 'flink_busy_ratio', /not a metric target/],
    ['scale-up-stabilization', '2h', /from 0s to 1h/],
    ['scale-up-policies', 'pods=4', /not a policy/],
    ['scale-down-policies', '', /at least one policy/],
    ['select-policy', 'Biggest', /one of Max, Min, Disabled/],
    ['scale-up-select-policy', 'x', /one of Max, Min, Disabled/],
    ['scale-down-select-policy', 'never', /one of Max, Min, Disabled/],
    ['scale-down-stabilization', '-5m', /expected a duration/],
    ['cooldown-after-rescale', 'later', /expected a duration/],
    ['max-rescales-per-hour', '0', /from 1 to 3600/],
    ['task-slots', '0', /from 1 to 1024/],
    ['max-parallelism', '40000', /from 1 to 32768/],
    ['jobmanager-url', 'job-rest:8081', /http:\/\/ or https:\/\/ URL/],
    ['jobmanager-url', 'not a url', /http:\/\/ or https:\/\/ URL/],
    ['jobmanager-url', 'http://job-rest:8081/?token=x', /without a query \(\?\) or fragment/],
    ['jobmanager-url', 'http://job-rest:8081/#top', /without a query \(\?\) or fragment/],
    ['jobmanager-url', 'http://job-rest:8081?', /without a query \(\?\) or fragment/],
    ['jobmanager-url', 'http://admin:secret@job-rest:8081', /without credentials/],
    ['job-id', 'abc', /32 hex digits/],
    ['replicas-path', 'spec.replicas', /field path/],
    ['parallelism-path', '.spec..x', /field path/],
    ['allow-stateless-rescale', '1', /true or false/],
    ['rescale-after-checkpoint', 'yes', /true or false/],
    ['rescale', 'restart', /auto, in-place or redeploy|one of/],
    ['rescale-confirm-timeout', '0s', /from 1s to 1h/],
    ['metrics-window', '0s', /from 1s to 1h/],
    ['metrics-hold-after-restart', 'soon', /expected a duration/],
    ['metrics-max-age', '2h', /from 1s to 1h/],
    ['catch-up-duration', '0s', /from 1s to 24h/],
  ];
  for (const [key, value, message] of badValues) {
    it(`refuses ${key}=${JSON.stringify(value)}`, () => {
      const issues = issuesOf(parseTargetAnnotations({ [`slotscaler.dev/${key}`]: value }));
      const [issue, ...more] = issues;
      assert.ok(issue !== undefined && more.length === 0, issues.map(formatIssue).join('; '));
      assert.equal(issue.key, `slotscaler.dev/${key}`);
      assert.equal(issue.value, value);
      assert.match(issue.message, message);
    });
  }

  it('has a bad-value case for every target key', () => {
    const covered = new Set(badValues.map(([key]) => key));
    const targetKeys = describeFields()
      .filter((field) => field.meta.scope === 'target')
      .map((field) => field.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
    assert.deepEqual(
      targetKeys.filter((key) => !covered.has(key) && key !== 'mode' && key !== 'tolerance'),
      [],
    );
  });

  it('opts in with enabled=true; absent or false leaves the object alone', () => {
    assert.equal(optInOf({ 'slotscaler.dev/enabled': 'true' }), 'in');
    assert.equal(optInOf({ 'slotscaler.dev/enabled': ' True ' }), 'in');
    assert.equal(optInOf({}), 'out');
    assert.equal(optInOf({ 'other.io/enabled': 'true' }), 'out');
    assert.equal(optInOf({ 'slotscaler.dev/enabled': 'false' }), 'out');
    assert.equal(optInOf({ 'slotscaler.dev/enabled': 'FALSE' }), 'out');
  });

  for (const value of ['yes', '1', 'on', '', 'enabled', 'truee', '\u{1F600}']) {
    it(`keeps enabled=${JSON.stringify(value)} as a target whose parse names the key, the value and what is expected`, () => {
      const annotations = { 'slotscaler.dev/enabled': value };
      assert.equal(optInOf(annotations), 'invalid');
      assert.deepEqual(issuesOf(parseTargetAnnotations(annotations)).map(formatIssue), [
        `slotscaler.dev/enabled: ${JSON.stringify(value)}: expected true or false`,
      ]);
    });
  }

  it('refuses min-taskmanagers above max-taskmanagers', () => {
    const issues = issuesOf(
      parseTargetAnnotations({
        'slotscaler.dev/min-taskmanagers': '5',
        'slotscaler.dev/max-taskmanagers': '3',
      }),
    );
    assert.deepEqual(issues.map(formatIssue), [
      'slotscaler.dev/min-taskmanagers: "5": must not be more than max-taskmanagers (3)',
    ]);
  });

  it('refuses unknown keys and suggests the one meant', () => {
    const issues = issuesOf(
      parseTargetAnnotations({
        'slotscaler.dev/scale-down-stabilisation': '5m',
        'slotscaler.dev/max-task-managers': '4',
        'slotscaler.dev/frobnicate': 'true',
      }),
    );
    assert.deepEqual(issues.map(formatIssue).sort(), [
      'slotscaler.dev/frobnicate: "true": unknown annotation',
      'slotscaler.dev/max-task-managers: "4": unknown annotation; did you mean slotscaler.dev/max-taskmanagers?',
      'slotscaler.dev/scale-down-stabilisation: "5m": unknown annotation; did you mean slotscaler.dev/scale-down-stabilization?',
    ]);
  });

  it('refuses global settings set per target', () => {
    const issues = issuesOf(parseTargetAnnotations({ 'slotscaler.dev/tick-interval': '5s' }));
    assert.match(formatIssue(issues[0] ?? assert.fail()), /tick-interval is a global setting/);
  });

  it('reads expression metrics and lets targets scale on them', () => {
    const result = parseTargetAnnotations(
      {
        'slotscaler.dev/metric.pressure': 'max(busy_ratio / 0.7, source_lag_seconds / 60)',
        'slotscaler.dev/metrics': 'pressure=1',
      },
      { knownMetrics: KNOWN, checkExpression: () => undefined },
    );
    if (!result.ok) assert.fail(result.issues.map(formatIssue).join('; '));
    assert.deepEqual(result.expressions, { pressure: 'max(busy_ratio / 0.7, source_lag_seconds / 60)' });
  });

  it('refuses bad expression metrics', () => {
    const issues = issuesOf(
      parseTargetAnnotations(
        {
          'slotscaler.dev/metric.Bad-Name': '1',
          'slotscaler.dev/metric.flink_busy_ratio': '2',
          'slotscaler.dev/metric.broken': '1 +',
        },
        {
          knownMetrics: KNOWN,
          checkExpression: (_name, expression) => {
            if (expression.endsWith('+')) throw new Error('unexpected end of expression');
          },
        },
      ),
    );
    assert.deepEqual(issues.map(formatIssue).sort(), [
      'slotscaler.dev/metric.Bad-Name: "1": the metric name must be lowercase letters, digits and _',
      'slotscaler.dev/metric.broken: "1 +": unexpected end of expression',
      'slotscaler.dev/metric.flink_busy_ratio: "2": flink_busy_ratio is a built-in metric and cannot be redefined',
    ]);
  });

  it('names the default metrics, not "undefined", when the default names a metric the caller does not know', () => {
    const issues = issuesOf(parseTargetAnnotations({}, { knownMetrics: ['flink_busy_ratio'] }));
    assert.deepEqual(issues.map(formatIssue), [
      'slotscaler.dev/metrics: "flink_demand_ratio=700m": unknown metric flink_demand_ratio',
    ]);
  });

  it('refuses scaling on an unknown metric and suggests the one meant', () => {
    const issues = issuesOf(
      parseTargetAnnotations({ 'slotscaler.dev/metrics': 'flink_busy_ration=0.7' }, { knownMetrics: KNOWN }),
    );
    assert.deepEqual(issues.map(formatIssue), [
      'slotscaler.dev/metrics: "flink_busy_ration=0.7": unknown metric flink_busy_ration; did you mean flink_busy_ratio?',
    ]);
  });

  it('names the global setting when a default is what is wrong', () => {
    const issues = issuesOf(
      parseTargetAnnotations(
        {},
        { defaults: { maxTaskmanagers: 'many' }, describeDefaultKey: (key) => `--${key}` },
      ),
    );
    assert.deepEqual(issues.map(formatIssue), ['--maxTaskmanagers: "many": expected a whole number']);
  });
});
