// A real registry for client tests: Debian's docker-registry (distribution 2.8) on an ephemeral
// 127.0.0.1 port with storage in a temporary directory, images pushed through the registry API
// with undici, and OCI images built here from busybox-static with tar-stream.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { TestContext } from 'node:test';
import { request } from 'undici';
import { tarLayer, type Entry } from '../diff/layers.js';
import { tempDir } from './tmp.js';

const REGISTRY_BIN = process.env.REGISTRY_BIN ?? '/usr/bin/docker-registry';
const BUSYBOX = process.env.BUSYBOX ?? '/usr/bin/busybox';

/** A `skip` value: false when docker-registry and a static busybox are installed. */
export const skipWithoutRegistry: string | false = !existsSync(REGISTRY_BIN)
  ? `${REGISTRY_BIN} is not installed (apt-get install docker-registry)`
  : !existsSync(BUSYBOX) || !isStatic(BUSYBOX)
    ? `${BUSYBOX} is not a static busybox (apt-get install busybox-static)`
    : false;

function isStatic(path: string): boolean {
  try {
    return /statically linked|not a dynamic executable/.test(execFileSync('sh', ['-c', `ldd ${path} 2>&1 || true`], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

export interface Blob {
  readonly bytes: Buffer;
  readonly desc: { mediaType: string; digest: string; size: number; platform?: { os: string; architecture: string; variant?: string } };
}

export interface BuiltImage {
  readonly manifest: Blob;
  readonly config: Blob;
  readonly layers: readonly Blob[];
  readonly diffIds: readonly string[];
}

const blob = (bytes: Buffer, mediaType: string): Blob => ({ bytes, desc: { mediaType, digest: sha256(bytes), size: bytes.length } });

/** The busybox root: the static binary, a few applet links, /etc/passwd. */
export function busyboxEntries(): Entry[] {
  return [
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', content: readFileSync(BUSYBOX), mode: 0o755 },
    ...['sh', 'ls', 'cat', 'echo', 'true'].map((a): Entry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
  ];
}

/** An OCI image: each entry list becomes a gzip layer (or plain tar with gzip: false). */
export async function buildImage(layers: Entry[][], options: { architecture?: string; gzip?: boolean; labels?: Record<string, string>; user?: string; cmd?: string[] } = {}): Promise<BuiltImage> {
  const tars = await Promise.all(layers.map((entries) => tarLayer(entries)));
  const diffIds = tars.map(sha256);
  const gzip = options.gzip ?? true;
  const layerBlobs = tars.map((t) => (gzip ? blob(gzipSync(t), MT.layerGzip) : blob(t, MT.layer)));
  const architecture = options.architecture ?? 'amd64';
  const config = blob(
    Buffer.from(JSON.stringify({
      architecture,
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: options.cmd ?? ['sh'], Labels: options.labels ?? {}, ...(options.user ? { User: options.user } : {}) },
      rootfs: { type: 'layers', diff_ids: diffIds },
    })),
    MT.config,
  );
  const manifest = blob(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config: config.desc, layers: layerBlobs.map((l) => l.desc) })),
    MT.manifest,
  );
  return { manifest, config, layers: layerBlobs, diffIds };
}

/** An index over images, each entry with its platform. */
export function buildIndex(images: readonly { image: BuiltImage; architecture: string }[]): Blob {
  const manifests = images.map(({ image, architecture }) => ({ ...image.manifest.desc, platform: { architecture, os: 'linux' } }));
  return blob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests })), MT.index);
}

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:40123 */
  readonly host: string;
  readonly url: string;
  pushBlob(repository: string, blob: Blob): Promise<void>;
  pushManifest(repository: string, reference: string, blob: Blob): Promise<void>;
  /** Every blob of the image, then its manifest under the tag. */
  pushImage(repository: string, tag: string, image: BuiltImage): Promise<void>;
  /** SIGTERM and wait (also done when the test ends). */
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Storage directory: another registry process may serve what this one was pushed. */
  readonly dataDir?: string;
  /** A command prefix to run the registry under, e.g. ['ip', 'netns', 'exec', NAME]. */
  readonly wrap?: readonly string[];
}

/** docker-registry on 127.0.0.1 (a port the kernel picks); stopped when the test ends. */
export async function startTestRegistry(t: TestContext, options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = tempDir(t, 'ledgerd-registry-');
  const dataDir = options.dataDir ?? join(dir, 'data');
  writeFileSync(
    join(dir, 'config.yml'),
    ['version: 0.1', 'log:', '  level: info', '  accesslog:', '    disabled: true', 'storage:', '  filesystem:', `    rootdirectory: ${dataDir}`,
      '  delete:', '    enabled: true', 'http:', '  addr: 127.0.0.1:0', ''].join('\n'),
  );
  const [command, ...args] = [...(options.wrap ?? []), REGISTRY_BIN, 'serve', join(dir, 'config.yml')];
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  t.after(stop);
  let output = '';
  const host = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`docker-registry did not start:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const listening = /listening on (127\.0\.0\.1:\d+)/.exec(output);
      if (listening) {
        clearTimeout(timer);
        resolve(listening[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', () => reject(new Error(`docker-registry exited:\n${output}`)));
  });
  const url = `http://${host}`;

  const pushBlob = async (repository: string, b: Blob) => {
    const started = await request(`${url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    await started.body.dump();
    if (started.statusCode !== 202) throw new Error(`upload start for ${repository}: ${started.statusCode}`);
    const location = new URL(String(started.headers.location), url);
    location.searchParams.set('digest', b.desc.digest);
    const put = await request(location, { method: 'PUT', body: b.bytes, headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.bytes.length) } });
    const text = await put.body.text();
    if (put.statusCode !== 201) throw new Error(`blob upload ${b.desc.digest}: ${put.statusCode} ${text}`);
  };
  const pushManifest = async (repository: string, reference: string, b: Blob) => {
    const put = await request(`${url}/v2/${repository}/manifests/${reference}`, { method: 'PUT', body: b.bytes, headers: { 'content-type': b.desc.mediaType } });
    const text = await put.body.text();
    if (put.statusCode !== 201) throw new Error(`manifest ${repository}:${reference}: ${put.statusCode} ${text}`);
  };
  return {
    host,
    url,
    stop,
    pushBlob,
    pushManifest,
    async pushImage(repository, tag, image) {
      for (const b of [...image.layers, image.config]) await pushBlob(repository, b);
      await pushManifest(repository, tag, image.manifest);
    },
  };
}
