/**
 * One instruction applied to a stage: word expansion with the stage's variables, the image config
 * change, the planned step (argv, mounts, copy sources...) with its BuildKit history string and
 * progress label, and the checks BuildKit runs at this point.
 */
import { GantryError, formatGoDuration, goList, goQuoteList } from '../util/index.js';
import { Messages, Rules, type Linter } from './checks.js';
import { isGitSource, isHttpSource, validateChmod } from './copy-sources.js';
import { parseExposedPorts } from './expose.js';
import { goSpaceBounds } from './go-space.js';
import { chompHeredocContent, parseHeredocWord } from './heredoc.js';
import type { InstructionOf } from './instructions.js';
import type { ConfigStep, CopyStep, InlineFile, PlannedStep, RunMount, RunStep, StepInput, StepSource, WorkdirStep } from './plan-types.js';
import { basePath, cleanPath, joinPath, normalizePath, resolveDestination } from './paths.js';
import type { PlanSize } from './plan-size.js';
import { parseMountSpec } from './run-mounts.js';
import { EnvList, ShellLexer, ShellSyntaxError, type EnvLookup } from './shell-lexer.js';
import { expansionError, type DockerfileSource } from './source.js';
import { setConfigEnv, snapshotConfig, type StageCommand, type StageState } from './stage-state.js';
import { suggest } from './suggest.js';

/** Args BuildKit reads itself and never puts in a RUN environment. */
export const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

export interface DispatchContext {
  source: DockerfileSource;
  /** The Dockerfile's lexer (its escape character). */
  lexer: ShellLexer;
  /** Platform args and global ARGs with their values. */
  globalArgs: EnvList;
  /** --build-arg values. */
  buildArgValues: Readonly<Record<string, string>>;
  lint: Linter;
  isIgnored?: (contextPath: string) => boolean;
  /** BUILDKIT_CACHE_MOUNT_NS: prefix of cache mount ids. */
  cacheNamespace: string;
  /** Where a stage read by COPY --from or a mount comes from, for the plan. */
  stageInput(state: StageState, line: number, what: string): StepInput;
  /** Every ARG name a planned instruction declares (for the unused --build-arg warning). */
  declaredArgs: Set<string>;
  /** The size of the plan so far, bounded. */
  planSize: PlanSize;
}

/** Applies `command` to `state` and appends the planned step. Throws a GantryError located at the instruction. */
export function dispatchCommand(state: StageState, command: StageCommand, ctx: DispatchContext): void {
  const instruction = command.instruction;
  const lint = ctx.lint.withComments(instruction.comments);
  const line = lineOf(state, command);
  try {
    const step = dispatchInstruction(state, command, ctx, lint, line);
    ctx.planSize.addStep(step, state.steps.at(-1));
    state.steps.push(step);
  } catch (err) {
    if (err instanceof GantryError && !err.location) {
      throw ctx.source.error(err.message, line, { needle: command.fromOnBuild ? undefined : instruction.keyword, hint: err.hint, cause: err.cause });
    }
    throw err;
  }
}

/** ONBUILD triggers run at, and report against, the FROM line of the stage they run in. */
function lineOf(state: StageState, command: StageCommand): number {
  return command.fromOnBuild ? (state.definition?.line ?? command.instruction.line) : command.instruction.line;
}

