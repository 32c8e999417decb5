// The image definition cannot be built on these machines (no container engine): these checks keep it
// consistent with the chart and the code it packages, keep it on a Node.js line in support, and play
// its stages on the file system (COPY, WORKDIR, the build) to run the binary from the image's layout.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { access, cp, mkdir, mkdtemp, readFile, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { parse as parseYaml } from 'yaml';

import { describeFields } from '../../src/config/schema.js';

const root = new URL('../../', import.meta.url);
const repo = fileURLToPath(root);
const read = (path: string): Promise<string> => readFile(new URL(path, root), 'utf8');

interface ChartValues {
  readonly podSecurityContext: { readonly runAsUser: number; readonly runAsGroup: number };
  readonly securityContext: { readonly readOnlyRootFilesystem: boolean };
  readonly config: {
    readonly metricsApiPort: number;
    readonly metricsPort: number;
    readonly peerPort: number;
  };
}

/**
 * End of life of each Node.js LTS line (github.com/nodejs/Release, schedule.json): an image on a
 * line past it gets no security fixes.
 */
const NODE_LTS_END_OF_LIFE: Record<number, string> = {
  20: '2026-04-30',
  22: '2027-04-30',
  24: '2028-04-30',
};

interface Stage {
  readonly name: string;
  readonly image: string;
  readonly instructions: readonly { readonly op: string; readonly args: string }[];
}

/** The Dockerfile's stages, with build arguments (`ARG NAME=default`) put in. */
function stagesOf(dockerfile: string): Stage[] {
  const args = new Map<string, string>();
  const stages: { name: string; image: string; instructions: { op: string; args: string }[] }[] = [];
  for (const raw of dockerfile.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [op = '', ...rest] = line.split(/\s+/);
    const text = rest.join(' ').replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? `\${${name}}`);
    if (op === 'ARG' && stages.length === 0) {
      const [name = '', value = ''] = text.split('=');
      args.set(name, value);
    } else if (op === 'FROM') {
      const [image = '', , name] = text.split(/\s+/);
      stages.push({ name: name ?? `stage${stages.length}`, image, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op, args: text });
    }
  }
  return stages;
}

/**
 * `npm run build` in a build stage's folder, without compiling twice on a 2-core machine: the
 * compiler lists the files of the build from there (`--listFilesOnly`), each of which must be in
 * the folder or in node_modules, so the stage has what the build reads; the output is this
 * checkout's dist/, compiled from the same sources (`npm test` builds it first).
 */
async function build(folder: string): Promise<void> {
  const script = (
    JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')) as { scripts: { build: string } }
  ).scripts.build;
  const project = /^tsc -p (\S+)$/.exec(script)?.[1];
  assert.ok(project !== undefined, `npm run build is "${script}"`);
  const files = execFileSync(join(repo, 'node_modules/.bin/tsc'), ['-p', project, '--listFilesOnly'], {
    cwd: folder,
    encoding: 'utf8',
  })
    .trim()
    .split('\n');
  assert.ok(
    files.some((file) => file.endsWith('/src/main.ts')),
    files.join('\n'),
  );
  const modules = await realpath(join(repo, 'node_modules'));
  const outside = files.filter((file) => !file.startsWith(`${folder}/`) && !file.startsWith(`${modules}/`));
  assert.deepEqual(outside, [], 'the build reads files the stage does not have');
  await access(join(repo, 'dist/main.js')).catch(() => assert.fail('no dist/: run npm run build first'));
  await cp(join(repo, 'dist'), join(folder, 'dist'), { recursive: true });
}

