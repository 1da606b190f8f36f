/**
 * Reading .dockerignore files as Docker does (moby/patternmatcher's ignorefile reader) and choosing
 * which one applies: `<Dockerfile>.dockerignore` beside the Dockerfile wins over
 * `<context>/.dockerignore`.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, relative, resolve, isAbsolute } from 'node:path';
import { GantryError, errnoCode, type SourceLocation } from '../util/index.js';
import { cleanPath } from './go-path.js';
import { PatternMatcher, goTrimSpace } from './pattern-matcher.js';
import { resolveInRoot } from './root-fs.js';

/** One pattern line of an ignore file. */
export interface IgnoreFileLine {
  /** The pattern as Docker's reader returns it: trimmed, cleaned, without a leading '/'. */
  pattern: string;
  /** 1-based line number in the file. */
  line: number;
  /** The line as written. */
  text: string;
}

/**
 * Docker's ignore-file reader: a UTF-8 byte order mark is dropped; lines starting with '#' (in the
 * first column, before any trimming) are comments; the rest are trimmed, empty ones skipped; the
 * path after an optional '!' is trimmed again, cleaned, and loses one leading '/'.
 */
export function parseIgnoreFile(content: string): IgnoreFileLine[] {
  const lines = content.split('\n');
  // A final newline ends the last line rather than starting an empty one.
  if (lines.at(-1) === '') lines.pop();
  const out: IgnoreFileLine[] = [];
  lines.forEach((raw, index) => {
    let text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (index === 0 && text.startsWith('\uFEFF')) text = text.slice(1);
    if (text.startsWith('#')) return;
    let pattern = goTrimSpace(text);
    if (pattern === '') return;
    const exception = pattern.startsWith('!');
    if (exception) pattern = goTrimSpace(pattern.slice(1));
    if (pattern !== '') {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push({ pattern: exception ? `!${pattern}` : pattern, line: index + 1, text });
  });
  return out;
}

/** The .dockerignore rules of a build: the patterns, and the file they came from (if any). */
export class IgnoreMatcher extends PatternMatcher {
  constructor(
    /** Absolute path of the ignore file in effect, or undefined when there is none. */
    readonly file: string | undefined,
    /** The file's pattern lines. */
    readonly lines: readonly IgnoreFileLine[],
    /** How messages name the file (relative to the working directory when inside it). */
    readonly displayName: string = file === undefined ? '.dockerignore' : displayPath(file),
  ) {
    super(
      lines.map((l) => l.pattern),
      {
        origin: displayName,
        locate: (index): SourceLocation | undefined => {
          const line = lines[index];
          return line && { file: displayName, line: line.line, column: 1, lineText: line.text };
        },
      },
    );
  }

  /** An ignore matcher with no patterns, for builds without a .dockerignore. */
  static none(): IgnoreMatcher {
    return new IgnoreMatcher(undefined, []);
  }

  /** Why `path` is excluded, e.g. `.dockerignore line 3: "secret*"`, or undefined when it is not. */
  describeExclusion(path: string): string | undefined {
    if (!this.isIgnored(path)) return undefined;
    const pattern = this.decidingPattern(path);
    const line = pattern && this.lines[pattern.sourceIndex];
    return line ? `${this.displayName} line ${line.line}: "${line.text.trim()}"` : this.displayName;
  }
}

/**
 * Loads the ignore rules for a build. `dockerfilePath` (absolute, or relative to the working
 * directory) is the Dockerfile in use; when `<Dockerfile>.dockerignore` exists beside it, that file
 * applies and the context's `.dockerignore` is not read. Omit it for a Dockerfile read from stdin.
 */
export async function loadDockerignore(contextDir: string, dockerfilePath?: string): Promise<IgnoreMatcher> {
  const context = resolve(contextDir);
  if (dockerfilePath !== undefined) {
    const dockerfile = resolve(dockerfilePath);
    const specific = readInRoot(dirname(dockerfile), `${basename(dockerfile)}.dockerignore`);
    if (specific !== undefined) return new IgnoreMatcher(specific.file, parseIgnoreFile(specific.content));
  }
  const general = readInRoot(context, '.dockerignore');
  if (general === undefined) return IgnoreMatcher.none();
  return new IgnoreMatcher(general.file, parseIgnoreFile(general.content));
}

/**
 * The largest ignore file gantry reads, in bytes. Real ones are a few kilobytes; every pattern is
 * matched against every path of the context, and one just under this limit still loads and matches in
 * bounded memory and time (see the attack suite's figures).
 */
export const MAX_IGNORE_FILE_BYTES = 256 * 1024;

/**
 * Reads `name` inside `root` with symlinks resolved inside the root, as BuildKit reads these files
 * from the transferred directory. Missing, or not a regular file: undefined. One over
 * MAX_IGNORE_FILE_BYTES is refused before it is read.
 */
function readInRoot(root: string, name: string): { file: string; content: string } | undefined {
  const target = resolveInRoot(root, name, true);
  if (target.stats === undefined || !target.stats.isFile()) return undefined;
  const file = `${root}/${target.path}`;
  if (target.stats.size > MAX_IGNORE_FILE_BYTES) {
    throw new GantryError(`${displayPath(file)} is ${target.stats.size} bytes, more than the limit of ${MAX_IGNORE_FILE_BYTES} bytes (256 KiB) for an ignore file`, {
      location: { file: displayPath(file), line: 1, column: 1 },
      hint: 'an ignore file lists patterns, a few kilobytes at most: look for generated or pasted content in it',
    });
  }
  try {
    return { file, content: readFileSync(file, 'utf8') };
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    // Building without rules the user wrote could send secrets into the image: refuse instead.
    throw new GantryError(`cannot read ${displayPath(file)}: ${code ?? String(err)}`, {
      hint: 'make the ignore file readable by the user running gantry',
      cause: err,
    });
  }
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/**
 * The predicate BuildKit's CopyIgnoredFile check uses: never true when the ignore file has `!`
 * exceptions (the check cannot tell then), and for the context root "." only when a pattern
 * excludes everything (`*`, `**`, `**` + `/*`).
 */
export function copyIgnoredCheck(matcher: PatternMatcher): (contextPath: string) => boolean {
  const excludesEverything = matcher.patterns.some((p) => !p.exception && (p.text === '*' || p.text === '**' || p.text === '**/*'));
  return (contextPath) => {
    if (matcher.hasExceptions) return false;
    if (contextPath === '.' || contextPath === '') return excludesEverything;
    return matcher.isIgnored(contextPath);
  };
}
