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

/* Picks the next token from a row of logits, in the order of llama.cpp's common sampler chain:
       penalties -> top_k -> top_p -> min_p -> temperature -> softmax -> draw
   Greedy decoding (temperature <= 0 or `greedy`) is the argmax of the penalised logits, lowest
   id on ties, as in llama.cpp and the reference BitNet engine. Every buffer is sized by
   bitnet_sampler_new from n_vocab and the penalty window: sampling allocates nothing.
   The random numbers come from the sampler's own PCG32 (integer arithmetic only), so a seed gives
   the same tokens on every machine and compiler, up to expf rounding at exact draw boundaries.
   A zeroed struct (or NULL) means greedy decoding without penalties; zero in any field means
   the value named in its comment. */
typedef struct bitnet_sampler_params {
    float    temperature;       /* logits are divided by it before the softmax; <= 0: greedy */
    int32_t  top_k;             /* keep the k most likely ids; <= 0: off */
    float    top_p;             /* keep the fewest most-likely ids whose probability sums to at
                                   least top_p (at temperature 1); 0 or >= 1: off; < 0: error */
    float    min_p;             /* drop ids less likely than min_p times the most likely one
                                   (at temperature 1); 0: off; must lie in [0, 1] */
    float    repeat_penalty;    /* an id seen in the window has its logit divided by it (logit
                                   > 0) or multiplied by it (logit <= 0); 0 or 1: off; < 0: error */
    float    presence_penalty;  /* subtracted once from the logit of an id seen in the window */
    float    frequency_penalty; /* subtracted from it once per occurrence in the window */
    int32_t  penalty_last_n;    /* the window: the last N accepted ids; 0: 64; -1: all of them,
                                   up to BITNET_SAMPLER_HISTORY_MAX */
    uint64_t seed;              /* 0: BITNET_SAMPLER_DEFAULT_SEED, so runs are reproducible */
    int      greedy;            /* nonzero: greedy whatever the temperature (draws no numbers) */
} bitnet_sampler_params;

#define BITNET_SAMPLER_DEFAULT_SEED 0x853c49e6748fea9bull
#ifndef BITNET_SAMPLER_HISTORY_MAX
#  define BITNET_SAMPLER_HISTORY_MAX 32768        /* longest penalty window (ids) */
#endif

typedef struct bitnet_sampler bitnet_sampler;

/* The CLI defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, penalties off,
   window 64, default seed. */
BITNET_API bitnet_sampler_params bitnet_sampler_default_params(void);
/* BITNET_ERR_ARGS on a NaN or infinite float, a value outside the range its comment gives,
   n_vocab < 1 or penalty_last_n < -1 or > BITNET_SAMPLER_HISTORY_MAX; BITNET_ERR_NOMEM. */
BITNET_API bitnet_status bitnet_sampler_new(bitnet_sampler **out, const bitnet_sampler_params *params,
                                            int32_t n_vocab, const bitnet_allocator *allocator);
BITNET_API void bitnet_sampler_free(bitnet_sampler *sampler);
/* The next id in [0, n_vocab) from `logits` (n_vocab floats, left unmodified). NaN counts as
   -inf; if every logit is -inf the result is 0. Returns -1 if sampler or logits is NULL. */
BITNET_API int32_t bitnet_sampler_sample(bitnet_sampler *sampler, const float *logits);
/* Records an id that was emitted (it enters the penalty window); ids out of range are ignored. */
BITNET_API void bitnet_sampler_accept(bitnet_sampler *sampler, int32_t id);
/* Empties the penalty window and restarts the random numbers from the seed. */
BITNET_API void bitnet_sampler_reset(bitnet_sampler *sampler);

/* Stop strings over streamed text. Feed each generated piece (any bytes, split anywhere); the
   matcher writes out what can be shown now and holds back a tail that could still begin a stop
   string, or that ends inside a UTF-8 sequence. When a stop string completes, the text before it
   is written out and the stop string and everything after it are dropped. If several stop
   strings could match, the one that completes first wins (the longest of those ending at the same
   byte), so the result does not depend on how the text was split. Buffers are sized at
   bitnet_stop_new; feeding allocates nothing. */
