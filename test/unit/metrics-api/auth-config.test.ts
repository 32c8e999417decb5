import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import { AuthenticationConfigError } from '../../../src/errors.js';
import { parseAuthenticationConfig } from '../../../src/metrics-api/auth/config.js';
import { createCertificateAuthority } from '../../../src/metrics-api/tls/certificates.js';

describe('parseAuthenticationConfig', () => {
  let caPem: string;
  before(async () => {
    caPem = (await createCertificateAuthority({ commonName: 'ca' })).certPem;
  });

  it('reads the CAs and the request-header lists (JSON arrays in strings, header names trimmed)', () => {
    const config = parseAuthenticationConfig({
      'client-ca-file': caPem + caPem,
      'requestheader-client-ca-file': caPem,
      'requestheader-allowed-names': '["front-proxy-client"]',
      'requestheader-username-headers': '[" X-Remote-User "]',
      'requestheader-uid-headers': '["X-Remote-Uid"]',
      'requestheader-group-headers': '["X-Remote-Group"]',
      'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
    });
    assert.equal(config.clientCa.length, 2);
    assert.deepEqual(
      { ...config.requestHeader, ca: config.requestHeader?.ca.length, caPem: undefined },
      {
        ca: 1,
        caPem: undefined,
        allowedNames: ['front-proxy-client'],
        usernameHeaders: ['x-remote-user'],
        uidHeaders: ['x-remote-uid'],
        groupHeaders: ['x-remote-group'],
        extraHeaderPrefixes: ['x-remote-extra-'],
      },
    );
  });

  it('an empty ConfigMap trusts no certificate; empty strings and null are empty lists', () => {
    assert.deepEqual(parseAuthenticationConfig({}), { clientCa: [], clientCaPem: '' });
    const config = parseAuthenticationConfig({
      'requestheader-client-ca-file': caPem,
      'requestheader-allowed-names': '',
      'requestheader-group-headers': 'null',
    });
    assert.ok(config.requestHeader);
    assert.deepEqual(config.requestHeader.allowedNames, []);
    assert.deepEqual(config.requestHeader.groupHeaders, []);
  });

  for (const [key, value, message] of [
    ['requestheader-allowed-names', 'front-proxy-client', /expected a JSON array of strings/],
    ['requestheader-allowed-names', '[1, 2]', /expected a JSON array of strings/],
    ['requestheader-username-headers', '["  "]', /empty header name/],
    ['client-ca-file', 'not a certificate', /no certificate in the bundle/],
    [
      'client-ca-file',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
      /not a PEM certificate bundle/,
    ],
  ] as const) {
    it(`rejects ${key}: ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => parseAuthenticationConfig({ 'requestheader-client-ca-file': caPem, [key]: value }),
        (err: unknown) =>
          err instanceof AuthenticationConfigError && err.key === key && message.test(err.message),
      );
    });
  }
});
