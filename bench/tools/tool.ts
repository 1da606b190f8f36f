/** What the harness needs of each builder it times. */
import type { ToolName } from '../options.js';
import type { CommandLine } from '../process.js';

export interface BuildRequest {
  contextDir: string;
  /** The image's name; with several platforms, the name of the multi-platform image (index or manifest list). */
  tag: string;
  /** Target platforms ("linux/arm64"); absent: the tool's default, this machine's, with no platform flag. */
  platforms?: readonly string[];
}

export interface BuildTool {
  readonly name: ToolName;
  /** How the report names it. */
  readonly title: string;
  /** The flags and settings it runs with, for the report. */
  readonly setup: string;
  /** Program versions, for the report. */
  versions(): Promise<Record<string, string>>;
  /**
   * Empties the tool's store and cache but for the base image: where every cold build starts. With
   * several platforms, the base is one image per platform, joined under the base image's name as
   * the tool's multi-platform image (as pulling a multi-platform base from a registry stores it).
   */
  resetToBase(platforms?: readonly string[]): Promise<void>;
  /** Untimed preparation before each build, when the tool needs any. */
  beforeBuild?(request: BuildRequest): Promise<void>;
  /** The whole command a user of the tool runs for the build. */
  buildCommand(request: BuildRequest): CommandLine;
  /**
   * Runs a shell script in the built image `tag` (its `platform` instance when given) and gives its
   * standard output: the harness checks what a build produced with it. Tools of workloads without a
   * check need not have it.
   */
  runInImage?(tag: string, platform: string | undefined, script: string): Promise<string>;
  /** Stops what the tool left running and removes its state. */
  close(): Promise<void>;
}

export interface ToolSetting {
  /** A directory of the tool's own, created empty. */
  stateDir: string;
  /** Where state goes when a tool is reset, to be removed after the last build (see retireStateDir). */
  trashDir: string;
  /** `linux/amd64` or `linux/arm64`: this machine. */
  hostPlatform: string;
  /** Root filesystem tar of the base image per platform ("linux/arm64" → tar), this machine's among them. */
  baseRootfsTars: ReadonlyMap<string, string>;
}

/** The name every workload's Dockerfile builds FROM. */
export const BASE_IMAGE = 'busybox:latest';

/** The base image's root filesystem tar for `platform`; the harness makes one for every platform a workload builds. */
export function baseRootfsTar(setting: ToolSetting, platform: string): string {
  const tar = setting.baseRootfsTars.get(platform);
  if (tar === undefined) throw new Error(`no base root filesystem for ${platform}`);
  return tar;
}

/** `linux/arm64` → `arm64`: names the per-platform base images. */
export function architectureOf(platform: string): string {
  const architecture = platform.split('/')[1];
  if (!architecture) throw new Error(`not an os/arch platform: ${platform}`);
  return architecture;
}

