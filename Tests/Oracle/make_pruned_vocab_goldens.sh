#!/usr/bin/env bash
# Writes Tests/Fixtures/llama-goldens/pruned-vocab.json: for the Qwen3.5 and Llama-3 vocabulary GGUFs
# (.build-testdata/ggml-vocab-{qwen35,llama-bpe}.gguf, from Tests/Fixtures/llama-vocab/fetch.sh --gguf), the
# vocabulary `vocabkit count` + `vocabkit prune --coverage 0.99` cut to the bundled sample corpus, and the ids
# llama.cpp's llama-tokenize gives on that pruned vocabulary for every line of the corpus (and a few texts
# with pruned tokens). FamilyPruneTests prunes again, checks the file is the one llama.cpp read (size and word
# checksum), that VocabKit tokenizes it as llama.cpp does, and that lines of kept tokens get the remapped ids.
#
# Usage: Tests/Oracle/make_pruned_vocab_goldens.sh [LLAMA_BIN_DIR]   (default /tmp/peers/llama.cpp/build/bin)
# Needs a release build of vocabkit ($VOCABKIT, default .build/release/vocabkit) and python3.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BIN=${1:-/tmp/peers/llama.cpp/build/bin}
VOCABKIT=${VOCABKIT:-$ROOT/.build/release/vocabkit}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
python3 - "$BIN" "$VOCABKIT" "$T" <<'PY'
import array, json, os, subprocess, sys
bin_dir, vocabkit, tmp = sys.argv[1:]
root = os.getcwd()
sample = os.path.join(root, "Corpora", "sample")
files = sorted(f for f in os.listdir(sample) if f.endswith(".py"))
lines = []
for f in files:
    lines += [l for l in open(os.path.join(sample, f), encoding="utf-8").read().split("\n") if l.strip()]
extra = ["naïve café, 数字化 😀 Straße", "résumé with e\u0301 decomposed", "1234567890 zzqqxx_unseen", "Cửa Việt"]
texts = lines + extra
SEPARATOR = {"qwen35": "<|endoftext|>", "llama-bpe": "<|end_of_text|>"}


def checksum(path):
    """Σ word_i · (2i + 1) mod 2^64 over the file's little-endian 64-bit words (zero-padded)."""
    data = open(path, "rb").read()
    data += b"\0" * (-len(data) % 8)
    words = array.array("Q")
    words.frombytes(data)
    if sys.byteorder != "little":
        words.byteswap()
    return sum(w * (2 * i + 1) for i, w in enumerate(words)) % (1 << 64)


def tokenize(model, joined, separator_id):
    """llama-tokenize's ids for each text of a file of texts joined by the end-of-text special token."""
    path = os.path.join(tmp, "joined.txt")
    open(path, "w", encoding="utf-8").write(joined)
    out = subprocess.run([os.path.join(bin_dir, "llama-tokenize"), "-m", model, "-f", path, "--ids", "--no-bos",
                          "--no-escape", "--log-disable"], check=True, capture_output=True, text=True).stdout
    ids = json.loads(out.strip().splitlines()[-1])
    segments, current = [], []
    for i in ids:
        if i == separator_id:
            segments.append(current); current = []
        else:
            current.append(i)
    segments.append(current)
    return segments


result = {"generator": "Tests/Oracle/make_pruned_vocab_goldens.sh", "coverage": 0.99,
          "corpus": [f"Corpora/sample/{f}" for f in files], "families": {}}
for family in ["qwen35", "llama-bpe"]:
    source = os.path.join(root, ".build-testdata", f"ggml-vocab-{family}.gguf")
    usage, pruned = os.path.join(tmp, f"usage-{family}.tsv"), os.path.join(tmp, f"ggml-vocab-{family}.gguf")
    subprocess.run([vocabkit, "count", "--vocab", source, *[os.path.join(sample, f) for f in files], "-o", usage],
                   check=True, capture_output=True)
    subprocess.run([vocabkit, "prune", source, "--usage", usage, "--coverage", "0.99", "-o", pruned],
                   check=True, capture_output=True)
    separator = SEPARATOR[family]
    separator_id = int(subprocess.run([vocabkit, "tokenize", "--vocab", pruned, "--format", "ids", separator],
                                      check=True, capture_output=True, text=True).stdout)
    segments = tokenize(pruned, separator.join(texts), separator_id)
    assert len(segments) == len(texts), (family, len(segments), len(texts))
    result["families"][family] = {
        "file_bytes": os.path.getsize(pruned), "file_checksum": str(checksum(pruned)),
        "cases": [{"text": t, "ids": ids} for t, ids in zip(texts, segments)],
    }
    print(f"{family}: {os.path.getsize(pruned)} bytes, {len(texts)} texts")
out = os.path.join(root, "Tests", "Fixtures", "llama-goldens", "pruned-vocab.json")
json.dump(result, open(out + ".tmp", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
os.replace(out + ".tmp", out)
print(f"wrote {out}")
PY
