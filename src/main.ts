/**
 * Composition root and command line of `slotscaler`. The heavy parts (the Kubernetes client, the
 * serving stack, the simulator) are imported by the command that runs them, so `--version`,
 * `--help` and a refused argument answer in a fraction of a second.
 */
import { text } from 'node:stream/consumers';

import { Command, CommanderError, Option } from 'commander';

import { runCollect } from './cli/collect-command.js';
import type { CollectCommandOptions } from './cli/collect-command.js';
import { runDecide } from './cli/decide-command.js';
import { EXPLAIN_OUTPUTS, explainTarget, parseReference } from './cli/explain.js';
import type { ExplainOutput } from './cli/explain.js';
import type { SimulateCommandOptions } from './cli/simulate-command.js';
import {
  DEFAULT_CHECKPOINT_INTERVAL_SECONDS,
  IN_PLACE_DOWN_SECONDS,
  IN_PLACE_UP_SECONDS,
  REDEPLOY_RESTART_SECONDS,
  REDEPLOY_SAVEPOINT_SECONDS,
} from './simulate/job-model.js';
import { BUILTIN_TRACES } from './simulate/traces.js';

import { loadConfig } from './config/load.js';
import { kebabCase } from './config/keys.js';
import { describeFields } from './config/schema.js';
import { isSlotscalerError } from './errors.js';
import { createLogger } from './observability/pino-logger.js';
import { SLOTSCALER_VERSION } from './version.js';

