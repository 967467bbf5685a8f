#!/usr/bin/env bash
# VocabKit's test command: unit and CLI tests, then differential tests against the reference tokenizer
# (Hugging Face tokenizers configured as Qwen) on ~25 MB of real text in six scripts, llama.cpp's vectors, and
# the README's main job end to end.
# Fetches what it needs first (idempotent); fails on the first failing step.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "test data: reference tokenizer, llama.cpp vocabulary, corpus"
bash Tests/Scripts/fetch-test-data.sh
bash Tests/Scripts/fetch-corpus.sh
PY=.build-oracle/venv/bin/python

step "generated data is what its generators derive"
"$PY" Vocab/make_vocab.py --check --tiktoken .build-oracle/qwen.tiktoken
"$PY" Sources/CUnicodeData/gen/make_tables.py --check
"$PY" Tests/Oracle/make_goldens.py --check

step "release build"
swift build -c release 2>&1 | tail -n 3

step "unit and CLI tests"
set +e
VOCABKIT_REQUIRE_TEST_DATA=1 swift test > .build-testdata/swift-test.log 2>&1
status=$?
set -e
grep -E "error:|failed|skipped|Executed" .build-testdata/swift-test.log | grep -v "^ *[0-9]* |" | tail -n 40
[ "$status" -eq 0 ] || { echo "swift test failed (exit $status); full log: .build-testdata/swift-test.log"; exit 1; }

step "llama.cpp vectors (qwen2, qwen35, llama-bpe) through the CLI"
VOCABKIT=.build/release/vocabkit "$PY" Tests/Oracle/check_llama_vectors.py --family all --vocabkit

step "differential: corpus and Unicode sweep against the reference"
VOCABKIT=.build/release/vocabkit "$PY" Tests/Oracle/differential.py --all

step "differential: Qwen3.5 and Llama-3 vocabularies (a corpus sample, the Unicode sweep)"
for family in qwen35 llama-bpe; do
  VOCABKIT=.build/release/vocabkit "$PY" Tests/Oracle/differential.py --family "$family" --all
done

step "the README's main job (Scripts/main-job.sh), end to end"
OUT=.build-testdata/main-job bash Scripts/main-job.sh > .build-testdata/main-job.log 2>&1 \
    || { tail -n 30 .build-testdata/main-job.log; echo "the main job failed; full log: .build-testdata/main-job.log"; exit 1; }
grep -E "kept in total|max \|logit difference\||parity holds" .build-testdata/main-job.log

step "ThreadSanitizer on the concurrency tests (rebuilds the debug build with TSan)"
swift test --sanitize=thread --filter 'VocabKitTokenizerTests.PropertyTests/test(ReusedEncodersMatchFreshOnesAcrossCallsAndThreads|ChunkedParallelEncodingEqualsSequential|InvalidUTF8IsReportedWithOffset)|VocabKitPruneTests.UsageCountingTests/test(CountsMatchEncodingEachFile|SlicedLargeFileCountsTheSameAsWhole|ThreadCountDoesNotChangeCounts|InvalidByteDeepInASlicedFileOnManyThreads|SlicesSharedByThreadsCountTheSameAsWhole)' \
    > .build-testdata/tsan.log 2>&1 || { grep -E "ThreadSanitizer|error|failed" .build-testdata/tsan.log | head -n 20; exit 1; }
! grep -q "WARNING: ThreadSanitizer" .build-testdata/tsan.log || { grep -A 20 "WARNING: ThreadSanitizer" .build-testdata/tsan.log | head -n 40; exit 1; }
grep -E "Executed [0-9]+ tests" .build-testdata/tsan.log | tail -n 1
