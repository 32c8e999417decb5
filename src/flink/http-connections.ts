/**
 * The HTTP/1.1 exchanges of the JobManager REST client, on keep-alive sockets of its own.
 *
 * A collector of thousands of targets makes tens of thousands of small GETs per tick, and node:http
 * spent most of the CPU of one of them in its layers (a `ClientRequest`, an `IncomingMessage` and
 * their streams, the agent's socket bookkeeping and listeners, per request), about three times the
 * cost of the socket I/O itself. Here a connection keeps its listeners and its parser state for its
 * whole life and a request is one write; what the client needs of HTTP is small: GET and PUT, a body
 * framed by Content-Length, chunked encoding or the end of the connection, and a few headers.
 *
 * What stays with the caller (src/flink/rest-client.ts): the attempt's deadline (`Exchange.cancel`),
 * retries, the concurrency limit and the decoding. What is decided here: the answer's size limit,
 * counted as the body streams in and checked against Content-Length first (the socket is destroyed
 * at once on either, so nothing beyond it is read), and refusing an encoding that was not asked for.
 */
import net from 'node:net';
import tls from 'node:tls';

/** Where requests go: one keep-alive pool of sockets per origin. */
export interface HttpOrigin {
  readonly secure: boolean;
  /** Host name or IP address to connect to (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
  /** The `Host` header: the URL's host, with its port when it has one. */
  readonly hostHeader: string;
  /** `Authorization: Basic ...` for a URL with credentials (`http://user:password@jm:8081`), else empty. */
  readonly authorization: string;
  /** Scheme, host, port and credentials: the pool's key. */
  readonly key: string;
}

/** The origin of an http(s) URL. */
export function originOf(url: URL): HttpOrigin {
  const secure = url.protocol === 'https:';
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const credentials =
    url.username === '' && url.password === ''
      ? ''
      : `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  const authorization =
    credentials === '' ? '' : `Authorization: Basic ${Buffer.from(credentials).toString('base64')}\r\n`;
  return {
    secure,
    hostname,
    port,
    hostHeader: url.host,
    authorization,
    key: `${secure ? 'https' : 'http'}://${credentials === '' ? '' : `${url.username}@`}${url.host}`,
  };
}

/** How one exchange ended. */
export type ExchangeOutcome =
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly contentType: string | undefined;
      readonly retryAfter: string | undefined;
      readonly body: string;
    }
  /** Over `maxBodyBytes`: `detail` says whether by Content-Length or while streaming. */
  | { readonly kind: 'too-large'; readonly detail: string }
  /** A Content-Encoding other than identity (compression is never asked for). */
  | { readonly kind: 'encoded'; readonly encoding: string }
  /** The connection failed or closed, or the answer was not HTTP. */
  | { readonly kind: 'failed'; readonly detail: string; readonly cause?: Error };

/** One request in flight; `cancel` ends it (its socket is destroyed) and nothing is reported. */
export interface Exchange {
  /** True once the answer's status line and headers have arrived. */
  readonly answerStarted: boolean;
  cancel(): void;
}

/** Longest status line plus headers accepted (node:http's default `maxHeaderSize`). */
const MAX_HEAD_BYTES = 16 * 1024;
/** Longest chunk-size line (with extensions) of a chunked body. */
const MAX_CHUNK_LINE_BYTES = 1024;

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

type BodyFraming = 'length' | 'chunked' | 'close';
type ChunkPhase = 'size' | 'data' | 'data-end' | 'trailers';

class Request implements Exchange {
  answerStarted = false;
  constructor(
    readonly maxBodyBytes: number,
    readonly done: (outcome: ExchangeOutcome) => void,
    private readonly connection: Connection,
  ) {}
  cancel(): void {
    this.connection.cancel(this);
  }
}

/** One socket, its listeners and its parser, reused by request after request. */
class Connection {
  private request: Request | null = null;
  /** Bytes of a head (or a chunk line, or trailers) still incomplete. */
  private pending: Buffer | null = null;
  private inBody = false;
  private framing: BodyFraming = 'length';
  private remaining = 0;
  private chunkPhase: ChunkPhase = 'size';
  private chunks: Buffer[] = [];
  private received = 0;
  private keepAlive = false;
  private status = 0;
  private contentType: string | undefined;
  private retryAfter: string | undefined;
  private lastError: Error | null = null;
  closed = false;
  /** When it went back to the pool (`performance.now()`), for the idle timeout. */
  idleSinceMs = 0;

