/**
 * planBuild and checkDockerfile: a Dockerfile, build args, target and platforms become a BuildPlan, as
 * BuildKit's dockerfile2llb converts a Dockerfile — global args, stage graph and target, base images
 * (resolved only for the stages the target needs), ONBUILD triggers, then every instruction of every
 * needed stage in order. Lint mode (checkDockerfile) covers every stage, like BuildKit's lint request.
 */
import { GantryError } from '../util/index.js';
import { DEFAULT_PATH, type ContainerConfig, type Platform, normalizeReference, parseReference, formatPlatform, formatPlatformAll, normalizePlatform, parsePlatform } from '../image/index.js';
import { Linter, Messages, Rules, validateCommandCasing, validateStageNames } from './checks.js';
import { emptyCheckConfig, parseCheckConfig, type CheckConfig } from './directives.js';
import { dispatchCommand, type DispatchContext } from './dispatch.js';
import { parseInstruction, parseInstructions, type DockerfileDefinition, type Instruction, type StageDefinition } from './instructions.js';
import { parseDockerfile, type ParsedDockerfile } from './parser.js';
import type { BuildPlan, CheckWarning, PlannedStage, PlanOptions, ResolvedImage, StepInput } from './plan-types.js';
import { normalizePath } from './paths.js';
import { PlanSize } from './plan-size.js';
import { parseCsvFields } from './run-mounts.js';
import { EnvList, ShellLexer, ShellSyntaxError, type ExpansionResult } from './shell-lexer.js';
import { expansionError, withLocation, type DockerfileSource } from './source.js';
import { cloneConfig, setConfigEnv, snapshotConfig, StageState, type StageCommand } from './stage-state.js';
import { suggest } from './suggest.js';

/** A frontend error, with the check warnings found before it (BuildKit reports those too). */
export class DockerfileError extends GantryError {
  readonly warnings: CheckWarning[];

  constructor(err: GantryError, warnings: CheckWarning[]) {
    super(err.message, { hint: err.hint, location: err.location, cause: err.cause ?? err, exitCode: err.exitCode });
    this.name = 'DockerfileError';
    this.warnings = warnings;
  }
}

export interface CheckResult {
  warnings: CheckWarning[];
  /** True when the Dockerfile has an error, or when checks found something and `error=true` is set. */
  failed: boolean;
  /** The error that stopped the check, including "lint violation found for rules: ..." with `error=true`. */
  error?: GantryError;
}

/**
 * The plan for building `options.target` (default: the last stage). Throws a DockerfileError (a
 * GantryError with location, hint and the warnings found so far) for any mistake in the Dockerfile, and
 * when checks report findings under `error=true`.
 */
export async function planBuild(text: string, options: PlanOptions): Promise<BuildPlan> {
  const planner = new Planner(text, options, false);
  try {
    await planner.run();
  } catch (err) {
    throw planner.wrapError(err);
  }
  return planner.buildPlan();
}

/**
 * Runs the build checks the way `docker build --check` does: every stage when no target is given,
 * base images resolved. Never throws for a Dockerfile mistake: it is returned as `error`.
 */
export async function checkDockerfile(text: string, options: PlanOptions): Promise<CheckResult> {
  const planner = new Planner(text, options, !options.target);
  try {
    await planner.run();
  } catch (err) {
    const error = planner.wrapError(err);
    return { warnings: error.warnings, failed: true, error };
  }
  return { warnings: planner.warnings(), failed: false };
}

/** Args BuildKit defines per build (platforms and target stage). */
const PLATFORM_ARGS = [
  'BUILDPLATFORM', 'BUILDOS', 'BUILDOSVERSION', 'BUILDARCH', 'BUILDVARIANT',
  'TARGETPLATFORM', 'TARGETOS', 'TARGETOSVERSION', 'TARGETARCH', 'TARGETVARIANT', 'TARGETSTAGE',
];

