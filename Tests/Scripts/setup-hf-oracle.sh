#!/usr/bin/env bash
# Prepares .build-oracle/hf-venv, the Python environment of the Hugging Face round-trip test (idempotent):
# torch (CPU build), transformers, peft, safetensors, tokenizers, sentencepiece and their dependencies, every
# package pinned with its sha256 in Tests/Scripts/hf-oracle-requirements.txt and installed with
# --require-hashes. torch==2.13.0+cpu is the CPU-only wheel (the default PyPI torch pulls gigabytes of CUDA
# libraries); these machines carry it where pip finds it. Elsewhere, point pip at the PyTorch CPU wheel index
# (PIP_EXTRA_INDEX_URL) first. Prints the venv's python on the last line.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
O=$ROOT/.build-oracle
V=$O/hf-venv
REQ=$ROOT/Tests/Scripts/hf-oracle-requirements.txt
WANT=$(sha256sum "$REQ" | cut -c1-64)
if [ "$(cat "$V/.requirements" 2>/dev/null)" != "$WANT" ]; then
  rm -rf "$V"
  mkdir -p "$O"
  python3 -m venv "$V" || {
    SUDO=""; [ "$(id -u)" != 0 ] && command -v sudo >/dev/null && SUDO=sudo
    $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q python3-venv >/dev/null
    rm -rf "$V"; python3 -m venv "$V"
  }
  "$V/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes -r "$REQ" >&2 \
    || { echo "setup-hf-oracle: pip could not install the pinned packages (torch==2.13.0+cpu needs the CPU wheel: see this script's header)" >&2; exit 1; }
  echo "$WANT" > "$V/.requirements"
fi
echo "$V/bin/python"
