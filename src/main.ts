/**
 * Composition root and command line of `slotscaler`.
 */
import { Command, CommanderError } from 'commander';

/** Runs the command line and resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('slotscaler')
    .description('Custom-metrics autoscaler for Apache Flink TaskManagers on Kubernetes')
    .exitOverride()
    .showHelpAfterError();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
}
