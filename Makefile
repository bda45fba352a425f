# bitnet.h - build, test, fuzz, bench.  `make` builds build/bitnet and the examples;
# `make test` runs every test optimized and under ASan/UBSan and ends with "N passed, N failed".
CC       ?= cc
CXX      ?= c++
CLANG    ?= clang
CFLAGS   ?= -O2 -g
WFLAGS   := -std=c99 -Wall -Wextra -Wpedantic -Werror
CXXFLAGS ?= -O2
LDLIBS   := -lpthread -lm
SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60
B        := build

TOOLS_LIB := tools/json.c tools/http.c tools/perplexity.c tools/safetensors.c tools/convert.c tools/hf_tokenizer.c
CLI_SRC   := tools/bitnet.c $(wildcard tools/cmd_*.c) $(TOOLS_LIB)
EXAMPLES  := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_OPT  := $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_ASAN := $(TEST_SRC:tests/%.c=$(B)/asan/%)
TEST_SH   := $(wildcard tests/test_*.sh)
TEST_LINK := $(B)/tests/cxx_header $(B)/tests/static_link $(B)/tests/model_nothreads_nommap
BENCHES   := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))
FUZZERS   := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/fuzz_*.c))

.PHONY: all test asan fuzz bench bench-serve run native clean clang-check
.PHONY: all test asan fuzz bench run run-random trained-model native clean clang-check
all: $(B)/bitnet $(EXAMPLES)

$(B)/bitnet: $(CLI_SRC) $(TOOLS_LIB:.c=.h) tools/cli.h bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(CFLAGS) -o $@ $(CLI_SRC) $(LDLIBS)

$(B)/examples/%: examples/%.c bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(CFLAGS) -I. -o $@ $< $(LDLIBS)

$(B)/tests/%: tests/%.c tests/*.h bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(CFLAGS) -I. -o $@ $< $(LDLIBS)

$(B)/asan/%: tests/%.c tests/*.h bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(SANFLAGS) -I. -o $@ $< $(LDLIBS)

# The declarations compile as C++; two C files with BITNET_STATIC link without clashing.
$(B)/tests/cxx_header: tests/cxx_header.cpp bitnet.h
	@mkdir -p $(@D)
	$(CXX) -std=c++11 -Wall -Wextra -Wpedantic -Werror $(CXXFLAGS) -I. -o $@ $<

$(B)/tests/static_link: tests/static_a.c tests/static_b.c bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(CFLAGS) -I. -o $@ tests/static_a.c tests/static_b.c $(LDLIBS)

# The model tests again with the optional features compiled out.
$(B)/tests/model_nothreads_nommap: tests/test_model.c tests/check.h bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(CFLAGS) -DBITNET_NO_THREADS -DBITNET_NO_MMAP -I. -o $@ $< $(LDLIBS)

# Tests and fuzz targets of the tools' parsers include the .c file they test.
$(B)/tests/test_json $(B)/asan/test_json $(B)/fuzz/fuzz_json: tools/json.c tools/json.h
.PHONY: all test asan fuzz bench bench-serve run run-random trained-model native clean clang-check

test: all $(TEST_OPT) $(TEST_ASAN) $(TEST_LINK) clang-check
	@tests/run.sh $(TEST_OPT) $(TEST_LINK) $(TEST_SH) $(TEST_ASAN)

asan: $(TEST_ASAN)
	@tests/run.sh $(TEST_ASAN)

# Everything also builds warning-free with clang (skipped with a notice where clang is missing).
clang-check:
	@if command -v $(CLANG) >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory CC=$(CLANG) B=$(B)/clang all $(TEST_SRC:tests/%.c=$(B)/clang/tests/%); \
	else echo "clang-check: $(CLANG) not found, skipped"; fi

$(B)/bench/%: bench/%.c bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(CFLAGS) -I. -o $@ $< $(LDLIBS)

bench: $(BENCHES) $(B)/bitnet
	$(B)/bench/kernels
	bench/model.sh $(B)

# Serving speed: 1, 2, 4, 8 concurrent streams through `bitnet serve` on the 2B-4T-shape model.
bench-serve: $(B)/bitnet $(B)/bench/serve
	bench/serve.sh $(B)

# The README's first command: build, generate from the small trained model in models/.
TRAINED := models/kjv-bitnet-i2_s.gguf
run: all
	$(B)/bitnet run -m $(TRAINED) -p "And it came to pass" -n 64 --temp 0.7 --repeat-penalty 1.1 -s 1611

# The old first command: a random-weight model (its text is noise).
run-random: all
	$(B)/bitnet make-model $(B)/tiny.gguf
	$(B)/bitnet run -m $(B)/tiny.gguf -p "Once upon a time, the sea" -n 48

# Remakes the trained model (Debian python3-torch, python3-numpy, bible-kjv; about 30 minutes on
# two cores): trains, writes the Hugging Face folder and the test reference, converts.
trained-model: $(B)/bitnet
	nice -n 19 /usr/bin/python3 tools/train_bitnet.py --out models/kjv-bitnet --ref tests/data/trained_ref.bin
	$(B)/bitnet convert models/kjv-bitnet $(TRAINED)

$(B)/fuzz/%: fuzz/%.c tests/*.h bitnet.h
	@mkdir -p $(@D)
	$(CLANG) -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. -o $@ $< -lpthread -lm

fuzz: $(FUZZERS)
	@fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

native:
	$(MAKE) CFLAGS="$(CFLAGS) -march=native" all

clean:
	rm -rf $(B)
