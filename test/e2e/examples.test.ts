// The examples under examples/: every object is accepted by a real API server (kubectl apply
// --dry-run=server, with the FlinkDeployment CRD installed), and every slotscaler.dev annotation is
// one Slotscaler accepts (parsed as the scaler parses it, expressions compiled).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { parseAllDocuments } from 'yaml';

import { compileExpressionMetric } from '../../src/metrics/expression-metric.js';
import { parseTargetAnnotations } from '../../src/config/annotations.js';
import { KNOWN_METRICS } from '../../src/kube/target-registry.js';
import { POD_METRIC_NAMES, RECOMMENDED_TASKMANAGERS } from '../../src/metrics/catalogue.js';
import { kubeToolsBin } from '../../scripts/manifests.js';
import { readmeCommands, runAsUser } from '../support/readme.js';
import { startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';
import { applyYaml, waitFor } from './harness/kube.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const examples = join(repo, 'examples');
const bin = kubeToolsBin();
const kubectl = join(bin, 'kubectl');
const NAMESPACE = 'examples';
/** Names an HPA may read besides expression metrics: the catalogue and Slotscaler's recommendation. */
const SERVED = [...KNOWN_METRICS, RECOMMENDED_TASKMANAGERS];

interface ExampleObject {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly annotations?: Record<string, string> };
  readonly spec?: {
    readonly scaleTargetRef?: { readonly kind: string; readonly name: string };
    readonly metrics?: readonly {
      readonly type: string;
      readonly external?: { readonly metric: { readonly name: string } };
      readonly object?: {
        readonly describedObject: { readonly kind: string; readonly name: string };
        readonly metric: { readonly name: string };
      };
      readonly pods?: { readonly metric: { readonly name: string } };
    }[];
  };
}

async function exampleObjects(): Promise<{ file: string; object: ExampleObject }[]> {
  const files = (await readdir(examples)).filter((file) => file.endsWith('.yaml')).sort();
  const objects: { file: string; object: ExampleObject }[] = [];
  for (const file of files) {
    for (const document of parseAllDocuments(await readFile(join(examples, file), 'utf8'))) {
      const object = document.toJS() as ExampleObject | null;
      if (object !== null) objects.push({ file, object });
    }
  }
  return objects;
}

describe('examples/ and the README install without Helm', { timeout: 300_000 }, () => {
  let env: Environment;

  before(async () => {
    env = await startEnvironment({ flink: false, namespace: NAMESPACE });
  });

  after(async () => {
    await env.stop();
  });

  it('every object is accepted by the API server (kubectl apply --dry-run=server)', async () => {
    const output = execFileSync(
      kubectl,
      ['--kubeconfig', env.kubeconfigPath, 'apply', '--dry-run=server', '-n', NAMESPACE, '-f', examples],
      { encoding: 'utf8' },
    );
    const lines = output.trim().split('\n');
    assert.equal(lines.length, (await exampleObjects()).length, output);
    for (const line of lines) assert.match(line, /created \(server dry run\)$/);
  });

  it("every slotscaler.dev annotation parses as the scaler parses it; every HPA reads a metric that's served", async () => {
    const objects = await exampleObjects();
    const expressionMetrics: string[] = [];
    for (const { file, object } of objects) {
      const annotations = object.metadata.annotations ?? {};
      if (!Object.keys(annotations).some((key) => key.startsWith('slotscaler.dev/'))) continue;
      const result = parseTargetAnnotations(annotations, {
        knownMetrics: KNOWN_METRICS,
        checkExpression: (name, source) => {
          compileExpressionMetric(name, source);
        },
      });
      assert.ok(result.ok, `${file} ${object.metadata.name}: ${JSON.stringify(result)}`);
      assert.equal(result.config.enabled, true, `${file}: opted in`);
      expressionMetrics.push(...Object.keys(result.expressions));
    }
    assert.deepEqual(expressionMetrics, ['pressure']);
    const hpas = objects.filter(({ object }) => object.kind === 'HorizontalPodAutoscaler');
    assert.equal(hpas.length, 4);
    const optedIn = objects
      .filter(({ object }) => object.metadata.annotations?.['slotscaler.dev/enabled'] === 'true')
      .map(({ object }) => `${object.kind}/${object.metadata.name}`);
    const types: string[] = [];
    for (const { file, object } of hpas) {
      for (const metric of object.spec?.metrics ?? []) {
        types.push(metric.type);
        if (metric.pods !== undefined) {
          // A Pods metric: per TaskManager pod, of a target Slotscaler serves.
          assert.ok(
            POD_METRIC_NAMES.includes(metric.pods.metric.name as never),
            `${file}: ${metric.pods.metric.name}`,
          );
          const target = object.spec?.scaleTargetRef;
          assert.ok(
            target && optedIn.includes(`${target.kind}/${target.name}`),
            `${file}: pods of an opted-in target`,
          );
          continue;
        }
        if (metric.object !== undefined) {
          // An Object metric describes an opted-in target itself.
          const { describedObject } = metric.object;
          assert.ok(
            optedIn.includes(`${describedObject.kind}/${describedObject.name}`),
            `${file}: ${describedObject.name}`,
          );
        }
        const name = metric.external?.metric.name ?? metric.object?.metric.name ?? '';
        assert.ok(SERVED.includes(name) || expressionMetrics.includes(name), `${file}: ${name}`);
      }
    }
    assert.deepEqual(types.sort(), ['External', 'External', 'Object', 'Pods']);
  });
  it("the README's plain-manifest install creates every object (cert-manager's kinds stubbed)", async () => {
    // Stand-ins for cert-manager's two CRDs: only so the API server stores the objects.
    for (const [plural, kind] of [
      ['certificates', 'Certificate'],
      ['issuers', 'Issuer'],
    ] as const) {
      await applyYaml(
        env.controlPlane,
        `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: ${plural}.cert-manager.io }
spec:
  group: cert-manager.io
  scope: Namespaced
  names: { kind: ${kind}, plural: ${plural}, singular: ${kind.toLowerCase()}, listKind: ${kind}List }
  versions:
    - name: v1
      served: true
      storage: true
      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }
`,
      );
      await waitFor(`the ${plural} resource to be served`, async () =>
        (await env.controlPlane.request('GET', `/apis/cert-manager.io/v1/${plural}`)).statusCode === 200
          ? true
          : undefined,
      );
    }
    const commands = readmeCommands('### Without Helm');
    assert.deepEqual(commands, [
      'kubectl create namespace slotscaler',
      'kubectl apply -f manifests/slotscaler.yaml',
    ]);
    for (const command of commands) await runAsUser(command, { kubeconfig: env.kubeconfigPath });
    const apiService = JSON.parse(
      execFileSync(
        kubectl,
        [
          '--kubeconfig',
          env.kubeconfigPath,
          'get',
          'apiservice',
          'v1beta1.external.metrics.k8s.io',
          '-o',
          'json',
        ],
        {
          encoding: 'utf8',
        },
      ),
    ) as { metadata: { annotations?: Record<string, string> }; spec: { service: { name: string } } };
    assert.equal(apiService.spec.service.name, 'slotscaler');
    assert.equal(
      apiService.metadata.annotations?.['cert-manager.io/inject-ca-from'],
      'slotscaler/slotscaler',
    );
    execFileSync(
      kubectl,
      [
        '--kubeconfig',
        env.kubeconfigPath,
        'get',
        '-n',
        'slotscaler',
        'deployment/slotscaler',
        'certificate/slotscaler',
        'issuer/slotscaler-selfsigned',
      ],
      { encoding: 'utf8' },
    );
  });
});
