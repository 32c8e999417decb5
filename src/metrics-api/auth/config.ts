/**
 * The ConfigMap kube-system/extension-apiserver-authentication, parsed: the two CA bundles and the
 * request-header settings. List values are JSON arrays in strings and an empty string means an
 * empty list (k8s.io/apiserver headerrequest `deserializeStrings`).
 */
import type { X509Certificate } from 'node:crypto';

import { AuthenticationConfigError } from '../../errors.js';
import type { AuthenticationConfigData } from '../../domain/auth.js';
import { parsePemBundle } from './x509.js';

/** Front-proxy (request-header) authentication, present when the ConfigMap has its CA. */
export interface RequestHeaderConfig {
  readonly ca: readonly X509Certificate[];
  readonly caPem: string;
  /** CNs the front proxy's certificate may have; empty allows any certificate of the CA. */
  readonly allowedNames: readonly string[];
  readonly usernameHeaders: readonly string[];
  readonly uidHeaders: readonly string[];
  readonly groupHeaders: readonly string[];
  readonly extraHeaderPrefixes: readonly string[];
}

export interface AuthenticationConfig {
  /** client-ca-file; empty when the ConfigMap has none (no client certificate is then accepted). */
  readonly clientCa: readonly X509Certificate[];
  readonly clientCaPem: string;
  readonly requestHeader?: RequestHeaderConfig;
}

function caBundle(
  data: AuthenticationConfigData,
  key: string,
): { certificates: X509Certificate[]; pem: string } {
  const pem = data[key] ?? '';
  if (pem.trim() === '') return { certificates: [], pem: '' };
  let certificates: X509Certificate[];
  try {
    certificates = parsePemBundle(pem);
  } catch (err) {
    throw new AuthenticationConfigError(key, 'not a PEM certificate bundle', { cause: err });
  }
  if (certificates.length === 0) throw new AuthenticationConfigError(key, 'no certificate in the bundle');
  return { certificates, pem };
}

function stringList(data: AuthenticationConfigData, key: string, headerNames: boolean): string[] {
  const text = data[key] ?? '';
  if (text === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AuthenticationConfigError(key, 'expected a JSON array of strings', { cause: err });
  }
  if (parsed === null) return [];
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new AuthenticationConfigError(key, 'expected a JSON array of strings');
  }
  if (!headerNames) return parsed;
  // As k8s.io/apiserver headerrequest `trimHeaders`: names are trimmed; an empty one is an error.
  return parsed.map((name) => {
    const trimmed = name.trim();
    if (trimmed === '') throw new AuthenticationConfigError(key, `empty header name "${name}"`);
    return trimmed.toLowerCase();
  });
}

/** Parses the ConfigMap's data; throws an AuthenticationConfigError naming the bad key. */
export function parseAuthenticationConfig(data: AuthenticationConfigData): AuthenticationConfig {
  const client = caBundle(data, 'client-ca-file');
  const proxy = caBundle(data, 'requestheader-client-ca-file');
  const requestHeader: RequestHeaderConfig | undefined =
    proxy.certificates.length === 0
      ? undefined
      : {
          ca: proxy.certificates,
          caPem: proxy.pem,
          allowedNames: stringList(data, 'requestheader-allowed-names', false),
          usernameHeaders: stringList(data, 'requestheader-username-headers', true),
          uidHeaders: stringList(data, 'requestheader-uid-headers', true),
          groupHeaders: stringList(data, 'requestheader-group-headers', true),
          extraHeaderPrefixes: stringList(data, 'requestheader-extra-headers-prefix', true),
        };
  return {
    clientCa: client.certificates,
    clientCaPem: client.pem,
    ...(requestHeader === undefined ? {} : { requestHeader }),
  };
}
