/**
 * Dockerfile text → a list of instruction nodes, the way BuildKit's parser reads it: directives,
 * comments, line continuations (comment and blank lines inside them are dropped), CRLF and a UTF-8
 * BOM, per-instruction argument forms (JSON or shell, key=value, words) and heredoc bodies.
 * Instructions are not interpreted here (see instructions.ts).
 */
import { GantryError, goQuote, isGoSpace } from '../util/index.js';
import { DirectiveParser, type ParserDirective } from './directives.js';
import { codePointAt, trimGoSpace, trimGoSpaceLeft } from './go-space.js';
import { heredocsInLine, type Heredoc } from './heredoc.js';
import { DockerfileSource, dockerfileTooLarge, MAX_DOCKERFILE_BYTES, withLocation } from './source.js';

export type EscapeToken = '\\' | '`';

export interface InstructionNode {
  /** The keyword as written, e.g. "copy" or "FROM". */
  keyword: string;
  /** Flags as written before the arguments, quotes removed, e.g. "--from=build". */
  flags: string[];
  /**
   * Arguments in BuildKit's AST form: JSON array items; or whitespace-separated words; or one string
   * (shell form); ENV and LABEL give key, value, separator ("=" or "" for the legacy form) triples;
   * HEALTHCHECK gives its type then its command.
   */
  args: string[];
  /** ONBUILD's trigger instruction. */
  trigger?: InstructionNode;
  /** Arguments were written as a JSON array. */
  json: boolean;
  heredocs: Heredoc[];
  /** The instruction as written, continuation lines joined (heredoc bodies excluded). */
  original: string;
  startLine: number;
  endLine: number;
  /** Comment lines just above the instruction (text after "#", trimmed). */
  comments: string[];
}

export interface ParsedDockerfile {
  source: DockerfileSource;
  escapeToken: EscapeToken;
  directives: ParserDirective[];
  instructions: InstructionNode[];
  /** For each instruction whose continuation had empty lines, the line it ends on. */
  emptyContinuationLines: number[];
}

/**
 * The most instructions a Dockerfile may have. Real ones have a few hundred at most; every instruction
 * costs a few kilobytes to plan, so this (with the plan size bound) keeps planning any Dockerfile of
 * the allowed size in bounded memory (1.4 million `RUN x` lines took 2.9 GB).
 */
export const MAX_INSTRUCTIONS = 10_000;

const WHITESPACE_RE = /[\t\v\f\r ]+/;
const MAX_LINE_BYTES = 65535;

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);

interface LineParser {
  (rest: string, escape: EscapeToken): { args: string[]; json: boolean };
}

const LINE_PARSERS: Record<string, LineParser> = {
  add: parseMaybeJsonToList,
  arg: (rest, escape) => ({ args: parseWords(rest, escape), json: false }),
  cmd: parseMaybeJson,
  copy: parseMaybeJsonToList,
  entrypoint: parseMaybeJson,
  env: (rest, escape) => ({ args: parseNameValue(rest, 'ENV', escape), json: false }),
  expose: (rest) => ({ args: splitWhitespace(rest), json: false }),
  from: (rest) => ({ args: splitWhitespace(rest), json: false }),
  healthcheck: parseHealthConfig,
  label: (rest, escape) => ({ args: parseNameValue(rest, 'LABEL', escape), json: false }),
  maintainer: parseString,
  // The trigger line is parsed by nodeFromLine.
  onbuild: () => ({ args: [], json: false }),
  run: parseMaybeJson,
  shell: parseMaybeJson,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJsonToList,
  workdir: parseString,
};

/** The instruction keywords, upper case. */
export const INSTRUCTION_NAMES = Object.keys(LINE_PARSERS).map((name) => name.toUpperCase());

