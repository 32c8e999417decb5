// The binary as people and log pipelines meet it: `--version`, and the first log line of `serve` (its
// version) in JSON on a pipe and in text on a terminal (a real pseudo-terminal, from util-linux's
// `script`), each format also chosen by hand.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const bin = fileURLToPath(new URL('../../bin/slotscaler.js', import.meta.url));
const packageJson = fileURLToPath(new URL('../../package.json', import.meta.url));

/** A port nobody listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * Starts `slotscaler <args>` (on a terminal with `tty`), resolves to its first line of output, then
 * stops the process group it started.
 */
function firstLine(args: readonly string[], options: { tty?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const command = [process.execPath, bin, ...args];
  const child = options.tty
    ? spawn('script', ['-qfec', command.map(shellQuote).join(' '), '/dev/null'], {
        detached: true,
        env: { ...process.env, ...options.env },
      })
    : spawn(command[0] ?? '', command.slice(1), { detached: true, env: { ...process.env, ...options.env } });
  return new Promise<string>((resolve, reject) => {
    let output = '';
    let errors = '';
    const stop = (): void => {
      clearTimeout(timer);
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no output line within 20 s; stderr: ${errors}`));
    }, 20_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const end = output.indexOf('\n');
      if (end >= 0) {
        stop();
        resolve(output.slice(0, end).replace(/\r$/, ''));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
    child.once('exit', () => {
      stop();
      reject(new Error(`exited before a line; stderr: ${errors}`));
    });
  });
}

describe('slotscaler --version', () => {
  it('prints the package version and exits 0', async () => {
    const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
    const result = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 0);
    assert.equal(result.stdout, `${version}\n`);
    assert.equal(result.stderr, '');
  });
});

describe('slotscaler serve, first log line', () => {
  let dir: string;
  let serveArgs: string[];
  let version: string;

  before(async () => {
    version = (JSON.parse(await readFile(packageJson, 'utf8')) as { version: string }).version;
    dir = await mkdtemp(join(tmpdir(), 'slotscaler-logs-'));
    // An API server that is not there: serve logs its first line, then keeps retrying.
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${await freePort()}` } }],
        users: [{ name: 'u', user: { token: 'none' } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    serveArgs = [
      'serve',
      '--kubeconfig',
      kubeconfig,
      '--metrics-api-port',
      String(await freePort()),
      '--metrics-port',
      String(await freePort()),
    ];
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('on a pipe: JSON with the level by name, an ISO time and the version', async () => {
    const record = JSON.parse(await firstLine(serveArgs)) as Record<string, unknown>;
    assert.equal(record['level'], 'info');
    assert.match(String(record['time']), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(record['version'], version);
    assert.equal(record['node'], process.version);
    assert.equal(record['msg'], 'slotscaler starting');
  });

  it('on a pipe with --log-format text: a text line', async () => {
    const line = await firstLine([...serveArgs, '--log-format', 'text']);
    assert.match(
      line,
      new RegExp(`^\\S+Z INFO  slotscaler starting version=${version.replace(/\./g, '\\.')} `),
    );
  });

  it('on a terminal: a coloured text line; SLOTSCALER_LOG_FORMAT=json keeps JSON there', async () => {
    const line = await firstLine(serveArgs, { tty: true, env: { NO_COLOR: '' } });
    assert.match(line, /^\S+Z /);
    assert.ok(line.includes(' \u001b[32mINFO \u001b[0m slotscaler starting version='), line);
    const json = await firstLine(serveArgs, { tty: true, env: { SLOTSCALER_LOG_FORMAT: 'json' } });
    assert.equal((JSON.parse(json) as { version: string }).version, version);
  });
});
