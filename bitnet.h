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

/* Metadata value types, as numbered in the GGUF file. */
typedef enum bitnet_gguf_type {
    BITNET_GGUF_U8 = 0, BITNET_GGUF_I8 = 1, BITNET_GGUF_U16 = 2, BITNET_GGUF_I16 = 3,
    BITNET_GGUF_U32 = 4, BITNET_GGUF_I32 = 5, BITNET_GGUF_F32 = 6, BITNET_GGUF_BOOL = 7,
    BITNET_GGUF_STRING = 8, BITNET_GGUF_ARRAY = 9, BITNET_GGUF_U64 = 10, BITNET_GGUF_I64 = 11,
    BITNET_GGUF_F64 = 12,
    BITNET_GGUF_TYPE_COUNT = 13
} bitnet_gguf_type;

/* Tensor element types (ggml numbering; 36..39 as in the bitnet.cpp fork, see FORMATS.md). */
typedef enum bitnet_type {
    BITNET_TYPE_F32 = 0,   BITNET_TYPE_F16 = 1,   BITNET_TYPE_Q4_0 = 2,  BITNET_TYPE_Q4_1 = 3,
    BITNET_TYPE_Q5_0 = 6,  BITNET_TYPE_Q5_1 = 7,  BITNET_TYPE_Q8_0 = 8,  BITNET_TYPE_Q8_1 = 9,
    BITNET_TYPE_Q2_K = 10, BITNET_TYPE_Q3_K = 11, BITNET_TYPE_Q4_K = 12, BITNET_TYPE_Q5_K = 13,
    BITNET_TYPE_Q6_K = 14, BITNET_TYPE_Q8_K = 15, BITNET_TYPE_I8 = 24,   BITNET_TYPE_I16 = 25,
    BITNET_TYPE_I32 = 26,  BITNET_TYPE_I64 = 27,  BITNET_TYPE_F64 = 28,  BITNET_TYPE_BF16 = 30,
    BITNET_TYPE_TQ1_0 = 34, BITNET_TYPE_TQ2_0 = 35, BITNET_TYPE_I2_S = 36,
    BITNET_TYPE_TL1 = 38,  BITNET_TYPE_TL2 = 39,
    BITNET_TYPE_COUNT = 40
} bitnet_type;

/* One metadata value. Strings and array data point into the file and are NOT NUL-terminated;
   multi-byte array elements are little-endian and may be unaligned (read them with
   bitnet_gguf_array_get). */
typedef struct bitnet_gguf_value {
    bitnet_gguf_type type;
    union {
        uint64_t u64;             /* U8, U16, U32, U64, BOOL (0/1) */
        int64_t  i64;             /* I8, I16, I32, I64 */
        double   f64;             /* F32, F64 */
    } num;
    struct { const char *ptr; uint64_t len; } str;
    struct {
        bitnet_gguf_type elem_type;
        uint64_t count;
        const void *data;         /* first element */
        uint64_t bytes;           /* total bytes of the elements */
        const uint64_t *index_;   /* private: element offsets of string arrays */
    } arr;
} bitnet_gguf_value;

/* One tensor of the file. `data` points into the mapping or buffer. */
typedef struct bitnet_gguf_tensor {
    const char *name;             /* NUL-terminated copy */
    bitnet_type type;
    uint32_t n_dims;              /* 1..4 */
    uint64_t ne[4];               /* ne[0] is contiguous; unused dims are 1 */
    uint64_t n_elements;
    uint64_t offset;              /* from the start of the data section */
    uint64_t size;                /* bytes */
    const void *data;
} bitnet_gguf_tensor;

typedef struct bitnet_gguf bitnet_gguf;

/* Opens a GGUF file read-only (mmap; read() where mmap is unavailable) and checks all of it. */
BITNET_API bitnet_status bitnet_gguf_open(bitnet_gguf **out, const char *path,
                                          const bitnet_allocator *allocator);
/* Same from a caller's buffer, which must outlive the handle. */
BITNET_API bitnet_status bitnet_gguf_open_memory(bitnet_gguf **out, const void *data, size_t size,
                                                 const bitnet_allocator *allocator);
BITNET_API void bitnet_gguf_close(bitnet_gguf *gguf);

BITNET_API uint32_t bitnet_gguf_version(const bitnet_gguf *gguf);
BITNET_API uint32_t bitnet_gguf_alignment(const bitnet_gguf *gguf);
BITNET_API uint64_t bitnet_gguf_data_offset(const bitnet_gguf *gguf);   /* start of tensor data */
BITNET_API uint64_t bitnet_gguf_file_size(const bitnet_gguf *gguf);

/* Metadata by index (0..n_kv-1) or by key. find returns -1 when the key is absent. */
BITNET_API int64_t bitnet_gguf_n_kv(const bitnet_gguf *gguf);
BITNET_API int64_t bitnet_gguf_find_key(const bitnet_gguf *gguf, const char *key);
BITNET_API const char *bitnet_gguf_key(const bitnet_gguf *gguf, int64_t index);
BITNET_API const bitnet_gguf_value *bitnet_gguf_kv(const bitnet_gguf *gguf, int64_t index);
/* Element `index` of an array value (any element type, nested arrays included). */
BITNET_API bitnet_status bitnet_gguf_array_get(const bitnet_gguf_value *array, uint64_t index,
                                               bitnet_gguf_value *out);

/* Typed getters. BITNET_ERR_NOT_FOUND if the key is absent, BITNET_ERR_TYPE if the stored value
   cannot be represented exactly (integers of any width convert when the value fits; f32/f64
   and integers convert to float). Outputs are untouched on failure. */
BITNET_API bitnet_status bitnet_gguf_get_u32(const bitnet_gguf *gguf, const char *key, uint32_t *out);
BITNET_API bitnet_status bitnet_gguf_get_u64(const bitnet_gguf *gguf, const char *key, uint64_t *out);
BITNET_API bitnet_status bitnet_gguf_get_i64(const bitnet_gguf *gguf, const char *key, int64_t *out);
BITNET_API bitnet_status bitnet_gguf_get_f32(const bitnet_gguf *gguf, const char *key, float *out);
BITNET_API bitnet_status bitnet_gguf_get_bool(const bitnet_gguf *gguf, const char *key, int *out);
BITNET_API bitnet_status bitnet_gguf_get_str(const bitnet_gguf *gguf, const char *key,
                                             const char **ptr, size_t *len);
BITNET_API bitnet_status bitnet_gguf_get_arr(const bitnet_gguf *gguf, const char *key,
                                             const bitnet_gguf_value **array);

BITNET_API int64_t bitnet_gguf_n_tensors(const bitnet_gguf *gguf);
BITNET_API const bitnet_gguf_tensor *bitnet_gguf_tensor_at(const bitnet_gguf *gguf, int64_t index);
BITNET_API const bitnet_gguf_tensor *bitnet_gguf_find_tensor(const bitnet_gguf *gguf, const char *name);

BITNET_API const char *bitnet_gguf_type_name(bitnet_gguf_type type);  /* "u32", "string", ... */
BITNET_API const char *bitnet_type_name(bitnet_type type);            /* "F16", "I2_S", ... */
/* Bytes of a tensor of `type` with shape ne[0..n_dims-1]; BITNET_ERR_FORMAT/UNSUPPORTED with a
   message when the shape does not fit the type's blocks, overflows, or the size is unknown. */
BITNET_API bitnet_status bitnet_tensor_bytes(bitnet_type type, uint32_t n_dims, const uint64_t *ne,
                                             uint64_t *bytes);

/* Writer: collect metadata and tensor infos, then stream the tensor data in the order the
   tensors were added (a tensor's bytes may arrive in several pieces; padding is automatic). */
typedef struct bitnet_gguf_writer bitnet_gguf_writer;
typedef int (*bitnet_write_fn)(const void *data, size_t size, void *user);   /* 0 = ok */

BITNET_API bitnet_status bitnet_gguf_writer_new(bitnet_gguf_writer **out, const bitnet_allocator *allocator);
BITNET_API void bitnet_gguf_writer_free(bitnet_gguf_writer *writer);
BITNET_API bitnet_status bitnet_gguf_writer_set_version(bitnet_gguf_writer *writer, uint32_t version);
/* Adds or replaces a key. Array values are copied from the value's (file-layout) data. A
   "general.alignment" key sets the alignment of the data section. */
BITNET_API bitnet_status bitnet_gguf_writer_set(bitnet_gguf_writer *writer, const char *key,
                                                const bitnet_gguf_value *value);
BITNET_API bitnet_status bitnet_gguf_writer_set_u32(bitnet_gguf_writer *writer, const char *key, uint32_t v);
BITNET_API bitnet_status bitnet_gguf_writer_set_i32(bitnet_gguf_writer *writer, const char *key, int32_t v);
BITNET_API bitnet_status bitnet_gguf_writer_set_u64(bitnet_gguf_writer *writer, const char *key, uint64_t v);
BITNET_API bitnet_status bitnet_gguf_writer_set_f32(bitnet_gguf_writer *writer, const char *key, float v);
BITNET_API bitnet_status bitnet_gguf_writer_set_bool(bitnet_gguf_writer *writer, const char *key, int v);
BITNET_API bitnet_status bitnet_gguf_writer_set_str(bitnet_gguf_writer *writer, const char *key, const char *v);
/* An array of a fixed-size element type from native values (e.g. int32_t[] for I32). */
BITNET_API bitnet_status bitnet_gguf_writer_set_arr(bitnet_gguf_writer *writer, const char *key,
                                                    bitnet_gguf_type elem_type, const void *elems, uint64_t count);
BITNET_API bitnet_status bitnet_gguf_writer_set_arr_str(bitnet_gguf_writer *writer, const char *key,
                                                        const char *const *strs, uint64_t count);
BITNET_API bitnet_status bitnet_gguf_writer_add_tensor(bitnet_gguf_writer *writer, const char *name,
                                                       bitnet_type type, uint32_t n_dims, const uint64_t *ne);
BITNET_API bitnet_status bitnet_gguf_writer_begin(bitnet_gguf_writer *writer, const char *path);
BITNET_API bitnet_status bitnet_gguf_writer_begin_fn(bitnet_gguf_writer *writer, bitnet_write_fn fn, void *user);
BITNET_API bitnet_status bitnet_gguf_writer_write(bitnet_gguf_writer *writer, const void *data, size_t size);
/* Checks that every tensor got all its bytes, writes the final padding, closes the file. */
BITNET_API bitnet_status bitnet_gguf_writer_end(bitnet_gguf_writer *writer);

/* ===== api: quant ===== */

/* Exact float conversions of n values (round to nearest even; Inf, NaN and subnormals kept;
   a signalling NaN comes back quiet). Vectorised with F16C / AVX-512 where the CPU has them,
   identical to the scalar code bit for bit. Pointers need only their type's alignment. */
BITNET_API void bitnet_fp16_to_fp32_row(const uint16_t *src, float *dst, size_t n);
BITNET_API void bitnet_fp32_to_fp16_row(const float *src, uint16_t *dst, size_t n);
BITNET_API void bitnet_bf16_to_fp32_row(const uint16_t *src, float *dst, size_t n);
BITNET_API void bitnet_fp32_to_bf16_row(const float *src, uint16_t *dst, size_t n);

/* Decodes an n_rows x n_cols tensor (n_cols contiguous) of `type` into dst (n_rows*n_cols
   floats). Types: F32 F16 BF16 Q8_0 Q6_K TQ1_0 TQ2_0 I2_S. `src` is the whole tensor as
   stored (I2_S: codes, then its f32 alpha at byte n_rows*n_cols/4, then 28 padding bytes) and
   may be unaligned; src_size must be at least the tensor's size. BITNET_ERR_FORMAT when the
   shape does not fit the type's blocks, src is too short or an I2_S code is 3;
   BITNET_ERR_UNSUPPORTED for other types. */
BITNET_API bitnet_status bitnet_dequantize(bitnet_type type, const void *src, uint64_t src_size,
                                           uint64_t n_rows, uint64_t n_cols, float *dst);

/* Encodes n_rows x n_cols floats as `type` into dst (dst_size bytes, at least the tensor's
   size; may be unaligned), byte for byte as the reference engines do: Q8_0 / TQ1_0 / TQ2_0 as
   llama.cpp's quantize_row_*_ref, I2_S as bitnet.cpp's quantize_i2_s (alpha = max|x| over the
   whole tensor, codes = signs with |x| < 1e-6 as zero, 28 zero padding bytes after alpha).
   Types: F32 F16 BF16 Q8_0 TQ1_0 TQ2_0 I2_S. Quantized types reject NaN/Inf input
   (BITNET_ERR_ARGS). */
BITNET_API bitnet_status bitnet_quantize(bitnet_type type, const float *src, uint64_t n_rows,
                                         uint64_t n_cols, void *dst, uint64_t dst_size);

/* Ternarizes n float weights of `type` (F32, F16 or BF16; src may be unaligned) into codes
   -1/0/+1 and one scale (FORMATS.md 3.4): when every nonzero |w| is the same value (weights
   stored already ternarized), alpha is that value and the codes are the signs; otherwise
   alpha = mean|w| clamped to >= 1e-5 and codes = clamp(round_half_even(w/alpha), -1, 1).
   An all-zero tensor gives alpha = 1e-5 and zero codes. NaN/Inf: BITNET_ERR_FORMAT. */
