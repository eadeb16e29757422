#!/usr/bin/env bash
# One fuzz target's short run under ctest (label fuzz, BALLAST_FUZZ_SECONDS):
# the kept corpus is copied to a temp dir, so the run replays every kept
# input first (a regression seed that crashed once fails here at once) and
# adds what it finds to the copy, never to the repository; the target's
# dictionary guides it. A missing corpus or dictionary fails: every target
# keeps both (tests/fuzz/README.md). scripts/fuzz runs the long campaigns.
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
work=$(mktemp -d "${TMPDIR:-/tmp}/ballast-fuzz-$(basename "$corpus").XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$corpus"/. "$work"/
mkdir -p "$artifacts"
echo "$(basename "$fuzzer"): $(find "$work" -type f | wc -l) kept inputs, $seconds s, dictionary $dict"
"$fuzzer" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
  -dict="$dict" -artifact_prefix="$artifacts/" "$work"