/** --build-arg names BuildKit reads itself; passing them is never "unused". */
function isBuiltinBuildArg(name: string): boolean {
  return (
    PLATFORM_ARGS.includes(name) ||
    name.startsWith('BUILDKIT_') ||
    name === 'SOURCE_DATE_EPOCH' ||
    ['http_proxy', 'https_proxy', 'ftp_proxy', 'no_proxy', 'all_proxy'].includes(name.toLowerCase())
  );
}

const COMMON_IMAGE_NAMES = ['alpine', 'busybox', 'centos', 'debian', 'golang', 'ubuntu', 'fedora'].flatMap((name) => [
  name,
  `${name}:latest`,
]);

class Planner {
  private parsed?: ParsedDockerfile;
  private lint?: Linter;
  private readonly states: StageState[] = [];
  private readonly byName = new Map<string, StageState>();
  private target?: StageState;
  private reachable = new Set<StageState>();
  private readonly declaredArgs = new Set<string>();
  private readonly resolutions = new Map<string, Promise<ResolvedImage>>();
  /** Variables a stage's FROM referenced but that had no value, for hints. */
  private readonly unsetInFrom = new Map<StageState, string[]>();
  private globalArgs = new EnvList();
  private lexer = new ShellLexer();
  private readonly targetPlatform: Platform;
  private readonly buildPlatform: Platform;

  constructor(
    private readonly text: string,
    private readonly options: PlanOptions,
    private readonly allStages: boolean,
  ) {
    this.targetPlatform = normalizePlatform(options.targetPlatform);
    this.buildPlatform = normalizePlatform(options.buildPlatform);
  }

  warnings(): CheckWarning[] {
    return this.lint ? [...this.lint.warnings] : [];
  }

  wrapError(err: unknown): DockerfileError {
    if (err instanceof DockerfileError) return err;
    if (err instanceof GantryError) return new DockerfileError(err, this.warnings());
    throw err;
  }

  private get source(): DockerfileSource {
    return this.parsed!.source;
  }

  async run(): Promise<void> {
    const options = this.options;
    if (this.text.length === 0) {
      throw new GantryError('the Dockerfile cannot be empty', { location: { file: options.file, line: 1, column: 1 }, hint: 'start it with FROM <image>' });
    }
    for (const [what, platform] of [['target', options.targetPlatform], ['build', options.buildPlatform]] as const) {
      if (platform.os === 'windows') {
        throw new GantryError(`${what} platform ${formatPlatform(platform)} is not supported`, { hint: 'gantry builds Linux images' });
      }
    }
    this.parsed = parseDockerfile(this.text, options.file);
    this.lexer = new ShellLexer({ escapeToken: this.parsed.escapeToken });
    const lint = Linter.create(this.checkConfig(), this.source);
    this.lint = lint;
    for (const line of this.parsed.emptyContinuationLines) {
      lint.run(Rules.NoEmptyContinuation, line, Messages.noEmptyContinuation());
    }
    const definition = parseInstructions(this.parsed, lint);
    if (definition.stages.length === 0) {
      const last = this.parsed.instructions[this.parsed.instructions.length - 1]!;
      throw this.source.error('dockerfile contains no stages to build', last.startLine, { hint: 'add a FROM instruction after the global ARGs' });
    }
    validateStageNames(definition.stages, lint);
    validateCommandCasing(definition.stages, lint);

    const targetName = options.target ?? definition.stages[definition.stages.length - 1]!.name ?? '';
    const defaults = this.platformArgs(targetName);
    this.checkBaseImagesWithDefaults(definition, defaults);
    const allArgKeys = this.buildGlobalArgs(definition, defaults);

    this.buildStageStates(definition, allArgKeys);
    this.target = this.resolveTarget();
    this.buildDependencyGraph();
    await this.resolveStages();
    this.dispatchStages();
    const violation = lint.violation();
    if (violation) {
      throw new GantryError(violation, { hint: 'fix the findings above, or skip rules with # check=skip=<rule>' });
    }
  }

