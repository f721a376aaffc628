// The registry client's pure parts: references, platforms, auth challenges, gc labels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReference, parseReference, parseChallenges, registryEndpoint, isLocalhost } from '../../src/client/registry/index.js';
import { formatPlatform, onlyPlatform, parsePlatform, normalize } from '../../src/client/image/platforms.js';
import { selectManifests, chainIds } from '../../src/client/image/manifest.js';
import { appendDistributionSource, childGcLabels, refKey } from '../../src/client/image/media-types.js';

test('references are normalised as Docker does', () => {
  const cases: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['user/app:v2', 'docker.io/user/app:v2'],
    ['index.docker.io/user/app', 'docker.io/user/app:latest'],
    ['localhost/app', 'localhost/app:latest'],
    ['127.0.0.1:5000/a/b/c:t', '127.0.0.1:5000/a/b/c:t'],
    ['ghcr.io/o/r@sha256:' + 'a'.repeat(64), 'ghcr.io/o/r@sha256:' + 'a'.repeat(64)],
    ['ghcr.io/o/r:t@sha256:' + 'b'.repeat(64), 'ghcr.io/o/r:t@sha256:' + 'b'.repeat(64)],
  ];
  for (const [input, want] of cases) assert.equal(formatReference(parseReference(input)), want, input);
  const ref = parseReference('127.0.0.1:5000/a/b:t');
  assert.deepEqual(ref, { domain: '127.0.0.1:5000', repository: 'a/b', tag: 't' });
  for (const bad of ['', 'Upper/Case', 'a b', 'host:5000/x:bad tag', 'x@sha256:zz', 'a'.repeat(64), 'x:' + 't'.repeat(129)]) {
    assert.throws(() => parseReference(bad), /invalid reference/, bad);
  }
});

test('registry hosts: docker.io, loopback over http, others over https unless plain http', () => {
  assert.equal(registryEndpoint('docker.io').origin, 'https://registry-1.docker.io');
  assert.equal(registryEndpoint('127.0.0.1:5000').origin, 'http://127.0.0.1:5000');
  assert.equal(registryEndpoint('localhost:5000').origin, 'http://localhost:5000');
  assert.equal(registryEndpoint('[::1]:5000').origin, 'http://[::1]:5000');
  assert.equal(registryEndpoint('registry.example:5000').origin, 'https://registry.example:5000');
  assert.equal(registryEndpoint('registry.example', { plainHttp: true }).origin, 'http://registry.example');
  assert.equal(isLocalhost('10.0.0.1:5000'), false);
});

test('platforms: parse, normalise, and Only() preference order', () => {
  assert.equal(formatPlatform(parsePlatform('linux/arm64')), 'linux/arm64');
  assert.equal(formatPlatform(parsePlatform('linux/arm64/v8')), 'linux/arm64/v8');
  assert.equal(formatPlatform(parsePlatform('linux/armhf')), 'linux/arm');
  assert.equal(formatPlatform(parsePlatform('linux/arm/7')), 'linux/arm/v7');
  assert.equal(formatPlatform(parsePlatform('linux/arm')), 'linux/arm');
  assert.equal(formatPlatform(parsePlatform('linux/x86_64')), 'linux/amd64');
  assert.equal(formatPlatform(normalize({ os: 'Linux', architecture: 'aarch64', variant: '8' })), 'linux/arm64');
  assert.throws(() => parsePlatform('linux/*'), /wildcards/);
  assert.throws(() => parsePlatform('nonsense'), /unknown operating system or architecture/);

  const amd64 = onlyPlatform({ os: 'linux', architecture: 'amd64' });
  assert.ok(amd64.match({ os: 'linux', architecture: '386' }));
  assert.ok(!amd64.match({ os: 'linux', architecture: 'arm64' }));
  const index = {
    manifests: [
      { mediaType: 'm', digest: 'sha256:1', size: 1, platform: { os: 'linux', architecture: '386' } },
      { mediaType: 'm', digest: 'sha256:2', size: 1, platform: { os: 'linux', architecture: 'arm64' } },
      { mediaType: 'm', digest: 'sha256:3', size: 1 },
      { mediaType: 'm', digest: 'sha256:4', size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  };
  assert.deepEqual(selectManifests(index, amd64).map((m) => m.digest), ['sha256:4', 'sha256:1', 'sha256:3']);
  assert.deepEqual(selectManifests(index, amd64, 1).map((m) => m.digest), ['sha256:4']);
  const arm = onlyPlatform(parsePlatform('linux/arm/v7'));
  assert.ok(arm.match({ os: 'linux', architecture: 'arm', variant: 'v6' }));
  assert.ok(!arm.match({ os: 'linux', architecture: 'arm', variant: 'v8' }));
});

test('WWW-Authenticate challenges', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="x", Bearer realm="y",error="invalid_token"'), [
    { scheme: 'basic', params: { realm: 'x' } },
    { scheme: 'bearer', params: { realm: 'y', error: 'invalid_token' } },
  ]);
  assert.deepEqual(parseChallenges('Bearer realm=https://t/x, scope="a b"'), [{ scheme: 'bearer', params: { realm: 'https://t/x', scope: 'a b' } }]);
});

test('gc labels, ingest refs and distribution sources as containerd names them', () => {
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:c', size: 1 };
  const layer = (d: string) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: 1 });
  assert.deepEqual(childGcLabels([config, layer('sha256:l0'), layer('sha256:l1')]), {
    'containerd.io/gc.ref.content.config': 'sha256:c',
    'containerd.io/gc.ref.content.l.0': 'sha256:l0',
    'containerd.io/gc.ref.content.l.1': 'sha256:l1',
  });
  const manifest = (d: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d, size: 1 });
  assert.deepEqual(childGcLabels([manifest('sha256:a'), manifest('sha256:b')]), {
    'containerd.io/gc.ref.content.m.0': 'sha256:a',
    'containerd.io/gc.ref.content.m.1': 'sha256:b',
  });
  assert.equal(refKey(layer('sha256:l0')), 'layer-sha256:l0');
  assert.equal(refKey({ ...manifest('sha256:a'), annotations: { 'org.opencontainers.image.ref.name': 'v1' } }), 'v1@manifest-sha256:a');
  assert.equal(appendDistributionSource('library/b,library/a', 'library/a'), 'library/a,library/b');
  assert.equal(appendDistributionSource(undefined, 'x'), 'x');
  const diff = (n: number) => `sha256:${String(n).repeat(64)}`;
  const chains = chainIds([diff(1), diff(2)]);
  assert.equal(chains[0], diff(1));
  assert.match(chains[1]!, /^sha256:[a-f0-9]{64}$/);
});
