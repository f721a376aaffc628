/** Reads a field of the object being filtered; undefined means the field is absent. */
export interface Adaptor {
  field(path: string[]): string | undefined;
}

export interface Filter {
  match(adaptor: Adaptor): boolean;
}

export type Operator = 'present' | '==' | '!=' | '~=';

export const always: Filter = { match: () => true };

export const anyOf = (filters: Filter[]): Filter => ({ match: (a) => filters.some((f) => f.match(a)) });

export const allOf = (filters: Filter[]): Filter => ({ match: (a) => filters.every((f) => f.match(a)) });

/**
 * One `fieldpath [operator value]` term with containerd's semantics (filters/filter.go): an
 * absent field reads as "" for `!=` and `~=` (so `!=` holds unless the value is ""), while
 * `==` needs the field present.
 */
export function selector(path: string[], operator: Operator, value = '', pattern?: RegExp): Filter {
  switch (operator) {
    case 'present':
      return { match: (a) => a.field(path) !== undefined };
    case '==':
      return { match: (a) => a.field(path) === value };
    case '!=':
      return { match: (a) => (a.field(path) ?? '') !== value };
    case '~=': {
      const re = pattern ?? new RegExp(value, 'u');
      return { match: (a) => re.test(a.field(path) ?? '') };
    }
  }
}

/**
 * An adaptor over plain fields and label-like maps, in the manner of containerd's adaptors
 * (metadata/adaptors.go):
 *  - a path whose head names a map looks up the rest of the path joined with '.'
 *    (`labels.a.b` reads key "a.b"; a missing map has no keys);
 *  - otherwise the whole dotted path is looked up in `fields` ("runtime.name"), and failing
 *    that its head, since containerd's scalar fields ignore further components (`id.x` reads id).
 * Absent is undefined: pass `x || undefined` where containerd treats "" as absent.
 */
export function adaptorFromFields(
  fields: Record<string, string | undefined>,
  maps: Record<string, Record<string, string> | undefined> = {},
): Adaptor {
  const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
  return {
    field(path) {
      const [head, ...rest] = path;
      if (head === undefined) return undefined;
      if (own(maps, head)) {
        const map = maps[head];
        const key = rest.join('.');
        return map && own(map, key) ? map[key] : undefined;
      }
      const dotted = path.join('.');
      if (own(fields, dotted)) return fields[dotted];
      return own(fields, head) ? fields[head] : undefined;
    },
  };
}

/** The adaptor of a bare label map, read as `labels.<key>` (or `<prefix>.<key>`). */
export function labelsAdaptor(labels: Record<string, string> | undefined, prefix = 'labels'): Adaptor {
  return adaptorFromFields({}, { [prefix]: labels });
}
