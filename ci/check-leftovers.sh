#!/usr/bin/env bash
# Fails if any process started from this workspace's target directory is still
# running: every child a test starts must be reaped or killed by the test itself.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(cd target 2>/dev/null && pwd -P) || { echo "no target directory: nothing ran"; exit 0; }

leftovers=""
for proc in /proc/[0-9]*; do
  exe=$(readlink "$proc/exe" 2>/dev/null) || continue
  case "$exe" in
    "$target"/*) leftovers+="$(basename "$proc") $exe"$'\n' ;;
  esac
done
if [ -n "$leftovers" ]; then
  echo "processes left running after the tests:"
  printf '%s' "$leftovers"
  exit 1
fi
echo "no process of the workspace is left running"
