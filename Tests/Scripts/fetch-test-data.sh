#!/usr/bin/env bash
# Fetches the test data that is not committed (idempotent):
#   .build-oracle/venv, .build-oracle/qwen.tiktoken   reference tokenizer (Tests/Scripts/setup-oracle.sh)
#   .build-testdata/ggml-vocab-qwen2.gguf             llama.cpp vocabulary GGUF, and the committed vectors
#                                                     verified (Tests/Fixtures/llama-vocab/fetch.sh --gguf)
# Pass --bench to also install the benchmark peers (tiktoken, gigatoken, bpe-qwen) into the venv.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
bash "$ROOT/Tests/Scripts/setup-oracle.sh" "$@" >/dev/null
bash "$ROOT/Tests/Fixtures/llama-vocab/fetch.sh" --gguf
echo "test data ready: .build-oracle/ (venv, qwen.tiktoken), .build-testdata/ggml-vocab-qwen2.gguf"
