#!/bin/sh
# check-coopmat-trixie.sh [DIR]: the Vulkan cooperative-matrix GEMM on a
# driver that has VK_KHR_cooperative_matrix, without a GPU.
#
# Debian 12 can neither compile shaders/gemm_coopmat.comp (its glslc
# predates GL_KHR_cooperative_matrix) nor run it (its lavapipe, Mesa 22.3,
# lacks the extension), so tests/test-vulkan-coopmat skips there.  Debian
# 13's glslc compiles it and the lavapipe of trixie-backports (Mesa 26.1)
# runs it.  This script builds a Debian 13 chroot in DIR (default
# /var/tmp/jepatok-trixie; kept and reused), installs the build
# dependencies and backports' Mesa there, builds this checkout's tracked and
# untracked files inside it and runs tests/test-vulkan-coopmat.  It leaves
# the chroot's test-suite.log in ./test-suite-trixie.log.
#
# Not the whole Vulkan op suite: on this lavapipe (Mesa 26.1.6, seen
# 2026-12-07) tests/test-backend-vulkan crashes in about half the runs,
# inside the driver's compiled code, when the depthwise case "257 ch k31"
# follows "dil997 k5" in one process (each alone never crashed; the same
# binary on Debian 13's own Mesa 25.0.7 passed 8 of 8 runs).
#
# Needs root, debootstrap and Debian's package archive.  Exit status: 0
# when the tests pass, 1 when any fails, 2 when the chroot could not be set
# up (no network, no root: nothing was tested).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-/var/tmp/jepatok-trixie}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
jobs=$(nproc)

setup_failed() { echo "check-coopmat-trixie: $*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || setup_failed "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null 2>&1 || setup_failed "needs debootstrap (apt-get install debootstrap)"
if [ ! -x "$dir/usr/bin/apt-get" ]; then
  debootstrap --variant=minbase trixie "$dir" "$mirror" > "$dir.debootstrap.log" 2>&1 ||
    { tail -n 5 "$dir.debootstrap.log" >&2; setup_failed "debootstrap of trixie into $dir failed"; }
fi
echo "deb $mirror trixie-backports main" > "$dir/etc/apt/sources.list.d/backports.list"

mounted=
cleanup() { for m in $mounted; do umount "$dir/$m" 2>/dev/null; done; }
trap cleanup EXIT
for m in proc sys dev; do
  mountpoint -q "$dir/$m" || { mount --bind "/$m" "$dir/$m" && mounted="$mounted $m"; }
done

inside() { chroot "$dir" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 sh -c "$1"; }
inside "apt-get update -q > /tmp/apt.log 2>&1 &&
  apt-get install -y -q --no-install-recommends build-essential autoconf automake libtool libtool-bin \
    autoconf-archive pkg-config libjansson-dev libsndfile1-dev libsoxr-dev libvulkan-dev glslc \
    >> /tmp/apt.log 2>&1 &&
  apt-get install -y -q --no-install-recommends -t trixie-backports mesa-vulkan-drivers >> /tmp/apt.log 2>&1" ||
  { tail -n 5 "$dir/tmp/apt.log" >&2; setup_failed "installing the packages in the chroot failed"; }

rm -rf "$dir/root/jepatok" && mkdir -p "$dir/root/jepatok" || setup_failed "cannot write $dir/root/jepatok"
(cd "$here" && git ls-files -co --exclude-standard -z | xargs -0 tar cf -) | (cd "$dir/root/jepatok" && tar xf -) ||
  setup_failed "cannot copy the checkout"
inside "cd /root/jepatok && autoreconf -fi > /tmp/build.log 2>&1 && ./configure >> /tmp/build.log 2>&1 &&
  make -j$jobs >> /tmp/build.log 2>&1" ||
  { tail -n 20 "$dir/tmp/build.log"; echo "check-coopmat-trixie: the build failed"; exit 1; }
grep -q 'cooperative matrix: yes' "$dir/tmp/build.log" ||
  { echo "check-coopmat-trixie: Debian 13's glslc did not compile the cooperative-matrix shader"; exit 1; }
inside "cd /root/jepatok && ./jepatok devices | sed -n '1,6p'"
status=0
inside "cd /root/jepatok && make -j$jobs check TESTS=tests/test-vulkan-coopmat \
  > /tmp/check.log 2>&1" || status=1
cp "$dir/root/jepatok/test-suite.log" "$here/test-suite-trixie.log" 2>/dev/null
grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' "$dir/tmp/check.log"
# a skip here would mean the newer driver lost the extension: a failure
grep -q '^# SKIP: *0$' "$dir/tmp/check.log" || status=1
[ "$status" -eq 0 ] || tail -n 40 "$dir/root/jepatok/test-suite.log"
exit "$status"
