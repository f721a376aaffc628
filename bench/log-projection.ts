import type { Projection } from '../src/projections/index.js';

/** A read model of the size a daemon keeps: one entry per container-like stream. */
export const streamsProjection: Projection<Record<string, number>> = {
  name: 'bench-streams',
  version: 1,
  initial: () => ({}),
  evolve(state, record) {
    state[record.stream] = record.version;
    return state;
  },
};
