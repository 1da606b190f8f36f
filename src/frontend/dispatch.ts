/**
 * The dispatch of instructions: each instruction of a stage applied to its state — word expansion with
 * the stage's variables, the image config change, the planned step (argv, mounts, copy sources...) with
 * its BuildKit history string and progress label, and the checks BuildKit runs at this point. One
 * handler per instruction kind, in a table; each takes one call object.
 */
import { formatGoDuration, GantryError, goList, goQuoteList } from '../util/index.js';
import type { BuildArgs } from './build-args.js';
import { Messages, Rules, type Linter } from './checks.js';
import { classifySource, validateChmod } from './copy-sources.js';
import { parseExposedPorts } from './expose.js';
import { goSpaceBounds } from './go-space.js';
import { chompHeredocContent, parseHeredocWord } from './heredoc.js';
import type { Instruction, InstructionOf } from './instructions.js';
import type { ConfigStep, CopySource, CopyStep, InlineFile, PlannedStep, RunMount, RunStep, StepInput, StepSource, WorkdirStep } from './plan-types.js';
import { basePath, cleanPath, joinPath, normalizePath, resolveDestination } from './paths.js';
import type { PlanSize } from './plan-size.js';
import { parseMountSpec } from './run-mounts.js';
import { ShellLexer, ShellSyntaxError, type EnvLookup } from './shell-lexer.js';
import { expansionError, withLocation, type DockerfileSource } from './source.js';
import type { StageCommand, StageNode } from './stage-graph.js';
import { setConfigEnv, snapshotConfig, type SingleInstruction, type StageState } from './stage-state.js';
import { suggest } from './suggest.js';

/** Args BuildKit reads itself and never puts in a RUN environment. */
const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

/** How a stage reads another node of the stage graph (COPY --from, RUN --mount from=). */
export interface StageInputs {
  /** Whether `node` can be read yet: a stage planned before this one, or an image resolved. */
  ready(node: StageNode): boolean;
  /** The plan input for `node`; throws a GantryError at `line` for what has no files (`what` names the reader). */
  input(node: StageNode, line: number, what: string): StepInput;
}

/** What every instruction of a build is dispatched with. */
export interface DispatchOptions {
  source: DockerfileSource;
  /** The Dockerfile's lexer (its escape character). */
  lexer: ShellLexer;
  args: BuildArgs;
  lint: Linter;
  isIgnored?: (contextPath: string) => boolean;
  inputs: StageInputs;
  /** The size of the plan so far, bounded. */
  planSize: PlanSize;
}

/** One instruction to dispatch: the handler's only argument. */
interface DispatchCall<I extends Instruction = Instruction> {
  instruction: I;
  command: StageCommand;
  stage: StageState;
  options: DispatchOptions;
  /** The linter with the instruction's `# check=` comments applied. */
  lint: Linter;
  /** The line errors and checks report (an ONBUILD trigger's is its stage's FROM). */
  line: number;
  /** Expands a word with the stage's variables, reporting UndefinedVar. */
  expand: Expand;
}

type Handlers = { [K in Instruction['kind']]: (call: DispatchCall<InstructionOf<K>>) => PlannedStep };

/** Applies `command` to `stage` and appends the planned step. Throws a GantryError located at the instruction. */
export function dispatchCommand(stage: StageState, command: StageCommand, options: DispatchOptions): void {
  const instruction = command.instruction;
  // ONBUILD triggers run at, and report against, the FROM line of the stage they run in.
  const line = command.fromOnBuild ? stage.definition.line : instruction.line;
  const lint = options.lint.withComments(instruction.comments);
  const call: DispatchCall = { instruction, command, stage, options, lint, line, expand: expander(stage, options, lint, line, instruction.keyword) };
  try {
    // The table's handler for this kind takes this kind's call; TypeScript cannot relate the two unions.
    const step = (HANDLERS[instruction.kind] as (call: DispatchCall) => PlannedStep)(call);
    options.planSize.addStep(step, stage.steps.at(-1));
    stage.steps.push(step);
  } catch (err) {
    throw withLocation(err, options.source, line, command.fromOnBuild ? undefined : instruction.keyword);
  }
}

