// Issue 3's acceptance check: the harness's multi-layer image (whiteouts, an opaque directory,
// links, special modes, a deep tree), pulled with the real `ctr` into ledgerd and into real
// containerd 1.6, unpacks to the same tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon } from '../helpers/daemon.js';
import { ctrAt } from '../helpers/ctr.js';
import { skipWithoutReference, startReferenceContainerd, startRegistry } from '../helpers/harness-services.js';
import { tempDir } from '../helpers/tmp.js';

const REGISTRY_PORT = 5121;
const NS = 'unpackcmp';

interface Entry {
  type: string;
  mode: string;
  owner: string;
  size: number;
  mtime?: number;
  content?: string;
  /** The first path (in walk order) with the same inode, for hardlinks. */
  linkedTo?: string;
}

function walk(root: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  const inodes = new Map<number, string>();
  const visit = (relative: string) => {
    const path = join(root, relative);
    const st = lstatSync(path);
    const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'other';
    const entry: Entry = { type, mode: (st.mode & 0o7777).toString(8), owner: `${st.uid}:${st.gid}`, size: type === 'dir' ? 0 : st.size };
    if (type !== 'dir') entry.mtime = Math.floor(st.mtimeMs / 1000);
    if (type === 'file') entry.content = createHash('sha256').update(readFileSync(path)).digest('hex');
    if (type === 'symlink') entry.content = readlinkSync(path);
    if (type === 'char' || type === 'block') entry.content = String(st.rdev);
    if (type !== 'dir' && st.nlink > 1) {
      const first = inodes.get(st.ino);
      if (first) entry.linkedTo = first;
      else inodes.set(st.ino, relative);
    }
    entries.set(relative || '/', entry);
    if (type === 'dir') for (const name of readdirSync(path).sort()) visit(join(relative, name));
  };
  visit('');
  return entries;
}

/** The image mounted by `ctr images mount` (a snapshot on its chain, under ctr's lease), walked, unmounted. */
function unpackedTree(address: string, registry: string, mountPoint: string): Map<string, Entry> {
  const ctr = ctrAt(address, NS);
  const ref = `${registry}/layered:latest`;
  ctr('images', 'pull', '--plain-http', ref);
  mkdirSync(mountPoint);
  ctr('images', 'mount', ref, mountPoint);
  try {
    return walk(mountPoint);
  } finally {
    ctr('images', 'unmount', '--rm', mountPoint);
  }
}

test('the layered image pulled by ledgerd and by containerd 1.6 unpacks to the same tree', { skip: skipWithoutReference, timeout: 300_000 }, async (t) => {
  const registry = startRegistry(t, REGISTRY_PORT);
  const reference = startReferenceContainerd(t);
  const daemon = await startTestDaemon(t);
  const dir = tempDir(t);

  const expected = unpackedTree(reference, registry, join(dir, 'containerd'));
  const actual = unpackedTree(daemon.address, registry, join(dir, 'ledgerd'));

  assert.ok(expected.size > 1000, `the reference tree has ${expected.size} entries`);
  const missing = [...expected.keys()].filter((path) => !actual.has(path));
  const extra = [...actual.keys()].filter((path) => !expected.has(path));
  assert.deepEqual({ missing: missing.slice(0, 20), extra: extra.slice(0, 20) }, { missing: [], extra: [] });
  const different = [...expected].filter(([path, entry]) => JSON.stringify(actual.get(path)) !== JSON.stringify(entry));
  assert.deepEqual(
    different.slice(0, 10).map(([path, entry]) => ({ path, containerd: entry, ledgerd: actual.get(path) })),
    [],
  );
});
