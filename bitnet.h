/* bitnet.h - v0.1.0 - BitNet b1.58 inference in one header - MIT license at end of file

   Do this in ONE .c file:
       #define BITNET_IMPLEMENTATION
       #include "bitnet.h"
   Every other file includes "bitnet.h" alone. The declarations compile as C99 and C++;
   the implementation is C99 (compile it in a .c file).

   CONTENTS (grep for "=====" to jump between sections, in data-flow order)
       platform · util (status, errors, logging, allocator, checked math) · cpu · pool · gguf ·
       quant · kernels: ref · avx2 · avx512 · neon · dispatch · threads · model ·
       tokenizer · sampler · generate

   QUICK START
       #define BITNET_IMPLEMENTATION
       #include "bitnet.h"
       #include <stdio.h>
       int main(int argc, char **argv) {
           BitNetModel *m = bitnet_load_model(argv[1]);
           if (!m) { fprintf(stderr, "%s\n", bitnet_get_last_error()); return 1; }
           BitNetConfig cfg = { 64, 0.8f, 0.95f, 40 };   // max_tokens, temperature, top_p, top_k
           char *text = bitnet_generate(m, "The sea is", &cfg);
           if (text) puts(text); else fprintf(stderr, "%s\n", bitnet_get_last_error());
           bitnet_free_string(text);
           bitnet_free_model(m);
           return 0;
       }
       cc -O2 main.c -lpthread -lm

   OPTIONS (define before including)
       BITNET_STATIC          every public function becomes static (private copy per .c file)
       BITNET_API             override the linkage of public functions (default: extern)
       BITNET_NO_MMAP         read files with read() instead of mmap()
       BITNET_NO_THREADS      no pthreads; the thread pool runs everything on the caller

   MEMORY OWNERSHIP
       Every allocation goes through a bitnet_allocator (zero fields = the C library's).
       Weights stay memory-mapped and are borrowed; anything converted at load is owned by the
       model and reported in its memory stats. A context plans its memory up front in one
       64-byte-aligned pool; decoding a token allocates nothing.

   THREAD SAFETY
       A model is read-only after loading and may be shared by several contexts in several
       threads. A context (and a bitnet_gguf) is used by one thread at a time.
       bitnet_last_error() is per thread.

   SECURITY
       A GGUF file is untrusted input. Every count, length, dimension, product, offset and size
       read from it is checked against the file size and against overflow before use; a bad
       file returns BITNET_ERR_FORMAT with a message naming the key or tensor, the value and
       the limit. The library never prints, exits or aborts on input.

   WHAT IT DOES NOT DO
       Training; TL1/TL2 lookup-table files (their tile layout is not in the file);
       non-BitNet quantized weights (Q4_K etc.) for the projections.

   RECENT CHANGES
       0.1.0  first release: pool, GGUF reader/writer.
*/
#ifndef BITNET_H
#define BITNET_H

/* The implementation needs POSIX (mmap, pthreads, clock_gettime) even under -std=c99: this
   works when BITNET_IMPLEMENTATION is defined before any system header is included. */
#if defined(BITNET_IMPLEMENTATION) && !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L
#endif

#include <stddef.h>
#include <stdint.h>

#define BITNET_VERSION_MAJOR 0
#define BITNET_VERSION_MINOR 1
#define BITNET_VERSION_PATCH 0
#define BITNET_VERSION_STRING "0.1.0"

#ifndef BITNET_API
#  if defined(BITNET_STATIC) && (defined(__GNUC__) || defined(__clang__))
#    define BITNET_API static __attribute__((unused))
#  elif defined(BITNET_STATIC)
#    define BITNET_API static
#  else
#    define BITNET_API extern
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ===== api: status, errors, logging, allocator ===== */

#define BITNET_STATUS_LIST(X) \
    X(BITNET_OK,               0, "ok") \
    X(BITNET_ERR_IO,          -1, "i/o error") \
    X(BITNET_ERR_FORMAT,      -2, "invalid file format") \
    X(BITNET_ERR_UNSUPPORTED, -3, "unsupported") \
    X(BITNET_ERR_NOMEM,       -4, "out of memory") \
    X(BITNET_ERR_ARGS,        -5, "invalid argument") \
    X(BITNET_ERR_NOT_FOUND,   -6, "not found") \
    X(BITNET_ERR_TYPE,        -7, "type mismatch") \
    X(BITNET_ERR_CUDA,        -8, "cuda error") \
    X(BITNET_ERR_CANCELLED,   -9, "cancelled")

typedef enum bitnet_status {
#define BN__STATUS_ENUM(name, value, text) name = value,
    BITNET_STATUS_LIST(BN__STATUS_ENUM)
#undef BN__STATUS_ENUM
    BITNET_STATUS_MIN_ = -9
} bitnet_status;

/* Short fixed text of a status code ("invalid file format"). */
BITNET_API const char *bitnet_status_str(bitnet_status status);
/* The precise message of the last failure on this thread ("" if none). */
BITNET_API const char *bitnet_last_error(void);
BITNET_API void bitnet_clear_error(void);

typedef enum bitnet_log_level {
    BITNET_LOG_ERROR = 0,
    BITNET_LOG_WARN  = 1,
    BITNET_LOG_INFO  = 2
} bitnet_log_level;

typedef void (*bitnet_log_fn)(bitnet_log_level level, const char *message, void *user);
/* Receives every error and warning the library produces. NULL (the default) = silent. */
BITNET_API void bitnet_set_logger(bitnet_log_fn fn, void *user);

/* Allocator hooks. A zeroed struct means the C library's allocator. `align` is a power of two.
   `alloc` returns NULL on failure; the library then returns BITNET_ERR_NOMEM. */
typedef struct bitnet_allocator {
    void *(*alloc)(size_t size, size_t align, void *user);
    void  (*free)(void *ptr, void *user);
    void  *user;
} bitnet_allocator;

/* ===== api: pool ===== */

/* A 64-byte-aligned arena. It takes blocks from its allocator as it grows and never past
   `capacity` bytes in all (then BITNET_ERR_NOMEM). */
typedef struct bitnet_pool_desc {
    size_t capacity;            /* hard limit on bytes taken from the allocator; 0 = none */
    size_t block_size;          /* bytes per block taken at a time; 0 = 1 MiB */
    bitnet_allocator allocator;
} bitnet_pool_desc;

typedef struct bitnet_pool_stats {
    size_t   in_use;            /* bytes handed out since the last reset, padding included */
    size_t   peak;              /* largest in_use ever */
    size_t   reserved;          /* bytes taken from the allocator */
    size_t   capacity;          /* the hard limit; 0 = none */
    uint64_t n_allocs;          /* allocations since the last reset */
} bitnet_pool_stats;

typedef struct bitnet_pool {
    bitnet_allocator allocator;
    size_t capacity, block_size;
    struct bn_pool_block *first, *current;
    size_t in_use, peak, reserved;
    uint64_t n_allocs;
} bitnet_pool;

BITNET_API bitnet_status bitnet_pool_init(bitnet_pool *pool, const bitnet_pool_desc *desc);
BITNET_API void bitnet_pool_destroy(bitnet_pool *pool);
/* 64-byte-aligned, uninitialised memory that lives until reset/destroy; NULL on failure. */
BITNET_API void *bitnet_pool_alloc(bitnet_pool *pool, size_t size);
/* Forgets every allocation but keeps the blocks for reuse. */
BITNET_API void bitnet_pool_reset(bitnet_pool *pool);
BITNET_API bitnet_pool_stats bitnet_pool_get_stats(const bitnet_pool *pool);

/* ===== api: gguf ===== */

/* ===== api: quant ===== */

/* ===== api: kernels ===== */

/* CPU features found at run time (cpuid + xgetbv on x86, hwcaps on aarch64). */
typedef enum bitnet_cpu_feature {
    BITNET_CPU_SSE3       = 1 << 0,
    BITNET_CPU_SSSE3      = 1 << 1,
    BITNET_CPU_AVX        = 1 << 2,
    BITNET_CPU_AVX2       = 1 << 3,
    BITNET_CPU_FMA        = 1 << 4,
    BITNET_CPU_F16C       = 1 << 5,
    BITNET_CPU_AVX512F    = 1 << 6,
    BITNET_CPU_AVX512BW   = 1 << 7,
    BITNET_CPU_AVX512VL   = 1 << 8,
    BITNET_CPU_AVX512VNNI = 1 << 9,
    BITNET_CPU_AVX512VBMI = 1 << 10,
    BITNET_CPU_AVX512BF16 = 1 << 11,
    BITNET_CPU_AVXVNNI    = 1 << 12,
    BITNET_CPU_NEON       = 1 << 16,
    BITNET_CPU_DOTPROD    = 1 << 17
} bitnet_cpu_feature;

/* Bitmask of bitnet_cpu_feature; detected once, OS support (XCR0) included. */
BITNET_API uint32_t bitnet_cpu_features(void);
/* Space-separated names of the features in `mask` ("avx2 fma avx512f ..."). */
BITNET_API const char *bitnet_cpu_feature_names(uint32_t mask, char *buf, size_t cap);

/* Instruction sets a kernel table can use. AUTO = the best one this CPU supports. */
typedef enum bitnet_isa {
    BITNET_ISA_AUTO   = 0,
    BITNET_ISA_REF    = 1,      /* portable scalar C: the oracle every other table is tested against */
    BITNET_ISA_AVX2   = 2,      /* AVX2 + FMA + F16C (AVX-VNNI when present) */
    BITNET_ISA_AVX512 = 3,      /* AVX-512 F/BW/VL + VNNI */
    BITNET_ISA_NEON   = 4       /* aarch64 NEON (sdot when the CPU has dotprod) */
} bitnet_isa;

/* "ref", "avx2", "avx512", "neon" ("auto" for AUTO). */
BITNET_API const char *bitnet_isa_name(bitnet_isa isa);
/* 1 when this CPU (and build) can run a kernel table for `isa`. */
BITNET_API int bitnet_isa_supported(bitnet_isa isa);
/* The ISA that AUTO resolves to here. */
BITNET_API bitnet_isa bitnet_isa_best(void);
/* One line for `bitnet info`: CPU features, the table chosen for `isa` and the ISA each kernel of
   it really uses ("cpu: avx2 fma ... | table: avx512 | quant_i8=avx512 gemv_tern=avx512-vnni ...").
   Writes at most `cap` bytes (NUL included) and returns `buf`. */
BITNET_API const char *bitnet_kernels_describe(bitnet_isa isa, char *buf, size_t cap);

/* ===== api: threads ===== */

/* A persistent pool of worker threads (spin, then sleep). bitnet_threadpool_run splits the rows
   [0, n_rows) into one contiguous range per thread and returns when all are done; every row is
   computed by the same code whatever the split, so results are bit-identical for any thread
   count. Built with BITNET_NO_THREADS (or n_threads = 1), everything runs on the caller. One
   thread at a time may call run on a given pool. */
typedef struct bitnet_threadpool bitnet_threadpool;

/* Work over the rows [r0, r1); `thread` is 0 (the caller) .. n_threads-1. */
typedef void (*bitnet_task_fn)(void *arg, int64_t r0, int64_t r1, int thread);

/* n_threads <= 0 means the number of online cores. */
BITNET_API bitnet_status bitnet_threadpool_new(bitnet_threadpool **out, int n_threads,
                                               const bitnet_allocator *allocator);
BITNET_API void bitnet_threadpool_free(bitnet_threadpool *pool);
BITNET_API int bitnet_threadpool_size(const bitnet_threadpool *pool);      /* 1 for NULL */
/* Runs fn over [0, n_rows) split into ranges whose starts are multiples of `grain` (>= 1).
   A NULL pool runs fn(arg, 0, n_rows, 0) on the caller. */
BITNET_API void bitnet_threadpool_run(bitnet_threadpool *pool, int64_t n_rows, int64_t grain,
                                      bitnet_task_fn fn, void *arg);
/* Online cores (sysconf), at least 1. */
BITNET_API int bitnet_online_cores(void);

/* ===== api: model ===== */

/* ===== api: tokenizer ===== */

/* ===== api: sampler ===== */

/* ===== api: generate ===== */

/* ===== api: cuda ===== */

#ifdef __cplusplus
}
#endif
#endif /* BITNET_H */

/* ======================================================================================== */

#if defined(BITNET_IMPLEMENTATION) && !defined(BITNET_IMPLEMENTATION_DONE)
#define BITNET_IMPLEMENTATION_DONE

#ifdef __cplusplus
#error "compile the bitnet.h implementation in a C file (the declarations work from C++)"
#endif

/* ===== platform ===== */

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#  include <fcntl.h>
#  include <sys/stat.h>
#  include <sys/types.h>
#  include <unistd.h>
#  if !defined(BITNET_NO_MMAP)
#    include <sys/mman.h>
#  endif
#endif
#if !defined(BITNET_NO_THREADS)
#  include <pthread.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define BN__THREAD_LOCAL __thread
#  define BN__UNUSED __attribute__((unused))
#  define BN__PRINTF(a, b) __attribute__((format(printf, a, b)))
#elif defined(_MSC_VER)
#  define BN__THREAD_LOCAL __declspec(thread)
#  define BN__UNUSED
#  define BN__PRINTF(a, b)
#else
#  define BN__THREAD_LOCAL
#  define BN__UNUSED
#  define BN__PRINTF(a, b)
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#  define BN__X86 1
#endif
#if defined(__aarch64__)
#  define BN__ARM64 1
#endif

/* ===== util ===== */

const char *bitnet_status_str(bitnet_status status) {
    switch (status) {
#define BN__STATUS_CASE(name, value, text) case name: return text;
        BITNET_STATUS_LIST(BN__STATUS_CASE)
#undef BN__STATUS_CASE
        default: return "unknown status";
    }
}

static BN__THREAD_LOCAL char bn_error_text[512];
static bitnet_log_fn bn_logger;
static void *bn_logger_user;

const char *bitnet_last_error(void) { return bn_error_text; }
void bitnet_clear_error(void) { bn_error_text[0] = 0; }

void bitnet_set_logger(bitnet_log_fn fn, void *user) {
    bn_logger = fn;
    bn_logger_user = user;
}

/* Records the precise reason of a failure and passes it to the logger; returns `status`. */
static BN__PRINTF(2, 3) bitnet_status bn_fail(bitnet_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bn_error_text, sizeof bn_error_text, fmt, ap);
    va_end(ap);
    if (bn_logger) bn_logger(BITNET_LOG_ERROR, bn_error_text, bn_logger_user);
    return status;
}

static BN__UNUSED BN__PRINTF(2, 3) void bn_log(bitnet_log_level level, const char *fmt, ...) {
    char text[512];
    va_list ap;
    if (!bn_logger) return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    bn_logger(level, text, bn_logger_user);
}

/* Checked arithmetic on sizes read from files: return 0 on overflow. */
static BN__UNUSED int bn_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

static BN__UNUSED int bn_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (b > UINT64_MAX - a) return 0;
    *out = a + b;
    return 1;
}

static BN__UNUSED uint64_t bn_align_up_u64(uint64_t x, uint64_t align) {
    return (x + align - 1) & ~(align - 1);
}

/* malloc with the original pointer stored just below the aligned block: portable C99. */
static void *bn_default_alloc(size_t size, size_t align, void *user) {
    unsigned char *raw, *p;
    (void)user;
    if (align < sizeof(void *)) align = sizeof(void *);
    if (size > SIZE_MAX - align - sizeof(void *)) return NULL;
    raw = (unsigned char *)malloc(size + align + sizeof(void *));
    if (!raw) return NULL;
    p = raw + sizeof(void *);
    p += (align - (uintptr_t)p % align) % align;
    memcpy(p - sizeof(void *), &raw, sizeof raw);
    return p;
}

static void bn_default_free(void *ptr, void *user) {
    void *raw;
    (void)user;
    memcpy(&raw, (unsigned char *)ptr - sizeof(void *), sizeof raw);
    free(raw);
}

static bitnet_allocator bn_allocator_or_default(const bitnet_allocator *a) {
    bitnet_allocator out;
    if (a && a->alloc && a->free) return *a;
    out.alloc = bn_default_alloc;
    out.free = bn_default_free;
    out.user = NULL;
    return out;
}

