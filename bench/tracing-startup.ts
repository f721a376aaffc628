// What configuring tracing costs a daemon at start: resident memory once it serves, without and
// with an OTLP endpoint (the SDK and the exporter are loaded only then). Rounds alternate.
//   node dist/bench/tracing-startup.js [--rounds N]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median, report } from './report.js';

const LEDGERD = fileURLToPath(new URL('../../bin/ledgerd', import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });

const listening = (path: string) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

const kib = (pid: number, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

async function startOnce(tracing: boolean): Promise<{ rss: number; anon: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerd-tracing-bench-'));
  try {
    const config = join(dir, 'config.toml');
    // nothing listens there: the exporter sends only when spans are flushed, and none are made before a call
    writeFileSync(config, tracing ? 'version = 2\n[plugins."io.containerd.tracing.processor.v1.otlp"]\n  endpoint = "http://127.0.0.1:9"\n' : 'version = 2\n');
    const socket = join(dir, 'ledgerd.sock');
    const daemon = spawn(process.execPath, [LEDGERD, '-c', config, '--root', join(dir, 'root'), '--state', join(dir, 'state'), '-a', socket], { stdio: 'ignore' });
    const exited = new Promise((resolve) => daemon.once('exit', resolve));
    while (!(await listening(socket))) await new Promise((resolve) => setTimeout(resolve, 20));
    const figures = { rss: kib(daemon.pid!, 'VmRSS') / 1024, anon: kib(daemon.pid!, 'RssAnon') / 1024 };
    daemon.kill('SIGTERM');
    await exited;
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const runs = { off: [] as { rss: number; anon: number }[], on: [] as { rss: number; anon: number }[] };
for (let round = 0; round < Number(values.rounds); round++) {
  const order = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
  for (const mode of order) runs[mode].push(await startOnce(mode === 'on'));
}
for (const mode of ['off', 'on'] as const) {
  report(`tracing_${mode}.start_rss`, median(runs[mode].map((r) => r.rss)), 'MiB');
  report(`tracing_${mode}.start_rss_anon`, median(runs[mode].map((r) => r.anon)), 'MiB');
}
