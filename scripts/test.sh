#!/usr/bin/env bash
# Builds and runs the whole test suite with Node's test runner.
# Usage: scripts/test.sh [FILTER]   (FILTER: extended regexp matched against test file paths)
# Ends with one plain summary line: "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build  # tsc, then the bundled CLI the tests run (package.json)
mapfile -t files < <(find dist/src dist/test -name '*.test.js' | sort | grep -E -- "${1:-}")
if [ ${#files[@]} -eq 0 ]; then echo "no test files match '${1:-}'" >&2; exit 1; fi
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
status=0
node --test --test-concurrency=2 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${files[@]}" || status=$?
count() { grep -E "^# $1 [0-9]+$" "$tap" | tail -n 1 | awk '{print $3}'; }
# a cancelled test (one that never finished) counts as failed
echo "tests: $(count pass) passed, $(( $(count fail) + $(count cancelled) )) failed, $(count skipped) skipped"
exit $status
