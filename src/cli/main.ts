#!/usr/bin/env node
/** gantry's command line: one file per command under commands/; errors are printed, never thrown at the user. */
import { Command, CommanderError } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { formatGantryError, isGantryError, machineError } from '../util/index.js';
import { createCliContext } from './context.js';
import { registerCommands } from './commands/index.js';

// Copies, hashing and diffs issue many small file operations at once; libuv's default of 4 threads
// leaves them queued. Set before the first asynchronous file operation creates the pool.
process.env.UV_THREADPOOL_SIZE ??= '16';

/** The package's version, from the nearest package.json above this file: compiled (dist/src/cli) or bundled (dist/bin). */
function packageVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    const manifest = new URL('package.json', dir);
    if (existsSync(manifest)) return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
    if (dir.pathname === '/') throw new Error('gantry: package.json not found above the program');
  }
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('gantry')
    .description('Build OCI container images from Dockerfiles, without a daemon')
    .version(packageVersion())
    .option('--root <dir>', 'store directory (default: $GANTRY_ROOT, /var/lib/gantry as root, else $XDG_DATA_HOME/gantry)')
    .showSuggestionAfterError(true)
    // Options after `run IMAGE` belong to the container's command, as with docker run.
    .enablePositionalOptions()
    .exitOverride();
  registerCommands(program, createCliContext(program));
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const explained = isGantryError(err) ? err : machineError(err);
    if (explained) {
      process.stderr.write(`error: ${formatGantryError(explained)}\n`);
      return explained.exitCode;
    }
    process.stderr.write(`gantry: internal error (please report it): ${(err as Error)?.stack ?? String(err)}\n`);
    return 2;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
