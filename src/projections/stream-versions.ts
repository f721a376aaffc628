/**
 * The version of every stream a read model folds, keyed `<namespace>/<stream>` (the log's own
 * stream key), deleted objects included: the expected version of a command's next append.
 */
export type StreamVersions = Record<string, number>;

export const versionKey = (namespace: string, stream: string): string => `${namespace}/${stream}`;

export function noteVersion(versions: StreamVersions, record: { readonly namespace: string; readonly stream: string; readonly version: number }): void {
  versions[versionKey(record.namespace, record.stream)] = record.version;
}

export function versionOf(versions: StreamVersions, namespace: string, stream: string): number {
  return versions[versionKey(namespace, stream)] ?? 0;
}
