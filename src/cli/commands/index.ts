import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import * as buildCommand from './build.js';
import * as debug from './debug.js';
import * as du from './du.js';
import * as history from './history.js';
import * as images from './images.js';
import * as importCommand from './import.js';
import * as inspect from './inspect.js';
import * as prune from './prune.js';
import * as registry from './registry.js';
import * as rmi from './rmi.js';
import * as setup from './setup.js';
import * as run from './run.js';
import * as saveLoad from './save-load.js';
import * as tag from './tag.js';

export function registerCommands(program: Command, ctx: CliContext): void {
  for (const command of [buildCommand, images, inspect, history, tag, rmi, importCommand, run, saveLoad, prune, du, registry, setup, debug]) command.register(program, ctx);
}
