// The image definition cannot be built on these machines (no container engine): these checks keep it
// consistent with the chart and the code it packages.
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';

import { parse as parseYaml } from 'yaml';

import { describeFields } from '../../src/config/schema.js';

const root = new URL('../../', import.meta.url);
const read = (path: string): Promise<string> => readFile(new URL(path, root), 'utf8');

interface ChartValues {
  readonly podSecurityContext: { readonly runAsUser: number; readonly runAsGroup: number };
  readonly securityContext: { readonly readOnlyRootFilesystem: boolean };
  readonly config: { readonly metricsApiPort: number; readonly metricsPort: number };
}

describe('Dockerfile', () => {
  it('runs `slotscaler serve` from bin/ as the chart expects', async () => {
    const dockerfile = await read('Dockerfile');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    assert.ok(entrypoint !== undefined);
    const command = JSON.parse(entrypoint) as string[];
    assert.deepEqual(command.slice(1), ['/app/bin/slotscaler.js', 'serve']);
    await access(new URL('bin/slotscaler.js', root));
    // The chart passes only flags: the entrypoint carries the command.
    const deployment = await read('charts/slotscaler/templates/deployment.yaml');
    assert.match(deployment, /entrypoint is `slotscaler serve`/);
    assert.doesNotMatch(deployment, /- serve\b/);
  });

  it("runs as the chart's non-root user and exposes the configured ports", async () => {
    const dockerfile = await read('Dockerfile');
    const values = parseYaml(await read('charts/slotscaler/values.yaml')) as ChartValues;
    const user = /^USER (\d+):(\d+)$/m.exec(dockerfile);
    assert.equal(Number(user?.[1]), values.podSecurityContext.runAsUser);
    assert.equal(Number(user?.[2]), values.podSecurityContext.runAsGroup);
    assert.notEqual(values.podSecurityContext.runAsUser, 0);
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)?.[1]?.split(/\s+/).map(Number);
    const defaults = Object.fromEntries(describeFields().map(({ key, meta }) => [key, meta.default]));
    assert.deepEqual(exposed, [Number(defaults['metricsApiPort']), Number(defaults['metricsPort'])]);
    assert.deepEqual(exposed, [values.config.metricsApiPort, values.config.metricsPort]);
    assert.equal(values.securityContext.readOnlyRootFilesystem, true);
  });

  it('builds with the files the build needs, and the context carries no more', async () => {
    const dockerfile = await read('Dockerfile');
    const ignore = (await read('.dockerignore')).split('\n').filter((line) => line.startsWith('!'));
    for (const match of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of (match[1] ?? '').split(' ')) {
        await access(new URL(source, root));
        assert.ok(
          ignore.some((line) => line.slice(1).replace(/\/$/, '') === source),
          `${source} is in the build context`,
        );
      }
    }
  });
});
