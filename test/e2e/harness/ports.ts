/** Ports for the processes the e2e tests and benchmarks start. */
import { createServer, type Server } from 'node:net';

/** `count` distinct free TCP ports on 127.0.0.1 (held together while picked, so never equal). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolvePromise, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => {
            resolvePromise(server);
          });
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string')
      throw new Error('no TCP address for a listening socket');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolvePromise) => server.close(resolvePromise))));
  return ports;
}
