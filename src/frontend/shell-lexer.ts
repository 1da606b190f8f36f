/**
 * Word expansion as BuildKit's Dockerfile shell lexer does it: quotes, escapes, `$V`, `${V}` and the
 * `${V:-w}` family, `${V#p}`/`${V%p}` trimming and `${V/p/r}` replacement, plus splitting into words.
 * This is not a shell: there is no command substitution, globbing or arithmetic.
 */
import { GantryError } from '../util/errors.js';
import { goQuote, isGoSpace } from '../util/go-text.js';

/** Variables visible to an expansion, in definition order. */
export interface EnvLookup {
  get(name: string): string | undefined;
  keys(): string[];
}

/**
 * An ordered list of variables. Setting a name moves it to the end, as BuildKit's environment list
 * orders variables by when they were last set (so a RUN sees them in that order).
 */
export class EnvList implements EnvLookup {
  private readonly values = new Map<string, string>();

  constructor(entries: Iterable<readonly [string, string]> = []) {
    for (const [key, value] of entries) this.values.set(key, value);
  }

  /** From `KEY=value` strings, as an image config's Env holds them. */
  static fromStrings(env: readonly string[]): EnvList {
    return new EnvList(env.map(splitKeyValue));
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  keys(): string[] {
    return [...this.values.keys()];
  }

  entries(): Array<[string, string]> {
    return [...this.values.entries()];
  }

  set(name: string, value: string): this {
    this.values.delete(name);
    this.values.set(name, value);
    return this;
  }

  delete(name: string): this {
    this.values.delete(name);
    return this;
  }

  clone(): EnvList {
    return new EnvList(this.values.entries());
  }

  toStrings(): string[] {
    return this.entries().map(([key, value]) => `${key}=${value}`);
  }
}

export function splitKeyValue(entry: string): [string, string] {
  const eq = entry.indexOf('=');
  return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
}

export interface ShellLexerOptions {
  /** The Dockerfile's escape character: backslash (default) or backtick. */
  escapeToken?: '\\' | '`';
  /** Keep quote characters in the result (quotes still group words). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  rawEscapes?: boolean;
  /** Treat quotes as ordinary characters. */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to "". */
  skipUnsetEnv?: boolean;
}

export interface ExpansionResult {
  /** The expanded text, white space kept as written. */
  result: string;
  /** The expanded text split into words (unquoted white space separates words). */
  words: string[];
  /** Variable names that were found. */
  matched: Set<string>;
  /** Variable names that were referenced but not set. */
  unmatched: Set<string>;
}

/** A malformed word, e.g. an unterminated quote or `${}`; the message reads as BuildKit's. */
export class ShellSyntaxError extends GantryError {
  constructor(word: string, reason: string) {
    super(`failed to process ${goQuote(word)}: ${reason}`);
    this.name = 'ShellSyntaxError';
  }
}

const EOF = '';

/** Thrown inside the scanner; turned into ShellSyntaxError with the whole word by the public methods. */
class LexFailure extends Error {}

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

export class ShellLexer {
  readonly escapeToken: '\\' | '`';
  readonly rawQuotes: boolean;
  readonly rawEscapes: boolean;
  readonly skipProcessQuotes: boolean;
  readonly skipUnsetEnv: boolean;

  constructor(options: ShellLexerOptions = {}) {
    this.escapeToken = options.escapeToken ?? '\\';
    this.rawQuotes = options.rawQuotes ?? false;
    this.rawEscapes = options.rawEscapes ?? false;
    this.skipProcessQuotes = options.skipProcessQuotes ?? false;
    this.skipUnsetEnv = options.skipUnsetEnv ?? false;
  }

  /** A copy with some options changed. */
  with(options: ShellLexerOptions): ShellLexer {
    return new ShellLexer({
      escapeToken: this.escapeToken,
      rawQuotes: this.rawQuotes,
      rawEscapes: this.rawEscapes,
      skipProcessQuotes: this.skipProcessQuotes,
      skipUnsetEnv: this.skipUnsetEnv,
      ...options,
    });
  }

  /** Expands `word` as one word (white space kept). Throws ShellSyntaxError. */
  processWord(word: string, env: EnvLookup): string {
    return this.expand(word, env).result;
  }

  /** Expands `word` and splits it into words. Throws ShellSyntaxError. */
  processWords(word: string, env: EnvLookup): string[] {
    return this.expand(word, env).words;
  }

