import type { Subscription } from 'rxjs';
import type { LogRecord } from '../log/index.js';
import { mark, readOnce, sweep, type GcInputs, type GcNode, type MarkResult, type Sweep } from './reference-graph.js';
import { collectionMeta, exclusively, type CommandContext, type RequestMeta } from '../commands/context.js';
import type { GcTrigger } from '../commands/gc-trigger.js';
import { parseDuration } from '../util/duration.js';

/** containerd's gc scheduler knobs (gc/scheduler), plus ledgerd's own periodic collection. */
export interface GcConfig {
  pause_threshold: number;
  deletion_threshold: number;
  mutation_threshold: number;
  schedule_delay: string;
  startup_delay: string;
  /** ledgerd: collect at least this often even when nothing changed ("0s" = never). */
  collect_interval: string;
}

export const DEFAULT_GC_CONFIG: GcConfig = {
  pause_threshold: 0.02,
  deletion_threshold: 0,
  mutation_threshold: 100,
  schedule_delay: '0s',
  startup_delay: '100ms',
  collect_interval: '5m',
};

/** How each kind of garbage is deleted: by the commands that own it, with reason "gc". */
export interface GcDeleters {
  content?(namespace: string, digest: string, meta: RequestMeta): Promise<void>;
  snapshot?(namespace: string, snapshotter: string, key: string, meta: RequestMeta): Promise<void>;
  ingest?(namespace: string, ref: string, meta: RequestMeta): Promise<void>;
  lease(namespace: string, id: string, meta: RequestMeta): Promise<void>;
  /**
   * After the records: the files no record names any more (blobs, the directories of removed
   * snapshots). Returns the blobs that went.
   */
  files?(): Promise<string[]>;
}

export interface Collection {
  readonly seq: number;
  readonly deleted: Sweep;
  /** Files removed after the records (blob digests). */
  readonly files: string[];
  readonly failures: string[];
  /** The metadata phase (the records), as containerd times a collection; the files come after. */
  readonly ms: number;
}

/** Record types that delete something: they make the next collection worth running. */
const DELETIONS = new Set(['ImageDeleted', 'LeaseDeleted', 'LeaseResourceRemoved', 'ContentDeleted', 'ContentIngestAborted', 'SnapshotRemoved', 'ContainerDeleted']);

export interface Explanation {
  readonly exists: boolean;
  readonly alive: boolean;
  readonly chain: string[];
  readonly deletedBy?: LogRecord;
}

const describe = (node: GcNode) => `${node.kind} ${node.key}`;

function deletes(record: LogRecord, node: GcNode): boolean {
  const payload = record.payload as { digest?: string; id?: string; key?: string; snapshotter?: string; ref?: string };
  switch (node.kind) {
    case 'content':
      return record.type === 'ContentDeleted' && payload.digest === node.key;
    case 'lease':
      return record.type === 'LeaseDeleted' && payload.id === node.key;
    case 'snapshot':
      return record.type === 'SnapshotRemoved' && `${payload.snapshotter}/${payload.key}` === node.key;
    case 'ingest':
      return record.type === 'ContentIngestAborted' && payload.ref === node.key;
  }
}

/**
 * The garbage collector: a scheduler following containerd's (mutation and deletion counts from
 * the log's tail, pause-threshold spacing, sync waits), a mark/sweep over the read models, and
 * deletions appended by the owning commands with reason "gc" and the collection's seq.
 */
export class GarbageCollector implements GcTrigger {
  private mutations = 0;
  private deletions = 0;
  private triggered = false;
  private timer: NodeJS.Timeout | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private subscription: Subscription | undefined;
  private running: Promise<Collection> | undefined;
  private waiters: ((c: Collection) => void)[] = [];
  private averageMs = 0;
  private collections = 0;
  private stopped = false;
  readonly last: { collection?: Collection } = {};

  constructor(
    private readonly ctx: CommandContext,
    private readonly config: GcConfig,
    private readonly inputs: GcInputs,
    private readonly deleters: GcDeleters,
    private readonly onError: (message: string) => void = () => {},
  ) {}

  start(): void {
    this.subscription = this.ctx.log.tail$(this.ctx.log.head + 1).subscribe((record) => this.observe(record));
    this.arm(parseDuration(this.config.startup_delay));
    const every = parseDuration(this.config.collect_interval);
    if (every > 0) this.periodic = setInterval(() => this.schedule(0, true), every).unref();
  }

  stop(): void {
    this.stopped = true;
    this.subscription?.unsubscribe();
    clearTimeout(this.timer);
    clearInterval(this.periodic);
  }

  /** Stops, and waits for a collection under way: its records are in the log, its files must go too. */
  async close(): Promise<void> {
    this.stop();
    await this.running?.catch(() => {});
  }

