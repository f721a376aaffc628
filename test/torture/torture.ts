// The crash torture (issue 13). Each round: several clients run real `ctr` commands at once
// against one daemon (pull, run, exec, kill, task and container deletes, images, content,
// snapshots, leases, namespaces); the daemon is SIGKILLed at a random moment; then
//   - with the daemon down: `ledgerd verify` is clean, and the read models loaded from their
//     checkpoints equal the ones replayed from the first record;
//   - after a restart: every acknowledged mutation is there, every cut one is wholly there or
//     wholly absent, ids never acknowledged can be used again, every task listed is reachable,
//     and no shim, bundle, mount or descriptor of the daemon is left over;
//   - after a clean stop: every blob, upload and snapshot directory on disk is one the log holds.
// Everything is drawn from one seed, so a failing round can be run again.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { LEDGERCTL, LEDGERD, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { buildImage, busyboxEntries, startTestRegistry } from '../helpers/registry.js';
import { bundlesIn, descendantsOf, descriptorsUnder, idleShims, isAlive, killShimsOf, mountsUnder, ownShimConfig, shimsOf, unixSocketsOf, workingDirectoryOf } from '../helpers/crash-checks.js';
import { Client } from './clients.js';
import { abandonCalls, column, ctr } from './ctr.js';
import { Model, type Kind } from './model.js';
import { checkpointsMatchReplay, diskMatchesLog } from './offline.js';
import { Rng } from './rng.js';

const run = promisify(execFile);
// per run: runc's state is per namespace and host-wide, so a killed run's leftovers must not meet the next
const NAMESPACE = `torture-${process.pid}`;

export interface TortureOptions {
  readonly rounds: number;
  readonly seed: number;
  /** Concurrent clients per round. */
  readonly clients?: number;
  /** The daemon is killed between these many milliseconds after the clients start. */
  readonly killAfterMs?: readonly [number, number];
  readonly log?: (line: string) => void;
}

export interface RoundReport {
  readonly round: number;
  readonly acknowledged: number;
  readonly cut: number;
  readonly findings: readonly string[];
}

