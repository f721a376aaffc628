import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { once } from 'node:events';
import { exportImages } from '../../client/archive/export.js';
import { importArchive } from '../../client/archive/import.js';
import { imagePlatforms, imageSize } from '../../client/image/inspect.js';
import { formatPlatform, onlyStrict, ordered, parsePlatform } from '../../client/image/platforms.js';
import { listImages } from '../../client/image/store.js';
import { pull as pullImage } from '../../client/pull/index.js';
import type { Credentials } from '../../client/registry/index.js';
import { parseCommandArgs, UsageError, type Command, type CommandContext } from './command.js';
import { formatBytes, PullProgress } from './progress.js';
import { tabulate } from '../format.js';

function platformsFrom(values: readonly string[] | undefined) {
  try {
    return (values ?? []).map(parsePlatform);
  } catch (err) {
    throw new UsageError(`--platform: ${(err as Error).message}`);
  }
}

/** --user USER[:PASSWORD] (the password may also come from LEDGERCTL_PASSWORD). */
function credentialsFrom(user: string | undefined): (() => Credentials) | undefined {
  if (!user) return undefined;
  const colon = user.indexOf(':');
  const username = colon >= 0 ? user.slice(0, colon) : user;
  const secret = colon >= 0 ? user.slice(colon + 1) : (process.env.LEDGERCTL_PASSWORD ?? '');
  return () => ({ username, secret });
}

export const pull: Command = {
  usage: `pull [--plain-http] [--platform P]... [--all-platforms] [--snapshotter S] [--no-unpack] [--user U[:P]]
         [--max-concurrent-downloads N] REF     fetch an image from its registry and unpack it`,
  async run({ connection, args }) {
    const { values, positionals } = parseCommandArgs(args, {
      'plain-http': { type: 'boolean' },
      platform: { type: 'string', multiple: true },
      'all-platforms': { type: 'boolean' },
      snapshotter: { type: 'string' },
      'no-unpack': { type: 'boolean' },
      user: { type: 'string', short: 'u' },
      'max-concurrent-downloads': { type: 'string', default: '3' },
    });
    const [ref] = positionals;
    if (!ref || positionals.length > 1) throw new UsageError('pull needs exactly one REF');
    if (values['all-platforms'] && values.platform?.length) throw new UsageError('--platform and --all-platforms cannot be used together');
    const concurrency = Number(values['max-concurrent-downloads']);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--max-concurrent-downloads must be a positive integer');
    const progress = new PullProgress(process.stdout);
    try {
      const result = await pullImage(connection, ref, {
        plainHttp: values['plain-http'],
        platforms: platformsFrom(values.platform),
        allPlatforms: values['all-platforms'],
        snapshotter: values.snapshotter,
        unpack: !values['no-unpack'],
        credentials: credentialsFrom(values.user),
        maxConcurrentDownloads: concurrency,
        onEvent: progress.onEvent,
      });
      progress.finish();
      for (const unpacked of result.unpacked) process.stdout.write(`unpacked ${unpacked.platform} ${result.snapshotter} ${unpacked.chainId}\n`);
    } finally {
      progress.stop();
    }
  },
};

async function list({ connection, args }: CommandContext): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, { quiet: { type: 'boolean', short: 'q' } });
  const images = await listImages(connection, positionals);
  if (values.quiet) {
    for (const image of images) process.stdout.write(`${image.name}\n`);
    return;
  }
  const rows = [['REF', 'TYPE', 'DIGEST', 'SIZE', 'PLATFORMS', 'LABELS']];
  for (const image of images) {
    const size = await imageSize(connection, image.target).catch(() => 0);
    const platforms = await imagePlatforms(connection, image.target).catch(() => []);
    const labels = Object.entries(image.labels).map(([k, v]) => `${k}=${v}`).sort();
    rows.push([
      image.name,
      image.target.mediaType,
      image.target.digest,
      formatBytes(size),
      platforms.length > 0 ? [...new Set(platforms.map(formatPlatform))].sort().join(',') : '-',
      labels.length > 0 ? labels.join(',') : '-',
    ]);
  }
  process.stdout.write(tabulate(rows));
}

async function importCommand({ connection, args }: CommandContext): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, {
    'base-name': { type: 'string' },
    platform: { type: 'string' },
    'all-platforms': { type: 'boolean' },
    'no-unpack': { type: 'boolean' },
    snapshotter: { type: 'string' },
  });
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('images import needs exactly one FILE (- for stdin)');
  const [platform] = platformsFrom(values.platform ? [values.platform] : undefined);
  const input = file === '-' ? process.stdin : createReadStream(file);
  const images = await importArchive(connection, input, {
    baseName: values['base-name'],
    platform: platform ? onlyStrict(platform) : undefined,
    allPlatforms: values['all-platforms'],
    unpack: !values['no-unpack'],
    snapshotter: values.snapshotter,
    onUnpack: (name, target) => process.stdout.write(`unpacking ${name} (${target.digest})...\n`),
  });
  for (const image of images) process.stdout.write(`imported ${image.name} ${image.target.digest}${image.chainId ? ` unpacked ${image.chainId}` : ''}\n`);
}

async function exportCommand({ connection, args }: CommandContext): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, {
    platform: { type: 'string', multiple: true },
    'all-platforms': { type: 'boolean' },
    'skip-manifest-json': { type: 'boolean' },
  });
  const [file, ...names] = positionals;
  if (!file || names.length === 0) throw new UsageError('images export needs FILE and at least one REF');
  const platforms = platformsFrom(values.platform);
  const out = file === '-' ? process.stdout : createWriteStream(file);
  try {
    await exportImages(connection, out, names, {
      platform: platforms.length > 0 ? ordered(platforms) : undefined,
      allPlatforms: values['all-platforms'],
      skipManifestJson: values['skip-manifest-json'],
    });
    if (out !== process.stdout) await once(out, 'close');
  } catch (err) {
    if (file !== '-') rmSync(file, { force: true });
    throw err;
  }
}

export const images: Command = {
  usage: `images ls [-q] [FILTER...]                 images: REF TYPE DIGEST SIZE PLATFORMS LABELS
  images import [--base-name N] [--platform P | --all-platforms] [--no-unpack] [--snapshotter S] FILE.tar
                                           an OCI archive (or a docker save archive), unpacked by default
  images export [--platform P]... [--all-platforms] [--skip-manifest-json] FILE.tar REF...
                                           an OCI archive of the images (with Docker's manifest.json)`,
  async run(ctx) {
    const [sub, ...rest] = ctx.args;
    const next = { ...ctx, args: rest };
    switch (sub) {
      case 'ls':
      case 'list':
        return list(next);
      case 'import':
        return importCommand(next);
      case 'export':
        return exportCommand(next);
      default:
        throw new UsageError(sub ? `unknown images command "${sub}"` : 'images needs ls, import or export');
    }
  },
};
