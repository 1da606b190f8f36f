/** What the harness needs of each builder it times. */
import type { ToolName } from '../options.js';
import type { CommandLine } from '../process.js';

export interface BuildTool {
  readonly name: ToolName;
  /** How the report names it. */
  readonly title: string;
  /** The flags and settings it runs with, for the report. */
  readonly setup: string;
  /** Program versions, for the report. */
  versions(): Promise<Record<string, string>>;
  /** Empties the tool's store and cache but for the base image: where every cold build starts. */
  resetToBase(): Promise<void>;
  /** The whole command a user of the tool runs to build `contextDir` into an image named `tag`. */
  buildCommand(contextDir: string, tag: string): CommandLine;
  /** Stops what the tool left running and removes its state. */
  close(): Promise<void>;
}

export interface ToolSetting {
  /** A directory of the tool's own, created empty. */
  stateDir: string;
  /** Root filesystem tar of the base image, imported as busybox:latest. */
  baseRootfsTar: string;
  /** `linux/amd64` or `linux/arm64`: this machine. */
  platform: string;
}

/** The name every workload's Dockerfile builds FROM. */
export const BASE_IMAGE = 'busybox:latest';