static void *bn_alloc(const bitnet_allocator *a, size_t size, size_t align) {
    return a->alloc(size, align, a->user);
}

static BN__UNUSED void *bn_zalloc(const bitnet_allocator *a, size_t size) {
    void *p = a->alloc(size, 16, a->user);
    if (p) memset(p, 0, size);
    return p;
}

static void bn_free(const bitnet_allocator *a, void *ptr) {
    if (ptr) a->free(ptr, a->user);
}

/* IEEE half and bfloat16 <-> float, scalar and exact (round to nearest even, NaN kept quiet). */
static BN__UNUSED float bn_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    float f;
    if (exp == 0x1f) bits = sign | 0x7f800000u | (man << 13);
    else if (exp != 0) bits = sign | ((exp + 112) << 23) | (man << 13);
    else if (man == 0) bits = sign;
    else {                                              /* subnormal: normalise */
        exp = 113;
        while (!(man & 0x400)) { man <<= 1; exp--; }
        bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
    memcpy(&f, &bits, 4);
    return f;
}

static BN__UNUSED uint16_t bn_fp32_to_fp16(float f) {
    uint32_t x, sign, exp, man;
    memcpy(&x, &f, 4);
    sign = (x >> 16) & 0x8000;
    exp = (x >> 23) & 0xff;
    man = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
    if (exp > 142) return (uint16_t)(sign | 0x7c00);                /* overflow -> inf */
    if (exp < 113) {                                                /* half subnormal or zero */
        uint32_t shift, m, half, rest;
        if (exp < 102) return (uint16_t)sign;
        m = man | 0x800000;
        shift = 126 - exp;                                          /* 14..24 */
        half = 1u << (shift - 1);
        rest = m & ((1u << shift) - 1);
        m >>= shift;
        if (rest > half || (rest == half && (m & 1))) m++;
        return (uint16_t)(sign | m);
    }
    {
        uint32_t h = sign | ((exp - 112) << 10) | (man >> 13), rest = man & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;     /* may carry into inf: right */
        return (uint16_t)h;
    }
}

static BN__UNUSED float bn_bf16_to_fp32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static BN__UNUSED uint16_t bn_fp32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);   /* quiet NaN */
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/* Little-endian loads from unaligned file memory. */
static BN__UNUSED uint16_t bn_load_u16(const void *p) {
    const unsigned char *b = (const unsigned char *)p;
    return (uint16_t)(b[0] | b[1] << 8);
}

static BN__UNUSED uint32_t bn_load_u32(const void *p) {
    const unsigned char *b = (const unsigned char *)p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static BN__UNUSED uint64_t bn_load_u64(const void *p) {
    return (uint64_t)bn_load_u32(p) | (uint64_t)bn_load_u32((const unsigned char *)p + 4) << 32;
}

static BN__UNUSED float bn_load_f32(const void *p) {
    uint32_t bits = bn_load_u32(p);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* ===== cpu ===== */

#if BN__X86
#  if defined(_MSC_VER)
#    include <intrin.h>
static void bn_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    int regs[4];
    __cpuidex(regs, (int)leaf, (int)sub);
    memcpy(r, regs, sizeof regs);
}
static uint64_t bn_xgetbv0(void) { return _xgetbv(0); }
#  else
#    include <cpuid.h>
static void bn_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}
static uint64_t bn_xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}
#  endif

static uint32_t bn_cpu_detect(void) {
    uint32_t r[4], max_leaf, f = 0, ymm_ok = 0, zmm_ok = 0;
    uint32_t ecx1, ebx7, ecx7, edx7, eax71 = 0;
    bn_cpuid(0, 0, r);
    max_leaf = r[0];
    if (max_leaf < 1) return 0;
    bn_cpuid(1, 0, r);
    ecx1 = r[2];
    if (ecx1 & (1u << 0)) f |= BITNET_CPU_SSE3;
    if (ecx1 & (1u << 9)) f |= BITNET_CPU_SSSE3;
    if (ecx1 & (1u << 27)) {                       /* OSXSAVE: the OS saves the wide registers? */
        uint64_t xcr0 = bn_xgetbv0();
        ymm_ok = (xcr0 & 0x6) == 0x6;
        zmm_ok = (xcr0 & 0xe6) == 0xe6;
    }
    if (!ymm_ok) return f;
    if (ecx1 & (1u << 28)) f |= BITNET_CPU_AVX;
    if (ecx1 & (1u << 12)) f |= BITNET_CPU_FMA;
    if (ecx1 & (1u << 29)) f |= BITNET_CPU_F16C;
    if (max_leaf < 7) return f;
    bn_cpuid(7, 0, r);
    ebx7 = r[1]; ecx7 = r[2]; edx7 = r[3];
    (void)edx7;
    if (r[0] >= 1) { uint32_t r1[4]; bn_cpuid(7, 1, r1); eax71 = r1[0]; }
    if (ebx7 & (1u << 5)) f |= BITNET_CPU_AVX2;
    if (eax71 & (1u << 4)) f |= BITNET_CPU_AVXVNNI;
    if (!zmm_ok) return f;
    if (ebx7 & (1u << 16)) f |= BITNET_CPU_AVX512F;
    if (ebx7 & (1u << 30)) f |= BITNET_CPU_AVX512BW;
    if (ebx7 & (1u << 31)) f |= BITNET_CPU_AVX512VL;
    if (ecx7 & (1u << 1)) f |= BITNET_CPU_AVX512VBMI;
    if (ecx7 & (1u << 11)) f |= BITNET_CPU_AVX512VNNI;
    if (eax71 & (1u << 5)) f |= BITNET_CPU_AVX512BF16;
    return f;
}
#elif BN__ARM64 && defined(__linux__)
#  include <sys/auxv.h>
static uint32_t bn_cpu_detect(void) {
    unsigned long hw = getauxval(AT_HWCAP);
    uint32_t f = BITNET_CPU_NEON;
    if (hw & (1ul << 20)) f |= BITNET_CPU_DOTPROD;   /* HWCAP_ASIMDDP */
    return f;
}
#elif BN__ARM64
static uint32_t bn_cpu_detect(void) { return BITNET_CPU_NEON; }
#else
static uint32_t bn_cpu_detect(void) { return 0; }
#endif

uint32_t bitnet_cpu_features(void) {
    /* Detection is idempotent, so a race between threads only repeats it. */
    static volatile uint32_t cached;
    static volatile int done;
    if (!done) { cached = bn_cpu_detect(); done = 1; }
    return cached;
}

const char *bitnet_cpu_feature_names(uint32_t mask, char *buf, size_t cap) {
    static const struct { uint32_t bit; const char *name; } names[] = {
        { BITNET_CPU_SSE3, "sse3" }, { BITNET_CPU_SSSE3, "ssse3" }, { BITNET_CPU_AVX, "avx" },
        { BITNET_CPU_AVX2, "avx2" }, { BITNET_CPU_FMA, "fma" }, { BITNET_CPU_F16C, "f16c" },
        { BITNET_CPU_AVX512F, "avx512f" }, { BITNET_CPU_AVX512BW, "avx512bw" },
        { BITNET_CPU_AVX512VL, "avx512vl" }, { BITNET_CPU_AVX512VNNI, "avx512vnni" },
        { BITNET_CPU_AVX512VBMI, "avx512vbmi" }, { BITNET_CPU_AVX512BF16, "avx512bf16" },
        { BITNET_CPU_AVXVNNI, "avxvnni" }, { BITNET_CPU_NEON, "neon" },
        { BITNET_CPU_DOTPROD, "dotprod" },
    };
    size_t i, used = 0;
    if (!buf || cap == 0) return "";
    buf[0] = 0;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        int n;
        if (!(mask & names[i].bit)) continue;
        n = snprintf(buf + used, cap - used, "%s%s", used ? " " : "", names[i].name);
        if (n < 0 || (size_t)n >= cap - used) break;
        used += (size_t)n;
    }
    return buf;
}

/* ===== pool ===== */

#define BN__POOL_ALIGN 64

typedef struct bn_pool_block {
    struct bn_pool_block *next;
    size_t size, used;      /* bytes of data after the header */
} bn_pool_block;

/* The header is padded so that data starts 64-byte aligned. */
#define BN__POOL_HEADER ((sizeof(bn_pool_block) + BN__POOL_ALIGN - 1) & ~(size_t)(BN__POOL_ALIGN - 1))

static unsigned char *bn_pool_block_data(bn_pool_block *b) {
    return (unsigned char *)b + BN__POOL_HEADER;
}

bitnet_status bitnet_pool_init(bitnet_pool *pool, const bitnet_pool_desc *desc) {
    if (!pool) return bn_fail(BITNET_ERR_ARGS, "bitnet_pool_init: pool is NULL");
    memset(pool, 0, sizeof *pool);
    pool->allocator = bn_allocator_or_default(desc ? &desc->allocator : NULL);
    pool->capacity = desc ? desc->capacity : 0;
    pool->block_size = desc && desc->block_size ? desc->block_size : (size_t)1 << 20;
    return BITNET_OK;
}

void bitnet_pool_destroy(bitnet_pool *pool) {
    bn_pool_block *b, *next;
    if (!pool) return;
    for (b = pool->first; b; b = next) {
        next = b->next;
        bn_free(&pool->allocator, b);
    }
    pool->first = pool->current = NULL;
    pool->in_use = pool->reserved = 0;
    pool->n_allocs = 0;
}

static void *bn_pool_take(bitnet_pool *pool, bn_pool_block *b, size_t size) {
    void *p = bn_pool_block_data(b) + b->used;
    b->used += size;
    pool->current = b;
    pool->in_use += size;
    if (pool->in_use > pool->peak) pool->peak = pool->in_use;
    pool->n_allocs++;
    return p;
}

static bn_pool_block *bn_pool_grow(bitnet_pool *pool, size_t size) {
    size_t data = size > pool->block_size ? size : pool->block_size;
    size_t total;
    bn_pool_block *b, **tail;
    if (data > SIZE_MAX - BN__POOL_HEADER) return NULL;
    total = data + BN__POOL_HEADER;
    if (pool->capacity && (total > pool->capacity || pool->reserved > pool->capacity - total)) {
        /* a smaller block that just fits is still allowed */
        if (size > SIZE_MAX - BN__POOL_HEADER) return NULL;
        total = size + BN__POOL_HEADER;
        if (total > pool->capacity || pool->reserved > pool->capacity - total) return NULL;
        data = size;
    }
    b = (bn_pool_block *)bn_alloc(&pool->allocator, total, BN__POOL_ALIGN);
    if (!b) return NULL;
    b->next = NULL;
    b->size = data;
    b->used = 0;
    for (tail = &pool->first; *tail; tail = &(*tail)->next) {}
    *tail = b;
    pool->reserved += total;
    return b;
}

void *bitnet_pool_alloc(bitnet_pool *pool, size_t size) {
    bn_pool_block *b;
    if (!pool) {
        bn_fail(BITNET_ERR_ARGS, "bitnet_pool_alloc: pool is NULL");
        return NULL;
    }
    if (size > SIZE_MAX - BN__POOL_ALIGN) {
        bn_fail(BITNET_ERR_NOMEM, "pool: request of %zu bytes is too large", size);
        return NULL;
    }
    size = (size + BN__POOL_ALIGN - 1) & ~(size_t)(BN__POOL_ALIGN - 1);
    for (b = pool->current ? pool->current : pool->first; b; b = b->next)
        if (b->size - b->used >= size) return bn_pool_take(pool, b, size);
    b = bn_pool_grow(pool, size);
    if (!b) {
        bn_fail(BITNET_ERR_NOMEM, "pool: cannot take %zu more bytes (reserved %zu, capacity %zu)",
                size, pool->reserved, pool->capacity);
        return NULL;
    }
    return bn_pool_take(pool, b, size);
}

void bitnet_pool_reset(bitnet_pool *pool) {
    bn_pool_block *b;
    if (!pool) return;
    for (b = pool->first; b; b = b->next) b->used = 0;
    pool->current = pool->first;
    pool->in_use = 0;
    pool->n_allocs = 0;
}

bitnet_pool_stats bitnet_pool_get_stats(const bitnet_pool *pool) {
    bitnet_pool_stats s;
    memset(&s, 0, sizeof s);
    if (!pool) return s;
    s.in_use = pool->in_use;
    s.peak = pool->peak;
    s.reserved = pool->reserved;
    s.capacity = pool->capacity;
    s.n_allocs = pool->n_allocs;
    return s;
}

/* ===== gguf ===== */

/* ===== quant ===== */

/* ===== kernels: ref ===== */

/* How the model calls the kernels (everything here is internal to the implementation):

   Ternary weights (every BitLinear projection) live in one internal layout, bn_tern: the I2_S
   layout of FORMATS.md 3.1 (blocks of 128 codes c = w+1 in 32 bytes, byte p holding elements
   p, p+32, p+64, p+96 at shifts 6, 4, 2, 0), rows kp/4 bytes apart, kp = K rounded up to 128.
   An I2_S tensor is borrowed as is (no copy); TQ2_0, TQ1_0 and int8 codes are repacked into
   owned memory (w.bytes_owned says how much).
       bn_tern w;
       st = bn_tern_from_tensor(&w, t->type, t->data, t->size, t->ne[0], t->ne[1], alloc);
                                                     (I2_S, TQ2_0 or TQ1_0; K = ne[0], M = ne[1])
       st = bn_tern_from_codes(&w, codes, alpha, K, M, alloc);   (codes int8 -1/0/+1, (M, K))
       bn_tern_free(&w);
   Float weights (head, embeddings) are borrowed views: bn_fmat m;
       st = bn_fmat_init(&m, t->type, t->data, t->size, t->ne[0], t->ne[1]);
                                                     (F32, F16, BF16, Q8_0 or Q6_K)
   The kernel table (in the model/context, never global):
       bn_kernels kt; st = bn_kernels_init(&kt, BITNET_ISA_AUTO);   (or force REF/AVX2/AVX512/NEON)
   BitLinear y = W x for one token x (K floats):
       int8_t q[kp];  (kp = bn_tern_kpad(K); 64-byte aligned is best)   float s; int32_t sum;
       kt.quant_i8(x, K, q, &s, &sum);             (FORMATS.md 4; q is in the table's own order,
                                                    zero-padded to kp: only pass it to kt's kernels)
       kt.gemv_tern(&w, q, s, sum, y, r0, r1);     (y[r] for rows r in [r0, r1))
   For n tokens: q (n, ldq >= kp), s[n], sum[n], y (n, ldy >= M):
       kt.gemm_tern(&w, q, ldq, s, sum, n, y, ldy, r0, r1);
   Float GEMV/GEMM (y = W x, x has K floats): kt.gemv_f[m.ft](&m, x, y, r0, r1) and
       kt.gemm_f[m.ft](&m, x, ldx, n, y, ldy, r0, r1); or the same through bn_fmat_gemv/_gemm.
   Threaded (pool may be NULL; bit-identical for every thread count):
       bn_par_gemv_tern(pool, &kt, &w, q, s, sum, y);
       bn_par_gemm_tern(pool, &kt, &w, q, ldq, s, sum, n, y, ldy);
       bn_par_gemv_f(pool, &kt, &m, x, y);   bn_par_gemm_f(pool, &kt, &m, x, ldx, n, y, ldy);
       bitnet_threadpool_run(pool, n_rows, grain, fn, arg) for anything else.
   Vector ops (one vector; split heads/tokens across threads yourself):
       kt.rmsnorm(x, w_or_NULL, n, eps, out)        out = x / sqrt(mean(x^2) + eps) * w
       kt.rope(x, n_heads, head_dim, n_rot, pos, base, neox)   in place, theta = pos*base^(-2i/n_rot)
       kt.softmax(x, n)   kt.relu2_mul(g, u, n, out)   kt.silu_mul(g, u, n, out)
       kt.dot_f32(a, b, n)  kt.axpy_f32(y, a, x, n)   y += a*x
       kt.dot_f16(a16, b, n)  kt.axpy_f16(y, a, x16, n)   (F16 KV cache rows)
   bitnet_kernels_describe() prints what each field resolved to. */

