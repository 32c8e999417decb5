/**
 * Client certificates crafted good and bad, presented over real TLS to the metrics API on port 0:
 * OpenSSL verifies them at the handshake, the authenticator reads its verdict and which CA bundle
 * the chain ends at. Every refused certificate carries O=system:masters and asks to be the front
 * proxy for a system:masters user, so anything let through would answer 200.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { TLSSocket, connect, createServer } from 'node:tls';
import { after, before, beforeEach, describe, it } from 'node:test';

import type { AuthenticationConfigData } from '../../../src/domain/auth.js';
import {
  DAY,
  ExtendedKeyUsage,
  KeyUsageFlags,
  createRootCa,
  forgeIssuedBy,
  issue,
  presented,
  unknownExtension,
} from '../../support/pki.js';
import type { TestCertificate } from '../../support/pki.js';
import { FakeMetricsProvider } from '../../fakes/metrics-provider.js';
import {
  METRICS_PATH,
  createTestPki,
  proxyHeaders,
  request,
  scrape,
  startTestServer,
  status,
} from './harness.js';
import type { TestPki, TestServer } from './harness.js';

const BUSY = `${METRICS_PATH}/namespaces/flink/flink_busy_ratio`;
const MASTERS = ['system:masters'];

class TestClock {
  current = Date.now();
  nowMs(): number {
    return this.current;
  }
}

interface Cas {
  readonly client: TestCertificate;
  readonly frontProxy: TestCertificate;
}

function configMap(cas: Cas, options: { withoutClientCa?: boolean } = {}): AuthenticationConfigData {
  return {
    ...(options.withoutClientCa === true ? {} : { 'client-ca-file': cas.client.certPem }),
    'requestheader-client-ca-file': cas.frontProxy.certPem,
    'requestheader-allowed-names': '["front-proxy-client"]',
    'requestheader-username-headers': '["X-Remote-User"]',
    'requestheader-group-headers': '["X-Remote-Group"]',
    'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
  };
}

type Presented = ReturnType<typeof presented>;

/**
 * Whether this Node.js reports the intermediates a client sent once OpenSSL verified its chain.
 * Some releases drop them (nodejs/node#65579: 24.21, 26.8); a certificate issued through an
 * intermediate CA is then refused, since no bundle can be told.
 */
