#!/usr/bin/env bash
# Builds and runs the whole test suite with Node's test runner.
# Usage: scripts/test.sh [FILTER]   (FILTER: substring of test file paths)
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p .
mapfile -t files < <(find dist/src dist/test -name '*.test.js' | sort | grep -- "${1:-}")
if [ ${#files[@]} -eq 0 ]; then echo "no test files match '${1:-}'" >&2; exit 1; fi
exec node --test --test-concurrency=2 --test-reporter=spec "${files[@]}"
