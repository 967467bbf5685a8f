#!/usr/bin/env bash
# VocabKit's test command: unit, CLI, hostile-input and real-model tests (one release build, so that the
# real model's checks against llama.cpp's greedy and perplexity goldens run at speed), ThreadSanitizer on the
# concurrency tests, differential tests against the reference tokenizer (Hugging Face tokenizers configured as
# Qwen) on ~25 MB of real text in six scripts, llama.cpp's vectors, and the README's main job end to end.
# Fetches what it needs first (idempotent, sha256-checked); fails on the first failing step; prints each
# step's time.
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
STEP_START=$T0
STEP_NAME=""
finish_step() {
  if [ -n "$STEP_NAME" ]; then
    printf -- '-- %s: %ds (total %ds)\n' "$STEP_NAME" $(( $(date +%s) - STEP_START )) $(( $(date +%s) - T0 ))
  fi
}
step() { finish_step; STEP_NAME="$*"; STEP_START=$(date +%s); printf '\n== %s\n' "$*"; }
trap 'finish_step' EXIT

step "test data: reference tokenizer, llama.cpp vocabulary, corpus, the real model"
bash Tests/Scripts/fetch-test-data.sh
bash Tests/Scripts/fetch-corpus.sh
bash Tests/Scripts/fetch-model.sh
PY=.build-oracle/venv/bin/python

step "generated data is what its generators derive"
"$PY" Vocab/make_vocab.py --check --tiktoken .build-oracle/qwen.tiktoken
"$PY" Sources/CUnicodeData/gen/make_tables.py --check
"$PY" Tests/Oracle/make_goldens.py --check
"$PY" Tests/Oracle/make_jsonl_goldens.py --check

# One optimized build serves the tests (with testable imports), the CLI they drive, the oracle checks and
# the main job.
RELEASE_FLAGS=(-c release -Xswiftc -enable-testing)
step "release build: library, CLI and tests"
swift build "${RELEASE_FLAGS[@]}" --build-tests 2>&1 | tail -n 3
VOCABKIT=$(swift build "${RELEASE_FLAGS[@]}" --show-bin-path)/vocabkit
export VOCABKIT

mkdir -p .build-testdata
run_tests() {  # label, log, then swift test arguments
  local label=$1 log=$2; shift 2
  set +e
  "$@" > "$log" 2>&1
  local status=$?
  set -e
  grep -E "error:|failed|skipped|Executed" "$log" | grep -v "^ *[0-9]* |" | tail -n 40
  [ "$status" -eq 0 ] || { echo "$label failed (exit $status); full log: $log"; exit 1; }
}

step "unit, CLI, hostile-input and real-model tests (release; missing test data fails)"
VOCABKIT_REQUIRE_TEST_DATA=1 run_tests "swift test" .build-testdata/swift-test.log \
  swift test "${RELEASE_FLAGS[@]}" --skip-build

step "the portable kernels (VOCABKIT_NO_SIMD=1): kernel, golden and parity tests without AVX2"
VOCABKIT_NO_SIMD=1 VOCABKIT_REQUIRE_TEST_DATA=1 run_tests "swift test (portable kernels)" .build-testdata/swift-test-portable.log \
  swift test "${RELEASE_FLAGS[@]}" --skip-build \
  --filter 'VocabKitInferenceTests.(DequantizeTests|OperatorTests|QuantGoldenTests|QuantizedModelTests|TinyModelTests|LlamaGoldenTests|SynthTests|ParityTests)' 

step "ThreadSanitizer: the concurrency tests (Tests/tsan-filter.txt; a debug build with TSan)"
run_tests "swift test --sanitize=thread" .build-testdata/swift-test-tsan.log \
  swift test --sanitize=thread --scratch-path .build-tsan --filter "$(tr -d '\n' < Tests/tsan-filter.txt)"
! grep -q "WARNING: ThreadSanitizer" .build-testdata/swift-test-tsan.log \
  || { grep -A 20 "WARNING: ThreadSanitizer" .build-testdata/swift-test-tsan.log | head -n 40; exit 1; }

step "Hugging Face round trip: transformers, tokenizers, PEFT, llama.cpp's converter"
bash Tests/Scripts/ci-hf-oracle.sh

step "counting past one machine: the Spark, Ray, Slurm, Kubernetes and GNU parallel recipes"
bash Tests/Scripts/test-distributed.sh

step "llama.cpp vectors (qwen2, qwen35, llama-bpe) through the CLI"
"$PY" Tests/Oracle/check_llama_vectors.py --family all --vocabkit

step "differential: corpus and Unicode sweep against the reference"
"$PY" Tests/Oracle/differential.py --all

step "differential: Qwen3.5 and Llama-3 vocabularies (a corpus sample, the Unicode sweep)"
for family in qwen35 llama-bpe; do
  "$PY" Tests/Oracle/differential.py --family "$family" --all
done

step "the README's main job (Scripts/main-job.sh), end to end"
OUT=.build-testdata/main-job bash Scripts/main-job.sh > .build-testdata/main-job.log 2>&1 \
    || { tail -n 30 .build-testdata/main-job.log; echo "the main job failed; full log: .build-testdata/main-job.log"; exit 1; }
grep -E "kept in total|max \|logit difference\||parity holds" .build-testdata/main-job.log
