/**
 * The Helm chart's `values.schema.json`, generated from the config schema (src/config/schema.ts):
 * `config:` holds Slotscaler's settings under their camelCase keys (the chart writes them to the
 * config file `--config` reads), so each setting's form, bounds and description come from its one
 * declaration. The rest of the values (the Kubernetes objects) is described here by hand.
 * `npm run docs` writes the file; test/integration/chart-schema.test.ts fails when it is stale.
 */
import { format, resolveConfigFile, resolveConfig } from 'prettier';

import { parseDuration } from '../src/config/values.js';
import { describeFields, globalFields, targetFields } from '../src/config/schema.js';
import type { FieldKey } from '../src/config/schema.js';

export const VALUES_SCHEMA_PATH = 'charts/slotscaler/values.schema.json';

type JsonSchema = Record<string, unknown>;

const FIELDS: Record<FieldKey, { safeParse(value: unknown): { success: boolean; error?: unknown } }> = {
  ...targetFields,
  ...globalFields,
};

/** Go-style durations as parseDuration reads them, or a plain number of seconds. */
const DURATION_PATTERN = '^\\s*(\\d+(\\.\\d+)?|((\\d+(\\.\\d+)?|\\.\\d+)(ms|h|m|s))+)\\s*$';

/** The first issue message of parsing `value` with the field's own schema, if it fails. */
function problemOf(key: FieldKey, value: unknown): string | undefined {
  const result = FIELDS[key].safeParse(value);
  if (result.success) return undefined;
  const issues = (result.error as { issues?: { message?: string }[] } | undefined)?.issues ?? [];
  return issues[0]?.message ?? 'invalid';
}

/** The bounds the field's own check reports for an out-of-range value ("from A to B"). */
function boundsOf(key: FieldKey, parse: (text: string) => number): { min: number; max: number } | undefined {
  const message = problemOf(key, 1e12) ?? '';
  const match = /from (\S+) to (\S+)$/.exec(message);
  if (match === null) return undefined;
  return { min: parse(match[1] ?? ''), max: parse(match[2] ?? '') };
}

/** The JSON schema of one setting, from its declared form. */
function settingSchema(key: FieldKey, form: string, description: string): JsonSchema {
  if (form === 'boolean') return { type: 'boolean', description };
  if (form === 'integer' || form === 'number') {
    const bounds = boundsOf(key, Number);
    return {
      type: form,
      ...(bounds === undefined ? {} : { minimum: bounds.min, maximum: bounds.max }),
      description,
    };
  }
  if (form === 'duration') {
    const bounds = boundsOf(key, parseDuration);
    return {
      description,
      oneOf: [
        { type: 'string', pattern: DURATION_PATTERN },
        {
          type: 'number',
          ...(bounds === undefined ? {} : { minimum: bounds.min, maximum: bounds.max }),
        },
      ],
    };
  }
  if (form.includes(' | ')) return { type: 'string', enum: form.split(' | '), description };
  if (form.startsWith('list of ')) {
    return { description, oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] };
  }
  if (form === 'tolerance') return { description, oneOf: [{ type: 'string' }, { type: 'number' }] };
  return { type: 'string', minLength: 1, description };
}

function configSchema(): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const { key, meta } of describeFields()) {
    const description =
      meta.default === undefined ? meta.description : `${meta.description} Default: ${meta.default || '""'}.`;
    properties[key] = settingSchema(key, meta.form, description);
  }
  return {
    type: 'object',
    description:
      "Slotscaler's settings (the README's configuration reference), under their camelCase keys; written to the config file.",
    additionalProperties: false,
    properties,
  };
}

const object = (properties: Record<string, JsonSchema>, extra: JsonSchema = {}): JsonSchema => ({
  type: 'object',
  properties,
  ...extra,
});
const str: JsonSchema = { type: 'string' };
const bool: JsonSchema = { type: 'boolean' };
const int = (minimum: number, maximum?: number): JsonSchema => ({
  type: 'integer',
  minimum,
  ...(maximum === undefined ? {} : { maximum }),
});
const anyObject: JsonSchema = { type: 'object' };
const anyArray: JsonSchema = { type: 'array' };
/** A Prometheus duration, as the Prometheus Operator's CRDs check it (`30s`, `1m30s`). */
const PROMETHEUS_DURATION =
  '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$';
