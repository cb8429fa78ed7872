#!/usr/bin/env bash
# Runs the suites over the reference implementations (and the sample student crate)
# N times (default 20) and reports, per test, in how many runs it passed; then the
# must-pass rows of the kill matrices (correct but unusual implementations) N times,
# with how many runs accepted each. A correct implementation must pass every run:
# anything below N/N is a bug of the oracle.
#   bash ci/reference-stability.sh 20
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
results=$(mktemp)
timings=$(mktemp)
trap 'rm -f "$results" "$timings"' EXIT

cargo test -q -p racecourse -p students-example --no-run 2>/dev/null
for i in $(seq 1 "$runs"); do
  { cargo test -p racecourse --test std --test shuttle --test loom --test process -- --skip kill_matrix 2>&1
    cargo test -p students-example 2>&1; } | grep -E '^test .* \.\.\. (ok|FAILED)$' >>"$results" || true
  RACECOURSE_MATRIX_ROWS=accepted RACECOURSE_TIMINGS="$timings" \
    cargo test -q -p racecourse --test std --test loom --test shuttle --test process -- kill_matrix >/dev/null 2>&1 || true
done

total=$(grep -c . "$results")
failed=$(grep -c 'FAILED$' "$results" || true)
tests=$(sed -E 's/^test (.*) \.\.\. .*/\1/' "$results" | sort -u | wc -l)
echo "$tests reference tests x $runs runs: $((total - failed)) passed, $failed failed"
grep 'FAILED$' "$results" | sort | uniq -c || true
echo
bash ci/stability-summary.sh "$runs" "$timings" | sed -n '/must pass/,$p'
