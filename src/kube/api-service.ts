/**
 * Writes the CA of a self-signed serving certificate into the APIService's `caBundle`, so the
 * aggregator trusts it. Only the leader calls this. With more than one replica each generates its own
 * CA and only the leader's would be trusted: self-signed mode is for one replica (or local
 * clusters); give several replicas one certificate from files (cert-manager).
 */
import { KubeApiError } from '../errors.js';
import { requestSuccess } from './kube-client.js';
import type { KubeClient, KubeResponse } from './kube-client.js';

function normalize(pem: string): string {
  return pem.replace(/\r\n/g, '\n').trim();
}

/**
 * Makes the APIService `name` trust `caPem`, with one GET and at most one merge patch (each under
 * the client's request timeout); patches only when its caBundle differs (or when it skips TLS
 * verification, which a caBundle must replace: the API rejects both together). Throws a
 * `KubeApiError` when either call fails. With `absentOk`, an APIService that does not exist is
 * `absent` (one more GET first), not an error.
 */
export async function writeApiServiceCaBundle(
  client: KubeClient,
  name: string,
  caPem: string,
  options: { readonly absentOk?: boolean } = {},
): Promise<'patched' | 'unchanged' | 'absent'> {
  const path = `/apis/apiregistration.k8s.io/v1/apiservices/${encodeURIComponent(name)}`;
  let read: KubeResponse;
  try {
    read = await client.request({ method: 'GET', path });
  } catch (err) {
    throw new KubeApiError(`read APIService ${name}`, err instanceof Error ? err.message : String(err), {
      cause: err,
    });
  }
  // An optional APIService (the custom metrics API's, when the cluster routes it elsewhere) may not exist.
  if (read.status === 404 && options.absentOk === true) return 'absent';
  if (read.status < 200 || read.status > 299)
    throw new KubeApiError(`read APIService ${name}`, `HTTP ${read.status}`);
  const current = read.body;
  const spec = (current as { spec?: { caBundle?: unknown; insecureSkipTLSVerify?: unknown } } | null)?.spec;
  const existing = typeof spec?.caBundle === 'string' ? spec.caBundle : '';
  const existingPem = Buffer.from(existing, 'base64').toString('utf8');
  if (normalize(existingPem) === normalize(caPem) && spec?.insecureSkipTLSVerify !== true) {
    return 'unchanged';
  }
  await requestSuccess(client, `patch APIService ${name}`, {
    method: 'PATCH',
    path,
    contentType: 'application/merge-patch+json',
    body: {
      spec: {
        caBundle: Buffer.from(normalize(caPem) + '\n').toString('base64'),
        insecureSkipTLSVerify: false,
      },
    },
  });
  return 'patched';
}
