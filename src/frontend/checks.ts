/**
 * Build checks: BuildKit's lint rules (names, descriptions, documentation URLs, message formats) and
 * the linter that applies a check configuration (`# check=` directive, per-instruction `# check=`
 * comments, `--check` options) and collects CheckWarnings.
 */
import type { CheckWarning } from './plan-types.js';
import { checkConfigFromComments, mergeCheckConfig, type CheckConfig } from './directives.js';
import type { DockerfileSource } from './source.js';

export interface CheckRule {
  name: string;
  description: string;
  url: string;
  /** Experimental rules run only when opted into with `experimental=`. */
  experimental?: boolean;
}

const DOCS = 'https://docs.docker.com/go/dockerfile/rule/';

function rule(name: string, slug: string, description: string, experimental = false): CheckRule {
  return { name, description, url: slug === '' ? '' : `${DOCS}${slug}/`, experimental };
}

export const Rules = {
  StageNameCasing: rule('StageNameCasing', 'stage-name-casing', 'Stage names should be lowercase'),
  FromAsCasing: rule('FromAsCasing', 'from-as-casing', "The 'as' keyword should match the case of the 'from' keyword"),
  NoEmptyContinuation: rule(
    'NoEmptyContinuation',
    'no-empty-continuation',
    'Empty continuation lines will become errors in a future release',
  ),
  ConsistentInstructionCasing: rule(
    'ConsistentInstructionCasing',
    'consistent-instruction-casing',
    'All commands within the Dockerfile should use the same casing (either upper or lower)',
  ),
  DuplicateStageName: rule('DuplicateStageName', 'duplicate-stage-name', 'Stage names should be unique'),
  ReservedStageName: rule('ReservedStageName', 'reserved-stage-name', 'Reserved words should not be used as stage names'),
  JSONArgsRecommended: rule(
    'JSONArgsRecommended',
    'json-args-recommended',
    'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals',
  ),
  MaintainerDeprecated: rule(
    'MaintainerDeprecated',
    'maintainer-deprecated',
    'The MAINTAINER instruction is deprecated, use a label instead to define an image author',
  ),
  UndefinedArgInFrom: rule('UndefinedArgInFrom', 'undefined-arg-in-from', 'FROM command must use declared ARGs'),
  WorkdirRelativePath: rule(
    'WorkdirRelativePath',
    'workdir-relative-path',
    'Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes',
  ),
  UndefinedVar: rule('UndefinedVar', 'undefined-var', 'Variables should be defined before their use'),
  MultipleInstructionsDisallowed: rule(
    'MultipleInstructionsDisallowed',
    'multiple-instructions-disallowed',
    'Multiple instructions of the same type should not be used in the same stage',
  ),
  LegacyKeyValueFormat: rule(
    'LegacyKeyValueFormat',
    'legacy-key-value-format',
    'Legacy key/value format with whitespace separator should not be used',
  ),
  // BuildKit publishes no documentation page for this rule.
  InvalidBaseImagePlatform: rule('InvalidBaseImagePlatform', '', 'Base image platform does not match expected target platform'),
  RedundantTargetPlatform: rule(
    'RedundantTargetPlatform',
    'redundant-target-platform',
    'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
  ),
  SecretsUsedInArgOrEnv: rule(
    'SecretsUsedInArgOrEnv',
    'secrets-used-in-arg-or-env',
    'Sensitive data should not be used in the ARG or ENV commands',
  ),
  InvalidDefaultArgInFrom: rule(
    'InvalidDefaultArgInFrom',
    'invalid-default-arg-in-from',
    'Default value for global ARG results in an empty or invalid base image name',
  ),
  FromPlatformFlagConstDisallowed: rule(
    'FromPlatformFlagConstDisallowed',
    'from-platform-flag-const-disallowed',
    'FROM --platform flag should not use a constant value',
  ),
  CopyIgnoredFile: rule('CopyIgnoredFile', 'copy-ignored-file', 'Attempting to Copy file that is excluded by .dockerignore'),
  InvalidDefinitionDescription: rule(
    'InvalidDefinitionDescription',
    'invalid-definition-description',
    'Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.',
    true,
  ),
  ExposeProtoCasing: rule('ExposeProtoCasing', 'expose-proto-casing', 'Protocol in EXPOSE instruction should be lowercase'),
  ExposeInvalidFormat: rule(
    'ExposeInvalidFormat',
    'expose-invalid-format',
    'IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release',
  ),
} satisfies Record<string, CheckRule>;

