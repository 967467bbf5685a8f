#!/usr/bin/env bash
# Inference speed of vocabkit against llama.cpp's llama-simple on the same model, prompts and token counts,
# measured in the same run (alternating, so that both see the same machine load).
#
# Usage: Benchmarks/bench_inference.sh [MODEL] [LLAMA_BIN_DIR]
#   env: N (tokens to generate, default 64), REPEAT (runs of each, default 3; the best is reported),
#        VOCABKIT (the binary, default a release build in .build/release; build it with
#        `swift build -c release` first)
#
# Decode: a short prompt, then N greedy tokens; tokens/s over the steps after the prompt (llama.cpp's
# "eval time" line, vocabkit's tokens_per_second). Prompt processing: the first lines of
# Corpora/sample/colorsys.py (a few hundred tokens) evaluated as one batch (llama.cpp's "prompt eval time",
# vocabkit's prompt_tokens_per_second). llama-simple runs with its fixed default of 4 threads
# (GGML_DEFAULT_N_THREADS; it has no option for it); vocabkit spreads work over all cores (VOCABKIT_THREADS
# caps it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=${1:-/tmp/peers/model.gguf}
BIN=${2:-/tmp/peers/llama.cpp/build/bin}
VOCABKIT=${VOCABKIT:-$ROOT/.build/release/vocabkit}
N=${N:-64}
REPEAT=${REPEAT:-3}
for f in "$MODEL" "$BIN/llama-simple" "$VOCABKIT"; do
    [ -e "$f" ] || { echo "missing: $f" >&2; exit 1; }
done
export MODEL BIN VOCABKIT N REPEAT ROOT
python3 - <<'PY'
import json, os, re, subprocess
model, bin_dir, vk, n, repeat, root = (os.environ[k] for k in ("MODEL", "BIN", "VOCABKIT", "N", "REPEAT", "ROOT"))
n, repeat = int(n), int(repeat)
short = "def fibonacci(n):"
with open(os.path.join(root, "Corpora/sample/colorsys.py"), encoding="utf-8") as f:
    long_prompt = "".join(f.readlines()[:40])
env = dict(os.environ, LD_LIBRARY_PATH=bin_dir)

def llama(prompt, n_predict):
    r = subprocess.run([f"{bin_dir}/llama-simple", "-m", model, "-n", str(n_predict), prompt], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    pp = re.search(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens.*?([\d.]+) tokens per second", r.stderr)
    tg = re.search(r"\beval time =\s*[\d.]+ ms /\s*\d+ runs.*?([\d.]+) tokens per second", r.stderr)
    return int(pp.group(1)), float(pp.group(2)), float(tg.group(1))

def ours(prompt, n_predict):
    r = subprocess.run([vk, "generate", model, "--prompt", prompt, "-n", str(n_predict), "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True)
    j = json.loads(r.stdout)
    return j["prompt_tokens"], j["prompt_tokens_per_second"], j["tokens_per_second"]

best = {}
def keep(key, value):
    best[key] = max(best.get(key, 0.0), value)

for i in range(repeat):
    _, _, tg = llama(short, n); keep("llama decode", tg)
    _, _, tg = ours(short, n); keep("vocabkit decode", tg)
    lp, pp, _ = llama(long_prompt, 2); keep("llama prompt", pp)
    vp, pp, _ = ours(long_prompt, 2); keep("vocabkit prompt", pp)

print(f"model {os.path.basename(model)}, {os.cpu_count()} cores, best of {repeat} alternating runs")
print(f"{'':22}{'llama.cpp':>12}{'vocabkit':>12}{'ratio':>8}")
for what, label in (("decode", f"decode ({n} tokens)"), ("prompt", f"prompt ({vp} tokens)")):
    a, b = best[f"llama {what}"], best[f"vocabkit {what}"]
    print(f"{label:22}{a:10.1f}/s{b:10.1f}/s{b / a:8.2f}")
if lp != vp:
    print(f"note: the prompt is {lp} tokens for llama.cpp and {vp} for vocabkit")
PY
