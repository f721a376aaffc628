// What a RunPodSandbox has set up so far, written into the pod's directory before each step that
// leaves something outside it (the netns, each CNI attachment): a daemon killed in the middle
// leaves this file behind, and the reconciler at the next start undoes those steps from it.
// The pod's record in the log (PodSandboxCreated) makes the file moot; it is removed then.
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PodSandboxConfig } from './types.js';

export const JOURNAL_FILE = 'setup.json';

export interface PodSetup {
  readonly config: PodSandboxConfig;
  netnsPath?: string;
  /** CNI networks an ADD was started for, in order. */
  readonly networks: { network: string; ifname: string }[];
}

export class PodSetupJournal {
  private readonly path: string;
  private readonly setup: PodSetup;

  constructor(dir: string, config: PodSandboxConfig) {
    this.path = join(dir, JOURNAL_FILE);
    this.setup = { config, networks: [] };
  }

  begin(): Promise<void> {
    return this.write();
  }

  netns(path: string): Promise<void> {
    this.setup.netnsPath = path;
    return this.write();
  }

  network(network: string, ifname: string): Promise<void> {
    this.setup.networks.push({ network, ifname });
    return this.write();
  }

  /** The pod is recorded: nothing is left to undo. */
  done(): Promise<void> {
    return rm(this.path, { force: true });
  }

  private async write(): Promise<void> {
    await writeFile(`${this.path}.tmp`, JSON.stringify(this.setup));
    await rename(`${this.path}.tmp`, this.path);
  }
}

/** A journal left by a RunPodSandbox that did not finish; undefined if there is none. */
export async function readPodSetup(dir: string): Promise<PodSetup | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, JOURNAL_FILE), 'utf8')) as PodSetup;
  } catch {
    return undefined;
  }
}
