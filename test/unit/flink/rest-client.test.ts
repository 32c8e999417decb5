import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';

import type { FlinkEndpoint } from '../../../src/domain/flink.js';
import {
  FlinkBadResponseError,
  FlinkHttpError,
  FlinkJobNotFoundError,
  FlinkResponseTooLargeError,
  FlinkTimeoutError,
  FlinkUnreachableError,
} from '../../../src/errors.js';
import {
  DEFAULT_FLINK_HTTP_OPTIONS,
  FlinkHttpPool,
  FlinkRestClient,
} from '../../../src/flink/rest-client.js';
import type { FlinkRequestOutcome } from '../../../src/observability/metrics.js';
import { HUGE_BODY_BYTES, startFakeJobManager, typicalJob } from '../../fakes/fake-jobmanager.js';
import type { FakeCluster, FakeJobManagerServer } from '../../fakes/fake-jobmanager.js';

class RecordingObserver {
  readonly attempts: [FlinkEndpoint, FlinkRequestOutcome][] = [];
  observeFlinkRequest(endpoint: FlinkEndpoint, outcome: FlinkRequestOutcome): void {
    this.attempts.push([endpoint, outcome]);
  }
}

describe('FlinkRestClient', () => {
  let server: FakeJobManagerServer;
  let cluster: FakeCluster;
  let observer: RecordingObserver;
  let pool: FlinkHttpPool;
  let client: FlinkRestClient;
  const sleeps: number[] = [];

  before(async () => {
    ({ server, cluster } = await startFakeJobManager({
      jobs: [typicalJob({ vertices: 3, sources: 1 })],
      taskManagers: 3,
      slotsPerTaskManager: 4,
    }));
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    cluster.behave();
    cluster.requests.length = 0;
    sleeps.length = 0;
    observer = new RecordingObserver();
    pool = new FlinkHttpPool(
      { requestTimeoutMs: 300, maxRetries: 2, retryInitialDelayMs: 100, retryMaxDelayMs: 1000 },
      {
        observer,
        random: () => 0.5,
        sleep: (ms) => {
          sleeps.push(ms);
          return Promise.resolve();
        },
      },
    );
    client = pool.clientFor(`${cluster.url}/`);
  });
  afterEach(() => pool.close());

  it('reads every endpoint through the validators', async () => {
    const jobs = await client.listJobs();
    assert.equal(jobs.length, 1);
    const jobId = cluster.jobId;
    const details = await client.getJobDetails(jobId);
    assert.equal(details.state, 'RUNNING');
    const source = details.vertices[0];
    assert.ok(source !== undefined);
    const names = await client.listSubtaskMetricNames(jobId, source.id);
    assert.ok(names.includes('Source__Source_Kafka_0.pendingRecords'));
    const values = await client.getVertexMetrics(jobId, source.id, [
      '0.Source__Source_Kafka_0.pendingRecords',
      '0.nope',
    ]);
    assert.deepEqual(values, [{ id: '0.Source__Source_Kafka_0.pendingRecords', value: 100 }]);
    const aggregated = await client.getAggregatedSubtaskMetrics(
      jobId,
      source.id,
      ['busyTimeMsPerSecond'],
      ['avg'],
    );
    assert.deepEqual(aggregated, [{ id: 'busyTimeMsPerSecond', min: null, max: null, avg: 200, sum: null }]);
    assert.deepEqual(
      await client.getAggregatedSubtaskMetrics(jobId, source.id, ['nope', 'busyTimeMsPerSecond'], ['avg']),
      [],
    );
    const taskManagers = await client.listTaskManagers();
    assert.deepEqual(
      taskManagers.map((tm) => tm.slots),
      [4, 4, 4],
    );
    const attemptsByEndpoint: Partial<Record<FlinkEndpoint, number>> = {};
    for (const [endpoint] of observer.attempts)
      attemptsByEndpoint[endpoint] = (attemptsByEndpoint[endpoint] ?? 0) + 1;
    assert.deepEqual(attemptsByEndpoint, {
      jobs_overview: 1,
      job_details: 1,
      vertex_metrics: 1,
      subtask_metrics: 3,
      taskmanagers: 1,
    });
    assert.ok(observer.attempts.every(([, outcome]) => outcome === 'ok'));
  });

  it('asks nothing for an empty metric list', async () => {
    assert.deepEqual(await client.getVertexMetrics('a', 'b', []), []);
    assert.deepEqual(await client.getAggregatedSubtaskMetrics('a', 'b', [], ['sum']), []);
    assert.equal(cluster.requests.length, 0);
  });

  it('reports an HTML page as a bad response, without retrying', async () => {
    cluster.misbehave('html');
    await assert.rejects(
      client.listJobs(),
      (err: unknown) => err instanceof FlinkBadResponseError && /HTML/.test(err.message),
    );
    assert.equal(cluster.requests.length, 1);
    assert.deepEqual(observer.attempts, [['jobs_overview', 'bad_response']]);
  });

  it('reports garbled and empty bodies as bad responses', async () => {
    cluster.misbehave('garbled', { times: 1 });
    await assert.rejects(client.getJobDetails(cluster.jobId), FlinkBadResponseError);
    cluster.misbehave('empty', { times: 1 });
    await assert.rejects(client.getJobDetails(cluster.jobId), FlinkBadResponseError);
  });

  it('reports a 404 on a job endpoint as a vanished job, without retrying', async () => {
    await assert.rejects(
      client.getJobDetails('00000000000000000000000000000000'),
      (err: unknown) =>
        err instanceof FlinkJobNotFoundError && err.jobId === '00000000000000000000000000000000',
    );
    assert.equal(cluster.requests.length, 1);
    assert.deepEqual(observer.attempts, [['job_details', 'not_found']]);
  });

  it('reports a 404 elsewhere as an HTTP error', async () => {
    cluster.misbehave('not-found');
    await assert.rejects(
      client.listTaskManagers(),
      (err: unknown) => err instanceof FlinkHttpError && err.status === 404,
    );
  });

  it('retries a 5xx with jittered exponential backoff, then succeeds', async () => {
    cluster.misbehave('server-error', { times: 2 });
    const jobs = await client.listJobs();
    assert.equal(jobs.length, 1);
    assert.equal(cluster.requests.length, 3);
    assert.deepEqual(sleeps, [75, 150], 'half fixed, half random (0.5) of 100 ms, then 200 ms');
    assert.deepEqual(
      observer.attempts.map(([, outcome]) => outcome),
      ['http_5xx', 'http_5xx', 'ok'],
    );
  });

  it('gives up after the retries with the last error', async () => {
    cluster.misbehave('html-502');
    await assert.rejects(
      client.listJobs(),
      (err: unknown) => err instanceof FlinkHttpError && err.status === 502 && /HTML page/.test(err.message),
    );
    assert.equal(cluster.requests.length, 3);
  });

  it('retries a 429', async () => {
    cluster.misbehave('too-many-requests', { times: 1 });
    assert.equal((await client.listJobs()).length, 1);
    assert.equal(cluster.requests.length, 2);
  });

  it('does not retry other 4xx', async () => {
    const local = http.createServer((_req, res) => {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end('{"errors":["Bad request: parameter get is invalid"]}');
    });
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    const { port } = local.address() as AddressInfo;
    try {
      await assert.rejects(
        pool.clientFor(`http://127.0.0.1:${port}`).listTaskManagers(),
        (err: unknown) =>
          err instanceof FlinkHttpError && err.status === 400 && /parameter get/.test(err.message),
      );
      assert.equal(observer.attempts.length, 1);
    } finally {
      local.closeAllConnections();
      await new Promise<void>((resolve) => local.close(() => resolve()));
    }
  });

  it('times out a JobManager that does not answer, and retries', async () => {
    cluster.misbehave('hang');
    const started = Date.now();
    await assert.rejects(
      client.listJobs(),
      (err: unknown) => err instanceof FlinkTimeoutError && err.code === 'FLINK_TIMEOUT',
    );
    assert.ok(Date.now() - started < 3000);
    assert.equal(cluster.requests.length, 3);
    assert.deepEqual(
      observer.attempts.map(([, outcome]) => outcome),
      ['timeout', 'timeout', 'timeout'],
    );
  });

  it('reports reset connections as unreachable after retrying', async () => {
    cluster.misbehave('reset');
    await assert.rejects(client.listJobs(), FlinkUnreachableError);
    assert.equal(cluster.requests.length, 3);
  });

  it('reports a closed port as unreachable', async () => {
    const local = http.createServer();
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    const { port } = local.address() as AddressInfo;
    await new Promise<void>((resolve) => local.close(() => resolve()));
    await assert.rejects(
      pool.clientFor(`http://127.0.0.1:${port}`).listJobs(),
      (err: unknown) => err instanceof FlinkUnreachableError && /ECONNREFUSED/.test(err.message),
    );
  });

  it('refuses a URL that is not http(s) without a request', async () => {
    for (const url of ['not a url', 'ftp://jm:21', 'http://jm:8081/?x=1']) {
      const bad = new FlinkRestClient(url, pool);
      await assert.rejects(bad.listJobs(), FlinkUnreachableError, url);
    }
    assert.equal(observer.attempts.length, 0);
  });

  it('refuses an answer larger than the limit', async () => {
    const small = new FlinkHttpPool({ maxResponseBytes: 100, maxRetries: 0 });
    try {
      await assert.rejects(
        small.clientFor(cluster.url).getJobDetails(cluster.jobId),
        (err: unknown) =>
          err instanceof FlinkResponseTooLargeError &&
          err.code === 'FLINK_RESPONSE_TOO_LARGE' &&
          /over the limit of 100 bytes \(flink-max-response-bytes\)/.test(err.message),
      );
    } finally {
      small.close();
    }
  });

  it('holds the shared concurrency limit across clients of different JobManagers', async () => {
    // Two JobManagers that answer each request after a while and count the requests they hold open
    // together (an HTTP agent limits sockets per host; the pool's limit is over all hosts).
    let open = 0;
    let peak = 0;
    let served = 0;
    const answerSlowly = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
      open += 1;
      served += 1;
      peak = Math.max(peak, open);
      setTimeout(() => {
        open -= 1;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"jobs":[]}');
      }, 10);
    };
    const servers = [http.createServer(answerSlowly), http.createServer(answerSlowly)];
    const urls: string[] = [];
    for (const server of servers) {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
    const limited = new FlinkHttpPool({ maxConcurrentRequests: 2 });
    try {
      const [first, second] = urls.map((url) => limited.clientFor(url));
      assert.ok(first !== undefined && second !== undefined);
      await Promise.all(
        Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? first : second).listJobs()),
      );
      assert.equal(served, 20);
      assert.equal(peak, 2, 'two at a time over both JobManagers');
    } finally {
      limited.close();
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }
  });

  describe('answers beyond the size limit, cut while they stream in', () => {
    /** A local server answering with `handler`; closed after the test. */
    async function withServer(
      handler: http.RequestListener,
      run: (url: string) => Promise<void>,
    ): Promise<void> {
      const local = http.createServer(handler);
      await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
      const { port } = local.address() as AddressInfo;
      try {
        await run(`http://127.0.0.1:${port}`);
      } finally {
        local.closeAllConnections();
        await new Promise<void>((resolve) => local.close(() => resolve()));
      }
    }

    it('refuse a 15 MB answer with the default limit of 4 MiB, before it is all sent', async () => {
      assert.equal(DEFAULT_FLINK_HTTP_OPTIONS.maxResponseBytes, 4 * 1024 * 1024);
      const defaults = new FlinkHttpPool({ maxRetries: 0 }, { observer });
      const before = { ...cluster.bodies };
      try {
        cluster.misbehave('huge');
        await assert.rejects(defaults.clientFor(cluster.url).getJobDetails(cluster.jobId), (err: unknown) => {
          assert.ok(err instanceof FlinkResponseTooLargeError, String(err));
          assert.match(err.message, /cut after \d+ bytes, over the limit of 4194304 bytes/);
          return true;
        });
        await new Promise((resolve) => setTimeout(resolve, 50));
        const sent = cluster.bodies.bytesWritten - before.bytesWritten;
        assert.equal(cluster.bodies.cut - before.cut, 1, 'the server saw its answer cut off');
        assert.equal(cluster.bodies.completed, before.completed);
        assert.ok(sent < HUGE_BODY_BYTES, `${sent} bytes sent`);
        assert.deepEqual(observer.attempts, [['job_details', 'too_large']]);
      } finally {
        defaults.close();
      }
    });

    it('cut a body that never ends at the limit, and destroy the socket', async () => {
      const limit = 1024 * 1024;
      let written = 0;
      let closed = false;
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      await withServer(
        (_req, res) => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.write('[');
          const stopAt = Date.now() + 10_000;
          res.on('close', () => (closed = true));
          // As fast as the client reads, at most 256 MiB or 10 s.
          const pump = (): void => {
            while (!res.destroyed && written < 256 * 1024 * 1024 && Date.now() < stopAt) {
              written += chunk.length;
              if (!res.write(chunk)) {
                res.once('drain', pump);
                return;
              }
            }
            res.end();
          };
          pump();
        },
        async (url) => {
          const small = new FlinkHttpPool({ maxResponseBytes: limit, maxRetries: 2 });
          try {
            await assert.rejects(small.clientFor(url).listJobs(), FlinkResponseTooLargeError);
            await new Promise((resolve) => setTimeout(resolve, 100));
            assert.ok(closed, 'the server saw the connection closed');
            // What the kernel's socket buffers took beyond the limit, not the 256 MiB on offer.
            assert.ok(written < limit + 32 * 1024 * 1024, `${written} bytes written`);
          } finally {
            small.close();
          }
        },
      );
    });

    it('refuse an answer whose Content-Length is over the limit without reading it', async () => {
      await withServer(
        (_req, res) => {
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 100_000_000 });
          res.write('[');
        },
        async (url) => {
          const small = new FlinkHttpPool({ maxResponseBytes: 1000, maxRetries: 2, requestTimeoutMs: 5000 });
          try {
            await assert.rejects(
              small.clientFor(url).listJobs(),
              (err: unknown) =>
                err instanceof FlinkResponseTooLargeError &&
                /an answer of 100000000 bytes \(Content-Length\)/.test(err.message),
            );
          } finally {
            small.close();
          }
        },
      );
    });

    it('cut a body that trickles in forever at the request timeout, without retrying it', async () => {
      const cutBefore = cluster.bodies.cut;
      cluster.misbehave('endless');
      await assert.rejects(
        client.getJobDetails(cluster.jobId),
        (err: unknown) =>
          err instanceof FlinkTimeoutError &&
          /its answer did not complete within 300 ms \(cut there\)/.test(err.message),
      );
      assert.equal(cluster.requests.length, 1, 'an answer that began is not asked again');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(cluster.bodies.cut - cutBefore, 1);
      assert.deepEqual(observer.attempts, [['job_details', 'timeout']]);
    });

    it('ask for no compression, and refuse a compressed answer', async () => {
      let acceptEncoding: string | undefined;
      await withServer(
        (req, res) => {
          acceptEncoding = req.headers['accept-encoding'];
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
          res.end(gzipSync('{"jobs":[]}'));
        },
        async (url) => {
          await assert.rejects(
            pool.clientFor(url).listJobs(),
            (err: unknown) => err instanceof FlinkBadResponseError && /gzip-encoded/.test(err.message),
          );
        },
      );
      assert.equal(acceptEncoding, 'identity');
    });

    it('report an answer cut short by the server as unreachable, and retry it', async () => {
      let requests = 0;
      await withServer(
        (_req, res) => {
          requests += 1;
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 1000 });
          res.write('{"jobs":[');
          setTimeout(() => res.socket?.destroy(), 10);
        },
        async (url) => {
          await assert.rejects(
            pool.clientFor(url).listJobs(),
            (err: unknown) =>
              err instanceof FlinkUnreachableError &&
              /closed before the answer was complete/.test(err.message),
          );
        },
      );
      assert.equal(requests, 3);
    });
  });
});
