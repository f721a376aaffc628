// Finding an executable on $PATH, as Go's exec.LookPath: the runc shim looks up runc, the daemon
// its shim binaries.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';

export const isExecutableFile = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/** `name` in the directories of $PATH (as Go's exec.LookPath), or undefined; a name with a '/' is returned as it is. */
export function lookPath(name: string): string | undefined {
  if (name.includes('/')) return name;
  return pathDirs().map((dir) => resolve(dir, name)).find(isExecutableFile);
}

export const pathDirs = (): string[] => (process.env.PATH ?? '').split(delimiter).filter(Boolean);