#define BN__TERN_ALIGN 128          /* kp: K rounded up to this many codes */

/* Float weight types the head kernels take (index of kt.gemv_f / kt.gemm_f). */
enum { BN__FT_F32, BN__FT_F16, BN__FT_BF16, BN__FT_Q8_0, BN__FT_Q6_K, BN__FT_COUNT };

typedef struct bn_tern {
    int64_t rows, cols, kp;     /* M, K, K rounded up to 128 */
    const uint8_t *codes;       /* (rows, kp/4): I2_S layout, borrowed or owned */
    float alpha;                /* every weight is (c-1)*alpha when block_scale is NULL */
    float *block_scale;         /* (rows, kp/256) per-256-block scale, or NULL */
    void *owned;                /* memory to free (codes and/or block_scale), or NULL */
    size_t bytes_owned;         /* its size: the repacking cost to report */
    bitnet_allocator allocator;
} bn_tern;

typedef struct bn_fmat {
    int ft;                     /* BN__FT_* */
    int64_t rows, cols;         /* M, K */
    const uint8_t *data;        /* borrowed file data, any alignment */
    size_t row_bytes;
} bn_fmat;

typedef struct bn_kernels {
    bitnet_isa isa;
    int act_order;              /* 0: q in natural order; 1: 256-chunks in AVX-512 order */
    void (*quant_i8)(const float *x, int64_t k, int8_t *q, float *s, int32_t *sum);
    void (*gemv_tern)(const bn_tern *w, const int8_t *q, float s, int32_t sum, float *y,
                      int64_t r0, int64_t r1);
    void (*gemm_tern)(const bn_tern *w, const int8_t *q, int64_t ldq, const float *s,
                      const int32_t *sum, int64_t n, float *y, int64_t ldy, int64_t r0, int64_t r1);
    void (*gemv_f[BN__FT_COUNT])(const bn_fmat *w, const float *x, float *y, int64_t r0, int64_t r1);
    void (*gemm_f[BN__FT_COUNT])(const bn_fmat *w, const float *x, int64_t ldx, int64_t n,
                                 float *y, int64_t ldy, int64_t r0, int64_t r1);
    void (*rmsnorm)(const float *x, const float *w, int64_t n, float eps, float *out);
    void (*rope)(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos,
                 float base, int neox);
    void (*softmax)(float *x, int64_t n);
    void (*relu2_mul)(const float *g, const float *u, int64_t n, float *out);
    void (*silu_mul)(const float *g, const float *u, int64_t n, float *out);
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*axpy_f32)(float *y, float a, const float *x, int64_t n);
    float (*dot_f16)(const uint16_t *a, const float *b, int64_t n);
    void (*axpy_f16)(float *y, float a, const uint16_t *x, int64_t n);
    const char *names[24];      /* ISA of each field, for bitnet_kernels_describe */
} bn_kernels;

static BN__UNUSED int64_t bn_tern_kpad(int64_t k) {
    return (k + BN__TERN_ALIGN - 1) / BN__TERN_ALIGN * BN__TERN_ALIGN;
}

/* Code of element `col` of row `r` (0..3; the weight is (code-1)*scale). */
static BN__UNUSED int bn_tern_code(const bn_tern *w, int64_t r, int64_t col) {
    const uint8_t *row = w->codes + r * (w->kp / 4);
    int64_t b = col / 128, e = col % 128;
    return (row[b * 32 + e % 32] >> (6 - 2 * (e / 32))) & 3;
}

static BN__UNUSED float bn_tern_scale(const bn_tern *w, int64_t r, int64_t col) {
    return w->block_scale ? w->block_scale[r * (w->kp / 256) + col / 256] : w->alpha;
}

static void bn_tern_set(uint8_t *row, int64_t col, int code) {
    int64_t b = col / 128, e = col % 128;
    int sh = 6 - 2 * (int)(e / 32);
    uint8_t *p = &row[b * 32 + e % 32];
    *p = (uint8_t)((*p & ~(3 << sh)) | (code << sh));
}

/* Position of natural element i of a q vector in the table's order. AVX-512 reads a 64-byte
   chunk of codes (two 128-blocks) at once, so inside each full 256-chunk it wants the 32-element
   pieces in the order 0,4,1,5,2,6,3,7; a final half chunk stays in natural order. */
static BN__UNUSED int64_t bn_act_pos(int order, int64_t i, int64_t kp) {
    int64_t c = i / 256, p, piece, e;
    if (!order || (c + 1) * 256 > kp) return i;
    p = i % 256; piece = p / 32; e = p % 32;
    return c * 256 + ((piece % 4) * 2 + piece / 4) * 32 + e;
}

/* ---- weight preparation ---- */

static void bn_tern_clear(bn_tern *w) { memset(w, 0, sizeof *w); }

static BN__UNUSED void bn_tern_free(bn_tern *w) {
    if (!w) return;
    if (w->owned) bn_free(&w->allocator, w->owned);
    bn_tern_clear(w);
}

static bitnet_status bn_tern_check_shape(const char *what, uint64_t k, uint64_t m, uint64_t mult) {
    if (k == 0 || m == 0 || k > ((uint64_t)1 << 31) || m > ((uint64_t)1 << 31))
        return bn_fail(BITNET_ERR_FORMAT, "%s: shape %llu x %llu is empty or larger than 2^31",
                       what, (unsigned long long)m, (unsigned long long)k);
    if (k % mult)
        return bn_fail(BITNET_ERR_FORMAT, "%s: row length %llu is not a multiple of %llu",
                       what, (unsigned long long)k, (unsigned long long)mult);
    return BITNET_OK;
}

/* Allocates owned codes (filled with code 1 = weight 0) and, when n_scales > 0, a scale array. */
static bitnet_status bn_tern_alloc(bn_tern *w, int64_t k, int64_t m, int64_t n_scales,
                                   const bitnet_allocator *a) {
    uint64_t code_bytes, total;
    bn_tern_clear(w);
    w->allocator = bn_allocator_or_default(a);
    w->rows = m; w->cols = k; w->kp = bn_tern_kpad(k);
    code_bytes = (uint64_t)m * (uint64_t)(w->kp / 4);
    total = bn_align_up_u64(code_bytes, 64) + (uint64_t)n_scales * 4;
    if (total > SIZE_MAX)
        return bn_fail(BITNET_ERR_NOMEM, "ternary weights: %llu bytes do not fit in memory",
                       (unsigned long long)total);
    w->owned = bn_alloc(&w->allocator, (size_t)total, 64);
    if (!w->owned)
        return bn_fail(BITNET_ERR_NOMEM, "ternary weights: cannot allocate %llu bytes",
                       (unsigned long long)total);
    w->bytes_owned = (size_t)total;
    memset(w->owned, 0x55, (size_t)code_bytes);
    w->codes = (const uint8_t *)w->owned;
    if (n_scales)
        w->block_scale = (float *)((uint8_t *)w->owned + bn_align_up_u64(code_bytes, 64));
    return BITNET_OK;
}

static BN__UNUSED bitnet_status bn_tern_from_codes(bn_tern *w, const int8_t *codes, float alpha, int64_t k, int64_t m,
                                 const bitnet_allocator *a) {
    bitnet_status st;
    int64_t r, c;
    if (!w || !codes) return bn_fail(BITNET_ERR_ARGS, "bn_tern_from_codes: NULL argument");
    if (k <= 0 || m <= 0) return bn_fail(BITNET_ERR_ARGS, "bn_tern_from_codes: shape %lld x %lld",
                                         (long long)m, (long long)k);
    if ((st = bn_tern_check_shape("ternary codes", (uint64_t)k, (uint64_t)m, 1))) return st;
    if ((st = bn_tern_alloc(w, k, m, 0, a))) return st;
    for (r = 0; r < m; r++) {
        uint8_t *row = (uint8_t *)w->owned + r * (w->kp / 4);
        const int8_t *src = codes + r * k;
        for (c = 0; c + 128 <= k; c += 128) {            /* whole blocks a byte at a time */
            int p;
            for (p = 0; p < 32; p++) {
                int c0 = src[c + p], c1 = src[c + p + 32], c2 = src[c + p + 64], c3 = src[c + p + 96];
                c0 = c0 < 0 ? 0 : c0 > 0 ? 2 : 1; c1 = c1 < 0 ? 0 : c1 > 0 ? 2 : 1;
                c2 = c2 < 0 ? 0 : c2 > 0 ? 2 : 1; c3 = c3 < 0 ? 0 : c3 > 0 ? 2 : 1;
                row[c / 4 + p] = (uint8_t)(c0 << 6 | c1 << 4 | c2 << 2 | c3);
            }
        }
        for (; c < k; c++) bn_tern_set(row, c, src[c] < 0 ? 0 : src[c] > 0 ? 2 : 1);
    }
    w->alpha = alpha;
    return BITNET_OK;
}

/* TQ2_0 block (66 bytes): qs[64] then f16 d. Element j*4 + l*32 + m (j in {0,32}) is
   (qs[j+m] >> 2l) & 3. */
static int bn_tq2_code(const uint8_t *blk, int e) {
    int j = e / 128 * 32, l = e % 128 / 32, mm = e % 32;
    return (blk[j + mm] >> (2 * l)) & 3;
}

/* TQ1_0 block (54 bytes): qs[48], qh[4], f16 d. Base-3 digits, first trit most significant. */
static int bn_tq1_code(const uint8_t *blk, int e) {
    static const uint8_t pow3[5] = { 1, 3, 9, 27, 81 };
    int byte, n;
    uint8_t q;
    if (e < 160) { byte = e % 32; n = e / 32; }
    else if (e < 240) { byte = 32 + (e - 160) % 16; n = (e - 160) / 16; }
    else { byte = 48 + (e - 240) % 4; n = (e - 240) / 4; }
    q = (uint8_t)(blk[byte] * pow3[n]);
    return ((uint16_t)q * 3) >> 8;
}

static BN__UNUSED bitnet_status bn_tern_from_tensor(bn_tern *w, int type, const void *data, uint64_t size,
                                  uint64_t k, uint64_t m, const bitnet_allocator *a) {
    const uint8_t *src = (const uint8_t *)data;
    bitnet_status st;
    uint64_t need, nb, bsz, r, b;
    int e, uniform = 1, have = 0;
    float alpha = 0.0f;
    if (!w || !data) return bn_fail(BITNET_ERR_ARGS, "bn_tern_from_tensor: NULL argument");
    if (type == 36) {                                        /* I2_S: borrowed */
        if ((st = bn_tern_check_shape("I2_S tensor", k, m, 128))) return st;
        need = m * (k / 4) + 4;
        if (size < need)
            return bn_fail(BITNET_ERR_FORMAT, "I2_S tensor: %llu bytes, need %llu for %llu x %llu",
                           (unsigned long long)size, (unsigned long long)need,
                           (unsigned long long)m, (unsigned long long)k);
        bn_tern_clear(w);
        w->allocator = bn_allocator_or_default(a);
        w->rows = (int64_t)m; w->cols = (int64_t)k; w->kp = (int64_t)k;
        w->codes = src;
        w->alpha = bn_load_f32(src + m * (k / 4));
        return BITNET_OK;
    }
    if (type != 34 && type != 35)
        return bn_fail(BITNET_ERR_UNSUPPORTED, "ternary weights: tensor type %d is not I2_S (36), "
                       "TQ2_0 (35) or TQ1_0 (34)", type);
    if ((st = bn_tern_check_shape(type == 35 ? "TQ2_0 tensor" : "TQ1_0 tensor", k, m, 256))) return st;
    bsz = type == 35 ? 66 : 54;
    nb = k / 256;
    need = m * nb * bsz;
    if (size < need)
        return bn_fail(BITNET_ERR_FORMAT, "%s tensor: %llu bytes, need %llu for %llu x %llu",
                       type == 35 ? "TQ2_0" : "TQ1_0", (unsigned long long)size,
                       (unsigned long long)need, (unsigned long long)m, (unsigned long long)k);
    /* One scale for the tensor when every block with a nonzero weight has the same d. */
    for (b = 0; b < m * nb && uniform; b++) {
        const uint8_t *blk = src + b * bsz;
        float d = bn_fp16_to_fp32(bn_load_u16(blk + bsz - 2));
        int nonzero = 0;
        for (e = 0; e < 256 && !nonzero; e++)
            nonzero = (type == 35 ? bn_tq2_code(blk, e) : bn_tq1_code(blk, e)) != 1;
        if (!nonzero) continue;
        if (!have) { alpha = d; have = 1; }
        else if (memcmp(&d, &alpha, 4) != 0) uniform = 0;
    }
    if ((st = bn_tern_alloc(w, (int64_t)k, (int64_t)m, uniform ? 0 : (int64_t)(m * nb), a))) return st;
    w->alpha = alpha;
    for (r = 0; r < m; r++) {
        uint8_t *row = (uint8_t *)w->owned + r * (k / 4);
        for (b = 0; b < nb; b++) {
            const uint8_t *blk = src + (r * nb + b) * bsz;
            if (type == 35) {
                /* a TQ2_0 half-block byte m holds elements 32l+m at shift 2l, the I2_S byte
                   the same elements at shift 6-2l: reverse the four 2-bit fields */
                for (e = 0; e < 64; e++) {
                    unsigned v = blk[e];
                    row[b * 64 + (uint64_t)e] = (uint8_t)((v & 3) << 6 | (v >> 2 & 3) << 4 | (v >> 4 & 3) << 2 | v >> 6);
                }
            } else {
                for (e = 0; e < 256; e++) bn_tern_set(row, (int64_t)(b * 256) + e, bn_tq1_code(blk, e));
            }
            if (!uniform) w->block_scale[r * nb + b] = bn_fp16_to_fp32(bn_load_u16(blk + bsz - 2));
        }
    }
    return BITNET_OK;
}

static BN__UNUSED bitnet_status bn_fmat_init(bn_fmat *m, int type, const void *data, uint64_t size, uint64_t k,
                           uint64_t rows) {
    uint64_t rb, need;
    int ft;
    if (!m || !data) return bn_fail(BITNET_ERR_ARGS, "bn_fmat_init: NULL argument");
    switch (type) {
        case 0: ft = BN__FT_F32; rb = k * 4; break;
        case 1: ft = BN__FT_F16; rb = k * 2; break;
        case 30: ft = BN__FT_BF16; rb = k * 2; break;
        case 8: ft = BN__FT_Q8_0; rb = k / 32 * 34; break;
        case 14: ft = BN__FT_Q6_K; rb = k / 256 * 210; break;
        default:
            return bn_fail(BITNET_ERR_UNSUPPORTED, "float weights: tensor type %d is not F32, F16, "
                           "BF16, Q8_0 or Q6_K", type);
    }
    if (k == 0 || rows == 0 || k > ((uint64_t)1 << 31) || rows > ((uint64_t)1 << 31))
        return bn_fail(BITNET_ERR_FORMAT, "float weights: shape %llu x %llu is empty or too large",
                       (unsigned long long)rows, (unsigned long long)k);
    if ((ft == BN__FT_Q8_0 && k % 32) || (ft == BN__FT_Q6_K && k % 256))
        return bn_fail(BITNET_ERR_FORMAT, "float weights: row length %llu is not a multiple of %d",
                       (unsigned long long)k, ft == BN__FT_Q8_0 ? 32 : 256);
    need = rb * rows;
    if (size < need)
        return bn_fail(BITNET_ERR_FORMAT, "float weights: %llu bytes, need %llu for %llu x %llu",
                       (unsigned long long)size, (unsigned long long)need,
                       (unsigned long long)rows, (unsigned long long)k);
    m->ft = ft; m->rows = (int64_t)rows; m->cols = (int64_t)k;
    m->data = (const uint8_t *)data; m->row_bytes = (size_t)rb;
    return BITNET_OK;
}

/* ---- activation quantizer (FORMATS.md 4) ---- */

/* Round half to even of |v| <= ~128, independent of the FPU rounding mode. */
static float bn_round_even(float v) {
    float r = floorf(v), d = v - r;
    if (d > 0.5f || (d == 0.5f && fmodf(r, 2.0f) != 0.0f)) r += 1.0f;
    return r;
}

