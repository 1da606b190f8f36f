/**
 * Heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`) in RUN, COPY and ADD: finding the heredoc words on an
 * instruction line and deciding, from the quoting of the delimiter, whether the body is expanded.
 */
import { ShellLexer, type EnvLookup } from './shell-lexer.js';

export interface Heredoc {
  /** The delimiter word, quotes removed; also the file name of a COPY/ADD heredoc source. */
  name: string;
  /** `3<<EOF` redirects file descriptor 3; 0 when none is written. */
  fileDescriptor: number;
  /** False when any part of the delimiter is quoted: the body is then taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the body lines and the delimiter line. */
  chomp: boolean;
  /** The body, each line with its line ending, without the delimiter line. */
  content: string;
}

const HEREDOC_RE = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;

const noEnv: EnvLookup = { get: () => undefined, keys: () => [] };

/** The heredoc a word such as `<<EOF` or `<<-'END'` starts, or undefined if the word is not one. */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const match = HEREDOC_RE.exec(word);
  if (!match) return undefined;
  const rest = match[3]!;
  if (rest === '') return undefined;
  const lexer = new ShellLexer({ skipUnsetEnv: true });
  // Lex the delimiter with and without quote removal: differing quote counts mean it was quoted.
  const words = lexer.processWords(rest, noEnv);
  if (words.length !== 1) return undefined;
  const rawWords = lexer.with({ rawQuotes: true }).processWords(rest, noEnv);
  const name = words[0]!;
  const raw = rawWords[0] ?? '';
  return {
    name,
    fileDescriptor: match[1] === '' ? 0 : Number(match[1]),
    expand: countQuotes(name) === countQuotes(raw),
    chomp: match[2] === '-',
  };
}

/** The heredocs an instruction line opens, in order. */
export function heredocsInLine(line: string): Array<Omit<Heredoc, 'content'>> {
  const lexer = new ShellLexer({ rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  let words: string[];
  try {
    words = lexer.processWords(line, noEnv);
  } catch {
    // A line the lexer cannot split opens no heredoc; the instruction itself reports the problem.
    return [];
  }
  const docs: Array<Omit<Heredoc, 'content'>> = [];
  for (const word of words) {
    const doc = parseHeredocWord(word);
    if (doc) docs.push(doc);
  }
  return docs;
}

/** Strips leading tabs from every line, as `<<-` asks. */
export function chompHeredocContent(content: string): string {
  return content.replace(/(^|\n)\t+/g, '$1');
}

function countQuotes(text: string): number {
  return (text.match(/['"]/g) ?? []).length;
}
