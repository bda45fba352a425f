#!/usr/bin/env bash
# fuzz/run.sh SECONDS TARGET... : runs each libFuzzer target for SECONDS, seeded from fuzz/seeds.sh
# and the shared test files; a finding (crash, leak, sanitizer report, timeout) fails the run.
set -u
seconds=$1; shift
status=0
for target in "$@"; do
    name=$(basename "$target")
    corpus=build/fuzz/corpus-$name
    mkdir -p "$corpus"
    case "$name" in
        fuzz_model) find ../shared/data/models -name 'tiny-b158-i2_s.gguf' -o -name 'tiny-llama*.gguf' -o -name '*silu-tq1_0.gguf' | xargs -r cp -n -t "$corpus"/ 2>/dev/null ;;
        fuzz_gguf) find ../shared/data -name '*.gguf' -size -2M -exec cp -n {} "$corpus"/ \; 2>/dev/null ;;
        fuzz_json) find ../shared/data -name '*.json' -size -1M -exec cp -n {} "$corpus"/ \; 2>/dev/null ;;
        fuzz_safetensors) find build -maxdepth 3 -name 'model*.safetensors' -size -2M -exec cp -n {} "$corpus"/ \; 2>/dev/null
                          printf '\x36\0\0\0\0\0\0\0{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}\0\0\0\0' > "$corpus/seed-one" ;;
        fuzz_tokenizer) find ../shared/data/vocab -name '*.inp' -exec cp -n {} "$corpus"/ \; 2>/dev/null ;;
    esac
    echo "fuzz: $name for ${seconds}s"
    if "$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 -max_len=1048576 \
        -artifact_prefix=build/fuzz/$name- "$corpus" > "build/fuzz/$name.log" 2>&1; then
        echo "fuzz: $name: no finding ($(grep -Eo 'stat::number_of_executed_units: [0-9]+' build/fuzz/$name.log || tail -n 1 build/fuzz/$name.log))"
    else
        echo "fuzz: $name: FINDING, see build/fuzz/$name.log"; tail -n 30 "build/fuzz/$name.log"; status=1
    fi
done
exit $status