BITNET_API bitnet_status bitnet_ternarize(bitnet_type type, const void *src, uint64_t n,
                                          int8_t *codes, float *alpha);

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

/* Adds context in front of the current error message: "tensor 'x': <message>". */
static BN__UNUSED BN__PRINTF(2, 3) bitnet_status bn_fail_prefix(bitnet_status status, const char *fmt, ...) {
    char previous[sizeof bn_error_text], prefix[256];
    va_list ap;
    memcpy(previous, bn_error_text, sizeof previous);
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    return bn_fail(status, "%s: %s", prefix, previous);
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

#define BN__GGUF_MAGIC 0x46554747u          /* "GGUF" little-endian */
#define BN__GGUF_DEFAULT_ALIGNMENT 32
#define BN__GGUF_MAX_NAME 65535             /* longest key or tensor name accepted */
#define BN__GGUF_MAX_DEPTH 8                /* nested arrays deeper than this are refused */

struct bitnet_gguf {
    bitnet_allocator allocator;
    const unsigned char *data;               /* (size) the whole file */
    uint64_t size;
    int mapped;                              /* data is an mmap (else owned or borrowed) */
    int owned;                               /* data was read into memory we free */
    uint32_t version, alignment;
    uint64_t data_offset;
    int64_t n_kv, n_tensors;
    char **keys;                             /* (n_kv) NUL-terminated copies */
    bitnet_gguf_value *values;               /* (n_kv) */
    bitnet_gguf_tensor *tensors;             /* (n_tensors) */
    uint64_t *str_index;                     /* element offsets of all top-level string arrays */
    char *names;                             /* storage of the keys and tensor names */
};

/* --- type tables --- */

typedef struct bn_type_traits {
    const char *name;
    uint32_t block;                          /* elements per block; 0 = not a tensor type */
    uint32_t bytes;                          /* bytes per block */
} bn_type_traits;

static const bn_type_traits bn_type_table[BITNET_TYPE_COUNT] = {
    /*  0 */ { "F32", 1, 4 },    { "F16", 1, 2 },     { "Q4_0", 32, 18 },   { "Q4_1", 32, 20 },
    /*  4 */ { NULL, 0, 0 },     { NULL, 0, 0 },      { "Q5_0", 32, 22 },   { "Q5_1", 32, 24 },
    /*  8 */ { "Q8_0", 32, 34 }, { "Q8_1", 32, 36 },  { "Q2_K", 256, 84 },  { "Q3_K", 256, 110 },
    /* 12 */ { "Q4_K", 256, 144 }, { "Q5_K", 256, 176 }, { "Q6_K", 256, 210 }, { "Q8_K", 256, 292 },
    /* 16 */ { "IQ2_XXS", 256, 66 }, { "IQ2_XS", 256, 74 }, { "IQ3_XXS", 256, 98 }, { "IQ1_S", 256, 50 },
    /* 20 */ { "IQ4_NL", 32, 18 }, { "IQ3_S", 256, 110 }, { "IQ2_S", 256, 82 }, { "IQ4_XS", 256, 136 },
    /* 24 */ { "I8", 1, 1 },     { "I16", 1, 2 },     { "I32", 1, 4 },      { "I64", 1, 8 },
    /* 28 */ { "F64", 1, 8 },    { "IQ1_M", 256, 56 }, { "BF16", 1, 2 },    { NULL, 0, 0 },
    /* 32 */ { NULL, 0, 0 },     { NULL, 0, 0 },      { "TQ1_0", 256, 54 }, { "TQ2_0", 256, 66 },
    /* 36 */ { "I2_S", 128, 32 }, { NULL, 0, 0 },     { "TL1", 0, 0 },      { "TL2", 0, 0 },
};

static int bn_type_known(uint32_t type) {
    return type < BITNET_TYPE_COUNT && bn_type_table[type].name != NULL;
}

const char *bitnet_type_name(bitnet_type type) {
    return bn_type_known((uint32_t)type) ? bn_type_table[type].name : "unknown";
}

const char *bitnet_gguf_type_name(bitnet_gguf_type type) {
    static const char *const names[BITNET_GGUF_TYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"
    };
    return (unsigned)type < BITNET_GGUF_TYPE_COUNT ? names[type] : "unknown";
}

/* Size in bytes of a fixed-size metadata value; 0 for string, array and unknown types. */
static uint32_t bn_gguf_scalar_size(uint32_t type) {
    static const uint8_t sizes[BITNET_GGUF_TYPE_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
    return type < BITNET_GGUF_TYPE_COUNT ? sizes[type] : 0;
}

bitnet_status bitnet_tensor_bytes(bitnet_type type, uint32_t n_dims, const uint64_t *ne, uint64_t *bytes) {
    uint64_t n = 1, blocks, total;
    uint32_t i;
    const bn_type_traits *t;
    if (!bn_type_known((uint32_t)type))
        return bn_fail(BITNET_ERR_FORMAT, "unknown tensor type %d", (int)type);
    t = &bn_type_table[type];
    if (t->block == 0)
        return bn_fail(BITNET_ERR_UNSUPPORTED, "tensor type %s has no size rule (its layout is "
                       "model-specific and not recorded in the file)", t->name);
    if (n_dims < 1 || n_dims > 4) return bn_fail(BITNET_ERR_FORMAT, "%u dimensions (limit 1..4)", n_dims);
    for (i = 0; i < n_dims; i++)
        if (ne[i] == 0 || !bn_mul_u64(n, ne[i], &n) || n > (uint64_t)INT64_MAX)
            return bn_fail(BITNET_ERR_FORMAT, "dimension %u = %llu: zero or element count overflows",
                           i, (unsigned long long)ne[i]);
    if (type == BITNET_TYPE_I2_S) {
        /* 2 bits a weight over the flat index, then one f32 scale padded to 32 bytes */
        if (n % 128) return bn_fail(BITNET_ERR_FORMAT, "I2_S needs a multiple of 128 elements, got %llu",
                                    (unsigned long long)n);
        *bytes = n / 4 + 32;
        return BITNET_OK;
    }
    if (ne[0] % t->block)
        return bn_fail(BITNET_ERR_FORMAT, "%s needs ne[0] to be a multiple of %u, got %llu",
                       t->name, t->block, (unsigned long long)ne[0]);
    blocks = n / t->block;
    if (!bn_mul_u64(blocks, t->bytes, &total))
        return bn_fail(BITNET_ERR_FORMAT, "tensor size overflows");
    *bytes = total;
    return BITNET_OK;
}

/* --- bounded cursor over the file --- */

typedef struct bn_cursor {
    const unsigned char *data;
    uint64_t pos, size;
} bn_cursor;

static uint64_t bn_cursor_left(const bn_cursor *c) { return c->size - c->pos; }

static int bn_cursor_take(bn_cursor *c, uint64_t n, const unsigned char **out) {
    if (n > bn_cursor_left(c)) return 0;
    *out = c->data + c->pos;
    c->pos += n;
    return 1;
}

static int bn_cursor_u32(bn_cursor *c, uint32_t *v) {
    const unsigned char *p;
    if (!bn_cursor_take(c, 4, &p)) return 0;
    *v = bn_load_u32(p);
    return 1;
}

static int bn_cursor_u64(bn_cursor *c, uint64_t *v) {
    const unsigned char *p;
    if (!bn_cursor_take(c, 8, &p)) return 0;
    *v = bn_load_u64(p);
    return 1;
}

/* A GGUF string: u64 length then bytes. `what` names it in the error message. */
static bitnet_status bn_cursor_str(bn_cursor *c, const char **ptr, uint64_t *len, const char *what) {
    uint64_t at = c->pos, n;
    const unsigned char *p;
    if (!bn_cursor_u64(c, &n))
        return bn_fail(BITNET_ERR_FORMAT, "%s: string length at offset %llu is past end of file (size %llu)",
                       what, (unsigned long long)at, (unsigned long long)c->size);
    if (!bn_cursor_take(c, n, &p))
        return bn_fail(BITNET_ERR_FORMAT, "%s: string of %llu bytes at offset %llu runs past end of file "
                       "(size %llu)", what, (unsigned long long)n, (unsigned long long)at + 8,
                       (unsigned long long)c->size);
    *ptr = (const char *)p;
    *len = n;
    return BITNET_OK;
}

/* --- values --- */

static void bn_gguf_read_scalar(uint32_t type, const unsigned char *p, bitnet_gguf_value *v) {
    memset(v, 0, sizeof *v);
    v->type = (bitnet_gguf_type)type;
    switch (type) {
        case BITNET_GGUF_U8:   v->num.u64 = p[0]; break;
        case BITNET_GGUF_BOOL: v->num.u64 = p[0] != 0; break;
        case BITNET_GGUF_I8:   v->num.i64 = (int8_t)p[0]; break;
        case BITNET_GGUF_U16:  v->num.u64 = bn_load_u16(p); break;
        case BITNET_GGUF_I16:  v->num.i64 = (int16_t)bn_load_u16(p); break;
        case BITNET_GGUF_U32:  v->num.u64 = bn_load_u32(p); break;
        case BITNET_GGUF_I32:  v->num.i64 = (int32_t)bn_load_u32(p); break;
        case BITNET_GGUF_U64:  v->num.u64 = bn_load_u64(p); break;
        case BITNET_GGUF_I64:  v->num.i64 = (int64_t)bn_load_u64(p); break;
        case BITNET_GGUF_F32:  v->num.f64 = bn_load_f32(p); break;
        case BITNET_GGUF_F64: {
            uint64_t bits = bn_load_u64(p);
            memcpy(&v->num.f64, &bits, 8);
            break;
        }
        default: break;
    }
}

static bitnet_status bn_gguf_parse_value(bn_cursor *c, uint32_t type, bitnet_gguf_value *v,
                                         const char *what, int depth);

/* Array payload: u32 element type, u64 count, elements. Every element is checked. */
static bitnet_status bn_gguf_parse_array(bn_cursor *c, bitnet_gguf_value *v, const char *what, int depth) {
    uint32_t elem;
    uint64_t count, i, at = c->pos, bytes;
    uint32_t esize;
    const unsigned char *p;
    if (depth >= BN__GGUF_MAX_DEPTH)
        return bn_fail(BITNET_ERR_FORMAT, "%s: arrays nested deeper than %d", what, BN__GGUF_MAX_DEPTH);
    if (!bn_cursor_u32(c, &elem) || !bn_cursor_u64(c, &count))
        return bn_fail(BITNET_ERR_FORMAT, "%s: array header at offset %llu is past end of file (size %llu)",
                       what, (unsigned long long)at, (unsigned long long)c->size);
    if (elem >= BITNET_GGUF_TYPE_COUNT)
        return bn_fail(BITNET_ERR_FORMAT, "%s: unknown array element type %u (limit %d)",
                       what, elem, BITNET_GGUF_TYPE_COUNT - 1);
    memset(v, 0, sizeof *v);
    v->type = BITNET_GGUF_ARRAY;
    v->arr.elem_type = (bitnet_gguf_type)elem;
    v->arr.count = count;
    v->arr.data = c->data + c->pos;
    esize = bn_gguf_scalar_size(elem);
    if (esize) {
        if (!bn_mul_u64(count, esize, &bytes) || !bn_cursor_take(c, bytes, &p))
            return bn_fail(BITNET_ERR_FORMAT, "%s: array of %llu %s elements at offset %llu runs past end "
                           "of file (size %llu)", what, (unsigned long long)count,
                           bitnet_gguf_type_name((bitnet_gguf_type)elem), (unsigned long long)at,
                           (unsigned long long)c->size);
    } else {
        /* each string or array element takes at least 8 bytes: refuse impossible counts early */
        if (count > bn_cursor_left(c) / 8)
            return bn_fail(BITNET_ERR_FORMAT, "%s: array count %llu at offset %llu cannot fit in the %llu "
                           "bytes left", what, (unsigned long long)count, (unsigned long long)at,
                           (unsigned long long)bn_cursor_left(c));
        for (i = 0; i < count; i++) {
            bitnet_gguf_value e;
            bitnet_status st = bn_gguf_parse_value(c, elem, &e, what, depth + 1);
            if (st != BITNET_OK) return st;
        }
    }
    v->arr.bytes = (uint64_t)(c->data + c->pos - (const unsigned char *)v->arr.data);
    return BITNET_OK;
}

static bitnet_status bn_gguf_parse_value(bn_cursor *c, uint32_t type, bitnet_gguf_value *v,
                                         const char *what, int depth) {
    uint32_t size = bn_gguf_scalar_size(type);
    const unsigned char *p;
    if (type == BITNET_GGUF_STRING) {
        memset(v, 0, sizeof *v);
        v->type = BITNET_GGUF_STRING;
        return bn_cursor_str(c, &v->str.ptr, &v->str.len, what);
    }
    if (type == BITNET_GGUF_ARRAY) return bn_gguf_parse_array(c, v, what, depth);
    if (!size) return bn_fail(BITNET_ERR_FORMAT, "%s: unknown value type %u (limit %d)",
                              what, type, BITNET_GGUF_TYPE_COUNT - 1);
    if (!bn_cursor_take(c, size, &p))
        return bn_fail(BITNET_ERR_FORMAT, "%s: %s value at offset %llu is past end of file (size %llu)",
                       what, bitnet_gguf_type_name((bitnet_gguf_type)type), (unsigned long long)c->pos,
                       (unsigned long long)c->size);
    bn_gguf_read_scalar(type, p, v);
    return BITNET_OK;
}

/* Reads element `index` of a validated array by walking variable-size elements. */
static void bn_gguf_walk_element(const bitnet_gguf_value *a, uint64_t index, bitnet_gguf_value *out) {
    bn_cursor c;
    uint64_t i;
    c.data = (const unsigned char *)a->arr.data;
    c.pos = 0;
    c.size = a->arr.bytes;
    for (i = 0; i <= index; i++) bn_gguf_parse_value(&c, a->arr.elem_type, out, "array", 1);
}

bitnet_status bitnet_gguf_array_get(const bitnet_gguf_value *array, uint64_t index, bitnet_gguf_value *out) {
    uint32_t esize;
    if (!array || !out || array->type != BITNET_GGUF_ARRAY)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_gguf_array_get: not an array");
    if (index >= array->arr.count)
        return bn_fail(BITNET_ERR_ARGS, "array index %llu out of range (count %llu)",
                       (unsigned long long)index, (unsigned long long)array->arr.count);
    esize = bn_gguf_scalar_size(array->arr.elem_type);
    if (esize) {
        bn_gguf_read_scalar(array->arr.elem_type, (const unsigned char *)array->arr.data + index * esize, out);
    } else if (array->arr.elem_type == BITNET_GGUF_STRING && array->arr.index_) {
        const unsigned char *p = (const unsigned char *)array->arr.data + array->arr.index_[index];
        memset(out, 0, sizeof *out);
        out->type = BITNET_GGUF_STRING;
        out->str.len = bn_load_u64(p);
        out->str.ptr = (const char *)p + 8;
    } else {
        bn_gguf_walk_element(array, index, out);
    }
    return BITNET_OK;
}

/* --- header, metadata, tensor infos --- */

/* Keys and tensor names are copied NUL-terminated into one block sized by a first pass. */
static char *bn_gguf_copy_name(char **cursor, const char *ptr, uint64_t len) {
    char *out = *cursor;
    memcpy(out, ptr, (size_t)len);
    out[len] = 0;
    *cursor += len + 1;
    return out;
}

static bitnet_status bn_gguf_check_name(const char *ptr, uint64_t len, const char *what, uint64_t i) {
    if (len == 0 || len > BN__GGUF_MAX_NAME)
        return bn_fail(BITNET_ERR_FORMAT, "%s #%llu: name length %llu (limit 1..%d)", what,
                       (unsigned long long)i, (unsigned long long)len, BN__GGUF_MAX_NAME);
    if (memchr(ptr, 0, (size_t)len))
        return bn_fail(BITNET_ERR_FORMAT, "%s #%llu: name contains a NUL byte", what, (unsigned long long)i);
    return BITNET_OK;
}

static bitnet_status bn_gguf_parse_header(bitnet_gguf *g, bn_cursor *c, uint64_t *n_tensors, uint64_t *n_kv) {
    uint32_t magic;
    if (!bn_cursor_u32(c, &magic) || !bn_cursor_u32(c, &g->version))
        return bn_fail(BITNET_ERR_FORMAT, "file of %llu bytes is too small for a GGUF header (24 bytes)",
                       (unsigned long long)c->size);
    if (magic != BN__GGUF_MAGIC)
        return bn_fail(BITNET_ERR_FORMAT, "bad magic 0x%08x (expected 0x%08x \"GGUF\")", magic, BN__GGUF_MAGIC);
    if (g->version == 1)
        return bn_fail(BITNET_ERR_FORMAT, "GGUF version 1 is not supported (only versions 2 and 3)");
    if (g->version != 2 && g->version != 3)
        return bn_fail(BITNET_ERR_FORMAT, "unknown GGUF version %u (supported: 2, 3)", g->version);
    if (!bn_cursor_u64(c, n_tensors) || !bn_cursor_u64(c, n_kv))
        return bn_fail(BITNET_ERR_FORMAT, "file of %llu bytes is too small for a GGUF header (24 bytes)",
                       (unsigned long long)c->size);
    /* a key/value takes >= 13 bytes and a tensor info >= 32: counts beyond that cannot be real */
    if (*n_kv > bn_cursor_left(c) / 13)
        return bn_fail(BITNET_ERR_FORMAT, "metadata count %llu cannot fit in the %llu bytes left",
                       (unsigned long long)*n_kv, (unsigned long long)bn_cursor_left(c));
    if (*n_tensors > bn_cursor_left(c) / 32)
        return bn_fail(BITNET_ERR_FORMAT, "tensor count %llu cannot fit in the %llu bytes left",
                       (unsigned long long)*n_tensors, (unsigned long long)bn_cursor_left(c));
    return BITNET_OK;
}

static bitnet_status bn_gguf_check_alignment(bitnet_gguf *g, const char *key, const bitnet_gguf_value *v) {
    if (strcmp(key, "general.alignment") != 0) return BITNET_OK;
    if (v->type != BITNET_GGUF_U32)
        return bn_fail(BITNET_ERR_FORMAT, "key 'general.alignment': type %s, expected u32",
                       bitnet_gguf_type_name(v->type));
    if (v->num.u64 == 0 || (v->num.u64 & (v->num.u64 - 1)) || v->num.u64 > (1u << 30))
        return bn_fail(BITNET_ERR_FORMAT, "key 'general.alignment': %llu is not a power of two "
                       "(limit 1..2^30)", (unsigned long long)v->num.u64);
    g->alignment = (uint32_t)v->num.u64;
    return BITNET_OK;
}

/* First pass over the metadata: validates every value, returns name bytes and string-array
   elements so the second pass can fill preallocated arrays. */
static bitnet_status bn_gguf_scan_kv(bn_cursor *c, uint64_t n_kv, uint64_t *name_bytes, uint64_t *n_strs) {
    uint64_t i;
    for (i = 0; i < n_kv; i++) {
        const char *key;
        uint64_t len;
        uint32_t type;
        bitnet_gguf_value v;
        char what[96];
        bitnet_status st;
        snprintf(what, sizeof what, "metadata #%llu", (unsigned long long)i);
        if ((st = bn_cursor_str(c, &key, &len, what)) != BITNET_OK) return st;
        if ((st = bn_gguf_check_name(key, len, "key", i)) != BITNET_OK) return st;
        snprintf(what, sizeof what, "key '%.*s'", (int)(len > 60 ? 60 : len), key);
        if (!bn_cursor_u32(c, &type))
            return bn_fail(BITNET_ERR_FORMAT, "%s: value type is past end of file", what);
        if ((st = bn_gguf_parse_value(c, type, &v, what, 0)) != BITNET_OK) return st;
        *name_bytes += len + 1;
        if (v.type == BITNET_GGUF_ARRAY && v.arr.elem_type == BITNET_GGUF_STRING) *n_strs += v.arr.count;
    }
    return BITNET_OK;
}

static void bn_gguf_index_strings(bitnet_gguf_value *v, uint64_t *index) {
    uint64_t i, off = 0;
    const unsigned char *base = (const unsigned char *)v->arr.data;
    for (i = 0; i < v->arr.count; i++) {
        index[i] = off;
        off += 8 + bn_load_u64(base + off);
    }
    v->arr.index_ = index;
}

/* Second pass: the data was validated by bn_gguf_scan_kv, so parsing cannot fail here. */
static bitnet_status bn_gguf_fill_kv(bitnet_gguf *g, bn_cursor *c, char **names, uint64_t **str_index) {
    int64_t i, j;
    for (i = 0; i < g->n_kv; i++) {
        const char *key = NULL;
        uint64_t len = 0;
        uint32_t type = 0;
        bitnet_gguf_value *v = &g->values[i];
        bitnet_status st;
        bn_cursor_str(c, &key, &len, "key");
        bn_cursor_u32(c, &type);
        bn_gguf_parse_value(c, type, v, "key", 0);
        g->keys[i] = bn_gguf_copy_name(names, key, len);
        for (j = 0; j < i; j++)
            if (strcmp(g->keys[j], g->keys[i]) == 0)
                return bn_fail(BITNET_ERR_FORMAT, "duplicate key '%s' (#%lld and #%lld)", g->keys[i],
                               (long long)j, (long long)i);
        if ((st = bn_gguf_check_alignment(g, g->keys[i], v)) != BITNET_OK) return st;
        if (v->type == BITNET_GGUF_ARRAY && v->arr.elem_type == BITNET_GGUF_STRING) {
            bn_gguf_index_strings(v, *str_index);
            *str_index += v->arr.count;
        }
    }
    return BITNET_OK;
}

static bitnet_status bn_gguf_parse_tensor_info(bn_cursor *c, bitnet_gguf_tensor *t, uint64_t i,
                                               const char **name, uint64_t *name_len) {
    uint32_t d, type;
    char what[64];
    bitnet_status st;
    snprintf(what, sizeof what, "tensor #%llu", (unsigned long long)i);
    if ((st = bn_cursor_str(c, name, name_len, what)) != BITNET_OK) return st;
    if ((st = bn_gguf_check_name(*name, *name_len, "tensor", i)) != BITNET_OK) return st;
    if (!bn_cursor_u32(c, &t->n_dims))
        return bn_fail(BITNET_ERR_FORMAT, "tensor '%.*s': info is past end of file", (int)*name_len, *name);
    if (t->n_dims < 1 || t->n_dims > 4)
        return bn_fail(BITNET_ERR_FORMAT, "tensor '%.*s': %u dimensions (limit 1..4)", (int)*name_len, *name,
                       t->n_dims);
    for (d = 0; d < 4; d++) t->ne[d] = 1;
    for (d = 0; d < t->n_dims; d++)
        if (!bn_cursor_u64(c, &t->ne[d]))
            return bn_fail(BITNET_ERR_FORMAT, "tensor '%.*s': info is past end of file", (int)*name_len, *name);
    if (!bn_cursor_u32(c, &type) || !bn_cursor_u64(c, &t->offset))
        return bn_fail(BITNET_ERR_FORMAT, "tensor '%.*s': info is past end of file", (int)*name_len, *name);
    if (!bn_type_known(type))
        return bn_fail(BITNET_ERR_FORMAT, "tensor '%.*s': unknown type %u", (int)*name_len, *name, type);
    t->type = (bitnet_type)type;
    return BITNET_OK;
}

/* Size, element count and bounds of one tensor; TL1/TL2 sizes are settled after sorting. */
static bitnet_status bn_gguf_size_tensor(bitnet_gguf *g, bitnet_gguf_tensor *t) {
    uint64_t n = 1, data_size = g->size - g->data_offset, end;
    uint32_t d;
    bitnet_status st;
    for (d = 0; d < t->n_dims; d++)
        if (t->ne[d] == 0 || t->ne[d] > (uint64_t)INT64_MAX || !bn_mul_u64(n, t->ne[d], &n) ||
            n > (uint64_t)INT64_MAX)
            return bn_fail(BITNET_ERR_FORMAT, "tensor '%s': ne[%u] = %llu is zero or the element count "
                           "overflows", t->name, d, (unsigned long long)t->ne[d]);
    t->n_elements = n;
    if (t->offset % g->alignment)
        return bn_fail(BITNET_ERR_FORMAT, "tensor '%s': offset %llu is not a multiple of the alignment %u",
                       t->name, (unsigned long long)t->offset, g->alignment);
    if (t->offset > data_size)
        return bn_fail(BITNET_ERR_FORMAT, "tensor '%s': offset %llu is past end of file (data section "
                       "is %llu bytes)", t->name, (unsigned long long)t->offset, (unsigned long long)data_size);
    if (t->type == BITNET_TYPE_TL1 || t->type == BITNET_TYPE_TL2) { t->size = 0; return BITNET_OK; }
    if ((st = bitnet_tensor_bytes(t->type, t->n_dims, t->ne, &t->size)) != BITNET_OK)
        return bn_fail_prefix(st, "tensor '%s'", t->name);
    if (!bn_add_u64(t->offset, t->size, &end) || end > data_size)
        return bn_fail(BITNET_ERR_FORMAT, "tensor '%s': offset %llu + %llu bytes is past end of file "
                       "(data section is %llu bytes, file %llu)", t->name, (unsigned long long)t->offset,
                       (unsigned long long)t->size, (unsigned long long)data_size,
                       (unsigned long long)g->size);
    return BITNET_OK;
}

/* Insertion sort of tensor pointers by offset (files hold a few hundred tensors). */
static void bn_gguf_sort_by_offset(bitnet_gguf_tensor **p, int64_t n) {
    int64_t i, j;
    for (i = 1; i < n; i++) {
        bitnet_gguf_tensor *t = p[i];
        for (j = i; j > 0 && p[j - 1]->offset > t->offset; j--) p[j] = p[j - 1];
        p[j] = t;
    }
}

/* Tensors must not overlap; a TL1/TL2 tensor (no size rule) extends to the next tensor. */
static bitnet_status bn_gguf_check_overlaps(bitnet_gguf *g) {
    bitnet_gguf_tensor **order;
    int64_t i;
    bitnet_status st = BITNET_OK;
    uint64_t data_size = g->size - g->data_offset;
    if (g->n_tensors == 0) return BITNET_OK;
    order = (bitnet_gguf_tensor **)bn_alloc(&g->allocator, (size_t)g->n_tensors * sizeof *order, 16);
    if (!order) return bn_fail(BITNET_ERR_NOMEM, "gguf: out of memory sorting %lld tensors", (long long)g->n_tensors);
    for (i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    bn_gguf_sort_by_offset(order, g->n_tensors);
    for (i = 0; i < g->n_tensors && st == BITNET_OK; i++) {
        bitnet_gguf_tensor *t = order[i];
        uint64_t next = i + 1 < g->n_tensors ? order[i + 1]->offset : data_size;
        if (t->type == BITNET_TYPE_TL1 || t->type == BITNET_TYPE_TL2) t->size = next - t->offset;
        if (t->offset + t->size > next)
            st = bn_fail(BITNET_ERR_FORMAT, "tensor '%s' (offset %llu, %llu bytes) overlaps tensor '%s' at "
                         "offset %llu", t->name, (unsigned long long)t->offset, (unsigned long long)t->size,
                         order[i + 1]->name, (unsigned long long)next);
    }
    bn_free(&g->allocator, order);
    return st;
}

static bitnet_status bn_gguf_parse_tensors(bitnet_gguf *g, bn_cursor *c, char **names) {
    int64_t i, j;
    bitnet_status st;
    for (i = 0; i < g->n_tensors; i++) {
        const char *name;
        uint64_t len;
        if ((st = bn_gguf_parse_tensor_info(c, &g->tensors[i], (uint64_t)i, &name, &len)) != BITNET_OK)
            return st;
        g->tensors[i].name = bn_gguf_copy_name(names, name, len);
        for (j = 0; j < i; j++)
            if (strcmp(g->tensors[j].name, g->tensors[i].name) == 0)
                return bn_fail(BITNET_ERR_FORMAT, "duplicate tensor name '%s' (#%lld and #%lld)",
                               g->tensors[i].name, (long long)j, (long long)i);
    }
    g->data_offset = bn_align_up_u64(c->pos, g->alignment);
    if (g->data_offset > g->size) {
        if (g->n_tensors > 0)
            return bn_fail(BITNET_ERR_FORMAT, "data section would start at %llu, past end of file (size %llu)",
                           (unsigned long long)g->data_offset, (unsigned long long)g->size);
        g->data_offset = g->size;            /* vocab-only files may end without padding */
    }
    for (i = 0; i < g->n_tensors; i++) {
        if ((st = bn_gguf_size_tensor(g, &g->tensors[i])) != BITNET_OK) return st;
        g->tensors[i].data = g->data + g->data_offset + g->tensors[i].offset;
    }
    return bn_gguf_check_overlaps(g);
}

/* Tensor names need their bytes counted before the name block is allocated: a dry pass. */
static bitnet_status bn_gguf_scan_tensor_names(bn_cursor c, uint64_t n_tensors, uint64_t *name_bytes) {
    uint64_t i;
    for (i = 0; i < n_tensors; i++) {
        bitnet_gguf_tensor t;
        const char *name;
        uint64_t len;
        bitnet_status st = bn_gguf_parse_tensor_info(&c, &t, i, &name, &len);
        if (st != BITNET_OK) return st;
        *name_bytes += len + 1;
    }
    return BITNET_OK;
}

static bitnet_status bn_gguf_allocate(bitnet_gguf *g, uint64_t n_kv, uint64_t n_tensors,
                                      uint64_t name_bytes, uint64_t n_strs) {
    const bitnet_allocator *a = &g->allocator;
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    g->keys = (char **)bn_zalloc(a, (size_t)(n_kv ? n_kv : 1) * sizeof *g->keys);
    g->values = (bitnet_gguf_value *)bn_zalloc(a, (size_t)(n_kv ? n_kv : 1) * sizeof *g->values);
    g->tensors = (bitnet_gguf_tensor *)bn_zalloc(a, (size_t)(n_tensors ? n_tensors : 1) * sizeof *g->tensors);
    g->str_index = (uint64_t *)bn_alloc(a, (size_t)(n_strs ? n_strs : 1) * sizeof *g->str_index, 16);
    g->names = (char *)bn_alloc(a, (size_t)(name_bytes ? name_bytes : 1), 16);
    if (!g->keys || !g->values || !g->tensors || !g->str_index || !g->names)
        return bn_fail(BITNET_ERR_NOMEM, "gguf: out of memory for %llu keys, %llu tensors, %llu strings",
                       (unsigned long long)n_kv, (unsigned long long)n_tensors, (unsigned long long)n_strs);
    return BITNET_OK;
}

static bitnet_status bn_gguf_parse(bitnet_gguf *g) {
    bn_cursor c, kv_start;
    uint64_t n_tensors, n_kv, name_bytes = 0, n_strs = 0;
    char *names;
    uint64_t *str_index;
    bitnet_status st;
    c.data = g->data;
    c.pos = 0;
    c.size = g->size;
    g->alignment = BN__GGUF_DEFAULT_ALIGNMENT;
    if ((st = bn_gguf_parse_header(g, &c, &n_tensors, &n_kv)) != BITNET_OK) return st;
    kv_start = c;
    if ((st = bn_gguf_scan_kv(&c, n_kv, &name_bytes, &n_strs)) != BITNET_OK) return st;
    if ((st = bn_gguf_scan_tensor_names(c, n_tensors, &name_bytes)) != BITNET_OK) return st;
    if ((st = bn_gguf_allocate(g, n_kv, n_tensors, name_bytes, n_strs)) != BITNET_OK) return st;
    c = kv_start;
    names = g->names;
    str_index = g->str_index;
    if ((st = bn_gguf_fill_kv(g, &c, &names, &str_index)) != BITNET_OK) return st;
    return bn_gguf_parse_tensors(g, &c, &names);
}

/* --- opening and closing --- */

static bitnet_status bn_gguf_new(bitnet_gguf **out, const bitnet_allocator *allocator) {
    bitnet_allocator a = bn_allocator_or_default(allocator);
    bitnet_gguf *g = (bitnet_gguf *)bn_zalloc(&a, sizeof *g);
    if (!g) return bn_fail(BITNET_ERR_NOMEM, "gguf: out of memory");
    g->allocator = a;
    *out = g;
    return BITNET_OK;
}

static bitnet_status bn_gguf_finish_open(bitnet_gguf **out, bitnet_gguf *g) {
    bitnet_status st = bn_gguf_parse(g);
    if (st != BITNET_OK) {
        bitnet_gguf_close(g);
        return st;
    }
    *out = g;
    return BITNET_OK;
}

bitnet_status bitnet_gguf_open_memory(bitnet_gguf **out, const void *data, size_t size,
                                      const bitnet_allocator *allocator) {
    bitnet_gguf *g;
    bitnet_status st;
    if (!out || (!data && size)) return bn_fail(BITNET_ERR_ARGS, "bitnet_gguf_open_memory: NULL argument");
    if ((st = bn_gguf_new(&g, allocator)) != BITNET_OK) return st;
    g->data = (const unsigned char *)data;
    g->size = size;
    return bn_gguf_finish_open(out, g);
}

/* Reads the whole file into memory: the path where mmap is unavailable. */
static bitnet_status bn_gguf_read_file(bitnet_gguf *g, const char *path) {
    FILE *f = fopen(path, "rb");
    long n;
    unsigned char *buf;
    if (!f) return bn_fail(BITNET_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return bn_fail(BITNET_ERR_IO, "cannot size '%s': %s", path, strerror(errno));
    }
    buf = (unsigned char *)bn_alloc(&g->allocator, (size_t)n ? (size_t)n : 1, 64);
    if (!buf) {
        fclose(f);
        return bn_fail(BITNET_ERR_NOMEM, "cannot read '%s': out of memory for %ld bytes", path, n);
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        bn_free(&g->allocator, buf);
        return bn_fail(BITNET_ERR_IO, "cannot read '%s': short read", path);
    }
    fclose(f);
    g->data = buf;
    g->size = (uint64_t)n;
    g->owned = 1;
    return BITNET_OK;
}

#if !defined(_WIN32) && !defined(BITNET_NO_MMAP)
/* Maps the file read-only; BITNET_ERR_UNSUPPORTED means "use the read() path". */
static bitnet_status bn_gguf_map_file(bitnet_gguf *g, const char *path) {
    struct stat sb;
    void *p;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return bn_fail(BITNET_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return bn_fail(BITNET_ERR_IO, "cannot read '%s': not a regular file", path);
    }
    if (sb.st_size <= 0 || (uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return BITNET_ERR_UNSUPPORTED;
    }
    p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return BITNET_ERR_UNSUPPORTED;
    g->data = (const unsigned char *)p;
    g->size = (uint64_t)sb.st_size;
    g->mapped = 1;
    return BITNET_OK;
}
#endif

bitnet_status bitnet_gguf_open(bitnet_gguf **out, const char *path, const bitnet_allocator *allocator) {
    bitnet_gguf *g;
    bitnet_status st;
    if (!out || !path) return bn_fail(BITNET_ERR_ARGS, "bitnet_gguf_open: NULL argument");
    if ((st = bn_gguf_new(&g, allocator)) != BITNET_OK) return st;
#if !defined(_WIN32) && !defined(BITNET_NO_MMAP)
    st = bn_gguf_map_file(g, path);
    if (st == BITNET_ERR_UNSUPPORTED) st = bn_gguf_read_file(g, path);
#else
    st = bn_gguf_read_file(g, path);
#endif
    if (st != BITNET_OK) {
        bitnet_gguf_close(g);
        return st;
    }
    st = bn_gguf_finish_open(out, g);
    if (st != BITNET_OK) return bn_fail_prefix(st, "%s", path);
    return BITNET_OK;
}

void bitnet_gguf_close(bitnet_gguf *g) {
    bitnet_allocator a;
    if (!g) return;
    a = g->allocator;
#if !defined(_WIN32) && !defined(BITNET_NO_MMAP)
    if (g->mapped) munmap((void *)g->data, (size_t)g->size);
#endif
    if (g->owned) bn_free(&a, (void *)g->data);
    bn_free(&a, g->keys);
    bn_free(&a, g->values);
    bn_free(&a, g->tensors);
    bn_free(&a, g->str_index);
    bn_free(&a, g->names);
    bn_free(&a, g);
}

/* --- queries --- */

uint32_t bitnet_gguf_version(const bitnet_gguf *g) { return g ? g->version : 0; }
uint32_t bitnet_gguf_alignment(const bitnet_gguf *g) { return g ? g->alignment : 0; }
uint64_t bitnet_gguf_data_offset(const bitnet_gguf *g) { return g ? g->data_offset : 0; }
uint64_t bitnet_gguf_file_size(const bitnet_gguf *g) { return g ? g->size : 0; }
int64_t bitnet_gguf_n_kv(const bitnet_gguf *g) { return g ? g->n_kv : 0; }
int64_t bitnet_gguf_n_tensors(const bitnet_gguf *g) { return g ? g->n_tensors : 0; }

int64_t bitnet_gguf_find_key(const bitnet_gguf *g, const char *key) {
    int64_t i;
    if (!g || !key) return -1;
    for (i = 0; i < g->n_kv; i++)
        if (strcmp(g->keys[i], key) == 0) return i;
    return -1;
}

const char *bitnet_gguf_key(const bitnet_gguf *g, int64_t i) {
    return g && i >= 0 && i < g->n_kv ? g->keys[i] : NULL;
}

const bitnet_gguf_value *bitnet_gguf_kv(const bitnet_gguf *g, int64_t i) {
    return g && i >= 0 && i < g->n_kv ? &g->values[i] : NULL;
}

const bitnet_gguf_tensor *bitnet_gguf_tensor_at(const bitnet_gguf *g, int64_t i) {
    return g && i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const bitnet_gguf_tensor *bitnet_gguf_find_tensor(const bitnet_gguf *g, const char *name) {
    int64_t i;
    if (!g || !name) return NULL;
    for (i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

static bitnet_status bn_gguf_lookup(const bitnet_gguf *g, const char *key, const bitnet_gguf_value **v) {
    int64_t i = bitnet_gguf_find_key(g, key);
    if (i < 0) return bn_fail(BITNET_ERR_NOT_FOUND, "key '%s' not found", key ? key : "(null)");
    *v = &g->values[i];
    return BITNET_OK;
}

static int bn_gguf_is_unsigned(bitnet_gguf_type t) {
    return t == BITNET_GGUF_U8 || t == BITNET_GGUF_U16 || t == BITNET_GGUF_U32 || t == BITNET_GGUF_U64;
}

static int bn_gguf_is_signed(bitnet_gguf_type t) {
    return t == BITNET_GGUF_I8 || t == BITNET_GGUF_I16 || t == BITNET_GGUF_I32 || t == BITNET_GGUF_I64;
}

/* Any integer value as u64 / i64 when it fits. */
static bitnet_status bn_gguf_int(const bitnet_gguf *g, const char *key, uint64_t *u, int64_t *s, int want_signed,
                                 uint64_t umax) {
    const bitnet_gguf_value *v;
    bitnet_status st = bn_gguf_lookup(g, key, &v);
    if (st != BITNET_OK) return st;
    if (bn_gguf_is_unsigned(v->type) && v->num.u64 <= umax) {
        if (want_signed) *s = (int64_t)v->num.u64; else *u = v->num.u64;
        return BITNET_OK;
    }
    if (bn_gguf_is_signed(v->type) && (want_signed || (v->num.i64 >= 0 && (uint64_t)v->num.i64 <= umax))) {
        if (want_signed) *s = v->num.i64; else *u = (uint64_t)v->num.i64;
        return BITNET_OK;
    }
    return bn_fail(BITNET_ERR_TYPE, "key '%s': %s value does not fit the integer asked for", key,
                   bitnet_gguf_type_name(v->type));
}

bitnet_status bitnet_gguf_get_u32(const bitnet_gguf *g, const char *key, uint32_t *out) {
    uint64_t u;
    bitnet_status st = bn_gguf_int(g, key, &u, NULL, 0, UINT32_MAX);
    if (st == BITNET_OK) *out = (uint32_t)u;
    return st;
}

bitnet_status bitnet_gguf_get_u64(const bitnet_gguf *g, const char *key, uint64_t *out) {
    return bn_gguf_int(g, key, out, NULL, 0, UINT64_MAX);
}

bitnet_status bitnet_gguf_get_i64(const bitnet_gguf *g, const char *key, int64_t *out) {
    return bn_gguf_int(g, key, NULL, out, 1, (uint64_t)INT64_MAX);
}

bitnet_status bitnet_gguf_get_f32(const bitnet_gguf *g, const char *key, float *out) {
    const bitnet_gguf_value *v;
    bitnet_status st = bn_gguf_lookup(g, key, &v);
    if (st != BITNET_OK) return st;
    if (v->type == BITNET_GGUF_F32 || v->type == BITNET_GGUF_F64) *out = (float)v->num.f64;
    else if (bn_gguf_is_unsigned(v->type)) *out = (float)v->num.u64;
    else if (bn_gguf_is_signed(v->type)) *out = (float)v->num.i64;
    else return bn_fail(BITNET_ERR_TYPE, "key '%s': %s is not a number", key, bitnet_gguf_type_name(v->type));
    return BITNET_OK;
}

bitnet_status bitnet_gguf_get_bool(const bitnet_gguf *g, const char *key, int *out) {
    const bitnet_gguf_value *v;
    bitnet_status st = bn_gguf_lookup(g, key, &v);
    if (st != BITNET_OK) return st;
    if (v->type != BITNET_GGUF_BOOL)
        return bn_fail(BITNET_ERR_TYPE, "key '%s': %s, expected bool", key, bitnet_gguf_type_name(v->type));
    *out = (int)v->num.u64;
    return BITNET_OK;
}

bitnet_status bitnet_gguf_get_str(const bitnet_gguf *g, const char *key, const char **ptr, size_t *len) {
    const bitnet_gguf_value *v;
    bitnet_status st = bn_gguf_lookup(g, key, &v);
    if (st != BITNET_OK) return st;
    if (v->type != BITNET_GGUF_STRING)
        return bn_fail(BITNET_ERR_TYPE, "key '%s': %s, expected string", key, bitnet_gguf_type_name(v->type));
    *ptr = v->str.ptr;
    if (len) *len = (size_t)v->str.len;
    return BITNET_OK;
}

bitnet_status bitnet_gguf_get_arr(const bitnet_gguf *g, const char *key, const bitnet_gguf_value **array) {
    const bitnet_gguf_value *v;
    bitnet_status st = bn_gguf_lookup(g, key, &v);
    if (st != BITNET_OK) return st;
    if (v->type != BITNET_GGUF_ARRAY)
        return bn_fail(BITNET_ERR_TYPE, "key '%s': %s, expected array", key, bitnet_gguf_type_name(v->type));
    *array = v;
    return BITNET_OK;
}

/* --- writer --- */

typedef struct bn_writer_kv {
    char *key;
    bitnet_gguf_type type;
    unsigned char *payload;      /* (n_payload) the value exactly as it follows the type in the file */
    uint64_t n_payload;
} bn_writer_kv;

typedef struct bn_writer_tensor {
    char *name;
    bitnet_type type;
    uint32_t n_dims;
    uint64_t ne[4];
    uint64_t size, offset;
} bn_writer_tensor;

struct bitnet_gguf_writer {
    bitnet_allocator allocator;
    uint32_t version;
    bn_writer_kv *kvs;
    int64_t n_kvs, cap_kvs;
    bn_writer_tensor *tensors;
    int64_t n_tensors, cap_tensors;
    /* streaming state */
    bitnet_write_fn write;
    void *user;
    FILE *file;
    int started, failed;
    uint32_t alignment;
    int64_t current;             /* tensor receiving bytes */
    uint64_t written;            /* bytes of the current tensor so far */
};

bitnet_status bitnet_gguf_writer_new(bitnet_gguf_writer **out, const bitnet_allocator *allocator) {
    bitnet_allocator a = bn_allocator_or_default(allocator);
    bitnet_gguf_writer *w;
    if (!out) return bn_fail(BITNET_ERR_ARGS, "bitnet_gguf_writer_new: out is NULL");
    w = (bitnet_gguf_writer *)bn_zalloc(&a, sizeof *w);
    if (!w) return bn_fail(BITNET_ERR_NOMEM, "gguf writer: out of memory");
    w->allocator = a;
    w->version = 3;
    *out = w;
    return BITNET_OK;
}

void bitnet_gguf_writer_free(bitnet_gguf_writer *w) {
    int64_t i;
    if (!w) return;
    if (w->file) fclose(w->file);
    for (i = 0; i < w->n_kvs; i++) {
        bn_free(&w->allocator, w->kvs[i].key);
        bn_free(&w->allocator, w->kvs[i].payload);
    }
    for (i = 0; i < w->n_tensors; i++) bn_free(&w->allocator, w->tensors[i].name);
    bn_free(&w->allocator, w->kvs);
    bn_free(&w->allocator, w->tensors);
    bn_free(&w->allocator, w);
}

bitnet_status bitnet_gguf_writer_set_version(bitnet_gguf_writer *w, uint32_t version) {
    if (!w || (version != 2 && version != 3))
        return bn_fail(BITNET_ERR_ARGS, "gguf writer: version %u (supported: 2, 3)", version);
    w->version = version;
    return BITNET_OK;
}

/* Grows a writer array by doubling; elements are plain structs. */
static int bn_writer_grow(const bitnet_allocator *a, void **items, int64_t n, int64_t *cap, size_t item) {
    int64_t new_cap;
    void *p;
    if (n < *cap) return 1;
    new_cap = *cap ? *cap * 2 : 16;
    p = bn_alloc(a, (size_t)new_cap * item, 16);
    if (!p) return 0;
    if (n) memcpy(p, *items, (size_t)n * item);
    bn_free(a, *items);
    *items = p;
    *cap = new_cap;
    return 1;
}

static char *bn_writer_strdup(const bitnet_allocator *a, const char *s) {
    size_t n = strlen(s);
    char *p = (char *)bn_alloc(a, n + 1, 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

static bitnet_status bn_writer_put_kv(bitnet_gguf_writer *w, const char *key, bitnet_gguf_type type,
                                      unsigned char *payload, uint64_t n_payload) {
    int64_t i;
    char *copy;
    for (i = 0; i < w->n_kvs; i++)
        if (strcmp(w->kvs[i].key, key) == 0) {
            bn_free(&w->allocator, w->kvs[i].payload);
            w->kvs[i].type = type;
            w->kvs[i].payload = payload;
            w->kvs[i].n_payload = n_payload;
            return BITNET_OK;
        }
    copy = bn_writer_strdup(&w->allocator, key);
    if (!copy || !bn_writer_grow(&w->allocator, (void **)&w->kvs, w->n_kvs, &w->cap_kvs, sizeof *w->kvs)) {
        bn_free(&w->allocator, copy);
        bn_free(&w->allocator, payload);
        return bn_fail(BITNET_ERR_NOMEM, "gguf writer: out of memory adding key '%s'", key);
    }
    w->kvs[w->n_kvs].key = copy;
    w->kvs[w->n_kvs].type = type;
    w->kvs[w->n_kvs].payload = payload;
    w->kvs[w->n_kvs].n_payload = n_payload;
    w->n_kvs++;
    return BITNET_OK;
}

static void bn_store_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

static void bn_store_u64(unsigned char *p, uint64_t v) {
    bn_store_u32(p, (uint32_t)v);
    bn_store_u32(p + 4, (uint32_t)(v >> 32));
}

/* Serialises a scalar value into its little-endian file form. */
static void bn_writer_encode_scalar(const bitnet_gguf_value *v, unsigned char *p) {
    uint64_t bits = v->num.u64;
    float f;
    uint32_t f32bits;
    switch (v->type) {
        case BITNET_GGUF_F32: f = (float)v->num.f64; memcpy(&f32bits, &f, 4); bn_store_u32(p, f32bits); return;
        case BITNET_GGUF_F64: memcpy(&bits, &v->num.f64, 8); bn_store_u64(p, bits); return;
        case BITNET_GGUF_I8: case BITNET_GGUF_I16: case BITNET_GGUF_I32: case BITNET_GGUF_I64:
            bits = (uint64_t)v->num.i64; break;
        default: break;
    }
    bn_store_u64(p, bits);   /* little-endian: the low bytes are the value at any width */
}

bitnet_status bitnet_gguf_writer_set(bitnet_gguf_writer *w, const char *key, const bitnet_gguf_value *v) {
    uint64_t n;
    unsigned char *p;
    uint32_t size;
    if (!w || !key || !v || !*key || strlen(key) > BN__GGUF_MAX_NAME)
        return bn_fail(BITNET_ERR_ARGS, "gguf writer: bad key or value");
    if (w->started) return bn_fail(BITNET_ERR_ARGS, "gguf writer: key '%s' added after begin", key);
    size = bn_gguf_scalar_size(v->type);
    if (v->type == BITNET_GGUF_STRING) n = 8 + v->str.len;
    else if (v->type == BITNET_GGUF_ARRAY) n = 12 + v->arr.bytes;
    else if (size) n = 8;    /* scratch is 8 bytes; only `size` are written */
    else return bn_fail(BITNET_ERR_ARGS, "gguf writer: key '%s': unknown value type %d", key, (int)v->type);
    p = (unsigned char *)bn_alloc(&w->allocator, (size_t)n, 8);
    if (!p) return bn_fail(BITNET_ERR_NOMEM, "gguf writer: out of memory for key '%s'", key);
    if (v->type == BITNET_GGUF_STRING) {
        bn_store_u64(p, v->str.len);
        if (v->str.len) memcpy(p + 8, v->str.ptr, (size_t)v->str.len);
    } else if (v->type == BITNET_GGUF_ARRAY) {
        bn_store_u32(p, (uint32_t)v->arr.elem_type);
        bn_store_u64(p + 4, v->arr.count);
        if (v->arr.bytes) memcpy(p + 12, v->arr.data, (size_t)v->arr.bytes);
    } else {
        bn_writer_encode_scalar(v, p);
        n = size;
    }
    if (strcmp(key, "general.alignment") == 0 &&
        (v->type != BITNET_GGUF_U32 || !v->num.u64 || (v->num.u64 & (v->num.u64 - 1)))) {
        bn_free(&w->allocator, p);
        return bn_fail(BITNET_ERR_ARGS, "gguf writer: general.alignment must be a u32 power of two");
    }
    return bn_writer_put_kv(w, key, v->type, p, n);
}

static bitnet_status bn_writer_set_num(bitnet_gguf_writer *w, const char *key, bitnet_gguf_type type,
                                       uint64_t u, int64_t i, double f) {
    bitnet_gguf_value v;
    memset(&v, 0, sizeof v);
    v.type = type;
    if (type == BITNET_GGUF_F32 || type == BITNET_GGUF_F64) v.num.f64 = f;
    else if (bn_gguf_is_signed(type)) v.num.i64 = i;
    else v.num.u64 = u;
    return bitnet_gguf_writer_set(w, key, &v);
}

bitnet_status bitnet_gguf_writer_set_u32(bitnet_gguf_writer *w, const char *key, uint32_t v) {
    return bn_writer_set_num(w, key, BITNET_GGUF_U32, v, 0, 0);
}
bitnet_status bitnet_gguf_writer_set_i32(bitnet_gguf_writer *w, const char *key, int32_t v) {
    return bn_writer_set_num(w, key, BITNET_GGUF_I32, 0, v, 0);
}
bitnet_status bitnet_gguf_writer_set_u64(bitnet_gguf_writer *w, const char *key, uint64_t v) {
    return bn_writer_set_num(w, key, BITNET_GGUF_U64, v, 0, 0);
}
bitnet_status bitnet_gguf_writer_set_f32(bitnet_gguf_writer *w, const char *key, float v) {
    return bn_writer_set_num(w, key, BITNET_GGUF_F32, 0, 0, v);
}
bitnet_status bitnet_gguf_writer_set_bool(bitnet_gguf_writer *w, const char *key, int v) {
    return bn_writer_set_num(w, key, BITNET_GGUF_BOOL, v != 0, 0, 0);
}

bitnet_status bitnet_gguf_writer_set_str(bitnet_gguf_writer *w, const char *key, const char *s) {
    bitnet_gguf_value v;
    if (!s) return bn_fail(BITNET_ERR_ARGS, "gguf writer: key '%s': NULL string", key ? key : "");
    memset(&v, 0, sizeof v);
    v.type = BITNET_GGUF_STRING;
    v.str.ptr = s;
    v.str.len = strlen(s);
    return bitnet_gguf_writer_set(w, key, &v);
}

bitnet_status bitnet_gguf_writer_set_arr(bitnet_gguf_writer *w, const char *key, bitnet_gguf_type elem_type,
                                         const void *elems, uint64_t count) {
    bitnet_gguf_value v;
    uint32_t size = bn_gguf_scalar_size(elem_type);
    if (!size || (!elems && count) || !bn_mul_u64(count, size, &v.arr.bytes))
        return bn_fail(BITNET_ERR_ARGS, "gguf writer: key '%s': bad fixed-size array", key ? key : "");
    v.type = BITNET_GGUF_ARRAY;
    v.arr.elem_type = elem_type;
    v.arr.count = count;
    v.arr.data = elems;   /* native layout equals file layout on little-endian hosts */
    v.arr.index_ = NULL;
    return bitnet_gguf_writer_set(w, key, &v);
}

bitnet_status bitnet_gguf_writer_set_arr_str(bitnet_gguf_writer *w, const char *key, const char *const *strs,
                                             uint64_t count) {
    uint64_t i, bytes = 12, pos = 12;
    unsigned char *p;
    if (!w || !key || (!strs && count)) return bn_fail(BITNET_ERR_ARGS, "gguf writer: bad string array");
    if (w->started) return bn_fail(BITNET_ERR_ARGS, "gguf writer: key '%s' added after begin", key);
    for (i = 0; i < count; i++) bytes += 8 + (strs[i] ? strlen(strs[i]) : 0);
    p = (unsigned char *)bn_alloc(&w->allocator, (size_t)bytes, 8);
    if (!p) return bn_fail(BITNET_ERR_NOMEM, "gguf writer: out of memory for key '%s'", key);
    bn_store_u32(p, BITNET_GGUF_STRING);
    bn_store_u64(p + 4, count);
    for (i = 0; i < count; i++) {
        size_t n = strs[i] ? strlen(strs[i]) : 0;
        bn_store_u64(p + pos, n);
        if (n) memcpy(p + pos + 8, strs[i], n);
        pos += 8 + n;
    }
    return bn_writer_put_kv(w, key, BITNET_GGUF_ARRAY, p, bytes);
}

bitnet_status bitnet_gguf_writer_add_tensor(bitnet_gguf_writer *w, const char *name, bitnet_type type,
                                            uint32_t n_dims, const uint64_t *ne) {
    bn_writer_tensor t;
    int64_t i;
    uint32_t d;
    bitnet_status st;
    if (!w || !name || !*name || !ne || strlen(name) > BN__GGUF_MAX_NAME)
        return bn_fail(BITNET_ERR_ARGS, "gguf writer: bad tensor name or shape");
    if (w->started) return bn_fail(BITNET_ERR_ARGS, "gguf writer: tensor '%s' added after begin", name);
    for (i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return bn_fail(BITNET_ERR_ARGS, "gguf writer: duplicate tensor '%s'", name);
    memset(&t, 0, sizeof t);
    if ((st = bitnet_tensor_bytes(type, n_dims, ne, &t.size)) != BITNET_OK)
        return bn_fail_prefix(st, "gguf writer: tensor '%s'", name);
    t.type = type;
    t.n_dims = n_dims;
    for (d = 0; d < 4; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    t.name = bn_writer_strdup(&w->allocator, name);
    if (!t.name || !bn_writer_grow(&w->allocator, (void **)&w->tensors, w->n_tensors, &w->cap_tensors,
                                   sizeof *w->tensors)) {
        bn_free(&w->allocator, t.name);
        return bn_fail(BITNET_ERR_NOMEM, "gguf writer: out of memory adding tensor '%s'", name);
    }
    w->tensors[w->n_tensors++] = t;
    return BITNET_OK;
}

/* --- streaming output --- */

static bitnet_status bn_writer_emit(bitnet_gguf_writer *w, const void *data, size_t size) {
    if (w->failed) return BITNET_ERR_IO;
    if (size && w->write(data, size, w->user) != 0) {
        w->failed = 1;
        return bn_fail(BITNET_ERR_IO, "gguf writer: write of %zu bytes failed", size);
    }
    return BITNET_OK;
}

static bitnet_status bn_writer_emit_u32(bitnet_gguf_writer *w, uint32_t v) {
    unsigned char b[4];
    bn_store_u32(b, v);
    return bn_writer_emit(w, b, 4);
}

static bitnet_status bn_writer_emit_u64(bitnet_gguf_writer *w, uint64_t v) {
    unsigned char b[8];
    bn_store_u64(b, v);
    return bn_writer_emit(w, b, 8);
}

static bitnet_status bn_writer_emit_str(bitnet_gguf_writer *w, const char *s) {
    size_t n = strlen(s);
    bitnet_status st = bn_writer_emit_u64(w, n);
    return st != BITNET_OK ? st : bn_writer_emit(w, s, n);
}

static bitnet_status bn_writer_emit_zeros(bitnet_gguf_writer *w, uint64_t n) {
    static const unsigned char zeros[64];
    bitnet_status st = BITNET_OK;
    while (n && st == BITNET_OK) {
        size_t k = n > sizeof zeros ? sizeof zeros : (size_t)n;
        st = bn_writer_emit(w, zeros, k);
        n -= k;
    }
    return st;
}

static uint32_t bn_writer_alignment(const bitnet_gguf_writer *w) {
    int64_t i;
    for (i = 0; i < w->n_kvs; i++)
        if (strcmp(w->kvs[i].key, "general.alignment") == 0 && w->kvs[i].type == BITNET_GGUF_U32)
            return bn_load_u32(w->kvs[i].payload);
    return BN__GGUF_DEFAULT_ALIGNMENT;
}

static bitnet_status bn_writer_emit_header(bitnet_gguf_writer *w) {
    int64_t i;
    uint64_t pos = 24, offset = 0;
    uint32_t d;
    bitnet_status st = BITNET_OK;
    bn_writer_emit_u32(w, BN__GGUF_MAGIC);
    bn_writer_emit_u32(w, w->version);
    bn_writer_emit_u64(w, (uint64_t)w->n_tensors);
    bn_writer_emit_u64(w, (uint64_t)w->n_kvs);
    for (i = 0; i < w->n_kvs; i++) {
        bn_writer_emit_str(w, w->kvs[i].key);
        bn_writer_emit_u32(w, (uint32_t)w->kvs[i].type);
        bn_writer_emit(w, w->kvs[i].payload, (size_t)w->kvs[i].n_payload);
        pos += 8 + strlen(w->kvs[i].key) + 4 + w->kvs[i].n_payload;
    }
    for (i = 0; i < w->n_tensors; i++) {
        bn_writer_tensor *t = &w->tensors[i];
        t->offset = offset;
        offset = bn_align_up_u64(offset + t->size, w->alignment);
        bn_writer_emit_str(w, t->name);
        bn_writer_emit_u32(w, t->n_dims);
        for (d = 0; d < t->n_dims; d++) bn_writer_emit_u64(w, t->ne[d]);
        bn_writer_emit_u32(w, (uint32_t)t->type);
        st = bn_writer_emit_u64(w, t->offset);
        pos += 8 + strlen(t->name) + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
    }
    if (st == BITNET_OK && w->n_tensors > 0) st = bn_writer_emit_zeros(w, bn_align_up_u64(pos, w->alignment) - pos);
    return w->failed ? BITNET_ERR_IO : st;
}

static int bn_writer_file_fn(const void *data, size_t size, void *user) {
    return fwrite(data, 1, size, (FILE *)user) == size ? 0 : -1;
}

bitnet_status bitnet_gguf_writer_begin_fn(bitnet_gguf_writer *w, bitnet_write_fn fn, void *user) {
    if (!w || !fn) return bn_fail(BITNET_ERR_ARGS, "bitnet_gguf_writer_begin_fn: NULL argument");
    if (w->started) return bn_fail(BITNET_ERR_ARGS, "gguf writer: already started");
    w->write = fn;
    w->user = user;
    w->started = 1;
    w->failed = 0;
    w->alignment = bn_writer_alignment(w);
    w->current = 0;
    w->written = 0;
    return bn_writer_emit_header(w);
}

bitnet_status bitnet_gguf_writer_begin(bitnet_gguf_writer *w, const char *path) {
    if (!w || !path) return bn_fail(BITNET_ERR_ARGS, "bitnet_gguf_writer_begin: NULL argument");
    w->file = fopen(path, "wb");
    if (!w->file) return bn_fail(BITNET_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    return bitnet_gguf_writer_begin_fn(w, bn_writer_file_fn, w->file);
}

bitnet_status bitnet_gguf_writer_write(bitnet_gguf_writer *w, const void *data, size_t size) {
    const unsigned char *p = (const unsigned char *)data;
    if (!w || !w->started || (!data && size)) return bn_fail(BITNET_ERR_ARGS, "gguf writer: write before begin");
    while (size) {
        bn_writer_tensor *t;
        uint64_t room;
        size_t k;
        bitnet_status st;
        if (w->current >= w->n_tensors)
            return bn_fail(BITNET_ERR_ARGS, "gguf writer: %zu bytes more than the tensors hold", size);
        t = &w->tensors[w->current];
        room = t->size - w->written;
        k = room < size ? (size_t)room : size;
        if ((st = bn_writer_emit(w, p, k)) != BITNET_OK) return st;
        p += k;
        size -= k;
        w->written += k;
        if (w->written == t->size) {
            uint64_t end = t->offset + t->size;
            if ((st = bn_writer_emit_zeros(w, bn_align_up_u64(end, w->alignment) - end)) != BITNET_OK) return st;
            w->current++;
            w->written = 0;
        }
    }
    return BITNET_OK;
}

bitnet_status bitnet_gguf_writer_end(bitnet_gguf_writer *w) {
    bitnet_status st = BITNET_OK;
    if (!w || !w->started) return bn_fail(BITNET_ERR_ARGS, "gguf writer: end before begin");
    if (w->current < w->n_tensors)
        st = bn_fail(BITNET_ERR_ARGS, "gguf writer: tensor '%s' got %llu of its %llu bytes",
                     w->tensors[w->current].name, (unsigned long long)w->written,
                     (unsigned long long)w->tensors[w->current].size);
    if (w->failed && st == BITNET_OK) st = bn_fail(BITNET_ERR_IO, "gguf writer: an earlier write failed");
    if (w->file) {
        if (fclose(w->file) != 0 && st == BITNET_OK) st = bn_fail(BITNET_ERR_IO, "gguf writer: close failed");
        w->file = NULL;
    }
    w->started = 0;
    return st;
}


/* ===== quant ===== */

#if BN__X86 && (defined(__GNUC__) || defined(__clang__))
#  define BN__QUANT_X86 1
#  include <immintrin.h>
#endif

#define BN__QK8_0 32            /* block_q8_0  { f16 d; i8 qs[32]; }                     34 B */
#define BN__QK_K 256            /* block_q6_K  { u8 ql[128]; u8 qh[64]; i8 sc[16]; f16 d; } 210 B;
                                   block_tq1_0 { u8 qs[48]; u8 qh[4]; f16 d; }          54 B;
                                   block_tq2_0 { u8 qs[64]; f16 d; }                    66 B */
#define BN__QK_I2S 128          /* I2_S: 128 codes in 32 bytes; tensor tail f32 alpha + 28 B */

/* -- float rows: scalar code; the vector loops below do a prefix and return its length -- */

static float bn_quant_h2f(uint16_t h) {
    float f = bn_fp16_to_fp32(h);
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) {        /* NaN: quiet it, as F16C/NEON do */
        uint32_t bits;
        memcpy(&bits, &f, 4);
        bits |= 0x400000;
        memcpy(&f, &bits, 4);
    }
    return f;
}

static void bn_fp16_to_fp32_scalar(const uint16_t *src, float *dst, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) dst[i] = bn_quant_h2f(src[i]);
}

static void bn_fp32_to_fp16_scalar(const float *src, uint16_t *dst, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) dst[i] = bn_fp32_to_fp16(src[i]);
}

static void bn_bf16_to_fp32_scalar(const uint16_t *src, float *dst, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) dst[i] = bn_bf16_to_fp32(src[i]);
}

static void bn_fp32_to_bf16_scalar(const float *src, uint16_t *dst, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) dst[i] = bn_fp32_to_bf16(src[i]);
}

#if BN__QUANT_X86
#define BN__RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

__attribute__((target("avx,f16c")))
static size_t bn_fp16_to_fp32_f16c(const uint16_t *src, float *dst, size_t n) {
    size_t i;
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    return i;
}

__attribute__((target("avx,f16c")))
static size_t bn_fp32_to_fp16_f16c(const float *src, uint16_t *dst, size_t n) {
    size_t i;
    for (i = 0; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), BN__RNE));
    return i;
}

__attribute__((target("avx512f")))
static size_t bn_fp16_to_fp32_avx512(const uint16_t *src, float *dst, size_t n) {
    size_t i;
    for (i = 0; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    return i;
}

__attribute__((target("avx512f")))
static size_t bn_fp32_to_fp16_avx512(const float *src, uint16_t *dst, size_t n) {
    size_t i;
    for (i = 0; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), BN__RNE));
    return i;
}

__attribute__((target("avx2")))
static size_t bn_bf16_to_fp32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(w, 16));
    }
    return i;
}

__attribute__((target("avx512f")))
static size_t bn_bf16_to_fp32_avx512(const uint16_t *src, float *dst, size_t n) {
    size_t i;
    for (i = 0; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_si512((void *)(dst + i), _mm512_slli_epi32(w, 16));
    }
    return i;
}

/* bn_fp32_to_bf16 on 8 lanes: (x + 0x7fff + lsb) >> 16, NaN -> (x >> 16) | 0x40. Values
   end up in 0..0xffff, so an unsigned-saturating pack keeps them. */
__attribute__((target("avx2")))
static __m256i bn_bf16_round8_avx2(__m256i x) {
    __m256i hi = _mm256_srli_epi32(x, 16);
    __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), lsb), 16);
    __m256i mag = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
    __m256i nan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7f800000));
    return _mm256_blendv_epi8(r, _mm256_or_si256(hi, _mm256_set1_epi32(0x40)), nan);
}

