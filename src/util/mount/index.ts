export {
  mount,
  mountAll,
  unmount,
  unmountAll,
  withTempMount,
  isMountPoint,
  mountPointsUnder,
  mountHolding,
  compactLowerdir,
  MountError,
  type Mount,
  type MountInfo,
} from './mount.js';
