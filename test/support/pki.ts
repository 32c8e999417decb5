/**
 * Certificates crafted for tests, good and bad on purpose: any basic constraints, key usage,
 * extended key usage, validity, name constraints or extra (critical) extension. Built in-process
 * with @peculiar/x509 on node's WebCrypto (ECDSA P-256), nothing written to disk.
 */
import 'reflect-metadata';

import { randomBytes, webcrypto } from 'node:crypto';

import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export const { KeyUsageFlags, ExtendedKeyUsage } = x509;

/** A certificate, its key pair and both as PEM (the shape node:https's `cert`/`key` take). */
export interface TestCertificate {
  readonly certificate: x509.X509Certificate;
  readonly keys: webcrypto.CryptoKeyPair;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateSpec {
  readonly commonName: string;
  /** O values: the groups of a client certificate. */
  readonly organizations?: readonly string[];
  /** A CA certificate (basic constraints CA:TRUE), with an optional path length constraint. */
  readonly ca?: { readonly pathLength?: number };
  /**
   * Key usage bits; default keyCertSign | cRLSign | digitalSignature for a CA, digitalSignature
   * for a leaf; null for no key usage extension.
   */
  readonly keyUsage?: x509.KeyUsageFlags | null;
  /** Extended key usages; default clientAuth for a leaf, none for a CA; null for no extension. */
  readonly extendedKeyUsages?: readonly string[] | null;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Subject alternative DNS names. */
  readonly dnsNames?: readonly string[];
  /** Permitted DNS subtrees (a critical name constraints extension, RFC 5280 4.2.1.10). */
  readonly permittedDnsSubtrees?: readonly string[];
  /** More extensions, as they are. */
  readonly extensions?: readonly x509.Extension[];
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return bytes.toString('hex');
}

/** One DER TLV (lengths under 128 bytes, all these tests need). */
function der(tag: number, content: Uint8Array): Uint8Array {
  if (content.length > 127) throw new Error('der(): content too long for a short-form length');
  return Uint8Array.from([tag, content.length, ...content]);
}

/** NameConstraints ::= SEQUENCE { permittedSubtrees [0] SEQUENCE OF GeneralSubtree { dNSName [2] } } */
function nameConstraints(permittedDns: readonly string[]): x509.Extension {
  const subtrees = permittedDns.map((name) => der(0x30, der(0x82, new TextEncoder().encode(name))));
  const permitted = der(0xa0, Uint8Array.from(subtrees.flatMap((subtree) => [...subtree])));
  return new x509.Extension('2.5.29.30', true, der(0x30, permitted));
}

/** An extension no verifier knows (a private-enterprise OID), with an ASN.1 NULL value. */
export function unknownExtension(critical: boolean): x509.Extension {
  return new x509.Extension('1.3.6.1.4.1.99999.1', critical, Uint8Array.from([0x05, 0x00]));
}

/** Issues `spec`, signed by `issuer`, or self-signed when `issuer` is 'self-signed'. */
export async function issue(
  issuer: TestCertificate | 'self-signed',
  spec: CertificateSpec,
): Promise<TestCertificate> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const isCa = spec.ca !== undefined;
  const notBefore = spec.notBefore ?? new Date(Date.now() - 60_000);
  const extendedKeyUsages =
    spec.extendedKeyUsages === undefined
      ? isCa
        ? null
        : [x509.ExtendedKeyUsage.clientAuth]
      : spec.extendedKeyUsages;
  const signer = issuer === 'self-signed' ? keys : issuer.keys;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(isCa, spec.ca?.pathLength, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(signer.publicKey),
  ];
  if (spec.keyUsage === undefined) {
    extensions.push(
      isCa
        ? new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
            true,
          )
        : new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    );
  } else if (spec.keyUsage !== null) {
    extensions.push(new x509.KeyUsagesExtension(spec.keyUsage, true));
  }
  if (extendedKeyUsages !== null) extensions.push(new x509.ExtendedKeyUsageExtension([...extendedKeyUsages]));
  if (spec.dnsNames !== undefined) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(spec.dnsNames.map((value) => ({ type: 'dns', value }))),
    );
  }
  if (spec.permittedDnsSubtrees !== undefined) extensions.push(nameConstraints(spec.permittedDnsSubtrees));
  extensions.push(...(spec.extensions ?? []));
  const subject: x509.JsonName = [
    { CN: [spec.commonName] },
    ...(spec.organizations ?? []).map((o) => ({ O: [o] })),
  ];
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: issuer === 'self-signed' ? subject : issuer.certificate.subject,
    notBefore,
    notAfter: spec.notAfter ?? new Date(notBefore.getTime() + 30 * DAY_MS),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: signer.privateKey,
    extensions,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certificate,
    keys,
    certPem: certificate.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
  };
}

/**
 * A forged link: a CA certificate with the subject, key and key identifier of `subject`, naming
 * `claimedIssuer` as its issuer (name and authority key identifier), but signed by a key of
 * nobody's. A verifier that links certificates by name finds `claimedIssuer` above `subject`.
 */
export async function forgeIssuedBy(
  subject: TestCertificate,
  claimedIssuer: TestCertificate,
): Promise<TestCertificate> {
  const forger = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: subject.certificate.subject,
    issuer: claimedIssuer.certificate.subject,
    notBefore: subject.certificate.notBefore,
    notAfter: subject.certificate.notAfter,
    signingAlgorithm: ALGORITHM,
    publicKey: subject.keys.publicKey,
    signingKey: forger.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(subject.keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(claimedIssuer.keys.publicKey),
    ],
  });
  return { certificate, keys: subject.keys, certPem: certificate.toString('pem'), keyPem: subject.keyPem };
}

/** A self-signed root CA. */
export function createRootCa(
  commonName: string,
  spec: Partial<CertificateSpec> = {},
): Promise<TestCertificate> {
  return issue('self-signed', { ca: {}, ...spec, commonName });
}

/** What a client presents: its certificate followed by the intermediates it sends, as one PEM. */
export function presented(
  leaf: TestCertificate,
  ...intermediates: readonly TestCertificate[]
): { readonly certPem: string; readonly keyPem: string } {
  return {
    certPem: [leaf, ...intermediates].map((item) => item.certPem.trim()).join('\n') + '\n',
    keyPem: leaf.keyPem,
  };
}

export const DAY = DAY_MS;
