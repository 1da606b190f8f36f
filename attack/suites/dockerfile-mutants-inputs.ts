/**
 * Inputs of the dockerfile-mutants suite: seed Dockerfiles and .dockerignore files taken from the
 * conformance tables, the project's tests and examples, and the mutations applied to them (as bytes,
 * so invalid UTF-8 reaches the frontend exactly as a file on disk would).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Random } from '../lib.js';

export interface Seed {
  name: string;
  text: string;
  /** A .dockerignore that goes with the Dockerfile (build-check cases have some). */
  ignore?: string;
}

export interface Mutant {
  /** What was done, for a finding's report line. */
  description: string;
  bytes: Buffer;
}

/** How big the structural attacks get: `full` goes to the limits, `bounded` stays quick. */
export interface MutationScale {
  /** Nesting depth of `${`, quotes, brackets. */
  depth: number;
  /** Characters of a long line. */
  longLine: number;
  /** Repetitions of a repeated line. */
  repeats: number;
}

const FIXTURES = join('test', 'fixtures', 'conformance');

/** Dockerfiles: BuildKit's parser fixtures, the build-check cases, examples, Dockerfiles quoted in the tests, and feature seeds. */
export function dockerfileSeeds(root: string): Seed[] {
  const seeds: Seed[] = [];
  const parser = readJson<{ positive: Array<{ name: string; dockerfile: string }>; negative: Array<{ name: string; dockerfile: string }> }>(
    join(root, FIXTURES, 'buildkit', 'parser-fixtures.json'),
  );
  for (const row of [...parser.positive, ...parser.negative]) seeds.push({ name: `parser-fixtures:${row.name}`, text: row.dockerfile });
  const checks = readJson<{ cases: Array<{ id: string; dockerfile: string | { unresolved: true }; dockerignore: string | null }> }>(
    join(root, FIXTURES, 'build-checks.json'),
  );
  for (const row of checks.cases) {
    // A few cases' Dockerfiles are built by Go code the table could not evaluate.
    if (typeof row.dockerfile === 'string') seeds.push({ name: `build-checks:${row.id}`, text: row.dockerfile, ignore: row.dockerignore ?? undefined });
  }
  for (const file of filesUnder(join(root, 'examples'))) {
    if (/Dockerfile/.test(file)) seeds.push({ name: file.slice(root.length + 1), text: readFileSync(file, 'utf8') });
  }
  for (const file of filesUnder(join(root, 'test'))) {
    if (!file.endsWith('.test.ts')) continue;
    quotedDockerfiles(readFileSync(file, 'utf8')).forEach((text, i) => seeds.push({ name: `${file.slice(root.length + 1)}#${i}`, text }));
  }
  FEATURE_SEEDS.forEach((text, i) => seeds.push({ name: `feature-seed-${i}`, text }));
  return seeds;
}

/** .dockerignore files: the ignore-file reader's table, the pattern tables grouped into files, the build-check cases'. */
export function ignoreSeeds(root: string): Seed[] {
  const table = readJson<{
    matches: Array<{ pattern: string }>;
    multiPatternMatches: Array<{ patterns: string[] }>;
    exclusionAndErrorTests: Array<{ patterns: string[] }>;
    newPatternTests: Array<{ patterns: string[] }>;
    matchTests: Array<{ pattern: string }>;
    ignorefileReadAll: Array<{ input: string | null }>;
  }>(join(root, FIXTURES, 'dockerignore.json'));
  const seeds: Seed[] = [];
  table.ignorefileReadAll.forEach((row, i) => row.input !== null && seeds.push({ name: `ignorefileReadAll#${i}`, text: row.input }));
  const groups: Array<[string, string[]]> = [
    ['multiPatternMatches', table.multiPatternMatches.flatMap((row) => row.patterns)],
    ['exclusionAndErrorTests', table.exclusionAndErrorTests.flatMap((row) => row.patterns)],
    ['newPatternTests', table.newPatternTests.flatMap((row) => row.patterns)],
  ];
  for (const [name, patterns] of groups) seeds.push({ name, text: `${patterns.join('\n')}\n` });
  // The single-pattern tables, ten patterns a file.
  for (const [name, patterns] of [['matches', table.matches.map((row) => row.pattern)], ['matchTests', table.matchTests.map((row) => row.pattern)]] as const) {
    for (let i = 0; i < patterns.length; i += 10) seeds.push({ name: `${name}#${i}`, text: `${patterns.slice(i, i + 10).join('\n')}\n` });
  }
  const checks = readJson<{ cases: Array<{ id: string; dockerignore: string | null }> }>(join(root, FIXTURES, 'build-checks.json'));
  for (const row of checks.cases) if (row.dockerignore) seeds.push({ name: `build-checks:${row.id}`, text: row.dockerignore });
  return seeds;
}

