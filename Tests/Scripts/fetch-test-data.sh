#!/usr/bin/env bash
# Fetches the test data that is not committed (idempotent):
#   .build-oracle/venv, .build-oracle/qwen.tiktoken   reference tokenizer (Tests/Scripts/setup-oracle.sh)
#   .build-testdata/ggml-vocab-{qwen2,qwen35,llama-bpe}.gguf
#                                                     llama.cpp vocabulary GGUFs, and the committed vectors
#                                                     verified (Tests/Fixtures/llama-vocab/fetch.sh --gguf)
#   .build-testdata/qwen-tokenizer.json               the reference tokenizer saved as a HF tokenizer.json
#   .build-testdata/{qwen35,llama-bpe}-tokenizer.json the Qwen3.5 and Llama-3 references (Tests/Oracle/families.py
#                                                     over those GGUFs) saved as HF tokenizer.json files
# Pass --bench to also install the benchmark peers (tiktoken, gigatoken, bpe-qwen) into the venv.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
bash Tests/Scripts/setup-oracle.sh "$@" >/dev/null
bash Tests/Fixtures/llama-vocab/fetch.sh --gguf
mkdir -p .build-testdata
if [ ! -s .build-testdata/qwen-tokenizer.json ]; then
  .build-oracle/venv/bin/python - <<'PY'
import os, sys
sys.path.insert(0, "Tests/Oracle")
import qwen_reference
qwen_reference.build(".build-oracle/qwen.tiktoken").save(".build-testdata/qwen-tokenizer.json.tmp")
os.replace(".build-testdata/qwen-tokenizer.json.tmp", ".build-testdata/qwen-tokenizer.json")
PY
fi
for family in qwen35 llama-bpe; do
  [ -s ".build-testdata/$family-tokenizer.json" ] || .build-oracle/venv/bin/python - "$family" <<'PY'
import sys
sys.path.insert(0, "Tests/Oracle")
import families
family = sys.argv[1]
families.save_tokenizer_json(f".build-testdata/ggml-vocab-{family}.gguf", family, f".build-testdata/{family}-tokenizer.json")
PY
done
echo "test data ready: .build-oracle/ (venv, qwen.tiktoken), .build-testdata/ (vocabulary GGUFs, tokenizer.json files)"
