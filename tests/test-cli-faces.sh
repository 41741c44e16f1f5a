#!/bin/sh
# likeness-cli faces detect|compare and upscale on the real photos and models of ../shared:
# 3 faces with 68 landmarks each in a group photo, a verdict for two photos, a clear "no face
# found" for the cat, and an upscaled PNG of twice the size. Skips naming what is missing.
set -u
cli="$1"
# LIKENESS_TEST_DATA, as the other tests read it, names ../shared (or its testdata folder).
shared="${LIKENESS_TEST_DATA:-$2}"
[ -d "$shared/testdata" ] || shared="$shared/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail() { echo "not ok - $*"; cat "$dir/log" 2>/dev/null; exit 1; }

echo "1..4"
if [ ! -d "$shared/models/human" ] || [ ! -d "$shared/models/face-api" ] ||
   [ ! -f "$shared/testdata/group-1.jpg" ]; then
  for i in 1 2 3 4; do
    echo "ok $i # SKIP $shared/models (human, face-api, upscalerjs) or $shared/testdata is missing"
  done
  exit 0
fi
export LIKENESS_FACE_MODELS="$shared/models"

"$cli" faces detect "$shared/testdata/group-1.jpg" > "$dir/faces.json" 2> "$dir/log" ||
  fail "faces detect failed"
/usr/bin/python3 - "$dir/faces.json" <<'PY' > "$dir/log" 2>&1 || fail "faces detect: wrong JSON"
import json, sys
d = json.load(open(sys.argv[1]))
faces = d["faces"]
assert len(faces) == 3, f"{len(faces)} faces"
for f in faces:
    x, y, w, h = f["box"]
    assert len(f["landmarks"]) == 68 and len(f["keypoints"]) == 6 and len(f["alignment"]) == 5
    for px, py in f["landmarks"]:
        assert x - 0.15 * w <= px <= x + 1.15 * w and y - 0.15 * h <= py <= y + 1.15 * h
    assert 0.5 <= f["score"] <= 1
PY
echo "ok 1 - faces detect: 3 faces, 68 landmarks each, inside their boxes"

"$cli" faces compare "$shared/testdata/astronaut.png" "$shared/testdata/astronaut.png" \
  > "$dir/same.json" 2> "$dir/log" || fail "faces compare failed"
grep -q '"same_person": true' "$dir/same.json" || fail "a photo is not the same person as itself"
grep -q '"distance": 0.0000' "$dir/same.json" || fail "a photo is at a distance from itself"
echo "ok 2 - faces compare: the same photo is the same person at distance 0"

if "$cli" faces compare "$shared/testdata/astronaut.png" "$shared/testdata/no-face-cat.png" \
     > /dev/null 2> "$dir/log"; then
  fail "a photo without a face compared"
fi
grep -q "no-face-cat.png: no face found" "$dir/log" || fail "no clear no-face error"
echo "ok 3 - faces compare: no face found is a clear error"

# A small gradient PNG keeps lavapipe's time short (451×300 takes about 2 minutes).
/usr/bin/python3 - "$dir/small.png" <<'PY' || fail "cannot write a test PNG"
import struct, sys, zlib
w, h = 40, 24
raw = b"".join(b"\x00" + bytes(v for x in range(w) for v in (x * 6, y * 10, 128)) for y in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
"$cli" upscale --scale 2 "$dir/small.png" -o "$dir/up.png" 2> "$dir/log" || fail "upscale failed"
/usr/bin/python3 - "$dir/small.png" "$dir/up.png" <<'PY' > "$dir/log" 2>&1 ||
import struct, sys
def size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])
(w, h), (W, H) = size(sys.argv[1]), size(sys.argv[2])
assert (W, H) == (2 * w, 2 * h), f"{w}x{h} -> {W}x{H}"
PY
  fail "upscale: wrong output size"
echo "ok 4 - upscale --scale 2 doubles the size"
