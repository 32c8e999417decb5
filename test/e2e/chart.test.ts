// The Helm chart: lint, render with default and other values, RBAC against what the code calls, the
// plain manifests current; then installed into a real API server (every object validated there), and
// Slotscaler run locally as the chart's ServiceAccount (RBAC enforced) doing its whole job.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

import { parseAllDocuments, parse as parseYaml } from 'yaml';

import { startServe } from '../../src/app/serve.js';
import type { Serving } from '../../src/app/serve.js';
import { resolveConfig } from '../../src/config/load.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { MANIFESTS_PATH, kubeToolsBin, renderManifests } from '../../scripts/manifests.js';
import { FakeJobManagerServer } from '../fakes/fake-jobmanager.js';
import {
  CLIENT_GROUPS,
  CLIENT_PATTERN,
  CODE_NEEDS,
  DELEGATED_NEEDS,
  PATH_PATTERN,
  SERVED_GROUPS,
} from './chart-rbac.js';
import type { ApiNeed } from './chart-rbac.js';
import { addBusyFakeJobTarget, startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { applyYaml, expectOk, waitFor } from './harness/kube.js';
import { readmeCommands, runAsUser } from '../support/readme.js';
import { specOf, testLogger } from './scaler-helpers.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const chart = join(repo, 'charts/slotscaler');
const bin = kubeToolsBin();
const helm = join(bin, 'helm');
const kubectl = join(bin, 'kubectl');
const RELEASE = 'slotscaler';
const NAMESPACE = 'slotscaler';
/** The chart's pod labels (selector labels) for the release. */
const SELECTOR = { 'app.kubernetes.io/name': 'slotscaler', 'app.kubernetes.io/instance': RELEASE };

interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly annotations?: Record<string, string>;
  };
  readonly [field: string]: unknown;
}

interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

