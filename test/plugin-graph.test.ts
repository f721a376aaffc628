import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initOrder } from '../src/plugin/graph.js';
import { PluginType as T, uri } from '../src/plugin/registration.js';

interface Reg {
  type: string;
  id: string;
  requires?: string[];
}

const reg = (type: string, id: string, ...requires: string[]): Reg => ({ type, id, requires });
const order = (regs: Reg[], disabled: string[] = []) => initOrder(regs, new Set(disabled)).map(uri);

test('without requires, plugins load in registration order', () => {
  assert.deepEqual(order([reg('a.b.c', 'z'), reg('a.b.c', 'a'), reg('x.y.z', 'm')]), ['a.b.c.z', 'a.b.c.a', 'x.y.z.m']);
});

test('required types are pulled in depth first, recursively, in registration order', () => {
  const regs = [
    reg(T.Grpc, 'containers', T.Service),
    reg(T.Service, 'containers-service', T.Metadata),
    reg(T.Metadata, 'bolt', T.Content, T.Snapshotter),
    reg(T.Snapshotter, 'native'),
    reg(T.Content, 'content'),
    reg(T.Snapshotter, 'overlayfs'),
    reg(T.Grpc, 'version'),
  ];
  assert.deepEqual(order(regs), [
    `${T.Content}.content`,
    `${T.Snapshotter}.native`,
    `${T.Snapshotter}.overlayfs`,
    `${T.Metadata}.bolt`,
    `${T.Service}.containers-service`,
    `${T.Grpc}.containers`,
    `${T.Grpc}.version`,
  ]);
});

test('requires are visited in the order they are listed, not in registration order', () => {
  const regs = [reg('t.a.v1', 'a'), reg('t.b.v1', 'b'), reg('t.c.v1', 'c', 't.b.v1', 't.a.v1')];
  // a comes first anyway (registered first), so put c first to see the requires order
  assert.deepEqual(order([regs[2]!, regs[0]!, regs[1]!]), ['t.b.v1.b', 't.a.v1.a', 't.c.v1.c']);
});

test('containerd ctr plugins ls order: metadata pulls every snapshotter before it', () => {
  const regs = [
    reg(T.Content, 'content'),
    reg(T.Metadata, 'bolt', T.Content, T.Snapshotter),
    reg(T.Snapshotter, 'aufs'),
    reg(T.Snapshotter, 'native'),
    reg(T.Snapshotter, 'overlayfs'),
    reg(T.Differ, 'walking', T.Metadata),
    reg(T.Event, 'exchange'),
    reg(T.Gc, 'scheduler', T.Metadata),
  ];
  assert.deepEqual(
    order(regs).map((u) => u.slice(u.lastIndexOf('.') + 1)),
    ['content', 'aufs', 'native', 'overlayfs', 'bolt', 'walking', 'exchange', 'scheduler'],
  );
});

test('each plugin is added once, even when several plugins require it', () => {
  const regs = [reg('t.x.v1', 'one', 't.base.v1'), reg('t.x.v1', 'two', 't.base.v1'), reg('t.base.v1', 'base')];
  assert.deepEqual(order(regs), ['t.base.v1.base', 't.x.v1.one', 't.x.v1.two']);
});

test('a plugin requiring its own type gets the other plugins of that type first, not itself', () => {
  const regs = [reg('t.s.v1', 'first', 't.s.v1'), reg('t.s.v1', 'second'), reg('t.s.v1', 'third')];
  assert.deepEqual(order(regs), ['t.s.v1.second', 't.s.v1.third', 't.s.v1.first']);
});

test('"*" puts every other plugin (with its own requirements) before the plugin', () => {
  const regs = [reg('t.all.v1', 'last', '*'), reg('t.b.v1', 'b', 't.a.v1'), reg('t.a.v1', 'a'), reg('t.c.v1', 'c')];
  assert.deepEqual(order(regs), ['t.a.v1.a', 't.b.v1.b', 't.c.v1.c', 't.all.v1.last']);
});

test('disabled plugins are dropped entirely and never pulled in by requires', () => {
  const regs = [reg('t.svc.v1', 'svc', 't.snap.v1'), reg('t.snap.v1', 'btrfs'), reg('t.snap.v1', 'native'), reg('t.off.v1', 'off', 't.snap.v1')];
  assert.deepEqual(order(regs, ['t.snap.v1.btrfs', 't.off.v1.off']), ['t.snap.v1.native', 't.svc.v1.svc']);
  // a plugin whose required type is entirely disabled still loads (and finds nothing)
  assert.deepEqual(order(regs, ['t.snap.v1.btrfs', 't.snap.v1.native']), ['t.svc.v1.svc', 't.off.v1.off']);
});

test('a required type with no plugins is ignored', () => {
  assert.deepEqual(order([reg('t.a.v1', 'a', 't.none.v1')]), ['t.a.v1.a']);
});

test('a dependency cycle is an error that names the cycle', () => {
  const regs = [reg('t.a.v1', 'a', 't.b.v1'), reg('t.b.v1', 'b', 't.a.v1')];
  assert.throws(() => order(regs), { message: 'plugin dependency cycle: t.a.v1.a -> t.b.v1.b -> t.a.v1.a' });
  // two plugins that both require '*' require each other
  assert.throws(() => order([reg('t.a.v1', 'a', '*'), reg('t.b.v1', 'b', '*')]), /plugin dependency cycle/);
  // disabling one side breaks the cycle
  assert.deepEqual(order(regs, ['t.b.v1.b']), ['t.a.v1.a']);
});

test('registrations are checked as containerd Register does', () => {
  assert.throws(() => order([reg('t.a.v1', 'x'), reg('t.a.v1', 'x')]), { message: 'plugin t.a.v1.x: id already registered' });
  assert.throws(() => order([reg('t.a.v1', 'x', '*', 't.b.v1')]), /invalid requires: "\*" must be the only entry/);
  assert.throws(() => order([reg('', 'x')]), /no type/);
  assert.throws(() => order([reg('t.a.v1', '')]), /no id/);
});