function dispatchInstruction(state: StageState, command: StageCommand, ctx: DispatchContext, lint: Linter, line: number): PlannedStep {
  const instruction = command.instruction;
  const expand = expander(state, ctx, lint, line, instruction.keyword);
  switch (instruction.kind) {
    case 'env':
      return dispatchEnv(state, command, instruction, ctx, expand, lint, line);
    case 'label':
      return dispatchLabel(state, command, instruction, ctx, expand, lint, line);
    case 'maintainer':
      state.author = instruction.maintainer;
      return configStep(state, command, ctx, `MAINTAINER ${instruction.maintainer}`);
    case 'run':
      return dispatchRun(state, command, instruction, ctx, expand);
    case 'workdir':
      return dispatchWorkdir(state, command, instruction, ctx, expand(instruction.path), lint, line);
    case 'add':
    case 'copy':
      return dispatchCopy(state, command, instruction, ctx, expand, lint, line);
    case 'onbuild':
      state.config.OnBuild = [...(state.config.OnBuild ?? []), instruction.expression];
      // BuildKit records no history entry for ONBUILD.
      return { ...configStep(state, command, ctx, `ONBUILD ${instruction.expression}`), history: undefined };
    case 'cmd':
    case 'entrypoint':
      return dispatchCmdOrEntrypoint(state, command, instruction, ctx, lint, line);
    case 'healthcheck': {
      trackOnce(state, 'healthcheckLine', instruction.keyword, lint, line);
      state.config.Healthcheck = { ...instruction.health };
      return configStep(state, command, ctx, `HEALTHCHECK ${formatHealthcheck(instruction.health)}`);
    }
    case 'expose': {
      const specs = instruction.ports.flatMap((port) => expandWords(ctx, state, port, line, instruction.keyword));
      const ports = parseExposedPorts(specs, lint, line);
      const exposed = { ...(state.config.ExposedPorts ?? {}) };
      for (const port of ports) exposed[port] = {};
      state.config.ExposedPorts = exposed;
      return configStep(state, command, ctx, `EXPOSE ${goList(ports)}`);
    }
    case 'user': {
      const user = expand(instruction.user);
      state.user = user;
      state.config.User = user;
      return configStep(state, command, ctx, `USER ${user}`);
    }
    case 'volume': {
      const volumes = instruction.volumes.map(expand);
      if (volumes.some((volume) => volume === '')) {
        throw new GantryError('VOLUME specified can not be an empty string', { hint: 'a variable in VOLUME expanded to nothing' });
      }
      const map = { ...(state.config.Volumes ?? {}) };
      for (const volume of volumes) map[volume] = {};
      state.config.Volumes = map;
      return configStep(state, command, ctx, `VOLUME ${goList(volumes)}`);
    }
    case 'stopsignal': {
      const signal = expand(instruction.signal);
      validateSignal(signal);
      state.config.StopSignal = signal;
      return configStep(state, command, ctx, `STOPSIGNAL ${signal}`);
    }
    case 'shell':
      state.config.Shell = [...instruction.shell];
      return configStep(state, command, ctx, `SHELL ${goList(instruction.shell)}`);
    case 'arg':
      return dispatchArg(state, command, instruction, ctx, lint, line);
  }
}

type Expand = (word: string) => string;

/** Expands words of the instruction `keyword` with the stage's variables, reporting undefined ones (UndefinedVar). */
function expander(state: StageState, ctx: DispatchContext, lint: Linter, line: number, keyword: string, lexer = ctx.lexer): Expand {
  return (word) => {
    const env = state.env;
    let result;
    try {
      result = lexer.expand(word, env);
    } catch (err) {
      if (err instanceof ShellSyntaxError) throw expansionError(err, ctx.source, line, keyword, 'check the quotes and ${...} in this line');
      throw err;
    }
    reportUndefinedVariables(state, env, result.unmatched, lint, line);
    return result.result;
  };
}

function expandWords(ctx: DispatchContext, state: StageState, word: string, line: number, keyword: string): string[] {
  try {
    return ctx.lexer.processWords(word, state.env);
  } catch (err) {
    if (err instanceof ShellSyntaxError) throw expansionError(err, ctx.source, line, keyword);
    throw err;
  }
}

function reportUndefinedVariables(state: StageState, env: EnvLookup, unmatched: Set<string>, lint: Linter, line: number): void {
  for (const name of unmatched) {
    if (state.buildArgs.some((arg) => arg.key === name) || NON_ENV_ARGS.has(name)) continue;
    lint.run(Rules.UndefinedVar, line, Messages.undefinedVar(name, suggest(name, env.keys(), true)));
  }
}

const SECRET_DENY = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const SECRET_ALLOW = /(?:_|^)(?:public|file|version)(?:_|$)/i;

function checkSecretName(instruction: 'ARG' | 'ENV', key: string, lint: Linter, line: number): void {
  if (SECRET_DENY.test(key) && !SECRET_ALLOW.test(key)) {
    lint.run(Rules.SecretsUsedInArgOrEnv, line, Messages.secretsUsedInArgOrEnv(instruction, key));
  }
}

