/**
 * A real Kubernetes control plane for the e2e tests, on 127.0.0.1 only: etcd, kube-apiserver (with
 * the aggregation layer configured) and kube-controller-manager running nothing but the HPA
 * controller. No kubelet, no scheduler: Pods are only API objects.
 *
 * The binaries come from test/e2e/control-plane/build.sh (etcd from Debian, kube-* built from
 * k8s.io/kubernetes at the release pinned in that folder's go.mod). Certificates and kubeconfigs
 * are made with openssl in a fresh temporary run folder, which also holds every log.
 *
 * Who calls what, for the aggregated external-metrics API later on: kube-controller-manager runs
 * with --use-service-account-credentials, so the HPA controller talks to the API server as
 * `system:serviceaccount:kube-system:horizontal-pod-autoscaler`. Its bootstrap ClusterRole
 * `system:controller:horizontal-pod-autoscaler` already grants get/list/watch on
 * `external.metrics.k8s.io` (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go),
 * so no extra RBAC is created here. The aggregator reaches an APIService's backend with the
 * front-proxy client certificate (CN front-proxy-client) and names that user in X-Remote-User.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

import { freePorts } from './ports.js';

/** The processes the control plane runs, in start order. */
export type ProcessComponent = 'etcd' | 'kube-apiserver' | 'kube-controller-manager';

/** Every part that can fail to come up; errors name one of these first. */
export type Component = 'build' | 'openssl' | ProcessComponent;

/** A control plane that did not start, or a component that failed; `component` says which. */
export class ControlPlaneError extends Error {
  override readonly name = 'ControlPlaneError';
  readonly component: Component;

  constructor(component: Component, message: string, options?: ErrorOptions) {
    super(`${component}: ${message}`, options);
    this.component = component;
  }
}

export interface ControlPlaneOptions {
  /** The etcd binary; default `etcd` on PATH (build.sh installs Debian's etcd-server). */
  readonly etcdPath?: string;
  /** Where build.sh caches modules and binaries; default $SLOTSCALER_CACHE_DIR or <repo>/.cache. */
  readonly cacheDir?: string;
  /** kube-controller-manager --horizontal-pod-autoscaler-sync-period, in seconds (upstream: 15). */
  readonly hpaSyncPeriodSeconds?: number;
  /**
   * kube-controller-manager --horizontal-pod-autoscaler-downscale-stabilization, in seconds
   * (upstream default 300). Only applies to HPAs without spec.behavior.scaleDown.
   */
  readonly hpaDownscaleStabilizationSeconds?: number;
  /** How long each component may take to become ready before start fails. */
  readonly startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before it sends SIGKILL, per process. */
  readonly stopTimeoutMs?: number;
  /** Keep the run folder (certificates, data, logs) after stop(); default: $SLOTSCALER_KEEP_RUN_DIR=1. */
  readonly keepRunDir?: boolean;
  /** Extra command-line flags per process, appended after ours (a later flag wins). */
  readonly extraArgs?: Partial<Readonly<Record<ProcessComponent, readonly string[]>>>;
  /** Called with one line per step, e.g. to print progress from a long-running `env:up`. */
  readonly onProgress?: (message: string) => void;
}

/** What a request through {@link ControlPlane.request} answered. */
export interface ApiResponse {
  readonly statusCode: number;
  /** The parsed JSON body, or the raw text when the body is not JSON. */
  readonly body: unknown;
  readonly text: string;
}