/* s = 127 / max(1e-5, amax) with amax in double, stored as float. */
static float bn_act_scale(float amax) {
    double a = (double)amax;
    if (!(a >= 1e-5)) a = 1e-5;
    return (float)(127.0 / a);
}

/* One element: clamp in float first (a NaN becomes 127, as min(v, 127) does in SIMD). */
static int bn_quant_one(float v) {
    if (!(v <= 127.0f)) v = 127.0f;
    if (v < -128.0f) v = -128.0f;
    return (int)bn_round_even(v);
}

static void bn_quant_i8_ref(const float *x, int64_t k, int8_t *q, float *s_out, int32_t *sum_out) {
    float amax = 0.0f, s;
    int32_t sum = 0;
    int64_t i, kp = bn_tern_kpad(k);
    for (i = 0; i < k; i++) {
        float a = fabsf(x[i]);
        if (a > amax) amax = a;
    }
    s = bn_act_scale(amax);
    for (i = 0; i < k; i++) {
        int v = bn_quant_one(x[i] * s);
        q[i] = (int8_t)v;
        sum += v;
    }
    for (; i < kp; i++) q[i] = 0;
    *s_out = s;
    *sum_out = sum;
}

/* ---- ternary GEMV / GEMM ---- */

static float bn_tern_out(int32_t acc, int32_t sum, float s, float alpha) {
    return ((float)acc - (float)sum) / s * alpha;
}

/* Row r with per-block scales: y = sum_b (acc_b - sumq_b) * d_b / s, q in `order`. */
static float bn_tern_row_blocked(const bn_tern *w, int64_t r, const int8_t *q, int order, float s) {
    int64_t nb = w->kp / 256, b, i;
    float y = 0.0f;
    for (b = 0; b < nb; b++) {
        int32_t acc = 0, sq = 0;
        for (i = b * 256; i < b * 256 + 256; i++) {
            int v = q[bn_act_pos(order, i, w->kp)];
            acc += bn_tern_code(w, r, i) * v;
            sq += v;
        }
        float part = ((float)acc - (float)sq) / s * w->block_scale[r * nb + b];
        y += part;              /* separate statement: never contracted into an FMA */
    }
    return y;
}

static int32_t bn_tern_dot_ref(const uint8_t *row, const int8_t *q, int64_t kp) {
    int64_t b, p;
    int32_t acc = 0;
    for (b = 0; b < kp / 128; b++) {
        const uint8_t *c = row + b * 32;
        const int8_t *x = q + b * 128;
        for (p = 0; p < 32; p++)
            acc += (c[p] >> 6) * x[p] + (c[p] >> 4 & 3) * x[p + 32] + (c[p] >> 2 & 3) * x[p + 64]
                 + (c[p] & 3) * x[p + 96];
    }
    return acc;
}

static void bn_gemv_tern_i8_ref(const bn_tern *w, const int8_t *q, float s, int32_t sum, float *y,
                                int64_t r0, int64_t r1) {
    int64_t r;
    for (r = r0; r < r1; r++) {
        if (w->block_scale) y[r] = bn_tern_row_blocked(w, r, q, 0, s);
        else y[r] = bn_tern_out(bn_tern_dot_ref(w->codes + r * (w->kp / 4), q, w->kp), sum, s, w->alpha);
    }
}

static void bn_gemm_tern_i8_ref(const bn_tern *w, const int8_t *q, int64_t ldq, const float *s,
                                const int32_t *sum, int64_t n, float *y, int64_t ldy,
                                int64_t r0, int64_t r1) {
    int64_t t;
    for (t = 0; t < n; t++) bn_gemv_tern_i8_ref(w, q + t * ldq, s[t], sum[t], y + t * ldy, r0, r1);
}

/* ---- float GEMV / GEMM (y = W x), accumulated in double: the oracle ---- */

static void bn_q6k_dequant(const uint8_t *blk, float *out) {   /* 256 weights from 210 bytes */
    const uint8_t *ql = blk, *qh = blk + 128;
    const int8_t *sc = (const int8_t *)(blk + 192);
    float d = bn_fp16_to_fp32(bn_load_u16(blk + 208));
    int n, l;
    for (n = 0; n < 2; n++) {
        for (l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0 & 3) << 4)) - 32;
            int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2 & 3) << 4)) - 32;
            int q3 = ((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
            int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
            out[l] = d * (float)sc[is] * (float)q1;
            out[l + 32] = d * (float)sc[is + 2] * (float)q2;
            out[l + 64] = d * (float)sc[is + 4] * (float)q3;
            out[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
        out += 128; ql += 64; qh += 32; sc += 8;
    }
}

/* Weight (r, c) of any float type, as float. */
static float bn_fmat_at(const bn_fmat *m, int64_t r, int64_t c) {
    const uint8_t *row = m->data + (size_t)r * m->row_bytes;
    switch (m->ft) {
        case BN__FT_F32: return bn_load_f32(row + c * 4);
        case BN__FT_F16: return bn_fp16_to_fp32(bn_load_u16(row + c * 2));
        case BN__FT_BF16: return bn_bf16_to_fp32(bn_load_u16(row + c * 2));
        case BN__FT_Q8_0: {
            const uint8_t *blk = row + c / 32 * 34;
            return bn_fp16_to_fp32(bn_load_u16(blk)) * (float)(int8_t)blk[2 + c % 32];
        }
        default: {
            float tmp[256];
            bn_q6k_dequant(row + c / 256 * 210, tmp);
            return tmp[c % 256];
        }
    }
}

static void bn_gemv_f_ref(const bn_fmat *m, const float *x, float *y, int64_t r0, int64_t r1) {
    float tmp[256];
    int64_t r, c, i;
    for (r = r0; r < r1; r++) {
        double acc = 0.0;
        if (m->ft == BN__FT_Q6_K) {
            for (c = 0; c < m->cols; c += 256) {
                bn_q6k_dequant(m->data + (size_t)r * m->row_bytes + c / 256 * 210, tmp);
                for (i = 0; i < 256; i++) acc += (double)tmp[i] * x[c + i];
            }
        } else {
            for (c = 0; c < m->cols; c++) acc += (double)bn_fmat_at(m, r, c) * x[c];
        }
        y[r] = (float)acc;
    }
}

static void bn_gemm_f_ref(const bn_fmat *m, const float *x, int64_t ldx, int64_t n, float *y,
                          int64_t ldy, int64_t r0, int64_t r1) {
    int64_t t;
    for (t = 0; t < n; t++) bn_gemv_f_ref(m, x + t * ldx, y + t * ldy, r0, r1);
}

/* Row-blocked GEMM from any GEMV: a block of rows stays in cache while every token uses it. */
#define BN__GEMM_FROM_GEMV(name, gemv) \
    static void name(const bn_fmat *m, const float *x, int64_t ldx, int64_t n, float *y, \
                     int64_t ldy, int64_t r0, int64_t r1) { \
        int64_t rb, t, step = (int64_t)(32768 / (m->row_bytes + 1)) + 1; \
        for (rb = r0; rb < r1; rb += step) { \
            int64_t re = rb + step < r1 ? rb + step : r1; \
            for (t = 0; t < n; t++) gemv(m, x + t * ldx, y + t * ldy, rb, re); \
        } \
    }

/* ---- vector ops ---- */

static void bn_rmsnorm_ref(const float *x, const float *w, int64_t n, float eps, float *out) {
    double sum = 0.0;
    float scale;
    int64_t i;
    for (i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    scale = 1.0f / sqrtf((float)(sum / (double)n) + eps);
    for (i = 0; i < n; i++) out[i] = w ? x[i] * scale * w[i] : x[i] * scale;
}

static void bn_rope_ref(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos,
                        float base, int neox) {
    float cs[512], sn[512];        /* (n_rot/2); n_rot <= 1024 */
    int64_t h, i, half = n_rot / 2;
    if (half > 512) half = 512;
    for (i = 0; i < half; i++) {
        double theta = (double)pos * pow((double)base, -2.0 * (double)i / (double)n_rot);
        cs[i] = (float)cos(theta);
        sn[i] = (float)sin(theta);
    }
    for (h = 0; h < n_heads; h++) {
        float *v = x + h * head_dim;
        for (i = 0; i < half; i++) {
            int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * cs[i] - x1 * sn[i];
            v[b] = x0 * sn[i] + x1 * cs[i];
        }
    }
}

static void bn_softmax_ref(float *x, int64_t n) {
    float mx = -INFINITY, inv;
    double sum = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) if (x[i] > mx) mx = x[i];
    for (i = 0; i < n; i++) { x[i] = expf(x[i] - mx); sum += x[i]; }
    inv = (float)(1.0 / sum);
    for (i = 0; i < n; i++) x[i] *= inv;
}

static void bn_relu2_mul_ref(const float *g, const float *u, int64_t n, float *out) {
    int64_t i;
    for (i = 0; i < n; i++) {
        float r = g[i] > 0.0f ? g[i] : 0.0f;
        out[i] = r * r * u[i];
    }
}

static void bn_silu_mul_ref(const float *g, const float *u, int64_t n, float *out) {
    int64_t i;
    for (i = 0; i < n; i++) out[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static float bn_dot_f32_ref(const float *a, const float *b, int64_t n) {
    double acc = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) acc += (double)a[i] * b[i];
    return (float)acc;
}

static void bn_axpy_f32_ref(float *y, float a, const float *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) y[i] += a * x[i];
}

static float bn_dot_f16_ref(const uint16_t *a, const float *b, int64_t n) {
    double acc = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) acc += (double)bn_fp16_to_fp32(a[i]) * b[i];
    return (float)acc;
}

static void bn_axpy_f16_ref(float *y, float a, const uint16_t *x, int64_t n) {
    int64_t i;
    for (i = 0; i < n; i++) y[i] += a * bn_fp16_to_fp32(x[i]);
}

/* ===== kernels: avx2 ===== */

#if BN__X86
#include <immintrin.h>
#define BN__AVX2 __attribute__((target("avx2,fma,f16c")))

static BN__AVX2 float bn_hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static BN__AVX2 int32_t bn_hsum256_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static BN__AVX2 void bn_quant_i8_avx2(const float *x, int64_t k, int8_t *q, float *s_out,
                                      int32_t *sum_out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mx = _mm256_setzero_ps(), vs;
    __m256i sum = _mm256_setzero_si256();
    float amax, tmp[8];
    int64_t i, kp = bn_tern_kpad(k);
    int32_t tail = 0;
    for (i = 0; i + 8 <= k; i += 8)
        mx = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), mx);
    _mm256_storeu_ps(tmp, mx);
    amax = 0.0f;
    for (i = 0; i < 8; i++) if (tmp[i] > amax) amax = tmp[i];
    for (i = k / 8 * 8; i < k; i++) if (fabsf(x[i]) > amax) amax = fabsf(x[i]);
    *s_out = bn_act_scale(amax);
    vs = _mm256_set1_ps(*s_out);
    for (i = 0; i + 16 <= k; i += 16) {
        __m256 v0 = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs), v1 = _mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vs);
        __m256i i0, i1;
        __m128i p;
        v0 = _mm256_max_ps(_mm256_min_ps(v0, _mm256_set1_ps(127.0f)), _mm256_set1_ps(-128.0f));
        v1 = _mm256_max_ps(_mm256_min_ps(v1, _mm256_set1_ps(127.0f)), _mm256_set1_ps(-128.0f));
        i0 = _mm256_cvtps_epi32(_mm256_round_ps(v0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        i1 = _mm256_cvtps_epi32(_mm256_round_ps(v1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        sum = _mm256_add_epi32(sum, _mm256_add_epi32(i0, i1));
        p = _mm_packs_epi16(_mm_packs_epi32(_mm256_castsi256_si128(i0), _mm256_extracti128_si256(i0, 1)),
                            _mm_packs_epi32(_mm256_castsi256_si128(i1), _mm256_extracti128_si256(i1, 1)));
        _mm_storeu_si128((__m128i *)(q + i), p);
    }
    for (; i < k; i++) { int v = bn_quant_one(x[i] * *s_out); q[i] = (int8_t)v; tail += v; }
    for (; i < kp; i++) q[i] = 0;
    *sum_out = bn_hsum256_epi32(sum) + tail;
}

/* acc of one row: per 128-block, planes (v >> 2j) & 3 times 32 activations with maddubs
   (|code*q| pairs <= 762, no saturation), four planes summed in 16 bits, then widened. */
static BN__AVX2 int32_t bn_tern_dot_avx2(const uint8_t *c, const int8_t *q, int64_t kp) {
    const __m256i m3 = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    int64_t b;
    for (b = 0; b < kp / 128; b++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(c + b * 32));
        const int8_t *x = q + b * 128;
        __m256i s;
        if (b % 2 == 0) _mm_prefetch((const char *)c + b * 32 + 4096, _MM_HINT_T0);
        s = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 6), m3),
                                         _mm256_loadu_si256((const __m256i *)x));
        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), m3),
                                                     _mm256_loadu_si256((const __m256i *)(x + 32))));
        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 2), m3),
                                                     _mm256_loadu_si256((const __m256i *)(x + 64))));
        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(_mm256_and_si256(v, m3),
                                                     _mm256_loadu_si256((const __m256i *)(x + 96))));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, ones));
    }
    return bn_hsum256_epi32(acc);
}

static BN__AVX2 void bn_gemv_tern_i8_avx2(const bn_tern *w, const int8_t *q, float s, int32_t sum,
                                          float *y, int64_t r0, int64_t r1) {
    int64_t r;
    for (r = r0; r < r1; r++) {
        if (w->block_scale) y[r] = bn_tern_row_blocked(w, r, q, 0, s);
        else y[r] = bn_tern_out(bn_tern_dot_avx2(w->codes + r * (w->kp / 4), q, w->kp), sum, s, w->alpha);
    }
}

static BN__AVX2 void bn_gemm_tern_i8_avx2(const bn_tern *w, const int8_t *q, int64_t ldq,
                                          const float *s, const int32_t *sum, int64_t n, float *y,
                                          int64_t ldy, int64_t r0, int64_t r1) {
    int64_t rblk = 131072 / (w->kp / 4) + 1, b0, t;
    for (b0 = r0; b0 < r1; b0 += rblk) {
        int64_t b1 = b0 + rblk < r1 ? b0 + rblk : r1;
        for (t = 0; t < n; t++) bn_gemv_tern_i8_avx2(w, q + t * ldq, s[t], sum[t], y + t * ldy, b0, b1);
    }
}

/* Float GEMV: per row two 8-lane accumulators over 16 columns, then the leftover columns
   one by one; the same order for every row. */
#define BN__FGEMV_AVX2(name, LOAD8, AT, PREFETCH) \
    static BN__AVX2 void name(const bn_fmat *m, const float *x, float *y, int64_t r0, int64_t r1) { \
        int64_t k = m->cols, r = r0, i; \
        for (; r + 2 <= r1; r += 2) { \
            const uint8_t *w0 = m->data + (size_t)r * m->row_bytes, *w1 = w0 + m->row_bytes; \
            __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0; \
            float s0, s1; \
            for (i = 0; i + 16 <= k; i += 16) { \
                __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8); \
                if (i % 32 == 0) { PREFETCH(w0, i); PREFETCH(w1, i); } \
                a0 = _mm256_fmadd_ps(LOAD8(w0, i), x0, a0); b0 = _mm256_fmadd_ps(LOAD8(w0, i + 8), x1, b0); \
                a1 = _mm256_fmadd_ps(LOAD8(w1, i), x0, a1); b1 = _mm256_fmadd_ps(LOAD8(w1, i + 8), x1, b1); \
            } \
            s0 = bn_hsum256(_mm256_add_ps(a0, b0)); s1 = bn_hsum256(_mm256_add_ps(a1, b1)); \
            for (; i < k; i++) { s0 += AT(w0, i) * x[i]; s1 += AT(w1, i) * x[i]; } \
            y[r] = s0; y[r + 1] = s1; \
        } \
        for (; r < r1; r++) { \
            const uint8_t *w0 = m->data + (size_t)r * m->row_bytes; \
            __m256 a0 = _mm256_setzero_ps(), b0 = a0; \
            float s0; \
            for (i = 0; i + 16 <= k; i += 16) { \
                a0 = _mm256_fmadd_ps(LOAD8(w0, i), _mm256_loadu_ps(x + i), a0); \
                b0 = _mm256_fmadd_ps(LOAD8(w0, i + 8), _mm256_loadu_ps(x + i + 8), b0); \
            } \
            s0 = bn_hsum256(_mm256_add_ps(a0, b0)); \
            for (; i < k; i++) s0 += AT(w0, i) * x[i]; \
            y[r] = s0; \
        } \
    }

