/**
 * Container aggregate: stream "containers/<id>" in its namespace. A container is metadata only
 * (containerd's containers.Container): the spec and runtime options stay as the client encoded
 * them (protobuf Any), so they round-trip byte for byte.
 */
export const containerStream = (id: string) => `containers/${id}`;

export interface AnyValue {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

export interface ContainerRecord {
  readonly id: string;
  readonly labels: Record<string, string>;
  readonly image: string;
  readonly runtime: { readonly name: string; readonly options?: AnyValue };
  readonly spec: AnyValue;
  readonly snapshotter: string;
  readonly snapshotKey: string;
  readonly extensions: Record<string, AnyValue>;
}

export type ContainerCreated = ContainerRecord;

/** The container as it is after the update. */
export type ContainerUpdated = ContainerRecord;

export interface ContainerDeleted {
  readonly id: string;
}

export interface ContainerEvents {
  ContainerCreated: ContainerCreated;
  ContainerUpdated: ContainerUpdated;
  ContainerDeleted: ContainerDeleted;
}
