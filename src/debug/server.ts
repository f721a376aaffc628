// The debug socket (containerd's `[debug] address`): HTTP on its own unix socket, mode 0660 and
// owned by debug.uid:debug.gid (root by default), served only when an address is configured.
//   GET /debug/pprof/profile?seconds=N   a CPU profile over N seconds (.cpuprofile JSON)
//   GET /debug/pprof/heap                a heap snapshot (.heapsnapshot JSON)
import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';

export interface DebugServerOptions {
  readonly address: string;
  readonly uid: number;
  readonly gid: number;
}

/** containerd's pprof default is 30 s; a profile is capped so a typo cannot hold one open for hours. */
const DEFAULT_SECONDS = 30;
const MAX_SECONDS = 600;

export async function serveDebug(options: DebugServerOptions): Promise<Server> {
  const path = options.address.replace(/^unix:\/\//, '');
  if (!path.startsWith('/')) throw new Error(`debug address ${JSON.stringify(options.address)}: must be an absolute unix socket path`);
  let profiling = false;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://debug');
    if (req.method !== 'GET') return answer(res, 405, 'only GET\n');
    if (url.pathname === '/debug/pprof/profile') {
      const seconds = url.searchParams.has('seconds') ? Number(url.searchParams.get('seconds')) : DEFAULT_SECONDS;
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_SECONDS) return answer(res, 400, `seconds: must be a whole number from 1 to ${MAX_SECONDS}\n`);
      if (profiling) return answer(res, 409, 'a CPU profile is already being taken\n');
      profiling = true;
      void sendProfile(res, seconds).finally(() => (profiling = false));
    } else if (url.pathname === '/debug/pprof/heap') {
      void sendHeapSnapshot(res);
    } else {
      answer(res, 404, 'not found: /debug/pprof/profile?seconds=N, /debug/pprof/heap\n');
    }
  });
  mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  rmSync(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  chmodSync(path, 0o660);
  chownSync(path, options.uid, options.gid);
  return server;
}

function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
}

async function sendProfile(res: ServerResponse, seconds: number): Promise<void> {
  // the profile ends early when the client goes away
  const gone = new AbortController();
  res.once('close', () => gone.abort());
  try {
    const { cpuProfile } = await import('./profiles.js');
    const profile = await cpuProfile(seconds, gone.signal);
    if (!gone.signal.aborted) res.writeHead(200, { 'content-type': 'application/json' }).end(profile);
  } catch (err) {
    if (!res.headersSent) answer(res, 500, `${(err as Error).message}\n`);
  }
}

async function sendHeapSnapshot(res: ServerResponse): Promise<void> {
  try {
    const { heapSnapshot } = await import('./profiles.js');
    res.writeHead(200, { 'content-type': 'application/json' });
    await heapSnapshot((chunk) => res.write(chunk));
    res.end();
  } catch (err) {
    if (!res.headersSent) answer(res, 500, `${(err as Error).message}\n`);
    else res.destroy(err as Error);
  }
}