typedef struct bitnet_stop bitnet_stop;

/* `stops`: n_stops non-empty NUL-terminated strings, copied. n_stops may be 0 (then only
   incomplete UTF-8 is held back). BITNET_ERR_ARGS on an empty string or n_stops < 0. */
BITNET_API bitnet_status bitnet_stop_new(bitnet_stop **out, const char *const *stops, int32_t n_stops,
                                         const bitnet_allocator *allocator);
BITNET_API void bitnet_stop_free(bitnet_stop *stop);
/* Forgets the held tail and any match: ready for a new generation. */
BITNET_API void bitnet_stop_reset(bitnet_stop *stop);
/* The most bytes the matcher ever holds back: max(longest stop string - 1, 3). */
BITNET_API size_t bitnet_stop_max_held(const bitnet_stop *stop);
/* Feeds `len` bytes; writes the bytes that may be shown now to `out` (out_cap >= len +
   bitnet_stop_max_held always suffices; it must not overlap piece) and their count to *out_len.
   After a stop string completed, feeding writes nothing. BITNET_ERR_ARGS if out_cap is short. */
BITNET_API bitnet_status bitnet_stop_feed(bitnet_stop *stop, const char *piece, size_t len,
                                          char *out, size_t out_cap, size_t *out_len);
/* At the end of generation: writes the held tail (at most bitnet_stop_max_held bytes). */
BITNET_API bitnet_status bitnet_stop_flush(bitnet_stop *stop, char *out, size_t out_cap, size_t *out_len);
/* Index of the stop string that completed, or -1 while none has. */
BITNET_API int32_t bitnet_stop_matched(const bitnet_stop *stop);

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

typedef struct bn_sampler_cand {
    float   logit;              /* a logit; a probability weight after the softmax */
    float   w;                  /* exp(logit - max), for top_p */
    int32_t id;
} bn_sampler_cand;

struct bitnet_sampler {
    bitnet_sampler_params p;    /* as given, with the defaults filled in */
    bitnet_allocator alloc;
    int32_t n_vocab;
    int32_t n_hist, hist_len, hist_pos;   /* ring capacity (the window), ids in it, next slot */
    int greedy, penalize;
    uint64_t rng;               /* PCG32 state */
    bn_sampler_cand *cand;      /* (n_vocab) candidates of the current token */
    int32_t *count;             /* (n_vocab) occurrences of each id in the ring */
    int32_t *hist;              /* (n_hist) the last accepted ids */
};

/* PCG32 (O'Neill, pcg-random.org), default stream: integer-only, same bits everywhere. */
static uint32_t bn_pcg32(uint64_t *state) {
    uint64_t old = *state;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27), rot = (uint32_t)(old >> 59);
    *state = old * 6364136223846793005ull + 1442695040888963407ull;
    return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

static void bn_pcg32_seed(uint64_t *state, uint64_t seed) {
    *state = 0;
    bn_pcg32(state);
    *state += seed;
    bn_pcg32(state);
}

/* Uniform in [0, 1) from 53 random bits: the conversion to double is exact. */
static double bn_rng_unit(uint64_t *state) {
    uint64_t hi = bn_pcg32(state) >> 5, lo = bn_pcg32(state) >> 6;      /* 27 + 26 bits */
    return (double)(hi << 26 | lo) * (1.0 / 9007199254740992.0);
}

bitnet_sampler_params bitnet_sampler_default_params(void) {
    bitnet_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.penalty_last_n = 64;
    return p;
}