export interface ControlPlane {
  /** The API server, e.g. `https://127.0.0.1:41234`. */
  readonly server: string;
  /** kubeconfig of the admin user (CN admin, O system:masters). */
  readonly kubeconfigPath: string;
  /** kubeconfig kube-controller-manager runs with (CN system:kube-controller-manager). */
  readonly controllerManagerKubeconfigPath: string;
  /** The cluster CA: signs the API server's serving certificate and every client certificate. */
  readonly caCertPath: string;
  readonly adminCertPath: string;
  readonly adminKeyPath: string;
  /** The request-header (front-proxy) CA an aggregated API server must trust for X-Remote-* headers. */
  readonly frontProxyCaCertPath: string;
  /** The client certificate the aggregator presents to APIService backends (CN front-proxy-client). */
  readonly frontProxyClientCertPath: string;
  readonly frontProxyClientKeyPath: string;
  /** etcd's client URL, e.g. `http://127.0.0.1:41235`. */
  readonly etcdUrl: string;
  /** The temporary folder holding certificates, kubeconfigs, etcd data and logs. */
  readonly runDir: string;
  /** The API server's /version gitVersion, e.g. `v1.35.4`. */
  readonly version: string;
  /** The log file of each process (stdout and stderr together). */
  readonly logs: Readonly<Record<ProcessComponent, string>>;
  /** The last `lines` lines of every log, headed by its path: print this when a test fails. */
  logsTail(lines?: number): Promise<string>;
  /** Sends one request to the API server as the admin user; a JSON body is serialised. */
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<ApiResponse>;
  /**
   * Stops kube-apiserver (SIGTERM) and starts it again on the same port with the same flags and
   * etcd; resolves once it is ready. Clients see their watches end and connections refused meanwhile.
   */
  restartApiServer(): Promise<void>;
  /** Stops every process (SIGTERM, then SIGKILL after stopTimeoutMs). Safe to call more than once. */
  stop(): Promise<void>;
}

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const buildScript = join(repoRoot, 'test/e2e/control-plane/build.sh');

const defaults = {
  hpaSyncPeriodSeconds: 5,
  hpaDownscaleStabilizationSeconds: 300,
  startTimeoutMs: 60_000,
  stopTimeoutMs: 10_000,
  probeTimeoutMs: 2_000,
  probeIntervalMs: 100,
  certificateDays: 7,
  logTailLines: 40,
};

const serviceClusterIpRange = '10.0.0.0/24';
/** The in-cluster IP of the `kubernetes` Service (the first address of the range): a SAN of the serving cert. */
const kubernetesServiceIp = '10.0.0.1';

