/**
 * Word expansion as BuildKit's Dockerfile shell lexer does it: quotes, escapes, `$V`, `${V}` and the
 * `${V:-w}` family, `${V#p}`/`${V%p}` trimming and `${V/p/r}` replacement, plus splitting into words.
 * This is not a shell: there is no command substitution, globbing or arithmetic.
 */
import { elide, GantryError, goQuote, isGoSpace } from '../util/index.js';
import { ShellPattern, ShellPatternError } from './shell-pattern.js';

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
  /** Variable names that were found. */
  matched: Set<string>;
  /** Variable names that were referenced but not set. */
  unmatched: Set<string>;
}

/** A malformed word, e.g. an unterminated quote or `${}`; the message reads as BuildKit's. */
export class ShellSyntaxError extends GantryError {
  constructor(word: string, reason: string, hint?: string) {
    super(`failed to process ${goQuote(elide(word, QUOTED_WORD_LENGTH))}: ${reason}`, { hint });
    this.name = 'ShellSyntaxError';
  }
}

/**
 * The most characters one expanded word may have; a word written longer than this (a heredoc body) may
 * grow by as much again. Linux refuses a single argument or environment string over 128 KiB
 * (MAX_ARG_STRLEN), so 1 MiB is generous; without a limit, a chain of ARGs that each double the
 * previous one exhausts memory within a few dozen lines.
 */
export const MAX_WORD_LENGTH = 1 << 20;

/** An expansion that grew past its limit. */
export class WordTooLongError extends ShellSyntaxError {
  constructor(word: string, limit: number) {
    super(
      word,
      `the expanded word is longer than ${limit} characters${limit === MAX_WORD_LENGTH ? ' (1 MiB)' : ' (its length as written plus 1 MiB)'}, the limit for one word`,
      'Linux refuses a single argument or environment string over 128 KiB anyway; look for variables that repeat one another (ARG B=$A$A doubles A on every line)',
    );
    this.name = 'WordTooLongError';
  }
}

/** How much of a word a syntax error quotes. */
const QUOTED_WORD_LENGTH = 200;

const EOF = '';

/** Thrown inside the scanner; turned into ShellSyntaxError with the whole word by the public methods. */
class LexFailure extends Error {}

