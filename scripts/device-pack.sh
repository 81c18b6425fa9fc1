#!/bin/sh
# device-pack.sh: build the GPU checks here, for a machine that can only run
# them.  A lent GPU machine (the device tool) has a vendor driver but no
# package archive: no jansson, libsndfile, libsoxr, OpenCL or Vulkan loader,
# so it cannot build jepatok.  This builds, from the working tree as it is
# (committed or not), jepatok and the GPU test programs with our own
# libraries linked in, and gathers every shared library they need beyond
# the C library, the two loaders they dlopen included.
#
#   scripts/device-pack.sh [DIR]     (default .device-pack; git ignores it)
#
# It needs a git checkout (it copies what git tracks or would track) and
# the build packages of debian-packages.txt.
#
# DIR/bin   jepatok, tests/test-{backend,model}-{opencl,vulkan},
#           test-opencl-fp16, test-vulkan-fp16
# DIR/lib   libsndfile, libsoxr, libjansson, ... and libOpenCL.so.1,
#           libvulkan.so.1, libGLdispatch.so.0 (NVIDIA's Vulkan driver
#           needs it); DIR/lib/x11: X11 libraries, a fallback for the
#           Vulkan driver
# DIR/debs  Debian's libvulkan1 and GL dispatch packages, for an image
#           without a Vulkan loader
# DIR/corpus is left as it is: scripts/device-corpus.sh makes it.
# JT_SPIRV_C=FILE: embed the shaders of FILE (a compute/vulkan/vulkan_spirv.c
# built elsewhere) instead of compiling them here: Debian 12's glslc cannot
# compile the cooperative-matrix GEMM, and scripts/check-coopmat-trixie.sh
# leaves one with it in DIR/root/jepatok/compute/vulkan/ of its chroot.
# Then, on the device: scripts/device-check.sh DIR or
# scripts/device-train.sh DIR (those files say how).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mkdir -p "${1:-$top/.device-pack}" && cd "${1:-$top/.device-pack}" && pwd)
case $dir in "$top"/*) ;; *) echo "device-pack: DIR must be inside $top (it is carried from there)" >&2; exit 1 ;; esac

rm -rf "${dir:?}/src" "${dir:?}/bin" "${dir:?}/lib"
mkdir -p "$dir/src" "$dir/bin" "$dir/lib"
# A copy of the tree, built in place: the tests open the model and the clip
# by paths relative to the source root, which on the device is the carried
# checkout's root, where device-check.sh runs them.
(cd "$top" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$dir/src")
cd "$dir/src"
autoreconf -fi >/dev/null 2>&1
# No -march=native: the device's processor is another one.  No OpenBLAS:
# our own GEMM dispatches on the processor at run time.
glslc_arg=
if [ -n "${JT_SPIRV_C:-}" ]; then
    cp "$JT_SPIRV_C" compute/vulkan/vulkan_spirv.c
    glslc_arg=GLSLC=none # configure then takes the file as a release tarball's
fi
# shellcheck disable=SC2086 # empty or one word
./configure -q --disable-shared --without-blas --enable-opencl --enable-vulkan $glslc_arg
programs="jepatok tests/test-backend-opencl tests/test-backend-vulkan \
tests/test-model-opencl tests/test-model-vulkan tests/test-opencl-fp16 tests/test-vulkan-fp16 \
tests/test-vulkan-coopmat"
# shellcheck disable=SC2086 # a list of words
make -s -j"$(nproc)" $programs
# shellcheck disable=SC2086
cp $programs "$dir/bin/"
# without debug information: a third of the size, and the device tool
# carries 64 MiB in all (scripts/device-corpus.sh fills most of the rest)
strip "$dir"/bin/*

# Shared libraries: what ldd resolves, less the C library's own; then the
# loaders, which are dlopened and so invisible to ldd.
for p in $programs; do ldd "$p"; done |
    awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
    grep -v -E '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$dir/lib/"; done
for name in libOpenCL.so.1 libvulkan.so.1 libGLdispatch.so.0; do
    path=$(ldconfig -p | awk -v n="$name" '$1 == n && /x86-64/ { print $NF; exit }')
    [ -n "$path" ] || { echo "device-pack: $name not installed (see debian-packages.txt; libglvnd0)" >&2; exit 1; }
    cp -L "$path" "$dir/lib/"
done
# Where the device image has no loader of its own, NVIDIA's Vulkan driver
# also wants the GL dispatch libraries installed (the device tool's README
# gives this set); device-check.sh unpacks them there.  The X11 libraries
# are a fallback for a driver that links them and an image without them.
mkdir -p "$dir/debs" "$dir/lib/x11"
rm -f "$dir/debs/"*.deb
(cd "$dir/debs" && apt-get download -q libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 2>/dev/null)
for name in libX11.so.6 libXext.so.6 libxcb.so.1 libXau.so.6 libXdmcp.so.6 libbsd.so.0 libmd.so.0; do
    path=$(ldconfig -p | awk -v n="$name" '$1 == n && /x86-64/ { print $NF; exit }')
    [ -z "$path" ] || cp -L "$path" "$dir/lib/x11/"
done
cd "$top" && rm -rf "$dir/src"
du -sh "$dir/bin" "$dir/lib" "$dir/debs"