  /** The build checks configuration: --check options, else BUILDKIT_DOCKERFILE_CHECK, else the # check= directive. */
  private checkConfig(): CheckConfig {
    const fromOptions = this.options.checkConfig ?? this.options.buildArgs['BUILDKIT_DOCKERFILE_CHECK'];
    if (fromOptions !== undefined) {
      try {
        return parseCheckConfig(fromOptions);
      } catch (err) {
        if (err instanceof GantryError) throw new GantryError(`failed to parse check options: ${err.message}`, { hint: err.hint });
        throw err;
      }
    }
    const directive = this.parsed!.directives.find((d) => d.name === 'check');
    if (!directive) return emptyCheckConfig();
    try {
      return parseCheckConfig(directive.value.split(' ')[0]!);
    } catch (err) {
      if (err instanceof GantryError) throw this.source.error(`failed to parse check options: ${err.message}`, directive.line, { hint: err.hint });
      throw err;
    }
  }

  private platformArgs(targetName: string): EnvList {
    const build = this.buildPlatform;
    const target = this.targetPlatform;
    const env = new EnvList([
      ['BUILDPLATFORM', formatPlatform(build)],
      ['BUILDOS', build.os],
      ['BUILDOSVERSION', build['os.version'] ?? ''],
      ['BUILDARCH', build.architecture],
      ['BUILDVARIANT', build.variant ?? ''],
      ['TARGETPLATFORM', formatPlatformAll(target)],
      ['TARGETOS', target.os],
      ['TARGETOSVERSION', target['os.version'] ?? ''],
      ['TARGETARCH', target.architecture],
      ['TARGETVARIANT', target.variant ?? ''],
      ['TARGETSTAGE', targetName === '' ? 'default' : targetName],
    ]);
    for (const key of env.keys()) {
      const override = this.options.buildArgs[key];
      if (override !== undefined) env.set(key, override);
    }
    return env;
  }

  /** InvalidDefaultArgInFrom: each FROM must name a valid image with the ARG defaults alone. */
  private checkBaseImagesWithDefaults(definition: DockerfileDefinition, defaults: EnvList): void {
    let args: EnvList;
    try {
      args = this.metaArgValues(definition, defaults.clone(), {});
    } catch {
      // The same error stops the build right after; the check has nothing to add.
      return;
    }
    for (const stage of definition.stages) {
      let result: string;
      try {
        result = this.lexer.processWord(stage.baseName, args);
      } catch {
        return;
      }
      try {
        parseReference(result);
      } catch {
        this.lint!.run(Rules.InvalidDefaultArgInFrom, stage.line, Messages.invalidDefaultArgInFrom(stage.baseName));
      }
    }
  }

  private metaArgValues(definition: DockerfileDefinition, args: EnvList, buildArgs: Readonly<Record<string, string>>): EnvList {
    for (const command of definition.metaArgs) {
      for (const arg of command.args) {
        let value: string | undefined;
        if (Object.hasOwn(buildArgs, arg.key)) value = buildArgs[arg.key];
        else if (arg.value !== undefined) {
          try {
            value = this.lexer.processWord(arg.value, args);
          } catch (err) {
            if (err instanceof ShellSyntaxError) throw expansionError(err, this.source, command.line, command.keyword);
            throw err;
          }
        }
        if (value !== undefined) args.set(arg.key, value);
      }
    }
    return args;
  }

  /** Global args with --build-arg values applied; returns every declared global ARG name too. */
  private buildGlobalArgs(definition: DockerfileDefinition, defaults: EnvList): string[] {
    this.globalArgs = this.metaArgValues(definition, defaults, this.options.buildArgs);
    const declared: string[] = [];
    for (const command of definition.metaArgs) {
      for (const arg of command.args) {
        this.declaredArgs.add(arg.key);
        if (!declared.includes(arg.key)) declared.push(arg.key);
      }
    }
    return declared;
  }

