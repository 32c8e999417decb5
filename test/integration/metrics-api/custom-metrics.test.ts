/**
 * The custom metrics API (custom.metrics.k8s.io/v1beta2) over real TLS, with the real providers
 * over a published snapshot: discovery, every path form, label and metric label selectors, each
 * error with its Status body, and the SubjectAccessReview each read asks.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { MetricsSnapshot } from '../../../src/domain/metrics-snapshot.js';
import type { ServedTarget } from '../../../src/domain/metrics.js';
import { TargetsCustomMetricsProvider } from '../../../src/metrics-api/custom-provider.js';
import { TargetsMetricsProvider } from '../../../src/metrics-api/targets-provider.js';
import { RecentReads } from '../../../src/lib/recent-reads.js';
import { createTestPki, proxyHeaders, request, startTestServer, status } from './harness.js';
import type { TestPki, TestServer } from './harness.js';

const CUSTOM = '/apis/custom.metrics.k8s.io/v1beta2';
const NOW = Date.UTC(2026, 0, 1, 0, 10, 30);
const SAMPLED = Date.UTC(2026, 0, 1, 0, 10, 0, 789);

const FLINK_DEPLOYMENT = {
  apiVersion: 'flink.apache.org/v1beta1',
  kind: 'FlinkDeployment',
  resource: 'flinkdeployments.flink.apache.org',
} as const;
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment', resource: 'deployments.apps' } as const;

function served(
  name: string,
  object: ServedTarget['object'],
  metrics: ServedTarget['metrics'],
  labels: Record<string, string> = {},
  freshUntilMs = NOW + 30_000,
): ServedTarget {
  return {
    id: `${object.kind.toLowerCase()}/flink/${name}`,
    kind: object.kind.toLowerCase(),
    namespace: 'flink',
    name,
    jobId: `${name}-job`,
    windowSeconds: 60,
    timestampMs: SAMPLED,
    freshUntilMs,
    metrics,
    object,
    labels,
  };
}

const TARGETS: readonly ServedTarget[] = [
  served(
    'orders',
    FLINK_DEPLOYMENT,
    { flink_busy_ratio: { value: 0.93 }, pressure: { value: 1.5 } },
    {
      team: 'shop',
      tier: 'gold',
    },
  ),
  served('payments', FLINK_DEPLOYMENT, { flink_busy_ratio: { value: 2 } }, { team: 'shop', tier: 'silver' }),
  served('restarting', FLINK_DEPLOYMENT, {
    flink_busy_ratio: { unavailable: 'restarting', detail: 'the job restarted 3 s ago' },
  }),
  served('old', FLINK_DEPLOYMENT, { flink_busy_ratio: { value: 0.5 } }, { team: 'archive' }, NOW - 1),
  served('reactive', DEPLOYMENT, { flink_busy_ratio: { value: 0.25 } }, { team: 'shop' }),
];

describe('custom metrics API', () => {
  let pki: TestPki;
  let api: TestServer;
  let snapshot = new MetricsSnapshot(TARGETS, { tick: 1, builtAtMs: NOW });
  const source = { snapshot: () => snapshot };
  // The HPA controller's request through the aggregator (system:masters skips the review).
  const get = (path: string) =>
    request(pki, api.port, path, {
      client: pki.frontProxy,
      headers: proxyHeaders('system:kube-controller-manager', ['system:masters']),
    });

  before(async () => {
    pki = await createTestPki();
    api = await startTestServer(pki, {
      extra: {
        provider: new TargetsMetricsProvider(source, () => NOW),
        customProvider: new TargetsCustomMetricsProvider(source, () => NOW),
      },
    });
  });
  after(() => api.close());
  beforeEach(() => {
    snapshot = new MetricsSnapshot(TARGETS, { tick: 1, builtAtMs: NOW });
    api.authorizer.rule = (user, attributes) =>
      attributes.kind === 'nonResource' || user.groups.includes('system:masters');
    api.authorizer.calls.length = 0;
  });

  describe('discovery', () => {
    it('lists both groups under /apis', async () => {
      const response = await get('/apis');
      assert.equal(response.status, 200);
      const groups = (response.json() as { groups: { name: string; preferredVersion: object }[] }).groups;
      assert.deepEqual(
        groups.map((group) => [group.name, group.preferredVersion]),
        [
          [
            'external.metrics.k8s.io',
            { groupVersion: 'external.metrics.k8s.io/v1beta1', version: 'v1beta1' },
          ],
          ['custom.metrics.k8s.io', { groupVersion: 'custom.metrics.k8s.io/v1beta2', version: 'v1beta2' }],
        ],
      );
    });

    it('answers the APIGroup of custom.metrics.k8s.io with v1beta2 preferred', async () => {
      const response = await get('/apis/custom.metrics.k8s.io');
      assert.equal(response.status, 200);
      const version = { groupVersion: 'custom.metrics.k8s.io/v1beta2', version: 'v1beta2' };
      assert.deepEqual(response.json(), {
        kind: 'APIGroup',
        apiVersion: 'v1',
        name: 'custom.metrics.k8s.io',
        versions: [version],
        preferredVersion: version,
      });
    });

    it('lists each <resource>/<metric> pair of the target kinds present, an expression metric with its own kind only', async () => {
      const response = await get(CUSTOM);
      assert.equal(response.status, 200);
      const list = response.json() as {
        kind: string;
        groupVersion: string;
        resources: { name: string; namespaced: boolean; kind: string; verbs: string[] }[];
      };
      assert.equal(list.kind, 'APIResourceList');
      assert.equal(list.groupVersion, 'custom.metrics.k8s.io/v1beta2');
      const names = list.resources.map((resource) => resource.name);
      for (const name of [
        'flinkdeployments.flink.apache.org/flink_busy_ratio',
        'flinkdeployments.flink.apache.org/flink_demand_ratio',
        'flinkdeployments.flink.apache.org/flink_recommended_taskmanagers',
        'flinkdeployments.flink.apache.org/pressure',
        'deployments.apps/flink_busy_ratio',
      ]) {
        assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
      }
      assert.ok(!names.includes('deployments.apps/pressure'));
      assert.deepEqual(names, [...names].sort());
      for (const resource of list.resources) {
        assert.equal(resource.namespaced, true);
        assert.equal(resource.kind, 'MetricValueList');
        assert.deepEqual(resource.verbs, ['get']);
      }
    });
  });

  describe('reads', () => {
    it('answers an Object metric of one FlinkDeployment as a MetricValueList', async () => {
      const response = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/orders/flink_busy_ratio`,
      );
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'application/json');
      assert.deepEqual(response.json(), {
        kind: 'MetricValueList',
        apiVersion: 'custom.metrics.k8s.io/v1beta2',
        metadata: {},
        items: [
          {
            describedObject: {
              kind: 'FlinkDeployment',
              namespace: 'flink',
              name: 'orders',
              apiVersion: 'flink.apache.org/v1beta1',
            },
            metric: { name: 'flink_busy_ratio' },
            timestamp: '2026-01-01T00:10:00Z',
            windowSeconds: 60,
            value: '930m',
          },
        ],
      });
    });

    it('serves the same value as the external metrics API', async () => {
      const external = await get(
        '/apis/external.metrics.k8s.io/v1beta1/namespaces/flink/flink_busy_ratio?labelSelector=target%3Dpayments',
      );
      const custom = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/payments/flink_busy_ratio`,
      );
      assert.equal(external.status, 200);
      assert.equal(custom.status, 200);
      const externalValue = (external.json() as { items: { value: string }[] }).items[0]?.value;
      assert.equal(externalValue, '2');
      assert.deepEqual(items(custom.json()), [`payments=${externalValue}`]);
    });

    it("serves an expression metric and a Deployment's metric under their own kinds", async () => {
      const pressure = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/orders/pressure`,
      );
      assert.equal(pressure.status, 200);
      assert.deepEqual(items(pressure.json()), ['orders=1500m']);
      const deployment = await get(`${CUSTOM}/namespaces/flink/deployments.apps/reactive/flink_busy_ratio`);
      assert.equal(deployment.status, 200);
      const item = (deployment.json() as { items: { describedObject: object }[] }).items[0];
      assert.deepEqual(item?.describedObject, {
        kind: 'Deployment',
        namespace: 'flink',
        name: 'reactive',
        apiVersion: 'apps/v1',
      });
    });

    it('* reads every object of the kind whose labels match the labelSelector', async () => {
      const all = await get(`${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/*/pressure`);
      assert.equal(all.status, 200);
      assert.deepEqual(items(all.json()), ['orders=1500m']);
      const shop = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/*/flink_busy_ratio?labelSelector=${encodeURIComponent('team=shop')}`,
      );
      assert.equal(shop.status, 200);
      assert.deepEqual(items(shop.json()).sort(), ['orders=930m', 'payments=2']);
      const gold = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/*/flink_busy_ratio?labelSelector=${encodeURIComponent('team in (shop),tier!=silver')}`,
      );
      assert.deepEqual(items(gold.json()), ['orders=930m']);
      // %2A is the same name.
      const encoded = await get(
        `${CUSTOM}/namespaces/flink/deployments.apps/%2A/flink_busy_ratio?labelSelector=team%3Dshop`,
      );
      assert.deepEqual(items(encoded.json()), ['reactive=250m']);
    });

    it('matches metricLabelSelector against the labels of the external items (target, kind, job_id)', async () => {
      const path = `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/orders/flink_busy_ratio`;
      const matching = await get(`${path}?metricLabelSelector=${encodeURIComponent('job_id=orders-job')}`);
      assert.equal(matching.status, 200);
      assert.deepEqual(items(matching.json()), ['orders=930m']);
      const other = await get(`${path}?metricLabelSelector=${encodeURIComponent('kind=deployment')}`);
      assert.equal(other.status, 404);
      assert.deepEqual(
        other.json(),
        status(
          404,
          'NotFound',
          'flinkdeployments.flink.apache.org flink/orders is not a scale target Slotscaler serves metric flink_busy_ratio for',
          { group: 'custom.metrics.k8s.io', kind: 'flink_busy_ratio' },
        ),
      );
    });
  });

  describe('errors', () => {
    const notFound = (message: string, metric: string) =>
      status(404, 'NotFound', message, { group: 'custom.metrics.k8s.io', kind: metric });

    it('404 for an object that is no target, naming it', async () => {
      const response = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/ghost/flink_busy_ratio`,
      );
      assert.equal(response.status, 404);
      assert.deepEqual(
        response.json(),
        notFound(
          'flinkdeployments.flink.apache.org flink/ghost is not a scale target Slotscaler serves metric flink_busy_ratio for',
          'flink_busy_ratio',
        ),
      );
    });

    it('404 for a target read under another kind, or in another namespace', async () => {
      const kind = await get(`${CUSTOM}/namespaces/flink/deployments.apps/orders/flink_busy_ratio`);
      assert.equal(kind.status, 404);
      assert.match(
        (kind.json() as { message: string }).message,
        /deployments\.apps flink\/orders is not a scale target/,
      );
      const namespace = await get(
        `${CUSTOM}/namespaces/other/flinkdeployments.flink.apache.org/orders/flink_busy_ratio`,
      );
      assert.equal(namespace.status, 404);
    });

    it('404 for a * read no object matches, with the selector', async () => {
      const response = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/*/flink_busy_ratio?labelSelector=team%3Dnobody`,
      );
      assert.equal(response.status, 404);
      assert.deepEqual(
        response.json(),
        notFound(
          'no flinkdeployments.flink.apache.org in namespace flink matching the selector "team=nobody" is a scale target Slotscaler serves metric flink_busy_ratio for',
          'flink_busy_ratio',
        ),
      );
    });

    it('404 for a metric no target of the kind serves, and for a kind with no targets', async () => {
      const metric = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/orders/cpu_usage`,
      );
      assert.deepEqual(
        metric.json(),
        notFound(
          'the server could not find the metric cpu_usage for flinkdeployments.flink.apache.org',
          'cpu_usage',
        ),
      );
      const kind = await get(
        `${CUSTOM}/namespaces/flink/flinkapplications.flink.k8s.io/orders/flink_busy_ratio`,
      );
      assert.equal(kind.status, 404);
      assert.deepEqual(
        kind.json(),
        notFound(
          'the server could not find the metric flink_busy_ratio for flinkapplications.flink.k8s.io',
          'flink_busy_ratio',
        ),
      );
    });

    it('404 with the reason for a target without a current value: restarting, stale', async () => {
      const restarting = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/restarting/flink_busy_ratio`,
      );
      assert.equal(restarting.status, 404);
      assert.match(
        (restarting.json() as { message: string }).message,
        /^metric flink_busy_ratio of target flink\/restarting is unavailable \(restarting\): the job restarted 3 s ago; answered NotFound/,
      );
      const old = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/old/flink_busy_ratio`,
      );
      assert.equal(old.status, 404);
      assert.match((old.json() as { message: string }).message, /\(stale\)/);
      // One matching object without a value fails a * read, as on the external API.
      const all = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/*/flink_busy_ratio?labelSelector=${encodeURIComponent('!tier')}`,
      );
      assert.equal(all.status, 404);
    });

    it('400 for a labelSelector or metricLabelSelector that does not parse', async () => {
      const selector = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/*/flink_busy_ratio?labelSelector=${encodeURIComponent('team in (shop')}`,
      );
      assert.equal(selector.status, 400);
      assert.match(
        (selector.json() as { message: string }).message,
        /^unable to parse labelSelector "team in \(shop"/,
      );
      const metricSelector = await get(
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/orders/flink_busy_ratio?metricLabelSelector=${encodeURIComponent('=x')}`,
      );
      assert.equal(metricSelector.status, 400);
      assert.match(
        (metricSelector.json() as { message: string }).message,
        /^unable to parse metricLabelSelector "=x"/,
      );
    });

    it('404 for the namespace and cluster-scoped forms, which describe nothing we serve', async () => {
      const namespace = await get(`${CUSTOM}/namespaces/flink/metrics/flink_busy_ratio`);
      assert.deepEqual(
        namespace.json(),
        notFound('the server could not find the metric flink_busy_ratio for namespaces', 'flink_busy_ratio'),
      );
      const cluster = await get(`${CUSTOM}/nodes/node-1/flink_busy_ratio`);
      assert.deepEqual(
        cluster.json(),
        notFound('the server could not find the metric flink_busy_ratio for nodes', 'flink_busy_ratio'),
      );
    });

    it('404 path not found for paths of no read form', async () => {
      for (const path of [
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/orders`,
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/orders/flink_busy_ratio/extra`,
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/orders/a%2Fb`,
        '/apis/custom.metrics.k8s.io/v1beta1',
        '/apis/custom.metrics.k8s.io/v1beta1/namespaces/flink/flinkdeployments.flink.apache.org/orders/flink_busy_ratio',
      ]) {
        const response = await get(path);
        assert.equal(response.status, 404, path);
        assert.deepEqual(
          response.json(),
          status(404, 'NotFound', 'the server could not find the requested resource'),
          path,
        );
      }
    });

    it('405 for anything but GET', async () => {
      const response = await request(
        pki,
        api.port,
        `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/orders/flink_busy_ratio`,
        {
          method: 'DELETE',
          client: pki.frontProxy,
          headers: proxyHeaders('system:kube-controller-manager', ['system:masters']),
        },
      );
      assert.equal(response.status, 405);
    });
  });

  describe('authentication and authorization', () => {
    const path = `${CUSTOM}/namespaces/flink/flinkdeployments.flink.apache.org/orders/flink_busy_ratio`;

    it('401 without credentials', async () => {
      const response = await request(pki, api.port, path);
      assert.equal(response.status, 401);
      assert.deepEqual(response.json(), status(401, 'Unauthorized', 'Unauthorized'));
    });

    it('asks a SubjectAccessReview on the described object, the metric as subresource, verb get', async () => {
      api.authorizer.rule = () => true;
      const response = await request(pki, api.port, path, {
        client: pki.frontProxy,
        headers: proxyHeaders('hpa'),
      });
      assert.equal(response.status, 200);
      assert.deepEqual(
        api.authorizer.calls.map((call) => call.attributes),
        [
          {
            kind: 'resource',
            verb: 'get',
            group: 'custom.metrics.k8s.io',
            version: 'v1beta2',
            resource: 'flinkdeployments.flink.apache.org',
            namespace: 'flink',
            name: 'orders',
            subresource: 'flink_busy_ratio',
          },
        ],
      );
    });

    it('names * and the namespace form as the generic API server does', async () => {
      api.authorizer.rule = () => true;
      await request(pki, api.port, `${CUSTOM}/namespaces/flink/deployments.apps/*/flink_busy_ratio`, {
        client: pki.frontProxy,
        headers: proxyHeaders('hpa'),
      });
      await request(pki, api.port, `${CUSTOM}/namespaces/flink/metrics/flink_busy_ratio`, {
        client: pki.frontProxy,
        headers: proxyHeaders('hpa'),
      });
      const [star, namespace] = api.authorizer.calls.map((call) => call.attributes);
      assert.deepEqual(star, {
        kind: 'resource',
        verb: 'get',
        group: 'custom.metrics.k8s.io',
        version: 'v1beta2',
        resource: 'deployments.apps',
        namespace: 'flink',
        name: '*',
        subresource: 'flink_busy_ratio',
      });
      assert.deepEqual(namespace, {
        kind: 'resource',
        verb: 'get',
        group: 'custom.metrics.k8s.io',
        version: 'v1beta2',
        resource: 'metrics',
        namespace: 'flink',
        name: 'flink_busy_ratio',
      });
    });

    it('403 for a user the review refuses, worded as the API server words it', async () => {
      const response = await request(pki, api.port, path, { client: pki.alice });
      assert.equal(response.status, 403);
      assert.deepEqual(
        response.json(),
        status(
          403,
          'Forbidden',
          'flinkdeployments.flink.apache.org.custom.metrics.k8s.io "orders" is forbidden: User "alice" cannot get resource "flinkdeployments.flink.apache.org/flink_busy_ratio" in API group "custom.metrics.k8s.io" in the namespace "flink"',
          { group: 'custom.metrics.k8s.io', kind: 'flinkdeployments.flink.apache.org', name: 'orders' },
        ),
      );
    });
  });
});

describe('custom metrics API not configured', () => {
  it('answers 404 on its paths and lists only the external group', async () => {
    const pki = await createTestPki();
    const api = await startTestServer(pki, { authDisabled: true });
    try {
      const group = await request(pki, api.port, '/apis/custom.metrics.k8s.io');
      assert.equal(group.status, 404);
      const apis = await request(pki, api.port, '/apis');
      const names = (apis.json() as { groups: { name: string }[] }).groups.map((g) => g.name);
      assert.deepEqual(names, ['external.metrics.k8s.io']);
    } finally {
      await api.close();
    }
  });
});

describe('custom metrics API: Pods metrics of the TaskManager pods', () => {
  let pki: TestPki;
  let api: TestServer;
  const demand = new RecentReads();
  const pod = (name: string, busy: number, labels: Record<string, string>, freshUntilMs = NOW + 30_000) => ({
    name,
    labels,
    timestampMs: SAMPLED,
    windowSeconds: 15,
    freshUntilMs,
    metrics: {
      flink_taskmanager_busy_ratio: { value: busy },
      flink_taskmanager_backpressure_ratio: { value: 0 },
    },
  });
  const snapshot = new MetricsSnapshot(
    [
      {
        ...served('clicks', FLINK_DEPLOYMENT, { flink_busy_ratio: { value: 0.6 } }),
        pods: [
          pod('clicks-taskmanager-1-1', 0.9, { app: 'clicks', component: 'taskmanager' }),
          pod('clicks-taskmanager-1-2', 0.3, { app: 'clicks', component: 'taskmanager' }),
          pod('clicks-taskmanager-1-3', 0.5, { app: 'clicks', component: 'taskmanager' }, NOW - 1),
        ],
      },
      served('views', FLINK_DEPLOYMENT, { flink_busy_ratio: { value: 0.2 } }),
    ],
    { tick: 1, builtAtMs: NOW },
  );
  const get = (path: string) =>
    request(pki, api.port, path, {
      client: pki.frontProxy,
      headers: proxyHeaders('system:kube-controller-manager', ['system:masters']),
    });
  const selector = encodeURIComponent('app=clicks,component=taskmanager');

  before(async () => {
    pki = await createTestPki();
    api = await startTestServer(pki, {
      extra: {
        customProvider: new TargetsCustomMetricsProvider({ snapshot: () => snapshot }, () => NOW, demand),
      },
    });
  });
  after(() => api.close());

  it('lists the Pods metrics in discovery', async () => {
    const names = ((await get(CUSTOM)).json() as { resources: { name: string }[] }).resources.map(
      (r) => r.name,
    );
    assert.ok(names.includes('pods/flink_taskmanager_busy_ratio'));
    assert.ok(names.includes('pods/flink_taskmanager_backpressure_ratio'));
  });

  it("answers the HPA's read of pods/* with the pod selector: one item per fresh pod, described as the Pod", async () => {
    const response = await get(
      `${CUSTOM}/namespaces/flink/pods/*/flink_taskmanager_busy_ratio?labelSelector=${selector}`,
    );
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), {
      kind: 'MetricValueList',
      apiVersion: 'custom.metrics.k8s.io/v1beta2',
      metadata: {},
      items: ['clicks-taskmanager-1-1', 'clicks-taskmanager-1-2'].map((name, index) => ({
        describedObject: { kind: 'Pod', namespace: 'flink', name, apiVersion: 'v1' },
        metric: { name: 'flink_taskmanager_busy_ratio' },
        timestamp: '2026-01-01T00:10:00Z',
        windowSeconds: 15,
        value: ['900m', '300m'][index],
      })),
    });
    // The read marks the target whose pods matched, and the one whose pods are not known yet.
    assert.equal(demand.wanted('flinkdeployment/flink/clicks', NOW), true);
    assert.equal(demand.wanted('flinkdeployment/flink/views', NOW), true);
  });

  it('reads one pod by name', async () => {
    const response = await get(
      `${CUSTOM}/namespaces/flink/pods/clicks-taskmanager-1-2/flink_taskmanager_busy_ratio`,
    );
    assert.equal(response.status, 200);
    assert.deepEqual(items(response.json()), ['clicks-taskmanager-1-2=300m']);
  });

  it('404 with the reason when no pod is known yet, naming the target that will be collected', async () => {
    const response = await get(
      `${CUSTOM}/namespaces/flink/pods/*/flink_taskmanager_busy_ratio?labelSelector=app%3Dviews`,
    );
    assert.equal(response.status, 404);
    assert.match(
      (response.json() as { message: string }).message,
      /^metric flink_taskmanager_busy_ratio of target flink\/views is unavailable \(no-data\): the TaskManager pods of this target have no Pods metrics yet/,
    );
  });

  it('404 for a Pods metric in a namespace without targets, and for a metric that is no Pods metric', async () => {
    const none = await get(`${CUSTOM}/namespaces/other/pods/*/flink_taskmanager_busy_ratio`);
    assert.equal(none.status, 404);
    assert.equal(
      (none.json() as { message: string }).message,
      'no TaskManager pod of a scale target in namespace other matching an empty selector has metric flink_taskmanager_busy_ratio',
    );
    const catalogue = await get(`${CUSTOM}/namespaces/flink/pods/*/flink_busy_ratio`);
    assert.equal(catalogue.status, 404);
    assert.equal(
      (catalogue.json() as { message: string }).message,
      'the server could not find the metric flink_busy_ratio for pods',
    );
  });
});

function items(body: unknown): string[] {
  return (body as { items: { describedObject: { name: string }; value: string }[] }).items.map(
    (item) => `${item.describedObject.name}=${item.value}`,
  );
}
