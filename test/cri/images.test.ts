import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { startTestDaemon } from '../helpers/daemon.js';
import { buildImage, busyboxEntries, skipWithoutRegistry, startTestRegistry } from '../helpers/registry.js';
import { criClient, writeCriConfig } from '../helpers/cri.js';
import { tempDir } from '../helpers/tmp.js';

test('CRI Version and Status: runtime ready; network ready once a CNI config exists', async (t) => {
  const dir = tempDir(t);
  const { config, cniConf } = writeCriConfig(dir, '127.0.0.1:1');
  const daemon = await startTestDaemon(t, { args: ['-c', config] });
  const cri = criClient(t, daemon.address);
  const version = await cri.runtime('Version', { version: 'v1' });
  assert.equal(version.runtime_api_version, 'v1');
  assert.equal(version.runtime_name, 'ledgerd');
  const condition = async (type: string) => (await cri.runtime('Status', {})).status.conditions.find((c: { type: string }) => c.type === type);
  assert.equal((await condition('RuntimeReady')).status, true);
  const notReady = await condition('NetworkReady');
  assert.equal(notReady.status, false);
  assert.equal(notReady.reason, 'NetworkPluginNotReady');
  writeFileSync(join(cniConf, '10-net.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'net', plugins: [{ type: 'bridge' }] }));
  assert.equal((await condition('NetworkReady')).status, true);
  const verbose = await cri.runtime('Status', { verbose: true });
  assert.equal(JSON.parse(verbose.info.config).cni.conf_dir, cniConf);
});

test('CRI images: pull through a hosts.toml mirror, status by tag, id, digest and short id, list, fs info, remove', { skip: skipWithoutRegistry }, async (t) => {
  const registry = await startTestRegistry(t);
  const image = await buildImage([busyboxEntries()], { user: 'www-data:33' });
  const numeric = await buildImage([busyboxEntries(), [{ name: 'marker', content: 'n' }]], { user: '1002' });
  await registry.pushImage('library/busybox', '1.0', image);
  await registry.pushImage('team/app', 'v2', numeric);
  const dir = tempDir(t);
  const { config } = writeCriConfig(dir, registry.host);
  const daemon = await startTestDaemon(t, { args: ['-c', config] });
  const cri = criClient(t, daemon.address);

  const { image_ref } = await cri.images('PullImage', { image: { image: 'busybox:1.0' } });
  assert.equal(image_ref, image.config.desc.digest, 'the image ref is the config digest');
  const manifestDigest = image.manifest.desc.digest;
  const expected = {
    id: image_ref,
    repo_tags: ['docker.io/library/busybox:1.0'],
    repo_digests: [`docker.io/library/busybox@${manifestDigest}`],
    username: 'www-data',
    uid: null,
  };
  for (const name of ['busybox:1.0', 'docker.io/library/busybox:1.0', image_ref, image_ref.slice(7, 19), `busybox@${manifestDigest}`]) {
    const { image: found } = await cri.images('ImageStatus', { image: { image: name } });
    assert.ok(found, `ImageStatus finds ${name}`);
    assert.deepEqual({ id: found.id, repo_tags: found.repo_tags, repo_digests: found.repo_digests, username: found.username, uid: found.uid }, expected);
    assert.ok(Number(found.size) > image.layers[0]!.desc.size);
  }
  assert.equal((await cri.images('ImageStatus', { image: { image: 'busybox:2.0' } })).image, null, 'a missing image is no error');

  // the daemon's own image records, in namespace k8s.io: tag, id and repo digest
  const records = await daemon.connect('k8s.io').unary<{ images: { name: string; labels: Record<string, string> }[] }>('containerd.services.images.v1.Images', 'List', {});
  assert.deepEqual(records.images.map((r) => r.name).sort(), [`docker.io/library/busybox:1.0`, `docker.io/library/busybox@${manifestDigest}`, image_ref].sort());
  assert.ok(records.images.every((r) => r.labels['io.cri-containerd.image'] === 'managed'));

  const second = await cri.images('PullImage', { image: { image: `${'docker.io'}/team/app:v2` } });
  const listed = (await cri.images('ListImages', {})).images;
  assert.deepEqual(listed.map((i: { id: string }) => i.id).sort(), [image_ref, second.image_ref].sort());
  assert.equal(listed.find((i: { id: string }) => i.id === second.image_ref).uid.value, 1002);
  assert.deepEqual((await cri.images('ListImages', { filter: { image: { image: 'busybox:1.0' } } })).images.map((i: { id: string }) => i.id), [image_ref]);

  const fs = (await cri.images('ImageFsInfo', {})).image_filesystems;
  assert.equal(fs.length, 1);
  assert.equal(fs[0].fs_id.mountpoint, join(daemon.root, 'io.containerd.snapshotter.v1.overlayfs'));
  assert.ok(Number(fs[0].used_bytes.value) > 0);

  await cri.images('RemoveImage', { image: { image: 'busybox:1.0' } });
  assert.equal((await cri.images('ImageStatus', { image: { image: image_ref } })).image, null);
  await cri.images('RemoveImage', { image: { image: 'busybox:1.0' } }); // again: no error
  assert.deepEqual((await cri.images('ListImages', {})).images.map((i: { id: string }) => i.id), [second.image_ref]);

  await assert.rejects(cri.images('PullImage', { image: { image: '' } }), (err: { code: number; details: string }) => {
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /^image: /);
    return true;
  });
  // containerd 1.6's answer, word for word
  await assert.rejects(cri.images('PullImage', { image: { image: 'busybox:9.9' } }), (err: { code: number; details: string }) => {
    assert.equal(err.code, status.NOT_FOUND);
    const ref = err.details.match(/^failed to pull and unpack image "([^"]+)"/)?.[1];
    assert.ok(ref?.endsWith('/busybox:9.9'), err.details);
    assert.equal(err.details, `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`);
    return true;
  });
});

test('CRI pull through hosts.toml falls back: a mirror that is down, then one without the image, then the upstream server', { skip: skipWithoutRegistry }, async (t) => {
  const upstream = await startTestRegistry(t);
  const image = await buildImage([busyboxEntries()]);
  await upstream.pushImage('library/tool', '1.0', image);
  const empty = await startTestRegistry(t);
  const dir = tempDir(t);
  const { config, hostsDir } = writeCriConfig(dir, upstream.host, []);
  mkdirSync(join(hostsDir, 'mirrored.test'), { recursive: true });
  writeFileSync(
    join(hostsDir, 'mirrored.test', 'hosts.toml'),
    `server = "http://${upstream.host}"\n\n[host."http://127.0.0.1:1"]\n  capabilities = ["pull", "resolve"]\n\n[host."http://${empty.host}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  const daemon = await startTestDaemon(t, { args: ['-c', config] });
  const cri = criClient(t, daemon.address);
  const { image_ref } = await cri.images('PullImage', { image: { image: 'mirrored.test/library/tool:1.0' } });
  assert.equal(image_ref, image.config.desc.digest);
  // nowhere to be found: the first host's failure is the answer
  await assert.rejects(cri.images('PullImage', { image: { image: 'mirrored.test/library/absent:1.0' } }), (err: { details: string }) => {
    assert.match(err.details, /127\.0\.0\.1:1/);
    return true;
  });
});
