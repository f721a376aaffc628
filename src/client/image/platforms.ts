// containerd's platforms package: normalisation, specifier parsing, and the matchers a pull
// chooses manifests with (Only, Any, All).
import { defaultPlatform } from '../../util/platform.js';
import type { Platform } from './descriptor.js';

export interface PlatformMatcher {
  match(platform: Platform): boolean;
  /** True when a is preferred to b. */
  less(a: Platform, b: Platform): boolean;
}

const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos']);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le',
  'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);
const SPECIFIER_COMPONENT = /^[A-Za-z0-9_-]+$/;

export const hostPlatform = (): Platform => defaultPlatform();

function normalizeOs(os: string): string {
  if (!os) return hostPlatform().os;
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

function normalizeArch(arch: string, variant: string): [string, string] {
  arch = arch.toLowerCase();
  variant = variant.toLowerCase();
  switch (arch) {
    case 'i386':
      return ['386', ''];
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return ['amd64', variant === 'v1' ? '' : variant];
    case 'aarch64':
    case 'arm64':
      return ['arm64', variant === '8' || variant === 'v8' ? '' : variant];
    case 'armhf':
      return ['arm', 'v7'];
    case 'armel':
      return ['arm', 'v6'];
    case 'arm':
      if (variant === '' || variant === '7') return ['arm', 'v7'];
      if (variant === '5' || variant === '6' || variant === '8') return ['arm', `v${variant}`];
      return ['arm', variant];
    default:
      return [arch, variant];
  }
}

export function normalize(p: Platform): Platform {
  const [architecture, variant] = normalizeArch(p.architecture ?? '', p.variant ?? '');
  return { os: normalizeOs(p.os ?? ''), architecture, ...(variant ? { variant } : {}) };
}

/** platforms.Format: os/arch[/variant], or "unknown" without an OS. */
export function formatPlatform(p: Platform): string {
  if (!p.os) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** platforms.Parse: "os", "arch", "os/arch" or "os/arch/variant". */
export function parsePlatform(specifier: string): Platform {
  if (specifier.includes('*')) throw new Error(`"${specifier}": wildcards not yet supported`);
  const parts = specifier.split('/');
  for (const part of parts) {
    if (!SPECIFIER_COMPONENT.test(part)) {
      throw new Error(`"${part}" is an invalid component of "${specifier}": platform specifier component must match "${SPECIFIER_COMPONENT.source}"`);
    }
  }
  const host = hostPlatform();
  const archOnly = (arch: string, variant: string): [string, string] => {
    const [a, v] = normalizeArch(arch, variant);
    return a === 'arm' && v === 'v7' ? [a, ''] : [a, v];
  };
  const build = (os: string, [architecture, variant]: [string, string]): Platform => ({ os, architecture, ...(variant ? { variant } : {}) });
  if (parts.length === 1) {
    const os = normalizeOs(parts[0]!);
    if (KNOWN_OS.has(os)) return { os, architecture: host.architecture, ...(host.variant && host.architecture === 'arm' ? { variant: host.variant } : {}) };
    const arch = archOnly(parts[0]!, '');
    if (KNOWN_ARCH.has(arch[0])) return build(host.os, arch);
    throw new Error(`"${specifier}": unknown operating system or architecture`);
  }
  if (parts.length === 2) return build(normalizeOs(parts[0]!), archOnly(parts[1]!, ''));
  if (parts.length === 3) {
    const [architecture, variant] = normalizeArch(parts[1]!, parts[2]!);
    return build(normalizeOs(parts[0]!), [architecture, architecture === 'arm64' && !variant ? 'v8' : variant]);
  }
  throw new Error(`"${specifier}": cannot parse platform specifier`);
}

function sameNormalized(a: Platform, b: Platform): boolean {
  const x = normalize(a);
  const y = normalize(b);
  return x.os === y.os && x.architecture === y.architecture && (x.variant ?? '') === (y.variant ?? '');
}

/** platformVector: the platform, then what it can also run, best first. */
function compatible(p: Platform): Platform[] {
  const out: Platform[] = [p];
  const version = (v: string | undefined) => Number.parseInt((v ?? '').replace(/^v/, ''), 10);
  if (p.architecture === 'amd64') {
    for (let v = version(p.variant) - 1; v >= 1; v--) out.push({ os: p.os, architecture: 'amd64', variant: `v${v}` });
    out.push({ os: p.os, architecture: '386' });
  } else if (p.architecture === 'arm') {
    for (let v = version(p.variant) - 1; v >= 5; v--) out.push({ os: p.os, architecture: 'arm', variant: `v${v}` });
  } else if (p.architecture === 'arm64') {
    out.push(...compatible({ os: p.os, architecture: 'arm', variant: p.variant || 'v8' }));
  }
  return out;
}

/** platforms.Ordered: any of these platforms, preferring the earlier. */
export function ordered(platforms: readonly Platform[]): PlatformMatcher {
  const rank = (p: Platform) => platforms.findIndex((q) => sameNormalized(p, q));
  return {
    match: (p) => rank(p) >= 0,
    less: (a, b) => {
      const ra = rank(a);
      const rb = rank(b);
      return ra >= 0 && (rb < 0 || ra < rb);
    },
  };
}

/** platforms.Only: the platform and those it can run, preferring the closest. */
export const onlyPlatform = (p: Platform): PlatformMatcher => ordered(compatible(normalize(p)));

/** platforms.OnlyStrict: the platform itself, not what it could also run (amd64 is not 386). */
export const onlyStrict = (p: Platform): PlatformMatcher => ordered([normalize(p)]);

/** platforms.Any: any of the given matchers, matches first. */
export function anyOf(matchers: readonly PlatformMatcher[]): PlatformMatcher {
  return {
    match: (p) => matchers.some((m) => m.match(p)),
    less: (a, b) => matchers.some((m) => m.match(a)) && !matchers.some((m) => m.match(b)),
  };
}

export const allPlatforms: PlatformMatcher = { match: () => true, less: () => false };

/** platforms.Default(): Only(the host). */
export const defaultMatcher = (): PlatformMatcher => onlyPlatform(hostPlatform());
