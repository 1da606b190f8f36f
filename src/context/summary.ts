/**
 * Store-able summaries of selections, and plain-words explanations of what changed between two.
 *
 * A summary holds, per COPY/ADD source, its entries in path order with their type, mode, owner and
 * a short content hash (a directory's covers everything below it). To stay small it keeps at most
 * a bounded number of entries per source: past that, directories at the deepest level that fits are
 * folded into one entry each. Comparing two summaries walks them in path order and reports the
 * first difference, skipping directories whose hashes agree.
 */
import { comparePaths, isInside } from './go-path.js';
import { entryDepth, typeCode, type SelectedEntry } from './entries.js';

export const SUMMARY_FORMAT = 'gantry.selection-summary/v1';

/** Default number of entries a summary keeps per source. */
export const DEFAULT_SUMMARY_LIMIT = 10_000;

/**
 * One summarized entry: its path relative to the root (the context or a stage), type code
 * (f file, d directory, D folded directory, l symlink, p FIFO, c/b device), permission bits, uid,
 * gid, detail (16 hex digits of a file's or directory's hash, a link's target, a device number),
 * and how many entries lie below it.
 */
export type SummaryNode = [path: string, type: string, mode: number, uid: number, gid: number, detail: string, below: number];

export interface SourceSummary {
  /** The source as written in the instruction. */
  source: string;
  /** 16 hex digits over everything this source selected. */
  digest: string;
  nodes: SummaryNode[];
  /** True when entries were folded or left out to respect the limit. */
  truncated: boolean;
}

/** A compact, JSON-serializable description of a selection, for explaining cache misses later. */
export interface SelectionSummary {
  format: typeof SUMMARY_FORMAT;
  sources: SourceSummary[];
}

/** What summarize needs to know about one match of a source. */
export interface SummarizedMatch {
  /** Root-relative path of the match, '.' for the root. */
  path: string;
  entries: readonly SelectedEntry[];
  /** entryPayloads(entries). */
  payloads: readonly string[];
}

/** Hex digits of a hash a summary keeps: enough to tell contents apart, small enough to store. */
const SHORT_HASH = 16;

/** The summary of one source's matches; `digestHex` is the source's own digest. */
export function summarizeSource(source: string, digestHex: string, matches: readonly SummarizedMatch[], limit: number): SourceSummary {
  const depths = matches.map((match) => match.entries.map((entry) => entryDepth(entry.path)));
  const keptDepth = depthThatFits(depths, limit);
  const nodes: SummaryNode[] = [];
  matches.forEach((match, m) => {
    const base = match.path === '.' ? '' : match.path;
    const matchDepths = depths[m] as number[];
    const below = countDescendants(matchDepths);
    match.entries.forEach((entry, i) => {
      const depth = matchDepths[i] as number;
      // When even the matches themselves do not fit, the first `limit` of them are kept.
      if (keptDepth === -1 ? depth > 0 || nodes.length >= limit : depth > keptDepth) return;
      const payload = match.payloads[i] as string;
      const isDirectory = entry.type === 'directory';
      const folded = isDirectory && (below[i] as number) > 0 && (keptDepth === -1 || depth === keptDepth);
      const detail = entry.type === 'file' || isDirectory ? payload.slice(0, SHORT_HASH) : payload;
      const path = entry.path === '' ? base : base === '' ? entry.path : `${base}/${entry.path}`;
      nodes.push([path, folded ? 'D' : typeCode(entry.type), entry.mode, entry.uid, entry.gid, detail, below[i] as number]);
    });
  });
  return { source, digest: digestHex.slice(0, SHORT_HASH), nodes, truncated: keptDepth !== Infinity };
}

/**
 * The first difference between two summaries, in plain words, or undefined when they describe the
 * same selection. Sources are compared in order, entries within a source by path.
 */
export function explainSelectionChange(previous: SelectionSummary, current: SelectionSummary): string | undefined {
  if (previous.format !== current.format) return `the selection summary format changed (${previous.format} → ${current.format})`;
  const count = Math.max(previous.sources.length, current.sources.length);
  for (let i = 0; i < count; i++) {
    const before = previous.sources[i];
    const after = current.sources[i];
    if (before === undefined) return `source "${(after as SourceSummary).source}" was added`;
    if (after === undefined) return `source "${before.source}" was removed`;
    if (before.source !== after.source) return `source ${i + 1} changed from "${before.source}" to "${after.source}"`;
    if (before.digest === after.digest) continue;
    const difference = explainNodes(before.nodes, after.nodes);
    if (difference !== undefined) return difference;
    return `content selected by "${after.source}" changed in entries the summary does not keep`;
  }
  return undefined;
}

/** For each entry (tree order, given by depth), how many entries lie below it. */
function countDescendants(depths: readonly number[]): number[] {
  const below = new Array<number>(depths.length).fill(0);
  const open: number[] = [];
  depths.forEach((depth, i) => {
    while (open.length > 0 && (depths[open.at(-1) as number] as number) >= depth) {
      const ancestor = open.pop() as number;
      below[ancestor] = i - ancestor - 1;
    }
    open.push(i);
  });
  for (const ancestor of open) below[ancestor] = depths.length - ancestor - 1;
  return below;
}

