// A CRI client for tests: runtime.v1 over grpc-js on a daemon's socket (no containerd namespace
// header: the CRI always works in k8s.io), and a daemon config that turns the CRI plugin on.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Connection } from '../../src/cli/grpc-client.js';
import { startTestRegistry, type BuiltImage, type TestRegistry } from './registry.js';
import { tempDir } from './tmp.js';

export const RUNTIME = 'runtime.v1.RuntimeService';
export const IMAGES = 'runtime.v1.ImageService';

export interface CriClient {
  runtime<R = any>(method: string, request?: unknown): Promise<R>;
  images<R = any>(method: string, request?: unknown): Promise<R>;
}

export function criClient(t: TestContext, address: string): CriClient {
  const connection = new Connection(address, undefined);
  t.after(() => connection.close());
  return {
    runtime: (method, request = {}) => connection.unary(RUNTIME, method, request),
    images: (method, request = {}) => connection.unary(IMAGES, method, request),
  };
}

export interface CriDirs {
  readonly config: string;
  readonly cniConf: string;
  readonly hostsDir: string;
}

/**
 * A config.toml under `dir` as the CRI test kit writes it: every registry in `mirrors` goes to
 * the plain-http `registry` (host:port) through hosts.toml files; CNI confs in dir/cni-conf.
 */
export function writeCriConfig(dir: string, registry: string, mirrors: readonly string[] = ['docker.io', 'registry.k8s.io'], extra = '', cniBinDirs: readonly string[] = ['/usr/lib/cni']): CriDirs {
  const hostsDir = join(dir, 'certs.d');
  for (const host of mirrors) {
    mkdirSync(join(hostsDir, host), { recursive: true });
    writeFileSync(join(hostsDir, host, 'hosts.toml'), `server = "http://${registry}"\n\n[host."http://${registry}"]\n  capabilities = ["pull", "resolve"]\n`);
  }
  const cniConf = join(dir, 'cni-conf');
  mkdirSync(cniConf, { recursive: true });
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.6"
  restrict_oom_score_adj = true
${extra}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${cniBinDirs.join(':')}"
    conf_dir = "${cniConf}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${hostsDir}"
`,
  );
  return { config, cniConf, hostsDir };
}

/**
 * A network namespace `<name>-<pid>` with lo up, deleted after the test: the command prefix that
 * runs a program in it. nsenter, not `ip netns exec`: that one remounts /sys, and runc then finds
 * no cgroup mount.
 */
export function testNetns(t: TestContext, name: string): string[] {
  const netns = `${name}-${process.pid}`;
  execFileSync('ip', ['netns', 'add', netns]);
  t.after(() => execFileSync('ip', ['netns', 'delete', netns]));
  execFileSync('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
  return ['nsenter', `--net=/run/netns/${netns}`];
}

/**
 * A registry inside the network namespace that `inNetns` enters, serving `images`: they are
 * pushed through a registry on the host's loopback into storage the inner one then serves.
 */
export async function registryInNetns(t: TestContext, inNetns: readonly string[], images: readonly { repository: string; tag: string; image: BuiltImage }[]): Promise<TestRegistry> {
  const dataDir = join(tempDir(t), 'registry');
  const pushing = await startTestRegistry(t, { dataDir });
  for (const { repository, tag, image } of images) await pushing.pushImage(repository, tag, image);
  await pushing.stop();
  return startTestRegistry(t, { dataDir, wrap: [...inNetns] });
}
