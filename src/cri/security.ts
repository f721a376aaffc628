// A CRI security context in the OCI spec, by containerd 1.6's rules (pkg/cri/server
// container_create_linux.go, pkg/cri/opts/spec_linux.go, oci.WithPrivileged): no default
// seccomp profile or rlimits, masked and read-only paths only as asked, capabilities added and
// dropped, privileged containers with everything the daemon has, and the seccomp profile a
// context names (seccomp, or the older seccomp_profile_path).
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { RuntimeSpec } from '../client/run/oci-spec.js';
import { invalidArgument } from '../util/errdefs.js';
import type { CriConfig } from './config.js';
import { defaultSeccompProfile, type SeccompProfile } from './seccomp-default.js';
import type { LinuxContainerSecurityContext, PodSandboxConfig, SecurityProfile } from './types.js';

type CapabilityChange = LinuxContainerSecurityContext['capabilities'];
type PodSecurityContext = NonNullable<NonNullable<PodSandboxConfig['linux']>['security_context']>;

export interface SecuritySettings {
  /** unset_seccomp_profile: the profile of a context that names none ('' = no seccomp). */
  readonly unsetSeccompProfile: string;
  /** disable_proc_mount: the default spec's masked and read-only paths stay, and the context's are not applied. */
  readonly disableProcMount: boolean;
}

export const securitySettings = (config: CriConfig): SecuritySettings => ({ unsetSeccompProfile: config.unset_seccomp_profile, disableProcMount: config.disable_proc_mount });

/** Every capability by its bit number (linux/capability.h up to CAP_LAST_CAP = 40). */
const CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
  'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
].map((c) => `CAP_${c}`);

/** The names of the capabilities set in a /proc/<pid>/status mask such as CapEff. */
export function capabilitiesInMask(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

let daemonCapabilities: string[] | undefined;

/**
 * The daemon's effective capabilities (containerd's cap.Current): what "ALL" and privileged
 * containers get. Not the kernel's whole list: runc cannot give a container a capability the
 * daemon lacks (a VM without CAP_SYS_RESOURCE, a daemon in a user namespace).
 */
export function currentCapabilities(): string[] {
  if (!daemonCapabilities) {
    const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
    daemonCapabilities = capabilitiesInMask(capEff);
  }
  return [...daemonCapabilities];
}

const setCapabilities = (spec: RuntimeSpec, caps: readonly string[]) => {
  spec.process.capabilities = { bounding: [...caps], effective: [...caps], permitted: [...caps] };
};

/** "net_admin" or "CAP_NET_ADMIN" as runc names it; an unknown name is refused. */
function capabilityName(name: string, field: string): string {
  const upper = name.toUpperCase();
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!CAPABILITIES.includes(full)) throw invalidArgument(`${field}: unknown capability "${name}"`);
  return full;
}

/**
 * Capabilities as containerd changes them: "ALL" among the added ones starts from every
 * capability the daemon has, "ALL" among the dropped ones from none; then single names are
 * added, then single names dropped (so add CHOWN with drop CHOWN leaves it out).
 */
export function withCapabilities(spec: RuntimeSpec, change: CapabilityChange | null | undefined, field: string): void {
  if (!change) return;
  const isAll = (name: string) => name.toUpperCase() === 'ALL';
  const add = change.add_capabilities ?? [];
  const drop = change.drop_capabilities ?? [];
  let set = [...(spec.process.capabilities?.bounding ?? [])];
  if (add.some(isAll)) set = currentCapabilities();
  if (drop.some(isAll)) set = [];
  for (const name of add.filter((n) => !isAll(n)).map((n) => capabilityName(n, `${field}.add_capabilities`))) {
    if (!set.includes(name)) set.push(name);
  }
  const dropped = new Set(drop.filter((n) => !isAll(n)).map((n) => capabilityName(n, `${field}.drop_capabilities`)));
  setCapabilities(spec, set.filter((c) => !dropped.has(c)));
}

interface LinuxSecurity {
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: SeccompProfile;
}

/** containerd's WithoutDefaultSecuritySettings: no seccomp, apparmor profile or rlimits from the default spec. */
export function withoutDefaultSecurity(spec: RuntimeSpec): void {
  delete (spec.linux as LinuxSecurity).seccomp;
  delete spec.process.rlimits;
  delete (spec.process as { apparmorProfile?: string }).apparmorProfile;
}

/**
 * A privileged container (oci.WithPrivileged): every capability the daemon has, nothing masked
 * or read-only, sysfs and cgroupfs writable, no seccomp or apparmor profile.
 */
export function withPrivileged(spec: RuntimeSpec): void {
  setCapabilities(spec, currentCapabilities());
  const linux = spec.linux as LinuxSecurity;
  delete linux.maskedPaths;
  delete linux.readonlyPaths;
  delete linux.seccomp;
  delete (spec.process as { apparmorProfile?: string }).apparmorProfile;
  for (const mount of spec.mounts) {
    if (mount.type === 'sysfs' || mount.type === 'cgroup') mount.options = mount.options.map((o) => (o === 'ro' ? 'rw' : o));
  }
}

/** The container's security context into its spec, after the default spec and before mounts of the CRI. */
export async function applyContainerSecurity(spec: RuntimeSpec, security: LinuxContainerSecurityContext, settings: SecuritySettings, field: string): Promise<void> {
  withoutDefaultSecurity(spec);
  if (!settings.disableProcMount) {
    const linux = spec.linux as LinuxSecurity;
    linux.maskedPaths = [...(security.masked_paths ?? [])];
    linux.readonlyPaths = [...(security.readonly_paths ?? [])];
  }
  refuseApparmor(security, field);
  withCapabilities(spec, security.capabilities, `${field}.capabilities`);
  if (security.privileged) withPrivileged(spec);
  await withSeccomp(spec, seccompProfileOf(security, settings.unsetSeccompProfile, field), Boolean(security.privileged), field);
}

