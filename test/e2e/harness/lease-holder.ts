// One leader-election candidate in its own process, so a test can crash it (SIGKILL: the Lease is
// not released, as when a node dies).
//
//   node --import tsx test/e2e/harness/lease-holder.ts <kubeconfig> <namespace> <lease> <identity> <leaseDurationMs>
//
// Prints `leading <iso time>` when it wins the Lease; warnings go to stderr. Keeps renewing until
// killed. (A graceful stop is tested in-process, in lease-election.test.ts.)
import { KubeConfig } from '@kubernetes/client-node';

import { systemClock } from '../../../src/runtime/clock.js';
import { HttpKubeClient } from '../../../src/kube/kube-client.js';
import { LeaseElector } from '../../../src/kube/leader-election.js';
import { callbackLogger, logLine } from '../../../src/observability/logger.js';

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

/** Warnings and errors on stderr, each line led by this candidate's identity. */
const stderrLogger = callbackLogger(
  (level, msg, fields) => process.stderr.write(`${identity} ${level} ${logLine(msg, fields)}\n`),
  (level) => level === 'warn' || level === 'error',
);

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
  logger: stderrLogger,
  onStartedLeading: () => {
    process.stdout.write(`leading ${new Date().toISOString()}\n`);
  },
});

await elector.start();
// The elector's timer is unref'd: keep the process alive until it is killed.
setInterval(() => undefined, 60_000);
