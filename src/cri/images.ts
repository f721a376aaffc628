// The CRI's ImageService over the daemon's images in namespace k8s.io, as containerd's CRI
// plugin presents them (pkg/cri/server/image_*.go, pkg/cri/store/image): one CRI image per
// config digest (its id), with every image record that points at it as a repo tag or a repo
// digest. The records live in the log like any other image; nothing is cached here but the
// parsed configs, which content addressing makes immutable.
import { join } from 'node:path';
import { getImage, listImages, saveImage, type ImageRecord } from '../client/image/store.js';
import { imageSize, resolveImage } from '../client/image/inspect.js';
import type { Descriptor } from '../client/image/descriptor.js';
import { pull } from '../client/pull/index.js';
import { formatReference, NotFoundError, parseReference, referenceName, type Credentials } from '../client/registry/index.js';
import { grpcCode, SERVICES, type Rpc } from '../client/rpc.js';
import { Code } from '../util/grpc-codes.js';
import { invalidArgument, LedgerError, StatusError } from '../util/errdefs.js';
import { diskUsage } from '../snapshots/disk-usage.js';
import type { CriConfig } from './config.js';

export interface CriImage {
  readonly id: string;
  readonly repoTags: string[];
  readonly repoDigests: string[];
  readonly size: number;
  /** From the image config's User: a number is a uid, anything else a user name. */
  readonly uid?: number;
  readonly username: string;
  readonly config: Record<string, unknown>;
  /** Every record name pointing at this image (tags, digests and the id itself). */
  readonly names: string[];
}

export interface PullAuth {
  readonly username?: string;
  readonly password?: string;
  /** base64 of "username:password" */
  readonly auth?: string;
  readonly identity_token?: string;
}

/** containerd's label on images the CRI pulled. */
export const MANAGED_LABEL = 'io.cri-containerd.image';

export interface FsUsage {
  readonly mountpoint: string;
  readonly usedBytes: number;
  readonly inodesUsed: number;
  readonly timestamp: bigint;
}

export class CriImages {
  private readonly configs = new Map<string, { id: string; config: Record<string, unknown>; size: number }>();
  private usage?: Promise<FsUsage>;
  private usageAt = 0;

  constructor(
    private readonly rpc: Rpc,
    private readonly config: CriConfig,
    private readonly daemonRoot: string,
  ) {}

  /** PullImage: pull and unpack through the daemon, then name the image by id, tag and digest. */
  async pull(image: string, auth: PullAuth | undefined, signal?: AbortSignal): Promise<string> {
    const ref = parseImageRef(image);
    const name = formatReference(ref);
    const credentials = credentialsOf(auth);
    const result = await pull(this.rpc, name, {
      hostsDir: this.config.registry.config_path || undefined,
      credentials: credentials ? () => credentials : undefined,
      snapshotter: this.config.containerd.snapshotter,
      maxConcurrentDownloads: this.config.max_concurrent_downloads,
      labels: { [MANAGED_LABEL]: 'managed' },
      signal,
    }).catch((err: unknown) => {
      throw pullFailure(name, err);
    });
    const { id } = await this.describe(result.target);
    const labels = { [MANAGED_LABEL]: 'managed' };
    await saveImage(this.rpc, { name: id, target: result.target, labels });
    if (!ref.digest) await saveImage(this.rpc, { name: `${referenceName(ref)}@${result.target.digest}`, target: result.target, labels });
    return id;
  }

  async list(): Promise<CriImage[]> {
    return this.group(await listImages(this.rpc));
  }

  /** The image an id (or a unique prefix of one), a tag or a digest names; undefined when none. */
  async find(refOrId: string): Promise<CriImage | undefined> {
    if (!refOrId) throw invalidArgument('image: must name an image (a reference or an id)');
    const byName = await this.byName(refOrId);
    if (byName) return byName;
    const hex = refOrId.replace(/^sha256:/, '');
    if (!/^[a-f0-9]+$/.test(hex)) return undefined;
    const matches = (await this.list()).filter((image) => image.id.slice('sha256:'.length).startsWith(hex));
    return matches.length === 1 ? matches[0] : undefined;
  }

  /** RemoveImage: every record naming the image goes; an image that is not there is not an error. */
  async remove(refOrId: string): Promise<void> {
    const image = await this.find(refOrId);
    if (!image) return;
    for (const [i, name] of image.names.entries()) {
      await this.rpc.unary(SERVICES.images, 'Delete', { name, sync: i === image.names.length - 1 }).catch((err) => {
        if (grpcCode(err) !== Code.NotFound) throw err;
      });
    }
  }

