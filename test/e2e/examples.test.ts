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

import { compileExpressionMetric } from '../../src/collector/expression-metric.js';
import { parseTargetAnnotations } from '../../src/config/annotations.js';
import { KNOWN_METRICS } from '../../src/kube/target-registry.js';
import { RECOMMENDED_TASKMANAGERS } from '../../src/metrics-api/targets-provider.js';
import { kubeToolsBin } from '../../scripts/manifests.js';
import { startEnvironment } from './harness/environment.js';
import type { Environment } from './harness/environment.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const examples = join(repo, 'examples');
const kubectl = join(kubeToolsBin(), 'kubectl');
const NAMESPACE = 'examples';
/** Names an HPA may read besides expression metrics: the catalogue and Slotscaler's recommendation. */
const SERVED = [...KNOWN_METRICS, RECOMMENDED_TASKMANAGERS];

interface ExampleObject {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly annotations?: Record<string, string> };
  readonly spec?: {
    readonly metrics?: readonly { readonly external?: { readonly metric: { readonly name: string } } }[];
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

describe('examples/', { timeout: 300_000 }, () => {
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
    assert.equal(hpas.length, 2);
    for (const { file, object } of hpas) {
      for (const metric of object.spec?.metrics ?? []) {
        const name = metric.external?.metric.name ?? '';
        assert.ok(SERVED.includes(name) || expressionMetrics.includes(name), `${file}: ${name}`);
      }
    }
  });
});
