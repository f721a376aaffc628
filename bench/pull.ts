// Pull + unpack of the harness's `layered` image (~115 MB uncompressed, 6 gzip layers) from a
// registry on 127.0.0.1: `ledgerctl pull` against ledgerd, the real `ctr images pull` against
// ledgerd, and `ctr images pull` against real containerd 1.6, alternating, in one run.
// Per round and per pair: a fresh pull (nothing of the image in the daemon), then an unpack only
// (the snapshots removed, the blobs kept, pulled again). Plus the disk's plain write rate: the
// same number of bytes written to one file in 1 MiB writes, then fsync'd.
// Usage: node dist/bench/pull.js [--runs N] [--port PORT]   (root; needs the shared harness)
// Prints "name value unit": medians per pair, ratios to containerd, MB/s.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { chainIds } from '../src/client/image/manifest.js';
import { harnessImages } from '../test/helpers/harness-services.js';
import { report } from './report.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, port: { type: 'string', default: '5102' } } });
const RUNS = Number(values.runs);
const HARNESS = fileURLToPath(new URL('../../../shared/harness/', import.meta.url));
const LEDGERD = fileURLToPath(new URL('../../bin/ledgerd', import.meta.url));
const LEDGERCTL = fileURLToPath(new URL('../../bin/ledgerctl', import.meta.url));
const NS = 'benchpull';
const dir = mkdtempSync(join(tmpdir(), 'ledgerd-bench-pull-'));
const env = { ...process.env, REGISTRY_PORT: values.port! };
const REF = `127.0.0.1:${values.port}/layered:latest`;
const harness = (script: string, ...args: string[]) =>
  execFileSync('bash', [join(HARNESS, script), ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] });
const ctr = (socket: string, ...args: string[]) =>
  execFileSync('ctr', ['--address', socket, '-n', NS, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });

const listening = (address: string) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(address);
    socket.once('connect', () => (socket.destroy(), resolve(true))).once('error', () => resolve(false));
  });
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const timed = (fn: () => void): number => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};

/** The image as make-images.sh wrote it: layer blobs and their chain IDs, top first. */
function layeredImage(imagesDir: string) {
  const layout = join(imagesDir, 'layered');
  const blob = (digest: string) => readFileSync(join(layout, 'blobs', digest.replace(':', '/')));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
  const config = JSON.parse(blob(manifest.config.digest).toString());
  const compressed = manifest.layers.reduce((sum: number, l: { size: number }) => sum + l.size, 0);
  const uncompressed = manifest.layers.reduce((sum: number, l: { digest: string }) => sum + gunzipSync(blob(l.digest)).length, 0);
  return { compressed, uncompressed, chainsTopFirst: chainIds(config.rootfs.diff_ids).reverse(), digests: [index.manifests[0].digest, manifest.config.digest, ...manifest.layers.map((l: { digest: string }) => l.digest)] };
}

/** Nothing of the image left in the namespace: no record, blobs, snapshots, leases. */
function makeFresh(socket: string, image: ReturnType<typeof layeredImage>): void {
  try {
    ctr(socket, 'images', 'rm', '--sync', REF);
  } catch {
    /* not there */
  }
  for (const lease of ctr(socket, 'leases', 'ls', '-q').split('\n').filter(Boolean)) ctr(socket, 'leases', 'rm', '--sync', lease);
  const content = ctr(socket, 'content', 'ls', '-q');
  const left = image.digests.filter((d) => content.includes(d));
  if (left.length) throw new Error(`not fresh on ${socket}: ${left.join(' ')} survived images rm --sync`);
  if (ctr(socket, 'snapshots', 'ls').split('\n').slice(1).some(Boolean)) throw new Error(`not fresh on ${socket}: snapshots left`);
}

/** The snapshots gone, the blobs kept: the next pull only unpacks. */
function dropSnapshots(socket: string, image: ReturnType<typeof layeredImage>): void {
  for (const chain of image.chainsTopFirst) {
    try {
      ctr(socket, 'snapshots', 'rm', chain);
    } catch (err) {
      // once the top is gone nothing holds the rest: a collection may have taken them already
      if (!/not found/.test(String((err as { stderr?: string }).stderr))) throw err;
    }
  }
  for (let i = 0; ctr(socket, 'snapshots', 'ls').split('\n').slice(1).some(Boolean); i++) {
    if (i > 100) throw new Error(`snapshots left on ${socket} after removing the chain`);
    execFileSync('sleep', ['0.1']);
  }
}

