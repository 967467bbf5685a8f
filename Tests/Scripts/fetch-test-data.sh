#!/usr/bin/env bash
# Fetches what the tests need and the repository does not ship (idempotent):
#   .build-oracle/        the reference tokenizer's venv and qwen.tiktoken (setup-oracle.sh)
#   .build-testdata/ggml-vocab-qwen2.gguf   llama.cpp's vocabulary-only Qwen2 GGUF (llama-cpp-python 0.3.36 sdist)
#   .build-testdata/qwen-tokenizer.json     the reference tokenizer saved as a Hugging Face tokenizer.json
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PY=$(bash Tests/Scripts/setup-oracle.sh | tail -n 1)
bash Tests/Fixtures/llama-vocab/fetch.sh --gguf
mkdir -p .build-testdata
if [ ! -s .build-testdata/qwen-tokenizer.json ]; then
  "$PY" - <<'PY'
import os, sys
sys.path.insert(0, "Tests/Oracle")
import qwen_reference
qwen_reference.build(".build-oracle/qwen.tiktoken").save(".build-testdata/qwen-tokenizer.json.tmp")
os.replace(".build-testdata/qwen-tokenizer.json.tmp", ".build-testdata/qwen-tokenizer.json")
PY
fi
echo "test data ready"
