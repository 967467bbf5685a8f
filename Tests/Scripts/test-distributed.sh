#!/usr/bin/env bash
# The distributed recipes (Scripts/distributed/, Docs/scale.md), run for real on this machine:
#   Spark   spark_count.py in local[2] on a JSON Lines and a Parquet corpus
#   Ray     ray_count.py with num_cpus=2 on the same two corpora
#   shards  the Slurm, Kubernetes Indexed Job and GNU parallel examples (count_shard.sh), then count --merge
# Every table must be byte-identical to one `vocabkit count` of the same documents in one process (the
# reference), so id for id, count for count, header totals included; and `prune --usage` must take it.
# The corpora are made from the repository's real text: Corpora/sample and, when present, the test corpus
# (.build-corpus/, Tests/Scripts/fetch-corpus.sh), cut into documents, with hand-made hard cases (empty
# documents, raw U+2028 and CR inside documents, a combining mark opening a document, emoji, special-token
# text).
# Installs what it needs (Tests/Scripts/setup-distributed.sh: pinned pyspark, ray[data], pyarrow into
# .build-oracle/distributed-venv; Java 17 and GNU parallel from apt when missing). Prints each step's time.
# VOCABKIT names the binary (default: .build/release/vocabkit, built when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
T0=$(date +%s)
step() { printf -- '-- %s (%ds)\n' "$*" $(( $(date +%s) - T0 )); }

PY=$(bash Tests/Scripts/setup-distributed.sh | tail -n 1)
command -v parallel >/dev/null || {
  SUDO=""; [ "$(id -u)" != 0 ] && command -v sudo >/dev/null && SUDO=sudo
  $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q parallel >/dev/null
}
step "environment ready"
VOCABKIT=$(realpath "${VOCABKIT:-.build/release/vocabkit}")
[ -x "$VOCABKIT" ] || { swift build -c release --product vocabkit 2>&1 | tail -n 1; VOCABKIT=$(realpath .build/release/vocabkit); }
export VOCABKIT

W=.build-testdata/distributed
rm -rf "$W"
mkdir -p "$W"
W=$(realpath "$W")
"$PY" - "$W" <<'PY'
import glob, json, os, sys
import pyarrow as pa, pyarrow.parquet as pq
w = sys.argv[1]
sources = sorted(glob.glob("Corpora/sample/*.py"))
for group in ["latin", "cjk", "cyrillic", "arabic", "devanagari", "code"]:
    sources += sorted(glob.glob(f".build-corpus/{group}/*.txt"))[:1]
documents = []
for path in sources:
    text = open(path, encoding="utf-8", newline="").read()[:400_000]
    # Documents of 1-6 KB cut at varying places (inside words and lines too).
    at, k = 0, 0
    while at < len(text):
        size = 1000 + (k * 7919) % 5000
        documents.append(text[at:at + size])
        at, k = at + size, k + 1
documents += ["", "line one\u2028line two\r\nthree\rfour", "\u0301 opens this document", "caf", "e\u0301",
              "emoji 😀👍🏽 and <|im_start|>user<|im_end|>", "   ", "\t\n"]
# Three JSON Lines files (raw non-ASCII, as json.dumps(ensure_ascii=False) writes), one with CRLF line ends.
thirds = [documents[i::3] for i in range(3)]
for i, part in enumerate(thirds):
    end = "\r\n" if i == 1 else "\n"
    with open(f"{w}/corpus-{i}.jsonl", "w", encoding="utf-8", newline="") as f:
        for n, text in enumerate(part):
            f.write(json.dumps({"id": n, "text": text, "meta": {"source": "test"}}, ensure_ascii=False) + end)
os.makedirs(f"{w}/parquet")
for i, part in enumerate(thirds):
    pq.write_table(pa.table({"id": list(range(len(part))), "text": part}), f"{w}/parquet/part-{i}.parquet", row_group_size=97)
print(f"{len(documents)} documents, {sum(len(d.encode()) for d in documents):,} bytes of text, from {len(sources)} files")
PY
ls "$W"/corpus-*.jsonl > "$W/files.txt"
# The reference: every document in one process, from standard input (so `# files 0`, as the pipes give).
cat "$W"/corpus-*.jsonl | "$VOCABKIT" count --jsonl text - -o "$W/reference.tsv" --quiet
"$VOCABKIT" count --jsonl text $(cat "$W/files.txt") -o "$W/reference-files.tsv" --quiet
"$VOCABKIT" synth -o "$W/model.gguf" --dim 32 --layers 1 --heads 2 --kv-heads 1 --ffn 32 >/dev/null
step "corpora and reference counted"

