/**
 * The container runtime contract: run a process in a root filesystem with a runtime spec, its output
 * passed on, its container always removed; and remove what killed gantry processes left. Drivers: the
 * OCI runtime driver (oci-runtime.ts: runc, crun or a compatible binary); rootless isolation modes join
 * it behind this interface. `openRuntime` is the one factory every caller uses.
 */
import type { SpecMount, SpecOptions } from './spec.js';
import { OciRuntime } from './oci-runtime.js';

export interface RunResult {
  exitCode: number;
  /** The last lines the process wrote (stdout and stderr interleaved), for error messages. */
  tail: string[];
}

/** A file that exists only in memory for one run, bind-mounted read-only into the container. */
export interface SecretFile {
  destination: string;
  content: Buffer;
  uid: number;
  gid: number;
  mode: number;
}

export interface RunContainerOptions {
  spec: Omit<SpecOptions, 'mounts'> & { mounts?: SpecMount[] };
  /** Secret files and environment entries ("NAME=value", after spec.process.env); any of them keeps the bundle in memory. */
  secrets?: { files: SecretFile[]; env: string[] };
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal;
  /** Lines kept for RunResult.tail. */
  tailLines?: number;
}

export interface ContainerRuntime {
  /** For messages, e.g. "OCI runtime /usr/sbin/runc". */
  readonly description: string;
  run(options: RunContainerOptions): Promise<RunResult>;
  /** Removes containers and their files left by gantry processes that no longer exist. */
  removeStale(): Promise<void>;
}

/** Where a runtime keeps its state: container state and the bundles of running containers (the store gives both). */
export interface RuntimeDirs {
  stateDir: string;
  bundlesDir: string;
}

/** Opens the runtime `name` names: "runc", "crun" or the path of an OCI runtime binary. */
export async function openRuntime(name: string, dirs: RuntimeDirs): Promise<ContainerRuntime> {
  return OciRuntime.open(name, dirs.stateDir, dirs.bundlesDir);
}