  /** Schedules a collection (after schedule_delay) and waits for one that starts after this call. */
  scheduleAndWait(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(() => resolve());
      this.schedule(parseDuration(this.config.schedule_delay), true);
    });
  }

  /** What a collection would delete now, and why everything else lives. */
  plan(now = new Date()): { marked: MarkResult; sweep: Sweep } {
    const inputs = readOnce(this.inputs);
    const marked = mark(inputs, now);
    return { marked, sweep: sweep(inputs, marked) };
  }

  /** Why a node lives (the reference chain up to its root), or the record that deleted it. */
  explain(node: GcNode): Explanation {
    const { marked } = this.plan();
    const chain: string[] = [];
    const alive = marked.live.has(node);
    for (let at = marked.live.get(node); at; ) {
      const reason = at.reason;
      if ('root' in reason) {
        chain.push(`${describe(at.node)} is a root: ${reason.root}`);
        break;
      }
      chain.push(`${describe(at.node)} is referenced by ${describe(reason.from)} (${reason.label})`);
      at = marked.live.get(reason.from);
    }
    const exists = alive || this.exists(node);
    return { exists, alive, chain, deletedBy: exists ? undefined : this.deletion(node) };
  }

  private exists(node: GcNode): boolean {
    const inputs = this.inputs;
    if (node.kind === 'content') return inputs.content(node.namespace).some((c) => c.digest === node.key);
    if (node.kind === 'lease') return inputs.leases(node.namespace).some((l) => l.id === node.key);
    if (node.kind === 'ingest') return inputs.ingests(node.namespace).some((i) => i.ref === node.key);
    return inputs.snapshots(node.namespace).some((s) => `${s.snapshotter}/${s.key}` === node.key);
  }

  /** The last record that deleted this node, found by reading the log. */
  private deletion(node: GcNode): LogRecord | undefined {
    let found: LogRecord | undefined;
    for (const record of this.ctx.log.read(1)) {
      if (record.namespace === node.namespace && DELETIONS.has(record.type) && deletes(record, node)) found = record;
    }
    return found;
  }

  /** Runs one collection now (waiting for one in progress first). */
  async collect(): Promise<Collection> {
    while (this.running) await this.running;
    const run = this.run();
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = undefined;
    }
  }

  private async run(): Promise<Collection> {
    const started = performance.now();
    this.mutations = 0;
    this.deletions = 0;
    this.triggered = false;
    const waiting = this.waiters;
    this.waiters = [];
    const failures: string[] = [];
    const attempt = async (node: GcNode, remove: () => Promise<void>) => {
      try {
        await remove();
      } catch (err) {
        failures.push(`${node.kind} ${node.namespace}/${node.key}: ${(err as Error).message}`);
      }
    };
    // the appends in flight are drained before the hold, while commands still go on: inside it,
    // they wait only for what was appended meanwhile (usually nothing), not for a commit each
    await this.ctx.projections.settle();
    // no command decides between the mark and the last deletion: what is marked garbage stays garbage
    const { seq, garbage } = await exclusively(this.ctx, () => this.deleteGarbage(attempt));
    // containerd's GC duration, which spaces the collections, is its metadata phase: the files
    // go after it (deleting a 100 MB layer would otherwise space the next collections by minutes)
    const ms = performance.now() - started;
    let files: string[] = [];
    if (this.deleters.files) {
      await attempt({ kind: 'content', namespace: '', key: 'blob files' }, async () => {
        files = await this.deleters.files!();
      });
    }
    this.averageMs = (this.averageMs * this.collections + ms) / (this.collections + 1);
    this.collections++;
    const collection: Collection = { seq, deleted: garbage, files, failures, ms };
    this.last.collection = collection;
    for (const failure of failures) this.onError(`gc: ${failure}`);
    waiting.forEach((resolve) => resolve(collection));
    return collection;
  }

  /** The metadata phase: mark, then the deletion records of everything unreached. */
  private async deleteGarbage(attempt: (node: GcNode, remove: () => Promise<void>) => Promise<void>): Promise<{ seq: number; garbage: Sweep }> {
    await this.ctx.projections.settle();
    const seq = this.ctx.log.head;
    const { sweep: garbage } = this.plan();
    const meta = (node: GcNode): RequestMeta => collectionMeta({ actor: 'gc', reason: 'gc', gcSeq: seq, node: `${node.kind} ${node.namespace}/${node.key}` });
    for (const node of garbage.leases) await attempt(node, () => this.deleters.lease(node.namespace, node.key, meta(node)));
    for (const node of garbage.snapshots) {
      const at = node.key.indexOf('/');
      if (this.deleters.snapshot) {
        await attempt(node, () => this.deleters.snapshot!(node.namespace, node.key.slice(0, at), node.key.slice(at + 1), meta(node)));
      }
    }
    for (const node of garbage.ingests) {
      if (this.deleters.ingest) await attempt(node, () => this.deleters.ingest!(node.namespace, node.key, meta(node)));
    }
    for (const node of garbage.content) {
      if (this.deleters.content) await attempt(node, () => this.deleters.content!(node.namespace, node.key, meta(node)));
    }
    return { seq, garbage };
  }

  /** Counts the log's mutations as containerd's scheduler counts write transactions. */
  private observe(record: LogRecord): void {
    if (record.meta.reason === 'gc') return;
    this.mutations++;
    if (DELETIONS.has(record.type)) this.deletions++;
    if (this.config.deletion_threshold > 0 && this.deletions >= this.config.deletion_threshold) {
      this.schedule(parseDuration(this.config.schedule_delay), true);
    }
  }

  private schedule(delayMs: number, force: boolean): void {
    if (this.stopped) return;
    if (force) this.triggered = true;
    this.arm(delayMs);
  }

  private arm(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), delayMs).unref();
  }

  /** A tick collects only when asked to, after deletions, or after enough mutations. */
  private tick(): void {
    if (this.stopped) return;
    const due = this.triggered || this.deletions > 0 || (this.config.mutation_threshold > 0 && this.mutations >= this.config.mutation_threshold);
    if (!due) {
      this.arm(this.interval());
      return;
    }
    this.collect().then(
      () => this.arm(this.interval()),
      (err: Error) => {
        this.onError(`gc failed: ${err.message}`);
        this.arm(this.interval() + 1000);
      },
    );
  }

  /** containerd's spacing: keep the share of time spent collecting near pause_threshold. */
  private interval(): number {
    if (this.collections === 0) return 1000;
    const pause = Math.min(Math.max(this.config.pause_threshold, 0.001), 0.5);
    return Math.max(this.averageMs / pause - this.averageMs, 10);
  }
}