#define BN__LD_F32_256(p, i) _mm256_loadu_ps((const float *)(p) + (i))
#define BN__LD_F16_256(p, i) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)(p) + (i))))
#define BN__LD_BF16_256(p, i) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32( \
    _mm_loadu_si128((const __m128i *)((const uint16_t *)(p) + (i)))), 16))
#define BN__AT_F32(p, i) bn_load_f32((const uint8_t *)(p) + (i) * 4)
#define BN__AT_F16(p, i) bn_fp16_to_fp32(bn_load_u16((const uint8_t *)(p) + (i) * 2))
#define BN__AT_BF16(p, i) bn_bf16_to_fp32(bn_load_u16((const uint8_t *)(p) + (i) * 2))
#define BN__PF32_256(p, i) do { const char *pf_ = (const char *)(p) + (i) * 4 + 2048; \
    _mm_prefetch(pf_, _MM_HINT_T0); _mm_prefetch(pf_ + 64, _MM_HINT_T0); } while (0)
#define BN__PF16_256(p, i) _mm_prefetch((const char *)(p) + (i) * 2 + 2048, _MM_HINT_T0)
BN__FGEMV_AVX2(bn_gemv_f32_f32_avx2, BN__LD_F32_256, BN__AT_F32, BN__PF32_256)
BN__FGEMV_AVX2(bn_gemv_f16_f32_avx2, BN__LD_F16_256, BN__AT_F16, BN__PF16_256)
BN__FGEMV_AVX2(bn_gemv_bf16_f32_avx2, BN__LD_BF16_256, BN__AT_BF16, BN__PF16_256)

static BN__AVX2 void bn_gemv_q8_0_f32_avx2(const bn_fmat *m, const float *x, float *y,
                                           int64_t r0, int64_t r1) {
    int64_t r, b, nb = m->cols / 32, j;
    for (r = r0; r < r1; r++) {
        const uint8_t *row = m->data + (size_t)r * m->row_bytes;
        __m256 acc = _mm256_setzero_ps();
        for (b = 0; b < nb; b++) {
            const uint8_t *blk = row + b * 34;
            __m256 p = _mm256_setzero_ps();
            for (j = 0; j < 32; j += 8)
                p = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                        _mm_loadl_epi64((const __m128i *)(blk + 2 + j)))), _mm256_loadu_ps(x + b * 32 + j), p);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(bn_fp16_to_fp32(bn_load_u16(blk))), p, acc);
        }
        y[r] = bn_hsum256(acc);
    }
}

/* Q6_K: the 6-bit values of one 128-half of a block, as 4 x 32 int8 (value - 32): elements
   [32j, 32j+32) of the half in out[j]. ql: 64 bytes, qh: 32 bytes. */
static BN__AVX2 void bn_q6k_decode_avx2(const uint8_t *ql, const uint8_t *qh, __m256i out[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03), k32 = _mm256_set1_epi8(32);
    __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
    __m256i h = _mm256_loadu_si256((const __m256i *)qh);
    out[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
    out[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));
    out[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4));
    out[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4));
    out[0] = _mm256_sub_epi8(out[0], k32); out[1] = _mm256_sub_epi8(out[1], k32);
    out[2] = _mm256_sub_epi8(out[2], k32); out[3] = _mm256_sub_epi8(out[3], k32);
}

static BN__AVX2 void bn_gemv_q6_k_f32_avx2(const bn_fmat *m, const float *x, float *y,
                                           int64_t r0, int64_t r1) {
    int64_t r, b, nb = m->cols / 256;
    int n, j, g;
    for (r = r0; r < r1; r++) {
        const uint8_t *row = m->data + (size_t)r * m->row_bytes;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;
        for (b = 0; b < nb; b++) {
            const uint8_t *blk = row + b * 210;
            const int8_t *sc = (const int8_t *)(blk + 192);
            float d = bn_fp16_to_fp32(bn_load_u16(blk + 208));
            _mm_prefetch((const char *)blk + 1024, _MM_HINT_T0);
            _mm_prefetch((const char *)blk + 1024 + 64, _MM_HINT_T0);
            _mm_prefetch((const char *)blk + 1024 + 128, _MM_HINT_T0);
            _mm_prefetch((const char *)blk + 1024 + 192, _MM_HINT_T0);
            for (n = 0; n < 2; n++) {
                __m256i qv[4];
                const float *xb = x + b * 256 + n * 128;
                bn_q6k_decode_avx2(blk + n * 64, blk + 128 + n * 32, qv);
                for (j = 0; j < 4; j++) {
                    int8_t tmp[32];
                    _mm256_storeu_si256((__m256i *)tmp, qv[j]);
                    for (g = 0; g < 32; g += 16) {
                        __m256 sv = _mm256_set1_ps(d * (float)sc[n * 8 + j * 2 + g / 16]);
                        __m256 w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(tmp + g))));
                        __m256 w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(tmp + g + 8))));
                        a0 = _mm256_fmadd_ps(_mm256_mul_ps(w0, sv), _mm256_loadu_ps(xb + j * 32 + g), a0);
                        a1 = _mm256_fmadd_ps(_mm256_mul_ps(w1, sv), _mm256_loadu_ps(xb + j * 32 + g + 8), a1);
                    }
                }
            }
        }
        y[r] = bn_hsum256(_mm256_add_ps(a0, a1));
    }
}

BN__GEMM_FROM_GEMV(bn_gemm_f32_f32_avx2, bn_gemv_f32_f32_avx2)
BN__GEMM_FROM_GEMV(bn_gemm_q6_k_f32_avx2, bn_gemv_q6_k_f32_avx2)
BN__GEMM_FROM_GEMV(bn_gemm_f16_f32_avx2, bn_gemv_f16_f32_avx2)
BN__GEMM_FROM_GEMV(bn_gemm_bf16_f32_avx2, bn_gemv_bf16_f32_avx2)
BN__GEMM_FROM_GEMV(bn_gemm_q8_0_f32_avx2, bn_gemv_q8_0_f32_avx2)

static BN__AVX2 float bn_dot_f32_avx2(const float *a, const float *b, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    float s;
    int64_t i;
    for (i = 0; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    s = bn_hsum256(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static BN__AVX2 void bn_axpy_f32_avx2(float *y, float a, const float *x, int64_t n) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i;
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

static BN__AVX2 float bn_dot_f16_avx2(const uint16_t *a, const float *b, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    float s;
    int64_t i;
    for (i = 0; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(BN__LD_F16_256(a, i), _mm256_loadu_ps(b + i), acc);
    s = bn_hsum256(acc);
    for (; i < n; i++) s += bn_fp16_to_fp32(a[i]) * b[i];
    return s;
}

static BN__AVX2 void bn_axpy_f16_avx2(float *y, float a, const uint16_t *x, int64_t n) {
    __m256 va = _mm256_set1_ps(a);
    int64_t i;
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, BN__LD_F16_256(x, i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * bn_fp16_to_fp32(x[i]);
}
#endif /* BN__X86 */

/* ===== kernels: avx512 ===== */

#if BN__X86
#include <immintrin.h>
#define BN__AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* Quantizer: writes q in the AVX-512 order (bn_act_pos), 16 elements at a time. */
static BN__AVX512 void bn_quant_i8_avx512(const float *x, int64_t k, int8_t *q, float *s_out,
                                          int32_t *sum_out) {
    __m512 mx = _mm512_setzero_ps(), vs;
    __m512i sum = _mm512_setzero_si512();
    int64_t i, kp = bn_tern_kpad(k);
    for (i = 0; i < k; i += 16) {
        __mmask16 m = k - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i)) - 1);
        mx = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + i)), mx);   /* NaN ignored */
    }
    *s_out = bn_act_scale(_mm512_reduce_max_ps(mx));
    vs = _mm512_set1_ps(*s_out);
    for (i = 0; i < kp; i += 16) {
        int64_t left = k - i;
        __mmask16 m = left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
        __m512i iv;
        v = _mm512_max_ps(_mm512_min_ps(v, _mm512_set1_ps(127.0f)), _mm512_set1_ps(-128.0f));
        iv = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        sum = _mm512_add_epi32(sum, iv);
        _mm_storeu_si128((__m128i *)(q + bn_act_pos(1, i, kp)), _mm512_cvtepi32_epi8(iv));
    }
    *sum_out = _mm512_reduce_add_epi32(sum);
}

/* One plane of 64 codes (already masked, value code * 4^j) against 64 activations. */
#ifndef BN__PF_DIST
#define BN__PF_DIST 4096          /* bytes of codes prefetched ahead of use */
#endif
#define BN__DP(acc, plane, qp) acc = _mm512_dpbusd_epi32(acc, plane, _mm512_loadu_si512(qp))

/* acc of one row over the final half chunk (128 codes, natural order), 256-bit. */
static BN__AVX512 int32_t bn_tern_tail_avx512(const uint8_t *c, const int8_t *q) {
    __m256i v = _mm256_loadu_si256((const __m256i *)c), m3 = _mm256_set1_epi8(3), a;
    a = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_and_si256(_mm256_srli_epi16(v, 6), m3),
                            _mm256_loadu_si256((const __m256i *)q));
    a = _mm256_dpbusd_epi32(a, _mm256_and_si256(_mm256_srli_epi16(v, 4), m3),
                            _mm256_loadu_si256((const __m256i *)(q + 32)));
    a = _mm256_dpbusd_epi32(a, _mm256_and_si256(_mm256_srli_epi16(v, 2), m3),
                            _mm256_loadu_si256((const __m256i *)(q + 64)));
    a = _mm256_dpbusd_epi32(a, _mm256_and_si256(v, m3), _mm256_loadu_si256((const __m256i *)(q + 96)));
    a = _mm256_add_epi32(a, _mm256_permute2x128_si256(a, a, 1));
    a = _mm256_add_epi32(a, _mm256_shuffle_epi32(a, 0x4e));
    a = _mm256_add_epi32(a, _mm256_shuffle_epi32(a, 0xb1));
    return _mm256_cvtsi256_si32(a);
}

/* Sum of the four plane accumulators, each lane scaled back by its plane's power of 4. */
static BN__AVX512 int32_t bn_tern_planes_sum(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
    __m512i t = _mm512_add_epi32(_mm512_srai_epi32(a0, 6), _mm512_srai_epi32(a1, 4));
    t = _mm512_add_epi32(t, _mm512_add_epi32(_mm512_srai_epi32(a2, 2), a3));
    return _mm512_reduce_add_epi32(t);
}

/* GEMV: the planes are masked in place (code << 2j), so one load and four ANDs feed four VNNI
   dot products per 256 codes; 4 rows at a time share the activation loads. */
static BN__AVX512 void bn_gemv_tern_i8_avx512(const bn_tern *w, const int8_t *q, float s,
                                              int32_t sum, float *y, int64_t r0, int64_t r1) {
    const __m512i k3 = _mm512_set1_epi8(0x03), kc = _mm512_set1_epi8(0x0c),
                  k30 = _mm512_set1_epi8(0x30), kc0 = _mm512_set1_epi8((char)0xc0);
    int64_t rs = w->kp / 4, nch = w->kp / 256, r = r0, ch;
    int half = (w->kp % 256) != 0;
    if (w->block_scale) {
        for (; r < r1; r++) y[r] = bn_tern_row_blocked(w, r, q, 1, s);
        return;
    }
    for (; r + 4 <= r1; r += 4) {
        const uint8_t *c0 = w->codes + r * rs, *c1 = c0 + rs, *c2 = c1 + rs, *c3 = c2 + rs;
        __m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a03 = a00;
        __m512i a10 = a00, a11 = a00, a12 = a00, a13 = a00, a20 = a00, a21 = a00, a22 = a00;
        __m512i a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int32_t acc[4];
        for (ch = 0; ch < nch; ch++) {
            const int8_t *qp = q + ch * 256;
            __m512i v0 = _mm512_loadu_si512(c0 + ch * 64), v1 = _mm512_loadu_si512(c1 + ch * 64);
            /* the 4 rows are 4*rs contiguous bytes read at 256 per step: prefetch linearly ahead */
            const char *pf = (const char *)c0 + ch * 256 + BN__PF_DIST;
            _mm_prefetch(pf, _MM_HINT_T0); _mm_prefetch(pf + 64, _MM_HINT_T0);
            _mm_prefetch(pf + 128, _MM_HINT_T0); _mm_prefetch(pf + 192, _MM_HINT_T0);
            __m512i v2 = _mm512_loadu_si512(c2 + ch * 64), v3 = _mm512_loadu_si512(c3 + ch * 64);
            BN__DP(a00, _mm512_and_si512(v0, kc0), qp); BN__DP(a10, _mm512_and_si512(v1, kc0), qp);
            BN__DP(a20, _mm512_and_si512(v2, kc0), qp); BN__DP(a30, _mm512_and_si512(v3, kc0), qp);
            BN__DP(a01, _mm512_and_si512(v0, k30), qp + 64); BN__DP(a11, _mm512_and_si512(v1, k30), qp + 64);
            BN__DP(a21, _mm512_and_si512(v2, k30), qp + 64); BN__DP(a31, _mm512_and_si512(v3, k30), qp + 64);
            BN__DP(a02, _mm512_and_si512(v0, kc), qp + 128); BN__DP(a12, _mm512_and_si512(v1, kc), qp + 128);
            BN__DP(a22, _mm512_and_si512(v2, kc), qp + 128); BN__DP(a32, _mm512_and_si512(v3, kc), qp + 128);
            BN__DP(a03, _mm512_and_si512(v0, k3), qp + 192); BN__DP(a13, _mm512_and_si512(v1, k3), qp + 192);
            BN__DP(a23, _mm512_and_si512(v2, k3), qp + 192); BN__DP(a33, _mm512_and_si512(v3, k3), qp + 192);
        }
        acc[0] = bn_tern_planes_sum(a00, a01, a02, a03);
        acc[1] = bn_tern_planes_sum(a10, a11, a12, a13);
        acc[2] = bn_tern_planes_sum(a20, a21, a22, a23);
        acc[3] = bn_tern_planes_sum(a30, a31, a32, a33);
        if (half) {
            acc[0] += bn_tern_tail_avx512(c0 + nch * 64, q + nch * 256);
            acc[1] += bn_tern_tail_avx512(c1 + nch * 64, q + nch * 256);
            acc[2] += bn_tern_tail_avx512(c2 + nch * 64, q + nch * 256);
            acc[3] += bn_tern_tail_avx512(c3 + nch * 64, q + nch * 256);
        }
        y[r] = bn_tern_out(acc[0], sum, s, w->alpha);
        y[r + 1] = bn_tern_out(acc[1], sum, s, w->alpha);
        y[r + 2] = bn_tern_out(acc[2], sum, s, w->alpha);
        y[r + 3] = bn_tern_out(acc[3], sum, s, w->alpha);
    }
    for (; r < r1; r++) {
        const uint8_t *c0 = w->codes + r * rs;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        int32_t acc;
        for (ch = 0; ch < nch; ch++) {
            const int8_t *qp = q + ch * 256;
            __m512i v0 = _mm512_loadu_si512(c0 + ch * 64);
            _mm_prefetch((const char *)c0 + ch * 64 + BN__PF_DIST, _MM_HINT_T0);
            BN__DP(a0, _mm512_and_si512(v0, kc0), qp);
            BN__DP(a1, _mm512_and_si512(v0, k30), qp + 64);
            BN__DP(a2, _mm512_and_si512(v0, kc), qp + 128);
            BN__DP(a3, _mm512_and_si512(v0, k3), qp + 192);
        }
        acc = bn_tern_planes_sum(a0, a1, a2, a3);
        if (half) acc += bn_tern_tail_avx512(c0 + nch * 64, q + nch * 256);
        y[r] = bn_tern_out(acc, sum, s, w->alpha);
    }
}

