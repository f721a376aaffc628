/**
 * Apply throughput for a ~100 MB layer vs `cat > file` of the same bytes to the same disk.
 * Not a test (the runner skips it): `node dist/test/diff/throughput.bench.js [dir]`.
 */
import { createReadStream, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { applyLayer } from '../../src/diff/index.js';
import { type Entry, OCI_GZIP, OCI_TAR, OCI_ZSTD, tarLayer, zstd } from './layers.js';

const dir = process.argv[2] ?? `${tmpdir()}/ledgerd-bench-diff`;
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

/** Compressible content (~2:1), like binaries and text in real layers. */
function content(size: number): Buffer {
  const b = randomBytes(size);
  for (let i = 0; i < size; i++) b[i] = 0x61 + (b[i]! & 0x0f);
  return b;
}

/** ~100 MB in 10 files: the data path alone. */
async function makeBigFileLayer(): Promise<Buffer> {
  const big = content(10 << 20);
  return tarLayer(Array.from({ length: 10 }, (_, i): Entry => ({ name: `data/f${i}`, content: big })));
}

/** ~100 MB spread like an image layer: big, medium and many small files, symlinks. */
async function makeLayer(): Promise<Buffer> {
  const entries: Entry[] = [];
  const big = content(4 << 20);
  for (let i = 0; i < 12; i++) entries.push({ name: `big/f${i}`, content: big }); // 48 MiB in large files
  const mid = content(64 << 10);
  for (let i = 0; i < 500; i++) entries.push({ name: `mid/d${i % 20}/f${i}`, content: mid }); // 31 MiB
  const small = content(2 << 10);
  for (let i = 0; i < 10000; i++) entries.push({ name: `small/d${i % 200}/f${i}`, content: small.subarray(0, 500 + (i % 1500)) }); // ~12 MiB
  for (let i = 0; i < 2000; i++) entries.push({ name: `links/l${i}`, type: 'symlink', linkname: `../small/d0/f${i}` });
  return tarLayer(entries);
}

let outs = 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Variant {
  label: string;
  run: (out: string) => Promise<unknown>;
  sync?: boolean;
}

/**
 * Runs the variants round-robin (noise from other work on the machine then hits all of them),
 * each into a fresh directory; nothing is deleted until the end (on a filesystem mounted with
 * `discard`, deleting 100 MB makes the next writes crawl).
 */
async function bench(variants: Variant[], mb: number, rounds: number): Promise<void> {
  const secs = variants.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [i, v] of variants.entries()) {
      const out = `${dir}/out${outs++}`;
      mkdirSync(out);
      await execa('sync');
      const t0 = process.hrtime.bigint();
      await v.run(out);
      if (v.sync) await execa('sync');
      secs[i]!.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }
  for (const [i, v] of variants.entries()) {
    const s = median(secs[i]!);
    const all = secs[i]!.map((x) => x.toFixed(2)).join(' ');
    console.log(`${v.label.padEnd(34)} median ${s.toFixed(2)} s ${(mb / s).toFixed(0).padStart(5)} MB/s   (runs: ${all})`);
  }
}

for (const [name, make] of [['mixed', makeLayer], ['big files', makeBigFileLayer]] as const) {
  const tarball = await make();
  const mb = tarball.length / 1e6;
  writeFileSync(`${dir}/layer.tar`, tarball);
  writeFileSync(`${dir}/layer.tar.gz`, gzipSync(tarball));
  writeFileSync(`${dir}/layer.tar.zst`, await zstd(tarball));
  console.log(`\n${name} layer: ${mb.toFixed(1)} MB uncompressed, ${(statSync(`${dir}/layer.tar.gz`).size / 1e6).toFixed(1)} MB gzip, ${(statSync(`${dir}/layer.tar.zst`).size / 1e6).toFixed(1)} MB zstd; MB/s of uncompressed bytes`);

  const apply = (file: string, mediaType: string) => (out: string) =>
    applyLayer(createReadStream(`${dir}/${file}`, { highWaterMark: 1 << 20 }), out, { mediaType, whiteouts: 'apply' });
  await bench(
    [
      { label: 'cat layer.tar > file', run: (out) => execa('sh', ['-c', `cat ${dir}/layer.tar > ${out}/copy`]) },
      { label: 'GNU tar -xf layer.tar', run: (out) => execa('tar', ['-xf', `${dir}/layer.tar`, '-C', out]) },
      { label: 'applyLayer (uncompressed)', run: apply('layer.tar', OCI_TAR) },
      { label: 'GNU tar -xzf layer.tar.gz', run: (out) => execa('tar', ['-xzf', `${dir}/layer.tar.gz`, '-C', out]) },
      { label: 'applyLayer (gzip)', run: apply('layer.tar.gz', OCI_GZIP) },
      { label: 'applyLayer (zstd)', run: apply('layer.tar.zst', OCI_ZSTD) },
      { label: 'cat layer.tar > file; sync', run: (out) => execa('sh', ['-c', `cat ${dir}/layer.tar > ${out}/copy`]), sync: true },
      { label: 'applyLayer (uncompressed); sync', run: apply('layer.tar', OCI_TAR), sync: true },
    ],
    mb,
    Number(process.env.ROUNDS ?? 5),
  );
}
rmSync(dir, { recursive: true, force: true });
