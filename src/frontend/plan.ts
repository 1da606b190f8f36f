/**
 * planBuild and checkDockerfile: a Dockerfile, build args, target and platforms become a BuildPlan, as
 * BuildKit's dockerfile2llb converts a Dockerfile. This module runs the phases in order — build args
 * (build-args.ts), the stage graph and target (stage-graph.ts), base images resolved for the stages the
 * target needs (base-images.ts) with ONBUILD triggers until stable (onbuild.ts), then every instruction of
 * every needed stage (dispatch.ts) — and assembles the plan. Lint mode (checkDockerfile) covers every
 * stage, like BuildKit's lint request.
 */
import { GantryError } from '../util/index.js';
import { formatPlatform, normalizePlatform } from '../image/index.js';
import { BaseImages } from './base-images.js';
import { BuildArgs } from './build-args.js';
import { Linter, Messages, Rules } from './checks.js';
import { emptyCheckConfig, parseCheckConfig, type CheckConfig } from './directives.js';
import { dispatchCommand, type DispatchOptions } from './dispatch.js';
import { parseInstructions, validateCommandCasing } from './instructions.js';
import { StageLabels } from './labels.js';
import { OnBuildTriggers } from './onbuild.js';
import { parseDockerfile, type ParsedDockerfile } from './parser.js';
import type { BuildPlan, CheckWarning, PlannedStage, PlanOptions } from './plan-types.js';
import { PlanSize } from './plan-size.js';
import { ShellLexer } from './shell-lexer.js';
import { withLocation } from './source.js';
import { StageGraph, validateStageNames, type StageNode } from './stage-graph.js';
import { StageState } from './stage-state.js';

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
  const run: PlanRun = {};
  try {
    return await plan(text, options, false, run);
  } catch (err) {
    throw dockerfileError(err, run);
  }
}

/**
 * Runs the build checks the way `docker build --check` does: every stage when no target is given,
 * base images resolved. Never throws for a Dockerfile mistake: it is returned as `error`.
 */
export async function checkDockerfile(text: string, options: PlanOptions): Promise<CheckResult> {
  const run: PlanRun = {};
  try {
    await plan(text, options, !options.target, run);
  } catch (err) {
    const error = dockerfileError(err, run);
    return { warnings: error.warnings, failed: true, error };
  }
  return { warnings: lintWarnings(run), failed: false };
}

/** What a run of the phases leaves for its caller when it fails: the linter and its findings. */
interface PlanRun {
  lint?: Linter;
}

function lintWarnings(run: PlanRun): CheckWarning[] {
  return run.lint ? [...run.lint.warnings] : [];
}

function dockerfileError(err: unknown, run: PlanRun): DockerfileError {
  if (err instanceof DockerfileError) return err;
  if (err instanceof GantryError) return new DockerfileError(err, lintWarnings(run));
  throw err;
}

/** The phases, in order; `allStages` plans every stage (lint mode) rather than those the target needs. */
async function plan(text: string, options: PlanOptions, allStages: boolean, run: PlanRun): Promise<BuildPlan> {
  if (text.length === 0) {
    throw new GantryError('the Dockerfile cannot be empty', { location: { file: options.file, line: 1, column: 1 }, hint: 'start it with FROM <image>' });
  }
  for (const [what, platform] of [['target', options.targetPlatform], ['build', options.buildPlatform]] as const) {
    if (platform.os === 'windows') {
      throw new GantryError(`${what} platform ${formatPlatform(platform)} is not supported`, { hint: 'gantry builds Linux images' });
    }
  }
  const parsed = parseDockerfile(text, options.file);
  const source = parsed.source;
  const lexer = new ShellLexer({ escapeToken: parsed.escapeToken });
  const lint = Linter.create(checkConfig(options, parsed), source);
  run.lint = lint;
  for (const line of parsed.emptyContinuationLines) {
    lint.run(Rules.NoEmptyContinuation, line, Messages.noEmptyContinuation());
  }
  const definition = parseInstructions(parsed, lint);
  if (definition.stages.length === 0) {
    const last = parsed.instructions[parsed.instructions.length - 1]!;
    throw source.error('dockerfile contains no stages to build', last.startLine, { hint: 'add a FROM instruction after the global ARGs' });
  }
  validateStageNames(definition.stages, lint);
  validateCommandCasing(definition.stages, lint);

  const targetPlatform = normalizePlatform(options.targetPlatform);
  const buildPlatform = normalizePlatform(options.buildPlatform);
  const args = BuildArgs.create(
    definition,
    {
      values: options.buildArgs,
      targetPlatform,
      buildPlatform,
      targetStage: options.target ?? definition.stages[definition.stages.length - 1]!.name ?? '',
    },
    lexer,
    source,
    lint,
  );
  const graph = new StageGraph(definition, { args, lexer, source, lint, target: options.target, buildPlatform });

  // Triggers can read stages and images the target did not need before: resolve and add until stable.
  const bases = new BaseImages(graph, options.resolveImage, targetPlatform, source, lint);
  const triggers = new OnBuildTriggers(graph, bases, source);
  let needed: Set<StageNode>;
  do {
    needed = graph.needed();
    await bases.resolve(graph.nodes.filter((node) => allStages || needed.has(node)));
  } while (triggers.add(graph.nodes.filter((node) => needed.has(node))));

  const states = new Map<StageNode, StageState>();
  const dispatch: DispatchOptions = {
    source,
    lexer,
    args,
    lint,
    isIgnored: options.isIgnored,
    inputs: {
      ready: (node) => (node.definition ? states.has(node) : bases.get(node) !== undefined),
      input: (node, line, what) => (node.definition ? { kind: 'stage', stage: node.definition.index } : bases.input(node, line, what)),
    },
    planSize: new PlanSize(),
  };
  for (const node of graph.nodes) {
    if (!node.definition || !(allStages || needed.has(node))) continue;
    const state = startStage(node, states, bases);
    states.set(node, state);
    try {
      dispatch.planSize.addStage(state.config, state.config.Env ?? []);
    } catch (err) {
      throw withLocation(err, source, node.definition.line, node.definition.keyword);
    }
    for (const command of node.commands) dispatchCommand(state, command, dispatch);
  }
  const violation = lint.violation();
  if (violation) {
    throw new GantryError(violation, { hint: 'fix the findings above, or skip rules with # check=skip=<rule>' });
  }
  return buildPlan(graph, needed, states, bases, args, lint, options.file);
}

