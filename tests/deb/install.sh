#!/usr/bin/env bash
# integration.deb.install: the Debian packages from debian/, end to end.
#
#  1. Copies the source tree (no build directories, no .git) into a
#     temporary directory and builds the binary packages there with
#     `dpkg-buildpackage -us -uc -b` (nice, 2 jobs; DEB_BUILD_OPTIONS=nocheck
#     since the suite runs the unit tests itself: BALLAST_DEB_CHECK=1 runs
#     them inside the package build too, as a Debian build would).
#  2. lintian on the result: any error, warning or info tag fails, except
#     those overridden, each with its reason, in debian/*.lintian-overrides.
#  3. A fresh Debian 12 root with debootstrap (minbase, plus man-db and the
#     packages' own dependencies, read from the built .debs). The finished
#     root is cached as a tarball in $BALLAST_DEB_CACHE (default
#     ~/.cache/ballast), named for the suite, the day it was made and the
#     package list: later runs unpack it in seconds and download nothing;
#     after $BALLAST_DEB_CACHE_DAYS days (default 7) it is made again. No
#     cache and no mirror: skipped.
#  4. apt-get install of both .debs in the root (chroot), as docs/ballastd.md
#     says to install them (dpkg does it, apt checks the dependencies);
#     ballastd --check-config on the shipped /etc/ballast, --version of
#     ballastd, ballastctl and ballast-agent (the changelog's version, which
#     is CMake's PROJECT_VERSION), `man` on every page the packages ship,
#     the conffiles registered, the libvirt hook in qemu.d.
#  5. apt-get purge of both, then the root compared with the one before the
#     install: its paths, users, groups and the contents of /etc; nothing
#     left behind, nothing else removed or changed (logs and caches named
#     below aside).
# Mounts (the root's /proc) and temporary directories go on any exit.
# Root only (chroot, debootstrap); skipped loudly otherwise.
set -euo pipefail
src=${BALLAST_SOURCE_DIR:?run under ctest (BALLAST_SOURCE_DIR)}
build=${BALLAST_BUILD_DIR:?run under ctest (BALLAST_BUILD_DIR)}
# $HOME may be unset under a CI runner: root's home then, from passwd.
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
cache=${BALLAST_DEB_CACHE:-${XDG_CACHE_HOME:-$home/.cache}/ballast}
max_age_days=${BALLAST_DEB_CACHE_DAYS:-7}
suite=bookworm
skip() { echo "SKIPPED: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
step_start=$SECONDS
timed() { echo "   ($1: $((SECONDS - step_start)) s)"; step_start=$SECONDS; }

(($(id -u) == 0)) || skip "not root: debootstrap and chroot need root"
for t in dpkg-buildpackage dh lintian debootstrap chroot; do
  command -v "$t" >/dev/null ||
    skip "$t not installed (scripts/setup installs dpkg-dev, debhelper, lintian, debootstrap)"
done

tmp=$(mktemp -d /tmp/ballast-deb-XXXXXX)
root=$tmp/root
# Mount points at or under the root, deepest first.
mounts_under() {
  awk -v r="$root" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r
}
cleanup() {
  local rc=$? m
  for m in $(mounts_under); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  if [[ -n $(mounts_under) ]]; then
    echo "FAIL: still mounted under $root: $(mounts_under | tr '\n' ' '); $tmp left in place" >&2
    exit 1
  fi
  if ((rc != 0 && rc != 77)) && [[ -f $tmp/step.log ]]; then
    echo "--- last lines of $(cat "$tmp/step.name" 2>/dev/null || echo the step)'s log" >&2
    tail -40 "$tmp/step.log" >&2
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
# step NAME CMD...: runs CMD with its output in a log, shown when it fails.
step() {
  echo "$1" >"$tmp/step.name"
  shift
  "$@" >"$tmp/step.log" 2>&1
}

# 1. The packages, built from a copy of the tree.
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
project=$(sed -n 's/^project(ballast VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[[ $version == "$project" ]] ||
  fail "debian/changelog says $version, CMakeLists.txt's project() $project: one release, one number"
mkdir "$tmp/src"
excludes=(--exclude=./.git --exclude='./build*' --exclude=./.cache --exclude=./obj-*)
case $build in "$src"/*) excludes+=("--exclude=./${build#"$src"/}") ;; esac
tar -C "$src" "${excludes[@]}" -cf - . | tar -C "$tmp/src" -xf -
opts="nocheck parallel=2"
[[ ${BALLAST_DEB_CHECK:-0} == 1 ]] && opts="parallel=2"
(cd "$tmp/src" && step "dpkg-buildpackage" env DEB_BUILD_OPTIONS="$opts" nice -n 19 \
  dpkg-buildpackage -us -uc -b) || fail "dpkg-buildpackage failed"
debs=("$tmp/ballast_${version}_"*.deb "$tmp/ballast-agent_${version}_"*.deb)
for d in "${debs[@]}"; do [[ -f $d ]] || fail "not built: ${d##*/} (in $(ls "$tmp"))"; done
ok "built ${debs[*]##*/} (DEB_BUILD_OPTIONS=$opts)"
timed build

# 2. lintian: nothing but overridden tags, each with its reason.
changes=$(echo "$tmp"/ballast_"${version}"_*.changes)
# Judged by its tags, not its exit code: as root lintian also exits 1 for its
# "running with root privileges is not recommended".
lintian --display-info --show-overrides "$changes" >"$tmp/lintian.log" 2>&1 || true
sed 's/^/   /' "$tmp/lintian.log"
grep -q '^[OIN]: \|^running with root' "$tmp/lintian.log" || [[ ! -s $tmp/lintian.log ]] ||
  fail "lintian did not run: $(head -5 "$tmp/lintian.log")"
! grep -q '^[EWI]: ' "$tmp/lintian.log" ||
  fail "lintian found tags (above): fix them, or override each with a reason"
n=$(grep -c '^O: ' "$tmp/lintian.log" || true)
ok "lintian clean ($n tag(s) overridden with a reason, marked O: above)"
timed lintian

# 3. A fresh Debian 12 root: minbase, man-db and the packages' own
# dependencies (first of each alternative, no versions, read from the built
# .debs; one field per call: asked for two, dpkg-deb prefixes each with its
# name). debootstrap's finished root is cached as a tarball keyed by suite,
# date and package list: a run within $max_age_days days of it unpacks it in
# seconds and downloads nothing; older ones are deleted and made again, so
# the root follows the archive's updates.
mirror=$(sed -n 's/^URIs: *\(http[^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
  head -1)
[[ -n $mirror ]] ||
  mirror=$(awk '$1 == "deb" && $2 ~ /^http/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
mirror=${mirror:-http://deb.debian.org/debian}
mapfile -t deps < <(for d in "${debs[@]}"; do
  dpkg-deb -f "$d" Depends
  dpkg-deb -f "$d" Pre-Depends
done |
  tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' | grep . | sort -u)
deps+=(man-db)
include=$(IFS=,; echo "${deps[*]}")
key=$(echo "$suite $mirror $include" | sha256sum | cut -c1-12)
today=$(date -u +%Y%m%d)
tarball=
mkdir -p "$cache"
for f in "$cache"/debian-"$suite"-*.tar.gz; do
  [[ -f $f ]] || continue
  made=${f##*/debian-"$suite"-}
  made=${made%%-*}
  age_days=$((($(date -u -d "$today" +%s) - $(date -u -d "$made" +%s 2>/dev/null || echo 0)) / 86400))
  if ((age_days > max_age_days)); then
    rm -f "$f"
  elif [[ $f == *-$key.tar.gz && $f > $tarball ]]; then
    tarball=$f
  fi
done
mkdir "$root"
if [[ -n $tarball ]]; then
  step "unpack $tarball" tar -C "$root" --numeric-owner -xzf "$tarball" ||
    fail "cannot unpack the cached root $tarball"
  ok "Debian 12 root from the cache (${tarball##*/})"
else
  timeout 30 wget -q -O /dev/null "$mirror/dists/$suite/Release" ||
    skip "no cached root (debian-$suite-DATE-$key.tar.gz in $cache) and $mirror cannot be reached (wget of dists/$suite/Release failed)"
  step "debootstrap" nice -n 19 debootstrap --variant=minbase --include="$include" \
    "$suite" "$root" "$mirror" || fail "debootstrap $suite from $mirror failed"
  # Made with the host's mounts gone (debootstrap unmounts its own).
  [[ -z $(mounts_under) ]] || fail "debootstrap left mounts under $root: $(mounts_under)"
  chroot "$root" apt-get clean
  tarball=$cache/debian-$suite-$today-$key.tar.gz
  # shellcheck disable=SC2016 # $1 and $2 are sh -c's own arguments
  step "cache the root" sh -c 'tar -C "$1" --numeric-owner -cf - . | nice -n 19 gzip -1 >"$2"' \
    sh "$root" "$tarball.part.$$" || fail "cannot write the cached root $tarball"
  mv "$tarball.part.$$" "$tarball"
  ok "Debian 12 root debootstrapped from $mirror, cached as $tarball ($(du -h "$tarball" | cut -f1))"
fi
echo "   minbase + ${deps[*]}"
mount -t proc proc "$root/proc"
timed root

# What the root holds, as paths relative to it (-xdev leaves out /proc), the
# users and groups, and what each file under /etc says.
snapshot() {
  (cd "$root" && {
    find . -xdev -path ./tmp -prune -o -print
    cut -d: -f1 etc/passwd | sed 's/^/user /'
    cut -d: -f1 etc/group | sed 's/^/group /'
    find ./etc -xdev -type f -exec md5sum {} + | sed 's/^/content /'
  } | sort)
}
snapshot >"$tmp/before"

# 4. Install as docs/ballastd.md says (apt with the .deb files: dpkg installs
# them, apt checks their dependencies, all already in the root, so nothing is
# downloaded), then each program and page in the root.
mkdir "$root/tmp/debs"
cp "${debs[@]}" "$root/tmp/debs/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }
in_debs=()
for d in "${debs[@]}"; do in_debs+=("/tmp/debs/${d##*/}"); done
step "apt-get install ./ballast*.deb" in_root env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${in_debs[@]}" ||
  fail "apt-get install of the packages failed in the root"
# shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
status=$(in_root dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' ballast ballast-agent)
[[ $status == "ballast $version ii "*"ballast-agent $version ii "* ]] ||
  fail "dpkg does not list both packages installed: $status"
out=$(in_root ballastd --check-config 2>&1) || fail "ballastd --check-config (/etc/ballast): $out"
for p in ballastd ballastctl ballast-agent; do
  v=$(in_root "$p" --version 2>&1) || fail "$p --version failed in the root: $v"
  [[ $v == "$p $version" ]] || fail "$p --version says '$v', the package is $version"
done
mapfile -t pages < <(for d in "${debs[@]}"; do dpkg-deb -c "$d"; done |
  sed -n 's|.*/usr/share/man/man\([0-9]\)/\(.*\)\.[0-9]\.gz$|\1 \2|p')
((${#pages[@]} >= 5)) || fail "the packages ship ${#pages[@]} man pages, expected 5: ${pages[*]}"
for pg in "${pages[@]}"; do
  read -r section name <<<"$pg"
  out=$(in_root env MANWIDTH=80 man -P cat "$section" "$name" 2>&1) ||
    fail "man $section $name failed in the root: $out"
  if ! grep -q "^NAME" <<<"$out" || ! grep -q "$name" <<<"$out"; then
    fail "man $section $name printed no NAME section: ${out:0:300}"
  fi
done
# shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' ballast)
for c in /etc/ballast/ballastd.conf /etc/default/ballast /etc/libvirt/hooks/qemu.d/ballast; do
  grep -q "^ $c " <<<"$conffiles" || fail "$c is not a conffile of ballast: $conffiles"
done
[[ -x $root/etc/libvirt/hooks/qemu.d/ballast ]] ||
  fail "the libvirt hook /etc/libvirt/hooks/qemu.d/ballast is not executable"
ok "installed: ballastd --check-config, --version $version of 3 programs, man on ${#pages[@]} pages, conffiles, the hook"
timed install

# 5. Purge, and compare.
step "apt-get purge" in_root apt-get purge -y ballast ballast-agent || fail "apt-get purge failed"
rm -rf "$root/tmp/debs"
snapshot >"$tmp/after"
# Logs, man-db's index (rebuilt by its trigger and by man itself), apt's
# caches of its package lists, its record of which packages were installed
# by hand (made by the first apt-get install, ours gone from it: below) and
# the backups dpkg and debconf keep of their own databases change on any
# install; they are not ours to remove.
volatile='^(content )?\./(var/log/|var/cache/man(/|$)|var/cache/apt/[a-z]+\.bin$|var/lib/apt/extended_states$|var/lib/dpkg/[a-z-]+-old$|var/cache/debconf/[a-z.]+-old$)'
! grep -qs '^Package: ballast' "$root/var/lib/apt/extended_states" ||
  fail "apt still records ballast in /var/lib/apt/extended_states after the purge"
volatile_content='^content [0-9a-f]+  \./etc/ld\.so\.cache$'
left=$(comm -13 "$tmp/before" "$tmp/after" | grep -Ev "$volatile" | grep -Ev "$volatile_content" || true)
gone=$(comm -23 "$tmp/before" "$tmp/after" | grep -Ev "$volatile" | grep -Ev "$volatile_content" || true)
[[ -z $left ]] || fail "left behind after the purge: $(tr '\n' ' ' <<<"$left")"
[[ -z $gone ]] || fail "removed or changed by install and purge though not ours: $(tr '\n' ' ' <<<"$gone")"
ok "purged: $(grep -vc '^user \|^group \|^content ' "$tmp/after") paths, $(grep -c '^user ' "$tmp/after") users, $(grep -c '^group ' "$tmp/after") groups and /etc's contents as before the install"
timed purge
