/**
 * Writes the CA of a self-signed serving certificate into the APIService's `caBundle`, so the
 * aggregator trusts it. Only the leader calls this. With more than one replica each generates its own
 * CA and only the leader's would be trusted: self-signed mode is for one replica (or local
 * clusters); give several replicas one certificate from files (cert-manager).
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { ApiregistrationV1Api, V1APIService } from '@kubernetes/client-node';

import { KubeApiError } from '../../errors.js';

/** The two calls this needs: what `kubeConfig.makeApiClient(ApiregistrationV1Api)` offers. */
export type ApiServiceClient = Pick<ApiregistrationV1Api, 'readAPIService' | 'patchAPIService'>;

function normalize(pem: string): string {
  return pem.replace(/\r\n/g, '\n').trim();
}

/**
 * Makes the APIService `name` trust `caPem`; patches only when its caBundle differs (or when it
 * skips TLS verification, which a caBundle must replace: the API rejects both together).
 */
export async function writeApiServiceCaBundle(
  kubeClient: ApiServiceClient,
  name: string,
  caPem: string,
): Promise<'patched' | 'unchanged'> {
  let current: V1APIService;
  try {
    current = await kubeClient.readAPIService({ name });
  } catch (err) {
    throw new KubeApiError(`read APIService ${name}`, err instanceof Error ? err.message : String(err), {
      cause: err,
    });
  }
  const existing = current.spec?.caBundle;
  const existingPem = existing === undefined ? '' : Buffer.from(existing, 'base64').toString('utf8');
  if (normalize(existingPem) === normalize(caPem) && current.spec?.insecureSkipTLSVerify !== true) {
    return 'unchanged';
  }
  const body = {
    spec: { caBundle: Buffer.from(normalize(caPem) + '\n').toString('base64'), insecureSkipTLSVerify: false },
  };
  try {
    await kubeClient.patchAPIService(
      { name, body },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  } catch (err) {
    throw new KubeApiError(`patch APIService ${name}`, err instanceof Error ? err.message : String(err), {
      cause: err,
    });
  }
  return 'patched';
}