/** Runs the torture; resolves with one report per round (the findings are the failures). */
export async function torture(options: TortureOptions): Promise<RoundReport[]> {
  const cleanups: (() => unknown)[] = [];
  // the helpers take a test context only to clean up after it
  const context = { after: (fn: () => unknown) => void cleanups.unshift(fn) } as unknown as TestContext;
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-torture-'));
  const say = options.log ?? (() => {});
  const rng = new Rng(options.seed);
  try {
    const registry = await startTestRegistry(context);
    await registry.pushImage('busybox', 'latest', await buildImage([[...busyboxEntries(), { name: 'bin/sleep', type: 'symlink', linkname: 'busybox' }]]));
    const image = `${registry.host}/busybox:latest`;
    const args = ['-c', ownShimConfig(dir)];
    let daemon = await startTestDaemon(context, { dir, args, startTimeoutMs: 120_000 });
    cleanups.unshift(() => cleanWorld(daemon, dir));
    const pulled = await ctr(daemon.address, NAMESPACE, ['images', 'pull', '--plain-http', image]);
    if (pulled.code !== 0) throw new Error(`pulling ${image}: ${pulled.out}`);
    const model = new Model();
    const reports: RoundReport[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const findings: string[] = [];
      const outputs = [daemon.output()];
      const counts = await crashRound(daemon, model, image, rng, round, options, findings);
      outputs[0] = daemon.output();
      const shimsAtKill = shimsOf(daemon.address).map((pid) => ({ pid, sockets: [...unixSocketsOf(pid)] }));
      findings.push(...(await checkDown(daemon)));
      // a shim may end while its daemon is down only if it served no container: said with any finding
      const endedWhileDown = shimsAtKill.filter(({ pid }) => !isAlive(pid)).map(({ pid, sockets }) => `${pid} (${sockets.join(' ') || 'no socket'})`);
      daemon = await daemon.restart();
      findings.push(...(await checkUp(daemon, model, image)));
      if (findings.length > 0 && endedWhileDown.length > 0) findings.push(`(shims that ended while the daemon was down: ${endedWhileDown.join(', ')})`);
      await clearTasks(daemon, model, findings);
      const stopped = await daemon.stop();
      outputs.push(daemon.output());
      if (stopped !== 0) findings.push(`a clean stop exited ${stopped}`);
      findings.push(...(await diskMatchesLog(daemon.root)));
      if (findings.length > 0) {
        const saved = join(tmpdir(), `ledgerd-torture-seed${options.seed}-round${round}.log`);
        writeFileSync(saved, outputs.join('\n----- restart -----\n'));
        cpSync(join(daemon.root, 'log'), `${saved}.lmdb`, { recursive: true });
        findings.push(`(the daemon's output: ${saved}; its log: ${saved}.lmdb)`);
        // what warm shims that died said as they went (node's own fatal output included)
        const shimStderr = join(daemon.state, 'warm-shims.stderr');
        if (existsSync(shimStderr) && statSync(shimStderr).size > 0) {
          cpSync(shimStderr, `${saved}.warm-shims.stderr`);
          findings.push(`(warm shims' stderr: ${saved}.warm-shims.stderr)`);
        }
      }
      reports.push({ round, ...counts, findings });
      say(`round ${round}: ${counts.acknowledged} acknowledged, ${counts.cut} cut by the kill, ${findings.length === 0 ? 'all invariants hold' : `${findings.length} FINDINGS:\n  ${findings.join('\n  ')}`}`);
      daemon = await daemon.restart();
    }
    return reports;
  } finally {
    for (const cleanup of cleanups) await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Clients at work, the kill, and the clients' last answers. */
async function crashRound(daemon: TestDaemon, model: Model, image: string, rng: Rng, round: number, options: TortureOptions, findings: string[]): Promise<{ acknowledged: number; cut: number }> {
  let killedAt: number | undefined;
  const clients = Array.from({ length: options.clients ?? 4 }, (_, i) =>
    new Client({ address: daemon.address, namespace: NAMESPACE, image, model, rng: rng.fork(), prefix: `r${round}c${i}-`, killedAt: () => killedAt, findings }),
  );
  const before = snapshotOf(model);
  const working = Promise.all(clients.map((client) => client.run()));
  const [min, max] = options.killAfterMs ?? [300, 4000];
  await new Promise((resolve) => setTimeout(resolve, rng.int(min, max)));
  killedAt = Date.now();
  await daemon.kill();
  // a call answered before the kill ends within moments; the others are cut whatever they do
  abandonCalls(10_000);
  await working;
  const after = model.all();
  return { acknowledged: after.filter((o) => o.state !== 'unknown' && before.get(`${o.kind}:${o.id}`) !== `${o.state}/${o.status}`).length, cut: after.filter((o) => o.state === 'unknown').length };
}

const snapshotOf = (model: Model) => new Map(model.all().map((o) => [`${o.kind}:${o.id}`, `${o.state}/${o.status}`]));

async function checkDown(daemon: TestDaemon): Promise<string[]> {
  const findings: string[] = [];
  try {
    await run(process.execPath, [LEDGERD, 'verify', '--root', daemon.root]);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    findings.push(`ledgerd verify: ${e.stdout ?? ''}${e.stderr ?? ''}`.trim());
  }
  findings.push(...(await checkpointsMatchReplay(daemon.root)));
  return findings;
}

/** What the restarted daemon shows, as sets per kind (tasks with their status). */
async function observe(daemon: TestDaemon): Promise<{ ids: Record<Kind, Set<string>>; status: Map<string, string>; problems: string[] }> {
  const problems: string[] = [];
  const list = async (args: string[], header: boolean, namespace = NAMESPACE) => {
    const result = await ctr(daemon.address, namespace, args);
    if (result.code !== 0) problems.push(`ctr ${args.join(' ')}: ${result.out}`);
    return column(result.out, header);
  };
  const tasks = await ctr(daemon.address, NAMESPACE, ['tasks', 'ls']);
  if (tasks.code !== 0) problems.push(`ctr tasks ls: ${tasks.out}`);
  const status = new Map(tasks.out.split('\n').slice(1).filter(Boolean).map((line) => line.trim().split(/\s+/)).map(([id, , s]) => [id!, s!]));
  const content = await list(['content', 'ls', '-q'], false);
  const ids: Record<Kind, Set<string>> = {
    container: new Set(await list(['containers', 'ls', '-q'], false)),
    task: new Set(status.keys()),
    image: new Set(await list(['images', 'ls', '-q'], false)),
    lease: new Set(await list(['leases', 'ls', '-q'], false)),
    namespace: new Set(await list(['namespaces', 'ls', '-q'], false)),
    snapshot: new Set(await list(['snapshots', 'ls'], true)),
    content: new Set(content),
  };
  return { ids, status, problems };
}

const present = (ids: Record<Kind, Set<string>>, kind: Kind, id: string, prefix: string) =>
  kind === 'content' ? ids.content.has(id.slice(prefix.length)) : ids[kind].has(id);

/** After the restart: the model against what the daemon shows, ids reusable, nothing left over. */
async function checkUp(daemon: TestDaemon, model: Model, image: string): Promise<string[]> {
  const { ids, status, problems } = await observe(daemon);
  const reuse: { kind: Kind; id: string }[] = [];
  for (const object of model.all()) {
    const prefix = /^r\d+c\d+-/.exec(object.id)?.[0] ?? '';
    const there = present(ids, object.kind, object.id, prefix);
    const name = `${object.kind} ${object.id}`;
    if (object.state === 'present' && !there) {
      problems.push(`${name} was acknowledged but is gone; what the log says of it:\n${await historyOf(daemon, object.kind, object.id.slice(object.kind === 'content' ? prefix.length : 0))}`);
      object.state = 'absent'; // reported once, not again every round
    }
    if (object.state === 'absent' && there) problems.push(`${name} was deleted (acknowledged) but is there`);
    if (object.kind === 'task' && object.state === 'present' && there && object.status && status.get(object.id) !== object.status) {
      problems.push(`task ${object.id} is ${status.get(object.id)}, acknowledged ${object.status}`);
    }
    if (object.state === 'unknown' || object.state === 'collectable') {
      object.state = object.state === 'collectable' && there ? 'collectable' : there ? 'present' : 'absent';
      if (object.kind === 'task' && there) object.status = status.get(object.id) as 'RUNNING' | 'STOPPED';
      if (!there && object.kind !== 'content' && object.kind !== 'snapshot') reuse.push(object);
    } else if (object.kind === 'task' && there && !object.status) object.status = status.get(object.id) as 'RUNNING' | 'STOPPED';
  }
  for (const [id, s] of status) {
    if (s !== 'RUNNING' && s !== 'STOPPED' && s !== 'CREATED') problems.push(`task ${id} is ${s}: not reachable`);
    if (!ids.container.has(id)) problems.push(`task ${id} has no container`);
  }
  problems.push(...(await reuseIds(daemon, model, image, reuse, ids)));
  problems.push(...(await leftovers(daemon)));
  return problems;
}

/** For a finding: the log's records of an object's stream, and what `ledgerctl why` says of it. */
async function historyOf(daemon: TestDaemon, kind: Kind, id: string): Promise<string> {
  const ledgerctl = async (args: string[]) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [LEDGERCTL, '-a', daemon.address, '-n', NAMESPACE, ...args], { timeout: 60_000 });
      return `${stdout}${stderr}`.trim();
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      return `${e.stdout ?? ''}${e.stderr ?? e.message}`.trim();
    }
  };
  const stream = { content: `content/${id}`, task: `tasks/${id}`, container: `containers/${id}`, image: `images/${id}`, lease: `leases/${id}`, snapshot: 'snapshots/overlayfs', namespace: '' }[kind];
  const why = { content: [id], snapshot: [id], lease: ['--lease', id] } as Partial<Record<Kind, string[]>>;
  const lines = [
    ...(stream ? [await ledgerctl(['log', 'show', '--filter', `namespace==${JSON.stringify(NAMESPACE)},stream==${JSON.stringify(stream)}`])] : []),
    ...(why[kind] ? [`why: ${await ledgerctl(['why', ...why[kind]!])}`] : []),
  ];
  return lines.join('\n').slice(-4000);
}

