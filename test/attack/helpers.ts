/** Runs one attack suite at the bounded scale inside `npm test` and fails on any finding. */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { runSuite } from '../../attack/run.js';
import type { AttackSuite } from '../../attack/suite.js';

export async function runBoundedSuite(t: TestContext, suite: AttackSuite, minimumTrials: number): Promise<void> {
  const run = await runSuite(suite, 'bounded', 1, (line) => t.diagnostic(line));
  if (run.skipped) {
    t.skip(`${suite.name}: ${run.skipped}`);
    return;
  }
  const result = run.result!;
  t.diagnostic(`${suite.name}: ${result.tried} ${result.unit} tried, ${result.handled} handled, ${result.findings.length} findings`);
  const report = result.findings.map((f) => `${f.kind}: ${f.input}: ${f.detail}`).join('\n');
  assert.equal(result.findings.length, 0, `findings:\n${report}`);
  assert.ok(result.tried >= minimumTrials, `only ${result.tried} ${result.unit} were tried (at least ${minimumTrials} expected)`);
  assert.equal(result.handled, result.tried, 'every trial must end in a success or a clear error');
}