/** The key/value pairs of ENV or LABEL, expanded, with LegacyKeyValueFormat run on the legacy `KEY value` form. */
function expandPairs(instruction: InstructionOf<'env' | 'label'>, expand: Expand, lint: Linter, line: number): Array<{ key: string; value: string }> {
  const pairs = instruction.pairs.map((pair) => ({ key: expand(pair.key), value: expand(pair.value) }));
  for (const pair of instruction.pairs) {
    if (pair.legacy) lint.run(Rules.LegacyKeyValueFormat, line, Messages.legacyKeyValueFormat(instruction.keyword));
  }
  return pairs;
}

function dispatchEnv(
  state: StageState,
  command: StageCommand,
  instruction: InstructionOf<'env'>,
  ctx: DispatchContext,
  expand: Expand,
  lint: Linter,
  line: number,
): PlannedStep {
  // All words expand before any is set: `ENV A=1 B=$A` sees the previous A.
  const pairs = expandPairs(instruction, expand, lint, line);
  let history = 'ENV';
  for (const pair of pairs) {
    checkSecretName('ENV', pair.key, lint, line);
    history += ` ${pair.key}=${pair.value}`;
    state.env.set(pair.key, pair.value);
  }
  setConfigEnv(state.config, pairs.map((pair) => [pair.key, pair.value]));
  return configStep(state, command, ctx, history);
}

function dispatchLabel(
  state: StageState,
  command: StageCommand,
  instruction: InstructionOf<'label'>,
  ctx: DispatchContext,
  expand: Expand,
  lint: Linter,
  line: number,
): PlannedStep {
  const pairs = expandPairs(instruction, expand, lint, line);
  let history = 'LABEL';
  const labels = { ...(state.config.Labels ?? {}) };
  for (const pair of pairs) {
    labels[pair.key] = pair.value;
    history += ` ${pair.key}=${pair.value}`;
  }
  state.config.Labels = labels;
  return configStep(state, command, ctx, history);
}

function dispatchArg(state: StageState, command: StageCommand, instruction: InstructionOf<'arg'>, ctx: DispatchContext, lint: Linter, line: number): PlannedStep {
  const parts: string[] = [];
  for (const definition of instruction.args) {
    checkSecretName('ARG', definition.key, lint, line);
    ctx.declaredArgs.add(definition.key);
    const fromBuildArg = Object.hasOwn(ctx.buildArgValues, definition.key);
    let value: string | undefined;
    if (fromBuildArg) {
      value = ctx.buildArgValues[definition.key];
    } else if (definition.value !== undefined) {
      value = expander(state, ctx, lint, line, instruction.keyword)(definition.value);
    } else {
      // `ARG NAME` in a stage picks up the global ARG (or platform arg) of that name.
      value = ctx.globalArgs.get(definition.key);
    }
    if (value !== undefined && !NON_ENV_ARGS.has(definition.key)) state.env.set(definition.key, value);
    state.buildArgs.push({ key: definition.key, value });
    parts.push(value === undefined ? definition.key : `${definition.key}=${value}`);
  }
  return configStep(state, command, ctx, `ARG ${parts.join(' ')}`);
}

function dispatchCmdOrEntrypoint(
  state: StageState,
  command: StageCommand,
  instruction: InstructionOf<'cmd'> | InstructionOf<'entrypoint'>,
  ctx: DispatchContext,
  lint: Linter,
  line: number,
): PlannedStep {
  const name = instruction.kind === 'cmd' ? 'CMD' : 'ENTRYPOINT';
  trackOnce(state, instruction.kind === 'cmd' ? 'cmdLine' : 'entrypointLine', instruction.keyword, lint, line);
  let args = instruction.cmdLine;
  if (instruction.prependShell) {
    if (!state.config.Shell || state.config.Shell.length === 0) {
      lint.run(Rules.JSONArgsRecommended, line, Messages.jsonArgsRecommended(instruction.keyword));
    }
    args = withShell(state, args);
  }
  if (instruction.kind === 'cmd') {
    state.config.Cmd = args;
    state.config.ArgsEscaped = true;
  } else {
    state.config.Entrypoint = args;
    // ENTRYPOINT drops a CMD inherited from the base; a CMD of this stage stays.
    if (state.cmdLine === undefined) delete state.config.Cmd;
  }
  return configStep(state, command, ctx, `${name} ${goQuoteList(args)}`);
}

