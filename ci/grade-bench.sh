#!/usr/bin/env bash
# Grades N copies (default 20) of the sample submission students/example in a fresh
# scratch directory, so the first submission pays for compiling the harness's
# dependencies and every further one shows its own cost; then grades the same class
# again (nothing changed: no rebuild, verdicts reused). Prints each submission's time.
#   bash ci/grade-bench.sh [N] [SCRATCH]     # SCRATCH defaults to a new temp directory
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
scratch=${2:-$(mktemp -d /tmp/racecourse-grade-bench.XXXXXX)}
class=$(mktemp -d /tmp/racecourse-class.XXXXXX)
trap 'rm -rf "$class"' EXIT
for i in $(seq -w 1 "$n"); do
  mkdir -p "$class/student-$i"
  cp -r students/example/src students/example/Cargo.toml "$class/student-$i/"
  # Outside racecourse's workspace: inherited keys come from the grader's scratch
  # workspace, as for any submission written inside racecourse's.
done
cargo build -q -p racecourse --bin racecourse
echo "first run (scratch $scratch):"
/usr/bin/time -f "total %e s" ./target/debug/racecourse grade "$class"/student-*/ \
  --scratch "$scratch" 2>&1 >/dev/null | grep -E '^\[|^total'
echo "second run, nothing changed:"
/usr/bin/time -f "total %e s" ./target/debug/racecourse grade "$class"/student-*/ \
  --scratch "$scratch" 2>&1 >/dev/null | grep -E '^\[|^total'
