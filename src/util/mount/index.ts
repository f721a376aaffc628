export {
  mount,
  mountAll,
  unmount,
  unmountAll,
  withTempMount,
  isMountPoint,
  mountPointsUnder,
  compactLowerdir,
  MountError,
  type Mount,
} from './mount.js';
