/** Go's GOARCH for Node's process.arch: how containerd names this machine's architecture. */
const GO_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

export function goArch(arch: string = process.arch): string {
  return GO_ARCH[arch] ?? arch;
}

/** containerd's platforms.DefaultSpec(): the platform plugins report in introspection. */
export function defaultPlatform(): { os: string; architecture: string; variant?: string } {
  const architecture = goArch();
  return architecture === 'arm64' ? { os: 'linux', architecture, variant: 'v8' } : { os: 'linux', architecture };
}
