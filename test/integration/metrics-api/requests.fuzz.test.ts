/**
 * Fuzzing whole requests against the real metrics API server over TLS, with the real
 * TargetsMetricsProvider over targets whose readings include NaN, infinities and huge or tiny
 * numbers. Requests are written byte by byte on a TLS socket (so methods, paths, percent-encodings,
 * query strings and headers are whatever the generator makes, not what an HTTP client allows).
 * Every answer: never a 5xx; a Kubernetes Status whose code is the HTTP status, a discovery document
 * or an ExternalMetricValueList; no served value that is NaN, Infinity or in exponent notation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { METHODS as METHODS_NODE } from 'node:http';
import { connect } from 'node:tls';

import fc from 'fast-check';
import '../../support/property-seed.js';

import type { MetricReading, ServedTarget } from '../../../src/domain/metrics.js';
import {
  LabelSelectorError,
  matchesSelector,
  parseLabelSelector,
} from '../../../src/metrics-api/label-selector.js';
import { TargetsMetricsProvider, metricLabels } from '../../../src/metrics-api/targets-provider.js';
import { MetricsSnapshot } from '../../../src/domain/metrics-snapshot.js';
import type { MetricsSnapshotSource } from '../../../src/domain/ports.js';
import { METRICS_PATH, createTestPki, startTestServer } from './harness.js';
import type { TestPki, TestServer } from './harness.js';
import type { CertificateAndKey } from '../../../src/metrics-api/tls/certificates.js';

/** The provider's clock. */
const NOW = Date.UTC(2026, 0, 1, 0, 11);

/** Targets the provider serves, replaced by each run (one published snapshot each). */
class Targets implements MetricsSnapshotSource {
  private published = MetricsSnapshot.EMPTY;
  set targets(targets: readonly ServedTarget[]) {
    this.published = new MetricsSnapshot(targets, { tick: this.published.tick + 1, builtAtMs: NOW });
  }
  snapshot(): MetricsSnapshot {
    return this.published;
  }
}

const NAMESPACES = ['flink', 'default', 'a-b'];
/** `constructor` is a valid expression metric name, and a property every plain object has. */
const METRICS = [
  'flink_busy_ratio',
  'flink_demand_ratio',
  'flink_source_lag_seconds',
  'pressure',
  'constructor',
];
const NAMES = ['clicks', 'orders', 'x', 'a-b.c'];

const NASTY_VALUES = [
  0,
  -0,
  0.93,
  -1.5,
  1e-7,
  5e-4,
  -5e-4,
  0.0015,
  123456.789,
  2 ** 53 + 2,
  9.2e15,
  1e21,
  -1e21,
  1e300,
  -1e300,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];
const reading: fc.Arbitrary<MetricReading> = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY_VALUES).map((value) => ({ value })), weight: 3 },
  { arbitrary: fc.double().map((value) => ({ value })), weight: 2 },
  {
    arbitrary: fc.constantFrom<MetricReading>(
      { unavailable: 'stale', detail: 'last sample 90s ago' },
      { unavailable: 'not-finite', detail: 'evaluated to NaN' },
      { unavailable: 'no-data' },
    ),
    weight: 1,
  },
);
const servedTarget: fc.Arbitrary<ServedTarget> = fc
  .record({
    namespace: fc.constantFrom(...NAMESPACES),
    name: fc.constantFrom(...NAMES),
    kind: fc.constantFrom('FlinkDeployment', 'deployment', 'FlinkApplication'),
    jobId: fc.constantFrom(null, 'a5b3c1e2d4f60718293a4b5c6d7e8f90'),
    windowSeconds: fc.constantFrom(1, 59.6, 60, 3600),
    timestampMs: fc.constantFrom(null, Date.UTC(2026, 0, 1, 0, 10, 0, 789)),
    // Fresh, or past its maximum sample age at the provider's clock.
    freshUntilMs: fc.constantFrom(null, NOW + 49_211, NOW - 1),
    metrics: fc.dictionary(fc.constantFrom(...METRICS), reading, { maxKeys: 4 }),
    object: fc.constant({
      apiVersion: 'flink.apache.org/v1beta1',
      kind: 'FlinkDeployment',
      resource: 'flinkdeployments.flink.apache.org',
    }),
    labels: fc.constant({}),
  })
  .map((target) => ({
    ...target,
    id: `${target.kind.toLowerCase()}/${target.namespace}/${target.name}`,
    // A plain object, as the scaler builds it (fc.dictionary may build one without a prototype).
    metrics: { ...target.metrics },
  }));