__attribute__((target("avx2")))
static size_t bn_fp32_to_bf16_avx2(const float *src, uint16_t *dst, size_t n) {
    size_t i;
    for (i = 0; i + 16 <= n; i += 16) {
        __m256i a = bn_bf16_round8_avx2(_mm256_loadu_si256((const __m256i *)(src + i)));
        __m256i b = bn_bf16_round8_avx2(_mm256_loadu_si256((const __m256i *)(src + i + 8)));
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
        _mm256_storeu_si256((__m256i *)(dst + i), p);
    }
    return i;
}

__attribute__((target("avx512f")))
static size_t bn_fp32_to_bf16_avx512(const float *src, uint16_t *dst, size_t n) {
    size_t i;
    for (i = 0; i + 16 <= n; i += 16) {
        __m512i x = _mm512_loadu_si512((const void *)(src + i));
        __m512i hi = _mm512_srli_epi32(x, 16);
        __m512i lsb = _mm512_and_si512(hi, _mm512_set1_epi32(1));
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), lsb), 16);
        __m512i mag = _mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff));
        __mmask16 nan = _mm512_cmpgt_epi32_mask(mag, _mm512_set1_epi32(0x7f800000));
        r = _mm512_mask_blend_epi32(nan, r, _mm512_or_si512(hi, _mm512_set1_epi32(0x40)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtepi32_epi16(r));
    }
    return i;
}
#endif /* BN__QUANT_X86 */