/**
 * Starts etcd, kube-apiserver and kube-controller-manager, builds them first when needed, and
 * resolves once the API server is ready and the HPA controller runs. On any failure everything
 * already started is stopped and a {@link ControlPlaneError} names the component, with the tail
 * of its log.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const progress = options.onProgress ?? (() => undefined);
  const startTimeoutMs = options.startTimeoutMs ?? defaults.startTimeoutMs;
  const stopTimeoutMs = options.stopTimeoutMs ?? defaults.stopTimeoutMs;
  const keepRunDir = options.keepRunDir ?? process.env['SLOTSCALER_KEEP_RUN_DIR'] === '1';
  const extraArgs = (component: ProcessComponent): readonly string[] => options.extraArgs?.[component] ?? [];

  installExitHandlers();
  const runDir = await mkdtemp(join(tmpdir(), 'slotscaler-control-plane-'));
  if (!keepRunDir) runDirsToRemove.add(runDir);
  const logDir = join(runDir, 'logs');
  await mkdir(logDir);
  const logs: Record<ProcessComponent, string> = {
    etcd: join(logDir, 'etcd.log'),
    'kube-apiserver': join(logDir, 'kube-apiserver.log'),
    'kube-controller-manager': join(logDir, 'kube-controller-manager.log'),
  };
  const started: Supervised[] = [];
  let agent: Agent | undefined;
  /** What is being set up, to name it when something unexpected fails. */
  let step: Component = 'build';

  const stopAll = async (): Promise<void> => {
    for (const proc of [...started].reverse()) await stopProcess(proc, stopTimeoutMs);
    agent?.destroy();
    if (!keepRunDir) {
      await rm(runDir, { recursive: true, force: true });
      runDirsToRemove.delete(runDir);
    }
  };

  try {
    progress(`run folder ${runDir}`);
    const binDir = await build(options.cacheDir, join(logDir, 'build.log'), progress);

    const [etcdClientPort, etcdPeerPort, apiserverPort, controllerManagerPort] = await freePorts(4);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const server = `https://127.0.0.1:${apiserverPort}`;

    step = 'openssl';
    const pki = await makeCertificates(join(runDir, 'pki'));
    const adminKubeconfig = join(runDir, 'admin.kubeconfig');
    const controllerManagerKubeconfig = join(runDir, 'kube-controller-manager.kubeconfig');
    await writeKubeconfig(adminKubeconfig, server, pki.ca.cert, 'admin', pki.admin);
    await writeKubeconfig(
      controllerManagerKubeconfig,
      server,
      pki.ca.cert,
      'system:kube-controller-manager',
      pki.controllerManager,
    );
    agent = new Agent({
      ca: await readFile(pki.ca.cert),
      cert: await readFile(pki.admin.cert),
      key: await readFile(pki.admin.key),
      keepAlive: true,
    });
    const adminAgent = agent;
    const request = (method: string, path: string, body?: unknown, contentType?: string) =>
      apiRequest(adminAgent, server, method, path, body, contentType);

    progress('starting etcd');
    step = 'etcd';
    const etcd = supervise('etcd', options.etcdPath ?? 'etcd', logs.etcd, [
      '--name=slotscaler-e2e',
      `--data-dir=${join(runDir, 'etcd-data')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeerUrl}`,
      `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      `--initial-cluster=slotscaler-e2e=${etcdPeerUrl}`,
      '--initial-cluster-state=new',
      '--logger=zap',
      '--log-outputs=stderr',
      ...extraArgs('etcd'),
    ]);
    started.push(etcd);
    await waitReady(etcd, startTimeoutMs, async () => {
      const answer = await httpGet(`${etcdUrl}/health`);
      return answer.statusCode === 200 && answer.text.includes('"health":"true"');
    });

    progress('starting kube-apiserver');
    step = 'kube-apiserver';
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiserverPort}`,
      // A loopback advertise address is rejected by the endpoint reconciler of the `kubernetes` Service.
      '--endpoint-reconciler-type=none',
      `--cert-dir=${join(runDir, 'kube-apiserver-certs')}`,
      `--tls-cert-file=${pki.serving.cert}`,
      `--tls-private-key-file=${pki.serving.key}`,
      `--client-ca-file=${pki.ca.cert}`,
      '--authorization-mode=RBAC',
      `--service-cluster-ip-range=${serviceClusterIpRange}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.serviceAccount.publicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccount.privateKey}`,
      // No kubelet and no service-account controller here: Pods are bare objects, and a namespace
      // has no `default` ServiceAccount for this plugin to find.
      '--disable-admission-plugins=ServiceAccount',
      // The aggregation layer: who may send X-Remote-* headers, and what the aggregator presents.
      `--requestheader-client-ca-file=${pki.frontProxyCa.cert}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${pki.frontProxyClient.cert}`,
      `--proxy-client-key-file=${pki.frontProxyClient.key}`,
      ...extraArgs('kube-apiserver'),
    ];
    let apiserver = supervise(
      'kube-apiserver',
      join(binDir, 'kube-apiserver'),
      logs['kube-apiserver'],
      apiserverArgs,
    );
    started.push(apiserver);
    await waitReady(
      apiserver,
      startTimeoutMs,
      async () => (await request('GET', '/readyz')).statusCode === 200,
    );

    const versionAnswer = await request('GET', '/version');
    const version = stringField(versionAnswer.body, 'gitVersion');
    if (versionAnswer.statusCode !== 200 || version === undefined) {
      throw new ControlPlaneError('kube-apiserver', `unexpected /version answer: ${versionAnswer.text}`);
    }
    progress(`kube-apiserver ${version} ready at ${server}`);

    progress('starting kube-controller-manager');
    step = 'kube-controller-manager';
    const controllerManager = supervise(
      'kube-controller-manager',
      join(binDir, 'kube-controller-manager'),
      logs['kube-controller-manager'],
      [
        `--kubeconfig=${controllerManagerKubeconfig}`,
        `--authentication-kubeconfig=${controllerManagerKubeconfig}`,
        `--authorization-kubeconfig=${controllerManagerKubeconfig}`,
        '--controllers=horizontal-pod-autoscaler-controller',
        '--leader-elect=false',
        // Each controller calls as its own ServiceAccount, as kubeadm sets it up.
        '--use-service-account-credentials=true',
        `--horizontal-pod-autoscaler-sync-period=${options.hpaSyncPeriodSeconds ?? defaults.hpaSyncPeriodSeconds}s`,
        `--horizontal-pod-autoscaler-downscale-stabilization=${
          options.hpaDownscaleStabilizationSeconds ?? defaults.hpaDownscaleStabilizationSeconds
        }s`,
        '--bind-address=127.0.0.1',
        `--secure-port=${controllerManagerPort}`,
        `--cert-dir=${join(runDir, 'kube-controller-manager-certs')}`,
        ...extraArgs('kube-controller-manager'),
      ],
    );
    started.push(controllerManager);
    await waitReady(controllerManager, startTimeoutMs, async () => {
      // Serves its own self-signed certificate; /healthz is open to anyone.
      const health = await httpGet(`https://127.0.0.1:${controllerManagerPort}/healthz`);
      if (health.statusCode !== 200) return false;
      // The HPA controller has started once its ServiceAccount (its identity) exists.
      const account = await request(
        'GET',
        '/api/v1/namespaces/kube-system/serviceaccounts/horizontal-pod-autoscaler',
      );
      return account.statusCode === 200;
    });
    progress('kube-controller-manager ready (horizontal-pod-autoscaler-controller)');

    let stopping: Promise<void> | undefined;
    return {
      server,
      kubeconfigPath: adminKubeconfig,
      controllerManagerKubeconfigPath: controllerManagerKubeconfig,
      caCertPath: pki.ca.cert,
      adminCertPath: pki.admin.cert,
      adminKeyPath: pki.admin.key,
      frontProxyCaCertPath: pki.frontProxyCa.cert,
      frontProxyClientCertPath: pki.frontProxyClient.cert,
      frontProxyClientKeyPath: pki.frontProxyClient.key,
      etcdUrl,
      runDir,
      version,
      logs,
      logsTail: (lines = defaults.logTailLines) => logsTail(logs, lines),
      request,
      async restartApiServer() {
        const index = started.indexOf(apiserver);
        await stopProcess(apiserver, stopTimeoutMs);
        apiserver = supervise(
          'kube-apiserver',
          join(binDir, 'kube-apiserver'),
          logs['kube-apiserver'],
          apiserverArgs,
        );
        started[index] = apiserver;
        const restarted = apiserver;
        await waitReady(
          restarted,
          startTimeoutMs,
          async () => (await request('GET', '/readyz')).statusCode === 200,
        );
      },
      stop: () => (stopping ??= stopAll()),
    };
  } catch (error) {
    const detail =
      error instanceof ControlPlaneError
        ? error
        : new ControlPlaneError(step, String(error), { cause: error });
    await stopAll();
    if (!keepRunDir) detail.message += '\n(run folder removed; set SLOTSCALER_KEEP_RUN_DIR=1 to keep it)';
    throw detail;
  }
}

