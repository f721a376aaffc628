/**
 * Reconciliation after replay (DESIGN.md "Projections and recovery"): a command module that
 * performs effects before it records them compares its read model with the world and undoes
 * the effects no event owns. Returns one line per thing it removed or repaired.
 */
export interface Reconcilable {
  reconcile(): Promise<string[]>;
}

export const isReconcilable = (value: unknown): value is Reconcilable =>
  typeof (value as Partial<Reconcilable> | undefined)?.reconcile === 'function';

/**
 * Reconciliation that goes through the daemon's own API (the CRI is a client of it), so it runs
 * once the socket serves, in the background. Returns one line per thing it repaired.
 */
export interface ReconcilesWhenServing {
  whenServing(): Promise<string[]>;
}

export const reconcilesWhenServing = (value: unknown): value is ReconcilesWhenServing =>
  typeof (value as Partial<ReconcilesWhenServing> | undefined)?.whenServing === 'function';
