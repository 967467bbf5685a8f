#!/usr/bin/env bash
# Greedy continuations from llama.cpp's llama-simple, the oracle for VocabKitInference's `generate`.
# Usage: Tests/Oracle/make_llama_goldens.sh [MODEL] [LLAMA_BIN_DIR]
# Writes Tests/Fixtures/llama-goldens/qwen2.5-coder-0.5b.json: for each prompt, the text llama-simple
# prints after the prompt (-n 32, greedy; llama-simple adds no BOS for Qwen2 and stops at end-of-generation).
set -euo pipefail
MODEL=${1:-/tmp/peers/model.gguf}
BIN=${2:-/tmp/peers/llama.cpp/build/bin}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT="$ROOT/Tests/Fixtures/llama-goldens/qwen2.5-coder-0.5b.json"
N=32
export MODEL BIN OUT N
python3 - <<'PY'
import json, os, subprocess, hashlib
model, bin_dir, out, n = os.environ["MODEL"], os.environ["BIN"], os.environ["OUT"], int(os.environ["N"])
prompts = [
    "def fibonacci(n):",
    "import numpy as np\n\ndef softmax(x):",
    "// Binary search in C\nint binary_search(const int *a, int n, int key) {",
    "fn main() {\n    let v: Vec<i32> =",
    "class Stack:\n    def __init__(self):",
    "SELECT name, COUNT(*) FROM users",
    "<!DOCTYPE html>\n<html>\n<head>",
    "function debounce(fn, wait) {",
    "# Quick sort in Python\n",
    "package main\n\nimport \"fmt\"\n\nfunc main() {",
    "#include <stdio.h>\n\nint main(void) {",
    "# Calcule la moyenne d'une liste — café ☕\ndef moyenne(xs):",
]
env = dict(os.environ, LD_LIBRARY_PATH=bin_dir)
cases = []
for p in prompts:
    r = subprocess.run([f"{bin_dir}/llama-simple", "-m", model, "-n", str(n), p],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
    text = r.stdout.decode("utf-8")
    assert text.startswith(p), f"llama-simple did not echo the prompt {p!r}: {text[:80]!r}"
    cont = text[len(p):]
    if cont.endswith("\n"):
        cont = cont[:-1]  # llama-simple ends its output with one newline of its own
    cases.append({"prompt": p, "continuation": cont})
    print(json.dumps(cont))
with open(model, "rb") as f:
    head = hashlib.sha256(f.read(1 << 20)).hexdigest()
doc = {
    "oracle": "llama.cpp llama-simple (from the llama-cpp-python 0.3.36 sdist; libllama 0.5.0, ggml 0.25.3), "
              "CPU, default context (flash attention auto -> on, F16 KV cache), greedy",
    "model": "Qwen2.5-Coder-0.5B-Instruct GGUF (491,400,064 bytes)",
    "model_first_mib_sha256": head,
    "n_predict": n,
    "cases": cases,
}
with open(out, "w") as f:
    json.dump(doc, f, ensure_ascii=False, indent=1)
    f.write("\n")
PY
echo "wrote $OUT"
