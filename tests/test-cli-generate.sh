#!/bin/sh
# likeness-cli txt2img / img2img / inpaint: arguments are checked and bad input is refused with a
# message before any model is loaded. Generation through the CLI, with a ControlNet and LoRAs, is
# tested on tiny checkpoints by test-pipeline's /pipeline/cli.
set -u
cli="$1"
vocab="${LIKENESS_TEST_DATA:-${LIKENESS_SOURCE_DIR:-.}/../shared}/models/clip/bpe_simple_vocab_16e6.txt.gz"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0
fail=0

# expect_fail NAME PATTERN ARGS…: the command fails and says PATTERN.
expect_fail () {
  name="$1"; pattern="$2"; shift 2
  n=$((n + 1))
  if "$cli" "$@" >"$dir/out" 2>&1; then
    echo "not ok $n - $name: succeeded"; fail=1
  elif ! grep -q -- "$pattern" "$dir/out"; then
    echo "not ok $n - $name: no “$pattern” in:"; sed 's/^/# /' "$dir/out"; fail=1
  else
    echo "ok $n - $name"
  fi
}

echo "1..11"
expect_fail "txt2img without a model" "model PATH and -o OUT.png are required" txt2img -o "$dir/a.png"
expect_fail "img2img without an image" "image IN is required" img2img --model "$dir/none" -o "$dir/a.png"
expect_fail "inpaint without a mask" "mask MASK is required" inpaint --model "$dir/none" --image "$dir/none.png" -o "$dir/a.png"
expect_fail "txt2img with a mask" "mask is for inpaint" txt2img --model "$dir/none" --mask "$dir/m.png" -o "$dir/a.png"
expect_fail "unknown sampler" "unknown sampler “heun”" txt2img --model "$dir/none" --sampler heun -o "$dir/a.png"
expect_fail "size not a multiple of 64" "not made of multiples of 64" txt2img --model "$dir/none" --width 500 -o "$dir/a.png"
expect_fail "missing input image" "none.png" img2img --model "$dir/none" --image "$dir/none.png" -o "$dir/a.png"
expect_fail "unknown control mode" "unknown control mode “strong”" txt2img --model "$dir/none" --control-mode strong -o "$dir/a.png"
expect_fail "unknown LoRA tag" "face" txt2img --vocab "$vocab" --model "$dir/none" --prompt "<lora:face:0.9> a man" -o "$dir/a.png"
printf 'not a model' >"$dir/model.safetensors"
if [ -f "$vocab" ]; then
  expect_fail "a file that is not a checkpoint" "model.safetensors" txt2img --vocab "$vocab" --model "$dir/model.safetensors" -o "$dir/a.png"
else
  n=$((n + 1)); echo "ok $n # SKIP CLIP vocabulary not found ($vocab)"
fi
expect_fail "missing vocabulary" "none.txt.gz" txt2img --vocab "$dir/none.txt.gz" --model "$dir/model.safetensors" -o "$dir/a.png"
exit $fail
