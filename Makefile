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
TEST_LINK := $(B)/tests/cxx_header $(B)/tests/static_link $(B)/tests/model_nothreads_nommap $(B)/tests/cuda_emu
BENCHES   := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))
FUZZERS   := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/fuzz_*.c))

# The test programs that use only the public API are compiled without the implementation
# (BITNET_IMPLEMENTATION_DONE: as if it were already included) and linked with the library compiled
# once per build kind ($(B)/obj/bitnet*.o); the others (internal kernels, allocator, platform
# code) include it as a user would. The CLI and the examples link the object too.
API_TESTS := $(patsubst %,test_%,batch cli_text convert embed generate head_type model perplexity pool profile spec trained)
LINKED    := -DBITNET_IMPLEMENTATION_DONE
LIB_OBJ   := $(B)/obj/bitnet.o
LIB_CFLAGS ?= $(CFLAGS)

.PHONY: all test asan fuzz bench bench-serve run run-random trained-model native clean clang-check cuda cuda-test
all: $(B)/bitnet $(EXAMPLES)

$(LIB_OBJ): bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(LIB_CFLAGS) -DBITNET_IMPLEMENTATION -x c -c -o $@ bitnet.h

$(B)/obj/bitnet-asan.o: bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(SANFLAGS) -DBITNET_IMPLEMENTATION -x c -c -o $@ bitnet.h

$(B)/bitnet: $(CLI_SRC) $(TOOLS_LIB:.c=.h) tools/cli.h tools/errbuf.h bitnet.h $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(CFLAGS) $(LINKED) -o $@ $(CLI_SRC) $(LIB_OBJ) $(LDLIBS)

$(B)/examples/%: examples/%.c bitnet.h $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(CFLAGS) $(LINKED) -I. -o $@ $< $(LIB_OBJ) $(LDLIBS)

