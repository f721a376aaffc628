import { invalidArgument } from '../util/errdefs.js';
import { checkRegistrations, uri, type Registration } from './registration.js';

type Node = Pick<Registration, 'type' | 'id' | 'requires'>;

/**
 * Initialisation order as containerd's plugin.Graph: registrations in registration order, each
 * preceded (depth first, in registration order) by the enabled plugins of the types it requires;
 * each plugin once. Disabled plugins (by URI) are left out entirely, so they neither load nor
 * pull anything in.
 *
 * containerd recurses forever on a dependency cycle; here a cycle is an error that names it.
 */
export function initOrder<R extends Node>(registrations: readonly R[], disabled: ReadonlySet<string> = new Set()): R[] {
  checkRegistrations(registrations);
  const enabled = registrations.filter((r) => !disabled.has(uri(r)));
  const added = new Set<R>();
  const path: R[] = [];
  const ordered: R[] = [];
  const add = (registration: R) => {
    if (added.has(registration)) return;
    if (path.includes(registration)) {
      const cycle = [...path.slice(path.indexOf(registration)), registration].map(uri).join(' -> ');
      throw invalidArgument(`plugin dependency cycle: ${cycle}`);
    }
    path.push(registration);
    for (const dependency of requirementsOf(registration, enabled)) add(dependency);
    path.pop();
    added.add(registration);
    ordered.push(registration);
  };
  enabled.forEach(add);
  return ordered;
}

/** For each required type in turn, the other enabled plugins of that type in registration order. */
function requirementsOf<R extends Node>(registration: R, enabled: readonly R[]): R[] {
  return (registration.requires ?? []).flatMap((type) =>
    enabled.filter((other) => other !== registration && (type === '*' || other.type === type)),
  );
}
