// The README's "Keep an environment up" commands, as a person runs them: `npm run env:up`, then the
// commands it prints, then `npm run env:down`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

import { alive } from '../../scripts/process.js';
import { readmeCommands } from '../support/readme.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** Whether something accepts TCP connections on host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm run env:up and env:down, as the README has them', { timeout: 600_000 }, () => {
  let dir: string;
  let printed = '';
  // Not the README helper's runner: that puts kubectl on the PATH, and here only what env:up prints
  // may do so.
  const shell = async (command: string): Promise<string> =>
    (
      await promisify(execFile)('bash', ['-c', command], {
        cwd: repo,
        encoding: 'utf8',
        // env:up waits for the environment (cached builds: seconds; the first build: minutes).
        timeout: 600_000,
        // A state directory of its own, so a person's running environment is left alone.
        env: { ...process.env, SLOTSCALER_ENV_DIR: dir },
      })
    ).stdout;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slotscaler-env-'));
  });

  after(async () => {
    await shell('npm run env:down').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('the README names exactly the two commands', () => {
    assert.deepEqual(readmeCommands('## Testing'), ['npm run env:up', 'npm run env:down']);
  });

  it('env:up starts the environment and prints commands that work as printed', async () => {
    printed = await shell('npm run env:up');
    const exports = printed
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.startsWith('export '))
      .map((line) => line.replace(/\s+#.*$/, ''));
    assert.equal(exports.length, 2, printed);
    const commands = printed
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.startsWith('kubectl '));
    assert.equal(commands.length, 2, printed);
    const [flinkDeployments = '', version = ''] = await Promise.all(
      commands.map((command) => shell([...exports, command].join('\n'))),
    );
    assert.match(flinkDeployments, /^steerable-job\s/m);
    // The kube-apiserver built from test/e2e/control-plane's Go module.
    const goMod = await readFile(join(repo, 'test/e2e/control-plane/go.mod'), 'utf8');
    const built = /^\s*k8s\.io\/kubernetes (v\d+\.\d+\.\d+)\b/m.exec(goMod)?.[1];
    assert.ok(built !== undefined);
    assert.equal((JSON.parse(version) as { gitVersion: string }).gitVersion, built);

    // The load knobs: set the offered rate, read it back.
    const knobs = /Load knobs:\s+(curl -XPOST \S+ -d '[^']+')\s*\n\s+(curl \S+)/.exec(printed);
    assert.ok(knobs?.[1] !== undefined && knobs[2] !== undefined, printed);
    await shell(knobs[1]);
    const state = JSON.parse(await shell(knobs[2])) as { recordsPerSecond: number };
    assert.equal(state.recordsPerSecond, 5000);

    // A second env:up finds the running one rather than starting another.
    assert.match(await shell('npm run env:up'), /An environment is already running \(pid \d+\)/);
  });

  it('env:down stops it: the holding process and the API server are gone', async () => {
    const pid = Number(/The environment is up \(pid (\d+)\)/.exec(printed)?.[1]);
    assert.ok(alive(pid));
    const { server } = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { server: string };
    const { hostname, port } = new URL(server);
    assert.equal(await accepts(hostname, Number(port)), true);
    assert.match(await shell('npm run env:down'), new RegExp(`Stopped the environment \\(pid ${pid}\\)`));
    assert.equal(alive(pid), false);
    assert.equal(await accepts(hostname, Number(port)), false, 'the API server no longer listens');
    assert.match(await shell('npm run env:down'), /No environment is running/);
  });
});
