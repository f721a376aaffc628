import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { defaultSpec, mergeEnv, parsePasswd, resolveUser, withImageConfig, withTerminal } from '../../src/client/run/oci-spec.js';
import { chainId } from '../../src/client/image/manifest.js';

test("containerd's default spec: cgroup path, namespaces, capabilities, mounts", () => {
  const spec = defaultSpec('team', 'web');
  assert.equal(spec.linux.cgroupsPath, '/team/web');
  assert.deepEqual((spec.linux.namespaces as { type: string }[]).map((n) => n.type), ['pid', 'ipc', 'uts', 'mount', 'network']);
  assert.equal(spec.process.capabilities!.bounding.length, 14);
  assert.deepEqual(spec.mounts.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/run']);
  assert.equal(spec.root.path, 'rootfs');
});

test('the image config: Env replaces the default PATH, Entrypoint stays, arguments replace Cmd, WorkingDir, User', () => {
  const config = { Env: ['PATH=/opt/bin', 'LANG=C'], Entrypoint: ['/init'], Cmd: ['serve'], WorkingDir: '/srv', User: 'app' };
  const passwd = parsePasswd('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\nbroken line\n');
  const spec = withImageConfig(defaultSpec('ns', 'c'), config, [], passwd);
  assert.deepEqual(spec.process.args, ['/init', 'serve']);
  assert.deepEqual(spec.process.env, ['PATH=/opt/bin', 'LANG=C']);
  assert.equal(spec.process.cwd, '/srv');
  assert.deepEqual(spec.process.user, { uid: 1000, gid: 1001 });
  assert.deepEqual(withImageConfig(defaultSpec('ns', 'c'), config, ['sh', '-c', 'true'], passwd).process.args, ['/init', 'sh', '-c', 'true']);
  assert.deepEqual(withImageConfig(defaultSpec('ns', 'c'), {}, ['true']).process.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
});

test('users: numeric with or without group, names from passwd, unknown names refused', () => {
  const passwd = parsePasswd('nobody:x:65534:65534::/:/bin/false\n');
  assert.deepEqual(resolveUser('65534', passwd), { uid: 65534, gid: 65534 });
  assert.deepEqual(resolveUser('42', passwd), { uid: 42, gid: 0 });
  assert.deepEqual(resolveUser('42:7', passwd), { uid: 42, gid: 7 });
  assert.deepEqual(resolveUser('nobody:3', passwd), { uid: 65534, gid: 3 });
  assert.throws(() => resolveUser('ghost', passwd), /no user "ghost"/);
  assert.throws(() => resolveUser('nobody:staff', passwd), /only numeric groups/);
});

test('mergeEnv replaces by key and appends the rest; a terminal adds TERM', () => {
  assert.deepEqual(mergeEnv(['A=1', 'B=2'], ['B=3', 'C=4']), ['A=1', 'B=3', 'C=4']);
  assert.ok(withTerminal(defaultSpec('ns', 'c')).process.env.includes('TERM=xterm'));
});

test("chain IDs as containerd's identity.ChainID", () => {
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;
  assert.equal(chainId([a]), a);
  assert.equal(chainId([a, b]), `sha256:${createHash('sha256').update(`${a} ${b}`).digest('hex')}`);
  assert.equal(chainId([]), '');
});
