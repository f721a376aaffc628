/** Compression, media types and tar framing, against containerd's (and Go archive/tar's) rules. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { detectCompression, streamHandling } from '../../src/diff/index.js';
import { tempDir } from '../helpers/tmp.js';
import { apply, gzip, OCI_GZIP, OCI_TAR, OCI_ZSTD, raw, rawTar, sha256, tarLayer, zstd } from './layers.js';

const sample = () =>
  tarLayer([
    { name: 'a/', type: 'directory' },
    { name: 'a/big', content: Buffer.alloc(300_000, 7) },
    { name: 'a/small', content: 'hello' },
  ]);

for (const [label, mediaType, compress] of [
  ['uncompressed', OCI_TAR, async (b: Buffer) => b],
  ['gzip', OCI_GZIP, async (b: Buffer) => gzip(b)],
  ['zstd', OCI_ZSTD, zstd],
  ['docker gzip', 'application/vnd.docker.image.rootfs.diff.tar.gzip', async (b: Buffer) => gzip(b)],
  ['docker tar holding gzip (detected)', 'application/vnd.docker.image.rootfs.diff.tar', async (b: Buffer) => gzip(b)],
  ['docker tar holding zstd (detected)', 'application/vnd.docker.image.rootfs.diff.tar', zstd],
  ['+gzip holding a plain tar (passthrough)', OCI_GZIP, async (b: Buffer) => b],
  ['+gzip holding zstd (detected by magic)', OCI_GZIP, zstd],
  ['nondistributable +zstd', 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', zstd],
] as const) {
  test(`applies ${label}; diffID is the tar's sha256`, async (t) => {
    const root = tempDir(t);
    const tarball = await sample();
    const blob = await compress(tarball);
    for (const chunk of [1, 511, 4096, 1 << 20]) {
      const r = await apply(blob, root, { mediaType, chunk });
      assert.equal(r.digest, sha256(tarball));
      assert.equal(r.size, tarball.length);
      assert.equal(r.compressed.digest, sha256(blob));
      assert.equal(r.compressed.size, blob.length);
      assert.equal(r.entries, 3);
    }
    assert.deepEqual(readFileSync(`${root}/a/big`), Buffer.alloc(300_000, 7));
    assert.equal(readFileSync(`${root}/a/small`, 'utf8'), 'hello');
  });
}

test('a gzip blob declared as a plain OCI tar is not detected and fails (as containerd)', async (t) => {
  // containerd: "unexpected EOF" (this small blob is shorter than one tar block).
  await assert.rejects(apply(gzip(await sample()), tempDir(t), { mediaType: OCI_TAR }), /Unexpected end of data|Invalid tar header/);
});

test('unknown media types have no stream processor', async (t) => {
  await assert.rejects(apply(await sample(), tempDir(t), { mediaType: 'application/octet-stream' }), {
    message: 'failed to get stream processor for application/octet-stream: no processor for media-type',
  });
  assert.equal(streamHandling('application/vnd.oci.image.layer.v1.tar+encrypted'), 'none');
  assert.equal(streamHandling('application/vnd.docker.image.rootfs.diff.tar.gzip+foo'), 'none');
});

test('magic detection: gzip, zstd frames, zstd skippable frames, anything else', () => {
  assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 0x08, 0])), 'gzip');
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(detectCompression(Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 4, 0, 0, 0])), 'zstd');
  assert.equal(detectCompression(Buffer.from([0x5f, 0x2a, 0x4d, 0x18])), 'none', 'a skippable frame needs 8 bytes');
  assert.equal(detectCompression(Buffer.from('ustar')), 'none');
  assert.equal(detectCompression(Buffer.alloc(0)), 'none');
});

test('corrupt or truncated compressed data fails the apply', async (t) => {
  const blob = gzip(await sample());
  await assert.rejects(apply(blob.subarray(0, blob.length - 100), tempDir(t), { mediaType: OCI_GZIP }));
  const z = await zstd(await sample());
  await assert.rejects(apply(z.subarray(0, z.length - 50), tempDir(t), { mediaType: OCI_ZSTD }), /zstd/);
});

test('an empty blob is an empty layer', async (t) => {
  const r = await apply(Buffer.alloc(0), tempDir(t), { mediaType: OCI_GZIP });
  assert.equal(r.digest, sha256(Buffer.alloc(0)));
  assert.equal(r.entries, 0);
});

test("bytes after the end-of-archive marker are hashed and counted, never parsed (Go's reader)", async (t) => {
  const root = tempDir(t);
  const after = rawTar([{ header: raw({ name: 'ignored', size: 1 }), content: Buffer.from('x') }]);
  const layer = Buffer.concat([rawTar([{ header: raw({ name: 'kept', size: 1 }), content: Buffer.from('k') }]), after, Buffer.from('garbage')]);
  const r = await apply(layer, root);
  assert.equal(r.digest, sha256(layer));
  assert.equal(r.size, layer.length);
  assert.deepEqual(readdirSync(root), ['kept']);
});

test('a tar without an end-of-archive marker is accepted', async (t) => {
  const root = tempDir(t);
  await apply(rawTar([{ header: raw({ name: 'f', size: 1 }), content: Buffer.from('x') }], { trailer: false }), root);
  assert.ok(existsSync(`${root}/f`));
});

test('a zero block followed by a header is an invalid tar', async (t) => {
  const layer = Buffer.concat([Buffer.alloc(512), rawTar([{ header: raw({ name: 'f' }) }])]);
  await assert.rejects(apply(layer, tempDir(t)), { name: 'LayerFormatError', message: /zero block/ });
});

test('truncated tar data fails', async (t) => {
  const layer = rawTar([{ header: raw({ name: 'f', size: 1000 }), content: Buffer.alloc(1000) }], { trailer: false });
  await assert.rejects(apply(layer.subarray(0, 900), tempDir(t)), /Unexpected end of data/);
});

test('a bad header checksum fails', async (t) => {
  const layer = rawTar([{ header: raw({ name: 'f' }) }]);
  layer[10] = 0x41;
  await assert.rejects(apply(layer, tempDir(t)), /Invalid tar header/);
});

test('unsupported entry types fail: GNU sparse, contiguous files, vendor types', async (t) => {
  const sparse = rawTar([{ header: raw({ name: 'f' }) }]);
  sparse[156] = 0x53; // 'S'
  recomputeChecksum(sparse);
  await assert.rejects(apply(sparse, tempDir(t)), { name: 'LayerFormatError', message: /unhandled tar header type 83/ });
  const cont = rawTar([{ header: raw({ name: 'f' }) }]);
  cont[156] = 0x37; // '7'
  recomputeChecksum(cont);
  await assert.rejects(apply(cont, tempDir(t)), /unhandled tar header type 55/);
  const paxSparse = rawTar([{ header: raw({ name: 'f', pax: new Map([['GNU.sparse.major', Buffer.from('1')]]) }) }]);
  await assert.rejects(apply(paxSparse, tempDir(t)), /sparse files are not supported/);
});

test('header-only entries carrying data are refused (Go and tar-stream would frame them differently)', async (t) => {
  const layer = rawTar([{ header: raw({ name: 's', typeflag: '2', linkname: 'x', size: 5 }), content: Buffer.from('12345') }]);
  await assert.rejects(apply(layer, tempDir(t)), { name: 'LayerFormatError', message: /symlink entry must not carry data/ });
});

test('PAX global headers that would rename entries are refused; harmless ones ignored', async (t) => {
  const g = (records: Map<string, Buffer>) => Buffer.concat(globalHeader(records));
  const entry = rawTar([{ header: raw({ name: 'f', size: 1 }), content: Buffer.from('1') }]);
  await assert.rejects(apply(Buffer.concat([g(new Map([['path', Buffer.from('../x')]])), entry]), tempDir(t)), /PAX global header sets "path"/);
  const root = tempDir(t);
  await apply(Buffer.concat([g(new Map([['comment', Buffer.from('git commit 123')]])), entry]), root);
  assert.deepEqual(readdirSync(root), ['f']);
});

/** A PAX global header ('g') block with its records. */
function globalHeader(records: Map<string, Buffer>): Buffer[] {
  const blocks = rawTar([{ header: raw({ name: 'x', pax: records }) }], { trailer: false });
  const size = parseInt(blocks.toString('latin1', 124, 135), 8);
  const header = Buffer.from(blocks.subarray(0, 512));
  header[156] = 0x67; // 'g'
  recomputeChecksum(header);
  const padded = Math.ceil(size / 512) * 512;
  return [header, blocks.subarray(512, 512 + size), Buffer.alloc(padded - size)];
}

function recomputeChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}
