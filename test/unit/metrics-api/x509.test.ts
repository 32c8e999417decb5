import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';

import {
  lengthToAnchor,
  parsePemBundle,
  subjectOf,
  validityOf,
  verifiedUnderOtherBundles,
} from '../../../src/metrics-api/auth/x509.js';
import type { PeerCertificate } from '../../../src/metrics-api/auth/x509.js';
import { DAY, createRootCa, issue } from '../../support/pki.js';
import type { TestCertificate } from '../../support/pki.js';

const x = (certificate: TestCertificate) => new X509Certificate(certificate.certPem);

describe('client certificate helpers (auth/x509.ts)', () => {
  let root: TestCertificate;
  let sameNameRoot: TestCertificate;
  let intermediate: TestCertificate;
  let leaf: TestCertificate;
  before(async () => {
    root = await createRootCa('root');
    sameNameRoot = await createRootCa('root'); // same name, another key
    intermediate = await issue(root, { commonName: 'intermediate', ca: {} });
    leaf = await issue(intermediate, {
      commonName: 'u',
      organizations: ['g1', 'g2'],
      notAfter: new Date(Date.now() + DAY),
    });
  });

  it('reads CN and O', () => {
    assert.deepEqual(subjectOf(x(leaf)), { commonName: 'u', organizations: ['g1', 'g2'] });
  });

  it('parses every certificate of a PEM bundle', () => {
    const bundle = parsePemBundle(`${root.certPem}\n${intermediate.certPem}`);
    assert.deepEqual(
      bundle.map((certificate) => subjectOf(certificate).commonName),
      ['root', 'intermediate'],
    );
  });

  it('finds the bundle certificate a chain reaches, byte for byte, not by name', () => {
    const chain = [x(leaf), x(intermediate), x(root)];
    assert.equal(lengthToAnchor(chain, [x(root)]), 3);
    assert.equal(lengthToAnchor(chain, [x(intermediate)]), 2);
    assert.equal(lengthToAnchor(chain, [x(sameNameRoot)]), 0);
    assert.equal(lengthToAnchor(chain, []), 0);
  });

  it('the validity of a chain is the intersection of its certificates’ validities', () => {
    const { fromMs, toMs } = validityOf([x(leaf), x(intermediate), x(root)]);
    assert.equal(
      fromMs,
      Math.max(...[leaf, intermediate, root].map((c) => c.certificate.notBefore.getTime())),
    );
    assert.equal(toMs, leaf.certificate.notAfter.getTime());
  });

  it('tells a chain refused under other CA bundles from one refused under these', () => {
    const refused = (...chain: TestCertificate[]): PeerCertificate => ({
      verified: false,
      error: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      chain: chain.map(x),
    });
    // The handshake stopped at the intermediate: its issuer was not trusted then, it is now.
    assert.equal(verifiedUnderOtherBundles(refused(leaf, intermediate), [[x(root)]]), true);
    // Still not trusted, or only a CA of the same name.
    assert.equal(verifiedUnderOtherBundles(refused(leaf, intermediate), [[], [x(sameNameRoot)]]), false);
    // The chain reached a trusted root: the handshake saw these bundles and refused for another reason.
    assert.equal(verifiedUnderOtherBundles(refused(leaf, intermediate, root), [[x(root)]]), false);
  });
});
