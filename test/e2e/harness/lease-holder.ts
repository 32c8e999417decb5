// One leader-election candidate in its own process, so a test can crash it (SIGKILL: the Lease is
// not released) or stop it (SIGTERM: a graceful stop that releases it).
//
//   node --import tsx test/e2e/harness/lease-holder.ts <kubeconfig> <namespace> <lease> <identity> <leaseDurationMs>
//
// Prints `leading <iso time>` when it wins the Lease and `stopped-leading <iso time>` if it loses it;
// warnings go to stderr. Keeps renewing until killed.
import { KubeConfig } from '@kubernetes/client-node';

import { systemClock } from '../../../src/collector/clock.js';
import { HttpKubeClient } from '../../../src/kube/kube-client.js';
import { LeaseElector } from '../../../src/kube/leader-election.js';
import type { Logger } from '../../../src/observability/logger.js';

const [kubeconfigPath, namespace, name, identity, durationArg] = process.argv.slice(2);
if (
  kubeconfigPath === undefined ||
  namespace === undefined ||
  name === undefined ||
  identity === undefined ||
  durationArg === undefined
) {
  console.error('usage: lease-holder.ts <kubeconfig> <namespace> <lease> <identity> <leaseDurationMs>');
  process.exit(2);
}
const leaseDurationMs = Number(durationArg);
if (!Number.isInteger(leaseDurationMs) || leaseDurationMs < 1000) {
  console.error(`bad leaseDurationMs: ${durationArg}`);
  process.exit(2);
}

function stderrLogger(bindings: Record<string, unknown>): Logger {
  const write =
    (level: string) =>
    (obj: Record<string, unknown>, msg: string): void => {
      const fields = JSON.stringify({ ...bindings, ...obj }, (_k, v: unknown) =>
        v instanceof Error ? v.message : v,
      );
      process.stderr.write(`${identity} ${level} ${msg} ${fields}\n`);
    };
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: write('warn'),
    error: write('error'),
    child: (more) => stderrLogger({ ...bindings, ...more }),
  };
}

const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(kubeconfigPath);
const client = new HttpKubeClient(kubeConfig);
const elector = new LeaseElector({
  client,
  namespace,
  name,
  identity,
  leaseDurationMs,
  clock: systemClock,
  logger: stderrLogger({}),
  onStartedLeading: () => {
    process.stdout.write(`leading ${new Date().toISOString()}\n`);
  },
  onStoppedLeading: () => {
    process.stdout.write(`stopped-leading ${new Date().toISOString()}\n`);
  },
});

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await elector.stop();
  client.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());

await elector.start();
// The elector's timer is unref'd: keep the process alive until it is killed.
setInterval(() => undefined, 60_000);
