/** Flag values of the `key=value` kind: one pair (--label, --annotation), or a comma list of them (--output, --cache-to, --secret). */
import { GantryError } from './errors.js';

/** `KEY=VALUE`: a missing `=` or an empty key is an error naming the flag. */
export function splitKeyValue(text: string, flag: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new GantryError(`${flag} "${text}" must be KEY=VALUE`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

export interface KeyValueListSyntax {
  /** The keys the flag takes; any other is an error. */
  known: readonly string[];
  /** A whole example value, for the hint of a malformed one. */
  example: string;
}

/** `k1=v1,k2=v2`, keys and values trimmed; a part that is not a pair, or a key not `known`, is an error naming the flag. */
export function parseKeyValueList(text: string, flag: string, syntax: KeyValueListSyntax): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new GantryError(`${flag} "${text}": "${part}" is not key=value`, { hint: `e.g. ${flag} ${syntax.example}` });
    const key = part.slice(0, eq).trim();
    if (!syntax.known.includes(key)) throw new GantryError(`${flag}: option "${key}" is not supported`, { hint: `${flag} takes ${syntax.known.join(', ')}` });
    fields.set(key, part.slice(eq + 1).trim());
  }
  return fields;
}
