/**
 * The parsed Dockerfile as BuildKit's `Node.Dump()` prints it (one s-expression per instruction,
 * Go-quoted), for `gantry debug dockerfile-ast` and for comparing against BuildKit's parser tests.
 */
import { goQuote, goQuoteList } from '../util/index.js';
import { parseDockerfile, type InstructionNode } from './parser.js';

/** Throws a GantryError with location when the Dockerfile does not parse. */
export function dumpDockerfileAst(text: string, file: string): string {
  const parsed = parseDockerfile(text, file);
  return parsed.instructions.map((node) => `(${dumpNode(node)})\n`).join('');
}

/** `keyword flags (trigger) args`; an ONBUILD chain nests its triggers, built in a loop rather than by recursion. */
function dumpNode(node: InstructionNode): string {
  const levels: InstructionNode[] = [];
  for (let current: InstructionNode | undefined = node; current; current = current.trigger) levels.push(current);
  let inner = '';
  for (let i = levels.length - 1; i >= 0; i--) {
    const level = levels[i]!;
    let out = level.keyword.toLowerCase();
    if (level.flags.length > 0) out += ` ${goQuoteList(level.flags)}`;
    if (inner !== '') out += ` (${inner})`;
    for (const arg of level.args) out += ` ${goQuote(arg)}`;
    inner = out.trim();
  }
  return inner;
}
