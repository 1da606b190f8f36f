/**
 * Conformance tables from ../shared/conformance, vendored under test/fixtures/conformance so that a
 * clean checkout can run them; conformance-drift.test.ts checks the copy against the shared original.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const conformanceDir = join(process.cwd(), 'test', 'fixtures', 'conformance');

export function loadConformance<T = unknown>(relativePath: string): T {
  return JSON.parse(readFileSync(join(conformanceDir, relativePath), 'utf8')) as T;
}