/** Parses a Dockerfile. Throws a GantryError with the file, line and column of a syntax error. */
export function parseDockerfile(text: string, file: string): ParsedDockerfile {
  const size = Buffer.byteLength(text);
  if (size > MAX_DOCKERFILE_BYTES) throw dockerfileTooLarge(file, size);
  const source = new DockerfileSource(file, text);
  const lineCount = source.rawLineCount;
  // The next line (0-based `index`), with its line ending.
  const rawLine = (at: number): string => source.rawLine(at + 1);
  const directiveParser = new DirectiveParser();
  const directives: ParserDirective[] = [];
  let escapeToken: EscapeToken = '\\';
  let continuation = continuationRegex(escapeToken);
  const instructions: InstructionNode[] = [];
  const emptyContinuationLines: number[] = [];
  let comments: string[] = [];
  let index = 0;
  let currentLine = 0;

  const checkLength = (raw: string, line: number) => {
    if (Buffer.byteLength(trimNewline(raw)) > MAX_LINE_BYTES) {
      throw source.error(`dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`, line, {
        hint: 'split the line with line continuations',
      });
    }
  };

  // Strips line ending (and leading space on an instruction's first line), reads a directive, drops comments.
  const processLine = (raw: string, line: number, stripLeft: boolean): string => {
    checkLength(raw, line);
    let token = trimNewline(raw);
    if (stripLeft) token = trimGoSpaceLeft(token);
    let directive: ParserDirective | undefined;
    try {
      directive = directiveParser.parseLine(token);
    } catch (err) {
      throw withLocation(err, source, line);
    }
    if (directive) {
      directives.push(directive);
      if (directive.name === 'escape') {
        if (directive.value !== '`' && directive.value !== '\\') {
          throw source.error(`invalid escape token '${directive.value}' does not match \` or \\`, line, {
            hint: 'the escape directive takes a backslash or a backtick',
          });
        }
        escapeToken = directive.value;
        continuation = continuationRegex(escapeToken);
      }
      // A directive is not a comment that describes the next instruction.
      comments.pop();
    }
    return isComment(token) ? '' : token;
  };

  while (index < lineCount) {
    const raw = rawLine(index++);
    if (isComment(raw)) {
      // BuildKit drops the first character of the raw line, so an indented comment keeps its "#".
      const comment = trimGoSpace(raw.slice(codePointAt(raw, 0).length));
      if (comment === '') comments = [];
      else comments.push(comment);
    }
    let processed = processLine(raw, currentLine + 1, true);
    currentLine++;
    const startLine = currentLine;
    let [text, complete] = trimContinuation(processed, continuation);
    if (complete && text.length === 0) continue;
    // Pieces are joined once: a string grown piece by piece over millions of continuation lines is a chain of millions of nodes.
    const pieces = [text];
    let hasEmptyContinuation = false;
    while (!complete && index < lineCount) {
      const next = rawLine(index++);
      processed = processLine(next, currentLine + 1, false);
      currentLine++;
      if (isComment(next)) continue;
      if (trimGoSpaceLeft(processed).length === 0) {
        hasEmptyContinuation = true;
        continue;
      }
      [text, complete] = trimContinuation(processed, continuation);
      pieces.push(text);
    }
    const joined = pieces.join('');
    if (hasEmptyContinuation) emptyContinuationLines.push(currentLine);

    let node: InstructionNode;
    try {
      node = nodeFromLine(joined, escapeToken, comments);
    } catch (err) {
      throw withLocation(err, source, startLine);
    }
    node.startLine = startLine;

    const heredocHost = node.keyword.toLowerCase() === 'onbuild' && node.trigger ? node.trigger : node;
    if (HEREDOC_INSTRUCTIONS.has(heredocHost.keyword.toLowerCase()) && !heredocHost.json && joined.includes('<<')) {
      let docs: ReturnType<typeof heredocsInLine>;
      try {
        docs = heredocsInLine(joined);
      } catch (err) {
        throw withLocation(err, source, startLine);
      }
      for (const doc of docs) {
        const body: string[] = [];
        let terminated = false;
        while (index < lineCount) {
          const bodyLine = rawLine(index++);
          currentLine++;
          let candidate = trimNewline(bodyLine);
          if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === doc.name) {
            terminated = true;
            break;
          }
          body.push(bodyLine);
        }
        if (!terminated) {
          throw source.error('unterminated heredoc', startLine, {
            needle: `<<`,
            hint: `end the heredoc with a line containing only ${doc.name}`,
          });
        }
        node.heredocs.push({ ...doc, content: body.join('') });
      }
      // An ONBUILD trigger carries its heredocs too.
      if (heredocHost !== node) heredocHost.heredocs = node.heredocs;
    }
    node.endLine = currentLine;
    if (instructions.length === MAX_INSTRUCTIONS) {
      throw source.error(`the Dockerfile has more than ${MAX_INSTRUCTIONS} instructions`, startLine, {
        hint: 'one RUN can run many commands and one ENV or LABEL set many values; or split the build into several Dockerfiles',
      });
    }
    instructions.push(node);
    comments = [];
  }

  if (instructions.length === 0) {
    throw source.error('file with no instructions', Math.max(1, currentLine), { hint: 'a Dockerfile needs at least a FROM instruction' });
  }
  return { source, escapeToken, directives, instructions, emptyContinuationLines };
}

