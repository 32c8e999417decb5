/**
 * Client certificate chains, verified against one CA bundle at a time. node:tls can verify against
 * one trust store only, and an aggregated API server has two (the request-header CA for the
 * front proxy, the client CA for ordinary client certificates), so the server accepts any client
 * certificate at the handshake and each authenticator checks the chain here, as Go's
 * `x509.Certificate.Verify` does for k8s.io/apiserver pkg/authentication/request/x509: signature and
 * issuer name at every link, validity dates, CA basic constraints on issuers, and the clientAuth
 * extended key usage (`DefaultVerifyOptions`).
 */
import { X509Certificate } from 'node:crypto';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';
const MAX_CHAIN_LENGTH = 10;

/** The certificates of a PEM bundle (a CA file's content); throws on a malformed certificate. */
export function parsePemBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

function validAt(certificate: X509Certificate, nowMs: number): boolean {
  return Date.parse(certificate.validFrom) <= nowMs && nowMs <= Date.parse(certificate.validTo);
}

function allowsClientAuth(certificate: X509Certificate): boolean {
  // Node names the extended key usage OIDs `keyUsage`; undefined when the extension is absent.
  const usages = certificate.keyUsage as string[] | undefined;
  return usages === undefined || usages.includes(CLIENT_AUTH) || usages.includes(ANY_EXTENDED_KEY_USAGE);
}

function issues(issuer: X509Certificate, subject: X509Certificate): boolean {
  return issuer.ca && subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

/** Why a chain did not verify, for logs and the auth-failure metric. */
export type ChainFailure = 'expired-or-not-yet-valid' | 'wrong-key-usage' | 'unknown-authority';

/**
 * Verifies `leaf` up to one of `roots`, through any of `intermediates` (what the client sent).
 * Returns undefined when the chain holds.
 */
export function verifyClientChain(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  nowMs: number,
): ChainFailure | undefined {
  if (!validAt(leaf, nowMs)) return 'expired-or-not-yet-valid';
  if (!allowsClientAuth(leaf)) return 'wrong-key-usage';
  const visit = (certificate: X509Certificate, depth: number): boolean => {
    for (const root of roots) {
      if (certificate.fingerprint256 === root.fingerprint256) return true;
      if (validAt(root, nowMs) && issues(root, certificate)) return true;
    }
    if (depth >= MAX_CHAIN_LENGTH) return false;
    for (const intermediate of intermediates) {
      if (intermediate.fingerprint256 === certificate.fingerprint256) continue;
      if (!validAt(intermediate, nowMs) || !allowsClientAuth(intermediate)) continue;
      if (issues(intermediate, certificate) && visit(intermediate, depth + 1)) return true;
    }
    return false;
  };
  return visit(leaf, 1) ? undefined : 'unknown-authority';
}

/** The subject's CN and O values of a certificate. */
export function subjectOf(certificate: X509Certificate): { commonName: string; organizations: string[] } {
  const subject = certificate.toLegacyObject().subject as unknown as Record<
    string,
    string | string[] | undefined
  >;
  const asList = (value: string | string[] | undefined): string[] =>
    value === undefined ? [] : Array.isArray(value) ? value : [value];
  return { commonName: asList(subject.CN)[0] ?? '', organizations: asList(subject.O) };
}
