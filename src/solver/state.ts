/** What a stage has built so far: its layers, cache key chain head, config and history. */
import type { Digest } from '../util/index.js';
import { type ContainerConfig, type HistoryEntry, type Platform, chainIdOf } from '../image/index.js';
import type { LayerRecord } from '../store/index.js';

export interface StageState {
  platform: Platform;
  /** Cache key of the last step (or of the base). */
  key: Digest;
  /** Every layer, base image's included, bottom first. */
  layers: LayerRecord[];
  history: HistoryEntry[];
  config: ContainerConfig;
  /** The base image's author, carried into images built on it. */
  author?: string;
}

export function chainIdOfState(state: Pick<StageState, 'layers'>): Digest | undefined {
  return chainIdOf(state.layers.map((l) => l.diffId));
}
