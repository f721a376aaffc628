// Where a pull of the harness's `layered` image spends its time, stage by stage, in one process
// (no daemon, no gRPC): the download from a registry on 127.0.0.1 (verified against the digests),
// gunzip alone, gunzip + sha256, the whole apply (gunzip + sha256 + untar into a directory), the
// fsync of what the apply wrote, and the disk's plain write rate for the same number of bytes.
// Usage: node dist/bench/pull-stages.js [--runs N] [--port PORT]
// Prints "name value unit" (medians over the runs).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGunzip } from 'node:zlib';
import { applyLayer } from '../src/diff/index.js';
import { downloadBlob, parseReference, Registry } from '../src/client/registry/index.js';
import { harnessImages } from '../test/helpers/harness-services.js';
import { median, report } from './report.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, port: { type: 'string', default: '5102' } } });
const HARNESS = fileURLToPath(new URL('../../../shared/harness/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ledgerd-bench-stages-'));
const env = { ...process.env, REGISTRY_PORT: values.port! };
const harness = (...args: string[]) => execFileSync('bash', [join(HARNESS, 'registry.sh'), ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

try {
  const images = harnessImages();
  harness('start', join(dir, 'registry'), images);
  const layout = join(images, 'layered');
  const read = (digest: string) => readFileSync(join(layout, 'blobs', digest.replace(':', '/')));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(read(index.manifests[0].digest).toString());
  const layers: { mediaType: string; digest: string; size: number }[] = manifest.layers;
  const blobs = layers.map((l) => read(l.digest));
  const stages: Record<string, number[]> = { fetch: [], gunzip: [], gunzip_sha256: [], apply: [], fsync: [], disk_write_fsync: [] };
  let uncompressed = 0;

  for (let run = 0; run < Number(values.runs); run++) {
    const registry = new Registry(parseReference(`127.0.0.1:${values.port}/layered:latest`));
    stages.fetch!.push(await timed(() => Promise.all(layers.map(async (l) => {
      for await (const chunk of downloadBlob(registry, l)) void chunk;
    }))));
    await registry.close();

    stages.gunzip!.push(await timed(async () => {
      for (const blob of blobs) await pipeline(Readable.from([blob]), createGunzip(), async function* (source) { for await (const c of source) void c; });
    }));
    uncompressed = 0;
    stages.gunzip_sha256!.push(await timed(async () => {
      for (const blob of blobs) {
        const hash = createHash('sha256');
        await pipeline(Readable.from([blob]), createGunzip(), async function* (source) {
          for await (const c of source as AsyncIterable<Buffer>) {
            hash.update(c);
            uncompressed += c.length;
          }
        });
        hash.digest();
      }
    }));

    const root = join(dir, `root-${run}`);
    mkdirSync(root);
    stages.apply!.push(await timed(async () => {
      for (const [i, blob] of blobs.entries()) await applyLayer(Readable.from([blob]), root, { mediaType: layers[i]!.mediaType, whiteouts: 'apply' });
    }));
    stages.fsync!.push(await timed(() => execFileSync('sync', ['-f', root])));
    rmSync(root, { recursive: true, force: true });
    execFileSync('sync');

    const file = join(dir, 'plain.bin');
    const chunk = Buffer.alloc(1 << 20, 0x5a);
    stages.disk_write_fsync!.push(await timed(() => {
      const fd = openSync(file, 'w');
      for (let written = 0; written < uncompressed; written += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, uncompressed - written));
      fsyncSync(fd);
      closeSync(fd);
    }));
    rmSync(file);
  }
  const compressed = layers.reduce((sum, l) => sum + l.size, 0);
  report('layered_compressed', compressed / 1e6, 'MB');
  report('layered_uncompressed', uncompressed / 1e6, 'MB');
  for (const [stage, times] of Object.entries(stages)) {
    report(`stage.${stage}`, median(times), 's');
    const bytes = stage === 'fetch' ? compressed : uncompressed;
    report(`stage.${stage}_rate`, bytes / 1e6 / median(times), 'MB/s');
  }
  report('stage.untar_alone_estimate', median(stages.apply!) - median(stages.gunzip_sha256!), 's');
  report('host_loadavg1_end', Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]), 'load');
} finally {
  harness('stop', join(dir, 'registry'));
  rmSync(dir, { recursive: true, force: true });
}
