/**
 * The stage graph of a build: a node for each stage (FROM expanded with the global args) and for each
 * image only read from (COPY --from, RUN --mount from=), stage names, the target, the stages each
 * command reads, cycle detection, and which nodes the target needs; with the checks of stage names
 * (DuplicateStageName, ReservedStageName) and of FROM (UndefinedArgInFrom, RedundantTargetPlatform,
 * FromPlatformFlagConstDisallowed).
 */
import { GantryError } from '../util/index.js';
import { parsePlatform, type Platform } from '../image/index.js';
import type { BuildArgs } from './build-args.js';
import { Messages, Rules, type Linter } from './checks.js';
import type { DockerfileDefinition, Instruction, StageDefinition } from './instructions.js';
import { parseCsvFields } from './run-mounts.js';
import { EnvList, ShellSyntaxError, type ExpansionResult, type ShellLexer } from './shell-lexer.js';
import { expansionError, type DockerfileSource } from './source.js';
import { suggest } from './suggest.js';

/** An instruction of a stage with the graph nodes it reads. */
export interface StageCommand {
  instruction: Instruction;
  /**
   * Nodes this command reads from: for COPY --from the one source; for RUN one per --mount (undefined
   * for a bind mount of the build context).
   */
  sources: Array<StageNode | undefined>;
  /** An ONBUILD trigger inherited from the base. */
  fromOnBuild: boolean;
}

export class StageNode {
  /** Stages this one reads from, with the line of the instruction that reads. */
  readonly deps = new Map<StageNode, number>();
  /** The stage this one is built on (FROM <stage name>). */
  base?: StageNode;
  commands: StageCommand[] = [];
  /** The steps BuildKit counts in "[stage n/total]". */
  commandTotal = 0;
  /** Name used in progress labels: the stage name, "stage-N", or "" for a lone stage. */
  labelName: string;

  constructor(
    /** Set for stages written in the Dockerfile; undefined for an image used by COPY --from or a mount. */
    readonly definition: StageDefinition | undefined,
    /** The base name after expansion: an image reference, a stage name or "scratch". */
    readonly baseName: string,
    /** `FROM --platform`, expanded. */
    readonly platform?: Platform,
    /** Variables FROM referenced that had no value, for hints. */
    readonly unsetInFrom: readonly string[] = [],
  ) {
    this.labelName = definition?.name ?? (definition ? `stage-${definition.index}` : '');
  }

  get name(): string | undefined {
    return this.definition?.name;
  }

  /** Whether FROM pulls an image: BuildKit then counts it as the stage's first step. */
  get pullsImage(): boolean {
    return this.baseName !== 'scratch' && !this.base;
  }
}

export interface StageGraphOptions {
  args: BuildArgs;
  lexer: ShellLexer;
  source: DockerfileSource;
  lint: Linter;
  /** The target stage's name; the last stage when undefined. */
  target?: string;
  /** For `FROM --platform` values that leave parts out. */
  buildPlatform: Platform;
}

export class StageGraph {
  /** Stages in Dockerfile order, and the images read from, each added when first read. */
  readonly nodes: StageNode[] = [];
  readonly target: StageNode;
  private readonly byName = new Map<string, StageNode>();

  private readonly lexer: ShellLexer;
  private readonly source: DockerfileSource;

  /** Throws a GantryError for a blank or invalid FROM, an unknown target, a bad --from and a cycle. */
  constructor(definition: DockerfileDefinition, options: StageGraphOptions) {
    this.lexer = options.lexer;
    this.source = options.source;
    const from = new FromExpansion(options);
    for (const stage of definition.stages) {
      const node = from.node(stage);
      this.add(node);
      for (const instruction of stage.instructions) if (doesWork(instruction)) node.commandTotal++;
      if (node.pullsImage) node.commandTotal++;
    }
    this.target = this.findTarget(options.target);
    for (const node of [...this.nodes]) {
      node.commands = node.definition!.instructions.map((instruction) => this.command(node, instruction, false));
    }
    this.checkCycles();
    if (this.nodes.length === 1) this.nodes[0]!.labelName = '';
  }

  /** The stage named `name` (lower case). */
  stage(name: string): StageNode | undefined {
    return this.byName.get(name);
  }

