// CPU profiles and heap snapshots of the daemon itself, through node:inspector's in-process
// session (no inspector port is opened): the formats Chrome DevTools opens, a .cpuprofile
// (Profiler.Profile as JSON) and a .heapsnapshot.
import { Session } from 'node:inspector/promises';

/** A CPU profile over `seconds`, as the JSON of a .cpuprofile file. */
export async function cpuProfile(seconds: number, signal?: AbortSignal): Promise<string> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, seconds * 1000);
      signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    const { profile } = await session.post('Profiler.stop');
    return JSON.stringify(profile);
  } finally {
    session.disconnect();
  }
}

/**
 * A heap snapshot, handed to `write` in the chunks V8 produces (a whole snapshot is the size of
 * the heap, so it is never held in one string). The daemon's loop is paused while V8 walks the heap.
 */
export async function heapSnapshot(write: (chunk: string) => void): Promise<void> {
  const session = new Session();
  session.connect();
  try {
    session.on('HeapProfiler.addHeapSnapshotChunk', (message) => write(message.params.chunk));
    await session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  } finally {
    session.disconnect();
  }
}
