# Shared by the libvirt integration tests: a private libvirtd (libvirtd-env),
# tiny-guest domains made from docs/examples/*.xml, and the probe program
# (ballast-libvirt-probe) driven as a coprocess. Source it; call lv_setup.
# A test that needs more cleanup defines lv_cleanup_extra (run before libvirtd stops).
# shellcheck shell=bash
set -euo pipefail

src=${BALLAST_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${BALLAST_BUILD_DIR:-$src/build}
env_sh=$src/tests/libvirt/libvirtd-env
probe_bin=$build/tests/ballast-libvirt-probe
# Unique per run: domain names must not meet another run's.
# shellcheck disable=SC2034 # used by the tests that source this file
tag=lvt$$
fails=0

log() { echo "[$(date +%T.%N | cut -c1-12)] $*" >&2; }
ok() { log "ok: $*"; }
fail() { log "FAIL: $*"; fails=$((fails + 1)); }
skip() { echo "SKIP: $*" >&2; exit 77; }

lv_cleanup() {
  local rc=$?
  set +e
  if [[ -n ${probe_pid:-} ]]; then
    kill "$probe_pid" 2>/dev/null
    wait "$probe_pid" 2>/dev/null
  fi
  if declare -F lv_cleanup_extra >/dev/null; then lv_cleanup_extra; fi
  if [[ -n ${lvdir:-} ]]; then
    "$env_sh" stop "$lvdir"
    if ((rc != 0 && rc != 77)) || ((fails)); then
      for f in "$lvdir"/guests/*.console.log "$lvdir"/cache/libvirt/qemu/log/*.log; do
        [[ -e $f ]] && { echo "--- $f (tail)" >&2; tail -n 15 "$f" >&2; }
      done
    fi
    rm -rf "$lvdir"
  fi
  exit "$rc"
}

# The ballastd tests: ballastd and ballastctl from the build, and jq.
need_daemon() {
  ballastd=$build/bin/ballastd
  ballastctl=$build/bin/ballastctl
  [[ -x $ballastd && -x $ballastctl ]] || skip "ballastd/ballastctl not built in $build/bin"
  command -v jq >/dev/null || skip "jq not installed"
}
# ballastctl on the test's control socket.
# shellcheck disable=SC2154 # $sock is set by the test before the first call
ctl() { "$ballastctl" --socket "$sock" "$@"; }
# wait_for SECONDS CMD...: polls CMD every 0.25 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
}

lv_setup() {
  [[ $(id -u) == 0 ]] || skip "needs root (starts libvirtd as libvirt-qemu)"
  command -v virsh >/dev/null || skip "virsh not installed (libvirt-clients)"
  [[ -x $probe_bin ]] || skip "$probe_bin not built"
  local img=$build/guest
  [[ -r $img/vmlinuz && -r $img/initramfs.cpio.gz ]] || skip "no guest image in $img (scripts/guest-image --build-dir $build)"
  lvdir=$(mktemp -d /tmp/ballast-libvirt.XXXXXX)
  trap lv_cleanup EXIT
  trap 'exit 1' INT TERM
  uri=$("$env_sh" start "$lvdir")
  install -o libvirt-qemu -m 644 "$img/vmlinuz" "$img/initramfs.cpio.gz" "$lvdir/images/"
  # The fleet launcher's choice: kvm on real hardware virtualization, TCG here.
  domain_type=$("$probe_bin" --accel 2>/dev/null)
  tsc_khz=$(awk -F': *' '/^cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
  log "libvirtd at $uri, domain type $domain_type, tsc ${tsc_khz:-?} kHz"
}

v() { virsh -q -c "$uri" "$@"; }

# lv_domain_xml EXAMPLE NAME [STATS_PERIOD|none]: the docs example, for this test.
lv_domain_xml() {
  local example=$src/docs/examples/$1.xml name=$2 period=${3:-1} out
  out=$lvdir/$name.xml
  sed -e "/^<!--/,/-->/d" -e "s|<domain type='kvm'>|<domain type='$domain_type'>|" \
      -e "s|<name>$1</name>|<name>$name</name>|" \
      -e "s|/var/lib/libvirt/images/ballast/|$lvdir/images/|g" \
      -e "s|/var/log/libvirt/qemu/$1\.|$lvdir/guests/$name.|g" \
      -e "s|/var/lib/libvirt/qemu/channel/ballast/$1\.|$lvdir/guests/$name.|g" \
      -e "s|ballast.name=$1|${tsc_khz:+tsc_early_khz=$tsc_khz }ballast.name=$name|" \
      "$example" >"$out"
  if [[ $period == none ]]; then
    sed -i "/<stats period=/d" "$out"
  else
    sed -i "s|<stats period='[0-9]*'/>|<stats period='$period'/>|" "$out"
  fi
  echo "$out"
}

# --- the probe as a coprocess ---------------------------------------------------------------

probe_start() {
  coproc PROBE { exec "$probe_bin" --uri "$uri" "$@" 2>>"$lvdir/probe.stderr"; }
  # shellcheck disable=SC2153 # PROBE_PID is set by coproc PROBE, not a misspelt probe_pid
  probe_pid=$PROBE_PID
  probe_out=${PROBE[0]}
  probe_in=${PROBE[1]}
}

probe_send() { echo "$*" >&"$probe_in"; }

# probe_expect REGEX TIMEOUT_S: reads probe lines until one matches (kept in
# $line); every line read is logged. Returns 1 on timeout.
probe_expect() {
  local re=$1 deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    if IFS= read -r -t 1 line <&"$probe_out"; then
      log "probe: $line"
      [[ $line =~ $re ]] && return 0
    fi
  done
  line=
  return 1
}

# probe_list: the names the probe manages, space-separated (other lines are logged).
probe_list() {
  local names=()
  probe_send list
  while probe_expect '^(vm |end)' 5; do
    [[ $line == end ]] && break
    names+=("${line#vm }")
  done
  echo "${names[*]}"
}

# field NAME: the value of NAME=... in $line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }

# Waits for the guest's ready marker in its console log.
wait_ready() {
  local name=$1 deadline=$((SECONDS + ${2:-60}))
  while ((SECONDS < deadline)); do
    grep -q 'ballast-guest: ready' "$lvdir/guests/$name.console.log" 2>/dev/null && return 0
    sleep 0.3
  done
  return 1
}
