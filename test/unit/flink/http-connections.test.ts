import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';

import { HttpConnections, originOf } from '../../../src/flink/http-connections.js';
import type { ExchangeOutcome, HttpOrigin } from '../../../src/flink/http-connections.js';

/** Among the pieces of an answer: the server ends the connection, or resets it. */
const END = Symbol('end');
const RESET = Symbol('reset');
type Piece = string | Buffer | typeof END | typeof RESET;

/**
 * A TCP server that answers each request (everything up to an empty line) with what `answer` returns,
 * written in the pieces given (each piece its own write, a moment apart), and counts connections.
 */
class ScriptedServer {
  connections = 0;
  requests: string[] = [];
  answer: (request: string) => readonly Piece[] = () => ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]'];
  private readonly server = net.createServer((socket) => {
    this.connections += 1;
    let buffered = '';
    socket.on('data', (data: Buffer) => {
      buffered += data.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
        const request = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        this.requests.push(request);
        void writeSlowly(socket, this.answer(request));
      }
    });
    socket.on('error', () => undefined);
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function writeSlowly(socket: net.Socket, pieces: readonly Piece[]): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed) return;
    if (piece === END) socket.end();
    else if (piece === RESET) socket.resetAndDestroy();
    else socket.write(piece);
    // Each piece reaches the client on its own.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function exchange(
  connections: HttpConnections,
  origin: HttpOrigin,
  path = '/jobs/overview',
  maxBodyBytes = 1_000_000,
): Promise<ExchangeOutcome> {
  return new Promise((resolve) => {
    connections.send(origin, 'GET', path, undefined, maxBodyBytes, resolve);
  });
}

function bodyOf(outcome: ExchangeOutcome): string {
  if (outcome.kind !== 'answer') assert.fail(`not an answer: ${JSON.stringify(outcome)}`);
  return outcome.body;
}

/** What went wrong, for an outcome of the kind expected. */
function detailOf(outcome: ExchangeOutcome, kind: 'failed' | 'too-large'): string {
  if (outcome.kind !== kind || !('detail' in outcome)) assert.fail(`not ${kind}: ${JSON.stringify(outcome)}`);
  return outcome.detail;
}

