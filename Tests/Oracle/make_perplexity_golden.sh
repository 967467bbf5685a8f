#!/usr/bin/env bash
# Perplexity from llama.cpp's llama-perplexity, the oracle for `vocabkit eval` (same chunking and scoring rule).
# Usage: Tests/Oracle/make_perplexity_golden.sh [MODEL] [LLAMA_BIN_DIR]
# Runs `llama-perplexity -m M -f TEXT -c CTX --chunks K` (CPU, its defaults otherwise: F16 KV cache, flash
# attention auto) on a CPython stdlib file bundled in Corpora/sample, for
#   - the real model MODEL (skipped with a note when it is missing), writing
#     Tests/Fixtures/perplexity-goldens/qwen2.5-coder-0.5b.json;
#   - synthetic models made by `vocabkit synth` (qwen3, llama with rope_freqs and an untied head, deci with
#     blocks of different shapes), with -c 32 --chunks 4, writing Tests/Fixtures/perplexity-goldens/synthetic.json with each model's
#     synth parameters, size and word checksum (as make_synth_goldens.sh), so the test can rebuild the file.
# Each golden holds the final estimate, its ±, the running perplexity after each chunk, and the text's path
# and sha256 so the test can tell the text is unchanged. Builds the release vocabkit for the synthetic models
# (scratch path .build unless VOCABKIT_SCRATCH is set; VOCABKIT_SKIP_BUILD=1 uses the one there).
set -euo pipefail
MODEL=${1:-/tmp/peers/model.gguf}
BIN=${2:-/tmp/peers/llama.cpp/build/bin}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT_DIR="$ROOT/Tests/Fixtures/perplexity-goldens"
SCRATCH=${VOCABKIT_SCRATCH:-$ROOT/.build}
TEXT=Corpora/sample/colorsys.py
CTX=128
CHUNKS=4
[ -n "${VOCABKIT_SKIP_BUILD:-}" ] || (cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product vocabkit >&2)
VOCABKIT="$SCRATCH/release/vocabkit"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export MODEL BIN OUT_DIR TEXT CTX CHUNKS ROOT VOCABKIT WORK
python3 - <<'PY'
import hashlib, json, os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "Tests/Oracle"))
model, bin_dir, out_dir, root = os.environ["MODEL"], os.environ["BIN"], os.environ["OUT_DIR"], os.environ["ROOT"]
vocabkit, work = os.environ["VOCABKIT"], os.environ["WORK"]
text, ctx, chunks = os.environ["TEXT"], int(os.environ["CTX"]), int(os.environ["CHUNKS"])
env = dict(os.environ, LD_LIBRARY_PATH=bin_dir)
ORACLE = ("llama.cpp llama-perplexity (from the llama-cpp-python 0.3.36 sdist; libllama 0.5.0, ggml 0.25.3), "
          "CPU, default settings (F16 KV cache, flash attention auto)")
# The CPU llama.cpp was built for (GGML_NATIVE): its SIMD width changes some sums in the last bits.
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
ORACLE += "; built for " + ("AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "a CPU without AVX2")
with open(os.path.join(root, text), "rb") as f:
    text_sha = hashlib.sha256(f.read()).hexdigest()

def perplexity(path, ctx, chunks):
    r = subprocess.run([f"{bin_dir}/llama-perplexity", "-m", path, "-f", os.path.join(root, text),
                        "-c", str(ctx), "--chunks", str(chunks)],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True)
    log = r.stdout.decode("utf-8", "replace")
    final = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", log)
    assert final, "no final estimate in llama-perplexity's output:\n" + log[-2000:]
    running = [float(v) for _, v in re.findall(r"\[(\d+)\]([0-9.]+),", log)]
    assert len(running) == chunks, f"expected {chunks} running values, got {running}"
    return {"perplexity": float(final.group(1)), "perplexity_error": float(final.group(2)), "running_perplexity": running}

def write(name, doc):
    path = os.path.join(out_dir, name)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", path)

def doc(ctx, chunks, **middle):
    return {"oracle": ORACLE, "command": f"llama-perplexity -m MODEL -f {text} -c {ctx} --chunks {chunks}", **middle,
            "text": text, "text_sha256": text_sha, "ctx": ctx, "chunks": chunks}

if os.path.exists(model):
    with open(model, "rb") as f:
        head = hashlib.sha256(f.read(1 << 20)).hexdigest()
    write("qwen2.5-coder-0.5b.json", {**doc(ctx, chunks, model="Qwen2.5-Coder-0.5B-Instruct GGUF (491,400,064 bytes)",
                                          model_first_mib_sha256=head), **perplexity(model, ctx, chunks)})
else:
    print(f"no model at {model}: the real-model golden is left as it is", file=sys.stderr)

# Synthetic models: the same parameters as SynthTests' goldens use (a number or a per-layer list). Chunks of 32
# tokens, so that llama.cpp's flash attention takes its one-query-at-a-time path, which VocabKit mirrors (from 64
# queries on it tiles, see Docs/inference.md); types with a mirrored SIMD kernel (Q8_0, Q5_0).
SYNTH_CTX, SYNTH_CHUNKS = 32, 4
GENERATOR = "vocabkit synth v1"  # SyntheticModel.generator
cases = [
    {"arch": "qwen3", "type": "Q8_0", "dim": 64, "layers": 2, "heads": 4, "kv_heads": 2, "ffn": 128, "seed": 21},
    {"arch": "llama", "type": "Q8_0", "dim": 64, "layers": 2, "heads": 4, "kv_heads": 1, "ffn": 96, "seed": 22,
     "untied_output": True, "rope_freqs": True},
    {"arch": "deci", "type": "Q5_0", "dim": 64, "layers": 3, "heads": [4, 2, 4], "kv_heads": [2, 1, 4],
     "ffn": [64, 128, 96], "seed": 23},
]
from make_synth_checksum import checksum
results = []
for c in cases:
    name = f"{c['arch']}-{c['type'].lower()}-seed{c['seed']}"
    path = os.path.join(work, name + ".gguf")
    listed = lambda v: ",".join(map(str, v)) if isinstance(v, list) else str(v)
    args = [vocabkit, "synth", "--arch", c["arch"], "--type", c["type"], "--dim", str(c["dim"]), "--layers", str(c["layers"]),
            "--heads", listed(c["heads"]), "--kv-heads", listed(c["kv_heads"]), "--ffn", listed(c["ffn"]),
            "--seed", str(c["seed"]), "-o", path]
    if c.get("untied_output"):
        args.append("--untied-output")
    if c.get("rope_freqs"):
        args.append("--rope-freqs")
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    synth = {**c, "untied_output": bool(c.get("untied_output")), "rope_freqs": bool(c.get("rope_freqs"))}
    result = {"name": name, "synth": synth, "file_bytes": os.path.getsize(path), "file_checksum": str(checksum(path)),
              **perplexity(path, SYNTH_CTX, SYNTH_CHUNKS)}
    print(name, result["perplexity"], result["perplexity_error"])
    results.append(result)
write("synthetic.json", {**doc(SYNTH_CTX, SYNTH_CHUNKS, generator=GENERATOR), "cases": results})
PY
