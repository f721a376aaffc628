// containerd's default seccomp profile as src/cri/seccomp-default.ts makes it for a host and a
// bounding set, and the capability names of a /proc status mask.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSeccompProfile, type SeccompRule } from '../../src/cri/seccomp-default.js';
import { capabilitiesInMask } from '../../src/cri/security.js';

const X64 = { arch: 'x64', kernel: '6.1.0-13-amd64' };
const allowed = (rules: SeccompRule[], name: string) => rules.filter((r) => r.action === 'SCMP_ACT_ALLOW' && r.names.includes(name));
const DEFAULT_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];

test('without CAP_SYS_ADMIN: errno by default, no namespaces through clone, clone3 is ENOSYS, no mount or sethostname', () => {
  const profile = defaultSeccompProfile(DEFAULT_CAPS, X64);
  const rules = profile.syscalls!;
  assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
  assert.deepEqual(profile.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.equal(rules[0]!.names.length, 349, "containerd 1.6's allow list");
  assert.deepEqual(allowed(rules, 'clone').map((r) => r.args), [[{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }]]);
  assert.deepEqual(rules.filter((r) => r.names.includes('clone3')), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
  for (const name of ['mount', 'sethostname', 'unshare', 'setns', 'reboot']) assert.deepEqual(allowed(rules, name), [], name);
  assert.equal(allowed(rules, 'chroot').length, 1, 'CAP_SYS_CHROOT is in the default set');
  assert.equal(allowed(rules, 'arch_prctl').length, 1, 'x86-64 only');
  assert.equal(allowed(rules, 'ptrace').length, 1, 'kernel 4.8 and later');
  assert.deepEqual(
    allowed(rules, 'personality').map((r) => r.args![0]!.value),
    [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff],
  );
});

test('CAP_SYS_ADMIN allows mount, sethostname, unshare and clone of any kind; the other capabilities their own calls', () => {
  const rules = defaultSeccompProfile([...DEFAULT_CAPS, 'CAP_SYS_ADMIN', 'CAP_SYS_TIME', 'CAP_SYS_PTRACE'], X64).syscalls!;
  for (const name of ['mount', 'sethostname', 'unshare', 'setns', 'clone', 'clone3', 'settimeofday', 'process_vm_readv']) assert.equal(allowed(rules, name).filter((r) => !r.args).length, 1, name);
  assert.deepEqual(rules.filter((r) => r.action !== 'SCMP_ACT_ALLOW'), []);
});

test('by architecture and kernel: clone flags are the second argument on s390x, no architectures where containerd names none, no ptrace before 4.8', () => {
  const s390x = defaultSeccompProfile([], { arch: 's390x', kernel: '5.10.0' });
  assert.deepEqual(s390x.architectures, ['SCMP_ARCH_S390', 'SCMP_ARCH_S390X']);
  assert.equal(allowed(s390x.syscalls!, 'clone')[0]!.args![0]!.index, 1);
  assert.equal(allowed(s390x.syscalls!, 's390_runtime_instr').length, 1);
  const ppc = defaultSeccompProfile([], { arch: 'ppc64', kernel: '4.4.0' });
  assert.equal(ppc.architectures, undefined);
  assert.equal(allowed(ppc.syscalls!, 'swapcontext').length, 1);
  assert.deepEqual(allowed(ppc.syscalls!, 'ptrace'), []);
});

test('capability names of a CapEff mask, by bit', () => {
  assert.equal(capabilitiesInMask('0000000000000000').length, 0);
  const noResource = capabilitiesInMask('000001fffeffffff');
  assert.equal(noResource.length, 40);
  assert.ok(!noResource.includes('CAP_SYS_RESOURCE'));
  assert.deepEqual(capabilitiesInMask('0000000000003000'), ['CAP_NET_ADMIN', 'CAP_NET_RAW']);
});
