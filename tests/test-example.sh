#!/bin/sh
# test-example.sh: the README's C API example is examples/example.c,
# verbatim; the built example runs on a tiny random model; jepatok.h
# compiles alone as C99 and as C++; libjepatok exports only jepatok_*; the
# generated jepatok.pc names the library.
b=${JEPATOK_BUILDDIR:-.}
s=${srcdir:-.}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/jt-example.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# The README holds the program between two marker lines, indented by 4.
sed -n '/^---- begin examples\/example.c ----$/,/^---- end examples\/example.c ----$/p' "$s/README" |
  sed '1d;$d' | sed 's/^    //' > "$tmp/readme-example.c"
test -s "$tmp/readme-example.c" && diff -u "$s/examples/example.c" "$tmp/readme-example.c" >&2
ok $? "README's C API example is examples/example.c verbatim"

"$b/tests/make-tiny-model" "$tmp/tiny.safetensors" 3
ok $? "make-tiny-model writes a tiny random model"
"$b/examples/example" "$tmp/tiny.safetensors" > "$tmp/out" 2> "$tmp/err"
st=$?
cat "$tmp/out" "$tmp/err" | sed 's/^/# /'
[ $st -eq 0 ] && grep -q "24000 samples at 16000 Hz -> 4 frames x 19 tokens (640 bit/s)" "$tmp/out" &&
  grep -q "^first tokens: [0-9]* [0-9]* [0-9]* [0-9]* [0-9]*$" "$tmp/out" &&
  grep -q "^decoded 24000 samples at 16000 Hz" "$tmp/out"
ok $? "the example encodes 1.5 s at 16 kHz to 4 frames and decodes 24000 samples"
"$b/examples/example" "$tmp/nowhere.safetensors" > /dev/null 2> "$tmp/err"
st=$?
[ $st -ne 0 ] && grep -q "I/O error: model .*nowhere.safetensors" "$tmp/err"
ok $? "the example fails with the message for a missing model: $(cat "$tmp/err")"

# jepatok.h is self-contained and needs nothing else installed
mkdir "$tmp/include" && cp "$s/src/jepatok.h" "$tmp/include/"
cc=${CC:-cc}
if command -v "$cc" > /dev/null 2>&1; then
  "$cc" -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only -I"$tmp/include" "$s/examples/example.c"
  ok $? "examples/example.c compiles as C99 with jepatok.h alone"
else
  skip "no C compiler $cc"
fi
if command -v c++ > /dev/null 2>&1; then
  printf '#include "jepatok.h"\nint main() { jepatok_error e; return jepatok_model_open(0, &e) ? 0 : e.code; }\n' \
    > "$tmp/use.cc"
  c++ -Wall -Wextra -Werror -pedantic -fsyntax-only -I"$tmp/include" "$tmp/use.cc"
  ok $? "jepatok.h compiles as C++"
else
  skip "no C++ compiler"
fi

# only the API is exported
so=$(ls "$b"/.libs/libjepatok.so.* 2> /dev/null | head -n 1)
if [ -n "$so" ] && command -v nm > /dev/null 2>&1; then
  nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' > "$tmp/syms"
  others=$(grep -v '^jepatok_' "$tmp/syms" | tr '\n' ' ')
  grep -q '^jepatok_encode$' "$tmp/syms" && [ -z "$others" ]
  ok $? "libjepatok exports only jepatok_* ($(wc -l < "$tmp/syms") symbols)${others:+; also: $others}"
else
  skip "no shared libjepatok or nm"
fi

if command -v pkg-config > /dev/null 2>&1; then
  flags=$(PKG_CONFIG_PATH="$b" pkg-config --cflags --libs jepatok)
  echo "$flags" | grep -q -- "-ljepatok"
  ok $? "jepatok.pc: $flags"
else
  skip "no pkg-config"
fi
echo "1..$n"