  private expandInFrom(word: string, stage: StageDefinition, lint: Linter, argKeys: string[]): ExpansionResult {
    let result: ExpansionResult;
    try {
      result = this.lexer.expand(word, this.globalArgs);
    } catch (err) {
      if (err instanceof ShellSyntaxError) throw expansionError(err, this.source, stage.line, stage.keyword);
      throw err;
    }
    for (const name of result.unmatched) {
      if (argKeys.includes(name)) continue;
      lint.run(Rules.UndefinedArgInFrom, stage.line, Messages.undefinedArgInFrom(name, suggest(name, argKeys, true)));
    }
    return result;
  }

  private buildStageStates(definition: DockerfileDefinition, declaredGlobal: string[]): void {
    const argKeys = [...new Set([...declaredGlobal, ...this.globalArgs.keys()])];
    for (const stage of definition.stages) {
      const lint = this.lint!.withComments(stage.comments);
      const base = this.expandInFrom(stage.baseName, stage, lint, argKeys);
      if (base.result === '') {
        throw this.source.error(`base name (${stage.baseName}) should not be blank`, stage.line, {
          needle: stage.baseName,
          hint: unsetArgsHint([...base.unmatched]) ?? 'FROM needs an image, a stage name or scratch',
        });
      }
      const state = new StageState(stage, base.result);
      if (base.unmatched.size > 0) this.unsetInFrom.set(state, [...base.unmatched]);
      if (stage.platform !== undefined) state.platform = this.stagePlatform(stage, lint, argKeys);
      this.addState(state);
      let total = state.baseName !== 'scratch' && !state.base ? 1 : 0;
      for (const instruction of stage.instructions) if (doesWork(instruction)) total++;
      state.commandTotal = total;
    }
  }

  private stagePlatform(stage: StageDefinition, lint: Linter, argKeys: string[]): Platform {
    const written = stage.platform!;
    const expansion = this.expandInFrom(written, stage, lint, argKeys);
    if (expansion.matched.size === 1 && expansion.unmatched.size === 0 && expansion.matched.has('TARGETPLATFORM')) {
      if (expansion.result === this.globalArgs.get('TARGETPLATFORM')) {
        lint.run(Rules.RedundantTargetPlatform, stage.line, Messages.redundantTargetPlatform(written));
      }
    }
    if (expansion.matched.size === 0 && expansion.unmatched.size === 0) {
      try {
        const constant = parsePlatform(expansion.result, this.buildPlatform);
        const name = stage.name ?? '';
        if (!name.includes(constant.os) && !name.includes(constant.architecture)) {
          lint.run(Rules.FromPlatformFlagConstDisallowed, stage.line, Messages.fromPlatformFlagConstDisallowed(expansion.result));
        }
      } catch {
        // Reported below when the platform is parsed for real.
      }
    }
    const hint = this.didYouMean([...expansion.unmatched], this.globalArgs.keys());
    if (expansion.result === '') {
      throw this.source.error(`empty platform value from expression ${written}`, stage.line, { needle: '--platform', hint });
    }
    let platform: Platform;
    try {
      platform = parsePlatform(expansion.result, this.buildPlatform);
    } catch (err) {
      if (!(err instanceof GantryError)) throw err;
      throw this.source.error(`failed to parse platform ${written}: ${err.message}`, stage.line, {
        needle: '--platform',
        hint: hint ?? 'platforms look like linux/amd64 or linux/arm64/v8',
      });
    }
    if (platform.os === 'windows') {
      throw this.source.error(`platform ${expansion.result} is not supported`, stage.line, { needle: '--platform', hint: 'gantry builds Linux images' });
    }
    return platform;
  }

  private didYouMean(names: string[], options: string[]): string | undefined {
    for (const name of names) {
      const close = suggest(name, options, true);
      if (close) return `did you mean ${close}?`;
    }
    return undefined;
  }

