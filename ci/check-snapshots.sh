#!/usr/bin/env bash
# Fails on pending snapshots (.snap.new, .pending-snap) and on snapshots that no test
# names any more. insta itself, with CI=true, fails a mismatch or a missing snapshot
# and writes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
pending=$(find . -path ./target -prune -o \( -name '*.snap.new' -o -name '*.pending-snap' \) -print)
if [ -n "$pending" ]; then
  echo "pending snapshots (review with cargo insta review, or delete them):"
  echo "$pending"
  status=1
fi

for snap in snapshots/*.snap; do
  name=$(basename "$snap" .snap)
  if ! grep -rqF "\"$name\"" conformance/tests conformance/src; then
    echo "unreferenced snapshot: $snap (no test names \"$name\"; delete it or restore its test)"
    status=1
  fi
done
exit "$status"
