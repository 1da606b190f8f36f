/** The public interface of util/: what other folders may use (see ARCHITECTURE.md). */
export { canonicalJson } from './canonical-json.js';
export { concurrencyLimiter } from './concurrency.js';
export { copyTreePreserving } from './copy-tree.js';
export { checkDigest, type Digest, digestHex, hashToDigest, isDigest, sha256, sha256File, shortDigest } from './digest.js';
export { elide, errnoCode, formatGantryError, GantryError, isGantryError, machineError, quoteForMessage, type SourceLocation } from './errors.js';
export { isDeadTempSibling, pathExists, tempSibling, writeFileAtomic } from './fs.js';
export { formatGoDuration, goList, goQuote, goQuoteList, isGoSpace, parseGoDuration } from './go-text.js';
export { parseKeyValueList, splitKeyValue } from './key-value.js';
export { ownerIsDead } from './process.js';
export { findExecutable, runTool, tryTool } from './run-tool.js';
export { resolveInRoot } from './scoped-path.js';
export { rfc3339 } from './time.js';