/** Ids whose creation was cut and is not there: creating them again must work. */
async function reuseIds(daemon: TestDaemon, model: Model, image: string, cut: { kind: Kind; id: string }[], ids: Record<Kind, Set<string>>): Promise<string[]> {
  const problems: string[] = [];
  const again = async (kind: Kind, id: string, args: string[]) => {
    const result = await ctr(daemon.address, NAMESPACE, args);
    if (result.code !== 0) problems.push(`${kind} ${id} (never acknowledged) cannot be created again: ${result.out}`);
    return result.code === 0;
  };
  for (const { kind, id } of cut) {
    if (kind === 'task' && ids.container.has(id)) {
      if (await again(kind, id, ['tasks', 'start', '-d', id])) model.set('task', id, 'present', 'RUNNING');
    } else if (kind === 'container') {
      // ctr prepares the container's snapshot first: a cut run may leave it, unreferenced
      if (ids.snapshot.has(id)) await ctr(daemon.address, NAMESPACE, ['snapshots', 'rm', id]);
      if (await again(kind, id, ['run', '-d', image, id, 'sleep', '600'])) {
        model.set('container', id, 'present');
        model.set('task', id, 'present', 'RUNNING');
      }
    } else if (kind === 'image') {
      if (await again(kind, id, ['images', 'tag', image, id])) model.set(kind, id, 'present');
    } else if (kind === 'lease') {
      if (await again(kind, id, ['leases', 'create', '--id', id])) model.set(kind, id, 'present');
    } else if (kind === 'namespace') {
      if (await again(kind, id, ['namespaces', 'create', id])) model.set(kind, id, 'present');
    }
  }
  return problems;
}

