// Slotscaler's own metrics, the chart's Grafana dashboard and its PrometheusRule, checked by a real
// Prometheus (Debian's, on 127.0.0.1): it scrapes a real `slotscaler serve` (and the kube-apiserver,
// for aggregator_unavailable_apiservice) on the real environment, every dashboard query must return
// data, and every alert must fire in a scenario made for it (with the chart's thresholds shortened
// through its values) while its expression stays empty for the healthy target.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { parseAllDocuments, stringify as stringifyYaml } from 'yaml';

import { kubeToolsBin } from '../../scripts/manifests.js';
import { startServe } from '../../src/app/serve.js';
import type { Serving } from '../../src/app/serve.js';
import { microTime } from '../../src/kube/events.js';
import { flinkDeploymentYaml, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { applyYaml, expectOk, externalMetricsApiServiceYaml, waitFor } from './harness/kube.js';
import { fastAnnotations, fastConfig, patchAnnotations, testLogger } from './scaler-helpers.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const chart = join(repo, 'charts/slotscaler');
const helm = join(kubeToolsBin(), 'helm');
const API_SERVICE = 'v1beta1.external.metrics.k8s.io';

interface Manifest {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
  readonly spec?: unknown;
  readonly data?: Record<string, string>;
}

interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
}

interface RuleGroups {
  readonly groups: readonly { readonly name: string; readonly rules: readonly AlertRule[] }[];
}

interface Dashboard {
  readonly panels: readonly {
    readonly type: string;
    readonly title: string;
    readonly targets?: readonly { readonly expr: string }[];
  }[];
  readonly templating: { readonly list: readonly { readonly name: string; readonly query?: unknown }[] };
}

function render(set: readonly string[]): Manifest[] {
  const text = execFileSync(
    helm,
    [
      'template',
      'slotscaler',
      chart,
      '--namespace',
      'slotscaler',
      ...set.flatMap((value) => ['--set', value]),
    ],
    { encoding: 'utf8' },
  );
  return parseAllDocuments(text)
    .map((document) => document.toJS() as Manifest | null)
    .filter((object): object is Manifest => object !== null);
}

function rulesOf(objects: readonly Manifest[]): RuleGroups {
  const rules = objects.filter((object) => object.kind === 'PrometheusRule');
  assert.equal(rules.length, 1, 'one PrometheusRule');
  return rules[0]?.spec as RuleGroups;
}

function alertRules(groups: RuleGroups): AlertRule[] {
  return groups.groups.flatMap((group) => group.rules);
}

function dashboardOf(objects: readonly Manifest[]): { configMap: Manifest; dashboard: Dashboard } {
  const maps = objects.filter(
    (object) => object.kind === 'ConfigMap' && object.metadata.name.endsWith('-dashboard'),
  );
  assert.equal(maps.length, 1, 'one dashboard ConfigMap');
  const configMap = maps[0] as Manifest;
  return { configMap, dashboard: JSON.parse(configMap.data?.['slotscaler.json'] ?? '') as Dashboard };
}

/** Every PromQL query of the dashboard's panels. */
function panelQueries(dashboard: Dashboard): { title: string; expr: string }[] {
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ title: panel.title, expr: target.expr })),
  );
}

/** A query as Grafana sends it with every variable at "All" and a 1-minute rate interval. */
function substitute(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$job', '.*')
    .replaceAll('$namespace', '.*')
    .replaceAll('$name', '.*');
}

