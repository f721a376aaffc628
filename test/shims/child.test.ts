/**
 * The runc shim's child processes (src/shims/runc-shim/child.ts): posix_spawn with stdio,
 * working directory, input and output, default signal dispositions, and the exit status from a
 * blocking waitpid (no reaper, as in the `delete` action) or from the shim's reaper.
 */
import assert from 'node:assert/strict';
import { openSync, closeSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { runChild } from '../../src/shims/runc-shim/child.js';
import { Reaper } from '../../src/shims/runc-shim/reaper.js';

const SH = '/bin/sh';
const captured = { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] as const };

function behavesLikeAChild(label: string): void {
  test(`${label}: output, exit status and signal deaths`, async () => {
    const result = await runChild(SH, ['-c', 'echo out; echo err >&2; exit 3'], captured);
    assert.deepEqual(result, { exitCode: 3, stdout: 'out', stderr: 'err' });
    const killed = await runChild(SH, ['-c', 'kill -TERM $$'], captured);
    assert.equal(killed.exitCode, 128 + 15);
  });

  test(`${label}: input on a piped stdin, and the working directory`, async () => {
    const result = await runChild(SH, ['-c', 'cat; pwd'], { cwd: '/tmp', stdio: ['pipe', 'pipe', 'ignore'], input: '{"resources":1}\n' });
    assert.equal(result.stdout, '{"resources":1}\n/tmp');
  });

  test(`${label}: one of our file descriptors as its stdout`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledgerd-child-'));
    try {
      const fd = openSync(join(dir, 'out'), 'w');
      const result = await runChild(SH, ['-c', 'echo to-file'], { cwd: '/', stdio: ['ignore', fd, 'ignore'] });
      closeSync(fd);
      assert.deepEqual(result, { exitCode: 0, stdout: '', stderr: '' });
      assert.equal(readFileSync(join(dir, 'out'), 'utf8'), 'to-file\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${label}: no signal ignored or blocked (Node ignores SIGPIPE; the container must not inherit it)`, async () => {
    const { stdout } = await runChild(SH, ['-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status'], captured);
    assert.match(stdout, /SigBlk:\s+0+\n/);
    assert.match(stdout, /SigIgn:\s+0+$/);
  });

  test(`${label}: a program that cannot be started rejects with the reason`, async () => {
    await assert.rejects(runChild('/nonexistent/runc', ['--version'], captured), /posix_spawn \/nonexistent\/runc: ENOENT/);
  });
}

describe('without a reaper', () => behavesLikeAChild('without a reaper'));

describe('with the shim\'s reaper started: the exits come from it', () => {
  // once started, the reaper (SIGCHLD) collects every child of this process for good
  before(() => new Reaper().start());
  behavesLikeAChild('with a reaper');
});
