/**
 * A bounded connection attack on a TLS server on loopback, for the metrics API's flood test and
 * benchmark. It runs in a process of its own (its sockets and CPU are not the caller's) and holds:
 *
 * - `slowloris` connections that complete TLS without a client certificate and send one request's
 *   headers a byte every `byteIntervalMs`, never ending them;
 * - `flood` connections: half are TCP connections that never start their TLS handshake, half are
 *   TLS connections that send requests with made-up bearer tokens (each one a TokenReview for a
 *   server without limits), the next as soon as the last is answered.
 *
 * Every connection the server closes is opened again after `reconnectDelayMs`. It stops after
 * `seconds` at the latest, or when told to, and reports what it did.
 *
 *   startConnectionFlood({ port, slowloris: 250, flood: 1000, seconds: 60 })
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';

export interface ConnectionFloodOptions {
  readonly port: number;
  /** Loopback only: 127.0.0.1 (default) or ::1. */
  readonly host?: '127.0.0.1' | '::1';
  readonly slowloris: number;
  readonly flood: number;
  /** The attack ends by itself after this long. */
  readonly seconds: number;
  /** Default 200 ms. */
  readonly byteIntervalMs?: number;
  /** Default 1000 ms. */
  readonly reconnectDelayMs?: number;
  /** The path the slowloris and the requests ask for. */
  readonly path?: string;
}

/** What the attack did, counted by the attacker. */
export interface ConnectionFloodReport {
  /** Connections opened (TCP connected), reconnections included. */
  readonly opened: number;
  /** Connections the server closed (or refused). */
  readonly closedByServer: number;
  /** Most connections open at once. */
  readonly peakOpen: number;
  /** Connections open when the report was made. */
  readonly open: number;
  /** Answers to the flood's requests, by status code; `error` when the connection was closed. */
  readonly answers: Readonly<Record<string, number>>;
  /** Header bytes the slowloris connections sent. */
  readonly slowlorisBytes: number;
  readonly seconds: number;
}

export interface ConnectionFlood {
  /** The latest report (the attacker sends one every second). */
  current(): ConnectionFloodReport | undefined;
  /** Resolves once `opened` reached `count` (every slot connected at least once), or rejects after `timeoutMs`. */
  waitForOpened(count: number, timeoutMs: number): Promise<ConnectionFloodReport>;
  /** Stops the attack (all its connections close) and resolves with the final report. */
  stop(): Promise<ConnectionFloodReport>;
}

const self = fileURLToPath(import.meta.url);