/** The last `lines` lines of each log file, each headed by its path. */
export async function logsTail(
  logs: Readonly<Record<string, string>>,
  lines = defaults.logTailLines,
): Promise<string> {
  const parts = await Promise.all(
    Object.values(logs).map(
      async (path) => `--- last ${lines} lines of ${path} ---\n${await tailFile(path, lines)}`,
    ),
  );
  return parts.join('\n');
}

/** The last `lines` lines of a file; a note instead when it cannot be read. */
export async function tailFile(path: string, lines: number): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch (error) {
    return `(cannot read ${path}: ${String(error)})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly spawnError?: Error;
}

interface Supervised {
  readonly component: ProcessComponent;
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Resolves (never rejects) once the process has exited or failed to start. */
  readonly exited: Promise<ExitInfo>;
  /** Set once the process has exited. */
  exitInfo: ExitInfo | undefined;
}

/**
 * Every child still running, and every run folder not yet removed. The children are killed and
 * the folders removed when this process exits, and on SIGINT, SIGTERM and SIGHUP, so that a test
 * that crashed or was cancelled leaves nothing behind (an etcd data folder alone is over 100 MB).
 */
const running = new Set<ChildProcess>();
const runDirsToRemove = new Set<string>();
let exitHandlersInstalled = false;

function cleanUpOnExit(): void {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of runDirsToRemove) {
    try {
      // A child just killed may still be writing: retry on ENOTEMPTY.
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    } catch {
      // Best effort while exiting; the folder is under the OS temp folder.
    }
  }
  runDirsToRemove.clear();
}

/**
 * Kills the children and removes the run folders, then, when no one else listens for the signal,
 * re-raises it so that the process ends as it would have without this handler.
 */
function onTerminatingSignal(signal: NodeJS.Signals): void {
  cleanUpOnExit();
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onTerminatingSignal);
    process.kill(process.pid, signal);
  }
}

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  process.on('exit', cleanUpOnExit);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onTerminatingSignal);
}

/** Starts a process with stdout and stderr appended to logPath. */
function supervise(
  component: ProcessComponent,
  command: string,
  logPath: string,
  args: readonly string[],
): Supervised {
  installExitHandlers();
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    writeSync(fd, `$ ${command} ${args.join(' ')}\n`);
    child = spawn(command, args, { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  running.add(child);
  let settle: (info: ExitInfo) => void = () => undefined;
  const exited = new Promise<ExitInfo>((resolvePromise) => (settle = resolvePromise));
  const proc: Supervised = { component, child, logPath, exited, exitInfo: undefined };
  const finish = (info: ExitInfo): void => {
    if (proc.exitInfo !== undefined) return;
    proc.exitInfo = info;
    running.delete(child);
    settle(info);
  };
  child.once('exit', (code, signal) => {
    finish({ code, signal });
  });
  child.once('error', (spawnError) => {
    // Only a failed spawn leaves no pid; other errors (a failed kill) are not an exit.
    if (child.pid === undefined) finish({ code: null, signal: null, spawnError });
  });
  return proc;
}

function describeExit(info: ExitInfo): string {
  if (info.spawnError !== undefined) return `could not be started (${info.spawnError.message})`;
  if (info.signal !== null) return `was killed by ${info.signal}`;
  return `exited with code ${String(info.code)}`;
}

async function failure(proc: Supervised, what: string): Promise<ControlPlaneError> {
  const tail = await tailFile(proc.logPath, defaults.logTailLines);
  return new ControlPlaneError(
    proc.component,
    `${what}\n--- last ${defaults.logTailLines} lines of ${proc.logPath} ---\n${tail}`,
  );
}

/**
 * Polls `probe` until it answers true. Fails at once when the process exits, and after
 * `timeoutMs` otherwise, with the last probe error.
 */
async function waitReady(proc: Supervised, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = 'not ready';
  for (;;) {
    if (proc.exitInfo !== undefined)
      throw await failure(proc, `${describeExit(proc.exitInfo)} before it was ready`);
    try {
      if (await probe()) return;
      lastProblem = 'not ready';
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) {
      throw await failure(proc, `not ready after ${timeoutMs} ms (last probe: ${lastProblem})`);
    }
    await raceTimeout(proc.exited, defaults.probeIntervalMs);
  }
}

/** SIGTERM, then SIGKILL when the process has not exited after timeoutMs. */
async function stopProcess(proc: Supervised, timeoutMs: number): Promise<void> {
  if (proc.exitInfo !== undefined) return;
  proc.child.kill('SIGTERM');
  if (await raceTimeout(proc.exited, timeoutMs)) return;
  proc.child.kill('SIGKILL');
  await proc.exited;
}

/** True when `promise` settled within timeoutMs; the timer never outlives the race. */
async function raceTimeout(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolvePromise) => {
    timer = setTimeout(() => {
      resolvePromise(false);
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Build, ports

/** Runs build.sh (a no-op when the binaries are current) and returns the folder holding them. */
async function build(
  cacheDir: string | undefined,
  logPath: string,
  progress: (message: string) => void,
): Promise<string> {
  progress(`running ${buildScript}`);
  const env = cacheDir === undefined ? process.env : { ...process.env, SLOTSCALER_CACHE_DIR: cacheDir };
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn('bash', [buildScript], { env, stdio: ['ignore', 'pipe', fd] });
  } finally {
    closeSync(fd);
  }
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const exit = await new Promise<ExitInfo>((resolvePromise) => {
    child.once('close', (code, signal) => {
      resolvePromise({ code, signal });
    });
    child.once('error', (spawnError) => {
      resolvePromise({ code: null, signal: null, spawnError });
    });
  });
  const binDir = stdout.trim().split('\n').at(-1) ?? '';
  if (exit.code !== 0 || binDir === '') {
    const tail = await tailFile(logPath, defaults.logTailLines);
    throw new ControlPlaneError('build', `${buildScript} ${describeExit(exit)}\n${tail}`);
  }
  return binDir;
}

// ---------------------------------------------------------------------------------------------
// Certificates and kubeconfigs

interface CertAndKey {
  readonly cert: string;
  readonly key: string;
}

interface Pki {
  readonly ca: CertAndKey;
  readonly frontProxyCa: CertAndKey;
  readonly serving: CertAndKey;
  readonly admin: CertAndKey;
  readonly controllerManager: CertAndKey;
  readonly frontProxyClient: CertAndKey;
  readonly serviceAccount: { readonly privateKey: string; readonly publicKey: string };
}

/** Extension sections for `openssl -extensions`; the serving certificate carries every name of the API server. */
const opensslConfig = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
[serving]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:${kubernetesServiceIp}
`;

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  await new Promise<void>((resolvePromise, reject) => {
    execFile('openssl', args, { cwd: dir }, (error, _stdout, stderr) => {
      if (error === null) resolvePromise();
      else
        reject(
          new ControlPlaneError('openssl', `openssl ${args.join(' ')} failed: ${stderr || error.message}`),
        );
    });
  });
}

