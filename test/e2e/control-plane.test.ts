// The e2e control plane itself: a real kube-apiserver (at the release pinned in
// test/e2e/control-plane/go.mod) serving our FlinkDeployment CRD with its scale subresource, and a
// real HPA controller acting on a FlinkDeployment. Needs the binaries from
// test/e2e/control-plane/build.sh (run it first: a cold build takes 10-20 minutes).
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import {
  ControlPlaneError,
  startControlPlane,
  type ApiResponse,
  type ControlPlane,
} from './harness/control-plane.js';

const goMod = new URL('./control-plane/go.mod', import.meta.url);
const crdFile = new URL('./crds/flinkdeployment.yaml', import.meta.url);

const namespace = 'default';
const name = 'wordcount';
const flinkDeployments = `/apis/flink.apache.org/v1beta1/namespaces/${namespace}/flinkdeployments`;
const labelSelector = `app=${name},component=taskmanager`;
/** The HPA controller's identity: kube-controller-manager runs with --use-service-account-credentials. */
const hpaUser = 'system:serviceaccount:kube-system:horizontal-pod-autoscaler';

/** The value at `path` inside a parsed JSON document, or undefined. */
function pick(value: unknown, ...path: readonly (string | number)[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/** The HPA (or CRD) condition of the given type, as a plain record. */
function condition(resource: unknown, type: string): Record<string, unknown> | undefined {
  const conditions = pick(resource, 'status', 'conditions');
  if (!Array.isArray(conditions)) return undefined;
  const found: unknown = conditions.find((c: unknown) => pick(c, 'type') === type);
  return typeof found === 'object' && found !== null ? (found as Record<string, unknown>) : undefined;
}

async function pinnedKubernetesVersion(): Promise<string> {
  const match = /^\s*k8s\.io\/kubernetes (v\d+\.\d+\.\d+)\b/m.exec(await readFile(goMod, 'utf8'));
  assert.ok(match?.[1], 'go.mod pins k8s.io/kubernetes');
  return match[1];
}

function expectStatus(answer: ApiResponse, statusCode: number, what: string): void {
  assert.equal(answer.statusCode, statusCode, `${what}: ${answer.text}`);
}

describe('local control plane', () => {
  let cp: ControlPlane;

  /**
   * Retries `check` until it stops throwing; on timeout fails with its last error and the tail
   * of every log.
   */
  async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await check();
      } catch (error) {
        if (Date.now() >= deadline) {
          const reason = error instanceof Error ? error.message : String(error);
          assert.fail(`${what}: not within ${timeoutMs} ms: ${reason}\n${await cp.logsTail()}`);
        }
      }
      await sleep(250);
    }
  }

  before(async () => {
    cp = await startControlPlane({ hpaSyncPeriodSeconds: 2 });
  });

  after(async () => {
    await cp.stop();
  });

  test('/version answers the release pinned in go.mod', async () => {
    const pinned = await pinnedKubernetesVersion();
    const answer = await cp.request('GET', '/version');
    expectStatus(answer, 200, 'GET /version');
    assert.equal(pick(answer.body, 'gitVersion'), pinned);
    assert.equal(cp.version, pinned);
    const [, major, minor] = /^v(\d+)\.(\d+)\./.exec(pinned) ?? [];
    assert.equal(pick(answer.body, 'major'), major);
    assert.equal(pick(answer.body, 'minor'), minor);
  });

  test('the aggregation layer is configured for a front-proxy client', async () => {
    const answer = await cp.request(
      'GET',
      '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication',
    );
    expectStatus(answer, 200, 'GET extension-apiserver-authentication');
    const data = pick(answer.body, 'data');
    assert.equal(pick(data, 'requestheader-allowed-names'), '["front-proxy-client"]');
    assert.equal(pick(data, 'requestheader-username-headers'), '["X-Remote-User"]');
    assert.equal(pick(data, 'requestheader-client-ca-file'), await readFile(cp.frontProxyCaCertPath, 'utf8'));
  });

  test('the HPA controller calls as its ServiceAccount, which may read external metrics', async () => {
    const account = await cp.request(
      'GET',
      '/api/v1/namespaces/kube-system/serviceaccounts/horizontal-pod-autoscaler',
    );
    expectStatus(account, 200, 'the ServiceAccount kube-controller-manager made for the HPA controller');
    const review = await cp.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: hpaUser,
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
        resourceAttributes: {
          group: 'external.metrics.k8s.io',
          version: 'v1beta1',
          resource: 'flink_busy_ratio',
          namespace,
          verb: 'list',
        },
      },
    });
    expectStatus(review, 201, 'SubjectAccessReview');
    assert.equal(pick(review.body, 'status', 'allowed'), true, review.text);
  });

  test('the FlinkDeployment CRD applies and becomes Established', async () => {
    const crd: unknown = parseYaml(await readFile(crdFile, 'utf8'));
    const created = await cp.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    expectStatus(created, 201, 'create the CRD');
    const path = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/flinkdeployments.flink.apache.org';
    await eventually('CRD Established', 30_000, async () => {
      const current = await cp.request('GET', path);
      assert.equal(condition(current.body, 'NamesAccepted')?.['status'], 'True', current.text);
      assert.equal(condition(current.body, 'Established')?.['status'], 'True', current.text);
    });
    // Served, with the short name and the scale subresource in discovery.
    const resources = await eventually('flink.apache.org/v1beta1 discovery', 30_000, async () => {
      const answer = await cp.request('GET', '/apis/flink.apache.org/v1beta1');
      expectStatus(answer, 200, 'GET /apis/flink.apache.org/v1beta1');
      return pick(answer.body, 'resources');
    });
    assert.ok(Array.isArray(resources));
    const names = resources.map((resource: unknown) => pick(resource, 'name'));
    assert.ok(names.includes('flinkdeployments/scale'), JSON.stringify(names));
    assert.ok(names.includes('flinkdeployments/status'), JSON.stringify(names));
    const main: unknown = resources.find(
      (resource: unknown) => pick(resource, 'name') === 'flinkdeployments',
    );
    assert.deepEqual(pick(main, 'shortNames'), ['flinkdep']);
  });

  test('a FlinkDeployment applies and its /scale subresource follows spec and status', async () => {
    const flinkDeployment = {
      apiVersion: 'flink.apache.org/v1beta1',
      kind: 'FlinkDeployment',
      metadata: { name, namespace },
      spec: {
        image: 'flink:1.20',
        flinkVersion: 'v1_20',
        flinkConfiguration: { 'taskmanager.numberOfTaskSlots': '2' },
        serviceAccount: 'flink',
        jobManager: { replicas: 1, resource: { cpu: 1, memory: '1024m' } },
        taskManager: { replicas: 2, resource: { cpu: 0.5, memory: '2048m' } },
        job: {
          jarURI: 'local:///opt/flink/job.jar',
          parallelism: 4,
          upgradeMode: 'stateless',
          state: 'running',
        },
      },
    };
    // A new resource may answer 404 for a moment after its CRD is Established.
    await eventually('create the FlinkDeployment', 30_000, async () => {
      expectStatus(
        await cp.request('POST', flinkDeployments, flinkDeployment),
        201,
        'create the FlinkDeployment',
      );
    });

    // The structural schema is enforced.
    const invalid = await cp.request('POST', flinkDeployments, {
      ...flinkDeployment,
      metadata: { name: 'invalid', namespace },
      spec: { ...flinkDeployment.spec, job: { ...flinkDeployment.spec.job, upgradeMode: 'sometimes' } },
    });
    expectStatus(invalid, 422, 'an upgradeMode outside the enum');
    assert.match(invalid.text, /upgradeMode/);

    const scalePath = `${flinkDeployments}/${name}/scale`;
    const scale = await cp.request('GET', scalePath);
    expectStatus(scale, 200, 'GET scale');
    assert.equal(pick(scale.body, 'kind'), 'Scale');
    assert.equal(pick(scale.body, 'apiVersion'), 'autoscaling/v1');
    assert.equal(pick(scale.body, 'spec', 'replicas'), 2);
    assert.equal(pick(scale.body, 'status', 'selector'), undefined);

    // Playing the operator: report the TaskManagers and their selector through /status.
    const status = await cp.request('PATCH', `${flinkDeployments}/${name}/status`, {
      status: {
        lifecycleState: 'STABLE',
        taskManager: { replicas: 2, labelSelector },
        jobStatus: { jobId: '0123456789abcdef0123456789abcdef', state: 'RUNNING' },
        reconciliationStatus: { state: 'DEPLOYED' },
      },
    });
    expectStatus(status, 200, 'PATCH status');
    const withStatus = await cp.request('GET', scalePath);
    assert.equal(pick(withStatus.body, 'status', 'selector'), labelSelector);
    assert.equal(pick(withStatus.body, 'status', 'replicas'), 2);

    // Writing /scale changes spec.taskManager.replicas: what the HPA (and Slotscaler) do.
    const rescaled = await cp.request('PATCH', scalePath, { spec: { replicas: 3 } });
    expectStatus(rescaled, 200, 'PATCH scale');
    const after = await cp.request('GET', `${flinkDeployments}/${name}`);
    assert.equal(pick(after.body, 'spec', 'taskManager', 'replicas'), 3);
  });

  test('an HPA on the FlinkDeployment reports FailedGetExternalMetric while no metrics API is registered', async () => {
    const hpaPath = `/apis/autoscaling/v2/namespaces/${namespace}/horizontalpodautoscalers`;
    const created = await cp.request('POST', hpaPath, {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name, namespace },
      spec: {
        scaleTargetRef: { apiVersion: 'flink.apache.org/v1beta1', kind: 'FlinkDeployment', name },
        minReplicas: 1,
        maxReplicas: 10,
        metrics: [
          {
            type: 'External',
            external: {
              metric: { name: 'flink_busy_ratio', selector: { matchLabels: { target: name } } },
              target: { type: 'Value', value: '700m' },
            },
          },
        ],
      },
    });
    expectStatus(created, 201, 'create the HPA');

    // kube-controller-manager's RESTMapper may need one refresh (at most 30 s) to learn the new kind.
    const hpa = await eventually('HPA condition ScalingActive', 90_000, async () => {
      const answer = await cp.request('GET', `${hpaPath}/${name}`);
      const conditions = JSON.stringify(pick(answer.body, 'status', 'conditions'));
      assert.equal(
        condition(answer.body, 'ScalingActive')?.['reason'],
        'FailedGetExternalMetric',
        conditions,
      );
      return answer.body;
    });
    const scalingActive = condition(hpa, 'ScalingActive');
    assert.ok(scalingActive);
    assert.equal(scalingActive['status'], 'False');
    assert.match(String(scalingActive['message']), /flink_busy_ratio/);
    assert.equal(condition(hpa, 'AbleToScale')?.['status'], 'True');
    // No scaling on missing data: the target keeps its replicas.
    const target = await cp.request('GET', `${flinkDeployments}/${name}`);
    assert.equal(pick(target.body, 'spec', 'taskManager', 'replicas'), 3);
  });

  test('stop() ends every process and can be called again', async () => {
    const runDir = cp.runDir;
    await cp.stop();
    await cp.stop();
    await assert.rejects(cp.request('GET', '/readyz'), /ECONNREFUSED/);
    await assert.rejects(fetch(`${cp.etcdUrl}/health`));
    await assert.rejects(stat(runDir), /ENOENT/);
  });
});

describe('a component that cannot start', () => {
  test('a missing etcd binary fails fast, naming etcd', async () => {
    const started = Date.now();
    await assert.rejects(
      startControlPlane({ etcdPath: '/nonexistent/etcd', startTimeoutMs: 60_000 }),
      (error: unknown) => {
        assert.ok(error instanceof ControlPlaneError, String(error));
        assert.equal(error.component, 'etcd');
        assert.match(error.message, /^etcd: could not be started \(spawn \/nonexistent\/etcd ENOENT\)/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
  });

  test('a kube-apiserver that exits fails fast, naming it, with its log', async () => {
    const started = Date.now();
    await assert.rejects(
      startControlPlane({ extraArgs: { 'kube-apiserver': ['--no-such-flag'] }, startTimeoutMs: 60_000 }),
      (error: unknown) => {
        assert.ok(error instanceof ControlPlaneError, String(error));
        assert.equal(error.component, 'kube-apiserver');
        assert.match(error.message, /^kube-apiserver: exited with code 1 before it was ready/);
        assert.match(error.message, /unknown flag: --no-such-flag/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  });
});
