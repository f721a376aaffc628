// OOM notifications for running containers (containerd's pkg/oom/v1 and v2).
//  cgroup v1: an eventfd armed through cgroup.event_control on memory.oom_control; one epoll set
//  waited on by a koffi worker thread. The eventfd also fires when the cgroup is removed, which
//  ends the watch.
//  cgroup v2: memory.events watched with inotify (fs.watch); an OOM is a rise of `oom_kill`.
import { closeSync, existsSync, openSync, readFileSync, readSync, watch, writeFileSync, writeSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Cgroup } from './cgroups.js';
import { epollAdd, epollCreate, epollDelete, epollWaitAsync, eventfd } from './syscalls.js';

export type OomHandler = (containerId: string) => void;

export class OomWatcher {
  private epfd: number | undefined;
  /** An eventfd in the epoll set that ends a wait at once (koffi's worker must not linger at exit). */
  private wakeFd: number | undefined;
  private readonly v1 = new Map<number, { containerId: string; memory: string }>();
  private readonly v2 = new Map<string, { watcher: FSWatcher; kills: number; events: string }>();
  private looping = false;

  constructor(
    private readonly onOom: OomHandler,
    private readonly log: (message: string) => void,
  ) {}

  add(containerId: string, cgroup: Cgroup): void {
    try {
      if (cgroup.version === 1) this.addV1(containerId, cgroup.paths.get('memory'));
      else this.addV2(containerId, cgroup.path);
    } catch (err) {
      this.log(`add cg to OOM monitor: ${(err as Error).message}`);
    }
  }

  /**
   * Ends the watch of a container (its init exited). An OOM kill signalled before the exit but not
   * yet seen by the watch (the epoll wait's answer, or inotify's event, still on its way) is
   * reported now, or it would be lost with the watch.
   */
  remove(containerId: string): void {
    for (const [fd, entry] of this.v1) {
      if (entry.containerId !== containerId) continue;
      if (drain(fd) && existsSync(entry.memory)) this.onOom(containerId);
      this.dropV1(fd);
    }
    const v2 = this.v2.get(containerId);
    if (!v2) return;
    v2.watcher.close();
    this.v2.delete(containerId);
    if (oomKills(v2.events) > v2.kills) this.onOom(containerId);
  }

  private addV1(containerId: string, memory: string | undefined): void {
    if (!memory || !existsSync(memory)) return;
    const efd = eventfd();
    const control = openSync(join(memory, 'memory.oom_control'), 'r');
    try {
      writeFileSync(join(memory, 'cgroup.event_control'), `${efd} ${control}`);
    } catch (err) {
      closeSync(efd);
      throw err;
    } finally {
      closeSync(control);
    }
    if (this.epfd === undefined) {
      this.epfd = epollCreate();
      this.wakeFd = eventfd();
      epollAdd(this.epfd, this.wakeFd);
    }
    epollAdd(this.epfd, efd);
    this.v1.set(efd, { containerId, memory });
    void this.loop();
  }

  private dropV1(fd: number): void {
    if (this.epfd !== undefined) epollDelete(this.epfd, fd);
    closeSync(fd);
    this.v1.delete(fd);
    if (this.v1.size === 0) this.wake();
  }

  private wake(): void {
    if (this.wakeFd !== undefined) writeSync(this.wakeFd, WAKE);
  }

  /** Stops watching everything and ends the wait of the worker thread. */
  close(): void {
    for (const fd of [...this.v1.keys()]) this.dropV1(fd);
    for (const id of [...this.v2.keys()]) this.remove(id);
    this.wake();
  }

  private async loop(): Promise<void> {
    if (this.looping) return;
    this.looping = true;
    try {
      while (this.v1.size > 0 && this.epfd !== undefined) {
        const ready = await epollWaitAsync(this.epfd, 10_000);
        for (const fd of ready) {
          if (fd === this.wakeFd) {
            drain(fd);
            continue;
          }
          const entry = this.v1.get(fd);
          if (!entry) continue;
          drain(fd);
          if (!existsSync(entry.memory)) {
            this.dropV1(fd); // the cgroup was removed
            continue;
          }
          this.onOom(entry.containerId);
        }
      }
    } catch (err) {
      this.log(`OOM monitor: ${(err as Error).message}`);
    } finally {
      this.looping = false;
    }
  }

  private addV2(containerId: string, path: string): void {
    const events = join(path, 'memory.events');
    if (!existsSync(events)) return;
    const entry = { watcher: watch(events), kills: oomKills(events), events };
    entry.watcher.on('change', () => {
      const kills = oomKills(events);
      if (kills > entry.kills) this.onOom(containerId);
      entry.kills = kills;
    });
    entry.watcher.on('error', () => this.remove(containerId));
    this.v2.set(containerId, entry);
  }
}

const WAKE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);

/** Reads an eventfd's counter (non-blocking: EAGAIN when already read). */
function drain(fd: number): boolean {
  try {
    return readSync(fd, Buffer.alloc(8)) === 8;
  } catch {
    return false; // EAGAIN: nothing pending
  }
}

function oomKills(eventsFile: string): number {
  try {
    const line = readFileSync(eventsFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('oom_kill '));
    return line ? Number(line.split(' ')[1]) : 0;
  } catch {
    return 0;
  }
}
