/** Image aggregate: stream "images/<name>" in its namespace. */
export const imageStream = (name: string) => `images/${name}`;

export interface ImageTarget {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations: Record<string, string>;
}

export interface ImageCreated {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly target: ImageTarget;
}

/** The image as it is after the update (labels and target complete). */
export interface ImageUpdated {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly target: ImageTarget;
}

export interface ImageDeleted {
  readonly name: string;
}

export interface ImageEvents {
  ImageCreated: ImageCreated;
  ImageUpdated: ImageUpdated;
  ImageDeleted: ImageDeleted;
}
