#!/usr/bin/env bash
# Greedy answers of the instruct model to chat prompts, from llama.cpp's llama-simple: the oracle for
# `vocabkit count --model M --answers` (ChatFormat + greedy generation).
# Usage: Tests/Oracle/make_chat_answer_goldens.sh [MODEL] [LLAMA_BIN_DIR]
# Writes Tests/Fixtures/llama-goldens/chat-answers.json: for each prompt (the first lines of
# Corpora/chat/counted.txt), the chat text as llama.cpp's built-in ChatML formatter makes it for one user message
# with the assistant's turn opened (written out here, independently of VocabKit), and the text llama-simple prints
# after it (-n 48, greedy, special-token text in the prompt parsed, stops at end-of-generation).
set -euo pipefail
MODEL=${1:-/tmp/peers/model.gguf}
BIN=${2:-/tmp/peers/llama.cpp/build/bin}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT="$ROOT/Tests/Fixtures/llama-goldens/chat-answers.json"
PROMPTS="$ROOT/Corpora/chat/counted.txt"
N=48
COUNT=3
export MODEL BIN OUT N PROMPTS COUNT
python3 - <<'PY'
import json, os, subprocess, hashlib
model, bin_dir, out, n = os.environ["MODEL"], os.environ["BIN"], os.environ["OUT"], int(os.environ["N"])
lines = [l for l in open(os.environ["PROMPTS"], encoding="utf-8").read().split("\n") if l][: int(os.environ["COUNT"])]
def unescape(line):  # the prompt files' escapes: \n, \t, \\ (any other backslash stays)
    out, i = "", 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line) and line[i + 1] in "nt\\":
            out += {"n": "\n", "t": "\t", "\\": "\\"}[line[i + 1]]; i += 2
        else:
            out += line[i]; i += 1
    return out
env = dict(os.environ, LD_LIBRARY_PATH=bin_dir)
cases = []
for line in lines:
    prompt = unescape(line)
    chat = f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"  # llama.cpp's chatml, no system message
    r = subprocess.run([f"{bin_dir}/llama-simple", "-m", model, "-n", str(n), chat],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
    text = r.stdout.decode("utf-8")
    assert text.startswith(chat), f"llama-simple did not echo the chat text: {text[:80]!r}"
    answer = text[len(chat):]
    if answer.endswith("\n"):
        answer = answer[:-1]  # llama-simple ends its output with one newline of its own
    cases.append({"prompt": prompt, "chat": chat, "answer": answer})
    print(json.dumps(answer))
with open(model, "rb") as f:
    head = hashlib.sha256(f.read(1 << 20)).hexdigest()
doc = {
    "oracle": "llama.cpp llama-simple (from the llama-cpp-python 0.3.36 sdist; libllama 0.5.0, ggml 0.25.3), "
              "CPU, default context (flash attention auto -> on, F16 KV cache), greedy, prompt tokenized with special tokens parsed",
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
