#!/usr/bin/env bash
# Prepares the Python oracle used by Tests/Oracle/*.py on a fresh machine (idempotent):
#   .build-oracle/venv          python venv with the pinned reference library (HF tokenizers) and gguf-py
#                               (reads the vocabulary GGUFs of the Qwen3.5 and Llama-3 references)
#   .build-oracle/qwen.tiktoken the Qwen BPE ranks, from the PyPI wheel dashscope==2.0.2
#                               (dashscope/resources/qwen.tiktoken, sha256 checked)
# Prints the venv's python path on the last line.
# Usage: Tests/Scripts/setup-oracle.sh [--bench]   (--bench also installs the benchmark peers:
#        tiktoken, gigatoken, bpe-qwen 0.1.5)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
O=$ROOT/.build-oracle
mkdir -p "$O"
TOKENIZERS_VERSION=0.23.3
GGUF_PINS="gguf==0.19.0 numpy==2.4.6 PyYAML==6.0.4 tqdm==4.70.1 requests==2.34.2"
TIKTOKEN_SHA256=b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186
if [ ! -x "$O/venv/bin/python" ]; then
  python3 -m venv "$O/venv" || {
    # Debian's python3 needs python3-venv for ensurepip.
    SUDO=""; [ "$(id -u)" != 0 ] && command -v sudo >/dev/null && SUDO=sudo
    $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q python3-venv >/dev/null
    rm -rf "$O/venv"; python3 -m venv "$O/venv"
  }
fi
"$O/venv/bin/python" -c "import tokenizers, sys; sys.exit(tokenizers.__version__ != '$TOKENIZERS_VERSION')" 2>/dev/null \
  || "$O/venv/bin/pip" install -q --disable-pip-version-check "tokenizers==$TOKENIZERS_VERSION"
"$O/venv/bin/python" -c "import gguf, sys; from importlib.metadata import version; sys.exit(version('gguf') != '0.19.0')" 2>/dev/null \
  || "$O/venv/bin/pip" install -q --disable-pip-version-check $GGUF_PINS
if [ "${1:-}" = "--bench" ]; then
  "$O/venv/bin/python" -c "import tiktoken, gigatoken, bpe_qwen" 2>/dev/null \
    || { "$O/venv/bin/pip" install -q --disable-pip-version-check "tiktoken==0.14.0" "gigatoken==0.10.0" \
         && "$O/venv/bin/pip" install -q --disable-pip-version-check --no-deps "bpe-qwen==0.1.5"; }
fi
if ! echo "$TIKTOKEN_SHA256  $O/qwen.tiktoken" | sha256sum -c --status 2>/dev/null; then
  rm -rf "$O/dl"; mkdir -p "$O/dl"
  "$O/venv/bin/pip" download -q --disable-pip-version-check --no-deps -d "$O/dl" dashscope==2.0.2
  "$O/venv/bin/python" - "$O" <<'PY'
import glob, sys, zipfile
o = sys.argv[1]
whl = glob.glob(o + "/dl/dashscope-2.0.2-*.whl")[0]
open(o + "/qwen.tiktoken", "wb").write(zipfile.ZipFile(whl).read("dashscope/resources/qwen.tiktoken"))
PY
  echo "$TIKTOKEN_SHA256  $O/qwen.tiktoken" | sha256sum -c --quiet
fi
echo "$O/venv/bin/python"
