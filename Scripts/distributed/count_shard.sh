#!/usr/bin/env bash
# One task of a sharded count: shard I of N of the files listed in FILE_LIST, written to
# OUT_DIR/usage-I-of-N.tsv (atomically: a table is there only once it is complete, so a rerun task simply
# replaces it). Slurm array jobs, Kubernetes Indexed Jobs and GNU parallel run this once per shard; then
#     vocabkit count --merge OUT_DIR/usage-*-of-N.tsv -o usage.tsv
# sums them (refusing a shard twice or a table counted with another vocabulary, and noting missing shards).
# Usage: count_shard.sh I N FILE_LIST OUT_DIR [more count options: --jsonl text, --vocab MODEL.gguf, --threads T …]
# Shards count from 1. VOCABKIT names the binary (default: vocabkit on PATH).
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 I N FILE_LIST OUT_DIR [count options…]" >&2; exit 64; }
index=$1 count=$2 list=$3 out=$4
shift 4
mkdir -p "$out"
exec "${VOCABKIT:-vocabkit}" count --files-from "$list" --shard "$index/$count" --allow-empty --quiet \
    -o "$out/usage-$index-of-$count.tsv" "$@"
