#!/usr/bin/env bash
# Perplexity from llama.cpp's llama-perplexity, the oracle for `vocabkit eval` (same chunking and scoring rule).
# Usage: Tests/Oracle/make_perplexity_golden.sh [MODEL] [LLAMA_BIN_DIR]
# Runs `llama-perplexity -m MODEL -f TEXT -c CTX --chunks K` (CPU, its defaults otherwise: F16 KV cache, flash
# attention auto) on a CPython stdlib file bundled in Corpora/sample and writes
# Tests/Fixtures/perplexity-goldens/qwen2.5-coder-0.5b.json: the final estimate, its ±, the running
# perplexity after each chunk, and the text's path and sha256 so the test can tell the text is unchanged.
set -euo pipefail
MODEL=${1:-/tmp/peers/model.gguf}
BIN=${2:-/tmp/peers/llama.cpp/build/bin}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT="$ROOT/Tests/Fixtures/perplexity-goldens/qwen2.5-coder-0.5b.json"
TEXT=Corpora/sample/colorsys.py
CTX=128
CHUNKS=4
export MODEL BIN OUT TEXT CTX CHUNKS ROOT
python3 - <<'PY'
import hashlib, json, os, re, subprocess
model, bin_dir, out, root = os.environ["MODEL"], os.environ["BIN"], os.environ["OUT"], os.environ["ROOT"]
text, ctx, chunks = os.environ["TEXT"], int(os.environ["CTX"]), int(os.environ["CHUNKS"])
env = dict(os.environ, LD_LIBRARY_PATH=bin_dir)
r = subprocess.run([f"{bin_dir}/llama-perplexity", "-m", model, "-f", os.path.join(root, text),
                    "-c", str(ctx), "--chunks", str(chunks)],
                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True)
log = r.stdout.decode("utf-8", "replace")
final = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", log)
assert final, "no final estimate in llama-perplexity's output:\n" + log[-2000:]
running = [float(v) for _, v in re.findall(r"\[(\d+)\]([0-9.]+),", log)]
assert len(running) == chunks, f"expected {chunks} running values, got {running}"
with open(os.path.join(root, text), "rb") as f:
    sha = hashlib.sha256(f.read()).hexdigest()
with open(model, "rb") as f:
    head = hashlib.sha256(f.read(1 << 20)).hexdigest()
doc = {
    "oracle": "llama.cpp llama-perplexity (from the llama-cpp-python 0.3.36 sdist; libllama 0.5.0, ggml 0.25.3), "
              "CPU, default settings (F16 KV cache, flash attention auto)",
    "command": f"llama-perplexity -m MODEL -f {text} -c {ctx} --chunks {chunks}",
    "model": "Qwen2.5-Coder-0.5B-Instruct GGUF (491,400,064 bytes)",
    "model_first_mib_sha256": head,
    "text": text,
    "text_sha256": sha,
    "ctx": ctx,
    "chunks": chunks,
    "perplexity": float(final.group(1)),
    "perplexity_error": float(final.group(2)),
    "running_perplexity": running,
}
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print(json.dumps(doc, indent=1))
PY
echo "wrote $OUT"
