/** ledgerd's own version, and the containerd API level it implements. */
export const LEDGERD_VERSION = '0.1.0';
export const COMPATIBLE_CONTAINERD = '1.6.20';