  /** Expands `word`, reporting which variables were and were not found. Throws ShellSyntaxError. */
  expand(word: string, env: EnvLookup): ExpansionResult {
    const scan = new WordScanner(this, word, env);
    try {
      const { result, words } = scan.processUntil(EOF, this.rawEscapes);
      return { result, words, matched: scan.matched, unmatched: scan.unmatched };
    } catch (err) {
      if (err instanceof LexFailure) throw new ShellSyntaxError(word, err.message);
      throw err;
    }
  }
}

/** Accumulates words: unquoted white space ends a word; expanded values split on white space too. */
class WordCollector {
  private buffer = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isGoSpace(ch)) {
      if (this.inWord && this.buffer.length > 0) {
        this.words.push(this.buffer);
        this.buffer = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.buffer += ch;
    this.inWord = true;
  }

  addString(text: string): void {
    for (const ch of text) this.addChar(ch);
  }

  addRawString(text: string): void {
    this.buffer += text;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.buffer.length > 0) {
      this.words.push(this.buffer);
      this.buffer = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class WordScanner {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(
    private readonly lexer: ShellLexer,
    word: string,
    private readonly env: EnvLookup,
  ) {
    this.chars = Array.from(word);
    this.rawEscapes = lexer.rawEscapes;
  }

  private peek(): string {
    return this.pos < this.chars.length ? this.chars[this.pos]! : EOF;
  }

  private next(): string {
    return this.pos < this.chars.length ? this.chars[this.pos++]! : EOF;
  }

  /** Processes characters up to `stop` (consumed) or the end of the word when `stop` is EOF. */
  processUntil(stop: string, rawEscapes: boolean): { result: string; words: string[] } {
    const savedRawEscapes = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      return this.processUntilInner(stop);
    } finally {
      this.rawEscapes = savedRawEscapes;
    }
  }

  private processUntilInner(stop: string): { result: string; words: string[] } {
    let result = '';
    const words = new WordCollector();
    const escape = this.lexer.escapeToken;
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (stop !== EOF && ch === stop) {
        this.next();
        return { result, words: words.finish() };
      }
      let special: string | undefined;
      if (ch === '$') special = this.processDollar();
      else if (ch === '<') special = this.processPossibleHeredoc();
      else if (!this.lexer.skipProcessQuotes && ch === "'") special = this.processSingleQuote();
      else if (!this.lexer.skipProcessQuotes && ch === '"') special = this.processDoubleQuote();
      if (special !== undefined) {
        result += special;
        if (ch === '$') words.addString(special);
        else words.addRawString(special);
        continue;
      }
      let current = this.next();
      if (current === escape) {
        if (this.rawEscapes) {
          words.addRawChar(current);
          result += current;
        }
        current = this.next();
        if (current === EOF) break;
        words.addRawChar(current);
      } else {
        words.addChar(current);
      }
      result += current;
    }
    if (stop !== EOF) throw new LexFailure(`unexpected end of statement while looking for matching ${stop}`);
    return { result, words: words.finish() };
  }

  private processSingleQuote(): string {
    // Everything up to the closing quote is literal; a single quote cannot be escaped inside.
    let result = '';
    const open = this.next();
    if (this.lexer.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new LexFailure('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.lexer.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    // Literal except `$` expansions; the escape character only escapes `"`, `$` and itself.
    let result = '';
    const open = this.next();
    if (this.lexer.rawQuotes) result += open;
    const escape = this.lexer.escapeToken;
    for (;;) {
      const ahead = this.peek();
      if (ahead === EOF) throw new LexFailure('unexpected end of statement while looking for matching double-quote');
      if (ahead === '"') {
        const close = this.next();
        if (this.lexer.rawQuotes) result += close;
        return result;
      }
      if (ahead === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.next();
      if (ch === escape) {
        if (this.rawEscapes) result += ch;
        const following = this.peek();
        if (following === EOF) continue;
        if (following === '"' || following === '$' || following === escape) ch = this.next();
      }
      result += ch;
    }
  }

  private lookup(name: string): string | undefined {
    const value = this.env.get(name);
    if (value !== undefined) this.matched.add(name);
    else this.unmatched.add(name);
    return value;
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.lookup(name);
      if (value === undefined && this.lexer.skipUnsetEnv) return `$${name}`;
      return value ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new LexFailure("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexFailure('syntax error: bad substitution');
    const name = this.processName();
    let modifier = this.next();
    let modifierText = modifier;
    switch (modifier) {
      case '}': {
        const value = this.lookup(name);
        if (value === undefined && this.lexer.skipUnsetEnv) return `\${${name}}`;
        return value ?? '';
      }
      case '/':
        return this.processReplacement(name);
    }
    let nullIsUnset = false;
    if (modifier === ':') {
      nullIsUnset = true;
      modifier = this.next();
      modifierText += modifier;
    } else if (!['+', '-', '?', '#', '%'].includes(modifier)) {
      throw new LexFailure(`unsupported modifier (${modifierText || '\ufffd'}) in substitution`);
    }
    const patternModifier = modifier === '#' || modifier === '%';
    if (nullIsUnset && patternModifier) throw new LexFailure(`unsupported modifier (${modifierText}) in substitution`);
    const word = this.processNested('}', patternModifier, "syntax error: missing '}'");
    const value = this.lookup(name);
    if (this.lexer.skipUnsetEnv && value === undefined) return `\${${name}${modifierText}${word}}`;
    const unset = value === undefined || (nullIsUnset && value === '');
    switch (modifier) {
      case '-':
        return unset ? word : value!;
      case '+':
        return unset ? '' : word;
      case '?':
        if (value === undefined) throw new LexFailure(`${name}: ${word || 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '') throw new LexFailure(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        // A doubled operator (## or %%) takes the longest match.
        const greedy = word.startsWith(modifier);
        const pattern = greedy ? word.slice(1) : word;
        return modifier === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
      }
      default:
        throw new LexFailure(`unsupported modifier (${modifierText || '\ufffd'}) in substitution`);
    }
  }

  private processReplacement(name: string): string {
    const replaceAll = this.peek() === '/';
    if (replaceAll) this.next();
    const pattern = this.processNested('/', true, "syntax error: missing '/' in ${}");
    const replacement = this.processNested('}', true, "syntax error: missing '}'");
    const value = this.lookup(name);
    if (this.lexer.skipUnsetEnv && value === undefined) return `\${${name}/${pattern}/${replacement}}`;
    const regex = shellPatternToRegex(pattern, true, false, replaceAll);
    const literal = goReplacementLiteral(replacement);
    return (value ?? '').replace(regex, () => literal);
  }

  /** A nested word up to `stop`; at the end of input the error is `missingMessage`. */
  private processNested(stop: string, rawEscapes: boolean, missingMessage: string): string {
    try {
      return this.processUntil(stop, rawEscapes).result;
    } catch (err) {
      if (err instanceof LexFailure && this.peek() === EOF) throw new LexFailure(missingMessage);
      throw err;
    }
  }

  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name === '' && /\p{Nd}/u.test(ch)) {
        // Positional parameters: all the digits.
        while (this.peek() !== EOF && /\p{Nd}/u.test(this.peek())) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next();
      if (!/[\p{L}\p{Nd}_]/u.test(ch)) break;
      name += this.next();
    }
    return name;
  }

  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    // A heredoc may have white space between << and its word; keep it so the word stays attached.
    let space = '';
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === '\r') space += this.next();
    return `<<${space}`;
  }
}

/**
 * A shell wildcard pattern (`?` one character, `*` any run) as a regular expression; bracket
 * expressions are not supported, as in BuildKit.
 */
function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    switch (ch) {
      case '*':
        // Go's `.` matches anything but a newline.
        out += greedy ? '[^\\n]*' : '[^\\n]*?';
        continue;
      case '?':
        out += '[^\\n]';
        continue;
      case '\\': {
        const following = chars[i + 1];
        // `}` and `/` are escaped only to survive the ${...} syntax; the escape is not part of the pattern.
        if (following === '}' || following === '/') continue;
        i++;
        if (following !== '*' && following !== '?' && following !== '\\') {
          throw new LexFailure(`invalid pattern (${pattern}) in substitution: invalid escape '\\${following ?? '\ufffd'}'`);
        }
        out += `\\${following}`;
        continue;
      }
      case '[':
      case ']':
      case '{':
      case '}':
      case '.':
      case '+':
      case '(':
      case ')':
      case '|':
      case '^':
      case '$':
        out += `\\${ch}`;
        continue;
    }
    out += ch;
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

/**
 * BuildKit substitutes with Go's regexp replacement templates, where `$name` and `${name}` refer to
 * capture groups (none exist here, so they vanish) and `$$` is a dollar sign.
 */
function goReplacementLiteral(template: string): string {
  return template.replace(/\$(\$|\{[A-Za-z0-9_]+\}|[A-Za-z0-9_]+)?/g, (match, reference: string | undefined) => {
    if (reference === '$') return '$';
    return reference === undefined ? match : '';
  });
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const match = shellPatternToRegex(pattern, greedy, true).exec(value);
  return match ? value.slice(match[0].length) : value;
}

/** Regular expressions find the leftmost match only, so reverse both pattern and value for a suffix. */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  const reversed = trimPrefix(reversePattern(pattern), Array.from(value).reverse().join(''), greedy);
  return Array.from(reversed).reverse().join('');
}

/** Reverses a pattern keeping escapes in front of what they escape: `a\*c` becomes `c\*a`. */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = new Array<string>(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last; ) {
    const position = last - i;
    if (chars[i] === '\\' && i !== last) {
      out[position - 1] = '\\';
      out[position] = chars[i + 1]!;
      i += 2;
    } else {
      out[position] = chars[i]!;
      i++;
    }
  }
  return out.join('');
}