static bitnet_status bn_sampler_check(const bitnet_sampler_params *p, int32_t n_vocab) {
    const float f[6] = { p->temperature, p->top_p, p->min_p, p->repeat_penalty,
                         p->presence_penalty, p->frequency_penalty };
    static const char *const name[6] = { "temperature", "top_p", "min_p", "repeat_penalty",
                                         "presence_penalty", "frequency_penalty" };
    int i;
    for (i = 0; i < 6; i++)
        if (!(f[i] >= -FLT_MAX && f[i] <= FLT_MAX))
            return bn_fail(BITNET_ERR_ARGS, "sampler: %s is %g, not a finite number", name[i], (double)f[i]);
    if (n_vocab < 1) return bn_fail(BITNET_ERR_ARGS, "sampler: n_vocab is %d, must be >= 1", (int)n_vocab);
    if (p->top_p < 0) return bn_fail(BITNET_ERR_ARGS, "sampler: top_p is %g, must be >= 0", (double)p->top_p);
    if (p->min_p < 0 || p->min_p > 1)
        return bn_fail(BITNET_ERR_ARGS, "sampler: min_p is %g, must lie in [0, 1]", (double)p->min_p);
    if (p->repeat_penalty < 0)
        return bn_fail(BITNET_ERR_ARGS, "sampler: repeat_penalty is %g, must be >= 0", (double)p->repeat_penalty);
    if (p->penalty_last_n < -1 || p->penalty_last_n > BITNET_SAMPLER_HISTORY_MAX)
        return bn_fail(BITNET_ERR_ARGS, "sampler: penalty_last_n is %d, must lie in [-1, %d]",
                       (int)p->penalty_last_n, (int)BITNET_SAMPLER_HISTORY_MAX);
    return BITNET_OK;
}

bitnet_status bitnet_sampler_new(bitnet_sampler **out, const bitnet_sampler_params *params,
                                 int32_t n_vocab, const bitnet_allocator *allocator) {
    bitnet_sampler_params p;
    bitnet_allocator a = bn_allocator_or_default(allocator);
    bitnet_sampler *s;
    uint64_t cand_bytes, count_bytes, hist_bytes, head = bn_align_up_u64(sizeof *s, 64), total;
    int32_t n_hist;
    bitnet_status st;
    if (!out) return bn_fail(BITNET_ERR_ARGS, "sampler: out is NULL");
    if (params) p = *params;
    else memset(&p, 0, sizeof p);
    if ((st = bn_sampler_check(&p, n_vocab)) != BITNET_OK) return st;
    n_hist = p.penalty_last_n == 0 ? 64 : p.penalty_last_n < 0 ? BITNET_SAMPLER_HISTORY_MAX : p.penalty_last_n;
    cand_bytes = (uint64_t)n_vocab * sizeof(bn_sampler_cand);
    count_bytes = bn_align_up_u64((uint64_t)n_vocab * sizeof(int32_t), 64);
    hist_bytes = (uint64_t)n_hist * sizeof(int32_t);
    total = head + cand_bytes + count_bytes + hist_bytes;      /* < 2^36: no overflow in 64 bits */
    if (total > SIZE_MAX)
        return bn_fail(BITNET_ERR_NOMEM, "sampler: %llu bytes for n_vocab %d do not fit in size_t",
                       (unsigned long long)total, (int)n_vocab);
    s = (bitnet_sampler *)bn_alloc(&a, (size_t)total, 64);
    if (!s) return bn_fail(BITNET_ERR_NOMEM, "sampler: cannot allocate %llu bytes", (unsigned long long)total);
    memset(s, 0, sizeof *s);
    s->alloc = a;
    s->n_vocab = n_vocab;
    s->n_hist = n_hist;
    s->cand = (bn_sampler_cand *)((unsigned char *)s + head);
    s->count = (int32_t *)((unsigned char *)s->cand + cand_bytes);
    s->hist = (int32_t *)((unsigned char *)s->count + count_bytes);
    if (p.repeat_penalty == 0) p.repeat_penalty = 1;
    if (p.top_p >= 1) p.top_p = 0;
    if (p.seed == 0) p.seed = BITNET_SAMPLER_DEFAULT_SEED;
    p.penalty_last_n = n_hist;
    s->p = p;
    s->greedy = p.greedy || p.temperature <= 0;
    s->penalize = p.repeat_penalty != 1 || p.presence_penalty != 0 || p.frequency_penalty != 0;
    bitnet_sampler_reset(s);
    *out = s;
    return BITNET_OK;
}

