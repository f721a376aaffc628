// What ledgerd and a warm shim (runc-shim/warm.ts) say to each other over the IPC channel of the shim's
// spawn: the daemon assigns a booted shim to a task (or one more task to a shim serving its
// namespace), the shim answers with the address it serves on, tells how many containers it
// serves, and says when it is free again.

/** The shim action that boots a warm shim (ledgerd's own; containerd never runs it). */
export const WARM_ACTION = 'warm';

export type ToWarmShim =
  | {
      readonly type: 'assign';
      readonly seq: number;
      readonly namespace: string;
      readonly id: string;
      readonly address: string;
      readonly bundle: string;
      readonly debug: boolean;
      /** A shim already serving takes the task only while it serves fewer containers than this. */
      readonly maxTasks: number;
      /**
       * The task is to join the containers the shim serves (the daemon packs it): a shim that
       * serves none any more refuses it. Its 'free' may be on its way while the daemon sends this,
       * and taking the task as a new assignment would leave the daemon thinking it idle.
       */
      readonly join: boolean;
    }
  | { readonly type: 'exit' };

export type FromWarmShim =
  /** Booted, everything loaded: it can be assigned. */
  | { readonly type: 'ready' }
  /** Serving the task on `address`; `shared`: the group's live shim serves it, and this one is still free. */
  | { readonly type: 'assigned'; readonly seq: number; readonly address: string; readonly shared: boolean }
  | { readonly type: 'refused'; readonly seq: number; readonly error: string }
  /** How many containers it serves (and has been promised), each time that changes. */
  | { readonly type: 'size'; readonly size: number }
  /** Its last container is gone and its socket removed: it can be assigned again. */
  | { readonly type: 'free' };
