#!/usr/bin/env bash
# Issue 15's "no-whitespace file": two builds of vocabkit on the same files in the same run, with the ratio.
# Makes three files of SIZE bytes, each one enormous piece or close to it:
#   a        one letter repeated (no hard boundary: every id is held until the end)
#   letters  random lowercase letters (seeded; one piece, no repeated windows to reuse)
#   nows     the test corpus with every ASCII whitespace byte removed, repeated (pieces of up to thousands of
#            characters, every script, NFC-unsafe characters throughout)
# and runs `tokenize --file F --format ids` and `count F -o usage.tsv` with each build under /usr/bin/time
# (wall, user CPU, peak RSS), then checks that the two builds wrote the same ids (cmp) and the same usage
# rows (the table's comment lines may differ between versions). Exits non-zero if an output differs or the
# AFTER build failed or timed out.
# Usage: BEFORE=/path/to/old/vocabkit AFTER=/path/to/new/vocabkit Benchmarks/bench_long_pieces.sh
# Environment: SIZE (bytes, default 200000000), FILES (default "a letters nows"), COMMANDS (default
# "tokenize count"), DATA (where the files are made and kept, default /tmp/vocabkit-long-pieces),
# CORPUS_DIR (default: the test corpus, Tests/Scripts/fetch-corpus.sh), TIMEOUT (seconds per run, default 900;
# a run that times out is reported as such and its output is not compared), THREADS (passed as --threads
# when set).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BEFORE:?set BEFORE to the old vocabkit binary}" "${AFTER:?set AFTER to the new vocabkit binary}"
SIZE=${SIZE:-200000000}
FILES=${FILES:-a letters nows}
COMMANDS=${COMMANDS:-tokenize count}
DATA=${DATA:-/tmp/vocabkit-long-pieces}
TIMEOUT=${TIMEOUT:-900}
mkdir -p "$DATA"
if [[ " $FILES " == *" nows "* && -z "${CORPUS_DIR:-}" ]]; then
    bash Tests/Scripts/fetch-corpus.sh >/dev/null
    CORPUS_DIR=.build-corpus
fi

# Each file is made once per SIZE (named with it) and written to a temporary name, renamed when complete.
python3 - "$DATA" "$SIZE" "$FILES" "${CORPUS_DIR:-}" <<'PY'
import glob, os, random, re, sys
data, size, files, corpus = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]

def whole_characters(b):
    end = len(b)
    while end > 0 and b[end - 1] & 0xC0 == 0x80:
        end -= 1
    if end > 0 and b[end - 1] >= 0xC0:  # a lead byte whose character was cut: drop it too
        lead = b[end - 1]
        need = 4 if lead >= 0xF0 else 3 if lead >= 0xE0 else 2
        if len(b) - (end - 1) < need:
            return b[:end - 1]
    return b

for name in files:
    path = os.path.join(data, f"{name}{size}.txt")
    if os.path.exists(path):
        continue
    if name == "a":
        content = b"a" * size
    elif name == "letters":
        table = bytes(ord("a") + i % 26 for i in range(256))
        content = random.Random(15).randbytes(size).translate(table)
    elif name == "nows":
        members = sorted(glob.glob(os.path.join(corpus, "*", "*.txt")))
        if not members:
            sys.exit(f"bench_long_pieces: no corpus files under {corpus}/*/*.txt")
        text = re.sub(rb"[ \t\n\r\x0b\x0c]", b"", b"".join(open(m, "rb").read() for m in members))
        content = whole_characters((text * (size // len(text) + 1))[:size])
    else:
        sys.exit(f"bench_long_pieces: unknown file kind {name} (a, letters, nows)")
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "xb") as f:
        f.write(content)
    os.rename(tmp, path)
PY

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
rows="$out/rows.tsv"
: > "$rows"
# run BUILD_LABEL BINARY COMMAND FILE: one timed run; the output goes to $out/LABEL.out
run() {
    local label=$1 bin=$2 command=$3 file=$4 rc=0
    rm -f "$out/$label.out"
    if [ "$command" = tokenize ]; then
        /usr/bin/time -o "$out/time" -f '%e %U %M' timeout "$TIMEOUT" \
            "$bin" tokenize --file "$file" --format ids "${threads[@]}" > "$out/$label.out" 2>"$out/err" || rc=$?
    else
        /usr/bin/time -o "$out/time" -f '%e %U %M' timeout "$TIMEOUT" \
            "$bin" count "$file" -o "$out/$label.out" --quiet "${threads[@]}" >/dev/null 2>"$out/err" || rc=$?
    fi
    local t
    t=$(tail -n 1 "$out/time")
    if [ "$rc" = 124 ]; then t="$t timeout"; elif [ "$rc" != 0 ]; then t="$t exit-$rc"; else t="$t ok"; fi
    [ "$rc" = 0 ] || sed 's/^/    /' "$out/err" | tail -n 3 >&2
    echo "$t"
}
load=$(uptime | sed 's/.*load average: //')
for name in $FILES; do
    file="$DATA/$name$SIZE.txt"
    for command in $COMMANDS; do
        before=$(run before "$BEFORE" "$command" "$file")
        after=$(run after "$AFTER" "$command" "$file")
        same=-
        if [[ "$before" == *ok && "$after" == *ok ]]; then
            if [ "$command" = count ]; then
                # The usage table's comment lines differ between versions (`# vocabulary-size` is newer): compare
                # the rows.
                grep -v '^#' "$out/before.out" > "$out/before.rows" || true
                grep -v '^#' "$out/after.out" > "$out/after.rows" || true
                if cmp -s "$out/before.rows" "$out/after.rows"; then same="identical rows"; else same=DIFFERENT; fi
            elif cmp -s "$out/before.out" "$out/after.out"; then
                same=identical
            else
                same=DIFFERENT
            fi
        fi
        printf '%s\t%s\t%s\t%s\t%s\n' "$name$SIZE" "$command" "$before" "$after" "$same" >> "$rows"
        echo "$name$SIZE $command: before $before | after $after | output $same" >&2
    done
done
python3 - "$rows" "$load" "$(uptime | sed 's/.*load average: //')" "$(nproc)" "$TIMEOUT" <<'PY'
import sys
rows, load_before, load_after, cores, timeout = sys.argv[1:]
def mb(kb): return f"{int(kb) / 1024:,.0f} MB"
def secs(s):
    s = float(s)
    return f"{s:.1f} s" if s < 60 else f"{int(s // 60)} min {s % 60:04.1f} s"
print(f"{cores} cores; load average {load_before} before, {load_after} after; timeout {timeout} s per run")
print("| file | command | before: wall, user CPU, peak RSS | after: wall, user CPU, peak RSS | wall ratio | CPU ratio | output |")
print("|---|---|---|---|---:|---:|---|")
failed = False
for line in open(rows):
    name, command, before, after, same = line.rstrip("\n").split("\t")
    bw, bu, bm, bs = before.split()
    aw, au, am, as_ = after.split()
    def cell(w, u, m, s):
        text = f"{secs(w)}, {secs(u)}, {mb(m)}"
        return text if s == "ok" else f"{s} after {secs(w)} ({text})"
    finished = bs == "ok"
    wall = float(bw) / max(float(aw), 1e-3)
    cpu = float(bu) / max(float(au), 1e-3)
    mark = "" if finished else " (at least)"
    print(f"| {name} | {command} | {cell(bw, bu, bm, bs)} | {cell(aw, au, am, as_)} | {wall:.1f}x{mark} | {cpu:.1f}x{mark} | {same} |")
    failed |= same == "DIFFERENT" or as_ != "ok"
sys.exit(1 if failed else 0)
PY
