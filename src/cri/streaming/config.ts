// The streaming server's settings from the CRI plugin's keys, with containerd 1.6's meaning
// (pkg/cri/server/streaming.go): stream_server_address (empty: the node's first non-loopback
// IPv4 address), stream_server_port ("0": any free port), stream_idle_timeout, and
// enable_tls_streaming with x509_key_pair_streaming's files, or else a self-signed
// certificate made at start-up.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import { parseDuration } from '../../util/duration.js';
import type { CriConfig } from '../config.js';
import type { StreamServerOptions } from './http-server.js';

const run = promisify(execFile);

/** kubelet's DefaultStreamCreationTimeout. */
const STREAM_CREATION_TIMEOUT_MS = 30_000;

function nodeAddress(): string {
  const candidates = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  return candidates.find((a) => a.family === 'IPv4' && !a.internal)?.address ?? '127.0.0.1';
}

async function selfSigned(host: string): Promise<{ cert: Buffer; key: Buffer }> {
  const san = /^[\d.]+$/.test(host) || host.includes(':') ? `IP:${host}` : `DNS:${host}`;
  const { stdout } = await run(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '365', '-subj', '/O=ledgerd/CN=ledgerd-stream', '-addext', `subjectAltName=${san}`, '-keyout', '-'],
    { encoding: 'utf8' },
  ).catch((err: Error) => {
    throw new Error(`enable_tls_streaming: making a self-signed certificate with openssl failed (set x509_key_pair_streaming instead): ${err.message}`);
  });
  const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/.exec(stdout)?.[0];
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(stdout)?.[0];
  if (!key || !cert) throw new Error('enable_tls_streaming: openssl printed no certificate and key');
  return { cert: Buffer.from(cert), key: Buffer.from(key) };
}

export async function streamServerOptions(config: CriConfig): Promise<StreamServerOptions> {
  const address = config.stream_server_address || nodeAddress();
  const port = Number(config.stream_server_port || '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`stream_server_port: "${config.stream_server_port}" is not a TCP port (0-65535)`);
  let idleTimeoutMs: number;
  try {
    idleTimeoutMs = parseDuration(config.stream_idle_timeout);
  } catch (err) {
    throw new Error(`stream_idle_timeout: ${(err as Error).message}`);
  }
  let tls: StreamServerOptions['tls'];
  if (config.enable_tls_streaming) {
    const { tls_cert_file: certFile, tls_key_file: keyFile } = config.x509_key_pair_streaming;
    if (Boolean(certFile) !== Boolean(keyFile)) throw new Error('x509_key_pair_streaming: tls_cert_file and tls_key_file go together');
    tls = certFile ? { cert: await readFile(certFile), key: await readFile(keyFile) } : await selfSigned(address);
  }
  return { address, port, idleTimeoutMs, streamCreationTimeoutMs: STREAM_CREATION_TIMEOUT_MS, tls };
}
