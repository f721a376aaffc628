export * from './namespaces.js';
export * from './published.js';
export * from './leases.js';
export * from './images.js';
export * from './topics.js';
export * from './vocabulary.js';
export { upcast } from './versioning.js';
export { newEvent, type TypedEvent } from './new-event.js';
