#!/usr/bin/env bash
# The Hugging Face round trip against the real tools (a CI step, after `swift build -c release`; a fresh
# machine needs PyPI): about 2 minutes of installs and 3 of checks on 2 cores.
#   1. .build-oracle/qwen.tiktoken (setup-oracle.sh) and .build-oracle/hf-venv (setup-hf-oracle.sh)
#   2. llama.cpp's HF-to-GGUF converter and Qwen's chat templates from the sha256-pinned llama-cpp-python
#      0.3.36 sdist (Tests/Fixtures/llama-vocab/fetch.sh --convert)
#   3. the committed safetensors golden is what the reference library writes (make_golden.py --check)
#   4. tiny Qwen3/Qwen2 checkpoints made by transformers (Tests/Oracle/hf_checkpoints.py) in .build-hf/
#   5. prune them and check everything with transformers, tokenizers, peft, llama.cpp's converter and
#      `vocabkit check` (Tests/Oracle/hf_roundtrip.py)
# VOCABKIT selects the binary (default .build/release/vocabkit); LLAMA_TOKENIZE and LLAMA_SIMPLE, when they
# name llama.cpp binaries (not in CI), add llama-tokenize to the --hf-tokenizer comparison and load both GGUFs. Prints its time; exits non-zero on the first failing step.
set -euo pipefail
started=$(date +%s)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export VOCABKIT=${VOCABKIT:-$ROOT/.build/release/vocabkit}
[ -x "$VOCABKIT" ] || { echo "ci-hf-oracle: no vocabkit binary at $VOCABKIT (swift build -c release first)" >&2; exit 2; }
bash Tests/Scripts/setup-oracle.sh >/dev/null
PY=$(bash Tests/Scripts/setup-hf-oracle.sh | tail -n 1)
bash Tests/Fixtures/llama-vocab/fetch.sh --convert
installed=$(date +%s)
echo "ci-hf-oracle: environment ready in $((installed - started)) s"
"$PY" Tests/Fixtures/safetensors/make_golden.py --check
echo "safetensors golden: identical to what safetensors writes"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false
"$PY" Tests/Oracle/hf_checkpoints.py .build-hf/checkpoints --templates .build-testdata/llama-convert/templates 2>&1 | grep -v "Writing model shards"
"$PY" Tests/Oracle/hf_roundtrip.py .build-hf/checkpoints .build-hf/work --convert .build-testdata/llama-convert
echo "ci-hf-oracle: passed in $(( $(date +%s) - started )) s ($((installed - started)) s of installs)"
