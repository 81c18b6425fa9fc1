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
#   bench.txt  `jepatok bench ops --backend all`; at the end, Vulkan's
#              register and shared-memory GEMMs at several tile shapes
#   codec.txt  encode+decode real-time factors on each backend
#   train.txt  stage-2 training step times, CPU against the GPU backends
#              (and Vulkan with the shared-memory GEMM)
# Every step has its own time limit, so one hang costs only its share.
# Locally (CPU drivers) it runs too: a check of the script itself.
set -u
pack=${1:-.device-pack}
out=${OUT:-$pack/out}
mkdir -p "$out"
. scripts/device-env.sh "$pack" || exit 1
bin=$pack/bin

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
    # where the drivers were found, for when one is not
    cat "${VK_DRIVER_FILES:-/dev/null}" /etc/OpenCL/vendors/*.icd "${OCL_ICD_VENDORS:-/nonexistent}"/*.icd 2>/dev/null
    ldconfig -p | grep -E 'libnvidia-opencl|libGLX_nvidia|libvulkan|libOpenCL'
    [ -z "$icd" ] || ldd "$icd"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    VK_LOADER_DEBUG=error,warn,driver timeout 60 "$bin/jepatok" devices 2>&1 | grep -v "^ " | head -40
    timeout 60 "$bin/jepatok" devices
} >"$out/env.txt" 2>&1
cat "$out/env.txt"

for t in test-backend-vulkan test-backend-opencl test-vulkan-fp16 test-opencl-fp16 test-vulkan-coopmat \
    test-model-vulkan test-model-opencl; do
    step 120 tests.txt "$t" "$bin/$t"
done
# the shared-memory GEMM (tests/test-vulkan-gemm-tiled.sh does this on CI)
step 120 tests.txt "test-backend-vulkan, JC_VULKAN_GEMM=tiled" env JC_VULKAN_GEMM=tiled \
    "$bin/test-backend-vulkan" vulkan "vulkan gemm_tiled"
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

# Is training there worth it (issue 7)?  Stage-2 step time at the shipped
# fine-tune's shape (batch 4, 2 s crops), at a GPU-sized batch, and with the
# discriminators, against the CPU backend on the device's cores.
for args in "--backend cpu --batch 4" "--backend vulkan --batch 4" "--backend opencl --batch 4" \
    "--backend vulkan --batch 16" "--backend vulkan --batch 16 --adversarial"; do
    # shellcheck disable=SC2086 # a list of words
    step 75 train.txt "bench stage2 $args" "$bin/jepatok" bench stage2 $args \
        --crop-seconds 2 --steps 3 --warmup 1
done
grep '^{' "$out/train.txt"

# Vulkan's two GEMM kernels (JC_VULKAN_GEMM: registers, the default, or
# tiled = shared memory, TK-deep slices) at several tile shapes (wg_n,wg_m,
# rows,columns per invocation; the default on GPUs is 16,16,4,4), then the
# training step with the shared-memory kernel: the data to choose the
# default by.
for v in "registers 16,16,4,4" "registers 16,16,4,8" "tiled 16,16,4,4" "tiled 16,16,8,8" \
    "tiled,8 16,16,8,8" "tiled 16,16,4,8" "tiled,32 16,16,4,4"; do
    # shellcheck disable=SC2086 # two words
    set -- $v
    step 60 bench.txt "bench ops --backend vulkan --quick, JC_VULKAN_GEMM=$1 tile $2" \
        env JC_VULKAN_GEMM="$1" JC_VULKAN_GEMM_TILE="$2" "$bin/jepatok" bench ops --backend vulkan --quick \
        --only matmul,conv
done
grep -E '^## .*tile|^matmul|^conv' "$out/bench.txt" | tail -40
# the cooperative-matrix GEMM (where the pack embeds its shader: JT_SPIRV_C
# in device-pack.sh) against the fp32 kernels, and on the codec
step 60 bench.txt "bench ops --backend vulkan --quick, JC_VULKAN_COOPMAT=1" env JC_VULKAN_COOPMAT=1 \
    "$bin/jepatok" bench ops --backend vulkan --quick --only matmul,conv
grep -E '^## .*COOPMAT|^matmul|^conv' "$out/bench.txt" | tail -12
step 60 codec.txt "bench codec --backend vulkan, JC_VULKAN_COOPMAT=1" env JC_VULKAN_COOPMAT=1 \
    "$bin/jepatok" bench codec --model models/default.safetensors --backend vulkan
tail -4 "$out/codec.txt"
# the depthwise convolution's direct kernels against the implicit GEMM
step 60 bench.txt "bench ops --backend vulkan --quick --only depthwise, JC_VULKAN_NO_DIRECT_DW=1" \
    env JC_VULKAN_NO_DIRECT_DW=1 "$bin/jepatok" bench ops --backend vulkan --quick --only depthwise
grep '^depthwise' "$out/bench.txt"
for args in "--batch 4" "--batch 16"; do
    # shellcheck disable=SC2086 # a list of words
    step 75 train.txt "bench stage2 --backend vulkan $args, JC_VULKAN_GEMM=tiled" env JC_VULKAN_GEMM=tiled \
        "$bin/jepatok" bench stage2 --backend vulkan $args --crop-seconds 2 --steps 3 --warmup 1
done
grep '^{' "$out/train.txt"
