import type { Projection } from './projection.js';

/** Each exporter's last recorded position (ExportPosition records), by exporter id. */
export interface ExportPositionsState {
  readonly positions: Record<string, { readonly seq: number; readonly destination: string; readonly recordedAt: number }>;
}

export const exportPositionsProjection: Projection<ExportPositionsState> = {
  name: 'export-positions',
  version: 1,
  initial: () => ({ positions: {} }),
  evolve(state, record) {
    if (record.type === 'ExportPosition') {
      const { exporter, seq, destination } = record.payload;
      state.positions[exporter] = { seq, destination, recordedAt: record.seq };
    }
    return state;
  },
};