/** MultipleInstructionsDisallowed: reported at the earlier instruction, which is the one ignored. */
function trackOnce(state: StageState, field: 'cmdLine' | 'entrypointLine' | 'healthcheckLine', keyword: string, lint: Linter, line: number): void {
  const previous = state[field];
  if (previous !== undefined) lint.run(Rules.MultipleInstructionsDisallowed, previous, Messages.multipleInstructionsDisallowed(keyword));
  state[field] = line;
}

function withShell(state: StageState, args: string[]): string[] {
  const shell = state.config.Shell && state.config.Shell.length > 0 ? [...state.config.Shell] : ['/bin/sh', '-c'];
  return [...shell, args.join(' ')];
}

function dispatchWorkdir(
  state: StageState,
  command: StageCommand,
  instruction: InstructionOf<'workdir'>,
  ctx: DispatchContext,
  path: string,
  lint: Linter,
  line: number,
): WorkdirStep {
  if (!state.workdirSet && !path.startsWith('/')) {
    lint.run(Rules.WorkdirRelativePath, line, Messages.workdirRelativePath(path));
  }
  state.workdirSet = true;
  const workdir = normalizePath(state.config.WorkingDir ?? '', path, false);
  state.config.WorkingDir = workdir;
  state.workdir = workdir;
  const createsLayer = workdir !== '/';
  const label = createsLayer
    ? progressLabel(state, command, uppercaseFirstWord(processForLabel(ctx.lexer, instruction.original, state.env)))
    : plainLabel(state, command, uppercaseFirstWord(instruction.original));
  return {
    kind: 'workdir',
    label,
    source: stepSource(state, command, ctx),
    history: history(`WORKDIR ${workdir}`, !createsLayer),
    config: snapshotConfig(state.config, state.snapshots),
    path: cleanPath(workdir),
    user: state.config.User ?? '',
  };
}

