// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, from the bottom (ARCHITECTURE.md has the table and the reasons). Each unit is a
 * folder of src/ or a file at its root; `mayImport` lists the units a layer may import besides its
 * own. A lower layer never imports a higher one, so the table reads like the picture: domain and lib
 * at the bottom, then config, the pure core, the adapters, orchestration, the commands.
 */
const UNITS = {
  folders: [
    'domain',
    'lib',
    'config',
    'metrics',
    'scaler',
    'observability',
    'flink',
    'kube',
    'metrics-api',
    'runtime',
    'simulate',
    'cli',
    'app',
  ],
  files: ['errors', 'version', 'main'],
};
const CORE = ['metrics', 'scaler'];
const CORE_FILES = CORE.map((folder) => `src/${folder}/**/*.ts`);
const BOTTOM = ['domain', 'lib', 'errors'];
const ADAPTER_BASE = [...BOTTOM, 'config', ...CORE, 'observability'];

/**
 * @typedef {object} Layer
 * @property {string} name how the message names the layer
 * @property {string[]} files
 * @property {string[]} mayImport units of src/ it may import (its own are always allowed)
 * @property {string[]} [packages] regular expressions of packages it may not import
 * @property {string[]} [modules] further files of src/ it may not import, relative to src/ and
 *   without extension (`flink/rest-client`)
 * @property {string[]} [except] exact import specifiers allowed against the rule, each a known
 *   violation waiting for its move (see the comment where the layer lists it)
 */

/** @type {Layer[]} */
const LAYERS = [
  { name: 'src/domain', files: ['src/domain/**/*.ts'], mayImport: ['domain', 'lib', 'errors'] },
  { name: 'src/lib', files: ['src/lib/**/*.ts'], mayImport: ['domain', 'lib', 'errors'] },
  { name: 'src/errors.ts', files: ['src/errors.ts'], mayImport: ['domain', 'lib'] },
  { name: 'src/config', files: ['src/config/**/*.ts'], mayImport: [...BOTTOM, 'config'] },
  {
    name: 'the pure core (src/metrics, src/scaler)',
    files: CORE_FILES,
    mayImport: [...BOTTOM, 'config', ...CORE],
    // No Node.js module, no package: no I/O, no Kubernetes or HTTP client, no logger.
    packages: ['^[^.]'],
  },
  {
    name: 'the pure core (src/metrics, src/scaler)',
    // The expression metrics are mathjs expressions; mathjs is pure (no I/O, no clock).
    files: ['src/metrics/expression-metric.ts'],
    mayImport: [...BOTTOM, 'config', ...CORE],
    packages: ['^(?!mathjs$)[^.]'],
  },
  { name: 'src/observability', files: ['src/observability/**/*.ts'], mayImport: BOTTOM },
  // The three API adapters never import each other: what one needs of another reaches it through
  // a port of src/domain/ports.ts, wired by src/runtime or src/app. None needs an exception today.
  { name: 'src/flink', files: ['src/flink/**/*.ts'], mayImport: ADAPTER_BASE },
  // The Kubernetes client names itself in its user agent.
  { name: 'src/kube', files: ['src/kube/**/*.ts'], mayImport: [...ADAPTER_BASE, 'version'] },
  { name: 'src/metrics-api', files: ['src/metrics-api/**/*.ts'], mayImport: ADAPTER_BASE },
  {
    name: 'src/runtime',
    files: ['src/runtime/**/*.ts'],
    mayImport: [...ADAPTER_BASE, 'flink', 'kube', 'metrics-api', 'version'],
  },
  {
    // The what-if world runs the real decision code against models of Flink and Kubernetes: it
    // imports no Kubernetes or HTTP code, so what it shows cannot depend on a cluster.
    name: 'src/simulate',
    files: ['src/simulate/**/*.ts'],
    mayImport: [...ADAPTER_BASE, 'flink'],
    modules: ['flink/rest-client', 'flink/http-connections'],
    packages: ['^(node:)?(http|https|http2|net|tls)$', '^@kubernetes/', '^undici$'],
  },
  {
    name: 'src/cli',
    files: ['src/cli/**/*.ts'],
    mayImport: [...ADAPTER_BASE, 'flink', 'kube', 'metrics-api', 'runtime', 'simulate', 'version'],
  },
  {
    name: 'src/app',
    files: ['src/app/**/*.ts'],
    mayImport: [...ADAPTER_BASE, 'flink', 'kube', 'metrics-api', 'runtime', 'version'],
  },
];

/** `a|b`, each escaped for a regular expression. */
function alternatives(/** @type {string[]} */ names) {
  return names.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

/**
 * One `no-restricted-imports` block per layer. Imports inside src/ are relative (`../kube/x.js`,
 * `../../config/schema.js`, `./config/annotations.js` from a file at the root), so a unit is matched
 * by its name right after the leading `./` and `../`s: a folder followed by `/`, a root file by `.js`.
 * No folder of src/ has a subfolder named like a unit, so the match is exact.
 */
function layerRules() {
  return LAYERS.map((layer) => {
    const own = layer.files.map((glob) => glob.split('/')[1]);
    const allowed = new Set([...layer.mayImport, ...own.map((unit) => unit.replace(/\.ts$/, ''))]);
    const folders = UNITS.folders.filter((unit) => !allowed.has(unit));
    const files = UNITS.files.filter((unit) => !allowed.has(unit));
    const except = layer.except?.length ? `(?!(${alternatives(layer.except)})$)` : '';
    const relative = `^${except}\\.{1,2}/(\\.\\./)*`;
    const message = `${layer.name} may import only ${layer.mayImport.join(', ')} of src/ (ARCHITECTURE.md, "Layers").`;
    const patterns = [];
    if (folders.length > 0) patterns.push({ regex: `${relative}(${alternatives(folders)})/`, message });
    if (files.length > 0) patterns.push({ regex: `${relative}(${alternatives(files)})\\.js$`, message });
    for (const module of layer.modules ?? []) {
      patterns.push({
        regex: `${relative}${alternatives([module])}\\.js$`,
        message: `${layer.name} may not import src/${module}.ts (ARCHITECTURE.md, "Layers").`,
      });
    }
    for (const regex of layer.packages ?? []) {
      patterns.push({
        regex,
        message: `${layer.name} may not import this package (ARCHITECTURE.md, "Layers").`,
      });
    }
    const exact = patterns.map((pattern) => ({ ...pattern, caseSensitive: true }));
    return { files: layer.files, rules: { 'no-restricted-imports': ['error', { patterns: exact }] } };
  });
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', '.cache/', '**/target/', 'charts/', 'manifests/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after'],
            },
          ],
        },
      ],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'Use a union of string literals.' },
      ],
    },
  },
  ...layerRules(),
  {
    // The pure core never reads the clock, logs or prints: time is an argument, a reason is returned.
    files: CORE_FILES,
    rules: {
      // The layer rules see static imports only; the core has no use for a dynamic one.
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'Use a union of string literals.' },
        {
          selector: 'ImportExpression',
          message: 'The pure core imports statically (ARCHITECTURE.md, "Layers").',
        },
      ],
      'no-restricted-globals': [
        'error',
        'Date',
        'console',
        'process',
        'setTimeout',
        'setInterval',
        'fetch',
        'performance',
      ],
    },
  },
  {
    // The simulator's time is simulated: it never reads the clock.
    files: ['src/simulate/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'Date', 'performance', 'setTimeout', 'setInterval'],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
