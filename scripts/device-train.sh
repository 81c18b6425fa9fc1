#!/bin/bash
# device-train.sh: train the shipped model further on a lent GPU machine
# (issue 7), as one prepared run of the device tool.  Here, first:
#
#   scripts/device-pack.sh                      # jepatok and its libraries
#   scripts/device-corpus.sh CORPUS_DIR         # .device-pack/corpus (Opus)
#
# then one call of the device tool (limit 600 s a command, 15 minutes of
# device time a session, the machine's start included):
#
#   carry:     [".device-pack"]
#   command:   bash scripts/device-train.sh .device-pack 420
#   timeout_s: 540
#
# Stage 2 from models/default.safetensors (--init, encoder fine-tuned) on
# the pack's corpus for SECONDS of wall time, on BACKEND (default opencl,
# the faster of the two for training on the H200), BATCH clips of 2 s
# (default 16), with the overrides CONFIG (JSON; default: the
# discriminators from step 0 at lr 1e-4, the step the 2-core sessions could
# not afford).  Checkpoints every EVERY steps (default 250); when the time
# is up the last one is exported.  Takes about SECONDS + 60 s in all.
# Under $OUT (at most 8 files of 16 MiB come back):
#   model-f16.part-aa, ...  the float16 model, split under 16 MiB; here:
#                           cat model-f16.part-* >model.safetensors
#   metrics.jsonl, loss.svg, spectrogram.png, log.txt
# Then evaluate it here against the shipped model on the validation split
# (models/README, "Continuing").
set -u
pack=${1:-.device-pack}
seconds=${2:-420}
backend=${BACKEND:-opencl}
batch=${BATCH:-16}
every=${EVERY:-250}
config=${CONFIG:-'{"warmup_steps": 100, "lr": 0.0001, "disc_start": 0}'}
out=${OUT:-$pack/out}
mkdir -p "$out"
. scripts/device-env.sh "$pack" || exit 1
[ -f "$pack/corpus/list.txt" ] || { echo "device-train: $pack/corpus/list.txt missing: run scripts/device-corpus.sh" >&2; exit 1; }
run=/tmp/jepatok-run
rm -rf "$run"
mkdir -p "$run"
printf '%s\n' "$config" >"$run/config.json"
{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
    cat "$pack/corpus/totals.txt"
    echo "backend $backend, batch $batch, $seconds s, config $config"
} >"$out/log.txt"
# Stopped by the clock: the trainer writes its files atomically, so what
# survives is the last checkpoint written.
timeout "$seconds" "$pack/bin/jepatok" train stage2 --init models/default.safetensors \
    --finetune-encoder 1 --config "$run/config.json" --data "$pack/corpus/list.txt" --out "$run" \
    --backend "$backend" --batch "$batch" --crop-seconds 2 --steps 1000000 --checkpoint-every "$every" \
    --log-every 25 >>"$out/log.txt" 2>&1
echo "train: exit $? after $SECONDS s" >>"$out/log.txt"
if [ -f "$run/model.safetensors" ]; then
    "$pack/bin/jepatok" export "$run/model.safetensors" -o "$run/model-f16.safetensors" --f16 >>"$out/log.txt" 2>&1
    split -b 15M "$run/model-f16.safetensors" "$out/model-f16.part-"
fi
cp "$run/metrics.jsonl" "$run/loss.svg" "$run/spectrogram.png" "$out/" 2>/dev/null
tail -5 "$run/metrics.jsonl" 2>/dev/null
tail -20 "$out/log.txt"
ls -la "$out"