const HANDLERS: Handlers = {
  env: dispatchEnv,
  label: dispatchLabel,
  maintainer: (call) => {
    call.stage.author = call.instruction.maintainer;
    return configStep(call, `MAINTAINER ${call.instruction.maintainer}`);
  },
  run: dispatchRun,
  workdir: dispatchWorkdir,
  add: dispatchCopy,
  copy: dispatchCopy,
  onbuild: (call) => {
    call.stage.config.OnBuild = [...(call.stage.config.OnBuild ?? []), call.instruction.expression];
    // BuildKit records no history entry for ONBUILD.
    return { ...configStep(call, `ONBUILD ${call.instruction.expression}`), history: undefined };
  },
  cmd: dispatchCmdOrEntrypoint,
  entrypoint: dispatchCmdOrEntrypoint,
  healthcheck: (call) => {
    trackOnce(call, 'healthcheck');
    call.stage.config.Healthcheck = { ...call.instruction.health };
    return configStep(call, `HEALTHCHECK ${formatHealthcheck(call.instruction.health)}`);
  },
  expose: (call) => {
    const { stage, instruction } = call;
    const specs = instruction.ports.flatMap((port) => expandWords(call, port));
    const ports = parseExposedPorts(specs, call.lint, call.line);
    const exposed = { ...(stage.config.ExposedPorts ?? {}) };
    for (const port of ports) exposed[port] = {};
    stage.config.ExposedPorts = exposed;
    return configStep(call, `EXPOSE ${goList(ports)}`);
  },
  user: (call) => {
    const user = call.expand(call.instruction.user);
    call.stage.user = user;
    call.stage.config.User = user;
    return configStep(call, `USER ${user}`);
  },
  volume: (call) => {
    const volumes = call.instruction.volumes.map(call.expand);
    if (volumes.some((volume) => volume === '')) {
      throw new GantryError('VOLUME specified can not be an empty string', { hint: 'a variable in VOLUME expanded to nothing' });
    }
    const map = { ...(call.stage.config.Volumes ?? {}) };
    for (const volume of volumes) map[volume] = {};
    call.stage.config.Volumes = map;
    return configStep(call, `VOLUME ${goList(volumes)}`);
  },
  stopsignal: (call) => {
    const signal = call.expand(call.instruction.signal);
    validateSignal(signal);
    call.stage.config.StopSignal = signal;
    return configStep(call, `STOPSIGNAL ${signal}`);
  },
  shell: (call) => {
    call.stage.config.Shell = [...call.instruction.shell];
    return configStep(call, `SHELL ${goList(call.instruction.shell)}`);
  },
  arg: dispatchArg,
};

type Expand = (word: string) => string;

/** Expands words of the instruction `keyword` with the stage's variables, reporting undefined ones (UndefinedVar). */
function expander(stage: StageState, options: DispatchOptions, lint: Linter, line: number, keyword: string, lexer = options.lexer): Expand {
  return (word) => {
    const env = stage.env;
    let result;
    try {
      result = lexer.expand(word, env);
    } catch (err) {
      if (err instanceof ShellSyntaxError) throw expansionError(err, options.source, line, keyword, 'check the quotes and ${...} in this line');
      throw err;
    }
    reportUndefinedVariables(stage, env, result.unmatched, lint, line);
    return result.result;
  };
}

function expandWords({ options, stage, line, instruction }: DispatchCall, word: string): string[] {
  try {
    return options.lexer.processWords(word, stage.env);
  } catch (err) {
    if (err instanceof ShellSyntaxError) throw expansionError(err, options.source, line, instruction.keyword);
    throw err;
  }
}

function reportUndefinedVariables(stage: StageState, env: EnvLookup, unmatched: Set<string>, lint: Linter, line: number): void {
  for (const name of unmatched) {
    if (stage.buildArgs.some((arg) => arg.key === name) || NON_ENV_ARGS.has(name)) continue;
    lint.run(Rules.UndefinedVar, line, Messages.undefinedVar(name, suggest(name, env.keys(), true)));
  }
}

