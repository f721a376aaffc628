import type { LogRecord } from '../log/index.js';
import type { ImageCreated, ImageTarget } from '../events/index.js';
import type { Projection } from './projection.js';

export interface ImageView {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly target: ImageTarget;
  readonly createdAt: bigint;
  readonly updatedAt: bigint;
}

export interface ImagesState {
  /** namespace -> image name -> image */
  readonly live: Record<string, Record<string, ImageView>>;
  /** `${namespace}/${name}` -> version of the image's stream, deleted images included. */
  readonly versions: Record<string, number>;
}

export const imagesProjection: Projection<ImagesState> = {
  name: 'images',
  version: 1,
  initial: () => ({ live: {}, versions: {} }),
  evolve(state, record: LogRecord) {
    const ns = record.namespace;
    switch (record.type) {
      case 'ImageCreated':
      case 'ImageUpdated': {
        const { name, labels, target } = record.payload as ImageCreated;
        const images = (state.live[ns] ??= {});
        images[name] = { name, labels, target, createdAt: images[name]?.createdAt ?? record.time, updatedAt: record.time };
        state.versions[`${ns}/${name}`] = record.version;
        break;
      }
      case 'ImageDeleted': {
        const { name } = record.payload as { name: string };
        if (state.live[ns]) delete state.live[ns][name];
        state.versions[`${ns}/${name}`] = record.version;
        break;
      }
    }
    return state;
  },
};

export function imagesIn(state: ImagesState, namespace: string): ImageView[] {
  return Object.values(state.live[namespace] ?? {}).sort((a, b) => a.name.localeCompare(b.name));
}
