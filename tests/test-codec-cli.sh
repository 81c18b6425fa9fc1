#!/bin/sh
# test-codec-cli.sh: `jepatok encode`, `decode` and `roundtrip` end to end
# with a tiny model trained here on speech made with espeak-ng: exact sample
# rates and counts at 16 and 44.1 kHz, the .npy export, many inputs, every
# refused input exits non-zero with a reason and leaves no file behind, and
# `jepatok train stage2`: it learns, logs, draws, resumes exactly, and loads
# its encoder strictly; --init continues a model in its own configuration or
# grows its decoder.
JEPATOK=${JEPATOK:-./jepatok}
command -v espeak-ng >/dev/null 2>&1 || { echo "1..0 # SKIP espeak-ng is not installed"; exit 0; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/jt-codec.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# ------------------------------------------------------------- helpers
# little-endian integers as bytes (printf with octal escapes: POSIX sh)
byte() { printf "\\$(printf %03o $(($1 & 255)))"; }
le16() { byte "$1"; byte $(($1 >> 8)); }
le32() { byte "$1"; byte $(($1 >> 8)); byte $(($1 >> 16)); byte $(($1 >> 24)); }
# wav_header FORMAT(1 PCM, 3 float) BITS RATE DATA_BYTES: a mono WAV header
wav_header() {
  printf 'RIFF'; le32 $((36 + $4)); printf 'WAVEfmt '; le32 16; le16 "$1"; le16 1; le32 "$3"
  le32 $(($3 * $2 / 8)); le16 $(($2 / 8)); le16 "$2"; printf 'data'; le32 "$4"
}
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }
# wavinfo FILE: "RATE FRAMES" of a WAV file, read from its chunks
wavinfo() {
  size=$(wc -c < "$1"); off=12; rate=0; align=1
  while [ $((off + 8)) -le "$size" ]; do
    id=$(dd if="$1" bs=1 skip="$off" count=4 2>/dev/null); len=$(u32 "$1" $((off + 4)))
    case "$id" in
      "fmt ") rate=$(u32 "$1" $((off + 12))); align=$(u16 "$1" $((off + 20))) ;;
      data) echo "$rate $((len / align))"; return 0 ;;
    esac
    off=$((off + 8 + len + len % 2))
  done
  echo "0 0"
}
# resample IN OUT RATE (sox if installed, else linear interpolation in python3)
resample() {
  if command -v sox >/dev/null 2>&1; then
    sox "$1" -r "$3" "$2" 2>/dev/null
  elif command -v python3 >/dev/null 2>&1; then
    python3 - "$1" "$2" "$3" <<'EOF'
import struct, sys, wave
r = wave.open(sys.argv[1]); n, sr, ch = r.getnframes(), r.getframerate(), r.getnchannels()
x = struct.unpack('<%dh' % (n * ch), r.readframes(n))[::ch]
rate = int(sys.argv[3]); m = n * rate // sr; y = []
for i in range(m):
    t = i * sr / rate; k = int(t); f = t - k
    y.append(int(round(x[k] + ((x[k + 1] if k + 1 < n else 0) - x[k]) * f)))
w = wave.open(sys.argv[2], 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
w.writeframes(struct.pack('<%dh' % m, *y)); w.close()
EOF
  else
    return 1
  fi
}
# flip_byte FILE OFFSET: invert one byte in place
flip_byte() {
  v=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  byte $((v ^ 255)) | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
# mean of a metrics.jsonl key over lines (stdin)
mean_of() { sed "s/.*\"$1\": \\([^,}]*\\).*/\\1/" | awk '{ s += $1 } END { printf "%.4f", s / NR }'; }
# refuses WHAT DIR CMD...: exit non-zero, a reason on stderr, DIR left empty
refuses() {
  what=$1 dir=$2
  shift 2
  "$@" 2> "$tmp/err" > /dev/null
  rc=$?
  left=$(ls -A "$dir")
  reason=$(grep jepatok "$tmp/err" | head -n 1)
  [ "$rc" -ne 0 ] && [ -n "$reason" ] && [ -z "$left" ]
  ok $? "$what: exit $rc, no file left${left:+ (left: $left)}: $reason"
}

# ------------------------------------------------------- data and models
mkdir -p "$tmp/data" "$tmp/one" "$tmp/in"
i=1
for text in "the quick brown fox jumps over the lazy dog" "speech in, tokens out, and back to speech" \
            "four score and seven years ago" "a stitch in time saves nine"; do
  espeak-ng -v "en+m$i" -s $((130 + 10 * i)) -w "$tmp/data/clip$i.wav" "$text" 2>/dev/null
  i=$((i + 1))
done
# one clip shorter than the crop: every step sees all of it
espeak-ng -v en+m3 -s 220 -w "$tmp/one/hello.wav" "hello world" 2>/dev/null
# tiny without data augmentation (the presets' 0.3 gain / 0.2 noise
# probabilities make single-step losses jump between two levels)
cat > "$tmp/tiny.json" <<'EOF'
{"name": "tiny-noaug", "enc_channels": [4, 4, 8, 8, 8], "dec_channels": [8, 8, 8, 4, 4, 4], "enc_in_channels": 4,
 "res_units": 1, "conformer_layers": 0, "conformer_heads": 2, "ff_mult": 2, "conv_kernel": 5, "pred_dim": 8,
 "pred_heads": 2, "disc_div": 16, "warmup_steps": 10, "disc_start": 2, "aug_gain_p": 0, "aug_noise_p": 0}
EOF

$JEPATOK train stage1 --config tiny --data "$tmp/data" --out "$tmp/run1" --steps 3 --batch 2 --crop-seconds 1 \
  2> "$tmp/log1"
ok $? "train stage1 tiny, 3 steps"

# stage 2 learns: 30 steps on one clip at a high learning rate, with the
# discriminators from step 2.  Measured: stft 4.00 -> 2.17 (seed 1) and
# 3.93 -> 2.26 (seed 2), i.e. x0.54-0.57; asserted: below x0.75.
$JEPATOK train stage2 --config "$tmp/tiny.json" --encoder "$tmp/run1" --data "$tmp/one" --out "$tmp/run2" \
  --steps 30 --batch 1 --crop-seconds 0.8 --lr 3e-3 --log-every 2 --checkpoint-every 15 2> "$tmp/log2"
ok $? "train stage2 tiny, 30 steps"
model="$tmp/run2/model.safetensors"
metrics="$tmp/run2/metrics.jsonl"
first=$(head -n 3 "$metrics" | mean_of stft)
last=$(tail -n 3 "$metrics" | mean_of stft)
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.75 * a) }'
ok $? "stage 2 learns: mean stft of the first 3 logs $first, of the last 3 $last (< 0.75 x)"
dlast=$(tail -n 1 "$metrics" | sed 's/.*"loss_d": \([^,]*\),.*/\1/')
awk -v d="$dlast" 'BEGIN { exit !(d > 0) }'
ok $? "the discriminators are trained (last loss_d $dlast > 0)"
for key in step loss_g loss_d mel_l1 stft fm adv seconds; do
  [ "$(grep -c "\"$key\":" "$metrics")" -eq "$(wc -l < "$metrics")" ]
  ok $? "every line of metrics.jsonl has $key"