const SECRET_DENY = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const SECRET_ALLOW = /(?:_|^)(?:public|file|version)(?:_|$)/i;

function checkSecretName(instruction: 'ARG' | 'ENV', key: string, { lint, line }: DispatchCall): void {
  if (SECRET_DENY.test(key) && !SECRET_ALLOW.test(key)) {
    lint.run(Rules.SecretsUsedInArgOrEnv, line, Messages.secretsUsedInArgOrEnv(instruction, key));
  }
}

/** The key/value pairs of ENV or LABEL, expanded, with LegacyKeyValueFormat run on the legacy `KEY value` form. */
function expandPairs({ instruction, expand, lint, line }: DispatchCall<InstructionOf<'env' | 'label'>>): Array<{ key: string; value: string }> {
  const pairs = instruction.pairs.map((pair) => ({ key: expand(pair.key), value: expand(pair.value) }));
  for (const pair of instruction.pairs) {
    if (pair.legacy) lint.run(Rules.LegacyKeyValueFormat, line, Messages.legacyKeyValueFormat(instruction.keyword));
  }
  return pairs;
}

function dispatchEnv(call: DispatchCall<InstructionOf<'env'>>): PlannedStep {
  const { stage } = call;
  // All words expand before any is set: `ENV A=1 B=$A` sees the previous A.
  const pairs = expandPairs(call);
  let history = 'ENV';
  for (const pair of pairs) {
    checkSecretName('ENV', pair.key, call);
    history += ` ${pair.key}=${pair.value}`;
    stage.env.set(pair.key, pair.value);
  }
  setConfigEnv(stage.config, pairs.map((pair) => [pair.key, pair.value]));
  return configStep(call, history);
}

function dispatchLabel(call: DispatchCall<InstructionOf<'label'>>): PlannedStep {
  const pairs = expandPairs(call);
  let history = 'LABEL';
  const labels = { ...(call.stage.config.Labels ?? {}) };
  for (const pair of pairs) {
    labels[pair.key] = pair.value;
    history += ` ${pair.key}=${pair.value}`;
  }
  call.stage.config.Labels = labels;
  return configStep(call, history);
}

function dispatchArg(call: DispatchCall<InstructionOf<'arg'>>): PlannedStep {
  const { stage, instruction, options } = call;
  const parts: string[] = [];
  for (const definition of instruction.args) {
    checkSecretName('ARG', definition.key, call);
    const value = options.args.stageValue(definition, call.expand);
    if (value !== undefined && !NON_ENV_ARGS.has(definition.key)) stage.env.set(definition.key, value);
    stage.buildArgs.push({ key: definition.key, value });
    parts.push(value === undefined ? definition.key : `${definition.key}=${value}`);
  }
  return configStep(call, `ARG ${parts.join(' ')}`);
}

function dispatchCmdOrEntrypoint(call: DispatchCall<InstructionOf<'cmd'> | InstructionOf<'entrypoint'>>): PlannedStep {
  const { stage, instruction } = call;
  const name = instruction.kind === 'cmd' ? 'CMD' : 'ENTRYPOINT';
  trackOnce(call, instruction.kind);
  let args = instruction.cmdLine;
  if (instruction.prependShell) {
    if (!stage.config.Shell || stage.config.Shell.length === 0) {
      call.lint.run(Rules.JSONArgsRecommended, call.line, Messages.jsonArgsRecommended(instruction.keyword));
    }
    args = withShell(stage, args);
  }
  if (instruction.kind === 'cmd') {
    stage.config.Cmd = args;
    stage.config.ArgsEscaped = true;
  } else {
    stage.config.Entrypoint = args;
    // ENTRYPOINT drops a CMD inherited from the base; a CMD of this stage stays.
    if (!stage.singleInstructions.has('cmd')) delete stage.config.Cmd;
  }
  return configStep(call, `${name} ${goQuoteList(args)}`);
}

