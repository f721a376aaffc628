import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from '../../src/log/index.js';
import { ProjectionSet, imagesProjection } from '../../src/projections/index.js';
import { ImageCommands } from '../../src/commands/images.js';
import { LedgerError } from '../../src/util/errdefs.js';
import { tempDir } from '../helpers/tmp.js';

function setup(t: TestContext) {
  const log = EventLog.open({ dir: tempDir(t) });
  const projections = new ProjectionSet(log);
  const view = projections.add(imagesProjection);
  projections.start();
  t.after(async () => {
    await projections.stop();
    await log.close();
  });
  return { log, images: new ImageCommands({ log, projections }, view) };
}

const kind = (k: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof LedgerError && err.kind === k && (!pattern || pattern.test(err.message));
const target = (n = 'a') => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${n.repeat(64)}`, size: 100, annotations: {} });

test('images: create, update with masks, replace, delete', async (t) => {
  const { images } = setup(t);
  const created = await images.create('ns', { name: 'reg/busybox:1', labels: { a: '1' }, target: target() }, {});
  assert.equal(created.target.size, 100);
  await images.update('ns', { name: 'reg/busybox:1', labels: { b: '2' } }, ['labels.b'], {});
  assert.deepEqual(images.get('ns', 'reg/busybox:1')!.labels, { a: '1', b: '2' });
  await images.update('ns', { name: 'reg/busybox:1', labels: {} }, ['labels.a'], {});
  assert.deepEqual(images.get('ns', 'reg/busybox:1')!.labels, { b: '2' });
  await images.update('ns', { name: 'reg/busybox:1', target: { ...target('b'), annotations: { x: 'y' } } }, ['target'], {});
  assert.equal(images.get('ns', 'reg/busybox:1')!.target.digest, target('b').digest);
  await images.update('ns', { name: 'reg/busybox:1', target: target('c') }, [], {});
  const replaced = images.get('ns', 'reg/busybox:1')!;
  assert.deepEqual(replaced.labels, {}, 'an update without a mask replaces the image, labels included');
  assert.ok(replaced.updatedAt > replaced.createdAt);
  await images.delete('ns', 'reg/busybox:1', false, {});
  assert.deepEqual(images.list('ns'), []);
});

test('images: validation as containerd, nothing appended', async (t) => {
  const { log, images } = setup(t);
  await images.create('ns', { name: 'x', target: target() }, {});
  const head = log.head;
  await assert.rejects(images.create('ns', { name: '', target: target() }, {}), kind('invalid argument', /Image.Name required/));
  await assert.rejects(images.create('ns', { name: 'y', target: { ...target(), digest: 'sha256:zz' } }, {}), kind('invalid argument', /Target.Digest/));
  await assert.rejects(images.create('ns', { name: 'y', target: { ...target(), size: 0 } }, {}), kind('invalid argument', /Target.Size/));
  await assert.rejects(images.create('ns', { name: 'y', target: { ...target(), mediaType: '' } }, {}), kind('invalid argument', /Target.MediaType/));
  await assert.rejects(images.create('ns', { name: 'x', target: target() }, {}), kind('already exists', /image "x"/));
  await assert.rejects(images.update('ns', { name: 'x' }, ['name'], {}), kind('invalid argument', /cannot update "name" field on image "x"/));
  await assert.rejects(images.update('ns', { name: 'nope', target: target() }, [], {}), kind('not found'));
  await assert.rejects(images.delete('ns', 'nope', false, {}), kind('not found'));
  assert.equal(log.head, head);
});
