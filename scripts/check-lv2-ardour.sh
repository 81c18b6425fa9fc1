#!/bin/sh
# check-lv2-ardour.sh: the LV2 plugin in a DAW.  Ardour 7 runs headless
# (ardour7-lua, its "None (Dummy)" audio backend, no sound card and no
# display): a session at RATE with one mono track that holds the clip, the
# plugin inserted on the track, exported by Ardour's own export (which
# runs the session free-wheeling, as a user's "Export" does).
#   scripts/check-lv2-ardour.sh [RATE]   (default 48000; after make)
# Checks, each a PASS or FAIL line (exit status 1 on any FAIL):
#   - Ardour loads the plugin and reads its latency: the track's signal
#     latency is 3.2 s at RATE;
#   - exporting the session again (a new Ardour process) gives the same
#     audio, sample for sample (the plugin restarts its codec when
#     free-wheeling starts);
#   - Ardour compensates the latency: the exported mix scores the codec's
#     STOI with no delay, not 50 ms either side of it and not 3.2 s late,
#     within 0.05 of `jepatok roundtrip` on the whole clip.
# Ardour's Lua API imports audio only through the editor window, so the
# script writes the clip's source, region and session range into the
# session file itself, in the form Ardour 7 saves them (times in
# superclock ticks, "a<ticks>", lengths "a<ticks>@a<position>").
# Needs ardour (Debian 12: Ardour 7.3) and sox (not in debian-packages.txt:
# this is a manual check, not a test).
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
rate=${1:-48000}
latency_s=3.2
clip=$here/data/speech-ru.wav
preset_file=/usr/share/ardour7/export/FLAC.preset  # 24 bits, no dither (wav.preset dithers: noise)
for tool in ardour7-lua sox; do
  command -v $tool >/dev/null 2>&1 || { echo "check-lv2-ardour: $tool is not installed (ardour, sox)"; exit 2; }
done
[ -r "$preset_file" ] || { echo "check-lv2-ardour: no $preset_file (Ardour 7's export presets)"; exit 2; }
[ -x "$here/tests/lv2-wav" ] || make -C "$here" tests/lv2-wav >/dev/null || exit 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/jt-lv2-ardour.XXXXXX") || exit 2
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
export LV2_PATH="$here/plugins/lv2/bundles" JEPATOK_LIBRARY="$here/.libs/libjepatok.so.0"
fails=0
check() { if [ "$1" -eq 0 ]; then echo "PASS $2"; else echo "FAIL $2"; fails=$((fails + 1)); fi; }

# the clip at the session's rate, 4 s of silence after it so that the
# plugin's 3.2 s of latency are flushed inside the session range
"$here/tests/lv2-wav" pad "$clip" "$rate" 4 "$tmp/clip.wav" || exit 2
samples=$(soxi -s "$tmp/clip.wav" 2>/dev/null)
preset=$(sed -n 's/.*<ExportPreset id="\([^"]*\)".*/\1/p' "$preset_file")
latency=$(awk -v r="$rate" -v l="$latency_s" 'BEGIN { printf "%d", r * l + 0.5 }')

cat > "$tmp/session.lua" <<EOF
-- Run twice: JT_EXPORT=mix builds the session and exports it, then
-- JT_EXPORT=again opens it in a new Ardour process and exports it again.
-- (Ardour 7.3 aborts now and then while freeing an export object, free():
-- invalid next size in ~PortExportChannel, which has cut a second export
-- in the same process short; one export per process is not cut.)
local name = os.getenv ("JT_EXPORT")
AudioEngine:set_backend ("None (Dummy)", "", "")
if name == "mix" then
-- 1. a session with the track and the plugin, as a user would set it up
assert (create_session ("$tmp/s", "s", $rate), "cannot create the session")
local track = Session:new_audio_track (1, 2, nil, 1, "speech",
    ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true):front ()
local plugin = ARDOUR.LuaAPI.new_plugin (Session, "urn:jepatok:lv2:codec", ARDOUR.PluginType.LV2, "")
assert (not plugin:isnil (), "Ardour does not find urn:jepatok:lv2:codec")
assert (track:add_processor_by_index (plugin, 0, nil, true) == 0, "cannot insert the plugin")
Session:save_state ("", false, false, false, false, false)
close_session ()

