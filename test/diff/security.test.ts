/**
 * Malicious layers: each is refused with an error naming the entry and the rule, and nothing
 * outside the target changes (a sentinel directory beside it, and the host's /etc/passwd).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import type { SafetyRule } from '../../src/diff/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { apply, type Entry, raw, rawTar, sha256, tarLayer } from './layers.js';

interface Case {
  name: string;
  entries?: Entry[];
  raw?: Buffer;
  /** Prepares the target as a lower layer would have left it (native snapshotter). */
  lower?: (root: string, sentinel: string) => void;
  rule: SafetyRule;
  entry: string;
}

const cases: Case[] = [
  { name: '../ escape', entries: [{ name: '../sentinel/pwned', content: 'x' }], rule: 'parent-component', entry: '../sentinel/pwned' },
  { name: 'absolute path', entries: [{ name: '/etc/pwned', content: 'x' }], rule: 'absolute-path', entry: '/etc/pwned' },
  { name: 'deep a/../../x', entries: [{ name: 'a/', type: 'directory' }, { name: 'a/../../sentinel/pwned', content: 'x' }], rule: 'parent-component', entry: 'a/../../sentinel/pwned' },
  { name: 'dot-dot as a directory entry', entries: [{ name: '../', type: 'directory' }], rule: 'parent-component', entry: '../' },
  {
    name: 'symlink escape, then a file written through it',
    entries: [{ name: 'evil', type: 'symlink', linkname: '../sentinel' }, { name: 'evil/pwned', content: 'x' }],
    rule: 'through-layer-symlink',
    entry: 'evil/pwned',
  },
  {
    name: 'absolute symlink to /, then a file through it',
    entries: [{ name: 'evil', type: 'symlink', linkname: '/' }, { name: 'evil/etc/pwned', content: 'x' }],
    rule: 'through-layer-symlink',
    entry: 'evil/etc/pwned',
  },
  {
    name: 'directory replaced by a symlink, then written through',
    entries: [
      { name: 'd/', type: 'directory' },
      { name: 'd', type: 'symlink', linkname: '../sentinel' },
      { name: 'd/pwned', content: 'x' },
    ],
    rule: 'through-layer-symlink',
    entry: 'd/pwned',
  },
  {
    name: 'symlink then a whiteout through it (deletes outside)',
    entries: [{ name: 'evil', type: 'symlink', linkname: '../sentinel' }, { name: 'evil/.wh.passwd' }],
    rule: 'through-layer-symlink',
    entry: 'evil/.wh.passwd',
  },
  {
    name: 'symlink then an opaque marker through it',
    entries: [{ name: 'evil', type: 'symlink', linkname: '../sentinel' }, { name: 'evil/.wh..wh..opq' }],
    rule: 'through-layer-symlink',
    entry: 'evil/.wh..wh..opq',
  },
  { name: 'hardlink to /etc/passwd', entries: [{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }], rule: 'absolute-path', entry: 'passwd' },
  { name: 'hardlink to ../sentinel/passwd', entries: [{ name: 'passwd', type: 'link', linkname: '../sentinel/passwd' }], rule: 'parent-component', entry: 'passwd' },
  {
    name: 'hardlink through a symlink of the layer',
    entries: [{ name: 's', type: 'symlink', linkname: '../sentinel' }, { name: 'passwd', type: 'link', linkname: 's/passwd' }],
    rule: 'through-layer-symlink',
    entry: 'passwd',
  },
  {
    name: 'hardlink through a lower symlink that climbs out',
    lower: (root) => symlinkSync('../sentinel', `${root}/up`),
    entries: [{ name: 'passwd', type: 'link', linkname: 'up/passwd' }],
    rule: 'symlink-escape',
    entry: 'passwd',
  },
  {
    name: 'lower symlink climbing above the root, then a file through it',
    lower: (root) => symlinkSync('../../../../sentinel', `${root}/lowerlink`),
    entries: [{ name: 'lowerlink/pwned', content: 'x' }],
    rule: 'symlink-escape',
    entry: 'lowerlink/pwned',
  },
  {
    name: 'symlink loop in the lower layer',
    lower: (root) => {
      symlinkSync('b', `${root}/a`);
      symlinkSync('a', `${root}/b`);
    },
    entries: [{ name: 'a/x', content: 'x' }],
    rule: 'too-many-links',
    entry: 'a/x',
  },
  {
    name: 'PAX path overriding an innocent USTAR name',
    raw: rawTar([{ header: raw({ name: 'innocent', size: 1, pax: new Map([['path', Buffer.from('../sentinel/pwned')]]) }), content: Buffer.from('x') }]),
    rule: 'parent-component',
    entry: '../sentinel/pwned',
  },
  {
    name: 'PAX linkpath escaping for a hardlink',
    raw: rawTar([{ header: raw({ name: 'h', typeflag: '1', linkname: 'x', pax: new Map([['linkpath', Buffer.from('../../etc/passwd')]]) }) }]),
    rule: 'parent-component',
    entry: 'h',
  },
  { name: 'whiteout of ".."', entries: [{ name: 'a/.wh...' }], rule: 'invalid-whiteout', entry: 'a/.wh...' },
  { name: 'whiteout of "."', entries: [{ name: '.wh..' }], rule: 'invalid-whiteout', entry: '.wh..' },
  { name: 'whiteout escaping with ../', entries: [{ name: '../.wh.sentinel' }], rule: 'parent-component', entry: '../.wh.sentinel' },
  { name: 'hardlink to a directory', entries: [{ name: 'd/', type: 'directory' }, { name: 'h', type: 'link', linkname: 'd' }], rule: 'hardlink-target', entry: 'h' },
];

