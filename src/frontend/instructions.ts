/**
 * Typed instructions from the parsed Dockerfile: arguments and flags validated per instruction, stages
 * split at each FROM, and the ARGs before the first FROM collected as global ("meta") args. Word
 * expansion happens later, when a stage is planned (plan.ts), because values depend on the stage.
 */
import { GantryError, goQuote, parseGoDuration } from '../util/index.js';
import type { HealthConfig } from '../image/index.js';
import { Messages, Rules, type Linter } from './checks.js';
import { FlagSet } from './flags.js';
import { chompHeredocContent, parseHeredocWord } from './heredoc.js';
import { chainedOnBuild, INSTRUCTION_NAMES, type InstructionNode, type ParsedDockerfile } from './parser.js';
import { parseCsvFields } from './run-mounts.js';
import type { DockerfileSource } from './source.js';
import { suggest } from './suggest.js';

export interface KeyValue {
  key: string;
  value: string;
  /** Written in the legacy `KEY value` form. */
  legacy: boolean;
}

export interface ArgDefinition {
  key: string;
  /** The default as written (unexpanded); undefined for `ARG NAME`. */
  value?: string;
}

/** A heredoc used as a file: a COPY/ADD source or a RUN script. */
export interface InlineSource {
  name: string;
  content: string;
  /** Whether `$VAR` references in the content are expanded (unquoted delimiter). */
  expand: boolean;
  chomp: boolean;
}

export interface ShellDependentCommand {
  /** JSON form: the argv; shell form: one string. */
  cmdLine: string[];
  /** Shell form: the stage's SHELL is put in front. */
  prependShell: boolean;
  files: InlineSource[];
}

export interface CopySpec {
  sources: string[];
  inlineSources: InlineSource[];
  dest: string;
  chown: string;
  chmod: string;
  link: boolean;
  exclude: string[];
}

interface Common {
  node: InstructionNode;
  /** The keyword as written, e.g. "copy". */
  keyword: string;
  line: number;
  /** The instruction as written, continuation lines joined and trimmed. */
  original: string;
  comments: string[];
  /** Set on ONBUILD triggers taken from a base image or base stage. */
  fromOnBuild?: boolean;
}

export type Instruction = Common &
  (
    | { kind: 'env'; pairs: KeyValue[] }
    | { kind: 'label'; pairs: KeyValue[] }
    | { kind: 'maintainer'; maintainer: string }
    | ({ kind: 'copy'; from: string; parents: boolean } & CopySpec)
    | ({ kind: 'add'; checksum: string; keepGitDir?: boolean; unpack?: boolean } & CopySpec)
    | { kind: 'onbuild'; expression: string }
    | { kind: 'workdir'; path: string }
    | ({ kind: 'run'; mounts: string[]; network: 'default' | 'none' | 'host'; security: 'sandbox' | 'insecure' } & ShellDependentCommand)
    | ({ kind: 'cmd' } & ShellDependentCommand)
    | ({ kind: 'entrypoint' } & ShellDependentCommand)
    | { kind: 'healthcheck'; health: HealthConfig & { Test: string[] } }
    | { kind: 'expose'; ports: string[] }
    | { kind: 'user'; user: string }
    | { kind: 'volume'; volumes: string[] }
    | { kind: 'stopsignal'; signal: string }
    | { kind: 'arg'; args: ArgDefinition[] }
    | { kind: 'shell'; shell: string[] }
  );

export type InstructionOf<K extends Instruction['kind']> = Extract<Instruction, { kind: K }>;

export interface StageDefinition {
  /** Position among the stages. */
  index: number;
  /** Lower-cased name from `AS name`. */
  name?: string;
  /** The name as written. */
  nameAsWritten?: string;
  /** The base as written, before expansion. */
  baseName: string;
  /** `--platform` as written, before expansion. */
  platform?: string;
  /** The FROM keyword as written. */
  keyword: string;
  node: InstructionNode;
  line: number;
  original: string;
  comments: string[];
  instructions: Instruction[];
}

export interface DockerfileDefinition {
  stages: StageDefinition[];
  /** ARGs before the first FROM. */
  metaArgs: InstructionOf<'arg'>[];
}

const VALID_STAGE_NAME = /^[a-z][a-z0-9\-_.]*$/;

/**
 * Interprets every instruction. Runs the checks BuildKit runs while reading instructions. Throws a
 * GantryError located at the offending instruction.
 */