-- 2. the clip on the track from time 0: source, whole-file region, the
-- region in the track's playlist, and the session range
local ticks = 282240000 * $samples // $rate  -- Ardour 7: 282240000 superclock ticks a second
local path = "$tmp/s/s.ardour"
local f = assert (io.open (path)); local xml = f:read ("a"); f:close ()
local function put (old, new)
  local a, b = xml:find (old, 1, true)
  assert (a, "no " .. old .. " in the session file")
  xml = xml:sub (1, a - 1) .. new .. xml:sub (b + 1)
end
local function region (id, whole)
  return string.format ('<Region id="%d" name="clip" whole-file="%d" start="a0" length="a%d@a0" ' ..
      'position="a0" type="audio" source-0="9001" master-source-0="9001" channels="1"/>', id, whole, ticks)
end
put ("<Sources/>", '<Sources><Source name="clip.wav" type="audio" flags="" id="9001" channel="0" gain="1"/></Sources>')
put ("<Regions/>", "<Regions>" .. region (9101, 1) .. "</Regions>")
local a, b = xml:find ('name="speech" type="audio"[^>]-/>')
assert (a, "no playlist for the track")
xml = xml:sub (1, b - 2) .. ">" .. region (9102, 0) .. "</Playlist>" .. xml:sub (b + 1)
put ("<Locations/>", string.format ('<Locations><Location id="9201" name="session" start="a0" end="a%d" ' ..
    'flags="IsSessionRange" locked="0" timestamp="0"/></Locations>', ticks))
put ('session-range-is-free="1"', 'session-range-is-free="0"')
f = assert (io.open (path, "w")); f:write (xml); f:close ()
os.execute ("mkdir -p $tmp/s/interchange/s/audiofiles && cp $tmp/clip.wav $tmp/s/interchange/s/audiofiles/")
end

-- 3. open it again and export it
assert (load_session ("$tmp/s", "s"), "cannot load the session")
-- results go to a file, flushed at once: print's buffered output would be
-- lost if ardour7-lua crashed
local out = assert (io.open ("$tmp/result", "a"))
out:write ("latency ", Session:route_by_name ("speech"):signal_latency (), "\n"); out:flush ()
local export = Session:simple_export ()
export:set_name (name)
export:set_folder ("$tmp")
assert (export:set_preset ("$preset"), "no export preset $preset")
out:write ("export ", name, " ", tostring (export:run_export ()), "\n")
out:close ()
close_session ()
EOF
for name in mix again; do
  JT_EXPORT=$name ardour7-lua "$tmp/session.lua" >> "$tmp/ardour.log" 2>&1
done
grep -E "ERROR|rror:" "$tmp/ardour.log" | sed 's/^/# ardour: /'
touch "$tmp/result"
sed 's/^/# /' "$tmp/result"
got=$(awk '$1 == "latency" { print $2; exit }' "$tmp/result")
[ "${got:-0}" -eq "$latency" ]
check $? "Ardour reads the plugin's latency: ${got:-none} samples ($latency_s s at $rate Hz is $latency)"
sox "$tmp/mix.flac" "$tmp/mix.wav" 2>/dev/null || { echo "FAIL Ardour exported nothing"; exit 1; }
sox "$tmp/again.flac" "$tmp/again.wav" 2>/dev/null && cmp -s "$tmp/mix.wav" "$tmp/again.wav"
check $? "exporting the session twice gives the same audio, sample for sample"

"$here/jepatok" roundtrip "$clip" -o "$tmp/whole.wav" -q
whole=$("$here/tests/lv2-wav" score "$clip" "$tmp/whole.wav" 0 | awk '{ print $2 }')
sox "$tmp/mix.wav" "$tmp/mix-early.wav" pad 0.05  # the mix 50 ms later: scored at 0, the output taken 50 ms early
scores=""
for take in "mix 0" "mix 0.05" "mix-early 0" "mix $latency_s"; do
  set -- $take
  got=$("$here/tests/lv2-wav" score "$clip" "$tmp/$1.wav" "$2" | awk '{ print $2 }')
  scores="$scores $got"
done
echo "$scores" | awk '{ printf "# exported mix: STOI %s with no delay, %s 50 ms late, %s 50 ms early, %s 3.2 s late\n", $1, $2, $3, $4 }'
echo "$scores $whole" | awk '{ exit !($1 > $2 + 0.1 && $1 > $3 + 0.1 && $1 > $4 + 0.1 && $1 > $5 - 0.05) }'
check $? "Ardour compensates the latency: STOI $(echo "$scores" | awk '{ print $1 }') with no delay (the whole clip by jepatok roundtrip: $whole)"
exit $((fails > 0))
