// What the clients were told: the torture's model of the daemon's state. Each object is known
// present or absent once a mutation of it was acknowledged, and unknown while a mutation of it was
// cut by the crash (the restart then says which it is). Objects a garbage collection may take
// (content and snapshots before their gc.root label) are "collectable": present or absent are both right.
export type Kind = 'container' | 'task' | 'image' | 'lease' | 'content' | 'snapshot' | 'namespace';

export type ObjectState = 'present' | 'absent' | 'unknown' | 'collectable';

export interface ModelObject {
  readonly kind: Kind;
  readonly id: string;
  state: ObjectState;
  /** Tasks: RUNNING or STOPPED once known. */
  status?: 'RUNNING' | 'STOPPED';
}

export class Model {
  private readonly objects = new Map<string, ModelObject>();

  get(kind: Kind, id: string): ModelObject | undefined {
    return this.objects.get(`${kind}:${id}`);
  }

  set(kind: Kind, id: string, state: ObjectState, status?: ModelObject['status']): void {
    this.objects.set(`${kind}:${id}`, { kind, id, state, status });
  }

  all(kind?: Kind): ModelObject[] {
    return [...this.objects.values()].filter((o) => kind === undefined || o.kind === kind);
  }

  /** Objects of `kind` in one of `states` whose id starts with `prefix` (a client's own). */
  pick(kind: Kind, prefix: string, ...states: ObjectState[]): ModelObject[] {
    return this.all(kind).filter((o) => o.id.startsWith(prefix) && states.includes(o.state));
  }

  forget(kind: Kind, id: string): void {
    this.objects.delete(`${kind}:${id}`);
  }
}
