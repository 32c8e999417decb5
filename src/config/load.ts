/**
 * The global config: defaults, then the config file, then environment variables, then flags. Every
 * value goes through the one schema; the result is validated once and frozen.
 */
import { readFile } from 'node:fs/promises';

import { parse as parseYaml } from 'yaml';

import { SlotscalerError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { formatIssue, issuesFrom } from './annotations.js';
import type { ConfigIssue, RawTargetValues } from './annotations.js';
import { camelCase, closest, envName, kebabCase } from './keys.js';
import { GlobalConfigSchema, globalFields, targetFields } from './schema.js';
import type { FieldKey, GlobalConfig, TargetFieldKey } from './schema.js';

/** The configuration (file, environment, flags) is invalid; `issues` lists every problem. */
export class ConfigError extends SlotscalerError {
  readonly code: ErrorCode = 'CONFIG_INVALID';
  constructor(
    message: string,
    readonly issues: readonly ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const ALL_KEYS = Object.keys({ ...globalFields, ...targetFields }) as FieldKey[];

export interface ConfigSources {
  /** Parsed YAML/JSON of the config file, if any, and its path for messages. */
  readonly file?: { readonly path: string; readonly content: unknown };
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Flag values by camelCase key (as commander gives them). */
  readonly flags?: Readonly<Partial<Record<string, unknown>>>;
}

export interface LoadedConfig {
  readonly config: Readonly<GlobalConfig>;
  /** Target-scope values as given, the defaults every target's annotations are parsed over. */
  readonly targetDefaults: RawTargetValues;
  /** Where each target-scope default came from, for messages. */
  readonly describeKey: (key: TargetFieldKey) => string;
}

/** Merges the sources by precedence and parses them; throws a ConfigError listing every problem. */
export function resolveConfig(sources: ConfigSources): LoadedConfig {
  const raw: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  const issues: ConfigIssue[] = [];

  if (sources.file !== undefined) {
    const { content, path } = sources.file;
    if (content !== null && content !== undefined) {
      if (typeof content !== 'object' || Array.isArray(content)) {
        issues.push({ key: path, value: undefined, message: 'expected a mapping of setting: value' });
      } else {
        for (const [key, value] of Object.entries(content as Record<string, unknown>)) {
          const field = ALL_KEYS.find((candidate) => candidate === key || kebabCase(candidate) === key);
          if (field === undefined) {
            const suggestion = closest(key, ALL_KEYS);
            issues.push({
              key: `${path}: ${key}`,
              value: undefined,
              message: `unknown setting${suggestion === undefined ? '' : `; did you mean ${suggestion}?`}`,
            });
            continue;
          }
          raw[field] = value;
          origin[field] = `${path}: ${field}`;
        }
      }
    }
  }
  for (const key of ALL_KEYS) {
    const value = sources.env?.[envName(key)];
    if (value !== undefined) {
      raw[key] = value;
      origin[key] = envName(key);
    }
  }
  for (const [flag, value] of Object.entries(sources.flags ?? {})) {
    const key = camelCase(flag);
    if (value === undefined || !ALL_KEYS.includes(key as FieldKey)) continue;
    raw[key] = value;
    origin[key] = `--${kebabCase(key)}`;
  }

  const describeKey = (key: string): string => origin[key] ?? `--${kebabCase(key)}`;
  const parsed = GlobalConfigSchema.safeParse(raw);
  if (!parsed.success) issues.push(...issuesFrom(parsed.error, raw, describeKey));
  if (issues.length > 0 || !parsed.success) {
    throw new ConfigError(
      `invalid configuration:\n${issues.map((issue) => `  ${formatIssue(issue)}`).join('\n')}`,
      issues,
    );
  }

  const targetDefaults: RawTargetValues = {};
  for (const key of Object.keys(targetFields) as TargetFieldKey[]) {
    if (key in raw) targetDefaults[key] = raw[key];
  }
  return { config: Object.freeze(parsed.data), targetDefaults, describeKey };
}

/** Reads the config file (YAML or JSON) and resolves the config with the environment and flags. */
export async function loadConfig(options: {
  readonly path?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly flags: Readonly<Partial<Record<string, unknown>>>;
}): Promise<LoadedConfig> {
  if (options.path === undefined) return resolveConfig({ env: options.env, flags: options.flags });
  let content: unknown;
  try {
    content = parseYaml(await readFile(options.path, 'utf8'));
  } catch (err) {
    throw new ConfigError(
      `cannot read the config file ${options.path}: ${err instanceof Error ? err.message : String(err)}`,
      [],
      {
        cause: err,
      },
    );
  }
  return resolveConfig({ file: { path: options.path, content }, env: options.env, flags: options.flags });
}
