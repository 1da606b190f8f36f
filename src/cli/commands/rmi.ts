import type { Command } from 'commander';
import { familiarReference, parseReference } from '../../image/reference.js';
import { GantryError } from '../../util/errors.js';
import type { CliContext } from '../context.js';
import { noSuchImage } from './inspect.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('rmi')
    .description('remove image names; content is freed by `gantry prune`')
    .argument('<image...>', 'image names or digests')
    .option('-f, --force', 'remove every name of an image given by digest')
    .action(async (names: string[], opts: { force?: boolean }) => {
      const store = await ctx.openStore();
      for (const name of names) {
        if (/^(sha256:)?[a-f0-9]{12,64}$/.test(name)) {
          const entries = (await store.refs.list()).filter((e) => e.descriptor.digest.slice(7).startsWith(name.replace(/^sha256:/, '')));
          if (entries.length === 0) throw noSuchImage(name);
          const named = entries.filter((e) => e.name);
          if (named.length > 1 && !opts.force) {
            throw new GantryError(`image ${name} has several names: ${named.map((e) => familiarReference(parseReference(e.name as string))).join(', ')}`, {
              hint: 'remove them by name, or pass --force to remove them all',
            });
          }
          for (const removed of await store.refs.removeDigest(entries[0].descriptor.digest)) ctx.out(`Untagged: ${familiarReference(parseReference(removed))}\n`);
          ctx.out(`Deleted: ${entries[0].descriptor.digest}\n`);
          continue;
        }
        const removed = await store.refs.remove(name);
        if (!removed) throw noSuchImage(name);
        ctx.out(`Untagged: ${familiarReference(parseReference(name))}\n`);
      }
    });
}
