/**
 * `slotscaler serve --shards` as a process of its own (one replica of a set, as a pod would run it),
 * for the shards e2e test and benchmark: its JSON log lines are handed to the caller as they come.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { createCertificateAuthority, issueCertificate } from '../../../src/metrics-api/tls/certificates.js';
import { spawnSlotscaler } from './slotscaler-process.js';

/** One log record of a replica (pino JSON), as far as the callers read it. */
export interface ReplicaLogRecord {
  readonly msg?: unknown;
  readonly target?: unknown;
  readonly time?: unknown;
  readonly members?: unknown;
}

export interface ReplicaProcessOptions {
  /** Its identity ($POD_NAME). */
  readonly name: string;
  readonly kubeconfigPath: string;
  readonly namespace: string;
  readonly metricsApiPort: number;
  readonly metricsPort: number;
  readonly peerPort: number;
  /** Where `writePeerCertificates` wrote the peer CA and certificate. */
  readonly peerDir: string;
  readonly leaseSeconds: number;
  /** `2s`, `5s`... */
  readonly tickInterval: string;
  /** Each JSON line it logs, parsed. */
  readonly onRecord?: (record: ReplicaLogRecord) => void;
}

export interface ReplicaProcess {
  readonly name: string;
  readonly metricsApiPort: number;
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  /** Its last 20 lines, stdout and stderr, for a failure's message. */
  readonly tail: string[];
  killedAtMs: number | undefined;
}

/** A peer CA and the one certificate every replica shows the others, as the chart's Secret holds them. */
export async function writePeerCertificates(dir: string): Promise<void> {
  const ca = await createCertificateAuthority({ commonName: 'slotscaler-peer-ca' });
  const peer = await issueCertificate(ca, { commonName: 'slotscaler-peer', usage: 'both' });
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  writeFileSync(join(dir, 'tls.crt'), peer.certPem);
  writeFileSync(join(dir, 'tls.key'), peer.keyPem, { mode: 0o600 });
}

export function startReplicaProcess(options: ReplicaProcessOptions): ReplicaProcess {
  const child = spawnSlotscaler(
    [
      'serve',
      '--kubeconfig',
      options.kubeconfigPath,
      '--namespaces',
      options.namespace,
      '--tick-interval',
      options.tickInterval,
      '--shards',
      'true',
      '--lease-duration',
      `${options.leaseSeconds}s`,
      '--lease-namespace',
      options.namespace,
      '--warning-event-interval',
      '30s',
      '--metrics-api-port',
      String(options.metricsApiPort),
      '--metrics-port',
      String(options.metricsPort),
      '--authentication-disabled',
      '--tls-self-signed-hosts',
      'localhost,127.0.0.1',
      // The APIService is pointed at one replica or another by the caller, trusted without a CA.
      '--write-api-service-ca-bundle',
      'false',
      // The callers and the aggregator all read from 127.0.0.1 without a client certificate the
      // replica verifies (authentication is off): the per-address limit is not what is measured.
      '--metrics-api-requests-per-second-per-client',
      '1000',
      '--peer-port',
      String(options.peerPort),
      '--peer-tls-cert-file',
      join(options.peerDir, 'tls.crt'),
      '--peer-tls-key-file',
      join(options.peerDir, 'tls.key'),
      '--peer-tls-ca-file',
      join(options.peerDir, 'ca.crt'),
      '--log-level',
      'info',
    ],
    { ...process.env, POD_NAME: options.name, POD_IP: '127.0.0.1' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
  };
  createInterface({ input: child.stderr }).on('line', keep);
  createInterface({ input: child.stdout }).on('line', (line) => {
    keep(line);
    let record: ReplicaLogRecord;
    try {
      record = JSON.parse(line) as ReplicaLogRecord;
    } catch {
      return;
    }
    options.onRecord?.(record);
  });
  return {
    name: options.name,
    metricsApiPort: options.metricsApiPort,
    child,
    exited,
    tail,
    killedAtMs: undefined,
  };
}