async function reportsClientIntermediates(serving: TestPki): Promise<boolean> {
  const root = await createRootCa('probe-root');
  const intermediate = await issue(root, { commonName: 'probe-intermediate', ca: {} });
  const client = presented(await issue(intermediate, { commonName: 'probe' }), intermediate);
  const server = createServer({
    cert: serving.serving.certPem,
    key: serving.serving.keyPem,
    ca: root.certPem,
    requestCert: true,
    rejectUnauthorized: false,
  });
  const reported = once(server, 'secureConnection').then(([socket]) => {
    if (!(socket instanceof TLSSocket)) return false;
    const issuer = socket.getPeerCertificate(true).issuerCertificate as
      { subject?: { CN?: string } } | undefined;
    socket.destroy();
    return socket.authorized && issuer?.subject?.CN === 'probe-intermediate';
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const socket = connect({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca: serving.servingCa.certPem,
    cert: client.certPem,
    key: client.keyPem,
  });
  socket.on('error', () => undefined);
  try {
    return await reported;
  } finally {
    socket.destroy();
    server.close();
  }
}

interface RefusedCase {
  readonly title: string;
  /** node:tls's name of OpenSSL's verification error (UNSPECIFIED for codes it does not name). */
  readonly openssl: string;
  readonly make: (cas: Cas) => Promise<Presented>;
}

const now = Date.now();
const masters = { commonName: 'front-proxy-client', organizations: MASTERS } as const;

const REFUSED: readonly RefusedCase[] = [
  {
    title: 'expired',
    openssl: 'CERT_HAS_EXPIRED',
    make: async ({ client }) =>
      presented(
        await issue(client, {
          ...masters,
          notBefore: new Date(now - 10 * DAY),
          notAfter: new Date(now - DAY),
        }),
      ),
  },
  {
    title: 'not yet valid',
    openssl: 'CERT_NOT_YET_VALID',
    make: async ({ client }) =>
      presented(
        await issue(client, {
          ...masters,
          notBefore: new Date(now + DAY),
          notAfter: new Date(now + 10 * DAY),
        }),
      ),
  },
  {
    title: 'for server auth only (extended key usage serverAuth)',
    openssl: 'INVALID_PURPOSE',
    make: async ({ client }) =>
      presented(await issue(client, { ...masters, extendedKeyUsages: [ExtendedKeyUsage.serverAuth] })),
  },
  {
    title: 'issued by an intermediate CA whose key usage lacks keyCertSign',
    openssl: 'UNSPECIFIED', // X509_V_ERR_KEYUSAGE_NO_CERTSIGN
    make: async ({ client }) => {
      const intermediate = await issue(client, {
        commonName: 'no-cert-sign',
        ca: {},
        keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.cRLSign,
      });
      return presented(await issue(intermediate, masters), intermediate);
    },
  },
  {
    title: 'path length exceeded (a pathlen:0 CA signed another CA)',
    openssl: 'PATH_LENGTH_EXCEEDED',
    make: async ({ client }) => {
      const pathLengthZero = await issue(client, { commonName: 'pathlen-0', ca: { pathLength: 0 } });
      const below = await issue(pathLengthZero, { commonName: 'below-pathlen-0', ca: {} });
      return presented(await issue(below, masters), below, pathLengthZero);
    },
  },
  {
    title: 'an unknown critical extension in the client certificate',
    openssl: 'UNSPECIFIED', // X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION
    make: async ({ client }) =>
      presented(await issue(client, { ...masters, extensions: [unknownExtension(true)] })),
  },
  {
    title: 'an unknown critical extension in the intermediate CA',
    openssl: 'UNSPECIFIED',
    make: async ({ client }) => {
      const intermediate = await issue(client, {
        commonName: 'critical',
        ca: {},
        extensions: [unknownExtension(true)],
      });
      return presented(await issue(intermediate, masters), intermediate);
    },
  },
  {
    title: 'outside the name constraints of its CA',
    openssl: 'UNSPECIFIED', // X509_V_ERR_PERMITTED_VIOLATION
    make: async ({ client }) => {
      const constrained = await issue(client, {
        commonName: 'team-a',
        ca: {},
        permittedDnsSubtrees: ['team-a.example'],
      });
      return presented(await issue(constrained, { ...masters, dnsNames: ['evil.example'] }), constrained);
    },
  },
  {
    title: 'through an intermediate CA for server auth only',
    openssl: 'INVALID_PURPOSE',
    make: async ({ client }) => {
      const intermediate = await issue(client, {
        commonName: 'servers-only',
        ca: {},
        extendedKeyUsages: [ExtendedKeyUsage.serverAuth],
      });
      return presented(await issue(intermediate, masters), intermediate);
    },
  },
  {
    title: 'through an expired intermediate CA',
    openssl: 'CERT_HAS_EXPIRED',
    make: async ({ client }) => {
      const intermediate = await issue(client, {
        commonName: 'expired-ca',
        ca: {},
        notBefore: new Date(now - 10 * DAY),
        notAfter: new Date(now - DAY),
      });
      return presented(await issue(intermediate, masters), intermediate);
    },
  },
  {
    title: 'self-signed',
    openssl: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    make: async () => presented(await issue('self-signed', masters)),
  },
  {
    title: 'self-signed CA with the client CA’s name',
    openssl: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    make: async ({ client }) =>
      presented(
        await issue('self-signed', {
          commonName: client.certificate.subjectName.getField('CN')[0] ?? '',
          organizations: MASTERS,
          ca: {},
          extendedKeyUsages: [ExtendedKeyUsage.clientAuth],
        }),
      ),
  },
  {
    title: 'a front-proxy certificate, expired',
    openssl: 'CERT_HAS_EXPIRED',
    make: async ({ frontProxy }) =>
      presented(
        await issue(frontProxy, {
          ...masters,
          notBefore: new Date(now - 10 * DAY),
          notAfter: new Date(now - DAY),
        }),
      ),
  },
  {
    title: 'a front-proxy certificate, path length exceeded',
    openssl: 'PATH_LENGTH_EXCEEDED',
    make: async ({ frontProxy }) => {
      const pathLengthZero = await issue(frontProxy, {
        commonName: 'proxy-pathlen-0',
        ca: { pathLength: 0 },
      });
      const below = await issue(pathLengthZero, { commonName: 'proxy-below', ca: {} });
      return presented(await issue(below, masters), below, pathLengthZero);
    },
  },
];

describe('client certificates: verified by OpenSSL at the handshake, attributed to a CA bundle', () => {
  let pki: TestPki;
  let cas: Cas;
  let api: TestServer;
  /** Whether node:tls reports client-sent intermediates (see reportsClientIntermediates). */
  let intermediatesReported: boolean;
  /** 200 where a chain through an intermediate can be attributed, else 401 (refused, fail closed). */
  const throughIntermediate = () => (intermediatesReported ? 200 : 401);
  const clock = new TestClock();
  const provider = new FakeMetricsProvider(['flink_busy_ratio']);
  provider.addTarget({
    namespace: 'flink',
    name: 'orders',
    readings: { flink_busy_ratio: { valueMilli: 930 } },
  });
  const get = (options: Parameters<typeof request>[3] = {}) => request(pki, api.port, BUSY, options);
  const lastFailure = () =>
    api.logger.entries.filter((entry) => entry.msg === 'request not authenticated').at(-1)?.obj;

  before(async () => {
    pki = await createTestPki();
    const [client, frontProxy] = await Promise.all([
      createRootCa('crafted-client-ca'),
      createRootCa('crafted-front-proxy-ca'),
    ]);
    cas = { client, frontProxy };
    intermediatesReported = await reportsClientIntermediates(pki);
    api = await startTestServer(pki, { provider, clock, configMap: configMap(cas) });
  });
  after(() => api.close());
  beforeEach(() => {
    clock.current = Date.now();
    api.authorizer.rule = () => true;
    api.authorizer.calls.length = 0;
    api.configSource.set(configMap(cas));
  });

  for (const refused of REFUSED) {
    it(`refuses a certificate ${refused.title}: 401, as the reference server's union answers a failed verification`, async () => {
      const response = await get({
        client: await refused.make(cas),
        headers: proxyHeaders('mallory', MASTERS),
      });
      assert.equal(response.status, 401);
      assert.deepEqual(response.json(), status(401, 'Unauthorized', 'Unauthorized'));
      assert.equal(api.authorizer.calls.length, 0);
      assert.equal(lastFailure()?.reason, 'invalid_client_certificate');
      assert.match(String(lastFailure()?.detail), new RegExp(`not-verified \\(${refused.openssl}\\)`));
    });
  }

  it('a client certificate from client-ca-file: user = CN, groups = O', async () => {
    const alice = await issue(cas.client, { commonName: 'alice', organizations: ['dev', 'ops'] });
    assert.equal((await get({ client: presented(alice) })).status, 200);
    assert.deepEqual(api.authorizer.calls[0]?.user, {
      name: 'alice',
      groups: ['dev', 'ops', 'system:authenticated'],
      extra: {},
    });
  });

  it('the controls of the refused cases hold: a non-critical unknown extension; through an intermediate (pathlen:0), a name within the constraints', async () => {
    const intermediate = await issue(cas.client, { commonName: 'pathlen-0', ca: { pathLength: 0 } });
    const constrained = await issue(cas.client, {
      commonName: 'team-a',
      ca: {},
      permittedDnsSubtrees: ['team-a.example'],
    });
    const carol = presented(
      await issue(cas.client, { commonName: 'carol', extensions: [unknownExtension(false)] }),
    );
    assert.equal((await get({ client: carol })).status, 200);
    const throughIntermediates = [
      presented(await issue(intermediate, { commonName: 'bob' }), intermediate),
      presented(
        await issue(constrained, { commonName: 'dave', dnsNames: ['dave.team-a.example'] }),
        constrained,
      ),
    ];
    for (const client of throughIntermediates) {
      assert.equal((await get({ client })).status, throughIntermediate());
      if (!intermediatesReported)
        assert.match(String(lastFailure()?.detail), /client CA: chain-not-reported/);
    }
    assert.deepEqual(
      api.authorizer.calls.map((call) => call.user.name),
      intermediatesReported ? ['carol', 'bob', 'dave'] : ['carol'],
    );
  });

  it('a front-proxy certificate through an intermediate: the user of the headers', async () => {
    const intermediate = await issue(cas.frontProxy, { commonName: 'proxy-intermediate', ca: {} });
    const proxy = presented(await issue(intermediate, { commonName: 'front-proxy-client' }), intermediate);
    const response = await get({
      client: proxy,
      headers: proxyHeaders('erin', ['team-e'], { scopes: 'read' }),
    });
    assert.equal(response.status, throughIntermediate());
    if (!intermediatesReported) return;
    assert.deepEqual(api.authorizer.calls[0]?.user, {
      name: 'erin',
      groups: ['team-e', 'system:authenticated'],
      extra: { scopes: ['read'] },
    });
  });

  it('a front-proxy certificate whose CN is not in requestheader-allowed-names: 401, its headers ignored', async () => {
    const other = presented(
      await issue(cas.frontProxy, { commonName: 'not-the-aggregator', organizations: MASTERS }),
    );
    const response = await get({ client: other, headers: proxyHeaders('mallory', MASTERS) });
    assert.equal(response.status, 401);
    assert.equal(api.authorizer.calls.length, 0);
    assert.match(
      await scrape(api.registry),
      /slotscaler_metrics_api_auth_failures_total\{reason="proxy_name_not_allowed"\} \d+/,
    );
  });

  it('a client-CA certificate with the front proxy’s CN presented as the front proxy: its headers are ignored, its CN is the user', async () => {
    api.authorizer.rule = (user) => user.name === 'mallory';
    const impostor = presented(await issue(cas.client, { commonName: 'front-proxy-client' }));
    const response = await get({ client: impostor, headers: proxyHeaders('mallory', MASTERS) });
    assert.equal(response.status, 403);
    assert.deepEqual(api.authorizer.calls[0]?.user, {
      name: 'front-proxy-client',
      groups: ['system:authenticated'],
      extra: {},
    });
    // Without client-ca-file it is nobody.
    api.configSource.set(configMap(cas, { withoutClientCa: true }));
    assert.equal((await get({ client: impostor, headers: proxyHeaders('mallory', MASTERS) })).status, 401);
  });

  it('a client-CA certificate sent with a forged link to the front-proxy CA is not the front proxy', async () => {
    // OpenSSL verifies it through the real client CA; node:tls links certificates by name and may
    // report the chain the forged link names (leaf, forged "client CA", front-proxy CA). Only the
    // signature of each link tells. Only mallory would be allowed.
    api.authorizer.rule = (user) => user.name === 'mallory';
    const impostor = await issue(cas.client, { commonName: 'front-proxy-client' });
    const forged = await forgeIssuedBy(cas.client, cas.frontProxy);
    const response = await get({
      client: presented(impostor, forged),
      headers: proxyHeaders('mallory', MASTERS),
    });
    assert.notEqual(response.status, 200);
    assert.ok(api.authorizer.calls.every((call) => call.user.name !== 'mallory'));
  });

  it('a bundle that holds an intermediate CA without its root anchors nothing (OpenSSL needs the root): 401', async () => {
    const intermediate = await issue(cas.client, { commonName: 'intermediate-only', ca: {} });
    api.configSource.set({ ...configMap(cas), 'client-ca-file': intermediate.certPem });
    const ivan = presented(await issue(intermediate, { commonName: 'ivan' }), intermediate);
    const response = await get({ client: ivan });
    assert.equal(response.status, 401);
    assert.match(String(lastFailure()?.detail), /not-verified \(UNABLE_TO_GET_ISSUER_CERT\)/);
  });

  it('a refused certificate does not stop a valid bearer token on the same request', async () => {
    api.tokenReviewer.tokens.set('frank-token', { name: 'frank', groups: [], extra: {} });
    const expired = presented(
      await issue(cas.client, {
        ...masters,
        notBefore: new Date(now - 10 * DAY),
        notAfter: new Date(now - DAY),
      }),
    );
    const response = await get({ client: expired, headers: { authorization: 'Bearer frank-token' } });
    assert.equal(response.status, 200);
    assert.equal(api.authorizer.calls[0]?.user.name, 'frank');
  });

  it('a certificate that expires while its connection stays open is refused from then on, on that connection', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const soon = await issue(cas.client, { commonName: 'grace', notAfter: new Date(Date.now() + DAY) });
      const first = await get({ client: presented(soon), agent });
      assert.equal(first.status, 200);
      clock.current = soon.certificate.notAfter.getTime() + 1_000;
      const second = await get({ client: presented(soon), agent });
      assert.equal(second.localPort, first.localPort, 'the same keep-alive connection');
      assert.equal(second.status, 401);
    } finally {
      agent.destroy();
    }
  });

  it('a connection set up before its CA was trusted is closed at its first request; the next one is verified', async () => {
    api.configSource.set(configMap(cas, { withoutClientCa: true }));
    const heidi = presented(await issue(cas.client, { commonName: 'heidi' }));
    const socket = connect({
      host: '127.0.0.1',
      port: api.port,
      servername: 'localhost',
      ca: pki.servingCa.certPem,
      cert: heidi.certPem,
      key: heidi.keyPem,
    });
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const closed = once(socket, 'close');
    await once(socket, 'secureConnect');
    api.configSource.set(configMap(cas));
    assert.ok(!socket.destroyed);
    socket.write(`GET ${BUSY} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    await closed;
    assert.equal(Buffer.concat(received).toString('utf8'), '', 'closed without an answer');
    assert.equal((await get({ client: heidi })).status, 200);
    assert.equal(api.authorizer.calls.at(-1)?.user.name, 'heidi');
  });
});