/** Context paths the mutated ignore files are matched against: the tables' texts and some of every shape. */
export function samplePaths(root: string): string[] {
  const table = readJson<{ matches: Array<{ text: string }>; matchTests: Array<{ s: string }> }>(join(root, FIXTURES, 'dockerignore.json'));
  const paths = new Set<string>(['.', 'Dockerfile', 'src/main.go', 'node_modules/x/index.js', 'a/b/c/d/e/f.txt', 'dir/file.log', 'é/ü.txt', 'a\nb/c', '.git/config']);
  for (const row of table.matches) paths.add(row.text);
  for (const row of table.matchTests) paths.add(row.s);
  paths.add(`${'long/'.repeat(100)}name`);
  paths.add('a'.repeat(255));
  return [...paths];
}

/** Applies one to three mutations to a seed. */
export function mutate(seed: Seed, other: Seed, random: Random, scale: MutationScale, forIgnore: boolean): Mutant {
  let bytes: Buffer = Buffer.from(seed.text, 'utf8');
  const done: string[] = [];
  const count = 1 + random.int(3);
  for (let i = 0; i < count; i++) {
    const operator = random.pick(forIgnore ? IGNORE_OPERATORS : DOCKERFILE_OPERATORS);
    const result = operator(bytes, { random, scale, other: Buffer.from(other.text, 'utf8') });
    bytes = result.bytes;
    done.push(result.what);
  }
  return { description: `${done.join(', ')} of ${seed.name}`, bytes };
}

interface OperatorContext {
  random: Random;
  scale: MutationScale;
  /** A second seed, for splices. */
  other: Buffer;
}

type Operator = (bytes: Buffer, ctx: OperatorContext) => { bytes: Buffer; what: string };

const INVALID_UTF8 = [[0xff], [0xfe], [0xc0, 0x80], [0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]];

const truncate: Operator = (bytes, { random }) => {
  const at = random.int(bytes.length + 1);
  return { bytes: bytes.subarray(0, at), what: `truncated at ${at}` };
};

const flipBytes: Operator = (bytes, { random }) => {
  const out = Buffer.from(bytes);
  const flips = 1 + random.int(8);
  for (let i = 0; i < flips && out.length > 0; i++) out[random.int(out.length)] = random.int(256);
  return { bytes: out, what: `${flips} byte flips` };
};

const insertNuls: Operator = (bytes, { random }) => {
  const at = random.int(bytes.length + 1);
  const count = 1 + random.int(4);
  return { bytes: Buffer.concat([bytes.subarray(0, at), Buffer.alloc(count), bytes.subarray(at)]), what: `${count} NULs at ${at}` };
};

const invalidUtf8: Operator = (bytes, { random }) => {
  const at = random.int(bytes.length + 1);
  const sequence = Buffer.from(random.pick(INVALID_UTF8));
  return { bytes: Buffer.concat([bytes.subarray(0, at), sequence, bytes.subarray(at)]), what: `invalid UTF-8 ${sequence.toString('hex')} at ${at}` };
};

