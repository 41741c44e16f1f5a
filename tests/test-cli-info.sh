#!/bin/sh
# likeness-cli info lists the devices; with no usable device it says what to install and fails.
set -u
cli="$1"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

fail() { echo "not ok - $*"; cat "$out"; exit 1; }

echo "1..3"

# Whatever the machine has, the command either lists a chosen device or fails with advice.
if "$cli" info >"$out" 2>&1; then
  grep -q "Likeness uses device" "$out" || fail "info succeeded but named no device"
  echo "ok 1 - info names the chosen device"
else
  grep -q "mesa-vulkan-drivers" "$out" || fail "info failed without saying what to install"
  echo "ok 1 - info fails with advice on a machine without Vulkan"
fi

# No driver at all: the loader finds no ICD.
if VK_ICD_FILENAMES=/nonexistent/icd.json VK_DRIVER_FILES=/nonexistent/icd.json \
   "$cli" info >"$out" 2>&1; then
  fail "info succeeded without any Vulkan driver"
fi
grep -q "mesa-vulkan-drivers" "$out" || fail "no advice on which package gives the CPU fallback"
echo "ok 2 - info without a driver exits non-zero and names mesa-vulkan-drivers"

# A device selector that matches nothing.
if LIKENESS_DEVICE=no-such-gpu-anywhere "$cli" info >"$out" 2>&1; then
  fail "info succeeded with an impossible LIKENESS_DEVICE"
fi
grep -q "no-such-gpu-anywhere" "$out" || fail "the error does not name the selector"
echo "ok 3 - an unknown LIKENESS_DEVICE is reported"
