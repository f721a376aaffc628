import { uri, type Registration } from './registration.js';

/**
 * Initialisation order as containerd's plugin.Graph: registrations in registration order, each
 * preceded (depth first, in registration order) by the plugins of the types it requires; each
 * plugin once. Disabled plugins (by URI) are left out entirely.
 */
export function initOrder<R extends Registration<never, unknown>>(registrations: readonly R[], disabled: ReadonlySet<string> = new Set()): R[] {
  const enabled = registrations.filter((r) => !disabled.has(uri(r)));
  const added = new Set<R>();
  const ordered: R[] = [];
  const add = (registration: R) => {
    if (added.has(registration)) return;
    added.add(registration);
    for (const dependency of requirementsOf(registration, enabled)) add(dependency);
    ordered.push(registration);
  };
  enabled.forEach(add);
  return ordered;
}

/** For each required type in turn, the enabled plugins of that type in registration order. */
function requirementsOf<R extends Registration<never, unknown>>(registration: R, enabled: readonly R[]): R[] {
  return (registration.requires ?? []).flatMap((type) =>
    enabled.filter((other) => other !== registration && (type === '*' || other.type === type)),
  );
}
