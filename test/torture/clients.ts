// The torture's clients: each runs real `ctr` commands on objects of its own (ids with its
// prefix), chosen by its seeded source from what the model says exists, until the daemon dies.
// An answer updates the model; a call the crash cut leaves its object unknown; any other failure
// is a finding. Clients never share an object, so no failure is another client's doing.
import { createHash, randomBytes } from 'node:crypto';
import { ctr, type CtrResult } from './ctr.js';
import type { Model } from './model.js';
import type { Rng } from './rng.js';

export const GC_ROOT = 'containerd.io/gc.root=torture';

export interface ClientContext {
  readonly address: string;
  readonly namespace: string;
  /** The pulled image every container runs. */
  readonly image: string;
  readonly model: Model;
  readonly rng: Rng;
  /** This client's id prefix, e.g. "r3c1-". */
  readonly prefix: string;
  /** When the daemon was killed (Date.now()), once it was. */
  readonly killedAt: () => number | undefined;
  readonly findings: string[];
}

type Outcome = 'acknowledged' | 'cut' | 'failed';

const MAX_RUNNING = 3;

export class Client {
  private counter = 0;

  constructor(private readonly c: ClientContext) {}

  /** Runs operations until the daemon is killed. */
  async run(): Promise<void> {
    while (this.c.killedAt() === undefined) {
      const op = this.choose();
      await op();
    }
  }

  private newId(kind: string): string {
    return `${this.c.prefix}${kind}${++this.counter}`;
  }

  private async call(what: string, args: string[], stdin?: Buffer, namespace = this.c.namespace): Promise<{ outcome: Outcome; result: CtrResult }> {
    const result = await ctr(this.c.address, namespace, args, stdin);
    if (result.code === 0) return { outcome: 'acknowledged', result };
    const killedAt = this.c.killedAt();
    if (killedAt !== undefined && result.endedAt >= killedAt) return { outcome: 'cut', result };
    return { outcome: 'failed', result };
  }

  private fail(what: string, result: CtrResult): void {
    this.c.findings.push(`${this.c.prefix} ${what}: exit ${result.code}: ${result.out.slice(0, 400)}`);
  }

  private choose(): () => Promise<void> {
    const { model, prefix, rng } = this.c;
    const running = model.pick('task', prefix, 'present').filter((t) => t.status === 'RUNNING');
    const tasks = model.pick('task', prefix, 'present');
    const idle = model.pick('container', prefix, 'present').filter((c) => model.get('task', c.id)?.state === 'absent');
    const ops: [number, () => Promise<void>][] = [
      [running.length < MAX_RUNNING ? 3 : 0, () => this.runContainer(this.newId('run'))],
      [running.length > 0 ? 2 : 0, () => this.exec(rng.pick(running).id)],
      [running.length > 0 ? 2 : 0, () => this.kill(rng.pick(running).id)],
      [tasks.length > 0 ? 2 : 0, () => this.deleteTask(rng.pick(tasks).id)],
      [idle.length > 0 ? 2 : 0, () => this.removeContainer(rng.pick(idle).id)],
      [1, () => this.pull()],
      [1, () => this.simple('image', this.newId('img'), ['images', 'tag', this.c.image])],
      [1, () => this.removeOne('image', ['images', 'rm'])],
      [1, () => this.simple('lease', this.newId('lease'), ['leases', 'create', '--id'])],
      [1, () => this.removeOne('lease', ['leases', 'rm'])],
      [1, () => this.simple('namespace', this.newId('ns'), ['namespaces', 'create'])],
      [1, () => this.removeOne('namespace', ['namespaces', 'rm'])],
      [2, () => this.blob()],
      [1, () => this.removeOne('content', ['content', 'rm'])],
      [1, () => this.snapshot(this.newId('snap'))],
      [1, () => this.removeOne('snapshot', ['snapshots', 'rm'])],
    ];
    const total = ops.reduce((sum, [weight]) => sum + weight, 0);
    let at = rng.next() * total;
    for (const [weight, op] of ops) {
      at -= weight;
      if (at < 0) return op;
    }
    return ops[ops.length - 1]![1];
  }

  private async runContainer(id: string): Promise<void> {
    const { model } = this.c;
    model.set('container', id, 'unknown');
    model.set('task', id, 'unknown');
    const { outcome, result } = await this.call('run', ['run', '-d', this.c.image, id, 'sleep', '600']);
    if (outcome === 'acknowledged') {
      model.set('container', id, 'present');
      model.set('task', id, 'present', 'RUNNING');
    } else if (outcome === 'failed') this.fail(`run ${id}`, result);
  }

  private async exec(id: string): Promise<void> {
    const { outcome, result } = await this.call('exec', ['tasks', 'exec', '--exec-id', this.newId('x'), id, 'echo', 'torture-exec']);
    if (outcome === 'acknowledged' && !result.out.includes('torture-exec')) this.fail(`exec in ${id} printed ${JSON.stringify(result.out)}`, result);
    if (outcome === 'failed') this.fail(`exec in ${id}`, result);
  }

