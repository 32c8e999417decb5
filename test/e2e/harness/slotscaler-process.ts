/** The real `slotscaler` process, as bin/slotscaler.js runs it, here through tsx on the source. */
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Starts `slotscaler <args>` from the repo's root with stdout and stderr piped; `env` replaces the
 * environment (none: this process's).
 */
export function spawnSlotscaler(
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
): ChildProcessByStdio<null, Readable, Readable> {
  const entry = `const { main } = await import(${JSON.stringify(join(ROOT, 'src/main.ts'))}); process.exitCode = await main(process.argv.slice(1));`;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', entry, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(env === undefined ? {} : { env }),
  });
}