  constructor(
    readonly socket: net.Socket,
    private readonly pool: HttpConnections,
    readonly origin: HttpOrigin,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => {
      this.onData(data);
    });
    socket.on('error', (err: Error) => {
      this.lastError = err;
    });
    socket.on('close', () => {
      this.onClose();
    });
  }

  send(request: Request, bytes: string): void {
    this.request = request;
    this.inBody = false;
    this.pending = null;
    this.chunks = [];
    this.received = 0;
    this.socket.write(bytes);
  }

  cancel(request: Request): void {
    if (this.request !== request) return;
    this.request = null;
    this.socket.destroy();
  }

  private finish(outcome: ExchangeOutcome, reusable: boolean): void {
    const request = this.request;
    this.request = null;
    this.chunks = [];
    this.pending = null;
    if (reusable) this.pool.release(this);
    else this.socket.destroy();
    request?.done(outcome);
  }

  private fail(detail: string, cause?: Error): void {
    this.finish(cause === undefined ? { kind: 'failed', detail } : { kind: 'failed', detail, cause }, false);
  }

  private onClose(): void {
    this.closed = true;
    this.pool.forget(this);
    if (this.request === null) return;
    if (this.inBody && this.framing === 'close' && this.lastError === null) {
      this.complete(false);
      return;
    }
    const err = this.lastError;
    if (this.request.answerStarted) {
      const detail = `the connection closed before the answer was complete${err === null ? '' : ` (${err.message})`}`;
      this.fail(detail, err ?? undefined);
    } else if (err !== null) {
      this.fail((err as NodeJS.ErrnoException).code ?? err.message, err);
    } else {
      this.fail('ECONNRESET (the connection closed before an answer)');
    }
  }

  private onData(data: Buffer): void {
    if (this.request === null) {
      // Bytes nobody asked for: the connection is out of step, never to be reused.
      this.socket.destroy();
      return;
    }
    // Each step returns bytes left over only while the answer goes on (after a finish, none).
    let rest: Buffer | null = data;
    while (rest !== null) {
      rest = this.inBody ? this.readBody(rest) : this.readHead(rest);
    }
  }

  /** Takes the status line and headers; returns what follows them, or null when they are not all in. */
  private readHead(data: Buffer): Buffer | null {
    const buffer = this.pending === null ? data : Buffer.concat([this.pending, data]);
    const end = buffer.indexOf(HEAD_END);
    if (end === -1) {
      if (buffer.length > MAX_HEAD_BYTES) this.fail(`headers over ${MAX_HEAD_BYTES} bytes`);
      else this.pending = buffer;
      return null;
    }
    this.pending = null;
    if (end > MAX_HEAD_BYTES) {
      this.fail(`headers over ${MAX_HEAD_BYTES} bytes`);
      return null;
    }
    const request = this.request;
    if (request === null) return null;
    const lines = buffer.toString('latin1', 0, end).split('\r\n');
    const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0] ?? '');
    if (statusLine === null) {
      this.fail(`not an HTTP/1.x answer: ${JSON.stringify((lines[0] ?? '').slice(0, 40))}`);
      return null;
    }
    const status = Number(statusLine[2]);
    let contentLength: number | null = null;
    let transferEncoding: string | null = null;
    let contentEncoding: string | null = null;
    let connection = '';
    this.contentType = undefined;
    this.retryAfter = undefined;
    for (let index = 1; index < lines.length; index += 1) {
      const line = lines[index] ?? '';
      const colon = line.indexOf(':');
      if (colon <= 0) {
        this.fail(`a malformed header line: ${JSON.stringify(line.slice(0, 40))}`);
        return null;
      }
      const value = line.slice(colon + 1).trim();
      switch (line.slice(0, colon).trim().toLowerCase()) {
        case 'content-length':
          if (!/^\d{1,15}$/.test(value) || (contentLength !== null && contentLength !== Number(value))) {
            this.fail(`a malformed Content-Length: ${JSON.stringify(value.slice(0, 40))}`);
            return null;
          }
          contentLength = Number(value);
          break;
        case 'transfer-encoding':
          transferEncoding = value.toLowerCase();
          break;
        case 'content-encoding':
          contentEncoding = value;
          break;
        case 'content-type':
          this.contentType = value;
          break;
        case 'retry-after':
          this.retryAfter = value;
          break;
        case 'connection':
          connection = value.toLowerCase();
          break;
      }
    }
    const rest = buffer.subarray(end + HEAD_END.length);
    // An informational answer (100 Continue...) is followed by the real one.
    if (status >= 100 && status < 200) return rest.length > 0 ? rest : null;

    request.answerStarted = true;
    this.status = status;
    this.keepAlive =
      statusLine[1] === '1' && !connection.split(',').some((token) => token.trim() === 'close');
    if (contentLength !== null && contentLength > request.maxBodyBytes) {
      this.finish(
        { kind: 'too-large', detail: `an answer of ${contentLength} bytes (Content-Length)` },
        false,
      );
      return null;
    }
    if (contentEncoding !== null && contentEncoding.toLowerCase() !== 'identity') {
      this.finish({ kind: 'encoded', encoding: contentEncoding }, false);
      return null;
    }
    this.inBody = true;
    if (status === 204 || status === 304) {
      this.complete(rest.length === 0);
      return null;
    }
    if (transferEncoding !== null) {
      if (transferEncoding.split(',').at(-1)?.trim() === 'chunked') {
        this.framing = 'chunked';
        this.chunkPhase = 'size';
      } else {
        this.framing = 'close';
        this.keepAlive = false;
      }
    } else if (contentLength !== null) {
      this.framing = 'length';
      this.remaining = contentLength;
      if (contentLength === 0) {
        this.complete(rest.length === 0);
        return null;
      }
    } else {
      this.framing = 'close';
      this.keepAlive = false;
    }
    return rest.length > 0 ? rest : null;
  }

  /** Takes body bytes; returns bytes past the end of the answer, or null. */
  private readBody(data: Buffer): Buffer | null {
    switch (this.framing) {
      case 'close':
        this.take(data);
        return null;
      case 'length': {
        if (data.length < this.remaining) {
          this.remaining -= data.length;
          this.take(data);
          return null;
        }
        const last = data.subarray(0, this.remaining);
        const extra = data.length > this.remaining;
        this.remaining = 0;
        if (this.take(last)) this.complete(!extra);
        return null;
      }
      case 'chunked':
        return this.readChunked(data);
    }
  }

  /** Counts and keeps body bytes; false (and the answer refused) past the limit. */
  private take(data: Buffer): boolean {
    const request = this.request;
    if (request === null) return false;
    this.received += data.length;
    if (this.received > request.maxBodyBytes) {
      this.finish({ kind: 'too-large', detail: `cut after ${this.received} bytes` }, false);
      return false;
    }
    if (data.length > 0) this.chunks.push(data);
    return true;
  }

  private readChunked(data: Buffer): Buffer | null {
    let at = 0;
    while (at < data.length && this.request !== null) {
      switch (this.chunkPhase) {
        case 'size':
        case 'data-end':
        case 'trailers': {
          const line = this.readLine(data, at);
          if (line === null) return null;
          at = line.next;
          if (this.chunkPhase === 'data-end') {
            if (line.text !== '') {
              this.fail('a chunk not followed by CRLF');
              return null;
            }
            this.chunkPhase = 'size';
          } else if (this.chunkPhase === 'size') {
            const size = /^([0-9a-fA-F]{1,12})(?:[ \t]*;.*)?$/.exec(line.text);
            if (size === null) {
              this.fail(`a malformed chunk size: ${JSON.stringify(line.text.slice(0, 20))}`);
              return null;
            }
            this.remaining = parseInt(size[1] ?? '', 16);
            this.chunkPhase = this.remaining === 0 ? 'trailers' : 'data';
          } else if (line.text === '') {
            this.complete(at === data.length);
            return null;
          }
          break;
        }
        case 'data': {
          const take = Math.min(this.remaining, data.length - at);
          if (!this.take(data.subarray(at, at + take))) return null;
          this.remaining -= take;
          at += take;
          if (this.remaining === 0) this.chunkPhase = 'data-end';
          break;
        }
      }
    }
    return null;
  }

  /** The next CRLF-terminated line from `at`, kept in `pending` until its end arrives. */
  private readLine(data: Buffer, at: number): { text: string; next: number } | null {
    const buffer =
      this.pending === null ? data.subarray(at) : Buffer.concat([this.pending, data.subarray(at)]);
    const end = buffer.indexOf(CRLF);
    const limit = this.chunkPhase === 'trailers' ? MAX_HEAD_BYTES : MAX_CHUNK_LINE_BYTES;
    if (end === -1) {
      if (buffer.length > limit) this.fail(`a chunk line over ${limit} bytes`);
      else this.pending = Buffer.from(buffer);
      return null;
    }
    const consumedBefore = this.pending === null ? 0 : this.pending.length;
    this.pending = null;
    return { text: buffer.toString('latin1', 0, end), next: at + end + CRLF.length - consumedBefore };
  }

  /** The answer is all in; the socket goes back to the pool when nothing followed it and it may. */
  private complete(clean: boolean): void {
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.received);
    this.finish(
      {
        kind: 'answer',
        status: this.status,
        contentType: this.contentType,
        retryAfter: this.retryAfter,
        body: body === undefined ? '' : body.toString('utf8'),
      },
      clean && this.keepAlive && !this.closed,
    );
  }
}

