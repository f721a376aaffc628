// glibc's malloc keeps the memory a process freed for its next allocations: after a burst of
// large buffers (a pull, a content write) the daemon's heap stays at its high-water mark, as
// resident memory nobody uses, whenever one small live allocation sits above the freed ones.
// malloc_trim(0) hands every whole free page of every arena back to the kernel (madvise), as Go's
// scavenger does for containerd; what is still allocated is untouched.
import { bindLibc } from './libc.js';

const libc = bindLibc<{ malloc_trim(pad: number): number }>({ malloc_trim: 'int malloc_trim(size_t pad)' });

/** Returns the free pages of malloc's arenas to the kernel; true if any were. */
export function releaseFreedHeap(): boolean {
  return libc().malloc_trim(0) === 1;
}