#if BN__ARM64
#  include <arm_neon.h>
/* aarch64 converts halves in hardware (FPCR default: round to nearest even, no flush). */
static size_t bn_fp16_to_fp32_neon(const uint16_t *src, float *dst, size_t n) {
    size_t i;
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
    return i;
}

static size_t bn_fp32_to_fp16_neon(const float *src, uint16_t *dst, size_t n) {
    size_t i;
    for (i = 0; i + 4 <= n; i += 4) vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
    return i;
}

static size_t bn_bf16_to_fp32_neon(const uint16_t *src, float *dst, size_t n) {
    size_t i;
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(dst + i, vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(src + i), 16)));
    return i;
}

static size_t bn_fp32_to_bf16_neon(const float *src, uint16_t *dst, size_t n) {
    size_t i;
    for (i = 0; i + 4 <= n; i += 4) {
        uint32x4_t x = vreinterpretq_u32_f32(vld1q_f32(src + i)), hi = vshrq_n_u32(x, 16);
        uint32x4_t r = vshrq_n_u32(vaddq_u32(vaddq_u32(x, vdupq_n_u32(0x7fff)), vandq_u32(hi, vdupq_n_u32(1))), 16);
        uint32x4_t nan = vcgtq_u32(vandq_u32(x, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
        vst1_u16(dst + i, vmovn_u32(vbslq_u32(nan, vorrq_u32(hi, vdupq_n_u32(0x40)), r)));
    }
    return i;
}
#endif /* BN__ARM64 */

/* The widest vector loop this CPU runs for each conversion; the scalar code finishes. */
#if BN__QUANT_X86
#  define BN__QUANT_PICK(avx512, avx2, avx2_feature, neon)                            \
    do {                                                                              \
        uint32_t f_ = bitnet_cpu_features();                                          \
        if (f_ & BITNET_CPU_AVX512F) i = avx512(src, dst, n);                         \
        else if (f_ & (avx2_feature)) i = avx2(src, dst, n);                          \
    } while (0)
#elif BN__ARM64
#  define BN__QUANT_PICK(avx512, avx2, avx2_feature, neon) (i = neon(src, dst, n))
#else
#  define BN__QUANT_PICK(avx512, avx2, avx2_feature, neon) ((void)0)
#endif

void bitnet_fp16_to_fp32_row(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    BN__QUANT_PICK(bn_fp16_to_fp32_avx512, bn_fp16_to_fp32_f16c, BITNET_CPU_F16C, bn_fp16_to_fp32_neon);
    bn_fp16_to_fp32_scalar(src + i, dst + i, n - i);
}

void bitnet_fp32_to_fp16_row(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    BN__QUANT_PICK(bn_fp32_to_fp16_avx512, bn_fp32_to_fp16_f16c, BITNET_CPU_F16C, bn_fp32_to_fp16_neon);
    bn_fp32_to_fp16_scalar(src + i, dst + i, n - i);
}

void bitnet_bf16_to_fp32_row(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    BN__QUANT_PICK(bn_bf16_to_fp32_avx512, bn_bf16_to_fp32_avx2, BITNET_CPU_AVX2, bn_bf16_to_fp32_neon);
    bn_bf16_to_fp32_scalar(src + i, dst + i, n - i);
}

void bitnet_fp32_to_bf16_row(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    BN__QUANT_PICK(bn_fp32_to_bf16_avx512, bn_fp32_to_bf16_avx2, BITNET_CPU_AVX2, bn_fp32_to_bf16_neon);
    bn_fp32_to_bf16_scalar(src + i, dst + i, n - i);
}

/* -- sizes -- */

/* Bytes of an n_rows x n_cols tensor of `type`; `who` names the caller in messages. */
static bitnet_status bn_quant_bytes(const char *who, bitnet_type type, uint64_t n_rows,
                                    uint64_t n_cols, uint64_t *bytes) {
    uint64_t block, block_bytes, n;
    switch (type) {
        case BITNET_TYPE_F32:   block = 1; block_bytes = 4; break;
        case BITNET_TYPE_F16:
        case BITNET_TYPE_BF16:  block = 1; block_bytes = 2; break;
        case BITNET_TYPE_Q8_0:  block = BN__QK8_0; block_bytes = 34; break;
        case BITNET_TYPE_Q6_K:  block = BN__QK_K; block_bytes = 210; break;
        case BITNET_TYPE_TQ1_0: block = BN__QK_K; block_bytes = 54; break;
        case BITNET_TYPE_TQ2_0: block = BN__QK_K; block_bytes = 66; break;
        case BITNET_TYPE_I2_S:  block = BN__QK_I2S; block_bytes = 32; break;
        default:
            return bn_fail(BITNET_ERR_UNSUPPORTED, "%s: tensor type %s (%d) is not supported",
                           who, bitnet_type_name(type), (int)type);
    }
    if (n_cols % block)
        return bn_fail(BITNET_ERR_FORMAT, "%s: %s rows need a multiple of %llu columns, got %llu",
                       who, bitnet_type_name(type), (unsigned long long)block,
                       (unsigned long long)n_cols);
    if (!bn_mul_u64(n_rows, n_cols, &n) || n > SIZE_MAX / sizeof(float) ||
        !bn_mul_u64(n / block, block_bytes, bytes) ||
        (type == BITNET_TYPE_I2_S && !bn_add_u64(*bytes, 32, bytes)))
        return bn_fail(BITNET_ERR_FORMAT, "%s: %llu x %llu tensor is too large", who,
                       (unsigned long long)n_rows, (unsigned long long)n_cols);
    return BITNET_OK;
}

/* -- dequantize: one block (or one I2_S tensor) at a time, from unaligned bytes -- */

static void bn_dequant_q8_0(const unsigned char *x, float *y, uint64_t nb) {
    uint64_t i;
    int j;
    for (i = 0; i < nb; i++, x += 34, y += BN__QK8_0) {
        float d = bn_fp16_to_fp32(bn_load_u16(x));
        for (j = 0; j < BN__QK8_0; j++) y[j] = (float)(int8_t)x[2 + j] * d;
    }
}

static void bn_dequant_q6_k(const unsigned char *x, float *y, uint64_t nb) {
    uint64_t i;
    int half, l;
    for (i = 0; i < nb; i++, x += 210) {
        const unsigned char *ql = x, *qh = x + 128;
        const signed char *sc = (const signed char *)(x + 192);
        float d = bn_fp16_to_fp32(bn_load_u16(x + 208));
        for (half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xf) | ((qh[l] >> 0 & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xf) | ((qh[l] >> 2 & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

static void bn_dequant_tq2_0(const unsigned char *x, float *y, uint64_t nb) {
    uint64_t i;
    int j, l, m;
    for (i = 0; i < nb; i++, x += 66) {
        float d = bn_fp16_to_fp32(bn_load_u16(x + 64));
        for (j = 0; j < 64; j += 32)
            for (l = 0; l < 4; l++)
                for (m = 0; m < 32; m++) *y++ = (float)(((x[j + m] >> (2 * l)) & 3) - 1) * d;
    }
}

/* Trit n (0 = most significant) of a TQ1_0 byte that stores ceil(v * 256 / 243). */
static int bn_tq1_trit(unsigned char byte, int n) {
    static const unsigned char pow3[5] = { 1, 3, 9, 27, 81 };
    unsigned char q = (unsigned char)(byte * pow3[n]);
    return ((uint16_t)q * 3) >> 8;
}

static void bn_dequant_tq1_0(const unsigned char *x, float *y, uint64_t nb) {
    uint64_t i;
    int n, m;
    for (i = 0; i < nb; i++, x += 54) {
        float d = bn_fp16_to_fp32(bn_load_u16(x + 52));
        for (n = 0; n < 5; n++)                                 /* qs[0..31]: elements 0..159 */
            for (m = 0; m < 32; m++) *y++ = (float)(bn_tq1_trit(x[m], n) - 1) * d;
        for (n = 0; n < 5; n++)                                 /* qs[32..47]: 160..239 */
            for (m = 0; m < 16; m++) *y++ = (float)(bn_tq1_trit(x[32 + m], n) - 1) * d;
        for (n = 0; n < 4; n++)                                 /* qh[0..3]: 240..255 */
            for (m = 0; m < 4; m++) *y++ = (float)(bn_tq1_trit(x[48 + m], n) - 1) * d;
    }
}

/* Checked before decoding, so that dst stays untouched on failure. */
static bitnet_status bn_i2_s_check_codes(const unsigned char *x, uint64_t n) {
    uint64_t i;
    int g;
    for (i = 0; i < n / 4; i++) {
        if (!(x[i] & x[i] >> 1 & 0x55)) continue;
        for (g = 0; (x[i] >> (6 - 2 * g) & 3) != 3; g++) {}
        return bn_fail(BITNET_ERR_FORMAT, "bitnet_dequantize: I2_S code 3 at element %llu "
                       "(only 0, 1, 2 are valid)", (unsigned long long)(i / 32 * 128 + (uint64_t)g * 32 + i % 32));
    }
    return BITNET_OK;
}

static void bn_dequant_i2_s(const unsigned char *x, float *y, uint64_t n) {
    float alpha = bn_load_f32(x + n / 4);
    uint64_t f;
    for (f = 0; f < n; f++) {
        int c = x[f / 128 * 32 + f % 32] >> (6 - 2 * (int)(f % 128 / 32)) & 3;
        y[f] = (float)(c - 1) * alpha;
    }
}

/* A 16-bit float row from possibly unaligned bytes (bounced through an aligned buffer). */
static void bn_dequant_half(const unsigned char *src, float *dst, uint64_t n,
                            void (*row)(const uint16_t *, float *, size_t)) {
    uint16_t tmp[256];
    uint64_t i, c;
    if ((uintptr_t)src % sizeof(uint16_t) == 0) {
        row((const uint16_t *)(const void *)src, dst, (size_t)n);
        return;
    }
    for (i = 0; i < n; i += c) {
        c = n - i < 256 ? n - i : 256;
        memcpy(tmp, src + 2 * i, (size_t)c * 2);
        row(tmp, dst + i, (size_t)c);
    }
}

bitnet_status bitnet_dequantize(bitnet_type type, const void *src, uint64_t src_size,
                                uint64_t n_rows, uint64_t n_cols, float *dst) {
    const unsigned char *x = (const unsigned char *)src;
    uint64_t bytes, n = n_rows * n_cols;
    bitnet_status st = bn_quant_bytes("bitnet_dequantize", type, n_rows, n_cols, &bytes);
    if (st != BITNET_OK) return st;
    if (src_size < bytes)
        return bn_fail(BITNET_ERR_FORMAT, "bitnet_dequantize: %s %llu x %llu tensor needs %llu "
                       "bytes, got %llu", bitnet_type_name(type), (unsigned long long)n_rows,
                       (unsigned long long)n_cols, (unsigned long long)bytes,
                       (unsigned long long)src_size);
    if (!n) return BITNET_OK;
    if (!src || !dst) return bn_fail(BITNET_ERR_ARGS, "bitnet_dequantize: NULL buffer");
    if (type == BITNET_TYPE_I2_S && (st = bn_i2_s_check_codes(x, n)) != BITNET_OK) return st;
    switch (type) {
        case BITNET_TYPE_F32:   memcpy(dst, x, (size_t)n * 4); break;
        case BITNET_TYPE_F16:   bn_dequant_half(x, dst, n, bitnet_fp16_to_fp32_row); break;
        case BITNET_TYPE_BF16:  bn_dequant_half(x, dst, n, bitnet_bf16_to_fp32_row); break;
        case BITNET_TYPE_Q8_0:  bn_dequant_q8_0(x, dst, n / BN__QK8_0); break;
        case BITNET_TYPE_Q6_K:  bn_dequant_q6_k(x, dst, n / BN__QK_K); break;
        case BITNET_TYPE_TQ1_0: bn_dequant_tq1_0(x, dst, n / BN__QK_K); break;
        case BITNET_TYPE_TQ2_0: bn_dequant_tq2_0(x, dst, n / BN__QK_K); break;
        default:                bn_dequant_i2_s(x, dst, n); break;   /* I2_S: the only other */
    }
    return BITNET_OK;
}

/* -- quantize: byte-exact re-implementations of the reference quantizers -- */

static void bn_quant_q8_0(const float *x, unsigned char *y, uint64_t nb) {
    uint64_t i;
    int j;
    for (i = 0; i < nb; i++, x += BN__QK8_0, y += 34) {
        float amax = 0.0f, d, id;
        uint16_t dh;
        for (j = 0; j < BN__QK8_0; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        d = amax / 127;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        dh = bn_fp32_to_fp16(d);
        memcpy(y, &dh, 2);                              /* the library targets little-endian */
        for (j = 0; j < BN__QK8_0; j++) y[2 + j] = (unsigned char)(int8_t)roundf(x[j] * id);
    }
}

/* llama.cpp's ternary block scale: d = max|x| of the block, trits lroundf(x/d) + 1. */
static float bn_tq_scale(const float *x, unsigned char *d_out) {
    float amax = 0.0f;
    uint16_t dh;
    int j;
    for (j = 0; j < BN__QK_K; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    dh = bn_fp32_to_fp16(amax);
    memcpy(d_out, &dh, 2);
    return amax != 0.0f ? 1.0f / amax : 0.0f;
}

static int bn_tq_trit(float x, float id) { return (int)lroundf(x * id) + 1; }

static void bn_quant_tq2_0(const float *x, unsigned char *y, uint64_t nb) {
    uint64_t i;
    int j, m, n;
    for (i = 0; i < nb; i++, y += 66) {
        float id = bn_tq_scale(x, y + 64);
        for (j = 0; j < 64; j += 32, x += 128)
            for (m = 0; m < 32; m++) {
                unsigned q = 0;
                for (n = 0; n < 4; n++) q += (unsigned)(bn_tq_trit(x[m + n * 32], id) & 3) << (2 * n);
                y[j + m] = (unsigned char)q;
            }
    }
}

/* Base-3 packing of `count` trits x[0], x[stride], ... (first most significant), padded to
   5 trits, stored as ceil(v * 256 / 243). */
static unsigned char bn_tq1_pack(const float *x, int stride, int count, float id) {
    unsigned q = 0;
    int n;
    for (n = 0; n < count; n++) q = q * 3 + (unsigned)bn_tq_trit(x[n * stride], id);
    for (; n < 5; n++) q *= 3;
    return (unsigned char)(((q & 0xff) * 256 + 242) / 243);
}

static void bn_quant_tq1_0(const float *x, unsigned char *y, uint64_t nb) {
    uint64_t i;
    int m;
    for (i = 0; i < nb; i++, x += BN__QK_K, y += 54) {
        float id = bn_tq_scale(x, y + 52);
        for (m = 0; m < 32; m++) y[m] = bn_tq1_pack(x + m, 32, 5, id);
        for (m = 0; m < 16; m++) y[32 + m] = bn_tq1_pack(x + 160 + m, 16, 5, id);
        for (m = 0; m < 4; m++) y[48 + m] = bn_tq1_pack(x + 240 + m, 4, 4, id);
    }
}

/* bitnet.cpp: alpha = max|x| over the whole tensor (in double), code 1 for |x| < 1e-6,
   else 2 for positive and 0 for negative; 4 codes of one 128-block per byte. */
static void bn_quant_i2_s(const float *x, unsigned char *y, uint64_t n) {
    double amax = 0;
    float alpha;
    uint64_t f;
    for (f = 0; f < n; f++) amax = fmax(amax, fabs((double)x[f]));
    memset(y, 0, (size_t)(n / 4 + 32));
    for (f = 0; f < n; f++) {
        double v = x[f];
        unsigned c = fabs(v) < 1e-6 ? 1u : v * amax > 0 ? 2u : 0u;
        y[f / 128 * 32 + f % 32] |= (unsigned char)(c << (6 - 2 * (f % 128 / 32)));
    }
    alpha = (float)amax;
    memcpy(y + n / 4, &alpha, 4);
}

/* A 16-bit float row into possibly unaligned bytes. */
static void bn_quant_half(const float *src, unsigned char *dst, uint64_t n,
                          void (*row)(const float *, uint16_t *, size_t)) {
    uint16_t tmp[256];
    uint64_t i, c;
    if ((uintptr_t)dst % sizeof(uint16_t) == 0) {
        row(src, (uint16_t *)(void *)dst, (size_t)n);
        return;
    }
    for (i = 0; i < n; i += c) {
        c = n - i < 256 ? n - i : 256;
        row(src + i, tmp, (size_t)c);
        memcpy(dst + 2 * i, tmp, (size_t)c * 2);
    }
}

static bitnet_status bn_quant_check_finite(const char *who, const float *x, uint64_t n) {
    uint64_t i;
    for (i = 0; i < n; i++)
        if (!(fabsf(x[i]) <= FLT_MAX))
            return bn_fail(BITNET_ERR_ARGS, "%s: element %llu is %s; quantized types need finite "
                           "values", who, (unsigned long long)i, x[i] != x[i] ? "NaN" : "Inf");
    return BITNET_OK;
}

bitnet_status bitnet_quantize(bitnet_type type, const float *src, uint64_t n_rows,
                              uint64_t n_cols, void *dst, uint64_t dst_size) {
    unsigned char *y = (unsigned char *)dst;
    uint64_t bytes, n = n_rows * n_cols;
    bitnet_status st = bn_quant_bytes("bitnet_quantize", type, n_rows, n_cols, &bytes);
    if (st != BITNET_OK) return st;
    if (type == BITNET_TYPE_Q6_K)
        return bn_fail(BITNET_ERR_UNSUPPORTED, "bitnet_quantize: Q6_K is read-only here "
                       "(no Q6_K quantizer)");
    if (dst_size < bytes)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_quantize: %s %llu x %llu tensor needs %llu bytes, "
                       "dst has %llu", bitnet_type_name(type), (unsigned long long)n_rows,
                       (unsigned long long)n_cols, (unsigned long long)bytes,
                       (unsigned long long)dst_size);
    if ((n && !src) || !dst) return bn_fail(BITNET_ERR_ARGS, "bitnet_quantize: NULL buffer");
    if (type != BITNET_TYPE_F32 && type != BITNET_TYPE_F16 && type != BITNET_TYPE_BF16 &&
        (st = bn_quant_check_finite("bitnet_quantize", src, n)) != BITNET_OK)
        return st;
    switch (type) {
        case BITNET_TYPE_F32:   if (n) memcpy(y, src, (size_t)n * 4); break;
        case BITNET_TYPE_F16:   bn_quant_half(src, y, n, bitnet_fp32_to_fp16_row); break;
        case BITNET_TYPE_BF16:  bn_quant_half(src, y, n, bitnet_fp32_to_bf16_row); break;
        case BITNET_TYPE_Q8_0:  bn_quant_q8_0(src, y, n / BN__QK8_0); break;
        case BITNET_TYPE_TQ1_0: bn_quant_tq1_0(src, y, n / BN__QK_K); break;
        case BITNET_TYPE_TQ2_0: bn_quant_tq2_0(src, y, n / BN__QK_K); break;
        default:                bn_quant_i2_s(src, y, n); break;    /* I2_S: the only other */
    }
    return BITNET_OK;
}

/* -- ternarize float master weights or already-ternary float weights -- */

/* Calls fn on the weights as floats, 256 at a time (F16/BF16 converted, any alignment). */
typedef int (*bn_tern_fn)(const float *w, uint64_t first, size_t count, void *user);

static int bn_tern_each(bitnet_type type, const unsigned char *src, uint64_t n, bn_tern_fn fn,
                        void *user) {
    float buf[256];
    uint64_t i;
    size_t c;
    size_t esize = type == BITNET_TYPE_F32 ? 4 : 2;
    for (i = 0; i < n; i += c) {
        c = n - i < 256 ? (size_t)(n - i) : 256;
        if (type == BITNET_TYPE_F32) memcpy(buf, src + i * 4, c * 4);
        else bn_dequant_half(src + i * esize, buf, c,
                             type == BITNET_TYPE_F16 ? bitnet_fp16_to_fp32_row : bitnet_bf16_to_fp32_row);
        if (!fn(buf, i, c, user)) return 0;
    }
    return 1;
}

typedef struct bn_tern_stats {
    double sum_abs;
    float mag;              /* first nonzero |w| seen; 0 = none yet */
    int one_mag;            /* every nonzero |w| so far equals mag */
    uint64_t bad;           /* index of the first NaN/Inf (valid when the walk stopped) */
    float alpha;
    int8_t *codes;
} bn_tern_stats;

static int bn_tern_scan(const float *w, uint64_t first, size_t count, void *user) {
    bn_tern_stats *s = (bn_tern_stats *)user;
    size_t i;
    for (i = 0; i < count; i++) {
        float a = fabsf(w[i]);
        if (!(a <= FLT_MAX)) { s->bad = first + i; return 0; }
        s->sum_abs += a;
        if (a == 0.0f) continue;
        if (s->mag == 0.0f) s->mag = a;
        else if (a != s->mag) s->one_mag = 0;
    }
    return 1;
}

static int bn_tern_codes(const float *w, uint64_t first, size_t count, void *user) {
    bn_tern_stats *s = (bn_tern_stats *)user;
    size_t i;
    for (i = 0; i < count; i++) {
        float q = nearbyintf(w[i] / s->alpha);             /* round half to even */
        s->codes[first + i] = (int8_t)(q > 1.0f ? 1 : q < -1.0f ? -1 : (int)q);
    }
    return 1;
}

bitnet_status bitnet_ternarize(bitnet_type type, const void *src, uint64_t n, int8_t *codes,
                               float *alpha) {
    bn_tern_stats s;
    const unsigned char *x = (const unsigned char *)src;
    if (type != BITNET_TYPE_F32 && type != BITNET_TYPE_F16 && type != BITNET_TYPE_BF16)
        return bn_fail(BITNET_ERR_UNSUPPORTED, "bitnet_ternarize: type %s (%d) is not a float "
                       "type (F32, F16, BF16)", bitnet_type_name(type), (int)type);
    if ((n && (!src || !codes)) || !alpha) return bn_fail(BITNET_ERR_ARGS, "bitnet_ternarize: NULL buffer");
    memset(&s, 0, sizeof s);
    s.one_mag = 1;
    if (!bn_tern_each(type, x, n, bn_tern_scan, &s))
        return bn_fail(BITNET_ERR_FORMAT, "bitnet_ternarize: weight %llu is NaN or Inf",
                       (unsigned long long)s.bad);
    if (s.one_mag && s.mag != 0.0f) s.alpha = s.mag;       /* stored as c * alpha already */
    else {
        s.alpha = n ? (float)(s.sum_abs / (double)n) : 0.0f;
        if (!(s.alpha >= 1e-5f)) s.alpha = 1e-5f;
    }
    s.codes = codes;
    bn_tern_each(type, x, n, bn_tern_codes, &s);
    *alpha = s.alpha;
    return BITNET_OK;
}

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
