/**
 * The layering rule of ARCHITECTURE.md, checked: every import in src/ is read (static, `export from`,
 * and dynamic `import()`), and the test fails on an import between folders that the table there does
 * not allow, on an import into another folder that skips that folder's index.ts, and on a cycle of
 * imports between files (type-only imports aside: they leave no trace at run time).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';

const root = process.cwd();
const srcDir = join(root, 'src');

interface ImportEdge {
  from: string;
  to: string;
  typeOnly: boolean;
  line: number;
}

/** The folder table of ARCHITECTURE.md: folder → the folders it may import. */
async function allowedImports(): Promise<Map<string, Set<string>>> {
  const text = await readFile(join(root, 'ARCHITECTURE.md'), 'utf8');
  const table = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const cells = /^\|\s*`src\/([a-z-]+)\/`\s*\|[^|]*\|([^|]*)\|\s*$/.exec(line);
    if (!cells) continue;
    const allowed = [...cells[2]!.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!);
    table.set(cells[1]!, new Set(allowed));
  }
  return table;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) files.push(path);
  }
  return files;
}

/** Relative imports of a file, as paths of .ts files under src/. */
async function importsOf(file: string): Promise<ImportEdge[]> {
  const text = await readFile(file, 'utf8');
  const edges: ImportEdge[] = [];
  const statement = /^\s*(import|export)\s+([^'";]*?)\s*from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)|^\s*import\s+'(\.[^']+)'/gm;
  for (const match of text.matchAll(statement)) {
    const spec = match[3] ?? match[4] ?? match[5];
    if (!spec) continue;
    const target = normalize(join(dirname(file), spec.replace(/\.js$/, '.ts')));
    const line = text.slice(0, match.index).split('\n').length;
    edges.push({ from: file, to: target, typeOnly: match[2] !== undefined && isTypeOnlyClause(match[2]), line });
  }
  return edges;
}

/** `type X`, `type { X }`, `{ type X, type Y }`: TypeScript leaves such an import out of the JavaScript. */
function isTypeOnlyClause(clause: string): boolean {
  if (/^type\b/.test(clause)) return true;
  const names = /^\{([^}]*)\}$/.exec(clause.replace(/\s+/g, ' ').trim())?.[1];
  return names !== undefined && names.split(',').map((n) => n.trim()).filter(Boolean).every((n) => n.startsWith('type '));
}

function folderOf(file: string): string {
  return relative(srcDir, file).split('/')[0]!;
}

describe('the layering rule (ARCHITECTURE.md)', async () => {
  const table = await allowedImports();
  const files = await sourceFiles(srcDir);
  const edges = (await Promise.all(files.map(importsOf))).flat();
  const where = (edge: ImportEdge) => `${relative(root, edge.from)}:${edge.line} imports ${relative(root, edge.to)}`;

  it('lists every folder of src/, and its table has no cycle', () => {
    const folders = new Set(files.map(folderOf).filter((f) => !f.endsWith('.ts')));
    assert.deepEqual([...folders].filter((f) => !table.has(f)), [], 'folders missing from the table in ARCHITECTURE.md');
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (folder: string, path: string[]): void => {
      if (done.has(folder)) return;
      assert.ok(!visiting.has(folder), `the table allows a cycle: ${[...path, folder].join(' → ')}`);
      visiting.add(folder);
      for (const next of table.get(folder) ?? []) visit(next, [...path, folder]);
      visiting.delete(folder);
      done.add(folder);
    };
    for (const folder of table.keys()) visit(folder, []);
  });

  it('imports between folders are only those the table allows', () => {
    const forbidden = edges.filter((e) => folderOf(e.from) !== folderOf(e.to) && !table.get(folderOf(e.from))?.has(folderOf(e.to)));
    assert.deepEqual(forbidden.map(where), []);
  });

  it('an import into another folder goes through its index.ts', () => {
    const skipping = edges.filter((e) => folderOf(e.from) !== folderOf(e.to) && relative(srcDir, e.to) !== `${folderOf(e.to)}/index.ts`);
    assert.deepEqual(skipping.map(where), []);
  });

  it('no files import each other in a cycle', () => {
    const graph = new Map<string, string[]>();
    for (const edge of edges) if (!edge.typeOnly) graph.set(edge.from, [...(graph.get(edge.from) ?? []), edge.to]);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...stack.slice(stack.indexOf(file)), file].map((f) => relative(srcDir, f)).join(' → '));
        return;
      }
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file) ?? []) visit(next);
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) visit(file);
    assert.deepEqual(cycles, []);
  });
});
