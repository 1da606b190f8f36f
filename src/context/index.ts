/**
 * The build context: which files a COPY/ADD selects (honouring .dockerignore as Docker does), the
 * content digests the cache keys on, the entries the engine copies, and explanations of cache misses.
 */
export { PatternMatcher, Pattern, type ParentMatch, type PatternMatcherOptions } from './pattern-matcher.js';
export { IgnoreMatcher, copyIgnoredCheck, loadDockerignore, parseIgnoreFile, MAX_IGNORE_FILE_BYTES, type IgnoreFileLine } from './dockerignore.js';
export {
  selectSources,
  type Selection,
  type SelectOptions,
  type SelectionStats,
  type SourceMatch,
} from './select.js';
export type { EntryType, SelectedEntry } from './entries.js';
export { StatCache, type FileIdentity, type StatCacheLoadState, type StatCacheOptions } from './stat-cache.js';
export type { FileHasher } from './hashing.js';
export {
  explainSelectionChange,
  SUMMARY_FORMAT,
  DEFAULT_SUMMARY_LIMIT,
  type SelectionSummary,
  type SourceSummary,
  type SummaryNode,
} from './summary.js';
