#!/usr/bin/env bash
# Device choice on the command line: BITNET_DEVICE / --device with the plain CPU build (cuda is
# a clear error, cpu and auto run), and with build/bitnet-cuda when `make cuda` built it (no GPU
# here: cuda is a clear error, auto falls back to the CPU saying why; with a GPU: both run on it).
set -u
# Without the shared test data (a clone without ../shared) this suite is skipped with a notice.
if [ ! -f "${BITNET_SHARED:-../shared}/data/README.md" ]; then
    echo "notice: ${BITNET_SHARED:-../shared}/data not found (set BITNET_SHARED): the cuda_cli suite needs the shared models, skipped"
    echo "cuda_cli: 0 passed, 0 failed"
    exit 0
fi
BITNET=${BITNET:-build/bitnet}
BITNET_CUDA=${BITNET_CUDA:-build/bitnet-cuda}
SHARED=${BITNET_SHARED:-../shared}
M="$SHARED/data/models/tiny-b158-i2_s.gguf"
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# run WANT_STATUS GREP_STDERR DESCRIPTION -- command...
run() {
    local want=$1 pat=$2 what=$3; shift 4
    "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else fail "$what: exit $rc, want $want"; cat "$tmp/err" >&2; fi
    if [ -n "$pat" ]; then grep -q -- "$pat" "$tmp/err" && ok || { fail "$what: stderr lacks '$pat'"; cat "$tmp/err" >&2; }; fi
}

run 1 "no GPU backend is linked" "cpu build, BITNET_DEVICE=cuda" -- env BITNET_DEVICE=cuda "$BITNET" run -m "$M" -p hi -n 2
run 1 "is not cpu, cuda" "bad device name" -- "$BITNET" run -m "$M" -p hi -n 2 --device gpu
run 0 "" "cpu build, --device cpu" -- "$BITNET" run -m "$M" -p hi -n 2 --device cpu
run 0 "" "cpu build, auto" -- env BITNET_DEVICE=auto "$BITNET" run -m "$M" -p hi -n 2
run 0 "" "cpu build, no device asked" -- "$BITNET" run -m "$M" -p hi -n 2
[ -s "$tmp/err" ] && grep -q "device" "$tmp/err" && fail "cpu build without a device request logs a device line" || ok
"$BITNET" info "$M" > "$tmp/info" 2>&1
grep -q '^cuda: not linked' "$tmp/info" && ok || fail "info: no 'cuda: not linked' line"
grep -q '^backend: cpu' "$tmp/info" && ok || fail "info: no 'backend: cpu' line"

if [ -x "$BITNET_CUDA" ]; then
    "$BITNET_CUDA" info "$M" > "$tmp/info" 2>&1
    if grep -q '^cuda:[0-9]*: ' "$tmp/info"; then
        grep -q '^backend: cuda:0 ' "$tmp/info" && ok || fail "bitnet-cuda info: the model does not pick cuda:0"
        run 0 "" "bitnet-cuda, BITNET_DEVICE=cuda on a GPU" -- env BITNET_DEVICE=cuda "$BITNET_CUDA" run -m "$M" -p hi -n 4
        run 1 "cuda:9 does not exist" "bitnet-cuda, cuda:9" -- env BITNET_DEVICE=cuda:9 "$BITNET_CUDA" run -m "$M" -p hi -n 2
    else
        grep -q '^cuda: backend linked, no CUDA device present' "$tmp/info" && ok || fail "bitnet-cuda info: no device line"
        run 1 "no CUDA device is present" "bitnet-cuda, cuda without a GPU" -- env BITNET_DEVICE=cuda "$BITNET_CUDA" run -m "$M" -p hi -n 2
        run 0 "device auto: cpu (no CUDA device is present)" "bitnet-cuda, auto without a GPU" -- "$BITNET_CUDA" run -m "$M" -p hi -n 2
    fi
else
    echo "notice: $BITNET_CUDA not built (make cuda); its checks skipped"
fi
echo "cuda_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
