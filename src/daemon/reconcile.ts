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
