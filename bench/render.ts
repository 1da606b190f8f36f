/**
 * Prints the Markdown report of results files of `npm run bench` again, with summaries computed
 * afresh from their samples (e.g. after the report's format changed):
 *
 *   node dist/bench/render.js bench/results/bench-….json
 */
import { readFile } from 'node:fs/promises';
import { renderResults, withSummaries, type ResultsFile } from './results.js';

for (const file of process.argv.slice(2)) {
  process.stdout.write(renderResults(withSummaries(JSON.parse(await readFile(file, 'utf8')) as ResultsFile)));
}
