#!/usr/bin/env bash
# Mutation testing of the reference implementations with cargo-mutants: each mutant
# of the thread references (impl/src/thread/) and of the shared counter's process code
# (impl/src/process/shm_counter.rs, shm.rs) must be caught by the conformance suites.
# Slow (about a minute per mutant here); not part of .ci/run.
#   cargo install cargo-mutants --locked   # once
#   bash ci/mutants.sh [OUTPUT_DIR]          # default: target/mutants
#
# The thread references are written in body files included by `runtimes!(include ..)`
# and also declared as never-compiled modules, because cargo-mutants does not look
# inside macro invocations (see spec/src/rt.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/mutants}
if ! cargo mutants --version >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: run cargo install cargo-mutants --locked" >&2
  exit 2
fi
cargo mutants \
  --package racecourse-impl \
  --file 'impl/src/thread/**/*.rs' \
  --file impl/src/process/shm_counter.rs \
  --file impl/src/process/shm.rs \
  --test-package racecourse \
  --timeout-multiplier 3 \
  --output "$out" \
  -- --test std --test shuttle --test loom --test process -- --skip kill_matrix
