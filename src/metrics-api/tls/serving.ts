/**
 * The serving certificate: read from files and read again when they change (a Secret mount swaps
 * them behind a symlink), or generated at start. A new pair is checked (it parses, the key matches)
 * before it is used; a bad one is logged and the previous pair stays. The server applies a new pair
 * with `setSecureContext`, which serves it on new connections and leaves open ones alone, like
 * k8s.io/apiserver's `DynamicCertKeyPairContent` (fsnotify plus a periodic re-read).
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';

import { TlsCertificateError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { createSelfSignedServingCertificate } from './certificates.js';
import type { CertificateAndKey } from './certificates.js';

export type ServingCertificateOptions =
  | {
      readonly kind: 'files';
      readonly certFile: string;
      readonly keyFile: string;
      /** How often the files are read again even without a change event. Default 60 s. */
      readonly reloadIntervalMs?: number;
    }
  | {
      readonly kind: 'self-signed';
      /** DNS names and IPs of the certificate: include `<service>.<namespace>.svc` of the APIService. */
      readonly hosts: readonly string[];
    };

function fingerprint(pair: CertificateAndKey): string {
  return createHash('sha256').update(pair.certPem).update('\0').update(pair.keyPem).digest('hex');
}

async function readPair(certFile: string, keyFile: string): Promise<CertificateAndKey> {
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  } catch (err) {
    throw new TlsCertificateError(certFile, `cannot read ${certFile} or ${keyFile}`, { cause: err });
  }
  // A file caught half-written reads as empty or cut short: createSecureContext alone accepts an
  // empty certificate, so the pair is checked here (parses, and the key is the certificate's).
  let matches: boolean;
  try {
    matches = new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new TlsCertificateError(certFile, `unusable certificate or key (${detail})`, { cause: err });
  }
  if (!matches) throw new TlsCertificateError(certFile, `the key in ${keyFile} is not the certificate's`);
  return { certPem, keyPem };
}

export class ServingCertificate {
  private pair: CertificateAndKey;
  private readonly listeners = new Set<(pair: CertificateAndKey) => void>();
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private closed = false;

  private constructor(
    initial: CertificateAndKey,
    /** The CA of a self-signed certificate, for the APIService's caBundle. */
    readonly caPem: string | undefined,
    private readonly options: ServingCertificateOptions,
    private readonly logger: Logger,
  ) {
    this.pair = initial;
  }

  /** Reads or generates the first pair; throws a TlsCertificateError when the files are unusable. */
  static async create(options: ServingCertificateOptions, logger: Logger): Promise<ServingCertificate> {
    if (options.kind === 'self-signed') {
      const generated = await createSelfSignedServingCertificate(options.hosts);
      logger.info({ hosts: options.hosts }, 'serving a self-signed certificate generated at start');
      return new ServingCertificate(generated, generated.caPem, options, logger);
    }
    const serving = new ServingCertificate(
      await readPair(options.certFile, options.keyFile),
      undefined,
      options,
      logger,
    );
    serving.watchFiles(options.certFile, options.keyFile, options.reloadIntervalMs ?? 60_000);
    return serving;
  }

  current(): CertificateAndKey {
    return this.pair;
  }

  onChange(listener: (pair: CertificateAndKey) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads the files again now (also what the watchers and the timer do). */
  async reload(): Promise<void> {
    if (this.options.kind !== 'files' || this.closed) return;
    const { certFile, keyFile } = this.options;
    this.reloading ??= (async () => {
      try {
        const pair = await readPair(certFile, keyFile);
        if (fingerprint(pair) === fingerprint(this.pair)) return;
        this.pair = pair;
        this.logger.info({ certFile, keyFile }, 'serving certificate reloaded');
        for (const listener of this.listeners) listener(pair);
      } catch (err) {
        this.logger.error(
          { err, certFile, keyFile },
          'cannot reload the serving certificate; keeping the current one',
        );
      } finally {
        this.reloading = undefined;
      }
    })();
    await this.reloading;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const watcher of this.watchers) watcher.close();
  }

  private watchFiles(certFile: string, keyFile: string, intervalMs: number): void {
    // Directories, not files: a Secret volume replaces the files by swapping a symlink.
    for (const directory of new Set([dirname(certFile), dirname(keyFile)])) {
      try {
        const watcher = watch(directory, { persistent: false }, () => void this.reload());
        watcher.on('error', (err) =>
          this.logger.warn({ err, directory }, 'certificate directory watch failed'),
        );
        this.watchers.push(watcher);
      } catch (err) {
        this.logger.warn({ err, directory }, 'cannot watch the certificate directory; relying on the timer');
      }
    }
    this.timer = setInterval(() => void this.reload(), intervalMs);
    this.timer.unref();
  }
}