/** Starts the attack in a child process. */
export async function startConnectionFlood(options: ConnectionFloodOptions): Promise<ConnectionFlood> {
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, self, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let latest: ConnectionFloodReport | undefined;
  let final: ConnectionFloodReport | undefined;
  const waiters = new Set<() => void>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const message = JSON.parse(line) as { report?: ConnectionFloodReport; final?: ConnectionFloodReport };
    if (message.report !== undefined) latest = message.report;
    if (message.final !== undefined) final = latest = message.final;
    for (const waiter of waiters) waiter();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    current: () => latest,
    waitForOpened: (count, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (latest !== undefined && latest.opened >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(latest);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`the flood opened ${latest?.opened ?? 0} of ${count} connections in ${timeoutMs} ms`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    stop: async () => {
      child.stdin?.end('stop\n');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      if (final === undefined) throw new Error('the flood process ended without a report');
      return final;
    },
  };
}

/** The attacker itself (the child process). */
async function runFlood(options: ConnectionFloodOptions): Promise<void> {
  // Checked again here: the options come in as JSON from the command line.
  const host: string = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== '::1') throw new Error('the flood runs on loopback only');
  const byteIntervalMs = options.byteIntervalMs ?? 200;
  const reconnectDelayMs = options.reconnectDelayMs ?? 1000;
  const path = options.path ?? '/apis/external.metrics.k8s.io/v1beta1/namespaces/default/flink_busy_ratio';
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  let stopping = false;
  let opened = 0;
  let closedByServer = 0;
  let openNow = 0;
  let peakOpen = 0;
  let slowlorisBytes = 0;
  const answers: Record<string, number> = {};
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, run: () => void): void => {
    if (stopping) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopping) run();
    }, ms);
    timers.add(timer);
  };
  /** Follows one socket: counts it, and calls `reopen` after the server closed it. */
  const track = (socket: Socket, reopen: () => void): void => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      opened++;
      openNow++;
      peakOpen = Math.max(peakOpen, openNow);
      socket.once('close', () => openNow--);
    });
    socket.once('close', () => {
      sockets.delete(socket);
      if (stopping) return;
      closedByServer++;
      later(reconnectDelayMs, reopen);
    });
  };

  const slowloris = (): void => {
    const socket = connectTls({
      host,
      port: options.port,
      rejectUnauthorized: false,
      servername: 'localhost',
    });
    track(socket, slowloris);
    // The request line and Host, then header lines that never end the header block.
    const head = `GET ${path} HTTP/1.1\r\nHost: localhost\r\n`;
    const filler = 'X-Slow: a\r\n';
    let sent = 0;
    socket.once('secureConnect', () => {
      const drip = setInterval(() => {
        if (socket.destroyed || stopping) {
          clearInterval(drip);
          return;
        }
        socket.write(
          sent < head.length ? head.charAt(sent) : filler.charAt((sent - head.length) % filler.length),
        );
        sent++;
        slowlorisBytes++;
      }, byteIntervalMs);
      socket.once('close', () => clearInterval(drip));
    });
  };

  const silent = (): void => {
    const socket = connectTcp(options.port, host);
    track(socket, silent);
  };

  const requester = (): void => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    const next = (): void => {
      if (stopping) return;
      const request = https.request(
        {
          host,
          port: options.port,
          path,
          agent,
          servername: 'localhost',
          headers: { Authorization: `Bearer ${randomBytes(16).toString('hex')}` },
        },
        (response) => {
          response.resume();
          response.once('end', () => {
            answers[String(response.statusCode)] = (answers[String(response.statusCode)] ?? 0) + 1;
            next();
          });
          response.once('error', () => undefined);
        },
      );
      request.once('socket', (socket: Socket) => {
        if (!sockets.has(socket)) track(socket, () => undefined);
      });
      request.once('error', () => {
        answers['error'] = (answers['error'] ?? 0) + 1;
        later(reconnectDelayMs, next);
      });
      request.end();
    };
    next();
  };

  for (let i = 0; i < options.slowloris; i++) slowloris();
  for (let i = 0; i < options.flood; i++) {
    if (i % 2 === 0) silent();
    else requester();
  }

  const report = (): ConnectionFloodReport => ({
    opened,
    closedByServer,
    peakOpen,
    open: openNow,
    answers: { ...answers },
    slowlorisBytes,
    seconds: (performance.now() - started) / 1000,
  });
  const ticker = setInterval(() => console.log(JSON.stringify({ report: report() })), 1000);
  await new Promise<void>((resolve) => {
    const end = setTimeout(resolve, Math.max(0, deadline - performance.now()));
    createInterface({ input: process.stdin }).on('line', (line) => {
      if (line.trim() === 'stop') {
        clearTimeout(end);
        resolve();
      }
    });
    process.stdin.once('end', () => {
      clearTimeout(end);
      resolve();
    });
  });
  const last = report();
  stopping = true;
  clearInterval(ticker);
  for (const timer of timers) clearTimeout(timer);
  for (const socket of sockets) socket.destroy();
  console.log(JSON.stringify({ final: last }));
}

if (process.argv[1] === self && process.argv[2] !== undefined) {
  await runFlood(JSON.parse(process.argv[2]) as ConnectionFloodOptions);
  process.exit(0);
}
