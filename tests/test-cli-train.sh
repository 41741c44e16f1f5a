#!/bin/sh
# likeness-cli train-lora end to end on lk-test-sd's tiny checkpoint (written by lk-write-tiny-sd):
# bad input refused before anything is written, a training with its progress lines and a
# checkpoint, the LoRA loaded by txt2img --lora, Ctrl-C (SIGINT) writing a checkpoint that
# --resume finishes from; and bench train on the tiny UNet printing its figures.
#   test-cli-train.sh LIKENESS_CLI LK_WRITE_TINY_SD
set -u
cli="$1"
writer="$2"
shared="${LIKENESS_TEST_DATA:-${LIKENESS_SOURCE_DIR:-.}/../shared}"
vocab="$shared/models/clip/bpe_simple_vocab_16e6.txt.gz"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0
fail=0

ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $1"; [ -f "$dir/out" ] && sed 's/^/# /' "$dir/out"; fail=1; }
skip () { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# expect_fail NAME PATTERN ARGS…: the command fails, says PATTERN and leaves no LoRA behind.
expect_fail () {
  name="$1"; pattern="$2"; shift 2
  rm -f "$dir/bad.safetensors" "$dir/bad.train-checkpoint"
  if "$cli" "$@" >"$dir/out" 2>&1; then
    not_ok "$name: succeeded"
  elif ! grep -q -- "$pattern" "$dir/out"; then
    not_ok "$name: no “$pattern”"
  elif [ -e "$dir/bad.safetensors" ] || [ -e "$dir/bad.train-checkpoint" ]; then
    not_ok "$name: wrote a file"
  else
    ok "$name"
  fi
}

echo "1..14"
"$writer" "$dir/tiny.safetensors" && "$writer" "$dir/inpaint.safetensors" --inpainting || exit 1
mkdir "$dir/empty" "$dir/photos"
bad="-o $dir/bad.safetensors"
expect_fail "no model" "are required" train-lora --images "$dir/photos" --caption x $bad
expect_fail "no caption" "caption TEXT is required" train-lora --model "$dir/tiny.safetensors" --images "$dir/photos" $bad
expect_fail "an empty folder" "holds no photos" train-lora --model "$dir/tiny.safetensors" --images "$dir/empty" --caption x $bad
expect_fail "a missing photo" "none.png: no such file" train-lora --model "$dir/tiny.safetensors" --images "$dir/none.png" --caption x $bad

photos_found=1
for f in astronaut.png group-1.jpg no-face-cat.png; do
  [ -f "$shared/testdata/$f" ] && cp "$shared/testdata/$f" "$dir/photos/" || photos_found=0
done
echo "easyphoto_face, easyphoto, 1person" >"$dir/photos/notes.txt"
if [ ! -f "$vocab" ] || [ $photos_found = 0 ]; then
  for i in 5 6 7 8 9 10 11 12; do skip "CLIP vocabulary or test photos not found under $shared"; done
else
  common="--vocab $vocab --caption easyphoto_face,_easyphoto,_1person --size 64 --rank 4 --alpha 4 --no-checkpointing --seed 5"

  printf 'not a photo' >"$dir/empty/broken.jpg"
  expect_fail "a file that is not an image" "broken.jpg cannot be used" train-lora --model "$dir/tiny.safetensors" --images "$dir/empty" $common $bad
  rm "$dir/empty/broken.jpg"
  expect_fail "an inpainting model" "ordinary SD1.x checkpoint" train-lora --model "$dir/inpaint.safetensors" --images "$dir/photos" $common $bad
  # An SD2 file: OpenCLIP's text encoder names.
  /usr/bin/python3 - "$dir/sd2.safetensors" <<'EOF'
import json, struct, sys
names = ["model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.model.ln_final.weight"]
header = {n: {"dtype": "F16", "shape": [4], "data_offsets": [8 * i, 8 * i + 8]} for i, n in enumerate(names)}
text = json.dumps(header).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(text)) + text + bytes(8 * len(names)))
EOF
  expect_fail "an SD2 model" "Stable Diffusion 2" train-lora --model "$dir/sd2.safetensors" --images "$dir/photos" $common $bad

  # Training, the text encoder too, f16 activations: 4 steps of 2 micro-batches, checkpoints at
  # step 2 and at the end.
  if "$cli" train-lora --model "$dir/tiny.safetensors" --images "$dir/photos" $common --steps 4 --accum 2 --save-every 2 --f16 -o "$dir/face.safetensors" >"$dir/out" 2>&1 &&
     grep -q "skipping notes.txt" "$dir/out" && grep -q "text encoder lr 5e-05, .*f16 activations" "$dir/out" &&
     grep -q "^step 4/4  loss [0-9.]*  [0-9.]* s/step  ETA .*  peak [0-9]* MiB" "$dir/out" &&
     grep -q "checkpoint written to $dir/face.train-checkpoint" "$dir/out" &&
     [ -f "$dir/face.safetensors" ] && [ -f "$dir/face.train-checkpoint" ]; then
    ok "train-lora trains with progress lines and checkpoints"
  else
    not_ok "train-lora trains with progress lines and checkpoints"
  fi
  if "$cli" txt2img --model "$dir/tiny.safetensors" --vocab "$vocab" --prompt "easyphoto_face" --steps 2 --seed 1 --width 64 --height 64 --lora "$dir/face.safetensors:0.9" -o "$dir/a.png" >"$dir/out" 2>&1 &&
     grep -q "LoRA $dir/face.safetensors merged" "$dir/out" && ! grep -q "match nothing" "$dir/out" && [ -f "$dir/a.png" ]; then
    ok "txt2img --lora loads the trained LoRA, every module matched"
  else
    not_ok "txt2img --lora loads the trained LoRA, every module matched"
  fi

  # Ctrl-C after step 2 of 8 (the UNet only): a checkpoint, no LoRA, status 130; --resume finishes.
  common="$common --te-lr 0"
  "$cli" train-lora --model "$dir/tiny.safetensors" --images "$dir/photos" $common --steps 8 --accum 1 --save-every 0 -o "$dir/stop.safetensors" >"$dir/out" 2>&1 &
  pid=$!
  i=0
  while ! grep -q "^step 2/8" "$dir/out" && [ $i -lt 600 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
  kill -INT $pid
  wait $pid
  status=$?
  if [ $status = 130 ] && grep -q "training cancelled at step [2-7] of 8; its checkpoint is $dir/stop.train-checkpoint" "$dir/out" &&
     [ -f "$dir/stop.train-checkpoint" ] && [ ! -e "$dir/stop.safetensors" ]; then
    ok "Ctrl-C writes a checkpoint, no LoRA, and exits with 130"
  else
    not_ok "Ctrl-C writes a checkpoint, no LoRA, and exits with 130 (status $status)"
  fi
  if "$cli" train-lora --model "$dir/tiny.safetensors" --images "$dir/photos" $common --steps 8 --accum 1 --resume "$dir/stop.train-checkpoint" -o "$dir/stop.safetensors" >"$dir/out" 2>&1 &&
     grep -q "resumed from $dir/stop.train-checkpoint at step [2-7]" "$dir/out" && grep -q "^step 8/8" "$dir/out" &&
     [ -f "$dir/stop.safetensors" ]; then
    ok "--resume finishes the training"
  else
    not_ok "--resume finishes the training"
  fi
  expect_fail "--resume from a file that is not a checkpoint" "cannot resume" train-lora --model "$dir/tiny.safetensors" --images "$dir/photos" $common --resume "$dir/photos/astronaut.png" $bad
fi

if "$cli" bench train --tiny --size 64 --rank 4 --steps 1 >"$dir/out" 2>&1 &&
   grep -q "^With gradient checkpointing: *[0-9.]* s/step (best [0-9.]*), peak device memory [0-9.]* MiB; EasyPhoto's 800 steps × accumulation 4: " "$dir/out" &&
   grep -q "^Without: *[0-9.]* s/step" "$dir/out"; then
  ok "bench train --tiny --size 64 prints s/step, peak memory and the EasyPhoto extrapolation"
else
  not_ok "bench train --tiny --size 64 prints s/step, peak memory and the EasyPhoto extrapolation"
fi
expect_fail "bench train refuses a size that is not a multiple of 64" "multiple of 64" bench train --size 100
exit $fail
