#!/usr/bin/env bash
# The oracle checks CI runs after `swift build -c release` (fresh machine: needs network to Debian and PyPI).
#   1. .build-oracle/: venv with HF tokenizers + qwen.tiktoken            (Tests/Scripts/setup-oracle.sh)
#   2. .build-corpus/: ~27 MB multi-script corpus from Debian packages    (Tests/Scripts/fetch-corpus.sh)
#   3. llama.cpp vectors verified; vocabulary GGUFs in .build-testdata/   (Tests/Fixtures/llama-vocab/fetch.sh)
#   4. the vectors of qwen2, qwen35, llama-bpe against each reference and the CLI (check_llama_vectors.py)
#   5. the committed goldens are what the reference says                  (Tests/Oracle/make_goldens.py --check)
#   6. differential test: corpus (thread variants, --count) and the Unicode sweep (Tests/Oracle/differential.py),
#      then for qwen35 and llama-bpe a corpus sample and the sweep
# VOCABKIT selects the binary (default .build/release/vocabkit). Extra arguments go to differential.py
# (e.g. --max-reports 50). Exits non-zero on the first failing step.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export VOCABKIT=${VOCABKIT:-$ROOT/.build/release/vocabkit}
[ -x "$VOCABKIT" ] || { echo "ci-oracle: no vocabkit binary at $VOCABKIT (swift build -c release first)" >&2; exit 2; }
PY=$(Tests/Scripts/setup-oracle.sh | tail -n 1)
Tests/Scripts/fetch-corpus.sh
Tests/Fixtures/llama-vocab/fetch.sh --gguf
"$PY" Tests/Oracle/check_llama_vectors.py --family all --vocabkit
"$PY" Tests/Oracle/make_goldens.py --check
"$PY" Tests/Oracle/differential.py --all "$@"
for family in qwen35 llama-bpe; do "$PY" Tests/Oracle/differential.py --family "$family" --all "$@"; done
