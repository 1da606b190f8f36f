/**
 * The parsed Dockerfile as BuildKit's `Node.Dump()` prints it (one s-expression per instruction,
 * Go-quoted), for `gantry debug dockerfile-ast` and for comparing against BuildKit's parser tests.
 */
import { goQuote, goQuoteList } from '../util/go-text.js';
import { parseDockerfile, type InstructionNode } from './parser.js';

/** Throws a GantryError with location when the Dockerfile does not parse. */
export function dumpDockerfileAst(text: string, file: string): string {
  const parsed = parseDockerfile(text, file);
  return parsed.instructions.map((node) => `(${dumpNode(node)})\n`).join('');
}

function dumpNode(node: InstructionNode): string {
  let out = node.keyword.toLowerCase();
  if (node.flags.length > 0) out += ` ${goQuoteList(node.flags)}`;
  if (node.trigger) out += ` (${dumpNode(node.trigger)})`;
  for (const arg of node.args) out += ` ${goQuote(arg)}`;
  return out.trim();
}
