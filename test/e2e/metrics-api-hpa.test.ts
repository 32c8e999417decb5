// Issue 5 end to end: Slotscaler's external metrics API behind the real kube-aggregator, read by
// kubectl and by a real HPA (the kube-controller-manager's HPA controller) that scales a
// FlinkDeployment on flink_busy_ratio.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { parseAllDocuments } from 'yaml';

import { kubeToolsBin } from '../../scripts/manifests.js';
import { startServe } from '../../src/app/serve.js';
import type { Serving } from '../../src/app/serve.js';
import { flinkDeploymentYaml, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import {
  applyYaml,
  customMetricsApiServiceYaml,
  expectOk,
  externalMetricsApiServiceYaml,
  waitFor,
} from './harness/kube.js';
import { readmeBlock, readmeCommands, runAsUser } from '../support/readme.js';
import { fastConfig, patchAnnotations, testLogger } from './scaler-helpers.js';

const kubectl = join(kubeToolsBin(), 'kubectl');
const TARGET_MILLI = 700;
/** 2 slots × about 980 records/s per slot at 1000 µs per record: one TaskManager takes about 1,960/s. */
const COST_MICROS = 1000;

interface HpaStatus {
  readonly currentReplicas?: number;
  readonly desiredReplicas?: number;
  readonly currentMetrics?: {
    readonly external?: { readonly current?: { readonly value?: string } };
    readonly object?: { readonly current?: { readonly value?: string } };
  }[];
  readonly conditions?: {
    readonly type: string;
    readonly status: string;
    readonly reason: string;
    readonly message: string;
  }[];
}

function milli(quantity: string): number {
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) : Number(quantity) * 1000;
}

