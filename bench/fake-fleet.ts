/**
 * A fleet of fake JobManagers for the collector benchmark: `targets` JobManagers (one job each,
 * `vertices` vertices of which `sources` are sources) spread over `servers` loopback HTTP servers.
 * Run as its own process (the default) so the benchmark measures the collector alone; prints
 * `{"urls": [...]}` on one line when ready, answers a `cpu` line on stdin with its CPU seconds so far
 * (`{"cpuSeconds": 1.5}`: the benchmark tells the fleet's share from the collector's), and stops when
 * stdin closes.
 */
import { createInterface } from 'node:readline';

import { FakeJobManagerServer, typicalJob } from '../test/fakes/fake-jobmanager.js';

export interface FleetOptions {
  readonly targets: number;
  readonly vertices: number;
  readonly sources: number;
  readonly servers: number;
  readonly parallelism: number;
}

export interface Fleet {
  readonly urls: readonly string[];
  /** CPU seconds the fleet has used so far; null when it runs in the benchmark's own process. */
  cpuSeconds(): Promise<number | null>;
  close(): Promise<void>;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const servers = await Promise.all(
    Array.from({ length: options.servers }, () => FakeJobManagerServer.start()),
  );
  const urls: string[] = [];
  for (let index = 0; index < options.targets; index += 1) {
    const server = servers[index % servers.length];
    if (server === undefined) throw new Error('no server');
    const cluster = server.addCluster({
      name: `jm-${index}`,
      jobs: [
        typicalJob({
          name: `job-${index}`,
          vertices: options.vertices,
          sources: options.sources,
          parallelism: options.parallelism,
          busyRatio: 0.3 + (index % 7) / 10,
        }),
      ],
    });
    cluster.recordRequests = false;
    urls.push(cluster.url);
  }
  return {
    urls,
    cpuSeconds: () => Promise.resolve(null),
    close: async () => {
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}

if (process.argv[2] === '--serve') {
  const options = JSON.parse(process.argv[3] ?? '{}') as FleetOptions;
  const fleet = await startFleet(options);
  process.stdout.write(`${JSON.stringify({ urls: fleet.urls })}\n`);
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    if (line.trim() !== 'cpu') return;
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ cpuSeconds: (user + system) / 1e6 })}\n`);
  });
  commands.on('close', () => {
    void fleet.close().then(() => process.exit(0));
  });
}