export function parseInstructions(parsed: ParsedDockerfile, lint: Linter): DockerfileDefinition {
  const stages: StageDefinition[] = [];
  const metaArgs: InstructionOf<'arg'>[] = [];
  for (const node of parsed.instructions) {
    const nodeLint = lint.withComments(node.comments);
    const keyword = node.keyword.toLowerCase();
    if (keyword === 'from') {
      stages.push(parseFrom(node, stages.length, parsed.source, nodeLint));
      continue;
    }
    const instruction = parseInstruction(node, parsed.source, nodeLint);
    if (stages.length === 0) {
      if (instruction.kind === 'arg') {
        metaArgs.push(instruction);
        continue;
      }
      throw parsed.source.error(`${node.keyword.toUpperCase()} before the first FROM: no build stage in current context`, node.startLine, {
        hint: 'only ARG instructions may come before the first FROM',
      });
    }
    stages[stages.length - 1]!.instructions.push(instruction);
  }
  return { stages, metaArgs };
}

/**
 * Interprets one non-FROM instruction node. Throws a GantryError located at the node (for ONBUILD
 * triggers, the FROM line of the stage they run in).
 */
export function parseInstruction(node: InstructionNode, source: DockerfileSource, lint: Linter): Instruction {
  try {
    return interpret(node, lint);
  } catch (err) {
    if (err instanceof GantryError && !err.location) {
      throw new GantryError(err.message, {
        location: source.location(node.startLine, locateNeedle(err, node)),
        hint: err.hint,
        cause: err.cause,
      });
    }
    throw err;
  }
}

/** The text an error is about, so the caret points at it (a flag, or the keyword). */
function locateNeedle(err: GantryError, node: InstructionNode): string | undefined {
  const named = /(--[a-z-]+)/.exec(err.message)?.[1];
  const topic = /\b(network|security|mount|device)\b/.exec(err.message)?.[1];
  const flag = named ?? (topic === undefined ? undefined : `--${topic}`);
  if (flag && node.flags.some((f) => f.startsWith(flag))) return flag;
  return node.keyword;
}