/** The build checks configuration: --check options, else BUILDKIT_DOCKERFILE_CHECK, else the # check= directive. */
function checkConfig(options: PlanOptions, parsed: ParsedDockerfile): CheckConfig {
  const fromOptions = options.checkConfig ?? options.buildArgs['BUILDKIT_DOCKERFILE_CHECK'];
  if (fromOptions !== undefined) {
    try {
      return parseCheckConfig(fromOptions);
    } catch (err) {
      if (err instanceof GantryError) throw new GantryError(`failed to parse check options: ${err.message}`, { hint: err.hint });
      throw err;
    }
  }
  const directive = parsed.directives.find((d) => d.name === 'check');
  if (!directive) return emptyCheckConfig();
  try {
    return parseCheckConfig(directive.value.split(' ')[0]!);
  } catch (err) {
    if (err instanceof GantryError) throw parsed.source.error(`failed to parse check options: ${err.message}`, directive.line, { hint: err.hint });
    throw err;
  }
}

/** The state a stage starts from: what its base stage ended with, or what its image (or scratch) gives. */
function startStage(node: StageNode, states: ReadonlyMap<StageNode, StageState>, bases: BaseImages): StageState {
  const definition = node.definition!;
  // BuildKit's progress counts the FROM of an image as the stage's first step.
  const labels = new StageLabels(node.labelName, node.commandTotal, node.pullsImage ? 1 : 0);
  if (node.base) {
    const base = states.get(node.base);
    if (!base) throw new Error(`stage ${node.labelName} is planned before its base stage ${node.base.labelName}`);
    return StageState.fromStage(definition, labels, base);
  }
  const base = bases.get(node);
  if (!base) throw new Error(`stage ${node.labelName} is planned before its base ${node.baseName} was resolved`);
  return StageState.fromImage(definition, labels, base);
}

function buildPlan(
  graph: StageGraph,
  needed: ReadonlySet<StageNode>,
  states: ReadonlyMap<StageNode, StageState>,
  bases: BaseImages,
  args: BuildArgs,
  lint: Linter,
  file: string,
): BuildPlan {
  const stages: PlannedStage[] = [];
  for (const node of graph.nodes) {
    const definition = node.definition;
    const state = states.get(node);
    if (!definition || !state || !needed.has(node)) continue;
    const dependsOn = new Set<number>();
    if (node.base?.definition) dependsOn.add(node.base.definition.index);
    for (const dep of node.deps.keys()) if (dep.definition) dependsOn.add(dep.definition.index);
    const image = node.base ? undefined : bases.get(node)?.image;
    const baseStage = node.base?.definition;
    const stage: PlannedStage = {
      index: definition.index,
      base: baseStage ? { kind: 'stage', stage: baseStage.index } : image ? { kind: 'image', image } : { kind: 'scratch' },
      platform: state.platform,
      source: { file, startLine: definition.node.startLine, endLine: definition.node.endLine, original: definition.original },
      label: state.labels.from(baseStage ? node.base!.labelName || `stage-${baseStage.index}` : image ? `${image.ref}@${image.digest}` : node.baseName),
      baseConfig: state.baseConfig,
      steps: state.steps,
      dependsOn: [...dependsOn].sort((a, b) => a - b),
    };
    if (definition.name !== undefined) stage.name = definition.name;
    if (state.author !== undefined) stage.author = state.author;
    stages.push(stage);
  }
  const warnings = [...lint.warnings];
  const unused = args.unusedWarning();
  if (unused) warnings.push(unused);
  return { stages, target: graph.target.definition!.index, warnings };
}
