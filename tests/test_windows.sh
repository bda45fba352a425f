#!/usr/bin/env bash
# Windows x86-64: cross-builds the unit tests and the CLI with mingw-w64 (`make windows`), runs
# every test under wine and checks it passes the same number of checks as the Linux build, then
# generates with bitnet.exe (1 and 3 threads, two models, a UTF-8 file name) and compares the
# ids with the Linux CLI's. Prints "windows: N passed, N failed".
set -u
# Without the shared test data (a clone without ../shared) this suite is skipped with a notice.
if [ ! -f "${BITNET_SHARED:-../shared}/data/README.md" ]; then
    echo "notice: ${BITNET_SHARED:-../shared}/data not found (set BITNET_SHARED): the windows suite needs the shared models, skipped"
    echo "windows: 0 passed, 0 failed"
    exit 0
fi
cd "$(dirname "$0")/.."
B=${B:-build}
MINGW=${MINGW:-x86_64-w64-mingw32-gcc}
BITNET=${BITNET:-$B/bitnet}
SHARED=${BITNET_SHARED:-../shared}
if ! command -v "$MINGW" >/dev/null 2>&1 || ! command -v wine >/dev/null 2>&1; then
    echo "notice: $MINGW or wine not found; the Windows build is not tested"
    echo "windows: 0 passed, 0 failed"
    exit 0
fi
passed=0 failed=0
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

if ! make --no-print-directory -s B="$B" windows >/dev/null; then
    echo "FAIL: make windows" >&2
    echo "windows: 0 passed, 1 failed"
    exit 1
fi
# A private prefix under the build dir; no Mono/Gecko downloads, no debug chatter.
export WINEPREFIX="$PWD/$B/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p "$WINEPREFIX"
timeout 300 wineboot -i >/dev/null 2>&1
w() { timeout 300 wine "$@"; }
counts() {   # counts OUTPUT: "P F" from its last "name: P passed, F failed" line, or "0 1"
    local line
    line=$(printf '%s\n' "$1" | tr -d '\r' | grep -E '^[A-Za-z0-9_+ -]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ]; then echo "0 1"; return; fi
    printf '%s\n' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1 \2/'
}

# Unit tests: pass under wine, with as many checks as on Linux (where the Linux build exists).
for exe in "$B"/win/tests/*.exe; do
    name=$(basename "$exe" .exe) linux=$(basename "$exe" .exe)
    [ "$name" = msvc_intrinsics ] && linux=test_threads       # the same test, MSVC's atomics
    out=$(w "$exe" 2>&1); rc=$?
    read -r p f <<< "$(counts "$out")"
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        printf '%s\n' "$out" | tail -n 20 >&2; fail "$name under wine (exit $rc, $f failed)"; continue
    fi
    ok
    if [ -x "$B/tests/$linux" ]; then
        read -r lp lf <<< "$(counts "$("$B/tests/$linux" 2>&1)")"
        [ "$lp" -eq "$p" ] && [ "$lf" -eq 0 ] && ok || fail "$name: $p checks under wine, $lp on Linux"
    fi
    echo "windows: $name: $p passed under wine"
done

# The CLI: the same ids as the Linux build for the same prompt, seed and thread count.
tmp=$(mktemp -d "$PWD/$B/win/tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$SHARED/data/models/tiny-b158-i2_s.gguf" "$tmp/mödel.gguf"
gen_case() {   # gen_case MODEL THREADS: compares bitnet.exe with the Linux CLI
    local model=$1 t=$2 win lin
    win=$(w "$B/win/bitnet.exe" run -m "$model" -p "Once upon a time, the sea" -n 24 -s 7 -t "$t" --print-ids 2>/dev/null | tr -d '\r')
    if [ -z "$win" ]; then fail "bitnet.exe run $(basename "$model") -t $t: no ids"; return; fi
    if [ -x "$BITNET" ]; then
        lin=$("$BITNET" run -m "$model" -p "Once upon a time, the sea" -n 24 -s 7 -t "$t" --print-ids 2>/dev/null)
        [ "$win" = "$lin" ] && ok || fail "$(basename "$model") -t $t: wine '$win' vs Linux '$lin'"
    else
        ok
    fi
    echo "windows: bitnet.exe $(basename "$model") -t $t: $win"
}
gen_case "$SHARED/data/models/tiny-b158-i2_s.gguf" 1
gen_case "$SHARED/data/models/tiny-b158-i2_s.gguf" 3
gen_case "$SHARED/data/models/tiny-bitnet-silu-tq2_0.gguf" 3
gen_case "$tmp/mödel.gguf" 2
# --no-mmap takes the read path
win=$(w "$B/win/bitnet.exe" run -m "$tmp/mödel.gguf" --no-mmap -p "Once upon a time, the sea" -n 24 -s 7 -t 2 --print-ids 2>/dev/null | tr -d '\r')
mapped=$(w "$B/win/bitnet.exe" run -m "$tmp/mödel.gguf" -p "Once upon a time, the sea" -n 24 -s 7 -t 2 --print-ids 2>/dev/null | tr -d '\r')
[ -n "$win" ] && [ "$win" = "$mapped" ] && ok || fail "--no-mmap ids '$win' vs mapped '$mapped'"
# UTF-8 names through the CLI's own files: make-model writes one, logits another, and quantize
# knows a file under its own name (the same-file check is by volume and file index here)
w "$B/win/bitnet.exe" make-model "$tmp/ñ.gguf" > /dev/null 2>&1 && [ -s "$tmp/ñ.gguf" ] && ok || fail "make-model to a UTF-8 name"
w "$B/win/bitnet.exe" logits -m "$tmp/ñ.gguf" --tokens "1 2 3" -o "$tmp/lø.f32" > /dev/null 2>&1 && [ -s "$tmp/lø.f32" ] && ok \
    || fail "logits to a UTF-8 name"
w "$B/win/bitnet.exe" quantize "$tmp/ñ.gguf" "$tmp/ñ.gguf" tq2_0 > /dev/null 2> "$tmp/err"; rc=$?
[ "$rc" -eq 1 ] && grep -q 'is the input file' "$tmp/err" && ok || fail "quantize onto its input: exit $rc"
w "$B/win/bitnet.exe" quantize "$tmp/ñ.gguf" "$tmp/mödel.gguf" tq2_0 > /dev/null 2>&1 && ok || fail "quantize onto another file"
# errors: one line on stderr, exit status 1
w "$B/win/bitnet.exe" info "$tmp/missing.gguf" > "$tmp/out" 2> "$tmp/err"; rc=$?
[ "$rc" -eq 1 ] && [ "$(tr -d '\r' < "$tmp/err" | wc -l)" -eq 1 ] && grep -q "missing.gguf" "$tmp/err" && ok \
    || fail "missing file: exit $rc, stderr: $(cat "$tmp/err")"
w "$B/win/bitnet.exe" info "$tmp" > "$tmp/out" 2> "$tmp/err"; rc=$?
[ "$rc" -eq 1 ] && ok || fail "directory: exit $rc"
w "$B/win/bitnet.exe" --version > "$tmp/out" 2>&1 && grep -q '^bitnet ' "$tmp/out" && ok || fail "--version"
echo "windows: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