/** MultipleInstructionsDisallowed: reported at the earlier instruction, which is the one ignored. */
function trackOnce({ stage, instruction, lint, line }: DispatchCall, kind: SingleInstruction): void {
  const previous = stage.singleInstructions.get(kind);
  if (previous !== undefined) lint.run(Rules.MultipleInstructionsDisallowed, previous, Messages.multipleInstructionsDisallowed(instruction.keyword));
  stage.singleInstructions.set(kind, line);
}

function withShell(stage: StageState, args: string[]): string[] {
  const shell = stage.config.Shell && stage.config.Shell.length > 0 ? [...stage.config.Shell] : ['/bin/sh', '-c'];
  return [...shell, args.join(' ')];
}

function dispatchWorkdir(call: DispatchCall<InstructionOf<'workdir'>>): WorkdirStep {
  const { stage, instruction, command } = call;
  const path = call.expand(instruction.path);
  if (!stage.workdirSet && !path.startsWith('/')) {
    call.lint.run(Rules.WorkdirRelativePath, call.line, Messages.workdirRelativePath(path));
  }
  stage.workdirSet = true;
  const workdir = normalizePath(stage.config.WorkingDir ?? '', path, false);
  stage.config.WorkingDir = workdir;
  stage.workdir = workdir;
  const createsLayer = workdir !== '/';
  const label = createsLayer
    ? stage.labels.next(uppercaseFirstWord(processForLabel(call.options.lexer, instruction.original, stage.env)), command.fromOnBuild)
    : stage.labels.plain(uppercaseFirstWord(instruction.original), command.fromOnBuild);
  return {
    kind: 'workdir',
    label,
    source: stepSource(call),
    history: history(`WORKDIR ${workdir}`, !createsLayer),
    config: snapshotConfig(stage.config, stage.snapshots),
    path: cleanPath(workdir),
    user: stage.config.User ?? '',
  };
}

function dispatchRun(call: DispatchCall<InstructionOf<'run'>>): RunStep {
  const { stage, instruction, command, options } = call;
  let args = instruction.cmdLine;
  let labelText = instruction.original;
  const files: InlineFile[] = [];
  if (instruction.files.length > 0) {
    if (args.length !== 1 || !instruction.prependShell) {
      throw new GantryError(`parsing produced an invalid run command: ${goList(args)}`);
    }
    const first = instruction.files[0]!;
    let single: ReturnType<typeof parseHeredocWord>;
    try {
      single = parseHeredocWord(args[0]!);
    } catch {
      single = undefined;
    }
    if (single) {
      const data = first.chomp ? chompHeredocContent(first.content) : first.content;
      if (stage.os !== 'windows' && data.startsWith('#!')) {
        // A script with a shebang is mounted as a file under /dev/pipes/ and executed.
        files.push({ name: first.name, content: data, mode: 0o755 });
        args = [joinPath('/dev/pipes/', first.name)];
      } else {
        // A plain heredoc is the script itself, handed to the shell.
        args = [data];
      }
      labelText += ` (${summarizeHeredoc(first.content)})`;
    } else {
      // Heredocs inside a longer command line: give the shell the whole heredoc text to interpret.
      args = [args[0] + instruction.files.map((file) => `\n${file.content}${file.name}`).join('')];
    }
  }
  if (instruction.prependShell) args = withShell(stage, args);

  const specs = instruction.mounts.map((text) => {
    try {
      return parseMountSpec(text, call.expand);
    } catch (err) {
      throw withLocation(err, options.source, call.line, command.fromOnBuild ? undefined : text);
    }
  });
  let sshCount = 0;
  // ssh mounts without a target get /run/buildkit/ssh_agent.N, N counting the ssh mounts.
  const mounts = specs.map((spec, i) => runMount(call, spec, command.sources[i], spec.type === 'ssh' ? sshCount++ : 0));
  const env = stage.env.clone();
  const sshMount = mounts.find((mount): mount is Extract<RunMount, { type: 'ssh' }> => mount.type === 'ssh');
  if (sshMount && !env.has('SSH_AUTH_SOCK')) env.set('SSH_AUTH_SOCK', sshMount.target);

  const buildArgs = buildArgsInEffect(stage);
  const maskedEnv = stage.env.clone();
  for (const mount of mounts) if (mount.type === 'secret' && mount.env !== undefined) maskedEnv.set(mount.env, '****');
  const rawLexer = options.lexer.with({ rawQuotes: true, skipUnsetEnv: true });
  const label = stage.labels.next(uppercaseFirstWord(processForLabel(rawLexer, labelText, maskedEnv)), command.fromOnBuild);
  return {
    kind: 'run',
    label,
    source: stepSource(call),
    history: history(`RUN ${runCommandString(args, buildArgs)} # buildkit`, false),
    config: snapshotConfig(stage.config, stage.snapshots),
    args,
    env: env.toStrings(),
    buildArgs,
    user: stage.user,
    workdir: stage.workdir,
    mounts,
    files,
    network: instruction.network,
    security: instruction.security,
  };
}

