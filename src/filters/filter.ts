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

/** One `fieldpath [operator value]` term, with containerd's semantics for absent fields. */
export function selector(path: string[], operator: Operator, value = '', pattern?: RegExp): Filter {
  return {
    match(adaptor) {
      const actual = adaptor.field(path);
      switch (operator) {
        case 'present':
          return actual !== undefined;
        case '==':
          return actual !== undefined && actual === value;
        case '!=':
          return actual !== value;
        case '~=':
          return pattern!.test(actual ?? '');
      }
    },
  };
}

/**
 * An adaptor over plain fields and label-like maps: a map field takes the rest of the path,
 * joined with '.', as its key (labels.a.b reads key "a.b").
 */
export function adaptorFromFields(
  fields: Record<string, string | undefined>,
  maps: Record<string, Record<string, string> | undefined> = {},
): Adaptor {
  return {
    field(path) {
      const [head, ...rest] = path;
      if (head === undefined) return undefined;
      if (rest.length === 0) return fields[head];
      const map = maps[head];
      return map ? map[rest.join('.')] : fields[path.join('.')];
    },
  };
}
