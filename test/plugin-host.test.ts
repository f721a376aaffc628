import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PluginHost, type HostLog } from '../src/plugin/host.js';
import { defaultConfig, type DaemonConfig } from '../src/plugin/config.js';
import { SkipPlugin, isSkipPlugin, uri, type Registration } from '../src/plugin/registration.js';
import type { InitContext } from '../src/plugin/context.js';
import { LedgerError } from '../src/util/errdefs.js';

function config(patch: Partial<DaemonConfig> = {}): DaemonConfig {
  return { ...defaultConfig(), root: '/r', state: '/s', ...patch };
}

function plugin(type: string, id: string, init: Registration['init'] = () => ({ id }), extra: Partial<Registration> = {}): Registration {
  return { type, id, init, ...extra };
}

function recorder() {
  const messages: { message: string; level: string }[] = [];
  const log: HostLog = (message, level) => messages.push({ message, level });
  return { messages, log };
}

const status = (host: PluginHost) =>
  host.plugins().map((p) => `${uri(p.registration)}:${p.skipped ? 'skip' : p.error ? 'error' : 'ok'}`);

test('plugins initialise one at a time, in graph order, each with its own directories and the address', async () => {
  const seen: string[] = [];
  let running = 0;
  const slow = (name: string) => async (ctx: InitContext) => {
    assert.equal(running++, 0, 'inits never overlap');
    await new Promise((r) => setTimeout(r, 5));
    seen.push(`${name} ${ctx.root} ${ctx.state} ${ctx.address}`);
    running--;
    return { name };
  };
  const host = new PluginHost(
    [plugin('t.svc.v1', 'svc', slow('svc'), { requires: ['t.store.v1'] }), plugin('t.store.v1', 'store', slow('store'))],
    config({ grpc: { ...defaultConfig().grpc, address: '/s/sock' } }),
  );
  await host.init();
  assert.deepEqual(seen, ['store /r/t.store.v1.store /s/t.store.v1.store /s/sock', 'svc /r/t.svc.v1.svc /s/t.svc.v1.svc /s/sock']);
  assert.deepEqual(status(host), ['t.store.v1.store:ok', 't.svc.v1.svc:ok']);
  assert.deepEqual(host.instances(), [{ name: 'store' }, { name: 'svc' }]);
  assert.deepEqual(host.instances('t.svc.v1'), [{ name: 'svc' }]);
});

test('a failing plugin is kept with its error and the others still load; a skipped one is marked skipped', async () => {
  const { messages, log } = recorder();
  const host = new PluginHost(
    [
      plugin('t.snap.v1', 'btrfs', () => {
        throw new SkipPlugin('/r is not a btrfs filesystem');
      }),
      plugin('t.snap.v1', 'devmapper', async () => {
        throw new Error('devmapper not configured');
      }),
      plugin('t.snap.v1', 'odd', () => {
        throw 'a string'; // eslint-disable-line no-throw-literal
      }),
      plugin('t.snap.v1', 'native', (ctx) => {
        ctx.meta.exports.root = ctx.root;
        ctx.meta.platforms.push({ os: 'linux', architecture: 'amd64' });
        return { native: true };
      }),
    ],
    config(),
    log,
  );
  await host.init();
  assert.deepEqual(status(host), ['t.snap.v1.btrfs:skip', 't.snap.v1.devmapper:error', 't.snap.v1.odd:error', 't.snap.v1.native:ok']);
  const [btrfs, devmapper, odd, native] = host.plugins();
  assert.equal(btrfs!.error!.message, '/r is not a btrfs filesystem: skip plugin');
  assert.equal(devmapper!.error!.message, 'devmapper not configured');
  assert.ok(odd!.error instanceof Error && odd!.error.message === 'a string');
  assert.deepEqual(native!.meta, { platforms: [{ os: 'linux', architecture: 'amd64' }], exports: { root: '/r/t.snap.v1.native' }, capabilities: [] });
  assert.deepEqual(host.instances('t.snap.v1'), [{ native: true }]);
  assert.deepEqual(messages, [
    { level: 'info', message: 'skip loading plugin t.snap.v1.btrfs: /r is not a btrfs filesystem: skip plugin' },
    { level: 'warn', message: 'failed to load plugin t.snap.v1.devmapper: devmapper not configured' },
    { level: 'warn', message: 'failed to load plugin t.snap.v1.odd: a string' },
  ]);
});

