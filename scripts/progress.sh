# shellcheck shell=bash
# Progress of the long steps of the scripts (the demo's build, the guest
# kernel's download), sourced by scripts/demo and scripts/guest-image. On a
# terminal one line is redrawn in place; anywhere else (CI logs, a pipe) a
# line is printed per step: each 10 % crossed, and the end. Everything goes
# to stderr. BALLAST_PROGRESS=tty|lines overrides the terminal test (the
# tests use it; `lines` also suits a terminal that is being recorded).
#
#   progress_init                       once, before the first step
#   progress_pct LABEL PCT [DETAIL]     PCT (0..100) of a step
#   progress_bytes LABEL DONE TOTAL     bytes of a download (TOTAL 0: unknown)
#   progress_done MESSAGE               the step's last line, always printed
#   progress_build LABEL LOG            filter: cmake --build output on stdin
#                                       into LOG, its [ NN%] / [n/N] shown
#   progress_download LABEL DIR TOTAL LOG CMD...
#                                       CMD (a download into DIR) in the
#                                       background, output to LOG, the bytes
#                                       in DIR shown every second; CMD's status

progress_style=lines
progress_cols=80
progress_shown=-1 # the last bucket (10 % or 10 MiB) printed in a log; -1: none
progress_drawn=   # a terminal line is drawn and must be erased first

progress_init() {
  case ${BALLAST_PROGRESS:-auto} in
  tty | lines) progress_style=$BALLAST_PROGRESS ;;
  *) if [[ -t 2 ]]; then progress_style="tty"; else progress_style=lines; fi ;;
  esac
  if [[ $progress_style == tty ]]; then
    progress_cols=$(tput cols 2>/dev/null || echo 80)
    if [[ ! $progress_cols =~ ^[0-9]+$ ]] || ((progress_cols < 20)); then progress_cols=80; fi
  fi
  progress_shown=-1
  progress_drawn=
}

# A terminal line, cut to the width so it never wraps (a wrapped line
# cannot be redrawn with \r).
progress_draw() { # TEXT
  printf '\r\033[K%s' "${1:0:$((progress_cols - 1))}" >&2
  progress_drawn=1
}

# In a log: TEXT once BUCKET passed the last one printed.
progress_line() { # BUCKET TEXT
  if (($1 > progress_shown)); then
    printf '%s\n' "$2" >&2
    progress_shown=$1
  fi
  return 0
}

progress_pct() { # LABEL PCT [DETAIL]
  local pct=$2
  ((pct < 0)) && pct=0
  ((pct > 100)) && pct=100
  if [[ $progress_style == tty ]]; then
    progress_draw "$1: $pct%${3:+ $3}"
  else
    progress_line $((pct / 10)) "$1: $pct%"
  fi
}

progress_mib() { # BYTES: MiB with one decimal
  printf '%d.%d' $(($1 / 1048576)) $((($1 % 1048576) * 10 / 1048576))
}

progress_bytes() { # LABEL DONE TOTAL
  local done=$2 total=$3 text
  if ((total > 0)); then
    ((done > total)) && done=$total
    text="$1: $(progress_mib "$done")/$(progress_mib "$total") MiB ($((done * 100 / total))%)"
    if [[ $progress_style == tty ]]; then progress_draw "$text"
    else progress_line $((done * 10 / total)) "$text"; fi
  else
    text="$1: $(progress_mib "$done") MiB"
    if [[ $progress_style == tty ]]; then progress_draw "$text"
    else progress_line $((done / 10485760)) "$text"; fi
  fi
}

progress_done() { # MESSAGE
  if [[ -n $progress_drawn ]]; then printf '\r\033[K' >&2; fi
  printf '%s\n' "$1" >&2
  progress_shown=-1
  progress_drawn=
}

# cmake --build's output: every line into LOG, the progress from the
# Makefile generator's "[ 45%] Building C object ..." or Ninja's
# "[12/200] Building C object ...". make -j prints percentages a little out
# of order: the highest seen is shown. Always succeeds (a pipeline's status
# is the build's).
progress_build() { # LABEL LOG
  local line pct best=0 detail
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$2"
    if [[ $line =~ ^\[\ *([0-9]+)%\]\ (.*)$ ]]; then
      pct=${BASH_REMATCH[1]} detail=${BASH_REMATCH[2]}
    elif [[ $line =~ ^\[([0-9]+)/([0-9]+)\]\ (.*)$ ]] && ((BASH_REMATCH[2] > 0)); then
      pct=$((BASH_REMATCH[1] * 100 / BASH_REMATCH[2])) detail=${BASH_REMATCH[3]}
    else
      continue
    fi
    ((pct > best)) && best=$pct
    progress_pct "$1" "$best" "$detail"
  done
  return 0
}

progress_dir_bytes() { # DIR LOG: the bytes of DIR's files, LOG left out
  find "$1" -type f ! -samefile "$2" -printf '%s\n' 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

# A download's progress from the bytes it has written so far: the one
# measure every downloader has, whether or not it draws its own bar.
progress_download() { # LABEL DIR TOTAL LOG CMD...
  local label=$1 dir=$2 total=$3 log=$4 pid rc=0 t0=$SECONDS
  shift 4
  [[ $total =~ ^[0-9]+$ ]] || total=0
  : >"$log"
  "$@" >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    progress_bytes "$label" "$(progress_dir_bytes "$dir" "$log")" "$total"
    sleep "${PROGRESS_POLL_S:-1}"
  done
  wait "$pid" || rc=$?
  if ((rc == 0)); then
    progress_done "$label: done, $(progress_mib "$(progress_dir_bytes "$dir" "$log")") MiB in $((SECONDS - t0)) s"
  else
    progress_done "$label: failed (exit $rc, see $log)"
  fi
  return "$rc"
}