same() {  # label, table: byte-identical to the reference, and prune takes it
  local label=$1 table=$2 reference=${3:-$W/reference.tsv}
  if ! cmp -s "$table" "$reference"; then
    echo "FAIL: $label: $table differs from $reference"; diff <(head -n 20 "$reference") <(head -n 20 "$table") || true; exit 1
  fi
  "$VOCABKIT" prune "$W/model.gguf" --usage "$table" --coverage 0.999 --dry-run > "$W/prune.log" \
    || { cat "$W/prune.log"; echo "FAIL: $label: prune --usage refused the table"; exit 1; }
  echo "ok: $label ($(grep -m1 '^# documents' "$table"), $(grep -m1 '^# tokens' "$table"))"
}

SPARK_LOG=$W/spark.log
"$PY" Scripts/distributed/spark_count.py --master 'local[2]' --jsonl "$W"/corpus-*.jsonl --partitions 4 \
    --vocabkit "$VOCABKIT" -o "$W/spark-jsonl.tsv" 2> "$SPARK_LOG" || { tail -n 30 "$SPARK_LOG"; exit 1; }
same "Spark local[2], JSON Lines" "$W/spark-jsonl.tsv"
step "Spark, JSON Lines"
"$PY" Scripts/distributed/spark_count.py --master 'local[2]' --parquet "$W/parquet" --partitions 3 \
    --vocabkit "$VOCABKIT" -o "$W/spark-parquet.tsv" 2> "$SPARK_LOG" || { tail -n 30 "$SPARK_LOG"; exit 1; }
same "Spark local[2], Parquet" "$W/spark-parquet.tsv"
step "Spark, Parquet"

RAY_LOG=$W/ray.log
"$PY" Scripts/distributed/ray_count.py --num-cpus 2 --jsonl "$W"/corpus-*.jsonl --batch-size 200 \
    --vocabkit "$VOCABKIT" -o "$W/ray-jsonl.tsv" 2> "$RAY_LOG" || { tail -n 30 "$RAY_LOG"; exit 1; }
same "Ray num_cpus=2, JSON Lines" "$W/ray-jsonl.tsv"
step "Ray, JSON Lines"
"$PY" Scripts/distributed/ray_count.py --num-cpus 2 --parquet "$W/parquet" --batch-size 150 \
    --vocabkit "$VOCABKIT" -o "$W/ray-parquet.tsv" 2> "$RAY_LOG" || { tail -n 30 "$RAY_LOG"; exit 1; }
same "Ray num_cpus=2, Parquet" "$W/ray-parquet.tsv"
step "Ray, Parquet"

# Sharded runs read the files themselves: their reference is the count of the three files (`# files 3`).
for i in 1 2 3 4; do
  SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=4 SLURM_CPUS_PER_TASK=1 \
    bash Scripts/distributed/slurm_count.sbatch "$W/files.txt" "$W/slurm" --jsonl text
done
"$VOCABKIT" count --merge "$W"/slurm/usage-*-of-4.tsv -o "$W/slurm.tsv" --quiet
same "Slurm array (4 tasks, 3 files)" "$W/slurm.tsv" "$W/reference-files.tsv"
# The Kubernetes Job's command, as the pods run it (16 indices from 0, most of them with no file).
K8S_COMMAND=$("$PY" -c 'import sys, yaml; job = yaml.safe_load(open(sys.argv[1])); print(job["spec"]["template"]["spec"]["containers"][0]["args"][0])' \
    Scripts/distributed/k8s_count_job.yaml)
K8S_COMMAND=${K8S_COMMAND//\/opt\/vocabkit\/vocabkit/$VOCABKIT}
K8S_COMMAND=${K8S_COMMAND//\/opt\/vocabkit\/count_shard.sh/Scripts/distributed/count_shard.sh}
K8S_COMMAND=${K8S_COMMAND//\/mnt\/corpus\/files.txt/$W/files.txt}
K8S_COMMAND=${K8S_COMMAND//\/mnt\/corpus\/tables/$W/k8s}
K8S_COMMAND=${K8S_COMMAND//--threads 8 --vocab \/mnt\/corpus\/model.gguf/--threads 1}
for index in $(seq 0 15); do JOB_COMPLETION_INDEX=$index bash -c "$K8S_COMMAND"; done
"$VOCABKIT" count --merge "$W"/k8s/usage-*-of-16.tsv -o "$W/k8s.tsv" --quiet
same "Kubernetes Indexed Job (16 pods, 3 files)" "$W/k8s.tsv" "$W/reference-files.tsv"
JOBS=2 bash Scripts/distributed/parallel_count.sh 3 "$W/files.txt" "$W/parallel" "$W/parallel.tsv" --jsonl text --quiet
same "GNU parallel (3 shards, 2 at a time)" "$W/parallel.tsv" "$W/reference-files.tsv"
step "Slurm, Kubernetes and GNU parallel examples"
echo "distributed recipes: 7 passed, 0 failed"
