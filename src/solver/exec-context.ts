/** What step operations need from the build: store, snapshots, runtime, network, secrets, other stages. */
import type { ContainerRuntime, NetworkAttachment } from '../exec/index.js';
import type { RunStep } from '../frontend/index.js';
import type { ActiveSnapshot, Snapshotter } from '../snapshot/index.js';
import type { Store, LayerRecord } from '../store/index.js';
import type { Digest } from '../util/index.js';
import type { StageState } from './state.js';

/** A build's network for RUN steps: default (a sandbox network with outbound access), host or none. */
export type NetworkMode = 'default' | 'host' | 'none';

/** The network a RUN step gets: its own --network, or the build's when it says `default`. */
export function runNetwork(step: Pick<RunStep, 'network'>, buildNetwork: NetworkMode): NetworkMode {
  return step.network === 'default' ? buildNetwork : step.network;
}

export interface SecretSource {
  /** A file on the host... */
  file?: string;
  /** ...or an environment variable of the gantry process. */
  env?: string;
}

export interface ExecContext {
  store: Store;
  contextDir: string;
  snapshotter(): Promise<Snapshotter>;
  runtime(): Promise<ContainerRuntime>;
  /** Ensures a committed snapshot exists for the state's layers (unpacking what is missing); returns its chain ID. */
  materialize(state: Pick<StageState, 'layers'>): Promise<Digest | undefined>;
  /** Turns an active snapshot's changes into a stored layer and commits the snapshot under the new chain. */
  commitLayer(active: ActiveSnapshot, parentChain: Digest | undefined): Promise<LayerRecord>;
  /** The finished state of another stage (waits for it). */
  stageState(index: number): Promise<StageState>;
  /** The state of an image named in COPY --from / RUN --mount from=. */
  imageState(ref: string): Promise<StageState>;
  secrets: Map<string, SecretSource>;
  /** SSH agent sockets by id ("default"). */
  sshAgents: Map<string, string>;
  /** The build's --network, used by RUN steps that say `default`. */
  network: NetworkMode;
  /** The build's sandbox network, started on first use. */
  sandboxNetwork(): Promise<NetworkAttachment>;
  /** Directory for per-build temporary files (removed at the end). */
  tmpDir: string;
  signal: AbortSignal;
}