/** `promtool check rules` of the groups; its output. */
async function checkRules(dir: string, groups: RuleGroups): Promise<string> {
  const file = join(dir, `rules-${Date.now()}.yaml`);
  await writeFile(file, stringifyYaml(groups));
  return execFileSync('promtool', ['check', 'rules', file], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The rules with every threshold and duration short enough for a test. */
const SHORT_RULES = [
  'prometheusRule.enabled=true',
  'prometheusRule.targetWithoutMetricsFor=5s',
  'prometheusRule.targetHeldSeconds=5',
  'prometheusRule.refusedWrites.window=2m',
  'prometheusRule.refusedWrites.count=2',
  'prometheusRule.noLeaderFor=2s',
  'prometheusRule.apiServiceUnavailableFor=2s',
  'prometheusRule.rescalePendingSeconds=15',
];

describe('the chart renders its dashboard and rules; promtool accepts the rules', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slotscaler-rules-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('renders neither by default', () => {
    const kinds = render([]).map((object) => `${object.kind}/${object.metadata.name}`);
    assert.ok(!kinds.includes('PrometheusRule/slotscaler'));
    assert.ok(!kinds.includes('ConfigMap/slotscaler-dashboard'));
  });

  it('the PrometheusRule passes promtool check rules, with the default and with short thresholds', async () => {
    for (const set of [['prometheusRule.enabled=true'], SHORT_RULES]) {
      const groups = rulesOf(render(set));
      assert.deepEqual(
        alertRules(groups).map((rule) => rule.alert),
        [
          'SlotscalerTargetWithoutMetrics',
          'SlotscalerTargetHeld',
          'SlotscalerRescaleRefused',
          'SlotscalerNoLeader',
          'SlotscalerNotReady',
          'SlotscalerAPIServiceUnavailable',
          'SlotscalerRescaleNotTaken',
        ],
      );
      assert.match(await checkRules(dir, groups), /SUCCESS: 7 rules found/);
    }
    const withLabels = render(['prometheusRule.enabled=true', 'prometheusRule.labels.release=prometheus']);
    assert.equal(
      withLabels.find((o) => o.kind === 'PrometheusRule')?.metadata.labels?.['release'],
      'prometheus',
    );
  });

  it('promtool check rules fails on a broken expression (the check can fail)', async () => {
    await assert.rejects(
      checkRules(dir, {
        groups: [{ name: 'broken', rules: [{ alert: 'Broken', expr: 'max by (name (x)' }] }],
      }),
    );
  });

  it('the dashboard ConfigMap carries the Grafana sidecar label and the dashboard, every panel a query', () => {
    const { configMap, dashboard } = dashboardOf(render(['grafanaDashboard.enabled=true']));
    assert.equal(configMap.metadata.labels?.['grafana_dashboard'], '1');
    const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
    assert.ok(panels.length >= 20);
    for (const panel of panels) assert.ok((panel.targets ?? []).length > 0, `${panel.title} has a query`);
    assert.deepEqual(
      dashboard.templating.list.map((variable) => variable.name),
      ['datasource', 'job', 'namespace', 'name'],
    );
    const moved = render(['grafanaDashboard.enabled=true', 'grafanaDashboard.namespace=monitoring']).find(
      (object) => object.metadata.name === 'slotscaler-dashboard',
    ) as { metadata: { namespace?: string } } | undefined;
    assert.equal(moved?.metadata.namespace, 'monitoring');
  });

  it('the ServiceMonitor keeps the per-target namespace label (honorLabels)', () => {
    const monitor = render(['serviceMonitor.enabled=true']).find(
      (object) => object.kind === 'ServiceMonitor',
    );
    const endpoints = (monitor?.spec as { endpoints: { honorLabels?: boolean }[] }).endpoints;
    assert.equal(endpoints[0]?.honorLabels, true);
  });
});

/** A port free on 127.0.0.1 right now (Prometheus cannot report the port it got for :0). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

interface Prometheus {
  readonly url: string;
  logTail(): Promise<string>;
  stop(): Promise<void>;
}

/** Debian's Prometheus on 127.0.0.1 with `config`, its data in `dir`; resolves once it is ready. */
async function startPrometheus(dir: string, config: unknown): Promise<Prometheus> {
  const configPath = join(dir, 'prometheus.yml');
  await writeFile(configPath, stringifyYaml(config));
  const port = await freePort();
  const logPath = join(dir, 'prometheus.log');
  const log = await open(logPath, 'w');
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', log.fd, log.fd] },
  );
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const prometheus: Prometheus = {
    url,
    logTail: async () => (await readFile(logPath, 'utf8')).split('\n').slice(-30).join('\n'),
    async stop() {
      if (!exited && child.pid !== undefined) {
        process.kill(child.pid, 'SIGTERM');
        const timer = setTimeout(() => {
          if (!exited && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        }, 5_000);
        await exit;
        clearTimeout(timer);
      }
      await log.close();
    },
  };
  try {
    await waitFor(
      'Prometheus to be ready',
      async () => {
        if (exited) throw new Error(`prometheus exited: ${await prometheus.logTail()}`);
        const answer = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        return answer.status === 200 ? true : undefined;
      },
      { timeoutMs: 30_000 },
    );
  } catch (err) {
    await prometheus.stop();
    throw err;
  }
  return prometheus;
}

interface Sample {
  readonly metric: Record<string, string>;
  readonly value: readonly [number, string];
}

async function apiGet<T>(prometheus: Prometheus, path: string): Promise<T> {
  const answer = await fetch(`${prometheus.url}${path}`, { signal: AbortSignal.timeout(5_000) });
  const body = (await answer.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? answer.status}`);
  return body.data;
}

/** An instant query's samples. */
async function query(prometheus: Prometheus, expr: string): Promise<Sample[]> {
  const data = await apiGet<{ resultType: string; result: Sample[] }>(
    prometheus,
    `/api/v1/query?query=${encodeURIComponent(expr)}`,
  );
  assert.equal(data.resultType, 'vector', expr);
  return data.result;
}

interface Alert {
  readonly labels: Record<string, string>;
  readonly state: string;
}

async function firing(prometheus: Prometheus, alertname: string): Promise<Alert[]> {
  const { alerts } = await apiGet<{ alerts: Alert[] }>(prometheus, '/api/v1/alerts');
  return alerts.filter((alert) => alert.labels['alertname'] === alertname && alert.state === 'firing');
}

describe('Prometheus scraping a real slotscaler serve', { timeout: 480_000 }, () => {
  let env: Environment;
  let serving: Serving | undefined;
  let prometheus: Prometheus | undefined;
  let dir: string;
  let rules: AlertRule[];
  let dashboard: Dashboard;
  const main = 'steerable-job';
  const ruleOf = (alert: string): AlertRule => {
    const rule = rules.find((candidate) => candidate.alert === alert);
    assert.ok(rule !== undefined, alert);
    return rule;
  };
  const leasePath = '/apis/coordination.k8s.io/v1/namespaces/default/leases/slotscaler';
  const targetPath = (name: string): string =>
    `/apis/flink.apache.org/v1beta1/namespaces/${env.namespace}/flinkdeployments/${name}`;

  /** Waits for `alert` to fire, with `labels` among its labels when given. */
  const waitFiring = (
    alert: string,
    labels: Record<string, string> = {},
    timeoutMs = 120_000,
  ): Promise<Alert> =>
    waitFor(
      `${alert} ${JSON.stringify(labels)} to fire`,
      async () => {
        assert.ok(prometheus !== undefined);
        return (await firing(prometheus, alert)).find((candidate) =>
          Object.entries(labels).every(([key, value]) => candidate.labels[key] === value),
        );
      },
      { timeoutMs, intervalMs: 1_000 },
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slotscaler-prometheus-'));
    const objects = render([...SHORT_RULES, 'grafanaDashboard.enabled=true']);
    const groups = rulesOf(objects);
    rules = alertRules(groups);
    dashboard = dashboardOf(objects).dashboard;
    await writeFile(join(dir, 'rules.yaml'), stringifyYaml(groups));

    env = await startEnvironment({
      flink: { taskManagers: 1, slotsPerTaskManager: 2, recordsPerSecond: 1_500, costMicros: 1000 },
      flinkDeploymentName: main,
      namespace: 'flink',
      log: (message) => console.log(`# ${message}`),
    });
    const restUrl = env.flink?.restUrl ?? '';
    const cp = env.controlPlane;
    await patchAnnotations(
      cp,
      targetPath(main),
      fastAnnotations(restUrl, { 'slotscaler.dev/max-taskmanagers': '2' }),
    );
    // Targets made to trip an alert each; they read the same MiniCluster but the stand-in operator
    // applies their specs to nothing. Each wants 2 TaskManagers (busy ratio against 0.05).
    const wanting = {
      'slotscaler.dev/metrics': 'flink_busy_ratio=0.05',
      'slotscaler.dev/max-taskmanagers': '2',
    };
    const extra: [string, Record<string, string>, 'stateless' | undefined][] = [
      // a rescale that never runs: 3 slots claimed, so it writes parallelism 6, which no job reaches
      ['stuck', { ...wanting, 'slotscaler.dev/task-slots': '3' }, undefined],
      // every write refused by an admission policy
      ['refused', wanting, undefined],
      // held: upgradeMode stateless
      ['stateless', wanting, 'stateless'],
      // no metrics: nothing listens there
      ['unreachable', { 'slotscaler.dev/jobmanager-url': 'http://127.0.0.1:1' }, undefined],
    ];
    // Every write of `refused` is denied by an admission policy (the API server answers 422).
    const admission = '/apis/admissionregistration.k8s.io/v1';
    expectOk(
      await cp.request('POST', `${admission}/validatingadmissionpolicies`, {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: 'no-rescale-of-refused' },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              {
                apiGroups: ['flink.apache.org'],
                apiVersions: ['*'],
                operations: ['UPDATE'],
                resources: ['flinkdeployments'],
              },
            ],
          },
          validations: [
            {
              expression: "object.metadata.name != 'refused' || object.spec == oldObject.spec",
              message: 'the spec of refused is fixed',
              reason: 'Invalid',
            },
          ],
        },
      }),
      'create the admission policy',
    );
    expectOk(
      await cp.request('POST', `${admission}/validatingadmissionpolicybindings`, {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name: 'no-rescale-of-refused' },
        spec: { policyName: 'no-rescale-of-refused', validationActions: ['Deny'] },
      }),
      'bind the admission policy',
    );
    for (const [name, annotations, upgradeMode] of extra) {
      await env.applyYaml(
        flinkDeploymentYaml({
          name,
          taskManagers: 1,
          slotsPerTaskManager: 2,
          annotations: fastAnnotations(restUrl, annotations),
          ...(upgradeMode === undefined ? {} : { upgradeMode }),
        }),
      );
    }
    // Another replica holds the Lease, as far as this one can tell: no leader among the scraped.
    const nowMs = Date.now();
    expectOk(
      await cp.request('POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'slotscaler', namespace: 'default' },
        spec: {
          holderIdentity: 'another-replica',
          leaseDurationSeconds: 3600,
          acquireTime: microTime(nowMs),
          renewTime: microTime(nowMs),
          leaseTransitions: 0,
        },
      }),
      'create the Lease',
    );

    serving = await startServe({
      loaded: fastConfig({
        tickInterval: '1s',
        leaderElect: 'true',
        leaseNamespace: 'default',
        leaseName: 'slotscaler',
        tlsSelfSignedHosts: 'localhost,127.0.0.1',
      }),
      kubeconfigPath: env.kubeconfigPath,
      logger: testLogger('serve '),
      host: '127.0.0.1',
      metricsApiPort: 0,
      metricsPort: 0,
      identity: 'scraped-replica',
    });
    await applyYaml(cp, externalMetricsApiServiceYaml(serving.metricsApi.port));
    const apiServer = new URL(cp.server);
    prometheus = await startPrometheus(dir, {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [join(dir, 'rules.yaml')],
      scrape_configs: [
        {
          job_name: 'slotscaler',
          // As the chart's ServiceMonitor: the targets' own namespace label is kept.
          honor_labels: true,
          static_configs: [{ targets: [`127.0.0.1:${serving.metricsHttp.port}`] }],
        },
        {
          job_name: 'apiserver',
          scheme: 'https',
          tls_config: { ca_file: cp.caCertPath, cert_file: cp.adminCertPath, key_file: cp.adminKeyPath },
          static_configs: [{ targets: [apiServer.host] }],
          metric_relabel_configs: [
            { source_labels: ['__name__'], regex: 'aggregator_unavailable_apiservice', action: 'keep' },
          ],
        },
      ],
    });
  });

  after(async () => {
    await prometheus?.stop();
    await serving?.stop();
    await env.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('no replica leads while another holds the Lease: SlotscalerNoLeader fires, and clears once this one leads', async () => {
    assert.ok(prometheus !== undefined && serving !== undefined);
    // Scraped, and not the leader (before the first scrape, `absent` alone would fire the alert).
    await waitFor(
      'the scraped leader gauge at 0',
      async () => {
        assert.ok(prometheus !== undefined);
        const samples = await query(prometheus, 'slotscaler_leader_status');
        return samples.length === 1 && samples[0]?.value[1] === '0' ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    await waitFor(
      'SlotscalerNoLeader to fire while the replica is scraped',
      async () => {
        assert.ok(prometheus !== undefined);
        const alerts = await firing(prometheus, 'SlotscalerNoLeader');
        const scraped = await query(prometheus, 'slotscaler_leader_status == 0');
        return alerts.length === 1 && scraped.length === 1 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    // The other replica lets go (as client-go's ReleaseOnCancel): this one takes the Lease.
    const lease = expectOk(await env.controlPlane.request('GET', leasePath), 'get the Lease').body as {
      spec: Record<string, unknown>;
    };
    expectOk(
      await env.controlPlane.request('PUT', leasePath, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 },
      }),
      'release the Lease',
    );
    await waitFor(
      'the leader gauge at 1 and SlotscalerNoLeader no longer firing',
      async () => {
        assert.ok(prometheus !== undefined);
        const leaders = await query(prometheus, 'slotscaler_leader_status == 1');
        const noLeader = await query(prometheus, ruleOf('SlotscalerNoLeader').expr);
        return leaders.length === 1 &&
          noLeader.length === 0 &&
          (await firing(prometheus, 'SlotscalerNoLeader')).length === 0
          ? true
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  });

  it('/metrics passes promtool check metrics with no warning: unprefixed process metrics, build info, Kubernetes requests', async () => {
    assert.ok(serving !== undefined);
    // A read through the aggregator, so the external metrics API has answered one.
    await env.controlPlane.request(
      'GET',
      `/apis/external.metrics.k8s.io/v1beta1/namespaces/flink/flink_busy_ratio`,
    );
    const text = await (await fetch(`http://127.0.0.1:${serving.metricsHttp.port}/metrics`)).text();
    const output = execFileSync('promtool', ['check', 'metrics'], {
      input: text,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    assert.equal(output.trim(), '', 'no lint warning');
    assert.match(text, /^process_cpu_seconds_total \d/m);
    assert.match(text, /^nodejs_eventloop_lag_p99_seconds \d/m);
    assert.doesNotMatch(text, /slotscaler_process_/);
    assert.doesNotMatch(text, /^# TYPE \S+_total (gauge|histogram|summary|untyped)$/m);
    assert.match(
      text,
      /^slotscaler_build_info\{version="\d+\.\d+\.\d+",node_version="v\d+[^"]*",platform="[^"]+"\} 1$/m,
    );
    assert.match(
      text,
      /^slotscaler_kube_requests_total\{verb="LIST",resource="flinkdeployments",code="200"\} \d+$/m,
    );
    assert.match(text, /^slotscaler_kube_requests_total\{verb="PUT",resource="leases",code="200"\} \d+$/m);
    assert.match(
      text,
      /^slotscaler_kube_request_duration_seconds_count\{verb="WATCH",resource="flinkdeployments"\} \d+$/m,
    );
    const series = text.split('\n').filter((line) => line.startsWith('slotscaler_target_info{'));
    assert.equal(series.length, 5, series.join('\n'));
  });

  it('each alert fires in its scenario, and its expression is empty for the healthy target', async () => {
    assert.ok(prometheus !== undefined);
    const target = (name: string) => ({ namespace: 'flink', name, kind: 'flinkdeployment' });
    await waitFiring('SlotscalerTargetWithoutMetrics', target('unreachable'));
    await waitFiring('SlotscalerTargetHeld', { ...target('stateless'), reason: 'stateless' });
    await waitFiring('SlotscalerRescaleRefused', target('refused'));
    await waitFiring('SlotscalerRescaleNotTaken', target('stuck'));

    // The MiniCluster job, 1,500 records/s against about 1,960 per TaskManager, is scaled to 2,
    // and the rescale is timed until the job runs at parallelism 4.
    const duration = await waitFor(
      `the rescale of ${main} to be timed`,
      async () => {
        assert.ok(prometheus !== undefined);
        const [sample] = await query(
          prometheus,
          `slotscaler_target_rescale_duration_seconds_sum{name="${main}"} / slotscaler_target_rescale_duration_seconds_count{name="${main}"}`,
        );
        return sample === undefined ? undefined : Number(sample.value[1]);
      },
      { timeoutMs: 150_000, intervalMs: 1_000 },
    );
    console.log(
      `# rescale of ${main}: ${duration.toFixed(1)} s from the write to RUNNING at the new parallelism`,
    );
    assert.ok(duration > 0 && duration < 150);
    const running = await query(prometheus, `slotscaler_target_running_parallelism{name="${main}"}`);
    assert.equal(running[0]?.value[1], '4');
    assert.deepEqual(
      (await query(prometheus, `slotscaler_target_rescales_total{name="${main}"}`)).map(
        (sample) => `${sample.metric['direction']} ${sample.metric['path']}`,
      ),
      ['up in-place'],
    );

    // The healthy target trips none of the per-target alerts; the APIService is Available.
    for (const rule of rules) {
      const samples = await query(prometheus, rule.expr);
      const perTarget = /\bby \(namespace, name/.test(rule.expr);
      if (perTarget)
        assert.deepEqual(
          samples.filter((sample) => sample.metric['name'] === main),
          [],
          `${rule.alert} is quiet for ${main}`,
        );
      else assert.deepEqual(samples, [], `${rule.alert} is quiet while a replica leads and serves`);
    }
    assert.deepEqual(
      (await query(prometheus, `aggregator_unavailable_apiservice{name="${API_SERVICE}"}`)).map(
        (sample) => sample.value[1],
      ),
      ['0'],
      'the apiserver reports the APIService available',
    );
  });

  it('every query of the dashboard returns data, and every variable values', async () => {
    assert.ok(prometheus !== undefined);
    const queries = panelQueries(dashboard);
    assert.ok(queries.length >= 25);
    const empty: string[] = [];
    for (const { title, expr } of queries) {
      const samples = await query(prometheus, substitute(expr));
      if (!samples.some((sample) => Number.isFinite(Number(sample.value[1]))))
        empty.push(`${title}: ${substitute(expr)} -> ${JSON.stringify(samples)}`);
    }
    assert.deepEqual(empty, [], 'panels without data');
    for (const variable of dashboard.templating.list) {
      const definition = typeof variable.query === 'object' && variable.query !== null ? variable.query : {};
      const text = (definition as { query?: string }).query;
      if (text === undefined) continue;
      const match = /^label_values\((.+), (\w+)\)$/.exec(text);
      assert.ok(match !== null, text);
      const values = await apiGet<string[]>(
        prometheus,
        `/api/v1/label/${match[2] ?? ''}/values?${new URLSearchParams({ 'match[]': substitute(match[1] ?? '') }).toString()}`,
      );
      assert.ok(values.length > 0, `${variable.name}: ${text}`);
    }
  });

  it('with the replica gone, SlotscalerNotReady and SlotscalerAPIServiceUnavailable fire', async () => {
    assert.ok(prometheus !== undefined && serving !== undefined);
    await serving.stop();
    serving = undefined;
    await waitFiring('SlotscalerNotReady', {}, 60_000);
    await waitFiring('SlotscalerAPIServiceUnavailable', { name: API_SERVICE }, 120_000);
  });
});
