#!/usr/bin/env bash
# Token usage with GNU parallel: N shards run JOBS at a time (locally, or on several machines with
# parallel's --sshlogin), then one merge.
# Usage: parallel_count.sh N FILE_LIST OUT_DIR USAGE_TSV [count options…]
# Environment: JOBS (default: the number of cores), THREADS per shard (default 1), VOCABKIT.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 N FILE_LIST OUT_DIR USAGE_TSV [count options…]" >&2; exit 64; }
count=$1 list=$2 out=$3 usage=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
seq 1 "$count" | parallel --halt now,fail=1 -j "${JOBS:-$(nproc)}" \
    bash "$here/count_shard.sh" {} "$count" "$list" "$out" --threads "${THREADS:-1}" "$@"
"${VOCABKIT:-vocabkit}" count --merge "$out"/usage-*-of-"$count".tsv -o "$usage"
