#!/bin/sh
# likeness-cli bench ops runs and prints its figures. A smoke test of the command, not a timing:
# speed is read from the benchmark's own output (docs/PERFORMANCE.md), never asserted here.
set -u
cli="$1"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "1..3"
if ! "$cli" bench ops --seconds 0.01 --filter "add [" >"$out" 2>&1; then
  echo "not ok 1 - bench ops failed"; sed 's/^/# /' "$out"; exit 1
fi
grep -q "Peaks measured: [0-9.]* GFLOP/s" "$out" || { echo "not ok 1 - no peak figures"; sed 's/^/# /' "$out"; exit 1; }
grep -q "^add \[2,320,64,64\] *[0-9.]" "$out" || { echo "not ok 1 - no row for add"; sed 's/^/# /' "$out"; exit 1; }
echo "ok 1 - bench ops prints peaks and a row per op"
if "$cli" bench >"$out" 2>&1; then
  echo "not ok 2 - bench without a target succeeded"; exit 1
fi
echo "ok 2 - bench without a target is refused"
if "$cli" bench unet --controlnets 7 >"$out" 2>&1 || ! grep -q "controlnets is 0 to 4" "$out"; then
  echo "not ok 3 - bench unet --controlnets 7 was not refused"; sed 's/^/# /' "$out"; exit 1
fi
echo "ok 3 - bench unet refuses more than 4 ControlNets"
