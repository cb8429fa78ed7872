#!/usr/bin/env bash
# Mutation testing of the reference implementations with cargo-mutants: each mutant
# of the thread references (impl/src/thread/) and of the shared counter's and shared
# array's process code (impl/src/process/shm_counter.rs, shm_array.rs, shm.rs) must be
# caught by the conformance suites
# (racecourse's std, shuttle, loom and process suites) or, for the shared-memory
# plumbing the suites only use correctly (a malformed token, a relock), by the process
# machinery's own tests (racecourse-impl's unit tests and tests/process.rs).
# Slow (about a minute per mutant here); not part of .ci/run.
#   cargo install cargo-mutants --locked   # once
#   bash ci/mutants.sh [OUTPUT_DIR [ARGS...]]   # default: target/mutants
#   bash ci/mutants.sh target/mutants --iterate  # retest only what the last run missed
#
# The thread references are written in body files included by `runtimes!(include ..)`
# and also declared as never-compiled modules, because cargo-mutants does not look
# inside macro invocations (see spec/src/rt.rs).
#
# The baseline is skipped (`cargo test` passes on main, CI checks it): cargo-mutants
# 27 runs the baseline with the mutated package's tests, not `--test-package`, and
# racecourse-impl has no `std` test target. Without a baseline there is no measured
# test time, so the timeout is explicit: a mutant whose tests take 5 minutes (a
# healthy run takes well under one) is counted as timed out.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/mutants}
shift || true
if ! cargo mutants --version >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: run cargo install cargo-mutants --locked" >&2
  exit 2
fi
cargo mutants \
  --package racecourse-impl \
  --file 'impl/src/thread/**/*.rs' \
  --file impl/src/process/shm_counter.rs \
  --file impl/src/process/shm.rs \
  --file impl/src/process/shm_array.rs \
  --test-package racecourse,racecourse-impl \
  --baseline skip \
  --timeout 300 \
  --output "$out" \
  "$@" \
  -- --lib --test std --test shuttle --test loom --test process -- --skip kill_matrix
