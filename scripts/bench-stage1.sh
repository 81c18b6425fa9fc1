#!/bin/sh
# bench-stage1.sh: stage-1 training step time and memory, jepatok (CPU
# backend) against PyTorch 1.13 CPU (Debian python3-torch) running the same
# architecture (scripts/torch_stage1.py), in the same run, alternating, so
# machine noise hits both alike.  Prints one table row per configuration.
#   scripts/bench-stage1.sh [THREADS] [REPEATS]
# Environment: CONFIGS (default "small paper"), BATCH (4), CROP (4 seconds),
# STEPS (3).  PyTorch runs with GLIBC_TUNABLES set so its large frees do not
# thrash (otherwise it measures glibc, not PyTorch), and with
# OMP_WAIT_POLICY=PASSIVE: its OpenMP threads otherwise spin while waiting,
# and on a shared machine they starve each other (measured here: 14.7 s
# per small step spinning vs 0.92 s passive); our pool sleeps likewise.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
JEPATOK=${JEPATOK:-$here/jepatok}
threads=${1:-$(nproc)}
repeats=${2:-2}
batch=${BATCH:-4}
crop=${CROP:-4}
steps=${STEPS:-3}
tunables="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184"
field() { sed "s/.*\"$1\": \([^,}]*\).*/\1/"; }

printf '%-6s %5s %5s %12s %12s %7s %10s %10s\n' config batch crop "ours s/step" "torch s/step" ratio "ours MiB" "torch MiB"
for cfg in ${CONFIGS:-small paper}; do
  best_ours=""; best_torch=""; mem_ours=""; mem_torch=""
  b=$batch; [ "$cfg" = paper ] && b=${PAPER_BATCH:-1}
  for r in $(seq "$repeats"); do
    o=$("$JEPATOK" bench stage1 --config "$cfg" --batch "$b" --crop-seconds "$crop" --steps "$steps" \
        --warmup 1 --threads "$threads")
    t=$(GLIBC_TUNABLES=$tunables OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$here/scripts/torch_stage1.py" --config "$cfg" --batch "$b" \
        --crop-seconds "$crop" --steps "$steps" --warmup 1 --threads "$threads")
    so=$(echo "$o" | field seconds_per_step); st=$(echo "$t" | field seconds_per_step)
    best_ours=$(awk -v a="$so" -v b="${best_ours:-1e9}" 'BEGIN { print (a < b) ? a : b }')
    best_torch=$(awk -v a="$st" -v b="${best_torch:-1e9}" 'BEGIN { print (a < b) ? a : b }')
    mem_ours=$(echo "$o" | field peak_rss_mib); mem_torch=$(echo "$t" | field peak_rss_mib)
  done
  ratio=$(awk -v a="$best_ours" -v b="$best_torch" 'BEGIN { printf "%.2f", a / b }')
  printf '%-6s %5s %5s %12s %12s %7s %10s %10s\n' "$cfg" "$b" "$crop" "$best_ours" "$best_torch" "$ratio" "$mem_ours" "$mem_torch"
done
echo "(best of $repeats runs, median of $steps steps each; $threads threads; PyTorch with OMP_WAIT_POLICY=PASSIVE and GLIBC_TUNABLES; ratio = ours / torch, lower is faster)"
