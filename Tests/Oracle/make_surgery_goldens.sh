#!/usr/bin/env bash
# llama.cpp's answers on models edited by `vocabkit surgery`: the oracle for SurgeryGoldenTests, which makes the
# same edited models again (same sha256) and checks that VocabKit's greedy continuations and perplexity equal these.
# Usage: Tests/Oracle/make_surgery_goldens.sh [MODEL] [LLAMA_BIN_DIR]
# For each edit (delete, swap, duplicate, a --layers reorder) of
#   - synthetic models (`vocabkit synth`, random weights, the real vocabulary): qwen3 and qwen2 with scalar
#     hyperparameters, qwen3 and qwen2 with per-layer arrays (llama.cpp builds qwen2/qwen3 blocks all alike, so it
#     takes their arrays only when the values agree), and deci with blocks of different head counts and
#     feed-forward lengths (the architecture llama.cpp builds block by block), and
#   - the real Qwen2.5-Coder-0.5B-Instruct (MODEL; skipped with a note when missing),
# it records the edited file's sha256 (which also proves llama.cpp ran the file the test rebuilds), llama-simple's
# greedy continuation of prompts (-n 16 on synthetic models, 32 on the real one; llama-simple loading the file is
# the proof that llama.cpp takes it), and llama-perplexity on Corpora/sample/colorsys.py with -c 32 (--chunks 4
# on synthetic models, 16 on the real one): from 64 queries llama.cpp's flash attention tiles, which VocabKit does
# not mirror (Docs/evaluation.md), and on the edited real model that alone moves -c 128 perplexity by up to 0.5 %
# either way (Docs/surgery.md). For the real model's deletion it also runs
# `llama-quantize --prune-layers K IN OUT COPY` and records llama-perplexity on that file, which must equal the
# VocabKit-edited file's. Synthetic prompts are chosen per edited model among candidates by VocabKit's own greedy
# margins (the widest decisions; never by llama.cpp's answers), since random weights make near-ties common.
# llama.cpp runs with its CPU backend (libggml-cpu) built for AVX2 + FMA + F16C (GGML_NATIVE=OFF), whatever the
# machine: VocabKit's kernels are ports of ggml's AVX2 ones, and a native build on an AVX-512 machine sums F16,
# Q4_K and Q6_K products in another order (Docs/inference.md: the real model's perplexity moves by 0.2 %). The
# script builds that one library from the llama.cpp source next to LLAMA_BIN_DIR (../..) into
# .build-oracle/ggml-cpu-avx2 unless GGML_CPU_AVX2_DIR names a folder holding one, and puts it ahead of
# LLAMA_BIN_DIR's; llama-perplexity's system_info line, recorded in the golden, shows what ran.
# Writes Tests/Fixtures/llama-goldens/surgery.json. Builds the release vocabkit unless VOCABKIT_SKIP_BUILD=1.
# PARTS=real (or synthetic) remakes only that part and keeps the other from the existing file.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODEL=${1:-$ROOT/.build-testdata/qwen2.5-coder-0.5b-instruct.gguf}
BIN=${2:-/tmp/peers/llama.cpp/build/bin}
OUT="$ROOT/Tests/Fixtures/llama-goldens/surgery.json"
[ -n "${VOCABKIT_SKIP_BUILD:-}" ] || (cd "$ROOT" && swift build -c release --product vocabkit >&2)
CPU_LIB=${GGML_CPU_AVX2_DIR:-}
if [ -z "$CPU_LIB" ]; then
  build="$ROOT/.build-oracle/ggml-cpu-avx2"
  if [ ! -e "$build/bin/libggml-cpu.so" ]; then
    cmake -S "$BIN/../.." -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_AVX=ON \
      -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
      -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >&2
    ninja -C "$build" ggml-cpu >&2
  fi
  CPU_LIB="$build/bin"
fi
export CPU_LIB
VOCABKIT=${VOCABKIT:-$ROOT/.build/release/vocabkit}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export MODEL BIN OUT VOCABKIT WORK ROOT
python3 - <<'PY'
import base64, hashlib, json, os, re, subprocess
model, bin_dir, out, vk, work, root = (os.environ[k] for k in ["MODEL", "BIN", "OUT", "VOCABKIT", "WORK", "ROOT"])
env = dict(os.environ, LD_LIBRARY_PATH=os.environ["CPU_LIB"] + ":" + bin_dir)
system_info = None
TEXT = "Corpora/sample/colorsys.py"
SYNTH_CTX, REAL_CTX, CHUNKS, REAL_CHUNKS = 32, 32, 4, 16
parts = os.environ.get("PARTS", "synthetic,real").split(",")
previous = json.load(open(out)) if set(parts) != {"synthetic", "real"} else {}
SYNTH_N, REAL_N = 16, 32

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()