/** Parses one instruction line (continuations already joined), as for an ONBUILD trigger. */
export function nodeFromLine(line: string, escape: EscapeToken, comments: string[]): InstructionNode {
  // ONBUILD's trigger is itself a line, followed in a loop.
  const chain = [nodeHead(line, trimGoSpace(line), escape, comments)];
  for (let last = chain[0]!; last.node.keyword.toLowerCase() === 'onbuild' && last.rest !== ''; ) {
    // `ONBUILD ONBUILD x` parses (BuildKit's AST has it, and reading the instruction rejects it); a third
    // level is refused here, so a line of thousands of ONBUILDs does not become thousands of nodes.
    if (chain.length === 3) throw chainedOnBuild();
    const trigger = nodeHead(last.rest, last.rest, escape, []);
    last.node.trigger = trigger.node;
    chain.push(trigger);
    last = trigger;
  }
  for (const { node, rest } of chain) {
    const keyword = node.keyword.toLowerCase();
    // An ONBUILD's argument is its trigger.
    if (keyword === 'onbuild') continue;
    const parser = LINE_PARSERS[keyword];
    // Unknown instructions parse to an empty argument here; interpreting them reports the error.
    const parsed = parser ? parser(trimGoSpace(rest), escape) : { args: [''], json: false };
    node.args = parsed.args;
    node.json = parsed.json;
  }
  return chain[0]!.node;
}

export function chainedOnBuild(): GantryError {
  return new GantryError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed', { hint: 'an ONBUILD trigger cannot be ONBUILD' });
}

/** Keyword and flags of `trimmed` (`line` as written); the rest of the line is returned unparsed. */
function nodeHead(line: string, trimmed: string, escape: EscapeToken, comments: string[]): { node: InstructionNode; rest: string } {
  const split = WHITESPACE_RE.exec(trimmed);
  const keyword = split ? trimmed.slice(0, split.index) : trimmed;
  let flags: string[] = [];
  let rest = '';
  if (split) [rest, flags] = extractFlags(trimmed.slice(split.index + split[0].length), escape);
  const node: InstructionNode = {
    keyword,
    flags,
    args: [],
    json: false,
    heredocs: [],
    original: line,
    startLine: 0,
    endLine: 0,
    comments: [...comments],
  };
  return { node, rest };
}

/** The line without its trailing CR and LF characters (a loop: a regular expression is quadratic on a run of CRs). */
function trimNewline(line: string): string {
  let end = line.length;
  while (end > 0 && (line[end - 1] === '\n' || line[end - 1] === '\r')) end--;
  return end === line.length ? line : line.slice(0, end);
}

function isComment(line: string): boolean {
  return trimGoSpaceLeft(line).startsWith('#');
}

/** The escape character at the end of a line continues it, unless it is itself escaped. */
function continuationRegex(escape: EscapeToken): RegExp {
  const e = escape === '\\' ? '\\\\' : '`';
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

function trimContinuation(line: string, continuation: RegExp): [string, boolean] {
  if (continuation.test(line)) return [line.replace(continuation, '$1'), false];
  return [line, true];
}

/**
 * Leading `--flag` words (quotes removed, escapes applied) and the rest of the line from its first
 * non-space character. A lone `--` ends the flags. Works on string positions, so the cost is that of
 * the flags, not of the whole line (an ONBUILD chain calls it once a level).
 */
function extractFlags(line: string, escape: EscapeToken): [string, string[]] {
  const words: string[] = [];
  let word = '';
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOk = false;
  const charAt = (at: number): string => codePointAt(line, at);
  for (let pos = 0; pos <= line.length; ) {
    const atEnd = pos === line.length;
    let ch = atEnd ? '' : charAt(pos);
    let after = pos + ch.length;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isGoSpace(ch)) {
        pos = after;
        continue;
      }
      if (ch !== '-' || line[after] !== '-') return [line.slice(pos), words];
      phase = 'word';
    }
    if (atEnd) {
      if (word !== '--' && (blankOk || word.length > 0)) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces';
        if (word === '--') {
          let from = after;
          while (from < line.length && isGoSpace(charAt(from))) from += charAt(from).length;
          return [line.slice(from), words];
        }
        if (blankOk || word.length > 0) words.push(word);
        word = '';
        blankOk = false;
        pos = after;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
        pos = after;
        continue;
      }
      if (ch === escape) {
        if (after === line.length) {
          pos = after;
          continue;
        }
        ch = charAt(after);
        after += ch.length;
      }
      word += ch;
      pos = after;
      continue;
    }
    // Inside quotes.
    if (ch === quote) {
      phase = 'word';
      pos = after;
      continue;
    }
    if (ch === escape) {
      if (after === line.length) {
        phase = 'word';
        pos = after;
        continue;
      }
      ch = charAt(after);
      after += ch.length;
    }
    word += ch;
    pos = after;
  }
  return ['', words];
}

