/** The Dockerfile frontend: Dockerfile text in, BuildPlan (or check results) out. */
export { planBuild, checkDockerfile, DockerfileError, type CheckResult } from './plan.js';
export { dumpDockerfileAst } from './ast-dump.js';
export {
  ShellLexer,
  EnvList,
  ShellSyntaxError,
  WordTooLongError,
  MAX_WORD_LENGTH,
  type EnvLookup,
  type ExpansionResult,
  type ShellLexerOptions,
} from './shell-lexer.js';
export { parseDockerfile, MAX_INSTRUCTIONS, type InstructionNode, type ParsedDockerfile, type EscapeToken } from './parser.js';
export type { Heredoc } from './heredoc.js';
export type { ParserDirective, CheckConfig } from './directives.js';
export { parseCheckConfig } from './directives.js';
export {
  parseInstructions,
  type DockerfileDefinition,
  type StageDefinition,
  type Instruction,
  type InstructionOf,
  type KeyValue,
  type ArgDefinition,
  type InlineSource,
  type CopySpec,
  type ShellDependentCommand,
} from './instructions.js';
export { Rules as CheckRules, type CheckRule } from './checks.js';
export { parsePlatform, formatPlatform, formatPlatformAll, normalizePlatform } from '../image/index.js';
export { MAX_PLAN_SIZE } from './plan-size.js';
export { MAX_DOCKERFILE_BYTES, dockerfileTooLarge } from './source.js';
export type * from './plan-types.js';
