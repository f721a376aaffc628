import { test } from 'node:test';
import assert from 'node:assert/strict';
// @ts-expect-error hpack.js has no types; the test uses its compressor and decompressor
import hpack from 'hpack.js';
import { HeadersRewriter } from '../../src/daemon/unix-authority.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function headersFrame(block: Buffer, streamId: number): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(block.length, 0, 3);
  header[3] = 0x1;
  header[4] = 0x4; // END_HEADERS
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, block]);
}

test("a unix socket path as :authority becomes a valid authority of the same length, Huffman-coded or not, in one client's HPACK context", () => {
  const compressor = hpack.compressor.create({ table: { size: 4096 } });
  const decompressor = hpack.decompressor.create({ table: { size: 4096 } });
  const path = '/tmp/cri-ld/d/ledgerd.sock';
  const blocks: Buffer[] = [];
  for (const huffman of [true, false]) {
    compressor.write([
      { name: ':method', value: 'POST', huffman },
      { name: ':authority', value: path + (huffman ? '' : '2'), huffman },
    ]);
    let chunk: Buffer | null;
    const parts: Buffer[] = [];
    while ((chunk = compressor.read())) parts.push(chunk);
    blocks.push(Buffer.concat(parts));
  }
  const data = Buffer.concat([PREFACE, headersFrame(blocks[0]!, 1), headersFrame(blocks[1]!, 3)]);
  const rewriter = new HeadersRewriter();
  // in pieces, as a socket delivers it
  const out = Buffer.concat([rewriter.push(data.subarray(0, 30)), rewriter.push(data.subarray(30, 41)), rewriter.push(data.subarray(41))]);
  assert.equal(out.length, data.length);
  assert.deepEqual(out.subarray(0, 24), PREFACE);
  const decoded: { name: string; value: string }[] = [];
  for (let at = 24; at < out.length; ) {
    const length = out.readUIntBE(at, 3);
    decompressor.write(out.subarray(at + 9, at + 9 + length));
    decompressor.execute();
    let header: { name: string; value: string } | null;
    while ((header = decompressor.read())) decoded.push({ name: header.name, value: header.value });
    at += 9 + length;
  }
  assert.deepEqual(
    decoded.filter((h) => h.name === ':authority').map((h) => h.value),
    ['_tmp_cri-ld_d_ledgerd.sock', '_tmp_cri-ld_d_ledgerd.sock2'],
  );
  assert.deepEqual(decoded.filter((h) => h.name === ':method').map((h) => h.value), ['POST', 'POST']);
});
