import { createServer, type Server } from 'node:http';
import { rmSync } from 'node:fs';
import type { Registry } from 'prom-client';

/** Serves `/v1/metrics` (containerd's path) on "host:port" or a unix socket path. */
export async function serveMetrics(address: string, registry: Registry): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/v1/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (address.startsWith('/')) {
      rmSync(address, { force: true });
      server.listen(address, resolve);
    } else {
      const at = address.lastIndexOf(':');
      server.listen(Number(address.slice(at + 1)), address.slice(0, at) || '127.0.0.1', resolve);
    }
  });
  return server;
}
