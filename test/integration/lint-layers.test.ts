// The layers of src/ (ARCHITECTURE.md) are a lint rule, not a wish: the repo's own ESLint config,
// given an import that crosses a layer the wrong way, fails with `no-restricted-imports`, and passes
// the imports the layers allow. Each probe is linted as text under a path of src/ that does not exist,
// so nothing is written into the tree; type information is off for the probes (the rule needs none,
// and a file the TypeScript project does not know would have none anyway).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root, overrideConfig: [tseslint.configs.disableTypeChecked] });

/** The `no-restricted-imports` messages for `source` as the file `filePath` (relative to the root). */
async function restrictedImports(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath });
  assert.ok(result, `no lint result for ${filePath}`);
  const fatal = result.messages.filter((message) => message.fatal === true);
  assert.deepEqual(fatal, [], `${filePath} did not parse`);
  return result.messages
    .filter((message) => message.ruleId === 'no-restricted-imports')
    .map((message) => message.message);
}

/** A file that imports `specifier` and uses what it imports. */
const importing = (specifier: string): string =>
  `import * as imported from '${specifier}';\n\nexport const probe = imported;\n`;

/** [file, import, why it is forbidden or allowed] */
const forbidden: readonly (readonly [string, string, string])[] = [
  ['src/scaler/layers-probe.ts', '../kube/kube-client.js', 'the pure core imports no Kubernetes client'],
  ['src/scaler/layers-probe.ts', 'node:fs/promises', 'the pure core does no I/O'],
  ['src/scaler/layers-probe.ts', '@kubernetes/client-node', 'the pure core imports no package'],
  ['src/metrics/layers-probe.ts', 'pino', 'the pure core does not log'],
  ['src/metrics/layers-probe.ts', '../flink/rest-client.js', 'the pure core imports no adapter'],
  ['src/scaler/layers-probe.ts', '../runtime/collector.js', 'the planner imports no orchestration'],
  ['src/simulate/layers-probe.ts', 'node:http', 'the simulator imports no HTTP code'],
  ['src/simulate/layers-probe.ts', '../kube/writer.js', 'the simulator imports no Kubernetes code'],
  ['src/simulate/layers-probe.ts', '../flink/rest-client.js', 'the simulator calls no JobManager'],
  ['src/simulate/layers-probe.ts', '@kubernetes/client-node', 'the simulator imports no Kubernetes code'],
  ['src/domain/layers-probe.ts', '../config/schema.js', 'the domain is the bottom layer'],
  ['src/lib/layers-probe.ts', '../observability/logger.js', 'lib is the bottom layer'],
  ['src/config/layers-probe.ts', '../kube/target-registry.js', 'config imports no adapter'],
  ['src/observability/layers-probe.ts', '../config/schema.js', 'observability imports domain and lib only'],
  ['src/flink/layers-probe.ts', '../kube/kube-client.js', 'the API adapters do not import each other'],
  [
    'src/kube/adapters/layers-probe.ts',
    '../../metrics-api/server.js',
    'the API adapters do not import each other',
  ],
  ['src/metrics-api/layers-probe.ts', '../runtime/collector.js', 'an adapter imports no orchestration'],
  ['src/runtime/layers-probe.ts', '../cli/explain.js', 'orchestration imports no command'],
  ['src/metrics/metric-window.ts', '../observability/logger.js', 'an exception is one import of one file'],
  ['src/errors.ts', './config/load.js', 'the error catalogue sits below the config'],
];

const allowed: readonly (readonly [string, string, string])[] = [
  ['src/scaler/layers-probe.ts', '../domain/decision.js', 'the core imports the domain'],
  ['src/scaler/layers-probe.ts', '../metrics/catalogue.js', 'the core imports itself'],
  ['src/scaler/layers-probe.ts', '../config/schema.js', 'the core imports the config'],
  ['src/scaler/layers-probe.ts', '../errors.js', 'the core raises the catalogue errors'],
  ['src/metrics/expression-metric.ts', 'mathjs', 'the expression metrics are mathjs expressions'],
  ['src/simulate/layers-probe.ts', '../scaler/decide.js', 'the simulator runs the real decision code'],
  ['src/kube/layers-probe.ts', '../observability/logger.js', 'adapters log'],
  ['src/flink/layers-probe.ts', '../metrics/catalogue.js', 'adapters import the core'],
  ['src/runtime/layers-probe.ts', '../kube/writer.js', 'orchestration wires the adapters'],
  ['src/cli/layers-probe.ts', '../simulate/run.js', 'commands sit on top'],
];

describe('the layers of src/ are enforced by ESLint', () => {
  for (const [filePath, specifier, why] of forbidden) {
    it(`refuses ${specifier} in ${filePath}: ${why}`, async () => {
      const messages = await restrictedImports(filePath, importing(specifier));
      assert.equal(messages.length, 1, `expected one restricted import, got ${JSON.stringify(messages)}`);
      assert.match(messages[0] ?? '', /ARCHITECTURE\.md/);
    });
  }

  for (const [filePath, specifier, why] of allowed) {
    it(`allows ${specifier} in ${filePath}: ${why}`, async () => {
      assert.deepEqual(await restrictedImports(filePath, importing(specifier)), []);
    });
  }

  it('sees imports re-exported with `export ... from`', async () => {
    const messages = await restrictedImports(
      'src/scaler/layers-probe.ts',
      "export { KubeClient } from '../kube/kube-client.js';\n",
    );
    assert.equal(messages.length, 1);
  });

  it('refuses a dynamic import in the pure core', async () => {
    const [result] = await eslint.lintText("export const load = () => import('../kube/kube-client.js');\n", {
      filePath: 'src/scaler/layers-probe.ts',
    });
    const rules = (result?.messages ?? []).map((message) => message.ruleId);
    assert.ok(rules.includes('no-restricted-syntax'), `got ${JSON.stringify(rules)}`);
  });
});