done
test -s "$tmp/run2/spectrogram.png" && [ "$(od -An -c -j1 -N3 "$tmp/run2/spectrogram.png" | tr -d ' ')" = PNG ]
ok $? "spectrogram.png written"
test -s "$tmp/run2/loss.svg" && grep -q "<polyline" "$tmp/run2/loss.svg"
ok $? "loss.svg written"
test -s "$tmp/run2/checkpoint.safetensors" && test -s "$model"
ok $? "checkpoint.safetensors and model.safetensors written"

# exact resume: 4 steps at once, or 2 and then --resume to 4.  With --seed 2
# this is also a second model: other weights, another id.
common="--config $tmp/tiny.json --data $tmp/data --batch 1 --crop-seconds 0.4 --checkpoint-every 2 --seed 2"
$JEPATOK train stage2 $common --encoder "$tmp/run1" --out "$tmp/other" --steps 4 2>/dev/null
ok $? "train stage2 tiny with --seed 2, 4 steps"
$JEPATOK train stage2 $common --encoder "$tmp/run1" --out "$tmp/b" --steps 2 2>/dev/null
$JEPATOK train stage2 $common --out "$tmp/b" --steps 4 --resume 2>/dev/null
cmp -s "$tmp/other/model.safetensors" "$tmp/b/model.safetensors" && \
  cmp -s "$tmp/other/checkpoint.safetensors" "$tmp/b/checkpoint.safetensors"
ok $? "2 steps + --resume to 4 end with model.safetensors and checkpoint byte-identical to 4 steps at once"

