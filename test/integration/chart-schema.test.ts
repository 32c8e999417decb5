// The chart's values.schema.json is generated from the config schema: it must be current, and agree
// with the settings' own parsers on every default and example.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';

import { describeFields } from '../../src/config/schema.js';
import { VALUES_SCHEMA_PATH, renderValuesSchema, valuesSchema } from '../../scripts/chart-schema.js';

const root = new URL('../../', import.meta.url);

interface SettingSchema {
  readonly type?: string;
  readonly enum?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly oneOf?: readonly { readonly type: string; readonly minimum?: number; readonly maximum?: number }[];
}

function configProperties(): Record<string, SettingSchema> {
  const config = (
    valuesSchema()['properties'] as Record<string, { properties: Record<string, SettingSchema> }>
  )['config'];
  assert.ok(config);
  return config.properties;
}

describe('chart values.schema.json', () => {
  it('is what `npm run docs` generates from the config schema', async () => {
    const committed = await readFile(new URL(VALUES_SCHEMA_PATH, root), 'utf8');
    assert.equal(committed, await renderValuesSchema(), `${VALUES_SCHEMA_PATH} is stale: run npm run docs`);
  });

  it('has every setting under config:, and nothing else there', () => {
    const keys = describeFields().map(({ key }) => key);
    assert.deepEqual(Object.keys(configProperties()).sort(), [...keys].sort());
  });

  it('carries the bounds and choices the settings declare', () => {
    const properties = configProperties();
    assert.deepEqual(properties['mode']?.enum, ['scale', 'recommend', 'metrics-only']);
    assert.equal(properties['minTaskmanagers']?.minimum, 0);
    assert.equal(properties['maxTaskmanagers']?.maximum, 10_000);
    assert.equal(properties['metricsApiPort']?.maximum, 65_535);
    assert.deepEqual(
      properties['tickInterval']?.oneOf?.find((option) => option.type === 'number'),
      { type: 'number', minimum: 1, maximum: 600 },
    );
  });

  it('accepts every default of a typed setting as its native YAML value', () => {
    const properties = configProperties();
    for (const { key, meta } of describeFields()) {
      if (meta.default === undefined) continue;
      const schema = properties[key];
      assert.ok(schema !== undefined, `${key} is missing from values.schema.json`);
      if (schema.type === 'boolean') assert.ok(['true', 'false'].includes(meta.default), key);
      if (schema.type === 'integer' || schema.type === 'number') {
        const value = Number(meta.default);
        assert.ok(value >= (schema.minimum ?? -Infinity) && value <= (schema.maximum ?? Infinity), key);
      }
      if (schema.enum !== undefined) assert.ok(schema.enum.includes(meta.default), key);
    }
  });
});
