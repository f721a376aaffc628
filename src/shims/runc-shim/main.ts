// containerd-shim-ledger-v1: ledgerd's runc shim (shim v2), usable by ledgerd and by containerd
// (`--runtime io.containerd.ledger.v1`). Actions: `start` (print the address of a shim serving
// this container, starting one if needed), `delete` (clean up a dead shim's container), none
// (serve; run by `start`), `warm` (boot and wait to be assigned a task: ledgerd's warm shims). Keep this file's imports small: the shim must start fast.
import { writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseFlags, type ShimFlags } from './flags.js';
import { WARM_ACTION } from '../shared/warm-messages.js';

const NAME = 'containerd-shim-ledger-v1';
export const SHIM_VERSION = '0.1.0';

async function main(): Promise<void> {
  const flags: ShimFlags = parseFlags(process.argv.slice(2));
  if (flags.version) {
    writeSync(1, `${NAME}:\n  Version:  ${SHIM_VERSION}\n  Node:     ${process.version}\n\n`);
    return;
  }
  if (flags.action === WARM_ACTION) {
    const { serveWarm } = await import('./warm.js');
    return serveWarm(flags);
  }
  if (!flags.namespace) throw new Error('shim namespace cannot be empty');
  const bundle = resolve(flags.bundle || process.cwd());
  switch (flags.action) {
    case 'start': {
      const { startAction } = await import('./start.js');
      writeSync(1, await startAction(flags, bundle));
      // exit without closing the listener the new shim now owns (closing would unlink its socket)
      return process.exit(0);
    }
    case 'delete': {
      const { deleteAction } = await import('./delete.js');
      // containerd runs `delete` in the bundle; without -bundle the bundle is ../<id>
      const target = flags.bundle ? bundle : join(dirname(process.cwd()), flags.id);
      const response = await deleteAction(flags, target, (message) => writeSync(2, `${message}\n`));
      writeSync(1, response);
      return process.exit(0);
    }
    case '': {
      const { serve } = await import('./serve.js');
      await serve(flags);
      return;
    }
    default:
      throw new Error(`unknown action ${JSON.stringify(flags.action)}`);
  }
}

main().catch((err: Error) => {
  writeSync(2, `${NAME}: ${err.message}`);
  process.exit(1);
});
