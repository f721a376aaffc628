// ledgerctl debug: profiles of the daemon from its debug socket (`[debug] address`), written in
// the formats Chrome DevTools opens (Performance and Memory panels).
import { createWriteStream } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseCommandArgs, UsageError, type Command } from './command.js';

export const DEFAULT_DEBUG_ADDRESS = '/run/ledgerd/debug.sock';

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');

/** GETs `path` on the debug socket into `file`; a non-200 answer is an error with the daemon's text. */
function download(socketPath: string, path: string, file: string): Promise<void> {
  return new Promise((done, fail) => {
    request({ socketPath, path }, (res) => {
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => fail(new Error(`debug socket ${socketPath}: ${text.trim() || `HTTP ${res.statusCode}`}`)));
        return;
      }
      pipeline(res, createWriteStream(file)).then(done, fail);
    })
      .on('error', (err: NodeJS.ErrnoException) =>
        fail(new Error(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? `no debug socket at ${socketPath}: set [debug] address in the daemon's config` : err.message)),
      )
      .end();
  });
}

const FLAGS = {
  'debug-address': { type: 'string' },
  output: { type: 'string', short: 'o' },
  seconds: { type: 'string' },
} as const;

export const debug: Command = {
  usage: 'debug profile [--seconds N] [-o FILE] | debug heap [-o FILE]   (--debug-address PATH, default $LEDGERD_DEBUG_ADDRESS or ' + DEFAULT_DEBUG_ADDRESS + ')',
  async run({ args }) {
    const { values, positionals } = parseCommandArgs(args, FLAGS);
    const socket = values['debug-address'] ?? process.env.LEDGERD_DEBUG_ADDRESS ?? DEFAULT_DEBUG_ADDRESS;
    const [what, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`debug: unexpected ${extra.join(' ')}`);
    let path: string;
    let file: string;
    if (what === 'profile') {
      const seconds = values.seconds ?? '30';
      if (!/^\d+$/.test(seconds) || Number(seconds) < 1) throw new UsageError(`--seconds ${seconds}: must be a whole number of seconds, 1 or more`);
      path = `/debug/pprof/profile?seconds=${seconds}`;
      file = values.output ?? `ledgerd-${stamp()}.cpuprofile`;
    } else if (what === 'heap') {
      if (values.seconds !== undefined) throw new UsageError('--seconds is for debug profile');
      path = '/debug/pprof/heap';
      file = values.output ?? `ledgerd-${stamp()}.heapsnapshot`;
    } else {
      throw new UsageError(`debug ${what ?? ''}: profile or heap`);
    }
    await download(socket, path, file);
    process.stdout.write(`${resolve(file)}\n`);
  },
};
