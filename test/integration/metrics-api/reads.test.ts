/**
 * Metric reads over real TLS: ExternalMetricValueList shape, quantity formatting, the label-selector
 * grammar through the HTTP path, and every error answer with its exact Status body.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { FakeMetricsProvider } from '../../fakes/metrics-provider.js';
import {
  METRICS_PATH,
  createTestPki,
  proxyHeaders,
  request,
  scrape,
  startTestServer,
  status,
} from './harness.js';
import type { TestPki, TestServer } from './harness.js';

const BUSY = `${METRICS_PATH}/namespaces/flink/flink_busy_ratio`;

describe('external metric reads', () => {
  let pki: TestPki;
  let api: TestServer;
  let provider: FakeMetricsProvider;
  // The HPA controller's request through the aggregator (system:masters skips the review).
  const hpa = (extra: Record<string, string> = {}) => ({
    client: pki.frontProxy,
    headers: { ...proxyHeaders('system:kube-controller-manager', ['system:masters']), ...extra },
  });
  const get = (path: string, extra: Record<string, string> = {}) => request(pki, api.port, path, hpa(extra));
  const withSelector = (selector: string) => `${BUSY}?labelSelector=${encodeURIComponent(selector)}`;
  const targetsOf = (body: unknown) =>
    (body as { items: { metricLabels: { target: string } }[] }).items
      .map((item) => item.metricLabels.target)
      .sort();

  before(async () => {
    pki = await createTestPki();
    provider = new FakeMetricsProvider([
      'flink_busy_ratio',
      'flink_source_lag_seconds',
      'flink_recommended_taskmanagers',
    ]);
    api = await startTestServer(pki, { provider });
  });
  after(() => api.close());
  beforeEach(() => {
    provider.clearTargets();
    provider.failWith = undefined;
    const timestampMs = Date.UTC(2026, 0, 1, 0, 10, 0, 789);
    const target = (name: string, valueMilli: number, labels: Record<string, string>) =>
      provider.addTarget({
        namespace: 'flink',
        name,
        labels: { target: name, kind: 'flinkdeployment', ...labels },
        readings: { flink_busy_ratio: { valueMilli } },
        timestampMs,
        windowSeconds: 60,
      });
    target('orders', 930, { job_id: 'a1', tier: 'gold' });
    target('payments', 2000, { job_id: 'b2', tier: 'silver' });
    target('clicks', -1500, { job_id: 'c3' });
  });

  it('answers an ExternalMetricValueList with milli-precision quantities', async () => {
    const response = await get(withSelector('target=orders'));
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/json');
    assert.deepEqual(response.json(), {
      kind: 'ExternalMetricValueList',
      apiVersion: 'external.metrics.k8s.io/v1beta1',
      metadata: {},
      items: [
        {
          metricName: 'flink_busy_ratio',
          metricLabels: { target: 'orders', kind: 'flinkdeployment', job_id: 'a1', tier: 'gold' },
          timestamp: '2026-01-01T00:10:00Z',
          window: 60,
          value: '930m',
        },
      ],
    });
  });

  it('formats whole, negative, zero, tiny and large values as the HPA reads them back', async () => {
    const cases: [number, string][] = [
      [2000, '2'],
      [-1500, '-1500m'],
      [0, '0'],
      [1, '1m'],
      [999, '999m'],
      [123_456_789, '123456789m'],
      [5_000_000, '5k'], // canonical: the largest suffix that keeps the mantissa whole
      [700.2, '701m'], // a fraction is rounded up, as MilliValue() would
      [1e306, '9P'], // beyond MilliValue()'s int64: clamped, never "1e+306m"
    ];
    for (const [valueMilli, expected] of cases) {
      provider.clearTargets();
      provider.addTarget({ namespace: 'flink', name: 'x', readings: { flink_busy_ratio: { valueMilli } } });
      const body = (await get(BUSY)).json() as { items: { value: string }[] };
      assert.equal(body.items[0]?.value, expected, String(valueMilli));
    }
  });

  it('answers without a selector with every target of the namespace', async () => {
    const response = await get(BUSY);
    assert.equal(response.status, 200);
    assert.deepEqual(targetsOf(response.json()), ['clicks', 'orders', 'payments']);
    assert.deepEqual(provider.calls.at(-1)?.selector, []);
  });

  it('applies the full label-selector grammar through the HTTP path', async () => {
    const cases: [string, string[]][] = [
      ['target=orders', ['orders']],
      ['target==payments', ['payments']],
      ['target!=orders', ['clicks', 'payments']],
      ['target in (orders,clicks)', ['clicks', 'orders']],
      ['target notin (orders)', ['clicks', 'payments']],
      ['tier', ['orders', 'payments']],
      ['!tier', ['clicks']],
      ['tier,target!=payments', ['orders']],
      ['tier in (gold, silver),job_id notin (b2)', ['orders']],
      ['kind=flinkdeployment,!missing', ['clicks', 'orders', 'payments']],
    ];
    for (const [selector, expected] of cases) {
      const response = await get(withSelector(selector));
      assert.equal(response.status, 200, selector);
      assert.deepEqual(targetsOf(response.json()), expected, selector);
    }
  });

  it('reads the first labelSelector when there are several (url.Values.Get)', async () => {
    const response = await get(`${BUSY}?labelSelector=target%3Dorders&labelSelector=target%3Dpayments`);
    assert.deepEqual(targetsOf(response.json()), ['orders']);
  });

  it('accepts the HPA’s protobuf-first Accept header and answers JSON', async () => {
    const response = await get(withSelector('target=orders'), {
      accept: 'application/vnd.kubernetes.protobuf, */*',
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/json');
    assert.equal((response.json() as { kind: string }).kind, 'ExternalMetricValueList');
  });

  it('answers 400 BadRequest for a selector that does not parse', async () => {
    for (const [selector, message] of [
      [
        'target=orders||tier=gold',
        'invalid label value: "orders||tier" for key "target": must be a valid label value',
      ],
      ['target in (orders', "found '', expected: ',' or ')'"],
      ['!target=orders', "found '=', expected: ',' or 'end of string'"],
      ['Target Name=orders', "found 'Name', expected: in, notin, =, ==, !=, gt, lt"],
      ['x>a', "for 'Gt', 'Lt' operators, the value must be an integer"],
    ] as const) {
      const response = await get(withSelector(selector));
      assert.equal(response.status, 400, selector);
      assert.deepEqual(
        response.json(),
        status(400, 'BadRequest', `unable to parse labelSelector "${selector}": ${message}`),
        selector,
      );
    }
  });

  it('answers 404 NotFound for a metric it does not serve', async () => {
    const response = await get(`${METRICS_PATH}/namespaces/flink/kafka_lag`);
    assert.equal(response.status, 404);
    assert.deepEqual(
      response.json(),
      status(404, 'NotFound', 'the server could not find the metric kafka_lag', {
        group: 'external.metrics.k8s.io',
        kind: 'kafka_lag',
      }),
    );
  });

  it('answers 404 NotFound when no target matches, naming the selector', async () => {
    const response = await get(withSelector('target=nope'));
    assert.equal(response.status, 404);
    assert.deepEqual(
      response.json(),
      status(
        404,
        'NotFound',
        'no scale target in namespace flink matches the selector "target=nope" for metric flink_busy_ratio',
        { group: 'external.metrics.k8s.io', kind: 'flink_busy_ratio' },
      ),
    );
    const otherNamespace = await get(`${METRICS_PATH}/namespaces/default/flink_busy_ratio`);
    assert.equal(otherNamespace.status, 404);
    assert.match(
      (otherNamespace.json() as { message: string }).message,
      /^no scale target in namespace default matches an empty selector/,
    );
  });

  it('answers 404 NotFound with the reason when a known target has no value', async () => {
    provider.addTarget({
      namespace: 'flink',
      name: 'restarting-job',
      readings: { flink_busy_ratio: { unavailable: 'restarting', detail: 'the job restarted 20s ago' } },
    });
    const response = await get(withSelector('target=restarting-job'));
    assert.equal(response.status, 404);
    assert.deepEqual(
      response.json(),
      status(
        404,
        'NotFound',
        'metric flink_busy_ratio of target flink/restarting-job is unavailable (restarting): the job restarted 20s ago; ' +
          'answered NotFound: the target exists but has no current value, which is not a server failure ' +
          '(the HPA treats it like any metric it cannot read and does not scale down on it)',
        { group: 'external.metrics.k8s.io', kind: 'flink_busy_ratio' },
      ),
    );
    for (const reason of ['stale', 'unknown-lag'] as const) {
      provider.clearTargets();
      provider.addTarget({
        namespace: 'flink',
        name: 'j',
        readings: { flink_busy_ratio: { unavailable: reason } },
      });
      const body = (await get(BUSY)).json() as { message: string; code: number };
      assert.equal(body.code, 404);
      assert.match(body.message, new RegExp(`is unavailable \\(${reason}\\)`));
    }
  });

  it('answers 500 InternalError for a backend failure, with the details in the log only', async () => {
    provider.failWith = new Error('window store corrupted at 10.0.0.7:6123');
    const response = await get(BUSY, { 'Audit-Id': 'req-500' });
    assert.equal(response.status, 500);
    const message = 'an internal error occurred; see the Slotscaler log for request req-500';
    assert.deepEqual(
      response.json(),
      status(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] }),
    );
    assert.doesNotMatch(response.body, /10\.0\.0\.7|corrupted/);
    const logged = api.logger.entries.find(
      (entry) => entry.level === 'error' && entry.obj.requestId === 'req-500',
    );
    assert.match(String((logged?.obj.err as Error | undefined)?.message), /corrupted/);
  });

  it('counts requests by metric and code, and observes their duration', async () => {
    await get(withSelector('target=orders'));
    await get(`${METRICS_PATH}/namespaces/flink/some_random_name`);
    const text = await scrape(api.registry);
    assert.match(text, /slotscaler_metrics_api_requests_total\{metric="flink_busy_ratio",code="200"\} \d+/);
    assert.match(text, /slotscaler_metrics_api_requests_total\{metric="_unknown",code="404"\} \d+/);
    assert.match(text, /slotscaler_metrics_api_request_duration_seconds_count \d+/);
    assert.doesNotMatch(text, /some_random_name/);
  });
});