test('skip is recognised through a cause, as containerd errors.Is', () => {
  assert.ok(isSkipPlugin(new Error('overlay unusable', { cause: new SkipPlugin() })));
  assert.ok(!isSkipPlugin(new Error('skip plugin')));
  assert.equal(new SkipPlugin().message, 'skip plugin');
});

test('disabled plugins are not initialised and not listed', async () => {
  let called = false;
  const host = new PluginHost(
    [plugin('t.a.v1', 'on'), plugin('t.a.v1', 'off', () => (called = true))],
    config({ disabled_plugins: ['t.a.v1.off'] }),
  );
  await host.init();
  assert.equal(called, false);
  assert.deepEqual(status(host), ['t.a.v1.on:ok']);
});

test('a required plugin that fails stops start-up with containerd\'s message', async () => {
  const failing = plugin('t.a.v1', 'bad', () => {
    throw new Error('boom');
  });
  const host = new PluginHost([failing, plugin('t.b.v1', 'after')], config({ required_plugins: ['t.a.v1.bad'] }));
  await assert.rejects(host.init(), (err: Error) => {
    assert.equal(err.message, 'load required plugin t.a.v1.bad: boom');
    assert.equal((err.cause as Error).message, 'boom');
    return true;
  });
  assert.deepEqual(status(host), ['t.a.v1.bad:error'], 'nothing after it was started');

  const skipping = plugin('t.a.v1', 'skip', () => {
    throw new SkipPlugin('not here');
  });
  await assert.rejects(new PluginHost([skipping], config({ required_plugins: ['t.a.v1.skip'] })).init(), {
    message: 'load required plugin t.a.v1.skip: not here: skip plugin',
  });
});

test('a required plugin that is never reached stops start-up', async () => {
  const regs = [plugin('t.a.v1', 'x'), plugin('t.a.v1', 'y')];
  await assert.rejects(new PluginHost(regs, config({ required_plugins: ['t.a.v1.x', 't.a.v1.nope', 't.a.v1.y'], disabled_plugins: ['t.a.v1.y'] })).init(), {
    message: 'required plugin [t.a.v1.nope t.a.v1.y] not included (not registered, or disabled)',
  });
  await new PluginHost(regs, config({ required_plugins: ['t.a.v1.x', 't.a.v1.y'] })).init();
});

test('close runs in reverse init order, skips failed plugins and instances without close, and goes on after errors', async () => {
  const closed: string[] = [];
  const { messages, log } = recorder();
  const closable = (id: string, fail = false) =>
    plugin('t.a.v1', id, () => ({
      async close() {
        closed.push(id);
        if (fail) throw new Error(`${id} will not close`);
      },
    }));
  const host = new PluginHost(
    [
      closable('first'),
      closable('second', true),
      plugin('t.a.v1', 'plain', () => ({ value: 1 })),
      plugin('t.a.v1', 'nothing', () => undefined),
      plugin('t.a.v1', 'failed', () => {
        throw new Error('no');
      }),
      closable('third'),
    ],
    config(),
    log,
  );
  await host.init();
  await Promise.all([host.close(), host.close()]);
  await host.close();
  assert.deepEqual(closed, ['third', 'second', 'first']);
  assert.deepEqual(messages.slice(1), [{ level: 'warn', message: 'closing plugin t.a.v1.second: second will not close' }]);
});

test('init runs once', async () => {
  const host = new PluginHost([plugin('t.a.v1', 'x')], config());
  await host.init();
  await assert.rejects(host.init(), LedgerError);
});