/** Runs the command line and resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('slotscaler')
    .description('Custom-metrics autoscaler for Apache Flink TaskManagers on Kubernetes')
    .version(SLOTSCALER_VERSION, '-V, --version', 'print the version and exit')
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

  program
    .command('simulate')
    .description(
      'Replay a load trace through a Flink job model and the real decision code: figures, and an HTML report with charts',
    )
    .requiredOption(
      '--trace <file|builtin:name>',
      `a CSV of seconds,records_per_second, or builtin:${Object.keys(BUILTIN_TRACES).join('|')}`,
    )
    .option(
      '--annotations <file>',
      'YAML or JSON: slotscaler.dev/* annotations, or a Kubernetes object carrying them',
    )
    .option('--report <file>', 'write a self-contained HTML report with charts')
    .option('--json', 'print JSON instead of a table', false)
    .option(
      '--compare',
      'also run Slotscaler with its rescales taking the other path (in place or redeploy), with its defaults when --annotations is given, and the plain HPA on CPU, side by side',
      false,
    )
    .option('--lag-objective <duration>', 'lag above this counts as over the objective', '60s')
    .option('--tick-interval <duration>', "the scaler's tick interval (default: the config's, 15s)")
    .option('--capacity-per-slot <records/s>', 'records per second one task slot processes', '1000')
    .option('--initial-taskmanagers <n>', 'TaskManagers at the start', '2')
    .option(
      '--rescale <auto|in-place|redeploy>',
      "how Slotscaler's rescales reach the job (auto: in place, as on the adaptive scheduler with Flink >= 1.18)",
      'auto',
    )
    .option(
      '--checkpoint-interval <duration>',
      'seconds between completed checkpoints; a restore replays what was processed since the latest (0: off)',
      `${DEFAULT_CHECKPOINT_INTERVAL_SECONDS}s`,
    )
    .option(
      '--in-place-downtime <duration>',
      `how long an in-place rescale stops the job (default: ${IN_PLACE_UP_SECONDS}s up, ${IN_PLACE_DOWN_SECONDS}s down, measured on the MiniCluster)`,
    )
    .option(
      '--redeploy-downtime <duration>',
      "how long a redeploy's restart stops the job, after its savepoint",
      `${REDEPLOY_RESTART_SECONDS}s`,
    )
    .option(
      '--savepoint-duration <duration>',
      'how long the savepoint a redeploy stops the job with takes',
      `${REDEPLOY_SAVEPOINT_SECONDS}s`,
    )
    .action(async (options: SimulateCommandOptions) => {
      const { runSimulate } = await import('./cli/simulate-command.js');
      exitCode = runSimulate(options, {
        write: (text) => {
          process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
        },
        writeError: (line) => {
          process.stderr.write(`${line}\n`);
        },
      });
    });

  program
    .command('explain')
    .description(
      'The decision history of one target: its last decision, recommendations, scale events and Events',
    )
    .argument('<namespace/name>', 'the target')
    .option('--kind <kind>', 'flinkdeployment, flinkapplication or deployment (default: each in turn)')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'the kubeconfig context to use (default: its current context)')
    .addOption(
      new Option('-o, --output <format>', 'table for people, json or yaml for scripts')
        .choices(EXPLAIN_OUTPUTS)
        .default('table'),
    )
    .action(
      async (
        reference: string,
        options: { kind?: string; kubeconfig?: string; context?: string; output: ExplainOutput },
      ) => {
        const writeError = (line: string): void => {
          process.stderr.write(`slotscaler explain: ${line}\n`);
        };
        if (parseReference(reference) === undefined) {
          writeError(`expected NAMESPACE/NAME, got "${reference}"`);
          exitCode = 2;
          return;
        }
        const [{ KubeConfig }, { HttpKubeClient }] = await Promise.all([
          import('@kubernetes/client-node'),
          import('./kube/kube-client.js'),
        ]);
        const kubeConfig = new KubeConfig();
        if (options.kubeconfig === undefined) kubeConfig.loadFromDefault();
        else kubeConfig.loadFromFile(options.kubeconfig);
        if (options.context !== undefined) {
          if (kubeConfig.getContextObject(options.context) === null) {
            const names = kubeConfig.getContexts().map((context) => context.name);
            writeError(
              `no context "${options.context}" in the kubeconfig (it has: ${names.length === 0 ? 'none' : names.join(', ')})`,
            );
            exitCode = 2;
            return;
          }
          kubeConfig.setCurrentContext(options.context);
        }
        const client = new HttpKubeClient(kubeConfig);
        try {
          exitCode = await explainTarget(
            client,
            reference,
            {
              write: (line) => {
                process.stdout.write(`${line}\n`);
              },
              writeError,
            },
            { output: options.output, ...(options.kind === undefined ? {} : { kind: options.kind }) },
          );
        } catch (err) {
          if (!isSlotscalerError(err)) throw err;
          writeError(err.message);
          exitCode = 1;
        } finally {
          client.close();
        }
      },
    );

  const serve = program
    .command('serve')
    .description(
      'The in-cluster process: watch targets, collect Flink metrics, serve the external metrics API, decide, write (leader only)',
    )
    .option('--config <file>', 'config file (YAML or JSON) with any of the settings below')
    .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster, $KUBECONFIG or ~/.kube/config)');
  // One flag per setting of the config schema: per-target settings act as every target's defaults.
  for (const { key, meta } of describeFields()) {
    const flag =
      meta.form === 'boolean'
        ? `--${kebabCase(key)} [bool]`
        : `--${kebabCase(key)} <${meta.form.includes('|') ? 'value' : meta.form.replace(/ /g, '-')}>`;
    serve.option(
      flag,
      `${meta.description}${meta.default === undefined ? '' : ` (default ${meta.default === '' ? '""' : meta.default})`}`,
    );
  }
  serve.action(async (flags: Record<string, unknown> & { config?: string; kubeconfig?: string }) => {
    const { config: configPath, kubeconfig, ...settings } = flags;
    let loaded;
    try {
      loaded = await loadConfig({ path: configPath, env: process.env, flags: settings });
    } catch (err) {
      if (!isSlotscalerError(err)) throw err;
      process.stderr.write(`slotscaler serve: ${err.message}\n`);
      exitCode = 2;
      return;
    }
    const logger = createLogger({ level: loaded.config.logLevel, format: loaded.config.logFormat });
    const { startServe } = await import('./app/serve.js');
    const serving = await startServe({ loaded, kubeconfigPath: kubeconfig, logger });
    await new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        logger.info({ signal }, 'stopping');
        void serving.stop().then(resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
  });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    // One line for people; the stack only when asked for (a bug report).
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`slotscaler: ${message.split('\n')[0] ?? message}\n`);
    if ((process.env['SLOTSCALER_DEBUG'] ?? '') !== '' && err instanceof Error)
      process.stderr.write(`${err.stack ?? ''}\n`);
    return 1;
  }
}
