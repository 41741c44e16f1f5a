#!/bin/sh
# likeness-cli person / photos / templates / catalog check against a throwaway catalog.
set -u
cli="$1"
work=$(mktemp -d)
out="$work/out"
trap 'rm -rf "$work"' EXIT
export LIKENESS_DATA_DIR="$work/data"
n=0

fail() { echo "not ok $n - $*"; sed 's/^/# /' "$out"; exit 1; }
ok() { echo "ok $n - $*"; }
step() { n=$((n + 1)); }

# Images made by hand (valid CRCs): a red 1×1 PNG and a blue 2×1 one, and a text file.
printf '\211PNG\r\n\032\n\000\000\000\rIHDR\000\000\000\001\000\000\000\001\010\002\000\000\000\220wS\336\000\000\000\014IDATx\234c\370\317\300\000\000\003\001\001\000\311\376\222\357\000\000\000\000IEND\256B`\202' >"$work/a.png"
printf '\211PNG\015\012\032\012\000\000\000\015IHDR\000\000\000\002\000\000\000\001\010\002\000\000\000{@\350\335\000\000\000\015IDATx\234c``\370\017D\000\005\002\001\377\301+\226\237\000\000\000\000IEND\256B`\202' >"$work/b.png"
echo "not an image" >"$work/notes.txt"
mkdir "$work/dir" && cp "$work/b.png" "$work/notes.txt" "$work/dir/"

echo "1..12"

step; "$cli" person add Ada >"$out" 2>&1 || fail "person add"
grep -q "Added Ada" "$out" || fail "person add says nothing"; ok "person add"

step; "$cli" person add ada >"$out" 2>&1 && fail "a second Ada was accepted"
grep -q "^likeness-cli: .*already a person" "$out" || fail "no clear error"; ok "duplicate names refused"

step; "$cli" photos add Ada "$work/a.png" >"$out" 2>&1 || fail "photos add"
grep -q "added (1 × 1)" "$out" || fail "photos add output"; ok "photos add FILE"

step; "$cli" photos add Ada "$work/a.png" "$work/dir" >"$out" 2>&1 || fail "photos add DIR"
grep -q "already in the catalog" "$out" || fail "duplicate not reported"
grep -q "skipped, not an image" "$out" || fail "the text file in the folder was not skipped"
grep -q "1 photo added, 1 already there" "$out" || fail "summary"; ok "photos add DIR, duplicates reported"

step; "$cli" photos add Ada "$work/notes.txt" >"$out" 2>&1 && fail "a text file was accepted"
grep -q "^likeness-cli: .*not an image" "$out" || fail "no clear error"; ok "non-image refused"

step; "$cli" photos list Ada >"$out" 2>&1 || fail "photos list"
grep -q "a.png" "$out" && grep -q "b.png" "$out" || fail "photos list lacks a photo"; ok "photos list"

step; "$cli" person rename Ada Grace >"$out" 2>&1 || fail "person rename"
"$cli" person list >"$out" 2>&1 || fail "person list"
grep -Eq "^ +1 +2 +Grace$" "$out" || fail "person list after rename"; ok "person rename and list"

step; "$cli" templates add "$work/a.png" >"$out" 2>&1 || fail "templates add"
"$cli" templates list >"$out" 2>&1 || fail "templates list"
grep -q " a$" "$out" || fail "templates list lacks the template"; ok "templates add and list"

step; "$cli" --data-dir "$work/other" person list >"$out" 2>&1 && fail "options before the command?"
"$cli" person list --data-dir "$work/other" >"$out" 2>&1 || fail "--data-dir"
grep -q "No people yet" "$out" || fail "--data-dir did not pick another catalog"; ok "--data-dir"

step; "$cli" catalog check >"$out" 2>&1 || fail "catalog check"
grep -q "No problems found" "$out" || fail "a fresh catalog has problems"; ok "catalog check on a sound catalog"

step; photo=$(find "$LIKENESS_DATA_DIR/photos" -name '*.png' | head -n 1)
echo damaged >"$photo"
touch "$LIKENESS_DATA_DIR/photos/stray.png"
"$cli" catalog check --dry-run >"$out" 2>&1 && fail "--dry-run passed a damaged catalog"
grep -q "hash mismatches: 1" "$out" && grep -q "orphan files: 1" "$out" || fail "findings"
"$cli" catalog check >"$out" 2>&1 || fail "catalog check repair"
grep -q "Repaired 2 problems" "$out" || fail "repair summary"
"$cli" catalog check --dry-run >"$out" 2>&1 || fail "still damaged after repair"; ok "catalog check finds and repairs"

step; "$cli" person remove Grace >"$out" 2>&1 || fail "person remove"
"$cli" person list >"$out" 2>&1
grep -q "No people yet" "$out" || fail "person still listed"
[ -z "$(find "$LIKENESS_DATA_DIR/photos" -type f)" ] || fail "photo files left behind"; ok "person remove"