const lineEndings: Operator = (bytes, { random }) => {
  const text = bytes.toString('latin1');
  switch (random.int(4)) {
    case 0:
      return { bytes: Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1'), what: 'CRLF line endings' };
    case 1:
      return { bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]), what: 'a BOM' };
    case 2:
      return { bytes: Buffer.from(text.replace(/\n/g, '\r'), 'latin1'), what: 'CR line endings' };
    default: {
      const at = random.int(bytes.length + 1);
      return { bytes: Buffer.concat([bytes.subarray(0, at), Buffer.from([0xef, 0xbb, 0xbf]), bytes.subarray(at)]), what: `a BOM at ${at}` };
    }
  }
};

const longLine: Operator = (bytes, { random, scale }) => {
  // Over BuildKit's 64 KiB line limit, or just under it.
  const length = random.int(2) === 0 ? scale.longLine : 65_000;
  const filler = random.pick(['x', '${A}', ' ', '"', '\\ ', '[', '\t', 'é']);
  const line = `${random.pick(['RUN ', 'ENV A=', 'LABEL a=', 'COPY ', '', '# ', 'ARG X='])}${filler.repeat(Math.ceil(length / filler.length))}\n`;
  return insertLine(bytes, Buffer.from(line), random, `a ${length}-character line of ${JSON.stringify(filler)}`);
};

/** Text nested `depth` deep, written over continuation lines so that no line passes the line limit. */
function nested(open: string, middle: string, close: string, depth: number, escape = '\\'): string {
  const perLine = Math.max(1, Math.floor(60_000 / Math.max(open.length, close.length, 1)));
  const lines: string[] = [];
  for (let done = 0; done < depth; done += perLine) lines.push(open.repeat(Math.min(perLine, depth - done)));
  lines.push(middle);
  for (let done = 0; done < depth; done += perLine) lines.push(close.repeat(Math.min(perLine, depth - done)));
  return lines.join(`${escape}\n`);
}

const deepNesting: Operator = (bytes, { random, scale }) => {
  const depth = 1 + random.int(scale.depth);
  const shapes: Array<[string, string]> = [
    ['ARG X=', nested('${A:-', 'x', '}', depth)],
    ['ENV X=', nested('${A:+', 'x', '}', depth)],
    ['FROM ', nested('${A:-', 'scratch', '}', depth)],
    ['COPY ', `${nested('${A:-', 'x', '}', depth)} /dst`],
    ['USER ', nested('${A/', 'x', '/y}', depth)],
    ['LABEL a=', `"${nested('${A:-"', 'x', '"}', depth)}"`],
    ['ARG X=', nested('${A#', '*', '}', depth)],
    ['RUN ', nested('[', '"x"', ']', depth)],
    ['CMD ', nested('["', 'x', '"]', depth)],
    ['RUN ', nested("'", 'x', "'", depth)],
    ['ENV X=', nested('"$', '{A}', '"', depth)],
    ['RUN ', `${Array.from({ length: Math.min(depth, 2000) }, (_, i) => `<<E${i}`).join(' ')}\n${Array.from({ length: Math.min(depth, 2000) }, (_, i) => `body\nE${i}`).join('\n')}`],
    ['RUN a', ' \\\n'.repeat(depth)],
    ['ONBUILD ', 'ONBUILD '.repeat(Math.min(depth, 5000)) + 'RUN x'],
    ['RUN ', `${'\\\n'.repeat(depth)}x`],
  ];
  const [prefix, body] = random.pick(shapes);
  return insertLine(bytes, Buffer.from(`${prefix}${body}\n`), random, `${prefix.trim()} nested ${depth} deep`);
};

const splice: Operator = (bytes, { random, other }) => {
  const at = random.int(bytes.length + 1);
  const from = random.int(other.length + 1);
  return { bytes: Buffer.concat([bytes.subarray(0, at), other.subarray(from)]), what: `spliced at ${at} with another file from ${from}` };
};