  private addState(state: StageState): void {
    this.states.push(state);
    const base = this.byName.get(state.baseName);
    if (base) state.base = base;
    if (state.name !== undefined) this.byName.set(state.name, state);
  }

  private stageNames(): string[] {
    return this.states.filter((s) => s.definition && s.labelName !== '').map((s) => s.labelName);
  }

  private resolveTarget(): StageState {
    const wanted = this.options.target;
    if (wanted === undefined) return this.states[this.states.length - 1]!;
    const found = this.byName.get(wanted.toLowerCase());
    if (found) return found;
    const names = this.states.flatMap((s) => (s.name === undefined ? [] : [s.name]));
    const close = suggest(wanted, names, true);
    throw new GantryError(`target stage "${wanted}" could not be found`, {
      hint: names.length === 0
        ? 'the Dockerfile has no named stages; name one with FROM <image> AS <name>'
        : `${close ? `did you mean ${close}? ` : ''}stages are: ${names.join(', ')}`,
    });
  }

  /** Commands per stage with the stages they read (COPY --from, RUN --mount from=), then cycle detection. */
  private buildDependencyGraph(): void {
    for (const state of [...this.states]) {
      state.commands = state.definition!.instructions.map((instruction) => this.toCommand(state, instruction, false));
    }
    this.checkCycles();
    if (this.states.length === 1) this.states[0]!.labelName = '';
  }

  private toCommand(state: StageState, instruction: Instruction, fromOnBuild: boolean): StageCommand {
    const sources: Array<StageState | undefined> = [];
    const line = fromOnBuild ? state.definition!.line : instruction.line;
    if (instruction.kind === 'copy' && instruction.from !== '') {
      const from = instruction.from;
      let expanded: string;
      try {
        expanded = this.lexer.processWord(from, new EnvList());
      } catch {
        expanded = '';
      }
      if (expanded !== from) {
        throw this.source.error(
          'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
          line,
          { needle: '--from', hint: `write ARG NAME before the first FROM, FROM \${NAME} AS src, then COPY --from=src` },
        );
      }
      if (/^[+-]?\d+$/.test(from)) {
        const index = Number(from);
        const indexed = this.states[index];
        if (index < 0 || !indexed) {
          throw this.source.error(`invalid stage index ${index}`, line, {
            needle: '--from',
            hint: `stages are numbered from 0 to ${this.states.filter((s) => s.definition).length - 1}`,
          });
        }
        sources.push(indexed);
      } else {
        sources.push(this.findOrAddImage(from));
      }
    } else if (instruction.kind === 'run') {
      for (const mount of instruction.mounts) sources.push(this.findOrAddImage(mountFrom(mount) || 'scratch'));
    }
    for (const source of sources) if (source) state.deps.set(source, line);
    return { instruction, sources, fromOnBuild };
  }

  /** A stage by name, or an image only read from (added to the graph like BuildKit's unnamed states). */
  private findOrAddImage(name: string): StageState {
    const stage = this.byName.get(name.toLowerCase());
    if (stage) return stage;
    const image = new StageState(undefined, name);
    this.addState(image);
    return image;
  }

  private checkCycles(): void {
    const visited = new Set<StageState>();
    const onPath = new Set<StageState>();
    const visit = (state: StageState, lines: number[]): number[] | undefined => {
      if (visited.has(state)) return undefined;
      visited.add(state);
      onPath.add(state);
      for (const [dep, line] of state.deps) {
        const next = [...lines, line];
        if (onPath.has(dep)) return next;
        const cycle = visit(dep, next);
        if (cycle) return cycle;
      }
      onPath.delete(state);
      return undefined;
    };
    for (const state of this.states) {
      const cycle = visit(state, []);
      if (cycle) {
        throw this.source.error(`circular dependency detected on stage: ${state.labelName}`, cycle[cycle.length - 1]!, {
          hint: `the stages read from each other (lines ${cycle.join(', ')}); a stage can only read stages defined above it`,
        });
      }
    }
  }

