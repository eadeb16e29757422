#!/usr/bin/env bash
# One fuzz target's short run under ctest (label fuzz, BALLAST_FUZZ_SECONDS):
# the kept corpus is copied to a temp dir, so the run replays every kept
# input first (a regression seed that crashed once fails here at once) and
# adds what it finds to the copy, never to the repository; the target's
# dictionary guides it, and its line in tests/fuzz/max_len bounds its
# inputs. A missing corpus, dictionary or max_len line fails: every target
# keeps all three (tests/fuzz/README.md). scripts/fuzz runs the long campaigns.
# -timeout: one input taking 30 s is a hang. Every target runs an input in
# well under a millisecond; 5 s is what a stalled shared 2-core machine can
# reach (fuzz.qmp.memdev failed once in CI at 12 s of 15, its reason cut
# from the log; 15 minutes of the same target here found nothing).
# scripts/test repeats each failed test's error lines at the end of its log.
#   run-fuzzer.sh FUZZER CORPUS_DIR DICT SECONDS ARTIFACT_DIR
set -euo pipefail
if (($# != 5)); then
  echo "usage: run-fuzzer.sh FUZZER CORPUS_DIR DICT SECONDS ARTIFACT_DIR" >&2
  exit 2
fi
fuzzer=$1 corpus=$2 dict=$3 seconds=$4 artifacts=$5
if [[ ! -d $corpus ]] || [[ -z $(ls -A "$corpus") ]]; then
  echo "FAIL: no kept corpus in $corpus" >&2
  exit 1
fi
if [[ ! -f $dict ]]; then
  echo "FAIL: no dictionary at $dict" >&2
  exit 1
fi
# The target's name is its kept corpus's directory name.
max_len=$(awk -v t="$(basename "$corpus")" '$1 == t { print $2 }' "$(dirname "$0")/max_len")
if [[ ! $max_len =~ ^[1-9][0-9]*$ ]]; then
  echo "FAIL: no line for $(basename "$corpus") in $(dirname "$0")/max_len" >&2
  exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ballast-fuzz-$(basename "$corpus").XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$corpus"/. "$work"/
mkdir -p "$artifacts"
echo "$(basename "$fuzzer"): $(find "$work" -type f | wc -l) kept inputs, $seconds s, dictionary $dict, inputs up to $max_len bytes"
"$fuzzer" -max_total_time="$seconds" -max_len="$max_len" -timeout=30 -rss_limit_mb=1024 -print_final_stats=1 \
  -dict="$dict" -artifact_prefix="$artifacts/" "$work"
