# lib.sh - the preamble the command-line test scripts share; they source it first:
#   . "$(dirname "$0")/lib.sh"
# BITNET and SHARED (overridable by BITNET and BITNET_SHARED), the pass/fail counters, a
# temporary folder $tmp removed at exit, ok / fail / expect_status, and for the scripts that
# report as their file's name: check / report / need_tools.
BITNET=${BITNET:-build/bitnet}
SHARED=${BITNET_SHARED:-../shared}
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect_status() {   # expect_status WANT DESCRIPTION -- command...  (stdout, stderr in $tmp/out, $tmp/err)
    local want=$1 what=$2; shift 3
    "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null; local rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else fail "$what: exit $rc, want $want"; cat "$tmp/err" >&2; fi
}
check() { local what=$1; shift; if "$@" > /dev/null; then ok; else fail "$what"; fi; }   # stdout dropped
script_name=${0##*/}; script_name=${script_name%.sh}
report() { echo "$script_name: $passed passed, $failed failed"; }
need_tools() {      # need_tools TOOL...: a missing one skips the script (a notice, 0 failed)
    local t
    for t; do
        command -v "$t" > /dev/null 2>&1 || { echo "$script_name: $t not found, skipped"; report; exit 0; }
    done
}