  private reachableFrom(target: StageState): Set<StageState> {
    const seen = new Set<StageState>();
    const add = (state: StageState) => {
      if (seen.has(state)) return;
      seen.add(state);
      if (state.base) add(state.base);
      for (const dep of state.deps.keys()) add(dep);
    };
    add(target);
    return seen;
  }

  /** Resolves base images of the needed stages (all in lint mode) and adds ONBUILD triggers, until stable. */
  private async resolveStages(): Promise<void> {
    for (;;) {
      this.reachable = this.reachableFrom(this.target!);
      const pending = this.states.filter((s) => !s.base && !s.dispatched && !s.resolved);
      await Promise.all(pending.map((state) => this.resolveBase(state, this.allStages || this.reachable.has(state))));
      let newDeps = false;
      for (const state of this.states) {
        if (!this.reachable.has(state) || !state.definition) continue;
        const triggers: string[] = [];
        if (!state.base) triggers.push(...(state.config.OnBuild ?? []));
        if (state.base && !state.onBuildInitialized) {
          for (const command of state.base.commands) {
            if (command.instruction.kind === 'onbuild') triggers.push(command.instruction.expression);
          }
          state.onBuildInitialized = true;
        }
        if (triggers.length > 0) {
          if (this.addOnBuildTriggers(state, triggers)) newDeps = true;
          delete state.config.OnBuild;
        }
      }
      if (!newDeps) return;
    }
  }

