#!/usr/bin/env bash
# Prepares the Python environment the distributed recipes' tests need (idempotent):
#   .build-oracle/distributed-venv   pyspark, ray[data] and pyarrow at pinned versions (plus their
#                                    dependencies at the versions in distributed-requirements.txt)
# Needs Java 17 on the machine for pyspark (installed with apt-get when missing). Prints the venv's python
# path on the last line.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
V=$ROOT/.build-oracle/distributed-venv
REQUIREMENTS=$ROOT/Tests/Scripts/distributed-requirements.txt
SUDO=""; [ "$(id -u)" != 0 ] && command -v sudo >/dev/null && SUDO=sudo
if ! command -v java >/dev/null || ! java -version 2>&1 | grep -q 'version "\(17\|21\)'; then
  $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q openjdk-17-jre-headless >/dev/null
fi
if [ ! -x "$V/bin/python" ]; then
  mkdir -p "$ROOT/.build-oracle"
  python3 -m venv "$V" || {
    $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q python3-venv >/dev/null
    rm -rf "$V"; python3 -m venv "$V"
  }
fi
STAMP=$V/.requirements.sha256
if ! sha256sum -c --status "$STAMP" 2>/dev/null; then
  # --no-compile: byte-compiling the thousands of modules of pyspark and ray takes longer than the tests use.
  "$V/bin/pip" install -q --disable-pip-version-check --no-compile -r "$REQUIREMENTS"
  "$V/bin/python" -c "import pyspark, ray, pyarrow, pandas" >/dev/null
  sha256sum "$REQUIREMENTS" > "$STAMP"
fi
echo "$V/bin/python"