interface DeploymentSpec {
  readonly replicas: number;
  readonly template: {
    readonly spec: {
      readonly serviceAccountName: string;
      readonly securityContext: Record<string, unknown>;
      readonly topologySpreadConstraints?: readonly {
        readonly topologyKey: string;
        readonly maxSkew: number;
        readonly whenUnsatisfiable: string;
        readonly labelSelector?: { readonly matchLabels: Record<string, string> };
      }[];
      readonly volumes: readonly { name: string; secret?: { secretName: string }; emptyDir?: object }[];
      readonly containers: readonly {
        readonly args: readonly string[];
        readonly env: readonly { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
        readonly ports: readonly { name: string; containerPort: number }[];
        readonly livenessProbe: { httpGet: { path: string; port: string; scheme: string } };
        readonly readinessProbe: { httpGet: { path: string; port: string; scheme: string } };
        readonly resources: { requests?: object; limits?: object };
        readonly securityContext: {
          readonly allowPrivilegeEscalation: boolean;
          readonly readOnlyRootFilesystem: boolean;
          readonly runAsNonRoot: boolean;
          readonly capabilities: { drop: readonly string[] };
        };
        readonly volumeMounts: readonly { name: string; mountPath: string }[];
      }[];
    };
  };
}

function run(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `helm template` with `--set` values; the objects it renders. */
function render(set: readonly string[] = [], namespace = NAMESPACE): Manifest[] {
  const text = run(helm, [
    'template',
    RELEASE,
    chart,
    '--namespace',
    namespace,
    ...set.flatMap((value) => ['--set', value]),
  ]);
  return parseAllDocuments(text)
    .map((document) => document.toJS() as Manifest | null)
    .filter((object): object is Manifest => object !== null);
}

/** `helm template` with the given arguments (`--set-json` for lists of objects); the objects it renders. */
function renderWith(args: readonly string[]): Manifest[] {
  return parseAllDocuments(run(helm, ['template', RELEASE, chart, '--namespace', NAMESPACE, ...args]))
    .map((document) => document.toJS() as Manifest | null)
    .filter((object): object is Manifest => object !== null);
}

function one(objects: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind}${name === undefined ? '' : ` ${name}`}: ${found.length}`);
  const [object] = found;
  assert.ok(object);
  return object;
}

function deploymentOf(objects: readonly Manifest[]): DeploymentSpec {
  return one(objects, 'Deployment').spec as DeploymentSpec;
}

function configOf(objects: readonly Manifest[]): Record<string, unknown> {
  const data = one(objects, 'ConfigMap').data as { 'config.yaml': string };
  return parseYaml(data['config.yaml']) as Record<string, unknown>;
}

/** `group resource verb` for every grant the chart gives the ServiceAccount, from its own roles. */
function grantsOf(objects: readonly Manifest[]): Set<string> {
  const grants = new Set<string>();
  const roleNames = new Set(
    objects
      .filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
      .filter((o) =>
        (o['subjects'] as { name: string; namespace: string }[]).some(
          (s) => s.name === RELEASE && s.namespace === NAMESPACE,
        ),
      )
      .map((o) => `${(o['roleRef'] as { kind: string }).kind}/${(o['roleRef'] as { name: string }).name}`),
  );
  for (const role of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
    if (!roleNames.has(`${role.kind}/${role.metadata.name}`)) continue;
    for (const rule of role['rules'] as Rule[]) {
      for (const group of rule.apiGroups)
        for (const resource of rule.resources)
          for (const verb of rule.verbs) grants.add(`${role.kind}:${group} ${resource} ${verb}`);
    }
  }
  return grants;
}

/**
 * Where each role of the ServiceAccount is bound: `*` for a ClusterRoleBinding, else the
 * RoleBinding's namespace, as `scope role-kind/role-name`.
 */
function bindingsOf(objects: readonly Manifest[]): string[] {
  return objects
    .filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
    .filter((o) =>
      (o['subjects'] as { name: string; namespace: string }[]).some(
        (s) => s.name === RELEASE && s.namespace === NAMESPACE,
      ),
    )
    .map((o) => {
      const ref = o['roleRef'] as { kind: string; name: string };
      return `${o.kind === 'ClusterRoleBinding' ? '*' : (o.metadata.namespace ?? '')} ${ref.kind}/${ref.name}`;
    })
    .sort();
}

function needsAsGrants(needs: readonly ApiNeed[]): Set<string> {
  const grants = new Set<string>();
  for (const need of needs) {
    const kind = need.scope === 'lease-namespace' ? 'Role' : 'ClusterRole';
    for (const verb of need.verbs) grants.add(`${kind}:${need.group} ${need.resource} ${verb}`);
  }
  return grants;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(repo, dir), { recursive: true });
  return entries
    .map(String)
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(dir, file));
}

/** Source text without comment lines (doc comments name example paths). */
async function codeOf(file: string): Promise<string> {
  const text = await readFile(join(repo, file), 'utf8');
  return text
    .split('\n')
    .filter((line) => !/^\s*(\/\/|\*|\/\*\*)/.test(line))
    .join('\n');
}

describe('Helm chart, rendered', () => {
  it('passes helm lint with default and with non-default values', () => {
    run(helm, ['lint', '--strict', chart]);
    run(helm, [
      'lint',
      '--strict',
      chart,
      '--set',
      'tls.source=certManager,serviceMonitor.enabled=true,upstream.url=https://keda.keda:443,upstream.caSecret=keda-ca',
      '--set',
      'config.kinds=example.com/v1/flinkjobs,config.writeApiServiceCaBundle=true,replicaCount=3',
      '--set',
      'networkPolicy.enabled=true,serviceMonitor.scrapeTimeout=10s,config.tlsMinVersion=TLSv1.3',
    ]);
  });

  it('renders every object with the defaults: 2 replicas, hardened, probed, spread, with its certificate', () => {
    const objects = render();
    const kinds = objects.map((o) => o.kind).sort();
    assert.deepEqual(kinds, [
      'APIService',
      'APIService',
      'ClusterRole',
      'ClusterRole',
      'ClusterRole',
      'ClusterRoleBinding',
      'ClusterRoleBinding',
      'ClusterRoleBinding',
      'ClusterRoleBinding',
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'RoleBinding',
      'Secret',
      'Service',
      'ServiceAccount',
    ]);
    const deployment = deploymentOf(objects);
    assert.equal(deployment.replicas, 2);
    const pod = deployment.template.spec;
    const [container] = pod.containers;
    assert.ok(container);
    assert.equal(pod.serviceAccountName, RELEASE);
    assert.equal(pod.securityContext['runAsNonRoot'], true);
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/livez', port: 'https', scheme: 'HTTPS' });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'https', scheme: 'HTTPS' });
    assert.ok(container.resources.requests && container.resources.limits);
    assert.deepEqual(
      container.ports.map((p) => [p.name, p.containerPort]),
      [
        ['https', 6443],
        ['metrics', 9090],
      ],
    );
    assert.deepEqual(
      container.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
      [
        ['POD_NAME', 'metadata.name'],
        ['POD_NAMESPACE', 'metadata.namespace'],
      ],
    );
    assert.deepEqual(container.args, [
      '--config=/etc/slotscaler/config/config.yaml',
      `--tls-self-signed-hosts=${RELEASE},${RELEASE}.${NAMESPACE},${RELEASE}.${NAMESPACE}.svc,${RELEASE}.${NAMESPACE}.svc.cluster.local`,
    ]);
    // Today's spread by default: nodes and zones, best effort, over this release's pods.
    assert.deepEqual(pod.topologySpreadConstraints, [
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: SELECTOR },
      },
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: SELECTOR },
      },
    ]);
    // Read-only root filesystem: /tmp is the only writable place.
    assert.deepEqual(container.volumeMounts.map((m) => m.mountPath).sort(), [
      '/etc/slotscaler/config',
      '/etc/slotscaler/tls',
      '/tmp',
    ]);

    // The config file is valid for Slotscaler itself, with leader election on and the mounted certificate.
    const { config } = resolveConfig({ file: { path: 'config.yaml', content: configOf(objects) } });
    assert.equal(config.leaderElect, true);
    assert.equal(config.leaseNamespace, NAMESPACE);
    assert.equal(config.tlsCertFile, '/etc/slotscaler/tls/tls.crt');
    assert.equal(config.metricsApiPort, 6443);

    // Both APIServices trust the CA that signed the serving certificate, whose names are the Service's.
    const secret = one(objects, 'Secret').data as Record<string, string>;
    const apiService = one(objects, 'APIService', 'v1beta1.external.metrics.k8s.io');
    const customApiService = one(objects, 'APIService', 'v1beta2.custom.metrics.k8s.io');
    const spec = apiService['spec'] as {
      caBundle: string;
      service: { name: string; namespace: string; port: number };
      insecureSkipTLSVerify?: boolean;
    };
    assert.equal(spec.caBundle, secret['ca.crt']);
    assert.equal(spec.insecureSkipTLSVerify, undefined);
    assert.deepEqual(spec.service, { name: RELEASE, namespace: NAMESPACE, port: 443 });
    assert.deepEqual(customApiService['spec'], {
      ...spec,
      group: 'custom.metrics.k8s.io',
      version: 'v1beta2',
    });
    assert.deepEqual(
      (apiService['spec'] as { group: string; version: string }).group,
      'external.metrics.k8s.io',
    );
    assert.equal(config.customApiServiceName, 'v1beta2.custom.metrics.k8s.io');
    assert.deepEqual(
      render(['apiService.customMetrics=false'])
        .filter((o) => o.kind === 'APIService')
        .map((o) => o.metadata.name),
      ['v1beta1.external.metrics.k8s.io'],
    );
    const ca = new X509Certificate(Buffer.from(spec.caBundle, 'base64'));
    const serving = new X509Certificate(Buffer.from(secret['tls.crt'] ?? '', 'base64'));
    assert.ok(serving.verify(ca.publicKey), 'the serving certificate is signed by the caBundle');
    assert.ok(serving.checkHost(`${RELEASE}.${NAMESPACE}.svc`), serving.subjectAltName);
    const service = one(objects, 'Service')['spec'] as { ports: { name: string; port: number }[] };
    assert.deepEqual(
      service.ports.map((p) => [p.name, p.port]),
      [
        ['https', 443],
        ['metrics', 9090],
      ],
    );
    assert.deepEqual(
      (one(objects, 'PodDisruptionBudget')['spec'] as { maxUnavailable: number }).maxUnavailable,
      1,
    );
  });

  it('renders non-default values: cert-manager, skip-verify, upstream, more kinds, ServiceMonitor, ports', () => {
    const certManager = render(['tls.source=certManager']);
    assert.equal(certManager.filter((o) => o.kind === 'Secret').length, 0, 'cert-manager writes the Secret');
    assert.equal(one(certManager, 'Certificate').metadata.name, RELEASE);
    one(certManager, 'Issuer');
    for (const name of ['v1beta1.external.metrics.k8s.io', 'v1beta2.custom.metrics.k8s.io'])
      assert.equal(
        one(certManager, 'APIService', name).metadata.annotations?.['cert-manager.io/inject-ca-from'],
        `${NAMESPACE}/${RELEASE}`,
      );
    const ownIssuer = render([
      'tls.source=certManager',
      'tls.certManager.issuerRef.kind=ClusterIssuer',
      'tls.certManager.issuerRef.name=ca',
    ]);
    assert.equal(ownIssuer.filter((o) => o.kind === 'Issuer').length, 0);

    const insecureObjects = render(['apiService.insecureSkipTLSVerify=true']);
    for (const name of ['v1beta1.external.metrics.k8s.io', 'v1beta2.custom.metrics.k8s.io']) {
      const insecure = one(insecureObjects, 'APIService', name)['spec'] as Record<string, unknown>;
      assert.equal(insecure['insecureSkipTLSVerify'], true);
      assert.equal(insecure['caBundle'], undefined);
    }

    const upstream = render(['upstream.url=https://keda.keda:443', 'upstream.caSecret=keda-ca']);
    assert.deepEqual(
      Object.fromEntries(Object.entries(configOf(upstream)).filter(([key]) => key.startsWith('upstream'))),
      {
        upstreamExternalMetrics: 'https://keda.keda:443',
        upstreamCaFile: '/etc/slotscaler/upstream/ca.crt',
        upstreamTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      },
    );
    assert.ok(deploymentOf(upstream).template.spec.volumes.some((v) => v.secret?.secretName === 'keda-ca'));

    const more = render([
      'config.kinds=example.com/v1/flinkjobs',
      'config.writeApiServiceCaBundle=true',
      'config.metricsApiPort=8443',
      'config.tlsSelfSignedHosts=a.b.svc',
      'serviceMonitor.enabled=true',
      'replicaCount=3',
      'rbac.hpaExternalMetricsReader=false',
      'podDisruptionBudget.enabled=false',
    ]);
    const grants = grantsOf(more);
    for (const grant of [
      'ClusterRole:example.com flinkjobs list',
      'ClusterRole:example.com flinkjobs watch',
      'ClusterRole:example.com flinkjobs patch',
      'ClusterRole:example.com flinkjobs/scale patch',
      'ClusterRole:apiregistration.k8s.io apiservices get',
      'ClusterRole:apiregistration.k8s.io apiservices patch',
    ])
      assert.ok(grants.has(grant), grant);
    const moreDeployment = deploymentOf(more);
    assert.equal(moreDeployment.replicas, 3);
    const [moreContainer] = moreDeployment.template.spec.containers;
    assert.ok(moreContainer);
    assert.equal(moreContainer.ports[0]?.containerPort, 8443);
    assert.deepEqual(moreContainer.args, ['--config=/etc/slotscaler/config/config.yaml']);
    one(more, 'ServiceMonitor');
    assert.equal(more.filter((o) => o.kind === 'PodDisruptionBudget').length, 0);
    assert.equal(more.filter((o) => o.metadata.name.endsWith(':external-metrics-reader')).length, 0);
  });

  it('binds the target rules in the namespaces of config.namespaces only, the rest as before', () => {
    const everywhere = bindingsOf(render());
    assert.ok(everywhere.includes(`* ClusterRole/${RELEASE}:targets`), everywhere.join('\n'));
    const targetRules = one(render(), 'ClusterRole', `${RELEASE}:targets`)['rules'] as Rule[];
    const targetGrants = new Set(
      targetRules.flatMap((rule) =>
        rule.apiGroups.flatMap((group) =>
          rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${group} ${resource} ${verb}`)),
        ),
      ),
    );
    assert.deepEqual(
      [...targetGrants].sort(),
      CODE_NEEDS.filter((need) => need.scope === 'targets')
        .flatMap((need) => need.verbs.map((verb) => `${need.group} ${need.resource} ${verb}`))
        .sort(),
    );
    // As the scaler reads the setting: a string or a list, split at commas, blanks and repeats dropped.
    for (const set of [
      ['config.namespaces=flink\\,team-b'],
      ['config.namespaces={flink,team-b}'],
      ['config.namespaces=flink\\, \\,team-b\\,flink'],
      ['config.namespaces={flink\\,team-b,flink}'],
    ]) {
      const narrowed = render(set);
      assert.deepEqual(
        bindingsOf(narrowed),
        [
          `* ClusterRole/${RELEASE}`,
          '* ClusterRole/system:auth-delegator',
          `flink ClusterRole/${RELEASE}:targets`,
          `kube-system Role/extension-apiserver-authentication-reader`,
          `${NAMESPACE} Role/${RELEASE}`,
          `team-b ClusterRole/${RELEASE}:targets`,
        ].sort(),
        set.join(' '),
      );
      if (set[0] === 'config.namespaces={flink,team-b}')
        assert.deepEqual(configOf(narrowed)['namespaces'], ['flink', 'team-b']);
      if (set[0] === 'config.namespaces=flink\\,team-b')
        assert.deepEqual(configOf(narrowed)['namespaces'], 'flink,team-b');
      const { config } = resolveConfig({ file: { path: 'config.yaml', content: configOf(narrowed) } });
      assert.deepEqual(config.namespaces, ['flink', 'team-b'], set.join(' '));
    }
  });

  it('renders free-form topologySpreadConstraints: given labelSelectors kept, missing ones filled, [] for none', () => {
    const custom = deploymentOf(
      render([
        'topologySpreadConstraints[0].maxSkew=2',
        'topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone',
        'topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule',
        'topologySpreadConstraints[0].minDomains=3',
        'topologySpreadConstraints[1].maxSkew=1',
        'topologySpreadConstraints[1].topologyKey=kubernetes.io/hostname',
        'topologySpreadConstraints[1].whenUnsatisfiable=ScheduleAnyway',
        'topologySpreadConstraints[1].labelSelector.matchLabels.team=flink',
      ]),
    ).template.spec.topologySpreadConstraints;
    assert.deepEqual(custom, [
      {
        maxSkew: 2,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'DoNotSchedule',
        minDomains: 3,
        labelSelector: { matchLabels: SELECTOR },
      },
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { team: 'flink' } },
      },
    ]);
    const none = deploymentOf(renderWith(['--set-json', 'topologySpreadConstraints=[]']));
    assert.equal(none.template.spec.topologySpreadConstraints, undefined);
  });

  it('renders the ServiceMonitor with scrapeTimeout, relabelings and metricRelabelings when given', () => {
    const endpointOf = (objects: readonly Manifest[]): Record<string, unknown> => {
      const spec = one(objects, 'ServiceMonitor')['spec'] as { endpoints: Record<string, unknown>[] };
      assert.equal(spec.endpoints.length, 1);
      return spec.endpoints[0] ?? {};
    };
    assert.deepEqual(endpointOf(render(['serviceMonitor.enabled=true'])), {
      port: 'metrics',
      path: '/metrics',
      honorLabels: true,
      interval: '30s',
    });
    const relabelings = [
      { action: 'replace', sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' },
    ];
    const metricRelabelings = [{ action: 'drop', sourceLabels: ['__name__'], regex: 'nodejs_.*' }];
    const objects = renderWith([
      '--set',
      'serviceMonitor.enabled=true,serviceMonitor.interval=15s,serviceMonitor.scrapeTimeout=5s,serviceMonitor.labels.release=prometheus',
      '--set-json',
      `serviceMonitor.relabelings=${JSON.stringify(relabelings)}`,
      '--set-json',
      `serviceMonitor.metricRelabelings=${JSON.stringify(metricRelabelings)}`,
    ]);
    assert.deepEqual(endpointOf(objects), {
      port: 'metrics',
      path: '/metrics',
      honorLabels: true,
      interval: '15s',
      scrapeTimeout: '5s',
      relabelings,
      metricRelabelings,
    });
    assert.equal(
      (one(objects, 'ServiceMonitor').metadata as { labels?: Record<string, string> }).labels?.['release'],
      'prometheus',
    );
  });

  it('with config.shards: a peer certificate and CA of their own, the pod IP, the peer port, open to the replicas only', () => {
    assert.equal(
      render().filter((o) => o.kind === 'Secret' && o.metadata.name.endsWith('-peer')).length,
      0,
      'no peer Secret without shards',
    );
    const objects = render(['config.shards=true', 'replicaCount=3', 'networkPolicy.enabled=true']);
    const secret = one(objects, 'Secret', `${RELEASE}-peer`);
    const data = secret['data'] as Record<string, string>;
    const pem = (key: string): string => Buffer.from(data[key] ?? '', 'base64').toString('utf8');
    const ca = new X509Certificate(pem('ca.crt'));
    const leaf = new X509Certificate(pem('tls.crt'));
    assert.ok(leaf.verify(ca.publicKey), 'the peer certificate is signed by the peer CA');
    assert.ok(leaf.checkPrivateKey(createPrivateKey(pem('tls.key'))));
    assert.notEqual(
      ca.fingerprint256,
      new X509Certificate(
        Buffer.from(
          (one(objects, 'Secret', `${RELEASE}-tls`)['data'] as Record<string, string>)['ca.crt'] ?? '',
          'base64',
        ),
      ).fingerprint256,
      'a CA of its own, not the serving CA',
    );
    // Mutual TLS: both ends show the same certificate.
    assert.match(leaf.toLegacyObject().ext_key_usage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.1/);
    assert.match(leaf.toLegacyObject().ext_key_usage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.2/);
    const { config } = resolveConfig({ file: { path: 'config.yaml', content: configOf(objects) } });
    assert.deepEqual(
      [config.shards, config.peerPort, config.peerTlsCertFile, config.peerTlsKeyFile, config.peerTlsCaFile],
      [
        true,
        6444,
        '/etc/slotscaler/peer/tls.crt',
        '/etc/slotscaler/peer/tls.key',
        '/etc/slotscaler/peer/ca.crt',
      ],
    );
    const deployment = deploymentOf(objects);
    const pod = deployment.template.spec;
    const [container] = pod.containers;
    assert.ok(container);
    assert.ok(
      container.env.some((e) => e.name === 'POD_IP' && e.valueFrom?.fieldRef?.fieldPath === 'status.podIP'),
    );
    assert.ok(container.ports.some((p) => p.name === 'peers' && p.containerPort === 6444));
    assert.ok(container.volumeMounts.some((m) => m.mountPath === '/etc/slotscaler/peer'));
    const ingress = (
      one(objects, 'NetworkPolicy')['spec'] as { ingress: { ports: { port: number }[]; from?: unknown[] }[] }
    ).ingress;
    assert.deepEqual(ingress.find((rule) => rule.ports.some((p) => p.port === 6444))?.from, [
      { podSelector: { matchLabels: SELECTOR } },
    ]);
  });

  it('renders no NetworkPolicy by default; when enabled, ingress to the two ports only, from the given peers', () => {
    assert.equal(render().filter((o) => o.kind === 'NetworkPolicy').length, 0);
    interface Ingress {
      readonly ports: readonly { port: number; protocol: string }[];
      readonly from?: readonly Record<string, unknown>[];
    }
    const policyOf = (objects: readonly Manifest[]) =>
      one(objects, 'NetworkPolicy')['spec'] as {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: Ingress[];
      };
    const defaults = policyOf(render(['networkPolicy.enabled=true']));
    assert.deepEqual(defaults.podSelector, { matchLabels: SELECTOR });
    assert.deepEqual(defaults.policyTypes, ['Ingress'], 'egress (API server, JobManagers) is left open');
    assert.deepEqual(defaults.ingress, [
      // The API server is no pod on most clusters: any source, the API authenticates.
      { ports: [{ port: 6443, protocol: 'TCP' }] },
      // Scrapers: pods of any namespace.
      { ports: [{ port: 9090, protocol: 'TCP' }], from: [{ namespaceSelector: {} }] },
    ]);
    const controlPlane = [{ ipBlock: { cidr: '10.0.0.0/28' } }];
    const monitoring = [
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
      },
    ];
    const extra = [
      {
        ports: [{ port: 6443, protocol: 'TCP' }],
        from: [{ podSelector: { matchLabels: { app: 'debug' } } }],
      },
    ];
    const objects = renderWith([
      '--set',
      'networkPolicy.enabled=true,config.metricsApiPort=8443,config.metricsPort=9191',
      '--set-json',
      `networkPolicy.apiServer.from=${JSON.stringify(controlPlane)}`,
      '--set-json',
      `networkPolicy.metrics.from=${JSON.stringify(monitoring)}`,
      '--set-json',
      `networkPolicy.extraIngress=${JSON.stringify(extra)}`,
    ]);
    // The ports follow the configured ones (a NetworkPolicy names the pod's ports, not the Service's).
    assert.deepEqual(policyOf(objects).ingress, [
      { ports: [{ port: 8443, protocol: 'TCP' }], from: controlPlane },
      { ports: [{ port: 9191, protocol: 'TCP' }], from: monitoring },
      ...extra,
    ]);
    // An empty list admits any source on that port.
    assert.deepEqual(
      policyOf(render(['networkPolicy.enabled=true', 'networkPolicy.metrics.from=null'])).ingress[1],
      { ports: [{ port: 9090, protocol: 'TCP' }] },
    );
  });

  it('writes the TLS settings to the config file, where Slotscaler reads them', () => {
    const objects = render([
      'config.tlsMinVersion=TLSv1.3',
      'config.tlsCipherSuites={ECDHE-ECDSA-AES128-GCM-SHA256,ECDHE-RSA-AES128-GCM-SHA256}',
    ]);
    const { config } = resolveConfig({ file: { path: 'config.yaml', content: configOf(objects) } });
    assert.equal(config.tlsMinVersion, 'TLSv1.3');
    assert.deepEqual(config.tlsCipherSuites, [
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'ECDHE-RSA-AES128-GCM-SHA256',
    ]);
    const defaults = resolveConfig({ file: { path: 'config.yaml', content: configOf(render()) } }).config;
    assert.equal(defaults.tlsMinVersion, 'TLSv1.2');
    assert.deepEqual(defaults.tlsCipherSuites, []);
    assert.equal(defaults.logFormat, 'json');
  });

  it('refuses wrong values at render time (values.schema.json from the config schema)', () => {
    for (const [set, expected] of [
      ['config.tickInterval=fast', /tickInterval/],
      ['config.minTaskmanagers=-1', /minTaskmanagers/],
      ['config.mode=always', /mode/],
      ['config.tickIntervall=15s', /tickIntervall/],
      ['tls.source=openssl', /tls.source/],
      ['apiService.groupPriorityMinimum=0', /groupPriorityMinimum/],
      ['config.leaderElect=false', /leaderElect=false with more than one replica/],
      ['config.tlsMinVersion=TLSv1.1', /tlsMinVersion/],
      ['config.logFormat=pretty', /logFormat/],
      ['networkPolicy.apiserver.from=x', /apiserver/],
      ['serviceMonitor.scrapeTimeout=soon', /scrapeTimeout/],
      ['topologySpreadConstraints[0].maxSkew=1', /topologyKey/],
      ['topologySpread.enabled=true', /topologySpread/],
    ] as const) {
      assert.throws(
        () => render([set]),
        (err: Error & { stderr?: string }) => expected.test(err.stderr ?? ''),
        set,
      );
    }
  });

  it('grants the ServiceAccount exactly what the code calls, no more and no less', async () => {
    // Every need is backed by the code that makes the call.
    for (const need of [...CODE_NEEDS, ...DELEGATED_NEEDS]) {
      for (const [file, text] of need.evidence) {
        assert.ok(
          (await readFile(join(repo, file), 'utf8')).includes(text),
          `${need.resource}: ${file} has ${text}`,
        );
      }
    }
    // Every API group the code calls is one a need covers.
    const covered = new Set([...CODE_NEEDS, ...DELEGATED_NEEDS].map((need) => need.group));
    const files = [
      ...(await sourceFiles('src/kube')),
      ...(await sourceFiles('src/metrics-api')),
      ...(await sourceFiles('src/app')),
    ];
    for (const file of files) {
      const code = await codeOf(file);
      for (const match of code.matchAll(PATH_PATTERN)) {
        const group = match[2] ?? '';
        if (SERVED_GROUPS.includes(group)) continue;
        assert.ok(covered.has(group), `${file} calls ${match[0]}: no need covers group "${group}"`);
      }
      for (const match of code.matchAll(CLIENT_PATTERN)) {
        const group = CLIENT_GROUPS[match[1] ?? ''];
        assert.ok(group !== undefined && covered.has(group), `${file} makes a ${match[1]} client`);
      }
    }

    // The chart's own roles grant exactly the needs (the APIService write only when configured).
    const defaults = render();
    assert.deepEqual(
      [...grantsOf(defaults)].sort(),
      [...needsAsGrants(CODE_NEEDS.filter((need) => need.when === undefined))].sort(),
    );
    assert.deepEqual(
      [...grantsOf(render(['config.writeApiServiceCaBundle=true']))].sort(),
      [
        ...needsAsGrants(
          CODE_NEEDS.filter((need) => need.when === undefined || need.when === 'writeApiServiceCaBundle'),
        ),
      ].sort(),
    );
    assert.deepEqual(
      [...grantsOf(render(['config.shards=true']))].sort(),
      [
        ...needsAsGrants(CODE_NEEDS.filter((need) => need.when === undefined || need.when === 'shards')),
      ].sort(),
    );
    assert.deepEqual(
      [
        ...grantsOf(
          render([
            'config.writeApiServiceCaBundle=true',
            'upstream.url=https://keda.keda:443',
            'config.shards=true',
          ]),
        ),
      ].sort(),
      [...needsAsGrants(CODE_NEEDS)].sort(),
    );
    // And the standard roles cover the delegated needs.
    const bindings = defaults
      .filter((o) => o.kind.endsWith('Binding'))
      .map((o) => o['roleRef'] as { name: string });
    assert.ok(bindings.some((ref) => ref.name === 'system:auth-delegator'));
    const reader = one(defaults, 'RoleBinding', `${RELEASE}:extension-apiserver-authentication-reader`);
    assert.equal(reader.metadata.namespace, 'kube-system');
  });

  it('the plain manifests are the chart rendered by npm run docs', async () => {
    const committed = await readFile(join(repo, MANIFESTS_PATH), 'utf8');
    assert.equal(committed, renderManifests(helm), `${MANIFESTS_PATH} is stale: run npm run docs`);
  });
});

