import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { markTopOfHierarchies } from '../util/inode-flags.js';
import { IdTakenError } from './backend.js';

/**
 * The `<root>/snapshots` directory both backends keep their snapshots in: one directory per id,
 * built under a temporary name (`new-XXXXXX`) and renamed into place, so a crash never leaves a
 * half-built `<id>`; removed by renaming to `rm-<id>` first, so a removal that is cut short
 * leaves nothing that looks like a snapshot. Whatever is left over is deleted by cleanup.
 * Each snapshot is a hierarchy of its own, and the directory says so to the filesystem
 * (inode-flags.ts): new snapshots' files are then not created among those of removed ones.
 */
export class SnapshotDirectories {
  readonly dir: string;
  /** Temporary directories of creates in progress: cleanup leaves them alone. */
  private readonly building = new Set<string>();

  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    this.dir = join(root, 'snapshots');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    markTopOfHierarchies(this.dir);
  }

  path(id: number): string {
    return join(this.dir, String(id));
  }

  /**
   * Builds a snapshot directory: `build` fills a fresh temporary directory, which then becomes
   * `<id>`. On any failure nothing is left behind.
   */
  async create(id: number, build: (temp: string) => Promise<void>): Promise<void> {
    const path = this.path(id);
    if (existsSync(path)) throw new IdTakenError(id);
    const temp = await mkdtemp(join(this.dir, 'new-'));
    this.building.add(temp);
    try {
      await build(temp);
      if (existsSync(path)) throw new IdTakenError(id);
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { recursive: true, force: true });
      throw err;
    } finally {
      this.building.delete(temp);
    }
  }

  async remove(id: number): Promise<void> {
    const renamed = join(this.dir, `rm-${id}`);
    try {
      await rename(this.path(id), renamed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await rm(renamed, { recursive: true, force: true });
  }

  async cleanup(keep: (id: number) => boolean): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      if (/^[1-9][0-9]*$/.test(name) && keep(Number(name))) continue;
      if (this.building.has(path)) continue;
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    }
    return removed;
  }
}
