#!/usr/bin/env bash
# What `vocabkit count --jsonl` costs next to counting the same text as files: the corpus's files are cut
# into documents of about DOC_BYTES (at line ends) and written as JSON Lines ({"id": …, "text": …}, non-ASCII
# written raw, as json.dumps(ensure_ascii=False) writes it); then the whole process is timed, best of RUNS,
# with 1 thread and with THREADS threads, on the files and on the JSON Lines, in the same run.
# Usage: Benchmarks/bench_count_jsonl.sh [CORPUS_DIR...]   (default: the test corpus, Tests/Scripts/fetch-corpus.sh)
# Environment: THREADS (default: all cores), RUNS (default 5), DOC_BYTES (default 4000), VOCABKIT
# (default .build/release/vocabkit).
set -euo pipefail
cd "$(dirname "$0")/.."
VOCABKIT=${VOCABKIT:-.build/release/vocabkit}
THREADS=${THREADS:-$(nproc)}
RUNS=${RUNS:-5}
DOC_BYTES=${DOC_BYTES:-4000}
if [ $# -eq 0 ]; then
    bash Tests/Scripts/fetch-corpus.sh >/dev/null
    set -- .build-corpus/arabic .build-corpus/cjk .build-corpus/code .build-corpus/cyrillic .build-corpus/devanagari .build-corpus/latin
fi
[ -x "$VOCABKIT" ] || swift build -c release --product vocabkit 2>&1 | tail -n 1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 - "$out/corpus.jsonl" "$DOC_BYTES" "$@" <<'PY'
import json, os, sys
out, size, roots = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
files = sorted(os.path.join(d, f) for r in roots for d, _, fs in os.walk(r) for f in fs if not f.startswith("."))
n = 0
with open(out, "w", encoding="utf-8") as o:
    for path in files:
        doc = []
        for line in open(path, encoding="utf-8", newline=""):
            doc.append(line)
            if sum(map(len, doc)) >= size:
                o.write(json.dumps({"id": n, "text": "".join(doc)}, ensure_ascii=False) + "\n"); n += 1; doc = []
        if doc:
            o.write(json.dumps({"id": n, "text": "".join(doc)}, ensure_ascii=False) + "\n"); n += 1
PY
best() {  # best wall time of RUNS runs of count with the given arguments
    local t b=999999
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -o "$out/time" -f %e "$VOCABKIT" count "$@" -o "$out/usage.tsv" --quiet
        t=$(tail -n 1 "$out/time")
        b=$(python3 -c "print(min($b, $t))")
    done
    echo "$b"
}
text=$("$VOCABKIT" count "$@" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')
docs=$("$VOCABKIT" count --jsonl text "$out/corpus.jsonl" --json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["bytes"], j["documents"])')
jsonl_bytes=$(stat -c %s "$out/corpus.jsonl")
load=$(uptime | sed 's/.*load average: //')
files1=$(best "$@" --threads 1); filesN=$(best "$@" --threads "$THREADS")
jsonl1=$(best --jsonl text "$out/corpus.jsonl" --threads 1); jsonlN=$(best --jsonl text "$out/corpus.jsonl" --threads "$THREADS")
python3 - "$text" "$docs" "$jsonl_bytes" "$files1" "$filesN" "$jsonl1" "$jsonlN" "$THREADS" "$load" "$(uptime | sed 's/.*load average: //')" <<'PY'
import sys
text = int(sys.argv[1]); dtext, ndocs = map(int, sys.argv[2].split()); jbytes = int(sys.argv[3])
f1, fn, j1, jn = map(float, sys.argv[4:8]); threads = sys.argv[8]
print(f"load average before: {sys.argv[9]}; after: {sys.argv[10]}")
print(f"files: {text / 1e6:.1f} MB of text; JSON Lines: {ndocs} documents, {dtext / 1e6:.1f} MB of text in {jbytes / 1e6:.1f} MB of JSON")
print(f"{'':24s} {'1 thread':>22s} {threads + ' threads':>22s} {'scaling':>8s}")
for name, one, many, size in [("count FILES", f1, fn, text), ("count --jsonl text", j1, jn, dtext)]:
    print(f"{name:24s} {one:6.2f} s {size / 1e6 / one:6.1f} MB/s {many:8.2f} s {size / 1e6 / many:6.1f} MB/s {one / many:7.2f}x")
print(f"JSON Lines cost over files (text MB/s, 1 thread): {(dtext / j1) / (text / f1):.2f}x the files' rate")
PY