/**
 * The most bytes a repetition makes: more than the Dockerfile size limit, so inputs over the limit are
 * tried too, but not the gigabytes a long line repeated thousands of times would be (more than a
 * JavaScript string can hold, and refused by the command line before it reads a byte).
 */
const MAX_REPEATED_BYTES = 8 * 1024 * 1024;

const repeatLine: Operator = (bytes, { random, scale }) => {
  const lines = splitLines(bytes);
  if (lines.length === 0) return { bytes, what: 'nothing to repeat' };
  const index = random.int(lines.length);
  const times = Math.min(2 + random.int(scale.repeats), Math.max(2, Math.floor(MAX_REPEATED_BYTES / lines[index]!.length)));
  const repeated = Buffer.concat(Array.from({ length: times }, () => lines[index]!));
  return { bytes: Buffer.concat([...lines.slice(0, index), repeated, ...lines.slice(index + 1)]), what: `line ${index + 1} repeated ${times} times` };
};

const argChain: Operator = (bytes, { random }) => {
  const length = 1 + random.int(48);
  const shape = random.int(3);
  const lines = ['ARG A0=x'];
  for (let i = 1; i <= length; i++) {
    if (shape === 0) lines.push(`ARG A${i}=\${A${i - 1}}\${A${i - 1}}`);
    else if (shape === 1) lines.push(`ENV A${i}="\${A${i - 1}} \${A${i - 1}}"`);
    else lines.push(`ARG A${i}=\${A${i - 1}//x/xxxx}`);
  }
  lines.push('RUN echo $A0');
  return insertLine(bytes, Buffer.from(`${lines.join('\n')}\n`), random, `an ARG chain of ${length} (${['doubling ARG', 'doubling ENV', 'replace-growing'][shape]})`);
};

const swapLines: Operator = (bytes, { random }) => {
  const lines = splitLines(bytes);
  if (lines.length < 2) return { bytes, what: 'nothing to swap' };
  const a = random.int(lines.length);
  const b = random.int(lines.length);
  [lines[a], lines[b]] = [lines[b]!, lines[a]!];
  return { bytes: Buffer.concat(lines), what: `lines ${a + 1} and ${b + 1} swapped` };
};

const dropLines: Operator = (bytes, { random }) => {
  const lines = splitLines(bytes);
  const keep = lines.filter(() => random.int(4) !== 0);
  return { bytes: Buffer.concat(keep), what: `${lines.length - keep.length} lines dropped` };
};

const insertSnippet: Operator = (bytes, { random }) => {
  const snippet = random.pick(SNIPPETS);
  return insertLine(bytes, Buffer.from(`${snippet}\n`), random, `snippet ${JSON.stringify(snippet.slice(0, 30))}`);
};

const DOCKERFILE_OPERATORS: Operator[] = [
  truncate, flipBytes, insertNuls, invalidUtf8, lineEndings, longLine, deepNesting, splice, repeatLine, argChain, swapLines, dropLines,
  insertSnippet, insertSnippet, flipBytes, deepNesting,
];

const ignoreLongLine: Operator = (bytes, { random, scale }) => {
  const filler = random.pick(['*a', '**/', '[a-z]', '\\*', 'x', '!', '?']);
  const line = `${filler.repeat(Math.ceil(random.int(scale.longLine) / filler.length))}\n`;
  return insertLine(bytes, Buffer.from(line), random, `a ${line.length}-character pattern of ${JSON.stringify(filler)}`);
};

const ignorePatterns: Operator = (bytes, { random }) => {
  const pattern = random.pick(IGNORE_SNIPPETS);
  return insertLine(bytes, Buffer.from(`${pattern}\n`), random, `pattern ${JSON.stringify(pattern.slice(0, 30))}`);
};

const IGNORE_OPERATORS: Operator[] = [
  truncate, flipBytes, insertNuls, invalidUtf8, lineEndings, ignoreLongLine, splice, repeatLine, swapLines, dropLines, ignorePatterns, ignorePatterns,
];