/* GEMM tile: BN__GR rows x BN__GT tokens of int32 accumulators in registers. Per 256 codes
   and plane j, the plane of each row is decoded once (shift + mask, the load folded into the
   shift) and used by every token; each activation load feeds BN__GR dot products. Rows and
   tokens past the ends repeat the last valid one (computed, not stored). */
#define BN__GR 4
#define BN__GT 6
#if defined(__clang__)
#  define BN__UNROLL _Pragma("unroll")
#else
#  define BN__UNROLL _Pragma("GCC unroll 8")
#endif
static BN__AVX512 void bn_gemm_tern_tile_avx512(const bn_tern *w, const int8_t *q, int64_t ldq,
                                                int nt, const int64_t *rows,
                                                int32_t acc_out[BN__GR][BN__GT]) {
    const __m512i m3 = _mm512_set1_epi8(3);
    __m512i acc[BN__GR][BN__GT];
    const uint8_t *c[BN__GR];
    const int8_t *qt[BN__GT];
    int64_t rs = w->kp / 4, nch = w->kp / 256, ch;
    int t, r, j;
    BN__UNROLL for (r = 0; r < BN__GR; r++) {
        c[r] = w->codes + rows[r] * rs;
        BN__UNROLL for (t = 0; t < BN__GT; t++) acc[r][t] = _mm512_setzero_si512();
    }
    BN__UNROLL for (t = 0; t < BN__GT; t++) qt[t] = q + (t < nt ? t : 0) * ldq;
    for (ch = 0; ch < nch; ch++) {
        BN__UNROLL for (j = 0; j < 4; j++) {
            __m512i p[BN__GR];
            BN__UNROLL for (r = 0; r < BN__GR; r++)
                p[r] = _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512(c[r] + ch * 64), 6 - 2 * j), m3);
            BN__UNROLL for (t = 0; t < BN__GT; t++) {
                __m512i xv = _mm512_loadu_si512(qt[t] + ch * 256 + j * 64);
                BN__UNROLL for (r = 0; r < BN__GR; r++) acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], p[r], xv);
            }
        }
    }
    BN__UNROLL for (r = 0; r < BN__GR; r++)
        BN__UNROLL for (t = 0; t < BN__GT; t++) {
            acc_out[r][t] = _mm512_reduce_add_epi32(acc[r][t]);
            if (w->kp % 256 && t < nt)
                acc_out[r][t] += bn_tern_tail_avx512(c[r] + nch * 64, qt[t] + nch * 256);
        }
}

static BN__AVX512 void bn_gemm_tern_i8_avx512(const bn_tern *w, const int8_t *q, int64_t ldq,
                                              const float *s, const int32_t *sum, int64_t n,
                                              float *y, int64_t ldy, int64_t r0, int64_t r1) {
    /* rows in blocks whose codes stay in L2 while all token tiles pass over them */
    int64_t rblk = (int64_t)(262144 / (w->kp / 4)) / BN__GR * BN__GR + BN__GR, b0, t0, r;
    int32_t acc[BN__GR][BN__GT];
    if (w->block_scale) {
        for (t0 = 0; t0 < n; t0++)
            for (r = r0; r < r1; r++) y[t0 * ldy + r] = bn_tern_row_blocked(w, r, q + t0 * ldq, 1, s[t0]);
        return;
    }
    for (b0 = r0; b0 < r1; b0 += rblk) {
        int64_t b1 = b0 + rblk < r1 ? b0 + rblk : r1;
        for (t0 = 0; t0 < n; t0 += BN__GT) {
            int nt = n - t0 < BN__GT ? (int)(n - t0) : BN__GT, t, i;
            for (r = b0; r < b1; r += BN__GR) {
                int64_t rows[BN__GR];
                for (i = 0; i < BN__GR; i++) rows[i] = r + i < b1 ? r + i : r;
                bn_gemm_tern_tile_avx512(w, q + t0 * ldq, ldq, nt, rows, acc);
                for (i = 0; i < BN__GR && r + i < b1; i++)
                    for (t = 0; t < nt; t++)
                        y[(t0 + t) * ldy + r + i] = bn_tern_out(acc[i][t], sum[t0 + t], s[t0 + t], w->alpha);
            }
        }
    }
}

/* Float GEMV: per row two 16-lane accumulators over 32 columns, the last partial step masked;
   4 rows share each x load. Every row sees the same operation order in both loops. */
#define BN__FGEMV_AVX512(name, LOAD16, PREFETCH) \
    static BN__AVX512 void name(const bn_fmat *m, const float *x, float *y, int64_t r0, int64_t r1) { \
        int64_t k = m->cols, r = r0, i; \
        for (; r + 4 <= r1; r += 4) { \
            const uint8_t *w0 = m->data + (size_t)r * m->row_bytes, *w1 = w0 + m->row_bytes; \
            const uint8_t *w2 = w1 + m->row_bytes, *w3 = w2 + m->row_bytes; \
            __m512 a0 = _mm512_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0; \
            for (i = 0; i + 32 <= k; i += 32) { \
                __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16); \
                PREFETCH(w0, i); PREFETCH(w1, i); PREFETCH(w2, i); PREFETCH(w3, i); \
                a0 = _mm512_fmadd_ps(LOAD16(w0, i, 0xffff), x0, a0); b0 = _mm512_fmadd_ps(LOAD16(w0, i + 16, 0xffff), x1, b0); \
                a1 = _mm512_fmadd_ps(LOAD16(w1, i, 0xffff), x0, a1); b1 = _mm512_fmadd_ps(LOAD16(w1, i + 16, 0xffff), x1, b1); \
                a2 = _mm512_fmadd_ps(LOAD16(w2, i, 0xffff), x0, a2); b2 = _mm512_fmadd_ps(LOAD16(w2, i + 16, 0xffff), x1, b2); \
                a3 = _mm512_fmadd_ps(LOAD16(w3, i, 0xffff), x0, a3); b3 = _mm512_fmadd_ps(LOAD16(w3, i + 16, 0xffff), x1, b3); \
            } \
            for (; i < k; i += 16) { \
                __mmask16 mk = k - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i)) - 1); \
                __m512 x0 = _mm512_maskz_loadu_ps(mk, x + i); \
                a0 = _mm512_fmadd_ps(LOAD16(w0, i, mk), x0, a0); a1 = _mm512_fmadd_ps(LOAD16(w1, i, mk), x0, a1); \
                a2 = _mm512_fmadd_ps(LOAD16(w2, i, mk), x0, a2); a3 = _mm512_fmadd_ps(LOAD16(w3, i, mk), x0, a3); \
            } \
            y[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0)); \
            y[r + 1] = _mm512_reduce_add_ps(_mm512_add_ps(a1, b1)); \
            y[r + 2] = _mm512_reduce_add_ps(_mm512_add_ps(a2, b2)); \
            y[r + 3] = _mm512_reduce_add_ps(_mm512_add_ps(a3, b3)); \
        } \
        for (; r < r1; r++) { \
            const uint8_t *w0 = m->data + (size_t)r * m->row_bytes; \
            __m512 a0 = _mm512_setzero_ps(), b0 = a0; \
            for (i = 0; i + 32 <= k; i += 32) { \
                PREFETCH(w0, i); \
                a0 = _mm512_fmadd_ps(LOAD16(w0, i, 0xffff), _mm512_loadu_ps(x + i), a0); \
                b0 = _mm512_fmadd_ps(LOAD16(w0, i + 16, 0xffff), _mm512_loadu_ps(x + i + 16), b0); \
            } \
            for (; i < k; i += 16) { \
                __mmask16 mk = k - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i)) - 1); \
                a0 = _mm512_fmadd_ps(LOAD16(w0, i, mk), _mm512_maskz_loadu_ps(mk, x + i), a0); \
            } \
            y[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0)); \
        } \
    }

#define BN__LD_F32_512(p, i, mk) _mm512_maskz_loadu_ps((__mmask16)(mk), (const float *)(p) + (i))
#define BN__LD_F16_512(p, i, mk) \
    _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)(mk), (const uint16_t *)(p) + (i)))
#define BN__LD_BF16_512(p, i, mk) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32( \
    _mm256_maskz_loadu_epi16((__mmask16)(mk), (const uint16_t *)(p) + (i))), 16))
/* Prefetch of row p ahead of column i: 32 columns are 128 bytes (F32) or 64 bytes (16-bit). */
#define BN__PF32_512(p, i) do { const char *pf_ = (const char *)(p) + (i) * 4 + 2048; \
    _mm_prefetch(pf_, _MM_HINT_T0); _mm_prefetch(pf_ + 64, _MM_HINT_T0); } while (0)
#define BN__PF16_512(p, i) _mm_prefetch((const char *)(p) + (i) * 2 + 2048, _MM_HINT_T0)
BN__FGEMV_AVX512(bn_gemv_f32_f32_avx512, BN__LD_F32_512, BN__PF32_512)
BN__FGEMV_AVX512(bn_gemv_f16_f32_avx512, BN__LD_F16_512, BN__PF16_512)
BN__FGEMV_AVX512(bn_gemv_bf16_f32_avx512, BN__LD_BF16_512, BN__PF16_512)

/* Q8_0: per 32-block, d * (q . x) with the block's two halves in one 16-lane product. */
static BN__AVX512 __m512 bn_q8_block_avx512(const uint8_t *blk, const float *x, __m512 acc) {
    __m512 d = _mm512_set1_ps(bn_fp16_to_fp32(bn_load_u16(blk)));
    __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(blk + 2))));
    __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(blk + 18))));
    __m512 p = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + 16), _mm512_mul_ps(lo, _mm512_loadu_ps(x)));
    return _mm512_fmadd_ps(d, p, acc);
}

static BN__AVX512 void bn_gemv_q8_0_f32_avx512(const bn_fmat *m, const float *x, float *y,
                                               int64_t r0, int64_t r1) {
    int64_t r, b, nb = m->cols / 32;
    for (r = r0; r < r1; r++) {
        const uint8_t *row = m->data + (size_t)r * m->row_bytes;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        for (b = 0; b + 2 <= nb; b += 2) {
            a0 = bn_q8_block_avx512(row + b * 34, x + b * 32, a0);
            a1 = bn_q8_block_avx512(row + (b + 1) * 34, x + (b + 1) * 32, a1);
        }
        if (b < nb) a0 = bn_q8_block_avx512(row + b * 34, x + b * 32, a0);
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
}

/* Q6_K: decoded with the AVX2 helper (256-bit), 16 values per scale as one 16-lane FMA. */
static BN__AVX512 void bn_gemv_q6_k_f32_avx512(const bn_fmat *m, const float *x, float *y,
                                               int64_t r0, int64_t r1) {
    int64_t r, b, nb = m->cols / 256;
    int n, j;
    for (r = r0; r < r1; r++) {
        const uint8_t *row = m->data + (size_t)r * m->row_bytes;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        for (b = 0; b < nb; b++) {
            const uint8_t *blk = row + b * 210;
            const int8_t *sc = (const int8_t *)(blk + 192);
            float d = bn_fp16_to_fp32(bn_load_u16(blk + 208));
            _mm_prefetch((const char *)blk + 1024, _MM_HINT_T0);
            _mm_prefetch((const char *)blk + 1024 + 64, _MM_HINT_T0);
            _mm_prefetch((const char *)blk + 1024 + 128, _MM_HINT_T0);
            _mm_prefetch((const char *)blk + 1024 + 192, _MM_HINT_T0);
            for (n = 0; n < 2; n++) {
                __m256i qv[4];
                const float *xb = x + b * 256 + n * 128;
                bn_q6k_decode_avx2(blk + n * 64, blk + 128 + n * 32, qv);
                for (j = 0; j < 4; j++) {
                    __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(qv[j])));
                    __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(qv[j], 1)));
                    a0 = _mm512_fmadd_ps(_mm512_mul_ps(w0, _mm512_set1_ps(d * (float)sc[n * 8 + j * 2])),
                                         _mm512_loadu_ps(xb + j * 32), a0);
                    a1 = _mm512_fmadd_ps(_mm512_mul_ps(w1, _mm512_set1_ps(d * (float)sc[n * 8 + j * 2 + 1])),
                                         _mm512_loadu_ps(xb + j * 32 + 16), a1);
                }
            }
        }
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    }
}

BN__GEMM_FROM_GEMV(bn_gemm_f32_f32_avx512, bn_gemv_f32_f32_avx512)
BN__GEMM_FROM_GEMV(bn_gemm_q6_k_f32_avx512, bn_gemv_q6_k_f32_avx512)
BN__GEMM_FROM_GEMV(bn_gemm_f16_f32_avx512, bn_gemv_f16_f32_avx512)
BN__GEMM_FROM_GEMV(bn_gemm_bf16_f32_avx512, bn_gemv_bf16_f32_avx512)
BN__GEMM_FROM_GEMV(bn_gemm_q8_0_f32_avx512, bn_gemv_q8_0_f32_avx512)

static BN__AVX512 float bn_dot_f32_avx512(const float *a, const float *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + i), _mm512_maskz_loadu_ps(mk, b + i), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

static BN__AVX512 void bn_axpy_f32_avx512(float *y, float a, const float *x, int64_t n) {
    __m512 va = _mm512_set1_ps(a);
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, mk, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(mk, x + i),
                                                         _mm512_maskz_loadu_ps(mk, y + i)));
    }
}

static BN__AVX512 float bn_dot_f16_avx512(const uint16_t *a, const float *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        acc = _mm512_fmadd_ps(BN__LD_F16_512(a, i, mk), _mm512_maskz_loadu_ps(mk, b + i), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

static BN__AVX512 void bn_axpy_f16_avx512(float *y, float a, const uint16_t *x, int64_t n) {
    __m512 va = _mm512_set1_ps(a);
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, mk, _mm512_fmadd_ps(va, BN__LD_F16_512(x, i, mk),
                                                         _mm512_maskz_loadu_ps(mk, y + i)));
    }
}
#endif /* BN__X86 */

/* ===== kernels: neon ===== */

#if BN__ARM64
#include <arm_neon.h>

static void bn_quant_i8_neon(const float *x, int64_t k, int8_t *q, float *s_out, int32_t *sum_out) {
    float32x4_t mx = vdupq_n_f32(0.0f), vs, hi = vdupq_n_f32(127.0f), lo = vdupq_n_f32(-128.0f);
    int32x4_t sum = vdupq_n_s32(0);
    float amax;
    int64_t i, kp = bn_tern_kpad(k);
    int32_t tail = 0;
    for (i = 0; i + 4 <= k; i += 4) mx = vmaxnmq_f32(mx, vabsq_f32(vld1q_f32(x + i)));
    amax = vmaxnmvq_f32(mx);
    for (; i < k; i++) if (fabsf(x[i]) > amax) amax = fabsf(x[i]);
    *s_out = bn_act_scale(amax);
    vs = vdupq_n_f32(*s_out);
    for (i = 0; i + 8 <= k; i += 8) {
        float32x4_t v0 = vmaxnmq_f32(vminnmq_f32(vmulq_f32(vld1q_f32(x + i), vs), hi), lo);
        float32x4_t v1 = vmaxnmq_f32(vminnmq_f32(vmulq_f32(vld1q_f32(x + i + 4), vs), hi), lo);
        int32x4_t i0 = vcvtnq_s32_f32(v0), i1 = vcvtnq_s32_f32(v1);
        sum = vaddq_s32(sum, vaddq_s32(i0, i1));
        vst1_s8(q + i, vqmovn_s16(vcombine_s16(vqmovn_s32(i0), vqmovn_s32(i1))));
    }
    for (; i < k; i++) { int v = bn_quant_one(x[i] * *s_out); q[i] = (int8_t)v; tail += v; }
    for (; i < kp; i++) q[i] = 0;
    *sum_out = vaddvq_s32(sum) + tail;
}

