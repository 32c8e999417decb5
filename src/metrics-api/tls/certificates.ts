/**
 * X.509 certificates made in-process: the self-signed serving certificate (a CA of its own and a
 * serving certificate it signs, as k8s.io/client-go util/cert `GenerateSelfSignedCertKeyWithFixtures`
 * does for a generic API server) and, for tests and local clusters, client certificates.
 *
 * Built with @peculiar/x509 on node's WebCrypto: ECDSA P-256 keys are generated natively in
 * milliseconds, the library is TypeScript, maintained and without native code. node-forge (what
 * `selfsigned` uses) is pure-JS RSA, whose key generation takes seconds; openssl through
 * child_process would make the server depend on a binary in its image. @peculiar/x509 resolves its
 * algorithms through tsyringe, which needs the Reflect metadata polyfill loaded first: hence the
 * `reflect-metadata` import before it.
 */
import 'reflect-metadata';

import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';

import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** A certificate and its private key, both PEM. */
export interface CertificateAndKey {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A CA that can sign further certificates. */
export interface CertificateAuthority extends CertificateAndKey {
  readonly certificate: x509.X509Certificate;
  readonly keys: webcrypto.CryptoKeyPair;
}

export interface SubjectOptions {
  readonly commonName: string;
  /** O values (for a client certificate: the user's groups). */
  readonly organizations?: readonly string[];
}

export interface IssueOptions extends SubjectOptions {
  /** `server` adds serverAuth and the SANs; `client` adds clientAuth. */
  readonly usage: 'server' | 'client' | 'both';
  /** DNS names and IP addresses, for a serving certificate. */
  readonly hosts?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Extended key usages to write instead of the ones `usage` implies (tests of wrong usage). */
  readonly extendedKeyUsages?: readonly string[];
}

function nameOf(subject: SubjectOptions): x509.JsonName {
  return [{ CN: [subject.commonName] }, ...(subject.organizations ?? []).map((o) => ({ O: [o] }))];
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return bytes.toString('hex');
}

/** A self-signed CA certificate (basic constraints CA, key usage certSign). */
export async function createCertificateAuthority(
  subject: SubjectOptions,
  validity: { notBefore?: Date; notAfter?: Date } = {},
): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const notBefore = validity.notBefore ?? new Date(Date.now() - 60_000);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: nameOf(subject),
    notBefore,
    notAfter: validity.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_MS),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certificate,
    keys,
    certPem: certificate.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
  };
}

/** A leaf certificate signed by `ca`. */
export async function issueCertificate(
  ca: CertificateAuthority,
  options: IssueOptions,
): Promise<CertificateAndKey> {
  const keys = await generateKeys();
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const usages =
    options.extendedKeyUsages ??
    (options.usage === 'server'
      ? [x509.ExtendedKeyUsage.serverAuth]
      : options.usage === 'client'
        ? [x509.ExtendedKeyUsage.clientAuth]
        : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
  const hosts = options.hosts ?? [];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension([...usages]),
    await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
  ];
  if (hosts.length > 0) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        hosts.map((host) => (isIP(host) === 0 ? { type: 'dns', value: host } : { type: 'ip', value: host })),
      ),
    );
  }
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: nameOf(options),
    issuer: ca.certificate.subject,
    notBefore,
    notAfter: options.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_MS),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions,
  });
  return { certPem: certificate.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** A self-signed serving certificate for `hosts`; `caPem` is what the APIService's caBundle needs. */
export async function createSelfSignedServingCertificate(
  hosts: readonly string[],
): Promise<CertificateAndKey & { readonly caPem: string }> {
  const ca = await createCertificateAuthority({
    commonName: `slotscaler-ca@${Math.floor(Date.now() / 1000)}`,
  });
  const serving = await issueCertificate(ca, { commonName: hosts[0] ?? 'localhost', usage: 'server', hosts });
  return { ...serving, caPem: ca.certPem };
}