describe('Dockerfile', () => {
  it('runs `slotscaler serve` from bin/ as the chart expects', async () => {
    const dockerfile = await read('Dockerfile');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    assert.ok(entrypoint !== undefined);
    const command = JSON.parse(entrypoint) as string[];
    assert.deepEqual(command, ['/nodejs/bin/node', '/app/bin/slotscaler.js', 'serve']);
    await access(new URL('bin/slotscaler.js', root));
    // The chart passes only flags: the entrypoint carries the command.
    const deployment = await read('charts/slotscaler/templates/deployment.yaml');
    assert.match(deployment, /entrypoint is `slotscaler serve`/);
    assert.doesNotMatch(deployment, /- serve\b/);
  });

  it('builds and runs on one Node.js LTS line in support, one that package.json `engines` allows', async () => {
    const stages = stagesOf(await read('Dockerfile'));
    const majors = stages.map((stage) => {
      const match =
        /^node:(\d+)-bookworm-slim$/.exec(stage.image) ??
        /^gcr\.io\/distroless\/nodejs(\d+)-debian12:nonroot$/.exec(stage.image);
      assert.ok(
        match !== null,
        `${stage.name}: ${stage.image} is not node:<major>-bookworm-slim or distroless nodejs`,
      );
      return Number(match[1]);
    });
    const [major] = majors;
    assert.ok(major !== undefined);
    assert.deepEqual(
      majors,
      stages.map(() => major),
      'every stage on the same Node.js major',
    );
    assert.match(stages.at(-1)?.image ?? '', /^gcr\.io\/distroless\//, 'the runtime stage is distroless');
    const endOfLife = NODE_LTS_END_OF_LIFE[major];
    assert.ok(endOfLife !== undefined, `Node.js ${major} is not an LTS line`);
    assert.ok(Date.parse(endOfLife) > Date.now(), `Node.js ${major} is out of support since ${endOfLife}`);
    const engines = (JSON.parse(await read('package.json')) as { engines: { node: string } }).engines.node;
    const minimum = /^>=(\d+)\.(\d+)$/.exec(engines);
    assert.ok(minimum !== null, `engines.node is ${engines}`);
    assert.ok(major >= Number(minimum[1]), `Node.js ${major} is below engines ${engines}`);
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
    assert.deepEqual(exposed, [
      Number(defaults['metricsApiPort']),
      Number(defaults['metricsPort']),
      Number(defaults['peerPort']),
    ]);
    assert.deepEqual(exposed, [
      values.config.metricsApiPort,
      values.config.metricsPort,
      values.config.peerPort,
    ]);
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

  it('its stages, played on the file system, build the code and lay out an /app whose binary runs', async () => {
    const stages = stagesOf(await read('Dockerfile'));
    const work = await mkdtemp(join(tmpdir(), 'slotscaler-image-'));
    try {
      // Each stage's file system is a folder; `npm ci` links this checkout's node_modules (the
      // registry is not for tests); `npm run build` is `build` below; any other RUN fails here.
      const rootOf = (name: string): string => join(work, name);
      for (const stage of stages) {
        let cwd = '/';
        const at = (path: string): string => join(rootOf(stage.name), posix.resolve(cwd, path));
        for (const { op, args } of stage.instructions) {
          if (op === 'WORKDIR') {
            cwd = posix.resolve(cwd, args);
            await mkdir(at('.'), { recursive: true });
          } else if (op === 'COPY') {
            const words = args.split(/\s+/);
            const from =
              words[0]?.startsWith('--from=') === true ? words.shift()?.slice('--from='.length) : undefined;
            const destination = words.pop() ?? '';
            for (const source of words) {
              const origin =
                from === undefined ? join(repo, source) : join(rootOf(from), posix.resolve('/', source));
              const target = destination.endsWith('/')
                ? join(at(destination), posix.basename(source))
                : at(destination);
              await mkdir(dirname(target), { recursive: true });
              await cp(origin, target, { recursive: true, verbatimSymlinks: true });
            }
          } else if (op === 'RUN') {
            for (const command of args.split('&&').map((part) => part.trim())) {
              if (command.startsWith('npm ci '))
                await symlink(join(repo, 'node_modules'), at('node_modules'));
              else if (command === 'npm run build') await build(at('.'));
              else if (command !== 'npm cache clean --force')
                assert.fail(`RUN ${command}: not known to this test`);
            }
          } else {
            assert.ok(['ENV', 'USER', 'EXPOSE', 'ENTRYPOINT'].includes(op), `${op}: not known to this test`);
          }
        }
      }
      // The entrypoint, run from the runtime stage's /app with --version: the version it prints
      // comes from the package.json the image carries next to dist/.
      const runtime = rootOf(stages.at(-1)?.name ?? '');
      const { version } = JSON.parse(await read('package.json')) as { version: string };
      const printed = execFileSync(process.execPath, [join(runtime, 'app/bin/slotscaler.js'), '--version'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(printed, `${version}\n`);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
