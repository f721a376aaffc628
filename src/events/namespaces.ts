/** Namespace aggregate: stream "namespace" inside the namespace it describes. */
export const NAMESPACE_STREAM = 'namespace';

export interface NamespaceCreated {
  readonly name: string;
  readonly labels: Record<string, string>;
}

export interface NamespaceUpdated {
  readonly name: string;
  /** The namespace's complete label set after the update. */
  readonly labels: Record<string, string>;
}

export interface NamespaceDeleted {
  readonly name: string;
}

export interface NamespaceEvents {
  NamespaceCreated: NamespaceCreated;
  NamespaceUpdated: NamespaceUpdated;
  NamespaceDeleted: NamespaceDeleted;
}
