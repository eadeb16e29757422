#!/usr/bin/env bash
# unit.scripts.progress: scripts/progress.sh, the progress of the demo's
# build and the guest kernel's download. In a log (stderr no terminal): a
# line per 10 % crossed and one at the end, never a carriage return; on a
# terminal: one line redrawn (\r, erase-line), cut to the width; the choice
# made from stderr itself (a file, and a pseudo-terminal from script(1)).
# The build filter on Makefile and Ninja output (every line kept in the
# log, the highest percentage shown); the download watcher on a fake
# downloader writing a file over 2 s (known and unknown size, a failure).
#   tests/scripts/test_progress.sh [SOURCE_DIR]
set -euo pipefail
src=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
tmp=$(mktemp -d /tmp/ballast-progress-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# shellcheck source=scripts/progress.sh
source "$src/scripts/progress.sh"

# Runs "$@" with BALLAST_PROGRESS=STYLE, stderr into $tmp/err.
with_style() { # STYLE CMD...
  local style=$1
  shift
  (BALLAST_PROGRESS=$style progress_init && "$@") 2>"$tmp/err" || return
}

# --- the build filter, in a log ---------------------------------------------------------
make_output() {
  printf '%s\n' "-- Configuring done" "[  3%] Building C object common/CMakeFiles/x.dir/a.c.o" \
    "[ 12%] Building C object common/b.c.o" "[  9%] Building C object common/c.c.o" \
    "warning: something" "[ 57%] Linking C executable bin/ballastd" \
    "[100%] Built target ballastd"
}
: >"$tmp/build.log"
make_output | with_style lines progress_build build "$tmp/build.log"
want=$'build: 3%\nbuild: 12%\nbuild: 57%\nbuild: 100%'
[[ $(<"$tmp/err") == "$want" ]] || fail "make output in a log gave '$(cat -A "$tmp/err")', expected '$want'"
diff <(make_output) "$tmp/build.log" >/dev/null || fail "the build log lost lines: $(cat "$tmp/build.log")"
: >"$tmp/build.log"
printf '%s\n' "[1/40] Building C object a.o" "[20/40] Building C object b.o" "[40/40] Linking bin/x" |
  with_style lines progress_build build "$tmp/build.log"
[[ $(<"$tmp/err") == $'build: 2%\nbuild: 50%\nbuild: 100%' ]] || fail "ninja output gave '$(<"$tmp/err")'"
ok "build filter in a log: a line per 10 % step, the highest percentage, every line kept"

# --- on a terminal: redrawn, cut to the width ----------------------------------------------
: >"$tmp/build.log"
make_output | with_style tty progress_build build "$tmp/build.log"
err=$(<"$tmp/err")
[[ $err != *$'\n'* ]] || fail "a terminal got newlines while redrawing: $(cat -A "$tmp/err")"
n=$(grep -o $'\r\033\\[K' "$tmp/err" | wc -l)
((n == 5)) || fail "expected 5 redraws (5 progress lines), got $n: $(cat -A "$tmp/err")"
[[ $err == *$'\r\033[Kbuild: 100% Built target ballastd' ]] || fail "last redraw: $(cat -A "$tmp/err")"
with_style tty progress_done "build: done in 3 s"
[[ $(<"$tmp/err") == "build: done in 3 s" ]] || fail "done with nothing drawn: $(cat -A "$tmp/err")"
pct_then_done() { progress_pct build 40 x; progress_done "build: done"; }
with_style tty pct_then_done
[[ $(<"$tmp/err") == $'\r\033[Kbuild: 40% x\r\033[Kbuild: done' ]] ||
  fail "done after a redraw must erase it: $(cat -A "$tmp/err")"
narrow_long() { progress_cols=40; progress_pct build 5 "$(printf 'x%.0s' {1..300})"; }
with_style tty narrow_long
err=$(<"$tmp/err") # \r ESC [ K, then 39 of the 40 columns
((${#err} == 4 + 39)) || fail "a long line was not cut to the width: ${#err} characters"
ok "terminal: one line redrawn, cut to the width, erased by the last message"

# --- the style from stderr itself ---------------------------------------------------------
(unset BALLAST_PROGRESS; progress_init; echo "$progress_style") 2>/dev/null >"$tmp/style"
[[ $(<"$tmp/style") == lines ]] || fail "stderr to a file chose '$(<"$tmp/style")'"
if command -v script >/dev/null; then
  script -qec "env -u BALLAST_PROGRESS bash -c 'source \"$src/scripts/progress.sh\"; progress_init; echo style=\$progress_style'" \
    /dev/null </dev/null >"$tmp/script.out" 2>&1 || true
  grep -q 'style=tty' "$tmp/script.out" || fail "a pseudo-terminal did not choose tty: $(cat -A "$tmp/script.out")"
  ok "the style: lines for a file, tty for a terminal"
else
  echo "SKIP (part): script(1) not installed (util-linux): the terminal choice not tested" >&2
fi

# --- bytes, and the download watcher -----------------------------------------------------
bytes_of() { # TOTAL DONE...
  local total=$1 b
  shift
  for b in "$@"; do progress_bytes dl "$b" "$total"; done
}
with_style lines bytes_of 20971520 0 1048576 5242880 5242880 10485760 20971520
want=$'dl: 0.0/20.0 MiB (0%)\ndl: 5.0/20.0 MiB (25%)\ndl: 10.0/20.0 MiB (50%)\ndl: 20.0/20.0 MiB (100%)'
[[ $(<"$tmp/err") == "$want" ]] || fail "bytes in a log: '$(<"$tmp/err")', expected '$want'"
with_style lines bytes_of 0 0 5242880 11534336 11534336 31457280
want=$'dl: 0.0 MiB\ndl: 11.0 MiB\ndl: 30.0 MiB'
[[ $(<"$tmp/err") == "$want" ]] || fail "bytes of an unknown size: '$(<"$tmp/err")', expected '$want'"

mkdir "$tmp/dl"
cat >"$tmp/fake-download" <<'EOF'
#!/usr/bin/env bash
# 4 chunks of 1 MiB, 0.5 s apart (the first after 0.5 s), then exit $1
echo "fake: starting"
for _ in 1 2 3 4; do sleep 0.5; head -c 1048576 /dev/zero >>pkg.deb; done
echo "fake: done"
exit "${1:-0}"
EOF
chmod +x "$tmp/fake-download"
rc=0
(cd "$tmp/dl" && PROGRESS_POLL_S=0.2 with_style lines progress_download "dl pkg" . 4194304 apt.log \
  "$tmp/fake-download" 0) || rc=$?
((rc == 0)) || fail "the download watcher returned $rc for a good download"
err=$(<"$tmp/err")
# The first poll races the downloader's start on a loaded machine (CI saw
# 0.1 MiB already written): the first line is any progress short of the end.
first=$(sed -n 1p <<<"$err")
if [[ ! $first =~ ^dl\ pkg:\ [0-9]+\.[0-9]/4\.0\ MiB\ \(([0-9]+)%\)$ ]] || ((BASH_REMATCH[1] >= 100)); then
  fail "first download line: $err"
fi
(($(wc -l <<<"$err") >= 4)) || fail "a 2 s download in a log said too little: $err"
[[ $(tail -n1 <<<"$err") == "dl pkg: done, 4.0 MiB in "*" s" ]] || fail "last download line: $err"
grep -q "fake: done" "$tmp/dl/apt.log" || fail "the downloader's output is not in its log"
rm -f "$tmp/dl/pkg.deb"
rc=0
(cd "$tmp/dl" && PROGRESS_POLL_S=0.2 with_style lines progress_download "dl pkg" . 0 apt.log \
  "$tmp/fake-download" 3) || rc=$?
((rc == 3)) || fail "a failed download returned $rc, not the downloader's 3"
[[ $(tail -n1 "$tmp/err") == "dl pkg: failed (exit 3, see apt.log)" ]] || fail "failure: $(<"$tmp/err")"
ok "bytes (known and unknown size) and the download watcher (progress, done, failure)"
