#!/usr/bin/env bash
# Runs, N times (default 20), everything that must be accepted: the rows of the kill
# matrices for the reference and must-pass implementations (RACECOURSE_MATRIX_ROWS=
# accepted), the references' snapshot tests, and the sample student crate's generated
# tests. Reports per test, and per accepted implementation (its matrix cells, property x
# run), how many passed.
# A correct implementation must pass every run: anything below N/N is a bug of the
# oracle. To check it on a loaded machine, start two CPU hogs first.
#   bash ci/reference-stability.sh 20
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
# More trials per std check than the 2 s default: a correct implementation must pass
# however long it is hammered.
export RACECOURSE_STD_BUDGET_SECS=${RACECOURSE_STD_BUDGET_SECS:-5}
results=$(mktemp)
timings=$(mktemp)
log=$(mktemp)
kept=$(mktemp -d /tmp/reference-stability.XXXXXX)
trap 'rm -f "$results" "$timings" "$log"' EXIT

cargo test -q -p racecourse -p students-example --no-run 2>/dev/null
for i in $(seq 1 "$runs"); do
  { cargo test --no-fail-fast -p racecourse --test std --test shuttle --test loom --test process -- snapshots 2>&1
    cargo test -p students-example 2>&1; } | grep -E '^test .* \.\.\. (ok|FAILED)$' >>"$results" || true
  # A matrix that rejects a reference or must-pass row fails its test: keep that log.
  if ! RACECOURSE_MATRIX_ROWS=accepted RACECOURSE_TIMINGS="$timings" \
    cargo test -q --no-fail-fast -p racecourse --test std --test loom --test shuttle --test process -- kill_matrix >"$log" 2>&1; then
    cp "$log" "$kept/matrix-run-$i.log"
    echo "run $i: a matrix rejected an implementation that must be accepted (whole log: $kept/matrix-run-$i.log)"
  fi
done

total=$(grep -c . "$results")
failed=$(grep -c 'FAILED$' "$results" || true)
tests=$(sed -E 's/^test (.*) \.\.\. .*/\1/' "$results" | sort -u | wc -l)
echo "$tests tests x $runs runs: $((total - failed)) passed, $failed failed"
grep 'FAILED$' "$results" | sort | uniq -c || true
echo
bash ci/stability-summary.sh "$runs" "$timings" | sed -n '/must be accepted/,$p'