/** Bytes written to one file in 1 MiB writes and fsync'd, in MB/s. */
function diskWriteRate(bytes: number): number {
  const path = join(dir, 'disk-rate.bin');
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  const seconds = timed(() => {
    const fd = openSync(path, 'w');
    for (let written = 0; written < bytes; written += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
    fsyncSync(fd);
    closeSync(fd);
  });
  rmSync(path);
  return bytes / 1e6 / seconds;
}

const ledgerdSocket = join(dir, 'ledgerd.sock');
const ledgerd = spawn(process.execPath, [LEDGERD, '--root', join(dir, 'ledgerd-root'), '--state', join(dir, 'ledgerd-state'), '-a', ledgerdSocket], { stdio: ['ignore', 'ignore', 'pipe'] });
let ledgerdErrors = '';
ledgerd.stderr!.on('data', (chunk: Buffer) => (ledgerdErrors += chunk.toString()));
const ledgerdExited = new Promise((resolve) => ledgerd.once('exit', resolve));
try {
  const images = harnessImages();
  harness('registry.sh', 'start', join(dir, 'registry'), images);
  const image = layeredImage(images);
  const containerdSocket = harness('containerd-ref.sh', 'start', join(dir, 'containerd')).trim();
  for (let i = 0; !(await listening(ledgerdSocket)); i++) {
    if (ledgerd.exitCode !== null || i > 400) throw new Error(`ledgerd did not start:\n${ledgerdErrors}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  type Pair = 'ledgerctl_ledgerd' | 'ctr_ledgerd' | 'ctr_containerd';
  const pairs: Record<Pair, { socket: string; pull: () => void }> = {
    ledgerctl_ledgerd: {
      socket: ledgerdSocket,
      pull: () => execFileSync(process.execPath, [LEDGERCTL, '-a', ledgerdSocket, '-n', NS, 'pull', REF], { stdio: ['ignore', 'ignore', 'inherit'] }),
    },
    ctr_ledgerd: { socket: ledgerdSocket, pull: () => ctr(ledgerdSocket, 'images', 'pull', '--plain-http', REF) },
    ctr_containerd: { socket: containerdSocket, pull: () => ctr(containerdSocket, 'images', 'pull', '--plain-http', REF) },
  };
  const times: Record<Pair, { full: number[]; unpack: number[] }> = {
    ledgerctl_ledgerd: { full: [], unpack: [] },
    ctr_ledgerd: { full: [], unpack: [] },
    ctr_containerd: { full: [], unpack: [] },
  };
  const disk: number[] = [];
  const names = Object.keys(pairs) as Pair[];
  for (let round = 0; round < RUNS; round++) {
    // a different one goes first each round: none always gets the warmer caches
    const order = names.map((_, i) => names[(i + round) % names.length]!);
    for (const name of order) {
      const { socket, pull } = pairs[name];
      makeFresh(socket, image);
      // every timed pull starts with nothing dirty to write back (from the run before it)
      execFileSync('sync');
      const full = timed(pull);
      dropSnapshots(socket, image);
      execFileSync('sync');
      const unpack = timed(pull);
      times[name].full.push(full);
      times[name].unpack.push(unpack);
      process.stderr.write(`round ${round + 1} ${name}: pull+unpack ${full.toFixed(2)} s, unpack only ${unpack.toFixed(2)} s\n`);
    }
    disk.push(diskWriteRate(image.uncompressed));
  }
  makeFresh(ledgerdSocket, image);
  makeFresh(containerdSocket, image);

  report('layered_compressed', image.compressed / 1e6, 'MB');
  report('layered_uncompressed', image.uncompressed / 1e6, 'MB');
  for (const name of names) {
    report(`${name}.pull_unpack_median`, median(times[name].full), 's');
    report(`${name}.unpack_only_median`, median(times[name].unpack), 's');
    report(`${name}.unpack_throughput`, image.uncompressed / 1e6 / median(times[name].unpack), 'MB/s');
  }
  for (const name of ['ledgerctl_ledgerd', 'ctr_ledgerd'] as const) {
    report(`ratio.${name}.pull_unpack`, median(times[name].full) / median(times.ctr_containerd.full), 'x');
    report(`ratio.${name}.unpack_only`, median(times[name].unpack) / median(times.ctr_containerd.unpack), 'x');
  }
  report('disk_write_fsync_rate', median(disk), 'MB/s');
  report('host_loadavg1_end', Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]), 'load');
} finally {
  try {
    harness('containerd-ref.sh', 'stop', join(dir, 'containerd'));
  } finally {
    harness('registry.sh', 'stop', join(dir, 'registry'));
    ledgerd.kill('SIGTERM');
    await ledgerdExited;
    rmSync(dir, { recursive: true, force: true });
  }
}