/**
 * The deepest level whose entries, with all shallower ones, fit in `limit`: Infinity when
 * everything fits, -1 when not even the matches themselves do.
 */
function depthThatFits(depths: readonly number[][], limit: number): number {
  const perDepth: number[] = [];
  let total = 0;
  for (const list of depths) {
    for (const depth of list) perDepth[depth] = (perDepth[depth] ?? 0) + 1;
    total += list.length;
  }
  if (total <= limit) return Infinity;
  let kept = 0;
  let depth = -1;
  while (depth + 1 < perDepth.length && kept + (perDepth[depth + 1] ?? 0) <= limit) {
    depth++;
    kept += perDepth[depth] ?? 0;
  }
  return depth;
}

function isDirectory(node: SummaryNode): boolean {
  return node[1] === 'd' || node[1] === 'D';
}

function explainNodes(before: SummaryNode[], after: SummaryNode[]): string | undefined {
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const a = before[i];
    const b = after[j];
    const order = a === undefined ? 1 : b === undefined ? -1 : comparePaths(a[0], b[0]);
    if (order < 0) return describeMembership(a as SummaryNode, before, after, 'removed');
    if (order > 0) return describeMembership(b as SummaryNode, after, before, 'added');
    const nodeA = a as SummaryNode;
    const nodeB = b as SummaryNode;
    const difference = describeNodeChange(nodeA, nodeB);
    if (difference !== undefined) return difference;
    if (isDirectory(nodeA) && nodeA[5] === nodeB[5]) {
      i = skipSubtree(before, i);
      j = skipSubtree(after, j);
      continue;
    }
    if (nodeA[1] === 'D' || nodeB[1] === 'D') {
      const counts = nodeA[6] === nodeB[6] ? '' : ` (${nodeA[6]} → ${nodeB[6]} entries)`;
      return `contents of ${show(nodeA[0], true)} changed${counts}`;
    }
    i++;
    j++;
  }
  return undefined;
}

function skipSubtree(nodes: SummaryNode[], index: number): number {
  const dir = (nodes[index] as SummaryNode)[0];
  let next = index + 1;
  while (next < nodes.length && isInside((nodes[next] as SummaryNode)[0], dir)) next++;
  return next;
}

function describeNodeChange(a: SummaryNode, b: SummaryNode): string | undefined {
  const path = show(a[0], isDirectory(a));
  if (isDirectory(a) !== isDirectory(b) || (!isDirectory(a) && a[1] !== b[1])) {
    return `${show(a[0], false)} changed from ${typeName(a[1])} to ${typeName(b[1])}`;
  }
  if (a[2] !== b[2]) return `${path} mode changed ${formatMode(a[2])} → ${formatMode(b[2])}`;
  if (a[3] !== b[3] || a[4] !== b[4]) return `${path} owner changed ${a[3]}:${a[4]} → ${b[3]}:${b[4]}`;
  if (a[5] === b[5] || isDirectory(a)) return undefined;
  switch (a[1]) {
    case 'f':
      return `${path} content changed`;
    case 'l':
      return `link target of ${path} changed (${a[5]} → ${b[5]})`;
    default:
      return `${path} device number changed (${a[5]} → ${b[5]})`;
  }
}

/** "src/new.txt added", or "3 files added under src/" when siblings were added with it. */
function describeMembership(node: SummaryNode, side: SummaryNode[], other: SummaryNode[], verb: 'added' | 'removed'): string {
  const parent = parentOf(node[0]);
  const otherPaths = new Set(other.map((n) => n[0]));
  const siblings = side.filter((n) => parentOf(n[0]) === parent && n[0] !== parent && !otherPaths.has(n[0]));
  if (siblings.length <= 1) {
    const contents = isDirectory(node) && node[6] > 0 ? ` with ${node[6]} ${node[6] === 1 ? 'entry' : 'entries'}` : '';
    return `${show(node[0], isDirectory(node))} ${verb}${contents}`;
  }
  const where = parent === '' ? 'at the top level' : `${verb === 'added' ? 'under' : 'from'} ${show(parent, true)}`;
  return `${siblings.length} ${pluralNoun(siblings)} ${verb} ${where}`;
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

function pluralNoun(nodes: SummaryNode[]): string {
  const kinds = new Set(nodes.map((n) => (isDirectory(n) ? 'd' : n[1])));
  if (kinds.size > 1) return 'entries';
  switch ([...kinds][0]) {
    case 'f':
      return 'files';
    case 'd':
      return 'directories';
    case 'l':
      return 'symlinks';
    default:
      return 'special files';
  }
}

function typeName(code: string): string {
  switch (code) {
    case 'f':
      return 'a file';
    case 'd':
    case 'D':
      return 'a directory';
    case 'l':
      return 'a symlink';
    case 'p':
      return 'a FIFO';
    default:
      return 'a device';
  }
}

function show(path: string, directory: boolean): string {
  if (path === '') return './';
  return directory ? `${path}/` : path;
}

function formatMode(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
