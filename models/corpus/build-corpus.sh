#!/usr/bin/env bash
# build-corpus.sh: build jepatok's offline speech corpus (24 kHz mono 16-bit
# WAV + manifest.tsv) from speech that ships inside Debian 12 packages, plus
# synthetic speech from the free TTS engines reading Debian's fortune texts.
#
#   models/corpus/build-corpus.sh OUTDIR [--seed N] [--synth-minutes M] [--jobs N]
#
# Deterministic: the same arguments give the same files, texts and splits on
# every run (conversions are repeatable: sox -R, ffmpeg; texts and held-out
# groups are chosen with the seed).  Existing output files are reused, so an
# interrupted run can be restarted.  See models/corpus/README for the
# sources, licences, split rule and the totals of a default run.
#
# It needs root to install its packages with apt-get (or prints the apt-get
# line and exits).  These packages are for the corpus only, not for CI.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: build-corpus.sh OUTDIR [--seed N] [--synth-minutes M] [--jobs N]

  OUTDIR             where wav/, manifest.tsv and totals.txt go (created)
  --seed N           seed for text choice and held-out groups (default 1)
  --synth-minutes M  minutes of synthetic speech per TTS voice (default 10;
                     23 voices, so 10 gives about 3.8 h; 0 = no synthetic part)
  --jobs N           parallel conversions (default: number of CPUs)
EOF
}

OUT=""
SEED=1
SYNTH_MIN=10
JOBS=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) SEED=$2; shift 2 ;;
    --synth-minutes) SYNTH_MIN=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "build-corpus.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) [ -z "$OUT" ] || { echo "build-corpus.sh: one OUTDIR only" >&2; exit 2; }; OUT=$1; shift ;;
  esac
done
[ -n "$OUT" ] || { usage >&2; exit 2; }
case "$SEED$SYNTH_MIN$JOBS" in *[!0-9]*) echo "build-corpus.sh: numbers only for --seed, --synth-minutes, --jobs" >&2; exit 2 ;; esac

# ------------------------------------------------------------ packages
PKGS=(flight-of-the-amazon-queen drascula
      asterisk-core-sounds-fr-g722 asterisk-core-sounds-it-g722 asterisk-core-sounds-ru-g722
      asterisk-prompt-it-menardi-wav klettres-data ktuberling-data
      flite festival festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k espeak-ng
      fortunes fortunes-min fortunes-de fortunes-it fortunes-es fortunes-ru fortunes-pl
      ffmpeg sox python3)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "build-corpus.sh: missing packages; run as root:" >&2
    echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi
PY=/usr/bin/python3

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$OUT/.work
mkdir -p "$OUT/wav" "$W"
START=$(date +%s)
export OUT W

