import { unary, type Implementation } from './handlers.js';
import { LEDGERD_VERSION, COMPATIBLE_CONTAINERD } from '../version.js';
import { SERVICES } from '../api/services.js';

export const VERSION_SERVICE = SERVICES.version;

/**
 * The version is containerd's API level with ledgerd's own as build metadata, so clients that
 * gate features on containerd's version parse it as the 1.6 it implements.
 */
export function versionService(): Implementation {
  return {
    Version: unary(() => ({ version: `${COMPATIBLE_CONTAINERD}+ledgerd.${LEDGERD_VERSION}`, revision: `ledgerd-${LEDGERD_VERSION}` })),
  };
}