$JEPATOK train stage2 --config small --encoder "$tmp/run1" --data "$tmp/data" --out "$tmp/small" --steps 1 \
  2> "$tmp/err"
rc=$?
reason=$(grep "jepatok train stage2" "$tmp/err" | head -n 1)
[ $rc -ne 0 ] && echo "$reason" | grep -q "tensor 'enc\."
ok $? "stage 2 --config small with a tiny stage-1 encoder fails naming a tensor: $reason"

# --init continues a model: at a vanishing learning rate its first steps
# score as the trained model does, far below a fresh decoder's first steps.
$JEPATOK train stage2 --config "$tmp/tiny.json" --init "$model" --data "$tmp/one" --out "$tmp/cont" \
  --steps 3 --batch 1 --crop-seconds 0.8 --lr 1e-12 --log-every 1 2> /dev/null
ok $? "train stage2 --init from the trained tiny model, 3 steps"
cont=$(head -n 3 "$tmp/cont/metrics.jsonl" | mean_of stft)
awk -v c="$cont" -v a="$first" -v b="$last" 'BEGIN { exit !(c < (a + b) / 2) }'
ok $? "--init starts from the trained weights: stft $cont, fresh $first, trained $last"
# without --config, --init continues with the model's own configuration;
# wider dec_channels grow the decoder without changing what it decodes: at
# a vanishing learning rate the first step's loss is the ungrown model's
init_args="--init $model --data $tmp/one --steps 1 --batch 1 --crop-seconds 0.8 --lr 1e-12 --log-every 1"
c1=$(head -n 1 "$tmp/cont/metrics.jsonl" | mean_of stft)
$JEPATOK train stage2 $init_args --out "$tmp/own" 2> /dev/null
own=$(head -n 1 "$tmp/own/metrics.jsonl" | mean_of stft)
[ "$own" = "$c1" ]
ok $? "--init without --config takes the model's configuration: first-step stft $own = $c1"
# (named after the tiny preset, which info compares it with below)
echo '{"name": "tiny", "dec_channels": [13, 11, 9, 4, 4, 4]}' > "$tmp/wide.json"
$JEPATOK train stage2 $init_args --config "$tmp/wide.json" --out "$tmp/wide" 2> /dev/null
wide=$(head -n 1 "$tmp/wide/metrics.jsonl" | mean_of stft)
params() { $JEPATOK info --model "$1" | awk '$1 == "decoder" { print $2 }'; }
p_small=$(params "$model") p_wide=$(params "$tmp/wide/model.safetensors")
awk -v a="$wide" -v b="$c1" -v p="$p_small" -v q="$p_wide" 'BEGIN { d = a - b; exit !(d < 1e-3 && d > -1e-3 && q > p) }'
ok $? "--init with wider dec_channels grows the decoder ($p_small -> $p_wide parameters): first-step stft $wide = $c1"
$JEPATOK info --model "$tmp/wide/model.safetensors" > "$tmp/info-wide.txt" 2>&1
line=$(head -n 1 "$tmp/info-wide.txt")
echo "$line" | grep -q "^configuration: tiny, changed: .*dec_channels"
ok $? "info says which keys a grown model changed from its preset: $line"
# the optional STOI and ESTOI losses (stoi_weight, estoi_weight,
# src/stoi_loss.c) join the generator loss and the log; without them nothing
# is logged under their names
echo '{"stoi_weight": 1, "estoi_weight": 0.5}' > "$tmp/stoi.json"
$JEPATOK train stage2 $init_args --config "$tmp/stoi.json" --out "$tmp/stoi" 2> /dev/null
sl=$(head -n 1 "$tmp/stoi/metrics.jsonl" | mean_of stoi_loss)
el=$(head -n 1 "$tmp/stoi/metrics.jsonl" | mean_of estoi_loss)
g_with=$(head -n 1 "$tmp/stoi/metrics.jsonl" | mean_of loss_g)
g_without=$(head -n 1 "$tmp/own/metrics.jsonl" | mean_of loss_g)
awk -v s="$sl" -v e="$el" -v a="$g_with" -v b="$g_without" \
  'BEGIN { d = a - b - s - 0.5 * e; exit !(s > 0 && s < 2 && e > 0 && e < 2 && d < 1e-3 && d > -1e-3) }' &&
  ! grep -q stoi_loss "$tmp/own/metrics.jsonl"
