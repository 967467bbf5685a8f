#!/usr/bin/env bash
# Re-extracts llama.cpp's tokenizer test vectors for the pre-tokenizers VocabKit knows (qwen2, qwen35,
# llama-bpe) and, with --gguf, their vocabulary-only GGUFs, from the llama-cpp-python==0.3.36 sdist on PyPI
# (MIT licence; vendor/llama.cpp/models/), verifying sha256 sums.
#   fetch.sh            verify the committed .inp/.out against the sdist (rewrites them if they differ)
#   fetch.sh --gguf     also place ggml-vocab-{qwen2,qwen35,llama-bpe}.gguf under .build-testdata/
#                       (not committed; 5.9, 5.9 and 7.8 MB)
#   fetch.sh --convert  also unpack llama.cpp's HF-to-GGUF converter (convert_hf_to_gguf.py, conversion/,
#                       gguf-py/) and the Qwen chat templates (models/templates/) into .build-testdata/llama-convert/
# The sdist (~ 60 MB) is cached in .build-testdata/dl/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
DL=$ROOT/.build-testdata/dl
mkdir -p "$DL"
SDIST=$DL/llama_cpp_python-0.3.36.tar.gz
SDIST_SHA=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
FAMILIES="qwen2 qwen35 llama-bpe"
declare -A SHA=(
  [ggml-vocab-qwen2.gguf]=44c2f46b715f585c6ab513970e8a006bfa5badd6108560054921cf598d154d8c
  [ggml-vocab-qwen2.gguf.inp]=be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0
  [ggml-vocab-qwen2.gguf.out]=de785bb305cc6fa9d43908ed5da337f853c0b79e971348fcfb9f0915a39c5363
  [ggml-vocab-qwen35.gguf]=63ed952ff338996cf0bdf24a7b10015124273f75c6dc9bb427356aa3f67ec62c
  [ggml-vocab-qwen35.gguf.inp]=0fc6547e7876cd5b2ef64a9d319c6e39040eb53986660bd4227ed7ddef017a94
  [ggml-vocab-qwen35.gguf.out]=5efe225820325303857d0a087a8d59216f0d1e9a9e31133e7a5b44c3c4e1e9ca
  [ggml-vocab-llama-bpe.gguf]=97272e430d53bc7688f52d5e0ad8ea8f163ede9f1bbd1694feaa504797d5d96e
  [ggml-vocab-llama-bpe.gguf.inp]=be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0
  [ggml-vocab-llama-bpe.gguf.out]=118abf2034a197fc5c9dec5204dfdeee7004c7c70952ae577f66b99e212fab9b
)
want_gguf=0; want_convert=0
for arg in "$@"; do
  case "$arg" in
    --gguf) want_gguf=1 ;;
    --convert) want_convert=1 ;;
    *) echo "fetch.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
CONVERT=$ROOT/.build-testdata/llama-convert
declare -A TEMPLATE_SHA=(
  [Qwen-Qwen3-0.6B.jinja]=87a2728cb8dc9fe424d624542f6060ec05a1d285ebbec578bb078900e33396b5
  [Qwen-Qwen2.5-7B-Instruct.jinja]=cd8e9439f0570856fd70470bf8889ebd8b5d1107207f67a5efb46e342330527f
)
convert_ok() {
  [ -f "$CONVERT/.complete" ] || return 1
  for t in "${!TEMPLATE_SHA[@]}"; do
    echo "${TEMPLATE_SHA[$t]}  $CONVERT/templates/$t" | sha256sum -c --status || return 1
  done
}

ok() { [ -f "$1" ] && echo "${SHA[$(basename "$1")]}  $1" | sha256sum -c --status; }

need=0
for f in $FAMILIES; do
  ok "$HERE/ggml-vocab-$f.gguf.inp" && ok "$HERE/ggml-vocab-$f.gguf.out" || need=1
  [ $want_gguf = 1 ] && ! ok "$ROOT/.build-testdata/ggml-vocab-$f.gguf" && need=1
done
[ $want_convert = 1 ] && ! convert_ok && need=1
if [ $need = 0 ]; then echo "llama-vocab fixtures verified"; exit 0; fi

if ! echo "$SDIST_SHA  $SDIST" | sha256sum -c --status 2>/dev/null; then
  python3 - "$SDIST" <<'PY'
import json, sys, urllib.parse, urllib.request
try:
    from pip._internal.models.index import PyPI  # the index pip itself uses
    base = PyPI.pypi_url + "/llama-cpp-python/json"
except Exception:
    base = "https://pypi.org/pypi/llama-cpp-python/json"
d = json.load(urllib.request.urlopen(base, timeout=120))
u = [x for x in d["releases"]["0.3.36"] if x["filename"].endswith(".tar.gz")][0]["url"]
urllib.request.urlretrieve(urllib.parse.urljoin(base, u), sys.argv[1] + ".tmp")
PY
  mv "$SDIST.tmp" "$SDIST"
  echo "$SDIST_SHA  $SDIST" | sha256sum -c --quiet
fi
M=llama_cpp_python-0.3.36/vendor/llama.cpp/models
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
members=()
for f in $FAMILIES; do members+=("$M/ggml-vocab-$f.gguf" "$M/ggml-vocab-$f.gguf.inp" "$M/ggml-vocab-$f.gguf.out"); done
tar xzf "$SDIST" -C "$T" "${members[@]}"
for m in "${members[@]}"; do
  ok "$T/$m" || { echo "fetch.sh: sha256 mismatch for $(basename "$m") in the sdist" >&2; exit 1; }
done
mkdir -p "$ROOT/.build-testdata"
for f in $FAMILIES; do
  cp "$T/$M/ggml-vocab-$f.gguf.inp" "$T/$M/ggml-vocab-$f.gguf.out" "$HERE/"
  [ $want_gguf = 1 ] && cp "$T/$M/ggml-vocab-$f.gguf" "$ROOT/.build-testdata/ggml-vocab-$f.gguf"
done
if [ $want_convert = 1 ]; then
  L=llama_cpp_python-0.3.36/vendor/llama.cpp
  tar xzf "$SDIST" -C "$T" "$L/convert_hf_to_gguf.py" "$L/conversion" "$L/gguf-py" \
    "$L/models/templates/Qwen-Qwen3-0.6B.jinja" "$L/models/templates/Qwen-Qwen2.5-7B-Instruct.jinja"
  for t in "${!TEMPLATE_SHA[@]}"; do
    echo "${TEMPLATE_SHA[$t]}  $T/$L/models/templates/$t" | sha256sum -c --quiet \
      || { echo "fetch.sh: sha256 mismatch for $t in the sdist" >&2; exit 1; }
  done
  rm -rf "$CONVERT" && mkdir -p "$CONVERT/templates"
  cp -r "$T/$L/convert_hf_to_gguf.py" "$T/$L/conversion" "$T/$L/gguf-py" "$CONVERT/"
  cp "$T/$L/models/templates/Qwen-Qwen3-0.6B.jinja" "$T/$L/models/templates/Qwen-Qwen2.5-7B-Instruct.jinja" "$CONVERT/templates/"
  touch "$CONVERT/.complete"
fi
echo "llama-vocab fixtures extracted and verified"
