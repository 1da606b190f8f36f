import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { dumpDockerfileAst } from '../../app/index.js';
import { GantryError } from '../../util/index.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  const debug = program.command('debug').description('tools for looking inside gantry');
  debug
    .command('dockerfile-ast')
    .description("print a Dockerfile's syntax tree in BuildKit's dump format")
    .option('-f, --file <path>', 'Dockerfile to read (- for standard input)', 'Dockerfile')
    .action(async (opts: { file: string }) => {
      let text: string;
      if (opts.file === '-') {
        text = '';
        for await (const chunk of process.stdin) text += (chunk as Buffer).toString('utf8');
      } else {
        try {
          text = await readFile(opts.file, 'utf8');
        } catch {
          throw new GantryError(`cannot read ${opts.file}`, { hint: 'name a Dockerfile with -f' });
        }
      }
      ctx.out(dumpDockerfileAst(text, opts.file === '-' ? 'Dockerfile' : opts.file));
    });
}
