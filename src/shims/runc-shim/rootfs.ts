// Mounting and unmounting a container's rootfs in its bundle. The mount helpers load on first
// use, never at shim start (and execa only if a mount needs mount(8)).
type MountModule = typeof import('../../util/mount/mount.js');
let mountModule: Promise<MountModule> | undefined;

export const loadMount = (): Promise<MountModule> => (mountModule ??= import('../../util/mount/mount.js'));

/** Unmounts everything stacked on the rootfs directory (containerd's mount.UnmountAll). */
export async function unmountRootfs(rootfs: string): Promise<void> {
  const { unmountAll } = await loadMount();
  await unmountAll(rootfs);
}