function interpret(node: InstructionNode, lint: Linter): Instruction {
  const common: Common = {
    node,
    keyword: node.keyword,
    line: node.startLine,
    original: node.original.trim(),
    comments: node.comments,
  };
  const args = nodeArgs(node);
  const upper = node.keyword.toUpperCase();
  const flags = new FlagSet(node.flags, upper);
  switch (node.keyword.toLowerCase()) {
    case 'env':
    case 'label': {
      flags.parse();
      const kind = node.keyword.toLowerCase() as 'env' | 'label';
      return { ...common, kind, pairs: keyValuePairs(args, upper) };
    }
    case 'maintainer':
      lint.run(Rules.MaintainerDeprecated, node.startLine, Messages.maintainerDeprecated());
      exactlyOne(args, 'MAINTAINER');
      flags.parse();
      return { ...common, kind: 'maintainer', maintainer: args[0]! };
    case 'add': {
      if (args.length < 2) throw noDestination('ADD');
      flags.addString('chown');
      flags.addString('chmod');
      flags.addBool('link');
      flags.addBool('keep-git-dir');
      flags.addString('checksum');
      flags.addBool('unpack');
      flags.addStrings('exclude');
      flags.parse();
      return {
        ...common,
        kind: 'add',
        ...sourcesAndDest(node, args, 'ADD'),
        chown: flags.string('chown'),
        chmod: flags.string('chmod'),
        link: flags.bool('link'),
        exclude: flags.strings('exclude'),
        checksum: flags.string('checksum'),
        keepGitDir: flags.optionalBool('keep-git-dir'),
        unpack: flags.optionalBool('unpack'),
      };
    }
    case 'copy': {
      if (args.length < 2) throw noDestination('COPY');
      flags.addString('chown');
      flags.addString('from');
      flags.addString('chmod');
      flags.addBool('link');
      flags.addStrings('exclude');
      flags.addBool('parents');
      flags.parse();
      return {
        ...common,
        kind: 'copy',
        ...sourcesAndDest(node, args, 'COPY'),
        from: flags.string('from'),
        chown: flags.string('chown'),
        chmod: flags.string('chmod'),
        link: flags.bool('link'),
        exclude: flags.strings('exclude'),
        parents: flags.bool('parents'),
      };
    }
    case 'onbuild':
      return { ...common, kind: 'onbuild', expression: parseOnBuild(node, args, flags) };
    case 'workdir':
      exactlyOne(args, 'WORKDIR');
      flags.parse();
      return { ...common, kind: 'workdir', path: args[0]! };
    case 'run': {
      flags.addStrings('mount');
      flags.addString('network', 'default');
      flags.addString('security', 'sandbox');
      flags.addStrings('device');
      flags.parse();
      const network = flags.string('network');
      if (network !== 'default' && network !== 'none' && network !== 'host') {
        throw new GantryError(`invalid network mode ${goQuote(network)}`, { hint: 'use --network=default, none or host' });
      }
      const security = flags.string('security');
      if (security !== 'sandbox' && security !== 'insecure') {
        throw new GantryError(`security ${goQuote(security)} is not valid`, { hint: 'use --security=sandbox or insecure' });
      }
      if (flags.isUsed('device')) {
        throw new GantryError('device feature is only supported in Dockerfile frontend 1.14.0-labs or later', {
          hint: 'gantry does not implement RUN --device',
        });
      }
      const mounts = flags.strings('mount');
      for (const mount of mounts) rejectVariableMountFrom(mount);
      return { ...common, kind: 'run', ...shellDependent(node, args, false), mounts, network, security };
    }
    case 'cmd':
      flags.parse();
      return { ...common, kind: 'cmd', ...shellDependent(node, args, false) };
    case 'entrypoint':
      flags.parse();
      return { ...common, kind: 'entrypoint', ...shellDependent(node, args, true) };
    case 'healthcheck':
      return { ...common, kind: 'healthcheck', health: parseHealthcheck(node, args, flags) };
    case 'expose':
      if (args.length === 0) throw atLeastOne('EXPOSE');
      flags.parse();
      // BuildKit sorts the ports as written, before expansion.
      return { ...common, kind: 'expose', ports: [...args].sort(compareGoStrings) };
    case 'user':
      exactlyOne(args, 'USER');
      flags.parse();
      return { ...common, kind: 'user', user: args[0]! };
    case 'volume': {
      if (args.length === 0) throw atLeastOne('VOLUME');
      flags.parse();
      const volumes = args.map((volume) => volume.trim());
      if (volumes.some((volume) => volume === '')) {
        throw new GantryError('VOLUME specified can not be an empty string', { hint: 'remove the empty item' });
      }
      return { ...common, kind: 'volume', volumes };
    }
    case 'stopsignal':
      exactlyOne(args, 'STOPSIGNAL');
      // BuildKit ignores flags here; gantry rejects them like on every other instruction.
      flags.parse();
      return { ...common, kind: 'stopsignal', signal: args[0]! };
    case 'arg': {
      if (args.length === 0) throw atLeastOne('ARG');
      flags.parse();
      const definitions = args.map((word): ArgDefinition => {
        const eq = word.indexOf('=');
        if (eq < 0) return { key: word };
        if (eq === 0) throw new GantryError('ARG names can not be blank', { hint: 'write ARG NAME=value' });
        return { key: word.slice(0, eq), value: word.slice(eq + 1) };
      });
      checkDefinitionDescription(lint, 'ARG', definitions.map((d) => d.key), node);
      return { ...common, kind: 'arg', args: definitions };
    }
    case 'shell': {
      flags.parse();
      const shell = handleJsonArgs(args, node.json);
      if (shell.length === 0) throw atLeastOne('SHELL');
      if (!node.json) {
        throw new GantryError('SHELL requires the arguments to be in JSON form', {
          hint: 'write SHELL ["/bin/bash", "-c"]',
        });
      }
      return { ...common, kind: 'shell', shell };
    }
  }
  const close = suggest(node.keyword, INSTRUCTION_NAMES, false);
  throw new GantryError(`unknown instruction: ${node.keyword}`, {
    hint: close ? `did you mean ${close}?` : `instructions are ${INSTRUCTION_NAMES.join(', ')}`,
  });
}

