// glibc's malloc keeps the memory a process freed for its next allocations: after a burst of
// large buffers (a pull, a content write) the daemon's heap stays at its high-water mark, as
// resident memory nobody uses, whenever one small live allocation sits above the freed ones.
// malloc_trim(0) hands every whole free page of every arena back to the kernel (madvise), as Go's
// scavenger does for containerd; what is still allocated is untouched.
import { bindLibc } from './libc.js';

const libc = bindLibc<{ malloc_trim(pad: number): number; mallopt(param: number, value: number): number }>({
  malloc_trim: 'int malloc_trim(size_t pad)',
  mallopt: 'int mallopt(int param, int value)',
});
/** mallopt's parameter for the most arenas malloc makes (malloc.h). */
const M_ARENA_MAX = -8;
/** The daemon's arenas: its main thread's and one its helper threads share (as MALLOC_ARENA_MAX=2). */
const DAEMON_MALLOC_ARENAS = 2;

/** Returns the free pages of malloc's arenas to the kernel; true if any were. */
export function releaseFreedHeap(): boolean {
  return libc().malloc_trim(0) === 1;
}

/**
 * glibc gives a thread that finds the arenas busy an arena of its own, up to 8 per core, and each
 * keeps the free memory of its thread's last burst: V8's helper threads, libuv's pool and LMDB's
 * writer held ~8.5 MB of them after a batch of containers, ~3 MB sharing two. Called before the
 * daemon's modules load (bin/ledgerd), when few threads have allocated yet; later, the arenas
 * already made stay. MALLOC_ARENA_MAX in the environment, if set, is left to rule.
 */
export function limitMallocArenas(max = DAEMON_MALLOC_ARENAS): void {
  if (!process.env.MALLOC_ARENA_MAX) libc().mallopt(M_ARENA_MAX, max);
}
