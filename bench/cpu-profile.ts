/**
 * Where a gantry process spent its CPU, from a V8 profile (`node --cpu-prof`): self time by area
 * (gantry's modules, dependencies, Node internals, GC, idle), time inside each gantry module
 * including what it calls, and the busiest functions. A measurement to read, not a test:
 *
 *   node --cpu-prof --cpu-prof-dir=DIR dist/src/cli/main.js build ...
 *
 * (the compiled modules, not the dist/bin bundle, so that time is attributed to gantry's modules)
 *   node dist/bench/cpu-profile.js DIR/*.cpuprofile
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** gantry's module (`src/solver`), a dependency (`commander`), `node`, or V8's own entries. */
export function areaOf(frame: CallFrame): string {
  if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : 'native';
  const gantry = /\/dist\/src\/([^/]+)\//.exec(frame.url);
  if (gantry) return `src/${gantry[1]}`;
  const dependency = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(frame.url);
  if (dependency) return dependency[1];
  if (frame.url.startsWith('node:')) return 'node';
  return frame.url;
}

export interface ProfileSummary {
  wallMs: number;
  /** Sampled time per area, where the sampled function itself ran. */
  selfMs: Map<string, number>;
  /** Sampled time with a gantry module anywhere on the stack (a sample counts once per module). */
  insideMs: Map<string, number>;
  /** Busiest functions by self time: "name (file:line)". */
  functions: Array<[string, number]>;
}

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfMs = new Map<string, number>();
  const insideMs = new Map<string, number>();
  const functions = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, ms: number) => map.set(key, (map.get(key) ?? 0) + ms);
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node) return;
    add(selfMs, areaOf(node.callFrame), ms);
    const { functionName, url, lineNumber } = node.callFrame;
    add(functions, `${functionName || '(anonymous)'} (${url.replace(/^.*\/(dist|node_modules)\//, '$1/') || 'native'}:${lineNumber + 1})`, ms);
    const modules = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const area = areaOf((byId.get(at) as ProfileNode).callFrame);
      if (area.startsWith('src/')) modules.add(area);
    }
    for (const module of modules) add(insideMs, module, ms);
  });
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    selfMs,
    insideMs,
    functions: [...functions].sort((a, b) => b[1] - a[1]).slice(0, 15),
  };
}

function lines(title: string, entries: Iterable<[string, number]>): string[] {
  const sorted = [...entries].sort((a, b) => b[1] - a[1]).filter(([, ms]) => ms >= 0.5);
  return [title, ...sorted.map(([name, ms]) => `  ${ms.toFixed(1).padStart(9)} ms  ${name}`)];
}

async function main(files: string[]): Promise<void> {
  for (const file of files) {
    const summary = summarizeProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile);
    console.log(
      [
        `${file}: ${summary.wallMs.toFixed(0)} ms profiled`,
        ...lines('self time by area:', summary.selfMs),
        ...lines('time inside gantry modules (with what they call):', summary.insideMs),
        ...lines('busiest functions (self time):', summary.functions),
        '',
      ].join('\n'),
    );
  }
}

// Run as a script, not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