function parseFrom(node: InstructionNode, index: number, source: DockerfileSource, lint: Linter): StageDefinition {
  const args = node.args;
  if (args.length === 3 && args[2] !== args[2]!.toLowerCase()) {
    lint.run(Rules.StageNameCasing, node.startLine, Messages.stageNameCasing(args[2]!));
  }
  if (args.length >= 3) {
    const keyword = node.keyword;
    const fromLower = keyword === keyword.toLowerCase();
    const fromUpper = keyword === keyword.toUpperCase();
    // A FROM in mixed case is ConsistentInstructionCasing's business, not this rule's.
    const mismatch =
      (fromLower && args[1] !== args[1]!.toLowerCase()) || (fromUpper && !fromLower && args[1] !== args[1]!.toUpperCase());
    if (mismatch) lint.run(Rules.FromAsCasing, node.startLine, Messages.fromAsCasing(keyword, args[1]!));
  }
  let name: string | undefined;
  if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
    name = args[2]!.toLowerCase();
    if (!VALID_STAGE_NAME.test(name)) {
      throw source.error(
        `invalid name for build stage: ${goQuote(args[2]!)}, name can't start with a number or contain symbols`,
        node.startLine,
        { needle: args[2], hint: 'stage names start with a letter and contain letters, digits, "-", "_" and "."' },
      );
    }
  } else if (args.length !== 1) {
    throw source.error('FROM requires either one or three arguments', node.startLine, {
      needle: node.keyword,
      hint: 'write FROM <image> or FROM <image> AS <name>',
    });
  }
  const flags = new FlagSet(node.flags, 'FROM');
  flags.addString('platform');
  try {
    flags.parse();
  } catch (err) {
    if (err instanceof GantryError) throw source.error(err.message, node.startLine, { needle: '--', hint: err.hint });
    throw err;
  }
  if (name !== undefined) checkDefinitionDescription(lint, 'FROM', [name], node);
  const platform = flags.string('platform');
  return {
    index,
    name,
    nameAsWritten: name === undefined ? undefined : args[2],
    baseName: args[0]!,
    platform: platform === '' ? undefined : platform,
    keyword: node.keyword,
    node,
    line: node.startLine,
    original: node.original.trim(),
    comments: node.comments,
    instructions: [],
  };
}

/** The arguments of a node as instructions see them (an ONBUILD trigger's keyword comes first, for every level of a chain). */
function nodeArgs(node: InstructionNode): string[] {
  const args: string[] = [];
  let current = node;
  for (; current.trigger; current = current.trigger) args.push(current.trigger.keyword);
  return [...args, ...current.args];
}

function keyValuePairs(args: string[], instruction: string): KeyValue[] {
  if (args.length === 0) throw atLeastOne(instruction);
  if (args.length % 3 !== 0) throw new GantryError(`Bad input to ${instruction}, too many arguments`);
  const pairs: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 3) {
    if (args[i] === '') throw new GantryError(`${instruction} names can not be blank`, { hint: `write ${instruction} name=value` });
    pairs.push({ key: args[i]!, value: args[i + 1]!, legacy: args[i + 2] === '' });
  }
  return pairs;
}

function sourcesAndDest(node: InstructionNode, args: string[], instruction: 'COPY' | 'ADD'): Omit<CopySpec, 'chown' | 'chmod' | 'link' | 'exclude'> {
  const dest = args[args.length - 1]!;
  if (safeHeredocWord(dest)) {
    throw new GantryError(`${instruction} cannot accept a heredoc as a destination`, {
      hint: `the last argument of ${instruction} is the destination path`,
    });
  }
  const sources: string[] = [];
  const inlineSources: InlineSource[] = [];
  for (const src of args.slice(0, -1)) {
    const doc = safeHeredocWord(src);
    if (!doc) {
      sources.push(src);
      continue;
    }
    const body = node.heredocs.find((h) => h.name === doc.name)?.content ?? '';
    inlineSources.push({
      name: doc.name,
      content: doc.chomp ? chompHeredocContent(body) : body,
      expand: doc.expand,
      chomp: doc.chomp,
    });
  }
  return { sources, inlineSources, dest };
}

function safeHeredocWord(word: string): ReturnType<typeof parseHeredocWord> {
  try {
    return parseHeredocWord(word);
  } catch {
    return undefined;
  }
}

function handleJsonArgs(args: string[], json: boolean): string[] {
  if (args.length === 0) return [];
  return json ? [...args] : [args.join(' ')];
}

function shellDependent(node: InstructionNode, args: string[], emptyAsNil: boolean): ShellDependentCommand {
  const cmdLine = handleJsonArgs(args, node.json);
  return {
    cmdLine: emptyAsNil && cmdLine.length === 0 ? [] : cmdLine,
    prependShell: !node.json,
    files: node.heredocs.map((doc) => ({ name: doc.name, content: doc.content, expand: doc.expand, chomp: doc.chomp })),
  };
}

function parseOnBuild(node: InstructionNode, args: string[], flags: FlagSet): string {
  if (args.length === 0) throw atLeastOne('ONBUILD');
  flags.parse();
  const trigger = args[0]!.trim().toUpperCase();
  if (trigger === 'ONBUILD') throw chainedOnBuild();
  if (trigger === 'MAINTAINER' || trigger === 'FROM') {
    throw new GantryError(`${trigger} isn't allowed as an ONBUILD trigger`);
  }
  let expression = node.original.replace(/^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*/i, '');
  for (const doc of node.heredocs) expression += `\n${doc.content}${doc.name}`;
  return expression;
}