/** A path segment: a name we serve, a near miss, or anything, raw or percent-encoded. */
const segment = (names: readonly string[]) =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...names), weight: 6 },
    {
      arbitrary: fc.constantFrom(
        '',
        '.',
        '..',
        '%2F',
        '%2f',
        'a%2Fb',
        '%',
        '%G1',
        '%00',
        '%C3%28',
        '%E2%82',
        '%F0%9F%98%80',
        '%25',
        'a;b',
        'flink%5Fbusy%5Fratio',
        'FLINK_BUSY_RATIO',
        'flink_busy_ratio.json',
        '__proto__',
        'constructor',
        'toString',
        'hasOwnProperty',
      ),
      weight: 2,
    },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map(encodeURIComponent), weight: 1 },
    { arbitrary: fc.stringMatching(/^[!$&'()*+,;=:@A-Za-z0-9._~-]{1,12}$/), weight: 1 },
  );

const metricPath = fc
  .tuple(segment(NAMESPACES), segment(METRICS))
  .map(([namespace, metric]) => `${METRICS_PATH}/namespaces/${namespace}/${metric}`);
const otherPath = fc.oneof(
  fc.constantFrom(
    '/',
    '/apis',
    '/apis/',
    '/apis/external.metrics.k8s.io',
    METRICS_PATH,
    `${METRICS_PATH}/`,
    `${METRICS_PATH}/flink_busy_ratio`,
    `${METRICS_PATH}/namespaces/flink`,
    `${METRICS_PATH}/namespaces/flink/flink_busy_ratio/extra`,
    `${METRICS_PATH}//namespaces/flink/flink_busy_ratio`,
    `/apis/external.metrics.k8s.io/v1beta1/namespaces/flink/../flink/flink_busy_ratio`,
    '/apis/custom.metrics.k8s.io/v1beta2',
    '/openapi/v2',
    '/openapi/v3',
    '/openapi/v3/apis/external.metrics.k8s.io/v1beta1',
    '/healthz',
    '/livez',
    '/readyz',
    '/readyz/',
    '/healthz/ping',
    '/metrics',
    '*',
    'http://localhost/apis',
    '//apis',
  ),
  fc
    .array(segment(['apis', 'external.metrics.k8s.io', 'v1beta1', 'namespaces', 'flink']), { maxLength: 6 })
    .map((segments) => `/${segments.join('/')}`),
);

/** Selector text: the grammar's words and symbols in any order, or anything. */
const selector = fc.oneof(
  fc.constantFrom(
    'target=clicks',
    'target in (clicks,orders)',
    'kind=flinkdeployment,!job_id',
    'job_id',
    'x>1',
  ),
  fc
    .array(
      fc.constantFrom(
        'target',
        'kind',
        'job_id',
        'clicks',
        '=',
        '==',
        '!=',
        '!',
        ',',
        '(',
        ')',
        ' in ',
        ' notin ',
        '>',
        '<',
        ' ',
        '1',
      ),
      { maxLength: 10 },
    )
    .map((tokens) => tokens.join('')),
  fc.string({ unit: 'binary', maxLength: 16 }),
);
/** One query parameter, encoded as a client would, or raw. */
const queryPair = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        'labelSelector',
        'fieldSelector',
        'metricLabelSelector',
        'limit',
        'watch',
        'labelselector',
        '',
      ),
      selector,
      fc.boolean(),
    )
    .map(
      ([key, value, encoded]) =>
        `${key}=${encoded ? encodeURIComponent(value) : value.replace(/[\s#]/g, '+')}`,
    ),
  fc.constantFrom(
    'labelSelector',
    'labelSelector=',
    '=',
    '&',
    'labelSelector=%',
    'labelSelector=%zz',
    'a=%00',
    'labelSelector=target%3Dclicks%00',
  ),
);
const query = fc
  .array(queryPair, { maxLength: 4 })
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.join('&')}`));

const METHODS = [
  'GET',
  'GET',
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'TRACE',
  'PROPFIND',
  'CONNECT',
  'get',
  'X-CUSTOM',
];

/** A header value: printable, no CR or LF (those would end the header). */
const headerValue = fc.oneof(
  fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
  fc.constantFrom(
    '',
    ' ',
    'application/json',
    'application/vnd.kubernetes.protobuf',
    'application/json;as=Table;v=v1;g=meta.k8s.io',
    '*/*',
  ),
);
const header = fc.oneof(
  fc.tuple(
    fc.constantFrom(
      'Accept',
      'Audit-Id',
      'Content-Type',
      'User-Agent',
      'Accept-Encoding',
      'X-Remote-User',
      'X-Remote-Group',
      'X-Remote-Extra-Scopes',
      'Authorization',
      'Impersonate-User',
      'Expect',
    ),
    headerValue,
  ),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/), headerValue),
);

interface Caller {
  readonly name: string;
  readonly client?: CertificateAndKey;
  readonly headers: readonly (readonly [string, string])[];
}

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** One request written as raw bytes on a new TLS connection; undefined when the server closes without answering. */
function send(pki: TestPki, port: number, caller: Caller, raw: string): Promise<Answer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: pki.servingCa.certPem,
      ...(caller.client === undefined ? {} : { cert: caller.client.certPem, key: caller.client.keyPem }),
    });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
    socket.on('secureConnect', () => socket.end(raw, 'utf8'));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve(parseAnswer(Buffer.concat(chunks)));
      else reject(err);
    });
    socket.on('close', () => resolve(parseAnswer(Buffer.concat(chunks))));
  });
}

function parseAnswer(all: Buffer): Answer | undefined {
  // Interim answers (`100 Continue` to `Expect: 100-continue`) come before the answer.
  let bytes = all;
  while (/^HTTP\/1\.1 1\d\d /.test(bytes.subarray(0, 13).toString('latin1'))) {
    bytes = bytes.subarray(bytes.indexOf('\r\n\r\n') + 4);
  }
  const text = bytes.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? Number.NaN);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = body.indexOf('\r\n');
      const size = parseInt(body.subarray(0, lineEnd).toString('latin1'), 16);
      if (!(size > 0)) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      body = body.subarray(lineEnd + 2 + size + 2);
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    assert.equal(body.length, Number(headers['content-length']), 'body length is the Content-Length');
  }
  return { status, headers, body: body.toString('utf8') };
}

const STATUS_REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  429: 'TooManyRequests',
};
/** What apimachinery's quantity.String() writes for a canonical integer of milli-units or more. */
const CANONICAL_QUANTITY = /^(0|-?[1-9]\d*[mkMGTPE]?)$/;
const RFC3339_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

interface Request {
  readonly method: string;
  readonly target: string;
  readonly headers: readonly (readonly [string, string])[];
}

const METHODS_NODE_READS: ReadonlySet<string> = new Set(METHODS_NODE);

/**
 * What Node's HTTP layer answers itself, before any of our code runs: a request line llhttp does not
 * read (a method it does not know, bytes outside visible ASCII in the target) gets a bare 400 and the
 * connection closed; an `Expect` other than 100-continue gets 417 (as Go's net/http answers);
 * CONNECT with no 'connect' listener gets the connection closed.
 */
function answeredByNode(request: Request, answer: Answer | undefined): boolean {
  const bare400 = answer?.status === 400 && answer.body === '' && answer.headers['connection'] === 'close';
  if (request.method === 'CONNECT') return answer === undefined || bare400;
  if (!METHODS_NODE_READS.has(request.method) || /[^\x21-\x7e]/.test(request.target)) return bare400;
  const expect = request.headers.find(([name]) => name.toLowerCase() === 'expect');
  if (expect !== undefined && expect[1].trim().toLowerCase() !== '100-continue')
    return answer?.status === 417;
  return false;
}

/** Checks one answer whatever the request was; returns the parsed JSON body, if any. */
function checkAnswer(answer: Answer | undefined, method: string, description: string): unknown {
  assert.ok(answer !== undefined, `no answer: ${description}`);
  assert.ok(answer.status >= 200 && answer.status < 500, `${answer.status}: ${description}\n${answer.body}`);
  if (method === 'HEAD') {
    assert.equal(answer.body, '');
    return undefined;
  }
  if (answer.headers['content-type'] === 'text/plain; charset=utf-8') {
    assert.equal(answer.status, 200, description);
    assert.equal(answer.body, 'ok', description);
    return undefined;
  }
  assert.equal(answer.headers['content-type'], 'application/json', description);
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  if (answer.status >= 400) {
    assert.equal(body['kind'], 'Status', description);
    assert.equal(body['apiVersion'], 'v1');
    assert.equal(body['status'], 'Failure');
    assert.equal(body['code'], answer.status);
    assert.equal(body['reason'], STATUS_REASONS[answer.status], description);
    assert.ok(typeof body['message'] === 'string' && body['message'] !== '', description);
    assert.ok(!body['message'].includes('(undefined)'), `${body['message']}: ${description}`);
    assert.deepEqual(body['metadata'], {});
    return body;
  }
  assert.equal(answer.status, 200, description);
  switch (body['kind']) {
    case 'APIGroupList':
    case 'APIGroup':
    case 'APIResourceList':
      return body;
    case 'ExternalMetricValueList': {
      assert.equal(body['apiVersion'], 'external.metrics.k8s.io/v1beta1');
      const items = body['items'] as Record<string, unknown>[];
      assert.ok(Array.isArray(items) && items.length > 0, description);
      for (const item of items) {
        assert.ok(
          typeof item['value'] === 'string' && CANONICAL_QUANTITY.test(item['value']),
          `value ${String(item['value'])}: ${description}`,
        );
        assert.ok(
          typeof item['timestamp'] === 'string' && RFC3339_SECONDS.test(item['timestamp']),
          description,
        );
        assert.ok(Number.isInteger(item['window']) && (item['window'] as number) >= 1, description);
      }
      return body;
    }
    default:
      assert.fail(`unexpected kind ${String(body['kind'])}: ${description}`);
  }
}

function rawRequest(
  method: string,
  target: string,
  headers: readonly (readonly [string, string])[],
  body: string,
): string {
  const lines = [
    `${method} ${target} HTTP/1.1`,
    'Host: localhost',
    ...headers.map(([name, value]) => `${name}: ${value}`),
  ];
  if (body !== '') lines.push(`Content-Length: ${Buffer.byteLength(body, 'utf8')}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

