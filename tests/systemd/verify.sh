#!/usr/bin/env bash
# unit.systemd.verify: the installed systemd units (dist/systemd/*.in, as
# `cmake --install` writes them) through `systemd-analyze verify`, which
# parses every directive, checks the ExecStart binaries and, with --man=yes,
# that each Documentation= man page exists. Any line it prints fails the test:
# it reports an unknown or bad directive with exit status 0. No running
# systemd is needed. Skipped (exit 77, said loudly) without systemd-analyze.
set -euo pipefail
build=${BALLAST_BUILD_DIR:?run under ctest}
unitdir=${INST_BALLAST_SYSTEMD_UNITDIR:?run under ctest}
mandir=${INST_CMAKE_INSTALL_FULL_MANDIR:?run under ctest}
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIPPED: systemd-analyze not installed (Debian package systemd): units NOT verified" >&2
  exit 77
fi
root=$(mktemp -d /tmp/ballast-units-XXXXXX)
trap 'rm -rf "$root"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

DESTDIR=$root "${CMAKE:-cmake}" --install "$build" >"$root/install.log" 2>&1 ||
  { cat "$root/install.log" >&2; fail "cmake --install failed"; }
# The units name the installed programs; point them into the DESTDIR tree
# so systemd-analyze finds the binaries.
mkdir "$root/units"
units=()
for u in "$root$unitdir"/*.service; do
  sed -e "s|^ExecStart=/|ExecStart=$root/|" "$u" >"$root/units/${u##*/}"
  units+=("$root/units/${u##*/}")
done
((${#units[@]})) || fail "no unit installed in $unitdir"
man_check=--man=no
if [[ -d $root$mandir ]]; then man_check=--man=yes; fi
out=$(cd "$root/units" && MANPATH=$root$mandir systemd-analyze verify "$man_check" "${units[@]}" 2>&1) ||
  fail "systemd-analyze verify failed: $out"
[[ -z $out ]] || fail "systemd-analyze verify said: $out"
echo "ok: systemd-analyze verify $man_check: ${units[*]##*/}"

# What the rest of ballast relies on.
d=$root/units/ballastd.service
for want in Type=notify RuntimeDirectory=ballast RuntimeDirectoryPreserve=restart "EnvironmentFile=-/etc/default/ballast" \
  "ExecStart=$root/.*/ballastd \$BALLASTD_OPTS" OOMScoreAdjust=-900 ProtectSystem=strict \
  "ReadWritePaths=.*/sys/kernel/mm/ksm" "ReadWritePaths=.* /run/ballast" NoNewPrivileges=yes; do
  grep -qx "$want" "$d" || grep -q "^$want" "$d" || fail "ballastd.service lacks $want"
done
echo "ok: ballastd.service: notify, /run/ballast kept across restarts, /etc/default/ballast, OOM score, sandbox"
