// What a CRI test needs around a daemon: a network namespace of the test's own (cri<tag>-<pid>),
// a registry in it serving a pause image and a busybox image, a CNI bridge network, and a
// daemon with the CRI on, all inside the namespace; removed when the test ends.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import { buildImage, busyboxEntries, skipWithoutRegistry, type TestRegistry } from './registry.js';
import { criClient, registryInNetns, testNetns, writeCriConfig, type CriClient, type CriDirs } from './cri.js';
import { tempDir } from './tmp.js';
import type { Entry } from '../diff/layers.js';

export const CNI_BIN = '/usr/lib/cni';

/** Why a CRI test cannot run here, or false. */
export const skipCri: string | false =
  process.getuid?.() !== 0
    ? 'needs root (network namespaces, runc)'
    : !existsSync(join(CNI_BIN, 'bridge'))
      ? 'no CNI plugins in /usr/lib/cni (apt-get install containernetworking-plugins)'
      : skipWithoutRegistry;

/** busybox applets the test images link (busybox itself is always there). */
const applets = (names: readonly string[]) => names.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' }));

/** pause:3.6 and library/busybox:1.0 (with `tools` applets), and `more` images, served inside the namespace. */
export async function criRegistry(t: TestContext, inNetns: readonly string[], tools: readonly string[] = ['hostname', 'grep', 'cat'], more: readonly ExtraImage[] = []): Promise<TestRegistry> {
  const sleeper = [...busyboxEntries(), ...applets(['sleep'])];
  return registryInNetns(t, inNetns, [
    { repository: 'pause', tag: '3.6', image: await buildImage([sleeper], { cmd: ['/bin/sleep', 'infinity'] }) },
    { repository: 'library/busybox', tag: '1.0', image: await buildImage([[...sleeper, ...applets(tools)]]) },
    ...(await Promise.all(more.map(async ({ repository, tag, entries }) => ({ repository, tag, image: await buildImage([[...sleeper, ...entries]]) })))),
  ]);
}

/** An image of busybox with `sleep` and `entries` besides, as <repository>:<tag>. */
export interface ExtraImage {
  readonly repository: string;
  readonly tag: string;
  readonly entries: readonly Entry[];
}

/** A bridge network crinet (cribr0, 10.88.0.0/16) with portmap, as the CRI test kit's; `more` plugins after those. */
export function writeBridgeNetwork(cniConf: string, more: readonly Record<string, unknown>[] = []): void {
  writeFileSync(
    join(cniConf, '10-crinet.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'crinet',
      plugins: [
        { type: 'bridge', bridge: 'cribr0', isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: '10.88.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] } },
        { type: 'portmap', capabilities: { portMappings: true } },
        ...more,
      ],
    }),
  );
}

export interface CriTestbed {
  readonly dir: string;
  readonly dirs: CriDirs;
  readonly inNetns: readonly string[];
  readonly registry: TestRegistry;
  daemon: TestDaemon;
  cri: CriClient;
  /** Stops the daemon (SIGTERM, or SIGKILL with `crash`) and starts it again on the same state. */
  restart(options?: { crash?: boolean }): Promise<void>;
  /** Runs a pod for `fn` and removes it after, whatever `fn` did (before the test's own clean-up, which needs it gone). */
  withPod<T>(config: Record<string, unknown>, fn: (id: string) => Promise<T>): Promise<T>;
}

export interface TestbedOptions {
  /** Appended to the CRI plugin's section of config.toml. */
  readonly extraConfig?: string;
  readonly tag?: string;
  /** busybox applets the busybox image links besides sh, ls, cat, echo, true and sleep. */
  readonly tools?: readonly string[];
  /** Where CNI plugins are looked up (default: Debian's /usr/lib/cni). */
  readonly cniBinDirs?: readonly string[];
  /** Images the registry serves besides pause and busybox. */
  readonly images?: readonly ExtraImage[];
}

export async function criTestbed(t: TestContext, options: TestbedOptions = {}): Promise<CriTestbed> {
  const inNetns = testNetns(t, `cri${options.tag ?? ''}`);
  const registry = await criRegistry(t, inNetns, options.tools, options.images);
  const dir = tempDir(t);
  const dirs = writeCriConfig(dir, registry.host, undefined, options.extraConfig, options.cniBinDirs);
  writeBridgeNetwork(dirs.cniConf);
  const daemon = await startTestDaemon(t, { dir: join(dir, 'daemon'), args: ['-c', dirs.config], wrap: inNetns });
  const bed: CriTestbed = {
    dir,
    dirs,
    inNetns,
    registry,
    daemon,
    cri: criClient(t, daemon.address),
    async restart({ crash = false } = {}) {
      if (crash) await bed.daemon.kill();
      else await bed.daemon.stop();
      bed.daemon = await bed.daemon.restart();
      bed.cri = criClient(t, bed.daemon.address);
    },
    async withPod(config, fn) {
      const { pod_sandbox_id: id } = await bed.cri.runtime('RunPodSandbox', { config });
      try {
        return await fn(id);
      } finally {
        await bed.cri.runtime('RemovePodSandbox', { pod_sandbox_id: id });
      }
    },
  };
  return bed;
}

/** A pod config with a unique name; `log_directory` under the testbed's dir. */
export function podConfig(bed: CriTestbed, name: string, extra: Record<string, unknown> = {}) {
  return { metadata: { name, uid: `uid-${name}`, namespace: 'default', attempt: 0 }, hostname: name, log_directory: join(bed.dir, 'pod-logs', name), ...extra };
}
