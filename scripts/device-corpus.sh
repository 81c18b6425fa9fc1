#!/bin/sh
# device-corpus.sh: a training corpus small enough to travel to a lent GPU
# machine.  The device tool carries at most 64 MiB (the checkout, about 40
# MiB with the grown default model, included), so the offline corpus
# (models/corpus, 2.1 GB of WAV) cannot go; this takes a seeded random subset
# of its train split, re-encoded as Ogg Opus at 24 kbit/s (jepatok reads it
# through libsndfile, which the pack carries), until the files reach MIB
# mebibytes, every source in proportion to its share of the split: about
# 5.3 minutes of speech per MiB.  MIB defaults to what is left of the 64 MiB
# after the tracked files, the pack (scripts/device-pack.sh, run first) and
# 2 MiB of margin: about 12 MiB, 1 hour of speech, in December 2026.
# Opus at 24 kbit/s is not transparent: a decoder trained on it learns
# slightly band-limited, smeared targets; the validation split stays WAV.
#
#   scripts/device-corpus.sh CORPUS_DIR [DIR] [MIB]
#
# DIR (default .device-pack/corpus) gets the .opus files and list.txt, their
# paths relative to DIR, for `jepatok train --data DIR/list.txt`;
# scripts/device-train.sh uses it there.  Needs opusenc (opus-tools).
set -eu
corpus=${1:?usage: device-corpus.sh CORPUS_DIR [DIR] [MIB]}
dir=${2:-.device-pack/corpus}
mib=${3:-}
if [ -z "$mib" ]; then
    # what travels besides the corpus: the tracked files and the pack
    tracked=$(git ls-files -z | xargs -0 stat -c %s | awk '{ t += $1 } END { print t }')
    pack=$(du -sb --exclude=corpus "$(dirname "$dir")" 2>/dev/null | cut -f 1)
    mib=$(((64 * 1048576 - tracked - ${pack:-0}) / 1048576 - 2))
    [ "$mib" -gt 0 ] || { echo "device-corpus: no room left in the 64 MiB the device tool carries" >&2; exit 1; }
fi
command -v opusenc >/dev/null || { echo "device-corpus: opusenc missing (apt-get install opus-tools)" >&2; exit 1; }
[ -f "$corpus/manifest.tsv" ] || { echo "device-corpus: $corpus/manifest.tsv missing (models/corpus/build-corpus.sh)" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"
limit=$((mib * 1048576))
total=0
seconds=0
n=0
# train split in a fixed random order (awk's generator, seed 1)
awk -F '\t' 'BEGIN { srand(1) } NR > 1 && $6 == "train" { print rand() "\t" $1 "\t" $4 }' "$corpus/manifest.tsv" |
    sort -k1,1 | cut -f 2,3 >"$dir/.order"
while IFS="$(printf '\t')" read -r path duration; do
    name=$(printf '%s' "${path#wav/}" | tr '/' '_')
    name=${name%.wav}.opus
    opusenc --quiet --bitrate 24 --comp 10 "$corpus/$path" "$dir/$name"
    size=$(stat -c %s "$dir/$name")
    if [ $((total + size)) -gt "$limit" ]; then
        rm -f "$dir/$name"
        break
    fi
    total=$((total + size))
    seconds=$(awk -v s="$seconds" -v d="$duration" 'BEGIN { printf "%.3f", s + d }')
    n=$((n + 1))
    echo "$name" >>"$dir/list.txt"
done <"$dir/.order"
rm -f "$dir/.order"
awk -v n="$n" -v s="$seconds" -v b="$total" \
    'BEGIN { printf "device-corpus: %d files, %.2f h, %.1f MiB\n", n, s / 3600, b / 1048576 }' | tee "$dir/totals.txt"
