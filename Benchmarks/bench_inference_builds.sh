#!/usr/bin/env bash
# Two vocabkit builds on the same model, prompts and token counts, alternating in one run, so that a refactor
# can show it left inference speed where it was (both see the same machine load).
#
# Usage: Benchmarks/bench_inference_builds.sh BEFORE_BINARY AFTER_BINARY [MODEL]
#   env: N (tokens to generate, default 64), REPEAT (runs of each, default 5; the best is reported)
# Build the "before" binary from an older commit, e.g.
#   git worktree add /tmp/before COMMIT && (cd /tmp/before && swift build -c release --product vocabkit)
# Rows: decode tokens/s after a short prompt, prompt tokens/s for the first 40 lines of
# Corpora/sample/colorsys.py in one batch, and perplexity seconds for `eval --ctx 128` over colorsys.py.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=${1:?usage: $0 BEFORE_BINARY AFTER_BINARY [MODEL]}
AFTER=${2:?usage: $0 BEFORE_BINARY AFTER_BINARY [MODEL]}
MODEL=${3:-/tmp/peers/model.gguf}
N=${N:-64}
REPEAT=${REPEAT:-5}
for f in "$MODEL" "$BEFORE" "$AFTER"; do
    [ -e "$f" ] || { echo "missing: $f" >&2; exit 1; }
done
export MODEL BEFORE AFTER N REPEAT ROOT
python3 - <<'PY'
import json, os, subprocess, time
model, before, after, n, repeat, root = (os.environ[k] for k in ("MODEL", "BEFORE", "AFTER", "N", "REPEAT", "ROOT"))
n, repeat = int(n), int(repeat)
short = "def fibonacci(n):"
text = os.path.join(root, "Corpora/sample/colorsys.py")
with open(text, encoding="utf-8") as f:
    long_prompt = "".join(f.readlines()[:40])

def generate(vk, prompt, n_predict):
    r = subprocess.run([vk, "generate", model, "--prompt", prompt, "-n", str(n_predict), "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True)
    return json.loads(r.stdout)

def perplexity(vk):
    start = time.monotonic()
    r = subprocess.run([vk, "eval", model, "--file", text, "--ctx", "128", "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True)
    return time.monotonic() - start, json.loads(r.stdout)["perplexity"]

best, outputs = {}, {}
def keep(key, value, higher=True):
    old = best.get(key)
    best[key] = value if old is None else (max(old, value) if higher else min(old, value))

for i in range(repeat):
    for name, vk in (("before", before), ("after", after)):
        g = generate(vk, short, n)
        keep(f"{name} decode", g["tokens_per_second"])
        outputs.setdefault(name, g.get("text"))
        g = generate(vk, long_prompt, 2)
        keep(f"{name} prompt", g["prompt_tokens_per_second"])
        seconds, ppl = perplexity(vk)
        keep(f"{name} eval", seconds, higher=False)
        outputs.setdefault(f"{name} ppl", ppl)

print(f"model {os.path.basename(model)}, {os.cpu_count()} cores, best of {repeat} alternating runs, load {os.getloadavg()[0]:.1f}")
print(f"{'':28}{'before':>12}{'after':>12}{'after/before':>14}")
for key, label, unit in (("decode", f"decode ({n} tokens)", "/s"), ("prompt", "prompt (40 lines)", "/s"),
                         ("eval", "eval ctx 128 (seconds)", "s")):
    a, b = best[f"before {key}"], best[f"after {key}"]
    print(f"{label:28}{a:10.2f}{unit:2}{b:10.2f}{unit:2}{b / a:14.3f}")
same = outputs["before"] == outputs["after"] and outputs["before ppl"] == outputs["after ppl"]
print(f"greedy text and perplexity identical: {'yes' if same else 'NO'} (perplexity {outputs['after ppl']})")
PY
