import { runTool } from './run-tool.js';

/**
 * Copies the contents of `from` into the existing directory `to`, preserving everything (ownership,
 * modes, links, hardlinks, xattrs, devices) with `cp -a`, using reflinks where the filesystem has them.
 */
export async function copyTreePreserving(from: string, to: string, what: string): Promise<void> {
  await runTool('cp', ['-a', '--reflink=auto', `${from}/.`, to], what, { package: 'coreutils' });
}