/** NetworkPolicy peers (`ipBlock`, `namespaceSelector`, `podSelector`), as the API takes them. */
const peers: JsonSchema = { type: 'array', items: anyObject };
/** A closed object: a misspelt key fails at install instead of being ignored. */
const closed = (properties: Record<string, JsonSchema>): JsonSchema =>
  object(properties, { additionalProperties: false });

/** The whole values schema. */
export function valuesSchema(): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Slotscaler chart values',
    description: 'Generated by `npm run docs` from src/config/schema.ts and scripts/chart-schema.ts.',
    type: 'object',
    additionalProperties: false,
    required: ['config', 'tls', 'apiService', 'service'],
    properties: {
      replicaCount: int(0),
      image: object({ repository: str, tag: str, pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] } }),
      imagePullSecrets: anyArray,
      nameOverride: str,
      fullnameOverride: str,
      config: configSchema(),
      serviceAccount: object({ create: bool, name: str, annotations: anyObject }),
      rbac: object({ create: bool, hpaExternalMetricsReader: bool }),
      apiService: object({
        create: bool,
        groupPriorityMinimum: int(1, 20_000),
        versionPriority: int(1, 1000),
        insecureSkipTLSVerify: bool,
      }),
      tls: object({
        source: { enum: ['helm', 'certManager', 'secret'] },
        validityDays: int(1),
        secretName: str,
        caBundle: str,
        certManager: object({ issuerRef: anyObject, duration: str, renewBefore: str }),
      }),
      upstream: object({
        url: { type: 'string', pattern: '^(https?://.+)?$' },
        caSecret: str,
        useServiceAccountToken: bool,
      }),
      service: object({ type: { enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] }, port: int(1, 65_535) }),
      podAnnotations: anyObject,
      podLabels: anyObject,
      priorityClassName: str,
      resources: anyObject,
      podSecurityContext: anyObject,
      securityContext: anyObject,
      livenessProbe: anyObject,
      readinessProbe: anyObject,
      topologySpreadConstraints: {
        type: 'array',
        items: object(
          {
            maxSkew: int(1),
            topologyKey: { type: 'string', minLength: 1 },
            whenUnsatisfiable: { enum: ['ScheduleAnyway', 'DoNotSchedule'] },
            labelSelector: anyObject,
          },
          { required: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'] },
        ),
      },
      podDisruptionBudget: object({ enabled: bool, maxUnavailable: { type: ['integer', 'string'] } }),
      serviceMonitor: object({
        enabled: bool,
        interval: { type: 'string', pattern: PROMETHEUS_DURATION },
        // Empty (Prometheus' default) matches too.
        scrapeTimeout: { type: 'string', pattern: PROMETHEUS_DURATION },
        labels: anyObject,
        relabelings: { type: 'array', items: anyObject },
        metricRelabelings: { type: 'array', items: anyObject },
      }),
      grafanaDashboard: closed({ enabled: bool, namespace: str, labels: anyObject, annotations: anyObject }),
      prometheusRule: closed({
        enabled: bool,
        labels: anyObject,
        severity: { type: 'string', minLength: 1 },
        targetWithoutMetricsFor: { type: 'string', pattern: PROMETHEUS_DURATION },
        targetHeldSeconds: int(1),
        refusedWrites: closed({ window: { type: 'string', pattern: PROMETHEUS_DURATION }, count: int(1) }),
        noLeaderFor: { type: 'string', pattern: PROMETHEUS_DURATION },
        apiServiceUnavailableFor: { type: 'string', pattern: PROMETHEUS_DURATION },
        rescalePendingSeconds: int(1),
      }),
      networkPolicy: closed({
        enabled: bool,
        apiServer: closed({ from: peers }),
        metrics: closed({ from: peers }),
        extraIngress: { type: 'array', items: anyObject },
      }),
      nodeSelector: anyObject,
      tolerations: anyArray,
      affinity: anyObject,
      extraArgs: { type: 'array', items: str },
      extraEnv: anyArray,
    },
  };
}

/** The file's text, formatted as Prettier would (the repository's `prettier --check` covers it). */
export async function renderValuesSchema(): Promise<string> {
  const configFile = await resolveConfigFile(VALUES_SCHEMA_PATH);
  const options = configFile === null ? {} : ((await resolveConfig(configFile)) ?? {});
  return format(JSON.stringify(valuesSchema()), { ...options, parser: 'json' });
}