/** TLS keys are EC P-256 (quick to make); the service-account key is RSA 2048. */
const newEcKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string, commonName: string): Promise<CertAndKey> {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  // prettier-ignore
  await openssl(dir, [
    'req', '-config', 'openssl.cnf', '-x509', ...newEcKey, '-keyout', pair.key, '-out', pair.cert,
    '-days', String(defaults.certificateDays), '-subj', `/CN=${commonName}`, '-extensions', 'ca',
  ]);
  return pair;
}

async function makeSigned(
  dir: string,
  name: string,
  subject: string,
  signer: CertAndKey,
  extensions: 'client' | 'serving',
): Promise<CertAndKey> {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  // prettier-ignore
  await openssl(dir, [
    'req', '-config', 'openssl.cnf', '-new', ...newEcKey, '-keyout', pair.key, '-out', csr, '-subj', subject,
  ]);
  // prettier-ignore
  await openssl(dir, [
    'x509', '-req', '-in', csr, '-CA', signer.cert, '-CAkey', signer.key,
    '-set_serial', `0x${randomBytes(12).toString('hex')}`, '-days', String(defaults.certificateDays),
    '-extfile', 'openssl.cnf', '-extensions', extensions, '-out', pair.cert,
  ]);
  await rm(csr);
  return pair;
}