/** The ARGs in effect with their current values, each name once (its latest declaration's place). */
function buildArgsInEffect(stage: StageState): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const positions = new Map<string, number>();
  for (const arg of stage.buildArgs) {
    const value = stage.env.get(arg.key) ?? arg.value ?? '';
    const at = positions.get(arg.key);
    if (at !== undefined) out[at] = [arg.key, value];
    else {
      positions.set(arg.key, out.length);
      out.push([arg.key, value]);
    }
  }
  return out;
}

/** `|2 A=1 B=2 /bin/sh -c make`, as BuildKit writes RUN history. */
function runCommandString(args: string[], buildArgs: Array<[string, string]>): string {
  const prefix = buildArgs.length > 0 ? [`|${buildArgs.length}`, ...buildArgs.map(([key, value]) => `${key}=${value}`)] : [];
  return [...prefix, ...args].join(' ');
}

function runMount(call: DispatchCall, spec: ReturnType<typeof parseMountSpec>, sourceStage: StageNode | undefined, sshIndex: number): RunMount {
  const { stage, options } = call;
  let from: StepInput | undefined;
  if (spec.from !== '' && sourceStage) {
    if (!options.inputs.ready(sourceStage)) {
      throw new GantryError(`cannot mount from stage "${spec.from}" to "${spec.target}", stage needs to be defined before current command`, {
        hint: `move the stage "${spec.from}" above this one`,
      });
    }
    from = options.inputs.input(sourceStage, call.line, `--mount from=${spec.from}`);
  }
  switch (spec.type) {
    case 'secret': {
      let id = spec.source !== '' ? spec.source : spec.id;
      if (id === '') id = basePath(spec.target);
      let target: string | undefined = spec.target === '' ? undefined : spec.target;
      if (spec.env === undefined) target = spec.target !== '' ? spec.target : `/run/secrets/${basePath(id)}`;
      const mount: RunMount = { type: 'secret', id, required: spec.required, mode: spec.mode ?? 0o400, uid: spec.uid ?? 0, gid: spec.gid ?? 0 };
      if (target !== undefined) mount.target = target;
      if (spec.env !== undefined) mount.env = spec.env;
      return mount;
    }
    case 'ssh': {
      if (spec.source !== '') throw new GantryError('ssh does not support source', { hint: 'an ssh mount takes id= and target=' });
      return {
        type: 'ssh',
        id: spec.id === '' ? 'default' : spec.id,
        target: spec.target !== '' ? spec.target : `/run/buildkit/ssh_agent.${sshIndex}`,
        required: spec.required,
        mode: spec.mode ?? 0o600,
        uid: spec.uid ?? 0,
        gid: spec.gid ?? 0,
      };
    }
  }
  let target = spec.target;
  if (!cleanPath(target).startsWith('/')) target = joinPath('/', stage.workdir, target);
  if (target === '/') throw new GantryError(`invalid mount target "${target}"`, { hint: 'give the mount a target=<path> other than /' });
  const source = joinPath('/', spec.source);
  switch (spec.type) {
    case 'tmpfs':
      return spec.sizeLimit > 0 ? { type: 'tmpfs', target, size: spec.sizeLimit } : { type: 'tmpfs', target };
    case 'bind':
      return { type: 'bind', target, source, from: from ?? { kind: 'context' }, readonly: spec.readonly };
    case 'cache': {
      const id = spec.id !== '' ? spec.id : cleanPath(spec.target);
      const namespace = options.args.builtin('BUILDKIT_CACHE_MOUNT_NS') ?? '';
      const mount: RunMount = {
        type: 'cache',
        target,
        id: namespace === '' ? id : `${namespace}/${id}`,
        sharing: spec.sharing ?? 'shared',
        source,
        readonly: spec.readonly,
        mode: spec.mode ?? 0o755,
        uid: spec.uid ?? 0,
        gid: spec.gid ?? 0,
      };
      if (from) mount.from = from;
      return mount;
    }
  }
}

