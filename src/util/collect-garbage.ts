// V8 collects the old generation when its own heap fills, and counts Buffers' memory only loosely:
// up to ~64 MB of dead Buffers more than at the last full collection wait for the next one. After
// a pull or a large content write the daemon goes quiet and nothing triggers it, so those buffers
// (and the old-space garbage the work left) stay resident until the next burst of work. The
// daemon runs a full collection itself once that much has piled up.
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/**
 * V8's full collection (global.gc, exposed on first use: the daemon is started without
 * --expose-gc), compacting: a collection frees the dead objects but keeps every page that still
 * holds a live one, so after a burst the old generation stayed at 26-36 MB with 20 MB live. Moving
 * the survivors together gives the emptied pages back (a test heap: 40 MB of pages holding 5 MB
 * live went to 5 MB, 14 -> 19 ms).
 */
function fullCollection(): () => void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    gc = () => {
      setFlagsFromString('--compact-on-every-full-gc');
      try {
        collect();
      } finally {
        setFlagsFromString('--no-compact-on-every-full-gc');
      }
    };
  }
  return gc;
}

const isYoungGeneration = (space: { space_name: string }) => space.space_name === 'new_space' || space.space_name === 'new_large_object_space';

/** Bytes in V8's heap outside the young generation (which a scavenge empties anyway). */
function oldGenerationBytes(): number {
  return getHeapSpaceStatistics().reduce((sum, space) => (isYoungGeneration(space) ? sum : sum + space.space_used_size), 0);
}

/**
 * Runs a full collection when the old generation or Buffer memory has grown by `slackBytes` (or
 * the slack given to that call) since the last one it ran; true if it did.
 */
export function garbageCollector(slackBytes: number): (slack?: number) => boolean {
  let after = { oldGeneration: 0, arrayBuffers: 0 };
  return (slack = slackBytes) => {
    const arrayBuffers = process.memoryUsage().arrayBuffers;
    if (oldGenerationBytes() - after.oldGeneration < slack && arrayBuffers - after.arrayBuffers < slack) return false;
    fullCollection()();
    after = { oldGeneration: oldGenerationBytes(), arrayBuffers: process.memoryUsage().arrayBuffers };
    return true;
  };
}

/** Above this V8's young generation has grown from its start (1 MiB semi-spaces) toward its cap (16 MiB each). */
const YOUNG_GENERATION_GROWN_BYTES = 4 * 1024 * 1024;
/** Collections tried in a row while the young generation stays grown (V8 may decline to shrink it). */
const SHRINK_ATTEMPTS = 3;

const youngGenerationBytes = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;

/**
 * V8 grows its young generation while a burst of work keeps much of what it allocates alive (the
 * daemon's start-up: modules, protos, the log's replay; a pull) and shrinks it back only at a full
 * collection made while little is being allocated. Its own memory reducer gets there about 8 s
 * after the burst on an idle machine, later or not at all on a busy one, so a fresh daemon's RSS
 * read 78 or 93 MiB depending on the moment. Called when the process has been quiet, this runs
 * that collection itself while the young generation is grown; true if it did.
 */
export function youngGenerationShrinker(): () => boolean {
  let attempts = 0;
  return () => {
    if (youngGenerationBytes() <= YOUNG_GENERATION_GROWN_BYTES) {
      attempts = 0;
      return false;
    }
    if (attempts >= SHRINK_ATTEMPTS) return false;
    attempts++;
    fullCollection()();
    return true;
  };
}

/**
 * V8 doubles its young generation whenever much of what a scavenge finds is still alive, up to
 * 32 MiB, all of it resident, and gives it back only after several seconds in which the process
 * allocates almost nothing: a daemon that serves a steady trickle of calls after a burst (a pull,
 * a batch of containers) keeps the 32 MiB for good. This stops the doubling once the young
 * generation could reach `capBytes`, and lets it go on again once V8 has shrunk it.
 *
 * V8 reads its growth factor each time it grows the young generation (its own start-up would
 * raise a factor below 2, set here afterwards, to 2). The size is looked at after collections,
 * a loop iteration or two later: turns that allocate many MiB each can take it a doubling or two
 * past the cap before the look (the daemon's turns are far smaller). Returns a function that
 * lifts the cap.
 */
export function capYoungGeneration(capBytes: number): () => void {
  let growing: boolean | undefined;
  const check = () => {
    // one more doubling would still fit
    const grow = youngGenerationBytes() * 2 <= capBytes;
    if (grow === growing) return;
    growing = grow;
    setFlagsFromString(`--semi-space-growth-factor=${grow ? 2 : 1}`);
  };
  check();
  const afterEachCollection = new PerformanceObserver(check);
  afterEachCollection.observe({ entryTypes: ['gc'] });
  return () => {
    afterEachCollection.disconnect();
    setFlagsFromString('--semi-space-growth-factor=2');
  };
}