ok $? "stoi_weight 1 and estoi_weight 0.5 add the STOI loss ($sl) and half the ESTOI loss ($el) to the first step's generator loss ($g_without -> $g_with)"
# the step benchmark times a model file's own shapes, not its preset's
bench() { $JEPATOK bench stage2 --steps 1 --warmup 0 --batch 1 --threads 1 "$@" 2> /dev/null; }
b_tiny=$(bench --config tiny) b_wide=$(bench --model "$tmp/wide/model.safetensors")
m_tiny=$(echo "$b_tiny" | sed -n 's/.*"params_mib": \([0-9.]*\).*/\1/p')
m_wide=$(echo "$b_wide" | sed -n 's/.*"params_mib": \([0-9.]*\).*/\1/p')
echo "$b_wide" | grep -q "\"model\": \"$tmp/wide/model.safetensors\"" &&
  awk -v a="$m_tiny" -v b="$m_wide" 'BEGIN { exit !(a > 0 && b > a) }'
ok $? "bench stage2 --model times the grown decoder: parameters $m_wide MiB, the tiny preset's $m_tiny"
# the model file records where its weights came from, under its own name:
# a stage-1 encoder (--encoder) or a model continued (--init)
$JEPATOK info --model "$tmp/cont/model.safetensors" > "$tmp/info-cont.txt" 2>&1
$JEPATOK info --model "$model" > "$tmp/info-run2.txt" 2>&1
model_id=$(awk '$1 == "id" { print $2; exit }' "$tmp/info-run2.txt")
grep -qx "  init: $model" "$tmp/info-cont.txt" && grep -qx "  init_id: $model_id" "$tmp/info-cont.txt" && \
  ! grep -q "^  stage1:" "$tmp/info-cont.txt" && \
  grep -qx "  stage1: $tmp/run1" "$tmp/info-run2.txt" || { sed 's/^/# /' "$tmp/info-cont.txt" "$tmp/info-run2.txt"; false; }
ok $? "the model file records its origin: init and init_id ($model_id) for --init, stage1 for --encoder"
# a resumed run's model file keeps recording the model it continued
$JEPATOK train stage2 --resume --out "$tmp/cont" --data "$tmp/one" --steps 4 2> /dev/null &&
  $JEPATOK info --model "$tmp/cont/model.safetensors" > "$tmp/info-resumed.txt" 2>&1 &&
  grep -qx "  init: $model" "$tmp/info-resumed.txt" && grep -qx "  init_id: $model_id" "$tmp/info-resumed.txt" &&
  grep -qx "  stage2_steps: 4" "$tmp/info-resumed.txt" || { sed 's/^/# /' "$tmp/info-resumed.txt"; false; }
ok $? "--resume of an --init run keeps init and init_id in the model file"
$JEPATOK train stage2 --config "$tmp/tiny.json" --init "$model" --encoder "$tmp/run1" --data "$tmp/one" \
  --out "$tmp/both" --steps 1 2> "$tmp/err"
[ $? -eq 2 ] && grep -q "one of --encoder" "$tmp/err"
ok $? "--init and --encoder together are refused"

# export averages models weight by weight (checkpoint averaging): the mean
# of A and B holds (a + b) / 2 at every place sampled, in either order; the
# mean of A with itself is A (same id); other configurations are refused
$JEPATOK train stage2 $common --encoder "$tmp/run1" --out "$tmp/seed3" --steps 2 --seed 3 \
  --checkpoint-every 1 --keep-models 2>/dev/null
cmp -s "$tmp/seed3/models/000002.safetensors" "$tmp/seed3/model.safetensors" &&
  test -s "$tmp/seed3/models/000001.safetensors" &&
  ! cmp -s "$tmp/seed3/models/000001.safetensors" "$tmp/seed3/model.safetensors"
ok $? "--keep-models keeps each checkpoint's model: models/000001 and models/000002 (= model.safetensors)"
ma="$tmp/other/model.safetensors" mb="$tmp/seed3/model.safetensors"
$JEPATOK export "$ma" "$mb" -o "$tmp/ab.safetensors" > "$tmp/ab.txt" &&
  $JEPATOK export "$mb" "$ma" -o "$tmp/ba.safetensors" > "$tmp/ba.txt" &&
  $JEPATOK export "$ma" "$ma" -o "$tmp/aa.safetensors" > "$tmp/aa.txt" &&
  $JEPATOK export "$ma" -o "$tmp/a.safetensors" > "$tmp/a.txt"
