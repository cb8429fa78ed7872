#!/usr/bin/env bash
# Runs the kill matrices N times (default 20) and reports, for each mutant, in how many
# runs it was rejected and its median time to rejection (the time of the cells run
# until the first that rejected it), and for each must-pass implementation, in how many
# runs every property accepted it.
#   bash ci/mutant-stability.sh 20
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
timings=$(mktemp)
log=$(mktemp)
kept=$(mktemp -d /tmp/mutant-stability.XXXXXX)
trap 'rm -f "$timings" "$log"' EXIT

cargo test -q -p racecourse --no-run 2>/dev/null
for i in $(seq 1 "$runs"); do
  # --no-fail-fast: one failing matrix must not hide the others' results.
  if ! RACECOURSE_TIMINGS="$timings" cargo test -q --no-fail-fast -p racecourse --test std --test loom --test shuttle --test process -- kill_matrix >"$log" 2>&1; then
    cp "$log" "$kept/run-$i.log"
    echo "run $i: a kill matrix test failed (whole log: $kept/run-$i.log):"
    grep -E 'survived|was rejected by|rejected no mutant|│[-+]' "$log" | head -40
  fi
done

bash ci/stability-summary.sh "$runs" "$timings"