describe('Helm chart, installed into a real API server', { timeout: 600_000 }, () => {
  let env: Environment;
  let jobManagers: FakeJobManagerServer;
  let dir: string;
  let serving: Serving | undefined;
  const kube = (...args: string[]): string => run(kubectl, ['--kubeconfig', env.kubeconfigPath, ...args]);

  before(async () => {
    [env, jobManagers] = await Promise.all([
      startEnvironment({ flink: false, namespace: 'flink', log: (message) => console.log(`# ${message}`) }),
      FakeJobManagerServer.start(),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'slotscaler-chart-'));
  });

  after(async () => {
    await serving?.stop();
    await jobManagers.close();
    await env.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A FlinkDeployment whose job (on the fake JobManagers) is busy: 0.9 against 0.6 asks for 2 TaskManagers. */
  const busyTarget = (name: string, namespace: string): Promise<void> =>
    addBusyFakeJobTarget(env, jobManagers, {
      name,
      namespace,
      metricsWindow: '3s',
      annotations: { 'slotscaler.dev/max-taskmanagers': '2' },
    });

  /** A SubjectAccessReview for the chart's ServiceAccount, answered by the API server's RBAC authorizer. */
  const can = async (
    verb: string,
    group: string,
    resource: string,
    namespace: string,
    name?: string,
  ): Promise<boolean> => {
    const [plural = '', subresource] = resource.split('/');
    const review = expectOk(
      await env.controlPlane.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: `system:serviceaccount:${NAMESPACE}:${RELEASE}`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`, 'system:authenticated'],
          resourceAttributes: {
            verb,
            group,
            resource: plural,
            ...(subresource === undefined ? {} : { subresource }),
            namespace,
            ...(name === undefined ? {} : { name }),
          },
        },
      }),
      'SubjectAccessReview',
    ).body as { status: { allowed: boolean } };
    return review.status.allowed;
  };

  /**
   * What a pod of the chart gets: a kubeconfig with the ServiceAccount's token (RBAC enforced), and
   * the config of the chart's ConfigMap with its certificate (ticks of 1 s for the test).
   */
  const asServiceAccount = async (): Promise<{ kubeconfig: string; loaded: LoadedConfig }> => {
    // The chart's ServiceAccount token, from the TokenRequest API.
    const tokenRequest = expectOk(
      await env.controlPlane.request(
        'POST',
        `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${RELEASE}/token`,
        {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: { expirationSeconds: 3600 },
        },
      ),
      'token request',
    ).body as { status: { token: string } };
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'c',
            cluster: {
              server: env.controlPlane.server,
              'certificate-authority': env.controlPlane.caCertPath,
            },
          },
        ],
        users: [{ name: 'sa', user: { token: tokenRequest.status.token } }],
        contexts: [{ name: 'sa', context: { cluster: 'c', user: 'sa' } }],
        'current-context': 'sa',
      }),
    );

    // The chart's config file and certificate, as the pod would mount them.
    const configMap = JSON.parse(kube('get', '-n', NAMESPACE, 'configmap', RELEASE, '-o', 'json')) as {
      data: { 'config.yaml': string };
    };
    const secret = JSON.parse(kube('get', '-n', NAMESPACE, 'secret', `${RELEASE}-tls`, '-o', 'json')) as {
      data: Record<string, string>;
    };
    await writeFile(join(dir, 'tls.crt'), Buffer.from(secret.data['tls.crt'] ?? '', 'base64'));
    await writeFile(join(dir, 'tls.key'), Buffer.from(secret.data['tls.key'] ?? '', 'base64'));
    const content = parseYaml(configMap.data['config.yaml']) as Record<string, unknown>;
    const loaded = resolveConfig({
      file: {
        path: 'config.yaml',
        content: {
          ...content,
          tlsCertFile: join(dir, 'tls.crt'),
          tlsKeyFile: join(dir, 'tls.key'),
          tickInterval: '1s',
        },
      },
    });
    return { kubeconfig, loaded };
  };

  it("the README's helm install creates every object (server-side validation) and the APIService", async () => {
    // The commands of the README's "With Helm" block, as a user runs them.
    const commands = readmeCommands('### With Helm');
    assert.ok(commands[0]?.startsWith('helm install slotscaler ./charts/slotscaler --namespace slotscaler'));
    for (const command of commands) await runAsUser(command, { kubeconfig: env.kubeconfigPath });
    const apiService = JSON.parse(
      kube('get', 'apiservice', 'v1beta1.external.metrics.k8s.io', '-o', 'json'),
    ) as {
      spec: { caBundle?: string; service: { name: string } };
    };
    assert.equal(apiService.spec.service.name, RELEASE);
    assert.ok(apiService.spec.caBundle);
    for (const object of [
      'deployment/slotscaler',
      'service/slotscaler',
      'secret/slotscaler-tls',
      'configmap/slotscaler',
      'serviceaccount/slotscaler',
      'poddisruptionbudget/slotscaler',
      'role/slotscaler',
      'rolebinding/slotscaler',
    ])
      kube('get', '-n', NAMESPACE, object);
    kube('get', '-n', 'kube-system', 'rolebinding/slotscaler:extension-apiserver-authentication-reader');
    kube(
      'get',
      'clusterrole/slotscaler',
      'clusterrolebinding/slotscaler',
      'clusterrolebinding/slotscaler:system:auth-delegator',
    );
    // A second render against the installed release keeps the generated certificate (lookup).
    run(helm, ['upgrade', RELEASE, chart, '--kubeconfig', env.kubeconfigPath, '--namespace', NAMESPACE]);
    const after = JSON.parse(kube('get', 'apiservice', 'v1beta1.external.metrics.k8s.io', '-o', 'json')) as {
      spec: { caBundle?: string };
    };
    assert.equal(after.spec.caBundle, apiService.spec.caBundle);
  });

  it('the API server accepts the objects of non-default values and of the plain manifests (dry run)', () => {
    const dryRun = (yaml: string): string[] => {
      const output = execFileSync(
        kubectl,
        ['--kubeconfig', env.kubeconfigPath, 'apply', '--dry-run=server', '-f', '-'],
        { input: yaml, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] },
      );
      return output.trim().split('\n');
    };
    kube('create', 'namespace', 'other');
    const other = run(helm, [
      'template',
      'other',
      chart,
      '--namespace',
      'other',
      '--set',
      'upstream.url=https://keda.keda:443,upstream.caSecret=keda-ca,tls.validityDays=30',
      '--set',
      'config.kinds=example.com/v1/flinkjobs,config.writeApiServiceCaBundle=true,config.namespaces=flink',
      '--set',
      'replicaCount=3,topologySpreadConstraints[0].maxSkew=1,topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname,topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule',
      '--set',
      'config.tlsMinVersion=TLSv1.3,config.tlsCipherSuites={ECDHE-ECDSA-AES256-GCM-SHA384},networkPolicy.enabled=true',
    ]);
    const otherLines = dryRun(other);
    // The default objects, and the NetworkPolicy.
    assert.equal(otherLines.length, render().length + 1, otherLines.join('\n'));
    assert.ok(otherLines.some((line) => line.startsWith('networkpolicy.networking.k8s.io/other')));
    // The manifests but cert-manager's objects (its CRDs are not installed here).
    const manifests = renderManifests(helm);
    const objects = parseAllDocuments(manifests)
      .map((document) => document.toJS() as Manifest | null)
      .filter((object): object is Manifest => object !== null);
    const plain = objects.filter((o) => o.apiVersion !== 'cert-manager.io/v1');
    assert.deepEqual(
      objects
        .filter((o) => o.apiVersion === 'cert-manager.io/v1')
        .map((o) => o.kind)
        .sort(),
      ['Certificate', 'Issuer'],
    );
    const lines = dryRun(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: plain }));
    assert.equal(lines.length, plain.length, lines.join('\n'));

    // The NetworkPolicy with the peers people give it: the control plane's addresses, a monitoring
    // namespace's Prometheus pods, a further rule.
    const policy = one(
      renderWith([
        '--set',
        'networkPolicy.enabled=true',
        '--set-json',
        'networkPolicy.apiServer.from=[{"ipBlock":{"cidr":"10.0.0.0/28","except":["10.0.0.8/29"]}}]',
        '--set-json',
        'networkPolicy.metrics.from=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}},"podSelector":{"matchExpressions":[{"key":"app.kubernetes.io/name","operator":"In","values":["prometheus"]}]}}]',
        '--set-json',
        'networkPolicy.extraIngress=[{"ports":[{"port":6443,"protocol":"TCP"}],"from":[{"podSelector":{"matchLabels":{"app":"debug"}}}]}]',
      ]),
      'NetworkPolicy',
    );
    const policyLines = dryRun(JSON.stringify(policy));
    assert.deepEqual(policyLines, [`networkpolicy.networking.k8s.io/${RELEASE} created (server dry run)`]);
    // And the API server does check it: a peer it cannot take is refused.
    assert.throws(
      () =>
        dryRun(
          JSON.stringify({
            ...policy,
            spec: {
              ...(policy['spec'] as object),
              ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }],
            },
          }),
        ),
      (err: Error & { stderr?: string }) => /cidr/i.test(err.stderr ?? ''),
    );
    for (const line of [...otherLines, ...lines]) assert.match(line, /\((server dry run)\)$/);
  });

  it("the API server's authorizer gives the ServiceAccount each need, and not more", async () => {
    for (const need of [...CODE_NEEDS.filter((n) => n.when === undefined), ...DELEGATED_NEEDS]) {
      const namespace =
        need.resource === 'configmaps'
          ? 'kube-system'
          : need.scope === 'lease-namespace'
            ? NAMESPACE
            : 'flink';
      for (const verb of need.verbs) {
        const name =
          need.resource === 'configmaps'
            ? 'extension-apiserver-authentication'
            : need.resource === 'leases' && verb !== 'create'
              ? 'slotscaler'
              : undefined;
        assert.ok(
          await can(verb, need.group, need.resource, namespace, name),
          `${verb} ${need.resource} in ${namespace}`,
        );
      }
    }
    assert.equal(await can('get', '', 'secrets', 'flink'), false);
    assert.equal(await can('list', '', 'configmaps', 'kube-system'), false);
    assert.equal(await can('delete', 'flink.apache.org', 'flinkdeployments', 'flink'), false);
    assert.equal(await can('patch', 'flink.apache.org', 'flinkdeployments/status', 'flink'), false);
    assert.equal(await can('update', 'coordination.k8s.io', 'leases', NAMESPACE, 'another'), false);
    assert.equal(await can('create', 'coordination.k8s.io', 'leases', 'flink'), false);
    assert.equal(
      await can('patch', 'apiregistration.k8s.io', 'apiservices', '', 'v1beta1.external.metrics.k8s.io'),
      false,
    );
  });

  it('run as the ServiceAccount (RBAC enforced), Slotscaler watches, scales, records and serves; the APIService becomes Available', async () => {
    const { kubeconfig, loaded } = await asServiceAccount();

    // A target that is busy: 0.9 against 0.6 asks for more TaskManagers.
    await busyTarget('busy', 'flink');

    serving = await startServe({
      loaded,
      kubeconfigPath: kubeconfig,
      logger: testLogger('serve '),
      host: '127.0.0.1',
      metricsApiPort: 0,
      metricsPort: 0,
      identity: 'chart-test',
    });
    const port = serving.metricsApi.port;

    // Point the chart's Service at this process (no kubelet runs the chart's pods here).
    kube('delete', '-n', NAMESPACE, 'service', RELEASE);
    await applyYaml(
      env.controlPlane,
      `apiVersion: v1
kind: Service
metadata: { name: ${RELEASE}, namespace: ${NAMESPACE} }
spec:
  type: ExternalName
  externalName: localhost
  ports: [{ name: https, port: ${port} }]
`,
    );
    kube(
      'patch',
      'apiservice',
      'v1beta1.external.metrics.k8s.io',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { service: { port } } }),
    );

    await waitFor(
      'the chart APIService to be Available with its own CA',
      async () => {
        const object = expectOk(
          await env.controlPlane.request(
            'GET',
            '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io',
          ),
          'get APIService',
        ).body as { status?: { conditions?: { type: string; status: string }[] } };
        return object.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') === true
          ? true
          : undefined;
      },
      { timeoutMs: 60_000 },
    );

    // Leader (Lease create/update), the target scaled (patch), an Event recorded (create).
    await waitFor(
      'the FlinkDeployment scaled to 2 TaskManagers by the ServiceAccount',
      async () => {
        return specOf(await env.getFlinkDeployment('busy')).replicas === 2 ? true : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const lease = JSON.parse(kube('get', '-n', NAMESPACE, 'lease', 'slotscaler', '-o', 'json')) as {
      spec: { holderIdentity: string };
    };
    assert.equal(lease.spec.holderIdentity, 'chart-test');
    const events = JSON.parse(kube('get', '-n', 'flink', 'events.events.k8s.io', '-o', 'json')) as {
      items: { reason: string; regarding: { name: string } }[];
    };
    assert.ok(
      events.items.some((e) => e.regarding.name === 'busy'),
      JSON.stringify(events.items.map((e) => e.reason)),
    );

    // The metric, read through the aggregator as a user would.
    const { stdout } = await promisify(execFile)(
      kubectl,
      [
        '--kubeconfig',
        env.kubeconfigPath,
        'get',
        '--raw',
        '/apis/external.metrics.k8s.io/v1beta1/namespaces/flink/flink_busy_ratio?labelSelector=target%3Dbusy',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    const list = JSON.parse(stdout) as { items: { metricLabels: Record<string, string> }[] };
    assert.equal(list.items[0]?.metricLabels['target'], 'busy');
  });

  it('config.namespaces narrows what the ServiceAccount may do to targets, and what Slotscaler watches', async () => {
    await serving?.stop();
    serving = undefined;
    kube('create', 'namespace', 'team-b');
    // The test before pointed the Service at its process; the upgrade puts the chart's back.
    kube('delete', '-n', NAMESPACE, 'service', RELEASE);
    run(helm, [
      'upgrade',
      RELEASE,
      chart,
      '--kubeconfig',
      env.kubeconfigPath,
      '--namespace',
      NAMESPACE,
      '--reuse-values',
      '--set',
      'config.namespaces=flink',
    ]);
    // The target rules are bound in flink only (the authorizer sees the new bindings within moments).
    await waitFor(
      'the ServiceAccount to lose the target rules outside flink',
      async () => ((await can('patch', 'flink.apache.org', 'flinkdeployments', 'team-b')) ? undefined : true),
      { timeoutMs: 30_000 },
    );
    for (const [verb, resource] of [
      ['list', 'flinkdeployments'],
      ['watch', 'flinkdeployments'],
      ['patch', 'flinkdeployments'],
    ] as const) {
      assert.equal(await can(verb, 'flink.apache.org', resource, 'flink'), true, `${verb} in flink`);
      assert.equal(await can(verb, 'flink.apache.org', resource, 'team-b'), false, `${verb} in team-b`);
      assert.equal(await can(verb, 'flink.apache.org', resource, ''), false, `${verb} cluster-wide`);
    }
    assert.equal(await can('create', 'events.k8s.io', 'events', 'flink'), true);
    assert.equal(await can('create', 'events.k8s.io', 'events', 'team-b'), false);
    assert.equal(await can('list', 'apiextensions.k8s.io', 'customresourcedefinitions', ''), true);
    assert.equal(
      await can('update', 'coordination.k8s.io', 'leases', NAMESPACE, 'slotscaler'),
      true,
      'leader election untouched',
    );

    // Run as the ServiceAccount with the upgraded config: busy targets in both namespaces; only the
    // one in flink is watched (namespaced LIST and WATCH, which the narrowed RBAC allows) and scaled.
    const { kubeconfig, loaded } = await asServiceAccount();
    assert.deepEqual(loaded.config.namespaces, ['flink']);
    await busyTarget('inside', 'flink');
    await busyTarget('outside', 'team-b');
    const lines: string[] = [];
    serving = await startServe({
      loaded,
      kubeconfigPath: kubeconfig,
      logger: testLogger('serve ', (line) => lines.push(line)),
      host: '127.0.0.1',
      metricsApiPort: 0,
      metricsPort: 0,
      identity: 'chart-test-namespaces',
    });
    await waitFor(
      'flink/inside scaled to 2 TaskManagers',
      async () => {
        return specOf(await env.getFlinkDeployment('inside')).replicas === 2 ? true : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const ids = serving.scaler.registry.list().map((target) => target.id);
    assert.ok(ids.includes('flinkdeployment/flink/inside'), ids.join(', '));
    assert.ok(!ids.some((id) => id.includes('/team-b/')), ids.join(', '));
    const outside = JSON.parse(kube('get', '-n', 'team-b', 'flinkdeployment', 'outside', '-o', 'json')) as {
      spec: { taskManager: { replicas: number } };
      metadata: { annotations: Record<string, string> };
    };
    assert.equal(outside.spec.taskManager.replicas, 1);
    assert.equal(outside.metadata.annotations['slotscaler.dev/status'], undefined, 'never written');
    // Nothing was refused: every call the scaler made is within the narrowed grants.
    assert.deepEqual(
      lines.filter((line) => /"status":403|forbidden/i.test(line)),
      [],
    );
  });
});
