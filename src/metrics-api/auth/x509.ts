/**
 * Client certificates as the TLS handshake left them. OpenSSL (node:tls) verifies the client's
 * chain during the handshake against both CA bundles of extension-apiserver-authentication (the
 * server's `ca`, with `requestCert: true` and `rejectUnauthorized: false`, so clients without a
 * certificate still connect): signatures, validity dates, CA basic constraints, path length, key
 * usage keyCertSign on issuers, name constraints, unknown critical extensions, and, because the
 * server verifies a client, the clientAuth extended key usage on the leaf and every CA
 * (OpenSSL's `ssl_client` purpose). Its verdict is `socket.authorized`.
 *
 * What OpenSSL does not say is which bundle the chain ended at, and that decides whether the
 * client is the front proxy (request-header CA) or a user (client CA), as two separate
 * `x509.Certificate.Verify` calls decide it in k8s.io/apiserver pkg/authentication/request/x509.
 * Node reports the peer's chain (`getPeerCertificate(true)`: what the client sent, completed from
 * the trust store) linked by issuer name only, so each link is kept only when its signature
 * verifies under the next certificate's key; the bundle is then the one holding a certificate of
 * that linked chain, compared byte for byte.
 */
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

/** OpenSSL's default maximum verification depth; Node reports no longer chain. */
const MAX_CHAIN_LENGTH = 100;

/** The certificates of a PEM bundle (a CA file's content); throws on a malformed certificate. */
export function parsePemBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
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

/** The client certificate of one TLS connection and the handshake's verdict on it. */
export interface PeerCertificate {
  /** Whether OpenSSL verified the chain during the handshake. */
  readonly verified: boolean;
  /** Why not: OpenSSL's error as node:tls names it (`CERT_HAS_EXPIRED`, `INVALID_PURPOSE`, ...). */
  readonly error: string | undefined;
  /** The leaf first, then its issuers as far as each signature verifies under the next one's key. */
  readonly chain: readonly X509Certificate[];
}

/** Signed by `issuer`: its name, key identifier and key usage fit, and the signature verifies. */
function signedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
}

/** The client certificate of `socket`, or undefined when the client sent none. */
export function peerCertificateOf(socket: TLSSocket): PeerCertificate | undefined {
  // null once the connection is gone; an empty object when the client sent no certificate.
  const peer = socket.getPeerCertificate(true) as Partial<DetailedPeerCertificate> | null;
  if (peer?.raw === undefined) return undefined;
  const chain = [new X509Certificate(peer.raw)];
  let previous: Partial<DetailedPeerCertificate> = peer;
  let next = peer.issuerCertificate as Partial<DetailedPeerCertificate> | undefined;
  // A self-signed root is its own issuerCertificate: the walk ends there.
  while (next?.raw !== undefined && next !== previous && chain.length < MAX_CHAIN_LENGTH) {
    const issuer = new X509Certificate(next.raw);
    const last = chain[chain.length - 1];
    if (last === undefined || !signedBy(last, issuer)) break;
    chain.push(issuer);
    previous = next;
    next = next.issuerCertificate;
  }
  const error = socket.authorizationError as Error | string | null | undefined;
  return {
    verified: socket.authorized,
    error: error === null || error === undefined ? undefined : String(error),
    chain,
  };
}

function sameCertificate(a: X509Certificate, b: X509Certificate): boolean {
  return a.raw.equals(b.raw);
}

/**
 * How many certificates of `chain`, from the leaf, lead to a certificate of `bundle` (that one
 * included); 0 when none of them is in it.
 */
export function lengthToAnchor(
  chain: readonly X509Certificate[],
  bundle: readonly X509Certificate[],
): number {
  const index = chain.findIndex((certificate) => bundle.some((ca) => sameCertificate(ca, certificate)));
  return index + 1;
}

/**
 * The time every one of `certificates` is valid in, as epoch milliseconds. OpenSSL checked it at
 * the handshake; a connection outlives that, and the reference server verifies on every request.
 */
export function validityOf(certificates: readonly X509Certificate[]): { fromMs: number; toMs: number } {
  return {
    fromMs: Math.max(...certificates.map((certificate) => Date.parse(certificate.validFrom))),
    toMs: Math.min(...certificates.map((certificate) => Date.parse(certificate.validTo))),
  };
}

/**
 * Whether the handshake verified `peer` against other CA bundles than `bundles`: the last
 * certificate Node could link is in none of them, yet one of them signed it. Node completes the
 * chain from the trust store of the connection's own secure context, so under `bundles` that
 * issuer would be in the chain. Such a connection was set up before the bundles changed; only a
 * new handshake tells what OpenSSL says under the current ones.
 */
export function verifiedUnderOtherBundles(
  peer: PeerCertificate,
  bundles: readonly (readonly X509Certificate[])[],
): boolean {
  const top = peer.chain[peer.chain.length - 1];
  if (top === undefined) return false;
  const cas = bundles.flat();
  if (cas.some((ca) => sameCertificate(ca, top))) return false;
  return cas.some((ca) => signedBy(top, ca));
}