export interface HttpConnectionsOptions {
  /** Idle keep-alive sockets kept per origin. */
  readonly maxIdlePerOrigin: number;
  /** An idle socket older than this is closed rather than reused. */
  readonly idleTimeoutMs: number;
}

/** The keep-alive sockets of all origins; `send` makes one exchange. */
export class HttpConnections {
  private readonly idle = new Map<string, Connection[]>();
  /** Every connection not closed yet, idle or in use. */
  private readonly open = new Set<Connection>();
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: HttpConnectionsOptions) {
    // Sockets of a JobManager no longer asked (its target gone) are closed within two timeouts.
    this.sweeper = setInterval(() => {
      this.sweep(performance.now());
    }, options.idleTimeoutMs);
    this.sweeper.unref();
  }

  /**
   * Sends `method path` (with `body`, as JSON, when given) on an idle socket of the origin or a new
   * one; `done` is called once with the outcome, unless the exchange is cancelled first.
   */
  send(
    origin: HttpOrigin,
    method: 'GET' | 'PUT',
    path: string,
    body: string | undefined,
    maxBodyBytes: number,
    done: (outcome: ExchangeOutcome) => void,
  ): Exchange {
    const connection = this.take(origin) ?? this.connect(origin);
    const request = new Request(maxBodyBytes, done, connection);
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${origin.hostHeader}\r\n${origin.authorization}Accept: application/json\r\nAccept-Encoding: identity\r\n`;
    if (body !== undefined) {
      head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    } else {
      head += '\r\n';
    }
    connection.send(request, head);
    return request;
  }

  /** @internal A connection whose answer completed cleanly. */
  release(connection: Connection): void {
    const idle = this.idle.get(connection.origin.key) ?? [];
    if (this.closed || idle.length >= this.options.maxIdlePerOrigin) {
      connection.socket.destroy();
      return;
    }
    connection.idleSinceMs = performance.now();
    // An idle socket does not keep the process alive (as node:http's agent does it).
    connection.socket.unref();
    idle.push(connection);
    this.idle.set(connection.origin.key, idle);
  }

  /** @internal A connection that closed. */
  forget(connection: Connection): void {
    this.open.delete(connection);
    const idle = this.idle.get(connection.origin.key);
    if (idle === undefined) return;
    const index = idle.indexOf(connection);
    if (index !== -1) idle.splice(index, 1);
    if (idle.length === 0) this.idle.delete(connection.origin.key);
  }

  /**
   * Closes every socket, idle or in use (an exchange in flight fails as its connection closes), and
   * every one that would go back to the pool later.
   */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    // With an error: a body framed by the end of the connection must fail, not end as if whole.
    for (const connection of [...this.open])
      connection.socket.destroy(new Error('the pool was closed: connection closed before an answer'));
    this.idle.clear();
  }

  /** The most recently used idle socket (last in, first out: the others may time out and close). */
  private take(origin: HttpOrigin): Connection | undefined {
    const idle = this.idle.get(origin.key);
    if (idle === undefined) return undefined;
    const now = performance.now();
    for (let connection = idle.pop(); connection !== undefined; connection = idle.pop()) {
      if (!connection.closed && now - connection.idleSinceMs < this.options.idleTimeoutMs) {
        if (idle.length === 0) this.idle.delete(origin.key);
        connection.socket.ref();
        return connection;
      }
      connection.socket.destroy();
    }
    this.idle.delete(origin.key);
    return undefined;
  }

  private connect(origin: HttpOrigin): Connection {
    const socket = origin.secure
      ? tls.connect({
          host: origin.hostname,
          port: origin.port,
          // SNI takes a name, never an address (RFC 6066 section 3).
          ...(net.isIP(origin.hostname) === 0 ? { servername: origin.hostname } : {}),
          ALPNProtocols: ['http/1.1'],
        })
      : net.connect({ host: origin.hostname, port: origin.port });
    const connection = new Connection(socket, this, origin);
    this.open.add(connection);
    return connection;
  }

  private sweep(now: number): void {
    for (const idle of [...this.idle.values()]) {
      for (const connection of [...idle]) {
        if (now - connection.idleSinceMs >= this.options.idleTimeoutMs) connection.socket.destroy();
      }
    }
  }
}
