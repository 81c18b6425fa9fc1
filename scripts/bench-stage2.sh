#!/bin/sh
# bench-stage2.sh: stage 2 of jepatok (CPU backend) against PyTorch 1.13 CPU
# (Debian python3-torch) running the same model (scripts/torch_stage2.py),
# in the same run, alternating, so machine noise hits both alike:
#   codec: encode and decode real-time factors of S seconds of audio
#     (`jepatok bench codec`, warm call; torch_stage2.py --mode codec);
#   step: seconds per stage-2 training step (`jepatok bench stage2`;
#     torch_stage2.py --mode step), with the discriminators by default.
# Prints two tables, one row per configuration; each number is the best of
# REPEATS runs.
#   scripts/bench-stage2.sh [THREADS] [REPEATS]
# Environment: CONFIGS (default "small paper"); codec: CODEC_SECONDS (8; paper:
# PAPER_SECONDS, 4); step: BATCH (4), CROP (2 seconds), paper: PAPER_BATCH
# (1), PAPER_CROP (0.8), STEPS (3), WARMUP (1), ADVERSARIAL (1: with the
# discriminators as after disc_start; 0: L1 + MRSTFT only); PARTS ("codec
# step").  PyTorch runs with GLIBC_TUNABLES and OMP_WAIT_POLICY=PASSIVE, as
# in scripts/bench-stage1.sh (which says why).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
JEPATOK=${JEPATOK:-$here/jepatok}
threads=${1:-$(nproc)}
repeats=${2:-2}
steps=${STEPS:-3}
warmup=${WARMUP:-1}
parts=${PARTS:-codec step}
adv=""; [ "${ADVERSARIAL:-1}" = 1 ] && adv=--adversarial
tunables="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184"
field() { sed "s/.*\"$1\": \([^,}]*\).*/\1/"; }
min() { awk -v a="$1" -v b="${2:-1e9}" 'BEGIN { print (a + 0 < b + 0) ? a : b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
torch() { GLIBC_TUNABLES=$tunables OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$here/scripts/torch_stage2.py" "$@"; }

for part in $parts; do
  case $part in
  codec)
    echo "codec real-time factors (seconds of compute per second of audio; ratio = torch / ours, higher: ours faster)"
    printf '%-6s %5s | %8s %8s %6s | %8s %8s %6s | %8s %8s %6s\n' config secs "enc ours" "torch" ratio \
      "dec ours" "torch" ratio "tot ours" "torch" ratio
    for cfg in ${CONFIGS:-small paper}; do
      secs=${CODEC_SECONDS:-8}; [ "$cfg" = paper ] && secs=${PAPER_SECONDS:-4}
      oe=""; od=""; ot=""; te=""; td=""; tt=""
      for r in $(seq "$repeats"); do
        o=$("$JEPATOK" bench codec --config "$cfg" --seconds "$secs" --threads "$threads")
        t=$(torch --mode codec --config "$cfg" --seconds "$secs" --threads "$threads")
        oe=$(min "$(echo "$o" | field rtf_encode)" "$oe"); od=$(min "$(echo "$o" | field rtf_decode)" "$od")
        ot=$(min "$(echo "$o" | field rtf)" "$ot")
        te=$(min "$(echo "$t" | field rtf_encode)" "$te"); td=$(min "$(echo "$t" | field rtf_decode)" "$td")
        tt=$(min "$(echo "$t" | field rtf)" "$tt")
      done
      printf '%-6s %5s | %8.4f %8.4f %6s | %8.4f %8.4f %6s | %8.4f %8.4f %6s\n' "$cfg" "$secs" \
        "$oe" "$te" "$(ratio "$te" "$oe")" "$od" "$td" "$(ratio "$td" "$od")" "$ot" "$tt" "$(ratio "$tt" "$ot")"
    done
    echo "(best of $repeats runs, warm call; $threads threads)"
    ;;
  step)
    echo "stage-2 training step${adv:+ with the discriminators (generator + discriminator step)} (ratio = ours / torch, lower: ours faster)"
    printf '%-6s %5s %5s | %12s %12s %7s | %10s %10s\n' config batch crop "ours s/step" "torch s/step" ratio \
      "ours MiB" "torch MiB"
    for cfg in ${CONFIGS:-small paper}; do
      b=${BATCH:-4}; c=${CROP:-2}
      [ "$cfg" = paper ] && { b=${PAPER_BATCH:-1}; c=${PAPER_CROP:-0.8}; }
      so_best=""; st_best=""; mo=""; mt=""
      for r in $(seq "$repeats"); do
        o=$("$JEPATOK" bench stage2 --config "$cfg" --batch "$b" --crop-seconds "$c" --steps "$steps" \
            --warmup "$warmup" --threads "$threads" $adv)
        t=$(torch --mode step --config "$cfg" --batch "$b" --crop-seconds "$c" --steps "$steps" \
            --warmup "$warmup" --threads "$threads" $adv)
        so_best=$(min "$(echo "$o" | field seconds_per_step)" "$so_best")
        st_best=$(min "$(echo "$t" | field seconds_per_step)" "$st_best")
        mo=$(echo "$o" | field peak_rss_mib); mt=$(echo "$t" | field peak_rss_mib)
      done
      printf '%-6s %5s %5s | %12s %12.4f %7s | %10s %10.0f\n' "$cfg" "$b" "$c" "$so_best" "$st_best" \
        "$(ratio "$so_best" "$st_best")" "$mo" "$mt"
    done
    echo "(best of $repeats runs, median of $steps steps after $warmup warm-up each; $threads threads)"
    ;;
  *) echo "bench-stage2.sh: unknown part '$part'" >&2; exit 2 ;;
  esac
done
echo "(PyTorch with OMP_WAIT_POLICY=PASSIVE and GLIBC_TUNABLES; load average: $(uptime | sed 's/.*load average: //'))"
