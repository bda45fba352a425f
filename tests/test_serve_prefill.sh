#!/usr/bin/env bash
# `bitnet serve --prefill-budget` (chunked prefill): while a stream is generating, a long prompt
# goes in steps of at most the budget (the /metrics gauge bitnet_prefill_beside_max is exactly the
# budget), with budget 0 in one step (the gauge is the whole prompt: it would catch an unbounded
# step), and the greedy text is the same either way and the same as the prompt alone; bad values
# of the flag exit 1. The budget goes first to the request that came first.
set -u
. "$(dirname "$0")/lib.sh"
pid="" bg=""
cleanup() { [ -n "$bg" ] && kill "$bg" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
need_tools curl jq
"$BITNET" make-model "$tmp/tiny.gguf" > /dev/null 2>&1 || { fail "make-model"; report; exit 1; }

start() {   # start ARGS...: a ready server with 2 slots; sets pid and URL
    local i port
    "$BITNET" serve -m "$tmp/tiny.gguf" --port 0 -t 2 -np 2 -c 2048 "$@" > "$tmp/log" 2>&1 &
    pid=$!
    for i in $(seq 200); do grep -q ' ready: ' "$tmp/log" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$tmp/log")
    URL="http://127.0.0.1:$port"
    grep -q ' ready: ' "$tmp/log"
}
stop() { kill -TERM "$pid"; wait "$pid"; check "server exits 0" [ $? = 0 ]; pid=""; }
metric() { curl -s "$URL/metrics" | sed -n "s/^$1 //p"; }
busy() {    # busy N: until N slots are busy (5 s at most)
    local i
    for i in $(seq 100); do [ "$(metric bitnet_slots_busy)" = "$1" ] && return 0; sleep 0.05; done
    return 1
}
stream_on() {   # a stream that generates until it is killed
    curl -sN "$URL/v1/completions" -d '{"prompt":"Once upon a time","max_tokens":100000,"ignore_eos":true,"stream":true}' \
        > /dev/null &
    bg=$!
    busy 1
}
stream_off() { kill "$bg"; wait "$bg" 2>/dev/null; bg=""; busy 0; }
long_prompt() {   # long_prompt WORD: about 60 tokens
    local i p="$1"
    for i in $(seq 12); do p="$p the ships that cross the sea"; done
    jq -cn --arg p "$p" '{prompt:$p,max_tokens:8,temperature:0,ignore_eos:true}'
}
complete() { curl -s "$URL/v1/completions" -d "$1" > "$tmp/out.json"; jq -r '.choices[0].text' "$tmp/out.json"; }

check "budget 4: server starts" start --prefill-budget 4
check "budget gauge" [ "$(metric bitnet_prefill_budget)" = 4 ]
check "a stream is generating" stream_on
text_chunked=$(complete "$(long_prompt Tell)")
n_prompt=$(jq '.usage.prompt_tokens' "$tmp/out.json")
check "the long prompt has $n_prompt tokens (> 40)" [ "$n_prompt" -gt 40 ]
beside=$(metric bitnet_prefill_beside_max)
check "budget 4: at most 4 prompt tokens per step beside the stream (saw $beside)" [ "$beside" = 4 ]
check "stream stopped" stream_off
stop

check "budget 0: server starts" start --prefill-budget 0
text_alone=$(complete "$(long_prompt Tell)")
check "alone: nothing ran beside a stream" [ "$(metric bitnet_prefill_beside_max)" = 0 ]
check "chunked greedy text = alone ('$text_chunked')" [ -n "$text_alone" ] && [ "$text_chunked" = "$text_alone" ]
check "a stream is generating" stream_on
text_whole=$(complete "$(long_prompt Say)")
n_whole=$(jq '.usage.prompt_tokens' "$tmp/out.json")
beside=$(metric bitnet_prefill_beside_max)
check "budget 0: the whole prompt in one step beside the stream ($beside of $n_whole)" [ "$beside" = "$n_whole" ]
check "budget 0: text" [ -n "$text_whole" ]
check "stream stopped" stream_off
stop

check "default budget 32" start
check "default budget gauge" [ "$(metric bitnet_prefill_budget)" = 32 ]
check "budget 32: text as alone" [ "$(complete "$(long_prompt Tell)")" = "$text_alone" ]
stop

# First come, first prefilled: the budget goes to the request that came first, even when it sits
# in a later slot. X and Y leave their prompts cached in slots 0 and 1 and the stream takes slot
# 2; then E (Y's prompt and 1000 more tokens) goes to slot 1 by its cached prefix, and L (X's and
# 1000 more), sent once E runs, to slot 0. Budget by slot would answer L first. One token a step
# keeps E prefilling for a thousand steps, long enough to see L admitted beside it on a fast CPU.
ids_prompt() { jq -cn --argjson p "[$(seq -s, "$1" "$2")${3:+,$(seq -s, "$3" "$4")}]" '{prompt:$p,max_tokens:1,temperature:0}'; }
answered_at() { curl -s "$URL/v1/completions" -d "$1" > "$tmp/$2.json"; date +%s%N > "$tmp/$2.t"; }
check "budget 1, 4 slots: server starts" start --prefill-budget 1 -np 4 -c 8192
complete "$(ids_prompt 10 14)" > /dev/null
complete "$(ids_prompt 20 24)" > /dev/null
check "a stream is generating" stream_on
answered_at "$(ids_prompt 20 24 24 1023)" e & e_pid=$!
check "E admitted" busy 2
answered_at "$(ids_prompt 10 14 24 1023)" l & l_pid=$!
check "L admitted" busy 3
wait "$e_pid" "$l_pid"
check "E and L answered" jq -e '.usage.prompt_tokens > 1000' "$tmp/e.json" "$tmp/l.json"
check "E, which came first, is answered first" [ "$(cat "$tmp/e.t")" -lt "$(cat "$tmp/l.t")" ]
check "stream stopped" stream_off
stop

for bad in -1 x 70000 ''; do
    expect_status 1 "--prefill-budget '$bad'" -- "$BITNET" serve -m "$tmp/tiny.gguf" --port 0 --prefill-budget "$bad"
    check "--prefill-budget '$bad': says why" grep -q 'prefill-budget' "$tmp/err"
done
report
[ "$failed" -eq 0 ]
