import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';

import { renderReference, replaceReference } from '../../../src/config/reference.js';
import { describeFields } from '../../../src/config/schema.js';

describe('config reference', () => {
  it('is current in the README (run `npm run docs` after changing the schema)', async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    assert.equal(replaceReference(readme), readme);
  });

  it('lists every field with its description', () => {
    const reference = renderReference();
    for (const { meta } of describeFields())
      assert.ok(reference.includes(meta.description.replace(/\|/g, '\\|')));
    assert.match(reference, /`slotscaler\.dev\/scale-down-stabilization` \| duration \| `5m` \|/);
    assert.match(reference, /`--tick-interval` \| `SLOTSCALER_TICK_INTERVAL` \| duration \| `15s` \|/);
  });

  it('refuses a document without markers', () => {
    assert.throws(() => replaceReference('# no markers'), /no generated config reference markers/);
  });
});