void bitnet_sampler_free(bitnet_sampler *s) {
    if (s) bn_free(&s->alloc, s);
}

void bitnet_sampler_reset(bitnet_sampler *s) {
    if (!s) return;
    memset(s->count, 0, (size_t)s->n_vocab * sizeof *s->count);
    s->hist_len = s->hist_pos = 0;
    bn_pcg32_seed(&s->rng, s->p.seed);
}

void bitnet_sampler_accept(bitnet_sampler *s, int32_t id) {
    if (!s || id < 0 || id >= s->n_vocab) return;
    if (s->hist_len == s->n_hist) s->count[s->hist[s->hist_pos]]--;     /* evict the oldest */
    else s->hist_len++;
    s->hist[s->hist_pos] = id;
    s->count[id]++;
    s->hist_pos = (s->hist_pos + 1) % s->n_hist;
}

/* NaN -> -inf and +inf -> FLT_MAX, so that logit - max is never NaN. */
static float bn_sampler_clean(float x) {
    return x != x ? -INFINITY : x > FLT_MAX ? FLT_MAX : x;
}

/* llama.cpp's penalties, once per distinct id of the window (its count is negated while done). */
static void bn_sampler_penalize(bitnet_sampler *s) {
    const float rp = s->p.repeat_penalty;
    int32_t i;
    for (i = 0; i < s->hist_len; i++) {
        int32_t id = s->hist[i], n = s->count[id];
        float l = s->cand[id].logit;
        if (n <= 0) continue;
        l = l <= 0 ? l * rp : l / rp;
        l -= (float)n * s->p.frequency_penalty + s->p.presence_penalty;
        s->cand[id].logit = bn_sampler_clean(l);
        s->count[id] = -n;
    }
    for (i = 0; i < s->hist_len; i++)
        if (s->count[s->hist[i]] < 0) s->count[s->hist[i]] = -s->count[s->hist[i]];
}

