#!/usr/bin/env bash
# Runs fake_vocabkit.py with the oracle venv's python (Tests/Scripts/setup-oracle.sh); see that file.
D=$(cd "$(dirname "$0")" && pwd)
PY=${ORACLE_PYTHON:-$D/../../.build-oracle/venv/bin/python}
[ -x "$PY" ] || PY=/tmp/peers/venv/bin/python
exec "$PY" "$D/fake_vocabkit.py" "$@"