$(B)/tests/%: tests/%.c tests/*.h bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(CFLAGS) -I. -o $@ $< $(LDLIBS)

$(B)/asan/%: tests/%.c tests/*.h bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(SANFLAGS) -I. -o $@ $< $(LDLIBS)

$(API_TESTS:%=$(B)/tests/%): $(B)/tests/%: tests/%.c tests/*.h bitnet.h $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(CFLAGS) $(LINKED) -I. -o $@ $< $(LIB_OBJ) $(LDLIBS)

$(API_TESTS:%=$(B)/asan/%): $(B)/asan/%: tests/%.c tests/*.h bitnet.h $(B)/obj/bitnet-asan.o
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(SANFLAGS) $(LINKED) -I. -o $@ $< $(B)/obj/bitnet-asan.o $(LDLIBS)

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
$(B)/tests/test_http $(B)/asan/test_http $(B)/fuzz/fuzz_http: tools/http.c tools/http.h
$(B)/tests/test_convert $(B)/asan/test_convert $(B)/fuzz/fuzz_safetensors: tools/json.c tools/json.h \
    tools/safetensors.c tools/safetensors.h tools/hf_tokenizer.c tools/hf_tokenizer.h tools/convert.c tools/convert.h \
    tools/errbuf.h
$(B)/tests/test_perplexity $(B)/asan/test_perplexity: tools/perplexity.c tools/perplexity.h

# The CUDA companion. `make cuda`: build/bitnet_cuda.o (sm_80 + sm_90 SASS, PTX) and build/bitnet-cuda,
# the CLI with the GPU backend linked in. `make test` runs the kernels' source on the CPU
# ($(B)/tests/cuda_emu, through tests/cuda_emu.h) and compiles the file with nvcc -Werror
# (tests/test_cuda_nvcc.sh); `make cuda-test` builds the same tests for a real GPU.
NVCC      ?= $(shell command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)
NVCCFLAGS ?= -O3
NVCC_ARCH := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_90,code=compute_90
NVCC_WARN := -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror
CUDA_LIBS := -L$(dir $(NVCC))../lib64 -lcudart_static -ldl -lrt -lstdc++

cuda: $(B)/bitnet_cuda.o $(B)/bitnet-cuda

$(B)/bitnet_cuda.o: bitnet_cuda.cu bitnet.h
	@mkdir -p $(@D)
	$(NVCC) -std=c++14 $(NVCCFLAGS) $(NVCC_ARCH) $(NVCC_WARN) -I. -c -o $@ bitnet_cuda.cu

$(B)/bitnet-cuda: $(CLI_SRC) tools/cli.h bitnet.h $(B)/bitnet_cuda.o
	$(CC) $(WFLAGS) $(CFLAGS) -o $@ $(CLI_SRC) $(B)/bitnet_cuda.o $(CUDA_LIBS) $(LDLIBS)

$(B)/tests/cuda_ref.o: tests/cuda_ref.c tests/cuda_ref.h bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(CFLAGS) -c -o $@ tests/cuda_ref.c

$(B)/tests/cuda_emu: tests/test_cuda.cpp tests/cuda_emu.h tests/cuda_ref.h tests/check.h bitnet_cuda.cu bitnet.h \
                     $(B)/tests/cuda_ref.o
	$(CXX) -std=c++14 -Wall -Wextra -Wpedantic -Werror $(CXXFLAGS) -I. -o $@ tests/test_cuda.cpp \
	    $(B)/tests/cuda_ref.o $(LDLIBS)

# The same under ASan/UBSan (fewer models: the sanitizers make the emulation slow).
$(B)/asan/cuda_ref.o: tests/cuda_ref.c tests/cuda_ref.h bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(SANFLAGS) -c -o $@ tests/cuda_ref.c

$(B)/asan/cuda_emu: tests/test_cuda.cpp tests/cuda_emu.h tests/cuda_ref.h tests/check.h bitnet_cuda.cu bitnet.h \
                    $(B)/asan/cuda_ref.o
	$(CXX) -std=c++14 -Wall -Wextra -Wpedantic -Werror $(SANFLAGS) -DCUDA_TEST_SMALL -I. -o $@ tests/test_cuda.cpp \
	    $(B)/asan/cuda_ref.o $(LDLIBS)

$(B)/tests/cuda_native: tests/test_cuda.cpp tests/cuda_ref.h tests/check.h bitnet_cuda.cu bitnet.h $(B)/tests/cuda_ref.o
	$(NVCC) -std=c++14 $(NVCCFLAGS) $(NVCC_ARCH) $(NVCC_WARN) -I. -x cu -c -o $@.o tests/test_cuda.cpp
	$(NVCC) $(NVCC_ARCH) -o $@ $@.o $(B)/tests/cuda_ref.o -lpthread -lm

$(B)/bench/cuda_bench: bench/cuda_bench.cu bitnet_cuda.cu bitnet.h $(B)/tests/cuda_ref.o
	@mkdir -p $(@D)
	$(NVCC) -std=c++14 $(NVCCFLAGS) $(NVCC_ARCH) $(NVCC_WARN) -I. -c -o $@.o bench/cuda_bench.cu
	$(NVCC) $(NVCC_ARCH) -o $@ $@.o $(B)/tests/cuda_ref.o -lpthread -lm

cuda-test: $(B)/tests/cuda_native
	$(B)/tests/cuda_native

test: all $(TEST_OPT) $(TEST_ASAN) $(TEST_LINK) $(B)/asan/cuda_emu clang-check platform-check
	@tests/run.sh $(TEST_OPT) $(TEST_LINK) $(TEST_SH) $(TEST_ASAN) $(B)/asan/cuda_emu

asan: $(TEST_ASAN)
	@tests/run.sh $(TEST_ASAN)

# Everything also builds warning-free with clang (skipped with a notice where clang is missing):
# the library optimized, the rest at -O0 (clang's warnings and its intrinsics' target checks do not
# depend on the optimization level; the programs are not run).
clang-check:
	@if command -v $(CLANG) >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory CC=$(CLANG) B=$(B)/clang CFLAGS=-O0 LIB_CFLAGS="$(CFLAGS)" \
	        all $(TEST_SRC:tests/%.c=$(B)/clang/tests/%); \
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

# ---- platforms (issue 13): Windows with mingw-w64 (tests run under wine by tests/test_windows.sh),
# a tiny static CLI with musl (tests/test_static.sh), and the tests built against plain POSIX with
# no Linux extensions. `make test` builds each where its compiler is installed (else a notice).
MINGW       ?= x86_64-w64-mingw32-gcc
MUSL_CC     ?= musl-gcc
WIN         := $(B)/win
# The HTTP server (POSIX sockets, poll, signals) is left out of the Windows CLI and its tests;
# `bitnet serve` there says so (tools/serve_none.c). See the README.
# So is the Hugging Face converter (its safetensors reader maps with POSIX mmap): tools/convert_none.c.
WIN_NO_SOCK := tools/cmd_serve.c tools/http.c tools/cmd_convert.c tools/convert.c tools/safetensors.c
WIN_CLI_SRC := $(filter-out $(WIN_NO_SOCK),$(CLI_SRC)) tools/serve_none.c tools/convert_none.c
WINFLAGS    := -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -static
WIN_TESTS   := $(patsubst tests/%.c,$(WIN)/tests/%.exe,$(filter-out tests/test_http.c tests/test_serve.c tests/test_convert.c tests/test_cli_text.c,$(TEST_SRC))) \
               $(WIN)/tests/msvc_intrinsics.exe \
               $(WIN)/tests/model_nothreads_nommap.exe
TINYFLAGS   := -std=c99 -Wall -Wextra -Wpedantic -Werror -Os -static -s -ffunction-sections -fdata-sections \
               -fno-asynchronous-unwind-tables -Wl,--gc-sections
POSIXFLAGS  := -D_POSIX_C_SOURCE=200809L -U_GNU_SOURCE -U_DEFAULT_SOURCE -DBITNET_NO_LINUX_EXTENSIONS
POSIX_TESTS := $(TEST_SRC:tests/%.c=$(B)/posix/%)
MUSL_TESTS  := $(patsubst %,$(B)/musl/test_%,platform pool threads gguf model)
.PHONY: windows static posix platform-check

windows: $(WIN)/bitnet.exe $(WIN_TESTS)
$(WIN)/obj/bitnet.o: bitnet.h
	@mkdir -p $(@D)
	$(MINGW) $(WINFLAGS) -DBITNET_IMPLEMENTATION -x c -c -o $@ bitnet.h
$(WIN)/bitnet.exe: $(WIN_CLI_SRC) tools/*.h bitnet.h $(WIN)/obj/bitnet.o
	@mkdir -p $(@D)
	$(MINGW) $(WINFLAGS) $(LINKED) -o $@ $(WIN_CLI_SRC) $(WIN)/obj/bitnet.o
$(WIN)/tests/%.exe: tests/%.c tests/*.h bitnet.h
	@mkdir -p $(@D)
	$(MINGW) $(WINFLAGS) -I. -o $@ $< -lpthread
$(API_TESTS:%=$(WIN)/tests/%.exe): $(WIN)/tests/%.exe: tests/%.c tests/*.h bitnet.h $(WIN)/obj/bitnet.o
	@mkdir -p $(@D)
	$(MINGW) $(WINFLAGS) $(LINKED) -I. -o $@ $< $(WIN)/obj/bitnet.o -lpthread
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
$(B)/obj/bitnet-musl.o: bitnet.h
	@mkdir -p $(@D)
	$(MUSL_CC) $(WFLAGS) -O1 -DBITNET_IMPLEMENTATION -x c -c -o $@ bitnet.h
$(API_TESTS:%=$(B)/musl/%): $(B)/musl/%: tests/%.c tests/*.h bitnet.h $(B)/obj/bitnet-musl.o
	@mkdir -p $(@D)
	$(MUSL_CC) $(WFLAGS) -O1 -static $(LINKED) -I. -o $@ $< $(B)/obj/bitnet-musl.o -lm

posix: $(POSIX_TESTS)
$(B)/posix/%: tests/%.c tests/*.h bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(POSIXFLAGS) -O1 -I. -o $@ $< $(LDLIBS)
$(B)/obj/bitnet-posix.o: bitnet.h
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(POSIXFLAGS) -O1 -DBITNET_IMPLEMENTATION -x c -c -o $@ bitnet.h
$(API_TESTS:%=$(B)/posix/%): $(B)/posix/%: tests/%.c tests/*.h bitnet.h $(B)/obj/bitnet-posix.o
	@mkdir -p $(@D)
	$(CC) $(WFLAGS) $(POSIXFLAGS) -O1 $(LINKED) -I. -o $@ $< $(B)/obj/bitnet-posix.o $(LDLIBS)

platform-check:
	@if command -v $(MINGW) >/dev/null 2>&1; then $(MAKE) --no-print-directory windows; \
	else echo "platform-check: $(MINGW) not found, Windows build skipped"; fi
	@if command -v $(MUSL_CC) >/dev/null 2>&1; then $(MAKE) --no-print-directory static; \
	else echo "platform-check: $(MUSL_CC) not found, static build skipped"; fi
	@$(MAKE) --no-print-directory posix