/* The total order of candidates: higher logit first, then lower id. */
static int bn_sampler_before(const bn_sampler_cand *a, const bn_sampler_cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* Sifts h[i] down a heap of n whose root is the candidate that comes last. */
static void bn_sampler_sift(bn_sampler_cand *h, int32_t n, int32_t i) {
    for (;;) {
        int32_t c = 2 * i + 1;
        bn_sampler_cand t;
        if (c >= n) return;
        if (c + 1 < n && bn_sampler_before(&h[c], &h[c + 1])) c++;
        if (!bn_sampler_before(&h[i], &h[c])) return;
        t = h[i], h[i] = h[c], h[c] = t;
        i = c;
    }
}

/* Partial selection: moves the k first candidates (in the order above) to c[0..k), sorted.
   O(n log k) with a heap of k, instead of sorting all n. */
static void bn_sampler_select(bn_sampler_cand *c, int32_t n, int32_t k) {
    int32_t i;
    bn_sampler_cand t;
    for (i = k / 2 - 1; i >= 0; i--) bn_sampler_sift(c, k, i);
    for (i = k; i < n; i++)
        if (bn_sampler_before(&c[i], &c[0])) {
            t = c[0], c[0] = c[i], c[i] = t;
            bn_sampler_sift(c, k, 0);
        }
    for (i = k - 1; i > 0; i--) {
        t = c[0], c[0] = c[i], c[i] = t;
        bn_sampler_sift(c, i, 0);
    }
}

/* Lowest id on ties: c[] must be in id order. Four running maxima break the dependency chain. */
static int32_t bn_sampler_argmax(const bn_sampler_cand *c, int32_t n) {
    float m[4];
    int32_t b[4] = { 0, 0, 0, 0 }, i, j, best = 0;
    m[0] = m[1] = m[2] = m[3] = c[0].logit;
    for (i = 0; i + 4 <= n; i += 4)
        for (j = 0; j < 4; j++)
            if (c[i + j].logit > m[j]) m[j] = c[i + j].logit, b[j] = i + j;
    for (; i < n; i++)
        if (c[i].logit > m[0]) m[0] = c[i].logit, b[0] = i;
    for (j = 1; j < 4; j++)
        if (m[j] > m[best] || (m[j] == m[best] && b[j] < b[best])) best = j;
    return b[best];
}

static void bn_sampler_swap(bn_sampler_cand *a, bn_sampler_cand *b) {
    bn_sampler_cand t = *a;
    *a = *b;
    *b = t;
}

/* Quickselect step on c[lo..hi), hi - lo >= 3: a median-of-three pivot goes to its place q,
   the candidates before it in order to its left. Returns q; *mass = sum of w over c[lo..q]. */
static int32_t bn_sampler_partition(bn_sampler_cand *c, int32_t lo, int32_t hi, double *mass) {
    int32_t mid = lo + (hi - lo) / 2, i, q = lo;
    double m = 0;
    if (bn_sampler_before(&c[mid], &c[lo])) bn_sampler_swap(&c[mid], &c[lo]);
    if (bn_sampler_before(&c[hi - 1], &c[lo])) bn_sampler_swap(&c[hi - 1], &c[lo]);
    if (bn_sampler_before(&c[hi - 1], &c[mid])) bn_sampler_swap(&c[hi - 1], &c[mid]);
    bn_sampler_swap(&c[mid], &c[hi - 1]);
    for (i = lo; i < hi - 1; i++)
        if (bn_sampler_before(&c[i], &c[hi - 1])) {
            m += c[i].w;
            bn_sampler_swap(&c[i], &c[q++]);
        }
    bn_sampler_swap(&c[q], &c[hi - 1]);
    *mass = m + c[q].w;
    return q;
}

/* Keeps the fewest first candidates (in order) whose softmax mass reaches p and returns their
   count. Unsorted input: quickselect on the mass, expected O(n), then a sort of the last <= 32
   (or, after 64 rounds, of whatever is left: never quadratic). c[0..count) is left unsorted. */
static int32_t bn_sampler_top_p(bn_sampler_cand *c, int32_t n, float p, float max, int sorted) {
    double sum = 0, need, mass;
    int32_t i, lo = 0, hi = n, rounds = 0;
    for (i = 0; i < n; i++) sum += c[i].w = expf(c[i].logit - max);
    need = (double)p * sum;
    if (!sorted) {
        while (hi - lo > 32 && rounds++ < 64) {
            int32_t q = bn_sampler_partition(c, lo, hi, &mass);
            if (mass < need) {          /* the nucleus goes past q */
                need -= mass;
                lo = q + 1;
            } else {
                hi = q + 1;
            }
        }
        bn_sampler_select(c + lo, hi - lo, hi - lo);
    }
    for (i = lo; i < hi; i++)
        if ((need -= c[i].w) <= 0) return i + 1;
    return hi;
}

/* Softmax at the temperature over c[0..n), then one draw. */
static int32_t bn_sampler_draw(bitnet_sampler *s, int32_t n, float max) {
    bn_sampler_cand *c = s->cand;
    double sum = 0, cum = 0, r;
    int32_t i, last = 0;
    for (i = 0; i < n; i++) {
        c[i].logit = expf((c[i].logit - max) / s->p.temperature);
        sum += c[i].logit;
    }
    r = bn_rng_unit(&s->rng) * sum;
    for (i = 0; i < n; i++) {
        if (c[i].logit <= 0) continue;
        cum += c[i].logit;
        last = i;
        if (r < cum) break;
    }
    return c[last].id;
}

int32_t bitnet_sampler_sample(bitnet_sampler *s, const float *logits) {
    bn_sampler_cand *c;
    int32_t i, n, best;
    int sorted = 0;
    float max;
    if (!s || !logits) return -1;
    c = s->cand;
    n = s->n_vocab;
    for (i = 0; i < n; i++) {
        c[i].logit = bn_sampler_clean(logits[i]);
        c[i].id = i;
    }
    if (s->penalize) bn_sampler_penalize(s);
    if (s->greedy || s->p.top_k <= 0) {
        best = bn_sampler_argmax(c, n);
        if (s->greedy) return best;
        max = c[best].logit;
    } else {                            /* the max comes out of the selection */
        n = s->p.top_k < n ? s->p.top_k : n;
        bn_sampler_select(c, s->n_vocab, n);
        sorted = 1;
        max = c[0].logit;
    }
    if (max == -INFINITY) return c[0].id;       /* all -inf: id 0 (first in either order) */
    if (s->p.top_p > 0) n = bn_sampler_top_p(c, n, s->p.top_p, max, sorted);
    if (s->p.min_p > 0) {       /* p_i >= min_p * p_max  <=>  logit_i >= max + log(min_p) */
        const float floor = max + logf(s->p.min_p);
        int32_t m = 0;
        for (i = 0; i < n; i++)
            if (c[i].logit >= floor) c[m++] = c[i];
        n = m;
    }
    return bn_sampler_draw(s, n, max);
}

struct bitnet_stop {
    bitnet_allocator alloc;
    int32_t n_stops, matched;   /* matched: index of the completed stop string, -1 while none */
    size_t max_held, n_held;
    const char **stops;         /* (n_stops) copies, NUL-terminated */
    size_t *lens;               /* (n_stops) their lengths */
    char *held;                 /* (max_held) the tail held back */
};

bitnet_status bitnet_stop_new(bitnet_stop **out, const char *const *stops, int32_t n_stops,
                              const bitnet_allocator *allocator) {
    bitnet_allocator a = bn_allocator_or_default(allocator);
    bitnet_stop *s;
    size_t max_len = 0;
    uint64_t strings = 0, total;
    char *text;
    int32_t i;
    if (!out || n_stops < 0 || (n_stops > 0 && !stops))
        return bn_fail(BITNET_ERR_ARGS, "stop: bad arguments (out %p, stops %p, n_stops %d)",
                       (void *)out, (const void *)stops, (int)n_stops);
    for (i = 0; i < n_stops; i++) {
        size_t len = stops[i] ? strlen(stops[i]) : 0;
        if (len == 0) return bn_fail(BITNET_ERR_ARGS, "stop: stop string %d is empty or NULL", (int)i);
        if (len > max_len) max_len = len;
        if (!bn_add_u64(strings, (uint64_t)len + 1, &strings)) break;
    }
    /* layout: struct, stops[n], lens[n], held[max_len + 3], the strings */
    total = bn_align_up_u64(sizeof *s, 16) + (uint64_t)n_stops * (sizeof(char *) + sizeof(size_t));
    if (i < n_stops || !bn_add_u64(total, (uint64_t)max_len + 3, &total) ||
        !bn_add_u64(total, strings, &total) || total > SIZE_MAX)
        return bn_fail(BITNET_ERR_NOMEM, "stop: %d stop strings of %llu bytes do not fit in memory",
                       (int)n_stops, (unsigned long long)strings);
    if (!(s = (bitnet_stop *)bn_alloc(&a, (size_t)total, 16)))
        return bn_fail(BITNET_ERR_NOMEM, "stop: cannot allocate %llu bytes", (unsigned long long)total);
    s->alloc = a;
    s->n_stops = n_stops;
    s->max_held = max_len > 4 ? max_len - 1 : 3;
    s->stops = (const char **)(void *)((char *)s + bn_align_up_u64(sizeof *s, 16));
    s->lens = (size_t *)(void *)(s->stops + n_stops);
    s->held = (char *)(s->lens + n_stops);
    text = s->held + s->max_held;
    for (i = 0; i < n_stops; i++) {
        s->lens[i] = strlen(stops[i]);
        memcpy(text, stops[i], s->lens[i] + 1);
        s->stops[i] = text;
        text += s->lens[i] + 1;
    }
    bitnet_stop_reset(s);
    *out = s;
    return BITNET_OK;
}

void bitnet_stop_free(bitnet_stop *s) {
    if (s) bn_free(&s->alloc, s);
}

void bitnet_stop_reset(bitnet_stop *s) {
    if (!s) return;
    s->n_held = 0;
    s->matched = -1;
}

size_t bitnet_stop_max_held(const bitnet_stop *s) { return s ? s->max_held : 0; }
int32_t bitnet_stop_matched(const bitnet_stop *s) { return s ? s->matched : -1; }

/* Bytes at the end of t[0..n) that begin a UTF-8 sequence still missing bytes (0 to 3). */
static size_t bn_stop_utf8_tail(const unsigned char *t, size_t n) {
    size_t i, need;
    for (i = 1; i <= 3 && i <= n; i++) {
        unsigned char b = t[n - i];
        if ((b & 0xc0) == 0x80) continue;                          /* continuation byte */
        need = b >= 0xf8 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
        return need > i ? i : 0;
    }
    return 0;
}

/* How many bytes at the end of t[0..n) to hold back: the longest suffix that is a proper prefix
   of a stop string, or an incomplete UTF-8 sequence, whichever is longer. */
static size_t bn_stop_hold(const bitnet_stop *s, const char *t, size_t n) {
    size_t keep = bn_stop_utf8_tail((const unsigned char *)t, n), k;
    int32_t i;
    for (i = 0; i < s->n_stops; i++)
        for (k = s->lens[i] - 1 < n ? s->lens[i] - 1 : n; k > keep; k--)
            if (memcmp(t + n - k, s->stops[i], k) == 0) {
                keep = k;
                break;
            }
    return keep;
}

bitnet_status bitnet_stop_feed(bitnet_stop *s, const char *piece, size_t len,
                               char *out, size_t out_cap, size_t *out_len) {
    size_t total, end, keep;
    int32_t i, best;
    if (out_len) *out_len = 0;
    if (!s || !out || !out_len || (len && !piece))
        return bn_fail(BITNET_ERR_ARGS, "stop: NULL argument to bitnet_stop_feed");
    if (s->matched >= 0) return BITNET_OK;
    if (len > SIZE_MAX - s->n_held || out_cap < s->n_held + len)
        return bn_fail(BITNET_ERR_ARGS, "stop: out_cap %llu < %llu held + %llu new bytes",
                       (unsigned long long)out_cap, (unsigned long long)s->n_held, (unsigned long long)len);
    /* out = held ++ piece; a stop string ending in the held part would have been found before */
    memcpy(out, s->held, s->n_held);
    if (len) memcpy(out + s->n_held, piece, len);
    total = s->n_held + len;
    for (end = s->n_held + 1; end <= total; end++) {
        for (i = 0, best = -1; i < s->n_stops; i++)
            if (s->lens[i] <= end && (best < 0 || s->lens[i] > s->lens[best]) &&
                memcmp(out + end - s->lens[i], s->stops[i], s->lens[i]) == 0) best = i;
        if (best >= 0) {
            s->matched = best;
            s->n_held = 0;
            *out_len = end - s->lens[best];
            return BITNET_OK;
        }
    }
    keep = bn_stop_hold(s, out, total);
    memcpy(s->held, out + total - keep, keep);
    s->n_held = keep;
    *out_len = total - keep;
    return BITNET_OK;
}

bitnet_status bitnet_stop_flush(bitnet_stop *s, char *out, size_t out_cap, size_t *out_len) {
    if (out_len) *out_len = 0;
    if (!s || !out || !out_len) return bn_fail(BITNET_ERR_ARGS, "stop: NULL argument to bitnet_stop_flush");
    if (out_cap < s->n_held)
        return bn_fail(BITNET_ERR_ARGS, "stop: out_cap %llu < %llu held bytes",
                       (unsigned long long)out_cap, (unsigned long long)s->n_held);
    memcpy(out, s->held, s->n_held);
    *out_len = s->n_held;
    s->n_held = 0;
    return BITNET_OK;
}

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