function dispatchCopy(call: DispatchCall<InstructionOf<'copy'> | InstructionOf<'add'>>): CopyStep {
  const { stage, instruction, command, options, expand } = call;
  const isAdd = instruction.kind === 'add';
  const name = isAdd ? 'ADD' : 'COPY';
  const chown = expand(instruction.chown);
  const chmod = expand(instruction.chmod);
  const checksum = isAdd ? expand(instruction.checksum) : '';
  const written = instruction.sources.map(expand);
  const destWritten = expand(instruction.dest);
  // Heredoc sources expand `$VAR` only, and only when the delimiter is unquoted.
  const rawExpand = expander(stage, options, call.lint, call.line, instruction.keyword, new ShellLexer({ skipProcessQuotes: true }));
  const inlineSources: InlineFile[] = instruction.inlineSources.map((doc) => ({
    name: doc.name,
    content: doc.expand ? rawExpand(doc.content) : doc.content,
    mode: 0o644,
  }));

  let from: StepInput = { kind: 'context' };
  const sourceStage = instruction.kind === 'copy' ? command.sources[0] : undefined;
  if (instruction.kind === 'copy' && sourceStage) {
    if (!options.inputs.ready(sourceStage)) {
      throw new GantryError(
        `cannot copy from stage "${instruction.from}", it needs to be defined before current stage "${stage.labels.name}"`,
        { hint: `move the stage "${instruction.from}" above this one` },
      );
    }
    from = options.inputs.input(sourceStage, call.line, `COPY --from=${instruction.from}`);
  }

  const dest = resolveDestination(stage.workdir, destWritten);
  if (chmod !== '') validateChmod(chmod);
  const sources = written.map((src) => classifySource(src, isAdd ? instruction.keepGitDir : undefined));
  if (checksum !== '') {
    if (sources.length !== 1) throw new GantryError('checksum can\'t be specified for multiple sources', { hint: 'use one ADD per checksummed source' });
    if (sources[0]!.kind === 'context') {
      throw new GantryError('checksum requires HTTP(S) or Git sources', { hint: '--checksum verifies downloads; local files need none' });
    }
  }
  for (const source of sources) {
    if (source.kind === 'git') {
      if (!isAdd) throw new GantryError("source can't be a git ref for COPY", { hint: 'use ADD to add a Git repository' });
    } else if (source.kind === 'http') {
      if (!isAdd) throw new GantryError("source can't be a URL for COPY", { hint: 'use ADD to download a URL' });
    } else if (from.kind === 'context') {
      checkIgnoredSource(source, isAdd, call);
    }
  }

  let historyText = name;
  if (instruction.kind === 'copy' && instruction.parents) historyText += ' --parents';
  if (chown !== '') historyText += ` --chown=${chown}`;
  if (chmod !== '') historyText += ` --chmod=${chmod}`;
  for (const src of written) historyText += ` ${src}`;
  for (const doc of inlineSources) historyText += ` <<${doc.name}`;
  historyText += ` ${destWritten} # buildkit`;

  const label = stage.labels.next(uppercaseFirstWord(processForLabel(options.lexer, instruction.original, stage.env)), command.fromOnBuild);
  const step: CopyStep = {
    kind: 'copy',
    instruction: name,
    label,
    source: stepSource(call),
    history: history(historyText, false),
    config: snapshotConfig(stage.config, stage.snapshots),
    from,
    sources,
    inlineSources,
    dest,
    link: instruction.link,
    parents: instruction.kind === 'copy' ? instruction.parents : false,
    exclude: [...instruction.exclude],
    workdir: stage.workdir,
    user: stage.user,
  };
  if (chown !== '') step.chown = chown;
  if (chmod !== '') step.chmod = chmod;
  if (instruction.kind === 'add') {
    if (checksum !== '') step.checksum = checksum;
    if (instruction.unpack !== undefined) step.unpack = instruction.unpack;
  }
  return step;
}

