#!/usr/bin/env bash
# Fails on pending snapshots (.snap.new, .pending-snap) and on snapshots that no test
# asserted. insta itself, with CI=true, fails a mismatch or a missing snapshot and
# writes nothing.
#   INSTA_SNAPSHOT_REFERENCES_FILE=refs cargo test && bash ci/check-snapshots.sh refs
# (insta appends the path of every snapshot a test asserts to that file.)
set -euo pipefail
cd "$(dirname "$0")/.."
refs=${1:?usage: check-snapshots.sh REFERENCES_FILE (written by insta during cargo test)}

status=0
pending=$(find . -path ./target -prune -o \( -name '*.snap.new' -o -name '*.pending-snap' \) -print)
if [ -n "$pending" ]; then
  echo "pending snapshots (review them, then accept with INSTA_UPDATE=always or delete):"
  echo "$pending"
  status=1
fi

if [ ! -s "$refs" ]; then
  echo "no snapshot references in $refs: did cargo test run with INSTA_SNAPSHOT_REFERENCES_FILE set?"
  exit 1
fi
for snap in snapshots/*.snap; do
  if ! grep -qF "/$(basename "$snap")" "$refs"; then
    echo "unreferenced snapshot: $snap (no test asserted it; delete it or restore its test)"
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "every snapshot was asserted, none pending"
exit "$status"
