// `npm run env:up` / `npm run env:down`: keep one local test environment running for a person to
// poke at (a real control plane with the HPA controller, a Flink MiniCluster, the stand-in
// operator), and stop it again. `up` starts a detached process that holds the environment and
// writes its addresses to .cache/env/state.json; `down` stops that process. Both are run as the
// README writes them by test/e2e/env-commands.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startEnvironment } from '../test/e2e/harness/environment.js';
import { alive } from './process.js';

interface EnvState {
  readonly pid: number;
  readonly kubeconfig: string;
  readonly server: string;
  readonly namespace: string;
  readonly flinkDeployment: string;
  readonly flinkRestUrl: string | undefined;
  readonly flinkControlUrl: string | undefined;
  readonly startedAt: string;
}

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cache = process.env['SLOTSCALER_CACHE_DIR'] ?? join(repo, '.cache');
/** Where the running environment's state and log are kept; `SLOTSCALER_ENV_DIR` moves it (tests). */
const dir = process.env['SLOTSCALER_ENV_DIR'] ?? join(cache, 'env');
const statePath = join(dir, 'state.json');
const logPath = join(dir, 'environment.log');

function readState(): EnvState | undefined {
  if (!existsSync(statePath)) return undefined;
  return JSON.parse(readFileSync(statePath, 'utf8')) as EnvState;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** The detached process: starts the environment, writes the state, holds until told to stop. */
async function serve(): Promise<void> {
  const env = await startEnvironment({
    flink: { taskManagers: 1, slotsPerTaskManager: 2, recordsPerSecond: 500, costMicros: 1000 },
    log: (message) => {
      console.log(message);
    },
  });
  const state: EnvState = {
    pid: process.pid,
    kubeconfig: env.kubeconfigPath,
    server: env.controlPlane.server,
    namespace: env.namespace,
    flinkDeployment: env.flinkDeploymentName,
    flinkRestUrl: env.flink?.restUrl,
    flinkControlUrl: env.flink?.controlUrl,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(statePath, `${JSON.stringify(state, null, 2)}\n`);
  const stop = async (signal: string): Promise<void> => {
    console.log(`${signal}: stopping the environment`);
    await env.stop();
    rmSync(statePath, { force: true });
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  await new Promise(() => undefined);
}

async function up(): Promise<void> {
  const running = readState();
  if (running !== undefined && alive(running.pid)) {
    console.log(`An environment is already running (pid ${running.pid}).`);
    printHowTo(running);
    return;
  }
  mkdirSync(dir, { recursive: true });
  rmSync(statePath, { force: true });
  console.log(
    `Starting the environment (the first run builds kube-apiserver and the Flink workload: minutes).`,
  );
  console.log(`Progress: ${logPath}`);
  const log = openSync(logPath, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'serve'], {
    cwd: repo,
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  const deadline = Date.now() + 30 * 60_000;
  let shown = 0;
  while (Date.now() < deadline) {
    const state = readState();
    if (state !== undefined) {
      printHowTo(state);
      return;
    }
    if (child.pid === undefined || !alive(child.pid)) {
      console.error(
        `The environment failed to start:\n${readFileSync(logPath, 'utf8').split('\n').slice(-30).join('\n')}`,
      );
      process.exit(1);
    }
    const lines = readFileSync(logPath, 'utf8').split('\n').filter(Boolean);
    for (const line of lines.slice(shown)) console.log(`  ${line}`);
    shown = lines.length;
    await sleep(500);
  }
  console.error('The environment did not come up within 30 minutes; see the log above.');
  process.exit(1);
}

function printHowTo(state: EnvState): void {
  const tools = spawnSync('bash', [join(repo, 'scripts/kube-tools.sh')], { encoding: 'utf8' });
  const bin = tools.status === 0 ? tools.stdout.trim() : undefined;
  console.log(`
The environment is up (pid ${state.pid}).

  export KUBECONFIG=${state.kubeconfig}${bin === undefined ? '' : `\n  export PATH=${bin}:$PATH          # kubectl and helm`}
  kubectl get flinkdeployments -n ${state.namespace}
  kubectl get --raw /version

  Flink REST API:      ${state.flinkRestUrl ?? '(none)'}
  Load knobs:          curl -XPOST ${state.flinkControlUrl ?? '<control>'}/rate -d '{"recordsPerSecond": 5000}'
                       curl ${state.flinkControlUrl ?? '<control>'}/state
  Stop it:             npm run env:down`);
}

async function down(): Promise<void> {
  const state = readState();
  if (state === undefined || !alive(state.pid)) {
    rmSync(statePath, { force: true });
    console.log('No environment is running.');
    return;
  }
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (alive(state.pid) && Date.now() < deadline) await sleep(200);
  if (alive(state.pid)) process.kill(state.pid, 'SIGKILL');
  rmSync(statePath, { force: true });
  console.log(`Stopped the environment (pid ${state.pid}).`);
}

const command = process.argv[2];
if (command === 'up') await up();
else if (command === 'down') await down();
else if (command === 'serve') await serve();
else {
  console.error('usage: scripts/env.ts up|down');
  process.exit(2);
}
