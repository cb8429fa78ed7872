#!/usr/bin/env bash
# Runs the kill matrices N times (default 20) and reports, for each mutant, in how many
# runs it was rejected and its median time to rejection (the time of the cells run
# until the first that rejected it).
#   bash ci/mutant-stability.sh 20
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
timings=$(mktemp)
trap 'rm -f "$timings"' EXIT

cargo test -q -p racecourse --no-run 2>/dev/null
log=$(mktemp)
trap 'rm -f "$timings" "$log"' EXIT
for i in $(seq 1 "$runs"); do
  if ! RACECOURSE_TIMINGS="$timings" cargo test -q -p racecourse --test loom --test shuttle --test process -- kill_matrix >"$log" 2>&1; then
    echo "run $i: a kill matrix test failed:"
    grep -E 'survived|missed|rejected no mutant|Snapshot|^[-+]' "$log" | head -20
  fi
done

awk -v runs="$runs" '
  { key = $1 " " $2; if ($3 == "survived") survived[key]++; else { n[key]++; t[key, n[key]] = $3 } seen[key] = 1 }
  END {
    printf "%-8s %-40s %9s %12s\n", "runtime", "mutant", "rejected", "median (s)"
    for (k in seen) {
      m = n[k]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (t[k, j] < t[k, i]) { x = t[k, i]; t[k, i] = t[k, j]; t[k, j] = x }
      med = m ? (m % 2 ? t[k, (m + 1) / 2] : (t[k, m / 2] + t[k, m / 2 + 1]) / 2) : "-"
      split(k, p, " ")
      printf "%-8s %-40s %5d/%-3d %12s\n", p[1], p[2], m, runs, med
    }
  }' "$timings" | sort