def greedy(path, prompt, n):
    r = subprocess.run([f"{bin_dir}/llama-simple", "-m", path, "-n", str(n), prompt],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    text = r.stdout
    assert text.startswith(prompt.encode()), f"llama-simple did not echo {prompt!r}: {text[:80]!r}"
    cont = text[len(prompt.encode()):]
    return cont[:-1] if cont.endswith(b"\n") else cont  # llama-simple ends with one newline of its own

def perplexity(path, ctx, chunks=CHUNKS):
    r = subprocess.run([f"{bin_dir}/llama-perplexity", "-m", path, "-f", os.path.join(root, TEXT), "-c", str(ctx),
                        "--chunks", str(chunks)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True)
    log = r.stdout.decode("utf-8", "replace")
    global system_info
    info = next((l[l.index("system_info:"):].strip() for l in log.splitlines() if "system_info:" in l), None)
    assert info and "AVX2 = 1" in info and "AVX512" not in info, f"not the AVX2 CPU backend: {info!r}"
    system_info = info
    final = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", log)
    assert final, "no final estimate:\n" + log[-2000:]
    return float(final.group(1))

def vocabkit(*args, capture=False):
    r = subprocess.run([vk, *args], check=True, stdout=subprocess.PIPE)
    return r.stdout if capture else None

def margin(path, prompt, n):
    """VocabKit's closest greedy decision on this prompt (how safely a continuation can be compared)."""
    r = json.loads(vocabkit("generate", path, "--prompt", prompt, "-n", str(n), "--json", capture=True))
    return min(r["margins"] or [0])

def edits(blocks):
    k, a, b = blocks // 2, blocks // 2 - 1, blocks // 2
    reorder = ",".join(map(str, [*range(0, a), b, a, *range(b + 1, blocks)]))
    # --layers names the new order from the original indices: here swap the middle pair and repeat the first block.
    reorder = "0," + reorder
    return [("delete", ["--delete", str(k)]), ("swap", ["--swap", f"{a},{b}"]), ("duplicate", ["--duplicate", str(k)]),
            ("layers", ["--layers", reorder])]

def entry(name, path, edit, prompts, n, ctx, chunks=CHUNKS):
    cases = []
    for p in prompts:
        cont = greedy(path, p, n)
        cases.append({"prompt": p, "continuation": cont.decode("utf-8", "replace"),
                      "continuation_base64": base64.b64encode(cont).decode("ascii")})
    v = {"name": name, "edit": edit, "sha256": sha256(path), "bytes": os.path.getsize(path),
         "greedy": cases, "perplexity": perplexity(path, ctx, chunks)}
    print(name, v["perplexity"], [c["continuation"][:40] for c in cases], flush=True)
    return v

SYNTH = [
    # name, synth arguments (4 blocks each)
    ("qwen3-q8_0", ["--arch", "qwen3", "--type", "Q8_0", "--dim", "64", "--layers", "4", "--heads", "4", "--kv-heads", "2",
                    "--ffn", "128", "--seed", "31"]),
    ("qwen2-q4_k-untied", ["--arch", "qwen2", "--type", "Q4_K", "--dim", "256", "--layers", "4", "--heads", "4", "--kv-heads", "2",
                           "--ffn", "256", "--untied-output", "--seed", "32"]),
    ("qwen3-q8_0-arrays", ["--arch", "qwen3", "--type", "Q8_0", "--dim", "64", "--layers", "4", "--heads", "4,4,4,4",
                           "--kv-heads", "2,2,2,2", "--ffn", "128,128,128,128", "--seed", "33"]),
    ("qwen2-f16-arrays", ["--arch", "qwen2", "--type", "F16", "--dim", "64", "--layers", "4", "--heads", "4,4,4,4",
                          "--kv-heads", "1,1,1,1", "--ffn", "128,128,128,128", "--seed", "34"]),
    ("deci-q8_0-differing", ["--arch", "deci", "--type", "Q8_0", "--dim", "64", "--layers", "4", "--heads", "4,2,4,4",
                             "--kv-heads", "2,1,4,2", "--ffn", "128,64,192,32", "--seed", "35"]),
]
CANDIDATES = ["def fibonacci(n):", "The quick brown fox", "import numpy as np", "SELECT name FROM users WHERE",
              "fn main() {", "#include <stdio.h>", "Bonjour, café ☕", "class Stack:"]
models = [] if "synthetic" in parts else previous["synthetic"]["models"]
for name, args in (SYNTH if "synthetic" in parts else []):
    source = os.path.join(work, name + ".gguf")
    vocabkit("synth", *args, "-o", source)
    # The unedited model too: random weights amplify rounding differences (an activation rounded to the other
    # quantum moves logits by ~0.1-0.3 %), so how far VocabKit and llama.cpp are apart before any edit is the scale
    # to judge the edited models by.
    m = {"name": name, "synth": args, "source_sha256": sha256(source), "source_perplexity": perplexity(source, SYNTH_CTX),
         "variants": []}
    # deci: also delete block 0, which puts a block with another head count first (surgery then writes the head
    # size out, since llama.cpp would take it from the first block's head count).
    for vname, edit in edits(4) + ([("delete-first", ["--delete", "0"])] if name.startswith("deci") else []):
        path = os.path.join(work, f"{name}-{vname}.gguf")
        vocabkit("surgery", source, *edit, "-o", path)
        prompts = sorted(CANDIDATES, key=lambda p: -margin(path, p, SYNTH_N))[:2]
        m["variants"].append(entry(f"{name} {vname}", path, edit, prompts, SYNTH_N, SYNTH_CTX))
        os.remove(path)
    models.append(m)

real = None if "real" in parts else previous.get("real")
if "real" in parts and os.path.exists(model):
    REAL_PROMPTS = ["def fibonacci(n):", "#include <stdio.h>\n\nint main(void) {", "SELECT name, COUNT(*) FROM users"]
    real = {"name": "qwen2.5-coder-0.5b", "source_sha256": sha256(model), "source_bytes": os.path.getsize(model), "variants": []}
    for vname, edit in [("delete", ["--delete", "12"]), ("swap", ["--swap", "11,12"]), ("duplicate", ["--duplicate", "5"]),
                        ("layers", ["--layers", "0-9,11,10,12-23"])]:
        path = os.path.join(work, f"real-{vname}.gguf")
        vocabkit("surgery", model, *edit, "-o", path)
        v = entry(f"real {vname}", path, edit, REAL_PROMPTS, REAL_N, REAL_CTX, REAL_CHUNKS)
        if vname == "delete":
            pruned = os.path.join(work, "real-llama-quantize-prune.gguf")
            subprocess.run([f"{bin_dir}/llama-quantize", "--prune-layers", "12", model, pruned, "COPY"], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            v["llama_quantize_prune_layers_perplexity"] = perplexity(pruned, REAL_CTX, REAL_CHUNKS)
            assert v["llama_quantize_prune_layers_perplexity"] == v["perplexity"], v
            os.remove(pruned)
        real["variants"].append(v)
        os.remove(path)
elif "real" in parts:
    print(f"note: {model} is missing (Tests/Scripts/fetch-model.sh): no real-model goldens")

libs = sorted(f for f in os.listdir(bin_dir) if f.startswith(("libllama.so.", "libggml.so.")) and f.count(".") >= 4)
doc = {
    "oracle": "llama.cpp llama-simple, llama-perplexity and llama-quantize, CPU, default settings (F16 KV cache, flash "
              "attention auto), greedy; libraries: " + ", ".join(libs) + " (from the llama-cpp-python 0.3.36 sdist), "
              "with libggml-cpu built for AVX2 + FMA + F16C (GGML_NATIVE=OFF)",
    "system_info": system_info,
    "perplexity_command": f"llama-perplexity -m MODEL -f {TEXT} -c CTX --chunks CHUNKS (synthetic: top-level chunks; real: its own)",
    "text": TEXT, "text_sha256": sha256(os.path.join(root, TEXT)), "chunks": CHUNKS,
    "synthetic": {"ctx": SYNTH_CTX, "n_predict": SYNTH_N, "models": models},
}
if real:
    doc["real"] = {"ctx": REAL_CTX, "chunks": REAL_CHUNKS, "n_predict": REAL_N, **real} if "real" in parts else real
with open(out, "w") as f:
    json.dump(doc, f, ensure_ascii=False, indent=1)
    f.write("\n")
PY
echo "wrote $OUT"