/** Shims without a task, bundles without a task, mounts of nothing, descriptors of the daemon's files. */
async function leftovers(daemon: TestDaemon): Promise<string[]> {
  const problems: string[] = [];
  const tasks = new Set(column((await ctr(daemon.address, NAMESPACE, ['tasks', 'ls', '-q'])).out, false));
  const bundles = bundlesIn(daemon.state);
  for (const bundle of bundles) if (!tasks.has(bundle.slice(`${NAMESPACE}/`.length))) problems.push(`bundle ${bundle} without a task`);
  for (const point of mountsUnder(daemon.state)) {
    if (![...tasks].some((id) => point.includes(`/${NAMESPACE}/${id}/`))) problems.push(`mount ${point} of no task`);
  }
  // a shim of the dead daemon that serves nothing ends on its own (its daemon hung up); allow it time
  const deadline = Date.now() + 20_000;
  let idle: number[] = [];
  do {
    idle = idleShims(daemon.address, daemon.process.pid, daemon.state, NAMESPACE, tasks);
    if (idle.length > 0) await new Promise((resolve) => setTimeout(resolve, 200));
  } while (idle.length > 0 && Date.now() < deadline);
  for (const pid of idle) problems.push(`shim ${pid} serves no container (working directory ${workingDirectoryOf(pid)}, tasks listed: ${[...tasks].join(' ') || 'none'})`);
  const all = shimsOf(daemon.address);
  for (const pid of [...all, ...descendantsOf(all)]) {
    for (const held of descriptorsUnder(pid, daemon.root)) problems.push(`process ${pid} holds the daemon's ${held}`);
  }
  return problems;
}

/** Every task and container of the round goes (acknowledged deletes), so rounds do not pile up. */
async function clearTasks(daemon: TestDaemon, model: Model, findings: string[]): Promise<void> {
  for (const task of model.all('task').filter((t) => t.state === 'present')) {
    const deleted = await ctr(daemon.address, NAMESPACE, ['tasks', 'delete', '--force', task.id]);
    if (deleted.code !== 0) findings.push(`tasks delete --force ${task.id}: ${deleted.out}`);
    else model.set('task', task.id, 'absent');
  }
  for (const container of model.all('container').filter((c) => c.state === 'present')) {
    const removed = await ctr(daemon.address, NAMESPACE, ['containers', 'rm', container.id]);
    if (removed.code !== 0) findings.push(`containers rm ${container.id}: ${removed.out}`);
    else {
      model.forget('container', container.id);
      model.forget('task', container.id);
    }
  }
  for (const task of model.all('task').filter((t) => t.state === 'absent')) model.forget('task', task.id);
}

/** The end of a run: shims, containers and mounts of this daemon go with it. */
function cleanWorld(daemon: TestDaemon, dir: string): void {
  killShimsOf(daemon.address);
  for (const point of mountsUnder(dir).reverse()) {
    try {
      execFileSync('umount', ['-l', point], { stdio: 'ignore' });
    } catch {
      // gone already
    }
  }
}