describe('external metrics API through the real aggregator, used by a real HPA', { timeout: 900_000 }, () => {
  let env: Environment;
  let serving: Serving;
  let path: string;
  const hpaPath = (name = 'busy') =>
    `/apis/autoscaling/v2/namespaces/${env.namespace}/horizontalpodautoscalers/${name}`;
  const hpaStatus = async (name = 'busy'): Promise<HpaStatus> =>
    ((await env.controlPlane.request('GET', hpaPath(name))).body as { status?: HpaStatus }).status ?? {};
  /** A GET to Slotscaler's port itself (not through the aggregator), with a bearer token or none. */
  const direct = (path: string, token?: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: serving.metricsApi.port,
          path,
          servername: 'localhost',
          ca: serving.metricsApi.caPem,
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  /** A token of a ServiceAccount, from the TokenRequest API. */
  const tokenOf = async (namespace: string, name: string): Promise<string> =>
    (
      expectOk(
        await env.controlPlane.request(
          'POST',
          `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
          {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: { expirationSeconds: 600 },
          },
        ),
        `token of ${namespace}/${name}`,
      ).body as { status: { token: string } }
    ).status.token;

  before(async () => {
    env = await startEnvironment({
      flink: { taskManagers: 1, slotsPerTaskManager: 2, recordsPerSecond: 300, costMicros: COST_MICROS },
      controlPlane: { hpaSyncPeriodSeconds: 5 },
      // The README's "A first HPA" names the namespace flink.
      namespace: 'flink',
    });
    path = `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${env.flinkDeploymentName}`;
    await patchAnnotations(env.controlPlane, path, {
      'slotscaler.dev/enabled': 'true',
      'slotscaler.dev/mode': 'metrics-only',
      'slotscaler.dev/jobmanager-url': env.flink?.restUrl ?? '',
      'slotscaler.dev/metrics-window': '10s',
      'slotscaler.dev/metrics-hold-after-restart': '10s',
      'slotscaler.dev/metrics-max-age': '20s',
    });
    serving = await startServe({
      loaded: fastConfig({
        tickInterval: '2s',
        writeApiServiceCaBundle: 'true',
        tlsSelfSignedHosts: 'slotscaler.default.svc,localhost,127.0.0.1',
      }),
      kubeconfigPath: env.kubeconfigPath,
      logger: testLogger('serve '),
      host: '127.0.0.1',
      metricsApiPort: 0,
      metricsPort: 0,
    });
  });

  after(async () => {
    await serving.stop();
    await env.stop();
  });

  it('registers as the external metrics APIService and becomes Available', async () => {
    await applyYaml(env.controlPlane, externalMetricsApiServiceYaml(serving.metricsApi.port));
    // The leader writes its self-signed CA into the APIService (and so turns the skip off).
    const apiService = await waitFor(
      'the APIService to trust our CA and be Available',
      async () => {
        const object = expectOk(
          await env.controlPlane.request(
            'GET',
            '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io',
          ),
          'get APIService',
        ).body as {
          spec: { caBundle?: string; insecureSkipTLSVerify?: boolean };
          status?: { conditions?: { type: string; status: string; message?: string }[] };
        };
        const available = object.status?.conditions?.find((c) => c.type === 'Available');
        return object.spec.caBundle !== undefined && available?.status === 'True' ? object : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.notEqual(apiService.spec.insecureSkipTLSVerify, true);
  });

  it('registers as the custom metrics APIService on the same port, which the leader trusts it in too', async () => {
    await applyYaml(env.controlPlane, customMetricsApiServiceYaml(serving.metricsApi.port));
    await waitFor(
      'the custom metrics APIService to trust our CA and be Available',
      async () => {
        const object = expectOk(
          await env.controlPlane.request(
            'GET',
            '/apis/apiregistration.k8s.io/v1/apiservices/v1beta2.custom.metrics.k8s.io',
          ),
          'get APIService',
        ).body as {
          spec: { caBundle?: string };
          status?: { conditions?: { type: string; status: string }[] };
        };
        const available = object.status?.conditions?.find((c) => c.type === 'Available');
        return object.spec.caBundle !== undefined && available?.status === 'True' ? true : undefined;
      },
      { timeoutMs: 90_000 },
    );
  });

  it('custom metrics API: anonymous 401, a ServiceAccount without RBAC 403, the HPA controller 200', async () => {
    const path = `/apis/custom.metrics.k8s.io/v1beta2/namespaces/${env.namespace}/flinkdeployments.flink.apache.org/${env.flinkDeploymentName}/flink_busy_ratio`;
    // Straight to Slotscaler: its TokenReview and SubjectAccessReview against the real API server.
    assert.equal((await direct(path)).status, 401);
    await applyYaml(
      env.controlPlane,
      `apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: nobody, namespace: ${env.namespace} }\n`,
    );
    const nobody = await direct(path, await tokenOf(env.namespace, 'nobody'));
    assert.equal(nobody.status, 403, nobody.body);
    assert.match(
      (JSON.parse(nobody.body) as { message: string }).message,
      /cannot get resource "flinkdeployments\.flink\.apache\.org\/flink_busy_ratio" in API group "custom\.metrics\.k8s\.io"/,
    );
    const hpaToken = await tokenOf('kube-system', 'horizontal-pod-autoscaler');
    const hpa = await waitFor(
      "a value for the HPA controller's token",
      async () => {
        const answer = await direct(path, hpaToken);
        return answer.status === 200 ? answer : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    const list = JSON.parse(hpa.body) as {
      kind: string;
      items: { describedObject: { kind: string; name: string } }[];
    };
    assert.equal(list.kind, 'MetricValueList');
    assert.deepEqual(
      list.items.map((item) => [item.describedObject.kind, item.describedObject.name]),
      [['FlinkDeployment', env.flinkDeploymentName]],
    );
    // Through the aggregator, as the HPA controller calls.
    const aggregated = expectOk(
      await env.controlPlane.request('GET', path),
      'custom metric through the aggregator',
    );
    assert.equal((aggregated.body as { kind: string }).kind, 'MetricValueList');
  });

  it("answers kubectl get --raw with the MiniCluster job's busy ratio", async () => {
    const raw = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${env.namespace}/flink_busy_ratio?labelSelector=target%3D${env.flinkDeploymentName}`;
    const list = await waitFor(
      'a value for flink_busy_ratio',
      async () => {
        // Asynchronously: this process also serves the API that kubectl's request reaches.
        const { stdout } = await promisify(execFile)(
          kubectl,
          ['--kubeconfig', env.kubeconfigPath, 'get', '--raw', raw],
          {
            encoding: 'utf8',
            timeout: 20_000,
          },
        );
        return JSON.parse(stdout) as {
          kind: string;
          items: { value: string; metricLabels: Record<string, string> }[];
        };
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    assert.equal(list.kind, 'ExternalMetricValueList');
    assert.equal(list.items.length, 1);
    const [item] = list.items;
    assert.ok(item);
    assert.deepEqual(item.metricLabels, {
      target: env.flinkDeploymentName,
      kind: 'flinkdeployment',
      job_id: env.flink?.jobId,
    });
    const served = milli(item.value) / 1000;
    const collected = serving.scaler.collector.readings(
      serving.scaler.servedTargets(env.namespace)[0]?.id ?? '',
    )?.metrics.flink_busy_ratio;
    assert.ok(collected !== undefined && 'value' in collected);
    assert.ok(Math.abs(served - collected.value) < 0.1, `served ${served}, collected ${collected.value}`);
    // 300 records/s against about 1,960/s of capacity.
    assert.ok(served < 0.4, `busy ratio at low load: ${served}`);
  });

  it('a real HPA scales the FlinkDeployment up when the load exceeds capacity, as its formula says, and down after the window', async () => {
    await applyYaml(
      env.controlPlane,
      `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: busy, namespace: ${env.namespace} }
spec:
  scaleTargetRef: { apiVersion: flink.apache.org/v1beta1, kind: FlinkDeployment, name: ${env.flinkDeploymentName} }
  minReplicas: 1
  maxReplicas: 2
  metrics:
    - type: External
      external:
        metric:
          name: flink_busy_ratio
          selector: { matchLabels: { target: ${env.flinkDeploymentName} } }
        target: { type: Value, value: ${TARGET_MILLI}m }
  behavior:
    scaleDown: { stabilizationWindowSeconds: 30 }
`,
    );
    await waitFor(
      'the HPA to read the metric (ScalingActive=True) at 1 replica',
      async () => {
        const status = await hpaStatus();
        return status.conditions?.some((c) => c.type === 'ScalingActive' && c.status === 'True') === true &&
          status.desiredReplicas === 1
          ? true
          : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );

    // 3,000 records/s: one TaskManager (about 1,960/s) is saturated, two (about 3,920/s) are not.
    await env.flink?.setRate(3000);
    const scaled = await waitFor(
      'the HPA to scale up',
      async () => {
        const status = await hpaStatus();
        return (status.desiredReplicas ?? 1) > 1 ? status : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    // The formula for the value the HPA read: ceil(usage / target × ready pods), ready pods = 1.
    const usage = milli(scaled.currentMetrics?.[0]?.external?.current?.value ?? '0');
    // Not capped: the busy ratio is at most 1000m, so ceil(usage / 700m) is at most 2 = maxReplicas.
    assert.ok(usage > TARGET_MILLI * 1.1 && usage <= 1000, `usage ${usage}m`);
    const expected = Math.ceil((usage / TARGET_MILLI) * 1);
    console.log(
      `# HPA read ${usage}m at 1 replica and asked for ${scaled.desiredReplicas} (formula: ${expected})`,
    );
    assert.equal(scaled.desiredReplicas, expected);
    assert.equal(expected, 2, 'a saturated job (busy ≈ 1) against 0.7 asks for 2');

    // The stand-in operator applies the new scale; the job runs on 2 TaskManagers at parallelism 4.
    await waitFor(
      'the FlinkDeployment to run 2 TaskManagers',
      async () => {
        const object = await env.getFlinkDeployment();
        const status = object.status as { taskManager?: { replicas?: number }; lifecycleState?: string };
        return status.taskManager?.replicas === 2 && status.lifecycleState === 'STABLE' ? true : undefined;
      },
      { timeoutMs: 120_000 },
    );
    // (A plain HPA would go on scaling while the job drains the backlog it built up, busy ≈ 1 though
    // the load is below capacity: maxReplicas 2 keeps this test about the API, not about that.)
    // Load falls: the HPA waits out its 30 s scale-down window, then goes back to 1.
    await env.flink?.setRate(100);
    const loweredAt = Date.now();
    await waitFor(
      'the HPA to scale back down to 1',
      async () => ((await hpaStatus()).desiredReplicas === 1 ? true : undefined),
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    // At 2 replicas the formula for the value it read now gives 1: ceil(usage / 700m × 2), clamped
    // to minReplicas (an idle map can read 0m, and ceil gives 0).
    const down = await hpaStatus();
    const usageDown = milli(down.currentMetrics?.[0]?.external?.current?.value ?? '0');
    console.log(
      `# HPA read ${usageDown}m at ${down.currentReplicas} replicas and asked for ${down.desiredReplicas}`,
    );
    assert.equal(
      Math.max(1, Math.ceil((usageDown / TARGET_MILLI) * (down.currentReplicas ?? 0))),
      down.desiredReplicas,
    );
    await waitFor(
      'the FlinkDeployment to run 1 TaskManager again',
      async () => {
        const status = (await env.getFlinkDeployment()).status as {
          taskManager?: { replicas?: number };
          lifecycleState?: string;
        };
        return status.taskManager?.replicas === 1 && status.lifecycleState === 'STABLE' ? true : undefined;
      },
      { timeoutMs: 120_000 },
    );
    const seconds = (Date.now() - loweredAt) / 1000;
    console.log(`# scaled down ${seconds.toFixed(0)} s after the load fell`);
    assert.ok(seconds >= 30, `scaled down after ${seconds} s, inside the 30 s window`);
  });

  it('a real HPA with an Object metric of the FlinkDeployment reads its value and scales it up', async () => {
    // One HPA per scale target: the external one above goes.
    expectOk(await env.controlPlane.request('DELETE', hpaPath()), 'delete the external HPA');
    await applyYaml(
      env.controlPlane,
      `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: busy-object, namespace: ${env.namespace} }
spec:
  scaleTargetRef: { apiVersion: flink.apache.org/v1beta1, kind: FlinkDeployment, name: ${env.flinkDeploymentName} }
  minReplicas: 1
  maxReplicas: 2
  metrics:
    - type: Object
      object:
        describedObject: { apiVersion: flink.apache.org/v1beta1, kind: FlinkDeployment, name: ${env.flinkDeploymentName} }
        metric: { name: flink_busy_ratio }
        target: { type: Value, value: ${TARGET_MILLI}m }
`,
    );
    await waitFor(
      'the Object HPA to read the metric (ScalingActive=True) at 1 replica',
      async () => {
        const status = await hpaStatus('busy-object');
        const active = status.conditions?.some((c) => c.type === 'ScalingActive' && c.status === 'True');
        return active === true && status.desiredReplicas === 1 ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    await env.flink?.setRate(3000);
    const scaled = await waitFor(
      'the Object HPA to scale up',
      async () => {
        const status = await hpaStatus('busy-object');
        return (status.desiredReplicas ?? 1) > 1 ? status : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const usage = milli(scaled.currentMetrics?.[0]?.object?.current?.value ?? '0');
    console.log(`# Object HPA read ${usage}m at 1 replica and asked for ${scaled.desiredReplicas}`);
    assert.ok(usage > TARGET_MILLI * 1.1 && usage <= 1000, `usage ${usage}m`);
    assert.equal(scaled.desiredReplicas, Math.ceil(usage / TARGET_MILLI));
    const described = await promisify(execFile)(
      kubectl,
      ['--kubeconfig', env.kubeconfigPath, 'describe', 'hpa', 'busy-object', '-n', env.namespace],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.match(
      described.stdout,
      new RegExp(
        `"flink_busy_ratio" on FlinkDeployment/${env.flinkDeploymentName} \\(target value\\):\\s+\\d+m? / ${TARGET_MILLI}m`,
      ),
    );
    await env.flink?.setRate(100);
    expectOk(await env.controlPlane.request('DELETE', hpaPath('busy-object')), 'delete the Object HPA');
  });

  it("a Pods metric is read for the job's TaskManager pods, matched by resource id, once it is asked for", async () => {
    // The HPAs above wrote TaskManager counts, which the stand-in operator applies as redeploys with
    // new TaskManagers: read their ids once the last one is done and the job runs.
    await env.operator.idle();
    await waitFor('the job RUNNING after the last rescale', async () => {
      const state = await env.flink?.state();
      return state?.jobState === 'RUNNING' &&
        (state.vertices ?? []).every((vertex) => vertex.status === 'RUNNING')
        ? true
        : undefined;
    });
    // The MiniCluster's TaskManagers, as its JobManager names them; a pod named after each resource
    // id, as Flink's native Kubernetes integration names them.
    const rest = env.flink?.restUrl ?? '';
    const jobId = env.flink?.jobId ?? '';
    const job = (await (await fetch(`${rest}/jobs/${jobId}`)).json()) as { vertices: { id: string }[] };
    const ids = new Set<string>();
    for (const vertex of job.vertices) {
      const answer = (await (
        await fetch(`${rest}/jobs/${jobId}/vertices/${vertex.id}/taskmanagers`)
      ).json()) as {
        taskmanagers: { 'taskmanager-id': string }[];
      };
      for (const tm of answer.taskmanagers) ids.add(tm['taskmanager-id']);
    }
    assert.ok(ids.size > 0);
    const pods = `/api/v1/namespaces/${env.namespace}/pods`;
    for (const id of ids) {
      assert.match(id, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a resource id that is a valid pod name');
      expectOk(
        await env.controlPlane.request('POST', pods, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: id, labels: { app: 'tm-pods', component: 'taskmanager' } },
          spec: { containers: [{ name: 'flink-main-container', image: 'flink:1.20' }] },
        }),
        `create pod ${id}`,
      );
      expectOk(
        await env.controlPlane.request(
          'PATCH',
          `${pods}/${id}/status`,
          { status: { phase: 'Running' } },
          'application/merge-patch+json',
        ),
        `status of pod ${id}`,
      );
    }
    const path = `/apis/custom.metrics.k8s.io/v1beta2/namespaces/${env.namespace}/pods/*/flink_taskmanager_busy_ratio?labelSelector=${encodeURIComponent('app=tm-pods')}`;
    // The first read finds no figures: it asks for them, with the reason.
    const first = await env.controlPlane.request('GET', path);
    assert.equal(first.statusCode, 404, first.text);
    assert.match(first.text, /no Pods metrics yet/);
    const list = await waitFor(
      'the Pods metric of every TaskManager pod',
      async () => {
        const answer = await env.controlPlane.request('GET', path);
        if (answer.statusCode !== 200) return undefined;
        const body = answer.body as {
          items: { describedObject: { kind: string; name: string }; value: string }[];
        };
        return body.items.length === ids.size ? body : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    assert.deepEqual(list.items.map((item) => item.describedObject.name).sort(), [...ids].sort());
    for (const item of list.items) {
      assert.equal(item.describedObject.kind, 'Pod');
      const value = milli(item.value);
      assert.ok(value >= 0 && value <= 1000, item.value);
    }
    console.log(
      `# Pods metric: ${list.items.map((item) => `${item.describedObject.name}=${item.value}`).join(', ')}`,
    );
    const text = await (await fetch(`http://127.0.0.1:${serving.metricsHttp.port}/metrics`)).text();
    assert.match(
      text,
      /^slotscaler_flink_requests_total\{endpoint="vertex_taskmanagers",outcome="ok"\} [1-9]/m,
    );
  });

  it("exposes the collector's and the metrics API's own Prometheus metrics", async () => {
    const text = await (await fetch(`http://127.0.0.1:${serving.metricsHttp.port}/metrics`)).text();
    const sample = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    assert.ok(
      sample(/^slotscaler_flink_requests_total\{endpoint="job_details",outcome="ok"\} (\d+)/m) > 0,
      text.slice(0, 2000),
    );
    assert.ok(sample(/^slotscaler_collector_tick_duration_seconds_count (\d+)/m) > 0);
    assert.match(text, /^slotscaler_metrics_api_requests_total\{.*code="200".*\} \d+/m);
  });

  it('the README\'s "A first HPA", as written: the annotations, the HPA, and the two commands', async () => {
    const [annotated, hpa] = parseAllDocuments(readmeBlock('## A first HPA', 'yaml')).map(
      (document) => document.toJS() as Record<string, unknown>,
    );
    const annotations = (annotated?.['metadata'] as { annotations: Record<string, string> }).annotations;
    assert.equal(annotations['slotscaler.dev/mode'], 'metrics-only');
    // The FlinkDeployment `clicks` with the README's annotations (its JobManager: the MiniCluster's).
    await env.applyYaml(
      flinkDeploymentYaml({
        name: 'clicks',
        taskManagers: 1,
        slotsPerTaskManager: 2,
        annotations: {
          ...annotations,
          'slotscaler.dev/jobmanager-url': env.flink?.restUrl ?? '',
          'slotscaler.dev/metrics-window': '10s',
          'slotscaler.dev/metrics-hold-after-restart': '0s',
        },
      }),
    );
    await env.applyYaml(JSON.stringify(hpa));

    const [getRaw, describeHpa, ...rest] = readmeCommands('## A first HPA');
    assert.deepEqual(rest, []);
    assert.match(getRaw ?? '', /^kubectl get --raw /);
    assert.match(describeHpa ?? '', /^kubectl describe hpa clicks -n flink$/);
    // As a user runs them: a shell, kubectl on the PATH, the cluster in KUBECONFIG.
    const shell = (command: string): Promise<string> =>
      runAsUser(command, { kubeconfig: env.kubeconfigPath, timeoutMs: 20_000 });
    const item = await waitFor(
      "an item for clicks from the README's kubectl get --raw",
      async () => {
        const list = JSON.parse(await shell(getRaw ?? '')) as {
          items: { describedObject: { kind: string; name: string }; value: string }[];
        };
        return list.items.find((i) => i.describedObject.name === 'clicks');
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    assert.equal(item.describedObject.kind, 'FlinkDeployment');
    // The HPA controller reads the same metric: describe shows its value against the README's target.
    const { metric, target, describedObject } = (
      hpa?.['spec'] as {
        metrics: {
          object: {
            describedObject: { kind: string; name: string };
            metric: { name: string };
            target: { value: string };
          };
        }[];
      }
    ).metrics[0]?.object ?? {
      metric: { name: '?' },
      target: { value: '?' },
      describedObject: { kind: '?', name: '?' },
    };
    assert.deepEqual([describedObject.kind, describedObject.name], ['FlinkDeployment', 'clicks']);
    const described = await waitFor(
      "the README's kubectl describe hpa to show the metric's value",
      async () => {
        const text = await shell(describeHpa ?? '');
        const shown = new RegExp(
          `"${metric.name}" on FlinkDeployment/clicks \\(target value\\):\\s+\\d+m? / ${target.value}`,
        );
        return shown.test(text) ? text : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    console.log(
      `# ${
        described
          .split('\n')
          .find((line) => line.includes(metric.name))
          ?.trim() ?? ''
      }`,
    );
  });
});
