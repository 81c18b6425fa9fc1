#!/bin/sh
# check-lv2-jack.sh: the LV2 plugin in a real-time host, which lv2apply
# (tests/test-lv2.sh) is not: jalv runs it as a JACK client, on a private
# JACK server with the dummy driver (no sound card), a clip is played into
# it, and its input and output are recorded in the same JACK cycles.
#   scripts/check-lv2-jack.sh [RATE [PERIOD]]   (defaults 48000 1024; after make)
# Checks, each a PASS or FAIL line (exit status 1 on any FAIL):
#   - JACK's latency graph carries the plugin's latency (3.2 s at RATE);
#   - bypassed (enabled 0): the output is the input, sample for sample,
#     exactly that latency late;
#   - the codec on: the output scores its STOI at that latency and not
#     50 ms off it, within 0.05 of `jepatok roundtrip` on the whole clip;
#   - the plugin's JACK client finished every process cycle in time (no
#     xrun names it) and the plugin dropped no chunk (its `dropped` port).
# Needs jackd2, jalv, sndfile-tools and sox (not in debian-packages.txt:
# this is a manual check, not a test).  Real time is timing-bound: with the
# cores busy (a training run beside it) process cycles miss their
# deadline and the recordings lose cycles, which is why it is a script and
# not part of `make check`.  The server runs without real-time scheduling
# (-r), which containers rarely grant; JACK_RT=-R asks for it.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
rate=${1:-48000}
period=${2:-1024}
uri=urn:jepatok:lv2:codec
latency_s=3.2
clip=$here/data/speech-ru.wav
for tool in jackd jalv jack_lsp jack_connect jack_rec jack_wait sndfile-jackplay sox; do
  command -v $tool >/dev/null 2>&1 || { echo "check-lv2-jack: $tool is not installed (jackd2, jalv, sndfile-tools, sox)"; exit 2; }