test('the context finds earlier plugins: get, getByType, getById', async () => {
  const results: Record<string, unknown> = {};
  const capture = (ctx: InitContext) => {
    const attempt = (fn: () => unknown) => {
      try {
        return fn();
      } catch (err) {
        return err instanceof LedgerError ? `${err.kind}: ${err.message}` : `error: ${(err as Error).message}`;
      }
    };
    results.get = attempt(() => ctx.get('t.snap.v1'));
    results.getFailedOnly = attempt(() => ctx.get('t.broken.v1'));
    results.getNone = attempt(() => ctx.get('t.none.v1'));
    results.byType = ctx.getByType('t.snap.v1');
    results.byTypeNone = ctx.getByType('t.none.v1');
    results.byId = attempt(() => ctx.getById('t.snap.v1', 'overlayfs'));
    results.byIdFailed = attempt(() => ctx.getById('t.snap.v1', 'zfs'));
    results.byIdMissing = attempt(() => ctx.getById('t.snap.v1', 'nope'));
    return {};
  };
  const fail = (message: string) => () => {
    throw new Error(message);
  };
  const host = new PluginHost(
    [
      plugin('t.snap.v1', 'zfs', fail('no zfs')),
      plugin('t.snap.v1', 'native', () => 'native'),
      plugin('t.snap.v1', 'overlayfs', () => 'overlayfs'),
      plugin('t.broken.v1', 'one', fail('broken one')),
      plugin('t.broken.v1', 'two', fail('broken two')),
      plugin('t.user.v1', 'user', capture, { requires: ['t.snap.v1', 't.broken.v1'] }),
    ],
    config(),
  );
  await host.init();
  assert.deepEqual(results, {
    get: 'native',
    getFailedOnly: 'error: broken one',
    getNone: 'not found: no plugins registered for t.none.v1',
    byType: new Map([
      ['native', 'native'],
      ['overlayfs', 'overlayfs'],
    ]),
    byTypeNone: new Map(),
    byId: 'overlayfs',
    byIdFailed: 'error: no zfs',
    byIdMissing: 'not found: no t.snap.v1 plugins with id nope',
  });
});

test('a plugin\'s config is its defaults deep-merged with its [plugins."<uri>"] section', async () => {
  const defaults = { threshold: 0.02, delay: '0s', nested: { a: 1, b: [1, 2] }, runtimes: {}, on: false };
  const configs: unknown[] = [];
  const gc = plugin('io.containerd.gc.v1', 'scheduler', (ctx) => configs.push(ctx.config), { config: defaults });
  const host = new PluginHost(
    [gc, plugin('io.containerd.gc.v1', 'other', (ctx) => configs.push(ctx.config), { config: defaults })],
    config({
      plugins: {
        'io.containerd.gc.v1.scheduler': { threshold: 0.5, nested: { b: [3] }, runtimes: { runc: { type: 'io.containerd.runc.v2' } }, on: true },
      },
    }),
  );
  await host.init();
  assert.deepEqual(configs, [
    { threshold: 0.5, delay: '0s', nested: { a: 1, b: [3] }, runtimes: { runc: { type: 'io.containerd.runc.v2' } }, on: true },
    defaults,
  ]);
  assert.notEqual(configs[1], defaults, 'each plugin gets its own copy');
  assert.deepEqual(defaults.nested, { a: 1, b: [1, 2] }, 'defaults are not changed');
});

