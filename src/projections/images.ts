import type { ImageTarget } from '../events/index.js';
import { noteVersion, type StreamVersions } from './stream-versions.js';
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
  readonly versions: StreamVersions;
}

export const imagesProjection: Projection<ImagesState> = {
  name: 'images',
  version: 2,
  initial: () => ({ live: {}, versions: {} }),
  evolve(state, record) {
    const ns = record.namespace;
    switch (record.type) {
      case 'ImageCreated':
      case 'ImageUpdated': {
        const { name, labels, target } = record.payload;
        const images = (state.live[ns] ??= {});
        images[name] = { name, labels, target, createdAt: images[name]?.createdAt ?? record.time, updatedAt: record.time };
        noteVersion(state.versions, record);
        break;
      }
      case 'ImageDeleted': {
        if (state.live[ns]) delete state.live[ns][record.payload.name];
        noteVersion(state.versions, record);
        break;
      }
    }
    return state;
  },
};

export function imagesIn(state: ImagesState, namespace: string): ImageView[] {
  return Object.values(state.live[namespace] ?? {}).sort((a, b) => a.name.localeCompare(b.name));
}
