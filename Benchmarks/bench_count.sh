#!/usr/bin/env bash
# How `vocabkit count` scales with threads: best of R runs of the whole process (vocabulary load, counting,
# writing usage.tsv) with 1 thread and with N threads, on the same corpus in the same run.
# Usage: Benchmarks/bench_count.sh [CORPUS_DIR...]   (default: the test corpus, Tests/Scripts/fetch-corpus.sh)
# Environment: THREADS (default: all cores), RUNS (default 5), VOCABKIT (default .build/release/vocabkit),
# COUNT_ARGS (more arguments for count, e.g. "--include *.py --skip-invalid").
set -euo pipefail
cd "$(dirname "$0")/.."
VOCABKIT=${VOCABKIT:-.build/release/vocabkit}
THREADS=${THREADS:-$(nproc)}
RUNS=${RUNS:-5}
if [ $# -eq 0 ]; then
    bash Tests/Scripts/fetch-corpus.sh >/dev/null
    set -- .build-corpus/arabic .build-corpus/cjk .build-corpus/code .build-corpus/cyrillic .build-corpus/devanagari .build-corpus/latin
fi
[ -x "$VOCABKIT" ] || swift build -c release --product vocabkit 2>&1 | tail -n 1
read -r -a extra <<< "${COUNT_ARGS:-}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
best() {  # best wall time of RUNS runs with $1 threads
    local t b=999999
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -o "$out/time" -f %e "$VOCABKIT" count "$@" "${extra[@]}" -o "$out/usage.tsv" >/dev/null 2>&1
        t=$(tail -n 1 "$out/time")
        b=$(python3 -c "print(min($b, $t))")
    done
    echo "$b"
}
bytes=$("$VOCABKIT" count "$@" "${extra[@]}" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')
one=$(best "$@" --threads 1)
many=$(best "$@" --threads "$THREADS")
python3 - "$bytes" "$one" "$many" "$THREADS" "$(uptime | sed 's/.*load average: //')" <<'PY'
import sys
size, one, many, threads, load = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
print(f"corpus: {size / 1e6:.1f} MB counted; whole process, best of runs; load average before: {load}")
print(f"1 thread:   {one:.2f} s  {size / 1e6 / one:6.1f} MB/s")
print(f"{threads} threads:  {many:.2f} s  {size / 1e6 / many:6.1f} MB/s")
print(f"scaling: {one / many:.2f}x")
PY