function insertLine(bytes: Buffer, line: Buffer, random: Random, what: string): { bytes: Buffer; what: string } {
  const lines = splitLines(bytes);
  const at = random.int(lines.length + 1);
  // A line inserted after an unterminated last line would join it.
  if (at === lines.length && lines.length > 0 && lines[at - 1]![lines[at - 1]!.length - 1] !== 0x0a) lines[at - 1] = Buffer.concat([lines[at - 1]!, Buffer.from('\n')]);
  return { bytes: Buffer.concat([...lines.slice(0, at), line, ...lines.slice(at)]), what: `${what} at line ${at + 1}` };
}

/** Lines with their line endings. */
function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let at = bytes.indexOf(0x0a); at >= 0; at = bytes.indexOf(0x0a, start)) {
    lines.push(bytes.subarray(start, at + 1));
    start = at + 1;
  }
  if (start < bytes.length) lines.push(bytes.subarray(start));
  return lines;
}

/** Single-quoted string literals in a test file that look like a whole Dockerfile. */
function quotedDockerfiles(source: string): string[] {
  const out: string[] = [];
  for (const match of source.matchAll(/'((?:[^'\\\n]|\\.)*)'/g)) {
    const literal = match[1]!;
    if (!/^(?:#[^\n]*\\n)*FROM /i.test(literal) || !literal.includes('\\n')) continue;
    try {
      out.push(JSON.parse(`"${literal.replace(/\\'/g, "'").replace(/"/g, '\\"')}"`) as string);
    } catch {
      // An escape JSON does not know; the other seeds cover it.
    }
  }
  return out;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Dockerfiles that use every instruction and most of their forms, so mutations reach all of the frontend. */
const FEATURE_SEEDS = [
  [
    '# syntax=docker/dockerfile:1',
    '# check=skip=JSONArgsRecommended',
    'ARG BASE=scratch VERSION=1.2',
    'FROM --platform=$BUILDPLATFORM ${BASE} AS build',
    'ARG VERSION',
    'ENV APP=/app PATH="/app/bin:$PATH" NAME=${VERSION%.*}',
    'LABEL org.example.version="$VERSION" description="a \\"quoted\\" value"',
    'WORKDIR $APP',
    'COPY --chown=1000:1000 --chmod=0644 --link --exclude=*.tmp src/ ./src/',
    'ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 https://example.com/a.tar.gz /tmp/',
    'RUN --mount=type=cache,target=/root/.cache,id=c --mount=type=secret,id=tok,env=TOKEN --network=none make ${NAME/./-}',
    'RUN <<EOF',
    '#!/bin/sh',
    'echo "$APP"',
    'EOF',
    'COPY <<-"END" /etc/conf',
    '\tkey=${VERSION}',
    '\tEND',
    'EXPOSE 80/tcp 53/udp ${PORT:-8080}',
    'VOLUME ["/data", "/logs"]',
    'USER ${USER:-nobody}:${GROUP:-nogroup}',
    'HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD ["curl", "-f", "http://localhost/"]',
    'STOPSIGNAL SIGTERM',
    'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
    'ONBUILD RUN echo child',
    'ENTRYPOINT ["/app/bin/run"]',
    'CMD ["--help"]',
    '',
    'FROM build AS final',
    'COPY --from=build /app /app',
    'COPY --from=0 /app/src /src',
    'RUN --mount=type=bind,from=build,source=/app,target=/mnt ls /mnt',
    '',
  ].join('\n'),
  [
    '# escape=`',
    'FROM scratch',
    'RUN dir c:\\ `',
    '  && echo `',
    '  done',
    'ENV A=1 `',
    '    B=2',
    'MAINTAINER someone',
    'ENV legacy value with spaces',
    'LABEL legacy value',
    '',
  ].join('\n'),
  [
    'ARG A=1',
    'ARG B=${A}${A}',
    'ARG C=${B:+set} D=${UNSET:-default} E=${A:?must be set}',
    'FROM scratch AS a',
    'FROM a AS b',
    'ARG A',
    'ENV X=${A#1} Y=${B%%1} Z=${C//e/E} W=${D/#d/D}',
    'COPY --parents ./a/**/b /dst/',
    'RUN echo \'single $A\' "double $A" \\$A',
    'RUN ["sh", "-c", "echo $A"]',
    'CMD echo ${X}',
    '',
  ].join('\n'),
];

/** Instruction lines inserted into Dockerfiles: odd but plausible, valid and invalid. */
const SNIPPETS = [
  'FROM scratch', 'FROM ${IMAGE:-scratch} AS x', 'FROM --platform=linux/arm64 scratch', 'FROM', 'FROM a b c d', 'ARG', 'ARG =x',
  'ENV', 'ENV A', 'ENV =1', 'LABEL', 'RUN', 'RUN []', 'RUN [1, 2]', 'RUN ["a"', 'RUN [', 'CMD {}', 'SHELL sh -c', 'SHELL []',
  'COPY', 'COPY a', 'COPY <<EOF', 'COPY a <<EOF', 'ADD --checksum=x a b', 'COPY --from=$X a b', 'COPY --from=99 a b', 'COPY --nope a b',
  'RUN --mount=type=nope echo', 'RUN --mount=from=$X,target=/x echo', 'RUN --network=mesh x', 'RUN --security=x y',
  'HEALTHCHECK', 'HEALTHCHECK NONE x', 'HEALTHCHECK --interval=1ns CMD x', 'HEALTHCHECK --retries=-1 CMD x', 'HEALTHCHECK --retries=99999999999 CMD x',
  'HEALTHCHECK FOO x', 'EXPOSE', 'EXPOSE 99999', 'EXPOSE 1-2/tcp', 'EXPOSE ${P:-1}-${Q:-0}', 'VOLUME', 'VOLUME [""]', 'USER', 'STOPSIGNAL 0',
  'STOPSIGNAL SIGNOPE', 'WORKDIR', 'WORKDIR relative', 'ONBUILD', 'ONBUILD FROM x', 'ONBUILD ONBUILD x', 'ONBUILD MAINTAINER x',
  'MAINTAINER', 'BOGUS instruction', 'RUN <<EOF\nunterminated', 'RUN <<"EOF" <<-E2\nx\nEOF\n\tE2', '# escape=x', '# check=error=maybe',
  '# syntax=x', 'ARG ${X}', 'ENV ${A:?}=1', 'ARG X=${', 'ARG X=${}', 'ARG X=${:}', 'ARG X=${A:x}', 'ARG X=${A#\\q}', 'ARG X=${A/[/x}',
  'ARG X="unterminated', "ARG X='unterminated", 'RUN echo \\', 'COPY --chmod=999 a b', 'COPY --chmod=u+x a b', 'ADD --unpack=maybe a b',
  'COPY --link=false --link a b', 'FROM scratch AS 1bad', 'FROM scratch AS Upper', 'FROM --platform=windows/amd64 scratch', 'FROM --platform= scratch',
  'FROM --platform=${NOPE} scratch', 'COPY --from=scratch a b', 'RUN --device=x y', 'ENV A=\u0000', 'LABEL "a b"="c d"',
];

/** Patterns inserted into .dockerignore files. */
const IGNORE_SNIPPETS = [
  '*', '**', '**/*', '!', '! ', '!**', '[', '[]', '[a-', '[z-a]', '[^]', '\\', 'a\\', '**/node_modules', '/abs/path', '../up', './.', '#comment',
  ' # not a comment', '*a*a*a*a*a*a*a*a*a*a*b', '**/**/**/**/**/x', '[\\]]', '\u00e9*', '\t\t', 'a/**/b/**/c', '?*?*?*?*?*?*?*?*z',
];
