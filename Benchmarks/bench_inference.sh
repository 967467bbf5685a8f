#!/usr/bin/env bash
# Inference speed of vocabkit against llama.cpp on the same model and thread count, measured in the same run
# (alternating, so that both see the same machine load): prompt processing, decode, and `vocabkit check`
# against the time llama-perplexity takes to evaluate both models once.
#
# Usage: Benchmarks/bench_inference.sh [MODEL] [LLAMA_BIN_DIR]
#   env: THREADS (default: one per core; vocabkit gets VOCABKIT_THREADS, llama.cpp -t),
#        N (tokens to decode, default 64), REPEAT (alternating runs of each, default 3; the best is reported),
#        WINDOWS (check: windows of CHECK_CTX tokens, default 48), CHECK_CTX (default 256), CHECK_N (check's -n,
#        default 16), SKIP_CHECK=1 (prompt and decode only), SKIP_GENERATE=1 (check only), CHECK_BOTH=1 (also time `check --evaluate-both`),
#        VOCABKIT (the binary, default a release build in .build/release: `swift build -c release` first)
#   needs llama-bench and llama-perplexity in LLAMA_BIN_DIR (`ninja -C /tmp/peers/llama.cpp/build llama-bench
#   llama-perplexity`).
#
# Prompt processing: the first 40 lines of Corpora/sample/colorsys.py evaluated as one batch (vocabkit
# generate's prompt_tokens_per_second; llama-bench -p with that many tokens, -n 0). Decode: N greedy tokens
# (vocabkit after a 5-token prompt, tokens_per_second over the steps after it; llama-bench -p 0 -n N).
#
# check: a prune of MODEL made for the run (count over the *.py of python3's standard library without
# unittest/, test/, tests/ and site-packages/, prune --coverage 0.9999), checked on WINDOWS windows of unittest/*.py (held out: most windows'
# tokenization changes, so the pruned model is evaluated on its own there). The reference is llama-perplexity
# -c CHECK_CTX on both models over the same text (the same number of windows, as chunks; from its log's
# timestamps), as tokens per second, times the tokens check evaluates in
# each model (its original_tokens and pruned_tokens); the goal is check <= 2 x that.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=${1:-/tmp/peers/model.gguf}
BIN=${2:-/tmp/peers/llama.cpp/build/bin}
VOCABKIT=${VOCABKIT:-$ROOT/.build/release/vocabkit}
for f in "$MODEL" "$BIN/llama-bench" "$BIN/llama-perplexity" "$VOCABKIT"; do
    [ -e "$f" ] || { echo "missing: $f" >&2; exit 1; }
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export MODEL BIN VOCABKIT ROOT WORK
python3 - <<'PY'
import json, os, re, subprocess, sysconfig, time
env = dict(os.environ)
model, bin_dir, vk, root, work = (env[k] for k in ("MODEL", "BIN", "VOCABKIT", "ROOT", "WORK"))
threads = int(env.get("THREADS") or os.cpu_count())
n, repeat = int(env.get("N", 64)), int(env.get("REPEAT", 3))
windows, ctx, check_n = int(env.get("WINDOWS", 48)), int(env.get("CHECK_CTX", 256)), int(env.get("CHECK_N", 16))
llama_env = dict(env, LD_LIBRARY_PATH=bin_dir)
vk_env = dict(env, VOCABKIT_THREADS=str(threads))
short = "def fibonacci(n):"
with open(os.path.join(root, "Corpora/sample/colorsys.py"), encoding="utf-8") as f:
    long_prompt = "".join(f.readlines()[:40])

def load():
    return open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"

def ours(prompt, n_predict):
    r = subprocess.run([vk, "generate", model, "--prompt", prompt, "-n", str(n_predict), "--json"], env=vk_env,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True)
    j = json.loads(r.stdout)
    return j["prompt_tokens"], j["prompt_tokens_per_second"], j["tokens_per_second"]

def llama_bench(p, g):
    r = subprocess.run([f"{bin_dir}/llama-bench", "-m", model, "-t", str(threads), "-p", str(p), "-n", str(g),
                        "-r", "1", "-o", "json"], env=llama_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, check=True)
    return json.loads(r.stdout)[0]["avg_ts"]

best, loads = {}, []
def keep(key, value):
    best[key] = max(best.get(key, 0.0), value)