# --------------------------------------------------------- converters
# Every file ends as 24 kHz mono 16-bit WAV.  sox starts in ~20 ms, ffmpeg
# in ~500 ms, so sox converts everything it can read and ffmpeg (MP3 inside
# queen.1c, G.722) runs in batches of many files per process.  Outputs are
# written under a temporary name and renamed, so a killed run leaves no
# half files behind to be reused.
sox_one() { # IN OUT [input options...]
  local in=$1 out=$2; shift 2
  [ -s "$out" ] && return 0
  mkdir -p "${out%/*}"
  # -R: repeatable dither; channels 1 averages the channels.
  if sox -R -V1 "$@" "$in" -b 16 -e signed-integer "$out.tmp.wav" channels 1 rate -v 24000; then
    mv "$out.tmp.wav" "$out"
  else
    rm -f "$out.tmp.wav"; echo "warning: sox failed on $in" >&2
  fi
}
ffmpeg_batch() { # FMT IN1 OUT1 IN2 OUT2 ...  (FMT "-" = probe)
  local fmt=$1; shift
  local args=() outs=() tmps=() i=0
  while [ $# -ge 2 ]; do
    if [ ! -s "$2" ]; then
      [ -d "${2%/*}" ] || mkdir -p "${2%/*}"
      [ "$fmt" = "-" ] || args+=(-f "$fmt")
      args+=(-i "$1")
      outs+=(-map "$i:a" -ac 1 -af "aresample=24000:resampler=soxr:precision=28"
             -c:a pcm_s16le -bitexact -y "$2.tmp.wav")
      tmps+=("$2")
      i=$((i + 1))
    fi
    shift 2
  done
  [ $i -gt 0 ] || return 0
  if ffmpeg -nostdin -v error "${args[@]}" "${outs[@]}"; then
    for o in "${tmps[@]}"; do mv "$o.tmp.wav" "$o"; done
  else
    echo "warning: ffmpeg batch failed (first output ${tmps[0]})" >&2
    for o in "${tmps[@]}"; do rm -f "$o.tmp.wav"; done
  fi
}
export -f sox_one ffmpeg_batch

# Run "IN<TAB>OUT" lines (file $1) through sox_one, JOBS at a time; lines
# whose output exists are dropped first, so a rerun does not start a shell
# per finished file.
run_sox() {
  local a b
  while IFS=$'\t' read -r a b; do
    [ -s "$b" ] || printf '%s\n%s\n' "$a" "$b"
  done < "$1" | xargs -r -d '\n' -n 2 -P "$JOBS" bash -c 'sox_one "$1" "$2"' _
}
# Same through ffmpeg in batches of 64 files.
run_ffmpeg() {
  local list=$1 fmt=$2
  tr '\t' '\n' < "$list" | xargs -d '\n' -n 128 -P "$JOBS" bash -c 'ffmpeg_batch "$0" "$@"' "$fmt"
}
step() { echo "[$(( $(date +%s) - START )) s] $*"; }

# meta-*.tsv: path relative to OUT, source package, speaker or group.
# ----------------------------------------------- Flight of the Amazon Queen
step "flight-of-the-amazon-queen: extracting speech from queen.1c"
$PY - "$W/queen" "$W/queen.jobs" "$W/meta-queen.tsv" <<'PY'
# queen.1c: "QTBL", 6-byte version, 2 pad bytes, 1 compression byte (1 = MP3),
# u16 BE entry count, 21-byte entries (12-byte name, bundle byte, u32 BE
# offset, u32 BE size).  Speech entries end in .SB and are plain MP3 streams.
# Speaker groups from the names (ScummVM's queen engine): RRxxxxJn = Joe in
# dialogue file RR, RRxxxxPn = the other party of dialogue RR, JOE* = Joe's
# commentary, Cnn* = cutscene nn (mixed voices), anything else by its prefix.
import os, re, struct, sys
src = "/usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"
work, jobs, meta = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
d = open(src, "rb").read()
assert d[:4] == b"QTBL" and d[12] == 1, "unexpected queen.1c layout"
n = struct.unpack(">H", d[13:15])[0]
out_j, out_m = [], []
for i in range(n):
    e = d[15 + 21 * i: 36 + 21 * i]
    name = e[:12].rstrip(b"\0").decode("latin-1")
    off, size = struct.unpack(">II", e[13:21])
    if not name.upper().endswith(".SB"):
        continue
    stem = name[:-3]
    if stem.startswith("JOE") or (re.match(r"^\d\d", stem) and stem[6:7] == "J"):
        spk = "joe"
    elif stem.startswith("C"):
        spk = "cutscene-" + stem[:3]
    elif re.match(r"^\d\d", stem) and stem[6:7] == "P":
        spk = "dialogue-" + stem[:2]
    else:
        spk = "other-" + stem[:2]
    mp3 = os.path.join(work, stem + ".mp3")
    if not os.path.exists(mp3) or os.path.getsize(mp3) != size:
        with open(mp3, "wb") as f:
            f.write(d[off:off + size])
    rel = "wav/queen/%s.wav" % stem
    out_j.append("%s\t%s/%s" % (mp3, os.environ["OUT"], rel))
    out_m.append("%s\tflight-of-the-amazon-queen\t%s" % (rel, spk))
open(jobs, "w").write("\n".join(out_j) + "\n")
open(meta, "w").write("\n".join(out_m) + "\n")
print("  %d speech clips" % len(out_j))
PY
step "flight-of-the-amazon-queen: decoding MP3 to 24 kHz"
run_ffmpeg "$W/queen.jobs" mp3

# ------------------------------------------------------------ Drascula
step "drascula: English voice files"
$PY - "$W/drascula" "$W/drascula.jobs" "$W/meta-drascula.tsv" <<'PY'
# .ALS = 32-byte header, raw unsigned 8-bit PCM at 11025 Hz, 64-byte tail
# (ScummVM's drascula engine).  S*.ALS are sound effects: excluded.  The
# prefix names the talker in the engine's talk_* routines: digits = John
# Hacker (the player), D Drascula, I Igor, B the blind man, BJ B.J., E the
# drunk, L the werewolf, P the pianist, T the bartender, VB Von Braun, F
# (3 files, unidentified).  The names are read from the file names, not
# checked by listening.
import glob, os, re, sys, wave
work, jobs, meta = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
names = {"": "hacker", "D": "drascula", "I": "igor", "B": "blind-man", "BJ": "bj",
         "E": "drunk", "L": "werewolf", "P": "pianist", "T": "bartender",
         "VB": "von-braun", "F": "f"}
oj, om = [], []
for p in sorted(glob.glob("/usr/share/scummvm/drascula/en/*.ALS")):
    base = os.path.basename(p)[:-4]
    m = re.match(r"^([A-Z]*)(\d+)$", base)
    if not m or m.group(1) == "S":
        continue
    spk = "drascula-" + names.get(m.group(1), m.group(1).lower())
    raw = open(p, "rb").read()[32:-64]
    if len(raw) < 1000:
        continue
    tmp = os.path.join(work, base + ".wav")
    if not os.path.exists(tmp):
        w = wave.open(tmp, "wb")      # 8-bit WAV is unsigned, as the data
        w.setnchannels(1); w.setsampwidth(1); w.setframerate(11025)
        w.writeframes(raw); w.close()
    rel = "wav/drascula/%s.wav" % base
    oj.append("%s\t%s/%s" % (tmp, os.environ["OUT"], rel))
    om.append("%s\tdrascula\t%s" % (rel, spk))
open(jobs, "w").write("\n".join(oj) + "\n")
open(meta, "w").write("\n".join(om) + "\n")
print("  %d voice files" % len(oj))
PY
run_sox "$W/drascula.jobs"

# ------------------------------------------------------------ Asterisk
step "asterisk prompts (G.722 fr/it/ru, Menardi WAV)"
: > "$W/g722.jobs"; : > "$W/menardi.jobs"; : > "$W/meta-asterisk.tsv"
for pair in fr:fr_CA_f_June it:it_IT_m_Carlo ru:ru_RU_f_IvrvoiceRU; do
  lang=${pair%%:*}; voice=${pair#*:}
  find "/usr/share/asterisk/sounds/$voice" -name '*.g722' | LC_ALL=C sort | while read -r f; do
    name=${f#/usr/share/asterisk/sounds/$voice/}; name=${name//\//_}
    rel="wav/asterisk-$lang/${name%.g722}.wav"
    printf '%s\t%s/%s\n' "$f" "$OUT" "$rel" >> "$W/g722.jobs"
    printf '%s\tasterisk-core-sounds-%s-g722\t%s\n' "$rel" "$lang" "$voice" >> "$W/meta-asterisk.tsv"
  done
done
find /usr/share/asterisk/sounds/it_IT_f_Menardi -name '*.wav' | LC_ALL=C sort | while read -r f; do
  name=${f#/usr/share/asterisk/sounds/it_IT_f_Menardi/}; name=${name//\//_}
  rel="wav/asterisk-it-menardi/${name%.wav}.wav"
  printf '%s\t%s/%s\n' "$f" "$OUT" "$rel" >> "$W/menardi.jobs"
  printf '%s\tasterisk-prompt-it-menardi-wav\tit_IT_f_Menardi\n' "$rel" >> "$W/meta-asterisk.tsv"
done
run_ffmpeg "$W/g722.jobs" g722
run_sox "$W/menardi.jobs"

# ------------------------------------------------- KLettres, KTuberling
step "klettres-data, ktuberling-data (spoken letters, syllables and words)"
: > "$W/kde.jobs"; : > "$W/meta-kde.tsv"
# Speaker = the language directory: each language was recorded by its own
# translators (one or two voices), so a language is the closest label.
dpkg -L klettres-data | grep -E '^/usr/share/klettres/[^/]+/.*\.ogg$' | LC_ALL=C sort | while read -r f; do
  lang=${f#/usr/share/klettres/}; lang=${lang%%/*}
  name=${f#/usr/share/klettres/$lang/}; name=${name//\//_}
  rel="wav/klettres/$lang/${name%.ogg}.wav"
  printf '%s\t%s/%s\n' "$f" "$OUT" "$rel" >> "$W/kde.jobs"
  printf '%s\tklettres-data\tklettres-%s\n' "$rel" "$lang" >> "$W/meta-kde.tsv"
done
dpkg -L ktuberling-data | grep -E '^/usr/share/ktuberling/sounds/[^/]+/.*\.ogg$' | LC_ALL=C sort | while read -r f; do
  lang=${f#/usr/share/ktuberling/sounds/}; lang=${lang%%/*}
  name=${f##*/}
  rel="wav/ktuberling/$lang/${name%.ogg}.wav"
  printf '%s\t%s/%s\n' "$f" "$OUT" "$rel" >> "$W/kde.jobs"
  printf '%s\tktuberling-data\tktuberling-%s\n' "$rel" "$lang" >> "$W/meta-kde.tsv"
done
run_sox "$W/kde.jobs"

# ----------------------------------------------------------- synthetic
: > "$W/meta-synth.tsv"
if [ "$SYNTH_MIN" -gt 0 ]; then
step "synthetic speech: texts and job list ($SYNTH_MIN min per voice, seed $SEED)"
$PY - "$W/synth" "$W/synth.jobs" "$W/meta-synth.tsv" "$SEED" "$SYNTH_MIN" <<'PY'
# Texts: fortunes, split at "%" lines, whitespace joined, kept when 60-350
# characters (after dropping a "-- Author" line), mostly letters, and free
# of ASCII-art characters.  English
# comes from the fortunes and fortunes-min packages, other languages from
# fortunes-de/-it/-es/-ru/-pl.  Each voice reads its own texts (a seeded
# shuffle, dealt round-robin), until the texts' estimated duration (14
# characters per second) reaches the minutes asked for.
import hashlib, os, random, re, subprocess, sys
work, jobs, meta, seed, minutes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
os.makedirs(work, exist_ok=True)

def package_texts(pkgs):
    files = []
    for p in pkgs:
        out = subprocess.run(["dpkg", "-L", p], capture_output=True, text=True).stdout.split("\n")
        files += [f for f in out if f.startswith("/usr/share/games/fortunes/") and os.path.isfile(f)
                  and not os.path.islink(f) and not re.search(r"\.(dat|u8)$", f)]
    texts = []
    for f in sorted(set(files)):
        try:
            raw = open(f, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        for chunk in re.split(r"\n%\n", raw):
            # Drop the "-- Author" attribution: not part of the text.
            t = " ".join(chunk.split()).split(" -- ")[0].strip()
            if not 60 <= len(t) <= 350 or re.search(r"[|_<>{}@#=\\^~*\[\]]|--|\.\.\.\.|  ", t):
                continue
            if sum(ch.isalpha() for ch in t) < 0.75 * len(t):
                continue
            texts.append(t)
    texts = sorted(set(texts))
    random.Random(seed).shuffle(texts)
    return texts

langs = {"en": ["fortunes", "fortunes-min"], "de": ["fortunes-de"], "it": ["fortunes-it"],
         "es": ["fortunes-es"], "ru": ["fortunes-ru"], "pl": ["fortunes-pl"]}
pool = {l: package_texts(p) for l, p in langs.items()}
for l in pool:
    print("  %s: %d texts" % (l, len(pool[l])))

# (engine, voice, speaker, language, pitch, base speed, source package).
# Speakers are people, not engines: flite slt and festival's slt HTS voice
# are both CMU ARCTIC "slt", flite kal16 and festival kal_diphone both
# Kevin Lenzo's "kal"; an espeak-ng speaker is voice+variant at one pitch.
V = [("flite", "awb", "cmu-awb", "en", 0, 0, "flite"),
     ("flite", "rms", "cmu-rms", "en", 0, 0, "flite"),
     ("flite", "slt", "cmu-slt", "en", 0, 0, "flite"),
     ("flite", "kal16", "kal", "en", 0, 0, "flite"),
     ("festival", "cmu_us_slt_arctic_hts", "cmu-slt", "en", 0, 0, "festvox-us-slt-hts"),
     ("festival", "kal_diphone", "kal", "en", 0, 0, "festvox-kallpc16k"),
     ("festival", "ked_diphone", "ked", "en", 0, 0, "festvox-kdlpc16k")]
E = [("en-gb+m3", 50, 160), ("en-us+f2", 60, 150), ("en-gb-scotland+m1", 40, 170),
     ("en-gb-x-rp+f4", 70, 140), ("en-029+m5", 50, 165), ("en-us-nyc+m7", 35, 175),
     ("en-gb-x-gbclan+f1", 55, 155), ("en-gb-x-gbcwmd+m2", 45, 160), ("de+m4", 50, 160),
     ("de+f3", 65, 150), ("it+m6", 45, 160), ("it+f5", 60, 155), ("es+f2", 60, 160),
     ("es-419+m1", 45, 165), ("ru+m2", 45, 150), ("pl+f4", 65, 155)]
for v, pitch, speed in E:
    V.append(("espeak-ng", v, "espeak-" + v.replace("+", "-"), v[:2], pitch, speed, "espeak-ng"))

rng = random.Random(seed)
used = {l: 0 for l in pool}
oj, om = [], []
for k, (eng, voice, spk, lang, pitch, speed, pkg) in enumerate(V):
    target = minutes * 60 * 14.0   # characters
    chars, u = 0, 0
    while chars < target:
        texts = pool[lang]
        t = texts[used[lang] % len(texts)]
        used[lang] += 1
        tag = "%s-%s-%04d" % (eng, voice.replace("+", "-"), u)
        tf = os.path.join(work, tag + ".txt")
        with open(tf, "w", encoding="utf-8") as f:
            f.write(t + "\n")
        # Per-utterance speaking rate varies +-10% around the voice's.
        s = int(round(speed * rng.uniform(0.9, 1.1))) if eng == "espeak-ng" else 0
        rel = "wav/synth/%s/%s.wav" % (spk, tag)
        oj.append("\t".join([eng, voice, str(pitch), str(s), tf, os.path.join(work, tag + ".raw.wav"),
                             os.environ["OUT"] + "/" + rel]))
        om.append("%s\t%s\t%s" % (rel, pkg, spk))
        chars += len(t)
        u += 1
open(jobs, "w").write("\n".join(oj) + "\n")
open(meta, "w").write("\n".join(om) + "\n")
print("  %d utterances for %d voices" % (len(oj), len(V)))
PY
synth_one() { # one tab-separated job line
  local eng voice pitch speed txt raw out
  IFS=$'\t' read -r eng voice pitch speed txt raw out <<<"$1"
  [ -s "$out" ] && return 0
  case "$eng" in
    flite) flite -voice "$voice" -f "$txt" -o "$raw" ;;
    festival) text2wave -eval "(voice_$voice)" "$txt" -o "$raw" ;;
    espeak-ng) espeak-ng -v "$voice" -p "$pitch" -s "$speed" -f "$txt" -w "$raw" ;;
  esac || { echo "warning: $eng $voice failed on $txt" >&2; return 0; }
  sox_one "$raw" "$out"
  rm -f "$raw"
}
export -f synth_one
step "synthetic speech: synthesising"
tab=$'\t'
while IFS= read -r line; do
  [ -s "${line##*$tab}" ] || printf '%s\n' "$line"
done < "$W/synth.jobs" | xargs -r -d '\n' -n 1 -P "$JOBS" bash -c 'synth_one "$1"' _
fi

# ------------------------------------------------------ manifest, split
step "manifest and totals"
$PY - "$OUT" "$SEED" <<'PY'
# Split: whole speakers (or speaker groups) are held out for validation.
#  - sources with many groups (queen dialogue/cutscene groups, klettres and
#    ktuberling languages): the 10% of groups (at least one) with the
#    smallest sha1("SEED:group"); Joe, Queen's narrator-hero who talks in
#    every scene, always trains;
#  - the rest by name: drascula igor and von-braun, the Russian Asterisk
#    voice, the TTS speakers cmu-rms and ked, espeak-ng en-gb-scotland+m1
#    and de+f3.
import glob, hashlib, math, os, sys, wave
out, seed = sys.argv[1], sys.argv[2]
lic = {"flight-of-the-amazon-queen": "FOTAQ-freeware (Flight-of-the-Amazon-Queen-License)",
       "drascula": "Drascula-License (BSD-like, Alcachofa Soft)",
       "asterisk-core-sounds-fr-g722": "CC-BY-SA-3.0 (June Wallack)",
       "asterisk-core-sounds-it-g722": "CC-BY-3.0 (Carlo Flora)",
       "asterisk-core-sounds-ru-g722": "CC-BY-3.0 (Maxim)",
       "asterisk-prompt-it-menardi-wav": "CC-BY-SA-3.0-IT (Marco Menardi, Paola Dal Zot)",
       "klettres-data": "GPL-2+", "ktuberling-data": "GPL-2+",
       "flite": "CMU-Flite (BSD-like); text: fortunes (BSD and others)",
       "festvox-us-slt-hts": "EST/CMU (BSD-like); text: fortunes",
       "festvox-kallpc16k": "EST/CMU (BSD-like); text: fortunes",
       "festvox-kdlpc16k": "EST/CMU (BSD-like); text: fortunes",
       "espeak-ng": "GPL-3+ engine, output unrestricted; text: fortunes"}
named_val = {"drascula-igor", "drascula-von-braun", "ru_RU_f_IvrvoiceRU", "cmu-rms", "ked",
             "espeak-en-gb-scotland-m1", "espeak-de-f3"}
rows = []
for mf in sorted(glob.glob(os.path.join(out, ".work", "meta-*.tsv"))):
    for line in open(mf):
        if line.strip():
            rows.append(line.rstrip("\n").split("\t"))
def h(g):
    return hashlib.sha1(("%s:%s" % (seed, g)).encode()).hexdigest()
val = set(named_val)
for src in ("flight-of-the-amazon-queen", "klettres-data", "ktuberling-data"):
    groups = sorted({r[2] for r in rows if r[1] == src and r[2] != "joe"})
    val.update(sorted(groups, key=h)[:max(1, math.ceil(0.1 * len(groups)))])
man, missing = [], 0
for rel, src, spk in rows:
    p = os.path.join(out, rel)
    try:
        w = wave.open(p); dur = w.getnframes() / w.getframerate(); w.close()
    except (OSError, EOFError, wave.Error):
        missing += 1
        continue
    if dur <= 0:
        continue
    man.append((rel, src, spk, dur, lic[src], "val" if spk in val else "train"))
man.sort()
with open(os.path.join(out, "manifest.tsv"), "w") as f:
    f.write("path\tsource\tspeaker\tduration\tlicence\tsplit\n")
    for r in man:
        f.write("%s\t%s\t%s\t%.3f\t%s\t%s\n" % r)
tot = {}
for r in man:
    t = tot.setdefault(r[1], {"train": [0, 0.0], "val": [0, 0.0]})
    t[r[5]][0] += 1
    t[r[5]][1] += r[3]
lines = ["%-32s %7s %9s %7s %9s %9s" % ("source", "train", "train h", "val", "val h", "total h")]
T = {"train": [0, 0.0], "val": [0, 0.0]}
for s in sorted(tot):
    a, b = tot[s]["train"], tot[s]["val"]
    lines.append("%-32s %7d %9.3f %7d %9.3f %9.3f" % (s, a[0], a[1] / 3600, b[0], b[1] / 3600, (a[1] + b[1]) / 3600))
    for k in T:
        T[k][0] += tot[s][k][0]; T[k][1] += tot[s][k][1]
lines.append("%-32s %7d %9.3f %7d %9.3f %9.3f" % ("TOTAL", T["train"][0], T["train"][1] / 3600,
             T["val"][0], T["val"][1] / 3600, (T["train"][1] + T["val"][1]) / 3600))
lines.append("held-out speakers/groups: " + ", ".join(sorted(v for v in val if any(r[2] == v for r in man))))
if missing:
    lines.append("WARNING: %d listed files missing (conversion failures)" % missing)
open(os.path.join(out, "totals.txt"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
step "done: $OUT/manifest.tsv (total $(( $(date +%s) - START )) s)"
