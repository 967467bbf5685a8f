#!/usr/bin/env bash
# Greedy continuations from llama.cpp's llama-simple on synthetic models made by `vocabkit synth` (random
# weights, the real Qwen vocabulary): the oracle for SynthTests.swift, which regenerates each model from the
# same parameters through the library and compares VocabKitInference's greedy continuations with these.
# Usage: Tests/Oracle/make_synth_goldens.sh [LLAMA_BIN_DIR]
# Builds the release vocabkit (scratch path .build unless VOCABKIT_SCRATCH is set; VOCABKIT_SKIP_BUILD=1
# uses the one there), writes the models to a temporary directory, and writes
# Tests/Fixtures/llama-goldens/synthetic.json with, per model, the synth
# parameters, the file's size and word checksum (so the test can tell a different model from a different
# forward pass), and per prompt the continuation llama-simple prints (-n 32; its trailing newline dropped).
set -euo pipefail
BIN=${1:-/tmp/peers/llama.cpp/build/bin}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${VOCABKIT_SCRATCH:-$ROOT/.build}
OUT="$ROOT/Tests/Fixtures/llama-goldens/synthetic.json"
[ -n "${VOCABKIT_SKIP_BUILD:-}" ] || (cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product vocabkit >&2)
VOCABKIT="$SCRATCH/release/vocabkit"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export BIN OUT VOCABKIT WORK ROOT
python3 - <<'PY'
import array, base64, json, os, re, subprocess, sys
bin_dir, out, vocabkit, work = os.environ["BIN"], os.environ["OUT"], os.environ["VOCABKIT"], os.environ["WORK"]
N = 32
GENERATOR = "vocabkit synth v1"  # SyntheticModel.generator
# Candidate prompts. Greedy parity is only meaningful away from near-ties (the two implementations round and
# sum in different orders, and one activation quantum flipping moves logits by ~0.1-0.3% at these sizes), so
# for each model the prompts whose continuation vocabkit decides with the widest margins are kept; this uses
# vocabkit's margins only, never llama.cpp's answers.
CANDIDATES = [
    "def fibonacci(n):",
    "<|im_start|>user\nHello, 世界! 1+1=?<|im_end|>\n<|im_start|>assistant\n",
    "import numpy as np",
    "The quick brown fox",
    "SELECT name FROM users WHERE",
    "fn main() {",
    "Bonjour, café ☕",
    "#include <stdio.h>",
]
# Small enough that SynthTests runs them all in a debug build (the LM head over 151,936 rows dominates); dim is
# a multiple of the type's block size, so the K-quant models are the largest. heads, kv_heads and ffn are a
# number or a list with one value per layer (written as a per-layer array); llama.cpp builds llama's blocks all
# like block 0, so blocks that differ are on deci, the llama variant it builds block by block.
cases = [
    {"arch": "qwen3", "type": "F32", "dim": 32, "layers": 2, "heads": 2, "kv_heads": 1, "ffn": 64, "seed": 1, "prompts": 2},
    {"arch": "qwen3", "type": "F16", "dim": 32, "layers": 2, "heads": 2, "kv_heads": 1, "ffn": 64, "seed": 2, "prompts": 1},
    {"arch": "qwen3", "type": "Q8_0", "dim": 32, "layers": 2, "heads": 2, "kv_heads": 1, "ffn": 64, "seed": 3, "prompts": 2},
    {"arch": "qwen3", "type": "Q4_K", "dim": 256, "layers": 1, "heads": 4, "kv_heads": 2, "ffn": 256, "seed": 4, "prompts": 1},
    {"arch": "qwen2", "type": "Q4_1", "dim": 32, "layers": 2, "heads": 2, "kv_heads": 2, "ffn": 64, "seed": 5,
     "untied_output": True, "prompts": 1},
    {"arch": "llama", "type": "F32", "dim": 32, "layers": 2, "heads": 2, "kv_heads": 1, "ffn": 64, "seed": 6, "prompts": 2},
    {"arch": "llama", "type": "Q8_0", "dim": 64, "layers": 2, "heads": 4, "kv_heads": 2, "ffn": 64, "seed": 7,
     "untied_output": True, "prompts": 1},
    {"arch": "llama", "type": "Q5_K", "dim": 256, "layers": 1, "heads": 4, "kv_heads": 1, "ffn": 256, "seed": 8,
     "rope_freqs": True, "prompts": 1},
    {"arch": "llama", "type": "Q5_0", "dim": 64, "layers": 3, "heads": [4, 4, 4], "kv_heads": [2, 2, 2], "ffn": [96, 96, 96],
     "seed": 9, "prompts": 1},
    {"arch": "deci", "type": "F16", "dim": 64, "layers": 3, "heads": [4, 2, 4], "kv_heads": [2, 1, 4], "ffn": [64, 128, 96],
     "seed": 10, "prompts": 2},
    {"arch": "deci", "type": "Q6_K", "dim": 256, "layers": 2, "heads": 4, "kv_heads": [2, 1], "ffn": [256, 512],
     "seed": 11, "untied_output": True, "rope_freqs": True, "prompts": 1},
]

