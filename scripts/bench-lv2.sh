#!/bin/sh
# bench-lv2.sh: what the LV2 plugin costs, against `jepatok roundtrip` on
# the same audio, in the same run (alternating; best of REPEATS).
#   scripts/bench-lv2.sh [SECONDS] [REPEATS]     (defaults 60, 2; run after make)
# The plugin renders free-wheeling through lv2apply, so its worker runs
# back to back: the time per 1.6 s chunk, from two input lengths (which
# cancels start-up: library, model, warm-up), is what a live host needs to
# fit in the plugin's 0.8 s margin.  Both use the CPU with THREADS
# threads (default 2, the plugin's own default).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
repeats=${2:-2}
threads=${THREADS:-2}
uri=urn:jepatok:lv2:codec
tmp=$(mktemp -d "${TMPDIR:-/tmp}/jt-bench-lv2.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export LV2_PATH="$here/plugins/lv2/bundles" JEPATOK_LIBRARY="$here/.libs/libjepatok.so.0" JEPATOK_BACKEND="cpu:threads=$threads"
short=10
"$here/tests/lv2-wav" pad "$here/data/speech-ru.wav" 24000 $((seconds - 5)) "$tmp/long.wav"
"$here/tests/lv2-wav" pad "$here/data/speech-ru.wav" 24000 $((short - 5)) "$tmp/short.wav"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }
lv2_long="" lv2_short="" rt_long=""
i=0
while [ $i -lt "$repeats" ]; do
  t0=$(now); lv2apply -i "$tmp/long.wav" -o "$tmp/o.wav" -c freewheel 1 $uri; t1=$(now)
  lv2_long=$(best "$(elapsed "$t0" "$t1")" "$lv2_long")
  t0=$(now); lv2apply -i "$tmp/short.wav" -o "$tmp/o.wav" -c freewheel 1 $uri; t1=$(now)
  lv2_short=$(best "$(elapsed "$t0" "$t1")" "$lv2_short")
  t0=$(now); "$here/jepatok" roundtrip "$tmp/long.wav" -o "$tmp/r.wav" -q; t1=$(now)
  rt_long=$(best "$(elapsed "$t0" "$t1")" "$rt_long")
  i=$((i + 1))
done
awk -v s="$seconds" -v sh="$short" -v l="$lv2_long" -v ls="$lv2_short" -v r="$rt_long" -v th="$threads" 'BEGIN {
  chunk = (l - ls) / ((s - sh) / 1.6)
  printf "%d s of speech, cpu with %d threads, best of runs:\n", s, th
  printf "  jepatok roundtrip        %6.2f s   real-time factor %.4f\n", r, r / s
  printf "  plugin (lv2apply)        %6.2f s   real-time factor %.4f (%.1fx the roundtrip)\n", l, l / s, l / r
  printf "  plugin per 1.6 s chunk   %6.0f ms  (of its 800 ms margin; start-up %.2f s)\n", chunk * 1000, ls - chunk * sh / 1.6
}'
