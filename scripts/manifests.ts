/**
 * `manifests/slotscaler.yaml`: the chart rendered as plain YAML for people who do not use Helm.
 * Default values except the certificate, which comes from cert-manager: a Helm-generated one would
 * differ at every render and put a private key into the repository. `npm run docs` writes the file;
 * test/e2e/chart.test.ts fails when it is stale.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MANIFESTS_PATH = 'manifests/slotscaler.yaml';
export const MANIFESTS_RELEASE = { name: 'slotscaler', namespace: 'slotscaler' } as const;
/** The values that differ from the chart's defaults. */
export const MANIFESTS_SET = ['tls.source=certManager'] as const;

const repo = fileURLToPath(new URL('..', import.meta.url));

/** The folder holding helm and kubectl (scripts/kube-tools.sh installs them when missing). */
export function kubeToolsBin(): string {
  return execFileSync('bash', [join(repo, 'scripts/kube-tools.sh')], { encoding: 'utf8' }).trim();
}

/** The manifests' text. */
export function renderManifests(helm = join(kubeToolsBin(), 'helm')): string {
  const rendered = execFileSync(
    helm,
    [
      'template',
      MANIFESTS_RELEASE.name,
      join(repo, 'charts/slotscaler'),
      '--namespace',
      MANIFESTS_RELEASE.namespace,
      ...MANIFESTS_SET.flatMap((value) => ['--set', value]),
    ],
    { encoding: 'utf8' },
  );
  return [
    '# Slotscaler, rendered from charts/slotscaler by `npm run docs` (do not edit): default values, with',
    `# ${MANIFESTS_SET.join(', ')}. Needs cert-manager for the serving certificate; without it, use`,
    '# the Helm chart. Install: kubectl create namespace slotscaler && kubectl apply -f manifests/slotscaler.yaml',
    rendered,
  ].join('\n');
}
