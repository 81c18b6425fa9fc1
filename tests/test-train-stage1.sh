#!/bin/sh
# test-train-stage1.sh: `jepatok train stage1` end to end on speech made
# here with espeak-ng: the tiny model's loss falls clearly, no collapse, a
# bad file is skipped with a message, and an interrupted-and-resumed run
# ends bitwise identical to an uninterrupted one.
JEPATOK=${JEPATOK:-./jepatok}
command -v espeak-ng >/dev/null 2>&1 || { echo "1..0 # SKIP espeak-ng is not installed"; exit 0; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/jt-train.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

mkdir -p "$tmp/data/sub"
i=1
for text in "the quick brown fox jumps over the lazy dog" "speech in, tokens out, and back to speech" \
            "four score and seven years ago our fathers brought forth" "a stitch in time saves nine" \
            "she sells sea shells by the sea shore" "how much wood would a woodchuck chuck"; do
  espeak-ng -v "en+m$i" -s $((130 + 10 * i)) -w "$tmp/data/sub/clip$i.wav" "$text" 2>/dev/null
  i=$((i + 1))
done
echo "this is not audio" > "$tmp/data/broken.wav"
common="--config tiny --data $tmp/data --batch 4 --crop-seconds 2 --log-every 5"

$JEPATOK train stage1 $common --out "$tmp/run" --steps 60 --lr 2e-3 2> "$tmp/log"
ok $? "train stage1 tiny, 60 steps"
first=$(head -n 3 "$tmp/run/metrics.jsonl" | sed 's/.*"loss": \([^,]*\),.*/\1/' | awk '{s += $1} END {print s / NR}')
last=$(tail -n 3 "$tmp/run/metrics.jsonl" | sed 's/.*"loss": \([^,]*\),.*/\1/' | awk '{s += $1} END {print s / NR}')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.5 * a) }'
ok $? "loss falls clearly: first logs $first, last logs $last (< half)"
tstd=$(tail -n 1 "$tmp/run/metrics.jsonl" | sed 's/.*"target_std": \([^,]*\),.*/\1/')
awk -v t="$tstd" 'BEGIN { exit !(t > 0.01) }'
ok $? "no collapse: target std over frames $tstd > 0.01"
for key in step loss pred_std target_std masked_fraction lr seconds; do
  grep -q "\"$key\":" "$tmp/run/metrics.jsonl"
  ok $? "metrics.jsonl has $key"
done
grep -q "skipped 1 unusable file(s): .*broken.wav" "$tmp/log"
ok $? "the broken file is skipped with its name"
test -s "$tmp/run/loss.svg" && grep -q "<polyline" "$tmp/run/loss.svg"
ok $? "loss curve picture written"

$JEPATOK train stage1 $common --out "$tmp/a" --steps 8 --checkpoint-every 4 2>/dev/null
$JEPATOK train stage1 $common --out "$tmp/b" --steps 4 --checkpoint-every 4 2>/dev/null
$JEPATOK train stage1 $common --out "$tmp/b" --steps 8 --checkpoint-every 4 --resume 2>/dev/null
cmp -s "$tmp/a/checkpoint.safetensors" "$tmp/b/checkpoint.safetensors"
ok $? "interrupted and resumed run ends bitwise identical to an uninterrupted one"

$JEPATOK train stage1 --config tiny --out "$tmp/x" 2>/dev/null
[ $? -eq 2 ]
ok $? "missing --data is a usage error (exit 2)"
$JEPATOK train stage1 --config tiny --data "$tmp/nowhere" --out "$tmp/x" 2> "$tmp/err"
[ $? -eq 1 ] && grep -q "nowhere" "$tmp/err"
ok $? "a missing data path is an error naming it"
mkdir -p "$tmp/onlybad" && echo x > "$tmp/onlybad/a.wav"
$JEPATOK train stage1 --config tiny --data "$tmp/onlybad" --out "$tmp/y" --steps 2 --batch 1 2> "$tmp/err"
[ $? -eq 1 ] && grep -q "no usable audio" "$tmp/err"
ok $? "a corpus of unusable files fails with a reason"
echo "1..$n"
