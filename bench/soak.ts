// Memory soak: 4 parallel loops of `ctr run --rm busybox true` against a private ledgerd for
// --minutes (default 10). Every 10 s it samples the daemon's RSS (anonymous and file-backed),
// its open fds and the log's size; at the end it prints where RSS stood after the first minute
// and at the end, the ratio, the growth per container and the fds before and after.
// Usage: node dist/bench/soak.js [--minutes 10] [--loops 4] [--images DIR]   (root, runc; DIR:
// make-images.sh's output, built in the temporary directory when not given)
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { harnessImages } from '../test/helpers/harness-services.js';
import { report } from './report.js';
import { startLedgerd } from './services.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, loops: { type: 'string', default: '4' }, images: { type: 'string' } } });
const MINUTES = Number(values.minutes);
const NS = `soak-${process.pid}`;
const IMAGE = 'import.harness.local/busybox:latest';

interface Sample {
  at: number;
  containers: number;
  rssKb: number;
  anonKb: number;
  fileKb: number;
  fds: number;
  logBytes: number;
}

const images = values.images ?? harnessImages();
const dir = mkdtempSync(join(tmpdir(), 'ledgerd-soak-'));
const daemon = await startLedgerd(dir);
const ctr = (...args: string[]) => run('ctr', ['-a', daemon.socket, '-n', NS, ...args], { maxBuffer: 1 << 20 });
try {
  await ctr('images', 'import', join(images, 'busybox.oci.tar'));
  const status = () => Object.fromEntries(readFileSync(`/proc/${daemon.pid}/status`, 'utf8').split('\n').map((l) => l.split(/:\s+/)).map(([k, v]) => [k, parseInt(v ?? '', 10)]));
  const logFile = join(daemon.root, 'log', 'events.mdb');
  let containers = 0;
  let failures = 0;
  const started = Date.now();
  const sample = (): Sample => {
    const s = status();
    return { at: (Date.now() - started) / 1000, containers, rssKb: s.VmRSS!, anonKb: s.RssAnon!, fileKb: s.RssFile!, fds: readdirSync(`/proc/${daemon.pid}/fd`).length, logBytes: statSync(logFile).size };
  };
  const samples: Sample[] = [sample()];
  const timer = setInterval(() => {
    const s = sample();
    samples.push(s);
    process.stderr.write(`${s.at.toFixed(0)} s: ${s.containers} containers, RSS ${(s.rssKb / 1024).toFixed(1)} MiB (anon ${(s.anonKb / 1024).toFixed(1)}, file ${(s.fileKb / 1024).toFixed(1)}), ${s.fds} fds, log ${(s.logBytes / 1e6).toFixed(1)} MB\n`);
  }, 10_000);
  const until = started + MINUTES * 60_000;
  await Promise.all(
    Array.from({ length: Number(values.loops) }, async (_, loop) => {
      for (let i = 0; Date.now() < until; i++) {
        try {
          await ctr('run', '--rm', IMAGE, `soak-${loop}-${i}`, 'true');
          containers++;
        } catch (err) {
          failures++;
          const e = err as { stderr?: string; message?: string };
          process.stderr.write(`failed run soak-${loop}-${i} at ${((Date.now() - started) / 1000).toFixed(1)} s: ${(e.stderr || e.message || String(err)).trim()}\n`);
        }
      }
    }),
  );
  clearInterval(timer);
  // the fds of the last containers' shims and connections close shortly after their answers
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const end = sample();
  const firstMinute = samples.find((s) => s.at >= 60) ?? samples[samples.length - 1]!;
  report('soak_containers', end.containers, 'containers');
  report('soak_failures', failures, 'runs');
  report('soak_rss_first_minute', firstMinute.rssKb / 1024, 'MiB');
  report('soak_rss_end', end.rssKb / 1024, 'MiB');
  report('soak_rss_end_vs_first_minute', end.rssKb / firstMinute.rssKb, 'x');
  report('soak_rss_anon_first_minute', firstMinute.anonKb / 1024, 'MiB');
  report('soak_rss_anon_end', end.anonKb / 1024, 'MiB');
  report('soak_rss_growth_per_container', ((end.rssKb - firstMinute.rssKb) * 1024) / Math.max(1, end.containers - firstMinute.containers), 'B');
  report('soak_fds_start', samples[0]!.fds, 'fds');
  report('soak_fds_end', end.fds, 'fds');
  report('soak_log_bytes_per_container', end.logBytes / Math.max(1, end.containers), 'B');
} finally {
  await daemon.stop();
  rmSync(dir, { recursive: true, force: true });
}
