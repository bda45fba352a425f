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

/* ===== api: threads ===== */

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

/* ===== kernels: avx2 ===== */

/* ===== kernels: avx512 ===== */

/* ===== kernels: neon ===== */

/* ===== dispatch ===== */

/* ===== threads ===== */

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