/** The pause container's confinement (containerd's sandboxContainerSpecOpts): only seccomp, by the pod's context. */
export async function applySandboxSecurity(spec: RuntimeSpec, podSecurity: PodSecurityContext, settings: SecuritySettings, field: string): Promise<void> {
  withoutDefaultSecurity(spec);
  await withSeccomp(spec, seccompProfileOf(podSecurity, settings.unsetSeccompProfile, field), Boolean(podSecurity.privileged), field);
}

const PROFILE_PREFIX = 'localhost/';

/** "runtime/default", "docker/default", "unconfined" or "localhost/<name>" as a SecurityProfile (containerd's generateSecurityProfile). */
function namedProfile(name: string, field: string): SecurityProfile {
  if (name === 'runtime/default' || name === 'docker/default') return { profile_type: 'RuntimeDefault' };
  if (name === 'unconfined') return { profile_type: 'Unconfined' };
  if (!name.startsWith(PROFILE_PREFIX)) throw invalidArgument(`${field}: invalid profile "${name}": want runtime/default, docker/default, unconfined or localhost/<profile>`);
  return { profile_type: 'Localhost', localhost_ref: name.slice(PROFILE_PREFIX.length) };
}

/**
 * ledgerd applies no apparmor profile, so a container that asks for one (other than unconfined)
 * is refused rather than run unconfined. Where apparmor is off this is containerd's answer too
 * ("apparmor is not supported"); where it is on, containerd would load and apply the profile.
 */
function refuseApparmor(security: LinuxContainerSecurityContext, field: string): void {
  const profile = security.apparmor ?? (security.apparmor_profile ? namedProfile(security.apparmor_profile, `${field}.apparmor_profile`) : undefined);
  if (!profile || profile.profile_type === 'Unconfined') return;
  const why = apparmorEnabled() ? 'ledgerd does not apply apparmor profiles' : 'apparmor is not enabled on this host';
  throw invalidArgument(`${field}.apparmor: ${profile.profile_type ?? 'RuntimeDefault'} profile asked for, but ${why}; use unconfined or no profile`);
}

function apparmorEnabled(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

/**
 * The seccomp profile a security context asks for (containerd's generateSeccompSecurityProfile):
 * the `seccomp` field when set, else `seccomp_profile_path` ("runtime/default", "docker/default",
 * "unconfined" or "localhost/<path>"), else unset_seccomp_profile; undefined for none.
 */
export function seccompProfileOf(context: Pick<LinuxContainerSecurityContext, 'seccomp' | 'seccomp_profile_path'>, unsetProfile: string, field: string): SecurityProfile | undefined {
  if (context.seccomp) return context.seccomp;
  const path = context.seccomp_profile_path || unsetProfile;
  return path ? namedProfile(path, `${field}.seccomp_profile_path`) : undefined;
}

let seccompInKernel: boolean | undefined;

/** Whether the kernel filters syscalls with seccomp (a Seccomp line in /proc/self/status). */
function kernelHasSeccomp(): boolean {
  seccompInKernel ??= /^Seccomp:/m.test(readFileSync('/proc/self/status', 'utf8'));
  return seccompInKernel;
}

/**
 * linux.seccomp for a profile (containerd's generateSeccompSpecOpts): none for privileged
 * containers, for Unconfined and for no profile; containerd's default one (for the bounding
 * capabilities the spec has by now) for RuntimeDefault; a JSON file of the host for Localhost.
 */
export async function withSeccomp(spec: RuntimeSpec, profile: SecurityProfile | undefined, privileged: boolean, field: string): Promise<void> {
  const linux = spec.linux as LinuxSecurity;
  delete linux.seccomp;
  if (privileged || !profile) return;
  const type = profile.profile_type ?? 'RuntimeDefault';
  if (!kernelHasSeccomp()) {
    if (type !== 'Unconfined') throw invalidArgument(`${field}.seccomp: seccomp is not supported by this kernel`);
    return;
  }
  if (type !== 'Localhost' && profile.localhost_ref) throw invalidArgument(`${field}.seccomp.localhost_ref: may only be set when profile_type is Localhost`);
  if (type === 'Unconfined') return;
  if (type === 'RuntimeDefault') {
    linux.seccomp = defaultSeccompProfile(spec.process.capabilities?.bounding ?? []);
    return;
  }
  if (type !== 'Localhost') throw invalidArgument(`${field}.seccomp.profile_type: unknown profile type "${type}"`);
  const path = (profile.localhost_ref ?? '').replace(/^localhost\//, '');
  if (!isAbsolute(path)) throw invalidArgument(`${field}.seccomp: localhost profile "${path}" is not an absolute path`);
  const text = await readFile(path, 'utf8').catch((err: Error) => {
    throw invalidArgument(`${field}.seccomp: cannot load seccomp profile "${path}": ${err.message}`);
  });
  let loaded: unknown;
  try {
    loaded = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`${field}.seccomp: seccomp profile "${path}" is not JSON: ${(err as Error).message}`);
  }
  if (typeof loaded !== 'object' || loaded === null || typeof (loaded as SeccompProfile).defaultAction !== 'string') {
    throw invalidArgument(`${field}.seccomp: seccomp profile "${path}" is no OCI seccomp object with a defaultAction`);
  }
  linux.seccomp = loaded as SeccompProfile;
}
