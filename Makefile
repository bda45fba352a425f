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

CLI_SRC   := tools/bitnet.c $(wildcard tools/cmd_*.c)
EXAMPLES  := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_OPT  := $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_ASAN := $(TEST_SRC:tests/%.c=$(B)/asan/%)
TEST_SH   := $(wildcard tests/test_*.sh)
TEST_LINK := $(B)/tests/cxx_header $(B)/tests/static_link $(B)/tests/model_nothreads_nommap
BENCHES   := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))
FUZZERS   := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/fuzz_*.c))

.PHONY: all test asan fuzz bench run native clean clang-check
all: $(B)/bitnet $(EXAMPLES)

$(B)/bitnet: $(CLI_SRC) tools/cli.h bitnet.h
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

test: all $(TEST_OPT) $(TEST_ASAN) $(TEST_LINK) clang-check platform-check
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

# The README's first command: build, make a small random-weight model, generate from it.
run: all
	$(B)/bitnet make-model $(B)/tiny.gguf
	$(B)/bitnet run -m $(B)/tiny.gguf -p "Once upon a time, the sea" -n 48

$(B)/fuzz/%: fuzz/%.c tests/*.h bitnet.h
	@mkdir -p $(@D)
	$(CLANG) -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. -o $@ $< -lpthread -lm

fuzz: $(FUZZERS)
	@fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

native:
	$(MAKE) CFLAGS="$(CFLAGS) -march=native" all

clean:
	rm -rf $(B)

# ---- platforms (issue 13): Windows with mingw-w64 (tests run under wine by tests/test_windows.sh),
# a tiny static CLI with musl (tests/test_static.sh), and the tests built against plain POSIX with
# no Linux extensions. `make test` builds each where its compiler is installed (else a notice).
MINGW       ?= x86_64-w64-mingw32-gcc
MUSL_CC     ?= musl-gcc
WIN         := $(B)/win
# The HTTP server (POSIX sockets, poll, signals) is left out of the Windows CLI and its tests;
# `bitnet serve` there says so (tools/serve_none.c). See the README.
WIN_NO_SOCK := tools/cmd_serve.c tools/http.c
WIN_CLI_SRC := $(filter-out $(WIN_NO_SOCK),$(CLI_SRC)) $(if $(wildcard tools/cmd_serve.c),tools/serve_none.c)
WINFLAGS    := -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -static
WIN_TESTS   := $(patsubst tests/%.c,$(WIN)/tests/%.exe,$(filter-out tests/test_http.c tests/test_serve.c,$(TEST_SRC))) \
               $(WIN)/tests/msvc_intrinsics.exe \
               $(WIN)/tests/model_nothreads_nommap.exe
TINYFLAGS   := -std=c99 -Wall -Wextra -Wpedantic -Werror -Os -static -s -ffunction-sections -fdata-sections \
               -fno-asynchronous-unwind-tables -Wl,--gc-sections
POSIXFLAGS  := -D_POSIX_C_SOURCE=200809L -U_GNU_SOURCE -U_DEFAULT_SOURCE -DBITNET_NO_LINUX_EXTENSIONS
POSIX_TESTS := $(TEST_SRC:tests/%.c=$(B)/posix/%)
MUSL_TESTS  := $(patsubst %,$(B)/musl/test_%,platform pool threads gguf model)
.PHONY: windows static posix platform-check

windows: $(WIN)/bitnet.exe $(WIN_TESTS)
$(WIN)/bitnet.exe: $(WIN_CLI_SRC) tools/*.h bitnet.h
	@mkdir -p $(@D)
	$(MINGW) $(WINFLAGS) -o $@ $(WIN_CLI_SRC)
$(WIN)/tests/%.exe: tests/%.c tests/*.h bitnet.h
	@mkdir -p $(@D)
	$(MINGW) $(WINFLAGS) -I. -o $@ $< -lpthread
# The pool with the Interlocked atomics and cpuid MSVC gets, on the compiler that can run here.
$(WIN)/tests/msvc_intrinsics.exe: tests/test_threads.c tests/check.h bitnet.h
	@mkdir -p $(@D)
	$(MINGW) $(WINFLAGS) -DBN__MSVC_INTRINSICS -I. -o $@ $< -lpthread
$(WIN)/tests/model_nothreads_nommap.exe: tests/test_model.c tests/check.h bitnet.h
	@mkdir -p $(@D)
	$(MINGW) $(WINFLAGS) -DBITNET_NO_THREADS -DBITNET_NO_MMAP -I. -o $@ $< -lpthread

static: $(B)/bitnet-static $(B)/examples/simple-static $(MUSL_TESTS)
$(B)/bitnet-static: $(CLI_SRC) tools/*.h bitnet.h
	@mkdir -p $(@D)
	$(MUSL_CC) $(TINYFLAGS) -o $@ $(CLI_SRC) -lm
$(B)/examples/simple-static: examples/simple.c bitnet.h
	@mkdir -p $(@D)
	$(MUSL_CC) $(TINYFLAGS) -I. -o $@ $< -lm

$(B)/musl/%: tests/%.c tests/*.h bitnet.h
	@mkdir -p $(@D)
	$(MUSL_CC) $(WFLAGS) -O1 -static -I. -o $@ $< -lm

posix: $(POSIX_TESTS)
$(B)/posix/%: tests/%.c tests/*.h bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(POSIXFLAGS) -O1 -I. -o $@ $< $(LDLIBS)

platform-check:
	@if command -v $(MINGW) >/dev/null 2>&1; then $(MAKE) --no-print-directory windows; \
	else echo "platform-check: $(MINGW) not found, Windows build skipped"; fi
	@if command -v $(MUSL_CC) >/dev/null 2>&1; then $(MAKE) --no-print-directory static; \
	else echo "platform-check: $(MUSL_CC) not found, static build skipped"; fi
	@$(MAKE) --no-print-directory posix
