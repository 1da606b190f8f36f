import { spawn } from 'node:child_process';
import { GantryError } from './errors.js';

/**
 * Copies the contents of `from` into the existing directory `to`, preserving everything (ownership,
 * modes, links, hardlinks, xattrs, devices) with `cp -a`, using reflinks where the filesystem has them.
 */
export function copyTreePreserving(from: string, to: string, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('cp', ['-a', '--reflink=auto', `${from}/.`, to], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (err) => reject(new GantryError(`${what} failed: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new GantryError(`${what} failed: ${stderr.trim()}`))));
  });
}
