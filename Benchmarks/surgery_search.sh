#!/usr/bin/env bash
# The seed model's recipe shape — one block deleted, then one adjacent pair swapped — searched on a GGUF model with
# VocabKit alone (Docs/surgery.md):
#   1. `vocabkit layers --ablate`: every block's scores and the model without it, on TEXT (no file written);
#   2. the cheapest deletion written with `vocabkit surgery --delete K`;
#   3. every adjacent swap of that model written with `surgery --swap I,I+1` and ranked by bits per byte with
#      `vocabkit compare` on the same chunks (a few files at a time, each removed after it is measured);
#   4. the whole scorecard (`compare --questions --prompts`, Corpora/scorecard) for the original, the best deletion
#      and the best deletion + swap.
# Usage: Benchmarks/surgery_search.sh MODEL.gguf TEXT [OUT_DIR]   (CTX, WINDOWS, N (greedy tokens per scorecard
# continuation), VOCABKIT override the defaults)
# Prints each step's output and times; files go to OUT_DIR (default .build-surgery/), edited models are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$1
TEXT=$2
OUT=${3:-.build-surgery}
CTX=${CTX:-512}
WINDOWS=${WINDOWS:-4}
N=${N:-64}
VK=${VOCABKIT:-$(swift build -c release --show-bin-path)/vocabkit}
[ -x "$VK" ] || swift build -c release --product vocabkit >&2
mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*"; }
seconds() { date +%s.%N; }

step "1. every single deletion: vocabkit layers --ablate"
echo "\$ vocabkit layers $MODEL --file $TEXT --ctx $CTX --windows $WINDOWS --span 2 --ablate"
t0=$(seconds)
"$VK" layers "$MODEL" --file "$TEXT" --ctx "$CTX" --windows "$WINDOWS" --span 2 --ablate | tee "$OUT/layers.txt"
t1=$(seconds)
printf 'wall time of the whole step: %.1f s (load average %s)\n' "$(awk "BEGIN { print $t1 - $t0 }")" "$(cut -d' ' -f1-3 /proc/loadavg)"
best=$(awk '$1 ~ /^[0-9]+$/ && $NF == 1 { print $1 }' "$OUT/layers.txt")
blocks=$(awk '$1 ~ /^[0-9]+$/ { n++ } END { print n }' "$OUT/layers.txt")

step "2. the cheapest deletion: block $best"
deleted="$OUT/delete-$best.gguf"
"$VK" surgery "$MODEL" --delete "$best" -o "$deleted"

step "3. every adjacent swap after it, ranked by bits per byte"
rm -f "$OUT/swaps.jsonl"
batch=()
measure() {
  [ ${#batch[@]} -gt 0 ] || return 0
  "$VK" compare "${batch[@]}" --file "$TEXT" --ctx "$CTX" --chunks "$WINDOWS" --json >> "$OUT/swaps.jsonl"
  for f in "${batch[@]}"; do [ "$f" = "$deleted" ] || rm -f "$f"; done
  batch=()
}
batch=("$deleted")
t0=$(seconds)
for ((i = 0; i < blocks - 2; i++)); do
  swapped="$OUT/delete-$best-swap-$i-$((i + 1)).gguf"
  "$VK" surgery "$deleted" --swap "$i,$((i + 1))" -o "$swapped" > /dev/null
  batch+=("$swapped")
  [ ${#batch[@]} -lt 4 ] || measure
done
measure
t1=$(seconds)
printf 'wall time of the swap search: %.1f s (load average %s)\n' "$(awk "BEGIN { print $t1 - $t0 }")" "$(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT/swaps.jsonl" "$OUT/layers.txt" <<'PY' | tee "$OUT/swaps.txt"
import json, re, sys
rows = [m for line in open(sys.argv[1]) for m in json.loads(line)["models"]]
full = re.search(r"whole model: perplexity ([0-9.]+), ([0-9.]+) bits per byte", open(sys.argv[2]).read())
print(f"whole model: perplexity {float(full.group(1)):.4f}, {float(full.group(2)):.4f} bits per byte")
print(f"{'rank':>4}  {'model':<40} {'bits/byte':>9} {'Δ vs deletion':>13} {'perplexity':>10}")
base = next(r for r in rows if "-swap-" not in r["model"])
for i, r in enumerate(sorted(rows, key=lambda r: r["bits_per_byte"]), 1):
    name = r["model"].rsplit("/", 1)[-1]
    print(f"{i:>4}  {name:<40} {r['bits_per_byte']:>9.4f} {r['bits_per_byte'] - base['bits_per_byte']:>+13.4f} {r['perplexity']:>10.4f}")
PY
swap=$(awk 'NR > 2 && $2 ~ /-swap-/ { print $2; exit }' "$OUT/swaps.txt" | sed -E 's/.*-swap-([0-9]+)-([0-9]+)\.gguf/\1,\2/')

step "4. the scorecard: original, delete $best, delete $best + swap $swap"
"$VK" surgery "$deleted" --swap "$swap" -o "$OUT/delete-$best-swap.gguf" > /dev/null
"$VK" compare "$MODEL" "$deleted" "$OUT/delete-$best-swap.gguf" --file "$TEXT" --ctx "$CTX" --chunks "$WINDOWS" \
  --questions Corpora/scorecard/questions.tsv --prompts Corpora/scorecard/prompts.txt -n "$N" | tee "$OUT/scorecard.txt"
rm -f "$deleted" "$OUT/delete-$best-swap.gguf"
