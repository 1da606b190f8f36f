#!/usr/bin/env bash
# `npm test`: installs what is missing, compiles, and runs every test with Node's test runner.
# GANTRY_TEST_FILTER=substring limits the run to matching test files.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
npm run --silent build
mapfile -t files < <(find dist/test -name '*.test.js' | sort | grep -- "${GANTRY_TEST_FILTER:-}")
exec node --test --test-concurrency=2 "${files[@]}"