if env.get("SKIP_GENERATE") != "1":
    prompt_tokens = ours(long_prompt, 1)[0]
    for _ in range(repeat):
        loads.append(load())
        keep("llama decode", llama_bench(0, n))
        keep("vocabkit decode", ours(short, n)[2])
        keep("llama prompt", llama_bench(prompt_tokens, 0))
        keep("vocabkit prompt", ours(long_prompt, 1)[1])

    print(f"model {os.path.basename(model)}, {threads} threads each, {os.cpu_count()} cores, best of {repeat} alternating runs"
          f" (1-min load before each: {', '.join(loads)})")
    print(f"{'':26}{'llama.cpp':>12}{'vocabkit':>12}{'ratio':>8}")
    for what, label in (("prompt", f"prompt ({prompt_tokens} tokens)"), ("decode", f"decode ({n} tokens)")):
        a, b = best[f"llama {what}"], best[f"vocabkit {what}"]
        print(f"{label:26}{a:10.1f}/s{b:10.1f}/s{b / a:8.2f}")

if env.get("SKIP_CHECK") == "1":
    raise SystemExit
stdlib = sysconfig.get_paths()["stdlib"]
usage, pruned, text = (os.path.join(work, f) for f in ("usage.tsv", "pruned.gguf", "heldout.py"))
with open(text, "w", encoding="utf-8") as out:
    for name in sorted(os.listdir(os.path.join(stdlib, "unittest"))):
        if name.endswith(".py"):
            with open(os.path.join(stdlib, "unittest", name), encoding="utf-8") as f:
                out.write(f.read())
subprocess.run([vk, "count", "--vocab", model, stdlib, "--include", "*.py", "--exclude", "*/unittest/*",
                "--exclude", "*/test/*", "--exclude", "*/tests/*", "--exclude", "*/site-packages/*", "--skip-invalid", "-o", usage], env=vk_env, check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.run([vk, "prune", model, "--usage", usage, "--coverage", "0.9999", "-o", pruned], env=vk_env, check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def perplexity_rate(m):
    r = subprocess.run([f"{bin_dir}/llama-perplexity", "-m", m, "-f", text, "-c", str(ctx), "-b", str(ctx),
                        "--chunks", str(windows), "-t", str(threads)], env=llama_env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=True)
    # Log lines start with a timestamp (minutes.seconds.milliseconds.microseconds; the final one may follow the
    # progress line without a line feed): from the line announcing the chunks to the final estimate is the
    # evaluation of every chunk.
    def at(pattern):
        m, sec, ms, us = re.search(r"(\d+)\.(\d\d)\.(\d{3})\.(\d{3}) I " + pattern, r.stderr).groups()
        return int(m) * 60 + int(sec) + int(ms) / 1e3 + int(us) / 1e6
    chunks = int(re.search(r"calculating perplexity over (\d+) chunks", r.stderr).group(1))
    return chunks * ctx / (at("Final estimate") - at("perplexity: calculating perplexity over"))

def check(*extra):
    t = time.monotonic()
    r = subprocess.run([vk, "check", model, pruned, "--file", text, "--windows", str(windows), "--ctx", str(ctx),
                        "-n", str(check_n), "--json", *extra], env=vk_env, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit(f"check failed with status {r.returncode}")
    return json.loads(r.stdout), time.monotonic() - t

check_load = load()
rate_original = perplexity_rate(model)
report, seconds = check()
rate_pruned = perplexity_rate(pruned)
both = check("--evaluate-both") if env.get("CHECK_BOTH") == "1" else None
reference = report["original_tokens"] / rate_original + report["pruned_tokens"] / rate_pruned
print(f"check, {len(report['results'])} windows at ctx {ctx}, -n {check_n} (1-min load before: {check_load}):"
      f" {report['original_tokens']} tokens original, {report['pruned_tokens']} pruned,"
      f" {report['unchanged_tokenization']} windows with unchanged tokenization, parity {report['parity']}")
print(f"  llama-perplexity rate: {rate_original:.1f} tokens/s original, {rate_pruned:.1f} pruned;"
      f" both models once at that rate: {reference:.1f} s")
print(f"  vocabkit check (whole process): {seconds:.1f} s = {seconds / reference:.2f} x that (goal <= 2)")
if both:
    print(f"  vocabkit check --evaluate-both: {both[1]:.1f} s = {both[1] / reference:.2f} x"
          f" (same report: {both[0]['results'] == report['results']})")
PY
