/**
 * ONBUILD triggers: a stage runs, before its own instructions, the triggers its base recorded — the
 * OnBuild list of a base image's config, or the ONBUILD instructions of a base stage — each parsed as an
 * instruction located at the stage's FROM. Triggers can read other stages, so the planner adds them until
 * the stages the target needs stop growing.
 */
import { GantryError } from '../util/index.js';
import type { BaseImages } from './base-images.js';
import { Linter } from './checks.js';
import { emptyCheckConfig } from './directives.js';
import { parseInstruction, type Instruction } from './instructions.js';
import { parseDockerfile } from './parser.js';
import type { DockerfileSource } from './source.js';
import type { StageCommand, StageGraph, StageNode } from './stage-graph.js';

export class OnBuildTriggers {
  /** Stages built on a stage whose ONBUILD instructions were taken already. */
  private readonly fromStages = new Set<StageNode>();
  /** Triggers are not linted: BuildKit reports nothing about a base's ONBUILD. */
  private readonly silent: Linter;

  constructor(
    private readonly graph: StageGraph,
    private readonly bases: BaseImages,
    private readonly source: DockerfileSource,
  ) {
    this.silent = Linter.create({ ...emptyCheckConfig(), skipAll: true }, source);
  }

  /**
   * Puts in front of the commands of each stage in `stages` the triggers of its base not taken yet
   * (bases must be resolved). Returns whether a trigger reads another node, so that more may be needed.
   * Throws a GantryError at the FROM line for a trigger that does not parse.
   */
  add(stages: Iterable<StageNode>): boolean {
    let newDeps = false;
    for (const node of stages) {
      if (!node.definition) continue;
      const triggers: string[] = [];
      const base = this.bases.get(node);
      if (!node.base && base) {
        triggers.push(...(base.config.OnBuild ?? []));
        // Taken once: the stage's config does not keep its base's triggers.
        delete base.config.OnBuild;
      }
      if (node.base && !this.fromStages.has(node)) {
        for (const command of node.base.commands) {
          if (command.instruction.kind === 'onbuild') triggers.push(command.instruction.expression);
        }
        this.fromStages.add(node);
      }
      if (triggers.length > 0 && this.prepend(node, triggers)) newDeps = true;
    }
    return newDeps;
  }

  private prepend(node: StageNode, triggers: string[]): boolean {
    const definition = node.definition!;
    let newDeps = false;
    const commands: StageCommand[] = [];
    for (const trigger of triggers) {
      let instruction: Instruction;
      try {
        const parsed = parseDockerfile(trigger, this.source.file);
        if (parsed.instructions.length !== 1) throw new GantryError('onbuild trigger should be a single expression');
        const parsedNode = parsed.instructions[0]!;
        parsedNode.startLine = definition.node.startLine;
        parsedNode.endLine = definition.node.endLine;
        if (parsedNode.keyword.toLowerCase() === 'from') throw new GantryError("FROM isn't allowed as an ONBUILD trigger");
        instruction = parseInstruction(parsedNode, this.source, this.silent);
      } catch (err) {
        if (!(err instanceof GantryError)) throw err;
        throw this.source.error(`ONBUILD trigger ${JSON.stringify(trigger)}: ${err.message}`, definition.line, {
          hint: err.hint ?? 'the trigger comes from the base image',
        });
      }
      const command = this.graph.command(node, instruction, true);
      if (command.sources.length > 0) newDeps = true;
      commands.push(command);
    }
    node.commands = [...commands, ...node.commands];
    node.commandTotal += commands.length;
    return newDeps;
  }
}
