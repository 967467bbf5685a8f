#!/usr/bin/env bash
# llama.cpp's answers on models edited by `vocabkit surgery`: the oracle for SurgeryGoldenTests, which makes the
# same edited models again and checks that VocabKit's greedy continuations and perplexity equal these.
# Usage: Tests/Oracle/make_surgery_goldens.sh [MODEL] [LLAMA_BIN_DIR]
# For each variant (delete, swap, duplicate, a --layers reorder) of
#   - synthetic qwen3 and qwen2 models (`vocabkit synth`, random weights, the real vocabulary), with scalar and
#     with per-layer-array hyperparameters (different feed-forward lengths and KV heads per block), and
#   - the real Qwen2.5-Coder-0.5B-Instruct (MODEL),
# it records the edited file's sha256, that llama.cpp loads it, llama-simple's greedy continuation of each prompt
# (-n 32 on the real model, 16 on synthetic ones), and llama-perplexity on Corpora/sample/colorsys.py (-c 128
# --chunks 4). For the real model's deletion it also runs `llama-quantize --prune-layers K IN OUT COPY` and
# records llama-perplexity on that file, which must equal the VocabKit-edited file's.
# Writes Tests/Fixtures/llama-goldens/surgery.json. Builds the release vocabkit unless VOCABKIT_SKIP_BUILD=1.
set -euo pipefail
MODEL=${1:-$(cd "$(dirname "$0")/../.." && pwd)/.build-testdata/qwen2.5-coder-0.5b-instruct.gguf}
BIN=${2:-/tmp/peers/llama.cpp/build/bin}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT="$ROOT/Tests/Fixtures/llama-goldens/surgery.json"
[ -n "${VOCABKIT_SKIP_BUILD:-}" ] || (cd "$ROOT" && swift build -c release --product vocabkit >&2)
VOCABKIT=${VOCABKIT:-$ROOT/.build/release/vocabkit}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export MODEL BIN OUT VOCABKIT WORK ROOT
python3 - <<'PY'
import hashlib, json, os, re, subprocess
model, bin_dir, out, vk, work, root = (os.environ[k] for k in ["MODEL", "BIN", "OUT", "VOCABKIT", "WORK", "ROOT"])
env = dict(os.environ, LD_LIBRARY_PATH=bin_dir)
TEXT, CTX, CHUNKS = "Corpora/sample/colorsys.py", 128, 4

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()

