import { invalidArgument } from './errdefs.js';

/** containerd's label limit (labels/validate.go): key and value together at most 4096 bytes; the message shows the key's first 10 characters. */
export const MAX_LABEL_SIZE = 4096;

export type Labels = Record<string, string>;

export function validateLabels(labels: Labels | undefined, field = 'labels'): void {
  for (const [key, value] of Object.entries(labels ?? {})) {
    const size = Buffer.byteLength(key) + Buffer.byteLength(value);
    if (size > MAX_LABEL_SIZE) {
      throw invalidArgument(
        `${field}: label key and value greater than maximum size (${MAX_LABEL_SIZE} bytes), key: ${key.length > 10 ? key.slice(0, 10) : key}`,
      );
    }
  }
}

/** A label whose value is "" is never stored: writing "" deletes the key (containerd's writeMap). */
export function withoutEmptyValues(labels: Labels | undefined): Labels {
  const out: Labels = {};
  for (const [key, value] of Object.entries(labels ?? {})) if (value !== '') out[key] = value;
  return out;
}