  /** The names of the stages, as labels show them, for suggestions. */
  stageNames(): string[] {
    return this.nodes.filter((node) => node.definition && node.labelName !== '').map((node) => node.labelName);
  }

  /** `instruction` of `node` as a command, with the nodes it reads added to the graph and to node's deps. */
  command(node: StageNode, instruction: Instruction, fromOnBuild: boolean): StageCommand {
    const sources: Array<StageNode | undefined> = [];
    const line = fromOnBuild ? node.definition!.line : instruction.line;
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
        const indexed = this.nodes[index];
        if (index < 0 || !indexed) {
          throw this.source.error(`invalid stage index ${index}`, line, {
            needle: '--from',
            hint: `stages are numbered from 0 to ${this.nodes.filter((n) => n.definition).length - 1}`,
          });
        }
        sources.push(indexed);
      } else {
        sources.push(this.findOrAddImage(from));
      }
    } else if (instruction.kind === 'run') {
      for (const mount of instruction.mounts) sources.push(this.findOrAddImage(mountFrom(mount) || 'scratch'));
    }
    for (const source of sources) if (source) node.deps.set(source, line);
    return { instruction, sources, fromOnBuild };
  }

  /** The nodes the target needs: itself, its base and the nodes it reads, transitively. */
  needed(): Set<StageNode> {
    const seen = new Set<StageNode>();
    const add = (node: StageNode) => {
      if (seen.has(node)) return;
      seen.add(node);
      if (node.base) add(node.base);
      for (const dep of node.deps.keys()) add(dep);
    };
    add(this.target);
    return seen;
  }

  /** For an image only read from: the line of the first instruction that reads it. */
  lineReading(image: StageNode): number {
    for (const node of this.nodes) {
      const line = node.deps.get(image);
      if (line !== undefined) return line;
    }
    return 1;
  }

  private add(node: StageNode): void {
    this.nodes.push(node);
    const base = this.byName.get(node.baseName);
    if (base) node.base = base;
    if (node.name !== undefined) this.byName.set(node.name, node);
  }

  private findTarget(wanted: string | undefined): StageNode {
    if (wanted === undefined) return this.nodes[this.nodes.length - 1]!;
    const found = this.byName.get(wanted.toLowerCase());
    if (found) return found;
    const names = this.nodes.flatMap((n) => (n.name === undefined ? [] : [n.name]));
    const close = suggest(wanted, names, true);
    throw new GantryError(`target stage "${wanted}" could not be found`, {
      hint: names.length === 0
        ? 'the Dockerfile has no named stages; name one with FROM <image> AS <name>'
        : `${close ? `did you mean ${close}? ` : ''}stages are: ${names.join(', ')}`,
    });
  }

  /** A stage by name, or an image only read from (added to the graph like BuildKit's unnamed states). */
  private findOrAddImage(name: string): StageNode {
    const stage = this.byName.get(name.toLowerCase());
    if (stage) return stage;
    const image = new StageNode(undefined, name);
    this.add(image);
    return image;
  }

  private checkCycles(): void {
    const visited = new Set<StageNode>();
    const onPath = new Set<StageNode>();
    const visit = (node: StageNode, lines: number[]): number[] | undefined => {
      if (visited.has(node)) return undefined;
      visited.add(node);
      onPath.add(node);
      for (const [dep, line] of node.deps) {
        const next = [...lines, line];
        if (onPath.has(dep)) return next;
        const cycle = visit(dep, next);
        if (cycle) return cycle;
      }
      onPath.delete(node);
      return undefined;
    };
    for (const node of this.nodes) {
      const cycle = visit(node, []);
      if (cycle) {
        throw this.source.error(`circular dependency detected on stage: ${node.labelName}`, cycle[cycle.length - 1]!, {
          hint: `the stages read from each other (lines ${cycle.join(', ')}); a stage can only read stages defined above it`,
        });
      }
    }
  }
}

/** FROM of each stage: the base name and --platform expanded with the global args, and the FROM checks. */
class FromExpansion {
  private readonly args: BuildArgs;

  constructor(private readonly options: StageGraphOptions) {
    this.args = options.args;
  }