ok $? "export averages two and copies one model"
mid() { awk '{ print $NF }' "$1"; }
[ "$(mid "$tmp/ab.txt")" = "$(mid "$tmp/ba.txt")" ] && [ "$(mid "$tmp/aa.txt")" = "$(mid "$tmp/a.txt")" ] &&
  [ "$(mid "$tmp/ab.txt")" != "$(mid "$tmp/a.txt")" ]
ok $? "averaging is symmetric (id $(mid "$tmp/ab.txt")) and the mean of a model with itself is the model"
# f32 FILE K: the K-th float of a safetensors file's data (the tensors are
# in name order: the decoder's "dec.*" first, which the two models initialise
# from their own seeds; their encoder is one)
f32() { od -An -tf4 -j $((8 + $(u32 "$1" 0) + 4 * $2)) -N4 "$1" | tr -d ' '; }
bad=0
for i in 0 1 7 100 1000 5000; do
  a=$(f32 "$ma" $i) b=$(f32 "$mb" $i) m=$(f32 "$tmp/ab.safetensors" $i)
  awk -v a="$a" -v b="$b" -v m="$m" 'BEGIN { d = m - (a + b) / 2; if (d < 0) d = -d
                                            s = a < 0 ? -a : a; t = b < 0 ? -b : b; if (t > s) s = t
                                            exit !(d <= 1e-6 * s + 1e-30 && a != b) }' ||
    { echo "# float $i: a $a, b $b, mean $m"; bad=1; }
done
ok $bad "the averaged file holds (a + b) / 2 at 6 places (floats 0 1 7 100 1000 5000)"
id_a=$($JEPATOK info --model "$ma" | awk '$1 == "id" { print $2; exit }')
id_b=$($JEPATOK info --model "$mb" | awk '$1 == "id" { print $2; exit }')
$JEPATOK info --model "$tmp/ab.safetensors" | grep -qx "  averaged_ids: $id_a $id_b"
ok $? "the averaged model records the ids it averaged, in order"
$JEPATOK export "$ma" "$tmp/wide/model.safetensors" -o "$tmp/mixed.safetensors" 2> "$tmp/err"
rc=$?
[ $rc -ne 0 ] && [ ! -e "$tmp/mixed.safetensors" ] && grep -q "architecture differs" "$tmp/err"
ok $? "export refuses to average models of other architectures (a wider decoder): $(head -n 1 "$tmp/err")"
# a model trained at another learning rate (a training setting, recorded in
# the configuration in its header) has the same architecture: it averages
$JEPATOK train stage2 $common --encoder "$tmp/run1" --out "$tmp/lr" --steps 2 --lr 5e-4 2>/dev/null
mc="$tmp/lr/model.safetensors"
lr_of() { head -c 65536 "$1" | grep -a -o '\\"lr\\":[0-9.e-]*' | head -n 1; }
[ -n "$(lr_of "$mc")" ] && [ "$(lr_of "$mc")" != "$(lr_of "$ma")" ] &&
  $JEPATOK export "$ma" "$mc" -o "$tmp/ac.safetensors" > /dev/null 2> "$tmp/err" &&
  test -s "$tmp/ac.safetensors"
ok $? "export averages models that differ only in training settings ($(lr_of "$ma") and $(lr_of "$mc"))"

# eval --model: codes every file, scores it and reports how much of the
# nominal bits per frame the codes use (entropy <= nominal, new <= entropy)
$JEPATOK eval --model "$model" --data "$tmp/data" --out "$tmp/ev" --jobs 1 > "$tmp/ev.txt" 2> "$tmp/err"
rc=$?
line=$(grep "^codes:" "$tmp/err")
echo "$line" | awk '{ e = $5; nom = $7; nw = $9; ch = $(NF - 5) + 0
                      exit !($2 > 0 && e >= 0 && e <= nom + 1e-9 && nw >= 0 && nw <= e + 1e-9 && ch >= 0 && ch <= 100) }'
sane=$?
[ $rc -eq 0 ] && [ $sane -eq 0 ] && grep -q "^clip1," "$tmp/ev.txt" || { sed 's/^/# /' "$tmp/err" "$tmp/ev.txt"; false; }
ok $? "eval --model scores the coded files and reports code usage: $line"

