#!/usr/bin/env bash
# unit.scripts.shellcheck: shellcheck over every shell script in the tree:
# each file under scripts/ and tests/ whose #! line names a shell (sh, bash,
# dash, busybox sh), and each tests/**/*.sh (the sourced lib.sh files have no
# #! line). Found by content, not listed, so a new script is covered at once.
# Options (follow `source`d files next to the script) are in /.shellcheckrc,
# where an editor's shellcheck finds them too.
#   tests/scripts/shellcheck.sh [SOURCE_DIR]
# scripts/setup installs shellcheck; without it this test fails, never passes.
set -euo pipefail
src=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$src"

if ! command -v shellcheck >/dev/null; then
  echo "FAIL: shellcheck is not installed (scripts/setup installs it)" >&2
  exit 1
fi

# Paths relative to the source dir, one a line. Fuzz corpora are data.
shell_scripts() {
  find scripts tests -path tests/fuzz/corpus -prune -o -type f -name '*.sh' -print
  find scripts tests -path tests/fuzz/corpus -prune -o -type f ! -name '*.sh' -print0 |
    xargs -0 awk 'FNR == 1 && /^#![ \t]*(\/usr)?\/bin\/(env[ \t]+)?(busybox[ \t]+)?(ba|da|a|k)?sh([ \t]|$)/ {
      print FILENAME } { nextfile }'
}
mapfile -t files < <(shell_scripts | sort -u)

# A discovery that finds nothing must not pass for a clean tree.
in_scripts=0 in_tests=0
for f in "${files[@]}"; do
  case $f in
  scripts/*) in_scripts=$((in_scripts + 1)) ;;
  tests/*) in_tests=$((in_tests + 1)) ;;
  esac
done
if ((in_scripts == 0 || in_tests == 0)); then
  echo "FAIL: found $in_scripts shell scripts in scripts/ and $in_tests in tests/: discovery is broken" >&2
  exit 1
fi

echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p') over ${#files[@]} scripts:" \
  "${files[*]}"
if ! shellcheck --format=gcc "${files[@]}"; then
  echo "FAIL: shellcheck findings above: fix them, or disable one narrowly with a reason" \
    "(# shellcheck disable=SCxxxx # why) on the line above" >&2
  exit 1
fi
echo "ok: no findings"