sys.path.insert(0, os.path.join(os.environ["ROOT"], "Tests/Oracle"))
from make_synth_checksum import checksum

env = dict(os.environ, LD_LIBRARY_PATH=bin_dir)
results = []
for c in cases:
    name = f"{c['arch']}-{c['type'].lower()}-seed{c['seed']}"
    path = os.path.join(work, name + ".gguf")
    def listed(v):
        return ",".join(map(str, v)) if isinstance(v, list) else str(v)
    args = [vocabkit, "synth", "--arch", c["arch"], "--type", c["type"], "--dim", str(c["dim"]),
            "--layers", str(c["layers"]), "--heads", listed(c["heads"]), "--kv-heads", listed(c["kv_heads"]),
            "--ffn", listed(c["ffn"]), "--seed", str(c["seed"]), "-o", path]
    if c.get("untied_output"):
        args.append("--untied-output")
    if c.get("rope_freqs"):
        args.append("--rope-freqs")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    def ours(p):
        return json.loads(subprocess.run([vocabkit, "generate", path, "--prompt", p, "-n", str(N), "--json"],
                                         stdout=subprocess.PIPE, check=True).stdout)
    ranked = sorted(CANDIDATES, key=lambda p: -min(ours(p)["margins"] or [0]))
    outputs = []
    for p in ranked[:c["prompts"]]:
        r = subprocess.run([f"{bin_dir}/llama-simple", "-m", path, "-n", str(N), p],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
        # llama.cpp's loader lists the metadata it read: the generator scheme must be the one recorded below.
        m = re.search(rb"vocabkit\.synthetic\.generator\s+str\s+=\s+(.+)", r.stderr)
        assert m and m.group(1).strip().decode() == GENERATOR, f"generator in {name}: {m and m.group(1)!r}"
        text = r.stdout
        assert text.startswith(p.encode()), f"llama-simple did not echo the prompt {p!r}: {text[:80]!r}"
        cont = text[len(p.encode()):]
        if cont.endswith(b"\n"):
            cont = cont[:-1]  # llama-simple ends its output with one newline of its own
        # For information: how close vocabkit's own greedy decisions are (logit lead of the chosen token).
        mine = ours(p)
        same = mine["text"].encode() == cont
        outputs.append({"prompt": p, "continuation": cont.decode("utf-8", "replace"),
                        "continuation_base64": base64.b64encode(cont).decode("ascii"),
                        "vocabkit_min_margin": round(min(mine["margins"]), 4) if mine["margins"] else None})
        print(name, "same" if same else "DIFFERENT", round(min(mine["margins"] or [0]), 3), json.dumps(cont.decode("utf-8", "replace"), ensure_ascii=False))
    synth = {k: v for k, v in c.items() if k != "prompts"}
    results.append({"name": name, "synth": {**synth, "untied_output": bool(c.get("untied_output")),
                                            "rope_freqs": bool(c.get("rope_freqs"))},
                    "file_bytes": os.path.getsize(path), "file_checksum": str(checksum(path)),
                    "results": outputs})
libs = sorted(f for f in os.listdir(bin_dir) if f.startswith(("libllama.so.", "libggml.so.")) and f.count(".") >= 4)
# The CPU llama.cpp was built for (GGML_NATIVE): its SIMD width changes some sums in the last bits.
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "a CPU without AVX2"
doc = {
    "oracle": "llama.cpp llama-simple, CPU, default context (flash attention auto -> on, F16 KV cache), greedy, "
              "-n 32; libraries: " + ", ".join(libs) + " (from the llama-cpp-python 0.3.36 sdist); built for " + isa,
    "generator": GENERATOR,
    "n_predict": N,
    "cases": results,
}
with open(out, "w") as f:
    json.dump(doc, f, ensure_ascii=False, indent=1)
    f.write("\n")
PY
echo "wrote $OUT"