# info names the model it describes, also when it comes from $JEPATOK_MODEL
# (the default) rather than --model, and reads its training metadata
JEPATOK_MODEL="$model" $JEPATOK info > "$tmp/info.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -qx "model: $model" "$tmp/info.txt" && grep -q "^  stage2_steps: 30$" "$tmp/info.txt" || \
  { sed 's/^/# /' "$tmp/info.txt"; false; }
ok $? "info without --model describes \$JEPATOK_MODEL's model by name: $(grep '^model:' "$tmp/info.txt")"

# ------------------------------------------------------- encode, decode
J() { $JEPATOK "$@" --model "$model" -q; }
cp "$tmp/data/clip1.wav" "$tmp/in/c22.wav"
resample "$tmp/data/clip2.wav" "$tmp/in/c16.wav" 16000; resample "$tmp/data/clip3.wav" "$tmp/in/c44.wav" 44100
for name in c22 c16 c44; do
  f="$tmp/in/$name.wav"
  if [ ! -s "$f" ]; then
    skip "$name: neither sox nor python3 to make the input"
    continue
  fi
  set -- $(wavinfo "$f")
  rate=$1 count=$2
  J encode "$f" -o "$tmp/$name.jtok" --npy "$tmp/$name.npy" 2> "$tmp/err"
  rc=$?
  frames=$(( (count * 24000 / rate + 9599) / 9600 ))
  hdr=$(dd if="$tmp/$name.npy" bs=1 skip=10 count=118 2>/dev/null)
  [ $rc -eq 0 ] && [ "$(u32 "$tmp/$name.jtok" 24)" -eq "$rate" ] && [ "$(u32 "$tmp/$name.jtok" 28)" -eq "$count" ] &&
    echo "$hdr" | grep -q "'descr': '<u2'" && echo "$hdr" | grep -Eq "'shape': \\($frames, 19\\)"
  ok $? "$name: $count samples at $rate Hz encode to .jtok (rate, count recorded) and .npy (<u2, ($frames, 19))"
  J decode "$tmp/$name.jtok" -o "$tmp/$name.out.wav" 2> "$tmp/err"
  rc=$?
  got=$(wavinfo "$tmp/$name.out.wav")
  [ $rc -eq 0 ] && [ "$got" = "$rate $count" ]
  ok $? "$name: decodes to $rate Hz and exactly $count samples (got $got)"
done

out=$($JEPATOK roundtrip "$tmp/in/c22.wav" -o "$tmp/rt.wav" --model "$model" 2> "$tmp/err")
rc=$?
[ $rc -eq 0 ] && for w in frames "tokens/s" "bit/s" "real-time factor" STOI; do
  echo "$out" | grep -q "$w" || rc=1