describe('the metrics API, fuzzed with whole requests over TLS', { timeout: 180_000 }, () => {
  let pki: TestPki;
  let api: TestServer;
  const targets = new Targets();
  let callers: ReadonlyMap<string, Caller>;

  before(async () => {
    pki = await createTestPki();
    const provider = new TargetsMetricsProvider(targets, () => NOW);
    api = await startTestServer(pki, { extra: { provider } });
    // The aggregator (system:masters), a user whose reviews allow only discovery, the aggregator
    // without its user headers, an unknown client certificate, and nobody.
    const all: Caller[] = [
      {
        name: 'aggregator',
        client: pki.frontProxy,
        headers: [
          ['X-Remote-User', 'system:kube-controller-manager'],
          ['X-Remote-Group', 'system:masters'],
        ],
      },
      { name: 'alice', client: pki.alice, headers: [] },
      { name: 'admin', client: pki.admin, headers: [] },
      { name: 'proxy without user', client: pki.frontProxy, headers: [] },
      {
        name: 'stranger',
        client: pki.stranger,
        headers: [
          ['X-Remote-User', 'admin'],
          ['X-Remote-Group', 'system:masters'],
        ],
      },
      { name: 'anonymous', headers: [] },
    ];
    callers = new Map(all.map((caller) => [caller.name, caller]));
  });
  after(() => api.close());

  it('answers any request with a Status, a discovery document or a list; never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('aggregator', 'alice', 'admin', 'proxy without user', 'stranger', 'anonymous'),
        fc.constantFrom(...METHODS),
        fc.oneof({ arbitrary: metricPath, weight: 3 }, { arbitrary: otherPath, weight: 1 }),
        query,
        fc.array(header, { maxLength: 4 }),
        fc.array(servedTarget, { maxLength: 4 }),
        fc.constantFrom('', '{}', 'x'.repeat(100)),
        async (callerName, method, path, search, headers, served, body) => {
          const caller = callers.get(callerName);
          assert.ok(caller !== undefined);
          targets.targets = served;
          const request: Request = {
            method,
            target: `${path}${search}`,
            headers: [...caller.headers, ...headers],
          };
          const raw = rawRequest(
            method,
            request.target,
            request.headers,
            method === 'GET' || method === 'HEAD' ? '' : body,
          );
          const answer = await send(pki, api.port, caller, raw);
          if (answeredByNode(request, answer)) return;
          checkAnswer(answer, method, `${caller.name}: ${JSON.stringify(raw)}`);
        },
      ),
      { numRuns: 250, includeErrorInReport: true },
    );
  });

  it('reads a metric as the selector says: the matching targets, or 400 for a selector that does not parse', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...NAMESPACES),
        fc.constantFrom(...METRICS),
        selector,
        fc.array(servedTarget, { maxLength: 5 }),
        async (namespace, metric, text, served) => {
          targets.targets = served;
          const path = `${METRICS_PATH}/namespaces/${namespace}/${metric}?labelSelector=${encodeURIComponent(text)}`;
          const answer = await send(
            pki,
            api.port,
            { name: 'admin', client: pki.admin, headers: [] },
            rawRequest('GET', path, [], ''),
          );
          const body = checkAnswer(answer, 'GET', path) as {
            kind: string;
            items?: { metricLabels: Record<string, string>; value: string }[];
          };
          const defines = served.some((target) => Object.hasOwn(target.metrics, metric));
          if (!defines && !metric.startsWith('flink_')) {
            assert.equal(answer?.status, 404, `unknown metric ${metric}`);
            return;
          }
          let requirements;
          try {
            requirements = parseLabelSelector(text);
          } catch (err) {
            assert.ok(err instanceof LabelSelectorError);
            assert.equal(answer?.status, 400, path);
            return;
          }
          const matching = served.filter(
            (target) => target.namespace === namespace && matchesSelector(requirements, metricLabels(target)),
          );
          const readings = matching.map((target) =>
            Object.hasOwn(target.metrics, metric) ? target.metrics[metric] : undefined,
          );
          const servable =
            readings.every((one) => one !== undefined && 'value' in one && Number.isFinite(one.value)) &&
            matching.every((target) => target.freshUntilMs === null || NOW <= target.freshUntilMs);
          if (matching.length === 0 || !servable) {
            assert.equal(answer?.status, 404, path);
          } else {
            assert.equal(answer?.status, 200, path);
            assert.deepEqual(
              body.items?.map((item) => item.metricLabels).sort(byTarget),
              matching.map(metricLabels).sort(byTarget),
            );
          }
        },
      ),
      {
        numRuns: 150,
        includeErrorInReport: true,
        // What the fuzzer found: a NaN or infinite reading served (`NaNm`, later a 500), and
        // `constructor` found on a target that does not define it (Object's own constructor).
        examples: [
          ['flink', 'flink_busy_ratio', '', [example('clicks', { flink_busy_ratio: { value: Number.NaN } })]],
          [
            'flink',
            'pressure',
            'target=x',
            [example('x', { pressure: { value: Number.NEGATIVE_INFINITY } })],
          ],
          [
            'flink',
            'constructor',
            '',
            [
              example('clicks', { constructor: { value: 0 } }),
              example('x', { flink_busy_ratio: { value: 1 } }),
            ],
          ],
        ],
      },
    );
  });
});

function example(name: string, metrics: ServedTarget['metrics']): ServedTarget {
  return {
    id: `flinkdeployment/flink/${name}`,
    kind: 'FlinkDeployment',
    namespace: 'flink',
    name,
    jobId: null,
    windowSeconds: 60,
    timestampMs: null,
    freshUntilMs: null,
    metrics,
    object: {
      apiVersion: 'flink.apache.org/v1beta1',
      kind: 'FlinkDeployment',
      resource: 'flinkdeployments.flink.apache.org',
    },
    labels: {},
  };
}

function byTarget(a: Record<string, string>, b: Record<string, string>): number {
  return JSON.stringify(a) < JSON.stringify(b) ? -1 : 1;
}
