#!/usr/bin/env bash
# `bitnet serve` while its model is still loading (held back by the test-only
# BITNET_SERVE_TEST_LOAD_DELAY_MS): /health and the API answer 503 with an OpenAI-shaped
# "model_loading" error, then 200 once the model is ready; SIGTERM during the load exits cleanly.
set -u
. "$(dirname "$0")/lib.sh"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
need_tools curl jq
"$BITNET" make-model "$tmp/tiny.gguf" > /dev/null 2>&1 || { fail "make-model"; report; exit 1; }

# start DELAY_MS: a server that is listening but still loading
start() {
    local i
    BITNET_SERVE_TEST_LOAD_DELAY_MS=$1 "$BITNET" serve -m "$tmp/tiny.gguf" --port 0 -t 1 > "$tmp/log" 2>&1 &
    pid=$!
    for i in $(seq 100); do grep -q 'listening on' "$tmp/log" && break; sleep 0.05; done
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$tmp/log")
    URL="http://127.0.0.1:$port"
    [ -n "$port" ]
}

check "listening before the model is loaded" start 3000
code=$(curl -s -o "$tmp/h.json" -w '%{http_code}' "$URL/health")
check "/health while loading: 503" [ "$code" = 503 ]
check "/health while loading: model_loading error" jq -e '.error.code == "model_loading" and (.error.message|type=="string")' "$tmp/h.json"
check "not ready yet in the log" bash -c "! grep -q ' ready: ' '$tmp/log'"
code=$(curl -s -o "$tmp/c.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data '{"prompt":"Hello","max_tokens":2}' "$URL/v1/completions")
check "/v1/completions while loading: 503" [ "$code" = 503 ]
check "/v1/completions while loading: OpenAI error" jq -e '.error.type == "unavailable_error"' "$tmp/c.json"
for i in $(seq 200); do grep -q ' ready: ' "$tmp/log" && break; sleep 0.05; done
check "ready after the delay" grep -q ' ready: ' "$tmp/log"
check "/health once loaded: 200" [ "$(curl -s -w ' %{http_code}' "$URL/health")" = '{"status":"ok"} 200' ]
code=$(curl -s -o "$tmp/c.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data '{"prompt":"Hello","max_tokens":2}' "$URL/v1/completions")
check "/v1/completions once loaded: 200" [ "$code" = 200 ]
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=""
check "SIGTERM after loading: exit 0" [ "$rc" = 0 ]

check "listening, loading again" start 20000
t0=$(date +%s)
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=""
check "SIGTERM during the load: exit status $rc" [ "$rc" = 0 ]
check "SIGTERM during the load: out in under 5 s" [ $(( $(date +%s) - t0 )) -lt 5 ]
report
[ "$failed" -eq 0 ]