const passwd = sha256(readFileSync('/etc/passwd'));

function fixture(t: import('node:test').TestContext) {
  const base = tempDir(t);
  const root = `${base}/root`;
  const sentinel = `${base}/sentinel`;
  mkdirSync(root);
  mkdirSync(sentinel);
  writeFileSync(`${sentinel}/passwd`, 'root:x:0:0\n');
  const before = () => ({
    base: readdirSync(base).sort(),
    sentinel: readdirSync(sentinel).sort(),
    passwd: readFileSync(`${sentinel}/passwd`, 'utf8'),
    mtime: statSync(sentinel).mtimeMs,
    nlink: statSync(`${sentinel}/passwd`).nlink,
    host: sha256(readFileSync('/etc/passwd')),
  });
  return { base, root, sentinel, state: before };
}

for (const mode of ['apply', 'overlay'] as const) {
  for (const c of cases) {
    test(`refused (${mode}): ${c.name}`, async (t) => {
      const f = fixture(t);
      c.lower?.(f.root, f.sentinel);
      const expected = f.state();
      const layer = c.raw ?? (await tarLayer(c.entries!));
      await assert.rejects(apply(layer, f.root, { whiteouts: mode }), (err: Error & { rule?: string; entry?: string }) => {
        assert.equal(err.name, 'UnsafeEntryError', err.message);
        assert.equal(err.rule, c.rule, err.message);
        assert.equal(err.entry, c.entry);
        assert.ok(err.message.includes(JSON.stringify(c.entry)), err.message);
        return true;
      });
      assert.deepEqual(f.state(), expected, 'nothing outside the target changed');
      assert.equal(expected.host, passwd);
    });
  }
}

test('directory times set at the end never follow a symlink that replaced a parent', async (t) => {
  const f = fixture(t);
  mkdirSync(`${f.sentinel}/b`);
  const sentinelB = statSync(`${f.sentinel}/b`).mtimeMs;
  const expected = f.state();
  await apply(
    await tarLayer([
      { name: 'a/', type: 'directory' },
      { name: 'a/b/', type: 'directory', mtime: new Date(0) },
      { name: 'a', type: 'symlink', linkname: '../sentinel' },
    ]),
    f.root,
  );
  assert.deepEqual(f.state(), expected);
  assert.equal(statSync(`${f.sentinel}/b`).mtimeMs, sentinelB);
});

test('an absolute symlink from a lower layer is re-rooted: the write lands inside the target', async (t) => {
  const f = fixture(t);
  symlinkSync(f.sentinel, `${f.root}/abs`); // e.g. /var/run -> /run
  const expected = f.state();
  await apply(await tarLayer([{ name: 'abs/pwned', content: 'x' }]), f.root);
  assert.deepEqual(f.state(), expected);
  assert.equal(readFileSync(`${f.root}${f.sentinel}/pwned`, 'utf8'), 'x');
});

test('a symlink entry is stored verbatim, and may be replaced by a later entry', async (t) => {
  const f = fixture(t);
  await apply(
    await tarLayer([
      { name: 'etc/mtab', type: 'symlink', linkname: '../../../../proc/self/mounts' },
      { name: 'x', type: 'symlink', linkname: '/etc/shadow' },
      { name: 'x', content: 'replaced, not followed' },
    ]),
    f.root,
  );
  const { readlinkSync } = await import('node:fs');
  assert.equal(readlinkSync(`${f.root}/etc/mtab`), '../../../../proc/self/mounts');
  assert.equal(readFileSync(`${f.root}/x`, 'utf8'), 'replaced, not followed');
  assert.equal(sha256(readFileSync('/etc/passwd')), passwd);
});
