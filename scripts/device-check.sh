#!/bin/bash
# device-check.sh: the GPU checks of issue 3, as one prepared run for a lent
# GPU machine (the device tool: about 15 minutes of device time per task,
# machine start included).  Built here first with scripts/device-pack.sh;
# then one call of the device tool:
#
#   carry:   [".device-pack"]
#   command: bash scripts/device-check.sh .device-pack
#   timeout_s: 480
#
# It runs from the checkout's root (the tests open models/ and data/ by
# relative paths), finds the vendor's Vulkan and OpenCL drivers, and writes
# to $OUT (at most 8 files come back):
#   env.txt    driver, GPU, `jepatok devices`
#   tests.txt  the backend op tests, fp16 paths and shipped-model tests (TAP)
#   bench.txt  `jepatok bench ops --backend all`; at the end, GEMM with
#              other Vulkan tile shapes
#   codec.txt  encode+decode real-time factors on each backend
# Every step has its own time limit, so one hang costs only its share.
# Locally (CPU drivers) it runs too: a check of the script itself.
set -u
pack=${1:-.device-pack}
out=${OUT:-$pack/out}
mkdir -p "$out"
[ -x "$pack/bin/jepatok" ] || { echo "device-check: $pack/bin/jepatok missing: run scripts/device-pack.sh first" >&2; exit 1; }
export LD_LIBRARY_PATH="$PWD/$pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/jepatok-cache}
bin=$pack/bin

# Vulkan: the loader finds ICDs in the standard places; the device image
# keeps NVIDIA's elsewhere.
j=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$j" ] && export VK_DRIVER_FILES=$j VK_ICD_FILENAMES=$j
# OpenCL: ocl-icd reads /etc/OpenCL/vendors; where that holds nothing, point
# it at a vendor file naming NVIDIA's library, wherever the image has it.
if ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1; then
    lib=$(ldconfig -p | awk '/libnvidia-opencl\.so\.1 / { print $NF; exit }')
    [ -n "$lib" ] || lib=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libnvidia-opencl.so.1' 2>/dev/null | head -1)
    if [ -n "$lib" ]; then
        mkdir -p /tmp/jepatok-icd && echo "$lib" >/tmp/jepatok-icd/nvidia.icd
        export OCL_ICD_VENDORS=/tmp/jepatok-icd
    fi
fi

step() { # step SECONDS FILE TITLE COMMAND...: run with a limit, log under a title
    local limit=$1 file=$2 title=$3
    shift 3
    local t0=$SECONDS
    echo "## $title" >>"$out/$file"
    timeout "$limit" "$@" >>"$out/$file" 2>&1
    local rc=$?
    echo "## $title: exit $rc, $((SECONDS - t0)) s" | tee -a "$out/$file"
    echo >>"$out/$file"
}

{
    date -u
    uname -a
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
    echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} OCL_ICD_VENDORS=${OCL_ICD_VENDORS:-}"
    timeout 60 "$bin/jepatok" devices
} >"$out/env.txt" 2>&1
cat "$out/env.txt"

for t in test-backend-vulkan test-backend-opencl test-vulkan-fp16 test-opencl-fp16 \
    test-model-vulkan test-model-opencl; do
    step 120 tests.txt "$t" "$bin/$t"
done
# the TAP totals, and every failure in full
grep -c '^ok' "$out/tests.txt" | sed 's/^/ok lines: /'
grep '^not ok\|^Bail out' "$out/tests.txt" | head -40

step 180 bench.txt "bench ops --backend all" "$bin/jepatok" bench ops --backend all
sed -n '/^## bench ops --backend all$/,/^## bench ops --backend all:/p' "$out/bench.txt"

for b in cpu vulkan opencl; do
    step 60 codec.txt "bench codec --backend $b" "$bin/jepatok" bench codec \
        --model models/default.safetensors --backend $b
done
cat "$out/codec.txt"

# last, as it matters least: GEMM with other Vulkan tile shapes (wg_n,wg_m,
# rows,columns per thread; the default on GPUs is 16,16,4,4)
for tile in 16,16,8,8 32,8,8,4 16,16,4,8; do
    JC_VULKAN_GEMM_TILE=$tile step 60 bench.txt "bench ops --backend vulkan --quick, tile $tile" \
        "$bin/jepatok" bench ops --backend vulkan --quick
done
grep -E '^## .*tile|^matmul' "$out/bench.txt" | tail -12
