/**
 * Composition root and command line of `slotscaler`.
 */
import { text } from 'node:stream/consumers';

import { Command, CommanderError } from 'commander';

import { runCollect } from './cli/collect-command.js';
import type { CollectCommandOptions } from './cli/collect-command.js';
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

  program
    .command('collect')
    .description(
      "Sample a job's JobManager for one window and print what the autoscaler would see, with the REST calls made",
    )
    .requiredOption('--jobmanager <url>', 'JobManager REST URL, e.g. http://my-job-rest.flink:8081')
    .option('--job <id>', 'the job to read (default: the one RUNNING job)')
    .option('--window <duration>', 'how long to sample', '30s')
    .option('--interval <duration>', 'time between samples', '5s')
    .option('--json', 'print JSON instead of a table', false)
    .action(async (options: CollectCommandOptions) => {
      exitCode = await runCollect(options, {
        write: (text) => {
          process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
        },
        writeError: (line) => {
          process.stderr.write(`${line}\n`);
        },
        progress: (line) => {
          if (process.stderr.isTTY) process.stderr.write(`${line}\n`);
        },
      });
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
}
