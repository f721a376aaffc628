import { test } from 'node:test';
import assert from 'node:assert/strict';
import { digestProblem, EMPTY_DIGEST, goDuration, goTime } from '../../src/content/index.js';
import { formatTime, parseTime } from '../../src/content/files.js';

test('digest problems in go-digest words', () => {
  assert.equal(digestProblem(`sha256:${'a'.repeat(64)}`), undefined);
  assert.equal(digestProblem(`sha512:${'0'.repeat(128)}`), undefined);
  assert.equal(digestProblem(''), 'invalid checksum digest format');
  assert.equal(digestProblem('sha256'), 'invalid checksum digest format');
  assert.equal(digestProblem('sha256:'), 'invalid checksum digest format');
  assert.equal(digestProblem('sha256:abc'), 'invalid checksum digest length');
  assert.equal(digestProblem(`sha256:${'A'.repeat(64)}`), 'invalid checksum digest format');
  assert.equal(digestProblem('md5:abcd'), 'unsupported digest algorithm');
  assert.equal(digestProblem('Bad Alg:abcd'), 'invalid checksum digest format');
  assert.equal(EMPTY_DIGEST, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('Go-style durations and times for the lock message', () => {
  assert.equal(goDuration(0n), '0s');
  assert.equal(goDuration(999n), '999ns');
  assert.equal(goDuration(1_500n), '1.5µs');
  assert.equal(goDuration(452_123_000n), '452.123ms');
  assert.equal(goDuration(1_500_000_000n), '1.5s');
  assert.equal(goDuration(123_400_000_000n), '2m3.4s');
  assert.equal(goDuration(3_723_000_000_000n), '1h2m3s');
  assert.equal(goTime(1_700_000_000_123_456_789n), '2023-11-14 22:13:20.123456789 +0000 UTC');
});

test('RFC 3339 timestamps keep nanoseconds both ways and read any offset', () => {
  const ns = 1_700_000_000_123_456_789n;
  assert.equal(formatTime(ns), '2023-11-14T22:13:20.123456789Z');
  assert.equal(parseTime(formatTime(ns)), ns);
  assert.equal(formatTime(1_700_000_000_000_000_000n), '2023-11-14T22:13:20Z');
  assert.equal(parseTime('2023-11-14T23:13:20.5+01:00'), 1_700_000_000_500_000_000n);
  assert.equal(parseTime('yesterday'), undefined);
});