/** Thrown inside the scanner when the result outgrows its limit. */
class TooLong extends Error {}

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
    return this.scan(word, env, true).words!;
  }

  /** Expands `word`, reporting which variables were and were not found. Throws ShellSyntaxError. */
  expand(word: string, env: EnvLookup): ExpansionResult {
    const { result, matched, unmatched } = this.scan(word, env, false);
    return { result, matched, unmatched };
  }

  /** Splitting into words costs a pass over every expanded character, so it is done only when asked for. */
  private scan(word: string, env: EnvLookup, splitWords: boolean): ExpansionResult & { words?: string[] } {
    const scan = new WordScanner(this, word, env, splitWords);
    try {
      const { result, words } = scan.run();
      return { result, words, matched: scan.matched, unmatched: scan.unmatched };
    } catch (err) {
      if (err instanceof LexFailure) throw new ShellSyntaxError(word, err.message);
      if (err instanceof TooLong) throw new WordTooLongError(word, scan.limit);
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

/**
 * What the scanner is inside of. Nesting (`${A:-${B:-"${C}"}}`) is kept on an explicit stack rather
 * than the JavaScript call stack, so that any depth a Dockerfile can hold expands.
 */
type Frame = WordFrame | QuoteFrame | SubstitutionFrame;

/** The whole word, or (as part of a SubstitutionFrame) a nested one inside `${...}` that ends at `stop`. */
interface WordFrame {
  kind: 'word';
  stop: string;
  rawEscapes: boolean;
  text: TextBuilder;
  /** The words of the outermost word, when they are asked for; nested words are never split. */
  words?: WordCollector;
}

/** Inside double quotes. */
interface QuoteFrame {
  kind: 'quote';
  rawEscapes: boolean;
  text: TextBuilder;
}

/**
 * Text gathered a piece at a time and joined once: adding to a string one character at a time builds
 * a chain of millions of string nodes for a heredoc of a few megabytes. A few pieces (a nested word
 * between its quotes, say) are concatenated instead, which the engine does without copying: joining
 * would copy the inner text again at every level of `${A:-"${A:-"..."}"}`, quadratic in the depth.
 */
class TextBuilder {
  /** The text while it is one piece; the list is made for the second (a deep nesting has a builder a level). */
  private first = '';
  private parts?: string[];
  length = 0;

  add(text: string): void {
    if (this.parts) this.parts.push(text);
    else if (this.length === 0) this.first = text;
    else this.parts = [this.first, text];
    this.length += text.length;
  }

  toString(): string {
    if (!this.parts) return this.first;
    if (this.parts.length > 4) return this.parts.join('');
    let text = '';
    for (const part of this.parts) text += part;
    return text;
  }
}

/**
 * A `${name<modifier>word}` while its word (for `/`, its pattern and then its replacement) is read: one
 * frame a level, since a deep nesting holds one for every level.
 */
interface SubstitutionFrame extends Omit<WordFrame, 'kind'> {
  kind: 'substitution';
  /** The error when the input ends inside the word. */
  missing: string;
  name: string;
  modifier: string;
  modifierText: string;
  nullIsUnset: boolean;
  replaceAll: boolean;
  /** For `/`: the pattern, once read. */
  pattern?: string;
}

const MISSING_BRACE = "syntax error: missing '}'";

class WordScanner {
  /** Position in `word`, in UTF-16 units; the scanner reads whole code points. */
  private pos = 0;
  private readonly stack: Frame[] = [];
  /** The most characters the result (or any part of it) may have. */
  readonly limit: number;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(
    private readonly lexer: ShellLexer,
    private readonly word: string,
    private readonly env: EnvLookup,
    private readonly splitWords: boolean,
  ) {
    this.limit = word.length <= MAX_WORD_LENGTH ? MAX_WORD_LENGTH : word.length + MAX_WORD_LENGTH;
  }

  /** The code point at the position (a lone surrogate stands alone, as Array.from gives it), or EOF. */
  private peek(): string {
    const word = this.word;
    if (this.pos >= word.length) return EOF;
    const code = word.charCodeAt(this.pos);
    if (code >= 0xd800 && code <= 0xdbff && this.pos + 1 < word.length) {
      const low = word.charCodeAt(this.pos + 1);
      if (low >= 0xdc00 && low <= 0xdfff) return word.slice(this.pos, this.pos + 2);
    }
    return word[this.pos]!;
  }

  private next(): string {
    const ch = this.peek();
    this.pos += ch.length;
    return ch;
  }

  run(): { result: string; words?: string[] } {
    const top: WordFrame = { kind: 'word', stop: EOF, rawEscapes: this.lexer.rawEscapes, text: new TextBuilder() };
    if (this.splitWords) top.words = new WordCollector();
    this.stack.push(top);
    try {
      while (this.stack.length > 0) {
        const frame = this.stack[this.stack.length - 1]!;
        if (frame.kind === 'quote') this.stepQuote(frame);
        else this.stepWord(frame);
      }
    } catch (err) {
      // As in BuildKit, an error at the end of input inside ${...} is the outermost one's missing '}'.
      if (err instanceof LexFailure && this.peek() === EOF) {
        const nested = this.stack.find((f): f is SubstitutionFrame => f.kind === 'substitution');
        if (nested) throw new LexFailure(nested.missing);
      }
      throw err;
    }
    return { result: top.text.toString(), words: top.words?.finish() };
  }

  /** One step of a word: a character, a quote, a `$` or a heredoc `<<`, or its end. */
  private stepWord(frame: WordFrame | SubstitutionFrame): void {
    const ch = this.peek();
    if (ch === EOF) {
      if (frame.stop !== EOF) throw new LexFailure(`unexpected end of statement while looking for matching ${frame.stop}`);
      this.stack.pop();
      return;
    }
    if (frame.kind === 'substitution' && ch === frame.stop) {
      this.next();
      this.finishNested(frame);
      return;
    }
    if (ch === '$') {
      const value = this.processDollar();
      if (value !== undefined) this.deliver(value);
      return;
    }
    // A run of ordinary characters is taken whole, unless words are split (they look at each character).
    if (!frame.words) {
      const quotes = this.lexer.skipProcessQuotes ? '' : `'"`;
      if (this.takeRun(frame.text, `$<${quotes}${this.lexer.escapeToken}${frame.stop}`)) return;
    }
    let literal: string | undefined;
    if (ch === '<') literal = this.processPossibleHeredoc();
    else if (!this.lexer.skipProcessQuotes && ch === "'") literal = this.processSingleQuote();
    else if (!this.lexer.skipProcessQuotes && ch === '"') {
      this.next();
      const text = new TextBuilder();
      if (this.lexer.rawQuotes) text.add('"');
      this.stack.push({ kind: 'quote', rawEscapes: frame.rawEscapes, text });
      return;
    }
    if (literal !== undefined) {
      frame.text.add(literal);
      frame.words?.addRawString(literal);
      return;
    }
    let current = this.next();
    if (current === this.lexer.escapeToken) {
      if (frame.rawEscapes) {
        frame.words?.addRawChar(current);
        frame.text.add(current);
      }
      current = this.next();
      if (current === EOF) return;
      frame.words?.addRawChar(current);
    } else {
      frame.words?.addChar(current);
    }
    frame.text.add(current);
  }

  /** One step inside double quotes: literal except `$` expansions; the escape character only escapes `"`, `$` and itself. */
  private stepQuote(frame: QuoteFrame): void {
    const ahead = this.peek();
    if (ahead === EOF) throw new LexFailure('unexpected end of statement while looking for matching double-quote');
    if (ahead === '"') {
      const close = this.next();
      if (this.lexer.rawQuotes) frame.text.add(close);
      this.stack.pop();
      // Double quotes only ever open inside a word.
      const word = this.stack[this.stack.length - 1] as WordFrame | SubstitutionFrame;
      const quoted = frame.text.toString();
      this.append(word, quoted);
      word.words?.addRawString(quoted);
      return;
    }
    if (ahead === '$') {
      const value = this.processDollar();
      if (value !== undefined) this.deliver(value);
      return;
    }
    const escape = this.lexer.escapeToken;
    if (this.takeRun(frame.text, `"$${escape}`)) return;
    let ch = this.next();
    if (ch === escape) {
      if (frame.rawEscapes) frame.text.add(ch);
      const following = this.peek();
      if (following === EOF) return;
      if (following === '"' || following === '$' || following === escape) ch = this.next();
    }
    frame.text.add(ch);
  }

  /** Adds the characters from the position up to the next of `specials` (or the end) to `text`; false when there are none. */
  private takeRun(text: TextBuilder, specials: string): boolean {
    const word = this.word;
    let end = this.pos;
    while (end < word.length && !specials.includes(word[end]!)) end++;
    if (end === this.pos) return false;
    text.add(word.slice(this.pos, end));
    this.pos = end;
    return true;
  }

  /** Adds an expansion's value to the word or quote now on top of the stack. */
  private deliver(value: string): void {
    const frame = this.stack[this.stack.length - 1]!;
    this.append(frame, value);
    if (frame.kind !== 'quote') frame.words?.addString(value);
  }

  private append(frame: Frame, text: string): void {
    if (frame.text.length + text.length > this.limit) throw new TooLong();
    frame.text.add(text);
  }

  /** Single-quoted text is literal; a single quote cannot be escaped inside. */
  private processSingleQuote(): string {
    const open = this.pos;
    const close = this.word.indexOf("'", open + 1);
    if (close < 0) {
      this.pos = this.word.length;
      throw new LexFailure('unexpected end of statement while looking for matching single-quote');
    }
    this.pos = close + 1;
    return this.lexer.rawQuotes ? this.word.slice(open, close + 1) : this.word.slice(open + 1, close);
  }

  private lookup(name: string): string | undefined {
    const value = this.env.get(name);
    if (value !== undefined) this.matched.add(name);
    else this.unmatched.add(name);
    return value;
  }

  /**
   * `$name`, `${name}` or the start of `${name<modifier>word}`. Returns the value, or undefined when a
   * substitution's word was opened (it completes in finishNested).
   */
  private processDollar(): string | undefined {
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
    if (first === EOF) throw new LexFailure(MISSING_BRACE);
    if (first === '{' || first === '}' || first === ':') throw new LexFailure('syntax error: bad substitution');
    const name = this.processName();
    let modifier = this.next();
    let modifierText = modifier;
    if (modifier === '}') {
      const value = this.lookup(name);
      if (value === undefined && this.lexer.skipUnsetEnv) return `\${${name}}`;
      return value ?? '';
    }
    if (modifier === '/') {
      const replaceAll = this.peek() === '/';
      if (replaceAll) this.next();
      this.openSubstitution({ name, modifier, modifierText, nullIsUnset: false, replaceAll }, '/', true, "syntax error: missing '/' in ${}");
      return undefined;
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
    // A pattern keeps its escapes: they decide whether `*` and `?` are literal.
    this.openSubstitution({ name, modifier, modifierText, nullIsUnset, replaceAll: false }, '}', patternModifier, MISSING_BRACE);
    return undefined;
  }

  private openSubstitution(
    what: Pick<SubstitutionFrame, 'name' | 'modifier' | 'modifierText' | 'nullIsUnset' | 'replaceAll'>,
    stop: string,
    rawEscapes: boolean,
    missing: string,
  ): void {
    this.stack.push({ kind: 'substitution', ...what, stop, rawEscapes, text: new TextBuilder(), missing });
  }

  /** A substitution's word ended: it completes, or (a `/` pattern) its replacement is read next. */
  private finishNested(frame: SubstitutionFrame): void {
    const word = frame.text.toString();
    if (frame.modifier === '/' && frame.pattern === undefined) {
      frame.pattern = word;
      frame.text = new TextBuilder();
      frame.stop = '}';
      frame.missing = MISSING_BRACE;
      return;
    }
    this.stack.pop();
    this.deliver(this.substitute(frame, word));
  }

  private substitute(frame: SubstitutionFrame, word: string): string {
    const { name, modifier, modifierText, nullIsUnset } = frame;
    const value = this.lookup(name);
    if (modifier === '/') {
      const pattern = frame.pattern!;
      if (this.lexer.skipUnsetEnv && value === undefined) return `\${${name}/${pattern}/${word}}`;
      return replacePattern(value ?? '', pattern, goReplacementLiteral(word), frame.replaceAll, this.limit);
    }
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

/** Runs a pattern, reporting a malformed or too costly one as a lexing failure. */
function withPattern<T>(text: string, use: (pattern: ShellPattern) => T): T {
  try {
    return use(new ShellPattern(text));
  } catch (err) {
    if (err instanceof ShellPatternError) throw new LexFailure(err.message);
    throw err;
  }
}

/** `${V/pattern/replacement}`: the leftmost, longest match (every one with `//`) replaced. */
function replacePattern(value: string, patternText: string, replacement: string, all: boolean, limit: number): string {
  return withPattern(patternText, (pattern) => {
    const literal = pattern.literal();
    if (literal) return replaceLiteral(value, literal, replacement, all, limit);
    const chars = Array.from(value);
    let out = '';
    let copied = 0;
    for (let from = 0; from <= chars.length; ) {
      const match = pattern.search(chars, from);
      if (!match) break;
      const [start, end] = match;
      out += chars.slice(copied, start).join('') + replacement;
      if (out.length > limit) throw new TooLong();
      copied = end;
      if (!all) break;
      // After an empty match the search moves on by one character, as JavaScript's and Go's replace-all do.
      from = end === start ? end + 1 : end;
    }
    return out + chars.slice(copied).join('');
  });
}

/** Replacement of a pattern without wildcards: found with indexOf, the result's size known before it is built. */
function replaceLiteral(value: string, literal: string, replacement: string, all: boolean, limit: number): string {
  let count = 0;
  for (let at = value.indexOf(literal); at >= 0 && (all || count === 0); at = value.indexOf(literal, at + literal.length)) count++;
  if (value.length + count * (replacement.length - literal.length) > limit) throw new TooLong();
  return all ? value.replaceAll(literal, () => replacement) : value.replace(literal, () => replacement);
}

function trimPrefix(patternText: string, value: string, greedy: boolean): string {
  return withPattern(patternText, (pattern) => {
    const chars = Array.from(value);
    const length = pattern.prefixLength(chars, greedy);
    return length < 0 ? value : chars.slice(length).join('');
  });
}

/** A suffix is a prefix of the reversed value, matched by the reversed pattern. */
function trimSuffix(patternText: string, value: string, greedy: boolean): string {
  return withPattern(reversePattern(patternText), (pattern) => {
    const chars = Array.from(value).reverse();
    const length = pattern.prefixLength(chars, greedy);
    return length < 0 ? value : chars.slice(length).reverse().join('');
  });
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