/** Warning texts, worded as BuildKit words them. */
export const Messages = {
  stageNameCasing: (name: string) => `Stage name '${name}' should be lowercase`,
  fromAsCasing: (from: string, as: string) => `'${as}' and '${from}' keywords' casing do not match`,
  noEmptyContinuation: () => 'Empty continuation line',
  consistentInstructionCasing: (command: string, casing: 'lowercase' | 'uppercase') =>
    `Command '${command}' should match the case of the command majority (${casing})`,
  duplicateStageName: (name: string) => `Duplicate stage name "${name}", stage names should be unique`,
  reservedStageName: (name: string) => `Stage name should not use the same name as reserved stage "${name}"`,
  jsonArgsRecommended: (instruction: string) =>
    `JSON arguments recommended for ${instruction} to prevent unintended behavior related to OS signals`,
  maintainerDeprecated: () => 'Maintainer instruction is deprecated in favor of using label',
  undefinedArgInFrom: (arg: string, suggestion?: string) =>
    `FROM argument '${arg}' is not declared${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
  workdirRelativePath: (workdir: string) => `Relative workdir "${workdir}" can have unexpected results if the base image changes`,
  undefinedVar: (name: string, suggestion?: string) =>
    `Usage of undefined variable '$${name}'${suggestion ? ` (did you mean $${suggestion}?)` : ''}`,
  multipleInstructionsDisallowed: (instruction: string) =>
    `Multiple ${instruction} instructions should not be used in the same stage because only the last one will be used`,
  legacyKeyValueFormat: (instruction: string) =>
    `"${instruction} key=value" should be used instead of legacy "${instruction} key value" format`,
  invalidBaseImagePlatform: (image: string, expected: string, actual: string) =>
    `Base image ${image} was pulled with platform "${actual}", expected "${expected}" for current build`,
  redundantTargetPlatform: (expression: string) =>
    `Setting platform to predefined ${expression} in FROM is redundant as this is the default behavior`,
  secretsUsedInArgOrEnv: (instruction: string, key: string) =>
    `Do not use ARG or ENV instructions for sensitive data (${instruction} "${key}")`,
  invalidDefaultArgInFrom: (baseName: string) => `Default value for ARG ${baseName} results in empty or invalid base image name`,
  fromPlatformFlagConstDisallowed: (platform: string) => `FROM --platform flag should not use constant value "${platform}"`,
  copyIgnoredFile: (instruction: 'Copy' | 'Add', file: string) =>
    `Attempting to ${instruction} file "${file}" that is excluded by .dockerignore`,
  invalidDefinitionDescription: (instruction: string, name: string) =>
    `Comment for ${instruction} should follow the format: \`# ${name} <description>\``,
  exposeProtoCasing: (port: string) => `Defined protocol '${port}' in EXPOSE instruction should be lowercase`,
  exposeInvalidFormat: (port: string) =>
    `EXPOSE instruction should not define an IP address or host-port mapping, found '${port}'`,
};

/** Shared by a linter and the linters derived from it for single instructions. */
interface LintSink {
  warnings: CheckWarning[];
  /** Rule names that reported, in first-report order. */
  reportedRules: string[];
}

export class Linter {
  private constructor(
    private readonly config: CheckConfig,
    private readonly source: DockerfileSource,
    private readonly sink: LintSink,
  ) {}

  static create(config: CheckConfig, source: DockerfileSource): Linter {
    return new Linter(config, source, { warnings: [], reportedRules: [] });
  }

  get warnings(): CheckWarning[] {
    return this.sink.warnings;
  }

  /** The linter for an instruction, with the `# check=` comment just above it applied. */
  withComments(comments: readonly string[]): Linter {
    const extra = checkConfigFromComments(comments);
    return extra ? new Linter(mergeCheckConfig(this.config, extra), this.source, this.sink) : this;
  }

  run(rule: CheckRule, line: number, detail: string): void {
    if (rule.experimental) {
      if (!this.config.experimentalAll && !this.config.experimental.has(rule.name)) return;
    } else if (this.config.skipAll || this.config.skip.has(rule.name)) {
      return;
    }
    if (!this.sink.reportedRules.includes(rule.name)) this.sink.reportedRules.push(rule.name);
    this.sink.warnings.push({
      rule: rule.name,
      description: rule.description,
      url: rule.url,
      detail,
      level: this.config.error ? 'error' : 'warning',
      location: { file: this.source.file, line, column: this.source.location(line).column },
    });
  }

  /** With `error=true`, the message of the error findings turn into; undefined when the build may go on. */
  violation(): string | undefined {
    if (!this.config.error || this.sink.reportedRules.length === 0) return undefined;
    return `lint violation found for rules: ${this.sink.reportedRules.join(', ')}`;
  }
}
