#!/usr/bin/env bash
# unit.dist.completion: dist/bash-completion/ballast, sourced in bash with
# bash-completion's own library, asked what a user's TAB would get. Held to
# the programs themselves: every command and option their --help prints is
# offered (so a new option without completion fails here), ballast-fleet
# path's FILE keys are the ones the launcher knows; then a few completions
# by value: --sort, set-policy's keys, VM names from a stand-in ballastctl
# that prints a status document (the real daemon's names:
# integration.daemon.top).
#   completion.sh SOURCE_DIR BUILD_DIR
# Not -e or -u: bash-completion's functions are written for an interactive
# shell; every check here says what failed itself.
set -o pipefail
src=$1 build=$2
bin=$build/bin
lib=/usr/share/bash-completion/bash_completion
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
if [[ ! -r $lib ]]; then
  echo "SKIPPED: $lib missing (Debian package bash-completion, in scripts/setup):" \
    "bash completion NOT checked" >&2
  exit 77
fi
tmp=$(mktemp -d /tmp/ballast-completion-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=/dev/null
source "$lib"
# Followed by shellcheck (unit.scripts.shellcheck), which so checks it too.
# shellcheck source=../../dist/bash-completion/ballast
source "$src/dist/bash-completion/ballast"
# compopt only works under readline; outside it, it would only complain.
compopt() { :; }

# complete LINE: COMPREPLY for the cursor at LINE's end, one a line, sorted.
# The first word is the program, looked up in `complete -p` as bash would.
complete_line() {
  local line=$1
  read -ra COMP_WORDS <<<"$line"
  [[ $line == *' ' ]] && COMP_WORDS+=('')
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE=$line
  COMP_POINT=${#line}
  COMPREPLY=()
  local spec func
  spec=$(complete -p "$(basename "${COMP_WORDS[0]}")")
  func=$(sed -n 's/.*-F \([^ ]*\) .*/\1/p' <<<"$spec")
  [[ -n $func ]] || fail "no completion function for ${COMP_WORDS[0]}: $spec"
  "$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}" | sort
}

# expect_all WHAT OFFERED WANTED: every word of WANTED is among OFFERED.
expect_all() {
  local what=$1 offered=$2 w missing=()
  for w in $3; do grep -qxF -- "$w" <<<"$offered" || missing+=("$w"); done
  ((${#missing[@]} == 0)) || fail "$what: not offered: ${missing[*]} (offered: $(tr '\n' ' ' <<<"$offered"))"
}

# The long options in GOption's tables of a program's --help (from "Help
# Options:" on: ballast-fleet's summary above them lists every command's).
options_of() {
  "$@" --help | sed -n '/^Help Options:/,$p' | grep -o -- '--[a-z][a-z0-9-]*' |
    grep -v -- '--help-' | sort -u
}

for p in ballastd ballastctl; do
  [[ -x $bin/$p ]] || fail "$bin/$p not built"
done
ctl_cmds=$("$bin/ballastctl" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}')
[[ -n $ctl_cmds ]] || fail "ballastctl --help lists no commands"
expect_all "ballastctl TAB" "$(complete_line 'ballastctl ')" "$ctl_cmds"
expect_all "ballastctl --TAB" "$(complete_line 'ballastctl --')" "$(options_of "$bin/ballastctl")"
expect_all "ballastctl status --TAB" "$(complete_line 'ballastctl status --')" "--json --fresh"
expect_all "ballastd --TAB" "$(complete_line 'ballastd --')" "$(options_of "$bin/ballastd")"
[[ $(complete_line 'ballastd --log-format ') == $'fields\ntext' ]] ||
  fail "ballastd --log-format: $(complete_line 'ballastd --log-format ')"
ok "ballastctl's commands and options, ballastd's options: all of --help"

if [[ -x $bin/ballast-fleet ]]; then
  fleet_cmds=$("$bin/ballast-fleet" --help | sed -n 's/^ *ballast-fleet \([a-z]*\) .*/\1/p' | sort -u)
  [[ -n $fleet_cmds ]] || fail "ballast-fleet --help lists no commands"
  expect_all "ballast-fleet TAB" "$(complete_line 'ballast-fleet ')" "$fleet_cmds"
  for c in start stop status; do
    expect_all "ballast-fleet $c --TAB" "$(complete_line "ballast-fleet $c --")" \
      "$(options_of "$bin/ballast-fleet" "$c")"
  done
  # `path` with no FILE names them all: "path: which FILE? (dir, qmp, ...)".
  keys=$("$bin/ballast-fleet" path 2>&1 | sed -n 's/.*which FILE? (\(.*\)).*/\1/p' | tr -d ,)
  [[ -n $keys ]] || fail "ballast-fleet path did not list its FILE keys"
  expect_all "ballast-fleet path TAB" "$(complete_line 'ballast-fleet path ')" "$keys"
  ok "ballast-fleet's commands, each command's options and path's FILE keys"
else
  echo "NOTE: ballast-fleet not built: its completion not held to its --help" >&2
fi

[[ $(complete_line 'ballastctl top --sort ') == $'cost\nname\npressure' ]] ||
  fail "--sort: $(complete_line 'ballastctl top --sort ')"
[[ $(complete_line 'ballastctl --sort p') == pressure ]] || fail "--sort p: $(complete_line 'ballastctl --sort p')"
expect_all "set-policy VM TAB" "$(complete_line 'ballastctl set-policy web ')" \
  "min_memory= max_memory= fixed_memory= shares= mode= agent_required= reclaim_allowed="
[[ -z $(complete_line 'ballastctl set-policy web shares=2 ') ]] || fail "set-policy offers a third argument"
[[ $(complete_line 'ballastctl dry-run o') == $'off\non' ]] || fail "dry-run o: $(complete_line 'ballastctl dry-run o')"
[[ $(complete_line 'ballastctl notify d1 st') == $'started\nstopped' ]] ||
  fail "notify d1 st: $(complete_line 'ballastctl notify d1 st')"
ok "--sort, set-policy keys, dry-run and notify values"

# VM names: a stand-in ballastctl printing what `--json status` prints
# (indented members, "name" only in the VM objects), and recording its socket.
cat >"$tmp/ballastctl" <<EOF
#!/bin/sh
echo "\$*" >"$tmp/args"
cat <<'JSON'
{
  "host": {
    "mem_total_bytes": 1
  },
  "vms": [
    {
      "name": "web-1",
      "target_bytes": 1
    },
    {
      "name": "web-2"
    },
    {
      "name": "db"
    }
  ]
}
JSON
EOF
chmod +x "$tmp/ballastctl"
got=$(complete_line "$tmp/ballastctl --socket /x.sock explain we")
[[ $got == $'web-1\nweb-2' ]] || fail "explain we: '$got'"
[[ $(cat "$tmp/args") == "--socket /x.sock --json status" ]] ||
  fail "VM names asked with '$(cat "$tmp/args")', not with the user's --socket"
got=$(complete_line "$tmp/ballastctl set-policy ")
[[ $got == $'db\nweb-1\nweb-2' ]] || fail "set-policy TAB: '$got'"
printf '#!/bin/sh\nexit 1\n' >"$tmp/ballastctl" # no daemon: nothing, no error
[[ -z $(complete_line "$tmp/ballastctl explain ") ]] || fail "names offered without a daemon"
ok "VM names from the daemon's status, with the user's --socket"