  /** ImageFsInfo: the snapshotter's directory and what it uses, measured at most every 10 s. */
  fsUsage(): Promise<FsUsage> {
    if (!this.usage || Date.now() - this.usageAt > 10_000) {
      const mountpoint = join(this.daemonRoot, `io.containerd.snapshotter.v1.${this.config.containerd.snapshotter}`);
      this.usageAt = Date.now();
      this.usage = diskUsage(mountpoint).then(
        (u) => ({ mountpoint, usedBytes: u.size, inodesUsed: u.inodes, timestamp: BigInt(Date.now()) * 1_000_000n }),
        () => ({ mountpoint, usedBytes: 0, inodesUsed: 0, timestamp: BigInt(Date.now()) * 1_000_000n }),
      );
    }
    return this.usage;
  }

  private async byName(refOrId: string): Promise<CriImage | undefined> {
    let name = refOrId;
    if (!/^sha256:[a-f0-9]{64}$/.test(refOrId)) {
      try {
        name = formatReference(parseImageRef(refOrId));
      } catch {
        return undefined;
      }
    }
    let record: ImageRecord;
    try {
      record = await getImage(this.rpc, name);
    } catch (err) {
      if (grpcCode(err) === Code.NotFound) return undefined;
      throw err;
    }
    const { id } = await this.describe(record.target);
    return (await this.list()).find((image) => image.id === id);
  }

  private async group(records: readonly ImageRecord[]): Promise<CriImage[]> {
    const byId = new Map<string, { records: ImageRecord[]; described: { id: string; config: Record<string, unknown>; size: number } }>();
    for (const record of records) {
      const described = await this.describe(record.target).catch(() => undefined);
      if (!described) continue; // content not (or no longer) there: containerd's CRI skips it too
      const entry = byId.get(described.id) ?? { records: [], described };
      entry.records.push(record);
      byId.set(described.id, entry);
    }
    return [...byId.values()].map(({ records, described }) => {
      const names = records.map((r) => r.name).sort();
      const user = userOf(described.config);
      return {
        id: described.id,
        repoTags: names.filter((n) => n !== described.id && !n.includes('@')),
        repoDigests: names.filter((n) => n.includes('@')),
        size: described.size,
        ...user,
        config: described.config,
        names,
      };
    });
  }

  private async describe(target: Descriptor): Promise<{ id: string; config: Record<string, unknown>; size: number }> {
    let known = this.configs.get(target.digest);
    if (!known) {
      const resolved = await resolveImage(this.rpc, target);
      known = { id: resolved.manifest.config.digest, config: (resolved.image as unknown as Record<string, unknown>) ?? {}, size: await imageSize(this.rpc, target) };
      this.configs.set(target.digest, known);
    }
    return known;
  }
}

/** A reference as the CRI takes it: Docker's normalisation, an error naming the field otherwise. */
export function parseImageRef(image: string) {
  try {
    return parseReference(image);
  } catch (err) {
    throw invalidArgument(`image: ${(err as Error).message}`);
  }
}

export function credentialsOf(auth: PullAuth | undefined): Credentials | undefined {
  if (!auth) return undefined;
  if (auth.identity_token) return { username: '', secret: auth.identity_token };
  if (auth.username || auth.password) return { username: auth.username ?? '', secret: auth.password ?? '' };
  if (auth.auth) {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalidArgument('auth.auth: must be base64 of "username:password"');
    return { username: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
  }
  return undefined;
}

/** The image config's User as the CRI reports it (pkg/cri/server/helpers.go getUserFromImage). */
export function userOf(image: Record<string, unknown>): { uid?: number; username: string } {
  const user = String((image.config as { User?: string } | undefined)?.User ?? '');
  if (!user) return { username: '' };
  const name = user.split(':')[0]!;
  return /^\d+$/.test(name) ? { uid: Number(name), username: '' } : { username: name };
}

/** A failed pull in containerd's CRI words, keeping its status: a reference the registry does not have is NotFound. */
function pullFailure(name: string, err: unknown): Error {
  const message = `failed to pull and unpack image "${name}": ${err instanceof Error ? err.message : String(err)}`;
  if (err instanceof NotFoundError) return new StatusError(Code.NotFound, message);
  if (err instanceof StatusError) return new StatusError(err.code, message);
  if (err instanceof LedgerError) return new LedgerError(err.kind, message);
  return new Error(message, { cause: err });
}