done
[ "$(wavinfo "$tmp/rt.wav")" = "$(wavinfo "$tmp/in/c22.wav")" ] || rc=1
ok $rc "roundtrip prints frames, tokens/s, bit/s, real-time factor, STOI: $out"
JEPATOK_BACKEND=cpu:threads=1 $JEPATOK roundtrip "$tmp/in/c22.wav" -o "$tmp/rt1.wav" --model "$model" 2>/dev/null
rc=$?
$JEPATOK roundtrip "$tmp/in/c22.wav" -o "$tmp/rt2.wav" --model "$model" --backend cpu:threads=1 2>/dev/null
rc2=$?
[ $rc -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s "$tmp/rt1.wav" "$tmp/rt2.wav"
ok $? "backend options after a colon, in JEPATOK_BACKEND and --backend (cpu:threads=1)"

mkdir -p "$tmp/many"
cp "$tmp/data/clip1.wav" "$tmp/data/clip2.wav" "$tmp/data/clip4.wav" "$tmp/many/"
J encode "$tmp/many" -o "$tmp/many.tok" 2>/dev/null
rc=$?
[ $rc -eq 0 ] && [ "$(ls "$tmp/many.tok" | grep -c '\.jtok$')" -eq 3 ] && [ "$(ls -A "$tmp/many.tok" | wc -l)" -eq 3 ]
ok $? "a directory of 3 wavs with -o DIR gives 3 token files ($(ls "$tmp/many.tok" | tr '\n' ' '))"
J decode "$tmp/many.tok" -o "$tmp/many.wav" 2>/dev/null
rc=$?
[ $rc -eq 0 ] && [ "$(ls "$tmp/many.wav" | grep -c '\.wav$')" -eq 3 ] &&
  [ "$(wavinfo "$tmp/many.wav/clip4.wav")" = "$(wavinfo "$tmp/data/clip4.wav")" ]
ok $? "and decoding that directory gives 3 wavs of the original lengths"

# ------------------------------------------------------------- refusals
e=0
newdir() { e=$((e + 1)); mkdir -p "$tmp/e$e"; echo "$tmp/e$e"; }

wav_header 1 16 24000 0 > "$tmp/empty.wav"
d=$(newdir); refuses "encode of a WAV with 0 samples" "$d" J encode "$tmp/empty.wav" -o "$d/x.jtok"
d=$(newdir); refuses "roundtrip of a WAV with 0 samples" "$d" J roundtrip "$tmp/empty.wav" -o "$d/x.wav"
{ wav_header 3 32 24000 16; le32 0; le32 2143289344; le32 1056964608; le32 0; } > "$tmp/nan.wav"
d=$(newdir); refuses "encode of a float WAV holding a NaN" "$d" J encode "$tmp/nan.wav" -o "$d/x.jtok" --npy "$d/x.npy"
echo "this is not audio" > "$tmp/text.wav"
d=$(newdir); refuses "encode of a text file" "$d" J encode "$tmp/text.wav" -o "$d/x.jtok"
d=$(newdir); refuses "an unknown backend option (cpu:thread=1)" "$d" \
  $JEPATOK roundtrip "$tmp/in/c22.wav" -o "$d/x.wav" --model "$model" --backend cpu:thread=1
d=$(newdir); refuses "encode with a missing model file" "$d" \
  $JEPATOK encode "$tmp/in/c22.wav" -o "$d/x.jtok" --model "$tmp/nowhere.safetensors"
d=$(newdir); refuses "encode with a training checkpoint as the model" "$d" \
  $JEPATOK encode "$tmp/in/c22.wav" -o "$d/x.jtok" --model "$tmp/run2/checkpoint.safetensors"

size=$(wc -c < "$tmp/c22.jtok")
cp "$tmp/c22.jtok" "$tmp/flip.jtok"
flip_byte "$tmp/flip.jtok" $((size / 2))
d=$(newdir); refuses "decode of a .jtok with a flipped byte (checksum)" "$d" J decode "$tmp/flip.jtok" -o "$d/x.wav"
grep -q checksum "$tmp/err"
ok $? "the flipped byte is reported as a checksum mismatch"
head -c $((size - 7)) "$tmp/c22.jtok" > "$tmp/short.jtok"
d=$(newdir); refuses "decode of a truncated .jtok" "$d" J decode "$tmp/short.jtok" -o "$d/x.wav"
# token 0 set to 65535 (its radix is 16384), with the CRC recomputed: gzip's
# trailer holds the same CRC-32 (IEEE, little-endian) of its input
head -c $((size - 4)) "$tmp/c22.jtok" > "$tmp/range.jtok"
le16 65535 | dd of="$tmp/range.jtok" bs=1 seek=$((44 + 2 * 19)) conv=notrunc 2>/dev/null
gzip -c < "$tmp/range.jtok" | tail -c 8 | head -c 4 >> "$tmp/range.jtok"
d=$(newdir); refuses "decode of a .jtok with an out-of-range token and a valid CRC" "$d" \
  J decode "$tmp/range.jtok" -o "$d/x.wav"
grep -Eq "range|radix" "$tmp/err" && ! grep -q checksum "$tmp/err"
ok $? "the out-of-range token is the reason, not the checksum"
d=$(newdir); refuses "decode of another model's tokens" "$d" \
  $JEPATOK decode "$tmp/c22.jtok" -o "$d/x.wav" --model "$tmp/other/model.safetensors"
grep -q "made by model" "$tmp/err"
ok $? "the reason names the models"
$JEPATOK decode "$tmp/c22.jtok" -o "$tmp/forced.wav" --model "$tmp/other/model.safetensors" --force -q 2>/dev/null
rc=$?
[ $rc -eq 0 ] && [ "$(wavinfo "$tmp/forced.wav")" = "$(wavinfo "$tmp/in/c22.wav")" ]
ok $? "with --force another model's tokens decode (exit $rc)"
d=$(newdir); refuses "decode with a missing model file" "$d" \
  $JEPATOK decode "$tmp/c22.jtok" -o "$d/x.wav" --model "$tmp/nowhere.safetensors"
d=$(newdir); refuses "decode of an audio file as tokens" "$d" J decode "$tmp/in/c22.wav" -o "$d/x.wav"

echo "1..$n"
