/**
 * Composition root and command line of `slotscaler`.
 */
import { text } from 'node:stream/consumers';

import { Command, CommanderError } from 'commander';

import { runDecide } from './cli/decide-command.js';

/** Runs the command line and resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('slotscaler')
    .description('Custom-metrics autoscaler for Apache Flink TaskManagers on Kubernetes')
    .exitOverride()
    .configureOutput({ outputError: (message, write) => write(message) })
    .showHelpAfterError();

  program
    .command('decide')
    .description(
      'Read decision inputs (one JSON object, or one per line) on stdin and print each decision as JSON: the same algorithm the scaler runs',
    )
    .option('--pretty', 'indent the output (single input only)', false)
    .action(async (options: { pretty: boolean }) => {
      exitCode = runDecide(
        {
          stdin: await text(process.stdin),
          write: (line) => {
            process.stdout.write(`${line}\n`);
          },
          writeError: (line) => {
            process.stderr.write(`${line}\n`);
          },
        },
        options,
      );
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
}
