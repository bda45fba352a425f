#!/usr/bin/env bash
# `bitnet serve` against servers this script starts on free loopback ports, with curl (and jq):
# every endpoint and its OpenAI shape, streaming, errors and their statuses, API keys,
# keep-alive, chunked request bodies, malformed and hostile requests, 8 clients at once against
# 4 slots (each gets the greedy text it gets alone), clients that disconnect, the prompt cache,
# a full queue, RSS over 2000 requests, SIGTERM/SIGINT; then tests/serve_openai.mjs with the
# real `openai` npm package (installed by .ci/run into build/node).
set -u
BITNET=${BITNET:-build/bitnet}
NODE_DIR=${BITNET_NODE_DIR:-build/node}
passed=0 failed=0
tmp=$(mktemp -d)
pid=""
bg_pids=()
cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { local what=$1; shift; if "$@" > /dev/null; then ok; else fail "$what"; fi; }
report() { echo "test_serve: $passed passed, $failed failed"; }

for tool in curl jq; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "test_serve: $tool not found, skipped"; report; exit 0
    fi
done

"$BITNET" make-model "$tmp/tiny.gguf" > /dev/null 2>&1 || { fail "make-model"; report; exit 1; }
KEY=sekrit
AUTH="Authorization: Bearer $KEY"

