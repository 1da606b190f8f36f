import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import * as history from './history.js';
import * as images from './images.js';
import * as inspect from './inspect.js';
import * as rmi from './rmi.js';
import * as tag from './tag.js';

export function registerCommands(program: Command, ctx: CliContext): void {
  for (const command of [images, inspect, history, tag, rmi]) command.register(program, ctx);
}
