#!/usr/bin/env bash
# unit.install.tree: `DESTDIR=TMP cmake --install BUILD`, then the tree:
# every file in its FHS place (paths from CMake's GNUInstallDirs, passed in
# by tests/install/CMakeLists.txt as INST_*), the configuration kept on a
# second install, the hook carrying the installed ballastctl, and the
# installed ballastd loading its libvirt module from the private library
# directory (found relative to sbin/, so in the DESTDIR tree too).
set -euo pipefail
build=${BALLAST_BUILD_DIR:?run under ctest}
root=$(mktemp -d /tmp/ballast-install-XXXXXX)
daemon_pid=
cleanup() {
  local rc=$?
  if [[ -n $daemon_pid ]]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  if ((rc != 0)) && [[ -f $root/ballastd.log ]]; then tail -20 "$root/ballastd.log" >&2; fi
  rm -rf "$root"
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

DESTDIR=$root "${CMAKE:-cmake}" --install "$build" >"$root/install.log" 2>&1 ||
  { cat "$root/install.log" >&2; fail "cmake --install failed"; }

sbin=$root$INST_CMAKE_INSTALL_FULL_SBINDIR
bin=$root$INST_CMAKE_INSTALL_FULL_BINDIR
etc=$root$INST_BALLAST_SYSCONFDIR
conf=$root$INST_BALLAST_CONFIG_DIR
executables=("$sbin/ballastd" "$bin/ballastctl" "$bin/ballast-fleet"
  "$root$INST_BALLAST_PKGLIBEXECDIR/ballast-qemu" "$etc/libvirt/hooks/qemu.d/ballast")
files=("$root$INST_BALLAST_PKGLIBDIR/ballast-libvirt.so" "$conf/ballastd.conf" "$etc/default/ballast"
  "$root$INST_BALLAST_SYSTEMD_UNITDIR/ballastd.service")
for c in ballastd ballastctl ballast-fleet; do files+=("$root$INST_BALLAST_BASH_COMPLETIONDIR/$c"); done
if [[ $BALLAST_GUEST == 1 ]]; then
  executables+=("$sbin/ballast-agent")
  files+=("$root$INST_BALLAST_SYSTEMD_UNITDIR/ballast-agent.service")
fi
# Man pages, when scdoc built them (unit.man.pages checks what they say).
for page in "$build"/man/*.[158]; do
  [[ -f $page ]] || continue
  s=${page##*.}
  files+=("$root$INST_CMAKE_INSTALL_FULL_MANDIR/man$s/${page##*/}")
done
for f in "${executables[@]}"; do [[ -x $f ]] || fail "not installed or not executable: ${f#"$root"}"; done
for f in "${files[@]}"; do [[ -f $f ]] || fail "not installed: ${f#"$root"}"; done
# Nothing else lands in bin/: tools and tests stay in the build tree.
for f in "$bin"/*; do
  case ${f##*/} in ballastctl | ballast-fleet) ;; *) fail "unexpected in ${bin#"$root"}: ${f##*/}" ;; esac
done
ok "every file in its place ($((${#executables[@]} + ${#files[@]})) files)"

for p in "$sbin/ballastd" "$bin/ballastctl" "$bin/ballast-fleet"; do
  "$p" --version | grep -qx "${p##*/} $BALLAST_VERSION" ||
    fail "installed ${p##*/} --version: $("$p" --version 2>&1)"
done
ok "installed programs' --version say $BALLAST_VERSION"

# The example configuration is valid as shipped, and a second install keeps
# the admin's edits.
out=$("$sbin/ballastd" --check-config --config-dir "$conf" 2>&1) ||
  fail "installed ballastd.conf has errors: $out"
echo "# edited" >>"$conf/ballastd.conf"
DESTDIR=$root "${CMAKE:-cmake}" --install "$build" >"$root/install2.log" 2>&1 || fail "second install failed"
grep -q '^# edited$' "$conf/ballastd.conf" || fail "a second install overwrote ballastd.conf"
grep -q "Kept (yours): .*ballastd.conf" "$root/install2.log" || fail "keeping ballastd.conf not said"
ok "example configuration valid, kept on reinstall"

hook=$etc/libvirt/hooks/qemu.d/ballast
sh -n "$hook" || fail "installed hook is not valid sh"
grep -q "BALLAST_CTL:=$INST_CMAKE_INSTALL_FULL_BINDIR/ballastctl}" "$hook" ||
  fail "hook does not name the installed ballastctl: $(grep BALLAST_CTL: "$hook")"
grep -q "BALLAST_SOCKET:=/run/ballast/ballastd.sock}" "$hook" ||
  fail "hook does not name the default socket: $(grep BALLAST_SOCKET: "$hook")"
if grep -rIl "$build" "$etc" "$root$INST_BALLAST_SYSTEMD_UNITDIR" 2>/dev/null; then
  fail "installed text files (above) name the build tree"
fi
ok "hook names the installed ballastctl and the default socket"

# The installed ballastd loads its module from the private library directory:
# --libvirt on a socket nobody listens on (it keeps retrying, as with a
# libvirtd not up yet), KSM only observed, nothing of the host's touched.
unset BALLAST_LIBVIRT_MODULE
mkdir "$root/conf"
printf '[ballastd]\nksm_mode = observe\n' >"$root/conf/ballastd.conf"
"$sbin/ballastd" --libvirt "qemu+unix:///system?socket=$root/no-libvirtd.sock" \
  --socket "$root/ctl.sock" --config-dir "$root/conf" -v >"$root/ballastd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 50); do
  "$bin/ballastctl" --socket "$root/ctl.sock" ping >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || fail "installed ballastd --libvirt exited: $(cat "$root/ballastd.log")"
  sleep 0.2
done
"$bin/ballastctl" --socket "$root/ctl.sock" ping >/dev/null || fail "installed ballastd did not answer"
grep -q "libvirt module loaded from $root$INST_BALLAST_PKGLIBDIR/ballast-libvirt.so" "$root/ballastd.log" ||
  fail "module not loaded from the installed tree: $(grep -i module "$root/ballastd.log")"
kill "$daemon_pid"
wait "$daemon_pid" || fail "installed ballastd did not exit cleanly"
daemon_pid=
ok "installed ballastd --libvirt loads ${INST_BALLAST_PKGLIBDIR}/ballast-libvirt.so"