/* Planes of 16 code bytes: (v >> 6), (v >> 4) & 3, (v >> 2) & 3, v & 3 against activations
   at +0, +32, +64, +96 of the 128-block. */
#define BN__NEON_PLANES(v, m3) \
    int8x16_t p0 = vreinterpretq_s8_u8(vshrq_n_u8(v, 6)); \
    int8x16_t p1 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), m3)); \
    int8x16_t p2 = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), m3)); \
    int8x16_t p3 = vreinterpretq_s8_u8(vandq_u8(v, m3))

static int32x4_t bn_mla_s8(int32x4_t acc, int8x16_t a, int8x16_t b) {
    int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    p = vmlal_s8(p, vget_high_s8(a), vget_high_s8(b));
    return vpadalq_s16(acc, p);
}

static int32_t bn_tern_dot_neon(const uint8_t *c, const int8_t *q, int64_t kp) {
    const uint8x16_t m3 = vdupq_n_u8(3);
    int32x4_t acc = vdupq_n_s32(0);
    int64_t b, h;
    for (b = 0; b < kp / 128; b++)
        for (h = 0; h < 32; h += 16) {
            uint8x16_t v = vld1q_u8(c + b * 32 + h);
            const int8_t *x = q + b * 128 + h;
            BN__NEON_PLANES(v, m3);
            acc = bn_mla_s8(acc, p0, vld1q_s8(x));
            acc = bn_mla_s8(acc, p1, vld1q_s8(x + 32));
            acc = bn_mla_s8(acc, p2, vld1q_s8(x + 64));
            acc = bn_mla_s8(acc, p3, vld1q_s8(x + 96));
        }
    return vaddvq_s32(acc);
}

#define BN__DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
static BN__DOTPROD int32_t bn_tern_dot_neon_dotprod(const uint8_t *c, const int8_t *q, int64_t kp) {
    const uint8x16_t m3 = vdupq_n_u8(3);
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
    int64_t b, h;
    for (b = 0; b < kp / 128; b++)
        for (h = 0; h < 32; h += 16) {
            uint8x16_t v = vld1q_u8(c + b * 32 + h);
            const int8_t *x = q + b * 128 + h;
            BN__NEON_PLANES(v, m3);
            a0 = vdotq_s32(a0, p0, vld1q_s8(x));
            a1 = vdotq_s32(a1, p1, vld1q_s8(x + 32));
            a0 = vdotq_s32(a0, p2, vld1q_s8(x + 64));
            a1 = vdotq_s32(a1, p3, vld1q_s8(x + 96));
        }
    return vaddvq_s32(vaddq_s32(a0, a1));
}

static void bn_gemv_tern_i8_neon(const bn_tern *w, const int8_t *q, float s, int32_t sum, float *y,
                                 int64_t r0, int64_t r1) {
    int dp = (bitnet_cpu_features() & BITNET_CPU_DOTPROD) != 0;
    int64_t r;
    for (r = r0; r < r1; r++) {
        const uint8_t *c = w->codes + r * (w->kp / 4);
        if (w->block_scale) y[r] = bn_tern_row_blocked(w, r, q, 0, s);
        else y[r] = bn_tern_out(dp ? bn_tern_dot_neon_dotprod(c, q, w->kp) : bn_tern_dot_neon(c, q, w->kp),
                                sum, s, w->alpha);
    }
}

static void bn_gemm_tern_i8_neon(const bn_tern *w, const int8_t *q, int64_t ldq, const float *s,
                                 const int32_t *sum, int64_t n, float *y, int64_t ldy,
                                 int64_t r0, int64_t r1) {
    int64_t rblk = 65536 / (w->kp / 4) + 1, b0, t;
    for (b0 = r0; b0 < r1; b0 += rblk) {
        int64_t b1 = b0 + rblk < r1 ? b0 + rblk : r1;
        for (t = 0; t < n; t++) bn_gemv_tern_i8_neon(w, q + t * ldq, s[t], sum[t], y + t * ldy, b0, b1);
    }
}

/* Float GEMV: per row two 4-lane accumulators over 8 columns, leftovers one by one. */
#define BN__FGEMV_NEON(name, LOAD4, AT) \
    static void name(const bn_fmat *m, const float *x, float *y, int64_t r0, int64_t r1) { \
        int64_t k = m->cols, r, i; \
        for (r = r0; r < r1; r++) { \
            const uint8_t *w0 = m->data + (size_t)r * m->row_bytes; \
            float32x4_t a0 = vdupq_n_f32(0.0f), b0 = a0; \
            float s0; \
            for (i = 0; i + 8 <= k; i += 8) { \
                a0 = vfmaq_f32(a0, LOAD4(w0, i), vld1q_f32(x + i)); \
                b0 = vfmaq_f32(b0, LOAD4(w0, i + 4), vld1q_f32(x + i + 4)); \
            } \
            s0 = vaddvq_f32(vaddq_f32(a0, b0)); \
            for (; i < k; i++) s0 += AT(w0, i) * x[i]; \
            y[r] = s0; \
        } \
    }
#define BN__LD_F32_128(p, i) vld1q_f32((const float *)(const void *)(p) + (i))
#define BN__LD_F16_128(p, i) vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(const void *)(p) + (i))))
#define BN__LD_BF16_128(p, i) \
    vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)(const void *)(p) + (i)), 16))
#define BN__AT_F32N(p, i) bn_load_f32((const uint8_t *)(p) + (i) * 4)
#define BN__AT_F16N(p, i) bn_fp16_to_fp32(bn_load_u16((const uint8_t *)(p) + (i) * 2))
#define BN__AT_BF16N(p, i) bn_bf16_to_fp32(bn_load_u16((const uint8_t *)(p) + (i) * 2))
BN__FGEMV_NEON(bn_gemv_f32_f32_neon, BN__LD_F32_128, BN__AT_F32N)
BN__FGEMV_NEON(bn_gemv_f16_f32_neon, BN__LD_F16_128, BN__AT_F16N)
BN__FGEMV_NEON(bn_gemv_bf16_f32_neon, BN__LD_BF16_128, BN__AT_BF16N)
BN__GEMM_FROM_GEMV(bn_gemm_f32_f32_neon, bn_gemv_f32_f32_neon)
BN__GEMM_FROM_GEMV(bn_gemm_f16_f32_neon, bn_gemv_f16_f32_neon)
BN__GEMM_FROM_GEMV(bn_gemm_bf16_f32_neon, bn_gemv_bf16_f32_neon)

