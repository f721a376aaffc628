// A busybox image for `ctr run` tests: built here, pushed to a private docker-registry and pulled
// into the daemon with the real `ctr`, so nothing outside the repository is needed.
import type { TestContext } from 'node:test';
import { ctrAt } from './ctr.js';
import { buildImage, busyboxEntries, skipWithoutRegistry, startTestRegistry } from './registry.js';

export { skipWithoutRegistry };

/** Pulls busybox into `namespace` of the daemon at `address`; returns the image reference. */
export async function pullBusybox(t: TestContext, address: string, namespace: string): Promise<string> {
  const [registry, image] = await Promise.all([startTestRegistry(t), buildImage([busyboxEntries()])]);
  await registry.pushImage('busybox', 'latest', image);
  const ref = `${registry.host}/busybox:latest`;
  ctrAt(address, namespace)('images', 'pull', '--plain-http', ref);
  return ref;
}