describe('HttpConnections', () => {
  const server = new ScriptedServer();
  let origin: HttpOrigin;
  let connections: HttpConnections;

  before(async () => {
    origin = originOf(new URL(await server.start()));
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.connections = 0;
    server.requests = [];
    server.answer = () => ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]'];
    connections = new HttpConnections({ maxIdlePerOrigin: 4, idleTimeoutMs: 60_000 });
  });
  afterEach(() => {
    connections.close();
  });

  it('sends a GET with its Host, asking for JSON and no compression, and reuses the connection', async () => {
    server.answer = () => [
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nRetry-After: 3\r\nContent-Length: 11\r\n\r\n{"jobs":[]}',
    ];
    for (let request = 0; request < 3; request += 1) {
      const outcome = await exchange(connections, origin);
      assert.deepEqual(outcome, {
        kind: 'answer',
        status: 200,
        contentType: 'application/json',
        retryAfter: '3',
        body: '{"jobs":[]}',
      });
    }
    assert.equal(server.connections, 1);
    const [first] = server.requests;
    assert.match(first ?? '', /^GET \/jobs\/overview HTTP\/1\.1\r\n/);
    assert.match(first ?? '', new RegExp(`\r\nHost: ${origin.hostHeader}\r\n`));
    assert.match(first ?? '', /\r\nAccept: application\/json\r\n/);
    assert.match(first ?? '', /\r\nAccept-Encoding: identity(\r\n|$)/);
  });

  it('sends a PUT with its JSON body', async () => {
    let body = '';
    server.answer = () => ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'];
    const outcome = await new Promise<ExchangeOutcome>((resolve) => {
      connections.send(origin, 'PUT', '/jobs/x/resource-requirements', '{"a":"é"}', 1000, resolve);
    });
    assert.equal(bodyOf(outcome), '');
    body = server.requests[0] ?? '';
    assert.match(body, /^PUT \/jobs\/x\/resource-requirements HTTP\/1\.1\r\n/);
    assert.match(body, /\r\nContent-Type: application\/json\r\nContent-Length: 10$/);
  });

  it('reads a body sent in chunks, split anywhere, and the answer after it on the same connection', async () => {
    const chunked = '4;ext=1\r\n[1,2\r\n5\r\n,3,4]\r\n0\r\nX-Trailer: yes\r\n\r\n';
    server.answer = () => ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', ...chunked.split('')];
    assert.equal(bodyOf(await exchange(connections, origin)), '[1,2,3,4]');
    server.answer = () => ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}'];
    assert.equal(bodyOf(await exchange(connections, origin)), '{}');
    assert.equal(server.connections, 1);
  });

  it('reads headers split across packets, and skips an informational answer', async () => {
    server.answer = () => [
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 20',
      '0 OK\r\nContent-Le',
      'ngth: 2\r\n\r',
      '\n[]',
    ];
    assert.equal(bodyOf(await exchange(connections, origin)), '[]');
  });

  it('reads a multi-byte character split across packets', async () => {
    const body = Buffer.from('["é"]');
    server.answer = () => [
      `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`,
      body.subarray(0, 3),
      body.subarray(3),
    ];
    assert.equal(bodyOf(await exchange(connections, origin)), '["é"]');
  });

  it('reads a body framed by the end of the connection, and never reuses that connection', async () => {
    server.answer = () => ['HTTP/1.0 200 OK\r\n\r\n[1,', '2]', END];
    assert.equal(bodyOf(await exchange(connections, origin)), '[1,2]');
    server.answer = () => ['HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n[3]', END];
    assert.equal(bodyOf(await exchange(connections, origin)), '[3]');
    assert.equal(server.connections, 2);
  });

  it('does not reuse a connection the answer asked to close, or one with bytes after the answer', async () => {
    server.answer = () => ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n[]'];
    assert.equal(bodyOf(await exchange(connections, origin)), '[]');
    server.answer = () => ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]garbage'];
    assert.equal(bodyOf(await exchange(connections, origin)), '[]');
    server.answer = () => ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]'];
    assert.equal(bodyOf(await exchange(connections, origin)), '[]');
    assert.equal(server.connections, 3);
  });

  it('does not reuse a connection idle for longer than the idle timeout', async () => {
    const prompt = new HttpConnections({ maxIdlePerOrigin: 4, idleTimeoutMs: 0 });
    try {
      await exchange(prompt, origin);
      await exchange(prompt, origin);
      assert.equal(server.connections, 2);
    } finally {
      prompt.close();
    }
  });

  it('keeps no more idle connections per origin than asked', async () => {
    const one = new HttpConnections({ maxIdlePerOrigin: 1, idleTimeoutMs: 60_000 });
    try {
      await Promise.all([exchange(one, origin), exchange(one, origin), exchange(one, origin)]);
      assert.equal(server.connections, 3);
      await Promise.all([exchange(one, origin), exchange(one, origin)]);
      assert.equal(server.connections, 4, 'one of the two found an idle connection');
    } finally {
      one.close();
    }
  });

  it('refuses an answer over the limit by its Content-Length, or while it streams in', async () => {
    server.answer = () => ['HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n['];
    assert.deepEqual(await exchange(connections, origin, '/x', 1000), {
      kind: 'too-large',
      detail: 'an answer of 5000 bytes (Content-Length)',
    });
    server.answer = () => [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
      `258\r\n${'x'.repeat(600)}\r\n`,
      `258\r\n${'x'.repeat(600)}\r\n`,
    ];
    const outcome = await exchange(connections, origin, '/x', 1000);
    assert.match(detailOf(outcome, 'too-large'), /^cut after \d+ bytes$/);
  });

  it('refuses a compressed answer', async () => {
    server.answer = () => ['HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n[]'];
    assert.deepEqual(await exchange(connections, origin), { kind: 'encoded', encoding: 'gzip' });
  });

  it('fails what is not HTTP, a malformed framing, and a connection closed early', async () => {
    const failures: [readonly Piece[], RegExp][] = [
      [['SSH-2.0-OpenSSH\r\n\r\n'], /not an HTTP\/1\.x answer/],
      [['HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n'], /malformed Content-Length/],
      [['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[]'], /malformed Content-Length/],
      [['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n'], /malformed header line/],
      [['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'], /malformed chunk size/],
      [['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'f'.repeat(2000)], /chunk line over/],
      [[`HTTP/1.1 200 OK\r\nX: ${'y'.repeat(20_000)}`], /headers over 16384 bytes/],
      [[RESET], /ECONNRESET/],
      [[END], /closed before an answer/],
    ];
    for (const [answer, detail] of failures) {
      server.answer = () => answer;
      assert.match(detailOf(await exchange(connections, origin), 'failed'), detail);
    }
  });

  it('reports an answer cut short after its headers, or a body framed by an end that was a reset', async () => {
    server.answer = () => ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[1,', END];
    assert.match(
      detailOf(await exchange(connections, origin), 'failed'),
      /closed before the answer was complete/,
    );
    server.answer = () => ['HTTP/1.0 200 OK\r\n\r\n[1,', RESET];
    assert.match(
      detailOf(await exchange(connections, origin), 'failed'),
      /closed before the answer was complete \(.*ECONNRESET/,
    );
  });

  it('closes the connections in use when closed, failing their exchanges', async () => {
    server.answer = () => [];
    const pending = exchange(connections, origin);
    await new Promise((resolve) => setTimeout(resolve, 30));
    connections.close();
    assert.match(detailOf(await pending, 'failed'), /closed before an answer/);
  });

  it('fails an answer framed by the end of the connection when the pool closes it midway', async () => {
    server.answer = () => ['HTTP/1.0 200 OK\r\n\r\n[1,'];
    const pending = exchange(connections, origin);
    await new Promise((resolve) => setTimeout(resolve, 30));
    connections.close();
    assert.match(detailOf(await pending, 'failed'), /before the answer was complete \(the pool was closed/);
  });

  it('reports nothing for a cancelled exchange, and closes its connection', async () => {
    server.answer = () => [];
    let reported = false;
    const pending = connections.send(origin, 'GET', '/hang', undefined, 1000, () => (reported = true));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(pending.answerStarted, false);
    pending.cancel();
    server.answer = () => ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]'];
    assert.equal(bodyOf(await exchange(connections, origin)), '[]');
    assert.equal(reported, false);
    assert.equal(server.connections, 2, 'the cancelled connection was not reused');
  });
});

describe('originOf', () => {
  it('takes host, port and credentials from the URL', () => {
    const plain = originOf(new URL('http://jm.example:8081'));
    assert.equal(plain.hostname, 'jm.example');
    assert.equal(plain.port, 8081);
    assert.equal(plain.hostHeader, 'jm.example:8081');
    assert.equal(plain.authorization, '');
    const secure = originOf(new URL('https://[::1]/'));
    assert.equal(secure.hostname, '::1');
    assert.equal(secure.port, 443);
    assert.equal(secure.secure, true);
    const withCredentials = originOf(new URL('http://user:p%40ss@jm:8081'));
    assert.equal(
      withCredentials.authorization,
      `Authorization: Basic ${Buffer.from('user:p@ss').toString('base64')}\r\n`,
    );
    assert.notEqual(withCredentials.key, plain.key);
  });
});