async function makeCertificates(dir: string): Promise<Pki> {
  await mkdir(dir, { mode: 0o700 });
  await writeFile(join(dir, 'openssl.cnf'), opensslConfig);
  const serviceAccount = { privateKey: join(dir, 'sa.key'), publicKey: join(dir, 'sa.pub') };
  const [ca, frontProxyCa] = await Promise.all([
    makeCa(dir, 'ca', 'slotscaler-e2e-ca'),
    makeCa(dir, 'front-proxy-ca', 'slotscaler-e2e-front-proxy-ca'),
    (async () => {
      await openssl(dir, [
        'genpkey',
        '-algorithm',
        'RSA',
        '-pkeyopt',
        'rsa_keygen_bits:2048',
        '-out',
        serviceAccount.privateKey,
      ]);
      await openssl(dir, [
        'pkey',
        '-in',
        serviceAccount.privateKey,
        '-pubout',
        '-out',
        serviceAccount.publicKey,
      ]);
    })(),
  ]);
  const [serving, admin, controllerManager, frontProxyClient] = await Promise.all([
    makeSigned(dir, 'kube-apiserver', '/CN=kube-apiserver', ca, 'serving'),
    makeSigned(dir, 'admin', '/O=system:masters/CN=admin', ca, 'client'),
    makeSigned(dir, 'kube-controller-manager', '/CN=system:kube-controller-manager', ca, 'client'),
    makeSigned(dir, 'front-proxy-client', '/CN=front-proxy-client', frontProxyCa, 'client'),
  ]);
  return { ca, frontProxyCa, serving, admin, controllerManager, frontProxyClient, serviceAccount };
}