function dispatchRun(state: StageState, command: StageCommand, instruction: InstructionOf<'run'>, ctx: DispatchContext, expand: Expand): RunStep {
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
      if (state.os !== 'windows' && data.startsWith('#!')) {
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
  if (instruction.prependShell) args = withShell(state, args);

  const specs = instruction.mounts.map((text) => {
    try {
      return parseMountSpec(text, expand);
    } catch (err) {
      if (err instanceof GantryError && !err.location) {
        throw ctx.source.error(err.message, lineOf(state, command), { needle: command.fromOnBuild ? undefined : text, hint: err.hint });
      }
      throw err;
    }
  });
  let sshCount = 0;
  // ssh mounts without a target get /run/buildkit/ssh_agent.N, N counting the ssh mounts.
  const mounts = specs.map((spec, i) => runMount(state, command, ctx, spec, command.sources[i], spec.type === 'ssh' ? sshCount++ : 0));
  const env = state.env.clone();
  const sshMount = mounts.find((mount): mount is Extract<RunMount, { type: 'ssh' }> => mount.type === 'ssh');
  if (sshMount && !env.has('SSH_AUTH_SOCK')) env.set('SSH_AUTH_SOCK', sshMount.target);

  const buildArgs = buildArgsInEffect(state);
  const maskedEnv = state.env.clone();
  for (const mount of mounts) if (mount.type === 'secret' && mount.env !== undefined) maskedEnv.set(mount.env, '****');
  const rawLexer = ctx.lexer.with({ rawQuotes: true, skipUnsetEnv: true });
  const label = progressLabel(state, command, uppercaseFirstWord(processForLabel(rawLexer, labelText, maskedEnv)));
  return {
    kind: 'run',
    label,
    source: stepSource(state, command, ctx),
    history: history(`RUN ${runCommandString(args, buildArgs)} # buildkit`, false),
    config: snapshotConfig(state.config, state.snapshots),
    args,
    env: env.toStrings(),
    buildArgs,
    user: state.user,
    workdir: state.workdir,
    mounts,
    files,
    network: instruction.network,
    security: instruction.security,
  };
}

/** The ARGs in effect with their current values, each name once (its latest declaration's place). */
function buildArgsInEffect(state: StageState): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const positions = new Map<string, number>();
  for (const arg of state.buildArgs) {
    const value = state.env.get(arg.key) ?? arg.value ?? '';
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

function runMount(
  state: StageState,
  command: StageCommand,
  ctx: DispatchContext,
  spec: ReturnType<typeof parseMountSpec>,
  sourceStage: StageState | undefined,
  sshIndex: number,
): RunMount {
  const line = lineOf(state, command);
  let from: StepInput | undefined;
  if (spec.from !== '' && sourceStage) {
    if (!sourceStage.dispatched) {
      throw new GantryError(`cannot mount from stage "${spec.from}" to "${spec.target}", stage needs to be defined before current command`, {
        hint: `move the stage "${spec.from}" above this one`,
      });
    }
    from = ctx.stageInput(sourceStage, line, `--mount from=${spec.from}`);
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
  if (!cleanPath(target).startsWith('/')) target = joinPath('/', state.workdir, target);
  if (target === '/') throw new GantryError(`invalid mount target "${target}"`, { hint: 'give the mount a target=<path> other than /' });
  const source = joinPath('/', spec.source);
  switch (spec.type) {
    case 'tmpfs':
      return spec.sizeLimit > 0 ? { type: 'tmpfs', target, size: spec.sizeLimit } : { type: 'tmpfs', target };
    case 'bind':
      return { type: 'bind', target, source, from: from ?? { kind: 'context' }, readonly: spec.readonly };
    case 'cache': {
      const id = spec.id !== '' ? spec.id : cleanPath(spec.target);
      const mount: RunMount = {
        type: 'cache',
        target,
        id: ctx.cacheNamespace === '' ? id : `${ctx.cacheNamespace}/${id}`,
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

function dispatchCopy(
  state: StageState,
  command: StageCommand,
  instruction: InstructionOf<'copy'> | InstructionOf<'add'>,
  ctx: DispatchContext,
  expand: Expand,
  lint: Linter,
  line: number,
): CopyStep {
  const isAdd = instruction.kind === 'add';
  const name = isAdd ? 'ADD' : 'COPY';
  const chown = expand(instruction.chown);
  const chmod = expand(instruction.chmod);
  const checksum = isAdd ? expand(instruction.checksum) : '';
  const sources = instruction.sources.map(expand);
  const destWritten = expand(instruction.dest);
  // Heredoc sources expand `$VAR` only, and only when the delimiter is unquoted.
  const rawExpand = expander(state, ctx, lint, line, instruction.keyword, new ShellLexer({ skipProcessQuotes: true }));
  const inlineSources: InlineFile[] = instruction.inlineSources.map((doc) => ({
    name: doc.name,
    content: doc.expand ? rawExpand(doc.content) : doc.content,
    mode: 0o644,
  }));

  let from: StepInput = { kind: 'context' };
  const sourceStage = instruction.kind === 'copy' ? command.sources[0] : undefined;
  if (instruction.kind === 'copy' && sourceStage) {
    if (!sourceStage.dispatched) {
      throw new GantryError(
        `cannot copy from stage "${instruction.from}", it needs to be defined before current stage "${state.labelName}"`,
        { hint: `move the stage "${instruction.from}" above this one` },
      );
    }
    from = ctx.stageInput(sourceStage, line, `COPY --from=${instruction.from}`);
  }

  const dest = resolveDestination(state.workdir, destWritten);
  if (chmod !== '') validateChmod(chmod);
  if (checksum !== '') {
    if (sources.length !== 1) throw new GantryError('checksum can\'t be specified for multiple sources', { hint: 'use one ADD per checksummed source' });
    if (!isHttpSource(sources[0]!) && !isGitSource(sources[0]!)) {
      throw new GantryError('checksum requires HTTP(S) or Git sources', { hint: '--checksum verifies downloads; local files need none' });
    }
  }
  for (const src of sources) {
    if (isGitSource(src)) {
      if (!isAdd) throw new GantryError("source can't be a git ref for COPY", { hint: 'use ADD to add a Git repository' });
    } else if (isHttpSource(src)) {
      if (!isAdd) throw new GantryError("source can't be a URL for COPY", { hint: 'use ADD to download a URL' });
    } else if (from.kind === 'context') {
      checkIgnoredSource(src, isAdd, ctx, lint, line);
    }
  }

  let historyText = name;
  if (instruction.kind === 'copy' && instruction.parents) historyText += ' --parents';
  if (chown !== '') historyText += ` --chown=${chown}`;
  if (chmod !== '') historyText += ` --chmod=${chmod}`;
  for (const src of sources) historyText += ` ${src}`;
  for (const doc of inlineSources) historyText += ` <<${doc.name}`;
  historyText += ` ${destWritten} # buildkit`;

  const label = progressLabel(state, command, uppercaseFirstWord(processForLabel(ctx.lexer, instruction.original, state.env)));
  const step: CopyStep = {
    kind: 'copy',
    instruction: name,
    label,
    source: stepSource(state, command, ctx),
    history: history(historyText, false),
    config: snapshotConfig(state.config, state.snapshots),
    from,
    sources,
    inlineSources,
    dest,
    link: instruction.link,
    parents: instruction.kind === 'copy' ? instruction.parents : false,
    exclude: [...instruction.exclude],
    workdir: state.workdir,
    user: state.user,
  };
  if (chown !== '') step.chown = chown;
  if (chmod !== '') step.chmod = chmod;
  if (instruction.kind === 'add') {
    if (checksum !== '') step.checksum = checksum;
    if (instruction.keepGitDir !== undefined) step.keepGitDir = instruction.keepGitDir;
    if (instruction.unpack !== undefined) step.unpack = instruction.unpack;
  }
  return step;
}

/**
 * CopyIgnoredFile. `isIgnored` answers as BuildKit's check does: false when the ignore file has `!`
 * exceptions, and for "." only when it excludes the whole context (`*`, `**`, `**` + `/*`).
 */
function checkIgnoredSource(src: string, isAdd: boolean, ctx: DispatchContext, lint: Linter, line: number): void {
  if (!ctx.isIgnored) return;
  const path = cleanPath(src);
  const contextPath = path === '/' ? '.' : path.replace(/^\//, '');
  if (ctx.isIgnored(contextPath)) {
    lint.run(Rules.CopyIgnoredFile, line, Messages.copyIgnoredFile(isAdd ? 'Add' : 'Copy', path));
  }
}

function configStep(state: StageState, command: StageCommand, ctx: DispatchContext, createdBy: string): ConfigStep {
  const instruction = command.instruction;
  return {
    kind: 'config',
    instruction: instruction.kind.toUpperCase(),
    label: plainLabel(state, command, uppercaseFirstWord(instruction.original)),
    source: stepSource(state, command, ctx),
    history: history(createdBy, true),
    config: snapshotConfig(state.config, state.snapshots),
  };
}

function history(createdBy: string, emptyLayer: boolean): NonNullable<PlannedStep['history']> {
  return { createdBy, emptyLayer, comment: HISTORY_COMMENT };
}

function stepSource(state: StageState, command: StageCommand, ctx: DispatchContext): StepSource {
  const instruction = command.instruction;
  const definition = state.definition;
  const node = command.fromOnBuild && definition ? definition.node : instruction.node;
  return { file: ctx.source.file, startLine: node.startLine, endLine: node.endLine, original: instruction.original };
}

/** `[build 2/5] RUN make`: BuildKit's progress name for steps that do work. */
function progressLabel(state: StageState, command: StageCommand, text: string): string {
  if (state.commandTotal === 0) return text;
  state.commandIndex++;
  const width = String(state.commandTotal).length;
  const stage = state.labelName === '' ? '' : `${state.labelName} `;
  const onbuild = command.fromOnBuild ? 'ONBUILD ' : '';
  return `[${stage}${String(state.commandIndex).padStart(width)}/${state.commandTotal}] ${onbuild}${text}`;
}

/** Steps that only change the config have no progress entry in BuildKit; they are labelled by stage only. */
function plainLabel(state: StageState, command: StageCommand, text: string): string {
  const onbuild = command.fromOnBuild ? 'ONBUILD ' : '';
  return state.labelName === '' ? `${onbuild}${text}` : `[${state.labelName}] ${onbuild}${text}`;
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