test("containerd's settings that no plugin acts on are listed, typo'd ones stop start-up", async () => {
  const { messages, log } = recorder();
  let seen: unknown;
  const host = new PluginHost(
    [
      plugin('io.containerd.snapshotter.v1', 'overlayfs', (ctx) => (seen = ctx.config), { config: { root_path: '' } }),
      plugin('io.containerd.service.v1', 'diff-service', (ctx) => assert.equal(ctx.config, undefined)),
      plugin('t.a.v1', 'off', () => assert.fail('disabled'), { config: { z: 1 } }),
    ],
    config({
      disabled_plugins: ['t.a.v1.off', 't.a.v1.ghost'],
      plugins: {
        'io.containerd.snapshotter.v1.overlayfs': { root_path: '/o', upperdir_label: true },
        'io.containerd.service.v1.diff-service': { default: ['walking'] },
        't.a.v1.off': { z: 'not checked: the plugin is disabled' },
        'io.containerd.grpc.v1.cri': { sandbox_image: 'pause', containerd: { runtimes: { runc: { options: { SystemdCgroup: true } } } } },
      },
    }),
    log,
  );
  await host.init();
  assert.deepEqual(seen, { root_path: '/o' });
  assert.deepEqual(host.ignored, [
    'plugins."io.containerd.snapshotter.v1.overlayfs".upperdir_label',
    'plugins."io.containerd.service.v1.diff-service".default',
    'plugins."io.containerd.grpc.v1.cri"',
  ]);
  assert.deepEqual(
    messages.map((m) => m.message),
    ['disabled_plugins: no such plugin t.a.v1.ghost'],
  );

  const typo = (plugins: DaemonConfig['plugins']) => new PluginHost([plugin('io.containerd.snapshotter.v1', 'overlayfs', () => ({}), { config: { root_path: '' } })], config({ plugins })).init();
  await assert.rejects(typo({ 'io.containerd.snapshotter.v1.overlayfs': { root_pth: '/o' } }), {
    message: 'unknown setting plugins."io.containerd.snapshotter.v1.overlayfs".root_pth: neither ledgerd nor containerd 1.6 has it',
  });
  await assert.rejects(typo({ 'io.containerd.grpc.v1.cri': { sandbox_imag: 'x', cni: { bin_dri: '' } } }), {
    message: 'unknown settings plugins."io.containerd.grpc.v1.cri".sandbox_imag, plugins."io.containerd.grpc.v1.cri".cni.bin_dri: neither ledgerd nor containerd 1.6 has them',
  });
  await assert.rejects(typo({ 'io.containerd.gc.v1.schedular': {} }), { message: /plugins."io.containerd.gc.v1.schedular" \(no such plugin\)/ });
  await assert.rejects(typo({ 'io.containerd.snapshotter.v1.devmapper': { async_remove: 'yes' } }), {
    message: 'plugins."io.containerd.snapshotter.v1.devmapper".async_remove: expected a boolean, got a string "yes"',
  });
});

test('a config value of the wrong type stops start-up before any plugin starts', async () => {
  let started = false;
  const host = new PluginHost(
    [plugin('t.a.v1', 'first', () => (started = true)), plugin('t.gc.v1', 'scheduler', () => ({}), { config: { pause_threshold: 0.02, nested: { path: '' } } })],
    config({ plugins: { 't.gc.v1.scheduler': { nested: { path: 5 } } } }),
  );
  await assert.rejects(host.init(), (err: Error) => {
    assert.ok(err instanceof LedgerError && err.kind === 'invalid argument');
    assert.equal(err.message, 'plugins."t.gc.v1.scheduler".nested.path: expected a string, got a number 5');
    return true;
  });
  assert.equal(started, false);
  await assert.rejects(
    new PluginHost([plugin('t.gc.v1', 'scheduler', () => ({}), { config: { pause_threshold: 0.02 } })], config({ plugins: { 't.gc.v1.scheduler': { pause_threshold: '2%' } } })).init(),
    { message: 'plugins."t.gc.v1.scheduler".pause_threshold: expected a number, got a string "2%"' },
  );
});

test('root and state in the context follow the daemon config', async () => {
  let ctx: InitContext | undefined;
  await new PluginHost([plugin('io.ledgerd.log.v1', 'lmdb', (c) => (ctx = c))], config({ root: '/var/lib/x', state: '/run/x' })).init();
  assert.equal(ctx!.root, join('/var/lib/x', 'io.ledgerd.log.v1.lmdb'));
  assert.equal(ctx!.state, join('/run/x', 'io.ledgerd.log.v1.lmdb'));
  assert.equal(ctx!.daemonRoot, '/var/lib/x');
  assert.equal(ctx!.daemonState, '/run/x');
});