static float bn_dot_f32_neon(const float *a, const float *b, int64_t n) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    float s;
    int64_t i;
    for (i = 0; i + 4 <= n; i += 4) acc = vfmaq_f32(acc, vld1q_f32(a + i), vld1q_f32(b + i));
    s = vaddvq_f32(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static void bn_axpy_f32_neon(float *y, float a, const float *x, int64_t n) {
    int64_t i;
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    for (; i < n; i++) y[i] += a * x[i];
}
#endif /* BN__ARM64 */

/* ===== dispatch ===== */

/* Field names of bn_kernels.names, in order. */
static const char *const bn_kernel_fields[] = {
    "quant_i8", "gemv_tern", "gemm_tern",
    "gemv_f32", "gemv_f16", "gemv_bf16", "gemv_q8_0", "gemv_q6_k",
    "gemm_f32", "gemm_f16", "gemm_bf16", "gemm_q8_0", "gemm_q6_k",
    "rmsnorm", "rope", "softmax", "relu2_mul", "silu_mul",
    "dot_f32", "axpy_f32", "dot_f16", "axpy_f16",
};
#define BN__N_FIELDS (sizeof bn_kernel_fields / sizeof bn_kernel_fields[0])

const char *bitnet_isa_name(bitnet_isa isa) {
    switch (isa) {
        case BITNET_ISA_AUTO: return "auto";
        case BITNET_ISA_REF: return "ref";
        case BITNET_ISA_AVX2: return "avx2";
        case BITNET_ISA_AVX512: return "avx512";
        case BITNET_ISA_NEON: return "neon";
        default: return "unknown";
    }
}

int bitnet_isa_supported(bitnet_isa isa) {
    uint32_t f = bitnet_cpu_features();
    const uint32_t avx2 = BITNET_CPU_AVX2 | BITNET_CPU_FMA | BITNET_CPU_F16C;
    const uint32_t avx512 = avx2 | BITNET_CPU_AVX512F | BITNET_CPU_AVX512BW | BITNET_CPU_AVX512VL |
                            BITNET_CPU_AVX512VNNI;
    switch (isa) {
        case BITNET_ISA_AUTO: case BITNET_ISA_REF: return 1;
#if BN__X86
        case BITNET_ISA_AVX2: return (f & avx2) == avx2;
        case BITNET_ISA_AVX512: return (f & avx512) == avx512;
#endif
#if BN__ARM64
        case BITNET_ISA_NEON: return (f & BITNET_CPU_NEON) != 0;
#endif
        default: (void)f; (void)avx512; return 0;
    }
}

bitnet_isa bitnet_isa_best(void) {
    if (bitnet_isa_supported(BITNET_ISA_AVX512)) return BITNET_ISA_AVX512;
    if (bitnet_isa_supported(BITNET_ISA_AVX2)) return BITNET_ISA_AVX2;
    if (bitnet_isa_supported(BITNET_ISA_NEON)) return BITNET_ISA_NEON;
    return BITNET_ISA_REF;
}

static void bn_kernels_set_ref(bn_kernels *kt) {
    size_t i;
    memset(kt, 0, sizeof *kt);
    kt->isa = BITNET_ISA_REF;
    kt->quant_i8 = bn_quant_i8_ref;
    kt->gemv_tern = bn_gemv_tern_i8_ref;
    kt->gemm_tern = bn_gemm_tern_i8_ref;
    for (i = 0; i < BN__FT_COUNT; i++) { kt->gemv_f[i] = bn_gemv_f_ref; kt->gemm_f[i] = bn_gemm_f_ref; }
    kt->rmsnorm = bn_rmsnorm_ref;
    kt->rope = bn_rope_ref;
    kt->softmax = bn_softmax_ref;
    kt->relu2_mul = bn_relu2_mul_ref;
    kt->silu_mul = bn_silu_mul_ref;
    kt->dot_f32 = bn_dot_f32_ref;
    kt->axpy_f32 = bn_axpy_f32_ref;
    kt->dot_f16 = bn_dot_f16_ref;
    kt->axpy_f16 = bn_axpy_f16_ref;
    for (i = 0; i < BN__N_FIELDS; i++) kt->names[i] = "ref";
}

/* Sets field `f` (an index into bn_kernel_fields) to name `n`. */
#define BN__KSET(kt, idx, field, fn, n) do { (kt)->field = fn; (kt)->names[idx] = n; } while (0)

/* Fills `kt` for `isa` (AUTO = best here); BITNET_ERR_UNSUPPORTED if this CPU cannot run it. */
static BN__UNUSED bitnet_status bn_kernels_init(bn_kernels *kt, bitnet_isa isa) {
    if (!kt) return bn_fail(BITNET_ERR_ARGS, "bn_kernels_init: kt is NULL");
    if (isa == BITNET_ISA_AUTO) isa = bitnet_isa_best();
    if (isa < BITNET_ISA_REF || isa > BITNET_ISA_NEON)
        return bn_fail(BITNET_ERR_ARGS, "kernels: unknown ISA %d", (int)isa);
    if (!bitnet_isa_supported(isa))
        return bn_fail(BITNET_ERR_UNSUPPORTED, "kernels: this CPU or build cannot run the %s kernels",
                       bitnet_isa_name(isa));
    bn_kernels_set_ref(kt);
    kt->isa = isa;
#if BN__X86
    if (isa == BITNET_ISA_AVX2) {
        BN__KSET(kt, 0, quant_i8, bn_quant_i8_avx2, "avx2");
        BN__KSET(kt, 1, gemv_tern, bn_gemv_tern_i8_avx2, "avx2");
        BN__KSET(kt, 2, gemm_tern, bn_gemm_tern_i8_avx2, "avx2");
        BN__KSET(kt, 3, gemv_f[BN__FT_F32], bn_gemv_f32_f32_avx2, "avx2");
        BN__KSET(kt, 4, gemv_f[BN__FT_F16], bn_gemv_f16_f32_avx2, "avx2-f16c");
        BN__KSET(kt, 5, gemv_f[BN__FT_BF16], bn_gemv_bf16_f32_avx2, "avx2");
        BN__KSET(kt, 6, gemv_f[BN__FT_Q8_0], bn_gemv_q8_0_f32_avx2, "avx2");
        BN__KSET(kt, 8, gemm_f[BN__FT_F32], bn_gemm_f32_f32_avx2, "avx2");
        BN__KSET(kt, 9, gemm_f[BN__FT_F16], bn_gemm_f16_f32_avx2, "avx2-f16c");
        BN__KSET(kt, 10, gemm_f[BN__FT_BF16], bn_gemm_bf16_f32_avx2, "avx2");
        BN__KSET(kt, 11, gemm_f[BN__FT_Q8_0], bn_gemm_q8_0_f32_avx2, "avx2");
        BN__KSET(kt, 7, gemv_f[BN__FT_Q6_K], bn_gemv_q6_k_f32_avx2, "avx2");
        BN__KSET(kt, 12, gemm_f[BN__FT_Q6_K], bn_gemm_q6_k_f32_avx2, "avx2");
        BN__KSET(kt, 18, dot_f32, bn_dot_f32_avx2, "avx2");
        BN__KSET(kt, 19, axpy_f32, bn_axpy_f32_avx2, "avx2");
        BN__KSET(kt, 20, dot_f16, bn_dot_f16_avx2, "avx2-f16c");
        BN__KSET(kt, 21, axpy_f16, bn_axpy_f16_avx2, "avx2-f16c");
    }
    if (isa == BITNET_ISA_AVX512) {
        kt->act_order = 1;
        BN__KSET(kt, 0, quant_i8, bn_quant_i8_avx512, "avx512");
        BN__KSET(kt, 1, gemv_tern, bn_gemv_tern_i8_avx512, "avx512-vnni");
        BN__KSET(kt, 2, gemm_tern, bn_gemm_tern_i8_avx512, "avx512-vnni");
        BN__KSET(kt, 3, gemv_f[BN__FT_F32], bn_gemv_f32_f32_avx512, "avx512");
        BN__KSET(kt, 4, gemv_f[BN__FT_F16], bn_gemv_f16_f32_avx512, "avx512");
        BN__KSET(kt, 5, gemv_f[BN__FT_BF16], bn_gemv_bf16_f32_avx512, "avx512");
        BN__KSET(kt, 6, gemv_f[BN__FT_Q8_0], bn_gemv_q8_0_f32_avx512, "avx512");
        BN__KSET(kt, 8, gemm_f[BN__FT_F32], bn_gemm_f32_f32_avx512, "avx512");
        BN__KSET(kt, 9, gemm_f[BN__FT_F16], bn_gemm_f16_f32_avx512, "avx512");
        BN__KSET(kt, 10, gemm_f[BN__FT_BF16], bn_gemm_bf16_f32_avx512, "avx512");
        BN__KSET(kt, 11, gemm_f[BN__FT_Q8_0], bn_gemm_q8_0_f32_avx512, "avx512");
        BN__KSET(kt, 7, gemv_f[BN__FT_Q6_K], bn_gemv_q6_k_f32_avx512, "avx512");
        BN__KSET(kt, 12, gemm_f[BN__FT_Q6_K], bn_gemm_q6_k_f32_avx512, "avx512");
        BN__KSET(kt, 18, dot_f32, bn_dot_f32_avx512, "avx512");
        BN__KSET(kt, 19, axpy_f32, bn_axpy_f32_avx512, "avx512");
        BN__KSET(kt, 20, dot_f16, bn_dot_f16_avx512, "avx512");
        BN__KSET(kt, 21, axpy_f16, bn_axpy_f16_avx512, "avx512");
    }
#endif
#if BN__ARM64
    if (isa == BITNET_ISA_NEON) {
        int dp = (bitnet_cpu_features() & BITNET_CPU_DOTPROD) != 0;
        BN__KSET(kt, 0, quant_i8, bn_quant_i8_neon, "neon");
        BN__KSET(kt, 1, gemv_tern, bn_gemv_tern_i8_neon, dp ? "neon-dotprod" : "neon");
        BN__KSET(kt, 2, gemm_tern, bn_gemm_tern_i8_neon, dp ? "neon-dotprod" : "neon");
        BN__KSET(kt, 3, gemv_f[BN__FT_F32], bn_gemv_f32_f32_neon, "neon");
        BN__KSET(kt, 4, gemv_f[BN__FT_F16], bn_gemv_f16_f32_neon, "neon");
        BN__KSET(kt, 5, gemv_f[BN__FT_BF16], bn_gemv_bf16_f32_neon, "neon");
        BN__KSET(kt, 8, gemm_f[BN__FT_F32], bn_gemm_f32_f32_neon, "neon");
        BN__KSET(kt, 9, gemm_f[BN__FT_F16], bn_gemm_f16_f32_neon, "neon");
        BN__KSET(kt, 10, gemm_f[BN__FT_BF16], bn_gemm_bf16_f32_neon, "neon");
        BN__KSET(kt, 18, dot_f32, bn_dot_f32_neon, "neon");
        BN__KSET(kt, 19, axpy_f32, bn_axpy_f32_neon, "neon");
    }
#endif
    return BITNET_OK;
}

const char *bitnet_kernels_describe(bitnet_isa isa, char *buf, size_t cap) {
    char feat[256];
    bn_kernels kt;
    size_t used = 0, i;
    int n;
    if (!buf || cap == 0) return "";
    bitnet_cpu_feature_names(bitnet_cpu_features(), feat, sizeof feat);
    if (isa == BITNET_ISA_AUTO) isa = bitnet_isa_best();
    if (bn_kernels_init(&kt, isa) != BITNET_OK) {
        snprintf(buf, cap, "cpu: %s | table: %s (not supported here)", feat, bitnet_isa_name(isa));
        return buf;
    }
    n = snprintf(buf, cap, "cpu: %s | table: %s |", feat[0] ? feat : "-", bitnet_isa_name(isa));
    if (n < 0 || (size_t)n >= cap) return buf;
    used = (size_t)n;
    for (i = 0; i < BN__N_FIELDS; i++) {
        n = snprintf(buf + used, cap - used, " %s=%s", bn_kernel_fields[i], kt.names[i]);
        if (n < 0 || (size_t)n >= cap - used) break;
        used += (size_t)n;
    }
    return buf;
}

/* Float GEMV/GEMM through the table. */
static BN__UNUSED void bn_fmat_gemv(const bn_kernels *kt, const bn_fmat *m, const float *x, float *y,
                                    int64_t r0, int64_t r1) {
    kt->gemv_f[m->ft](m, x, y, r0, r1);
}

static BN__UNUSED void bn_fmat_gemm(const bn_kernels *kt, const bn_fmat *m, const float *x, int64_t ldx,
                                    int64_t n, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    kt->gemm_f[m->ft](m, x, ldx, n, y, ldy, r0, r1);
}

/* ===== threads ===== */

int bitnet_online_cores(void) {
#if defined(_SC_NPROCESSORS_ONLN)
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
#else
    return 1;
#endif
}

#if defined(BITNET_NO_THREADS)
struct bitnet_threadpool { int n_threads; bitnet_allocator allocator; };

bitnet_status bitnet_threadpool_new(bitnet_threadpool **out, int n_threads,
                                    const bitnet_allocator *allocator) {
    bitnet_allocator a = bn_allocator_or_default(allocator);
    bitnet_threadpool *p;
    (void)n_threads;
    if (!out) return bn_fail(BITNET_ERR_ARGS, "bitnet_threadpool_new: out is NULL");
    p = (bitnet_threadpool *)bn_alloc(&a, sizeof *p, 64);
    if (!p) return bn_fail(BITNET_ERR_NOMEM, "thread pool: cannot allocate %zu bytes", sizeof *p);
    p->n_threads = 1;
    p->allocator = a;
    *out = p;
    return BITNET_OK;
}

void bitnet_threadpool_free(bitnet_threadpool *pool) {
    if (pool) { bitnet_allocator a = pool->allocator; bn_free(&a, pool); }
}

int bitnet_threadpool_size(const bitnet_threadpool *pool) { (void)pool; return 1; }

void bitnet_threadpool_run(bitnet_threadpool *pool, int64_t n_rows, int64_t grain,
                           bitnet_task_fn fn, void *arg) {
    (void)pool; (void)grain;
    if (n_rows > 0) fn(arg, 0, n_rows, 0);
}
#else

#if BN__X86
#  define BN__PAUSE() __builtin_ia32_pause()
#elif BN__ARM64
#  define BN__PAUSE() __asm__ __volatile__("yield")
#else
#  define BN__PAUSE() ((void)0)
#endif
#define BN__SPIN_ROUNDS 20000   /* pauses before a waiting thread sleeps (~0.1-1 ms) */

typedef struct bn_worker {
    struct bitnet_threadpool *pool;
    pthread_t thread;
    int index;
} bn_worker;

/* A run is cut into chunks of rows that threads claim one at a time, so a thread the OS
   descheduled delays the run by one chunk, not by its share. `claim` packs the run's generation
   (bits 63-32), its chunk count (31-16) and the next chunk (15-0): a late thread can never claim
   a chunk of a newer run by mistake, and the run's fields stay valid until every chunk claimed
   is done. */
struct bitnet_threadpool {
    int n_threads;                  /* including the caller */
    bitnet_allocator allocator;
    bn_worker *workers;             /* (n_threads - 1) */
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned generation;            /* bumped for every run (atomic) */
    uint64_t claim;                 /* generation << 32 | n_chunks << 16 | next chunk (atomic) */
    int64_t chunks_done;            /* (atomic) */
    int sleepers, caller_sleeping, stop;   /* under mu */
    bitnet_task_fn fn;
    void *arg;
    int64_t n_rows, chunk_rows, n_chunks;
};

/* Claims and runs chunks of run `gen` until none is left. */
static void bn_pool_work(struct bitnet_threadpool *p, unsigned gen, int t) {
    for (;;) {
        uint64_t c = __atomic_load_n(&p->claim, __ATOMIC_ACQUIRE);
        int64_t i, r0, r1;
        if ((unsigned)(c >> 32) != gen || (c & 0xffffu) >= (c >> 16 & 0xffffu)) return;
        if (!__atomic_compare_exchange_n(&p->claim, &c, c + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue;
        i = (int64_t)(c & 0xffffu);
        r0 = i * p->chunk_rows;
        r1 = r0 + p->chunk_rows < p->n_rows ? r0 + p->chunk_rows : p->n_rows;
        p->fn(p->arg, r0, r1, t);
        if (__atomic_add_fetch(&p->chunks_done, 1, __ATOMIC_ACQ_REL) == (int64_t)(c >> 16 & 0xffffu)) {
            pthread_mutex_lock(&p->mu);
            if (p->caller_sleeping) pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void *bn_worker_main(void *arg) {
    bn_worker *w = (bn_worker *)arg;
    struct bitnet_threadpool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        int i;
        unsigned g = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE);
        for (i = 0; g == seen && i < BN__SPIN_ROUNDS; i++) {
            BN__PAUSE();
            g = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while ((g = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE)) == seen && !p->stop)
                pthread_cond_wait(&p->wake, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
        }
        if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) return NULL;
        seen = g;
        bn_pool_work(p, g, w->index);
    }
}

void bitnet_threadpool_free(bitnet_threadpool *pool);

bitnet_status bitnet_threadpool_new(bitnet_threadpool **out, int n_threads,
                                    const bitnet_allocator *allocator) {
    bitnet_allocator a = bn_allocator_or_default(allocator);
    bitnet_threadpool *p;
    int i;
    if (!out) return bn_fail(BITNET_ERR_ARGS, "bitnet_threadpool_new: out is NULL");
    *out = NULL;
    if (n_threads <= 0) n_threads = bitnet_online_cores();
    if (n_threads > 1024)
        return bn_fail(BITNET_ERR_ARGS, "thread pool: %d threads is more than the limit 1024", n_threads);
    p = (bitnet_threadpool *)bn_alloc(&a, sizeof *p, 64);
    if (!p) return bn_fail(BITNET_ERR_NOMEM, "thread pool: cannot allocate %zu bytes", sizeof *p);
    memset(p, 0, sizeof *p);
    p->allocator = a;
    p->n_threads = 1;
    if (pthread_mutex_init(&p->mu, NULL)) {
        bn_free(&a, p);
        return bn_fail(BITNET_ERR_NOMEM, "thread pool: cannot create a mutex");
    }
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (n_threads > 1) {
        p->workers = (bn_worker *)bn_alloc(&a, sizeof(bn_worker) * (size_t)(n_threads - 1), 64);
        if (!p->workers) {
            bitnet_threadpool_free(p);
            return bn_fail(BITNET_ERR_NOMEM, "thread pool: cannot allocate %d workers", n_threads - 1);
        }
        for (i = 1; i < n_threads; i++) {
            bn_worker *w = &p->workers[i - 1];
            w->pool = p;
            w->index = i;
            if (pthread_create(&w->thread, NULL, bn_worker_main, w)) {
                bitnet_threadpool_free(p);
                return bn_fail(BITNET_ERR_NOMEM, "thread pool: cannot start thread %d of %d", i, n_threads);
            }
            p->n_threads = i + 1;
        }
    }
    *out = p;
    return BITNET_OK;
}

void bitnet_threadpool_free(bitnet_threadpool *pool) {
    bitnet_allocator a;
    int i;
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    __atomic_store_n(&pool->stop, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&pool->generation, 1, __ATOMIC_ACQ_REL);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    for (i = 1; i < pool->n_threads; i++) pthread_join(pool->workers[i - 1].thread, NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->mu);
    a = pool->allocator;
    if (pool->workers) bn_free(&a, pool->workers);
    bn_free(&a, pool);
}

int bitnet_threadpool_size(const bitnet_threadpool *pool) { return pool ? pool->n_threads : 1; }

void bitnet_threadpool_run(bitnet_threadpool *pool, int64_t n_rows, int64_t grain,
                           bitnet_task_fn fn, void *arg) {
    int64_t units, per;
    unsigned gen;
    int i;
    if (n_rows <= 0 || !fn) return;
    if (grain < 1) grain = 1;
    if (!pool || pool->n_threads == 1 || n_rows <= grain) { fn(arg, 0, n_rows, 0); return; }
    /* about 4 chunks per thread, each a multiple of grain */
    units = (n_rows + grain - 1) / grain;
    per = (units + 4 * pool->n_threads - 1) / (4 * pool->n_threads);
    pool->fn = fn; pool->arg = arg; pool->n_rows = n_rows;
    pool->chunk_rows = per * grain;
    pool->n_chunks = (n_rows + pool->chunk_rows - 1) / pool->chunk_rows;
    __atomic_store_n(&pool->chunks_done, 0, __ATOMIC_RELEASE);
    gen = __atomic_load_n(&pool->generation, __ATOMIC_ACQUIRE) + 1;
    __atomic_store_n(&pool->claim, (uint64_t)gen << 32 | (uint64_t)pool->n_chunks << 16, __ATOMIC_RELEASE);
    __atomic_store_n(&pool->generation, gen, __ATOMIC_RELEASE);
    pthread_mutex_lock(&pool->mu);
    if (pool->sleepers) pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    bn_pool_work(pool, gen, 0);
    for (i = 0; __atomic_load_n(&pool->chunks_done, __ATOMIC_ACQUIRE) < pool->n_chunks && i < BN__SPIN_ROUNDS; i++)
        BN__PAUSE();
    if (__atomic_load_n(&pool->chunks_done, __ATOMIC_ACQUIRE) < pool->n_chunks) {
        pthread_mutex_lock(&pool->mu);
        pool->caller_sleeping = 1;
        while (__atomic_load_n(&pool->chunks_done, __ATOMIC_ACQUIRE) < pool->n_chunks)
            pthread_cond_wait(&pool->done, &pool->mu);
        pool->caller_sleeping = 0;
        pthread_mutex_unlock(&pool->mu);
    }
}
#endif /* BITNET_NO_THREADS */

/* ---- the kernels split over the pool (pool may be NULL) ---- */

typedef struct bn_par_args {
    const bn_kernels *kt;
    const bn_tern *w;
    const bn_fmat *m;
    const int8_t *q;
    const float *x, *s;
    const int32_t *sum;
    float s1;
    int32_t sum1;
    int64_t ldq, ldx, n, ldy;
    float *y;
} bn_par_args;

static void bn_par_gemv_tern_task(void *arg, int64_t r0, int64_t r1, int t) {
    const bn_par_args *a = (const bn_par_args *)arg;
    (void)t;
    a->kt->gemv_tern(a->w, a->q, a->s1, a->sum1, a->y, r0, r1);
}

static void bn_par_gemm_tern_task(void *arg, int64_t r0, int64_t r1, int t) {
    const bn_par_args *a = (const bn_par_args *)arg;
    (void)t;
    a->kt->gemm_tern(a->w, a->q, a->ldq, a->s, a->sum, a->n, a->y, a->ldy, r0, r1);
}

static void bn_par_gemv_f_task(void *arg, int64_t r0, int64_t r1, int t) {
    const bn_par_args *a = (const bn_par_args *)arg;
    (void)t;
    a->kt->gemv_f[a->m->ft](a->m, a->x, a->y, r0, r1);
}

static void bn_par_gemm_f_task(void *arg, int64_t r0, int64_t r1, int t) {
    const bn_par_args *a = (const bn_par_args *)arg;
    (void)t;
    a->kt->gemm_f[a->m->ft](a->m, a->x, a->ldx, a->n, a->y, a->ldy, r0, r1);
}

static BN__UNUSED void bn_par_gemv_tern(bitnet_threadpool *pool, const bn_kernels *kt, const bn_tern *w,
                                        const int8_t *q, float s, int32_t sum, float *y) {
    bn_par_args a;
    memset(&a, 0, sizeof a);
    a.kt = kt; a.w = w; a.q = q; a.s1 = s; a.sum1 = sum; a.y = y;
    bitnet_threadpool_run(pool, w->rows, 16, bn_par_gemv_tern_task, &a);
}

static BN__UNUSED void bn_par_gemm_tern(bitnet_threadpool *pool, const bn_kernels *kt, const bn_tern *w,
                                        const int8_t *q, int64_t ldq, const float *s, const int32_t *sum,
                                        int64_t n, float *y, int64_t ldy) {
    bn_par_args a;
    memset(&a, 0, sizeof a);
    a.kt = kt; a.w = w; a.q = q; a.ldq = ldq; a.s = s; a.sum = sum; a.n = n; a.y = y; a.ldy = ldy;
    bitnet_threadpool_run(pool, w->rows, 16, bn_par_gemm_tern_task, &a);
}

static BN__UNUSED void bn_par_gemv_f(bitnet_threadpool *pool, const bn_kernels *kt, const bn_fmat *m,
                                     const float *x, float *y) {
    bn_par_args a;
    memset(&a, 0, sizeof a);
    a.kt = kt; a.m = m; a.x = x; a.y = y;
    bitnet_threadpool_run(pool, m->rows, 16, bn_par_gemv_f_task, &a);
}

static BN__UNUSED void bn_par_gemm_f(bitnet_threadpool *pool, const bn_kernels *kt, const bn_fmat *m,
                                     const float *x, int64_t ldx, int64_t n, float *y, int64_t ldy) {
    bn_par_args a;
    memset(&a, 0, sizeof a);
    a.kt = kt; a.m = m; a.x = x; a.ldx = ldx; a.n = n; a.y = y; a.ldy = ldy;
    bitnet_threadpool_run(pool, m->rows, 16, bn_par_gemm_f_task, &a);
}

/* ===== model ===== */

/* ===== tokenizer ===== */

/* ===== sampler ===== */

/* ===== generate ===== */

#endif /* BITNET_IMPLEMENTATION */

/*
MIT License

Copyright (c) 2026 the bitnet.h authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
