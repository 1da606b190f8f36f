/**
 * `npm run attack [-- --quick] [--suite NAME]... [--seed N]`: runs the attack suites against the built
 * command line and prints their figures (inputs tried and handled, faults injected and survived, places
 * scanned and leaks). Exits non-zero on any finding. `--quick` runs the bounded form `npm test` uses.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AttackSuite, SuiteResult } from './suite.js';

/** Every suite in attack/suites/, in name order. */
export async function loadSuites(): Promise<AttackSuite[]> {
  const dir = fileURLToPath(new URL('./suites/', import.meta.url));
  const files = (await readdir(dir)).filter((name) => name.endsWith('.js')).sort();
  const suites: AttackSuite[] = [];
  for (const file of files) {
    const module = (await import(join(dir, file))) as { default?: AttackSuite };
    if (module.default) suites.push(module.default);
  }
  return suites;
}

export interface SuiteRun {
  suite: AttackSuite;
  result?: SuiteResult;
  skipped?: string;
  seconds: number;
}

export async function runSuite(suite: AttackSuite, scale: 'bounded' | 'full', seed: number, log: (line: string) => void): Promise<SuiteRun> {
  if (suite.needsRoot && process.getuid?.() !== 0) return { suite, skipped: 'needs root', seconds: 0 };
  const workDir = await mkdtemp(join(tmpdir(), `gantry-attack-${suite.name}-`));
  const started = Date.now();
  try {
    const result = await suite.run({ scale, seed, workDir, log });
    return { suite, result, seconds: (Date.now() - started) / 1000 };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The report table: one row a suite, then every finding. */
export function formatReport(runs: SuiteRun[]): string {
  const lines = ['| suite | trials | tried | handled | findings | other figures | time |', '|---|---|---:|---:|---:|---|---:|'];
  for (const run of runs) {
    if (!run.result) {
      lines.push(`| ${run.suite.name} | skipped: ${run.skipped} | | | | | |`);
      continue;
    }
    const r = run.result;
    const figures = Object.entries(r.figures ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ');
    lines.push(`| ${run.suite.name} | ${r.unit} | ${r.tried} | ${r.handled} | ${r.findings.length} | ${figures} | ${run.seconds.toFixed(0)} s |`);
  }
  const findings = runs.flatMap((run) => (run.result?.findings ?? []).map((f) => `- ${run.suite.name}: ${f.kind}: ${f.input}: ${f.detail}`));
  if (findings.length > 0) lines.push('', 'Findings:', ...findings);
  return lines.join('\n') + '\n';
}

async function main(argv: string[]): Promise<number> {
  let scale: 'bounded' | 'full' = 'full';
  let seed = 1;
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') scale = 'bounded';
    else if (arg === '--seed') seed = Number(argv[++i]);
    else if (arg === '--suite') only.push(argv[++i]);
    else {
      process.stderr.write(`attack: unknown argument ${arg}\nusage: npm run attack [-- --quick] [--suite NAME]... [--seed N]\n`);
      return 2;
    }
  }
  const suites = (await loadSuites()).filter((s) => only.length === 0 || only.includes(s.name));
  const unknown = only.filter((name) => !suites.some((s) => s.name === name));
  if (unknown.length > 0) {
    process.stderr.write(`attack: no suite named ${unknown.join(', ')}\n`);
    return 2;
  }
  const runs: SuiteRun[] = [];
  for (const suite of suites) {
    process.stderr.write(`== ${suite.name}: ${suite.title}\n`);
    runs.push(await runSuite(suite, scale, seed, (line) => process.stderr.write(`   ${line}\n`)));
  }
  process.stdout.write(formatReport(runs));
  return runs.some((run) => (run.result?.findings.length ?? 0) > 0) ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