  private async resolveBase(state: StageState, reachable: boolean): Promise<void> {
    if (state.baseName === 'scratch') {
      state.platform = this.targetPlatform;
      state.os = state.platform.os;
      state.config = { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' };
      if (!state.definition) state.dispatched = true;
      return;
    }
    if (!reachable) return;
    state.resolved = true;
    const line = state.definition?.line ?? this.lineReading(state);
    let ref: string;
    try {
      ref = normalizeReference(state.baseName);
    } catch (err) {
      if (!(err instanceof GantryError)) throw err;
      const lower = state.baseName.toLowerCase();
      const stageHint = this.byName.has(lower) ? `stage names are lower case: write ${lower}` : undefined;
      throw this.source.error(`failed to parse stage name "${state.baseName}": ${err.message}`, line, {
        needle: state.definition ? state.definition.baseName : state.baseName,
        hint: stageHint ?? unsetArgsHint(this.unsetInFrom.get(state) ?? []) ?? 'image names are lower case, like alpine:3.20 or ghcr.io/org/app:tag',
      });
    }
    const platform = state.platform ?? this.targetPlatform;
    let image: ResolvedImage;
    try {
      image = await this.resolveImage(ref, platform);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const close = suggest(state.baseName, [...this.stageNames(), ...COMMON_IMAGE_NAMES], true);
      throw this.source.error(`${state.baseName}: ${message}`, line, {
        needle: state.definition ? state.definition.baseName : state.baseName,
        hint: close ? `did you mean ${close}?` : err instanceof GantryError ? err.hint : undefined,
        cause: err,
      });
    }
    state.resolvedImage = image;
    // BuildKit's progress counts the FROM of an image as the stage's first step.
    if (state.definition && state.commandTotal > 0) state.commandIndex++;
    state.platform = platform;
    state.os = image.platform.os || platform.os;
    state.config = cloneConfig(image.config);
    const expected = normalizePlatform(platform);
    const actual = normalizePlatform(image.platform);
    if (expected.os !== actual.os || expected.architecture !== actual.architecture) {
      this.lint!.run(
        Rules.InvalidBaseImagePlatform,
        line,
        Messages.invalidBaseImagePlatform(state.baseName, formatPlatformAll(expected), formatPlatformAll(actual)),
      );
    }
    if (!state.definition) state.dispatched = true;
  }

  /** The resolver, called once per reference and platform. */
  private resolveImage(ref: string, platform: Platform): Promise<ResolvedImage> {
    const key = `${ref} ${formatPlatformAll(platform)}`;
    let pending = this.resolutions.get(key);
    if (!pending) {
      pending = this.options.resolveImage(ref, platform);
      this.resolutions.set(key, pending);
    }
    return pending;
  }

  /** For an image only read from: the line of the first instruction that reads it. */
  private lineReading(image: StageState): number {
    for (const state of this.states) {
      const line = state.deps.get(image);
      if (line !== undefined) return line;
    }
    return 1;
  }

  private addOnBuildTriggers(state: StageState, triggers: string[]): boolean {
    const definition = state.definition!;
    const silent = Linter.create({ ...emptyCheckConfig(), skipAll: true }, this.source);
    let newDeps = false;
    const commands: StageCommand[] = [];
    for (const trigger of triggers) {
      let instruction: Instruction;
      try {
        const parsed = parseDockerfile(trigger, this.options.file);
        if (parsed.instructions.length !== 1) throw new GantryError('onbuild trigger should be a single expression');
        const node = parsed.instructions[0]!;
        node.startLine = definition.node.startLine;
        node.endLine = definition.node.endLine;
        if (node.keyword.toLowerCase() === 'from') throw new GantryError("FROM isn't allowed as an ONBUILD trigger");
        instruction = parseInstruction(node, this.source, silent);
      } catch (err) {
        if (!(err instanceof GantryError)) throw err;
        throw this.source.error(`ONBUILD trigger ${JSON.stringify(trigger)}: ${err.message}`, definition.line, {
          hint: err.hint ?? 'the trigger comes from the base image',
        });
      }
      const command = this.toCommand(state, instruction, true);
      if (command.sources.length > 0) newDeps = true;
      commands.push(command);
    }
    state.commands = [...commands, ...state.commands];
    state.commandTotal += commands.length;
    return newDeps;
  }

  private dispatchStages(): void {
    const ctx: DispatchContext = {
      source: this.source,
      lexer: this.lexer,
      globalArgs: this.globalArgs,
      buildArgValues: this.options.buildArgs,
      lint: this.lint!,
      isIgnored: this.options.isIgnored,
      cacheNamespace: this.options.buildArgs['BUILDKIT_CACHE_MOUNT_NS'] ?? '',
      stageInput: (state, line, what) => this.stageInput(state, line, what),
      declaredArgs: this.declaredArgs,
      planSize: new PlanSize(),
    };
    for (const state of this.states) {
      if (!state.definition || state.dispatched) continue;
      if (!this.allStages && !this.reachable.has(state)) continue;
      if (state.base) state.inheritFromBase();
      state.dispatched = true;
      state.platform ??= this.targetPlatform;
      this.initializeFromBase(state);
      try {
        ctx.planSize.addStage(state.config, state.config.Env ?? []);
      } catch (err) {
        throw withLocation(err, this.source, state.definition.line, state.definition.keyword);
      }
      for (const command of state.commands) dispatchCommand(state, command, ctx);
    }
  }

  /** PATH, variables, working directory and user from the base, before the first instruction. */
  private initializeFromBase(state: StageState): void {
    const config: ContainerConfig = state.config;
    if (!(config.Env ?? []).some((entry) => entry.split('=')[0] === 'PATH')) setConfigEnv(config, [['PATH', DEFAULT_PATH]]);
    for (const entry of config.Env ?? []) {
      const eq = entry.indexOf('=');
      state.env.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
    }
    if (config.WorkingDir) {
      const workdir = normalizePath(config.WorkingDir, config.WorkingDir, false);
      config.WorkingDir = workdir;
      state.workdir = workdir;
    }
    if (config.User) state.user = config.User;
    state.baseConfig = snapshotConfig(config, state.snapshots);
  }

  private stageInput(state: StageState, line: number, what: string): StepInput {
    if (state.definition) return { kind: 'stage', stage: state.definition.index };
    if (state.baseName === 'scratch') {
      throw this.source.error(`${what}: scratch has no files`, line, { hint: 'name a stage or an image that has the files' });
    }
    const image = state.resolvedImage;
    if (!image) throw new Error(`image ${state.baseName} read by line ${line} was not resolved`);
    return { kind: 'image', ref: pinnedReference(image) };
  }

  buildPlan(): BuildPlan {
    const stages: PlannedStage[] = [];
    for (const state of this.states) {
      const definition = state.definition;
      if (!definition || !this.reachable.has(state)) continue;
      const dependsOn = new Set<number>();
      if (state.base?.definition) dependsOn.add(state.base.definition.index);
      for (const dep of state.deps.keys()) if (dep.definition) dependsOn.add(dep.definition.index);
      const stage: PlannedStage = {
        index: definition.index,
        base: state.base?.definition
          ? { kind: 'stage', stage: state.base.definition.index }
          : state.resolvedImage
            ? { kind: 'image', image: state.resolvedImage }
            : { kind: 'scratch' },
        platform: state.platform ?? this.targetPlatform,
        source: { file: this.options.file, startLine: definition.node.startLine, endLine: definition.node.endLine, original: definition.original },
        label: fromLabel(state),
        baseConfig: state.baseConfig,
        steps: state.steps,
        dependsOn: [...dependsOn].sort((a, b) => a - b),
      };
      if (definition.name !== undefined) stage.name = definition.name;
      if (state.author !== undefined) stage.author = state.author;
      stages.push(stage);
    }
    const warnings = this.warnings();
    const unused = Object.keys(this.options.buildArgs).filter((name) => !this.declaredArgs.has(name) && !isBuiltinBuildArg(name));
    if (unused.length > 0) {
      warnings.push({
        rule: 'UnusedBuildArgs',
        description: 'Build arguments were given that no ARG instruction of the build declares',
        url: '',
        detail: `One or more build-args [${unused.join(' ')}] were not consumed`,
        level: 'warning',
      });
    }
    return { stages, target: this.target!.definition!.index, warnings };
  }
}

/** RUN, COPY, ADD and WORKDIR are the steps BuildKit counts in "[stage n/total]". */
function doesWork(instruction: Instruction): boolean {
  return instruction.kind === 'run' || instruction.kind === 'copy' || instruction.kind === 'add' || instruction.kind === 'workdir';
}

/** `from=` of a --mount as written (variables are rejected earlier). */
function mountFrom(mount: string): string {
  let from = '';
  try {
    for (const field of parseCsvFields(mount)) {
      const eq = field.indexOf('=');
      if (eq >= 0 && field.slice(0, eq).toLowerCase() === 'from') from = field.slice(eq + 1);
    }
  } catch {
    // Malformed mounts are reported with their location when the RUN is planned.
  }
  return from;
}

function pinnedReference(image: ResolvedImage): string {
  return image.ref.includes('@') ? image.ref : `${image.ref}@${image.digest}`;
}

function unsetArgsHint(names: string[]): string | undefined {
  if (names.length === 0) return undefined;
  return names.map((name) => `ARG ${name} has no value and no global default`).join('; ');
}

/** BuildKit's progress name for a stage's FROM: "[build 1/4] FROM docker.io/library/alpine:3.20@sha256:…". */
function fromLabel(state: StageState): string {
  const image = state.resolvedImage;
  const from = state.base?.definition ? (state.base.labelName || `stage-${state.base.definition.index}`) : image ? `${image.ref}@${image.digest}` : state.baseName;
  if (state.commandTotal === 0) return `FROM ${from}`;
  const width = String(state.commandTotal).length;
  const stage = state.labelName === '' ? '' : `${state.labelName} `;
  return `[${stage}${'1'.padStart(width)}/${state.commandTotal}] FROM ${from}`;
}