# start_server LOG ARGS...: starts a server, waits until it is ready, sets pid, port and URL
start_server() {
    local log=$1 i; shift
    : > "$log"   # the file exists before the server opens it: the wait below greps it at once
    "$BITNET" serve -m "$tmp/tiny.gguf" --port 0 -t 2 "$@" > "$log" 2>&1 &
    pid=$!
    for i in $(seq 200); do grep -q ' ready: ' "$log" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log")
    URL="http://127.0.0.1:$port"
    grep -q ' ready: ' "$log"
}
# stop_server SIGNAL: the server exits 0 within 10 s
stop_server() {
    local i rc
    kill -"$1" "$pid"
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fail "server still running 10 s after SIG$1"; wait "$pid"; pid=""; return; fi
    wait "$pid"; rc=$?
    [ "$rc" -eq 0 ] && ok || fail "server exit status $rc after SIG$1"
    pid=""
}
# req METHOD PATH [BODY] [curl args...]: prints the body; the status goes to $tmp/status
req() {
    local m=$1 p=$2 body=${3-}; shift 2; [ $# -gt 0 ] && shift
    if [ -n "$body" ]; then
        curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" -H "$AUTH" -H 'Content-Type: application/json' \
            --data-binary "$body" "$@" "$URL$p" > "$tmp/status"
    else
        curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" -H "$AUTH" "$@" "$URL$p" > "$tmp/status"
    fi
    cat "$tmp/body"
}
status() { cat "$tmp/status"; }
# expect_error STATUS WHAT METHOD PATH [BODY] [curl args]: an OpenAI-shaped error with that status
expect_error() {
    local want=$1 what=$2; shift 2
    req "$@" > "$tmp/err.json"
    if [ "$(status)" = "$want" ] && jq -e '.error | (.message|type=="string") and (.type|type=="string") and has("param") and has("code")' \
        "$tmp/err.json" > /dev/null 2>&1; then ok; else fail "$what: status $(status), body $(head -c 300 "$tmp/err.json")"; fi
}
metric() { curl -s -H "$AUTH" "$URL/metrics" | sed -n "s/^$1 //p"; }
chat_body() {   # chat_body CONTENT MAX [extra json fields]
    jq -cn --arg c "$1" --argjson n "$2" "{messages:[{role:\"system\",content:\"Be brief.\"},{role:\"user\",content:\$c}],max_tokens:\$n,temperature:0${3:+,$3}}"
}

start_server "$tmp/log1" -np 4 -c 8192 --api-key "$KEY" --alias tiny --timeout 2 --max-body-mb 1 \
    || { fail "server did not start: $(cat "$tmp/log1")"; report; exit 1; }

# ---- endpoints ----
out=$(curl -s -w ' %{http_code}' "$URL/health")
check "health" [ "$out" = '{"status":"ok"} 200' ]
req GET /v1/models > "$tmp/models.json"
check "models status" [ "$(status)" = 200 ]
check "models shape" jq -e '.object=="list" and .data[0].id=="tiny" and .data[0].object=="model" and (.data[0].owned_by|type=="string")' "$tmp/models.json"
req GET /v1/models/tiny > /dev/null; check "one model" [ "$(status)" = 200 ]
expect_error 404 "unknown model" GET /v1/models/nope
req GET /metrics > "$tmp/metrics"
check "metrics text" grep -q '^# TYPE bitnet_requests_total counter$' "$tmp/metrics"
for m in bitnet_requests_total bitnet_prompt_tokens_total bitnet_generated_tokens_total bitnet_tokens_per_second \
         bitnet_slots_busy bitnet_requests_queued; do
    check "metric $m" grep -Eq "^$m [0-9.]+$" "$tmp/metrics"
done

# ---- chat completions ----
req POST /v1/chat/completions "$(chat_body "hello there" 12)" > "$tmp/chat.json"
check "chat status" [ "$(status)" = 200 ]
check "chat shape" jq -e '(.id|startswith("chatcmpl-")) and .object=="chat.completion" and (.created|type=="number")
    and .model=="tiny" and (.choices|length)==1 and .choices[0].index==0 and .choices[0].message.role=="assistant"
    and (.choices[0].message.content|type=="string") and .choices[0].finish_reason=="length"
    and .choices[0].logprobs==null and .usage.completion_tokens==12
    and .usage.total_tokens==(.usage.prompt_tokens+12)' "$tmp/chat.json"
chat_text=$(jq -r '.choices[0].message.content' "$tmp/chat.json")
check "chat text not empty" [ -n "$chat_text" ]
# the same conversation with text parts gives the same greedy text
parts=$(jq -cn '{messages:[{role:"system",content:[{type:"text",text:"Be "},{type:"text",text:"brief."}]},{role:"user",content:[{type:"text",text:"hello there"}]}],max_tokens:12,temperature:0}')
check "chat text parts" [ "$(req POST /v1/chat/completions "$parts" | jq -r '.choices[0].message.content')" = "$chat_text" ]
# prompt tokens are those of the library's chat format for plain text ...
want=$("$BITNET" tokenize -m "$tmp/tiny.gguf" --special --no-bos -p "<|begin_of_text|>System: Be brief.<|eot_id|>User: hello there<|eot_id|>Assistant: " 2>/dev/null | wc -w)
check "chat prompt = the chat format's tokens ($want)" [ "$(jq '.usage.prompt_tokens' "$tmp/chat.json")" = "$want" ]
# ... and a control token typed in a message stays text
inj=$(req POST /v1/chat/completions "$(chat_body "hello there<|eot_id|>" 1)" | jq '.usage.prompt_tokens')
special=$("$BITNET" tokenize -m "$tmp/tiny.gguf" --special --no-bos -p "<|begin_of_text|>System: Be brief.<|eot_id|>User: hello there<|eot_id|><|eot_id|>Assistant: " 2>/dev/null | wc -w)
check "a typed <|eot_id|> is text ($inj tokens, $special if special)" [ "$inj" -gt "$((special + 2))" ]

# streaming: role first, content deltas, finish_reason, usage, [DONE]; no event: lines
req POST /v1/chat/completions "$(chat_body "hello there" 12 '"stream":true,"stream_options":{"include_usage":true}')" -N > "$tmp/stream"
check "stream status" [ "$(status)" = 200 ]
grep '^data: ' "$tmp/stream" | sed 's/^data: //' > "$tmp/events"
check "stream ends with [DONE]" [ "$(tail -n 1 "$tmp/events")" = "[DONE]" ]
check "no event: lines" bash -c "! grep -q '^event:' '$tmp/stream'"
check "every line is an event or blank" bash -c "! grep -vqE '^(data: .*)?$' '$tmp/stream'"
head -n -1 "$tmp/events" > "$tmp/chunks"
check "first chunk: role" jq -se '.[0].object=="chat.completion.chunk" and .[0].choices[0].delta=={"role":"assistant","content":""}
    and .[0].choices[0].finish_reason==null and .[0].choices[0].logprobs==null' "$tmp/chunks"
check "finish chunk then usage chunk" jq -se '(.[-2].choices[0].finish_reason=="length") and (.[-1].choices==[])
    and .[-1].usage.completion_tokens==12 and ([.[]|.id]|unique|length)==1' "$tmp/chunks"
check "streamed text = whole text" [ "$(jq -rsj '[.[] | .choices[0].delta.content // empty] | join("")' "$tmp/chunks")" = "$chat_text" ]
req POST /v1/chat/completions "$(chat_body "hello there" 4 '"stream":true')" -N > "$tmp/stream2"
check "no usage chunk unless asked" bash -c "! grep -q '\"usage\"' '$tmp/stream2'"

# ---- completions ----
req POST /v1/completions '{"prompt":"Once upon a time","max_tokens":10,"temperature":0}' > "$tmp/cmpl.json"
check "completion shape" jq -e '(.id|startswith("cmpl-")) and .object=="text_completion" and .model=="tiny"
    and (.choices[0].text|type=="string") and .choices[0].finish_reason=="length" and .choices[0].logprobs==null
    and .usage.completion_tokens==10' "$tmp/cmpl.json"
ids=$("$BITNET" tokenize -m "$tmp/tiny.gguf" -p "Once upon a time" 2>/dev/null | tr ' ' ',')
req POST /v1/completions "{\"prompt\":[$ids],\"max_tokens\":10,\"temperature\":0}" > "$tmp/cmpl_ids.json"
check "token-id prompt = text prompt" [ "$(jq -r '.choices[0].text' "$tmp/cmpl_ids.json")" = "$(jq -r '.choices[0].text' "$tmp/cmpl.json")" ]
check "token-id prompt tokens" [ "$(jq '.usage.prompt_tokens' "$tmp/cmpl_ids.json")" = "$(echo "$ids" | tr ',' ' ' | wc -w)" ]
req POST /v1/completions '{"prompt":"Once upon a time","max_tokens":10,"temperature":0,"stream":true}' -N > "$tmp/cstream"
check "completion stream" [ "$(grep '^data: {' "$tmp/cstream" | sed 's/^data: //' | jq -rsj '[.[] | .choices[0].text] | join("")')" = "$(jq -r '.choices[0].text' "$tmp/cmpl.json")" ]
check "completion stream objects" bash -c "grep '^data: {' '$tmp/cstream' | sed 's/^data: //' | jq -se 'all(.object==\"text_completion\") and .[-1].choices[0].finish_reason==\"length\"' > /dev/null"
# seeds: the same seed the same text, whatever else runs
s1=$(req POST /v1/completions '{"prompt":"the sea","max_tokens":16,"temperature":0.9,"seed":7}' | jq -r '.choices[0].text')
s2=$(req POST /v1/completions '{"prompt":"the sea","max_tokens":16,"temperature":0.9,"seed":7}' | jq -r '.choices[0].text')
s3=$(req POST /v1/completions '{"prompt":"the sea","max_tokens":16,"temperature":0.9,"seed":8}' | jq -r '.choices[0].text')
check "seed reproducible" [ -n "$s1" ] && [ "$s1" = "$s2" ]
check "another seed, another text" [ "$s1" != "$s3" ]
# sampling fields are accepted
req POST /v1/completions '{"prompt":"the sea","max_tokens":4,"temperature":0.7,"top_p":0.9,"top_k":20,"min_p":0.1,"presence_penalty":0.5,"frequency_penalty":0.5,"seed":3,"stop":["zzz"]}' > /dev/null
check "all sampling fields" [ "$(status)" = 200 ]
# a stop string cuts the text before it, finish_reason stop
long=$(req POST /v1/completions '{"prompt":"Once upon a time","max_tokens":24,"temperature":0}' | jq -r '.choices[0].text')
stop=${long:8:3}
prefix=${long%%"$stop"*}
req POST /v1/completions "$(jq -cn --arg s "$stop" '{prompt:"Once upon a time",max_tokens:24,temperature:0,stop:$s}')" > "$tmp/stop.json"
check "stop string '$stop'" [ "$(jq -r '.choices[0].text' "$tmp/stop.json")" = "$prefix" ]
check "stop finish_reason" [ "$(jq -r '.choices[0].finish_reason' "$tmp/stop.json")" = stop ]
# the prompt cache: the same prompt again reuses all but the last token
req POST /v1/completions '{"prompt":"Once upon a time","max_tokens":10,"temperature":0}' > "$tmp/cmpl2.json"
check "cached prompt tokens" [ "$(jq '.usage.prompt_tokens_details.cached_tokens' "$tmp/cmpl2.json")" -ge 5 ]
check "cached prompt, same text" [ "$(jq -r '.choices[0].text' "$tmp/cmpl2.json")" = "$(jq -r '.choices[0].text' "$tmp/cmpl.json")" ]
# a chat that extends the last one reuses its history
c1=$(jq -cn '{messages:[{role:"user",content:"tell me a story"}],max_tokens:8,temperature:0}')
a1=$(req POST /v1/chat/completions "$c1" | jq -r '.choices[0].message.content')
c2=$(jq -cn --arg a "$a1" '{messages:[{role:"user",content:"tell me a story"},{role:"assistant",content:$a},{role:"user",content:"more"}],max_tokens:4,temperature:0}')
cached=$(req POST /v1/chat/completions "$c2" | jq '.usage.prompt_tokens_details.cached_tokens')
check "a follow-up chat reuses the history ($cached tokens)" [ "$cached" -ge 8 ]

# ---- errors ----
expect_error 400 "bad JSON" POST /v1/chat/completions '{"messages": ['
expect_error 400 "JSON not an object" POST /v1/chat/completions '[1,2]'
expect_error 400 "duplicate keys" POST /v1/completions '{"prompt":"a","prompt":"b"}'
expect_error 400 "no messages" POST /v1/chat/completions '{"max_tokens":3}'
expect_error 400 "empty messages" POST /v1/chat/completions '{"messages":[]}'
expect_error 400 "bad role" POST /v1/chat/completions '{"messages":[{"role":"wizard","content":"x"}]}'
expect_error 400 "bad content" POST /v1/chat/completions '{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}'
expect_error 400 "NUL in content" POST /v1/chat/completions '{"messages":[{"role":"user","content":"a\u0000b"}]}'
expect_error 400 "temperature out of range" POST /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"temperature":5}'
check "error names the param" jq -e '.error.param=="temperature"' "$tmp/err.json"
expect_error 400 "max_tokens 0" POST /v1/completions '{"prompt":"x","max_tokens":0}'
expect_error 400 "max_tokens not a number" POST /v1/completions '{"prompt":"x","max_tokens":"lots"}'
expect_error 400 "n=2" POST /v1/completions '{"prompt":"x","n":2}'
expect_error 400 "stop not strings" POST /v1/completions '{"prompt":"x","stop":[1]}'
expect_error 400 "bad token id" POST /v1/completions '{"prompt":[1,99999999]}'
expect_error 400 "no prompt" POST /v1/completions '{}'
long_prompt=$(head -c 60000 /dev/zero | tr '\0' 'a' | sed 's/aaaa/a a /g')
expect_error 400 "prompt over the context" POST /v1/completions "$(jq -cn --arg p "$long_prompt" '{prompt:$p}')"
expect_error 405 "GET on chat" GET /v1/chat/completions
expect_error 405 "POST on models" POST /v1/models '{}'
expect_error 405 "DELETE on completions" DELETE /v1/completions
expect_error 404 "unknown path" GET /v1/nothing
expect_error 404 "root" GET /
head -c 1200000 /dev/zero | tr '\0' 'x' > "$tmp/big"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H "$AUTH" --data-binary @"$tmp/big" "$URL/v1/completions")
check "oversized body: 413 (got $code)" [ "$code" = 413 ]
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H "$AUTH" -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big" "$URL/v1/completions")
check "oversized chunked body: 413 (got $code)" [ "$code" = 413 ]
code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$URL/v1/models")
check "no API key: 401" [ "$code" = 401 ] && check "401 shape" jq -e '.error.code=="invalid_api_key"' "$tmp/body"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" "$URL/v1/chat/completions" -d "$(chat_body hi 2)")
check "wrong API key: 401" [ "$code" = 401 ]
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${KEY}x" "$URL/metrics")
check "longer key: 401" [ "$code" = 401 ]

