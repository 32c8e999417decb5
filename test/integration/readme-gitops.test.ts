// The README's GitOps settings name every field each kind of target has written: the paths are taken
// from the patches the adapters plan, so a new written field fails here until the README lists it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parse as parseYaml } from 'yaml';

import { TargetConfigSchema } from '../../src/config/schema.js';
import { STATUS_ANNOTATION } from '../../src/kube/adapters/adapter.js';
import type { CrdFacts, TargetAdapter } from '../../src/kube/adapters/adapter.js';
import { BUILT_IN_ADAPTERS } from '../../src/kube/adapters/index.js';
import { customResourceAdapter } from '../../src/kube/adapters/custom-resource.js';
import type { KubeObject } from '../../src/kube/objects.js';
import { readmeSection } from '../support/readme.js';

const SECTION = '### Targets kept in Git (Argo CD, Flux)';
/**
 * Written by in-place rescaling only: the README lists it for FlinkDeployments whether or not the
 * adapter writes it yet; once it does, it is checked like the others.
 */
const IN_PLACE = '/spec/flinkConfiguration/pipeline.jobvertex-parallelism-overrides';

/** RFC 6901: `~` and `/` in a key escaped. */
const pointerKey = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** The JSON pointers of the leaves of a merge patch body. */
function leaves(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => leaves(child, `${prefix}/${pointerKey(key)}`));
}

/** The fields of the object a write of `adapter` sets (a `/scale` patch sets the object's replicas path). */
function writtenFields(
  adapter: TargetAdapter,
  crd: CrdFacts | null,
  config: Record<string, string> = {},
): string[] {
  const object: KubeObject = {
    apiVersion: `${adapter.resource.group}/${adapter.resource.version}`,
    kind: adapter.resource.kind,
    metadata: { name: 'job', namespace: 'flink', resourceVersion: '7', annotations: {} },
    spec: {},
  };
  const target = TargetConfigSchema.parse({ jobmanagerUrl: 'http://job-rest.flink:8081', ...config });
  const steps = adapter.planWrite(
    object,
    { replicas: 3, parallelism: 6, statusAnnotation: '{}', path: 'scale', vertices: null },
    target,
    crd,
  );
  const fields = new Set<string>();
  for (const step of steps) {
    for (const pointer of leaves(step.body)) {
      if (pointer === '/metadata/resourceVersion') continue;
      if (step.path.endsWith('/scale') && pointer === '/spec/replicas') {
        const path = crd?.specReplicasPath ?? '.spec.replicas';
        fields.add(path.replace(/\./g, '/'));
      } else fields.add(pointer);
    }
  }
  fields.add(`/metadata/annotations/${pointerKey(STATUS_ANNOTATION)}`);
  return [...fields].sort();
}

interface ArgoRule {
  readonly group: string;
  readonly kind: string;
  readonly jsonPointers: readonly string[];
}
interface FluxRule {
  readonly target: { readonly group: string; readonly kind: string };
  readonly paths: readonly string[];
}

function yamlBlocks(): unknown[] {
  return [...readmeSection(SECTION).matchAll(/```yaml\n([\s\S]*?)```/g)].map((match): unknown =>
    parseYaml(match[1] ?? ''),
  );
}

/** A custom kind as the README's examples name it: example.com FlinkJob with both paths set. */
const flinkJob = customResourceAdapter({
  group: 'example.com',
  version: 'v1',
  plural: 'flinkjobs',
  kind: 'FlinkJob',
});
const CUSTOM_PATHS = { replicasPath: '.spec.taskManagers', parallelismPath: '.spec.job.parallelism' };

const cases: { adapter: TargetAdapter; crd: CrdFacts | null; config?: Record<string, string> }[] = [
  ...BUILT_IN_ADAPTERS.map((adapter) => ({ adapter, crd: null })),
  { adapter: flinkJob, crd: null, config: CUSTOM_PATHS },
];

describe('README, targets kept in Git', () => {
  it('Argo CD ignoreDifferences: every field each kind has written, per group and kind', () => {
    const [argo] = yamlBlocks() as [
      { spec: { ignoreDifferences: ArgoRule[]; syncPolicy: { syncOptions: string[] } } },
    ];
    assert.ok(argo.spec.syncPolicy.syncOptions.includes('RespectIgnoreDifferences=true'));
    for (const { adapter, crd, config } of cases) {
      const rule = argo.spec.ignoreDifferences.find(
        (entry) => entry.group === adapter.resource.group && entry.kind === adapter.resource.kind,
      );
      assert.ok(rule !== undefined, `no ignoreDifferences for ${adapter.resource.kind}`);
      const written = writtenFields(adapter, crd, config);
      assert.deepEqual(
        rule.jsonPointers.filter((pointer) => pointer !== IN_PLACE || written.includes(pointer)).sort(),
        written,
        adapter.resource.kind,
      );
    }
  });

  it('Flux driftDetection.ignore: the same fields', () => {
    const [, flux] = yamlBlocks() as [unknown, { spec: { driftDetection: { ignore: FluxRule[] } } }];
    for (const { adapter, crd, config } of cases) {
      const rule = flux.spec.driftDetection.ignore.find(
        (entry) =>
          entry.target.group === adapter.resource.group && entry.target.kind === adapter.resource.kind,
      );
      assert.ok(rule !== undefined, `no ignore rule for ${adapter.resource.kind}`);
      const written = writtenFields(adapter, crd, config);
      assert.deepEqual(
        rule.paths.filter((path) => path !== IN_PLACE || written.includes(path)).sort(),
        written,
        adapter.resource.kind,
      );
    }
  });

  it('a custom kind without a replicas path: the scale subresource writes its CRD specReplicasPath', () => {
    assert.deepEqual(
      writtenFields(flinkJob, { specReplicasPath: '.spec.replicas', statusReplicasPath: null }),
      ['/metadata/annotations/slotscaler.dev~1status', '/spec/replicas'],
    );
  });
});
