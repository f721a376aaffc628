// V8 collects the old generation when its own heap fills, and counts Buffers' memory only loosely:
// up to ~64 MB of dead Buffers more than at the last full collection wait for the next one. After
// a pull or a large content write the daemon goes quiet and nothing triggers it, so those buffers
// (and the old-space garbage the work left) stay resident until the next burst of work. The
// daemon runs a full collection itself once that much has piled up.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/** V8's full collection (global.gc), exposed on first use: the daemon is started without --expose-gc. */
function fullCollection(): () => void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  return gc;
}

/**
 * Runs a full collection when the heap or Buffer memory has grown by `slackBytes` since the last
 * one it ran; true if it did.
 */
export function garbageCollector(slackBytes: number): () => boolean {
  let after = { heapUsed: 0, arrayBuffers: 0 };
  return () => {
    const now = process.memoryUsage();
    if (now.heapUsed - after.heapUsed < slackBytes && now.arrayBuffers - after.arrayBuffers < slackBytes) return false;
    fullCollection()();
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    after = { heapUsed, arrayBuffers };
    return true;
  };
}
