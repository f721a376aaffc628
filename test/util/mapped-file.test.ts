import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EventLog } from '../../src/log/index.js';
import { releaseMappedPages, sharedMappingsOf } from '../../src/util/mapped-file.js';
import { tempDir } from '../helpers/tmp.js';

/** Resident kilobytes of this process's mappings of `path`, from /proc/self/smaps. */
function residentKb(path: string): number {
  let inside = false;
  let kb = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inside = line.endsWith(` ${path}`);
    else if (inside && line.startsWith('Rss:')) kb += Number(line.split(/\s+/)[1]);
  }
  return kb;
}

test('sharedMappingsOf reads the shared mappings of one path from a maps listing', () => {
  const maps = [
    '7f0000000000-7f0000400000 r--s 00000000 fd:01 42                         /var/lib/x/events.mdb',
    '7f0000400000-7f0000401000 rw-p 00000000 fd:01 42                         /var/lib/x/events.mdb',
    '7f0000500000-7f0000600000 r--s 00000000 fd:01 43                         /var/lib/x/events.mdb-lock',
    '7f0000600000-7f0000601000 rw-p 00000000 00:00 0',
  ].join('\n');
  assert.deepEqual(sharedMappingsOf('/var/lib/x/events.mdb', maps), [{ start: 0x7f0000000000n, end: 0x7f0000400000n }]);
});

test("the log's pages a read touched leave the resident set, and the records read the same after", async (t) => {
  const log = EventLog.open({ dir: tempDir(t), recentRecords: 0 });
  t.after(() => log.close());
  const filler = 'x'.repeat(2000);
  for (let i = 0; i < 20; i++) await log.append(Array.from({ length: 100 }, (_, j) => ({ namespace: 'ns', stream: `s/${i}`, type: 'Thing', payload: { i, j, filler } })));
  const before = [...log.read(1)].map((r) => JSON.stringify(r.payload));
  const touched = residentKb(log.path);
  assert.ok(touched > 2000, `reading 4 MB of records maps them (${touched} kB resident)`);
  assert.ok(releaseMappedPages(log.path) > 0);
  const released = residentKb(log.path);
  assert.ok(released < touched / 4, `${released} kB resident after the release, ${touched} kB before`);
  assert.deepEqual([...log.read(1)].map((r) => JSON.stringify(r.payload)), before);
});