/**
 * Space-separated words keeping quotes and escapes (they are processed at expansion time); quoted
 * spaces do not split.
 */
export function parseWords(rest: string, escape: EscapeToken): string[] {
  // A word is the text between its boundaries as written, so it is sliced from the line, never built a character at a time.
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOk = false;
  let start = 0;
  const finish = (end: number) => {
    if (blankOk || end > start) words.push(rest.slice(start, end));
  };
  for (let pos = 0; pos <= rest.length; ) {
    if (pos === rest.length) {
      if (phase !== 'spaces') finish(pos);
      break;
    }
    const ch = codePointAt(rest, pos);
    let after = pos + ch.length;
    if (phase === 'spaces') {
      if (isGoSpace(ch)) {
        pos = after;
        continue;
      }
      phase = 'word';
      start = pos;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces';
        finish(pos);
        blankOk = false;
        pos = after;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
      }
    } else if (ch === quote) {
      phase = 'word';
    }
    // An escape keeps the escaped character (even a quote) in the word; single quotes escape nothing; a final escape is dropped.
    if (ch === escape && (phase === 'word' || quote !== "'")) {
      if (after === rest.length) {
        finish(pos);
        break;
      }
      after += codePointAt(rest, after).length;
    }
    pos = after;
  }
  return words;
}

/** ENV and LABEL: `key=value ...` or the legacy `key value`. */
function parseNameValue(rest: string, instruction: 'ENV' | 'LABEL', escape: EscapeToken): string[] {
  const words = parseWords(rest, escape);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const split = WHITESPACE_RE.exec(rest);
    if (!split) {
      throw new GantryError(`${instruction} must have two arguments`, {
        hint: `write ${instruction} ${words[0]}=<value>`,
      });
    }
    return [rest.slice(0, split.index), rest.slice(split.index + split[0].length), ''];
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) {
      throw new GantryError(`Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`, {
        hint: `every ${instruction} item must be name=value; quote values that contain spaces`,
      });
    }
    args.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return args;
}

function splitWhitespace(rest: string): string[] {
  return rest === '' ? [] : rest.split(WHITESPACE_RE);
}

function parseString(rest: string): { args: string[]; json: boolean } {
  return { args: rest === '' ? [] : [rest], json: false };
}

/** Go's JSON decoder refuses deeper nesting, so BuildKit reads such an argument as shell form. */
const MAX_JSON_DEPTH = 10_000;

/**
 * Whether the arrays and objects of a JSON text nest at most `limit` deep. Checked before parsing, which
 * would otherwise build millions of nested arrays for a line of `[[[[...`.
 */
function nestingWithin(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') {
      if (++depth > limit) return false;
    } else if (ch === ']' || ch === '}') depth--;
  }
  return true;
}

class NotStringArrayError extends GantryError {
  constructor() {
    super('when using JSON array syntax, arrays must be comprised of strings only', {
      hint: 'quote every item of the JSON array, e.g. ["echo", "1"]',
    });
  }
}

/** The items of a JSON array of strings; undefined when `rest` is not a JSON array at all. */
function parseJsonArray(rest: string): string[] | undefined {
  const text = trimGoSpaceLeft(rest);
  if (!text.startsWith('[') || !nestingWithin(text, MAX_JSON_DEPTH)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  return value.map((item) => {
    if (typeof item !== 'string') throw new NotStringArrayError();
    return item;
  });
}

function parseMaybeJson(rest: string): { args: string[]; json: boolean } {
  if (rest === '') return { args: [], json: false };
  const items = parseJsonArray(rest);
  if (items) return { args: items, json: true };
  return { args: [rest], json: false };
}

function parseMaybeJsonToList(rest: string): { args: string[]; json: boolean } {
  const items = parseJsonArray(rest);
  if (items) return { args: items, json: true };
  return { args: splitWhitespace(rest), json: false };
}

function parseHealthConfig(rest: string): { args: string[]; json: boolean } {
  const chars = Array.from(rest);
  let sep = 0;
  while (sep < chars.length && !isGoSpace(chars[sep]!)) sep++;
  if (sep === 0) return { args: [], json: false };
  let next = sep;
  while (next < chars.length && isGoSpace(chars[next]!)) next++;
  const command = parseMaybeJson(chars.slice(next).join(''));
  return { args: [chars.slice(0, sep).join(''), ...command.args], json: command.json };
}
