/**
 * Parser directives (`# syntax=`, `# escape=`, `# check=`) and the check configuration syntax
 * (`skip=A,B;error=true;experimental=C`) shared by the directive, `--check` options and per-instruction
 * `# check=` comments.
 */
import { GantryError } from '../util/index.js';
import { trimGoSpaceLeft } from './go-space.js';

export type DirectiveName = 'syntax' | 'escape' | 'check';

export interface ParserDirective {
  name: DirectiveName;
  value: string;
  /** 1-based line of the directive. */
  line: number;
}

/**
 * BuildKit's `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, with the value written as "up to its last
 * non-space character that `.` matches": the lazy form backtracks quadratically over runs of spaces
 * inside the value.
 */
const DIRECTIVE_RE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.*[^\t\n\f\r \u2028\u2029]|.)[\t\n\f\r ]*$/;
const DIRECTIVE_NAMES = new Set<string>(['syntax', 'escape', 'check']);

/**
 * Recognizes directives at the top of a Dockerfile: they must come before anything else (a blank line,
 * an instruction, or a comment that is not a directive ends them) and each may appear once.
 */
export class DirectiveParser {
  private lineNumber = 0;
  private done = false;
  private readonly seen = new Set<string>();

  /** @param commentPrefix what starts a directive line ("#" in a Dockerfile, "" inside a comment's text). */
  constructor(private readonly commentPrefix = '#') {}

  /** The directive on this line, if any. Throws a GantryError (without location) on a repeated directive. */
  parseLine(line: string): ParserDirective | undefined {
    this.lineNumber++;
    if (this.done) return undefined;
    if (!line.startsWith(this.commentPrefix)) {
      this.done = true;
      return undefined;
    }
    const body = trimGoSpaceLeft(line.slice(this.commentPrefix.length));
    const match = DIRECTIVE_RE.exec(body);
    const name = match?.[1]?.toLowerCase();
    if (!match || name === undefined || !DIRECTIVE_NAMES.has(name)) {
      this.done = true;
      return undefined;
    }
    if (this.seen.has(name)) {
      throw new GantryError(`only one ${name} parser directive can be used`, {
        hint: `remove the repeated "# ${name}=" line`,
      });
    }
    this.seen.add(name);
    return { name: name as DirectiveName, value: match[2]!, line: this.lineNumber };
  }
}

/** Rules to skip, rules to opt into, and whether findings fail the build. */
export interface CheckConfig {
  skipAll: boolean;
  skip: Set<string>;
  experimentalAll: boolean;
  experimental: Set<string>;
  error: boolean;
}

export function emptyCheckConfig(): CheckConfig {
  return { skipAll: false, skip: new Set(), experimentalAll: false, experimental: new Set(), error: false };
}

/** Parses `skip=...;error=...;experimental=...`. Throws a GantryError naming the bad option. */
export function parseCheckConfig(text: string): CheckConfig {
  const config = emptyCheckConfig();
  const trimmed = text.trim();
  if (trimmed === '') return config;
  // At most three options; a fourth `;` stays inside the third value, as in BuildKit.
  const parts = splitN(trimmed, ';', 3);
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      throw new GantryError(`invalid check option "${part}"`, { hint: 'check options look like skip=RuleA,RuleB;error=true' });
    }
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    switch (key) {
      case 'skip':
        if (value === 'all') config.skipAll = true;
        else for (const rule of value.split(',')) config.skip.add(rule.trim());
        break;
      case 'experimental':
        if (value === 'all') config.experimentalAll = true;
        else for (const rule of value.split(',')) config.experimental.add(rule.trim());
        break;
      case 'error': {
        const flag = parseGoBool(value);
        if (flag === undefined) {
          throw new GantryError(`failed to parse check option "${part}": invalid syntax`, { hint: 'error= takes true or false' });
        }
        config.error = flag;
        break;
      }
      default:
        throw new GantryError(`invalid check option "${key}"`, { hint: 'the options are skip, error and experimental' });
    }
  }
  return config;
}

/** `other` layered over `base`: skips and experimental rules add up, error is kept from `base`. */
export function mergeCheckConfig(base: CheckConfig, other: CheckConfig): CheckConfig {
  return {
    skipAll: base.skipAll || other.skipAll,
    skip: new Set([...base.skip, ...other.skip]),
    experimentalAll: base.experimentalAll || other.experimentalAll,
    experimental: new Set([...base.experimental, ...other.experimental]),
    error: base.error,
  };
}

/**
 * The check configuration a `# check=...` comment just above an instruction adds for that instruction
 * (text after the first space is a remark). The first check comment counts; a malformed one is ignored,
 * as in BuildKit.
 */
export function checkConfigFromComments(comments: readonly string[]): CheckConfig | undefined {
  for (const comment of comments) {
    let directive: ParserDirective | undefined;
    try {
      directive = new DirectiveParser('').parseLine(comment);
    } catch {
      continue;
    }
    if (directive?.name !== 'check') continue;
    try {
      return parseCheckConfig(directive.value.split(' ')[0]!);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Go's strconv.ParseBool. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

function splitN(text: string, separator: string, limit: number): string[] {
  const parts = text.split(separator);
  if (parts.length <= limit) return parts;
  return [...parts.slice(0, limit - 1), parts.slice(limit - 1).join(separator)];
}
