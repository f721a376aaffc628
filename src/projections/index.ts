export type { Projection } from './projection.js';
export { ProjectionRunner, type RunnerOptions, type StartReport } from './runner.js';
export { ProjectionSet } from './projection-set.js';
export { namespacesProjection, type NamespacesState, type NamespaceView } from './namespaces.js';
