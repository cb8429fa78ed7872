#!/usr/bin/env bash
# Summarises a RACECOURSE_TIMINGS file written over RUNS runs of the kill matrices:
# per mutant, runs that rejected it and the median time to rejection; per reference
# and must-pass implementation, the cells (property x run) that accepted it, of all
# its cells that ran.
#   bash ci/stability-summary.sh RUNS FILE
set -euo pipefail
runs=${1:?usage: stability-summary.sh RUNS FILE}
file=${2:?usage: stability-summary.sh RUNS FILE}

awk -v runs="$runs" '
  $2 == "mutant" {
    key = $1 " " $3; seen[key] = 1
    if ($4 != "survived") { n[key]++; t[key, n[key]] = $4 }
  }
  $2 == "must_pass" || $2 == "reference" {
    split($3, parts, "/"); key = $1 " " parts[1]; mp[key] = 1; if ($2 == "reference") isref[key] = 1
    cells[key]++; if ($4 != "accepted") bad[key]++
  }
  END {
    printf "%-8s %-40s %9s %12s\n", "runtime", "mutant", "rejected", "median (s)"
    for (k in seen) {
      m = n[k]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (t[k, j] < t[k, i]) { x = t[k, i]; t[k, i] = t[k, j]; t[k, j] = x }
      med = m ? (m % 2 ? t[k, (m + 1) / 2] : (t[k, m / 2] + t[k, m / 2 + 1]) / 2) : "-"
      split(k, p, " ")
      printf "%-8s %-40s %5d/%-3d %12s\n", p[1], p[2], m, runs, med | "sort"
    }
    close("sort")
    if (length(mp) > 0) {
      printf "\n%-8s %-40s %15s\n", "runtime", "must be accepted", "cells accepted"
      for (k in mp) {
        split(k, p, " ")
        printf "%-8s %-40s %7d/%-7d\n", p[1], p[2] (isref[k] ? " (reference)" : ""), cells[k] - bad[k], cells[k] | "sort"
      }
      close("sort")
    }
  }' "$file"