  node(stage: StageDefinition): StageNode {
    const lint = this.options.lint.withComments(stage.comments);
    const base = this.expand(stage.baseName, stage, lint);
    if (base.result === '') {
      throw this.options.source.error(`base name (${stage.baseName}) should not be blank`, stage.line, {
        needle: stage.baseName,
        hint: unsetArgsHint([...base.unmatched]) ?? 'FROM needs an image, a stage name or scratch',
      });
    }
    const platform = stage.platform === undefined ? undefined : this.platform(stage, stage.platform, lint);
    return new StageNode(stage, base.result, platform, [...base.unmatched]);
  }

  private expand(word: string, stage: StageDefinition, lint: Linter): ExpansionResult {
    let result: ExpansionResult;
    try {
      result = this.options.lexer.expand(word, this.args.global);
    } catch (err) {
      if (err instanceof ShellSyntaxError) throw expansionError(err, this.options.source, stage.line, stage.keyword);
      throw err;
    }
    for (const name of result.unmatched) {
      if (this.args.fromNames.includes(name)) continue;
      lint.run(Rules.UndefinedArgInFrom, stage.line, Messages.undefinedArgInFrom(name, suggest(name, this.args.fromNames, true)));
    }
    return result;
  }

  private platform(stage: StageDefinition, written: string, lint: Linter): Platform {
    const { source, buildPlatform } = this.options;
    const expansion = this.expand(written, stage, lint);
    if (expansion.matched.size === 1 && expansion.unmatched.size === 0 && expansion.matched.has('TARGETPLATFORM')) {
      if (expansion.result === this.args.global.get('TARGETPLATFORM')) {
        lint.run(Rules.RedundantTargetPlatform, stage.line, Messages.redundantTargetPlatform(written));
      }
    }
    if (expansion.matched.size === 0 && expansion.unmatched.size === 0) {
      try {
        const constant = parsePlatform(expansion.result, buildPlatform);
        const name = stage.name ?? '';
        if (!name.includes(constant.os) && !name.includes(constant.architecture)) {
          lint.run(Rules.FromPlatformFlagConstDisallowed, stage.line, Messages.fromPlatformFlagConstDisallowed(expansion.result));
        }
      } catch {
        // Reported below when the platform is parsed for real.
      }
    }
    const hint = didYouMean([...expansion.unmatched], this.args.global.keys());
    if (expansion.result === '') {
      throw source.error(`empty platform value from expression ${written}`, stage.line, { needle: '--platform', hint });
    }
    let platform: Platform;
    try {
      platform = parsePlatform(expansion.result, buildPlatform);
    } catch (err) {
      if (!(err instanceof GantryError)) throw err;
      throw source.error(`failed to parse platform ${written}: ${err.message}`, stage.line, {
        needle: '--platform',
        hint: hint ?? 'platforms look like linux/amd64 or linux/arm64/v8',
      });
    }
    if (platform.os === 'windows') {
      throw source.error(`platform ${expansion.result} is not supported`, stage.line, { needle: '--platform', hint: 'gantry builds Linux images' });
    }
    return platform;
  }
}

/** "ARG X has no value and no global default" for each variable named, or undefined for none. */
export function unsetArgsHint(names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  return names.map((name) => `ARG ${name} has no value and no global default`).join('; ');
}

function didYouMean(names: string[], options: string[]): string | undefined {
  for (const name of names) {
    const close = suggest(name, options, true);
    if (close) return `did you mean ${close}?`;
  }
  return undefined;
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

const RESERVED_STAGE_NAMES = new Set(['context', 'scratch']);

/** DuplicateStageName and ReservedStageName. */
export function validateStageNames(stages: StageDefinition[], lint: Linter): void {
  const seen = new Set<string>();
  for (const stage of stages) {
    if (stage.name === undefined) continue;
    if (RESERVED_STAGE_NAMES.has(stage.name)) lint.run(Rules.ReservedStageName, stage.line, Messages.reservedStageName(stage.name));
    if (seen.has(stage.name)) lint.run(Rules.DuplicateStageName, stage.line, Messages.duplicateStageName(stage.name));
    seen.add(stage.name);
  }
}
