/** Checking what a build made: a workload's script run in each platform's image, its output compared. */
import { GantryError } from '../src/util/errors.js';
import type { BuildTool } from './tools/tool.js';
import type { Workload } from './workloads.js';

/** Runs the workload's check in each platform's image of `tag`; says what is wrong, if anything. */
export async function checkImages(
  tool: Pick<BuildTool, 'title' | 'runInImage'>,
  workload: Pick<Workload, 'name' | 'platforms' | 'check'>,
  tag: string,
  hostPlatform: string,
): Promise<string | undefined> {
  const check = workload.check;
  if (check === undefined) return undefined;
  if (tool.runInImage === undefined) throw new GantryError(`${tool.title} cannot run a command in its images, which the ${workload.name} workload checks`);
  const problems: string[] = [];
  for (const platform of workload.platforms ?? [hostPlatform]) {
    const expected = check.expectedOutput(platform, hostPlatform);
    let output: string;
    try {
      output = await tool.runInImage(tag, workload.platforms ? platform : undefined, check.script);
    } catch (err) {
      problems.push(`${platform}: ${(err as Error).message}`);
      continue;
    }
    if (output !== expected) problems.push(`${platform}: \`${check.script}\` printed ${JSON.stringify(output)}, expected ${JSON.stringify(expected)}`);
  }
  return problems.length === 0 ? undefined : problems.join('\n');
}
