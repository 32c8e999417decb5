import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';

import { subjectOf, verifyClientChain } from '../../../src/metrics-api/auth/x509.js';
import { createCertificateAuthority, issueCertificate } from '../../../src/metrics-api/tls/certificates.js';
import type { CertificateAuthority } from '../../../src/metrics-api/tls/certificates.js';

const x = (pem: string) => new X509Certificate(pem);

describe('verifyClientChain', () => {
  let root: CertificateAuthority;
  let other: CertificateAuthority;
  let leaf: X509Certificate;
  before(async () => {
    root = await createCertificateAuthority({ commonName: 'root' });
    other = await createCertificateAuthority({ commonName: 'root' }); // same name, other key
    leaf = x(
      (await issueCertificate(root, { commonName: 'u', organizations: ['g1', 'g2'], usage: 'client' }))
        .certPem,
    );
  });

  it('accepts a leaf signed by a root, and reads CN and O', () => {
    assert.equal(
      verifyClientChain(leaf, [], [root.certificate.toString('pem')].map(x), Date.now()),
      undefined,
    );
    assert.deepEqual(subjectOf(leaf), { commonName: 'u', organizations: ['g1', 'g2'] });
  });

  it('rejects a root with the same name but another key', () => {
    assert.equal(verifyClientChain(leaf, [], [x(other.certPem)], Date.now()), 'unknown-authority');
  });

  it('rejects outside the validity period', () => {
    assert.equal(
      verifyClientChain(leaf, [], [x(root.certPem)], Date.now() + 400 * 86_400_000),
      'expired-or-not-yet-valid',
    );
    assert.equal(
      verifyClientChain(leaf, [], [x(root.certPem)], Date.now() - 86_400_000),
      'expired-or-not-yet-valid',
    );
  });

  it('rejects a certificate for server auth only', async () => {
    const server = x((await issueCertificate(root, { commonName: 's', usage: 'server' })).certPem);
    assert.equal(verifyClientChain(server, [], [x(root.certPem)], Date.now()), 'wrong-key-usage');
  });

  it('follows an intermediate CA the client sends, and only a CA one', async () => {
    // An intermediate: a CA whose certificate the root signs.
    const intermediate = await createCertificateAuthority({ commonName: 'intermediate' });
    const signedIntermediate = await issueCertificate(root, { commonName: 'intermediate', usage: 'client' });
    // issueCertificate makes leaves (CA:false): a "chain" through it must fail.
    const viaLeaf = x((await issueCertificate(intermediate, { commonName: 'v', usage: 'client' })).certPem);
    assert.equal(
      verifyClientChain(viaLeaf, [x(signedIntermediate.certPem)], [x(root.certPem)], Date.now()),
      'unknown-authority',
    );
    // With the intermediate CA itself trusted as a root, it holds.
    assert.equal(verifyClientChain(viaLeaf, [], [x(intermediate.certPem)], Date.now()), undefined);
  });

  it('accepts a leaf that is itself a trusted root', () => {
    assert.equal(verifyClientChain(x(root.certPem), [], [x(root.certPem)], Date.now()), undefined);
  });
});