done
[ -x "$here/tests/lv2-wav" ] || make -C "$here" tests/lv2-wav >/dev/null || exit 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/jt-lv2-jack.XXXXXX") || exit 2
JACK_DEFAULT_SERVER=jepatok-check-$$
export JACK_DEFAULT_SERVER LV2_PATH="$here/plugins/lv2/bundles" JEPATOK_LIBRARY="$here/.libs/libjepatok.so.0"
jackd_pid=""
cleanup() {
  exec 3>&- 2>/dev/null
  [ -n "$jackd_pid" ] && kill "$jackd_pid" 2>/dev/null && wait "$jackd_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0 xruns=0 late=0
check() { if [ "$1" -eq 0 ]; then echo "PASS $2"; else echo "FAIL $2"; fails=$((fails + 1)); fi; }

jackd -n "$JACK_DEFAULT_SERVER" ${JACK_RT:--r} -d dummy -r "$rate" -p "$period" > "$tmp/jackd.log" 2>&1 &
jackd_pid=$!
jack_wait -w -t 10 >/dev/null 2>&1 || { cat "$tmp/jackd.log"; echo "check-lv2-jack: the JACK server did not start"; exit 2; }
latency=$(awk -v r="$rate" -v l="$latency_s" 'BEGIN { printf "%d", r * l + 0.5 }')
"$here/tests/lv2-wav" pad "$clip" "$rate" 4 "$tmp/in.wav" || exit 2
seconds=$(awk -v r="$rate" -v l="$latency_s" 'BEGIN { printf "%d", 5 + 4 + l + 4 }')

wait_port() {  # PORT: until it exists (20 s at most)
  i=0
  while ! jack_lsp 2>/dev/null | grep -qx "$1"; do
    i=$((i + 1)); [ $i -gt 200 ] && return 1; sleep 0.1
  done
}
samples() {  # WAV CHANNEL: one sample value per line
  sox "$1" -t dat -c 1 - remix "$2" | tail -n +3 | tr -d '\r' | awk '{ print $2 }'
}

# run NAME ENABLED: the plugin as JACK client NAME, the clip through it;
# leaves $tmp/NAME.wav (channel 1: its input, 2: its output) and
# $tmp/NAME.jalv (jalv's printed control outputs); adds the xruns while
# the clip played to $xruns, and those where the plugin's client had not
# finished its cycle to $late
run() {
  mkfifo "$tmp/$1.ctl"
  jalv -p -n "$1" -c enabled="$2" "$uri" < "$tmp/$1.ctl" > "$tmp/$1.jalv" 2>&1 &
  jalv_pid=$!
  exec 3> "$tmp/$1.ctl"   # jalv reads commands until this closes
  wait_port "$1:out" || { cat "$tmp/$1.jalv"; echo "FAIL jalv did not start the plugin"; exit 1; }
  (sleep 2; echo) | sndfile-jackplay -w "$tmp/in.wav" > /dev/null 2>&1 &
  play_pid=$!
  wait_port jackplay:out_1 || { echo "FAIL sndfile-jackplay did not start"; exit 1; }
  jack_lsp -l "$1:" > "$tmp/$1.latency"
  x0=$(wc -l < "$tmp/jackd.log")
  jack_connect jackplay:out_1 "$1:in"
  jack_rec -f "$tmp/$1.wav" -d "$seconds" jackplay:out_1 "$1:out" > /dev/null 2>&1
  tail -n +$((x0 + 1)) "$tmp/jackd.log" | grep -i xrun > "$tmp/$1.xruns"
  late=$((late + $(grep -c "client = $1 was not finished" "$tmp/$1.xruns")))
  xruns=$((xruns + $(wc -l < "$tmp/$1.xruns")))
  exec 3>&-
  wait "$play_pid" "$jalv_pid"
}

run dry 0
tr -s ' \t' ' ' < "$tmp/dry.latency" | sed 's/^/# /'
grep -q "\[ $latency $latency \]" "$tmp/dry.latency"
check $? "JACK's latency graph: $latency frames ($latency_s s at $rate Hz) through the plugin"
samples "$tmp/dry.wav" 1 > "$tmp/dry.in"
samples "$tmp/dry.wav" 2 | tail -n +$((latency + 1)) > "$tmp/dry.out"
paste "$tmp/dry.in" "$tmp/dry.out" | awk -v n="$latency" '
  $2 == "" { next }
  { if ($1 != 0) heard++; if ($1 != $2) bad++ }
  END { printf "# bypassed: %d input samples not silent, %d of %d output samples differ from the input %d samples earlier\n", heard, bad, NR, n
        exit !(heard > 0 && bad == 0) }'
check $? "bypassed: the output is the input, sample for sample, $latency_s s late"

run wet 1
samples "$tmp/wet.wav" 1 | awk '$1 != 0 { print (NR - 1); exit }' > "$tmp/start"
start=$(awk -v r="$rate" '{ printf "%.6f", $1 / r }' "$tmp/start")
sox "$tmp/wet.wav" "$tmp/wet.out.wav" remix 2
"$here/jepatok" roundtrip "$clip" -o "$tmp/whole.wav" -q
whole=$("$here/tests/lv2-wav" score "$clip" "$tmp/whole.wav" 0 | awk '{ print $2 }')
scores=""
for off in -0.05 0 0.05; do
  at=$(awk -v s="$start" -v l="$latency_s" -v o="$off" 'BEGIN { print s + l + o }')
  got=$("$here/tests/lv2-wav" score "$clip" "$tmp/wet.out.wav" "$at" | awk '{ print $2 }')
  echo "# codec on: STOI $got with the output taken ${off} s from the latency"
  scores="$scores $got"
done
echo "$scores $whole" | awk '{ exit !($2 > $1 + 0.1 && $2 > $3 + 0.1 && $2 > $4 - 0.05) }'
check $? "codec on: STOI $(echo "$scores" | awk '{ print $2 }') at the latency (the whole clip by jepatok roundtrip: $whole)"

dropped=$(cat "$tmp/dry.jalv" "$tmp/wet.jalv" | awk '$1 == "dropped" { d = $3 } END { print d + 0 }')
echo "# xruns while the clip played: $xruns (JACK's own, e.g. its dummy driver's timer waking late, count too)"
[ "$late" -eq 0 ] && [ "$dropped" -eq 0 ]
check $? "the plugin finished every cycle in time (missed: $late) and dropped no chunk ($dropped), period $period at $rate Hz"
exit $((fails > 0))
