#!/usr/bin/env bash
# The tiny static CLI (`make static`, musl-gcc): fully static, stripped, at most 400 KB, and it
# generates the same ids as the normal build (every kernel ISA is in it; dispatch stays at run
# time). The static examples/simple prints the same text as the normal one.
# Prints "static: N passed, N failed".
set -u
# Without the shared test data (a clone without ../shared) this suite is skipped with a notice.
if [ ! -f "${BITNET_SHARED:-../shared}/data/README.md" ]; then
    echo "notice: ${BITNET_SHARED:-../shared}/data not found (set BITNET_SHARED): the static suite needs the shared models, skipped"
    echo "static: 0 passed, 0 failed"
    exit 0
fi
cd "$(dirname "$0")/.."
B=${B:-build}
MUSL_CC=${MUSL_CC:-musl-gcc}
BITNET=${BITNET:-$B/bitnet}
SHARED=${BITNET_SHARED:-../shared}
LIMIT=$((400 * 1024))
if ! command -v "$MUSL_CC" >/dev/null 2>&1; then
    echo "notice: $MUSL_CC not found; the static build is not tested"
    echo "static: 0 passed, 0 failed"
    exit 0
fi
passed=0 failed=0
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
if ! make --no-print-directory -s B="$B" static >/dev/null; then
    echo "FAIL: make static" >&2
    echo "static: 0 passed, 1 failed"
    exit 1
fi
bin=$B/bitnet-static
size=$(wc -c < "$bin")
[ "$size" -le "$LIMIT" ] && ok || fail "$bin is $size bytes, more than $LIMIT"
# static: no program interpreter, no dynamic section; stripped: no symbol table
if command -v readelf >/dev/null 2>&1; then
    readelf -l "$bin" | grep -q 'INTERP' && fail "$bin has a program interpreter" || ok
    readelf -d "$bin" 2>&1 | grep -q 'no dynamic section' && ok || fail "$bin has a dynamic section"
    readelf -S "$bin" | grep -q '\.symtab' && fail "$bin is not stripped" || ok
fi
echo "static: $bin is $size bytes; $B/examples/simple-static is $(wc -c < "$B/examples/simple-static") bytes"

model=$SHARED/data/models/tiny-b158-i2_s.gguf
for t in 1 3; do
    got=$("$bin" run -m "$model" -p "Once upon a time, the sea" -n 24 -s 7 -t "$t" --print-ids 2>/dev/null)
    if [ -z "$got" ]; then fail "static run -t $t: no ids"; continue; fi
    if [ -x "$BITNET" ]; then
        want=$("$BITNET" run -m "$model" -p "Once upon a time, the sea" -n 24 -s 7 -t "$t" --print-ids 2>/dev/null)
        [ "$got" = "$want" ] && ok || fail "static -t $t: '$got' vs normal build '$want'"
    else
        ok
    fi
    echo "static: -t $t: $got"
done
"$bin" info "$model" | grep -q '^kernels: cpu: ' && ok || fail "static info: no kernels line"
"$bin" info "$SHARED/data/nope.gguf" > /dev/null 2>&1; rc=$?
[ "$rc" -eq 1 ] && ok || fail "static info on a missing file: exit $rc"
if [ -x "$B/examples/simple" ]; then
    a=$("$B/examples/simple-static" "$model" 2>&1); b=$("$B/examples/simple" "$model" 2>&1)
    [ -n "$a" ] && [ "$a" = "$b" ] && ok || fail "simple-static printed '$a', simple '$b'"
fi
# unit tests linked with musl (its pthreads, its stdio, its 128 KiB thread stacks)
for prog in "$B"/musl/test_*; do
    out=$("$prog" 2>&1); rc=$?
    if [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -Eq ': [0-9]+ passed, 0 failed$'; then
        ok; echo "static: musl $(printf '%s\n' "$out" | tail -n 1)"
    else
        printf '%s\n' "$out" | tail -n 20 >&2; fail "$prog (musl) exit $rc"
    fi
done
echo "static: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
