# device-env.sh PACK: sourced (". scripts/device-env.sh .device-pack") on a
# lent GPU machine, from the checkout's root: puts the pack's libraries on
# the library path and points the Vulkan and OpenCL loaders at NVIDIA's
# drivers where the device image keeps them.  device-check.sh uses it; so
# can a one-off command of the device tool.  Sets $icd (NVIDIA's Vulkan
# driver library, if found).
# shellcheck shell=bash
pack=${1:-.device-pack}
[ -x "$pack/bin/jepatok" ] || { echo "device-env: $pack/bin/jepatok missing: run scripts/device-pack.sh first" >&2; return 1; }
export LD_LIBRARY_PATH="$PWD/$pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/jepatok-cache}

# Vulkan: the loader finds ICDs in the standard places; the device image
# keeps NVIDIA's elsewhere, and has no Vulkan loader or GL dispatch
# libraries of its own: unpack Debian's (the device tool's README recipe).
j=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$j" ] && export VK_DRIVER_FILES=$j VK_ICD_FILENAMES=$j
if ! ldconfig -p | grep -q 'libvulkan\.so\.1 '; then
    for f in "$pack"/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
# The driver library's own needs: X11 from the pack if the image lacks it.
icd=$(ldconfig -p | awk '/libGLX_nvidia\.so\.0 / { print $NF; exit }')
if [ -n "$icd" ] && ldd "$icd" | grep -q 'not found'; then
    export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$PWD/$pack/lib/x11"
fi
# OpenCL: ocl-icd reads /etc/OpenCL/vendors, which on the device image
# names PoCL alone.  Where NVIDIA's library is there, a vendor folder with
# it alone makes the GPU OpenCL device 0, the one the tests take.
lib=$(ldconfig -p | awk '/libnvidia-opencl\.so\.1 / { print $NF; exit }')
[ -n "$lib" ] || lib=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libnvidia-opencl.so.1' 2>/dev/null | head -1)
if [ -n "$lib" ]; then
    mkdir -p /tmp/jepatok-icd && echo "$lib" >/tmp/jepatok-icd/nvidia.icd
    export OCL_ICD_VENDORS=/tmp/jepatok-icd
fi