function parseHealthcheck(node: InstructionNode, args: string[], flags: FlagSet): HealthConfig & { Test: string[] } {
  if (args.length === 0) throw atLeastOne('HEALTHCHECK');
  const type = args[0]!.toUpperCase();
  const rest = args.slice(1);
  if (type === 'NONE') {
    if (rest.length !== 0) throw new GantryError('HEALTHCHECK NONE takes no arguments', { hint: 'write HEALTHCHECK NONE' });
    // BuildKit ignores flags on HEALTHCHECK NONE; gantry rejects them like on every other instruction.
    flags.parse();
    return { Test: ['NONE'] };
  }
  for (const name of ['interval', 'timeout', 'start-period', 'start-interval', 'retries']) flags.addString(name);
  flags.parse();
  if (type !== 'CMD') {
    throw new GantryError(`Unknown type ${goQuote(type)} in HEALTHCHECK (try CMD)`, { hint: 'write HEALTHCHECK [options] CMD <command>' });
  }
  const command = handleJsonArgs(rest, node.json);
  if (command.length === 0) throw new GantryError('Missing command after HEALTHCHECK CMD');
  const health: HealthConfig & { Test: string[] } = { Test: [node.json ? 'CMD' : 'CMD-SHELL', ...command] };
  health.Interval = parseInterval(flags.string('interval'), 'interval');
  health.Timeout = parseInterval(flags.string('timeout'), 'timeout');
  health.StartPeriod = parseInterval(flags.string('start-period'), 'start-period');
  health.StartInterval = parseInterval(flags.string('start-interval'), 'start-interval');
  const retries = flags.string('retries');
  health.Retries = 0;
  if (retries !== '') {
    if (!/^[+-]?\d+$/.test(retries) || Math.abs(Number(retries)) > 2 ** 31 - 1) {
      throw new GantryError(`strconv.ParseInt: parsing ${goQuote(retries)}: invalid syntax`, { hint: '--retries takes a whole number' });
    }
    const count = Number(retries);
    if (count < 0) throw new GantryError(`--retries cannot be negative (${count})`);
    health.Retries = count;
  }
  return health;
}

function parseInterval(value: string, name: string): number {
  if (value === '') return 0;
  let nanos: number;
  try {
    nanos = parseGoDuration(value);
  } catch (err) {
    if (err instanceof GantryError) {
      throw new GantryError(err.message, { hint: `--${name} takes a duration such as 30s, 1m30s or 500ms` });
    }
    throw err;
  }
  if (nanos === 0) return 0;
  if (nanos < 1e6) throw new GantryError(`Interval ${goQuote(name)} cannot be less than 1ms`);
  return nanos;
}

/** `from=` in a RUN --mount cannot use variables (checked before expansion, as BuildKit does). */
function rejectVariableMountFrom(mount: string): void {
  for (const field of parseCsvFields(mount)) {
    const eq = field.indexOf('=');
    if (eq < 0 || field.slice(0, eq).toLowerCase() !== 'from') continue;
    const value = field.slice(eq + 1);
    const dollar = value.indexOf('$');
    if (dollar !== -1 && dollar !== value.length - 1) {
      throw new GantryError("'from' doesn't support variable expansion, define alias stage instead", {
        hint: 'declare FROM ${ARG} AS <alias> and mount from=<alias>',
      });
    }
  }
}

function checkDefinitionDescription(lint: Linter, instruction: 'ARG' | 'FROM', keys: string[], node: InstructionNode): void {
  if (node.comments.length === 0 || keys.length === 0) return;
  const first = node.comments[node.comments.length - 1]!.split(' ')[0]!;
  if (keys.includes(first)) return;
  const example = keys.length > 1 ? '<arg_key>' : keys[0]!;
  lint.run(Rules.InvalidDefinitionDescription, node.startLine, Messages.invalidDefinitionDescription(instruction, example));
}

function exactlyOne(args: string[], instruction: string): void {
  if (args.length !== 1) {
    throw new GantryError(`${instruction} requires exactly one argument`, {
      hint: args.length === 0 ? `give ${instruction} a value` : `quote the value if it contains spaces`,
    });
  }
}

function atLeastOne(instruction: string): GantryError {
  return new GantryError(`${instruction} requires at least one argument`);
}

function noDestination(instruction: string): GantryError {
  return new GantryError(
    `${instruction} requires at least two arguments, but only one was provided. Destination could not be determined`,
    { hint: `write ${instruction} <source>... <destination>` },
  );
}

/** Go's byte-wise string order (slices.Sort), not JavaScript's UTF-16 order. */
export function compareGoStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
