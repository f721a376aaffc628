// The layering of DESIGN.md, checked on the sources: every import of src/ (type-only ones too,
// since they tie one folder to another all the same) must point where its folder may look, and
// only the commands append to the log. A failure names each offending import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This file runs as dist/test/layers.test.js; the sources are two levels up. */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

interface Source {
  /** Path under src/, with '/' separators. */
  readonly path: string;
  readonly text: string;
}

function sources(dir = SRC): Source[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    if (!entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) return [];
    return [{ path: relative(SRC, path).split(sep).join('/'), text: readFileSync(path, 'utf8') }];
  });
}

const ALL = sources();

/** Every module specifier a source names: static and dynamic imports, re-exports, import types. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [/\bfrom\s*'([^']+)'/g, /\bimport\s*\(\s*'([^']+)'\s*\)/g, /^\s*import\s*'([^']+)'/gm];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1]!);
  return found;
}

interface Import {
  readonly from: string;
  /** A path under src/ (without extension) for a relative import, else the package name. */
  readonly to: string;
  readonly local: boolean;
}

const IMPORTS: Import[] = ALL.flatMap(({ path, text }) =>
  specifiers(text).map((spec) => {
    if (!spec.startsWith('.')) return { from: path, to: spec, local: false };
    const target = relative(SRC, resolve(SRC, dirname(path), spec)).split(sep).join('/');
    return { from: path, to: target.replace(/\.js$/, ''), local: true };
  }),
);

const under = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);
const describe = (i: Import) => `src/${i.from} imports ${i.local ? `src/${i.to}` : i.to}`;

/** The imports from `folder` that `allowed` refuses. */
function offending(folder: string, allowed: (i: Import) => boolean): string[] {
  return IMPORTS.filter((i) => under(i.from, folder) && !allowed(i)).map(describe);
}

/** Local imports may go only into these folders (and the importing folder itself). */
const onlyInto =
  (...folders: string[]) =>
  (i: Import): boolean =>
    !i.local || folders.some((folder) => under(i.to, folder));
const noPackage =
  (pattern: RegExp) =>
  (i: Import): boolean =>
    i.local || !pattern.test(i.to);
const both =
  (...checks: ((i: Import) => boolean)[]) =>
  (i: Import): boolean =>
    checks.every((check) => check(i));

const GRPC = /^@grpc\/|^protobufjs/;

test('the sources are found and their imports read', () => {
  assert.ok(ALL.length > 100, `only ${ALL.length} sources under ${SRC}`);
  assert.ok(IMPORTS.some((i) => i.from === 'log/event-log.ts' && i.to === 'lmdb'), 'the log imports lmdb');
});

test('log/ and events/ import nothing else of src/, and no gRPC', () => {
  assert.deepEqual(offending('log', both(onlyInto('log'), noPackage(GRPC))), []);
  assert.deepEqual(offending('events', both(onlyInto('events'), noPackage(GRPC))), []);
});

test('projections/ import only log/ and events/, and neither gRPC nor child processes', () => {
  assert.deepEqual(offending('projections', both(onlyInto('projections', 'log', 'events'), noPackage(/^@grpc\/|^protobufjs|^execa/))), []);
});

test('the storage back ends and the commands stay below the gRPC layer', () => {
  assert.deepEqual(offending('content', both(onlyInto('content', 'log', 'events', 'util'), noPackage(GRPC))), []);
  assert.deepEqual(offending('snapshots', both(onlyInto('snapshots', 'log', 'events', 'util'), noPackage(GRPC))), []);
  assert.deepEqual(
    offending('commands', both(onlyInto('commands', 'log', 'events', 'projections', 'content', 'snapshots', 'diff', 'shims', 'util', 'plugin', 'filters'), noPackage(GRPC))),
    [],
  );
});

test('export/ reads the log and knows the events, nothing else of src/, and no gRPC', () => {
  assert.deepEqual(offending('export', both(onlyInto('export', 'log', 'events', 'util'), noPackage(GRPC))), []);
});

test('cli/ and client/ never import services/ (what both sides name lives in api/)', () => {
  assert.deepEqual(offending('cli', (i) => !i.local || !under(i.to, 'services')), []);
  assert.deepEqual(offending('client', (i) => !i.local || !(under(i.to, 'services') || under(i.to, 'cli'))), []);
});

test('shims/ import only shims/ and util/, and neither gRPC, the log store nor RxJS', () => {
  assert.deepEqual(offending('shims', both(onlyInto('shims', 'util'), noPackage(/^@grpc\/|^protobufjs|^lmdb|^rxjs/))), []);
});

test('the two shim processes never import each other; wire/ and shared/ import neither', () => {
  const neither = (i: Import) => !i.local || !(under(i.to, 'shims/runtime') || under(i.to, 'shims/runc-shim'));
  assert.deepEqual(offending('shims/runtime', (i) => !i.local || !under(i.to, 'shims/runc-shim')), []);
  assert.deepEqual(offending('shims/runc-shim', (i) => !i.local || !under(i.to, 'shims/runtime')), []);
  assert.deepEqual(offending('shims/shared', neither), []);
  assert.deepEqual(offending('shims/wire', both(neither, (i) => !i.local || !under(i.to, 'shims/shared'))), []);
});

test('only the commands append to the log', () => {
  // an append is a call of `append` on something named log (`ctx.log.append(`, `log.append(`)
  const appending = ALL.filter(({ path, text }) => /\blog\??\.append\(/.test(text) && !under(path, 'commands') && !under(path, 'log'));
  assert.deepEqual(
    appending.map((s) => `src/${s.path}`),
    [],
  );
  assert.ok(ALL.some(({ path, text }) => under(path, 'commands') && /\blog\??\.append\(/.test(text)), 'the commands append through ctx.log.append');
});

test('the OpenTelemetry SDK loads only when tracing is configured: only the modules the tracing plugin import()s import it', () => {
  // these are reached only through `await import(...)` in daemon/plugins/tracing.ts
  const loaders = ['tracing/sdk-tracer', 'tracing/otlp-exporter', 'tracing/grpc-server'];
  /** Value imports (not `import type`, not `import(...)`): what loading a module loads too. */
  const valueImports = (path: string, text: string) =>
    [...text.matchAll(/^\s*import\s+(?!type\b)[^;]*?\bfrom\s*'([^']+)'/gms)].map(({ 1: spec }) =>
      spec!.startsWith('.') ? relative(SRC, resolve(SRC, dirname(path), spec!)).split(sep).join('/').replace(/\.js$/, '') : spec!,
    );
  const offenders = ALL.filter(({ path }) => !loaders.includes(path.replace(/\.ts$/, ''))).flatMap(({ path, text }) =>
    valueImports(path, text)
      .filter((to) => to.startsWith('@opentelemetry/') || loaders.includes(to))
      .map((to) => `src/${path} imports ${to}`),
  );
  assert.deepEqual(offenders, []);
  assert.ok(ALL.some(({ path, text }) => path === 'daemon/plugins/tracing.ts' && text.includes("await import('../../tracing/sdk-tracer.js')")), 'the tracing plugin imports the SDK on demand');
});