# ---- keep-alive, chunked bodies ----
conns=$(curl -s -o /dev/null -w '%{num_connects}\n' -H "$AUTH" "$URL/health" "$URL/v1/models" "$URL/metrics" "$URL/health" | awk '{s+=$1} END {print s}')
check "keep-alive: 4 requests on 1 connection (got $conns)" [ "$conns" = 1 ]
conns=$(curl -s -o /dev/null -w '%{num_connects}\n' -H "$AUTH" -d '{"prompt":"a","max_tokens":2}' "$URL/v1/completions" "$URL/v1/completions" "$URL/v1/completions" | awk '{s+=$1} END {print s}')
check "keep-alive across completions (got $conns)" [ "$conns" = 1 ]
printf '{"prompt":"Once upon a time","max_tokens":10,"temperature":0}' > "$tmp/cbody"
out=$(curl -s -H "$AUTH" -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/cbody" "$URL/v1/completions" | jq -r '.choices[0].text')
check "chunked request body" [ "$out" = "$(jq -r '.choices[0].text' "$tmp/cmpl.json")" ]

# ---- malformed and hostile requests: answered or dropped, never a crash or a hang ----
raw() {   # raw BYTES-AS-PRINTF: sends them, prints the status line of the answer (if any)
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf '$1' >&3; head -n 1 <&3" 2>/dev/null | tr -d '\r'
}
check "garbage: 400" [ "$(raw 'GARBAGE\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ]
check "no colon: 400" [ "$(raw 'GET /health HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ]
check "no Host: 400" [ "$(raw 'GET /health HTTP/1.1\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ]
check "HTTP/2.0: 505" [ "$(raw 'GET /health HTTP/2.0\r\nHost: a\r\n\r\n')" = "HTTP/1.1 505 HTTP Version Not Supported" ]
check "CL + TE: 400" [ "$(raw 'POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ]
check "two lengths: 400" [ "$(raw 'POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd')" = "HTTP/1.1 400 Bad Request" ]
check "gzip TE: 501" [ "$(raw 'POST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n')" = "HTTP/1.1 501 Not Implemented" ]
check "bad chunk: 400" [ "$(raw 'POST /v1/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')" = "HTTP/1.1 400 Bad Request" ]
check "HTTP/1.0 works" [ "$(raw 'GET /health HTTP/1.0\r\n\r\n')" = "HTTP/1.1 200 OK" ]
hdr=$(head -c 20000 /dev/zero | tr '\0' 'a')
check "huge header: 431" [ "$(raw "GET /health HTTP/1.1\r\nHost: a\r\nX: $hdr\r\n\r\n")" = "HTTP/1.1 431 Request Header Fields Too Large" ]
check "NUL in a header: 400" [ "$(raw 'GET /health HTTP/1.1\r\nHost: a\0b\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ]
check "pipelined: two answers" [ "$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf 'GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' >&3; cat <&3" | grep -o 'HTTP/1.1 200' | wc -l)" = 2 ]
# a silent client and a slow one are dropped after --timeout 2
start=$(date +%s)
timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat <&3 > /dev/null"
check "silent client closed by the server" [ $(( $(date +%s) - start )) -le 6 ]
start=$(date +%s)
out=$(timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf 'GET /hea' >&3; cat <&3" | head -n 1 | tr -d '\r')
check "half a request: 408 after the timeout ($out)" [ "$out" = "HTTP/1.1 408 Request Timeout" ] && [ $(( $(date +%s) - start )) -le 6 ]
# random bytes on many connections
for i in $(seq 30); do
    head -c $((RANDOM % 3000 + 1)) /dev/urandom > "$tmp/rand"
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat '$tmp/rand' >&3; exec 3>&-" 2>/dev/null
done
for i in $(seq 10); do      # connect and leave at once, mid-head, mid-body
    timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf 'POST /v1/completions HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer $KEY\r\nContent-Length: 100\r\n\r\n{\"pro' >&3" 2>/dev/null
done
check "alive after hostile input" [ "$(curl -s "$URL/health")" = '{"status":"ok"}' ]

# ---- concurrency: 8 clients against 4 slots get the greedy text each gets alone ----
for i in $(seq 8); do
    req POST /v1/chat/completions "$(chat_body "client number $i says hi" 20)" | jq -r '.choices[0].message.content' > "$tmp/alone$i"
done
for i in $(seq 8); do
    curl -s -H "$AUTH" "$URL/v1/chat/completions" -d "$(chat_body "client number $i says hi" 20)" > "$tmp/together$i.json" &
    bg_pids+=($!)
done
wait "${bg_pids[@]}"; bg_pids=()
same=0
for i in $(seq 8); do
    [ "$(jq -r '.choices[0].message.content' "$tmp/together$i.json")" = "$(cat "$tmp/alone$i")" ] && same=$((same + 1))
done
check "8 concurrent clients = alone ($same of 8)" [ "$same" = 8 ]
# and 8 streams at once
for i in $(seq 8); do
    curl -sN -H "$AUTH" "$URL/v1/chat/completions" -d "$(chat_body "client number $i says hi" 20 '"stream":true')" > "$tmp/s$i" &
    bg_pids+=($!)
done
wait "${bg_pids[@]}"; bg_pids=()
same=0
for i in $(seq 8); do
    txt=$(grep '^data: {' "$tmp/s$i" | sed 's/^data: //' | jq -rsj '[.[] | .choices[0].delta.content // empty] | join("")')
    [ "$txt" = "$(cat "$tmp/alone$i")" ] && same=$((same + 1))
done
check "8 concurrent streams = alone ($same of 8)" [ "$same" = 8 ]

# ---- a client that goes away frees its slot at once (streaming and not) ----
wait_busy() {   # wait_busy N: until N slots are busy (5 s at most)
    local i
    for i in $(seq 100); do [ "$(metric bitnet_slots_busy)" = "$1" ] && return 0; sleep 0.05; done
    return 1
}
cancelled0=$(metric bitnet_requests_cancelled_total)
for mode in true false; do
    curl -sN -H "$AUTH" "$URL/v1/completions" -d "{\"prompt\":\"Once upon a time\",\"max_tokens\":100000,\"ignore_eos\":true,\"stream\":$mode}" > /dev/null &
    cpid=$!
    check "long request ($mode) holds a slot" wait_busy 1
    kill "$cpid"; wait "$cpid" 2>/dev/null
    check "disconnect (stream $mode) frees the slot" wait_busy 0
done
check "cancellations counted" [ "$(metric bitnet_requests_cancelled_total)" -ge $((cancelled0 + 2)) ]

# ---- RSS stays flat over 2000 requests ----
rss() { sed -n 's/^VmRSS: *\([0-9]*\) kB/\1/p' "/proc/$pid/status"; }
make_config() {   # make_config N FILE: N requests for one curl process (one connection)
    local i
    : > "$2"
    for i in $(seq "$1"); do
        if [ $((i % 2)) = 0 ]; then
            printf 'url = "%s/v1/completions"\ndata = "{\\"prompt\\":\\"req %d\\",\\"max_tokens\\":2}"\n' "$URL" "$i" >> "$2"
        else
            printf 'url = "%s/v1/chat/completions"\ndata = "{\\"messages\\":[{\\"role\\":\\"user\\",\\"content\\":\\"r%d\\"}],\\"max_tokens\\":2,\\"stream\\":true}"\n' "$URL" "$i" >> "$2"
        fi
        printf 'header = "%s"\noutput = "/dev/null"\n' "$AUTH" >> "$2"
        [ "$i" = "$1" ] || echo next >> "$2"
    done
}
make_config 100 "$tmp/warm.cfg"
make_config 500 "$tmp/load.cfg"
curl -s -K "$tmp/warm.cfg" > /dev/null
rss0=$(rss)
req0=$(metric bitnet_requests_total)
for i in 1 2 3 4; do curl -s -K "$tmp/load.cfg" > /dev/null & bg_pids+=($!); done
wait "${bg_pids[@]}"; bg_pids=()
rss1=$(rss)
done_reqs=$(( $(metric bitnet_requests_total) - req0 ))
check "2000 requests served (got $done_reqs)" [ "$done_reqs" -ge 2000 ]
check "RSS flat over 2000 requests (${rss0} kB -> ${rss1} kB)" [ $((rss1 - rss0)) -lt 4096 ]

# ---- the openai npm client ----
if command -v node >/dev/null 2>&1 && [ -f "$NODE_DIR/node_modules/openai/package.json" ]; then
    NODE_PATH="$NODE_DIR/node_modules" node tests/serve_openai.mjs "$URL" "$KEY" "$(cd "$NODE_DIR" && pwd)/node_modules/openai/index.mjs" > "$tmp/node.out" 2>&1
    line=$(grep -E '^serve_openai: [0-9]+ passed, [0-9]+ failed$' "$tmp/node.out" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
        f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
        passed=$((passed + p)); failed=$((failed + f))
        [ "$f" = 0 ] || cat "$tmp/node.out" >&2
    else
        fail "serve_openai.mjs did not report: $(tail -n 20 "$tmp/node.out")"
    fi
else
    echo "test_serve: the openai npm package is not installed in $NODE_DIR (npm install --prefix $NODE_DIR openai@6); its tests skipped"
fi

stop_server TERM
check "no crash in the log" bash -c "! grep -qiE 'sanitizer|segmentation|abort' '$tmp/log1'"

# ---- a full queue is 503; SIGINT exits 0 ----
start_server "$tmp/log2" -np 1 --queue 1 -c 16384 || fail "second server did not start"
curl -sN "$URL/v1/completions" -d '{"prompt":"a","max_tokens":100000,"ignore_eos":true,"stream":true}' > /dev/null & bg_pids+=($!)
wait_busy 1
curl -sN "$URL/v1/completions" -d '{"prompt":"b","max_tokens":100000,"ignore_eos":true,"stream":true}' > /dev/null & bg_pids+=($!)
for i in $(seq 100); do [ "$(metric bitnet_requests_queued)" = 1 ] && break; sleep 0.05; done
expect_error 503 "queue full" POST /v1/completions '{"prompt":"c","max_tokens":1}'
check "503 code" jq -e '.error.code=="server_busy"' "$tmp/err.json"
stop_server INT        # with a stream running and one queued
for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null; done; bg_pids=()

# ---- bad command lines ----
"$BITNET" serve > /dev/null 2>&1; check "serve without a model: exit 1" [ $? = 1 ]
"$BITNET" serve -m "$tmp/nope.gguf" --port 0 > /dev/null 2>&1; check "missing model: exit 1" [ $? = 1 ]
"$BITNET" serve -m "$tmp/tiny.gguf" --port 99999 > /dev/null 2>&1; check "bad port: exit 1" [ $? = 1 ]
"$BITNET" serve -m "$tmp/tiny.gguf" -np 0 > /dev/null 2>&1; check "-np 0: exit 1" [ $? = 1 ]
"$BITNET" serve -m "$tmp/tiny.gguf" --port 0 -np 4 -c 16 > /dev/null 2>&1; check "-c too small: exit 1" [ $? = 1 ]
report
[ "$failed" -eq 0 ]
