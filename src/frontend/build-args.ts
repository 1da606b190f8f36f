/**
 * The build args of one build: the args BuildKit predefines (platforms, target stage), the global ARGs
 * before the first FROM with --build-arg values applied, the value an ARG in a stage takes, and which
 * --build-arg values no ARG declared. InvalidDefaultArgInFrom is checked here, on the defaults alone.
 */
import { formatPlatform, formatPlatformAll, parseReference, type Platform } from '../image/index.js';
import { Messages, Rules, type Linter } from './checks.js';
import type { ArgDefinition, DockerfileDefinition } from './instructions.js';
import type { CheckWarning } from './plan-types.js';
import { EnvList, ShellSyntaxError, type ShellLexer } from './shell-lexer.js';
import { expansionError, type DockerfileSource } from './source.js';

/** Args BuildKit defines per build (platforms and target stage). */
const PREDEFINED_ARGS = [
  'BUILDPLATFORM', 'BUILDOS', 'BUILDOSVERSION', 'BUILDARCH', 'BUILDVARIANT',
  'TARGETPLATFORM', 'TARGETOS', 'TARGETOSVERSION', 'TARGETARCH', 'TARGETVARIANT', 'TARGETSTAGE',
];

export interface BuildArgsOptions {
  /** --build-arg values. */
  values: Readonly<Record<string, string>>;
  targetPlatform: Platform;
  buildPlatform: Platform;
  /** The target stage's name ('' when it has none), for TARGETSTAGE. */
  targetStage: string;
}

export class BuildArgs {
  /** Every ARG name declared so far: the global ones, then those of the stages planned. */
  private readonly declared = new Set<string>();

  private constructor(
    private readonly values: Readonly<Record<string, string>>,
    /** The predefined args and the global ARGs, with their values in effect. */
    readonly global: EnvList,
    /** The names FROM may use: global ARGs as declared (with or without a value), then the predefined args. */
    readonly fromNames: readonly string[],
  ) {}

  /**
   * The args of a build. Runs InvalidDefaultArgInFrom first; throws a GantryError located at a global
   * ARG whose default does not expand.
   */
  static create(definition: DockerfileDefinition, options: BuildArgsOptions, lexer: ShellLexer, source: DockerfileSource, lint: Linter): BuildArgs {
    const predefined = predefinedArgs(options);
    checkDefaultsInFrom(definition, predefined, lexer, source, lint);
    const global = globalArgValues(definition, predefined, options.values, lexer, source);
    const declared: string[] = [];
    for (const command of definition.metaArgs) for (const arg of command.args) declared.push(arg.key);
    const args = new BuildArgs(options.values, global, [...new Set([...declared, ...global.keys()])]);
    for (const name of declared) args.declared.add(name);
    return args;
  }

  /**
   * The value an ARG of a stage takes: its --build-arg, else its default (expanded by `expandDefault`
   * with the stage's variables), else — `ARG NAME` alone — the global ARG or predefined arg of that
   * name. Undefined when it has none. Records the name as declared.
   */
  stageValue(definition: ArgDefinition, expandDefault: (word: string) => string): string | undefined {
    this.declared.add(definition.key);
    if (Object.hasOwn(this.values, definition.key)) return this.values[definition.key];
    if (definition.value !== undefined) return expandDefault(definition.value);
    return this.global.get(definition.key);
  }

  /** A --build-arg BuildKit reads itself (BUILDKIT_CACHE_MOUNT_NS, ...), or undefined. */
  builtin(name: `BUILDKIT_${string}`): string | undefined {
    return this.values[name];
  }

  /** Docker's warning for --build-arg values no ARG of the build declared, if any. */
  unusedWarning(): CheckWarning | undefined {
    const unused = Object.keys(this.values).filter((name) => !this.declared.has(name) && !isBuiltinBuildArg(name));
    if (unused.length === 0) return undefined;
    return {
      rule: 'UnusedBuildArgs',
      description: 'Build arguments were given that no ARG instruction of the build declares',
      url: '',
      detail: `One or more build-args [${unused.join(' ')}] were not consumed`,
      level: 'warning',
    };
  }
}

/** The predefined args, each overridable by a --build-arg of its name. */
function predefinedArgs(options: BuildArgsOptions): EnvList {
  const build = options.buildPlatform;
  const target = options.targetPlatform;
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
    ['TARGETSTAGE', options.targetStage === '' ? 'default' : options.targetStage],
  ]);
  for (const key of env.keys()) {
    const override = options.values[key];
    if (override !== undefined) env.set(key, override);
  }
  return env;
}

/** `args` with the global ARGs set in order: a --build-arg in `values`, else the default expanded. */
function globalArgValues(definition: DockerfileDefinition, args: EnvList, values: Readonly<Record<string, string>>, lexer: ShellLexer, source: DockerfileSource): EnvList {
  for (const command of definition.metaArgs) {
    for (const arg of command.args) {
      let value: string | undefined;
      if (Object.hasOwn(values, arg.key)) value = values[arg.key];
      else if (arg.value !== undefined) {
        try {
          value = lexer.processWord(arg.value, args);
        } catch (err) {
          if (err instanceof ShellSyntaxError) throw expansionError(err, source, command.line, command.keyword);
          throw err;
        }
      }
      if (value !== undefined) args.set(arg.key, value);
    }
  }
  return args;
}

/** InvalidDefaultArgInFrom: each FROM must name a valid image with the ARG defaults alone. */
function checkDefaultsInFrom(definition: DockerfileDefinition, predefined: EnvList, lexer: ShellLexer, source: DockerfileSource, lint: Linter): void {
  let args: EnvList;
  try {
    args = globalArgValues(definition, predefined.clone(), {}, lexer, source);
  } catch {
    // The same error stops the build right after; the check has nothing to add.
    return;
  }
  for (const stage of definition.stages) {
    let result: string;
    try {
      result = lexer.processWord(stage.baseName, args);
    } catch {
      return;
    }
    try {
      parseReference(result);
    } catch {
      lint.run(Rules.InvalidDefaultArgInFrom, stage.line, Messages.invalidDefaultArgInFrom(stage.baseName));
    }
  }
}

/** --build-arg names BuildKit reads itself; passing them is never "unused". */
function isBuiltinBuildArg(name: string): boolean {
  return (
    PREDEFINED_ARGS.includes(name) ||
    name.startsWith('BUILDKIT_') ||
    name === 'SOURCE_DATE_EPOCH' ||
    ['http_proxy', 'https_proxy', 'ftp_proxy', 'no_proxy', 'all_proxy'].includes(name.toLowerCase())
  );
}
