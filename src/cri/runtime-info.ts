// Version and Status of the CRI RuntimeService (pkg/cri/server/version.go, status.go).
import { LEDGERD_VERSION } from '../version.js';
import { loadNetworks } from './cni/config.js';
import type { CriConfig } from './config.js';

export const CRI_API_VERSION = 'v1';

export const runtimeVersion = () => ({
  version: '0.1.0', // the CRI's own API version string, as every runtime reports it
  runtime_name: 'ledgerd',
  runtime_version: LEDGERD_VERSION,
  runtime_api_version: CRI_API_VERSION,
});

export interface RuntimeCondition {
  readonly type: string;
  readonly status: boolean;
  readonly reason: string;
  readonly message: string;
}

/** RuntimeReady always (the daemon answers); NetworkReady once a CNI network config loads. */
export async function runtimeStatus(config: CriConfig, verbose: boolean): Promise<{ conditions: RuntimeCondition[]; info: Record<string, string> }> {
  const { networks, problems } = await loadNetworks(config.cni.conf_dir, config.cni.max_conf_num);
  const network: RuntimeCondition =
    networks.length > 0
      ? { type: 'NetworkReady', status: true, reason: '', message: '' }
      : {
          type: 'NetworkReady',
          status: false,
          reason: 'NetworkPluginNotReady',
          message: `Network plugin returns error: cni plugin not initialized: no network config in ${config.cni.conf_dir}${problems.length ? ` (${problems.join('; ')})` : ''}`,
        };
  const info: Record<string, string> = {};
  if (verbose) {
    info.config = JSON.stringify(config);
    info.cniconfig = JSON.stringify({ PluginDirs: [config.cni.bin_dir], PluginConfDir: config.cni.conf_dir, Networks: networks });
    info.lastCNILoadStatus = problems.length ? problems.join('; ') : 'OK';
  }
  return { conditions: [{ type: 'RuntimeReady', status: true, reason: '', message: '' }, network], info };
}
