import { join } from 'node:path';
import { parseDigest, sha256Hex } from '../util/digest.js';

/**
 * The backend's directory tree, as containerd's content/local lays it out:
 *
 *   <root>/blobs/<alg>/<hex>                 committed blob, read-only
 *   <root>/ingest/<sha256(backendRef)>/      one upload in progress:
 *       ref          the backend ref, "<namespace>/<seq>/<client ref>"
 *       data         the bytes so far (offset = its size)
 *       startedat    RFC 3339 time, written via tmp + rename
 *       updatedat    likewise
 *       total        declared size, decimal, only when one was given
 */
export class Layout {
  constructor(readonly root: string) {}

  get blobsDir(): string {
    return join(this.root, 'blobs');
  }

  get ingestsDir(): string {
    return join(this.root, 'ingest');
  }

  /** Throws InvalidArgument for a digest that does not parse. */
  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.blobsDir, algorithm, hex);
  }

  ingestDir(backendRef: string): string {
    return join(this.ingestsDir, sha256Hex(backendRef));
  }

  ingestFile(backendRef: string, name: IngestFile): string {
    return join(this.ingestDir(backendRef), name);
  }
}

export type IngestFile = 'ref' | 'data' | 'startedat' | 'updatedat' | 'total';
