#!/usr/bin/env bash
# llama.cpp's choice of tensor types per format, the oracle for ProjectedQuantization (savings --family).
# Usage: Tests/Oracle/make_quant_mix_golden.sh [LLAMA_BIN_DIR]
# Writes F32 models with `vocabkit synth` (a tied llama with 16 blocks, so llama.cpp's "more bits" layers
# are the Llama-3.2-1B ones, and an untied qwen3), quantizes each with `llama-quantize` to BF16, Q8_0 and
# Q4_K_M, reads the tensor types back with `vocabkit inspect --json`, and writes
# Tests/Fixtures/quant-mix/llama-quantize.json: per model its shape and, per format, every tensor's type.
# Builds the release vocabkit (scratch path .build unless VOCABKIT_SCRATCH is set; VOCABKIT_SKIP_BUILD=1 uses
# the one there).
set -euo pipefail
BIN=${1:-/tmp/peers/llama.cpp/build/bin}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${VOCABKIT_SCRATCH:-$ROOT/.build}
OUT="$ROOT/Tests/Fixtures/quant-mix/llama-quantize.json"
[ -x "$BIN/llama-quantize" ] || { echo "no $BIN/llama-quantize (ninja -C <llama.cpp>/build llama-quantize)" >&2; exit 1; }
[ -n "${VOCABKIT_SKIP_BUILD:-}" ] || (cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product vocabkit >&2)
VOCABKIT="$SCRATCH/release/vocabkit"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$(dirname "$OUT")"
export BIN OUT VOCABKIT WORK
python3 - <<'PY'
import json, os, subprocess
bin_dir, out, vocabkit, work = os.environ["BIN"], os.environ["OUT"], os.environ["VOCABKIT"], os.environ["WORK"]
env = dict(os.environ, LD_LIBRARY_PATH=bin_dir)
# dim 256: every matrix row is whole K-quant super-blocks, so no type falls back for its row length.
cases = [
    {"arch": "llama", "dim": 256, "layers": 16, "heads": 4, "kv_heads": 1, "ffn": 512, "untied_output": False},
    {"arch": "qwen3", "dim": 256, "layers": 8, "heads": 2, "kv_heads": 1, "ffn": 256, "untied_output": True},
]
formats = ["BF16", "Q8_0", "Q4_K_M"]
results = []
for c in cases:
    name = f"{c['arch']}-{c['layers']}-{'untied' if c['untied_output'] else 'tied'}"
    src = os.path.join(work, name + "-f32.gguf")
    args = [vocabkit, "synth", "--arch", c["arch"], "--type", "F32", "--dim", str(c["dim"]), "--layers", str(c["layers"]),
            "--heads", str(c["heads"]), "--kv-heads", str(c["kv_heads"]), "--ffn", str(c["ffn"]), "-o", src]
    if c["untied_output"]:
        args.append("--untied-output")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    types = {}
    for f in formats:
        dst = os.path.join(work, f"{name}-{f}.gguf")
        subprocess.run([f"{bin_dir}/llama-quantize", src, dst, f], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        info = json.loads(subprocess.run([vocabkit, "inspect", dst, "--json"], stdout=subprocess.PIPE, check=True).stdout)
        types[f] = {t["name"]: t["type"] for t in info["tensors"]}
        os.remove(dst)
        print(name, f, sorted(set(types[f].values())))
    os.remove(src)
    results.append({"name": name, "synth": c, "types": types})
doc = {"oracle": "llama.cpp llama-quantize (from the llama-cpp-python 0.3.36 sdist; libllama 0.5.0), F32 source, no imatrix",
       "cases": results}
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print("wrote", out)
PY
