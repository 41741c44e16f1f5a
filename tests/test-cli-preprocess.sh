#!/bin/sh
# likeness-cli preprocess canny|color|tile: the control images equal OpenCV's (python3-opencv
# computes them again from the same PNG), and bad input fails naming the problem.
set -u
cli="$1"
input="$2"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail() { echo "not ok - $*"; cat "$dir/log" 2>/dev/null; exit 1; }

echo "1..5"

have_cv2=1
/usr/bin/python3 -c "import cv2, numpy" 2>/dev/null || have_cv2=0

# Compares OUT with what cv2 makes of the input: $1 the output, $2 a python expression of img
# (the input as RGB) giving the expected image.
same_as_cv2() {
  /usr/bin/python3 - "$input" "$1" "$2" <<'PY'
import sys
import cv2
import numpy as np
img = cv2.cvtColor(cv2.imread(sys.argv[1]), cv2.COLOR_BGR2RGB)
out = cv2.cvtColor(cv2.imread(sys.argv[2]), cv2.COLOR_BGR2RGB)
expected = eval(sys.argv[3])
if expected.ndim == 2:
    expected = np.stack([expected] * 3, axis=2)
if out.shape != expected.shape:
    sys.exit(f"shape {out.shape}, cv2 {expected.shape}")
differ = int(np.count_nonzero(out != expected))
print(f"# {differ} of {out.size} values differ from cv2")
sys.exit(1 if differ else 0)
PY
}

check() {
  n="$1"; kind="$2"; what="$3"; expr="$4"; shift 4
  "$cli" preprocess "$kind" "$input" -o "$dir/$kind.png" "$@" >"$dir/log" 2>&1 ||
    fail "preprocess $kind failed"
  [ -s "$dir/$kind.png" ] || fail "preprocess $kind wrote nothing"
  if [ "$have_cv2" = 1 ]; then
    same_as_cv2 "$dir/$kind.png" "$expr" >"$dir/log" 2>&1 || fail "$kind differs from cv2"
    cat "$dir/log"
    echo "ok $n - $what"
  else
    echo "ok $n - $what # SKIP python3-opencv is needed to compare with cv2"
  fi
}

check 1 canny "canny 50/150 equals cv2.Canny" "cv2.Canny(img, 50, 150)" --low 50 --high 150
# EasyPhoto's colour unit, written as it is: resize_image (img, 1024), mosaic, cubic back.
color_expr="(lambda h, w: (lambda k: (lambda H, W: cv2.resize(cv2.resize(cv2.resize(cv2.resize(img, (W, H), interpolation=cv2.INTER_LANCZOS4 if k > 1 else cv2.INTER_AREA), (W // 24, H // 24), interpolation=cv2.INTER_CUBIC), (W, H), interpolation=cv2.INTER_NEAREST), (w, h), interpolation=cv2.INTER_CUBIC))(int(np.round(h * k / 64.0)) * 64, int(np.round(w * k / 64.0)) * 64))(1024.0 / min(h, w)))(*img.shape[:2])"
check 2 color "the colour image equals EasyPhoto's cv2 steps" "$color_expr"
check 3 tile "tile at rate 1.5 equals cv2's INTER_AREA" \
  "cv2.resize(img, (int(img.shape[1] / 1.5), int(img.shape[0] / 1.5)), interpolation=cv2.INTER_AREA)" \
  --rate 1.5

# Bad input: a missing file, an unknown kind, no output.
if "$cli" preprocess canny "$dir/missing.png" -o "$dir/x.png" >"$dir/log" 2>&1; then
  fail "a missing image was accepted"
fi
grep -q "missing.png" "$dir/log" || fail "the error does not name the missing file"
echo "ok 4 - a missing image fails naming it"

if "$cli" preprocess sharpen "$input" -o "$dir/x.png" >"$dir/log" 2>&1 ||
   "$cli" preprocess canny "$input" >"$dir/log2" 2>&1; then
  fail "an unknown kind or a missing -o was accepted"
fi
grep -q "sharpen" "$dir/log" || fail "the error does not name the unknown kind"
grep -q -- "-o" "$dir/log2" || fail "the error does not ask for -o"
echo "ok 5 - an unknown kind or a missing output fails saying so"
