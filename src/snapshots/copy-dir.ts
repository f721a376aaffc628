/**
 * Copies the tree `src` into the existing directory `dst` as continuity's fs.CopyDir does for the
 * native snapshotter: owners, modes, times, hard links, symlinks, device nodes and xattrs kept
 * (xattrs that cannot be copied, e.g. security.*, are skipped), the root's attributes applied
 * to `dst`. GNU cp -a does exactly that; --reflink=auto shares blocks where the file system can.
 */
export async function copyDir(dst: string, src: string): Promise<void> {
  const { execa } = await import('execa'); // loaded on first use: most daemons never copy a tree
  const result = await execa('cp', ['-a', '--reflink=auto', '--', `${src}/.`, dst], { reject: false, stdin: 'ignore' });
  if (result.exitCode !== 0) {
    throw new Error(`copying of parent failed: ${String(result.stderr).trim() || `cp exit ${result.exitCode}`}`);
  }
}