/** A kubeconfig with file references (JSON is valid YAML, and every client reads it). */
async function writeKubeconfig(
  path: string,
  server: string,
  caCert: string,
  user: string,
  credentials: CertAndKey,
): Promise<void> {
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'slotscaler-e2e', cluster: { server, 'certificate-authority': caCert } }],
    users: [{ name: user, user: { 'client-certificate': credentials.cert, 'client-key': credentials.key } }],
    contexts: [{ name: 'slotscaler-e2e', context: { cluster: 'slotscaler-e2e', user } }],
    'current-context': 'slotscaler-e2e',
  };
  await writeFile(path, `${JSON.stringify(kubeconfig, null, 2)}\n`, { mode: 0o600 });
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface RawAnswer {
  readonly statusCode: number;
  readonly contentType: string;
  readonly text: string;
}

/**
 * A GET for readiness probes: plain http, or https without verification (etcd's and
 * kube-controller-manager's health endpoints; the latter serves a self-signed certificate).
 */
function httpGet(url: string): Promise<RawAnswer> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolvePromise, reject) => {
    const req = send(
      target,
      { method: 'GET', rejectUnauthorized: false, timeout: defaults.probeTimeoutMs },
      (res) => {
        collect(res, resolvePromise, reject);
      },
    );
    req.once('timeout', () => {
      req.destroy(new Error(`GET ${url} timed out`));
    });
    req.once('error', reject);
    req.end();
  });
}

function collect(
  res: IncomingMessage,
  resolvePromise: (answer: RawAnswer) => void,
  reject: (error: Error) => void,
): void {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => (text += chunk));
  res.once('error', reject);
  res.once('end', () => {
    resolvePromise({ statusCode: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', text });
  });
}

async function apiRequest(
  agent: Agent,
  server: string,
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
): Promise<ApiResponse> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (payload !== undefined) {
    headers['Content-Type'] =
      contentType ?? (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
  }
  const answer = await new Promise<RawAnswer>((resolvePromise, reject) => {
    const req = httpsRequest(
      new URL(path, server),
      { method, agent, headers, timeout: defaults.probeTimeoutMs * 5 },
      (res) => {
        collect(res, resolvePromise, reject);
      },
    );
    req.once('timeout', () => {
      req.destroy(new Error(`${method} ${path} timed out`));
    });
    req.once('error', reject);
    req.end(payload);
  });
  let parsed: unknown = answer.text;
  if (answer.contentType.includes('json')) {
    try {
      parsed = JSON.parse(answer.text) as unknown;
    } catch {
      // Keep the text: the caller sees what the server sent.
    }
  }
  return { statusCode: answer.statusCode, body: parsed, text: answer.text };
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field: unknown = (value as Record<string, unknown>)[key];
  return typeof field === 'string' ? field : undefined;
}