  private async kill(id: string): Promise<void> {
    const { model } = this.c;
    model.set('task', id, 'present');
    const { outcome, result } = await this.call('kill', ['tasks', 'kill', '-s', 'SIGKILL', id]);
    if (outcome === 'acknowledged') model.set('task', id, 'present', 'STOPPED');
    else if (outcome === 'failed') this.fail(`kill ${id}`, result);
  }

  private async deleteTask(id: string): Promise<void> {
    const { model } = this.c;
    model.set('task', id, 'unknown');
    const { outcome, result } = await this.call('delete task', ['tasks', 'delete', '--force', id]);
    if (outcome === 'acknowledged') model.set('task', id, 'absent');
    else if (outcome === 'failed') this.fail(`tasks delete --force ${id}`, result);
  }

  private async removeContainer(id: string): Promise<void> {
    const { model } = this.c;
    model.set('container', id, 'unknown');
    const { outcome, result } = await this.call('rm container', ['containers', 'rm', id]);
    if (outcome === 'acknowledged') {
      model.set('container', id, 'absent');
      model.forget('task', id);
    } else if (outcome === 'failed') this.fail(`containers rm ${id}`, result);
  }

  private async pull(): Promise<void> {
    const { outcome, result } = await this.call('pull', ['images', 'pull', '--plain-http', this.c.image]);
    if (outcome === 'failed') this.fail(`pull ${this.c.image}`, result);
  }

  /** Creates `id` with `args` + id: an acknowledgement makes it present. */
  private async simple(kind: 'image' | 'lease' | 'namespace', id: string, args: string[]): Promise<void> {
    const { model } = this.c;
    model.set(kind, id, 'unknown');
    const command = [...args, id];
    const { outcome, result } = await this.call(`create ${kind}`, command);
    if (outcome === 'acknowledged') model.set(kind, id, 'present');
    else if (outcome === 'failed') this.fail(`${command.join(' ')}`, result);
  }

  /** Removes one present object of `kind` of this client's. */
  private async removeOne(kind: 'image' | 'lease' | 'namespace' | 'content' | 'snapshot', args: string[]): Promise<void> {
    const { model, rng } = this.c;
    const present = model.pick(kind, this.c.prefix, 'present');
    if (present.length === 0) return;
    const { id } = rng.pick(present);
    model.set(kind, id, 'unknown');
    const { outcome, result } = await this.call(`remove ${kind}`, [...args, kind === 'content' ? id.slice(this.c.prefix.length) : id]);
    if (outcome === 'acknowledged') model.set(kind, id, 'absent');
    else if (outcome === 'failed') this.fail(`${args.join(' ')} ${id}`, result);
  }

  /**
   * Ingests random bytes, then labels the blob a gc root: collectable between the two (nothing
   * references it), present once the label is acknowledged. Content is keyed prefix + digest.
   */
  private async blob(): Promise<void> {
    const { model, rng } = this.c;
    const bytes = randomBytes(rng.int(1, 64 * 1024));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const key = `${this.c.prefix}${digest}`;
    // until its label is acknowledged nothing refers to it: committed or not, and collected or not, are both right
    model.set('content', key, 'collectable');
    const ingested = await this.call('ingest', ['content', 'ingest', '--expected-size', String(bytes.length), '--expected-digest', digest, this.newId('ref')], bytes);
    if (ingested.outcome !== 'acknowledged') {
      if (ingested.outcome === 'failed') this.fail(`content ingest ${digest}`, ingested.result);
      return;
    }
    const labelled = await this.call('label', ['content', 'label', digest, GC_ROOT]);
    if (labelled.outcome === 'acknowledged') model.set('content', key, 'present');
    // an unlabelled blob may be collected first: that is no finding
    else if (labelled.outcome === 'failed' && !/not found/.test(labelled.result.out)) this.fail(`content label ${digest}`, labelled.result);
  }

  /** An active snapshot, labelled a gc root once prepared (collectable in between). */
  private async snapshot(key: string): Promise<void> {
    const { model } = this.c;
    model.set('snapshot', key, 'collectable'); // as a blob before its label
    const prepared = await this.call('prepare', ['snapshots', 'prepare', key]);
    if (prepared.outcome !== 'acknowledged') {
      if (prepared.outcome === 'failed') this.fail(`snapshots prepare ${key}`, prepared.result);
      return;
    }
    const labelled = await this.call('label', ['snapshots', 'label', key, GC_ROOT]);
    if (labelled.outcome === 'acknowledged') model.set('snapshot', key, 'present');
    else if (labelled.outcome === 'failed' && !/not found/.test(labelled.result.out)) this.fail(`snapshots label ${key}`, labelled.result);
  }
}
