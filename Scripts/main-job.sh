#!/usr/bin/env bash
# VocabKit's whole path on the bundled defaults, in a few seconds:
#   tokenize a snippet, count the bundled sample corpus, make a model, prune it to the corpus, check that the
#   pruned model gives the original's outputs, score its blocks and delete one, and print what the same cut saves
#   on the real Qwen3 models.
# No model ships in the repository and nothing is downloaded, so the model here is `vocabkit synth`'s: a small
# random-weight Qwen3 with the real 151,936-row vocabulary. Run steps 4-5 on a real GGUF the same way
# (Docs/pruning.md). Files go to $OUT (default .build-demo/). VOCABKIT=path uses that binary instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-.build-demo}
mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*"; }

if [ -n "${VOCABKIT:-}" ]; then
  VK=$VOCABKIT  # a vocabkit already built (CI's test run builds one release build for everything)
else
  step "build (release)"
  swift build -c release --product vocabkit 2>&1 | tail -n 1
  VK=$(swift build -c release --show-bin-path)/vocabkit
fi

step "1. tokenize: Qwen's tokenizer, exactly"
"$VK" tokenize 'def greet(name): return f"Hello, {name}!"'

step "2. count: which tokens the sample corpus uses (Corpora/sample)"
"$VK" count Corpora/sample -o "$OUT/usage.tsv"

step "3. a model: random weights, the real Qwen3 vocabulary (151,936 rows)"
"$VK" synth --arch qwen3 --type Q8_0 --dim 128 --layers 2 --heads 4 --kv-heads 2 --ffn 256 -o "$OUT/model.gguf"
"$VK" inspect "$OUT/model.gguf" | sed -n '1,14p'

step "4. prune: keep the tokens that cover 99.9% of the corpus (plus bytes, specials and merge parents)"
"$VK" prune "$OUT/model.gguf" --usage "$OUT/usage.tsv" --coverage 0.999 -o "$OUT/model-pruned.gguf" --remap "$OUT/remap.tsv"

step "5. check: the pruned model against the original on the corpus"
# A random model's favourite next tokens are mostly ones this corpus never uses, so the 'original top-1
# pruned' cost is high here; on a real model and held-out code it is the number to watch (Docs/pruning.md).
"$VK" check "$OUT/model.gguf" "$OUT/model-pruned.gguf" --file Corpora/sample/bisect.py --windows 2 --ctx 128 -n 8

step "6. layers and surgery: score each block, delete the cheapest, evaluate the result"
# layers --ablate measures the model without each block (no file written); the file surgery writes evaluates
# to the same bits per byte, to the last digit.
"$VK" layers "$OUT/model.gguf" --file Corpora/sample/bisect.py --ctx 64 --windows 2 --ablate | tee "$OUT/layers.txt"
cheapest=$(awk '$1 ~ /^[0-9]+$/ && $NF == 1 { print $1 }' "$OUT/layers.txt")
"$VK" surgery "$OUT/model.gguf" --delete "$cheapest" -o "$OUT/model-surgery.gguf"
"$VK" eval "$OUT/model-surgery.gguf" --file Corpora/sample/bisect.py --ctx 64 --chunks 2

step "7. savings: the same cut on the real Qwen3 models"
kept=$(grep -vc "^#" "$OUT/remap.tsv")  # one old_id<TAB>new_id line per kept token
"$VK" savings --family qwen3 --keep "$kept"
printf '\nfiles in %s/\n' "$OUT"