def greedy(path, prompt, n):
    r = subprocess.run([f"{bin_dir}/llama-simple", "-m", path, "-n", str(n), prompt],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
    text = r.stdout.decode("utf-8")
    assert text.startswith(prompt), f"llama-simple did not echo {prompt!r}: {text[:80]!r}"
    cont = text[len(prompt):]
    return cont[:-1] if cont.endswith("\n") else cont

def perplexity(path):
    r = subprocess.run([f"{bin_dir}/llama-perplexity", "-m", path, "-f", os.path.join(root, TEXT), "-c", str(CTX),
                        "--chunks", str(CHUNKS)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True)
    log = r.stdout.decode("utf-8", "replace")
    final = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", log)
    assert final, "no final estimate:\n" + log[-2000:]
    return float(final.group(1))

def vocabkit(*args):
    subprocess.run([vk, *args], check=True, stdout=subprocess.DEVNULL)

EDITS = [
    ("delete", ["--delete", "{k}"]),
    ("swap", ["--swap", "{a},{b}"]),
    ("duplicate", ["--duplicate", "{k}"]),
    ("layers", ["--layers", "{reorder}"]),
]

def variants(blocks):
    k, a, b = blocks // 2, blocks // 2 - 1, blocks // 2
    reorder = f"0-{a - 1},{b},{a},{b + 1}-{blocks - 1}" if a >= 1 and b + 1 <= blocks - 1 else f"{blocks - 1},0-{blocks - 2}"
    out = []
    for name, args in EDITS:
        out.append((name, [x.format(k=k, a=a, b=b, reorder=reorder) for x in args]))
    return out

models = []
SYNTH = [
    # name, synth arguments, blocks
    ("qwen3-q8_0", ["--arch", "qwen3", "--type", "Q8_0", "--dim", "128", "--layers", "4", "--heads", "4", "--kv-heads", "2",
                    "--ffn", "256", "--seed", "11"], 4),
    ("qwen2-q4_k-untied", ["--arch", "qwen2", "--type", "Q4_K", "--dim", "256", "--layers", "4", "--heads", "4", "--kv-heads", "2",
                           "--ffn", "512", "--untied-output", "--seed", "12"], 4),
    ("qwen3-q8_0-per-layer", ["--arch", "qwen3", "--type", "Q8_0", "--dim", "128", "--layers", "4", "--heads", "4",
                              "--kv-heads", "2,1,2,1", "--ffn", "256,128,384,256", "--seed", "13"], 4),
    ("qwen2-f16-per-layer", ["--arch", "qwen2", "--type", "F16", "--dim", "64", "--layers", "4", "--heads", "4",
                             "--kv-heads", "1,2,2,1", "--ffn", "128,192,64,128", "--seed", "14"], 4),
]
SYNTH_PROMPTS = ["def fibonacci(n):", "The quick brown fox"]
for name, args, blocks in SYNTH:
    source = os.path.join(work, name + ".gguf")
    vocabkit("synth", *args, "-o", source)
    entry = {"name": name, "synth": args, "source_sha256": sha256(source), "variants": []}
    for vname, edit in variants(blocks):
        path = os.path.join(work, f"{name}-{vname}.gguf")
        vocabkit("surgery", source, *edit, "-o", path)
        entry["variants"].append({
            "name": vname, "edit": edit, "sha256": sha256(path),
            "greedy": [{"prompt": p, "continuation": greedy(path, p, 16)} for p in SYNTH_PROMPTS],
            "perplexity": perplexity(path),
        })
        print(name, vname, entry["variants"][-1]["perplexity"], flush=True)
    models.append(entry)

REAL_PROMPTS = ["def fibonacci(n):", "#include <stdio.h>\n\nint main(void) {", "SELECT name, COUNT(*) FROM users"]
real = {"name": "qwen2.5-coder-0.5b", "source_sha256": sha256(model), "variants": []}
for vname, edit in [("delete", ["--delete", "12"]), ("swap", ["--swap", "11,12"]), ("duplicate", ["--duplicate", "5"]),
                    ("layers", ["--layers", "0-9,11,10,12-23"])]:
    path = os.path.join(work, f"real-{vname}.gguf")
    vocabkit("surgery", model, *edit, "-o", path)
    variant = {"name": vname, "edit": edit, "sha256": sha256(path),
               "greedy": [{"prompt": p, "continuation": greedy(path, p, 32)} for p in REAL_PROMPTS],
               "perplexity": perplexity(path)}
    if vname == "delete":
        pruned = os.path.join(work, "real-llama-quantize-prune.gguf")
        subprocess.run([f"{bin_dir}/llama-quantize", "--prune-layers", "12", model, pruned, "COPY"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        variant["llama_quantize_prune_layers_perplexity"] = perplexity(pruned)
        assert variant["llama_quantize_prune_layers_perplexity"] == variant["perplexity"], variant
        os.remove(pruned)
    real["variants"].append(variant)
    print("real", vname, variant["perplexity"], flush=True)
    os.remove(path)
models.append(real)

doc = {
    "oracle": "llama.cpp llama-simple, llama-perplexity and llama-quantize (from the llama-cpp-python 0.3.36 sdist), CPU, "
              "default settings (F16 KV cache, flash attention auto), greedy",
    "perplexity_command": f"llama-perplexity -m MODEL -f {TEXT} -c {CTX} --chunks {CHUNKS}",
    "text": TEXT, "text_sha256": sha256(os.path.join(root, TEXT)), "ctx": CTX, "chunks": CHUNKS,
    "models": models,
}
with open(out, "w") as f:
    json.dump(doc, f, ensure_ascii=False, indent=1)
    f.write("\n")
PY
echo "wrote $OUT"