/**
 * CopyIgnoredFile. `isIgnored` answers as BuildKit's check does: false when the ignore file has `!`
 * exceptions, and for "." only when it excludes the whole context (`*`, `**`, `**` + `/*`).
 */
function checkIgnoredSource(source: Extract<CopySource, { kind: 'context' }>, isAdd: boolean, { options, lint, line }: DispatchCall): void {
  if (!options.isIgnored) return;
  const path = cleanPath(source.path);
  const contextPath = path === '/' ? '.' : path.replace(/^\//, '');
  if (options.isIgnored(contextPath)) {
    lint.run(Rules.CopyIgnoredFile, line, Messages.copyIgnoredFile(isAdd ? 'Add' : 'Copy', path));
  }
}

function configStep(call: DispatchCall, createdBy: string): ConfigStep {
  const { stage, instruction, command } = call;
  return {
    kind: 'config',
    instruction: instruction.kind.toUpperCase(),
    label: stage.labels.plain(uppercaseFirstWord(instruction.original), command.fromOnBuild),
    source: stepSource(call),
    history: history(createdBy, true),
    config: snapshotConfig(stage.config, stage.snapshots),
  };
}

function history(createdBy: string, emptyLayer: boolean): NonNullable<PlannedStep['history']> {
  return { createdBy, emptyLayer, comment: HISTORY_COMMENT };
}

function stepSource({ stage, instruction, command, options }: DispatchCall): StepSource {
  const node = command.fromOnBuild ? stage.definition.node : instruction.node;
  return { file: options.source.file, startLine: node.startLine, endLine: node.endLine, original: instruction.original };
}

function processForLabel(lexer: ShellLexer, text: string, env: EnvLookup): string {
  try {
    return lexer.processWord(text, env);
  } catch {
    return text;
  }
}

function uppercaseFirstWord(text: string): string {
  const space = text.indexOf(' ');
  return space < 0 ? text.toUpperCase() : text.slice(0, space).toUpperCase() + text.slice(space);
}

/** The heredoc's first line (white space trimmed, `...` when more follow), for the progress label. */
function summarizeHeredoc(doc: string): string {
  const [start, end] = goSpaceBounds(doc);
  const newline = doc.indexOf('\n', start);
  if (newline < 0 || newline >= end) return doc.slice(start, end);
  return `${doc.slice(start, doc[newline - 1] === '\r' ? newline - 1 : newline)}...`;
}

/** `{Test:[CMD-SHELL curl -f /] Interval:30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}` (Go's %+v). */
function formatHealthcheck(health: InstructionOf<'healthcheck'>['health']): string {
  return (
    `{Test:${goList(health.Test)} Interval:${formatGoDuration(health.Interval ?? 0)} Timeout:${formatGoDuration(health.Timeout ?? 0)} ` +
    `StartPeriod:${formatGoDuration(health.StartPeriod ?? 0)} StartInterval:${formatGoDuration(health.StartInterval ?? 0)} Retries:${health.Retries ?? 0}}`
  );
}

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR',
  'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH',
  'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${i + 1}`),
]);

/** A signal name (with or without SIG) or a non-zero number, as moby's signal.ParseSignal accepts. */
function validateSignal(signal: string): void {
  if (/^[+-]?\d+$/.test(signal)) {
    if (Number(signal) !== 0) return;
  } else if (SIGNALS.has(signal.toUpperCase().replace(/^SIG/, ''))) {
    return;
  }
  const close = suggest(signal.toUpperCase().replace(/^SIG/, ''), SIGNALS, true);
  throw new GantryError(`invalid signal: ${signal}`, { hint: close ? `did you mean SIG${close}?` : 'use a name such as SIGTERM or a number' });
}
