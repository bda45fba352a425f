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
           BitNetConfig cfg = { 64, 0.8f, 0.95f, 40, 0 };   // max_tokens, temperature, top_p, top_k, seed
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
       BITNET_NO_MMAP_HUGEPAGE  no MADV_HUGEPAGE advice on mapped model files
       BITNET_NO_THREADS      no threads; the thread pool runs everything on the caller
       BITNET_NO_LINUX_EXTENSIONS  plain POSIX on Linux too: no _DEFAULT_SOURCE, so no huge
                              pages (for tests that prove nothing else is assumed)
       BITNET_SAMPLER_HISTORY_MAX  longest repetition-penalty window in ids (32768)

   PLATFORMS
       POSIX (Linux glibc or musl, macOS, the BSDs) with pthreads, or Windows x86-64 (Win32:
       file mapping with UTF-8 names, SRW locks and condition variables, large pages where
       the process holds the lock-pages privilege; the implementation includes a lean
       <windows.h>). gcc, clang, mingw-w64; MSVC is written for but not tested. x86 kernels
       are compiled per function for their ISA and chosen at run time; NEON on aarch64.
       Link with -lpthread -lm on POSIX; nothing extra on Windows.

   MEMORY OWNERSHIP
       Every allocation goes through a bitnet_allocator (zero fields = the C library's), except
       that with the default one a file read into memory (no_mmap) takes its own 2 MiB-page
       mapping. Weights stay memory-mapped and are borrowed (or, with no_mmap, are read into
       memory the model owns); anything converted at load is owned by the model and reported
       in its memory stats. A context plans its memory up front in one
       64-byte-aligned pool; decoding a token allocates nothing.

   THREAD SAFETY
       A model is read-only after loading and may be shared by several contexts in several
       threads. A context (and a bitnet_gguf) is used by one thread at a time, except for
       bitnet_ctx_cancel and bitnet_gen_cancel, which any thread may call at any time (the
       decode stops between layers and is undone). Contexts may share one thread pool
       (bitnet_ctx_params.threads) and decode at the same time from different threads: the
       pool's parallel steps take turns. bitnet_last_error() is per thread.

   SECURITY
       A GGUF file is untrusted input. Every count, length, dimension, product, offset and size
       read from it is checked against the file size and against overflow before use; a bad
       file returns BITNET_ERR_FORMAT with a message naming the key or tensor, the value and
       the limit. The library never prints, exits or aborts on input.

   WHAT IT DOES NOT DO
       Training; TL1/TL2 lookup-table files (their tile layout is not in the file);
       non-BitNet quantized weights (Q4_K etc.) for the projections.

   NAMES
       Object, then verb: bitnet_model_load / bitnet_model_free, bitnet_ctx_new / bitnet_ctx_free,
       bitnet_gguf_open / bitnet_gguf_close. Getters are bitnet_<object>_<thing>
       (bitnet_ctx_pos, bitnet_model_hparams), or bitnet_<object>_get_<thing> where the noun is
       also a type (bitnet_pool_get_stats, bitnet_model_get_memory, bitnet_ctx_get_memory,
       bitnet_gen_get_stats). Old names kept as aliases, for code that calls them:
       bitnet_ctx_memory = bitnet_ctx_get_memory, bitnet_gen_stats_get = bitnet_gen_get_stats,
       bitnet_gguf_free = bitnet_gguf_close. The plain API (bitnet_load_model, bitnet_generate,
       bitnet_free_model, bitnet_get_last_error) keeps the names of earlier BitNet bindings.

   RECENT CHANGES
       next   bitnet_chat_tokenize (message text never becomes control tokens); logit bias and a
              custom sampler in bitnet_gen_params; BitNetConfig.seed; bitnet_ctx_get_memory,
              bitnet_gen_get_stats, bitnet_gguf_free; GGUF names indexed by hash (linear-time
              parsing of hostile files); a FIFO model path is refused; chunked prefill in
              bitnet_gen_step_batch (bitnet_ctx_params.prefill_budget); AVX2 and NEON attention
              in register tiles; AVX2 GEMMs prefetch the next row block (prompts 1.3-1.5x, batches
              and verify passes faster); AVX-512 Q8_0/Q6_K kernels (bit for bit the AVX2
              results) and a real AVX-512 float GEMM; ternary GEMMs of a few tokens (2-24 on
              AVX-512, 2-8 on AVX2) run direct tiles, 2-token passes ~2x faster; the AVX-512
              float GEMV reads one row at a time (F16 head 0.64 -> 0.95 of the bandwidth on Zen 5).
       0.1.0  first release: GGUF reader/writer, quantizers, SIMD kernels, model runtime,
              tokenizers, sampler, generation API.
*/
#ifndef BITNET_H
#define BITNET_H

/* The implementation needs POSIX (mmap, pthreads, clock_gettime), which glibc and musl hide
   under -std=c99 unless asked: this works when BITNET_IMPLEMENTATION is defined before any
   system header is included. (macOS and the BSDs show POSIX by default, and asking would hide
   their extras, _SC_NPROCESSORS_ONLN among them.) Linux extras (MAP_ANONYMOUS, MADV_HUGEPAGE,
   sched_getaffinity) are optional: every use is guarded, so the code also builds with plain
   POSIX (BITNET_NO_LINUX_EXTENSIONS, or a libc without them). On mingw, C99 printf (%zu,
   %lld) instead of msvcrt's. */
#if defined(BITNET_IMPLEMENTATION) && !defined(_POSIX_C_SOURCE) && \
    (defined(__linux__) || defined(__CYGWIN__) || defined(__gnu_hurd__))
#  define _POSIX_C_SOURCE 200809L
#endif
#if defined(BITNET_IMPLEMENTATION) && defined(__linux__) && !defined(_DEFAULT_SOURCE) && \
    !defined(BITNET_NO_LINUX_EXTENSIONS)
#  define _DEFAULT_SOURCE 1         /* MAP_ANONYMOUS, MADV_HUGEPAGE */
#endif
#if defined(BITNET_IMPLEMENTATION) && defined(__MINGW32__) && !defined(__USE_MINGW_ANSI_STDIO)
#  define __USE_MINGW_ANSI_STDIO 1
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
BITNET_API void bitnet_gguf_free(bitnet_gguf *gguf);      /* the same as bitnet_gguf_close */

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
   Types: F32 F16 BF16 Q8_0 Q6_K TQ1_0 TQ2_0 I2_S; Q6_K is this library's own quantizer (a
   least-squares scale search per 16 values; readable by llama.cpp, not byte-identical to its
   quantize_row_q6_K). Quantized types reject NaN/Inf input (BITNET_ERR_ARGS). */
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
   [0, n_rows) into chunks, each thread first taking a contiguous share of them and then helping
   the others with theirs, and returns when all are done; every row is
   computed by the same code whatever the split, so results are bit-identical for any thread
   count. Built with BITNET_NO_THREADS (or n_threads = 1), everything runs on the caller.
   Several threads may call run on one pool (contexts that share it, each in its own thread):
   runs take turns under a lock, one at a time, each with all the pool's threads. */
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
/* Online cores (sysconf; on Windows the processors in the process affinity mask), at least 1. */
BITNET_API int bitnet_online_cores(void);

/* A job system's parallel-for: run job(job_arg, i) once for every i in [0, n_jobs), on any
   threads in any order (or all on the caller), and return when all are done. */
typedef void (*bitnet_job_fn)(void *job_arg, int i);
typedef void (*bitnet_jobs_fn)(void *user, int n_jobs, bitnet_job_fn job, void *job_arg);
/* A pool that runs its work on the embedder's job system instead of threads of its own (a game
   engine's workers): each bitnet_threadpool_run becomes one call of `jobs` with at most
   n_threads jobs (n_threads <= 0: online cores), job i a contiguous range of rows with thread
   index i. Results are bit-identical to any other pool's. Runs from several threads at once
   (contexts sharing the pool) are as safe as the job system makes them: nothing is shared
   between runs. Free it with bitnet_threadpool_free. */
BITNET_API bitnet_status bitnet_threadpool_new_jobs(bitnet_threadpool **out, int n_threads, bitnet_jobs_fn jobs,
                                                    void *user, const bitnet_allocator *allocator);

/* ===== api: model ===== */

typedef enum bitnet_arch {
    BITNET_ARCH_BITNET_B158 = 0,  /* "bitnet-b1.58" / "bitnet-25": ReLU², sub-norms, NEOX RoPE, tied head */
    BITNET_ARCH_BITNET      = 1,  /* "bitnet" (1bitLLM): SiLU, sub-norms, NEOX RoPE, tied head */
    BITNET_ARCH_LLAMA       = 2   /* "llama" with ternary projections: SiLU, NORM RoPE, own head */
} bitnet_arch;

typedef enum bitnet_activation { BITNET_ACT_RELU2 = 0, BITNET_ACT_SILU = 1 } bitnet_activation;
typedef enum bitnet_rope_style { BITNET_ROPE_NEOX = 0, BITNET_ROPE_NORM = 1 } bitnet_rope_style;

typedef struct bitnet_hparams {
    bitnet_arch arch;
    char arch_name[32];
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train, n_rot;
    float rope_base, rope_freq_scale, rms_eps;
    bitnet_activation activation;
    bitnet_rope_style rope_style;
    int sub_norms;                /* attn_sub_norm / ffn_sub_norm before the o / down projections */
    int tied_head;                /* logits from token_embd (no output.weight used) */
} bitnet_hparams;

/* The output head as the kernels read it: as stored in the file, or requantized at load from
   an F32/F16/BF16 head (fewer bytes streamed per token: at the 2B-4T shape 657 MB of F16 become
   349 MB of Q8_0 or 269 MB of Q6_K; the embedding rows still come from the stored tensor). */
typedef enum bitnet_head_type {
    BITNET_HEAD_AS_STORED = 0,
    BITNET_HEAD_Q8_0 = 1,         /* 8.5 bits per weight (needs n_embd % 32 == 0) */
    BITNET_HEAD_Q6_K = 2          /* 6.56 bits per weight (needs n_embd % 256 == 0) */
} bitnet_head_type;

typedef struct bitnet_model_params {
    const char *path;             /* GGUF file, or: */
    const void *data;             /* a GGUF image in memory that outlives the model */
    size_t size;
    bitnet_allocator allocator;
    bitnet_isa isa;               /* kernels to use; AUTO (0) = the best this CPU runs */
    int vocab_only;               /* load the tokenizer alone */
    int no_mmap;                  /* read the file into memory instead of mapping it: a slower
                                     load and private memory, but on Linux 2 MiB pages, which
                                     stream ~10% faster than the page cache's 4 KiB ones */
    bitnet_head_type head_type;   /* requantize the head at load (memory in converted_bytes) */
} bitnet_model_params;

typedef struct bitnet_model_memory {
    uint64_t file_bytes;          /* the mapped (or, with no_mmap, read) file */
    uint64_t read_bytes;          /* of which read into memory the model owns (no_mmap), else 0 */
    uint64_t weight_bytes;        /* weights read per token: projections + head */
    uint64_t converted_bytes;     /* memory the model owns for repacked/converted weights */
    double load_ms;               /* time bitnet_model_load took */
    uint64_t head_bytes;          /* of weight_bytes: the output head */
    bitnet_type head_type;        /* the head's type as the kernels read it */
} bitnet_model_memory;

typedef struct bitnet_model bitnet_model;
struct bitnet_vocab;

/* Loads a model: checks every key and tensor it needs (clear errors), maps the weights and
   repacks the ternary ones for the kernels. */
BITNET_API bitnet_status bitnet_model_load(bitnet_model **out, const bitnet_model_params *params);
BITNET_API void bitnet_model_free(bitnet_model *model);
BITNET_API const bitnet_hparams *bitnet_model_hparams(const bitnet_model *model);
BITNET_API const struct bitnet_vocab *bitnet_model_vocab(const bitnet_model *model);
BITNET_API const bitnet_gguf *bitnet_model_gguf(const bitnet_model *model);
BITNET_API bitnet_model_memory bitnet_model_get_memory(const bitnet_model *model);
BITNET_API bitnet_isa bitnet_model_isa(const bitnet_model *model);

/* Polled on the decoding thread between layers of every decode; nonzero cancels the decode as
   bitnet_ctx_cancel does. */
typedef int (*bitnet_abort_fn)(void *user);

typedef struct bitnet_ctx_params {
    int32_t n_ctx;                /* KV cache positions; 0 = the model's context length */
    int32_t n_batch;              /* most tokens per bitnet_decode call; 0 = 512 */
    int32_t n_threads;            /* 0 = all online cores */
    int all_logits;               /* keep logits for every token of a batch, not just the last */
    int kv_f16;                   /* KV cache in F16: half the memory (and the cache reads of
                                     attention); keys and values rounded to F16 as llama.cpp does */
    bitnet_allocator allocator;
    int32_t n_seq;                /* sequences the context holds (0 = 1); each has its own n_ctx
                                     positions of KV cache (n_seq * n_ctx positions in all) */
    int32_t n_outputs;            /* most logits rows one decode call returns (at most n_batch);
                                     0 = (all_logits ? n_batch : n_seq) */
    bitnet_abort_fn abort_fn;     /* optional: a frame deadline, a "stop" button */
    void *abort_user;
    bitnet_threadpool *threads;   /* a pool the context uses but does not own (then n_threads is
                                     ignored): one pool for several contexts, e.g. four NPCs of a
                                     game each decoding in its own thread share one pool of all
                                     cores instead of four. Contexts sharing it may decode at the
                                     same time from different threads: the pool runs one parallel
                                     step at a time, so their steps take turns (results unchanged,
                                     bit for bit). The pool must outlive the contexts. NULL = the
                                     context starts its own pool of n_threads. */
    int device;                   /* bitnet_device: AUTO (0), CPU or CUDA (see "api: cuda") */
    int32_t device_index;         /* which GPU for CUDA / AUTO (0 = the first) */
    int32_t prefill_budget;       /* chunked prefill: most prompt tokens one bitnet_gen_step_batch
                                     adds to a batch while any of its generations is past its
                                     prompt, so a long prompt that arrives goes in pieces, one per
                                     step, and the generating sequences get a token every step
                                     instead of waiting for a whole n_batch chunk. A step where no
                                     generation is past its prompt still fills n_batch. The tokens
                                     and logits do not depend on it. 0 = n_batch (no limit) */
} bitnet_ctx_params;

typedef struct bitnet_ctx bitnet_ctx;

/* A context: KV cache, activations and thread pool, planned up front in one pool. Several
   contexts may share one model, each used by one thread at a time. */
BITNET_API bitnet_status bitnet_ctx_new(bitnet_ctx **out, const bitnet_model *model, const bitnet_ctx_params *params);
BITNET_API void bitnet_ctx_free(bitnet_ctx *ctx);
/* Bytes bitnet_ctx_new would take for these params (KV cache of every sequence, activations,
   logits): the memory plan, without allocating; SIZE_MAX if too large to address. */
BITNET_API size_t bitnet_ctx_plan_bytes(const bitnet_model *model, const bitnet_ctx_params *params);
/* Runs tokens at the next positions of sequence 0 (prefill when n > 1, in chunks of n_batch);
   allocates nothing. Cancelled (bitnet_ctx_cancel, abort_fn): returns BITNET_ERR_CANCELLED with
   the whole call undone (positions as before it, even for chunks that had finished; the cache
   below them untouched) and no logits (bitnet_ctx_logits NULL until the next decode). */
BITNET_API bitnet_status bitnet_decode(bitnet_ctx *ctx, const int32_t *tokens, int32_t n_tokens);
/* Asks the decode running on ctx in another thread to stop: it checks between layers, so it
   returns BITNET_ERR_CANCELLED within one layer's work, however long the prompt. If no decode
   is running, the next one returns BITNET_ERR_CANCELLED at once. The request is used up by the
   decode it cancels (the one after runs normally). Safe from any thread, and from a signal
   handler (one atomic store). */
BITNET_API void bitnet_ctx_cancel(bitnet_ctx *ctx);
/* Logits of the last token of the last batch (n_vocab floats), or with all_logits, row i for
   token i of that batch. NULL before the first decode. */
BITNET_API const float *bitnet_ctx_logits(const bitnet_ctx *ctx, int32_t i);
BITNET_API int32_t bitnet_ctx_pos(const bitnet_ctx *ctx);          /* tokens in the KV cache */
BITNET_API int32_t bitnet_ctx_n_ctx(const bitnet_ctx *ctx);
/* Forgets positions >= pos (0 = clear the cache). */
BITNET_API bitnet_status bitnet_ctx_truncate(bitnet_ctx *ctx, int32_t pos);

/* Several sequences in one context (continuous batching). Each sequence has its own positions
   and n_ctx positions of KV cache; bitnet_decode, bitnet_ctx_pos and bitnet_ctx_truncate act on
   sequence 0. One decode call takes a batch of tokens, each tagged with its sequence: tokens of
   one sequence go at that sequence's next positions in batch order, so one call can hold one
   token of each generating sequence and a prompt chunk of each prefilling one. Every projection
   runs once over the whole batch (the GEMM kernels); each token attends to its own sequence's
   cache up to its own position (causal within the batch too).
   Same results: a sequence decoded inside a mixed batch gets bit-identical logits to the same
   tokens decoded alone in the same chunks, and to the same tokens in any other split, for any
   thread count: every kernel computes each token's row on its own, in the same order, whatever
   the rest of the batch holds (tests/test_batch.c checks memcmp equality for every shared
   model, threads 1 and 2, F32 and F16 caches). */
typedef struct bitnet_batch {
    int32_t n_tokens;
    const int32_t *token;         /* (n_tokens) ids */
    const int32_t *seq;           /* (n_tokens) sequence of each token, 0..n_seq-1; NULL = all 0 */
    const int8_t *logits;         /* (n_tokens) nonzero = return this token's logits; NULL = the
                                     last token of each sequence present in the batch */
} bitnet_batch;

/* Runs one batch; allocates nothing. Errors (BITNET_ERR_ARGS, the reason in bitnet_last_error):
   bad ids or sequences, a sequence past n_ctx, more than n_batch tokens, more logits rows than
   n_outputs. On error nothing changes (cache, positions, the last batch's logits).
   Cancelled (bitnet_ctx_cancel, abort_fn): BITNET_ERR_CANCELLED, every sequence's position as
   before the call, no logits.
   bitnet_ctx_logits(ctx, i) then gives the logits of token i of this batch if they were asked
   for, else NULL; i < 0 means the last token of the batch. */
BITNET_API bitnet_status bitnet_decode_batch(bitnet_ctx *ctx, const bitnet_batch *batch);
BITNET_API int32_t bitnet_ctx_n_seq(const bitnet_ctx *ctx);
BITNET_API int32_t bitnet_ctx_seq_pos(const bitnet_ctx *ctx, int32_t seq);   /* tokens in seq; 0 if bad */
/* Forgets positions >= pos of one sequence (0 = clears it); the others go on untouched. The
   last batch's logits rows of this sequence become NULL; the other rows stay. */
BITNET_API bitnet_status bitnet_ctx_seq_truncate(bitnet_ctx *ctx, int32_t seq, int32_t pos);
/* dst's cache becomes the first n_pos positions of src's (n_pos <= seq_pos(src)): a shared
   system prompt encoded once, then continued differently in each sequence. */
BITNET_API bitnet_status bitnet_ctx_seq_copy(bitnet_ctx *ctx, int32_t src, int32_t dst, int32_t n_pos);

/* KV state: the cache and positions of one sequence (seq >= 0) or of all (seq = -1), saved to
   memory or a file and restored into a context of the same model and cache type (a system
   prompt encoded once, reused for many characters or sessions). A state is a header (magic
   "BNKV", version 1, a fingerprint of the model's hyperparameters and first embedding bytes,
   n_layer, KV width, cache type, the saving context's n_ctx, the number of sequences and the
   position of each, all little-endian), the cache rows (host byte order), then an FNV-1a
   checksum of everything before it. Restore checks every field before touching the context:
   another model, another cache type, a truncated, oversized or altered state give
   BITNET_ERR_FORMAT; a state that does not fit (more positions than n_ctx, a different number
   of sequences) BITNET_ERR_ARGS; on any error nothing changes. A one-sequence state restores
   into any sequence; an all-sequences state needs the same n_seq. Logits are not saved: after
   a restore the restored sequences have no logits rows until their next decode (to continue
   from a saved prompt, save it one token short and decode that token after restoring). */
BITNET_API size_t bitnet_ctx_state_size(const bitnet_ctx *ctx, int32_t seq);   /* 0 for a bad seq */
/* Writes the state into buf (cap bytes; *size, if given, receives the bytes needed, also when
   cap is too small, which is BITNET_ERR_ARGS). */
BITNET_API bitnet_status bitnet_ctx_state_save(const bitnet_ctx *ctx, int32_t seq, void *buf, size_t cap,
                                               size_t *size);
BITNET_API bitnet_status bitnet_ctx_state_restore(bitnet_ctx *ctx, int32_t seq, const void *buf, size_t size);
/* The same through a file, streamed (no buffer of the state's size). A failed save removes
   the file. Restore reads the file twice, checking size and checksum before it writes to the
   cache; should the file change between the two reads, the sequences it was going into are
   cleared and BITNET_ERR_IO returned. */
BITNET_API bitnet_status bitnet_ctx_state_save_file(const bitnet_ctx *ctx, int32_t seq, const char *path);
BITNET_API bitnet_status bitnet_ctx_state_restore_file(bitnet_ctx *ctx, int32_t seq, const char *path);
/* dst_seq of dst becomes a copy of src_seq of src (contexts of the same model and cache type;
   the same context works too, as bitnet_ctx_seq_copy of all its positions). */
BITNET_API bitnet_status bitnet_ctx_state_copy(bitnet_ctx *dst, int32_t dst_seq, const bitnet_ctx *src,
                                               int32_t src_seq);
BITNET_API bitnet_pool_stats bitnet_ctx_get_memory(const bitnet_ctx *ctx);   /* the context's pool */
BITNET_API bitnet_pool_stats bitnet_ctx_memory(const bitnet_ctx *ctx);       /* old name of the above */

/* Where a decode's time goes: wall-clock ms per part of the forward pass, summed over the decodes
   since profiling was switched on (a part's time includes waiting for the pool's threads). Off
   by default; off it costs one branch per part. */
typedef enum bitnet_prof_part {
    BITNET_PROF_EMBED, BITNET_PROF_NORM_QUANT, BITNET_PROF_TERNARY, BITNET_PROF_ROPE, BITNET_PROF_ATTENTION,
    BITNET_PROF_ACTIVATION, BITNET_PROF_HEAD, BITNET_PROF_OTHER, BITNET_PROF_COUNT
} bitnet_prof_part;
typedef struct bitnet_profile {
    double ms[BITNET_PROF_COUNT];     /* OTHER: the decodes' total minus the other parts */
    int64_t pool_runs[BITNET_PROF_COUNT];   /* thread-pool hand-offs each part made */
    double total_ms;
    int64_t n_decodes, n_tokens;
} bitnet_profile;
/* on = 1 starts (and zeroes) the counters, 0 stops them. */
BITNET_API void bitnet_ctx_set_profile(bitnet_ctx *ctx, int on);
BITNET_API bitnet_profile bitnet_ctx_get_profile(const bitnet_ctx *ctx);
BITNET_API const char *bitnet_prof_part_name(bitnet_prof_part part);   /* "ternary GEMV", ... */
BITNET_API const bitnet_model *bitnet_ctx_model(const bitnet_ctx *ctx);

/* ===== api: tokenizer ===== */

/* Tokenizers read from a GGUF's tokenizer.* metadata:
     tokenizer.ggml.model = "gpt2"   byte-level BPE (GPT-2 byte mapping, merges ranks). Split rule
                                     from tokenizer.ggml.pre: "llama-bpe" (also "llama3", "llama-v3",
                                     "falcon3", "pixtral") = the Llama 3 rule with ignore_merges;
                                     "gpt-2" (also "phi-2", "roberta-bpe") = the GPT-2 rule. A missing
                                     `pre` with 128256 tokens is the Llama 3 rule (the BitNet 2B-4T
                                     file); any other value falls back to the GPT-2 rule with a
                                     logged warning.
     tokenizer.ggml.model = "llama"  SentencePiece (score-based merging, <0xXX> byte fallback,
                                     dummy-prefix space, ' ' -> U+2581).
   Results are token for token those of llama.cpp's tokenizer for these rules. Invalid UTF-8 in
   the text becomes U+FFFD for BPE (as llama.cpp) and byte tokens for SPM; it never fails.
   A vocabulary is read-only after loading and may be shared between threads. */
typedef struct bitnet_vocab bitnet_vocab;

typedef enum bitnet_vocab_type {
    BITNET_VOCAB_BPE = 1,               /* tokenizer.ggml.model = gpt2 */
    BITNET_VOCAB_SPM = 2                /* tokenizer.ggml.model = llama */
} bitnet_vocab_type;

typedef enum bitnet_pretok {
    BITNET_PRETOK_NONE   = 0,           /* SentencePiece: no split rule */
    BITNET_PRETOK_LLAMA3 = 1,
    BITNET_PRETOK_GPT2   = 2
} bitnet_pretok;

/* tokenizer.ggml.token_type values. */
typedef enum bitnet_token_type {
    BITNET_TOKEN_UNDEFINED = 0, BITNET_TOKEN_NORMAL = 1, BITNET_TOKEN_UNKNOWN = 2,
    BITNET_TOKEN_CONTROL = 3, BITNET_TOKEN_USER_DEFINED = 4, BITNET_TOKEN_UNUSED = 5,
    BITNET_TOKEN_BYTE = 6
} bitnet_token_type;

/* Reads the vocabulary of `gguf` into memory owned by the vocab (the gguf may be closed after).
   BITNET_ERR_FORMAT with a message naming the key, the index and the value for inconsistent
   metadata (wrong array types, counts that disagree, token strings with NUL bytes, merges without
   a space or naming no token, token types out of range); BITNET_ERR_UNSUPPORTED for an unknown
   tokenizer.ggml.model. A special token id (bos, eos, ...) outside the vocabulary is dropped
   with a warning, as llama.cpp does. */

BITNET_API bitnet_status bitnet_vocab_load(bitnet_vocab **out, const bitnet_gguf *gguf,
                                           const bitnet_allocator *allocator);
BITNET_API void bitnet_vocab_free(bitnet_vocab *vocab);

BITNET_API bitnet_vocab_type bitnet_vocab_get_type(const bitnet_vocab *vocab);
BITNET_API bitnet_pretok bitnet_vocab_pretok(const bitnet_vocab *vocab);
BITNET_API int32_t bitnet_vocab_size(const bitnet_vocab *vocab);
/* Special ids; -1 when the vocabulary has none. eot is tokenizer.ggml.eot_token_id or else the
   token "<|eot_id|>" (or "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>");
   eom is tokenizer.ggml.eom_token_id or "<|eom_id|>". */
BITNET_API int32_t bitnet_vocab_bos(const bitnet_vocab *vocab);
BITNET_API int32_t bitnet_vocab_eos(const bitnet_vocab *vocab);
BITNET_API int32_t bitnet_vocab_eot(const bitnet_vocab *vocab);
BITNET_API int32_t bitnet_vocab_eom(const bitnet_vocab *vocab);
BITNET_API int32_t bitnet_vocab_unk(const bitnet_vocab *vocab);
BITNET_API int32_t bitnet_vocab_pad(const bitnet_vocab *vocab);
/* 1 when tokenizer.ggml.add_bos_token (default: SPM and Llama 3 rule yes, GPT-2 rule no). */
BITNET_API int bitnet_vocab_add_bos(const bitnet_vocab *vocab);
/* 1 when `id` ends generation: eos, eot, eom and any end-of-turn token found by text. */
BITNET_API int bitnet_vocab_is_eog(const bitnet_vocab *vocab, int32_t id);
/* The token's text as stored (NUL-terminated, owned by the vocab); NULL if `id` is out of range. */
BITNET_API const char *bitnet_vocab_text(const bitnet_vocab *vocab, int32_t id, size_t *len);
BITNET_API bitnet_token_type bitnet_vocab_token_type(const bitnet_vocab *vocab, int32_t id);
/* Id of the token whose stored text is exactly text[0..len); -1 if none. */
BITNET_API int32_t bitnet_vocab_find(const bitnet_vocab *vocab, const char *text, size_t len);
/* Longest piece bitnet_token_piece can return; 3 * (max_piece + 4) bytes always hold the
   output of one bitnet_detok_push. */
BITNET_API size_t bitnet_vocab_max_piece(const bitnet_vocab *vocab);

/* Tokenizes text[0..len) (any bytes). add_special: prepend BOS / append EOS as the vocabulary's
   add_bos_token / add_eos_token say. parse_special: text spelling a control, unknown or
   user-defined token ("<|eot_id|>") becomes that token; without it only user-defined tokens are
   matched (as llama.cpp). Writes min(count, cap) ids and sets *n_ids to the full count; returns
   BITNET_ERR_ARGS when cap is too small (call again with *n_ids slots). Allocates scratch memory
   from the vocab's allocator for the duration of the call. */
BITNET_API bitnet_status bitnet_tokenize(const bitnet_vocab *vocab, const char *text, size_t len,
                                         int add_special, int parse_special,
                                         int32_t *ids, size_t cap, size_t *n_ids);

/* The bytes of one token (possibly part of a UTF-8 character): byte-level decoding for BPE,
   U+2581 -> ' ' and <0xXX> -> byte for SPM. Control and unknown tokens give their text only with
   `special`, else nothing; user-defined tokens always give their text. Writes at most cap bytes,
   sets *len to the piece length, BITNET_ERR_ARGS if it did not fit or id is out of range. */
BITNET_API bitnet_status bitnet_token_piece(const bitnet_vocab *vocab, int32_t id, int special,
                                            char *buf, size_t cap, size_t *len);

/* Flags of the detokenizers. */
#define BITNET_DETOK_SPECIAL     1      /* write control/unknown tokens as their text */
#define BITNET_DETOK_STRIP_SPACE 2      /* SPM: drop the dummy-prefix space of the first piece */

/* Concatenates the raw pieces of ids[0..n) (no UTF-8 repair: exact inverse of bitnet_tokenize
   for lossless text). A BOS first token is skipped unless BITNET_DETOK_SPECIAL. Sets *len to
   the full length and returns BITNET_ERR_ARGS if it exceeds cap (nothing written past cap). */
BITNET_API bitnet_status bitnet_detokenize(const bitnet_vocab *vocab, const int32_t *ids, size_t n,
                                           int flags, char *out, size_t cap, size_t *len);

/* Streaming detokenizer: push one token at a time and get only complete, valid UTF-8 back. A
   character split across tokens is held until complete; an invalid sequence becomes U+FFFD
   (maximal-subpart rule). No allocation; the struct may live on the stack. */
typedef struct bitnet_detok {
    const bitnet_vocab *vocab;
    int flags;
    int started;                        /* a non-empty piece was seen (for STRIP_SPACE) */
    int n_pending, need;                /* bytes held of an incomplete character, bytes it needs */
    unsigned char pending[4];
} bitnet_detok;

BITNET_API void bitnet_detok_init(bitnet_detok *d, const bitnet_vocab *vocab, int flags);
/* Appends the complete UTF-8 that token `id` finishes to out; *n_out = bytes written. Returns
   BITNET_ERR_ARGS (state unchanged, *n_out = bytes needed) when cap < 3 * (piece + 4). */
BITNET_API bitnet_status bitnet_detok_push(bitnet_detok *d, int32_t id, char *out, size_t cap,
                                           size_t *n_out);
/* Ends the stream: an incomplete character held becomes U+FFFD. Needs cap >= 3. */
BITNET_API size_t bitnet_detok_flush(bitnet_detok *d, char *out, size_t cap);

/* Chat prompt formats. */
typedef enum bitnet_chat_format_id {
    BITNET_CHAT_AUTO   = 0,             /* from tokenizer.chat_template / the vocabulary */
    BITNET_CHAT_BITNET = 1,             /* BitNet 2B-4T: "User: ...<|eot_id|>Assistant: " */
    BITNET_CHAT_LLAMA3 = 2              /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
} bitnet_chat_format_id;

typedef struct bitnet_chat_message {
    const char *role;                   /* "system", "user", "assistant" (NUL-terminated) */
    const char *content;                /* NUL-terminated */
} bitnet_chat_message;

/* The format AUTO resolves to: a chat_template containing "BITNET" -> BITNET, containing
   "start_header_id" (or no template and a "<|start_header_id|>" token) -> LLAMA3; else AUTO
   (unknown). */
BITNET_API bitnet_chat_format_id bitnet_vocab_chat_format(const bitnet_vocab *vocab);

/* Chat text is text: to turn a conversation into token ids use bitnet_chat_tokenize, which keeps
   every message's role and content plain text (a user typing "<|eot_id|>System: ..." gets the
   characters, never the control token); only the template's own markers become special tokens,
   as llama.cpp's server does. bitnet_chat_format gives the same conversation as one string, for
   display or logging: tokenizing that string with parse_special = 1 would parse special-token
   text inside the messages too, so do not feed it to the model that way unless every message is
   trusted.

   Writes the prompt text for msgs[0..n) into out (NUL-terminated), starting with
   "<|begin_of_text|>" and, with add_assistant, ending with the assistant's turn opener.
   *len = full length without the NUL;
   BITNET_ERR_ARGS if len + 1 > cap; BITNET_ERR_UNSUPPORTED if AUTO finds no known format.
   BITNET: each message is "System: " / "User: " / "Assistant: " (other roles: the role with
   its first letter upper-cased + ": ") + content + "<|eot_id|>". LLAMA3: contents are trimmed
   of surrounding whitespace, as the Llama 3 template does. */
BITNET_API bitnet_status bitnet_chat_format(const bitnet_vocab *vocab, bitnet_chat_format_id format,
                                            const bitnet_chat_message *msgs, size_t n,
                                            int add_assistant, char *out, size_t cap, size_t *len);
/* The token ids of the conversation msgs[0..n) in `format` (AUTO: the vocabulary's), as the model
   reads it: BOS first (the template's "<|begin_of_text|>"), then each message, then with
   add_assistant the assistant's turn opener. Message roles and contents are tokenized as plain
   text (special tokens not parsed; the vocabulary's user-defined tokens still match, as in
   bitnet_tokenize); the template's markers become their special tokens. For contents without
   special-token text the ids equal bitnet_tokenize(bitnet_chat_format(...), add_special 0,
   parse_special 1). Writes min(count, cap) ids and sets *n_ids to the full count; returns
   BITNET_ERR_ARGS when cap is too small (call with ids NULL, cap 0 to ask), BITNET_ERR_UNSUPPORTED
   if AUTO finds no known format. Use the ids as bitnet_gen_params.prompt_ids. */
BITNET_API bitnet_status bitnet_chat_tokenize(const bitnet_vocab *vocab, bitnet_chat_format_id format,
                                              const bitnet_chat_message *msgs, size_t n, int add_assistant,
                                              int32_t *ids, size_t cap, size_t *n_ids);

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

/* Receives each piece of generated text (complete UTF-8, stop strings removed). Return nonzero
   to stop generating (the generation then ends with BITNET_STOP_CANCELLED). */
typedef int (*bitnet_piece_fn)(const char *text, size_t len, void *user);

typedef enum bitnet_stop_reason {
    BITNET_STOP_NONE = 0,         /* still running */
    BITNET_STOP_EOG,              /* the model produced an end-of-generation token */
    BITNET_STOP_MAX_TOKENS,       /* max_tokens reached */
    BITNET_STOP_STRING,           /* a stop string was produced */
    BITNET_STOP_CONTEXT,          /* the context is full */
    BITNET_STOP_CANCELLED         /* the callback asked to stop */
} bitnet_stop_reason;

/* A bias added to one id's logit before sampling; -INFINITY bans the id. */
typedef struct bitnet_logit_bias {
    int32_t id;
    float bias;
} bitnet_logit_bias;

/* A sampler of your own: gets the logits of the next token (n_vocab floats, logit bias applied;
   the array may be modified) and returns the id to emit, in [0, n_vocab). Called on the thread
   that calls bitnet_gen_step, once per token; it must not call back into this generation. */
typedef int32_t (*bitnet_sample_fn)(float *logits, int32_t n_vocab, void *user);
/* Speculative decoding: draft tokens are guessed and verified in one batched forward pass;
   every emitted token is still the one the sampler draws from the model's logits, so the output
   is what plain decoding gives (see bitnet_gen_params.draft). */
typedef enum bitnet_draft_type {
    BITNET_DRAFT_NONE = 0,
    BITNET_DRAFT_NGRAM = 1        /* prompt lookup: the tokens that followed the latest earlier
                                     occurrence of the last n-gram of the prompt and output */
} bitnet_draft_type;

typedef struct bitnet_gen_params {
    const char *prompt;           /* text; tokenized with the vocabulary's BOS rule, or: */
    const int32_t *prompt_ids;    /* ids used as they are (then `prompt` is ignored) */
    int32_t n_prompt_ids;
    int parse_special;            /* "<|eot_id|>" in the prompt text becomes that token */
    int no_bos;                   /* no BOS before the prompt text (chat text from bitnet_chat_format has it) */
    int32_t max_tokens;           /* tokens to generate; 0 = until end of generation or full context */
    bitnet_sampler_params sampler;/* zeroed = greedy */
    const char *const *stop;      /* stop strings (not shown) */
    int32_t n_stop;
    int ignore_eog;               /* keep going past end-of-generation tokens */
    int32_t prefill_chunk;        /* prompt tokens per bitnet_gen_step; 0 = the context's n_batch */
    bitnet_piece_fn on_piece;     /* used by bitnet_generate_text */
    void *user;
    int32_t seq;                  /* the sequence of the context this generation uses (0..n_seq-1);
                                     it continues after the tokens already in that sequence */
    const bitnet_logit_bias *logit_bias;  /* n_logit_bias biases (copied); an id out of range is
                                             BITNET_ERR_ARGS at bitnet_gen_new */
    int32_t n_logit_bias;
    bitnet_sample_fn sample;      /* NULL: the built-in sampler with `sampler`; else this picks each
                                     token (an id it returns out of range: BITNET_ERR_ARGS) */
    void *sample_user;
    /* Speculative decoding (BITNET_DRAFT_NGRAM): after each sampled token, up to draft_max
       tokens guessed from the context are run with it in one decode, and the sampler draws
       each next token from the row before it, in order, for as long as it draws the guess.
       For a deterministic draft this is exactly the speculative sampling rule (accept the
       guess d with probability p(d), else draw from p with d removed): every token comes
       from the same distribution, penalties and random stream as without drafts, so a seeded
       generation gives the same ids (up to the batched pass's float reassociation, ~1e-5 in
       the logits). One bitnet_gen_step still yields one token; the accepted ones are handed
       out by the next steps without decoding. The context must keep logits for draft_max + 1
       rows of a batch (bitnet_ctx_params.n_outputs, or all_logits). bitnet_gen_step_batch
       decodes such a generation without drafts. */
    bitnet_draft_type draft;
    int32_t draft_max;            /* most draft tokens per pass; 0 = 8 (capped by n_batch - 1) */
    int32_t draft_ngram;          /* longest n-gram looked up; 0 = 3 (n-grams down to 2 are tried) */
    const int32_t *draft_context; /* ids before the prompt (already in the sequence) the n-grams may */
    int32_t n_draft_context;      /* also come from, e.g. a chat's earlier turns; copied */
} bitnet_gen_params;

typedef struct bitnet_gen_stats {
    int32_t n_prompt, n_generated;
    double prompt_ms, gen_ms, ttft_ms;    /* prefill, generation, time to first token */
    double prompt_tps, gen_tps;           /* tokens per second */
    double load_ms;                       /* bitnet_model_load of the model */
    uint64_t memory_bytes;                /* model-owned + context memory (a mapped file not counted) */
    bitnet_stop_reason stop_reason;
    int32_t n_draft_passes;               /* decodes that verified drafts */
    int32_t n_drafted, n_draft_accepted;  /* draft tokens verified, and of those accepted */
} bitnet_gen_stats;

typedef struct bitnet_gen bitnet_gen;

/* Starts a generation on `ctx` after the tokens already in it: tokenizes the prompt and sets up
   the sampler and stop matcher (all allocation happens here). */
BITNET_API bitnet_status bitnet_gen_new(bitnet_gen **out, bitnet_ctx *ctx, const bitnet_gen_params *params);
BITNET_API void bitnet_gen_free(bitnet_gen *gen);
/* One unit of work: a chunk of the prompt, or one generated token. *text and *len receive the text
   that became showable (valid until the next call; may be empty). Returns 1 while there is more
   to do, 0 when finished (see stats.stop_reason), or a negative bitnet_status. Never blocks for
   more than one chunk, so a game loop can call it once per frame. If bitnet_ctx_cancel stops its
   decode it returns BITNET_ERR_CANCELLED and the generation is as before the call: step it
   again to retry, or free it. */
BITNET_API int bitnet_gen_step(bitnet_gen *gen, const char **text, size_t *len);
BITNET_API int32_t bitnet_gen_last_token(const bitnet_gen *gen);   /* -1 before the first */
BITNET_API const bitnet_gen_stats *bitnet_gen_get_stats(const bitnet_gen *gen);
BITNET_API const bitnet_gen_stats *bitnet_gen_stats_get(const bitnet_gen *gen);   /* old name of the above */
/* Stops the generation: the next step returns 0 with BITNET_STOP_CANCELLED. Safe from another
   thread (an atomic store); it does not interrupt a step already running: for that (a long
   prompt chunk) also call bitnet_ctx_cancel on its context. */
BITNET_API void bitnet_gen_cancel(bitnet_gen *gen);

/* Runs a whole generation, passing the text to params->on_piece. Returns BITNET_ERR_CANCELLED
   if bitnet_ctx_cancel stopped a decode (the text passed so far stays passed). */
BITNET_API bitnet_status bitnet_generate_text(bitnet_ctx *ctx, const bitnet_gen_params *params,
                                              bitnet_gen_stats *stats);
/* Advances several generations that share one context, each on its own sequence, with ONE
   bitnet_decode_batch: one token for each that is generating, prompt chunks for those
   prefilling (as many prompt tokens as fit in n_batch after the generating ones). For each i,
   texts[i] and lens[i] receive gen i's new text (valid until its next step) and results[i] what
   bitnet_gen_step would return (1 more to do, 0 finished, < 0 a bitnet_status); any of the
   three arrays may be NULL. While any gen is past its prompt, the prompt chunks together take
   at most bitnet_ctx_params.prefill_budget tokens (chunked prefill), handed out in the order of
   `gens`; the tokens and logits of every gen are the same for any budget. A finished gen is
   skipped (result 0, empty text). A gen whose last prompt chunk runs in this step also samples
   its first token in it. The gens must share one
   context and use distinct sequences (else BITNET_ERR_ARGS, nothing done). Allocates nothing.
   Returns BITNET_OK or the error of the decode (then results[i] of the gens in it); after
   BITNET_ERR_CANCELLED (bitnet_ctx_cancel) the gens in the batch are as before the call and
   can be stepped again. */
BITNET_API bitnet_status bitnet_gen_step_batch(bitnet_gen *const *gens, int n, const char **texts,
                                               size_t *lens, int *results);
/* Several prompts advanced together until all finish; stats (may be NULL) gets one entry per
   prompt. Generations that share a context (ctxs[i] the same pointer, params[i].seq distinct)
   advance with one bitnet_gen_step_batch per round: one forward pass serves them all. Distinct
   contexts advance in turn. */
BITNET_API bitnet_status bitnet_generate_many(bitnet_ctx *const *ctxs, const bitnet_gen_params *params,
                                              int n, bitnet_gen_stats *stats);
/* The same on one context with n_seq >= n: generation i on sequence params[i].seq. */
BITNET_API bitnet_status bitnet_generate_batch(bitnet_ctx *ctx, const bitnet_gen_params *params, int n,
                                               bitnet_gen_stats *stats);

/* Measured read bandwidth of this machine in GB/s: a read-only sum over `bytes` (0 = 1 GiB)
   split over the pool's threads (NULL = the caller alone), the best of 6 passes. Used to quote
   speeds as ratios. */
BITNET_API double bitnet_measure_read_bandwidth(bitnet_threadpool *threads, size_t bytes);
/* The same probe kept alive, for passes interleaved with other work (a shared host's speed
   drifts: a speed and the bandwidth it is compared with should come from the same moments).
   new allocates and touches `bytes` (0 = 1 GiB; in 2 MiB pages where Linux gives them). */
typedef struct bitnet_bw_probe bitnet_bw_probe;
BITNET_API bitnet_status bitnet_bw_probe_new(bitnet_bw_probe **out, bitnet_threadpool *threads, size_t bytes);
BITNET_API double bitnet_bw_probe_pass(bitnet_bw_probe *probe);     /* GB/s of one pass */
BITNET_API void bitnet_bw_probe_free(bitnet_bw_probe *probe);
/* Monotonic milliseconds (CLOCK_MONOTONIC; QueryPerformanceCounter on Windows). */
BITNET_API double bitnet_time_ms(void);

/* The plain API of earlier BitNet bindings: one model with one context. */
typedef struct BitNetModel BitNetModel;
typedef struct BitNetConfig {
    int max_tokens;               /* <= 0: 256 */
    float temperature;            /* <= 0: greedy */
    float top_p;                  /* 0 or >= 1: off */
    int top_k;                    /* <= 0: off */
    uint64_t seed;                /* 0: BITNET_SAMPLER_DEFAULT_SEED (runs are reproducible) */
} BitNetConfig;

BITNET_API BitNetModel *bitnet_load_model(const char *path);          /* NULL on failure */
/* The generated text (malloc'd; free with bitnet_free_string), or NULL on failure. */
BITNET_API char *bitnet_generate(BitNetModel *model, const char *prompt, const BitNetConfig *config);
BITNET_API void bitnet_free_string(char *text);
BITNET_API void bitnet_free_model(BitNetModel *model);
BITNET_API const char *bitnet_get_last_error(void);

/* ===== api: cuda ===== */

/* The optional GPU backend. bitnet.h holds only this interface; the kernels live in the
   companion bitnet_cuda.cu (`make cuda` builds build/bitnet_cuda.o, link it beside the
   BITNET_IMPLEMENTATION file and -lcudart). The companion registers its backend when it is
   linked (a static initializer; or call bitnet_cuda_register() yourself), so a build without
   it is unchanged. A context picks its device from bitnet_ctx_params.device:
       AUTO (0)  the GPU when a backend is registered, a device is present and the model plus
                 its cache fit in the device's free memory, else the CPU; one INFO log line
                 says which and why
       CPU       always the CPU
       CUDA      the GPU bitnet_ctx_params.device_index, or BITNET_ERR_CUDA saying why not
   On the GPU the context keeps its weights (uploaded once per context, ternary codes
   repacked), KV cache and activations in device memory; bitnet_decode runs there and copies
   the logits back. Results equal the CPU's up to float reassociation. */
typedef enum bitnet_device {
    BITNET_DEVICE_AUTO = 0,
    BITNET_DEVICE_CPU  = 1,
    BITNET_DEVICE_CUDA = 2
} bitnet_device;

/* "cpu", "cuda", "cuda:N", "auto" (as in BITNET_DEVICE) into a kind and a device index. */
BITNET_API bitnet_status bitnet_device_parse(const char *text, bitnet_device *kind, int32_t *index);

typedef struct bitnet_device_info {
    char name[128];
    int32_t cc_major, cc_minor;         /* compute capability */
    uint64_t total_bytes, free_bytes;
    int32_t driver_version, runtime_version;   /* as cudaDriverGetVersion: 12040 = 12.4 */
    int32_t sm_count;
} bitnet_device_info;

/* Read-only views of a loaded model's weights, for a backend (borrowed from the model). */
typedef struct bitnet_tern_view {
    int64_t rows, cols, kp;             /* M, K, K rounded up to 128 */
    const uint8_t *codes;               /* (rows, kp/4): I2_S layout, code c = weight/alpha + 1 */
    float alpha;                        /* every weight is (c-1)*alpha when block_scale is NULL */
    const float *block_scale;           /* (rows, kp/256) per-256-block scale, or NULL */
    const float *scale;                 /* blk.N.*.scale: n_scale (1 or rows) values, or NULL */
    int64_t n_scale;
} bitnet_tern_view;

typedef struct bitnet_float_view {
    bitnet_type type;                   /* F32, F16, BF16, Q8_0 or Q6_K */
    int64_t rows, cols;
    const uint8_t *data;                /* file data, any alignment */
    size_t row_bytes;
} bitnet_float_view;

typedef struct bitnet_layer_view {
    const float *attn_norm, *attn_sub_norm, *ffn_norm, *ffn_sub_norm;   /* sub-norms may be NULL */
    bitnet_tern_view wq, wk, wv, wo, wgate, wup, wdown;
} bitnet_layer_view;

BITNET_API bitnet_status bitnet_model_layer_view(const bitnet_model *model, int32_t layer, bitnet_layer_view *out);
/* The token embedding, the head (the embedding again when tied) and the final norm. */
BITNET_API bitnet_status bitnet_model_head_view(const bitnet_model *model, bitnet_float_view *embd,
                                                bitnet_float_view *head, const float **output_norm);

/* One forward call as a backend sees it: token i is at position pos[i] of sequence seq[i]. */
typedef struct bitnet_backend_batch {
    int32_t n_tokens;
    const int32_t *token;               /* (n_tokens) */
    const int32_t *pos;                 /* (n_tokens), or NULL: pos0 + i */
    const int32_t *seq;                 /* (n_tokens), or NULL: every token in sequence 0 */
    int32_t pos0;
    const int32_t *out;                 /* (n_out) tokens whose logits are wanted, or NULL: the last n_out */
    int32_t n_out;
} bitnet_backend_batch;

typedef struct bitnet_backend {
    const char *name;                   /* "cuda" */
    int32_t (*device_count)(void);      /* 0 when no device or no driver */
    bitnet_status (*device_info)(int32_t index, bitnet_device_info *out);
    /* Device bytes a context with these params needs (weights, KV cache, activations). */
    uint64_t (*plan_bytes)(const bitnet_model *model, const bitnet_ctx_params *params);
    bitnet_status (*ctx_new)(void **state, const bitnet_model *model, const bitnet_ctx_params *params,
                             int32_t device);
    void (*ctx_free)(void *state);
    /* Runs the batch; logits (n_out, n_vocab) are written to host memory. */
    bitnet_status (*decode)(void *state, const bitnet_backend_batch *batch, float *logits);
    /* "cuda:0 NVIDIA H200 sm_90 | weights 1.2 GB (ternary repacked 0.7 GB) | kernels ..." */
    const char *(*describe)(void *state, char *buf, size_t cap);
    /* The first n_pos cached positions of sequence src become those of dst (bitnet_ctx_seq_copy). */
    bitnet_status (*seq_copy)(void *state, int32_t src, int32_t dst, int32_t n_pos);
} bitnet_backend;

/* For a backend: records `message` as this thread's last error (and logs it); returns status. */
BITNET_API bitnet_status bitnet_backend_fail(bitnet_status status, const char *message);
/* Makes `backend` the one contexts use (NULL unregisters). The companion calls it. */
BITNET_API void bitnet_backend_register(const bitnet_backend *backend);
BITNET_API const bitnet_backend *bitnet_backend_get(void);   /* NULL when none is linked */
/* The device a context runs on (CPU or CUDA) and, for CUDA, its index. */
BITNET_API bitnet_device bitnet_ctx_device(const bitnet_ctx *ctx, int32_t *index);
/* The backend's one-line description of a GPU context ("" for a CPU one). */
BITNET_API const char *bitnet_ctx_describe_device(const bitnet_ctx *ctx, char *buf, size_t cap);
/* Defined by bitnet_cuda.cu: registers the CUDA backend (also done when its object is linked). */
extern void bitnet_cuda_register(void);      /* plain extern: not affected by BITNET_STATIC */

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

/* Everything the library asks of the OS is in this section and in the thread pool: files
   (map or read), big page-aligned buffers, the clock, the core count, atomics and threads.
   POSIX (Linux, macOS, the BSDs, musl) or Win32 (Windows x86-64: mingw-w64, and MSVC, which
   is written for but not built here). */

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(_WIN32)
/* Lean: no winsock.h, so a program can still include winsock2.h after this. */
#  if !defined(WIN32_LEAN_AND_MEAN)
#    define WIN32_LEAN_AND_MEAN
#    define BN__UNDEF_LEAN
#  endif
#  if !defined(NOMINMAX)
#    define NOMINMAX
#    define BN__UNDEF_NOMINMAX
#  endif
#  include <windows.h>
#  if defined(BN__UNDEF_LEAN)
#    undef WIN32_LEAN_AND_MEAN
#    undef BN__UNDEF_LEAN
#  endif
#  if defined(BN__UNDEF_NOMINMAX)
#    undef NOMINMAX
#    undef BN__UNDEF_NOMINMAX
#  endif
#  if defined(_MSC_VER)
#    pragma comment(lib, "advapi32.lib")      /* the large-page privilege */
#  endif
#else
#  include <fcntl.h>
#  include <sys/stat.h>
#  include <sys/types.h>
#  include <unistd.h>
#  if !defined(BITNET_NO_MMAP)
#    include <sys/mman.h>
#  endif
#  if !defined(BITNET_NO_THREADS)
#    include <pthread.h>
#  endif
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define BN__THREAD_LOCAL __thread
#  define BN__UNUSED __attribute__((unused))
#  if defined(__MINGW32__)
#    define BN__PRINTF(a, b) __attribute__((format(gnu_printf, a, b)))
#  else
#    define BN__PRINTF(a, b) __attribute__((format(printf, a, b)))
#  endif
/* Kernels are compiled for their ISA one function at a time; MSVC needs no attribute. */
#  define BN__TARGET(isa) __attribute__((target(isa)))
/* Helpers that take or return vectors are always inlined: mingw-w64's GCC passes vectors to a
   call through stack slots it cannot align to 32 or 64 bytes (GCC bug 54412), and the aligned
   spill of a 512-bit value around such a call faults. */
#  define BN__VEC __attribute__((always_inline)) inline
#elif defined(_MSC_VER)
#  define BN__THREAD_LOCAL __declspec(thread)
#  define BN__UNUSED
#  define BN__PRINTF(a, b)
#  define BN__TARGET(isa)
#  define BN__VEC __inline
#else
#  if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#    define BN__THREAD_LOCAL _Thread_local
#  else
#    define BN__THREAD_LOCAL          /* unknown compiler: the last error is shared */
#  endif
#  define BN__UNUSED
#  define BN__PRINTF(a, b)
#  define BN__TARGET(isa)
#  define BN__VEC
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#  define BN__X86 1
#endif
#if defined(__aarch64__)
#  define BN__ARM64 1
#endif

/* --- atomics (for the thread pool): loads acquire, stores release, _sc sequentially
   consistent. The GNU builtins (gcc, clang, mingw), else the Interlocked intrinsics (MSVC;
   BN__MSVC_INTRINSICS picks them, and MSVC's cpuid, on mingw: that is how they are tested). --- */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(BN__MSVC_INTRINSICS)
static BN__UNUSED uint32_t bn_atomic_load32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static BN__UNUSED uint64_t bn_atomic_load64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static BN__UNUSED uint32_t bn_atomic_load32_sc(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static BN__UNUSED uint64_t bn_atomic_load64_sc(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static BN__UNUSED void bn_atomic_store32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static BN__UNUSED void bn_atomic_store64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static BN__UNUSED void bn_atomic_store32_sc(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static BN__UNUSED void bn_atomic_store64_sc(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
/* Adds v (sequentially consistent) and returns the new value. */
static BN__UNUSED uint32_t bn_atomic_add32(uint32_t *p, uint32_t v) { return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST); }
/* Replaces *p by desired if it holds *expected (acq_rel); else loads it into *expected. */
static BN__UNUSED int bn_atomic_cas64(uint64_t *p, uint64_t *expected, uint64_t desired) {
    return __atomic_compare_exchange_n(p, expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
#elif defined(_WIN32) && (defined(_M_X64) || defined(__x86_64__))
#  include <intrin.h>
/* x86-64 loads acquire and stores release in hardware: only the compiler must not reorder
   them, and the sequentially consistent stores are exchanges. */
static BN__UNUSED uint32_t bn_atomic_load32(const uint32_t *p) {
    uint32_t v = *(const volatile uint32_t *)p;
    _ReadWriteBarrier();
    return v;
}
static BN__UNUSED uint64_t bn_atomic_load64(const uint64_t *p) {
    uint64_t v = *(const volatile uint64_t *)p;
    _ReadWriteBarrier();
    return v;
}
static BN__UNUSED uint32_t bn_atomic_load32_sc(const uint32_t *p) { return bn_atomic_load32(p); }
static BN__UNUSED uint64_t bn_atomic_load64_sc(const uint64_t *p) { return bn_atomic_load64(p); }
static BN__UNUSED void bn_atomic_store32(uint32_t *p, uint32_t v) { _ReadWriteBarrier(); *(volatile uint32_t *)p = v; }
static BN__UNUSED void bn_atomic_store64(uint64_t *p, uint64_t v) { _ReadWriteBarrier(); *(volatile uint64_t *)p = v; }
static BN__UNUSED void bn_atomic_store32_sc(uint32_t *p, uint32_t v) { _InterlockedExchange((volatile long *)p, (long)v); }
static BN__UNUSED void bn_atomic_store64_sc(uint64_t *p, uint64_t v) {
    _InterlockedExchange64((volatile __int64 *)p, (__int64)v);
}
static BN__UNUSED uint32_t bn_atomic_add32(uint32_t *p, uint32_t v) {
    return (uint32_t)_InterlockedExchangeAdd((volatile long *)p, (long)v) + v;
}
static BN__UNUSED int bn_atomic_cas64(uint64_t *p, uint64_t *expected, uint64_t desired) {
    uint64_t old = (uint64_t)_InterlockedCompareExchange64((volatile __int64 *)p, (__int64)desired, (__int64)*expected);
    if (old == *expected) return 1;
    *expected = old;
    return 0;
}
#elif !defined(BITNET_NO_THREADS)
#  error "bitnet.h: no atomics for this compiler; define BITNET_NO_THREADS"
#endif

/* --- files: open (UTF-8 names on Windows too), size, map --- */

static BN__PRINTF(2, 3) bitnet_status bn_fail(bitnet_status status, const char *fmt, ...);

#if defined(_WIN32)
#define BN__WIN_PATH_MAX 4096   /* UTF-16 units, terminator included */

/* "The system cannot find the file specified" for a Win32 error code. */
static BN__UNUSED const char *bn_win_error_text(DWORD code, char *buf, size_t cap) {
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code, 0,
                             buf, (DWORD)cap, NULL);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '.' || buf[n - 1] == ' ')) n--;
    if (n == 0) snprintf(buf, cap, "Windows error %lu", (unsigned long)code);
    else buf[n] = 0;
    return buf;
}

/* UTF-8 -> UTF-16 for the W functions; 0 (no message) when invalid or too long. */
static int bn_win_wide(const char *utf8, wchar_t *out, int cap) {
    return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, out, cap) > 0;
}
#endif

/* fopen with `path` in UTF-8 everywhere (Windows' fopen takes the ANSI code page). */
static FILE *bn_fopen(const char *path, const char *mode) {
#if defined(_WIN32)
    wchar_t wpath[BN__WIN_PATH_MAX], wmode[8];
    if (!bn_win_wide(path, wpath, BN__WIN_PATH_MAX) || !bn_win_wide(mode, wmode, 8)) {
        errno = EINVAL;
        return NULL;
    }
    return _wfopen(wpath, wmode);
#else
    return fopen(path, mode);
#endif
}

/* Size of an open file (64-bit on Windows too, where long is 32); leaves it at the start. */
static int bn_file_size(FILE *f, uint64_t *size) {
#if defined(_WIN32)
    __int64 n;
    if (_fseeki64(f, 0, SEEK_END) != 0 || (n = _ftelli64(f)) < 0 || _fseeki64(f, 0, SEEK_SET) != 0) return 0;
#else
    long n;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) return 0;
#endif
    *size = (uint64_t)n;
    return 1;
}

#if !defined(BITNET_NO_MMAP)
/* Maps `path` read-only. BITNET_ERR_UNSUPPORTED (no message) means "read it instead": an
   empty file, one larger than the address space, or an OS that will not map it. */
static bitnet_status bn_map_file(const char *path, const unsigned char **data, uint64_t *size) {
#if defined(_WIN32)
    wchar_t wpath[BN__WIN_PATH_MAX];
    char why[256];
    HANDLE file, mapping;
    LARGE_INTEGER n;
    void *p;
    if (!bn_win_wide(path, wpath, BN__WIN_PATH_MAX))
        return bn_fail(BITNET_ERR_IO, "cannot open '%s': not valid UTF-8 or longer than %d characters",
                       path, BN__WIN_PATH_MAX - 1);
    /* others may read it, and rename or delete it while mapped, as on POSIX */
    file = CreateFileW(wpath, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                       FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE)
        return bn_fail(BITNET_ERR_IO, "cannot open '%s': %s", path, bn_win_error_text(GetLastError(), why, sizeof why));
    if (GetFileType(file) != FILE_TYPE_DISK || !GetFileSizeEx(file, &n)) {
        CloseHandle(file);
        return bn_fail(BITNET_ERR_IO, "cannot read '%s': not a regular file", path);
    }
    if (n.QuadPart <= 0 || (uint64_t)n.QuadPart > (uint64_t)SIZE_MAX) {
        CloseHandle(file);
        return BITNET_ERR_UNSUPPORTED;
    }
    mapping = CreateFileMappingW(file, NULL, PAGE_READONLY, 0, 0, NULL);
    CloseHandle(file);
    if (!mapping) return BITNET_ERR_UNSUPPORTED;
    p = MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, 0);
    CloseHandle(mapping);                     /* the view keeps the mapping alive */
    if (!p) return BITNET_ERR_UNSUPPORTED;
    *data = (const unsigned char *)p;
    *size = (uint64_t)n.QuadPart;
    return BITNET_OK;
#else
    struct stat sb;
    void *p;
    int fd = open(path, O_RDONLY | O_NONBLOCK);    /* a FIFO must not block the open */
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
#if defined(MADV_HUGEPAGE) && !defined(BITNET_NO_MMAP_HUGEPAGE)
    /* Where the kernel allows (Linux 6.x, ext4/xfs/tmpfs page cache in large folios), 2 MiB
       entries for the mapping, and 2 MiB folios for what a fault reads in: decoding streams
       every weight per token, and 4 KiB pages cost TLB walks and stop the hardware prefetcher
       at every page. No copy: the mapping stays shared with the page cache. Advice only. */
    madvise(p, (size_t)sb.st_size, MADV_HUGEPAGE);
#endif
    *data = (const unsigned char *)p;
    *size = (uint64_t)sb.st_size;
    return BITNET_OK;
#endif
}

static void bn_unmap_file(const unsigned char *data, uint64_t size) {
#if defined(_WIN32)
    (void)size;
    UnmapViewOfFile(data);
#else
    munmap((void *)data, (size_t)size);
#endif
}
#endif /* !BITNET_NO_MMAP */

/* --- the clock and the core count --- */

#if defined(_WIN32)
double bitnet_time_ms(void) {
    LARGE_INTEGER now, freq;
    QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (double)now.QuadPart * 1e3 / (double)freq.QuadPart;
}

/* Processors this process may run on (its affinity mask: the processor group it is in). */
static int bn_win_cores(void) {
    DWORD_PTR mine, all;
    int n = 0;
    if (GetProcessAffinityMask(GetCurrentProcess(), &mine, &all))
        for (; mine; mine &= mine - 1) n++;
    if (n < 1) {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        n = (int)si.dwNumberOfProcessors;
    }
    return n < 1 ? 1 : n > 1024 ? 1024 : n;
}
#elif defined(CLOCK_MONOTONIC)
double bitnet_time_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
#else
double bitnet_time_ms(void) { return (double)clock() * 1000.0 / CLOCKS_PER_SEC; }
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

/* An int flag shared between threads (cancellation). */
#if defined(__GNUC__) || defined(__clang__)
#  define BN__ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#  define BN__ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#  define BN__ATOMIC_XCHG(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#else
#  define BN__ATOMIC_LOAD(p) (*(volatile int *)(p))
#  define BN__ATOMIC_STORE(p, v) (*(volatile int *)(p) = (v))
static int bn_xchg_plain(int *p, int v) { int old = *(volatile int *)p; *(volatile int *)p = v; return old; }
#  define BN__ATOMIC_XCHG(p, v) bn_xchg_plain((p), (v))
#endif

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

/* Room for a big buffer that is streamed again and again (a file read into memory, the
   bandwidth probe), so streaming does not restart the hardware prefetchers every 4 KiB: on
   Linux an anonymous mapping in whole 2 MiB pages with transparent huge pages asked for; on
   Windows large pages where the process holds the "lock pages in memory" privilege, else
   normal pages. NULL elsewhere or on failure: the caller then uses its allocator. */
#define BN__HUGE ((size_t)1 << 21)
#if defined(_WIN32)
/* Large pages need SeLockMemoryPrivilege enabled in the process token, which only works
   where an administrator granted it to the account; asked once. */
static int bn_win_large_pages(void) {
    static volatile LONG state;             /* 0 not asked, 1 enabled, 2 not held */
    if (state == 0) {
        HANDLE token;
        TOKEN_PRIVILEGES tp;
        LONG ok = 2;
        if (GetLargePageMinimum() && OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token)) {
            tp.PrivilegeCount = 1;
            tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
            /* AdjustTokenPrivileges succeeds without the privilege and says so in GetLastError */
            if (LookupPrivilegeValueA(NULL, "SeLockMemoryPrivilege", &tp.Privileges[0].Luid) &&
                AdjustTokenPrivileges(token, FALSE, &tp, 0, NULL, NULL) && GetLastError() == ERROR_SUCCESS)
                ok = 1;
            CloseHandle(token);
        }
        InterlockedExchange(&state, ok);
    }
    return state == 1;
}

static void *bn_huge_alloc(size_t n) {
    size_t large = bn_win_large_pages() ? GetLargePageMinimum() : 0;
    void *p = NULL;
    if (n == 0) return NULL;
    if (large && n <= SIZE_MAX - large)
        p = VirtualAlloc(NULL, (n + large - 1) / large * large, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES,
                         PAGE_READWRITE);
    if (!p) p = VirtualAlloc(NULL, n, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    return p;
}

static void bn_huge_free(void *p, size_t n) {
    (void)n;
    if (p) VirtualFree(p, 0, MEM_RELEASE);
}
#elif defined(MAP_ANONYMOUS) && defined(MADV_HUGEPAGE) && !defined(BITNET_NO_MMAP)
static void *bn_huge_alloc(size_t n) {
    size_t len = (n + BN__HUGE - 1) / BN__HUGE * BN__HUGE, lead;
    unsigned char *p, *a;
    if (n == 0 || len < n || len > SIZE_MAX - BN__HUGE) return NULL;
    p = (unsigned char *)mmap(NULL, len + BN__HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == (unsigned char *)MAP_FAILED) return NULL;
    a = (unsigned char *)(((uintptr_t)p + BN__HUGE - 1) & ~(uintptr_t)(BN__HUGE - 1));
    lead = (size_t)(a - p);
    if (lead) munmap(p, lead);
    if (BN__HUGE - lead) munmap(a + len, BN__HUGE - lead);
    madvise(a, len, MADV_HUGEPAGE);
    return a;
}

static void bn_huge_free(void *p, size_t n) {
    if (p) munmap(p, (n + BN__HUGE - 1) / BN__HUGE * BN__HUGE);
}
#else
static void *bn_huge_alloc(size_t n) { (void)n; return NULL; }
static void bn_huge_free(void *p, size_t n) { (void)p; (void)n; }
#endif

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
#  if defined(_MSC_VER) || defined(BN__MSVC_INTRINSICS)
#    include <intrin.h>
static void bn_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    int regs[4];
    __cpuidex(regs, (int)leaf, (int)sub);
    memcpy(r, regs, sizeof regs);
}
static BN__TARGET("xsave") uint64_t bn_xgetbv0(void) { return _xgetbv(0); }
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

/* --- name index ---
   Keys and tensor names are found through an open-addressing hash table, so checking a file with
   n names for duplicates costs O(n), not O(n^2). The hash is seeded per table from addresses (ASLR)
   so a hostile file cannot be built to make every name land in one chain. Slots hold index + 1
   (0 = empty); names are read from the caller's array (base + i * stride is a char pointer). */
typedef struct bn_names {
    int64_t *slots;             /* (mask + 1) */
    uint64_t mask, seed;
    int64_t count;
    uint64_t n_probes;          /* slots examined by inserts: the work counter the tests check */
} bn_names;

static const char *bn_names_at(const void *base, size_t stride, int64_t i) {
    const char *name;
    memcpy(&name, (const char *)base + (size_t)i * stride, sizeof name);
    return name;
}

static uint64_t bn_names_hash(const bn_names *ix, const char *s) {
    uint64_t h = 0xcbf29ce484222325ull ^ ix->seed;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    h ^= h >> 33; h *= 0xff51afd7ed558ccdull; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ull; h ^= h >> 33;
    return h;
}

/* Room for `n` names at most half full; 0 on NOMEM. */
static int bn_names_reserve(bn_names *ix, const bitnet_allocator *a, const void *base, size_t stride, int64_t n) {
    uint64_t cap = 16, i;
    int64_t *old = ix->slots, j;
    uint64_t old_cap = old ? ix->mask + 1 : 0;
    while (cap < (uint64_t)n * 2) cap *= 2;
    if (old && cap <= old_cap) return 1;
    if (cap > SIZE_MAX / sizeof *old || !(ix->slots = (int64_t *)bn_zalloc(a, (size_t)cap * sizeof *old))) {
        ix->slots = old;
        return 0;
    }
    ix->mask = cap - 1;
    if (!old) {
        uintptr_t here = (uintptr_t)&cap, table = (uintptr_t)ix->slots;
        ix->seed = (uint64_t)here * 0x9e3779b97f4a7c15ull ^ (uint64_t)table;
    }
    for (i = 0; i < old_cap; i++) {
        uint64_t h;
        if (!old[i]) continue;
        j = old[i] - 1;
        for (h = bn_names_hash(ix, bn_names_at(base, stride, j)) & ix->mask; ix->slots[h]; h = (h + 1) & ix->mask) {}
        ix->slots[h] = j + 1;
    }
    bn_free(a, old);
    return 1;
}

static void bn_names_free(bn_names *ix, const bitnet_allocator *a) {
    bn_free(a, ix->slots);
    memset(ix, 0, sizeof *ix);
}

/* Index of `name`, or -1. */
static int64_t bn_names_find(const bn_names *ix, const void *base, size_t stride, const char *name) {
    uint64_t h;
    if (!ix->slots) return -1;
    for (h = bn_names_hash(ix, name) & ix->mask; ix->slots[h]; h = (h + 1) & ix->mask)
        if (strcmp(bn_names_at(base, stride, ix->slots[h] - 1), name) == 0) return ix->slots[h] - 1;
    return -1;
}

/* Adds entry i (room reserved); returns -1, or the index of an earlier entry with the same name. */
static int64_t bn_names_insert(bn_names *ix, const void *base, size_t stride, int64_t i) {
    const char *name = bn_names_at(base, stride, i);
    uint64_t h;
    for (h = bn_names_hash(ix, name) & ix->mask; ix->slots[h]; h = (h + 1) & ix->mask) {
        ix->n_probes++;
        if (strcmp(bn_names_at(base, stride, ix->slots[h] - 1), name) == 0) return ix->slots[h] - 1;
    }
    ix->n_probes++;
    ix->slots[h] = i + 1;
    ix->count++;
    return -1;
}

struct bitnet_gguf {
    bitnet_allocator allocator;
    const unsigned char *data;               /* (size) the whole file */
    uint64_t size;
    int mapped;                              /* data is an mmap (else owned or borrowed) */
    int owned;                               /* data was read into memory we free: 1 from the
                                                allocator, 2 from bn_huge_alloc */
    uint32_t version, alignment;
    uint64_t data_offset;
    int64_t n_kv, n_tensors;
    char **keys;                             /* (n_kv) NUL-terminated copies */
    bitnet_gguf_value *values;               /* (n_kv) */
    bitnet_gguf_tensor *tensors;             /* (n_tensors) */
    uint64_t *str_index;                     /* element offsets of all top-level string arrays */
    char *names;                             /* storage of the keys and tensor names */
    bn_names key_index, tensor_index;        /* name -> index, for duplicates and lookups */
    uint64_t n_sort_steps;                   /* work of sorting tensors by offset (tests read it) */
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
        if ((j = bn_names_insert(&g->key_index, g->keys, sizeof *g->keys, i)) >= 0)
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

/* Heap sort of tensor pointers by offset (then file order): O(n log n) for any file, in place.
   *steps counts sift steps, the work the tests bound. */
static int bn_gguf_offset_less(const bitnet_gguf_tensor *a, const bitnet_gguf_tensor *b) {
    return a->offset < b->offset || (a->offset == b->offset && a < b);
}

static void bn_gguf_sift_down(bitnet_gguf_tensor **p, int64_t root, int64_t n, uint64_t *steps) {
    for (;;) {
        int64_t child = 2 * root + 1;
        bitnet_gguf_tensor *t;
        if (child >= n) return;
        if (child + 1 < n && bn_gguf_offset_less(p[child], p[child + 1])) child++;
        if (!bn_gguf_offset_less(p[root], p[child])) return;
        t = p[root]; p[root] = p[child]; p[child] = t;
        root = child;
        ++*steps;
    }
}

static void bn_gguf_sort_by_offset(bitnet_gguf_tensor **p, int64_t n, uint64_t *steps) {
    int64_t i;
    for (i = n / 2; i-- > 0;) bn_gguf_sift_down(p, i, n, steps);
    for (i = n - 1; i > 0; i--) {
        bitnet_gguf_tensor *t = p[0];
        p[0] = p[i]; p[i] = t;
        bn_gguf_sift_down(p, 0, i, steps);
        ++*steps;
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
    bn_gguf_sort_by_offset(order, g->n_tensors, &g->n_sort_steps);
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
        if ((j = bn_names_insert(&g->tensor_index, &g->tensors[0].name, sizeof *g->tensors, i)) >= 0)
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
    if (!g->keys || !g->values || !g->tensors || !g->str_index || !g->names ||
        !bn_names_reserve(&g->key_index, a, g->keys, sizeof *g->keys, (int64_t)n_kv) ||
        !bn_names_reserve(&g->tensor_index, a, &g->tensors[0].name, sizeof *g->tensors, (int64_t)n_tensors))
        return bn_fail(BITNET_ERR_NOMEM, "gguf: out of memory for %llu keys, %llu tensors, %llu strings",
                       (unsigned long long)n_kv, (unsigned long long)n_tensors, (unsigned long long)n_strs);
    return BITNET_OK;
}

static bitnet_status bn_gguf_parse(bitnet_gguf *g) {
    bn_cursor c, kv_start;
    uint64_t n_tensors = 0, n_kv = 0, name_bytes = 0, n_strs = 0;   /* set by parse_header; zeroed for gcc 12 */
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

/* Reads the whole file into memory: the path where mmap is unavailable or not wanted. With the
   default allocator the memory comes in huge pages where the OS has them. */
static bitnet_status bn_gguf_read_file(bitnet_gguf *g, const char *path, int default_allocator) {
    FILE *f;
    uint64_t n;
    unsigned char *buf;
#if !defined(_WIN32)
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))    /* a FIFO or device would block or never end */
        return bn_fail(BITNET_ERR_IO, "cannot read '%s': not a regular file", path);
#endif
    f = bn_fopen(path, "rb");
    if (!f) return bn_fail(BITNET_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (!bn_file_size(f, &n) || n > (uint64_t)SIZE_MAX) {
        fclose(f);
        return bn_fail(BITNET_ERR_IO, "cannot size '%s': %s", path, strerror(errno));
    }
    buf = default_allocator ? (unsigned char *)bn_huge_alloc((size_t)n) : NULL;
    g->owned = buf ? 2 : 1;
    if (!buf) buf = (unsigned char *)bn_alloc(&g->allocator, (size_t)n ? (size_t)n : 1, 64);
    if (!buf) {
        fclose(f);
        return bn_fail(BITNET_ERR_NOMEM, "cannot read '%s': out of memory for %llu bytes", path,
                       (unsigned long long)n);
    }
    g->data = buf;
    g->size = n;
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return bn_fail(BITNET_ERR_IO, "cannot read '%s': short read", path);   /* the caller closes g */
    }
    fclose(f);
    return BITNET_OK;
}

/* Opens `path` mapped, or read into memory when read_into_memory is set or mapping fails. */
static bitnet_status bn_gguf_open_file(bitnet_gguf **out, const char *path, const bitnet_allocator *allocator,
                                       int read_into_memory) {
    bitnet_gguf *g;
    bitnet_status st;
    int default_allocator = !(allocator && allocator->alloc && allocator->free);
    if (!out || !path) return bn_fail(BITNET_ERR_ARGS, "bitnet_gguf_open: NULL argument");
    if ((st = bn_gguf_new(&g, allocator)) != BITNET_OK) return st;
    st = BITNET_ERR_UNSUPPORTED;
#if !defined(BITNET_NO_MMAP)
    if (!read_into_memory && (st = bn_map_file(path, &g->data, &g->size)) == BITNET_OK) g->mapped = 1;
#else
    (void)read_into_memory;
#endif
    if (st == BITNET_ERR_UNSUPPORTED) st = bn_gguf_read_file(g, path, default_allocator);
    if (st != BITNET_OK) {
        bitnet_gguf_close(g);
        return st;
    }
    st = bn_gguf_finish_open(out, g);
    if (st != BITNET_OK) return bn_fail_prefix(st, "%s", path);
    return BITNET_OK;
}

bitnet_status bitnet_gguf_open(bitnet_gguf **out, const char *path, const bitnet_allocator *allocator) {
    return bn_gguf_open_file(out, path, allocator, 0);
}

void bitnet_gguf_close(bitnet_gguf *g) {
    bitnet_allocator a;
    if (!g) return;
    a = g->allocator;
#if !defined(BITNET_NO_MMAP)
    if (g->mapped) bn_unmap_file(g->data, g->size);
#endif
    if (g->owned == 2) bn_huge_free((void *)g->data, (size_t)g->size);
    else if (g->owned) bn_free(&a, (void *)g->data);
    bn_free(&a, g->keys);
    bn_free(&a, g->values);
    bn_free(&a, g->tensors);
    bn_free(&a, g->str_index);
    bn_free(&a, g->names);
    bn_names_free(&g->key_index, &a);
    bn_names_free(&g->tensor_index, &a);
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
    if (!g || !key || !g->n_kv) return -1;
    return bn_names_find(&g->key_index, g->keys, sizeof *g->keys, key);
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
    if (!g || !name || !g->n_tensors) return NULL;
    i = bn_names_find(&g->tensor_index, &g->tensors[0].name, sizeof *g->tensors, name);
    return i >= 0 ? &g->tensors[i] : NULL;
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
    const bitnet_gguf_value *v = NULL;
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
    const bitnet_gguf_value *v = NULL;
    bitnet_status st = bn_gguf_lookup(g, key, &v);
    if (st != BITNET_OK) return st;
    if (v->type == BITNET_GGUF_F32 || v->type == BITNET_GGUF_F64) *out = (float)v->num.f64;
    else if (bn_gguf_is_unsigned(v->type)) *out = (float)v->num.u64;
    else if (bn_gguf_is_signed(v->type)) *out = (float)v->num.i64;
    else return bn_fail(BITNET_ERR_TYPE, "key '%s': %s is not a number", key, bitnet_gguf_type_name(v->type));
    return BITNET_OK;
}

bitnet_status bitnet_gguf_get_bool(const bitnet_gguf *g, const char *key, int *out) {
    const bitnet_gguf_value *v = NULL;
    bitnet_status st = bn_gguf_lookup(g, key, &v);
    if (st != BITNET_OK) return st;
    if (v->type != BITNET_GGUF_BOOL)
        return bn_fail(BITNET_ERR_TYPE, "key '%s': %s, expected bool", key, bitnet_gguf_type_name(v->type));
    *out = (int)v->num.u64;
    return BITNET_OK;
}

bitnet_status bitnet_gguf_get_str(const bitnet_gguf *g, const char *key, const char **ptr, size_t *len) {
    const bitnet_gguf_value *v = NULL;
    bitnet_status st = bn_gguf_lookup(g, key, &v);
    if (st != BITNET_OK) return st;
    if (v->type != BITNET_GGUF_STRING)
        return bn_fail(BITNET_ERR_TYPE, "key '%s': %s, expected string", key, bitnet_gguf_type_name(v->type));
    *ptr = v->str.ptr;
    if (len) *len = (size_t)v->str.len;
    return BITNET_OK;
}

bitnet_status bitnet_gguf_get_arr(const bitnet_gguf *g, const char *key, const bitnet_gguf_value **array) {
    const bitnet_gguf_value *v = NULL;
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
    bn_names key_index, tensor_index;
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
    bn_names_free(&w->key_index, &w->allocator);
    bn_names_free(&w->tensor_index, &w->allocator);
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
    int64_t i = w->n_kvs ? bn_names_find(&w->key_index, &w->kvs[0].key, sizeof *w->kvs, key) : -1;
    char *copy;
    if (i >= 0) {
        bn_free(&w->allocator, w->kvs[i].payload);
        w->kvs[i].type = type;
        w->kvs[i].payload = payload;
        w->kvs[i].n_payload = n_payload;
        return BITNET_OK;
    }
    copy = bn_writer_strdup(&w->allocator, key);
    if (!copy || !bn_writer_grow(&w->allocator, (void **)&w->kvs, w->n_kvs, &w->cap_kvs, sizeof *w->kvs) ||
        !bn_names_reserve(&w->key_index, &w->allocator, &w->kvs[0].key, sizeof *w->kvs, w->n_kvs + 1)) {
        bn_free(&w->allocator, copy);
        bn_free(&w->allocator, payload);
        return bn_fail(BITNET_ERR_NOMEM, "gguf writer: out of memory adding key '%s'", key);
    }
    w->kvs[w->n_kvs].key = copy;
    w->kvs[w->n_kvs].type = type;
    w->kvs[w->n_kvs].payload = payload;
    w->kvs[w->n_kvs].n_payload = n_payload;
    bn_names_insert(&w->key_index, &w->kvs[0].key, sizeof *w->kvs, w->n_kvs);
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
    uint32_t d;
    bitnet_status st;
    if (!w || !name || !*name || !ne || strlen(name) > BN__GGUF_MAX_NAME)
        return bn_fail(BITNET_ERR_ARGS, "gguf writer: bad tensor name or shape");
    if (w->started) return bn_fail(BITNET_ERR_ARGS, "gguf writer: tensor '%s' added after begin", name);
    if (w->n_tensors && bn_names_find(&w->tensor_index, &w->tensors[0].name, sizeof *w->tensors, name) >= 0)
        return bn_fail(BITNET_ERR_ARGS, "gguf writer: duplicate tensor '%s'", name);
    memset(&t, 0, sizeof t);
    if ((st = bitnet_tensor_bytes(type, n_dims, ne, &t.size)) != BITNET_OK)
        return bn_fail_prefix(st, "gguf writer: tensor '%s'", name);
    t.type = type;
    t.n_dims = n_dims;
    for (d = 0; d < 4; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    t.name = bn_writer_strdup(&w->allocator, name);
    if (!t.name || !bn_writer_grow(&w->allocator, (void **)&w->tensors, w->n_tensors, &w->cap_tensors,
                                   sizeof *w->tensors) ||
        !bn_names_reserve(&w->tensor_index, &w->allocator, &w->tensors[0].name, sizeof *w->tensors,
                          w->n_tensors + 1)) {
        bn_free(&w->allocator, t.name);
        return bn_fail(BITNET_ERR_NOMEM, "gguf writer: out of memory adding tensor '%s'", name);
    }
    w->tensors[w->n_tensors] = t;
    bn_names_insert(&w->tensor_index, &w->tensors[0].name, sizeof *w->tensors, w->n_tensors);
    w->n_tensors++;
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
    w->file = bn_fopen(path, "wb");
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

#if BN__X86
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

BN__TARGET("avx,f16c")
static size_t bn_fp16_to_fp32_f16c(const uint16_t *src, float *dst, size_t n) {
    size_t i;
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    return i;
}

BN__TARGET("avx,f16c")
static size_t bn_fp32_to_fp16_f16c(const float *src, uint16_t *dst, size_t n) {
    size_t i;
    for (i = 0; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), BN__RNE));
    return i;
}

BN__TARGET("avx512f")
static size_t bn_fp16_to_fp32_avx512(const uint16_t *src, float *dst, size_t n) {
    size_t i;
    for (i = 0; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    return i;
}

BN__TARGET("avx512f")
static size_t bn_fp32_to_fp16_avx512(const float *src, uint16_t *dst, size_t n) {
    size_t i;
    for (i = 0; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), BN__RNE));
    return i;
}

BN__TARGET("avx2")
static size_t bn_bf16_to_fp32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(w, 16));
    }
    return i;
}

BN__TARGET("avx512f")
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
BN__TARGET("avx2")
static BN__VEC __m256i bn_bf16_round8_avx2(__m256i x) {
    __m256i hi = _mm256_srli_epi32(x, 16);
    __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), lsb), 16);
    __m256i mag = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
    __m256i nan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7f800000));
    return _mm256_blendv_epi8(r, _mm256_or_si256(hi, _mm256_set1_epi32(0x40)), nan);
}

BN__TARGET("avx2")
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

BN__TARGET("avx512f")
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

/* Q6_K (this library's own quantizer, not llama.cpp's bytes): each 16-value sub-block gets the
   scale, among a few that map its largest |x| near the ends of -32..31, whose least-squares refit
   leaves the smallest squared error; the 16 scales are then stored as int8 times one F16 d and
   the values re-rounded against the stored scale. */
static float bn_q6k_sub_scale(const float *x) {
    float vmax = 0, best_s = 0, best_err = -1;
    int j, c;
    for (j = 0; j < 16; j++) vmax = fabsf(x[j]) > fabsf(vmax) ? x[j] : vmax;
    if (vmax == 0) return 0;
    for (c = 0; c < 7; c++) {
        float s = vmax / (-32.0f + 0.5f * (float)c), xq = 0, qq = 0, err = 0;
        for (j = 0; j < 16; j++) {
            float q = fminf(31.0f, fmaxf(-32.0f, roundf(x[j] / s)));
            xq += x[j] * q;
            qq += q * q;
        }
        if (qq > 0) s = xq / qq;                        /* the best scale for these levels */
        for (j = 0; j < 16; j++) {
            float q = fminf(31.0f, fmaxf(-32.0f, roundf(x[j] / s))), e = x[j] - s * q;
            err += e * e;
        }
        if (best_err < 0 || err < best_err) { best_err = err; best_s = s; }
    }
    return best_s;
}

static void bn_q6k_put(unsigned char *blk, int e, int q) {   /* element e (0..255), q in 0..63 */
    int half = e / 128, l = e % 128, j = l / 32, m = l % 32;
    unsigned char *ql = blk + half * 64 + (j & 1) * 32 + m, *qh = blk + 128 + half * 32 + m;
    *ql = (unsigned char)(*ql | (q & 15) << (j >= 2 ? 4 : 0));
    *qh = (unsigned char)(*qh | (q >> 4) << (2 * j));
}

static void bn_quant_q6_k(const float *x, unsigned char *y, uint64_t nb) {
    uint64_t i;
    int s, j;
    for (i = 0; i < nb; i++, x += BN__QK_K, y += 210) {
        float sub[16], smax = 0, d;
        uint16_t dh;
        for (s = 0; s < 16; s++) {
            sub[s] = bn_q6k_sub_scale(x + 16 * s);
            smax = fabsf(sub[s]) > fabsf(smax) ? sub[s] : smax;
        }
        dh = bn_fp32_to_fp16(smax / -128.0f);
        d = bn_fp16_to_fp32(dh);
        memset(y, 0, 210);
        memcpy(y + 208, &dh, 2);
        for (s = 0; s < 16; s++) {
            int sc = d != 0 ? (int)fminf(127.0f, fmaxf(-128.0f, roundf(sub[s] / d))) : 0;
            float eff = d * (float)sc;
            y[192 + s] = (unsigned char)(int8_t)sc;
            for (j = 0; j < 16; j++) {
                int q = eff != 0 ? (int)fminf(31.0f, fmaxf(-32.0f, roundf(x[16 * s + j] / eff))) : 0;
                bn_q6k_put(y, 16 * s + j, q + 32);
            }
        }
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
        case BITNET_TYPE_Q6_K:  bn_quant_q6_k(src, y, n / BN__QK_K); break;
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

/* BN__UNROLL: a loop over constant bounds unrolled, so that arrays of vectors it indexes stay
   in registers. BN__UNROLL2: a hot loop unrolled twice. BN__NO_PRE: GCC's partial redundancy
   elimination off, which in loops of many accumulators adds a register copy per accumulator
   (and spills) to every iteration. */
#if defined(__clang__)
#  define BN__UNROLL _Pragma("unroll")
#  define BN__UNROLL2 _Pragma("unroll 2")
#elif defined(__GNUC__)
#  define BN__UNROLL _Pragma("GCC unroll 8")
#  define BN__UNROLL2 _Pragma("GCC unroll 2")
#else
#  define BN__UNROLL
#  define BN__UNROLL2
#endif
/* S(0, A) .. S(NT - 1, A) for NT <= 4, each with a constant token index: per-token arrays then
   live in registers (a loop over them, even of constant length, may keep them on the stack). */
#define BN__PER_TOKEN(NT, S, A) do { S(0, A); if ((NT) > 1) S(1, A); if ((NT) > 2) S(2, A); if ((NT) > 3) S(3, A); } while (0)
#if defined(__GNUC__) && !defined(__clang__)
#  define BN__NO_PRE __attribute__((optimize("no-tree-pre")))
#else
#  define BN__NO_PRE
#endif

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
       kt.rope(x, n_heads, head_dim, n_rot, cs, neox)   in place; cs (n_rot): cos then sin of each
                                                    pair's angle, e.g. from bn_rope_angles(pos, base, n_rot, cs)
       kt.softmax(x, n)   kt.relu2_mul(g, u, n, out)   kt.silu_mul(g, u, n, out)   (out may be g)
       kt.dot_f32(a, b, n)  kt.axpy_f32(y, a, x, n)   y += a*x
       kt.dot_f16(a16, b, n)  kt.axpy_f16(y, a, x16, n)   (F16 KV cache rows)
   Attention of nq query rows (q: nq x d) over n cached rows (k, v: F32, or F16 when f16 is set;
   row p at p * ldk / p * ldv elements):
       kt.attn_scores(q, nq, k, f16, ldk, n, d, scale, s, lds)   s[i * lds + p] = scale * q_i . k_p
       kt.attn_values(out, nq, a, lda, v, f16, ldv, n, d)        out_i = sum_p a[i * lda + p] v_p
   bitnet_kernels_describe() prints what each field resolved to.
   Notes: every kernel computes each output row with the same operations wherever [r0, r1)
   starts, so any split gives identical bits. Weight pointers need no alignment. GEMVs prefetch
   a few KiB past the rows they read (a hint, never a fault). The AVX-512 gemm_tern keeps
   81 KiB of buffers on the stack (pool workers get >= 1 MiB stacks). No kernel allocates. */

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
    void (*rope)(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cs, int neox);
    void (*softmax)(float *x, int64_t n);
    void (*relu2_mul)(const float *g, const float *u, int64_t n, float *out);
    void (*silu_mul)(const float *g, const float *u, int64_t n, float *out);
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*axpy_f32)(float *y, float a, const float *x, int64_t n);
    float (*dot_f16)(const uint16_t *a, const float *b, int64_t n);
    void (*axpy_f16)(float *y, float a, const uint16_t *x, int64_t n);
    void (*attn_scores)(const float *q, int64_t nq, const void *k, int f16, int64_t ldk, int64_t n, int64_t d,
                        float scale, float *s, int64_t lds);
    void (*attn_values)(float *out, int64_t nq, const float *a, int64_t lda, const void *v, int f16, int64_t ldv,
                        int64_t n, int64_t d);
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
    uint64_t rb, need = 0;
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
    if (!bn_mul_u64(rb, rows, &need) || size < need)
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

/* ---- Q8_0 / Q6_K: integer dots against quantized activations ----
   As llama.cpp does for its quantized types, the activations are quantized too (q8_0 per 32 for
   Q8_0 weights, q8_K per 256 for Q6_K: int8 in [-127, 127], d = max|x| / 127) and each block's dot
   is an exact integer; only the scaling is float. Columns go in chunks of BN__QX_COLS, tokens in
   groups of up to 8, so the quantized activations live on the stack. */
#define BN__QX_COLS 4096
typedef struct bn_qx {
    int8_t q[BN__QX_COLS];
    float d[BN__QX_COLS / 32];
    int16_t bsum[BN__QX_COLS / 16];     /* sums of each 16 q (256-blocks only) */
} bn_qx;

static int8_t bn_qx_round(float v) {   /* v * 127 / max|x|; NaN and overflow clamp, never UB */
    if (v >= 0.0f) return (int8_t)(v < 127.0f ? (int)(v + 0.5f) : 127);
    return (int8_t)(v > -127.0f ? (int)(v - 0.5f) : -127);
}

/* n activations (a multiple of bs, 32 or 256, at most BN__QX_COLS) into o. A NaN makes its
   block's d NaN, so it reaches the output as it would without the quantization. */
static void bn_quant_qx(const float *x, int64_t n, int64_t bs, bn_qx *o) {
    int64_t b, i;
    for (b = 0; b < n / bs; b++) {
        const float *xb = x + b * bs;
        float amax = 0.0f, inv;
        int nan = 0;
        for (i = 0; i < bs; i++) {
            float a = fabsf(xb[i]);
            nan |= a != a;
            if (a > amax) amax = a;
        }
        inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        o->d[b] = nan ? NAN : amax / 127.0f;
        for (i = 0; i < bs; i++) o->q[b * bs + i] = bn_qx_round(xb[i] * inv);
    }
    if (bs == 256)
        for (b = 0; b < n / 16; b++) {
            int sum = 0;
            for (i = 0; i < 16; i++) sum += o->q[b * 16 + i];
            o->bsum[b] = (int16_t)sum;
        }
}

#ifndef BN__PF_STREAM
#define BN__PF_STREAM 4096        /* bytes prefetched into L1 ahead in one weight stream read row
                                     after row (float GEMV, Q8_0/Q6_K rows): on Zen 5, 1 KiB read
                                     0.65-0.79 of the bandwidth at 1 thread, 4 KiB 0.85-0.96 */
#endif

/* A row kernel: `nb` blocks of one row against nt (1..4) quantized tokens, one float per token. */
typedef void (*bn_qrow_fn)(const uint8_t *w, int64_t nb, const bn_qx *qx, int nt, float *part);

/* The Q8_0 / Q6_K GEMM of every ISA. Each row meets all tokens of a group while it is in cache,
   and row r of token t takes the same steps whatever n is: a GEMM row is the GEMV's, bit for bit. */
static void bn_gemm_qx(const bn_fmat *m, const float *x, int64_t ldx, int64_t n, float *y, int64_t ldy,
                       int64_t r0, int64_t r1, bn_qrow_fn row) {
    bn_qx qx[8];
    int64_t bs = m->ft == BN__FT_Q6_K ? 256 : 32, bbytes = m->ft == BN__FT_Q6_K ? 210 : 34;
    int64_t t0, c0, r, t;
    for (t0 = 0; t0 < n; t0 += 8) {
        int64_t nt = n - t0 < 8 ? n - t0 : 8;
        for (c0 = 0; c0 < m->cols; c0 += BN__QX_COLS) {
            int64_t cn = m->cols - c0 < BN__QX_COLS ? m->cols - c0 : BN__QX_COLS;
            for (t = 0; t < nt; t++) bn_quant_qx(x + (t0 + t) * ldx + c0, cn, bs, &qx[t]);
            for (r = r0; r < r1; r++) {
                const uint8_t *w = m->data + (size_t)r * m->row_bytes + (size_t)(c0 / bs * bbytes);
                float part[8];
                for (t = 0; t < nt; t += 4) row(w, cn / bs, qx + t, nt - t < 4 ? (int)(nt - t) : 4, part + t);
                for (t = 0; t < nt; t++) {
                    float *o = y + (t0 + t) * ldy + r;
                    *o = c0 ? *o + part[t] : part[t];
                }
            }
        }
    }
}

/* The kernel table's GEMV and GEMM entries `gemv` / `gemm` over row kernel `row`. */
#define BN__QX_ENTRIES(gemv, gemm, row) \
    static void gemv(const bn_fmat *m, const float *x, float *y, int64_t r0, int64_t r1) { \
        bn_gemm_qx(m, x, 0, 1, y, 0, r0, r1, row); \
    } \
    static void gemm(const bn_fmat *m, const float *x, int64_t ldx, int64_t n, float *y, int64_t ldy, \
                     int64_t r0, int64_t r1) { \
        bn_gemm_qx(m, x, ldx, n, y, ldy, r0, r1, row); \
    }

/* Q6_K block values minus 32, in element order. */
static void bn_q6k_values(const uint8_t *blk, int8_t *v) {
    const uint8_t *ql = blk, *qh = blk + 128;
    int n, l;
    for (n = 0; n < 2; n++, v += 128, ql += 64, qh += 32)
        for (l = 0; l < 32; l++) {
            v[l] = (int8_t)(((ql[l] & 0xF) | ((qh[l] >> 0 & 3) << 4)) - 32);
            v[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | ((qh[l] >> 2 & 3) << 4)) - 32);
            v[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32);
            v[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32);
        }
}

static void bn_q8_0_row_ref(const uint8_t *w, int64_t nb, const bn_qx *qx, int nt, float *part) {
    int64_t b, i;
    int t;
    for (t = 0; t < nt; t++) {
        double acc = 0.0;
        for (b = 0; b < nb; b++) {
            const uint8_t *blk = w + b * 34;
            int32_t dot = 0;
            for (i = 0; i < 32; i++) dot += (int8_t)blk[2 + i] * qx[t].q[b * 32 + i];
            acc += (double)bn_fp16_to_fp32(bn_load_u16(blk)) * qx[t].d[b] * dot;
        }
        part[t] = (float)acc;
    }
}

static void bn_q6_k_row_ref(const uint8_t *w, int64_t nb, const bn_qx *qx, int nt, float *part) {
    int8_t v[256];
    double acc[4] = { 0.0, 0.0, 0.0, 0.0 };
    int64_t b, i;
    int t, g;
    for (b = 0; b < nb; b++) {
        const uint8_t *blk = w + b * 210;
        const int8_t *sc = (const int8_t *)(blk + 192);
        bn_q6k_values(blk, v);
        for (t = 0; t < nt; t++) {
            const int8_t *q = qx[t].q + b * 256;
            int32_t total = 0;
            for (g = 0; g < 16; g++) {
                int32_t dot = 0;
                for (i = 0; i < 16; i++) dot += v[g * 16 + i] * q[g * 16 + i];
                total += sc[g] * dot;
            }
            acc[t] += (double)bn_fp16_to_fp32(bn_load_u16(blk + 208)) * qx[t].d[b] * total;
        }
    }
    for (t = 0; t < nt; t++) part[t] = (float)acc[t];
}

/* The oracle: float types accumulated in double; Q8_0 / Q6_K through bn_gemm_qx. */
static void bn_gemv_f_ref(const bn_fmat *m, const float *x, float *y, int64_t r0, int64_t r1) {
    int64_t r, c;
    if (m->ft == BN__FT_Q8_0 || m->ft == BN__FT_Q6_K) {
        bn_gemm_qx(m, x, 0, 1, y, 0, r0, r1, m->ft == BN__FT_Q8_0 ? bn_q8_0_row_ref : bn_q6_k_row_ref);
        return;
    }
    for (r = r0; r < r1; r++) {
        double acc = 0.0;
        for (c = 0; c < m->cols; c++) acc += (double)bn_fmat_at(m, r, c) * x[c];
        y[r] = (float)acc;
    }
}

static void bn_gemm_f_ref(const bn_fmat *m, const float *x, int64_t ldx, int64_t n, float *y,
                          int64_t ldy, int64_t r0, int64_t r1) {
    int64_t t;
    if (m->ft == BN__FT_Q8_0 || m->ft == BN__FT_Q6_K) {
        bn_gemm_qx(m, x, ldx, n, y, ldy, r0, r1, m->ft == BN__FT_Q8_0 ? bn_q8_0_row_ref : bn_q6_k_row_ref);
        return;
    }
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

/* cs = cos then sin of theta_i = pos * base^(-2i/n_rot), i < n_rot/2: the angles kt.rope takes. */
static BN__UNUSED void bn_rope_angles(int64_t pos, float base, int64_t n_rot, float *cs) {
    int64_t i, half = n_rot / 2;
    for (i = 0; i < half; i++) {
        double theta = (double)pos * pow((double)base, -2.0 * (double)i / (double)n_rot);
        cs[i] = (float)cos(theta);
        cs[half + i] = (float)sin(theta);
    }
}

/* Pairs (a, b) of rotation i: NEOX (i, i + n_rot/2), NORM (2i, 2i+1). Every version computes
   a' = a*cos - b*sin and b' = a*sin + b*cos, dimensions past n_rot untouched. */
static void bn_rope_pairs_ref(float *v, int64_t i0, int64_t half, const float *cs, int neox) {
    int64_t i;
    for (i = i0; i < half; i++) {
        int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        float x0 = v[a], x1 = v[b];
        v[a] = x0 * cs[i] - x1 * cs[half + i];
        v[b] = x0 * cs[half + i] + x1 * cs[i];
    }
}

static void bn_rope_ref(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cs, int neox) {
    int64_t h;
    for (h = 0; h < n_heads; h++) bn_rope_pairs_ref(x + h * head_dim, 0, n_rot / 2, cs, neox);
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

/* Attention scores and value sums built from a table's dot and axpy, a call per (row, query). */
#define BN__ATTN_FROM_DOT(scores, values, dot32, dot16, axpy32, axpy16) \
    static void scores(const float *q, int64_t nq, const void *k, int f16, int64_t ldk, int64_t n, int64_t d, \
                       float scale, float *s, int64_t lds) { \
        int64_t p, i; \
        for (p = 0; p < n; p++) \
            for (i = 0; i < nq; i++) \
                s[i * lds + p] = (f16 ? dot16((const uint16_t *)k + p * ldk, q + i * d, d) \
                                      : dot32(q + i * d, (const float *)k + p * ldk, d)) * scale; \
    } \
    static void values(float *out, int64_t nq, const float *a, int64_t lda, const void *v, int f16, int64_t ldv, \
                       int64_t n, int64_t d) { \
        int64_t p, i; \
        memset(out, 0, (size_t)(nq * d) * sizeof *out); \
        for (p = 0; p < n; p++) \
            for (i = 0; i < nq; i++) { \
                if (f16) axpy16(out + i * d, a[i * lda + p], (const uint16_t *)v + p * ldv, d); \
                else axpy32(out + i * d, a[i * lda + p], (const float *)v + p * ldv, d); \
            } \
    }
BN__ATTN_FROM_DOT(bn_attn_scores_ref, bn_attn_values_ref, bn_dot_f32_ref, bn_dot_f16_ref, bn_axpy_f32_ref,
                  bn_axpy_f16_ref)

/* The drivers of the SIMD attention tiles (AVX2, NEON), one function per ISA each. Queries go 4
   at a time; a score tile takes KEYS keys. A value tile runs over 64-row stretches, so the rows
   stay in L1 over all its lanes, and covers the lanes up to a multiple of LANES; the rest are
   summed by bn_attn_values_lanes one by one, as the reference sums them. Macros rather than
   a function taking the tile: inlined through a pointer, GCC spilled the score tile's sums. */
#define BN__ATTN_SCORES_TILED(name, TARGET, KEYS, tile_f16, tile_f32) \
    static TARGET void name(const float *q, int64_t nq, const void *k, int f16, int64_t ldk, int64_t n, \
                            int64_t d, float scale, float *s, int64_t lds) { \
        int64_t i, p; \
        for (i = 0; i < nq; i += 4) \
            for (p = 0; p < n; p += KEYS) { \
                int64_t mq = nq - i < 4 ? nq - i : 4, mk = n - p < KEYS ? n - p : KEYS; \
                if (f16) tile_f16(q + i * d, mq, k, ldk, p, mk, d, scale, s + i * lds, lds); \
                else tile_f32(q + i * d, mq, k, ldk, p, mk, d, scale, s + i * lds, lds); \
            } \
    }
#define BN__ATTN_VALUES_TILED(name, TARGET, LANES, tile_f16, tile_f32) \
    static TARGET void name(float *out, int64_t nq, const float *a, int64_t lda, const void *v, int f16, \
                            int64_t ldv, int64_t n, int64_t d) { \
        int64_t i, p0; \
        for (i = 0; i < nq; i += 4) { \
            int64_t mq = nq - i < 4 ? nq - i : 4; \
            for (p0 = 0; p0 < n || p0 == 0; p0 += 64) { \
                int64_t p1 = p0 + 64 < n ? p0 + 64 : n; \
                if (f16) tile_f16(out + i * d, mq, a + i * lda, lda, v, ldv, p0, p1, d); \
                else tile_f32(out + i * d, mq, a + i * lda, lda, v, ldv, p0, p1, d); \
            } \
        } \
        bn_attn_values_lanes(out, nq, a, lda, v, f16, ldv, n, d, d / (LANES) * (LANES)); \
    }

/* Lanes [x0, d) of the value sums, one by one over the rows in order. */
static BN__UNUSED void bn_attn_values_lanes(float *out, int64_t nq, const float *a, int64_t lda, const void *v,
                                            int f16, int64_t ldv, int64_t n, int64_t d, int64_t x0) {
    int64_t i, p, x;
    for (x = x0; x < d; x++)
        for (i = 0; i < nq; i++) {
            float acc = 0.0f;
            for (p = 0; p < n; p++) {
                const uint8_t *e = (const uint8_t *)v + (size_t)(p * ldv + x) * (f16 ? 2 : 4);
                acc += a[i * lda + p] * (f16 ? bn_fp16_to_fp32(bn_load_u16(e)) : bn_load_f32(e));
            }
            out[i * d + x] = acc;
        }
}

/* ===== kernels: avx2 ===== */

#if BN__X86
#include <immintrin.h>
#define BN__AVX2 BN__TARGET("avx2,fma,f16c")

static BN__VEC BN__AVX2 float bn_hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static BN__VEC BN__AVX2 int32_t bn_hsum256_epi32(__m256i v) {
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

/* The integer dots of one row with NT (1..4) tokens: per 128 codes, planes (v >> 2j) & 3 decoded
   once in registers, times 32 activations each with maddubs (|code*q| pairs <= 762, no
   saturation), the four planes summed in 16 bits, then widened. NT = 1 is the GEMV. For a few
   tokens a row's codes stay in L1 for the next 4; writing the planes out, as the tiles below
   do, costs more than it saves. */
#define BN__TD_ZERO(t, u) (acc[t] = _mm256_setzero_si256())
#define BN__TD_TOK(t, u) do { \
        const int8_t *x_ = q + (t) * ldq + b * 128; \
        __m256i s_ = _mm256_maddubs_epi16(p0, _mm256_loadu_si256((const __m256i *)x_)); \
        s_ = _mm256_add_epi16(s_, _mm256_maddubs_epi16(p1, _mm256_loadu_si256((const __m256i *)(x_ + 32)))); \
        s_ = _mm256_add_epi16(s_, _mm256_maddubs_epi16(p2, _mm256_loadu_si256((const __m256i *)(x_ + 64)))); \
        s_ = _mm256_add_epi16(s_, _mm256_maddubs_epi16(p3, _mm256_loadu_si256((const __m256i *)(x_ + 96)))); \
        acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(s_, ones)); \
    } while (0)
#define BN__TD_OUT(t, u) (out[t] = bn_hsum256_epi32(acc[t]))
#define BN__TERN_DOTS_AVX2(name, NT) \
    static BN__AVX2 void name(const uint8_t *c, const int8_t *q, int64_t ldq, int64_t kp, int32_t *out) { \
        const __m256i m3 = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1); \
        __m256i acc[4]; \
        int64_t b; \
        BN__PER_TOKEN(NT, BN__TD_ZERO, 0); \
        for (b = 0; b < kp / 128; b++) { \
            __m256i v = _mm256_loadu_si256((const __m256i *)(c + b * 32)); \
            __m256i p0 = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3), p1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3); \
            __m256i p2 = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3), p3 = _mm256_and_si256(v, m3); \
            if (b % 2 == 0) { \
                _mm_prefetch((const char *)c + b * 32 + 4096, _MM_HINT_T0); \
                _mm_prefetch((const char *)c + b * 32 + 12288, _MM_HINT_T1); \
            } \
            BN__PER_TOKEN(NT, BN__TD_TOK, 0); \
        } \
        BN__PER_TOKEN(NT, BN__TD_OUT, 0); \
    }
BN__TERN_DOTS_AVX2(bn_tern_dots1_avx2, 1)
BN__TERN_DOTS_AVX2(bn_tern_dots2_avx2, 2)
BN__TERN_DOTS_AVX2(bn_tern_dots3_avx2, 3)
BN__TERN_DOTS_AVX2(bn_tern_dots4_avx2, 4)

static BN__AVX2 void bn_gemv_tern_i8_avx2(const bn_tern *w, const int8_t *q, float s, int32_t sum,
                                          float *y, int64_t r0, int64_t r1) {
    int64_t r;
    for (r = r0; r < r1; r++) {
        if (w->block_scale) y[r] = bn_tern_row_blocked(w, r, q, 0, s);
        else {
            int32_t acc;
            bn_tern_dots1_avx2(w->codes + r * (w->kp / 4), q, 0, w->kp, &acc);
            y[r] = bn_tern_out(acc, sum, s, w->alpha);
        }
    }
}

static BN__AVX2 void bn_gemm_tern_few_avx2(const bn_tern *w, const int8_t *q, int64_t ldq, const float *s,
                                           const int32_t *sum, int64_t n, float *y, int64_t ldy,
                                           int64_t r0, int64_t r1) {
    int64_t r, t0, t;
    int32_t acc[4];
    for (r = r0; r < r1; r++) {
        const uint8_t *c = w->codes + r * (w->kp / 4);
        for (t0 = 0; t0 < n; t0 += 4) {
            int64_t nt = n - t0 < 4 ? n - t0 : 4;
            const int8_t *qt = q + t0 * ldq;
            if (nt == 4) bn_tern_dots4_avx2(c, qt, ldq, w->kp, acc);
            else if (nt == 3) bn_tern_dots3_avx2(c, qt, ldq, w->kp, acc);
            else if (nt == 2) bn_tern_dots2_avx2(c, qt, ldq, w->kp, acc);
            else bn_tern_dots1_avx2(c, qt, ldq, w->kp, acc);
            for (t = 0; t < nt; t++) y[(t0 + t) * ldy + r] = bn_tern_out(acc[t], sum[t0 + t], s[t0 + t], w->alpha);
        }
    }
}

/* GEMM: the codes of a row block are decoded once into `dec` in q order (byte i is the code
   that meets q[i]), then tiles of 4 rows x 2 tokens run a plain u8 x s8 product over them:
   maddubs summed in 16 bits on AVX2 (bn_gemm_tile_u8_avx2), one vpdpbusd with AVX-VNNI. */
#define BN__DEC2_BYTES 65536
#ifndef BN__FEW_TOKENS_AVX2
#define BN__FEW_TOKENS_AVX2 8           /* up to this many tokens bn_gemm_tern_few_avx2 runs (no VNNI) */
#endif
static BN__AVX2 void bn_tern_decode_row_avx2(const uint8_t *c, int64_t kp, uint8_t *dec) {
    const __m256i m3 = _mm256_set1_epi8(3);
    int64_t b;
    for (b = 0; b < kp / 128; b++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(c + b * 32));
        _mm256_storeu_si256((__m256i *)(dec + b * 128), _mm256_and_si256(_mm256_srli_epi16(v, 6), m3));
        _mm256_storeu_si256((__m256i *)(dec + b * 128 + 32), _mm256_and_si256(_mm256_srli_epi16(v, 4), m3));
        _mm256_storeu_si256((__m256i *)(dec + b * 128 + 64), _mm256_and_si256(_mm256_srli_epi16(v, 2), m3));
        _mm256_storeu_si256((__m256i *)(dec + b * 128 + 96), _mm256_and_si256(v, m3));
    }
}

#define BN__GEMM_TILE_AVX2(name, TARGET, DOT) \
    static TARGET void name(const uint8_t *dec, int64_t kp, const int8_t *q0, const int8_t *q1, \
                            int32_t acc_out[4][2]) { \
        const __m256i ones = _mm256_set1_epi16(1); \
        __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00; \
        __m256i a20 = a00, a21 = a00, a30 = a00, a31 = a00; \
        int64_t i; \
        (void)ones; \
        for (i = 0; i < kp; i += 32) { \
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(q0 + i)); \
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(q1 + i)); \
            __m256i p = _mm256_loadu_si256((const __m256i *)(dec + i)); \
            a00 = DOT(a00, p, x0); a01 = DOT(a01, p, x1); \
            p = _mm256_loadu_si256((const __m256i *)(dec + kp + i)); \
            a10 = DOT(a10, p, x0); a11 = DOT(a11, p, x1); \
            p = _mm256_loadu_si256((const __m256i *)(dec + 2 * kp + i)); \
            a20 = DOT(a20, p, x0); a21 = DOT(a21, p, x1); \
            p = _mm256_loadu_si256((const __m256i *)(dec + 3 * kp + i)); \
            a30 = DOT(a30, p, x0); a31 = DOT(a31, p, x1); \
        } \
        acc_out[0][0] = bn_hsum256_epi32(a00); acc_out[0][1] = bn_hsum256_epi32(a01); \
        acc_out[1][0] = bn_hsum256_epi32(a10); acc_out[1][1] = bn_hsum256_epi32(a11); \
        acc_out[2][0] = bn_hsum256_epi32(a20); acc_out[2][1] = bn_hsum256_epi32(a21); \
        acc_out[3][0] = bn_hsum256_epi32(a30); acc_out[3][1] = bn_hsum256_epi32(a31); \
    }
/* Without VNNI the widening madd is half the multiplier work: the u8 x s8 pair sums (|.| <= 768)
   gather in 16 bits over 256 columns (8 x 768 < 32767) and widen once per stretch. Integer
   sums, so the result is exactly the GEMV's. */
static BN__AVX2 BN__NO_PRE void bn_gemm_tile_u8_avx2(const uint8_t *dec, int64_t kp, const int8_t *q0,
                                                     const int8_t *q1, int32_t acc_out[4][2]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i wide[8];
    int64_t i, j, e;
    BN__UNROLL for (j = 0; j < 8; j++) wide[j] = _mm256_setzero_si256();    /* not a rep stos */
    for (i = 0; i < kp; i = e) {
        __m256i h00 = _mm256_setzero_si256(), h01 = h00, h10 = h00, h11 = h00;
        __m256i h20 = h00, h21 = h00, h30 = h00, h31 = h00;
        e = i + 256 < kp ? i + 256 : kp;
        BN__UNROLL2 for (; i < e; i += 32) {
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(q0 + i));
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(q1 + i));
            __m256i p = _mm256_loadu_si256((const __m256i *)(dec + i));
            h00 = _mm256_add_epi16(h00, _mm256_maddubs_epi16(p, x0)); h01 = _mm256_add_epi16(h01, _mm256_maddubs_epi16(p, x1));
            p = _mm256_loadu_si256((const __m256i *)(dec + kp + i));
            h10 = _mm256_add_epi16(h10, _mm256_maddubs_epi16(p, x0)); h11 = _mm256_add_epi16(h11, _mm256_maddubs_epi16(p, x1));
            p = _mm256_loadu_si256((const __m256i *)(dec + 2 * kp + i));
            h20 = _mm256_add_epi16(h20, _mm256_maddubs_epi16(p, x0)); h21 = _mm256_add_epi16(h21, _mm256_maddubs_epi16(p, x1));
            p = _mm256_loadu_si256((const __m256i *)(dec + 3 * kp + i));
            h30 = _mm256_add_epi16(h30, _mm256_maddubs_epi16(p, x0)); h31 = _mm256_add_epi16(h31, _mm256_maddubs_epi16(p, x1));
        }
        wide[0] = _mm256_add_epi32(wide[0], _mm256_madd_epi16(h00, ones));
        wide[1] = _mm256_add_epi32(wide[1], _mm256_madd_epi16(h01, ones));
        wide[2] = _mm256_add_epi32(wide[2], _mm256_madd_epi16(h10, ones));
        wide[3] = _mm256_add_epi32(wide[3], _mm256_madd_epi16(h11, ones));
        wide[4] = _mm256_add_epi32(wide[4], _mm256_madd_epi16(h20, ones));
        wide[5] = _mm256_add_epi32(wide[5], _mm256_madd_epi16(h21, ones));
        wide[6] = _mm256_add_epi32(wide[6], _mm256_madd_epi16(h30, ones));
        wide[7] = _mm256_add_epi32(wide[7], _mm256_madd_epi16(h31, ones));
    }
    for (j = 0; j < 8; j++) acc_out[j / 2][j % 2] = bn_hsum256_epi32(wide[j]);
}
#if (defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11) || (defined(__clang__) && __clang_major__ >= 12)
#  define BN__HAVE_AVXVNNI 1
#  define BN__AVXVNNI BN__TARGET("avx2,fma,f16c,avxvnni")
#  define BN__DOT_VNNI(acc, p, x) _mm256_dpbusd_avx_epi32(acc, p, x)
BN__GEMM_TILE_AVX2(bn_gemm_tile_u8_avxvnni, BN__AVXVNNI, BN__DOT_VNNI)
#endif

typedef void (*bn_gemm_tile_u8_fn)(const uint8_t *, int64_t, const int8_t *, const int8_t *, int32_t[4][2]);

static BN__AVX2 void bn_gemm_tern_tiled_avx2(const bn_tern *w, const int8_t *q, int64_t ldq,
                                             const float *s, const int32_t *sum, int64_t n, float *y,
                                             int64_t ldy, int64_t r0, int64_t r1, bn_gemm_tile_u8_fn tile) {
    uint8_t dec[BN__DEC2_BYTES];
    int64_t kp = w->kp, rblk = BN__DEC2_BYTES / kp / 4 * 4, b0, r, t0;
    int32_t acc[4][2];
    for (b0 = r0; b0 < r1; b0 += rblk) {
        int64_t b1 = b0 + rblk < r1 ? b0 + rblk : r1, b2 = b1 + rblk < r1 ? b1 + rblk : r1;
        /* the next block's codes are fetched while this one computes, a few lines per tile: else
           a batch of a few tokens waits for memory at each decode, then computes with none */
        const char *next = (const char *)(w->codes + b1 * (kp / 4));
        int64_t next_bytes = (b2 - b1) * (kp / 4), tiles = (n + 1) / 2 * ((b1 - b0 + 3) / 4);
        int64_t per = (next_bytes / (tiles > 0 ? tiles : 1) + 63) / 64 * 64, pf = 0;
        for (r = b0; r < b1; r++) bn_tern_decode_row_avx2(w->codes + r * (kp / 4), kp, dec + (r - b0) * kp);
        for (t0 = 0; t0 < n; t0 += 2) {
            const int8_t *qa = q + t0 * ldq, *qb = t0 + 1 < n ? qa + ldq : qa;
            for (r = b0; r < b1; r += 4) {
                int64_t rr = r + 4 <= b1 ? r : b1 - 4, i, t, pf_end = pf + per < next_bytes ? pf + per : next_bytes;
                if (rr < b0) rr = b0;                  /* fewer than 4 rows: extra rows unused */
                for (; pf < pf_end; pf += 64) _mm_prefetch(next + pf, _MM_HINT_T0);
                tile(dec + (rr - b0) * kp, kp, qa, qb, acc);
                for (i = 0; i < 4 && rr + i < b1; i++)
                    for (t = 0; t < 2 && t0 + t < n; t++)
                        y[(t0 + t) * ldy + rr + i] = bn_tern_out(acc[i][t], sum[t0 + t], s[t0 + t], w->alpha);
            }
        }
    }
}

/* Without the tiles (per-block scales, or rows too long for 4 in the buffer): rows in blocks
   that stay in cache while every token passes over them. */
static BN__AVX2 void bn_gemm_tern_rows_avx2(const bn_tern *w, const int8_t *q, int64_t ldq,
                                            const float *s, const int32_t *sum, int64_t n, float *y,
                                            int64_t ldy, int64_t r0, int64_t r1) {
    int64_t rblk = 131072 / (w->kp / 4) + 1, b0, t;
    for (b0 = r0; b0 < r1; b0 += rblk) {
        int64_t b1 = b0 + rblk < r1 ? b0 + rblk : r1;
        for (t = 0; t < n; t++) bn_gemv_tern_i8_avx2(w, q + t * ldq, s[t], sum[t], y + t * ldy, b0, b1);
    }
}

static BN__AVX2 void bn_gemm_tern_i8_avx2(const bn_tern *w, const int8_t *q, int64_t ldq,
                                          const float *s, const int32_t *sum, int64_t n, float *y,
                                          int64_t ldy, int64_t r0, int64_t r1) {
    if (w->block_scale || w->kp * 4 > BN__DEC2_BYTES)
        bn_gemm_tern_rows_avx2(w, q, ldq, s, sum, n, y, ldy, r0, r1);
    else if (n <= BN__FEW_TOKENS_AVX2)
        bn_gemm_tern_few_avx2(w, q, ldq, s, sum, n, y, ldy, r0, r1);
    else
        bn_gemm_tern_tiled_avx2(w, q, ldq, s, sum, n, y, ldy, r0, r1, bn_gemm_tile_u8_avx2);
}

#if BN__HAVE_AVXVNNI
static BN__AVX2 void bn_gemm_tern_i8_avxvnni(const bn_tern *w, const int8_t *q, int64_t ldq,
                                             const float *s, const int32_t *sum, int64_t n, float *y,
                                             int64_t ldy, int64_t r0, int64_t r1) {
    if (w->block_scale || w->kp * 4 > BN__DEC2_BYTES)
        bn_gemm_tern_rows_avx2(w, q, ldq, s, sum, n, y, ldy, r0, r1);
    else
        bn_gemm_tern_tiled_avx2(w, q, ldq, s, sum, n, y, ldy, r0, r1, bn_gemm_tile_u8_avxvnni);
}
#endif

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

/* Float GEMM for a few tokens: each 16 weights of a row are loaded and converted once for up to
   4 tokens, over 512-column stretches whose activations stay in L1; the sums wait in `acc`
   between stretches. Every (row, token) takes the GEMV's steps in the GEMV's order (two 8-lane
   sums over 16 columns, then the leftovers one by one), so a GEMM row is the GEMV's bit for bit. */
#define BN__FGEMM_COLS 512
#define BN__FG_LOAD(t, u) (a[t] = _mm256_loadu_ps(acc + 16 * (t)), b[t] = _mm256_loadu_ps(acc + 16 * (t) + 8))
#define BN__FG_FMA(t, u) (a[t] = _mm256_fmadd_ps(v0, _mm256_loadu_ps(x + (t) * ldx + i), a[t]), \
                          b[t] = _mm256_fmadd_ps(v1, _mm256_loadu_ps(x + (t) * ldx + i + 8), b[t]))
#define BN__FG_STORE(t, u) (_mm256_storeu_ps(acc + 16 * (t), a[t]), _mm256_storeu_ps(acc + 16 * (t) + 8, b[t]))
#define BN__FGEMM_ROW_AVX2(name, LOAD8, PREFETCH, NT) \
    static BN__AVX2 void name(const uint8_t *w0, const float *x, int64_t ldx, int64_t i0, int64_t i1, float *acc) { \
        __m256 a[4], b[4]; \
        int64_t i; \
        BN__PER_TOKEN(NT, BN__FG_LOAD, 0); \
        for (i = i0; i < i1; i += 16) { \
            __m256 v0 = LOAD8(w0, i), v1 = LOAD8(w0, i + 8); \
            if (i % 32 == 0) PREFETCH(w0, i); \
            BN__PER_TOKEN(NT, BN__FG_FMA, 0); \
        } \
        BN__PER_TOKEN(NT, BN__FG_STORE, 0); \
    }

/* Blocks of up to 8 rows (in cache while the tokens pass) x up to 8 tokens, stretch by stretch. */
#define BN__FGEMM_AVX2(name, LOAD8, AT, PREFETCH) \
    BN__FGEMM_ROW_AVX2(name##_row1, LOAD8, PREFETCH, 1) \
    BN__FGEMM_ROW_AVX2(name##_row2, LOAD8, PREFETCH, 2) \
    BN__FGEMM_ROW_AVX2(name##_row3, LOAD8, PREFETCH, 3) \
    BN__FGEMM_ROW_AVX2(name##_row4, LOAD8, PREFETCH, 4) \
    static BN__AVX2 void name(const bn_fmat *m, const float *x, int64_t ldx, int64_t n, float *y, \
                              int64_t ldy, int64_t r0, int64_t r1) { \
        float acc[8][8][16]; \
        int64_t k = m->cols, k16 = k / 16 * 16, rb, re, r, t0, nt, t, c0, c1, j; \
        for (rb = r0; rb < r1; rb = re) { \
            /* the next block's rows fetched while this one computes, a few lines per row stretch */ \
            const char *next; \
            size_t next_bytes, calls, per, pf = 0; \
            re = rb + 8 < r1 ? rb + 8 : r1; \
            next = (const char *)m->data + (size_t)re * m->row_bytes; \
            next_bytes = (size_t)((re + 8 < r1 ? re + 8 : r1) - re) * m->row_bytes; \
            calls = (size_t)((re - rb) * ((k16 + BN__FGEMM_COLS - 1) / BN__FGEMM_COLS + 1)); \
            per = (next_bytes / calls + 63) / 64 * 64; \
            for (t0 = 0; t0 < n; t0 += 8) { \
                nt = n - t0 < 8 ? n - t0 : 8; \
                memset(acc, 0, sizeof acc); \
                for (c0 = 0; c0 < k16; c0 = c1) { \
                    c1 = c0 + BN__FGEMM_COLS < k16 ? c0 + BN__FGEMM_COLS : k16; \
                    for (r = rb; r < re; r++) { \
                        const uint8_t *w = m->data + (size_t)r * m->row_bytes; \
                        size_t pf_end = pf + per < next_bytes ? pf + per : next_bytes; \
                        for (; pf < pf_end; pf += 64) _mm_prefetch(next + pf, _MM_HINT_T0); \
                        for (t = 0; t < nt; t += 4) { \
                            const float *xt = x + (t0 + t) * ldx; \
                            float *at = acc[r - rb][t]; \
                            if (nt - t >= 4) name##_row4(w, xt, ldx, c0, c1, at); \
                            else if (nt - t == 3) name##_row3(w, xt, ldx, c0, c1, at); \
                            else if (nt - t == 2) name##_row2(w, xt, ldx, c0, c1, at); \
                            else name##_row1(w, xt, ldx, c0, c1, at); \
                        } \
                    } \
                } \
                for (r = rb; r < re; r++) \
                    for (t = 0; t < nt; t++) { \
                        const uint8_t *w = m->data + (size_t)r * m->row_bytes; \
                        const float *xt = x + (t0 + t) * ldx; \
                        float sum = bn_hsum256(_mm256_add_ps(_mm256_loadu_ps(acc[r - rb][t]), \
                                                             _mm256_loadu_ps(acc[r - rb][t] + 8))); \
                        for (j = k16; j < k; j++) sum += AT(w, j) * xt[j]; \
                        y[(t0 + t) * ldy + r] = sum; \
                    } \
            } \
        } \
    }
BN__FGEMM_AVX2(bn_gemm_f32_f32_avx2, BN__LD_F32_256, BN__AT_F32, BN__PF32_256)
BN__FGEMM_AVX2(bn_gemm_f16_f32_avx2, BN__LD_F16_256, BN__AT_F16, BN__PF16_256)
BN__FGEMM_AVX2(bn_gemm_bf16_f32_avx2, BN__LD_BF16_256, BN__AT_BF16, BN__PF16_256)

/* Q8_0 block b of a row against token t: the integer dot as |w| x (q with w's signs) through
   maddubs + madd (|pairs| <= 2 * 128 * 127: no saturation, as q stays in [-127, 127]), then
   d_w * d_x into acc. The F16 scale is converted with F16C in place: a call to the scalar
   (SSE-encoded) converter inside this loop cost ~25x in AVX-SSE transitions. */
#define BN__Q8_TOK(t, acc) do { \
        __m256i xv_ = _mm256_loadu_si256((const __m256i *)(qx[t].q + bq_ * 32)); \
        __m256i dot_ = _mm256_madd_epi16(_mm256_maddubs_epi16(aw_, _mm256_sign_epi8(xv_, wv_)), ones); \
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_), _mm256_set1_ps(dw_ * qx[t].d[bq_]), acc[t]); \
    } while (0)
#define BN__Q8_STEP_AVX2(acc, NT, blk, b) do { \
        __m256i wv_ = _mm256_loadu_si256((const __m256i *)((blk) + 2)), aw_ = _mm256_sign_epi8(wv_, wv_); \
        float dw_ = _cvtsh_ss(bn_load_u16(blk)); \
        int64_t bq_ = (b); \
        BN__PER_TOKEN(NT, BN__Q8_TOK, acc); \
    } while (0)

/* One row, NT tokens: even and odd blocks in two sums. */
#define BN__Q8_ZERO(t, u) (a0[t] = a1[t] = _mm256_setzero_ps())
#define BN__Q8_OUT(t, u) (part[t] = bn_hsum256(_mm256_add_ps(a0[t], a1[t])))
#define BN__Q8_ROW_AVX2(name, NT) \
    static BN__AVX2 void name(const uint8_t *w, int64_t nb, const bn_qx *qx, float *part) { \
        const __m256i ones = _mm256_set1_epi16(1); \
        __m256 a0[4], a1[4]; \
        int64_t b; \
        BN__PER_TOKEN(NT, BN__Q8_ZERO, 0); \
        for (b = 0; b + 2 <= nb; b += 2) { \
            _mm_prefetch((const char *)w + b * 34 + BN__PF_STREAM, _MM_HINT_T0); \
            BN__Q8_STEP_AVX2(a0, NT, w + b * 34, b); \
            BN__Q8_STEP_AVX2(a1, NT, w + b * 34 + 34, b + 1); \
        } \
        if (b < nb) BN__Q8_STEP_AVX2(a0, NT, w + b * 34, b); \
        BN__PER_TOKEN(NT, BN__Q8_OUT, 0); \
    }
/* A bn_qrow_fn `name` over the four token counts of a row kernel generator GEN(name, NT). */
#define BN__QROW_FN(name, GEN) \
    GEN(name##_nt1, 1) GEN(name##_nt2, 2) GEN(name##_nt3, 3) GEN(name##_nt4, 4) \
    static void name(const uint8_t *w, int64_t nb, const bn_qx *qx, int nt, float *part) { \
        if (nt == 1) name##_nt1(w, nb, qx, part); \
        else if (nt == 2) name##_nt2(w, nb, qx, part); \
        else if (nt == 3) name##_nt3(w, nb, qx, part); \
        else name##_nt4(w, nb, qx, part); \
    }
BN__QROW_FN(bn_q8_0_row_avx2, BN__Q8_ROW_AVX2)

/* Q6_K: the 6-bit values (0..63) of one 128-half of a block as 4 x 32 bytes, in four registers
   (an array would live on the stack): elements [32j, 32j+32) of the half in o_j. ql: 64 bytes,
   qh: 32 bytes. */
#define BN__Q6K_DECODE4_AVX2(ql, qh, o0, o1, o2, o3) do { \
        const __m256i m4_ = _mm256_set1_epi8(0x0f), m2_ = _mm256_set1_epi8(0x03); \
        __m256i l0_ = _mm256_loadu_si256((const __m256i *)(ql)), l1_ = _mm256_loadu_si256((const __m256i *)((ql) + 32)); \
        __m256i h_ = _mm256_loadu_si256((const __m256i *)(qh)); \
        *(o0) = _mm256_or_si256(_mm256_and_si256(l0_, m4_), _mm256_slli_epi16(_mm256_and_si256(h_, m2_), 4)); \
        *(o1) = _mm256_or_si256(_mm256_and_si256(l1_, m4_), \
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h_, 2), m2_), 4)); \
        *(o2) = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0_, 4), m4_), \
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h_, 4), m2_), 4)); \
        *(o3) = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1_, 4), m4_), \
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h_, 6), m2_), 4)); \
    } while (0)

/* 32 values v of a block (scales 2v, 2v + 1) against every token's q, into isum. */
#define BN__Q6K_TOK(t, qv) (isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(qv, \
        _mm256_loadu_si256((const __m256i *)(qx[t].q + b * 256 + 32 * v_))), s16_)))
#define BN__Q6K_GROUP_AVX2(NT, qv, v) do { \
        const int v_ = (v); \
        const __m256i s16_ = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, _mm_add_epi8(pair, _mm_set1_epi8((char)(2 * v_))))); \
        BN__PER_TOKEN(NT, BN__Q6K_TOK, qv); \
    } while (0)

/* Half h of a block: decoded once, its four 32-value groups against every token (h is a
   constant, so the scale shuffles are too). */
#define BN__Q6K_HALF_AVX2(NT, h) do { \
        __m256i q0, q1, q2, q3; \
        BN__Q6K_DECODE4_AVX2(blk + (h) * 64, blk + 128 + (h) * 32, &q0, &q1, &q2, &q3); \
        BN__Q6K_GROUP_AVX2(NT, q0, 4 * (h) + 0); BN__Q6K_GROUP_AVX2(NT, q1, 4 * (h) + 1); \
        BN__Q6K_GROUP_AVX2(NT, q2, 4 * (h) + 2); BN__Q6K_GROUP_AVX2(NT, q3, 4 * (h) + 3); \
    } while (0)

/* The block BN__PF_STREAM bytes ahead of blk, into L1 (4 lines: a 210-byte block may straddle 4). */
#define BN__Q6K_PREFETCH(blk) do { const char *pf_ = (const char *)(blk) + BN__PF_STREAM; \
        _mm_prefetch(pf_, _MM_HINT_T0); _mm_prefetch(pf_ + 64, _MM_HINT_T0); \
        _mm_prefetch(pf_ + 128, _MM_HINT_T0); _mm_prefetch(pf_ + 192, _MM_HINT_T0); } while (0)
#define BN__Q6K_ZERO(t, u) (acc[t] = _mm256_setzero_ps())
#define BN__Q6K_IZERO(t, u) (isum[t] = _mm256_setzero_si256())
#define BN__Q6K_SCALE(t, u) (acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(isum[t], _mm256_slli_epi32( \
        _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc), _mm256_loadu_si256((const __m256i *)(qx[t].bsum + b * 16))), 5))), \
        _mm256_set1_ps(d * qx[t].d[b]), acc[t]))
#define BN__Q6K_OUT(t, u) (part[t] = bn_hsum256(acc[t]))

/* One row of Q6_K blocks, NT tokens. Per 32 values: maddubs of the unsigned values with q, madd
   with the two 16-group scales, in 32 bits; the -32 of every value comes off once per block as
   32 * sum(scale * bsum). All exact integers until the block's d_w * d_x. */
#define BN__Q6K_ROW_AVX2(name, NT) \
    static BN__AVX2 void name(const uint8_t *w, int64_t nb, const bn_qx *qx, float *part) { \
        const __m128i pair = _mm_set_epi8(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0); \
        __m256 acc[4]; \
        int64_t b; \
        BN__PER_TOKEN(NT, BN__Q6K_ZERO, 0); \
        for (b = 0; b < nb; b++) { \
            const uint8_t *blk = w + b * 210; \
            const __m128i sc = _mm_loadu_si128((const __m128i *)(blk + 192)); \
            const float d = _cvtsh_ss(bn_load_u16(blk + 208)); \
            __m256i isum[4]; \
            BN__Q6K_PREFETCH(blk); \
            BN__PER_TOKEN(NT, BN__Q6K_IZERO, 0); \
            BN__Q6K_HALF_AVX2(NT, 0); \
            BN__Q6K_HALF_AVX2(NT, 1); \
            BN__PER_TOKEN(NT, BN__Q6K_SCALE, 0); \
        } \
        BN__PER_TOKEN(NT, BN__Q6K_OUT, 0); \
    }
BN__QROW_FN(bn_q6_k_row_avx2, BN__Q6K_ROW_AVX2)

BN__QX_ENTRIES(bn_gemv_q8_0_f32_avx2, bn_gemm_q8_0_f32_avx2, bn_q8_0_row_avx2)
BN__QX_ENTRIES(bn_gemv_q6_k_f32_avx2, bn_gemm_q6_k_f32_avx2, bn_q6_k_row_avx2)


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

/* Attention: tiles of 4 queries x 2 keys (scores) and 4 queries x 16 lanes (value sums) keep
   their sums in registers, with 8 FMA chains in flight, and load each key or value row once
   per tile. Every score and every output lane is summed in one order whatever else its tile
   holds: a missing query or key repeats the first, and its sums are dropped. */
static BN__VEC BN__AVX2 __m128 bn_sum4_ps_avx2(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

#define BN__ATTN_SCORES_TILE_AVX2(name, LOAD8, AT) \
    static BN__AVX2 void name(const float *q, int64_t nq, const void *k, int64_t ldk, int64_t p, int64_t nk, \
                              int64_t d, float scale, float *s, int64_t lds) { \
        const float *qi[4]; \
        int64_t ka = p * ldk, kb = (p + (nk > 1)) * ldk, x, i, t; \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0; \
        float sa[4], sb[4]; \
        for (i = 0; i < 4; i++) qi[i] = q + (i < nq ? i : 0) * d; \
        for (x = 0; x + 8 <= d; x += 8) { \
            __m256 ca = LOAD8(k, ka + x), cb = LOAD8(k, kb + x), qv = _mm256_loadu_ps(qi[0] + x); \
            a0 = _mm256_fmadd_ps(qv, ca, a0); b0 = _mm256_fmadd_ps(qv, cb, b0); \
            qv = _mm256_loadu_ps(qi[1] + x); \
            a1 = _mm256_fmadd_ps(qv, ca, a1); b1 = _mm256_fmadd_ps(qv, cb, b1); \
            qv = _mm256_loadu_ps(qi[2] + x); \
            a2 = _mm256_fmadd_ps(qv, ca, a2); b2 = _mm256_fmadd_ps(qv, cb, b2); \
            qv = _mm256_loadu_ps(qi[3] + x); \
            a3 = _mm256_fmadd_ps(qv, ca, a3); b3 = _mm256_fmadd_ps(qv, cb, b3); \
        } \
        _mm_storeu_ps(sa, bn_sum4_ps_avx2(a0, a1, a2, a3)); \
        _mm_storeu_ps(sb, bn_sum4_ps_avx2(b0, b1, b2, b3)); \
        for (i = 0; i < nq; i++) { \
            for (t = x; t < d; t++) { \
                sa[i] += qi[i][t] * AT(k, ka + t); \
                sb[i] += qi[i][t] * AT(k, kb + t); \
            } \
            s[i * lds + p] = sa[i] * scale; \
            if (nk > 1) s[i * lds + p + 1] = sb[i] * scale; \
        } \
    }
BN__ATTN_SCORES_TILE_AVX2(bn_attn_scores_tile_f32_avx2, BN__LD_F32_256, BN__AT_F32)
BN__ATTN_SCORES_TILE_AVX2(bn_attn_scores_tile_f16_avx2, BN__LD_F16_256, BN__AT_F16)

BN__ATTN_SCORES_TILED(bn_attn_scores_avx2, BN__AVX2, 2, bn_attn_scores_tile_f16_avx2, bn_attn_scores_tile_f32_avx2)

/* out rows [0, nq) (nq <= 4) += sum over p in [p0, p1) of a_i[p] v_p (out zeroed when p0 = 0):
   16 lanes at a time, then 8; bn_attn_values_tiled sums the leftover lanes. */
#define BN__ATTN_VALUES_TILE_AVX2(name, LOAD8) \
    static BN__AVX2 void name(float *out, int64_t nq, const float *a, int64_t lda, const void *v, int64_t ldv, \
                              int64_t p0, int64_t p1, int64_t d) { \
        const float *ai[4]; \
        float *oi[4]; \
        int64_t x, p, i; \
        for (i = 0; i < 4; i++) { \
            ai[i] = a + (i < nq ? i : 0) * lda; \
            oi[i] = out + (i < nq ? i : 0) * d; \
        } \
        for (x = 0; x + 16 <= d; x += 16) { \
            __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00; \
            __m256 c20 = c00, c21 = c00, c30 = c00, c31 = c00; \
            if (p0 > 0) { \
                c00 = _mm256_loadu_ps(oi[0] + x); c01 = _mm256_loadu_ps(oi[0] + x + 8); \
                c10 = _mm256_loadu_ps(oi[1] + x); c11 = _mm256_loadu_ps(oi[1] + x + 8); \
                c20 = _mm256_loadu_ps(oi[2] + x); c21 = _mm256_loadu_ps(oi[2] + x + 8); \
                c30 = _mm256_loadu_ps(oi[3] + x); c31 = _mm256_loadu_ps(oi[3] + x + 8); \
            } \
            for (p = p0; p < p1; p++) { \
                __m256 va = LOAD8(v, p * ldv + x), vb = LOAD8(v, p * ldv + x + 8); \
                __m256 w = _mm256_broadcast_ss(ai[0] + p); \
                c00 = _mm256_fmadd_ps(w, va, c00); c01 = _mm256_fmadd_ps(w, vb, c01); \
                w = _mm256_broadcast_ss(ai[1] + p); \
                c10 = _mm256_fmadd_ps(w, va, c10); c11 = _mm256_fmadd_ps(w, vb, c11); \
                w = _mm256_broadcast_ss(ai[2] + p); \
                c20 = _mm256_fmadd_ps(w, va, c20); c21 = _mm256_fmadd_ps(w, vb, c21); \
                w = _mm256_broadcast_ss(ai[3] + p); \
                c30 = _mm256_fmadd_ps(w, va, c30); c31 = _mm256_fmadd_ps(w, vb, c31); \
            } \
            _mm256_storeu_ps(oi[3] + x, c30); _mm256_storeu_ps(oi[3] + x + 8, c31); \
            _mm256_storeu_ps(oi[2] + x, c20); _mm256_storeu_ps(oi[2] + x + 8, c21); \
            _mm256_storeu_ps(oi[1] + x, c10); _mm256_storeu_ps(oi[1] + x + 8, c11); \
            _mm256_storeu_ps(oi[0] + x, c00); _mm256_storeu_ps(oi[0] + x + 8, c01); \
        } \
        for (; x + 8 <= d; x += 8) { \
            __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0; \
            if (p0 > 0) { \
                c0 = _mm256_loadu_ps(oi[0] + x); c1 = _mm256_loadu_ps(oi[1] + x); \
                c2 = _mm256_loadu_ps(oi[2] + x); c3 = _mm256_loadu_ps(oi[3] + x); \
            } \
            for (p = p0; p < p1; p++) { \
                __m256 va = LOAD8(v, p * ldv + x); \
                c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai[0] + p), va, c0); \
                c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai[1] + p), va, c1); \
                c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai[2] + p), va, c2); \
                c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(ai[3] + p), va, c3); \
            } \
            _mm256_storeu_ps(oi[3] + x, c3); _mm256_storeu_ps(oi[2] + x, c2); \
            _mm256_storeu_ps(oi[1] + x, c1); _mm256_storeu_ps(oi[0] + x, c0); \
        } \
    }
BN__ATTN_VALUES_TILE_AVX2(bn_attn_values_tile_f32_avx2, BN__LD_F32_256)
BN__ATTN_VALUES_TILE_AVX2(bn_attn_values_tile_f16_avx2, BN__LD_F16_256)

BN__ATTN_VALUES_TILED(bn_attn_values_avx2, BN__AVX2, 8, bn_attn_values_tile_f16_avx2, bn_attn_values_tile_f32_avx2)
/* ---- vector ops (each leftover tail element as the reference computes it) ---- */

static BN__AVX2 void bn_relu2_mul_avx2(const float *g, const float *u, int64_t n, float *out) {
    int64_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 r = _mm256_max_ps(_mm256_loadu_ps(g + i), _mm256_setzero_ps());
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(r, r), _mm256_loadu_ps(u + i)));
    }
    bn_relu2_mul_ref(g + i, u + i, n - i, out + i);
}

/* e^x for 8 lanes (~1 ulp): 2^n * p(r) with 2^n built in the exponent field; below -87.34
   gives 0, above 88.3 gives inf. */
static BN__VEC BN__AVX2 __m256 bn_exp_avx2(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.3f), lo = _mm256_set1_ps(-87.3365f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ), over = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
    __m256 n, r, p, pow2n;
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
    p = _mm256_set1_ps(1.3981999e-3f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    pow2n = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
    p = _mm256_mul_ps(p, pow2n);
    p = _mm256_andnot_ps(under, p);
    return _mm256_blendv_ps(p, _mm256_set1_ps(INFINITY), over);
}

static BN__AVX2 void bn_silu_mul_avx2(const float *g, const float *u, int64_t n, float *out) {
    int64_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(g + i);
        __m256 e = bn_exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
        __m256 sg = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(sg, _mm256_loadu_ps(u + i)));
    }
    bn_silu_mul_ref(g + i, u + i, n - i, out + i);
}

static BN__AVX2 void bn_softmax_avx2(float *x, int64_t n) {
    __m256 mx = _mm256_set1_ps(-INFINITY), vinv;
    __m256d sum = _mm256_setzero_pd();
    float m = -INFINITY, tmp[8], inv;
    double total, tail = 0.0;
    int64_t i, j;
    for (i = 0; i + 8 <= n; i += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + i));
    _mm256_storeu_ps(tmp, mx);
    for (j = 0; j < 8; j++) if (tmp[j] > m) m = tmp[j];
    for (j = i; j < n; j++) if (x[j] > m) m = x[j];
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = bn_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(m)));
        _mm256_storeu_ps(x + i, e);
        sum = _mm256_add_pd(sum, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        sum = _mm256_add_pd(sum, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    for (j = i; j < n; j++) { x[j] = expf(x[j] - m); tail += x[j]; }
    {
        double t[4];
        _mm256_storeu_pd(t, sum);
        total = t[0] + t[1] + t[2] + t[3] + tail;
    }
    inv = (float)(1.0 / total);
    vinv = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
    for (; i < n; i++) x[i] *= inv;
}

/* RoPE, 4 pairs per step: NEOX pairs are two aligned runs; NORM pairs are adjacent lanes, so
   x * (c, c) + swap(x) * (-s, s) gives both outputs (a + -b is a - b exactly). */
static BN__AVX2 void bn_rope_avx2(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cs,
                                  int neox) {
    const __m256 even_neg = _mm256_setr_ps(-0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f);
    int64_t h, i, half = n_rot / 2;
    for (h = 0; h < n_heads; h++) {
        float *v = x + h * head_dim;
        if (neox) {
            for (i = 0; i + 8 <= half; i += 8) {
                __m256 a = _mm256_loadu_ps(v + i), b = _mm256_loadu_ps(v + half + i);
                __m256 c = _mm256_loadu_ps(cs + i), sn = _mm256_loadu_ps(cs + half + i);
                _mm256_storeu_ps(v + i, _mm256_sub_ps(_mm256_mul_ps(a, c), _mm256_mul_ps(b, sn)));
                _mm256_storeu_ps(v + half + i, _mm256_add_ps(_mm256_mul_ps(a, sn), _mm256_mul_ps(b, c)));
            }
        } else {
            for (i = 0; i + 4 <= half; i += 4) {
                __m128 c4 = _mm_loadu_ps(cs + i), s4 = _mm_loadu_ps(cs + half + i);
                __m256 c = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_unpacklo_ps(c4, c4)), _mm_unpackhi_ps(c4, c4), 1);
                __m256 sn = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_unpacklo_ps(s4, s4)), _mm_unpackhi_ps(s4, s4), 1);
                __m256 xv = _mm256_loadu_ps(v + 2 * i);
                __m256 sw = _mm256_mul_ps(_mm256_permute_ps(xv, 0xb1), _mm256_xor_ps(sn, even_neg));
                _mm256_storeu_ps(v + 2 * i, _mm256_add_ps(_mm256_mul_ps(xv, c), sw));
            }
        }
        bn_rope_pairs_ref(v, i, half, cs, neox);
    }
}

static BN__AVX2 void bn_rmsnorm_avx2(const float *x, const float *w, int64_t n, float eps, float *out) {
    __m256d acc = _mm256_setzero_pd();
    double t[4], total;
    float scale;
    int64_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i), sq = _mm256_mul_ps(v, v);
        acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
        acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
    }
    _mm256_storeu_pd(t, acc);
    total = t[0] + t[1] + t[2] + t[3];
    for (; i < n; i++) total += (double)(x[i] * x[i]);
    scale = 1.0f / sqrtf((float)(total / (double)n) + eps);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(scale));
        if (w) v = _mm256_mul_ps(v, _mm256_loadu_ps(w + i));
        _mm256_storeu_ps(out + i, v);
    }
    for (; i < n; i++) out[i] = w ? x[i] * scale * w[i] : x[i] * scale;
}
#endif /* BN__X86 */

/* ===== kernels: avx512 ===== */

#if BN__X86
#include <immintrin.h>
#define BN__AVX512 BN__TARGET("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")

/* Lanes [0, left) of 16: the mask of a loop's last, partial step (0 when nothing is left). */
static BN__AVX512 __mmask16 bn_tail_mask16(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
}

/* Quantizer: writes q in the AVX-512 order (bn_act_pos), 16 elements at a time. */
static BN__AVX512 void bn_quant_i8_avx512(const float *x, int64_t k, int8_t *q, float *s_out,
                                          int32_t *sum_out) {
    __m512 mx = _mm512_setzero_ps(), vs;
    __m512i sum = _mm512_setzero_si512();
    int64_t i, kp = bn_tern_kpad(k);
    for (i = 0; i < k; i += 16) {
        __mmask16 m = bn_tail_mask16(k - i);
        mx = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + i)), mx);   /* NaN ignored */
    }
    *s_out = bn_act_scale(_mm512_reduce_max_ps(mx));
    vs = _mm512_set1_ps(*s_out);
    for (i = 0; i < kp; i += 16) {
        int64_t left = k - i;
        __mmask16 m = bn_tail_mask16(left);
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
#define BN__PF_DIST 4096          /* bytes of codes prefetched into L1 ahead of use */
#endif
#ifndef BN__PF_DIST2
#define BN__PF_DIST2 12288        /* and into L2 further ahead: one core keeps more lines in flight */
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
static BN__VEC BN__AVX512 int32_t bn_tern_planes_sum(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
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
    for (ch = 0; ch < BN__PF_DIST2 && ch < (r1 - r0) * rs; ch += 64) {  /* start the stream now */
        if (ch < BN__PF_DIST) _mm_prefetch((const char *)w->codes + r0 * rs + ch, _MM_HINT_T0);
        else _mm_prefetch((const char *)w->codes + r0 * rs + ch, _MM_HINT_T1);
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
            pf += BN__PF_DIST2 - BN__PF_DIST;
            _mm_prefetch(pf, _MM_HINT_T1); _mm_prefetch(pf + 64, _MM_HINT_T1);
            _mm_prefetch(pf + 128, _MM_HINT_T1); _mm_prefetch(pf + 192, _MM_HINT_T1);
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
            _mm_prefetch((const char *)c0 + ch * 64 + BN__PF_DIST2, _MM_HINT_T1);
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
   shift) and used by every token; each activation load feeds BN__GR dot products. Rows past
   the end repeat the last valid one (computed, not stored). One function per token count NT. */
#define BN__GR 4
#define BN__GT 6
#define BN__TILE_AVX512(name, NT) \
    static BN__AVX512 void name(const bn_tern *w, const int8_t *q, int64_t ldq, const int64_t *rows, \
                                int32_t acc_out[BN__GR][BN__GT]) { \
        enum { tile_nt = NT }; \
        const __m512i m3 = _mm512_set1_epi8(3); \
        __m512i acc[BN__GR][tile_nt]; \
        const uint8_t *c[BN__GR]; \
        const int8_t *qt[tile_nt]; \
        int64_t rs = w->kp / 4, nch = w->kp / 256, ch; \
        int t, r, j; \
        BN__UNROLL for (r = 0; r < BN__GR; r++) { \
            c[r] = w->codes + rows[r] * rs; \
            BN__UNROLL for (t = 0; t < tile_nt; t++) acc[r][t] = _mm512_setzero_si512(); \
        } \
        BN__UNROLL for (t = 0; t < tile_nt; t++) qt[t] = q + t * ldq; \
        for (ch = 0; ch < nch; ch++) { \
            /* the next row group's line, one group ahead: the 4 row streams defeat the hardware's */ \
            BN__UNROLL for (r = 0; r < BN__GR; r++) \
                _mm_prefetch((const char *)c[r] + BN__GR * rs + ch * 64, _MM_HINT_T0); \
            BN__UNROLL for (j = 0; j < 4; j++) { \
                __m512i p[BN__GR]; \
                BN__UNROLL for (r = 0; r < BN__GR; r++) \
                    p[r] = _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512(c[r] + ch * 64), 6 - 2 * j), m3); \
                BN__UNROLL for (t = 0; t < tile_nt; t++) { \
                    __m512i xv = _mm512_loadu_si512(qt[t] + ch * 256 + j * 64); \
                    BN__UNROLL for (r = 0; r < BN__GR; r++) acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], p[r], xv); \
                } \
            } \
        } \
        BN__UNROLL for (r = 0; r < BN__GR; r++) \
            BN__UNROLL for (t = 0; t < tile_nt; t++) { \
                acc_out[r][t] = _mm512_reduce_add_epi32(acc[r][t]); \
                if (w->kp % 256) acc_out[r][t] += bn_tern_tail_avx512(c[r] + nch * 64, qt[t] + nch * 256); \
            } \
    }
BN__TILE_AVX512(bn_gemm_tern_tile1_avx512, 1)
BN__TILE_AVX512(bn_gemm_tern_tile2_avx512, 2)
BN__TILE_AVX512(bn_gemm_tern_tile3_avx512, 3)
BN__TILE_AVX512(bn_gemm_tern_tile4_avx512, 4)
BN__TILE_AVX512(bn_gemm_tern_tile5_avx512, 5)
BN__TILE_AVX512(bn_gemm_tern_tile6_avx512, 6)
typedef void (*bn_tile_fn)(const bn_tern *w, const int8_t *q, int64_t ldq, const int64_t *rows,
                           int32_t acc_out[BN__GR][BN__GT]);
static const bn_tile_fn bn_gemm_tern_tile_avx512[BN__GT + 1] = {
    NULL, bn_gemm_tern_tile1_avx512, bn_gemm_tern_tile2_avx512, bn_gemm_tern_tile3_avx512,
    bn_gemm_tern_tile4_avx512, bn_gemm_tern_tile5_avx512, bn_gemm_tern_tile6_avx512
};

static BN__AVX512 void bn_gemm_tern_i8_direct_avx512(const bn_tern *w, const int8_t *q, int64_t ldq,
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
                bn_gemm_tern_tile_avx512[nt](w, q + t0 * ldq, ldq, rows, acc);
                if (BN__GR == 4 && r + 4 <= b1) {       /* the same IEEE operations, 4 rows at once */
                    for (t = 0; t < nt; t++) {
                        __m128 v = _mm_cvtepi32_ps(_mm_setr_epi32(acc[0][t], acc[1][t], acc[2][t], acc[3][t]));
                        v = _mm_div_ps(_mm_sub_ps(v, _mm_set1_ps((float)sum[t0 + t])), _mm_set1_ps(s[t0 + t]));
                        _mm_storeu_ps(y + (t0 + t) * ldy + r, _mm_mul_ps(v, _mm_set1_ps(w->alpha)));
                    }
                    continue;
                }
                for (i = 0; i < BN__GR && r + i < b1; i++)
                    for (t = 0; t < nt; t++)
                        y[(t0 + t) * ldy + r + i] = bn_tern_out(acc[i][t], sum[t0 + t], s[t0 + t], w->alpha);
            }
        }
    }
}

/* The four row sums of one token's accumulators, lanes [r0 r1 r2 r3]: two rounds of
   interleave-and-add leave each 128-bit lane holding the four rows' partial sums, then the
   lanes are added (integers: the order does not matter). */
static BN__VEC BN__AVX512 __m128i bn_sum4_epi32(__m512i a, __m512i b, __m512i c, __m512i d) {
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    __m512i abcd = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(abcd), _mm512_extracti64x4_epi64(abcd, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* The same tile on planes decoded once per row block into `dec` (rows kp bytes apart, in q
   order: byte i is the code of the weight that meets q[i]); the decode is shared by all token
   tiles. nch chunks of 256. One function per token count NT (1..BN__GT): a batch of 2 tokens
   (two streams, a 2-token draft) then does 2 tokens' dot products, not 6.
   The 24 accumulators, 4 planes and 1 activation take 29 of the 32 registers; gcc's partial
   redundancy elimination hoists enough out of the loop to spill them (20% slower), hence
   BN__NO_PRE. */
#define BN__EACH_T(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define BN__TILE_DECL(t) __m512i a0##t = z, a1##t = z, a2##t = z, a3##t = z; \
    const int8_t *q##t = q + (t < tile_nt ? t : 0) * ldq;
#define BN__TILE_STEP(t) if (t < tile_nt) { x = _mm512_loadu_si512(q##t + i); \
    a0##t = _mm512_dpbusd_epi32(a0##t, p0, x); a1##t = _mm512_dpbusd_epi32(a1##t, p1, x); \
    a2##t = _mm512_dpbusd_epi32(a2##t, p2, x); a3##t = _mm512_dpbusd_epi32(a3##t, p3, x); }
#define BN__TILE_OUT(t) if (t < tile_nt) acc_out[t] = bn_sum4_epi32(a0##t, a1##t, a2##t, a3##t);
#define BN__TILE_PD_AVX512(name, NT) \
    static BN__AVX512 BN__NO_PRE void name(const uint8_t *dec, int64_t kp, const int8_t *q, int64_t ldq, \
                                           int64_t nch, __m128i acc_out[BN__GT]) { \
        enum { tile_nt = NT }; \
        const __m512i z = _mm512_setzero_si512(); \
        const uint8_t *d0 = dec, *d1 = dec + kp, *d2 = d1 + kp, *d3 = d2 + kp; \
        int64_t i; \
        BN__EACH_T(BN__TILE_DECL) \
        for (i = 0; i < nch * 256; i += 64) { \
            __m512i p0 = _mm512_loadu_si512(d0 + i), p1 = _mm512_loadu_si512(d1 + i); \
            __m512i p2 = _mm512_loadu_si512(d2 + i), p3 = _mm512_loadu_si512(d3 + i), x; \
            BN__EACH_T(BN__TILE_STEP) \
        } \
        BN__EACH_T(BN__TILE_OUT) \
    }
BN__TILE_PD_AVX512(bn_gemm_tern_tile_pd1_avx512, 1)
BN__TILE_PD_AVX512(bn_gemm_tern_tile_pd2_avx512, 2)
BN__TILE_PD_AVX512(bn_gemm_tern_tile_pd3_avx512, 3)
BN__TILE_PD_AVX512(bn_gemm_tern_tile_pd4_avx512, 4)
BN__TILE_PD_AVX512(bn_gemm_tern_tile_pd5_avx512, 5)
BN__TILE_PD_AVX512(bn_gemm_tern_tile_pd6_avx512, 6)
typedef void (*bn_tile_pd_fn)(const uint8_t *dec, int64_t kp, const int8_t *q, int64_t ldq, int64_t nch,
                              __m128i acc_out[BN__GT]);
static const bn_tile_pd_fn bn_gemm_tern_tile_pd_avx512[BN__GT + 1] = {
    NULL, bn_gemm_tern_tile_pd1_avx512, bn_gemm_tern_tile_pd2_avx512, bn_gemm_tern_tile_pd3_avx512,
    bn_gemm_tern_tile_pd4_avx512, bn_gemm_tern_tile_pd5_avx512, bn_gemm_tern_tile_pd6_avx512
};

/* Decodes chunks [c0, c1) of rows [b0, b1) into planes in q order (see the tile above), a row
   every (c1 - c0) * 256 bytes. */
static BN__AVX512 void bn_tern_decode_planes_avx512(const bn_tern *w, int64_t b0, int64_t b1, int64_t c0,
                                                    int64_t c1, uint8_t *dec) {
    const __m512i m3 = _mm512_set1_epi8(3);
    int64_t rs = w->kp / 4, r, ch;
    for (r = b0; r < b1; r++) {
        const uint8_t *c = w->codes + r * rs;
        uint8_t *d = dec + (r - b0) * (c1 - c0) * 256;
        for (ch = c0; ch < c1; ch++, d += 256) {
            __m512i v = _mm512_loadu_si512(c + ch * 64);
            _mm512_storeu_si512(d, _mm512_and_si512(_mm512_srli_epi16(v, 6), m3));
            _mm512_storeu_si512(d + 64, _mm512_and_si512(_mm512_srli_epi16(v, 4), m3));
            _mm512_storeu_si512(d + 128, _mm512_and_si512(_mm512_srli_epi16(v, 2), m3));
            _mm512_storeu_si512(d + 192, _mm512_and_si512(v, m3));
        }
    }
}

/* A region of code lines (chunks [c0, c1) of rows [r0, r1)) prefetched a few lines at a time
   while the tiles of the pass before it run. */
typedef struct bn_pf_cursor {
    const uint8_t *row;                 /* the current row's line c0 */
    int64_t rs, per_row, col, rows_left;   /* per_row: lines per row; col: next line in the row */
} bn_pf_cursor;

static void bn_pf_init(bn_pf_cursor *p, const bn_tern *w, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    p->rs = w->kp / 4;
    p->row = w->codes + r0 * p->rs + c0 * 64;
    p->per_row = c1 - c0;
    p->col = 0;
    p->rows_left = r1 - r0;
}

static BN__AVX512 void bn_pf_step(bn_pf_cursor *p, int64_t lines) {
    for (; lines > 0 && p->rows_left > 0; lines--) {
        _mm_prefetch((const char *)p->row + p->col * 64, _MM_HINT_T1);
        if (++p->col == p->per_row) { p->col = 0; p->row += p->rs; p->rows_left--; }
    }
}

/* GEMM: rows in blocks, K in segments of at most BN__SEG_CHUNKS chunks. A block's planes for one
   segment (64 KiB on the stack) are decoded once, then every token tile runs over them: a tile's
   activations for the segment (6 x 2560 bytes at most) stay in L1 across the block's row groups.
   Integer partial sums carry between segments (16.5 KiB on the stack); the next segment's codes
   are prefetched into L2 meanwhile. Rows with a final half chunk or per-block scales take the
   direct path. */
#ifndef BN__FEW_TOKENS
#define BN__FEW_TOKENS 24               /* up to this many tokens the direct tiles run: below it, writing and reading the planes (4x the codes' bytes) costs more than they save */
#endif
#define BN__DEC_BYTES 65536
#define BN__SEG_CHUNKS 10
#define BN__BLK_ROWS 32                 /* most rows per block */
#define BN__PASS_TOKENS 132             /* most tokens per pass over a block (22 tiles) */

/* Carries a tile's sums for rows rr + [0, 4) across K segments in `part` (token stride ld): the
   first segment stores them, later ones add; rows below `from` (an earlier row group of the
   block has them) and from `to` on are left alone. After the last segment acc holds the totals. */
static BN__AVX512 void bn_gemm_part_carry(int32_t *part, int64_t ld, __m128i acc[BN__GT], int nt, int64_t rr,
                                          int64_t from, int64_t to, int first, int last) {
    __mmask8 keep = 0;
    int t, i;
    for (i = 0; i < 4; i++) if (rr + i >= from && rr + i < to) keep |= (__mmask8)(1u << i);
    for (t = 0; t < nt; t++) {
        if (!first) acc[t] = _mm_add_epi32(acc[t], _mm_maskz_loadu_epi32(keep, part + t * ld));
        if (!last) _mm_mask_storeu_epi32(part + t * ld, keep, acc[t]);
    }
}

/* y for rows [from, to) of tokens t0 + [0, nt) from the totals of rows rr + [0, 4). */
static BN__AVX512 void bn_gemm_tile_out(const __m128i acc[BN__GT], const bn_tern *w, const float *s,
                                        const int32_t *sum, int64_t t0, int nt, float *y, int64_t ldy,
                                        int64_t rr, int64_t from, int64_t to) {
    int t;
    int64_t i;
    for (t = 0; t < nt; t++) {
        float *yt = y + (t0 + t) * ldy + rr;
        if (from == rr && to >= rr + 4) {       /* the same IEEE operations as bn_tern_out, 4 rows at once */
            __m128 v = _mm_sub_ps(_mm_cvtepi32_ps(acc[t]), _mm_set1_ps((float)sum[t0 + t]));
            _mm_storeu_ps(yt, _mm_mul_ps(_mm_div_ps(v, _mm_set1_ps(s[t0 + t])), _mm_set1_ps(w->alpha)));
        } else {
            int32_t a4[4];
            _mm_storeu_si128((__m128i *)a4, acc[t]);
            for (i = from - rr; i < 4 && rr + i < to; i++) yt[i] = bn_tern_out(a4[i], sum[t0 + t], s[t0 + t], w->alpha);
        }
    }
}

static BN__AVX512 void bn_gemm_tern_i8_avx512(const bn_tern *w, const int8_t *q, int64_t ldq,
                                                 const float *s, const int32_t *sum, int64_t n,
                                                 float *y, int64_t ldy, int64_t r0, int64_t r1) {
    uint8_t dec[BN__DEC_BYTES];
    int32_t part[BN__PASS_TOKENS * BN__BLK_ROWS];        /* (tokens of the pass, rows of the block) */
    int64_t nch = w->kp / 256, nseg = (nch + BN__SEG_CHUNKS - 1) / BN__SEG_CHUNKS;
    int64_t seg = (nch + nseg - 1) / (nseg ? nseg : 1), rblk = BN__DEC_BYTES / (seg * 256) / BN__GR * BN__GR;
    int64_t b0, p0, c0;
    if (w->block_scale || w->kp % 256 || nch == 0 || n <= BN__FEW_TOKENS) {
        bn_gemm_tern_i8_direct_avx512(w, q, ldq, s, sum, n, y, ldy, r0, r1);
        return;
    }
    if (rblk > BN__BLK_ROWS) rblk = BN__BLK_ROWS;
    for (b0 = r0; b0 < r1; b0 += rblk) {
        int64_t b1 = b0 + rblk < r1 ? b0 + rblk : r1;
        for (p0 = 0; p0 < n; p0 += BN__PASS_TOKENS) {
            int64_t p1 = p0 + BN__PASS_TOKENS < n ? p0 + BN__PASS_TOKENS : n;
            for (c0 = 0; c0 < nch; c0 += seg) {
                int64_t c1 = c0 + seg < nch ? c0 + seg : nch, t0, r;
                int64_t calls = (p1 - p0 + BN__GT - 1) / BN__GT * ((b1 - b0 + BN__GR - 1) / BN__GR);
                int last = c1 == nch;
                bn_pf_cursor pf;
                int64_t pf_per_call;
                if (!last) bn_pf_init(&pf, w, b0, b1, c1, c1 + seg < nch ? c1 + seg : nch);
                else if (p1 < n) bn_pf_init(&pf, w, b0, b1, 0, seg);
                else bn_pf_init(&pf, w, b1, b1 + rblk < r1 ? b1 + rblk : r1, 0, seg);
                pf_per_call = (pf.rows_left * pf.per_row + calls - 1) / calls;
                bn_tern_decode_planes_avx512(w, b0, b1, c0, c1, dec);
                for (t0 = p0; t0 < p1; t0 += BN__GT) {
                    int nt = p1 - t0 < BN__GT ? (int)(p1 - t0) : BN__GT;
                    for (r = b0; r < b1; r += BN__GR) {
                        int64_t rr = r + BN__GR <= b1 ? r : b1 - BN__GR;   /* last group may overlap */
                        int32_t *pt = part + (t0 - p0) * rblk + (rr < b0 ? 0 : rr - b0);
                        __m128i acc[BN__GT];
                        if (rr < b0) rr = b0;
                        bn_pf_step(&pf, pf_per_call);
                        bn_gemm_tern_tile_pd_avx512[nt](dec + (rr - b0) * (c1 - c0) * 256, (c1 - c0) * 256,
                                                        q + t0 * ldq + c0 * 256, ldq, c1 - c0, acc);
                        if (!(c0 == 0 && last)) bn_gemm_part_carry(pt, rblk, acc, nt, rr, r, b1, c0 == 0, last);
                        if (last) bn_gemm_tile_out(acc, w, s, sum, t0, nt, y, ldy, rr, r, b1);
                    }
                }
            }
        }
    }
}

/* Q8_0 and Q6_K on AVX-512. Each register holds what two AVX2 registers of bn_q8_0_row_avx2 /
   bn_q6_k_row_avx2 hold, lane for lane, as the same exact integers, and every float step is the
   AVX2 kernel's: the results are bit for bit the AVX2 table's, in half the instructions (on one
   core the AVX2 kernels reach only 1.3-1.9x the memory's speed in cache, too little to hide it). */

/* Q8_0: blocks b and b + 1 in lanes 0-7 and 8-15 (the AVX2 kernel's even and odd sums); the dot
   by VNNI as |w| x (q negated where w < 0), which is the AVX2 kernel's sign / maddubs / madd sum. */
#define BN__Q8_TOK512(t, acc) do { \
        __m512i xv_ = _mm512_loadu_si512((const void *)(qx[t].q + bq_ * 32)); \
        __m512i dot_ = _mm512_dpbusd_epi32(zero, aw_, _mm512_mask_sub_epi8(xv_, neg_, zero, xv_)); \
        __m512 dx_ = _mm512_permutexvar_ps(pair, _mm512_castps128_ps512( \
            _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(qx[t].d + bq_))))); \
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_), _mm512_mul_ps(dw_, dx_), acc[t]); \
    } while (0)
#define BN__Q8_STEP512(acc, NT, blk, b) do { \
        __m512i wv_ = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)((blk) + 2))), \
                                         _mm256_loadu_si256((const __m256i *)((blk) + 36)), 1); \
        __m512i aw_ = _mm512_abs_epi8(wv_); \
        __mmask64 neg_ = _mm512_movepi8_mask(wv_); \
        __m512 dw_ = _mm512_permutexvar_ps(pair, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128( \
            (int)(bn_load_u16(blk) | (uint32_t)bn_load_u16((blk) + 34) << 16))))); \
        int64_t bq_ = (b); \
        BN__PER_TOKEN(NT, BN__Q8_TOK512, acc); \
    } while (0)
#define BN__Q8_ZERO512(t, u) (acc[t] = _mm512_setzero_ps())
#define BN__Q8_SPLIT512(t, u) (a0[t] = _mm512_castps512_ps256(acc[t]), \
                               a1[t] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[t]), 1)))
/* One row, NT tokens; an odd last block goes to the even sums by the AVX2 step, as there. */
#define BN__Q8_ROW_AVX512(name, NT) \
    static BN__AVX512 void name(const uint8_t *w, int64_t nb, const bn_qx *qx, float *part) { \
        const __m512i zero = _mm512_setzero_si512(), pair = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0); \
        const __m256i ones = _mm256_set1_epi16(1); \
        __m512 acc[4]; \
        __m256 a0[4], a1[4]; \
        int64_t b; \
        BN__PER_TOKEN(NT, BN__Q8_ZERO512, 0); \
        for (b = 0; b + 2 <= nb; b += 2) { \
            _mm_prefetch((const char *)w + b * 34 + BN__PF_STREAM, _MM_HINT_T0); \
            BN__Q8_STEP512(acc, NT, w + b * 34, b); \
        } \
        BN__PER_TOKEN(NT, BN__Q8_SPLIT512, 0); \
        if (b < nb) BN__Q8_STEP_AVX2(a0, NT, w + b * 34, b); \
        BN__PER_TOKEN(NT, BN__Q8_OUT, 0); \
    }
BN__QROW_FN(bn_q8_0_row_avx512, BN__Q8_ROW_AVX512)

/* Q6_K: a block half's 128 values in two registers, groups 4h, 4h + 1 and 4h + 2, 4h + 3 (the
   AVX2 kernel's o0 | o1 and o2 | o3): the upper lane half takes qh shifted by 2. */
#define BN__Q6K_DECODE2_AVX512(ql, qh, za, zb) do { \
        __m512i l_ = _mm512_loadu_si512((const void *)(ql)); \
        __m512i h_ = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qh))); \
        h_ = _mm512_mask_srli_epi16(h_, (__mmask32)0xffff0000u, h_, 2); \
        (za) = _mm512_ternarylogic_epi32(l_, _mm512_slli_epi16(_mm512_and_si512(h_, m3), 4), m4, 0xec); \
        (zb) = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l_, 4), _mm512_and_si512(h_, m30), m4, 0xec); \
    } while (0)
/* 256 values against token t: maddubs, then VNNI's dpwssd with each 16-group's scale; the two
   lane halves fold into the AVX2 kernel's 8 sums. */
#define BN__Q6K_TOK512(t, u) do { \
        const int8_t *q_ = qx[t].q + b * 256; \
        __m512i s_ = _mm512_dpwssd_epi32(zero, _mm512_maddubs_epi16(z0, _mm512_loadu_si512((const void *)q_)), s0); \
        s_ = _mm512_dpwssd_epi32(s_, _mm512_maddubs_epi16(z1, _mm512_loadu_si512((const void *)(q_ + 64))), s1); \
        s_ = _mm512_dpwssd_epi32(s_, _mm512_maddubs_epi16(z2, _mm512_loadu_si512((const void *)(q_ + 128))), s2); \
        s_ = _mm512_dpwssd_epi32(s_, _mm512_maddubs_epi16(z3, _mm512_loadu_si512((const void *)(q_ + 192))), s3); \
        isum[t] = _mm256_add_epi32(_mm512_castsi512_si256(s_), _mm512_extracti64x4_epi64(s_, 1)); \
    } while (0)
/* Word j of a 64-value register takes scale j / 8 of its four. */
static const int16_t bn_q6k_scale_lane[32] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                               2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3 };
#define BN__Q6K_ROW_AVX512(name, NT) \
    static BN__AVX512 void name(const uint8_t *w, int64_t nb, const bn_qx *qx, float *part) { \
        const __m512i m3 = _mm512_set1_epi8(3), m30 = _mm512_set1_epi8(0x30), m4 = _mm512_set1_epi8(0x0f); \
        const __m512i zero = _mm512_setzero_si512(), i0 = _mm512_loadu_si512((const void *)bn_q6k_scale_lane); \
        const __m512i i1 = _mm512_add_epi16(i0, _mm512_set1_epi16(4)), i2 = _mm512_add_epi16(i0, _mm512_set1_epi16(8)); \
        const __m512i i3 = _mm512_add_epi16(i0, _mm512_set1_epi16(12)); \
        __m256 acc[4]; \
        int64_t b; \
        BN__PER_TOKEN(NT, BN__Q6K_ZERO, 0); \
        for (b = 0; b < nb; b++) { \
            const uint8_t *blk = w + b * 210; \
            const __m128i sc = _mm_loadu_si128((const __m128i *)(blk + 192)); \
            const __m512i sw = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc)); \
            const __m512i s0 = _mm512_permutexvar_epi16(i0, sw), s1 = _mm512_permutexvar_epi16(i1, sw); \
            const __m512i s2 = _mm512_permutexvar_epi16(i2, sw), s3 = _mm512_permutexvar_epi16(i3, sw); \
            const float d = _cvtsh_ss(bn_load_u16(blk + 208)); \
            __m512i z0, z1, z2, z3; \
            __m256i isum[4]; \
            BN__Q6K_PREFETCH(blk); \
            BN__Q6K_DECODE2_AVX512(blk, blk + 128, z0, z1); \
            BN__Q6K_DECODE2_AVX512(blk + 64, blk + 160, z2, z3); \
            BN__PER_TOKEN(NT, BN__Q6K_TOK512, 0); \
            BN__PER_TOKEN(NT, BN__Q6K_SCALE, 0); \
        } \
        BN__PER_TOKEN(NT, BN__Q6K_OUT, 0); \
    }
BN__QROW_FN(bn_q6_k_row_avx512, BN__Q6K_ROW_AVX512)

BN__QX_ENTRIES(bn_gemv_q8_0_f32_avx512, bn_gemm_q8_0_f32_avx512, bn_q8_0_row_avx512)
BN__QX_ENTRIES(bn_gemv_q6_k_f32_avx512, bn_gemm_q6_k_f32_avx512, bn_q6_k_row_avx512)

/* Float GEMV: per row two 16-lane accumulators over 32 columns, the last partial step masked.
   One row at a time, so the weights are read as one sequential stream: on Zen 5, 4 rows read side
   by side (4 streams a row apart) drew only 0.6-0.7 of the bandwidth, one row 0.9-1.0. x stays
   in L1. The GEMM (BN__FGEMM_AVX512) takes the same steps per row. */
#define BN__FGEMV_AVX512(name, LOAD16, PREFETCH) \
    static BN__AVX512 void name(const bn_fmat *m, const float *x, float *y, int64_t r0, int64_t r1) { \
        int64_t k = m->cols, r, i; \
        for (r = r0; r < r1; r++) { \
            const uint8_t *w0 = m->data + (size_t)r * m->row_bytes; \
            __m512 a0 = _mm512_setzero_ps(), b0 = a0; \
            for (i = 0; i + 32 <= k; i += 32) { \
                PREFETCH(w0, i); \
                a0 = _mm512_fmadd_ps(LOAD16(w0, i, 0xffff), _mm512_loadu_ps(x + i), a0); \
                b0 = _mm512_fmadd_ps(LOAD16(w0, i + 16, 0xffff), _mm512_loadu_ps(x + i + 16), b0); \
            } \
            for (; i < k; i += 16) { \
                __mmask16 mk = bn_tail_mask16(k - i); \
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
#ifndef BN__PF_ROW
#define BN__PF_ROW 1024        /* bytes ahead in each row of a 16-bit GEMM stretch, into L1 */
#endif
#ifndef BN__PF_ROW2
#define BN__PF_ROW2 4096       /* and into L2 further ahead: one core keeps more lines in flight */
#endif
#define BN__PF16_512(p, i) do { _mm_prefetch((const char *)(p) + (i) * 2 + BN__PF_ROW, _MM_HINT_T0); \
    _mm_prefetch((const char *)(p) + (i) * 2 + BN__PF_ROW2, _MM_HINT_T1); } while (0)
/* The GEMV's prefetch: the rows follow each other, so the stream runs on into the next row. */
#define BN__PF32_STREAM(p, i) do { const char *pf_ = (const char *)(p) + (i) * 4 + BN__PF_STREAM; \
    _mm_prefetch(pf_, _MM_HINT_T0); _mm_prefetch(pf_ + 64, _MM_HINT_T0); } while (0)
#define BN__PF16_STREAM(p, i) _mm_prefetch((const char *)(p) + (i) * 2 + BN__PF_STREAM, _MM_HINT_T0)
BN__FGEMV_AVX512(bn_gemv_f32_f32_avx512, BN__LD_F32_512, BN__PF32_STREAM)
BN__FGEMV_AVX512(bn_gemv_f16_f32_avx512, BN__LD_F16_512, BN__PF16_STREAM)
BN__FGEMV_AVX512(bn_gemv_bf16_f32_avx512, BN__LD_BF16_512, BN__PF16_STREAM)

/* Float GEMM for a few tokens, BN__FGEMM_AVX2's design at 16 lanes: each 32 weights of a row are
   loaded and converted once for 8 tokens (or up to 4), over 512-column stretches whose activations
   stay in L1; the sums wait in `acc` between stretches. Every (row, token) takes the GEMV's steps in
   the GEMV's order (sums a and b over each 32 columns, the k % 32 leftovers in masked 16-wide
   steps into a, then the reduce of a + b), so a GEMM row is the GEMV's bit for bit. */
#define BN__FG512_LOAD(t, u) (a[t] = _mm512_loadu_ps(acc + 32 * (t)), b[t] = _mm512_loadu_ps(acc + 32 * (t) + 16))
#define BN__FG512_FMA(t, u) (a[t] = _mm512_fmadd_ps(v0, _mm512_loadu_ps(x + (t) * ldx + i - i0), a[t]), \
                             b[t] = _mm512_fmadd_ps(v1, _mm512_loadu_ps(x + (t) * ldx + i - i0 + 16), b[t]))
#define BN__FG512_STORE(t, u) (_mm512_storeu_ps(acc + 32 * (t), a[t]), _mm512_storeu_ps(acc + 32 * (t) + 16, b[t]))
/* NT = 1..4 or 8; x points at column i0. With one 512-bit FMA port (the Ice Lake Xeon measured)
   the conversions compete with the FMAs, and 8 tokens per conversion beat 4 by some 10%. */
#define BN__FG512_PER(NT, S) do { BN__PER_TOKEN((NT) < 4 ? (NT) : 4, S, 0); \
    if ((NT) > 4) { S(4, 0); S(5, 0); S(6, 0); S(7, 0); } } while (0)
#define BN__FGEMM_ROW_AVX512(name, LOAD16, PREFETCH, NT) \
    static BN__AVX512 void name(const uint8_t *w0, const float *x, int64_t ldx, int64_t i0, int64_t i1, float *acc) { \
        __m512 a[8], b[8]; \
        int64_t i; \
        BN__FG512_PER(NT, BN__FG512_LOAD); \
        for (i = i0; i < i1; i += 32) { \
            __m512 v0 = LOAD16(w0, i, 0xffff), v1 = LOAD16(w0, i + 16, 0xffff); \
            PREFETCH(w0, i); \
            BN__FG512_PER(NT, BN__FG512_FMA); \
        } \
        BN__FG512_PER(NT, BN__FG512_STORE); \
    }

/* Blocks of up to 8 rows (in cache while the tokens pass) x up to 8 tokens, stretch by stretch.
   Activations not 64-byte aligned are copied to `xs` a stretch at a time: the row kernels' x
   loads split cache lines otherwise, a third more time. */
#define BN__FGEMM_AVX512(name, LOAD16, PREFETCH) \
    BN__FGEMM_ROW_AVX512(name##_row1, LOAD16, PREFETCH, 1) \
    BN__FGEMM_ROW_AVX512(name##_row2, LOAD16, PREFETCH, 2) \
    BN__FGEMM_ROW_AVX512(name##_row3, LOAD16, PREFETCH, 3) \
    BN__FGEMM_ROW_AVX512(name##_row4, LOAD16, PREFETCH, 4) \
    BN__FGEMM_ROW_AVX512(name##_row8, LOAD16, PREFETCH, 8) \
    static BN__AVX512 void name(const bn_fmat *m, const float *x, int64_t ldx, int64_t n, float *y, \
                                int64_t ldy, int64_t r0, int64_t r1) { \
        float acc[8][8][32]; \
        __m512 xs_v[8 * BN__FGEMM_COLS / 16]; \
        float *xs = (float *)xs_v; \
        int64_t k = m->cols, k32 = k / 32 * 32, rb, re, r, t0, nt, t, c0, c1, i; \
        int copy = (uintptr_t)x % 64 != 0 || ldx % 16 != 0; \
        for (rb = r0; rb < r1; rb = re) { \
            /* the next block's rows fetched while this one computes, a few lines per row stretch */ \
            const char *next; \
            size_t next_bytes, calls, per, pf = 0; \
            re = rb + 8 < r1 ? rb + 8 : r1; \
            next = (const char *)m->data + (size_t)re * m->row_bytes; \
            next_bytes = (size_t)((re + 8 < r1 ? re + 8 : r1) - re) * m->row_bytes; \
            calls = (size_t)((re - rb) * ((k32 + BN__FGEMM_COLS - 1) / BN__FGEMM_COLS + 1)); \
            per = (next_bytes / calls + 63) / 64 * 64; \
            for (t0 = 0; t0 < n; t0 += 8) { \
                nt = n - t0 < 8 ? n - t0 : 8; \
                memset(acc, 0, sizeof acc); \
                for (c0 = 0; c0 < k32; c0 = c1) { \
                    const float *xc = x + t0 * ldx + c0; \
                    int64_t ldc = ldx; \
                    c1 = c0 + BN__FGEMM_COLS < k32 ? c0 + BN__FGEMM_COLS : k32; \
                    if (copy) { \
                        for (t = 0; t < nt; t++) \
                            for (i = 0; i < c1 - c0; i += 16) \
                                _mm512_store_ps(xs + t * BN__FGEMM_COLS + i, _mm512_loadu_ps(xc + t * ldx + i)); \
                        xc = xs; \
                        ldc = BN__FGEMM_COLS; \
                    } \
                    for (r = rb; r < re; r++) { \
                        const uint8_t *w = m->data + (size_t)r * m->row_bytes; \
                        size_t pf_end = pf + per < next_bytes ? pf + per : next_bytes; \
                        for (; pf < pf_end; pf += 64) _mm_prefetch(next + pf, _MM_HINT_T0); \
                        for (t = 0; t < nt; t += nt - t >= 8 ? 8 : 4) { \
                            const float *xt = xc + t * ldc; \
                            float *at = acc[r - rb][t]; \
                            if (nt - t >= 8) name##_row8(w, xt, ldc, c0, c1, at); \
                            else if (nt - t >= 4) name##_row4(w, xt, ldc, c0, c1, at); \
                            else if (nt - t == 3) name##_row3(w, xt, ldc, c0, c1, at); \
                            else if (nt - t == 2) name##_row2(w, xt, ldc, c0, c1, at); \
                            else name##_row1(w, xt, ldc, c0, c1, at); \
                        } \
                    } \
                } \
                for (r = rb; r < re; r++) \
                    for (t = 0; t < nt; t++) { \
                        const uint8_t *w = m->data + (size_t)r * m->row_bytes; \
                        const float *xt = x + (t0 + t) * ldx; \
                        __m512 a0 = _mm512_loadu_ps(acc[r - rb][t]), b0 = _mm512_loadu_ps(acc[r - rb][t] + 16); \
                        for (i = k32; i < k; i += 16) { \
                            __mmask16 mk = bn_tail_mask16(k - i); \
                            a0 = _mm512_fmadd_ps(LOAD16(w, i, mk), _mm512_maskz_loadu_ps(mk, xt + i), a0); \
                        } \
                        y[(t0 + t) * ldy + r] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0)); \
                    } \
            } \
        } \
    }
BN__FGEMM_AVX512(bn_gemm_f32_f32_avx512, BN__LD_F32_512, BN__PF32_512)
BN__FGEMM_AVX512(bn_gemm_f16_f32_avx512, BN__LD_F16_512, BN__PF16_512)
BN__FGEMM_AVX512(bn_gemm_bf16_f32_avx512, BN__LD_BF16_512, BN__PF16_512)

static BN__AVX512 float bn_dot_f32_avx512(const float *a, const float *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = bn_tail_mask16(n - i);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + i), _mm512_maskz_loadu_ps(mk, b + i), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

static BN__AVX512 void bn_axpy_f32_avx512(float *y, float a, const float *x, int64_t n) {
    __m512 va = _mm512_set1_ps(a);
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = bn_tail_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, mk, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(mk, x + i),
                                                         _mm512_maskz_loadu_ps(mk, y + i)));
    }
}

static BN__AVX512 float bn_dot_f16_avx512(const uint16_t *a, const float *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = bn_tail_mask16(n - i);
        acc = _mm512_fmadd_ps(BN__LD_F16_512(a, i, mk), _mm512_maskz_loadu_ps(mk, b + i), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

static BN__AVX512 void bn_axpy_f16_avx512(float *y, float a, const uint16_t *x, int64_t n) {
    __m512 va = _mm512_set1_ps(a);
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = bn_tail_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, mk, _mm512_fmadd_ps(va, BN__LD_F16_512(x, i, mk),
                                                         _mm512_maskz_loadu_ps(mk, y + i)));
    }
}

/* 16 lanes of a cached row (F32 or F16) from element off, lanes outside mk zero. */
static BN__VEC BN__AVX512 __m512 bn_attn_load_avx512(const void *row, int f16, int64_t off, __mmask16 mk) {
    if (f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, (const uint16_t *)row + off));
    return _mm512_maskz_loadu_ps(mk, (const float *)row + off);
}

/* The four sums of a, b, c, d (lanes [a b c d]), by the interleave-and-add of bn_sum4_epi32. */
static BN__VEC BN__AVX512 __m128 bn_sum4_ps(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    __m512 abcd = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(ab), _mm512_castps_pd(cd))),
                                _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(ab), _mm512_castps_pd(cd))));
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(abcd),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(abcd), 1)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* Scores of up to 4 queries against keys p + [0, nk), nk <= 4: 16 accumulators over d, each key
   and query loaded once per 16 lanes (missing ones repeat the first, their sums unused). */
static BN__AVX512 BN__NO_PRE void bn_attn_scores4_avx512(const float *q, int64_t nq, const void *k, int f16,
                                                         int64_t ldk, int64_t p, int64_t nk, int64_t d,
                                                         float scale, float *s, int64_t lds) {
    __m512 acc[4][4];
    int64_t kr[4], x, i, j;
    const float *qi[4];
    float t[4][4];
    BN__UNROLL for (i = 0; i < 4; i++) {
        qi[i] = q + (i < nq ? i : 0) * d;
        kr[i] = (p + (i < nk ? i : 0)) * ldk;
        BN__UNROLL for (j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    }
    for (x = 0; x < d; x += 16) {
        __mmask16 mk = bn_tail_mask16(d - x);
        __m512 kv[4];
        BN__UNROLL for (j = 0; j < 4; j++) kv[j] = bn_attn_load_avx512(k, f16, kr[j] + x, mk);
        BN__UNROLL for (i = 0; i < 4; i++) {
            __m512 qv = _mm512_maskz_loadu_ps(mk, qi[i] + x);
            BN__UNROLL for (j = 0; j < 4; j++) acc[i][j] = _mm512_fmadd_ps(qv, kv[j], acc[i][j]);
        }
    }
    BN__UNROLL for (i = 0; i < 4; i++) {      /* constant indices keep acc in registers */
        _mm_storeu_ps(t[i], bn_sum4_ps(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
    }
    for (i = 0; i < nq; i++)
        for (j = 0; j < nk; j++) s[i * lds + p + j] = t[i][j] * scale;
}

static BN__AVX512 void bn_attn_scores_avx512(const float *q, int64_t nq, const void *k, int f16, int64_t ldk,
                                             int64_t n, int64_t d, float scale, float *s, int64_t lds) {
    int64_t i, p;
    for (i = 0; i < nq; i += 4)
        for (p = 0; p < n; p += 4)
            bn_attn_scores4_avx512(q + i * d, nq - i < 4 ? nq - i : 4, k, f16, ldk, p, n - p < 4 ? n - p : 4, d,
                                   scale, s + i * lds, lds);
}

/* out rows [0, nq) lanes [x0, x0 + 64) (nq <= 4): 16 accumulators in registers over every
   cached row, each value row loaded once for all queries. */
static BN__AVX512 BN__NO_PRE void bn_attn_values4_avx512(float *out, int64_t nq, const float *a, int64_t lda,
                                                         const void *v, int f16, int64_t ldv, int64_t n,
                                                         int64_t d, int64_t x0) {
    __m512 acc[4][4];
    __mmask16 mk[4];
    const float *ai[4];
    int64_t p, i, c;
    BN__UNROLL for (i = 0; i < 4; i++) {
        ai[i] = a + (i < nq ? i : 0) * lda;
        mk[i] = bn_tail_mask16(d - x0 - 16 * i);
        BN__UNROLL for (c = 0; c < 4; c++) acc[i][c] = _mm512_setzero_ps();
    }
    for (p = 0; p < n; p++) {
        __m512 vv[4];
        BN__UNROLL for (c = 0; c < 4; c++) vv[c] = bn_attn_load_avx512(v, f16, p * ldv + x0 + 16 * c, mk[c]);
        BN__UNROLL for (i = 0; i < 4; i++) {
            __m512 w = _mm512_set1_ps(ai[i][p]);
            BN__UNROLL for (c = 0; c < 4; c++) acc[i][c] = _mm512_fmadd_ps(w, vv[c], acc[i][c]);
        }
    }
    BN__UNROLL for (i = 0; i < 4; i++)        /* constant indices keep acc in registers */
        BN__UNROLL for (c = 0; c < 4; c++)
            if (i < nq) _mm512_mask_storeu_ps(out + i * d + x0 + 16 * c, mk[c], acc[i][c]);
}

static BN__AVX512 void bn_attn_values_avx512(float *out, int64_t nq, const float *a, int64_t lda, const void *v,
                                             int f16, int64_t ldv, int64_t n, int64_t d) {
    int64_t i, x0;
    for (i = 0; i < nq; i += 4)
        for (x0 = 0; x0 < d; x0 += 64)
            bn_attn_values4_avx512(out + i * d, nq - i < 4 ? nq - i : 4, a + i * lda, lda, v, f16, ldv, n, d, x0);
}
/* ---- vector ops ---- */

/* out = relu(g)^2 * u with the same roundings as the reference (two products, no FMA). */
static BN__AVX512 void bn_relu2_mul_avx512(const float *g, const float *u, int64_t n, float *out) {
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = bn_tail_mask16(n - i);
        __m512 r = _mm512_max_ps(_mm512_maskz_loadu_ps(mk, g + i), _mm512_setzero_ps());
        _mm512_mask_storeu_ps(out + i, mk, _mm512_mul_ps(_mm512_mul_ps(r, r), _mm512_maskz_loadu_ps(mk, u + i)));
    }
}

/* e^x for 16 lanes: 2^n * p(r), r = x - n ln2 in [-ln2/2, ln2/2], degree-6 polynomial (~1 ulp);
   x below -87.3 gives 0, above 88.7 gives inf. */
static BN__VEC BN__AVX512 __m512 bn_exp_avx512(__m512 x) {
    const __m512 hi = _mm512_set1_ps(88.7228f), lo = _mm512_set1_ps(-87.3365f);
    __m512 n, r, p;
    __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), over = _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    p = _mm512_set1_ps(1.3981999e-3f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    p = _mm512_scalef_ps(p, n);
    p = _mm512_mask_blend_ps(under, p, _mm512_setzero_ps());
    return _mm512_mask_blend_ps(over, p, _mm512_set1_ps(INFINITY));
}

static BN__AVX512 void bn_silu_mul_avx512(const float *g, const float *u, int64_t n, float *out) {
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = bn_tail_mask16(n - i);
        __m512 x = _mm512_maskz_loadu_ps(mk, g + i);
        __m512 e = bn_exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x));
        __m512 sg = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
        _mm512_mask_storeu_ps(out + i, mk, _mm512_mul_ps(sg, _mm512_maskz_loadu_ps(mk, u + i)));
    }
}

static BN__AVX512 void bn_softmax_avx512(float *x, int64_t n) {
    __m512 mx = _mm512_set1_ps(-INFINITY), vinv;
    __m512d sum = _mm512_setzero_pd();
    float m;
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = bn_tail_mask16(n - i);
        mx = _mm512_mask_max_ps(mx, mk, mx, _mm512_maskz_loadu_ps(mk, x + i));
    }
    m = _mm512_reduce_max_ps(mx);
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = bn_tail_mask16(n - i);
        __m512 e = bn_exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + i), _mm512_set1_ps(m)));
        e = _mm512_maskz_mov_ps(mk, e);
        _mm512_mask_storeu_ps(x + i, mk, e);
        sum = _mm512_add_pd(sum, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        sum = _mm512_add_pd(sum, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    vinv = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(sum)));
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = bn_tail_mask16(n - i);
        _mm512_mask_storeu_ps(x + i, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + i), vinv));
    }
}

/* RoPE, 8 pairs per step; see bn_rope_avx2. */
static BN__AVX512 void bn_rope_avx512(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot,
                                      const float *cs, int neox) {
    const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512 even_neg = _mm512_castsi512_ps(_mm512_set1_epi64((long long)0x80000000u));
    int64_t h, i, half = n_rot / 2;
    for (h = 0; h < n_heads; h++) {
        float *v = x + h * head_dim;
        if (neox) {
            for (i = 0; i + 16 <= half; i += 16) {
                __m512 a = _mm512_loadu_ps(v + i), b = _mm512_loadu_ps(v + half + i);
                __m512 c = _mm512_loadu_ps(cs + i), sn = _mm512_loadu_ps(cs + half + i);
                _mm512_storeu_ps(v + i, _mm512_sub_ps(_mm512_mul_ps(a, c), _mm512_mul_ps(b, sn)));
                _mm512_storeu_ps(v + half + i, _mm512_add_ps(_mm512_mul_ps(a, sn), _mm512_mul_ps(b, c)));
            }
        } else {
            for (i = 0; i + 8 <= half; i += 8) {
                __m512 c = _mm512_permutexvar_ps(dup, _mm512_castps256_ps512(_mm256_loadu_ps(cs + i)));
                __m512 sn = _mm512_permutexvar_ps(dup, _mm512_castps256_ps512(_mm256_loadu_ps(cs + half + i)));
                __m512 xv = _mm512_loadu_ps(v + 2 * i);
                __m512 sw = _mm512_mul_ps(_mm512_permute_ps(xv, 0xb1),
                                          _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(sn),
                                                                               _mm512_castps_si512(even_neg))));
                _mm512_storeu_ps(v + 2 * i, _mm512_add_ps(_mm512_mul_ps(xv, c), sw));
            }
        }
        bn_rope_pairs_ref(v, i, half, cs, neox);
    }
}

/* Sum of squares in double (each square rounded to float first, as the reference does). */
static BN__AVX512 void bn_rmsnorm_avx512(const float *x, const float *w, int64_t n, float eps, float *out) {
    __m512d acc = _mm512_setzero_pd();
    __m512 vs;
    float scale;
    int64_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = bn_tail_mask16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(mk, x + i), sq = _mm512_mul_ps(v, v);
        acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
        acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sq), 1))));
    }
    scale = 1.0f / sqrtf((float)(_mm512_reduce_add_pd(acc) / (double)n) + eps);
    vs = _mm512_set1_ps(scale);
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = bn_tail_mask16(n - i);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + i), vs);
        if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mk, w + i));
        _mm512_mask_storeu_ps(out + i, mk, v);
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

/* RoPE, 2 pairs per step (NORM) or 4 (NEOX); see bn_rope_avx2. */
static void bn_rope_neon(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cs, int neox) {
    static const float sign[4] = { -1.0f, 1.0f, -1.0f, 1.0f };
    const float32x4_t even_neg = vld1q_f32(sign);
    int64_t h, i, half = n_rot / 2;
    for (h = 0; h < n_heads; h++) {
        float *v = x + h * head_dim;
        if (neox) {
            for (i = 0; i + 4 <= half; i += 4) {
                float32x4_t a = vld1q_f32(v + i), b = vld1q_f32(v + half + i);
                float32x4_t c = vld1q_f32(cs + i), sn = vld1q_f32(cs + half + i);
                vst1q_f32(v + i, vsubq_f32(vmulq_f32(a, c), vmulq_f32(b, sn)));
                vst1q_f32(v + half + i, vaddq_f32(vmulq_f32(a, sn), vmulq_f32(b, c)));
            }
        } else {
            for (i = 0; i + 2 <= half; i += 2) {
                float32x2_t c2 = vld1_f32(cs + i), s2 = vld1_f32(cs + half + i);
                float32x4_t c = vcombine_f32(vdup_lane_f32(c2, 0), vdup_lane_f32(c2, 1));
                float32x4_t sn = vmulq_f32(vcombine_f32(vdup_lane_f32(s2, 0), vdup_lane_f32(s2, 1)), even_neg);
                float32x4_t xv = vld1q_f32(v + 2 * i);
                vst1q_f32(v + 2 * i, vaddq_f32(vmulq_f32(xv, c), vmulq_f32(vrev64q_f32(xv), sn)));
            }
        }
        bn_rope_pairs_ref(v, i, half, cs, neox);
    }
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

#if defined(__clang__)
/* clang before 16 declares vdotq_s32 only when the whole file targets dotprod, so a function
   that targets it issues the instruction itself. */
#  define BN__DOTPROD __attribute__((target("dotprod")))
static BN__DOTPROD int32x4_t bn_sdot_neon(int32x4_t acc, int8x16_t a, int8x16_t b) {
    __asm__("sdot %0.4s, %1.16b, %2.16b" : "+w"(acc) : "w"(a), "w"(b));
    return acc;
}
#else
#  define BN__DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#  define bn_sdot_neon vdotq_s32
#endif
static BN__DOTPROD int32_t bn_tern_dot_neon_dotprod(const uint8_t *c, const int8_t *q, int64_t kp) {
    const uint8x16_t m3 = vdupq_n_u8(3);
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
    int64_t b, h;
    for (b = 0; b < kp / 128; b++)
        for (h = 0; h < 32; h += 16) {
            uint8x16_t v = vld1q_u8(c + b * 32 + h);
            const int8_t *x = q + b * 128 + h;
            BN__NEON_PLANES(v, m3);
            a0 = bn_sdot_neon(a0, p0, vld1q_s8(x));
            a1 = bn_sdot_neon(a1, p1, vld1q_s8(x + 32));
            a0 = bn_sdot_neon(a0, p2, vld1q_s8(x + 64));
            a1 = bn_sdot_neon(a1, p3, vld1q_s8(x + 96));
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
static float bn_dot_f16_neon(const uint16_t *a, const float *b, int64_t n) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    float s;
    int64_t i;
    for (i = 0; i + 4 <= n; i += 4) acc = vfmaq_f32(acc, BN__LD_F16_128(a, i), vld1q_f32(b + i));
    s = vaddvq_f32(acc);
    for (; i < n; i++) s += bn_fp16_to_fp32(a[i]) * b[i];
    return s;
}

static void bn_axpy_f16_neon(float *y, float a, const uint16_t *x, int64_t n) {
    int64_t i;
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), BN__LD_F16_128(x, i), a));
    for (; i < n; i++) y[i] += a * bn_fp16_to_fp32(x[i]);
}

/* Q8_0 block dot: 32 int8 products (|w q| <= 128 * 127, two per 16-bit lane) summed exactly. */
static int32_t bn_q8_dot32_neon(const int8_t *w, const int8_t *q) {
    int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), q0 = vld1q_s8(q), q1 = vld1q_s8(q + 16);
    int16x8_t p0 = vmlal_high_s8(vmull_s8(vget_low_s8(w0), vget_low_s8(q0)), w0, q0);
    int16x8_t p1 = vmlal_high_s8(vmull_s8(vget_low_s8(w1), vget_low_s8(q1)), w1, q1);
    return vaddvq_s32(vaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1)));
}

static void bn_q8_0_row_neon(const uint8_t *w, int64_t nb, const bn_qx *qx, int nt, float *part) {
    float a0[4] = { 0.0f, 0.0f, 0.0f, 0.0f }, a1[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    int64_t b;
    int t;
    for (b = 0; b < nb; b++) {
        const uint8_t *blk = w + b * 34;
        float dw = bn_fp16_to_fp32(bn_load_u16(blk));
        for (t = 0; t < nt; t++) {
            float v = (float)bn_q8_dot32_neon((const int8_t *)blk + 2, qx[t].q + b * 32) * (dw * qx[t].d[b]);
            if (b % 2) a1[t] += v; else a0[t] += v;
        }
    }
    for (t = 0; t < nt; t++) part[t] = a0[t] + a1[t];
}

BN__QX_ENTRIES(bn_gemv_q8_0_f32_neon, bn_gemm_q8_0_f32_neon, bn_q8_0_row_neon)

static void bn_relu2_mul_neon(const float *g, const float *u, int64_t n, float *out) {
    int64_t i;
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t r = vmaxq_f32(vld1q_f32(g + i), vdupq_n_f32(0.0f));
        vst1q_f32(out + i, vmulq_f32(vmulq_f32(r, r), vld1q_f32(u + i)));
    }
    for (; i < n; i++) {
        float r = g[i] > 0.0f ? g[i] : 0.0f;
        out[i] = r * r * u[i];
    }
}

/* ---- vector ops (leftover tail elements as the reference computes them) ---- */

/* e^x for 4 lanes: 2^n * p(r), r = x - n ln2, the degree-6 polynomial of bn_exp_avx512 (<= 3 ulp).
   2^n is applied as two normal factors 2^(n>>1) * 2^(n - (n>>1)), so results down to the
   subnormals and up to FLT_MAX are right; -inf gives 0, +inf gives inf, NaN stays NaN. */
static float32x4_t bn_exp_neon(float32x4_t x) {
    float32x4_t n, r, p;
    int32x4_t ni, n1;
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-104.0f)), vdupq_n_f32(88.73f));
    n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504f)));
    r = vfmsq_f32(x, n, vdupq_n_f32(0.693145752f));
    r = vfmsq_f32(r, n, vdupq_n_f32(1.42860677e-6f));
    p = vfmaq_f32(vdupq_n_f32(8.3334519e-3f), vdupq_n_f32(1.3981999e-3f), r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    ni = vcvtq_s32_f32(n);
    n1 = vshrq_n_s32(ni, 1);
    p = vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23)));
    return vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vsubq_s32(ni, n1), vdupq_n_s32(127)), 23)));
}

static void bn_silu_mul_neon(const float *g, const float *u, int64_t n, float *out) {
    int64_t i;
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t x = vld1q_f32(g + i);
        float32x4_t sg = vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), bn_exp_neon(vnegq_f32(x))));
        vst1q_f32(out + i, vmulq_f32(sg, vld1q_f32(u + i)));
    }
    bn_silu_mul_ref(g + i, u + i, n - i, out + i);
}

/* acc + the four lanes of v widened to double. */
static float64x2_t bn_add_f64x4_neon(float64x2_t acc, float32x4_t v) {
    return vaddq_f64(acc, vaddq_f64(vcvt_f64_f32(vget_low_f32(v)), vcvt_high_f64_f32(v)));
}

/* Max as the reference takes it (NaN lanes are skipped), sum of e^(x - max) in double. */
static void bn_softmax_neon(float *x, int64_t n) {
    float32x4_t mx = vdupq_n_f32(-INFINITY), vm;
    float64x2_t sum = vdupq_n_f64(0.0);
    float m, inv;
    double tail = 0.0;
    int64_t i, j;
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        mx = vbslq_f32(vcgtq_f32(v, mx), v, mx);
    }
    m = vmaxvq_f32(mx);
    for (j = i; j < n; j++) if (x[j] > m) m = x[j];
    vm = vdupq_n_f32(m);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t e = bn_exp_neon(vsubq_f32(vld1q_f32(x + i), vm));
        vst1q_f32(x + i, e);
        sum = bn_add_f64x4_neon(sum, e);
    }
    for (j = i; j < n; j++) { x[j] = expf(x[j] - m); tail += x[j]; }
    inv = (float)(1.0 / (vaddvq_f64(sum) + tail));
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv));
    for (; i < n; i++) x[i] *= inv;
}

/* Sum of squares in double (each square rounded to float first, as the reference does). */
static void bn_rmsnorm_neon(const float *x, const float *w, int64_t n, float eps, float *out) {
    float64x2_t acc = vdupq_n_f64(0.0);
    float32x4_t vs;
    double total;
    float scale;
    int64_t i;
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        acc = bn_add_f64x4_neon(acc, vmulq_f32(v, v));
    }
    total = vaddvq_f64(acc);
    for (; i < n; i++) total += (double)(x[i] * x[i]);
    scale = 1.0f / sqrtf((float)(total / (double)n) + eps);
    vs = vdupq_n_f32(scale);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t v = vmulq_f32(vld1q_f32(x + i), vs);
        vst1q_f32(out + i, w ? vmulq_f32(v, vld1q_f32(w + i)) : v);
    }
    for (; i < n; i++) out[i] = w ? x[i] * scale * w[i] : x[i] * scale;
}

/* Q6_K: 16 positions l.. of a 128-half as (value - 32), for the four 32-apart groups:
   q[j] holds elements [l + 32j, l + 32j + 16). ql, qh point at byte l of the half's ql/qh. */
static void bn_q6k_decode16_neon(const uint8_t *ql, const uint8_t *qh, int8x16_t q[4]) {
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m3 = vdupq_n_u8(3);
    const int8x16_t k32 = vdupq_n_s8(32);
    uint8x16_t l0 = vld1q_u8(ql), l1 = vld1q_u8(ql + 32), h = vld1q_u8(qh);
    q[0] = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(h, m3), 4)));
    q[1] = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h, 2), m3), 4)));
    q[2] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h, 4), m3), 4)));
    q[3] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(h, 6), 4)));
    q[0] = vsubq_s8(q[0], k32); q[1] = vsubq_s8(q[1], k32);
    q[2] = vsubq_s8(q[2], k32); q[3] = vsubq_s8(q[3], k32);
}

/* Sum of 16 products of (value - 32) and q: |each| <= 32 * 127, exact in 16 bits per pair. */
static int32_t bn_dot16_s8_neon(int8x16_t v, const int8_t *q) {
    int8x16_t x = vld1q_s8(q);
    return vaddlvq_s16(vmlal_high_s8(vmull_s8(vget_low_s8(v), vget_low_s8(x)), v, x));
}

/* Per block the exact integer sum of scale * (group dot), then d_w * d_x. */
static void bn_q6_k_row_neon(const uint8_t *w, int64_t nb, const bn_qx *qx, int nt, float *part) {
    float acc[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    int64_t b;
    int t, h, l, j;
    for (b = 0; b < nb; b++) {
        const uint8_t *blk = w + b * 210;               /* ql[128] qh[64] sc[16] d */
        const int8_t *sc = (const int8_t *)(blk + 192);
        float d = bn_fp16_to_fp32(bn_load_u16(blk + 208));
        int32_t total[4] = { 0, 0, 0, 0 };
        for (h = 0; h < 2; h++)
            for (l = 0; l < 32; l += 16) {
                int8x16_t q[4];
                bn_q6k_decode16_neon(blk + h * 64 + l, blk + 128 + h * 32 + l, q);
                for (j = 0; j < 4; j++) {
                    int e = h * 128 + 32 * j + l;           /* first element of the 16 */
                    for (t = 0; t < nt; t++) total[t] += sc[e / 16] * bn_dot16_s8_neon(q[j], qx[t].q + b * 256 + e);
                }
            }
        for (t = 0; t < nt; t++) acc[t] += (float)total[t] * (d * qx[t].d[b]);
    }
    for (t = 0; t < nt; t++) part[t] = acc[t];
}

BN__QX_ENTRIES(bn_gemv_q6_k_f32_neon, bn_gemm_q6_k_f32_neon, bn_q6_k_row_neon)

/* Attention as on AVX2 (4-query tiles, sums in registers, each row loaded once per tile), with
   4 keys per score tile and 16 lanes per value tile in NEON's 32 registers. */
#define BN__ATTN_SCORES_TILE_NEON(name, LOAD4, AT) \
    static void name(const float *q, int64_t nq, const void *k, int64_t ldk, int64_t p, int64_t nk, int64_t d, \
                     float scale, float *s, int64_t lds) { \
        const float *qi[4]; \
        int64_t kr[4], x, i, j, t; \
        float32x4_t acc[4][4]; \
        float sum[4][4]; \
        for (i = 0; i < 4; i++) { \
            qi[i] = q + (i < nq ? i : 0) * d; \
            kr[i] = (p + (i < nk ? i : 0)) * ldk; \
            for (j = 0; j < 4; j++) acc[i][j] = vdupq_n_f32(0.0f); \
        } \
        for (x = 0; x + 4 <= d; x += 4) { \
            float32x4_t k0 = LOAD4(k, kr[0] + x), k1 = LOAD4(k, kr[1] + x); \
            float32x4_t k2 = LOAD4(k, kr[2] + x), k3 = LOAD4(k, kr[3] + x); \
            BN__UNROLL for (i = 0; i < 4; i++) { \
                float32x4_t qv = vld1q_f32(qi[i] + x); \
                acc[i][0] = vfmaq_f32(acc[i][0], qv, k0); acc[i][1] = vfmaq_f32(acc[i][1], qv, k1); \
                acc[i][2] = vfmaq_f32(acc[i][2], qv, k2); acc[i][3] = vfmaq_f32(acc[i][3], qv, k3); \
            } \
        } \
        BN__UNROLL for (i = 0; i < 4; i++)      /* constant indices keep acc in registers */ \
            BN__UNROLL for (j = 0; j < 4; j++) sum[i][j] = vaddvq_f32(acc[i][j]); \
        for (i = 0; i < nq; i++) \
            for (j = 0; j < nk; j++) { \
                for (t = x; t < d; t++) sum[i][j] += qi[i][t] * AT(k, kr[j] + t); \
                s[i * lds + p + j] = sum[i][j] * scale; \
            } \
    }

/* out rows [0, nq) (nq <= 4) += sum over p in [p0, p1) of a_i[p] v_p (zeroed first when p0 = 0),
   16 lanes at a time, then 4; bn_attn_values_tiled sums the leftover lanes. */
#define BN__ATTN_VALUES_TILE_NEON(name, LOAD4) \
    static void name(float *out, int64_t nq, const float *a, int64_t lda, const void *v, int64_t ldv, int64_t p0, \
                     int64_t p1, int64_t d) { \
        const float *ai[4]; \
        float *oi[4]; \
        int64_t x, p, i, c; \
        for (i = 0; i < 4; i++) { \
            ai[i] = a + (i < nq ? i : 0) * lda; \
            oi[i] = out + (i < nq ? i : 0) * d; \
        } \
        for (x = 0; x + 16 <= d; x += 16) { \
            float32x4_t acc[4][4]; \
            BN__UNROLL for (i = 0; i < 4; i++) \
                BN__UNROLL for (c = 0; c < 4; c++) \
                    acc[i][c] = p0 > 0 ? vld1q_f32(oi[i] + x + 4 * c) : vdupq_n_f32(0.0f); \
            for (p = p0; p < p1; p++) { \
                float32x4_t v0 = LOAD4(v, p * ldv + x), v1 = LOAD4(v, p * ldv + x + 4); \
                float32x4_t v2 = LOAD4(v, p * ldv + x + 8), v3 = LOAD4(v, p * ldv + x + 12); \
                BN__UNROLL for (i = 0; i < 4; i++) { \
                    float32x4_t w = vld1q_dup_f32(ai[i] + p); \
                    acc[i][0] = vfmaq_f32(acc[i][0], w, v0); acc[i][1] = vfmaq_f32(acc[i][1], w, v1); \
                    acc[i][2] = vfmaq_f32(acc[i][2], w, v2); acc[i][3] = vfmaq_f32(acc[i][3], w, v3); \
                } \
            } \
            BN__UNROLL for (i = 3; i >= 0; i--)   /* row 0 last: missing rows alias it */ \
                BN__UNROLL for (c = 0; c < 4; c++) vst1q_f32(oi[i] + x + 4 * c, acc[i][c]); \
        } \
        for (; x + 4 <= d; x += 4) { \
            float32x4_t acc[4]; \
            BN__UNROLL for (i = 0; i < 4; i++) acc[i] = p0 > 0 ? vld1q_f32(oi[i] + x) : vdupq_n_f32(0.0f); \
            for (p = p0; p < p1; p++) { \
                float32x4_t v0 = LOAD4(v, p * ldv + x); \
                BN__UNROLL for (i = 0; i < 4; i++) acc[i] = vfmaq_f32(acc[i], vld1q_dup_f32(ai[i] + p), v0); \
            } \
            BN__UNROLL for (i = 3; i >= 0; i--) vst1q_f32(oi[i] + x, acc[i]); \
        } \
    }
BN__ATTN_SCORES_TILE_NEON(bn_attn_scores_tile_f32_neon, BN__LD_F32_128, BN__AT_F32N)
BN__ATTN_SCORES_TILE_NEON(bn_attn_scores_tile_f16_neon, BN__LD_F16_128, BN__AT_F16N)
BN__ATTN_VALUES_TILE_NEON(bn_attn_values_tile_f32_neon, BN__LD_F32_128)
BN__ATTN_VALUES_TILE_NEON(bn_attn_values_tile_f16_neon, BN__LD_F16_128)

BN__ATTN_SCORES_TILED(bn_attn_scores_neon, , 4, bn_attn_scores_tile_f16_neon, bn_attn_scores_tile_f32_neon)

BN__ATTN_VALUES_TILED(bn_attn_values_neon, , 4, bn_attn_values_tile_f16_neon, bn_attn_values_tile_f32_neon)
#endif /* BN__ARM64 */

/* ===== dispatch ===== */

/* Field names of bn_kernels.names, in order. */
static const char *const bn_kernel_fields[] = {
    "quant_i8", "gemv_tern", "gemm_tern",
    "gemv_f32", "gemv_f16", "gemv_bf16", "gemv_q8_0", "gemv_q6_k",
    "gemm_f32", "gemm_f16", "gemm_bf16", "gemm_q8_0", "gemm_q6_k",
    "rmsnorm", "rope", "softmax", "relu2_mul", "silu_mul",
    "dot_f32", "axpy_f32", "dot_f16", "axpy_f16", "attn_scores", "attn_values",
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
    kt->attn_scores = bn_attn_scores_ref;
    kt->attn_values = bn_attn_values_ref;
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
#if BN__HAVE_AVXVNNI
        if (bitnet_cpu_features() & BITNET_CPU_AVXVNNI)
            BN__KSET(kt, 2, gemm_tern, bn_gemm_tern_i8_avxvnni, "avx2-vnni");
#endif
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
        BN__KSET(kt, 22, attn_scores, bn_attn_scores_avx2, "avx2");
        BN__KSET(kt, 23, attn_values, bn_attn_values_avx2, "avx2");
        BN__KSET(kt, 13, rmsnorm, bn_rmsnorm_avx2, "avx2");
        BN__KSET(kt, 14, rope, bn_rope_avx2, "avx2");
        BN__KSET(kt, 15, softmax, bn_softmax_avx2, "avx2");
        BN__KSET(kt, 16, relu2_mul, bn_relu2_mul_avx2, "avx2");
        BN__KSET(kt, 17, silu_mul, bn_silu_mul_avx2, "avx2");
    }
    if (isa == BITNET_ISA_AVX512) {
        kt->act_order = 1;
        BN__KSET(kt, 0, quant_i8, bn_quant_i8_avx512, "avx512");
        BN__KSET(kt, 1, gemv_tern, bn_gemv_tern_i8_avx512, "avx512-vnni");
        BN__KSET(kt, 2, gemm_tern, bn_gemm_tern_i8_avx512, "avx512-vnni");
        BN__KSET(kt, 3, gemv_f[BN__FT_F32], bn_gemv_f32_f32_avx512, "avx512");
        BN__KSET(kt, 4, gemv_f[BN__FT_F16], bn_gemv_f16_f32_avx512, "avx512");
        BN__KSET(kt, 5, gemv_f[BN__FT_BF16], bn_gemv_bf16_f32_avx512, "avx512");
        BN__KSET(kt, 6, gemv_f[BN__FT_Q8_0], bn_gemv_q8_0_f32_avx512, "avx512-vnni");
        BN__KSET(kt, 8, gemm_f[BN__FT_F32], bn_gemm_f32_f32_avx512, "avx512");
        BN__KSET(kt, 9, gemm_f[BN__FT_F16], bn_gemm_f16_f32_avx512, "avx512");
        BN__KSET(kt, 10, gemm_f[BN__FT_BF16], bn_gemm_bf16_f32_avx512, "avx512");
        BN__KSET(kt, 11, gemm_f[BN__FT_Q8_0], bn_gemm_q8_0_f32_avx512, "avx512-vnni");
        BN__KSET(kt, 7, gemv_f[BN__FT_Q6_K], bn_gemv_q6_k_f32_avx512, "avx512-vnni");
        BN__KSET(kt, 12, gemm_f[BN__FT_Q6_K], bn_gemm_q6_k_f32_avx512, "avx512-vnni");
        BN__KSET(kt, 18, dot_f32, bn_dot_f32_avx512, "avx512");
        BN__KSET(kt, 19, axpy_f32, bn_axpy_f32_avx512, "avx512");
        BN__KSET(kt, 20, dot_f16, bn_dot_f16_avx512, "avx512");
        BN__KSET(kt, 21, axpy_f16, bn_axpy_f16_avx512, "avx512");
        BN__KSET(kt, 22, attn_scores, bn_attn_scores_avx512, "avx512");
        BN__KSET(kt, 23, attn_values, bn_attn_values_avx512, "avx512");
        BN__KSET(kt, 13, rmsnorm, bn_rmsnorm_avx512, "avx512");
        BN__KSET(kt, 14, rope, bn_rope_avx512, "avx512");
        BN__KSET(kt, 15, softmax, bn_softmax_avx512, "avx512");
        BN__KSET(kt, 16, relu2_mul, bn_relu2_mul_avx512, "avx512");
        BN__KSET(kt, 17, silu_mul, bn_silu_mul_avx512, "avx512");
    }
#endif
#if BN__ARM64
    if (isa == BITNET_ISA_NEON) {
        int dp = (bitnet_cpu_features() & BITNET_CPU_DOTPROD) != 0;
        BN__KSET(kt, 0, quant_i8, bn_quant_i8_neon, "neon");
        BN__KSET(kt, 14, rope, bn_rope_neon, "neon");
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
        BN__KSET(kt, 20, dot_f16, bn_dot_f16_neon, "neon");
        BN__KSET(kt, 21, axpy_f16, bn_axpy_f16_neon, "neon");
        BN__KSET(kt, 22, attn_scores, bn_attn_scores_neon, "neon");
        BN__KSET(kt, 23, attn_values, bn_attn_values_neon, "neon");
        BN__KSET(kt, 6, gemv_f[BN__FT_Q8_0], bn_gemv_q8_0_f32_neon, "neon");
        BN__KSET(kt, 11, gemm_f[BN__FT_Q8_0], bn_gemm_q8_0_f32_neon, "neon");
        BN__KSET(kt, 16, relu2_mul, bn_relu2_mul_neon, "neon");
        BN__KSET(kt, 7, gemv_f[BN__FT_Q6_K], bn_gemv_q6_k_f32_neon, "neon");
        BN__KSET(kt, 12, gemm_f[BN__FT_Q6_K], bn_gemm_q6_k_f32_neon, "neon");
        BN__KSET(kt, 13, rmsnorm, bn_rmsnorm_neon, "neon");
        BN__KSET(kt, 15, softmax, bn_softmax_neon, "neon");
        BN__KSET(kt, 17, silu_mul, bn_silu_mul_neon, "neon");
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
#if defined(_WIN32)
    return bn_win_cores();
#elif defined(_SC_NPROCESSORS_ONLN)
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
#else
    return 1;
#endif
}

#if defined(BITNET_NO_THREADS)
struct bitnet_threadpool {
    int n_threads;
    bitnet_allocator allocator;
    bitnet_jobs_fn jobs;                    /* bitnet_threadpool_new_jobs: the embedder's job system */
    void *jobs_user;
};

static int bn_pool_init_locks(bitnet_threadpool *p) { (void)p; return 1; }

bitnet_status bitnet_threadpool_new(bitnet_threadpool **out, int n_threads,
                                    const bitnet_allocator *allocator) {
    bitnet_allocator a = bn_allocator_or_default(allocator);
    bitnet_threadpool *p;
    (void)n_threads;
    if (!out) return bn_fail(BITNET_ERR_ARGS, "bitnet_threadpool_new: out is NULL");
    p = (bitnet_threadpool *)bn_alloc(&a, sizeof *p, 64);
    if (!p) return bn_fail(BITNET_ERR_NOMEM, "thread pool: cannot allocate %zu bytes", sizeof *p);
    memset(p, 0, sizeof *p);
    p->n_threads = 1;
    p->allocator = a;
    *out = p;
    return BITNET_OK;
}

void bitnet_threadpool_free(bitnet_threadpool *pool) {
    if (pool) { bitnet_allocator a = pool->allocator; bn_free(&a, pool); }
}

int bitnet_threadpool_size(const bitnet_threadpool *pool) { return pool && pool->jobs ? pool->n_threads : 1; }

static void bn_jobs_dispatch(bitnet_threadpool *pool, int64_t n_rows, int64_t grain, bitnet_task_fn fn, void *arg);

void bitnet_threadpool_run(bitnet_threadpool *pool, int64_t n_rows, int64_t grain,
                           bitnet_task_fn fn, void *arg) {
    if (pool && pool->jobs && n_rows > 0 && fn) { bn_jobs_dispatch(pool, n_rows, grain, fn, arg); return; }
    (void)grain;
    if (n_rows > 0) fn(arg, 0, n_rows, 0);
}
#else

/* --- threads and their locks: pthreads, or Win32 (SRW lock + condition variable) --- */
#if defined(_WIN32)
typedef SRWLOCK bn_mutex;
typedef CONDITION_VARIABLE bn_cond;
typedef HANDLE bn_thread;
static void bn_mutex_init(bn_mutex *m) { InitializeSRWLock(m); }
static void bn_mutex_destroy(bn_mutex *m) { (void)m; }
static void bn_mutex_lock(bn_mutex *m) { AcquireSRWLockExclusive(m); }
static void bn_mutex_unlock(bn_mutex *m) { ReleaseSRWLockExclusive(m); }
static void bn_cond_init(bn_cond *c) { InitializeConditionVariable(c); }
static void bn_cond_destroy(bn_cond *c) { (void)c; }
static void bn_cond_wait(bn_cond *c, bn_mutex *m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static void bn_cond_signal(bn_cond *c) { WakeConditionVariable(c); }
static void bn_cond_broadcast(bn_cond *c) { WakeAllConditionVariable(c); }
#else
typedef pthread_mutex_t bn_mutex;
typedef pthread_cond_t bn_cond;
typedef pthread_t bn_thread;
static void bn_mutex_init(bn_mutex *m) { pthread_mutex_init(m, NULL); }
static void bn_mutex_destroy(bn_mutex *m) { pthread_mutex_destroy(m); }
static void bn_mutex_lock(bn_mutex *m) { pthread_mutex_lock(m); }
static void bn_mutex_unlock(bn_mutex *m) { pthread_mutex_unlock(m); }
static void bn_cond_init(bn_cond *c) { pthread_cond_init(c, NULL); }
static void bn_cond_destroy(bn_cond *c) { pthread_cond_destroy(c); }
static void bn_cond_wait(bn_cond *c, bn_mutex *m) { pthread_cond_wait(c, m); }
static void bn_cond_signal(bn_cond *c) { pthread_cond_signal(c); }
static void bn_cond_broadcast(bn_cond *c) { pthread_cond_broadcast(c); }
#endif

#if BN__X86 && (defined(__GNUC__) || defined(__clang__))
#  define BN__PAUSE() __builtin_ia32_pause()
#elif BN__X86
#  define BN__PAUSE() _mm_pause()
#elif BN__ARM64
#  define BN__PAUSE() __asm__ __volatile__("yield")
#else
#  define BN__PAUSE() ((void)0)
#endif
#define BN__SPIN_ROUNDS 20000   /* pauses before a waiting thread sleeps (~0.1-1 ms) */
#ifndef BN__CHUNKS_PER_THREAD
#define BN__CHUNKS_PER_THREAD 4     /* chunks a run is cut into, per thread */
#endif

typedef struct bn_worker {
    struct bitnet_threadpool *pool;
    bn_thread thread;
    int index;
} bn_worker;

/* A run is cut into chunks of rows. Each thread owns a contiguous range of them (so its rows
   stream from memory in one pass, and the prefetch that runs past a chunk's end feeds its next
   chunk) and claims them from the front; a thread done with its own steals from the back of the
   others', so a thread the OS descheduled delays the run by one chunk, not by its share.
   A range word packs the run's generation (bits 63-32), the range's end (31-16) and its next
   chunk (15-0): a late thread can never claim a chunk of a newer run by mistake, and the run's
   fields stay valid until every chunk claimed is done.
   Every line two threads write is a cost (a transfer of ~100-200 ns between cores), so each
   thread counts the chunks it finished in its own slot and the caller sums the slots. */
typedef struct bn_pool_slot {
    uint64_t word;                  /* generation << 32 | end << 16 | next (atomic) */
    uint64_t done;                  /* chunks this thread has finished, ever (atomic, its own) */
    char pad[48];                   /* one cache line per thread */
} bn_pool_slot;

struct bitnet_threadpool {
    bitnet_task_fn fn;              /* the run: set before `generation` is published */
    void *arg;
    int64_t n_rows, chunk_rows, n_chunks;
    uint32_t generation;            /* bumped for every run (atomic) */
    int n_threads;                  /* including the caller */
    char pad[64 - 5 * 8 - 2 * 4];   /* workers poll the line above: keep the rest off it */
    uint32_t sleepers, caller_sleeping, stop;   /* atomic; changed under mu */
    uint64_t done_target;           /* the slots' sum when the current run is complete */
    bitnet_allocator allocator;
    bn_worker *workers;             /* (n_threads - 1) */
    bn_pool_slot *slots;            /* (n_threads) */
    bn_mutex mu;
    bn_cond wake, done;
    bn_mutex run_mu;                /* one run at a time when several threads share the pool */
    bitnet_jobs_fn jobs;            /* bitnet_threadpool_new_jobs: the embedder's job system, no workers */
    void *jobs_user;
};

static int bn_pool_init_locks(struct bitnet_threadpool *p) {
    bn_mutex_init(&p->mu);
    bn_mutex_init(&p->run_mu);
    bn_cond_init(&p->wake);
    bn_cond_init(&p->done);
    return 1;
}

static void bn_jobs_dispatch(bitnet_threadpool *pool, int64_t n_rows, int64_t grain, bitnet_task_fn fn, void *arg);

/* The next chunk of range u for run gen: from the front when u is the claiming thread's own
   range, else from the back; -1 when the range is empty or belongs to another run. */
static int64_t bn_pool_claim(struct bitnet_threadpool *p, uint32_t gen, int u, int own) {
    uint64_t *word = &p->slots[u].word;
    uint64_t c = bn_atomic_load64(word);
    for (;;) {
        uint64_t next = c & 0xffffu, end = c >> 16 & 0xffffu;
        if ((uint32_t)(c >> 32) != gen || next >= end) return -1;
        if (bn_atomic_cas64(word, &c, own ? c + 1 : c - ((uint64_t)1 << 16)))
            return (int64_t)(own ? next : end - 1);
    }
}

static uint64_t bn_pool_chunks_done(struct bitnet_threadpool *p) {
    uint64_t sum = 0;
    int i;
    for (i = 0; i < p->n_threads; i++) sum += bn_atomic_load64_sc(&p->slots[i].done);
    return sum;
}

/* A worker counts a finished chunk and wakes the caller if it went to sleep. The counter's store
   and the flag's load are both seq_cst, and so are the caller's (flag store, then the sum): one
   of the two sees the other, so the caller never sleeps through the last chunk. */
static void bn_pool_count_done(struct bitnet_threadpool *p, int t) {
    uint64_t *done = &p->slots[t].done;
    if (t == 0) { bn_atomic_store64(done, *done + 1); return; }
    bn_atomic_store64_sc(done, *done + 1);
    if (bn_atomic_load32_sc(&p->caller_sleeping)) {
        bn_mutex_lock(&p->mu);
        bn_cond_signal(&p->done);
        bn_mutex_unlock(&p->mu);
    }
}

/* Claims and runs chunks of run `gen` until none is left. */
static void bn_pool_work(struct bitnet_threadpool *p, uint32_t gen, int t) {
    int n = p->n_threads;
    for (;;) {
        int64_t i = bn_pool_claim(p, gen, t, 1), r0, r1;
        int u;
        for (u = 1; i < 0 && u < n; u++) i = bn_pool_claim(p, gen, (t + u) % n, 0);
        if (i < 0) return;
        r0 = i * p->chunk_rows;
        r1 = r0 + p->chunk_rows < p->n_rows ? r0 + p->chunk_rows : p->n_rows;
        p->fn(p->arg, r0, r1, t);
        bn_pool_count_done(p, t);
    }
}

static void bn_worker_loop(bn_worker *w) {
    struct bitnet_threadpool *p = w->pool;
    uint32_t seen = 0;
    for (;;) {
        int i;
        uint32_t g = bn_atomic_load32(&p->generation);
        for (i = 0; g == seen && i < BN__SPIN_ROUNDS; i++) {
            BN__PAUSE();
            g = bn_atomic_load32(&p->generation);
        }
        if (g == seen) {
            bn_mutex_lock(&p->mu);
            bn_atomic_add32(&p->sleepers, 1);
            while ((g = bn_atomic_load32(&p->generation)) == seen && !bn_atomic_load32(&p->stop))
                bn_cond_wait(&p->wake, &p->mu);
            bn_atomic_add32(&p->sleepers, (uint32_t)-1);
            bn_mutex_unlock(&p->mu);
        }
        if (bn_atomic_load32(&p->stop)) return;
        seen = g;
        bn_pool_work(p, g, w->index);
    }
}

/* Kernels keep up to 81 KiB on the stack: workers get at least 1 MiB (musl's default is
   128 KiB). Returns 0 on failure. */
#define BN__WORKER_STACK ((size_t)1 << 20)
#if defined(_WIN32)
static DWORD WINAPI bn_worker_entry(LPVOID arg) { bn_worker_loop((bn_worker *)arg); return 0; }

static int bn_worker_start(bn_worker *w) {
    w->thread = CreateThread(NULL, BN__WORKER_STACK, bn_worker_entry, w, STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    return w->thread != NULL;
}

static void bn_worker_join(bn_worker *w) {
    WaitForSingleObject(w->thread, INFINITE);
    CloseHandle(w->thread);
}
#else
static void *bn_worker_entry(void *arg) { bn_worker_loop((bn_worker *)arg); return NULL; }

static int bn_worker_start(bn_worker *w) {
    pthread_attr_t attr;
    size_t stack = 0;
    int ok, have_attr = pthread_attr_init(&attr) == 0;
    if (have_attr && pthread_attr_getstacksize(&attr, &stack) == 0 && stack < BN__WORKER_STACK)
        pthread_attr_setstacksize(&attr, BN__WORKER_STACK);
    ok = pthread_create(&w->thread, have_attr ? &attr : NULL, bn_worker_entry, w) == 0;
    if (have_attr) pthread_attr_destroy(&attr);
    return ok;
}

static void bn_worker_join(bn_worker *w) { pthread_join(w->thread, NULL); }
#endif

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
    if (!bn_pool_init_locks(p)) {
        bn_free(&a, p);
        return bn_fail(BITNET_ERR_NOMEM, "thread pool: cannot create a mutex");
    }
    p->slots = (bn_pool_slot *)bn_alloc(&a, sizeof(bn_pool_slot) * (size_t)n_threads, 64);
    if (p->slots) memset(p->slots, 0, sizeof(bn_pool_slot) * (size_t)n_threads);
    if (!p->slots) {
        bitnet_threadpool_free(p);
        return bn_fail(BITNET_ERR_NOMEM, "thread pool: cannot allocate %d chunk ranges", n_threads);
    }
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
            if (!bn_worker_start(w)) {
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
    bn_mutex_lock(&pool->mu);
    bn_atomic_store32(&pool->stop, 1);
    bn_atomic_add32(&pool->generation, 1);
    bn_cond_broadcast(&pool->wake);
    bn_mutex_unlock(&pool->mu);
    for (i = 1; !pool->jobs && i < pool->n_threads; i++) bn_worker_join(&pool->workers[i - 1]);
    bn_cond_destroy(&pool->wake);
    bn_cond_destroy(&pool->done);
    bn_mutex_destroy(&pool->mu);
    bn_mutex_destroy(&pool->run_mu);
    a = pool->allocator;
    if (pool->workers) bn_free(&a, pool->workers);
    if (pool->slots) bn_free(&a, pool->slots);
    bn_free(&a, pool);
}

int bitnet_threadpool_size(const bitnet_threadpool *pool) { return pool ? pool->n_threads : 1; }

void bitnet_threadpool_run(bitnet_threadpool *pool, int64_t n_rows, int64_t grain,
                           bitnet_task_fn fn, void *arg) {
    int64_t units, per;
    uint32_t gen;
    int i;
    if (n_rows <= 0 || !fn) return;
    if (grain < 1) grain = 1;
    if (pool && pool->jobs) { bn_jobs_dispatch(pool, n_rows, grain, fn, arg); return; }
    if (!pool || pool->n_threads == 1 || n_rows <= grain) { fn(arg, 0, n_rows, 0); return; }
    bn_mutex_lock(&pool->run_mu);
    /* about 4 chunks per thread, each a multiple of grain */
    units = (n_rows + grain - 1) / grain;
    per = (units + BN__CHUNKS_PER_THREAD * pool->n_threads - 1) / (BN__CHUNKS_PER_THREAD * pool->n_threads);
    pool->fn = fn; pool->arg = arg; pool->n_rows = n_rows;
    pool->chunk_rows = per * grain;
    pool->n_chunks = (n_rows + pool->chunk_rows - 1) / pool->chunk_rows;
    pool->done_target += (uint64_t)pool->n_chunks;
    gen = bn_atomic_load32(&pool->generation) + 1;
    for (i = 0; i < pool->n_threads; i++) {       /* thread i owns chunks [c0, c1) */
        uint64_t c0 = (uint64_t)(pool->n_chunks * i / pool->n_threads);
        uint64_t c1 = (uint64_t)(pool->n_chunks * (i + 1) / pool->n_threads);
        bn_atomic_store64(&pool->slots[i].word, (uint64_t)gen << 32 | c1 << 16 | c0);
    }
    bn_atomic_store32(&pool->generation, gen);
    /* No fence before this load: a worker that goes to sleep just now misses the run, which then
       costs time, never correctness (the caller takes every chunk left), and is woken next run. */
    if (bn_atomic_load32(&pool->sleepers)) {
        bn_mutex_lock(&pool->mu);
        bn_cond_broadcast(&pool->wake);
        bn_mutex_unlock(&pool->mu);
    }
    bn_pool_work(pool, gen, 0);
    for (i = 0; bn_pool_chunks_done(pool) != pool->done_target && i < BN__SPIN_ROUNDS; i++) BN__PAUSE();
    if (bn_pool_chunks_done(pool) != pool->done_target) {
        bn_mutex_lock(&pool->mu);
        bn_atomic_store32_sc(&pool->caller_sleeping, 1);
        while (bn_pool_chunks_done(pool) != pool->done_target) bn_cond_wait(&pool->done, &pool->mu);
        bn_atomic_store32(&pool->caller_sleeping, 0);
        bn_mutex_unlock(&pool->mu);
    }
    bn_mutex_unlock(&pool->run_mu);
}
#endif /* BITNET_NO_THREADS */

/* ---- a pool on the embedder's job system ---- */

typedef struct bn_jobs_run {
    bitnet_task_fn fn;
    void *arg;
    int64_t n_rows, per;                    /* rows per job, a multiple of the grain */
} bn_jobs_run;

static void bn_jobs_one(void *run, int i) {
    const bn_jobs_run *r = (const bn_jobs_run *)run;
    int64_t r0 = (int64_t)i * r->per, r1 = r0 + r->per < r->n_rows ? r0 + r->per : r->n_rows;
    if (i >= 0 && r0 < r1) r->fn(r->arg, r0, r1, i);
}

static void bn_jobs_dispatch(bitnet_threadpool *pool, int64_t n_rows, int64_t grain, bitnet_task_fn fn, void *arg) {
    bn_jobs_run r;
    int64_t units;
    if (grain < 1) grain = 1;
    units = (n_rows + grain - 1) / grain;
    r.fn = fn;
    r.arg = arg;
    r.n_rows = n_rows;
    r.per = (units + pool->n_threads - 1) / pool->n_threads * grain;
    pool->jobs(pool->jobs_user, (int)((n_rows + r.per - 1) / r.per), bn_jobs_one, &r);
}

bitnet_status bitnet_threadpool_new_jobs(bitnet_threadpool **out, int n_threads, bitnet_jobs_fn jobs, void *user,
                                         const bitnet_allocator *allocator) {
    bitnet_allocator a = bn_allocator_or_default(allocator);
    bitnet_threadpool *p;
    if (!out || !jobs) return bn_fail(BITNET_ERR_ARGS, "bitnet_threadpool_new_jobs: NULL argument");
    *out = NULL;
    if (n_threads <= 0) n_threads = bitnet_online_cores();
    if (n_threads > 1024)
        return bn_fail(BITNET_ERR_ARGS, "thread pool: %d threads is more than the limit 1024", n_threads);
    p = (bitnet_threadpool *)bn_alloc(&a, sizeof *p, 64);
    if (!p) return bn_fail(BITNET_ERR_NOMEM, "thread pool: cannot allocate %zu bytes", sizeof *p);
    memset(p, 0, sizeof *p);
    p->allocator = a;
    p->n_threads = n_threads;
    p->jobs = jobs;
    p->jobs_user = user;
    if (!bn_pool_init_locks(p)) {
        bn_free(&a, p);
        return bn_fail(BITNET_ERR_NOMEM, "thread pool: cannot create a mutex");
    }
    *out = p;
    return BITNET_OK;
}

/* ---- the kernels split over the pool (pool may be NULL) ---- */

typedef struct bn_par_args {
    const bn_kernels *kt;
    const bn_fmat *m;
    const float *x;
    int64_t ldx, n, ldy;
    float *y;
} bn_par_args;

/* Ternary matrices that share one quantized input run as one job over their stacked rows (the
   model's q/k/v and gate/up): the pool wakes once and each row range goes to one kernel call. */
typedef struct bn_par_tern_args {
    const bn_kernels *kt;
    const bn_tern *const *w;            /* (n_w) */
    float *const *y;                    /* (n_w) outputs, (n, w[i]->rows) each unless ldy is set */
    int n_w, gemv;                      /* gemv: one token through kt->gemv_tern */
    const int8_t *q;                    /* (n, ldq) */
    const float *s;                     /* (n) */
    const int32_t *sum;                 /* (n) */
    int64_t ldq, n, ldy;                /* ldy 0: each output's own row count */
} bn_par_tern_args;

static void bn_par_tern_task(void *arg, int64_t r0, int64_t r1, int t) {
    const bn_par_tern_args *a = (const bn_par_tern_args *)arg;
    int64_t base = 0;
    int i;
    (void)t;
    for (i = 0; i < a->n_w && r0 < r1; i++) {
        const bn_tern *w = a->w[i];
        int64_t lo = r0 - base, hi = r1 - base < w->rows ? r1 - base : w->rows;
        if (lo < w->rows) {
            if (a->gemv) a->kt->gemv_tern(w, a->q, a->s[0], a->sum[0], a->y[i], lo, hi);
            else a->kt->gemm_tern(w, a->q, a->ldq, a->s, a->sum, a->n, a->y[i], a->ldy ? a->ldy : w->rows, lo, hi);
            r0 = base + hi;
        }
        base += w->rows;
    }
}

static void bn_par_tern(bitnet_threadpool *pool, const bn_par_tern_args *a) {
    int64_t rows = 0;
    int i;
    for (i = 0; i < a->n_w; i++) rows += a->w[i]->rows;
    bitnet_threadpool_run(pool, rows, 16, bn_par_tern_task, (void *)a);
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
    bn_par_tern_args a;
    memset(&a, 0, sizeof a);
    a.kt = kt; a.w = &w; a.y = &y; a.n_w = 1; a.gemv = 1; a.q = q; a.s = &s; a.sum = &sum; a.n = 1;
    bn_par_tern(pool, &a);
}

static BN__UNUSED void bn_par_gemm_tern(bitnet_threadpool *pool, const bn_kernels *kt, const bn_tern *w,
                                        const int8_t *q, int64_t ldq, const float *s, const int32_t *sum,
                                        int64_t n, float *y, int64_t ldy) {
    bn_par_tern_args a;
    memset(&a, 0, sizeof a);
    a.kt = kt; a.w = &w; a.y = &y; a.n_w = 1; a.q = q; a.ldq = ldq; a.s = s; a.sum = sum; a.n = n; a.ldy = ldy;
    bn_par_tern(pool, &a);
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

#define BN__MAX_LAYERS 512
#define BN__MAX_DIM (1 << 20)               /* any single dimension beyond this is refused */

typedef struct bn_proj {                    /* one BitLinear projection */
    bn_tern w;
    const float *scale;                     /* optional blk.N.*.scale: 1 or w.rows values */
    int64_t n_scale;
} bn_proj;

typedef struct bn_layer {
    const float *attn_norm, *attn_sub_norm, *ffn_norm, *ffn_sub_norm;
    bn_proj wq, wk, wv, wo, wgate, wup, wdown;
} bn_layer;

struct bitnet_model {
    bitnet_allocator allocator;
    bitnet_gguf *gguf;
    bitnet_hparams hp;
    bn_layer *layers;                       /* (n_layer) */
    bn_fmat head;
    bitnet_type head_type;                  /* of `head` */
    bitnet_head_type head_request;          /* bitnet_model_params.head_type */
    void *head_owned;                       /* a requantized head, or NULL */
    const bitnet_gguf_tensor *embd;
    uint64_t embd_row_bytes;
    const float *output_norm;
    struct bitnet_vocab *vocab;
    bn_kernels kernels;
    bitnet_isa isa;
    float **owned;                          /* norm weights converted to f32 */
    int n_owned;
    uint64_t converted_bytes;
    double load_ms;
};

/* --- hyperparameters --- */

static bitnet_status bn_arch_from_name(const char *name, size_t len, bitnet_hparams *hp) {
    if ((len == 12 && !memcmp(name, "bitnet-b1.58", 12)) || (len == 9 && !memcmp(name, "bitnet-25", 9))) {
        hp->arch = BITNET_ARCH_BITNET_B158;
        hp->activation = BITNET_ACT_RELU2;
    } else if (len == 6 && !memcmp(name, "bitnet", 6)) {
        hp->arch = BITNET_ARCH_BITNET;
        hp->activation = BITNET_ACT_SILU;
    } else if (len == 5 && !memcmp(name, "llama", 5)) {
        hp->arch = BITNET_ARCH_LLAMA;
        hp->activation = BITNET_ACT_SILU;
    } else {
        return bn_fail(BITNET_ERR_UNSUPPORTED, "architecture '%.*s' is not supported (bitnet-b1.58, "
                       "bitnet-25, bitnet, llama)", (int)(len > 40 ? 40 : len), name);
    }
    memcpy(hp->arch_name, name, len < sizeof hp->arch_name ? len : sizeof hp->arch_name - 1);
    hp->sub_norms = hp->arch != BITNET_ARCH_LLAMA;
    hp->rope_style = hp->arch == BITNET_ARCH_LLAMA ? BITNET_ROPE_NORM : BITNET_ROPE_NEOX;
    return BITNET_OK;
}

/* Reads "<arch>.<suffix>" as a positive int32; `def` < 0 means the key is required. */
static bitnet_status bn_hp_int(const bitnet_gguf *g, const bitnet_hparams *hp, const char *suffix,
                               int64_t def, int32_t *out) {
    char key[128];
    int64_t v;
    bitnet_status st;
    snprintf(key, sizeof key, "%s.%s", hp->arch_name, suffix);
    st = bitnet_gguf_get_i64(g, key, &v);
    if (st == BITNET_ERR_NOT_FOUND && def >= 0) v = def;
    else if (st == BITNET_ERR_NOT_FOUND) return bn_fail(BITNET_ERR_FORMAT, "missing key '%s'", key);
    else if (st != BITNET_OK) return bn_fail_prefix(BITNET_ERR_FORMAT, "key '%s'", key);
    if (v <= 0 || v > BN__MAX_DIM)
        return bn_fail(BITNET_ERR_FORMAT, "key '%s' = %lld is out of range (1..%d)", key, (long long)v, BN__MAX_DIM);
    *out = (int32_t)v;
    return BITNET_OK;
}

static bitnet_status bn_hp_float(const bitnet_gguf *g, const bitnet_hparams *hp, const char *suffix,
                                 float def, float *out) {
    char key[128];
    bitnet_status st;
    snprintf(key, sizeof key, "%s.%s", hp->arch_name, suffix);
    *out = def;
    st = bitnet_gguf_get_f32(g, key, out);
    if (st == BITNET_ERR_NOT_FOUND) { *out = def; return BITNET_OK; }
    if (st != BITNET_OK) return bn_fail_prefix(BITNET_ERR_FORMAT, "key '%s'", key);
    if (!(*out > 0) || *out > 1e30f)
        return bn_fail(BITNET_ERR_FORMAT, "key '%s' = %g is out of range", key, (double)*out);
    return BITNET_OK;
}

/* `<arch>.hidden_activation` (bitnet) and `rope.scaling.*` refine the arch defaults. */
static bitnet_status bn_hp_options(const bitnet_gguf *g, bitnet_hparams *hp) {
    char key[128];
    const char *s;
    size_t len;
    float factor = 1.0f;
    snprintf(key, sizeof key, "%s.hidden_activation", hp->arch_name);
    if (bitnet_gguf_get_str(g, key, &s, &len) == BITNET_OK) {
        if ((len == 4 && !memcmp(s, "silu", 4)) || (len == 5 && !memcmp(s, "swish", 5))) hp->activation = BITNET_ACT_SILU;
        else if ((len == 5 && !memcmp(s, "relu2", 5)) || (len == 12 && !memcmp(s, "squared_relu", 12)))
            hp->activation = BITNET_ACT_RELU2;
        else return bn_fail(BITNET_ERR_UNSUPPORTED, "key '%s' = '%.*s' (supported: silu, relu2)", key,
                            (int)(len > 32 ? 32 : len), s);
    }
    snprintf(key, sizeof key, "%s.rope.scaling.type", hp->arch_name);
    if (bitnet_gguf_get_str(g, key, &s, &len) == BITNET_OK && !(len == 4 && !memcmp(s, "none", 4))) {
        if (!(len == 6 && !memcmp(s, "linear", 6)))
            return bn_fail(BITNET_ERR_UNSUPPORTED, "key '%s' = '%.*s' (supported: none, linear)", key,
                           (int)(len > 32 ? 32 : len), s);
        if (bn_hp_float(g, hp, "rope.scaling.factor", 1.0f, &factor) != BITNET_OK) return BITNET_ERR_FORMAT;
    }
    hp->rope_freq_scale = 1.0f / factor;
    return BITNET_OK;
}

static bitnet_status bn_load_hparams(const bitnet_gguf *g, bitnet_hparams *hp) {
    const char *arch;
    size_t len;
    bitnet_status st;
    memset(hp, 0, sizeof *hp);
    if (bitnet_gguf_get_str(g, "general.architecture", &arch, &len) != BITNET_OK)
        return bn_fail(BITNET_ERR_FORMAT, "missing or non-string key 'general.architecture'");
    if ((st = bn_arch_from_name(arch, len, hp)) != BITNET_OK) return st;
    if ((st = bn_hp_int(g, hp, "embedding_length", -1, &hp->n_embd)) != BITNET_OK ||
        (st = bn_hp_int(g, hp, "block_count", -1, &hp->n_layer)) != BITNET_OK ||
        (st = bn_hp_int(g, hp, "feed_forward_length", -1, &hp->n_ff)) != BITNET_OK ||
        (st = bn_hp_int(g, hp, "attention.head_count", -1, &hp->n_head)) != BITNET_OK ||
        (st = bn_hp_int(g, hp, "attention.head_count_kv", hp->n_head, &hp->n_head_kv)) != BITNET_OK ||
        (st = bn_hp_int(g, hp, "context_length", 2048, &hp->n_ctx_train)) != BITNET_OK ||
        (st = bn_hp_float(g, hp, "rope.freq_base", 10000.0f, &hp->rope_base)) != BITNET_OK ||
        (st = bn_hp_float(g, hp, "attention.layer_norm_rms_epsilon", 1e-5f, &hp->rms_eps)) != BITNET_OK)
        return st;
    if (hp->n_layer > BN__MAX_LAYERS)
        return bn_fail(BITNET_ERR_FORMAT, "%d layers (limit %d)", hp->n_layer, BN__MAX_LAYERS);
    if (hp->n_embd % hp->n_head || hp->n_head % hp->n_head_kv)
        return bn_fail(BITNET_ERR_FORMAT, "embedding %d, %d heads, %d kv heads: heads must divide evenly",
                       hp->n_embd, hp->n_head, hp->n_head_kv);
    hp->head_dim = hp->n_embd / hp->n_head;
    if (hp->head_dim % 2) return bn_fail(BITNET_ERR_FORMAT, "head dimension %d is odd", hp->head_dim);
    if ((st = bn_hp_int(g, hp, "rope.dimension_count", hp->head_dim, &hp->n_rot)) != BITNET_OK) return st;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return bn_fail(BITNET_ERR_FORMAT, "rope.dimension_count %d must be even and <= head dim %d",
                       hp->n_rot, hp->head_dim);
    return bn_hp_options(g, hp);
}

/* --- tensors --- */

static bitnet_status bn_find_tensor(const bitnet_gguf *g, const char *name, int required,
                                    const bitnet_gguf_tensor **out) {
    *out = bitnet_gguf_find_tensor(g, name);
    if (!*out && required) return bn_fail(BITNET_ERR_FORMAT, "missing tensor '%s'", name);
    return BITNET_OK;
}

static bitnet_status bn_check_shape(const bitnet_gguf_tensor *t, int64_t ne0, int64_t ne1) {
    if ((int64_t)t->ne[0] != ne0 || (int64_t)t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return bn_fail(BITNET_ERR_FORMAT, "tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%lld, %lld]",
                       t->name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                       (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], (long long)ne0, (long long)ne1);
    return BITNET_OK;
}

/* A norm weight as f32: borrowed when the file has F32, converted otherwise. */
static bitnet_status bn_load_norm(bitnet_model *m, const char *name, int64_t n, int required, const float **out) {
    const bitnet_gguf_tensor *t;
    float *conv;
    bitnet_status st;
    *out = NULL;
    if ((st = bn_find_tensor(m->gguf, name, required, &t)) != BITNET_OK || !t) return st;
    if ((st = bn_check_shape(t, n, 1)) != BITNET_OK) return st;
    if (t->type == BITNET_TYPE_F32 && ((uintptr_t)t->data & 3) == 0) {
        *out = (const float *)t->data;
        return BITNET_OK;
    }
    conv = (float *)bn_alloc(&m->allocator, (size_t)n * sizeof(float), 64);
    if (!conv) return bn_fail(BITNET_ERR_NOMEM, "out of memory converting '%s'", name);
    m->owned[m->n_owned++] = conv;
    m->converted_bytes += (uint64_t)n * sizeof(float);
    if ((st = bitnet_dequantize(t->type, t->data, t->size, 1, (uint64_t)n, conv)) != BITNET_OK)
        return bn_fail_prefix(st, "tensor '%s'", name);
    *out = conv;
    return BITNET_OK;
}

static int bn_float_family(bitnet_type t) {
    return t == BITNET_TYPE_F32 || t == BITNET_TYPE_F16 || t == BITNET_TYPE_BF16 || t == BITNET_TYPE_Q8_0 ||
           t == BITNET_TYPE_Q6_K;
}

static bitnet_status bn_check_float_family(const bitnet_gguf_tensor *t, int64_t cols, int64_t rows) {
    bitnet_status st;
    if ((st = bn_check_shape(t, cols, rows)) != BITNET_OK) return st;
    if (!bn_float_family(t->type))
        return bn_fail(BITNET_ERR_UNSUPPORTED, "tensor '%s': type %s is not supported for an embedding or "
                       "head (F32, F16, BF16, Q8_0, Q6_K)", t->name, bitnet_type_name(t->type));
    return BITNET_OK;
}

/* Ternary codes of a float tensor (F32/F16/BF16), repacked for the kernels. */
static bitnet_status bn_tern_from_float_tensor(bn_tern *w, const bitnet_gguf_tensor *t, const bitnet_allocator *a) {
    int8_t *codes = (int8_t *)bn_alloc(a, (size_t)t->n_elements, 64);
    float alpha = 0;
    bitnet_status st;
    if (!codes) return bn_fail(BITNET_ERR_NOMEM, "out of memory ternarizing %llu weights",
                               (unsigned long long)t->n_elements);
    st = bitnet_ternarize(t->type, t->data, t->n_elements, codes, &alpha);
    if (st == BITNET_OK) st = bn_tern_from_codes(w, codes, alpha, (int64_t)t->ne[0], (int64_t)t->ne[1], a);
    bn_free(a, codes);
    return st;
}

static bitnet_status bn_tern_prepare(bn_tern *w, const bitnet_gguf_tensor *t, const bitnet_allocator *a) {
    switch (t->type) {
        case BITNET_TYPE_I2_S: case BITNET_TYPE_TQ2_0: case BITNET_TYPE_TQ1_0:
            return bn_tern_from_tensor(w, t->type, t->data, t->size, (int64_t)t->ne[0], (int64_t)t->ne[1], a);
        case BITNET_TYPE_F32: case BITNET_TYPE_F16: case BITNET_TYPE_BF16:
            return bn_tern_from_float_tensor(w, t, a);
        case BITNET_TYPE_TL1: case BITNET_TYPE_TL2:
            return bn_fail(BITNET_ERR_UNSUPPORTED, "%s lookup-table weights are not supported (their tile layout "
                           "is not recorded in the file); convert the model to I2_S or TQ2_0", bitnet_type_name(t->type));
        default:
            return bn_fail(BITNET_ERR_UNSUPPORTED, "type %s is not supported for a ternary projection (I2_S, "
                           "TQ1_0, TQ2_0, F32, F16, BF16)", bitnet_type_name(t->type));
    }
}

static bitnet_status bn_load_proj(bitnet_model *m, int layer, const char *what, int64_t cols, int64_t rows,
                                  bn_proj *out) {
    char name[96];
    const bitnet_gguf_tensor *t;
    bitnet_status st;
    snprintf(name, sizeof name, "blk.%d.%s.weight", layer, what);
    if ((st = bn_find_tensor(m->gguf, name, 1, &t)) != BITNET_OK) return st;
    if ((st = bn_check_shape(t, cols, rows)) != BITNET_OK) return st;
    if ((st = bn_tern_prepare(&out->w, t, &m->allocator)) != BITNET_OK) return bn_fail_prefix(st, "tensor '%s'", name);
    m->converted_bytes += out->w.bytes_owned;
    snprintf(name, sizeof name, "blk.%d.%s.scale", layer, what);
    t = bitnet_gguf_find_tensor(m->gguf, name);
    if (t) {
        if (t->type != BITNET_TYPE_F32 || (t->n_elements != 1 && (int64_t)t->n_elements != rows))
            return bn_fail(BITNET_ERR_FORMAT, "tensor '%s': expected F32 with 1 or %lld elements", name, (long long)rows);
        out->scale = (const float *)t->data;
        out->n_scale = (int64_t)t->n_elements;
    }
    return BITNET_OK;
}

static bitnet_status bn_load_layer(bitnet_model *m, int il) {
    const bitnet_hparams *hp = &m->hp;
    bn_layer *L = &m->layers[il];
    int64_t E = hp->n_embd, F = hp->n_ff, Q = (int64_t)hp->n_head * hp->head_dim;
    int64_t KV = (int64_t)hp->n_head_kv * hp->head_dim;
    char name[96];
    bitnet_status st;
#define BN__NORM(field, what, n, req) \
    snprintf(name, sizeof name, "blk.%d.%s.weight", il, what); \
    if ((st = bn_load_norm(m, name, n, req, &L->field)) != BITNET_OK) return st;
    BN__NORM(attn_norm, "attn_norm", E, 1)
    BN__NORM(ffn_norm, "ffn_norm", E, 1)
    BN__NORM(attn_sub_norm, "attn_sub_norm", Q, hp->sub_norms)
    BN__NORM(ffn_sub_norm, "ffn_sub_norm", F, hp->sub_norms)
#undef BN__NORM
    if (!hp->sub_norms) { L->attn_sub_norm = NULL; L->ffn_sub_norm = NULL; }
    if ((st = bn_load_proj(m, il, "attn_q", E, Q, &L->wq)) != BITNET_OK ||
        (st = bn_load_proj(m, il, "attn_k", E, KV, &L->wk)) != BITNET_OK ||
        (st = bn_load_proj(m, il, "attn_v", E, KV, &L->wv)) != BITNET_OK ||
        (st = bn_load_proj(m, il, "attn_output", Q, E, &L->wo)) != BITNET_OK ||
        (st = bn_load_proj(m, il, "ffn_gate", E, F, &L->wgate)) != BITNET_OK ||
        (st = bn_load_proj(m, il, "ffn_up", E, F, &L->wup)) != BITNET_OK ||
        (st = bn_load_proj(m, il, "ffn_down", F, E, &L->wdown)) != BITNET_OK)
        return st;
    return BITNET_OK;
}

/* --- head requantized at load --- */

typedef struct bn_requant_job {
    const bitnet_gguf_tensor *src;
    bitnet_type type;
    uint64_t src_row_bytes, dst_row_bytes;
    unsigned char *dst;                     /* (rows, dst_row_bytes) */
    float *rows;                            /* (n_threads, cols) one decoded row per thread */
    int64_t bad_row;                        /* a row with NaN/Inf, or -1 (written by one thread at most) */
    int64_t *bad_rows;                      /* (n_threads) per-thread first bad row, or -1 */
} bn_requant_job;

static void bn_requant_rows(void *arg, int64_t r0, int64_t r1, int thread) {
    bn_requant_job *j = (bn_requant_job *)arg;
    int64_t cols = (int64_t)j->src->ne[0], r;
    float *row = j->rows + (size_t)thread * (size_t)cols;
    for (r = r0; r < r1; r++) {
        const unsigned char *src = (const unsigned char *)j->src->data + (size_t)r * j->src_row_bytes;
        if (bitnet_dequantize(j->src->type, src, j->src_row_bytes, 1, (uint64_t)cols, row) != BITNET_OK ||
            bitnet_quantize(j->type, row, 1, (uint64_t)cols, j->dst + (size_t)r * j->dst_row_bytes,
                            j->dst_row_bytes) != BITNET_OK) {
            if (j->bad_rows[thread] < 0) j->bad_rows[thread] = r;
        }
    }
}

/* The head re-encoded as Q8_0 or Q6_K from F32/F16/BF16, row by row on a pool of all cores. */
static bitnet_status bn_head_requant(bitnet_model *m, const bitnet_gguf_tensor *t) {
    bitnet_type want = m->head_request == BITNET_HEAD_Q6_K ? BITNET_TYPE_Q6_K : BITNET_TYPE_Q8_0;
    uint64_t cols = t->ne[0], rows = t->ne[1], one[1], bytes;
    bitnet_threadpool *pool = NULL;
    bn_requant_job job;
    bitnet_status st;
    int i, n_threads;
    if (t->type == want) {
        m->head_type = t->type;
        return bn_fmat_init(&m->head, t->type, t->data, t->size, cols, rows);
    }
    if (t->type != BITNET_TYPE_F32 && t->type != BITNET_TYPE_F16 && t->type != BITNET_TYPE_BF16)
        return bn_fail(BITNET_ERR_UNSUPPORTED, "tensor '%s' (the head) is %s: a head type of %s is made only "
                       "from an F32, F16 or BF16 head", t->name, bitnet_type_name(t->type), bitnet_type_name(want));
    if ((st = bn_quant_bytes("head type", want, rows, cols, &bytes)) != BITNET_OK)
        return bn_fail_prefix(st, "tensor '%s' as the head", t->name);
    memset(&job, 0, sizeof job);
    job.src = t;
    job.type = want;
    one[0] = cols;
    bitnet_tensor_bytes(t->type, 1, one, &job.src_row_bytes);
    job.dst_row_bytes = bytes / rows;
    if (bitnet_threadpool_new(&pool, 0, &m->allocator) != BITNET_OK) pool = NULL;   /* then on the caller */
    n_threads = bitnet_threadpool_size(pool);
    m->head_owned = bn_alloc(&m->allocator, (size_t)bytes, 64);
    job.dst = (unsigned char *)m->head_owned;
    job.rows = (float *)bn_alloc(&m->allocator, (size_t)n_threads * (size_t)cols * sizeof(float), 64);
    job.bad_rows = (int64_t *)bn_alloc(&m->allocator, (size_t)n_threads * sizeof(int64_t), 8);
    if (!job.dst || !job.rows || !job.bad_rows) {
        st = bn_fail(BITNET_ERR_NOMEM, "out of memory for a %llu-byte %s head", (unsigned long long)bytes,
                     bitnet_type_name(want));
    } else {
        for (i = 0; i < n_threads; i++) job.bad_rows[i] = -1;
        bitnet_threadpool_run(pool, (int64_t)rows, 64, bn_requant_rows, &job);
        job.bad_row = -1;
        for (i = 0; i < n_threads; i++)
            if (job.bad_rows[i] >= 0 && (job.bad_row < 0 || job.bad_rows[i] < job.bad_row)) job.bad_row = job.bad_rows[i];
        st = job.bad_row >= 0 ? bn_fail(BITNET_ERR_FORMAT, "tensor '%s': row %lld has a NaN or Inf weight, "
                                        "cannot requantize it to %s", t->name, (long long)job.bad_row,
                                        bitnet_type_name(want))
                              : bn_fmat_init(&m->head, want, job.dst, bytes, cols, rows);
    }
    bn_free(&m->allocator, job.rows);
    bn_free(&m->allocator, job.bad_rows);
    bitnet_threadpool_free(pool);
    if (st != BITNET_OK) return st;
    m->head_type = want;
    m->converted_bytes += bytes;
    return BITNET_OK;
}

/* Vocabulary size: the embedding's rows (the vocabulary must agree). */
static bitnet_status bn_load_embeddings(bitnet_model *m) {
    bitnet_hparams *hp = &m->hp;
    const bitnet_gguf_tensor *embd, *out;
    uint64_t one_row[1];
    bitnet_status st;
    if ((st = bn_find_tensor(m->gguf, "token_embd.weight", 1, &embd)) != BITNET_OK) return st;
    if (embd->n_dims != 2 || embd->ne[1] > (uint64_t)INT32_MAX)
        return bn_fail(BITNET_ERR_FORMAT, "tensor 'token_embd.weight' must be 2-D [n_embd, n_vocab]");
    hp->n_vocab = (int32_t)embd->ne[1];
    if ((st = bn_check_float_family(embd, hp->n_embd, hp->n_vocab)) != BITNET_OK) return st;
    one_row[0] = (uint64_t)hp->n_embd;
    bitnet_tensor_bytes(embd->type, 1, one_row, &m->embd_row_bytes);
    m->embd = embd;
    out = bitnet_gguf_find_tensor(m->gguf, "output.weight");
    hp->tied_head = hp->arch != BITNET_ARCH_LLAMA || out == NULL;
    if (hp->tied_head) out = embd;
    else if ((st = bn_check_float_family(out, hp->n_embd, hp->n_vocab)) != BITNET_OK) return st;
    if (m->head_request != BITNET_HEAD_AS_STORED) {
        if ((st = bn_head_requant(m, out)) != BITNET_OK) return st;
    } else {
        m->head_type = out->type;
        if ((st = bn_fmat_init(&m->head, out->type, out->data, out->size, hp->n_embd, hp->n_vocab)) != BITNET_OK)
            return bn_fail_prefix(st, "tensor '%s'", out->name);
    }
    return bn_load_norm(m, "output_norm.weight", hp->n_embd, 1, &m->output_norm);
}

static bitnet_status bn_model_load_weights(bitnet_model *m) {
    bitnet_status st;
    int il;
    m->layers = (bn_layer *)bn_zalloc(&m->allocator, (size_t)m->hp.n_layer * sizeof *m->layers);
    m->owned = (float **)bn_zalloc(&m->allocator, (size_t)(m->hp.n_layer * 4 + 1) * sizeof *m->owned);
    if (!m->layers || !m->owned) return bn_fail(BITNET_ERR_NOMEM, "out of memory for %d layers", m->hp.n_layer);
    if ((st = bn_load_embeddings(m)) != BITNET_OK) return st;
    for (il = 0; il < m->hp.n_layer; il++)
        if ((st = bn_load_layer(m, il)) != BITNET_OK) return st;
    return BITNET_OK;
}

static bitnet_status bn_model_open(bitnet_model *m, const bitnet_model_params *p) {
    if (p->path) return bn_gguf_open_file(&m->gguf, p->path, &p->allocator, p->no_mmap);
    if (p->data) return bitnet_gguf_open_memory(&m->gguf, p->data, p->size, &m->allocator);
    return bn_fail(BITNET_ERR_ARGS, "bitnet_model_load: neither path nor data given");
}

bitnet_status bitnet_model_load(bitnet_model **out, const bitnet_model_params *params) {
    bitnet_allocator a;
    bitnet_model *m;
    bitnet_status st;
    double t0 = bitnet_time_ms();
    if (!out || !params) return bn_fail(BITNET_ERR_ARGS, "bitnet_model_load: NULL argument");
    *out = NULL;
    a = bn_allocator_or_default(&params->allocator);
    m = (bitnet_model *)bn_zalloc(&a, sizeof *m);
    if (!m) return bn_fail(BITNET_ERR_NOMEM, "out of memory for the model");
    m->allocator = a;
    m->head_request = params->head_type;
    if ((unsigned)params->head_type > BITNET_HEAD_Q6_K) {
        st = bn_fail(BITNET_ERR_ARGS, "bitnet_model_load: head_type %d is not a bitnet_head_type", (int)params->head_type);
        goto fail;
    }
    if ((st = bn_model_open(m, params)) != BITNET_OK) goto fail;
    if ((st = bitnet_vocab_load(&m->vocab, m->gguf, &m->allocator)) != BITNET_OK) goto fail;
    if (!params->vocab_only) {
        if ((st = bn_load_hparams(m->gguf, &m->hp)) != BITNET_OK) goto fail;
        m->isa = params->isa == BITNET_ISA_AUTO ? bitnet_isa_best() : params->isa;
        if (!bitnet_isa_supported(m->isa)) {
            st = bn_fail(BITNET_ERR_UNSUPPORTED, "kernels '%s' cannot run on this CPU", bitnet_isa_name(m->isa));
            goto fail;
        }
        if ((st = bn_kernels_init(&m->kernels, m->isa)) != BITNET_OK) goto fail;
        if ((st = bn_model_load_weights(m)) != BITNET_OK) goto fail;
        if (m->hp.n_vocab != bitnet_vocab_size(m->vocab)) {
            st = bn_fail(BITNET_ERR_FORMAT, "token_embd has %d rows but the vocabulary has %d tokens",
                         m->hp.n_vocab, bitnet_vocab_size(m->vocab));
            goto fail;
        }
    }
    m->load_ms = bitnet_time_ms() - t0;
    *out = m;
    return BITNET_OK;
fail:
    if (params->path) bn_fail_prefix(st, "%s", params->path);
    bitnet_model_free(m);
    return st;
}

void bitnet_model_free(bitnet_model *m) {
    int i;
    if (!m) return;
    if (m->layers)
        for (i = 0; i < m->hp.n_layer; i++) {
            bn_layer *L = &m->layers[i];
            bn_tern_free(&L->wq.w); bn_tern_free(&L->wk.w); bn_tern_free(&L->wv.w); bn_tern_free(&L->wo.w);
            bn_tern_free(&L->wgate.w); bn_tern_free(&L->wup.w); bn_tern_free(&L->wdown.w);
        }
    for (i = 0; i < m->n_owned; i++) bn_free(&m->allocator, m->owned[i]);
    bn_free(&m->allocator, m->owned);
    bn_free(&m->allocator, m->head_owned);
    bn_free(&m->allocator, m->layers);
    bitnet_vocab_free(m->vocab);
    bitnet_gguf_close(m->gguf);
    bn_free(&m->allocator, m);
}

const bitnet_hparams *bitnet_model_hparams(const bitnet_model *m) { return m ? &m->hp : NULL; }
const struct bitnet_vocab *bitnet_model_vocab(const bitnet_model *m) { return m ? m->vocab : NULL; }
const bitnet_gguf *bitnet_model_gguf(const bitnet_model *m) { return m ? m->gguf : NULL; }
bitnet_isa bitnet_model_isa(const bitnet_model *m) { return m ? m->isa : BITNET_ISA_AUTO; }

/* Bytes a projection streams per token: its 2-bit codes (and block scales). */
static uint64_t bn_proj_bytes_read(const bn_proj *p) {
    uint64_t scales = p->w.block_scale ? (uint64_t)p->w.rows * (uint64_t)(p->w.kp / 256) * 4 : 0;
    return (uint64_t)p->w.rows * (uint64_t)(p->w.kp / 4) + scales;
}

bitnet_model_memory bitnet_model_get_memory(const bitnet_model *m) {
    bitnet_model_memory mem;
    int i;
    memset(&mem, 0, sizeof mem);
    if (!m) return mem;
    mem.file_bytes = bitnet_gguf_file_size(m->gguf);
    mem.read_bytes = m->gguf && m->gguf->owned ? mem.file_bytes : 0;
    mem.converted_bytes = m->converted_bytes;
    mem.load_ms = m->load_ms;
    if (!m->layers) return mem;
    mem.head_bytes = (uint64_t)m->head.rows * m->head.row_bytes;
    mem.head_type = m->head_type;
    mem.weight_bytes = mem.head_bytes;
    for (i = 0; i < m->hp.n_layer; i++) {
        const bn_layer *L = &m->layers[i];
        mem.weight_bytes += bn_proj_bytes_read(&L->wq) + bn_proj_bytes_read(&L->wk) + bn_proj_bytes_read(&L->wv) +
                            bn_proj_bytes_read(&L->wo) + bn_proj_bytes_read(&L->wgate) +
                            bn_proj_bytes_read(&L->wup) + bn_proj_bytes_read(&L->wdown);
    }
    return mem;
}

/* --- context: memory plan --- */

struct bitnet_ctx {
    const bitnet_model *model;
    bitnet_allocator allocator;
    bitnet_pool pool;
    bitnet_threadpool *threads;
    int owns_threads;                       /* 0: a pool shared through bitnet_ctx_params.threads */
    int32_t n_ctx, n_batch, n_seq, n_outputs;   /* n_ctx: positions of each sequence */
    int32_t prefill_budget;                 /* prompt tokens per bitnet_gen_step_batch beside generating ones */
    int32_t n_last;                         /* tokens in the last batch (0: none yet) */
    int all_logits, kv_f16;
    int cancel;                             /* bitnet_ctx_cancel's request, read and written atomically */
    bitnet_abort_fn abort_fn;
    void *abort_user;
    uint64_t n_decodes;                     /* batches run: tells a generation its logits are current */
    int profile;                            /* bitnet_ctx_set_profile */
    bitnet_profile prof;
    int64_t ldq;                            /* row stride of xq: widest input rounded up to 128 */
    float *x, *xb, *xb2, *q, *k, *v, *hb, *hb2;   /* (n_batch, dim) activations */
    int8_t *xq;                             /* (n_batch, ldq) quantized activations */
    float *xscale;                          /* (n_batch) */
    int32_t *xsum;                          /* (n_batch) */
    float *att;                             /* (n_threads, n_head / n_head_kv, n_ctx) scores */
    void *kcache, *vcache;                  /* (n_layer, n_seq, n_ctx, kv_dim) floats, or halves with kv_f16 */
    float *logits;                          /* (n_outputs, n_vocab) */
    float *rope_inv_freq;                   /* (n_rot / 2) */
    float *rope_cs;                         /* (n_batch, n_rot): cos then sin of each pair, per token */
    const bitnet_backend *gpu;              /* the backend running this context, or NULL (CPU) */
    void *gpu_state;
    int32_t gpu_index;
    int32_t *seq_pos;                       /* (n_seq) tokens in each sequence */
    int32_t *seq_count;                     /* (n_seq) scratch: tokens of each sequence in a batch */
    int32_t *tok_seq, *tok_pos;             /* (n_batch) sequence and position of each token of the last batch */
    int32_t *tok_row;                       /* (n_batch) logits row of each token of the last batch, -1 none */
    int32_t *out_tok;                       /* (n_outputs) the token of each logits row */
    int32_t *gen_token, *gen_seq;           /* (n_batch) the batch bitnet_gen_step_batch builds */
    int8_t *gen_logits;                     /* (n_batch) */
};

#define BN__CTX_BUFFERS 26
#define BN__MAX_SEQ 65536

typedef struct bn_ctx_plan {
    size_t sizes[BN__CTX_BUFFERS];
    int n, overflow;
    size_t total;
} bn_ctx_plan;

static void bn_plan_add(bn_ctx_plan *p, uint64_t count, size_t elem) {
    uint64_t bytes = 0, sum = 0;
    if (!bn_mul_u64(count, elem, &bytes) || bytes > SIZE_MAX / 2 ||
        !bn_add_u64(p->total, (bytes + 63) & ~(uint64_t)63, &sum) || sum > SIZE_MAX / 2) {
        p->overflow = 1;
        bytes = 0;
        sum = p->total;
    }
    p->sizes[p->n++] = (size_t)bytes;
    p->total = (size_t)sum;
}

static int64_t bn_ctx_widest(const bitnet_hparams *hp) {
    int64_t q = (int64_t)hp->n_head * hp->head_dim, w = q > hp->n_ff ? q : hp->n_ff;
    return w > hp->n_embd ? w : hp->n_embd;
}

/* The sizes a context is planned from (params with their defaults applied). */
typedef struct bn_ctx_shape {
    int32_t n_ctx, n_batch, n_seq, n_outputs;
    int n_threads, all_logits, kv_f16;
} bn_ctx_shape;

/* Every buffer the context needs, in the order bn_ctx_carve takes them. */
static void bn_ctx_make_plan(const bitnet_hparams *hp, const bn_ctx_shape *s, bn_ctx_plan *p) {
    uint64_t B = (uint64_t)s->n_batch, E = (uint64_t)hp->n_embd, F = (uint64_t)hp->n_ff;
    uint64_t Q = (uint64_t)hp->n_head * hp->head_dim, KV = (uint64_t)hp->n_head_kv * hp->head_dim;
    uint64_t W = (uint64_t)bn_ctx_widest(hp), S = (uint64_t)s->n_seq, cache = 0;
    memset(p, 0, sizeof *p);
    if (!bn_mul_u64((uint64_t)hp->n_layer * S, (uint64_t)s->n_ctx, &cache) || !bn_mul_u64(cache, KV, &cache))
        p->overflow = 1;
    bn_plan_add(p, B * E, 4);                                   /* x */
    bn_plan_add(p, B * W, 4);                                   /* xb */
    bn_plan_add(p, B * W, 4);                                   /* xb2 */
    bn_plan_add(p, B * Q, 4);                                   /* q */
    bn_plan_add(p, B * KV, 4);                                  /* k */
    bn_plan_add(p, B * KV, 4);                                  /* v */
    bn_plan_add(p, B * F, 4);                                   /* hb */
    bn_plan_add(p, B * F, 4);                                   /* hb2 */
    bn_plan_add(p, B * (uint64_t)bn_tern_kpad((int64_t)W), 1); /* xq */
    bn_plan_add(p, B, 4);                                       /* xscale */
    bn_plan_add(p, B, 4);                                       /* xsum */
    bn_plan_add(p, (uint64_t)s->n_threads * (uint64_t)(hp->n_head / hp->n_head_kv) * (uint64_t)s->n_ctx, 4);   /* att */
    bn_plan_add(p, cache, s->kv_f16 ? 2 : 4);                   /* kcache */
    bn_plan_add(p, cache, s->kv_f16 ? 2 : 4);                   /* vcache */
    bn_plan_add(p, (uint64_t)s->n_outputs * (uint64_t)hp->n_vocab, 4);   /* logits */
    bn_plan_add(p, (uint64_t)hp->n_rot / 2, 4);                 /* rope_inv_freq */
    bn_plan_add(p, B * (uint64_t)hp->n_rot, 4);                 /* rope_cs */
    bn_plan_add(p, S, 4);                                       /* seq_pos */
    bn_plan_add(p, S, 4);                                       /* seq_count */
    bn_plan_add(p, B, 4);                                       /* tok_seq */
    bn_plan_add(p, B, 4);                                       /* tok_pos */
    bn_plan_add(p, B, 4);                                       /* tok_row */
    bn_plan_add(p, (uint64_t)s->n_outputs, 4);                  /* out_tok */
    bn_plan_add(p, B, 4);                                       /* gen_token */
    bn_plan_add(p, B, 4);                                       /* gen_seq */
    bn_plan_add(p, B, 1);                                       /* gen_logits */
}

static void bn_ctx_carve(bitnet_ctx *c, const bn_ctx_plan *p) {
    void **slots[BN__CTX_BUFFERS];
    int i = 0;
    slots[i++] = (void **)&c->x; slots[i++] = (void **)&c->xb; slots[i++] = (void **)&c->xb2;
    slots[i++] = (void **)&c->q; slots[i++] = (void **)&c->k; slots[i++] = (void **)&c->v;
    slots[i++] = (void **)&c->hb; slots[i++] = (void **)&c->hb2; slots[i++] = (void **)&c->xq;
    slots[i++] = (void **)&c->xscale; slots[i++] = (void **)&c->xsum; slots[i++] = (void **)&c->att;
    slots[i++] = (void **)&c->kcache; slots[i++] = (void **)&c->vcache; slots[i++] = (void **)&c->logits;
    slots[i++] = (void **)&c->rope_inv_freq; slots[i++] = (void **)&c->rope_cs;
    slots[i++] = (void **)&c->seq_pos; slots[i++] = (void **)&c->seq_count;
    slots[i++] = (void **)&c->tok_seq; slots[i++] = (void **)&c->tok_pos; slots[i++] = (void **)&c->tok_row;
    slots[i++] = (void **)&c->out_tok; slots[i++] = (void **)&c->gen_token; slots[i++] = (void **)&c->gen_seq;
    slots[i++] = (void **)&c->gen_logits;
    for (i = 0; i < p->n; i++) *slots[i] = bitnet_pool_alloc(&c->pool, p->sizes[i] ? p->sizes[i] : 1);
    memset(c->seq_pos, 0, (size_t)c->n_seq * sizeof(int32_t));
}

static void bn_ctx_init_rope(bitnet_ctx *c) {
    const bitnet_hparams *hp = &c->model->hp;
    int i;
    for (i = 0; i < hp->n_rot / 2; i++)
        c->rope_inv_freq[i] = (float)(pow((double)hp->rope_base, -2.0 * i / hp->n_rot) * hp->rope_freq_scale);
}

/* The whole plan is taken from the allocator at once; the pool then only carves it. */
static bitnet_status bn_ctx_reserve(bitnet_ctx *c, const bn_ctx_plan *plan) {
    bitnet_pool_desc desc;
    if (plan->overflow)
        return bn_fail(BITNET_ERR_NOMEM, "context of %d sequences x %d positions is too large to address", c->n_seq,
                       c->n_ctx);
    memset(&desc, 0, sizeof desc);
    desc.allocator = c->allocator;
    desc.block_size = plan->total;
    desc.capacity = plan->total + BN__POOL_HEADER;
    bitnet_pool_init(&c->pool, &desc);
    if (!bitnet_pool_alloc(&c->pool, plan->total))
        return bn_fail(BITNET_ERR_NOMEM, "context needs %zu bytes (n_ctx %d, n_batch %d, n_seq %d)", plan->total,
                       c->n_ctx, c->n_batch, c->n_seq);
    bitnet_pool_reset(&c->pool);
    bn_ctx_carve(c, plan);
    return BITNET_OK;
}

/* The params with every zero replaced by its default. */
static bitnet_ctx_params bn_ctx_resolve(const bitnet_model *m, const bitnet_ctx_params *params) {
    bitnet_ctx_params p;
    memset(&p, 0, sizeof p);
    if (params) p = *params;
    if (p.n_ctx <= 0) p.n_ctx = m->hp.n_ctx_train;
    if (p.n_batch <= 0) p.n_batch = 512;
    if (p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;
    if (p.n_seq <= 0) p.n_seq = 1;
    if (p.n_outputs <= 0) p.n_outputs = p.all_logits ? p.n_batch : p.n_seq;
    if (p.n_outputs > p.n_batch) p.n_outputs = p.n_batch;
    if (p.prefill_budget <= 0 || p.prefill_budget > p.n_batch) p.prefill_budget = p.n_batch;
    return p;
}

static bn_ctx_shape bn_ctx_shape_of(const bitnet_ctx_params *p, int n_threads) {
    bn_ctx_shape s;
    s.n_ctx = p->n_ctx;
    s.n_batch = p->n_batch;
    s.n_seq = p->n_seq;
    s.n_outputs = p->n_outputs;
    s.n_threads = n_threads;
    s.all_logits = p->all_logits;
    s.kv_f16 = p->kv_f16 != 0;
    return s;
}

size_t bitnet_ctx_plan_bytes(const bitnet_model *m, const bitnet_ctx_params *params) {
    bitnet_ctx_params p;
    bn_ctx_shape s;
    bn_ctx_plan plan;
    if (!m || !m->layers) return 0;
    p = bn_ctx_resolve(m, params);
    s = bn_ctx_shape_of(&p, p.threads ? bitnet_threadpool_size(p.threads)
                              : p.n_threads > 0 ? p.n_threads : bitnet_online_cores());
    bn_ctx_make_plan(&m->hp, &s, &plan);
    return plan.overflow ? SIZE_MAX : plan.total;
}

/* --- backend hooks (api: cuda) --- */

static const bitnet_backend *bn_backend;

void bitnet_backend_register(const bitnet_backend *backend) { bn_backend = backend; }
const bitnet_backend *bitnet_backend_get(void) { return bn_backend; }
bitnet_status bitnet_backend_fail(bitnet_status status, const char *message) {
    return bn_fail(status, "%s", message ? message : "backend error");
}

bitnet_status bitnet_device_parse(const char *text, bitnet_device *kind, int32_t *index) {
    char *end;
    long v;
    if (!text || !kind || !index) return bn_fail(BITNET_ERR_ARGS, "bitnet_device_parse: NULL argument");
    *index = 0;
    if (!strcmp(text, "cpu")) { *kind = BITNET_DEVICE_CPU; return BITNET_OK; }
    if (!strcmp(text, "auto") || !*text) { *kind = BITNET_DEVICE_AUTO; return BITNET_OK; }
    if (!strcmp(text, "cuda")) { *kind = BITNET_DEVICE_CUDA; return BITNET_OK; }
    if (!strncmp(text, "cuda:", 5) && text[5] >= '0' && text[5] <= '9') {
        v = strtol(text + 5, &end, 10);
        if (!*end && v >= 0 && v < 1024) { *kind = BITNET_DEVICE_CUDA; *index = (int32_t)v; return BITNET_OK; }
    }
    return bn_fail(BITNET_ERR_ARGS, "device '%.40s' is not cpu, cuda, cuda:N or auto", text);
}

static void bn_tern_view_of(const bn_proj *p, bitnet_tern_view *v) {
    v->rows = p->w.rows; v->cols = p->w.cols; v->kp = p->w.kp;
    v->codes = p->w.codes; v->alpha = p->w.alpha; v->block_scale = p->w.block_scale;
    v->scale = p->scale; v->n_scale = p->n_scale;
}

bitnet_status bitnet_model_layer_view(const bitnet_model *m, int32_t il, bitnet_layer_view *out) {
    const bn_layer *L;
    if (!m || !out || !m->layers || il < 0 || il >= m->hp.n_layer)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_model_layer_view: no layer %d", il);
    L = &m->layers[il];
    out->attn_norm = L->attn_norm; out->attn_sub_norm = L->attn_sub_norm;
    out->ffn_norm = L->ffn_norm; out->ffn_sub_norm = L->ffn_sub_norm;
    bn_tern_view_of(&L->wq, &out->wq); bn_tern_view_of(&L->wk, &out->wk); bn_tern_view_of(&L->wv, &out->wv);
    bn_tern_view_of(&L->wo, &out->wo); bn_tern_view_of(&L->wgate, &out->wgate);
    bn_tern_view_of(&L->wup, &out->wup); bn_tern_view_of(&L->wdown, &out->wdown);
    return BITNET_OK;
}

bitnet_status bitnet_model_head_view(const bitnet_model *m, bitnet_float_view *embd, bitnet_float_view *head,
                                     const float **output_norm) {
    static const bitnet_type types[BN__FT_COUNT] = { BITNET_TYPE_F32, BITNET_TYPE_F16, BITNET_TYPE_BF16,
                                                     BITNET_TYPE_Q8_0, BITNET_TYPE_Q6_K };
    if (!m || !m->layers || !embd || !head || !output_norm)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_model_head_view: NULL argument or vocab-only model");
    embd->type = m->embd->type; embd->rows = m->hp.n_vocab; embd->cols = m->hp.n_embd;
    embd->data = (const uint8_t *)m->embd->data; embd->row_bytes = (size_t)m->embd_row_bytes;
    head->type = types[m->head.ft]; head->rows = m->head.rows; head->cols = m->head.cols;
    head->data = m->head.data; head->row_bytes = m->head.row_bytes;
    *output_norm = m->output_norm;
    return BITNET_OK;
}

bitnet_device bitnet_ctx_device(const bitnet_ctx *c, int32_t *index) {
    if (index) *index = c && c->gpu ? c->gpu_index : 0;
    return c && c->gpu ? BITNET_DEVICE_CUDA : BITNET_DEVICE_CPU;
}

const char *bitnet_ctx_describe_device(const bitnet_ctx *c, char *buf, size_t cap) {
    if (!buf || !cap) return "";
    buf[0] = 0;
    if (c && c->gpu && c->gpu->describe) c->gpu->describe(c->gpu_state, buf, cap);
    return buf;
}

/* Why AUTO cannot use the GPU (a static string), or NULL when it can. */
static const char *bn_gpu_unusable(const bitnet_model *m, const bitnet_ctx_params *p, char *why, size_t cap) {
    bitnet_device_info info;
    uint64_t need;
    int32_t n;
    if (!bn_backend) return "no GPU backend is linked (build with make cuda)";
    n = bn_backend->device_count();
    if (n <= 0) return "no CUDA device is present";
    if (p->device_index < 0 || p->device_index >= n) {
        snprintf(why, cap, "cuda:%d does not exist (%d device%s)", p->device_index, n, n == 1 ? "" : "s");
        return why;
    }
    if (bn_backend->device_info(p->device_index, &info) != BITNET_OK) return "the device cannot be queried";
    need = bn_backend->plan_bytes(m, p);
    if (need > info.free_bytes) {
        snprintf(why, cap, "the model and cache need %.1f MB, cuda:%d has %.1f MB free", need / 1e6,
                 p->device_index, info.free_bytes / 1e6);
        return why;
    }
    return NULL;
}

/* Picks the device (see "api: cuda") and opens the backend's context on it. */
static bitnet_status bn_ctx_pick_device(bitnet_ctx *c, const bitnet_ctx_params *p) {
    char why[160];
    const char *no;
    bitnet_status st;
    if (p->device == BITNET_DEVICE_CPU) return BITNET_OK;
    if (p->device != BITNET_DEVICE_AUTO && p->device != BITNET_DEVICE_CUDA)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_new: device %d is not AUTO, CPU or CUDA", p->device);
    no = bn_gpu_unusable(c->model, p, why, sizeof why);
    if (no && p->device == BITNET_DEVICE_CUDA) return bn_fail(BITNET_ERR_CUDA, "device cuda: %s", no);
    if (no) {
        bn_log(BITNET_LOG_INFO, "device auto: cpu (%s)", no);
        return BITNET_OK;
    }
    st = bn_backend->ctx_new(&c->gpu_state, c->model, p, p->device_index);
    if (st != BITNET_OK && p->device == BITNET_DEVICE_CUDA) return st;
    if (st != BITNET_OK) {
        bn_log(BITNET_LOG_INFO, "device auto: cpu (cuda:%d failed: %s)", p->device_index, bitnet_last_error());
        bitnet_clear_error();
        return BITNET_OK;
    }
    c->gpu = bn_backend;
    c->gpu_index = p->device_index;
    if (p->device == BITNET_DEVICE_AUTO) bn_log(BITNET_LOG_INFO, "device auto: cuda:%d", p->device_index);
    return BITNET_OK;
}

bitnet_status bitnet_ctx_new(bitnet_ctx **out, const bitnet_model *m, const bitnet_ctx_params *params) {
    bitnet_ctx_params p;
    bn_ctx_shape s;
    bn_ctx_plan plan;
    bitnet_allocator a;
    bitnet_ctx *c;
    bitnet_status st;
    if (!out || !m) return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_new: NULL argument");
    if (!m->layers) return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_new: the model was loaded vocab-only");
    p = bn_ctx_resolve(m, params);
    if (p.n_seq > BN__MAX_SEQ)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_new: n_seq %d is more than the limit %d", p.n_seq, BN__MAX_SEQ);
    a = bn_allocator_or_default(&p.allocator);
    c = (bitnet_ctx *)bn_zalloc(&a, sizeof *c);
    if (!c) return bn_fail(BITNET_ERR_NOMEM, "out of memory for a context");
    c->model = m;
    c->allocator = a;
    c->n_ctx = p.n_ctx;
    c->n_batch = p.n_batch;
    c->n_seq = p.n_seq;
    c->n_outputs = p.n_outputs;
    c->prefill_budget = p.prefill_budget;
    c->all_logits = p.all_logits;
    c->kv_f16 = p.kv_f16 != 0;
    c->abort_fn = p.abort_fn;
    c->abort_user = p.abort_user;
    c->ldq = bn_tern_kpad(bn_ctx_widest(&m->hp));
    c->owns_threads = p.threads == NULL;
    if (p.threads) c->threads = p.threads;
    else if ((st = bitnet_threadpool_new(&c->threads, p.n_threads, &a)) != BITNET_OK) goto fail;
    if ((st = bn_ctx_pick_device(c, &p)) != BITNET_OK) goto fail;
    s = bn_ctx_shape_of(&p, bitnet_threadpool_size(c->threads));
    if (c->gpu) s.n_ctx = 1;        /* on a GPU the host keeps no KV cache (one position keeps the plan valid) */
    bn_ctx_make_plan(&m->hp, &s, &plan);
    if ((st = bn_ctx_reserve(c, &plan)) != BITNET_OK) goto fail;
    bn_ctx_init_rope(c);
    *out = c;
    return BITNET_OK;
fail:
    bitnet_ctx_free(c);
    return st;
}

void bitnet_ctx_free(bitnet_ctx *c) {
    if (!c) return;
    if (c->gpu) c->gpu->ctx_free(c->gpu_state);
    if (c->owns_threads) bitnet_threadpool_free(c->threads);
    bitnet_pool_destroy(&c->pool);
    bn_free(&c->allocator, c);
}

int32_t bitnet_ctx_pos(const bitnet_ctx *c) { return c ? c->seq_pos[0] : 0; }
int32_t bitnet_ctx_n_ctx(const bitnet_ctx *c) { return c ? c->n_ctx : 0; }
int32_t bitnet_ctx_n_seq(const bitnet_ctx *c) { return c ? c->n_seq : 0; }
bitnet_pool_stats bitnet_ctx_memory(const bitnet_ctx *c) { return bitnet_pool_get_stats(c ? &c->pool : NULL); }
const bitnet_model *bitnet_ctx_model(const bitnet_ctx *c) { return c ? c->model : NULL; }

int32_t bitnet_ctx_seq_pos(const bitnet_ctx *c, int32_t seq) {
    return c && seq >= 0 && seq < c->n_seq ? c->seq_pos[seq] : 0;
}

/* The last batch's logits rows of one sequence are no longer valid. */
static void bn_ctx_drop_rows(bitnet_ctx *c, int32_t seq) {
    int32_t t;
    for (t = 0; t < c->n_last; t++)
        if (c->tok_seq[t] == seq) c->tok_row[t] = -1;
}

bitnet_status bitnet_ctx_truncate(bitnet_ctx *c, int32_t pos) {
    if (!c || pos < 0 || pos > c->seq_pos[0])
        return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_truncate: position %d outside 0..%d", pos, c ? c->seq_pos[0] : 0);
    return bitnet_ctx_seq_truncate(c, 0, pos);
}

bitnet_status bitnet_ctx_seq_truncate(bitnet_ctx *c, int32_t seq, int32_t pos) {
    if (!c) return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_seq_truncate: NULL context");
    if (seq < 0 || seq >= c->n_seq)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_seq_truncate: sequence %d outside 0..%d", seq, c->n_seq - 1);
    if (pos < 0 || pos > c->seq_pos[seq])
        return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_seq_truncate: position %d outside 0..%d of sequence %d", pos,
                       c->seq_pos[seq], seq);
    c->seq_pos[seq] = pos;
    bn_ctx_drop_rows(c, seq);
    return BITNET_OK;
}

static size_t bn_kv_dim(const bitnet_ctx *c) {
    return (size_t)c->model->hp.n_head_kv * (size_t)c->model->hp.head_dim;
}

/* Element index of (layer, sequence, position) in a KV cache. */
static size_t bn_cache_index(const bitnet_ctx *c, int il, int32_t seq, int32_t pos) {
    return (((size_t)il * (size_t)c->n_seq + (size_t)seq) * (size_t)c->n_ctx + (size_t)pos) * bn_kv_dim(c);
}

/* Element `at` of a KV cache: floats, or halves with kv_f16. */
static void *bn_cache_at(const bitnet_ctx *c, void *cache, size_t at) {
    return c->kv_f16 ? (void *)((uint16_t *)cache + at) : (void *)((float *)cache + at);
}

/* Positions 0..n_pos-1 of every layer's K and V rows: sequence src_seq of src becomes sequence
   dst_seq of dst (the same model and KV cache type; dst may be src with another sequence). */
static void bn_kv_copy_rows(bitnet_ctx *dst, int32_t dst_seq, const bitnet_ctx *src, int32_t src_seq, int32_t n_pos) {
    size_t bytes = (size_t)n_pos * bn_kv_dim(src) * (src->kv_f16 ? 2 : 4);
    int il;
    for (il = 0; il < src->model->hp.n_layer; il++) {
        memcpy(bn_cache_at(dst, dst->kcache, bn_cache_index(dst, il, dst_seq, 0)),
               bn_cache_at(src, src->kcache, bn_cache_index(src, il, src_seq, 0)), bytes);
        memcpy(bn_cache_at(dst, dst->vcache, bn_cache_index(dst, il, dst_seq, 0)),
               bn_cache_at(src, src->vcache, bn_cache_index(src, il, src_seq, 0)), bytes);
    }
}

bitnet_status bitnet_ctx_seq_copy(bitnet_ctx *c, int32_t src, int32_t dst, int32_t n_pos) {
    if (!c) return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_seq_copy: NULL context");
    if (src < 0 || src >= c->n_seq || dst < 0 || dst >= c->n_seq)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_seq_copy: sequences %d -> %d outside 0..%d", src, dst, c->n_seq - 1);
    if (n_pos < 0 || n_pos > c->seq_pos[src])
        return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_seq_copy: %d positions, sequence %d holds %d", n_pos, src,
                       c->seq_pos[src]);
    if (src == dst) return bitnet_ctx_seq_truncate(c, dst, n_pos);
    if (c->gpu) {
        bitnet_status st = c->gpu->seq_copy(c->gpu_state, src, dst, n_pos);
        if (st != BITNET_OK) return st;
        c->seq_pos[dst] = n_pos;
        bn_ctx_drop_rows(c, dst);
        return BITNET_OK;
    }
    bn_kv_copy_rows(c, dst, c, src, n_pos);
    c->seq_pos[dst] = n_pos;
    bn_ctx_drop_rows(c, dst);
    return BITNET_OK;
}

const float *bitnet_ctx_logits(const bitnet_ctx *c, int32_t i) {
    if (!c || c->n_last == 0) return NULL;
    if (i < 0) i = c->n_last - 1;
    if (i >= c->n_last || c->tok_row[i] < 0) return NULL;
    return c->logits + (size_t)c->tok_row[i] * (size_t)c->model->hp.n_vocab;
}

/* --- forward pass --- */

static void bn_rmsnorm_rows(const bitnet_ctx *c, const float *src, float *dst, const float *w, int64_t n, int n_tok) {
    int t;
    for (t = 0; t < n_tok; t++)
        c->model->kernels.rmsnorm(src + (size_t)t * n, w, n, c->model->hp.rms_eps, dst + (size_t)t * n);
}

static void bn_apply_scale(const bn_proj *p, float *y, int n_tok) {
    int64_t r, M = p->w.rows;
    int t;
    for (t = 0; t < n_tok; t++)
        for (r = 0; r < M; r++) y[(size_t)t * M + r] *= p->scale[p->n_scale == 1 ? 0 : r];
}

/* Times `stmt` as a part of the profile (pool: the thread-pool runs it makes) when profiling is on. */
#define BN__PROF(c, part, pool, stmt) do { \
    if ((c)->profile) { double t0_ = bitnet_time_ms(); stmt; (c)->prof.ms[part] += bitnet_time_ms() - t0_; \
                        (c)->prof.pool_runs[part] += (pool); } \
    else { stmt; } \
} while (0)

/* y_i (n_tok, rows_i) = BitLinear(W_i, x (n_tok, cols)) for i < n <= 3: the input quantized
   once per token (FORMATS.md §4), one pool job over the stacked rows, then blk.N.*.scale. */
static void bn_bitlinear_n(bitnet_ctx *c, const bn_proj *const *p, float *const *y, int n, const float *x, int n_tok) {
    const bn_kernels *kt = &c->model->kernels;
    const bn_tern *w[3];
    bn_par_tern_args a;
    int64_t K = p[0]->w.cols;
    int t, i;
    BN__PROF(c, BITNET_PROF_NORM_QUANT, 0, for (t = 0; t < n_tok; t++)
        kt->quant_i8(x + (size_t)t * K, K, c->xq + (size_t)t * c->ldq, &c->xscale[t], &c->xsum[t]));
    for (i = 0; i < n; i++) w[i] = &p[i]->w;
    memset(&a, 0, sizeof a);
    a.kt = kt; a.w = w; a.y = y; a.n_w = n; a.gemv = n_tok == 1;
    a.q = c->xq; a.ldq = c->ldq; a.s = c->xscale; a.sum = c->xsum; a.n = n_tok;
    BN__PROF(c, BITNET_PROF_TERNARY, 1, bn_par_tern(c->threads, &a));
    for (i = 0; i < n; i++)
        if (p[i]->scale) bn_apply_scale(p[i], y[i], n_tok);
}

static void bn_bitlinear(bitnet_ctx *c, const bn_proj *p, const float *x, float *y, int n_tok) {
    bn_bitlinear_n(c, &p, &y, 1, x, n_tok);
}

/* cos and sin of every rotation angle of each token's own position, shared by all heads and layers. */
static void bn_ctx_rope_angles(bitnet_ctx *c, int n_tok) {
    int half = c->model->hp.n_rot / 2, t, i;
    for (t = 0; t < n_tok; t++) {
        float *cs = c->rope_cs + (size_t)t * (size_t)(2 * half);
        for (i = 0; i < half; i++) {
            double theta = (double)c->tok_pos[t] * c->rope_inv_freq[i];
            cs[i] = (float)cos(theta);
            cs[half + i] = (float)sin(theta);
        }
    }
}

static void bn_rope_rows(const bitnet_ctx *c, float *buf, int n_heads, int n_tok) {
    const bitnet_hparams *hp = &c->model->hp;
    int t;
    for (t = 0; t < n_tok; t++)
        c->model->kernels.rope(buf + (size_t)t * (size_t)n_heads * (size_t)hp->head_dim, n_heads, hp->head_dim,
                               hp->n_rot, c->rope_cs + (size_t)t * (size_t)hp->n_rot, hp->rope_style == BITNET_ROPE_NEOX);
}

typedef struct bn_attn_job {
    bitnet_ctx *c;
    int il;
    int64_t heads;                          /* query heads per unit; divides n_head / n_head_kv */
} bn_attn_job;

/* Causal attention of `heads` query heads of one token that share a KV head, over the token's
   own sequence up to its own position, so each cached key and value row is read once for all
   of them. Unit u = ((t * n_head_kv) + g) * splits + s takes heads g * group + s * heads +
   [0, heads). Each head's scores and sums run in the same order whatever the grouping and
   whatever else the batch holds. */
static void bn_attention_task(void *arg, int64_t u0, int64_t u1, int thread) {
    const bn_attn_job *j = (const bn_attn_job *)arg;
    bitnet_ctx *c = j->c;
    const bitnet_hparams *hp = &c->model->hp;
    const bn_kernels *kt = &c->model->kernels;
    int64_t hd = hp->head_dim, group = hp->n_head / hp->n_head_kv, nh = j->heads, splits = group / nh, u, i;
    size_t kv_dim = bn_kv_dim(c), n_ctx = (size_t)c->n_ctx;
    float *att = c->att + (size_t)thread * (size_t)group * n_ctx, scale = 1.0f / sqrtf((float)hd);
    for (u = u0; u < u1; u++) {
        int64_t t = u / (hp->n_head_kv * splits), g = u / splits % hp->n_head_kv, n_pos = c->tok_pos[t] + 1;
        size_t r0 = (size_t)(t * hp->n_head + g * group + u % splits * nh);     /* first (token, head) row */
        size_t kv0 = bn_cache_index(c, j->il, c->tok_seq[t], 0) + (size_t)g * (size_t)hd;   /* this KV head at position 0 */
        kt->attn_scores(c->q + r0 * (size_t)hd, nh, bn_cache_at(c, c->kcache, kv0), c->kv_f16, (int64_t)kv_dim,
                        n_pos, hd, scale, att, (int64_t)n_ctx);
        for (i = 0; i < nh; i++) kt->softmax(att + (size_t)i * n_ctx, n_pos);
        kt->attn_values(c->xb2 + r0 * (size_t)hd, nh, att, (int64_t)n_ctx, bn_cache_at(c, c->vcache, kv0), c->kv_f16,
                        (int64_t)kv_dim, n_pos, hd);
    }
}

/* Stores the batch's keys and values, each token at its sequence's position. */
static void bn_store_kv(bitnet_ctx *c, int il, int n_tok) {
    size_t kv_dim = bn_kv_dim(c);
    int t;
    for (t = 0; t < n_tok; t++) {
        size_t at = bn_cache_index(c, il, c->tok_seq[t], c->tok_pos[t]);
        const float *k = c->k + (size_t)t * kv_dim, *v = c->v + (size_t)t * kv_dim;
        if (c->kv_f16) {
            bitnet_fp32_to_fp16_row(k, (uint16_t *)bn_cache_at(c, c->kcache, at), kv_dim);
            bitnet_fp32_to_fp16_row(v, (uint16_t *)bn_cache_at(c, c->vcache, at), kv_dim);
        } else {
            memcpy(bn_cache_at(c, c->kcache, at), k, kv_dim * sizeof(float));
            memcpy(bn_cache_at(c, c->vcache, at), v, kv_dim * sizeof(float));
        }
    }
}

static void bn_attention(bitnet_ctx *c, int il, int n_tok) {
    const bitnet_hparams *hp = &c->model->hp;
    int64_t group = hp->n_head / hp->n_head_kv, units;
    bn_attn_job j;
    bn_store_kv(c, il, n_tok);
    j.c = c;
    j.il = il;
    /* as many heads per unit as keeps >= 4 units per thread (a short batch splits its groups) */
    for (j.heads = group; j.heads > 1; j.heads--)
        if (group % j.heads == 0 &&
            (int64_t)n_tok * hp->n_head_kv * (group / j.heads) >= 4 * (int64_t)bitnet_threadpool_size(c->threads))
            break;
    units = (int64_t)n_tok * hp->n_head_kv * (group / j.heads);
    bitnet_threadpool_run(c->threads, units, 1, bn_attention_task, &j);
}

static void bn_add_rows(float *x, const float *d, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) x[i] += d[i];
}

static void bn_layer_forward(bitnet_ctx *c, int il, int n_tok) {
    const bitnet_hparams *hp = &c->model->hp;
    const bn_kernels *kt = &c->model->kernels;
    const bn_layer *L = &c->model->layers[il];
    int64_t E = hp->n_embd, F = hp->n_ff, Q = (int64_t)hp->n_head * hp->head_dim;
    const bn_proj *qkv[3], *gate_up[2];
    float *qkv_out[3], *gate_up_out[2];
    qkv[0] = &L->wq; qkv[1] = &L->wk; qkv[2] = &L->wv;
    qkv_out[0] = c->q; qkv_out[1] = c->k; qkv_out[2] = c->v;
    gate_up[0] = &L->wgate; gate_up[1] = &L->wup;
    gate_up_out[0] = c->hb; gate_up_out[1] = c->hb2;
    BN__PROF(c, BITNET_PROF_NORM_QUANT, 0, bn_rmsnorm_rows(c, c->x, c->xb, L->attn_norm, E, n_tok));
    bn_bitlinear_n(c, qkv, qkv_out, 3, c->xb, n_tok);
    BN__PROF(c, BITNET_PROF_ROPE, 0, bn_rope_rows(c, c->q, hp->n_head, n_tok); bn_rope_rows(c, c->k, hp->n_head_kv, n_tok));
    BN__PROF(c, BITNET_PROF_ATTENTION, 1, bn_attention(c, il, n_tok));  /* -> xb2 (n_tok, Q) */
    if (L->attn_sub_norm) BN__PROF(c, BITNET_PROF_NORM_QUANT, 0, bn_rmsnorm_rows(c, c->xb2, c->xb2, L->attn_sub_norm, Q, n_tok));
    bn_bitlinear(c, &L->wo, c->xb2, c->xb, n_tok);
    bn_add_rows(c->x, c->xb, (size_t)n_tok * (size_t)E);
    BN__PROF(c, BITNET_PROF_NORM_QUANT, 0, bn_rmsnorm_rows(c, c->x, c->xb, L->ffn_norm, E, n_tok));
    bn_bitlinear_n(c, gate_up, gate_up_out, 2, c->xb, n_tok);
    if (hp->activation == BITNET_ACT_RELU2) BN__PROF(c, BITNET_PROF_ACTIVATION, 0, kt->relu2_mul(c->hb, c->hb2, (int64_t)n_tok * F, c->hb));
    else BN__PROF(c, BITNET_PROF_ACTIVATION, 0, kt->silu_mul(c->hb, c->hb2, (int64_t)n_tok * F, c->hb));
    if (L->ffn_sub_norm) BN__PROF(c, BITNET_PROF_NORM_QUANT, 0, bn_rmsnorm_rows(c, c->hb, c->hb, L->ffn_sub_norm, F, n_tok));
    bn_bitlinear(c, &L->wdown, c->hb, c->xb, n_tok);
    bn_add_rows(c->x, c->xb, (size_t)n_tok * (size_t)E);
}

static void bn_embed(bitnet_ctx *c, const int32_t *tokens, int n_tok) {
    const bitnet_model *m = c->model;
    const unsigned char *base = (const unsigned char *)m->embd->data;
    int t;
    for (t = 0; t < n_tok; t++)
        bitnet_dequantize(m->embd->type, base + (size_t)tokens[t] * m->embd_row_bytes, m->embd_row_bytes, 1,
                          (uint64_t)m->hp.n_embd, c->x + (size_t)t * (size_t)m->hp.n_embd);
}

/* The head over just the rows asked for: their final norms gathered into xb, one GEMM. */
static void bn_output(bitnet_ctx *c, int n_out) {
    const bitnet_model *m = c->model;
    int64_t E = m->hp.n_embd;
    int r;
    if (n_out == 0) return;
    BN__PROF(c, BITNET_PROF_NORM_QUANT, 0, for (r = 0; r < n_out; r++)
        m->kernels.rmsnorm(c->x + (size_t)c->out_tok[r] * (size_t)E, m->output_norm, E, m->hp.rms_eps,
                           c->xb + (size_t)r * (size_t)E));
    if (n_out == 1) BN__PROF(c, BITNET_PROF_HEAD, 1, bn_par_gemv_f(c->threads, &m->kernels, &m->head, c->xb, c->logits));
    else BN__PROF(c, BITNET_PROF_HEAD, 1, bn_par_gemm_f(c->threads, &m->kernels, &m->head, c->xb, E, n_out, c->logits,
                                                     m->hp.n_vocab));
}

/* Which tokens of a batch want logits. */
enum { BN__OUT_FLAGS, BN__OUT_LAST_OF_SEQ, BN__OUT_ALL, BN__OUT_NONE };

typedef struct bn_batch_in {
    int32_t n;
    const int32_t *token;
    const int32_t *seq;                     /* NULL: every token in seq0 */
    int32_t seq0;
    const int8_t *logits;                   /* with BN__OUT_FLAGS; NULL = BN__OUT_LAST_OF_SEQ */
    int out;
    const char *who;                        /* the public function, for messages */
} bn_batch_in;

static int32_t bn_batch_seq(const bn_batch_in *b, int32_t t) { return b->seq ? b->seq[t] : b->seq0; }

/* Checks a batch against the context without changing anything observable; leaves in
   seq_count the tokens of each sequence. Returns the logits rows it needs in *n_out. */
static bitnet_status bn_batch_check(bitnet_ctx *c, const bn_batch_in *b, int32_t *n_out) {
    int32_t t, s, rows = 0;
    if (b->n <= 0 || !b->token) return bn_fail(BITNET_ERR_ARGS, "%s: no tokens", b->who);
    if (b->n > c->n_batch)
        return bn_fail(BITNET_ERR_ARGS, "%s: %d tokens exceed n_batch %d", b->who, b->n, c->n_batch);
    for (t = 0; t < b->n; t++) {
        s = bn_batch_seq(b, t);
        if (s < 0 || s >= c->n_seq)
            return bn_fail(BITNET_ERR_ARGS, "%s: token %d is in sequence %d, outside 0..%d", b->who, t, s, c->n_seq - 1);
        if (b->token[t] < 0 || b->token[t] >= c->model->hp.n_vocab)
            return bn_fail(BITNET_ERR_ARGS, "%s: token id %d at index %d is outside the vocabulary (0..%d)", b->who,
                           b->token[t], t, c->model->hp.n_vocab - 1);
    }
    for (t = 0; t < b->n; t++) c->seq_count[bn_batch_seq(b, t)] = 0;
    for (t = 0; t < b->n; t++) {
        s = bn_batch_seq(b, t);
        if (c->seq_count[s]++ == 0 && b->out == BN__OUT_LAST_OF_SEQ) rows++;
        if (b->out == BN__OUT_ALL || (b->out == BN__OUT_FLAGS && b->logits[t])) rows++;
    }
    for (t = 0; t < b->n; t++) {
        s = bn_batch_seq(b, t);
        if (c->seq_count[s] > c->n_ctx - c->seq_pos[s])
            return bn_fail(BITNET_ERR_ARGS, "%s: %d tokens of sequence %d at position %d exceed the context of %d",
                           b->who, c->seq_count[s], s, c->seq_pos[s], c->n_ctx);
    }
    if (rows > c->n_outputs)
        return bn_fail(BITNET_ERR_ARGS, "%s: %d logits rows asked for, the context returns at most n_outputs %d",
                       b->who, rows, c->n_outputs);
    *n_out = rows;
    return BITNET_OK;
}

/* Gives each token its sequence, position and logits row (seq_count from bn_batch_check). */
static void bn_batch_place(bitnet_ctx *c, const bn_batch_in *b) {
    int32_t t, rows = 0;
    for (t = 0; t < b->n; t++) {
        int32_t s = bn_batch_seq(b, t);
        int want = b->out == BN__OUT_ALL || (b->out == BN__OUT_FLAGS && b->logits[t]) ||
                   (b->out == BN__OUT_LAST_OF_SEQ && c->seq_count[s] == 1);
        c->seq_count[s]--;
        c->tok_seq[t] = s;
        c->tok_pos[t] = c->seq_pos[s]++;
        c->tok_row[t] = want ? rows : -1;
        if (want) c->out_tok[rows++] = t;
    }
    c->n_last = b->n;
}

void bitnet_ctx_cancel(bitnet_ctx *c) {
    if (c) BN__ATOMIC_STORE(&c->cancel, 1);
}

/* A cancel request (taken, so it stops one decode) or the abort hook's. */
static int bn_ctx_cancelled(bitnet_ctx *c) {
    if (BN__ATOMIC_LOAD(&c->cancel) && BN__ATOMIC_XCHG(&c->cancel, 0)) return 1;
    return c->abort_fn && c->abort_fn(c->abort_user);
}

/* Takes back a placed batch: each sequence back to its first position in it, no logits. */
static bitnet_status bn_batch_unplace(bitnet_ctx *c, const bn_batch_in *b) {
    int32_t t;
    for (t = b->n - 1; t >= 0; t--) c->seq_pos[c->tok_seq[t]] = c->tok_pos[t];
    c->n_last = 0;
    return bn_fail(BITNET_ERR_CANCELLED, "%s: cancelled", b->who);
}

/* A placed batch on the GPU backend (see "api: cuda"); its logits rows come back in c->logits.
   A GPU decode is not cancelled between layers. */
static bitnet_status bn_gpu_run(bitnet_ctx *c, const bn_batch_in *b, int32_t n_out) {
    bitnet_backend_batch g;
    bitnet_status st;
    int32_t t;
    memset(&g, 0, sizeof g);
    g.n_tokens = b->n; g.token = b->token; g.pos = c->tok_pos; g.seq = c->tok_seq;
    g.out = c->out_tok; g.n_out = n_out;
    if ((st = c->gpu->decode(c->gpu_state, &g, c->logits)) != BITNET_OK) {
        for (t = b->n - 1; t >= 0; t--) c->seq_pos[c->tok_seq[t]] = c->tok_pos[t];
        c->n_last = 0;
        return st;
    }
    c->n_decodes++;
    return BITNET_OK;
}

static bitnet_status bn_decode_run(bitnet_ctx *c, const bn_batch_in *b) {
    int32_t n_out = 0;
    int il;
    bitnet_status st = bn_batch_check(c, b, &n_out);
    if (st != BITNET_OK) return st;
    double t0 = c->profile ? bitnet_time_ms() : 0;
    bn_batch_place(c, b);
    if (c->gpu) return bn_gpu_run(c, b, n_out);
    BN__PROF(c, BITNET_PROF_EMBED, 0, bn_embed(c, b->token, b->n));
    BN__PROF(c, BITNET_PROF_ROPE, 0, bn_ctx_rope_angles(c, b->n));
    for (il = 0; il < c->model->hp.n_layer; il++) {
        if (bn_ctx_cancelled(c)) return bn_batch_unplace(c, b);
        bn_layer_forward(c, il, b->n);
    }
    bn_output(c, n_out);
    c->n_decodes++;
    if (c->profile) {
        c->prof.total_ms += bitnet_time_ms() - t0;
        c->prof.n_decodes++;
        c->prof.n_tokens += b->n;
    }
    return BITNET_OK;
}

void bitnet_ctx_set_profile(bitnet_ctx *c, int on) {
    if (!c) return;
    c->profile = on != 0;
    if (on) memset(&c->prof, 0, sizeof c->prof);
}

bitnet_profile bitnet_ctx_get_profile(const bitnet_ctx *c) {
    bitnet_profile p;
    double parts = 0;
    int i;
    memset(&p, 0, sizeof p);
    if (!c) return p;
    p = c->prof;
    for (i = 0; i < BITNET_PROF_OTHER; i++) parts += p.ms[i];
    p.ms[BITNET_PROF_OTHER] = p.total_ms > parts ? p.total_ms - parts : 0;
    return p;
}

const char *bitnet_prof_part_name(bitnet_prof_part part) {
    static const char *const names[BITNET_PROF_COUNT] = { "embedding", "norms/quantize", "ternary GEMV", "RoPE",
                                                          "attention", "activations", "head GEMV", "other" };
    return (unsigned)part < BITNET_PROF_COUNT ? names[part] : "unknown";
}

bitnet_status bitnet_decode_batch(bitnet_ctx *c, const bitnet_batch *batch) {
    bn_batch_in b;
    if (!c || !batch) return bn_fail(BITNET_ERR_ARGS, "bitnet_decode_batch: NULL argument");
    memset(&b, 0, sizeof b);
    b.n = batch->n_tokens;
    b.token = batch->token;
    b.seq = batch->seq;
    b.logits = batch->logits;
    b.out = batch->logits ? BN__OUT_FLAGS : BN__OUT_LAST_OF_SEQ;
    b.who = "bitnet_decode_batch";
    return bn_decode_run(c, &b);
}

/* Tokens at the next positions of one sequence, in chunks of n_batch; logits for the last
   token (every token with all_logits). */
static bitnet_status bn_decode_seq(bitnet_ctx *c, int32_t seq, const int32_t *tokens, int32_t n_tokens,
                                   const char *who) {
    bn_batch_in b;
    int32_t done = 0, i, start;
    if (!c || !tokens || n_tokens <= 0) return bn_fail(BITNET_ERR_ARGS, "%s: no tokens", who);
    if (seq < 0 || seq >= c->n_seq)
        return bn_fail(BITNET_ERR_ARGS, "%s: sequence %d outside 0..%d", who, seq, c->n_seq - 1);
    if (n_tokens > c->n_ctx - c->seq_pos[seq])
        return bn_fail(BITNET_ERR_ARGS, "%s: %d tokens at position %d exceed the context of %d", who, n_tokens,
                       c->seq_pos[seq], c->n_ctx);
    if (c->all_logits && n_tokens > c->n_outputs)
        return bn_fail(BITNET_ERR_ARGS, "%s: %d tokens with all_logits exceed %s %d", who, n_tokens,
                       c->n_outputs < c->n_batch ? "n_outputs" : "n_batch", c->n_outputs);
    for (i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= c->model->hp.n_vocab)
            return bn_fail(BITNET_ERR_ARGS, "%s: token id %d at index %d is outside the vocabulary (0..%d)", who,
                           tokens[i], i, c->model->hp.n_vocab - 1);
    memset(&b, 0, sizeof b);
    b.seq0 = seq;
    b.who = who;
    start = c->seq_pos[seq];
    while (done < n_tokens) {
        bitnet_status st;
        b.n = n_tokens - done < c->n_batch ? n_tokens - done : c->n_batch;
        b.token = tokens + done;
        b.out = done + b.n < n_tokens ? BN__OUT_NONE : c->all_logits ? BN__OUT_ALL : BN__OUT_LAST_OF_SEQ;
        if ((st = bn_decode_run(c, &b)) != BITNET_OK) {
            c->seq_pos[seq] = start;            /* cancelled: the chunks done are undone too */
            return st;
        }
        done += b.n;
    }
    return BITNET_OK;
}

bitnet_status bitnet_decode(bitnet_ctx *c, const int32_t *tokens, int32_t n_tokens) {
    return bn_decode_seq(c, 0, tokens, n_tokens, "bitnet_decode");
}

/* --- context: KV state save / restore / copy --- */

#define BN__STATE_MAGIC "BNKV"
#define BN__STATE_VERSION 1u
#define BN__STATE_FIXED 40                  /* header bytes before the positions */

static uint64_t bn_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

#define BN__FNV_START 0xcbf29ce484222325ull

/* The model's shape and its first embedding bytes: a state only goes back into the model
   (or a copy of it) that made it. */
static uint64_t bn_model_fingerprint(const bitnet_model *m) {
    const bitnet_hparams *hp = &m->hp;
    int32_t ints[13];
    float floats[3];
    uint64_t h = BN__FNV_START;
    unsigned char b[4];
    size_t i, n_embd_bytes = m->embd->size < 256 ? (size_t)m->embd->size : 256;
    ints[0] = (int32_t)hp->arch; ints[1] = hp->n_vocab; ints[2] = hp->n_embd; ints[3] = hp->n_layer;
    ints[4] = hp->n_head; ints[5] = hp->n_head_kv; ints[6] = hp->head_dim; ints[7] = hp->n_ff;
    ints[8] = hp->n_rot; ints[9] = (int32_t)hp->activation; ints[10] = (int32_t)hp->rope_style;
    ints[11] = hp->sub_norms; ints[12] = hp->tied_head;
    floats[0] = hp->rope_base; floats[1] = hp->rope_freq_scale; floats[2] = hp->rms_eps;
    for (i = 0; i < 13; i++) { bn_store_u32(b, (uint32_t)ints[i]); h = bn_fnv1a(h, b, 4); }
    for (i = 0; i < 3; i++) { uint32_t u; memcpy(&u, &floats[i], 4); bn_store_u32(b, u); h = bn_fnv1a(h, b, 4); }
    return bn_fnv1a(h, m->embd->data, n_embd_bytes);
}

/* Bytes of one sequence's cache rows in a state: keys and values of every layer. */
static uint64_t bn_state_seq_bytes(const bitnet_ctx *c, int32_t pos) {
    return (uint64_t)pos * (uint64_t)c->model->hp.n_layer * 2 * bn_kv_dim(c) * (c->kv_f16 ? 2 : 4);
}

static int32_t bn_state_first(const bitnet_ctx *c, int32_t seq) { (void)c; return seq < 0 ? 0 : seq; }
static int32_t bn_state_count(const bitnet_ctx *c, int32_t seq) { return seq < 0 ? c->n_seq : 1; }

static bitnet_status bn_state_check_seq(const bitnet_ctx *c, int32_t seq, const char *who) {
    if (!c) return bn_fail(BITNET_ERR_ARGS, "%s: NULL context", who);
    if (seq < -1 || seq >= c->n_seq)
        return bn_fail(BITNET_ERR_ARGS, "%s: sequence %d outside -1 (all) .. %d", who, seq, c->n_seq - 1);
    if (c->gpu) return bn_fail(BITNET_ERR_UNSUPPORTED, "%s: the KV cache of a GPU context stays on the device", who);
    return BITNET_OK;
}

size_t bitnet_ctx_state_size(const bitnet_ctx *c, int32_t seq) {
    uint64_t total;
    int32_t s, n;
    if (!c || seq < -1 || seq >= c->n_seq) return 0;
    n = bn_state_count(c, seq);
    total = BN__STATE_FIXED + 4 * (uint64_t)n + 8;
    for (s = bn_state_first(c, seq); s < bn_state_first(c, seq) + n; s++) total += bn_state_seq_bytes(c, c->seq_pos[s]);
    return (size_t)total;
}

/* A state is written as pieces through `emit` (memory or file), the checksum kept as it goes. */
typedef int (*bn_emit_fn)(const void *data, size_t n, void *user);   /* 0 = ok */

typedef struct bn_state_out {
    bn_emit_fn emit;
    void *user;
    uint64_t sum;
    int failed;
} bn_state_out;

static void bn_state_put(bn_state_out *o, const void *data, size_t n) {
    if (o->failed || !n) return;
    o->sum = bn_fnv1a(o->sum, data, n);
    if (o->emit(data, n, o->user)) o->failed = 1;
}

static void bn_state_write(const bitnet_ctx *c, int32_t seq, bn_state_out *o) {
    unsigned char h[BN__STATE_FIXED], b[8];
    int32_t first = bn_state_first(c, seq), n = bn_state_count(c, seq), s;
    size_t elem = c->kv_f16 ? 2 : 4;
    int il;
    memset(h, 0, sizeof h);
    memcpy(h, BN__STATE_MAGIC, 4);
    bn_store_u32(h + 4, BN__STATE_VERSION);
    bn_store_u64(h + 8, bn_model_fingerprint(c->model));
    bn_store_u32(h + 16, (uint32_t)c->model->hp.n_layer);
    bn_store_u32(h + 20, (uint32_t)bn_kv_dim(c));
    bn_store_u32(h + 24, (uint32_t)c->kv_f16);
    bn_store_u32(h + 28, (uint32_t)c->n_ctx);
    bn_store_u32(h + 32, (uint32_t)n);
    o->sum = BN__FNV_START;
    bn_state_put(o, h, sizeof h);
    for (s = first; s < first + n; s++) { bn_store_u32(b, (uint32_t)c->seq_pos[s]); bn_state_put(o, b, 4); }
    for (s = first; s < first + n; s++)
        for (il = 0; il < c->model->hp.n_layer; il++) {
            size_t bytes = (size_t)c->seq_pos[s] * bn_kv_dim(c) * elem;
            bn_state_put(o, bn_cache_at(c, c->kcache, bn_cache_index(c, il, s, 0)), bytes);
            bn_state_put(o, bn_cache_at(c, c->vcache, bn_cache_index(c, il, s, 0)), bytes);
        }
    bn_store_u64(b, o->sum);
    if (!o->failed && o->emit(b, 8, o->user)) o->failed = 1;
}

typedef struct bn_mem_sink { unsigned char *p; size_t n, cap; } bn_mem_sink;

static int bn_mem_emit(const void *data, size_t n, void *user) {
    bn_mem_sink *m = (bn_mem_sink *)user;
    if (n > m->cap - m->n) return -1;
    memcpy(m->p + m->n, data, n);
    m->n += n;
    return 0;
}

bitnet_status bitnet_ctx_state_save(const bitnet_ctx *c, int32_t seq, void *buf, size_t cap, size_t *size) {
    bn_state_out o;
    bn_mem_sink m;
    size_t need;
    bitnet_status st = bn_state_check_seq(c, seq, "bitnet_ctx_state_save");
    if (st != BITNET_OK) return st;
    need = bitnet_ctx_state_size(c, seq);
    if (size) *size = need;
    if (!buf || cap < need)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_state_save: the state needs %zu bytes, the buffer has %zu", need,
                       buf ? cap : 0);
    m.p = (unsigned char *)buf; m.n = 0; m.cap = cap;
    o.emit = bn_mem_emit; o.user = &m; o.failed = 0;
    bn_state_write(c, seq, &o);
    return BITNET_OK;
}

static int bn_file_emit(const void *data, size_t n, void *user) {
    return fwrite(data, 1, n, (FILE *)user) == n ? 0 : -1;
}

bitnet_status bitnet_ctx_state_save_file(const bitnet_ctx *c, int32_t seq, const char *path) {
    bn_state_out o;
    FILE *f;
    int closed;
    bitnet_status st = bn_state_check_seq(c, seq, "bitnet_ctx_state_save_file");
    if (st != BITNET_OK) return st;
    if (!path) return bn_fail(BITNET_ERR_ARGS, "bitnet_ctx_state_save_file: NULL path");
    if (!(f = fopen(path, "wb"))) return bn_fail(BITNET_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    o.emit = bn_file_emit; o.user = f; o.failed = 0;
    bn_state_write(c, seq, &o);
    closed = fclose(f) == 0;
    if (o.failed || !closed) {
        remove(path);
        return bn_fail(BITNET_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    }
    return BITNET_OK;
}

/* What a state's header says, checked against the context it goes into. */
typedef struct bn_state_hdr {
    int32_t n_seqs;
    uint64_t data_bytes, total;             /* cache rows; the whole state with checksum */
} bn_state_hdr;

static bitnet_status bn_state_check_fixed(const bitnet_ctx *c, int32_t seq, const unsigned char *h, uint64_t size,
                                          bn_state_hdr *out, const char *who) {
    uint32_t version, kv_type, n_seqs;
    if (size < BN__STATE_FIXED)
        return bn_fail(BITNET_ERR_FORMAT, "%s: truncated state: %llu bytes, the header alone is %d", who,
                       (unsigned long long)size, BN__STATE_FIXED);
    if (memcmp(h, BN__STATE_MAGIC, 4) != 0) return bn_fail(BITNET_ERR_FORMAT, "%s: not a KV state (bad magic)", who);
    if ((version = bn_load_u32(h + 4)) != BN__STATE_VERSION)
        return bn_fail(BITNET_ERR_FORMAT, "%s: state version %u, this library reads %u", who, version,
                       BN__STATE_VERSION);
    if (bn_load_u64(h + 8) != bn_model_fingerprint(c->model))
        return bn_fail(BITNET_ERR_FORMAT, "%s: the state was made with another model (fingerprint %016llx, this "
                       "model %016llx)", who, (unsigned long long)bn_load_u64(h + 8),
                       (unsigned long long)bn_model_fingerprint(c->model));
    if (bn_load_u32(h + 16) != (uint32_t)c->model->hp.n_layer || bn_load_u32(h + 20) != (uint32_t)bn_kv_dim(c))
        return bn_fail(BITNET_ERR_FORMAT, "%s: state of %u layers x %u kv width, the model has %d x %zu", who,
                       bn_load_u32(h + 16), bn_load_u32(h + 20), c->model->hp.n_layer, bn_kv_dim(c));
    if ((kv_type = bn_load_u32(h + 24)) > 1 || (int)kv_type != c->kv_f16)
        return bn_fail(BITNET_ERR_FORMAT, "%s: the state holds a %s KV cache, the context an %s one", who,
                       kv_type == 0 ? "F32" : kv_type == 1 ? "F16" : "unknown", c->kv_f16 ? "F16" : "F32");
    n_seqs = bn_load_u32(h + 32);
    if (seq < 0 && n_seqs != (uint32_t)c->n_seq)
        return bn_fail(BITNET_ERR_ARGS, "%s: the state holds %u sequences, the context %d", who, n_seqs, c->n_seq);
    if (seq >= 0 && n_seqs != 1)
        return bn_fail(BITNET_ERR_ARGS, "%s: the state holds %u sequences, restoring into sequence %d needs one", who,
                       n_seqs, seq);
    out->n_seqs = (int32_t)n_seqs;
    if (size < BN__STATE_FIXED + 4 * (uint64_t)n_seqs)
        return bn_fail(BITNET_ERR_FORMAT, "%s: truncated state: %llu bytes, its header is %llu", who,
                       (unsigned long long)size, (unsigned long long)(BN__STATE_FIXED + 4 * (uint64_t)n_seqs));
    return BITNET_OK;
}

/* The positions (decoded into pos) fit the context; the size is then exact. */
static bitnet_status bn_state_check_positions(const bitnet_ctx *c, const int32_t *pos, uint64_t size,
                                              uint32_t saved_n_ctx, bn_state_hdr *h, const char *who) {
    int32_t s;
    h->data_bytes = 0;
    for (s = 0; s < h->n_seqs; s++) {
        uint32_t p = (uint32_t)pos[s];
        if (p > saved_n_ctx)
            return bn_fail(BITNET_ERR_FORMAT, "%s: sequence %d of the state holds %u positions, more than its n_ctx %u",
                           who, s, p, saved_n_ctx);
        if (p > (uint32_t)c->n_ctx)
            return bn_fail(BITNET_ERR_ARGS, "%s: sequence %d of the state holds %u positions, the context has %d", who,
                           s, p, c->n_ctx);
        h->data_bytes += bn_state_seq_bytes(c, (int32_t)p);
    }
    h->total = BN__STATE_FIXED + 4 * (uint64_t)h->n_seqs + h->data_bytes + 8;
    if (size != h->total)
        return bn_fail(BITNET_ERR_FORMAT, "%s: %s state: %llu bytes, its header says %llu", who,
                       size < h->total ? "truncated" : "oversized", (unsigned long long)size,
                       (unsigned long long)h->total);
    return BITNET_OK;
}

/* Positions of a checked state set for the sequences it goes into; their logits rows dropped. */
static void bn_state_set_positions(bitnet_ctx *c, int32_t seq, const int32_t *pos, int32_t n) {
    int32_t s;
    for (s = 0; s < n; s++) {
        c->seq_pos[bn_state_first(c, seq) + s] = pos[s];
        bn_ctx_drop_rows(c, bn_state_first(c, seq) + s);
    }
}

bitnet_status bitnet_ctx_state_restore(bitnet_ctx *c, int32_t seq, const void *buf, size_t size) {
    const char *who = "bitnet_ctx_state_restore";
    const unsigned char *b = (const unsigned char *)buf, *data;
    bn_state_hdr h;
    size_t elem;
    int32_t s;
    int il;
    bitnet_status st = bn_state_check_seq(c, seq, who);
    if (st != BITNET_OK) return st;
    if (!buf) return bn_fail(BITNET_ERR_ARGS, "%s: NULL buffer", who);
    if ((st = bn_state_check_fixed(c, seq, b, size, &h, who)) != BITNET_OK) return st;
    for (s = 0; s < h.n_seqs; s++) c->seq_count[s] = (int32_t)bn_load_u32(b + BN__STATE_FIXED + 4 * (size_t)s);
    if ((st = bn_state_check_positions(c, c->seq_count, size, bn_load_u32(b + 28), &h, who)) != BITNET_OK) return st;
    if (bn_fnv1a(BN__FNV_START, b, size - 8) != bn_load_u64(b + size - 8))
        return bn_fail(BITNET_ERR_FORMAT, "%s: checksum mismatch: the state was altered or damaged", who);
    elem = c->kv_f16 ? 2 : 4;
    data = b + BN__STATE_FIXED + 4 * (size_t)h.n_seqs;
    for (s = 0; s < h.n_seqs; s++) {
        int32_t dst = bn_state_first(c, seq) + s;
        size_t bytes = (size_t)c->seq_count[s] * bn_kv_dim(c) * elem;
        for (il = 0; il < c->model->hp.n_layer; il++) {
            memcpy(bn_cache_at(c, c->kcache, bn_cache_index(c, il, dst, 0)), data, bytes);
            memcpy(bn_cache_at(c, c->vcache, bn_cache_index(c, il, dst, 0)), data + bytes, bytes);
            data += 2 * bytes;
        }
    }
    bn_state_set_positions(c, seq, c->seq_count, h.n_seqs);
    return BITNET_OK;
}

/* Reads exactly n bytes, feeding them to the checksum; 0 on a short read. */
static int bn_state_fread(FILE *f, void *dst, size_t n, uint64_t *sum) {
    if (fread(dst, 1, n, f) != n) return 0;
    *sum = bn_fnv1a(*sum, dst, n);
    return 1;
}

/* The file is read twice and never held whole: a pass that checks size and checksum, then, only
   if it all holds, a pass that copies the rows into the cache. */
bitnet_status bitnet_ctx_state_restore_file(bitnet_ctx *c, int32_t seq, const char *path) {
    const char *who = "bitnet_ctx_state_restore_file";
    unsigned char fixed[BN__STATE_FIXED], tmp[4096], b8[8];
    bn_state_hdr h;
    uint64_t sum = BN__FNV_START, left;
    size_t elem;
    long size;
    FILE *f;
    int32_t s;
    int il, ok = 1;
    bitnet_status st = bn_state_check_seq(c, seq, who);
    if (st != BITNET_OK) return st;
    if (!path) return bn_fail(BITNET_ERR_ARGS, "%s: NULL path", who);
    if (!(f = fopen(path, "rb"))) return bn_fail(BITNET_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return bn_fail(BITNET_ERR_IO, "cannot size '%s': %s", path, strerror(errno));
    }
    memset(fixed, 0, sizeof fixed);
    if (size >= BN__STATE_FIXED && !bn_state_fread(f, fixed, sizeof fixed, &sum)) ok = 0;
    st = ok ? bn_state_check_fixed(c, seq, fixed, (uint64_t)size, &h, who)
            : bn_fail(BITNET_ERR_IO, "%s: cannot read '%s'", who, path);
    for (s = 0; st == BITNET_OK && s < h.n_seqs; s++) {     /* positions, into scratch */
        if (!bn_state_fread(f, b8, 4, &sum)) st = bn_fail(BITNET_ERR_IO, "%s: short read of '%s'", who, path);
        c->seq_count[s] = (int32_t)bn_load_u32(b8);
    }
    if (st == BITNET_OK) st = bn_state_check_positions(c, c->seq_count, (uint64_t)size, bn_load_u32(fixed + 28), &h, who);
    for (left = h.data_bytes; st == BITNET_OK && left > 0;) {        /* pass 1: the checksum */
        size_t n = left < sizeof tmp ? (size_t)left : sizeof tmp;
        if (!bn_state_fread(f, tmp, n, &sum)) st = bn_fail(BITNET_ERR_IO, "%s: short read of '%s'", who, path);
        left -= n;
    }
    if (st == BITNET_OK && (fread(b8, 1, 8, f) != 8 || bn_load_u64(b8) != sum))
        st = bn_fail(BITNET_ERR_FORMAT, "%s: checksum mismatch: '%s' was altered or damaged", who, path);
    if (st != BITNET_OK) { fclose(f); return st; }
    elem = c->kv_f16 ? 2 : 4;
    if (fseek(f, (long)(BN__STATE_FIXED + 4 * h.n_seqs), SEEK_SET) != 0) ok = 0;
    for (s = 0; ok && s < h.n_seqs; s++) {                          /* pass 2: into the cache */
        int32_t dst = bn_state_first(c, seq) + s;
        size_t bytes = (size_t)c->seq_count[s] * bn_kv_dim(c) * elem;
        for (il = 0; ok && il < c->model->hp.n_layer; il++)
            ok = fread(bn_cache_at(c, c->kcache, bn_cache_index(c, il, dst, 0)), 1, bytes, f) == bytes &&
                 fread(bn_cache_at(c, c->vcache, bn_cache_index(c, il, dst, 0)), 1, bytes, f) == bytes;
    }
    fclose(f);
    if (!ok) {                              /* the file changed between the passes: those sequences are cleared */
        for (s = 0; s < h.n_seqs; s++) c->seq_count[s] = 0;
        bn_state_set_positions(c, seq, c->seq_count, h.n_seqs);
        return bn_fail(BITNET_ERR_IO, "%s: '%s' changed while it was read; the sequences were cleared", who, path);
    }
    bn_state_set_positions(c, seq, c->seq_count, h.n_seqs);
    return BITNET_OK;
}

bitnet_status bitnet_ctx_state_copy(bitnet_ctx *dst, int32_t dst_seq, const bitnet_ctx *src, int32_t src_seq) {
    const char *who = "bitnet_ctx_state_copy";
    int32_t pos;
    if (!dst || !src) return bn_fail(BITNET_ERR_ARGS, "%s: NULL context", who);
    if (dst_seq < 0 || dst_seq >= dst->n_seq || src_seq < 0 || src_seq >= src->n_seq)
        return bn_fail(BITNET_ERR_ARGS, "%s: sequence %d -> %d outside the contexts' 0..%d / 0..%d", who, src_seq,
                       dst_seq, src->n_seq - 1, dst->n_seq - 1);
    if (dst == src) return bitnet_ctx_seq_copy(dst, src_seq, dst_seq, src->seq_pos[src_seq]);
    if (bn_model_fingerprint(dst->model) != bn_model_fingerprint(src->model) || dst->kv_f16 != src->kv_f16)
        return bn_fail(BITNET_ERR_ARGS, "%s: the contexts differ in model or KV cache type", who);
    pos = src->seq_pos[src_seq];
    if (pos > dst->n_ctx)
        return bn_fail(BITNET_ERR_ARGS, "%s: %d positions do not fit n_ctx %d", who, pos, dst->n_ctx);
    bn_kv_copy_rows(dst, dst_seq, src, src_seq, pos);
    dst->seq_pos[dst_seq] = pos;
    bn_ctx_drop_rows(dst, dst_seq);
    return BITNET_OK;
}

/* ===== tokenizer ===== */

/* Token texts live in one blob (each NUL-terminated); two open-addressing hash tables map text
   -> id and (left id, right id) -> merge rank. Everything is built once at load: no quadratic
   work, 280k merges load in milliseconds. */

#define BN__TOK_MAX_TOKENS  (1 << 24)
#define BN__TOK_MAX_TEXT    ((size_t)1 << 28)    /* bytes of text one bitnet_tokenize accepts */
#define BN__TOK_MAX_EOG     16

enum { BN__UC_LETTER = 1, BN__UC_NUMBER = 2, BN__UC_SPACE = 4, BN__UC_ANY = 8 };

typedef struct bn_unicode_range { uint32_t first, last; uint8_t cls; } bn_unicode_range;
static int bn_unicode_class(uint32_t cp);     /* after the generated table at the end */

typedef struct bn_tok_str { const char *p; size_t n; } bn_tok_str;

typedef struct bn_merge_slot { uint64_t key; int32_t rank, result; } bn_merge_slot;

struct bitnet_vocab {
    bitnet_allocator a;
    bitnet_vocab_type type;
    bitnet_pretok pre;
    int32_t n_tokens;
    char *text;                 /* token texts, each NUL-terminated */
    uint32_t *off;              /* (n_tokens + 1) offsets into text */
    float *scores;              /* (n_tokens) */
    uint8_t *types;             /* (n_tokens) bitnet_token_type */
    int32_t *tok_slots;         /* (tok_mask + 1) ids, -1 empty */
    uint32_t tok_mask;
    bn_merge_slot *merge_slots; /* (merge_mask + 1), key UINT64_MAX empty */
    uint32_t merge_mask;
    int32_t *special;           /* (n_special) control/unknown/user-defined ids, longest text first */
    int32_t n_special;
    int32_t byte_tok[256];      /* SPM <0xXX> token / BPE one-byte token, -1 none */
    uint16_t byte_cp[256];      /* GPT-2 byte -> code point */
    int16_t cp_byte[324];       /* GPT-2 code point -> byte, -1 none */
    int32_t bos, eos, eot, eom, unk, pad;
    int32_t eog[BN__TOK_MAX_EOG];
    int n_eog;
    int add_bos, add_eos, add_space_prefix, ignore_merges;
    size_t max_piece;
    bitnet_chat_format_id chat;
};

/* What a vocabulary is built from, whether read from GGUF or given by a test. */
typedef struct bn_vocab_src {
    bitnet_vocab_type type;
    bitnet_pretok pre;
    int32_t n_tokens;
    const bn_tok_str *tokens;       /* (n_tokens) */
    const float *scores;        /* (n_tokens) or NULL = 0 */
    const int32_t *types;       /* (n_tokens) or NULL = normal */
    int32_t n_merges;
    const bn_tok_str *merges;       /* (n_merges) "left right" */
    int32_t bos, eos, eot, eom, unk, pad;   /* -1 = none (eot/eom: look the text up) */
    int add_bos, add_eos, add_space_prefix; /* -1 = the default of the type and rule */
    bn_tok_str chat_template;
} bn_vocab_src;

static uint64_t bn_tok_hash(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;                 /* FNV-1a */
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint64_t bn_tok_mix(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static int bn_tok_eq(const bitnet_vocab *v, int32_t id, const char *p, size_t n) {
    return (size_t)(v->off[id + 1] - v->off[id] - 1) == n && memcmp(v->text + v->off[id], p, n) == 0;
}

int32_t bitnet_vocab_find(const bitnet_vocab *v, const char *p, size_t n) {
    uint32_t i;
    if (!v || (!p && n)) return -1;
    for (i = (uint32_t)bn_tok_hash(p, n) & v->tok_mask; v->tok_slots[i] >= 0; i = (i + 1) & v->tok_mask)
        if (bn_tok_eq(v, v->tok_slots[i], p, n)) return v->tok_slots[i];
    return -1;
}

/* Inserts token `id`; a later duplicate text replaces the earlier id (as llama.cpp's map). */
static void bn_tok_insert(bitnet_vocab *v, int32_t id) {
    const char *p = v->text + v->off[id];
    size_t n = v->off[id + 1] - v->off[id] - 1;
    uint32_t i;
    for (i = (uint32_t)bn_tok_hash(p, n) & v->tok_mask; v->tok_slots[i] >= 0; i = (i + 1) & v->tok_mask)
        if (bn_tok_eq(v, v->tok_slots[i], p, n)) break;
    v->tok_slots[i] = id;
}

static bn_merge_slot *bn_merge_find(const bitnet_vocab *v, int32_t left, int32_t right) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    uint32_t i;
    if (!v->merge_slots) return NULL;
    for (i = (uint32_t)bn_tok_mix(key) & v->merge_mask; v->merge_slots[i].key != UINT64_MAX;
         i = (i + 1) & v->merge_mask)
        if (v->merge_slots[i].key == key) return &v->merge_slots[i];
    return NULL;
}

static uint32_t bn_tok_pow2(uint64_t n) {
    uint32_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

/* GPT-2's byte <-> code point map: printable bytes map to themselves, the rest to 256 + k. */
static void bn_vocab_init_bytes(bitnet_vocab *v) {
    int b, k = 0;
    for (b = 0; b < 324; b++) v->cp_byte[b] = -1;
    for (b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        v->byte_cp[b] = (uint16_t)(keep ? b : 256 + k++);
        v->cp_byte[v->byte_cp[b]] = (int16_t)b;
    }
}

/* UTF-8 length from the lead byte, as llama.cpp's unicode_len_utf8 (no validation). */
static size_t bn_tok_utf8_len(unsigned char c) {
    static const unsigned char lens[16] = { 1,1,1,1,1,1,1,1,1,1,1,1,2,2,3,4 };
    return lens[c >> 4];
}

static size_t bn_tok_utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12); out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18); out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes one code point as llama.cpp's unicode_cpt_from_utf8 (continuation bytes checked,
   overlong forms accepted); an invalid sequence consumes one byte and gives U+FFFD. Code points
   past U+10FFFF also give U+FFFD (llama.cpp would throw re-encoding them). */
static uint32_t bn_tok_utf8_next(const unsigned char *s, size_t n, size_t *i) {
    size_t k = *i, need, j;
    uint32_t cp;
    unsigned char c = s[k];
    if (c < 0x80) { *i = k + 1; return c; }
    if ((c & 0xE0) == 0xC0) { need = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { need = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { need = 3; cp = c & 0x07; }
    else { *i = k + 1; return 0xFFFD; }
    if (need >= n - k) { *i = k + 1; return 0xFFFD; }
    for (j = 1; j <= need; j++) {
        if ((s[k + j] & 0xC0) != 0x80) { *i = k + 1; return 0xFFFD; }
        cp = cp << 6 | (s[k + j] & 0x3F);
    }
    *i = k + need + 1;
    return cp > 0x10FFFF ? 0xFFFD : cp;
}

/* ---- split rules (hand-written matchers equal to llama.cpp's custom regex splitters) ---- */

typedef struct bn_tok_split {
    const uint32_t *cp;         /* (n) code points of one text fragment */
    size_t n;
    size_t *ends;               /* (<= n) end of each piece, in code points */
    size_t n_pieces;
    size_t prev_end;
} bn_tok_split;

#define BN__CP_NONE 0xFFFFFFFFu

static uint32_t bn_tok_split_cp(const bn_tok_split *s, size_t pos) { return pos < s->n ? s->cp[pos] : BN__CP_NONE; }
static int bn_tok_split_cls(const bn_tok_split *s, size_t pos) {
    return pos < s->n ? bn_unicode_class(s->cp[pos]) | BN__UC_ANY : 0;
}

static size_t bn_tok_split_add(bn_tok_split *s, size_t end) {
    size_t len = end - s->prev_end;
    if (len > 0) s->ends[s->n_pieces++] = end;
    s->prev_end = end;
    return len;
}

static uint32_t bn_ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* 's 't 're 've 'm 'll 'd at pos (pos holds '\''): the piece length or 0. */
static size_t bn_tok_split_contraction(const bn_tok_split *s, size_t pos, int fold) {
    uint32_t a, b;
    if (pos + 1 >= s->n) return 0;
    a = bn_tok_split_cp(s, pos + 1);
    if (fold) a = bn_ascii_lower(a);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (pos + 2 >= s->n) return 0;
    b = bn_tok_split_cp(s, pos + 2);
    if (fold) b = bn_ascii_lower(b);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* Trailing whitespace rules shared by both splitters: \s+(?!\S) then \s+. */
static void bn_tok_split_spaces(bn_tok_split *s, size_t *pos, size_t n_ws) {
    if (n_ws > 1 && bn_tok_split_cp(s, *pos + n_ws) != BN__CP_NONE) { *pos += n_ws - 1; bn_tok_split_add(s, *pos); }
    else if (n_ws > 0) { *pos += n_ws; bn_tok_split_add(s, *pos); }
    else bn_tok_split_add(s, ++*pos);
}

/* Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static void bn_tok_split_llama3(bn_tok_split *s) {
    size_t pos = 0;
    while (pos < s->n) {
        uint32_t c = bn_tok_split_cp(s, pos);
        int f = bn_tok_split_cls(s, pos), f2;
        size_t k, n_ws, last_nl;
        if (c == '\'' && (k = bn_tok_split_contraction(s, pos, 1)) != 0) { pos += bn_tok_split_add(s, pos + k); continue; }
        if (!(c == '\r' || c == '\n' || (f & BN__UC_NUMBER)) &&
            ((f & BN__UC_LETTER) || (bn_tok_split_cls(s, pos + 1) & BN__UC_LETTER))) {
            pos++;
            while (bn_tok_split_cls(s, pos) & BN__UC_LETTER) pos++;
            bn_tok_split_add(s, pos);
            continue;
        }
        if (f & BN__UC_NUMBER) {
            size_t ini = pos;
            while (bn_tok_split_cls(s, pos) & BN__UC_NUMBER)
                if (++pos - ini >= 3) { bn_tok_split_add(s, pos); ini = pos; }
            bn_tok_split_add(s, pos);
            continue;
        }
        f2 = c == ' ' ? bn_tok_split_cls(s, pos + 1) : f;
        if (!(f2 & (BN__UC_SPACE | BN__UC_LETTER | BN__UC_NUMBER)) && f) {
            uint32_t c2;
            pos += c == ' ';
            while (!(f2 & (BN__UC_SPACE | BN__UC_LETTER | BN__UC_NUMBER)) && f2) f2 = bn_tok_split_cls(s, ++pos);
            for (c2 = bn_tok_split_cp(s, pos); c2 == '\r' || c2 == '\n'; c2 = bn_tok_split_cp(s, ++pos)) {}
            bn_tok_split_add(s, pos);
            continue;
        }
        n_ws = 0;
        last_nl = 0;
        while (bn_tok_split_cls(s, pos + n_ws) & BN__UC_SPACE) {
            uint32_t c2 = bn_tok_split_cp(s, pos + n_ws);
            if (c2 == '\r' || c2 == '\n') last_nl = pos + n_ws + 1;
            n_ws++;
        }
        if (last_nl > 0) { pos = last_nl; bn_tok_split_add(s, pos); continue; }
        bn_tok_split_spaces(s, &pos, n_ws);
    }
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void bn_tok_split_gpt2(bn_tok_split *s) {
    size_t pos = 0;
    while (pos < s->n) {
        uint32_t c = bn_tok_split_cp(s, pos);
        int f = bn_tok_split_cls(s, pos);
        int f2 = c == ' ' ? bn_tok_split_cls(s, pos + 1) : f;
        size_t k, n_ws;
        if (c == '\'' && (k = bn_tok_split_contraction(s, pos, 0)) != 0) { pos += bn_tok_split_add(s, pos + k); continue; }
        if (f2 & (BN__UC_LETTER | BN__UC_NUMBER)) {
            int want = f2 & BN__UC_LETTER ? BN__UC_LETTER : BN__UC_NUMBER;
            pos += c == ' ';
            while (f2 & want) f2 = bn_tok_split_cls(s, ++pos);
            bn_tok_split_add(s, pos);
            continue;
        }
        if (!(f2 & (BN__UC_SPACE | BN__UC_LETTER | BN__UC_NUMBER)) && f2) {
            pos += c == ' ';
            while (!(f2 & (BN__UC_SPACE | BN__UC_LETTER | BN__UC_NUMBER)) && f2) f2 = bn_tok_split_cls(s, ++pos);
            bn_tok_split_add(s, pos);
            continue;
        }
        for (n_ws = 0; bn_tok_split_cls(s, pos + n_ws) & BN__UC_SPACE; n_ws++) {}
        bn_tok_split_spaces(s, &pos, n_ws);
    }
}

/* ---- merging (one priority queue for both: larger key first, then smaller left) ---- */

typedef struct bn_bigram { double key; int32_t left, right; size_t size; } bn_bigram;

typedef struct bn_sym { size_t start, n; int32_t prev, next, id; } bn_sym;

/* Scratch memory of one bitnet_tokenize call, grown on demand. */
typedef struct bn_tok_work {
    const bitnet_vocab *v;
    bitnet_allocator a;
    int32_t *ids; size_t cap, n_ids;        /* output */
    uint32_t *cp; size_t cp_cap;            /* code points of a fragment */
    size_t *ends; size_t ends_cap;          /* piece ends */
    char *buf; size_t buf_cap;              /* byte-encoded word / escaped SPM text */
    bn_sym *sym; size_t sym_cap;
    bn_bigram *heap; size_t heap_cap, heap_n;
} bn_tok_work;

static int bn_tok_grow(bn_tok_work *w, void **p, size_t *cap, size_t need, size_t elem) {
    void *q;
    if (need <= *cap) return 1;
    if (need > SIZE_MAX / elem / 2) return 0;
    need = need < 64 ? 64 : need + need / 2;
    if (!(q = bn_alloc(&w->a, need * elem, 16))) return 0;
    bn_free(&w->a, *p);
    *p = q;
    *cap = need;
    return 1;
}

#define BN__TOK_GROW(w, field, capf, need) \
    bn_tok_grow((w), (void **)&(w)->field, &(w)->capf, (need), sizeof *(w)->field)

static void bn_tok_emit(bn_tok_work *w, int32_t id) {
    if (w->n_ids < w->cap) w->ids[w->n_ids] = id;
    w->n_ids++;
}

static int bn_bigram_before(const bn_bigram *x, const bn_bigram *y) {
    return x->key > y->key || (x->key == y->key && x->left < y->left);
}

static void bn_tok_heap_push(bn_tok_work *w, bn_bigram b) {
    size_t i = w->heap_n++;
    while (i > 0 && bn_bigram_before(&b, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = b;
}

static bn_bigram bn_tok_heap_pop(bn_tok_work *w) {
    bn_bigram top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bn_bigram_before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!bn_bigram_before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

/* Splits buf[0..len) into UTF-8 characters (lead-byte lengths) as the initial symbols. */
static size_t bn_tok_symbols(bn_tok_work *w, size_t len) {
    size_t off = 0, n = 0;
    while (off < len) {
        size_t cl = bn_tok_utf8_len((unsigned char)w->buf[off]);
        bn_sym *s = &w->sym[n];
        if (cl > len - off) cl = len - off;
        s->start = off; s->n = cl;
        s->prev = (int32_t)n - 1;
        off += cl;
        s->next = off == len ? -1 : (int32_t)n + 1;
        s->id = bitnet_vocab_find(w->v, w->buf + s->start, cl);
        n++;
    }
    return n;
}

static void bn_bpe_add(bn_tok_work *w, int32_t l, int32_t r) {
    const bn_merge_slot *m;
    bn_bigram b;
    if (l < 0 || r < 0 || w->sym[l].id < 0 || w->sym[r].id < 0) return;
    if (!(m = bn_merge_find(w->v, w->sym[l].id, w->sym[r].id))) return;
    b.key = -(double)m->rank; b.left = l; b.right = r; b.size = w->sym[l].n + w->sym[r].n;
    bn_tok_heap_push(w, b);
}

static void bn_spm_add(bn_tok_work *w, int32_t l, int32_t r) {
    int32_t id;
    bn_bigram b;
    if (l < 0 || r < 0) return;
    b.size = w->sym[l].n + w->sym[r].n;
    if ((id = bitnet_vocab_find(w->v, w->buf + w->sym[l].start, b.size)) < 0) return;
    b.key = w->v->scores[id]; b.left = l; b.right = r;
    bn_tok_heap_push(w, b);
}

/* Runs the queue to the end: merges the best pair while it is still current. */
static void bn_tok_merge(bn_tok_work *w, int bpe) {
    while (w->heap_n) {
        bn_bigram b = bn_tok_heap_pop(w);
        bn_sym *l = &w->sym[b.left], *r = &w->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        if (bpe) l->id = bn_merge_find(w->v, l->id, r->id)->result;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = b.left;
        if (bpe) { bn_bpe_add(w, l->prev, b.left); bn_bpe_add(w, b.left, l->next); }
        else { bn_spm_add(w, l->prev, b.left); bn_spm_add(w, b.left, l->next); }
    }
}

/* Byte-level BPE of one pre-token, already byte-encoded in w->buf[0..len). */
static int bn_bpe_word(bn_tok_work *w, size_t len) {
    const bitnet_vocab *v = w->v;
    size_t n, i;
    int32_t id;
    if (v->ignore_merges && (id = bitnet_vocab_find(v, w->buf, len)) >= 0) { bn_tok_emit(w, id); return 1; }
    if (!BN__TOK_GROW(w, sym, sym_cap, len) || !BN__TOK_GROW(w, heap, heap_cap, 3 * len)) return 0;
    n = bn_tok_symbols(w, len);
    w->heap_n = 0;
    for (i = 1; i < n; i++) bn_bpe_add(w, (int32_t)i - 1, (int32_t)i);
    bn_tok_merge(w, 1);
    for (i = 0; i < n; i = (size_t)w->sym[i].next) {
        const bn_sym *s = &w->sym[i];
        if (s->id >= 0) bn_tok_emit(w, s->id);
        else {                              /* as llama.cpp: each byte that is itself a token */
            size_t j;
            for (j = 0; j < s->n; j++) {
                int32_t b = v->byte_tok[(unsigned char)w->buf[s->start + j]];
                if (b >= 0) bn_tok_emit(w, b);
            }
        }
        if (s->next < 0) break;
    }
    return 1;
}

/* Byte-level BPE of a text fragment: decode, split, byte-encode each piece, merge. */
static int bn_bpe_fragment(bn_tok_work *w, const unsigned char *t, size_t len) {
    const bitnet_vocab *v = w->v;
    bn_tok_split s;
    size_t i = 0, n = 0, p, start = 0;
    if (!BN__TOK_GROW(w, cp, cp_cap, len) || !BN__TOK_GROW(w, ends, ends_cap, len)) return 0;
    while (i < len) w->cp[n++] = bn_tok_utf8_next(t, len, &i);
    s.cp = w->cp; s.n = n; s.ends = w->ends; s.n_pieces = 0; s.prev_end = 0;
    if (v->pre == BITNET_PRETOK_LLAMA3) bn_tok_split_llama3(&s);
    else bn_tok_split_gpt2(&s);
    for (p = 0; p < s.n_pieces; p++) {
        size_t k, m = 0;
        if (!BN__TOK_GROW(w, buf, buf_cap, 8 * (s.ends[p] - start))) return 0;
        for (k = start; k < s.ends[p]; k++) {
            char u[4];
            size_t ul = bn_tok_utf8_put(w->cp[k], u), j;
            for (j = 0; j < ul; j++) m += bn_tok_utf8_put(v->byte_cp[(unsigned char)u[j]], w->buf + m);
        }
        start = s.ends[p];
        if (!bn_bpe_word(w, m)) return 0;
    }
    return 1;
}

/* SentencePiece of a fragment: optional dummy-prefix space, ' ' -> U+2581, score merging,
   unknown characters as <0xXX> byte tokens. */
static int bn_spm_fragment(bn_tok_work *w, const unsigned char *t, size_t len, int prefix) {
    const bitnet_vocab *v = w->v;
    size_t i, m = 0, n;
    if (!BN__TOK_GROW(w, buf, buf_cap, 3 * (len + 1))) return 0;
    for (i = 0; i < len + (prefix != 0); i++) {
        unsigned char c = prefix ? (i == 0 ? ' ' : t[i - 1]) : t[i];
        if (c == ' ') { w->buf[m++] = (char)0xE2; w->buf[m++] = (char)0x96; w->buf[m++] = (char)0x81; }
        else w->buf[m++] = (char)c;
    }
    if (!BN__TOK_GROW(w, sym, sym_cap, m) || !BN__TOK_GROW(w, heap, heap_cap, 3 * m)) return 0;
    n = bn_tok_symbols(w, m);
    w->heap_n = 0;
    for (i = 1; i < n; i++) bn_spm_add(w, (int32_t)i - 1, (int32_t)i);
    bn_tok_merge(w, 0);
    for (i = 0; n > 0; i = (size_t)w->sym[i].next) {
        const bn_sym *s = &w->sym[i];
        int32_t id = bitnet_vocab_find(v, w->buf + s->start, s->n);
        if (id >= 0) bn_tok_emit(w, id);
        else {
            size_t j;
            for (j = 0; j < s->n; j++) {
                int32_t b = v->byte_tok[(unsigned char)w->buf[s->start + j]];
                if (b < 0) b = v->unk;
                if (b >= 0) bn_tok_emit(w, b);
            }
        }
        if (s->next < 0) break;
    }
    return 1;
}

/* Marks special-token matches as llama.cpp's tokenizer_st_partition: longest tokens first,
   each taking its leftmost non-overlapping occurrences inside still-unmatched text.
   mark[i]: -1 text, -2 inside a match, else the id of a match starting at i. */
static void bn_tok_mark_special(const bitnet_vocab *v, const char *t, size_t len, int parse_special,
                                int32_t *mark) {
    int32_t k;
    size_t i;
    for (i = 0; i < len; i++) mark[i] = -1;
    for (k = 0; k < v->n_special; k++) {
        int32_t id = v->special[k];
        const char *s = v->text + v->off[id];
        size_t sl = v->off[id + 1] - v->off[id] - 1, j;
        if (!parse_special && v->types[id] != BITNET_TOKEN_USER_DEFINED) continue;
        if (sl == 0 || sl > len) continue;
        for (i = 0; i + sl <= len; i++) {
            const char *hit = (const char *)memchr(t + i, s[0], len - sl + 1 - i);
            if (!hit) break;
            i = (size_t)(hit - t);
            if (mark[i] != -1 || mark[i + sl - 1] != -1) continue;
            if (memcmp(t + i, s, sl) != 0) continue;
            for (j = 1; j < sl && mark[i + j] == -1; j++) {}
            if (j < sl) continue;
            mark[i] = id;
            for (j = 1; j < sl; j++) mark[i + j] = -2;
            i += sl - 1;
        }
    }
}

static int bn_tok_has_special(const bitnet_vocab *v, int parse_special) {
    int32_t k;
    if (parse_special) return v->n_special > 0;
    for (k = 0; k < v->n_special; k++)
        if (v->types[v->special[k]] == BITNET_TOKEN_USER_DEFINED) return 1;
    return 0;
}

static int bn_tok_text(bn_tok_work *w, const unsigned char *t, size_t len, int *prev_special) {
    int ok;
    if (len == 0) return 1;
    if (w->v->type == BITNET_VOCAB_BPE) ok = bn_bpe_fragment(w, t, len);
    else ok = bn_spm_fragment(w, t, len, w->v->add_space_prefix && *prev_special);
    *prev_special = 0;
    return ok;
}

static void bn_tok_work_free(bn_tok_work *w) {
    bn_free(&w->a, w->cp); bn_free(&w->a, w->ends); bn_free(&w->a, w->buf);
    bn_free(&w->a, w->sym); bn_free(&w->a, w->heap);
}

/* Tokenizes one piece of text: special-token matches (all of them with parse_special, else the
   user-defined ones) become their ids, the text between them is split and merged. */
static int bn_tok_segment(bn_tok_work *w, const char *text, size_t len, int parse_special, int *prev_special) {
    const unsigned char *t = (const unsigned char *)text;
    int32_t *mark;
    size_t i, start = 0;
    int ok = 1;
    if (!len) return 1;
    if (!bn_tok_has_special(w->v, parse_special)) return bn_tok_text(w, t, len, prev_special);
    if (!(mark = (int32_t *)bn_alloc(&w->a, len * sizeof *mark, 16))) return 0;
    bn_tok_mark_special(w->v, text, len, parse_special, mark);
    for (i = 0; ok && i < len; i++) {
        if (mark[i] < 0) continue;
        ok = bn_tok_text(w, t + start, i - start, prev_special);
        bn_tok_emit(w, mark[i]);
        *prev_special = 1;
        for (start = i + 1; start < len && mark[start] == -2; start++) {}
        i = start - 1;
    }
    if (ok) ok = bn_tok_text(w, t + start, len - start, prev_special);
    bn_free(&w->a, mark);
    return ok;
}

bitnet_status bitnet_tokenize(const bitnet_vocab *v, const char *text, size_t len, int add_special,
                              int parse_special, int32_t *ids, size_t cap, size_t *n_ids) {
    bn_tok_work w;
    int prev_special = 1, ok;
    if (!v || (!text && len) || (!ids && cap) || !n_ids)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_tokenize: NULL vocab, text, ids or n_ids");
    if (len > BN__TOK_MAX_TEXT)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_tokenize: text of %zu bytes is over the limit of %zu",
                       len, BN__TOK_MAX_TEXT);
    memset(&w, 0, sizeof w);
    w.v = v; w.a = v->a; w.ids = ids; w.cap = cap;
    if (add_special && v->add_bos && v->bos >= 0) bn_tok_emit(&w, v->bos);
    ok = bn_tok_segment(&w, text, len, parse_special, &prev_special);
    if (ok && add_special && v->add_eos && v->eos >= 0) bn_tok_emit(&w, v->eos);
    bn_tok_work_free(&w);
    if (!ok) return bn_fail(BITNET_ERR_NOMEM, "bitnet_tokenize: out of memory for %zu bytes of text", len);
    *n_ids = w.n_ids;
    if (w.n_ids > cap)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_tokenize: %zu tokens do not fit in %zu slots", w.n_ids, cap);
    return BITNET_OK;
}

/* ---- building a vocabulary ---- */

void bitnet_vocab_free(bitnet_vocab *v) {
    bitnet_allocator a;
    if (!v) return;
    a = v->a;
    bn_free(&a, v->text); bn_free(&a, v->off); bn_free(&a, v->scores); bn_free(&a, v->types);
    bn_free(&a, v->tok_slots); bn_free(&a, v->merge_slots); bn_free(&a, v->special);
    bn_free(&a, v);
}

static size_t bn_tok_len(const bitnet_vocab *v, int32_t id) { return v->off[id + 1] - v->off[id] - 1; }

static int32_t bn_vocab_check_id(const char *what, int32_t id, int32_t n) {
    if (id >= n || id < -1) {
        bn_log(BITNET_LOG_WARN, "tokenizer: %s id %d is outside the vocabulary of %d tokens; ignored",
               what, (int)id, (int)n);
        return -1;
    }
    return id;
}

static bitnet_status bn_vocab_copy_tokens(bitnet_vocab *v, const bn_vocab_src *src) {
    int32_t i, n = src->n_tokens;
    uint64_t total = 0;
    for (i = 0; i < n; i++) {
        const bn_tok_str *s = &src->tokens[i];
        if ((!s->p && s->n) || memchr(s->p ? s->p : "", 0, s->n))
            return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.tokens[%d]: %s", (int)i,
                           s->p ? "contains a NUL byte" : "missing");
        total += s->n + 1;
        if (total > UINT32_MAX - 1)
            return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.tokens: more than %u bytes of text in all",
                           (unsigned)(UINT32_MAX - 1));
        if (s->n > v->max_piece) v->max_piece = s->n;
    }
    v->text = (char *)bn_alloc(&v->a, (size_t)total, 16);
    v->off = (uint32_t *)bn_alloc(&v->a, ((size_t)n + 1) * sizeof *v->off, 16);
    v->scores = (float *)bn_alloc(&v->a, (size_t)n * sizeof *v->scores, 16);
    v->types = (uint8_t *)bn_alloc(&v->a, (size_t)n, 16);
    if (!v->text || !v->off || !v->scores || !v->types)
        return bn_fail(BITNET_ERR_NOMEM, "tokenizer: out of memory for %d tokens", (int)n);
    total = 0;
    for (i = 0; i < n; i++) {
        int32_t ty = src->types ? src->types[i] : BITNET_TOKEN_NORMAL;
        float sc = src->scores ? src->scores[i] : 0.0f;
        if (ty < 0 || ty > BITNET_TOKEN_BYTE)
            return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.token_type[%d] = %d is not a token type (0..6)",
                           (int)i, (int)ty);
        if (sc != sc) return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.scores[%d] is NaN", (int)i);
        v->off[i] = (uint32_t)total;
        if (src->tokens[i].n) memcpy(v->text + total, src->tokens[i].p, src->tokens[i].n);
        v->text[total + src->tokens[i].n] = 0;
        total += src->tokens[i].n + 1;
        v->types[i] = (uint8_t)ty;
        v->scores[i] = sc;
    }
    v->off[n] = (uint32_t)total;
    return BITNET_OK;
}

static bitnet_status bn_vocab_hash_tokens(bitnet_vocab *v) {
    int32_t i;
    uint32_t cap = bn_tok_pow2((uint64_t)v->n_tokens + (uint64_t)v->n_tokens / 2 + 1);
    if (!(v->tok_slots = (int32_t *)bn_alloc(&v->a, (size_t)cap * sizeof *v->tok_slots, 16)))
        return bn_fail(BITNET_ERR_NOMEM, "tokenizer: out of memory for the token hash table");
    memset(v->tok_slots, 0xff, (size_t)cap * sizeof *v->tok_slots);
    v->tok_mask = cap - 1;
    for (i = 0; i < v->n_tokens; i++) bn_tok_insert(v, i);
    return BITNET_OK;
}

/* Merge i is "left right" (split at the first space after the first byte, as llama.cpp); both
   sides must be tokens. The first of duplicate merges keeps its rank. */
static bitnet_status bn_vocab_hash_merges(bitnet_vocab *v, const bn_tok_str *merges, int32_t n) {
    int32_t i;
    uint32_t cap;
    if (n == 0) return BITNET_OK;
    cap = bn_tok_pow2((uint64_t)n + (uint64_t)n / 2 + 1);     /* load factor <= 2/3 */
    if (!(v->merge_slots = (bn_merge_slot *)bn_alloc(&v->a, (size_t)cap * sizeof *v->merge_slots, 16)))
        return bn_fail(BITNET_ERR_NOMEM, "tokenizer: out of memory for %d merges", (int)n);
    memset(v->merge_slots, 0xff, (size_t)cap * sizeof *v->merge_slots);
    v->merge_mask = cap - 1;
    for (i = 0; i < n; i++) {
        const char *p = merges[i].p, *sp = NULL;
        size_t len = merges[i].n, k;
        int32_t l, r;
        uint64_t key;
        uint32_t h;
        if (p && len > 1) sp = (const char *)memchr(p + 1, ' ', len - 1);
        if (!sp)
            return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.merges[%d] (%zu bytes) has no 'left right' space",
                           (int)i, len);
        k = (size_t)(sp - p);
        l = bitnet_vocab_find(v, p, k);
        r = bitnet_vocab_find(v, sp + 1, len - k - 1);
        if (l < 0 || r < 0)
            return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.merges[%d] '%.*s': '%.*s' is not a token",
                           (int)i, (int)(len > 64 ? 64 : len), p,
                           (int)(l < 0 ? (k > 64 ? 64 : k) : (len - k - 1 > 64 ? 64 : len - k - 1)),
                           l < 0 ? p : sp + 1);
        key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
        for (h = (uint32_t)bn_tok_mix(key) & v->merge_mask; v->merge_slots[h].key != UINT64_MAX;
             h = (h + 1) & v->merge_mask)
            if (v->merge_slots[h].key == key) break;
        if (v->merge_slots[h].key == key) continue;
        v->merge_slots[h].key = key;
        v->merge_slots[h].rank = i;
        v->merge_slots[h].result = -1;
    }
    return BITNET_OK;
}

/* The id each merge produces: the token spelled left + right, or -1. */
static bitnet_status bn_vocab_merge_results(bitnet_vocab *v) {
    uint32_t h;
    char *tmp;
    if (!v->merge_slots) return BITNET_OK;
    if (!(tmp = (char *)bn_alloc(&v->a, v->max_piece + 1, 16)))
        return bn_fail(BITNET_ERR_NOMEM, "tokenizer: out of memory");
    for (h = 0; h <= v->merge_mask; h++) {
        bn_merge_slot *m = &v->merge_slots[h];
        int32_t l, r;
        size_t ln, rn;
        if (m->key == UINT64_MAX) continue;
        l = (int32_t)(m->key >> 32); r = (int32_t)(uint32_t)m->key;
        ln = bn_tok_len(v, l); rn = bn_tok_len(v, r);
        if (ln + rn > v->max_piece) continue;       /* longer than any token: stays -1 */
        memcpy(tmp, v->text + v->off[l], ln);
        memcpy(tmp + ln, v->text + v->off[r], rn);
        m->result = bitnet_vocab_find(v, tmp, ln + rn);
    }
    bn_free(&v->a, tmp);
    return BITNET_OK;
}

static int bn_special_longer(const bitnet_vocab *v, int32_t a, int32_t b) {
    size_t la = bn_tok_len(v, a), lb = bn_tok_len(v, b);
    return la > lb || (la == lb && a < b);
}

/* Control, unknown and user-defined tokens, longest first (insertion sort of a short list
   would be quadratic for hostile files, so merge sort through a scratch copy). */
static bitnet_status bn_vocab_specials(bitnet_vocab *v) {
    int32_t i, n = 0, width;
    int32_t *tmp;
    for (i = 0; i < v->n_tokens; i++)
        if (v->types[i] == BITNET_TOKEN_CONTROL || v->types[i] == BITNET_TOKEN_UNKNOWN ||
            v->types[i] == BITNET_TOKEN_USER_DEFINED) n++;
    if (n == 0) return BITNET_OK;
    v->special = (int32_t *)bn_alloc(&v->a, (size_t)n * sizeof *v->special, 16);
    tmp = (int32_t *)bn_alloc(&v->a, (size_t)n * sizeof *tmp, 16);
    if (!v->special || !tmp) {
        bn_free(&v->a, tmp);
        return bn_fail(BITNET_ERR_NOMEM, "tokenizer: out of memory for %d special tokens", (int)n);
    }
    for (i = 0, n = 0; i < v->n_tokens; i++)
        if (v->types[i] == BITNET_TOKEN_CONTROL || v->types[i] == BITNET_TOKEN_UNKNOWN ||
            v->types[i] == BITNET_TOKEN_USER_DEFINED) v->special[n++] = i;
    for (width = 1; width < n; width *= 2) {
        int32_t lo;
        for (lo = 0; lo < n; lo += 2 * width) {
            int32_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int32_t a = lo, b = mid, k = lo;
            while (a < mid || b < hi)
                tmp[k++] = (b >= hi || (a < mid && !bn_special_longer(v, v->special[b], v->special[a])))
                               ? v->special[a++] : v->special[b++];
        }
        memcpy(v->special, tmp, (size_t)n * sizeof *tmp);
    }
    bn_free(&v->a, tmp);
    v->n_special = n;
    return BITNET_OK;
}

static void bn_vocab_add_eog(bitnet_vocab *v, int32_t id) {
    int k;
    if (id < 0) return;
    for (k = 0; k < v->n_eog; k++) if (v->eog[k] == id) return;
    if (v->n_eog < BN__TOK_MAX_EOG) v->eog[v->n_eog++] = id;
}

static int32_t bn_vocab_find_str(const bitnet_vocab *v, const char *s) { return bitnet_vocab_find(v, s, strlen(s)); }

static void bn_vocab_ends(bitnet_vocab *v) {
    static const char *const eot_texts[] = { "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                            "<|endoftext|>", "<EOT>" };
    size_t k;
    for (k = 0; v->eot < 0 && k < sizeof eot_texts / sizeof eot_texts[0]; k++)
        v->eot = bn_vocab_find_str(v, eot_texts[k]);
    if (v->eom < 0) v->eom = bn_vocab_find_str(v, "<|eom_id|>");
    bn_vocab_add_eog(v, v->eos);
    bn_vocab_add_eog(v, v->eot);
    bn_vocab_add_eog(v, v->eom);
    for (k = 0; k < sizeof eot_texts / sizeof eot_texts[0]; k++) {
        int32_t id = bn_vocab_find_str(v, eot_texts[k]);
        if (id >= 0 && v->types[id] == BITNET_TOKEN_CONTROL) bn_vocab_add_eog(v, id);
    }
}

static int bn_str_has(bn_tok_str s, const char *needle) {
    size_t n = strlen(needle), i;
    for (i = 0; s.p && i + n <= s.n; i++) if (memcmp(s.p + i, needle, n) == 0) return 1;
    return 0;
}

static void bn_vocab_bytes(bitnet_vocab *v) {
    int b;
    for (b = 0; b < 256; b++) {
        if (v->type == BITNET_VOCAB_SPM) {
            char name[7];
            static const char hex[] = "0123456789ABCDEF";
            name[0] = '<'; name[1] = '0'; name[2] = 'x'; name[3] = hex[b >> 4]; name[4] = hex[b & 15];
            name[5] = '>'; name[6] = 0;
            v->byte_tok[b] = bitnet_vocab_find(v, name, 6);
        } else {
            char c = (char)b;
            v->byte_tok[b] = bitnet_vocab_find(v, &c, 1);
        }
    }
}

static bitnet_status bn_vocab_build(bitnet_vocab **out, const bn_vocab_src *src, const bitnet_allocator *alloc) {
    bitnet_allocator a = bn_allocator_or_default(alloc);
    bitnet_vocab *v;
    bitnet_status st;
    if (src->type != BITNET_VOCAB_BPE && src->type != BITNET_VOCAB_SPM)
        return bn_fail(BITNET_ERR_UNSUPPORTED, "tokenizer: unknown vocabulary type %d", (int)src->type);
    if (src->n_tokens <= 0 || src->n_tokens > BN__TOK_MAX_TOKENS)
        return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.tokens: %d tokens (expected 1..%d)",
                       (int)src->n_tokens, BN__TOK_MAX_TOKENS);
    if (src->n_merges < 0 || (src->n_merges && !src->merges))
        return bn_fail(BITNET_ERR_ARGS, "tokenizer: bad merges list");
    if (!(v = (bitnet_vocab *)bn_zalloc(&a, sizeof *v)))
        return bn_fail(BITNET_ERR_NOMEM, "tokenizer: out of memory");
    v->a = a;
    v->type = src->type;
    v->pre = src->type == BITNET_VOCAB_SPM ? BITNET_PRETOK_NONE : src->pre;
    v->n_tokens = src->n_tokens;
    bn_vocab_init_bytes(v);
    if ((st = bn_vocab_copy_tokens(v, src)) != BITNET_OK || (st = bn_vocab_hash_tokens(v)) != BITNET_OK ||
        (st = bn_vocab_hash_merges(v, src->merges, src->n_merges)) != BITNET_OK ||
        (st = bn_vocab_merge_results(v)) != BITNET_OK || (st = bn_vocab_specials(v)) != BITNET_OK) {
        bitnet_vocab_free(v);
        return st;
    }
    bn_vocab_bytes(v);
    v->bos = bn_vocab_check_id("bos", src->bos, v->n_tokens);
    v->eos = bn_vocab_check_id("eos", src->eos, v->n_tokens);
    v->eot = bn_vocab_check_id("eot", src->eot, v->n_tokens);
    v->eom = bn_vocab_check_id("eom", src->eom, v->n_tokens);
    v->unk = bn_vocab_check_id("unknown", src->unk, v->n_tokens);
    v->pad = bn_vocab_check_id("padding", src->pad, v->n_tokens);
    v->ignore_merges = v->pre == BITNET_PRETOK_LLAMA3;
    v->add_bos = src->add_bos >= 0 ? src->add_bos != 0 : v->type == BITNET_VOCAB_SPM || v->pre == BITNET_PRETOK_LLAMA3;
    v->add_eos = src->add_eos > 0;
    v->add_space_prefix = v->type == BITNET_VOCAB_SPM && src->add_space_prefix != 0;
    bn_vocab_ends(v);
    if (bn_str_has(src->chat_template, "BITNET")) v->chat = BITNET_CHAT_BITNET;
    else if (bn_str_has(src->chat_template, "start_header_id")) v->chat = BITNET_CHAT_LLAMA3;
    else if (!src->chat_template.n && bn_vocab_find_str(v, "<|start_header_id|>") >= 0) v->chat = BITNET_CHAT_LLAMA3;
    else v->chat = BITNET_CHAT_AUTO;
    *out = v;
    return BITNET_OK;
}

/* The split rule for tokenizer.ggml.pre (pre == NULL: key absent). */
static bitnet_pretok bn_vocab_pre_rule(bitnet_vocab_type type, const char *pre, size_t len, int32_t n_tokens) {
    static const char *const llama3[] = { "llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral" };
    static const char *const gpt2[] = { "gpt-2", "gpt2", "phi-2", "roberta-bpe" };
    size_t k;
    if (type != BITNET_VOCAB_BPE) return BITNET_PRETOK_NONE;
    if (!pre) {
        if (n_tokens == 128256) return BITNET_PRETOK_LLAMA3;    /* BitNet 2B-4T: no pre key */
        bn_log(BITNET_LOG_WARN, "tokenizer: no tokenizer.ggml.pre; using the gpt-2 split rule");
        return BITNET_PRETOK_GPT2;
    }
    for (k = 0; k < sizeof llama3 / sizeof llama3[0]; k++)
        if (strlen(llama3[k]) == len && memcmp(llama3[k], pre, len) == 0) return BITNET_PRETOK_LLAMA3;
    for (k = 0; k < sizeof gpt2 / sizeof gpt2[0]; k++)
        if (strlen(gpt2[k]) == len && memcmp(gpt2[k], pre, len) == 0) return BITNET_PRETOK_GPT2;
    bn_log(BITNET_LOG_WARN, "tokenizer: tokenizer.ggml.pre '%.*s' is not supported; using the gpt-2 split rule "
           "(some texts may tokenize differently from the reference)", (int)(len > 64 ? 64 : len), pre);
    return BITNET_PRETOK_GPT2;
}

/* ---- reading tokenizer.* keys ---- */

/* An optional array key of `n` elements (n = 0: any count >= 1) whose element type passes `ok`. */
static bitnet_status bn_vocab_arr(const bitnet_gguf *g, const char *key, int required, uint64_t n,
                                  int (*ok)(bitnet_gguf_type), const char *want, const bitnet_gguf_value **out) {
    bitnet_status st = bitnet_gguf_get_arr(g, key, out);
    *(out) = st == BITNET_OK ? *out : NULL;
    if (st == BITNET_ERR_NOT_FOUND && !required) return BITNET_OK;
    if (st == BITNET_ERR_NOT_FOUND) return bn_fail(BITNET_ERR_FORMAT, "tokenizer: key '%s' is missing", key);
    if (st != BITNET_OK) return bn_fail(BITNET_ERR_FORMAT, "tokenizer: key '%s' is not an array", key);
    if (!ok((*out)->arr.elem_type))
        return bn_fail(BITNET_ERR_FORMAT, "tokenizer: key '%s' is an array of %s, expected %s", key,
                       bitnet_gguf_type_name((*out)->arr.elem_type), want);
    if (n && (*out)->arr.count != n)
        return bn_fail(BITNET_ERR_FORMAT, "tokenizer: key '%s' has %llu elements, tokenizer.ggml.tokens has %llu",
                       key, (unsigned long long)(*out)->arr.count, (unsigned long long)n);
    return BITNET_OK;
}

static int bn_vocab_is_str(bitnet_gguf_type t) { return t == BITNET_GGUF_STRING; }
static int bn_vocab_is_float(bitnet_gguf_type t) { return t == BITNET_GGUF_F32 || t == BITNET_GGUF_F64; }
static int bn_vocab_is_int(bitnet_gguf_type t) {
    return t == BITNET_GGUF_U8 || t == BITNET_GGUF_I8 || t == BITNET_GGUF_U16 || t == BITNET_GGUF_I16 ||
           t == BITNET_GGUF_U32 || t == BITNET_GGUF_I32 || t == BITNET_GGUF_U64 || t == BITNET_GGUF_I64;
}

/* A token id key: absent -> def; negative -> -1 (none); not an integer -> error. */
static bitnet_status bn_vocab_id_key(const bitnet_gguf *g, const char *key, int32_t def, int32_t *out) {
    int64_t i;
    bitnet_status st = bitnet_gguf_get_i64(g, key, &i);
    if (st == BITNET_ERR_NOT_FOUND) { *out = def; return BITNET_OK; }
    if (st != BITNET_OK) {
        uint64_t u;
        if (bitnet_gguf_get_u64(g, key, &u) == BITNET_OK) { *out = u > INT32_MAX ? INT32_MAX : (int32_t)u; return BITNET_OK; }
        return bn_fail(BITNET_ERR_FORMAT, "tokenizer: key '%s' is not an integer token id", key);
    }
    *out = i < 0 ? -1 : i > INT32_MAX ? INT32_MAX : (int32_t)i;
    return BITNET_OK;
}

static bitnet_status bn_vocab_bool_key(const bitnet_gguf *g, const char *key, int *out) {
    bitnet_status st = bitnet_gguf_get_bool(g, key, out);
    if (st == BITNET_ERR_NOT_FOUND) { *out = -1; return BITNET_OK; }
    if (st != BITNET_OK) return bn_fail(BITNET_ERR_FORMAT, "tokenizer: key '%s' is not a bool", key);
    return BITNET_OK;
}

static bitnet_status bn_vocab_str_key(const bitnet_gguf *g, const char *key, bn_tok_str *out) {
    bitnet_status st = bitnet_gguf_get_str(g, key, &out->p, &out->n);
    if (st == BITNET_ERR_NOT_FOUND) { out->p = NULL; out->n = 0; return BITNET_OK; }
    if (st != BITNET_OK) return bn_fail(BITNET_ERR_FORMAT, "tokenizer: key '%s' is not a string", key);
    return BITNET_OK;
}

/* Fills the plain arrays of src from the GGUF arrays. */
static bitnet_status bn_vocab_read_arrays(bn_vocab_src *src, const bitnet_gguf_value *toks, const bitnet_gguf_value *sc,
                                          const bitnet_gguf_value *ty, const bitnet_gguf_value *mg,
                                          bn_tok_str *ts, float *scores, int32_t *types, bn_tok_str *ms) {
    int32_t i;
    bitnet_gguf_value e;
    for (i = 0; i < src->n_tokens; i++) {
        if (bitnet_gguf_array_get(toks, (uint64_t)i, &e) != BITNET_OK)
            return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.tokens[%d] cannot be read", (int)i);
        ts[i].p = e.str.ptr; ts[i].n = (size_t)e.str.len;
        if (sc) {
            if (bitnet_gguf_array_get(sc, (uint64_t)i, &e) != BITNET_OK)
                return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.scores[%d] cannot be read", (int)i);
            scores[i] = (float)e.num.f64;
        }
        if (ty) {
            int64_t t;
            if (bitnet_gguf_array_get(ty, (uint64_t)i, &e) != BITNET_OK)
                return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.token_type[%d] cannot be read", (int)i);
            t = (e.type == BITNET_GGUF_U8 || e.type == BITNET_GGUF_U16 || e.type == BITNET_GGUF_U32 ||
                 e.type == BITNET_GGUF_U64) ? (e.num.u64 > 1000 ? 1000 : (int64_t)e.num.u64) : e.num.i64;
            types[i] = t < -1000 ? -1000 : t > 1000 ? 1000 : (int32_t)t;
        }
    }
    for (i = 0; i < src->n_merges; i++) {
        if (bitnet_gguf_array_get(mg, (uint64_t)i, &e) != BITNET_OK)
            return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.merges[%d] cannot be read", (int)i);
        ms[i].p = e.str.ptr; ms[i].n = (size_t)e.str.len;
    }
    src->tokens = ts; src->scores = sc ? scores : NULL; src->types = ty ? types : NULL; src->merges = ms;
    return BITNET_OK;
}

bitnet_status bitnet_vocab_load(bitnet_vocab **out, const bitnet_gguf *g, const bitnet_allocator *alloc) {
    bitnet_allocator a = bn_allocator_or_default(alloc);
    const bitnet_gguf_value *toks, *sc, *ty, *mg;
    bn_vocab_src src;
    bn_tok_str model, pre;
    bn_tok_str *ts = NULL, *ms = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    bitnet_status st;
    int spm;
    if (!out || !g) return bn_fail(BITNET_ERR_ARGS, "bitnet_vocab_load: NULL argument");
    memset(&src, 0, sizeof src);
    if ((st = bn_vocab_str_key(g, "tokenizer.ggml.model", &model)) != BITNET_OK) return st;
    if (!model.p) return bn_fail(BITNET_ERR_FORMAT, "tokenizer: key 'tokenizer.ggml.model' is missing");
    if (model.n == 4 && memcmp(model.p, "gpt2", 4) == 0) src.type = BITNET_VOCAB_BPE;
    else if (model.n == 5 && memcmp(model.p, "llama", 5) == 0) src.type = BITNET_VOCAB_SPM;
    else return bn_fail(BITNET_ERR_UNSUPPORTED, "tokenizer.ggml.model '%.*s' is not supported (gpt2, llama)",
                        (int)(model.n > 64 ? 64 : model.n), model.p);
    spm = src.type == BITNET_VOCAB_SPM;
    if ((st = bn_vocab_arr(g, "tokenizer.ggml.tokens", 1, 0, bn_vocab_is_str, "string", &toks)) != BITNET_OK) return st;
    if (toks->arr.count == 0 || toks->arr.count > BN__TOK_MAX_TOKENS)
        return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.tokens: %llu tokens (expected 1..%d)",
                       (unsigned long long)toks->arr.count, BN__TOK_MAX_TOKENS);
    src.n_tokens = (int32_t)toks->arr.count;
    if ((st = bn_vocab_arr(g, "tokenizer.ggml.scores", 0, toks->arr.count, bn_vocab_is_float, "f32", &sc)) ||
        (st = bn_vocab_arr(g, "tokenizer.ggml.token_type", 0, toks->arr.count, bn_vocab_is_int, "i32", &ty)) ||
        (st = bn_vocab_arr(g, "tokenizer.ggml.merges", !spm, 0, bn_vocab_is_str, "string", &mg)))
        return st;
    if (mg && !spm) {
        if (mg->arr.count > INT32_MAX / 4)
            return bn_fail(BITNET_ERR_FORMAT, "tokenizer.ggml.merges: %llu merges (limit %d)",
                           (unsigned long long)mg->arr.count, INT32_MAX / 4);
        src.n_merges = (int32_t)mg->arr.count;
    }
    if ((st = bn_vocab_str_key(g, "tokenizer.ggml.pre", &pre)) ||
        (st = bn_vocab_str_key(g, "tokenizer.chat_template", &src.chat_template)) ||
        (st = bn_vocab_id_key(g, "tokenizer.ggml.bos_token_id", spm ? 1 : -1, &src.bos)) ||
        (st = bn_vocab_id_key(g, "tokenizer.ggml.eos_token_id", spm ? 2 : -1, &src.eos)) ||
        (st = bn_vocab_id_key(g, "tokenizer.ggml.eot_token_id", -1, &src.eot)) ||
        (st = bn_vocab_id_key(g, "tokenizer.ggml.eom_token_id", -1, &src.eom)) ||
        (st = bn_vocab_id_key(g, "tokenizer.ggml.unknown_token_id", spm ? 0 : -1, &src.unk)) ||
        (st = bn_vocab_id_key(g, "tokenizer.ggml.padding_token_id", -1, &src.pad)) ||
        (st = bn_vocab_bool_key(g, "tokenizer.ggml.add_bos_token", &src.add_bos)) ||
        (st = bn_vocab_bool_key(g, "tokenizer.ggml.add_eos_token", &src.add_eos)) ||
        (st = bn_vocab_bool_key(g, "tokenizer.ggml.add_space_prefix", &src.add_space_prefix)))
        return st;
    src.pre = bn_vocab_pre_rule(src.type, pre.p, pre.n, src.n_tokens);
    ts = (bn_tok_str *)bn_alloc(&a, (size_t)src.n_tokens * sizeof *ts, 16);
    scores = (float *)bn_alloc(&a, (size_t)src.n_tokens * sizeof *scores, 16);
    types = (int32_t *)bn_alloc(&a, (size_t)src.n_tokens * sizeof *types, 16);
    ms = (bn_tok_str *)bn_alloc(&a, ((size_t)src.n_merges + 1) * sizeof *ms, 16);
    if (!ts || !scores || !types || !ms) st = bn_fail(BITNET_ERR_NOMEM, "tokenizer: out of memory for %d tokens", (int)src.n_tokens);
    else st = bn_vocab_read_arrays(&src, toks, sc, ty, mg, ts, scores, types, ms);
    if (st == BITNET_OK) st = bn_vocab_build(out, &src, &a);
    bn_free(&a, ts); bn_free(&a, scores); bn_free(&a, types); bn_free(&a, ms);
    return st;
}

/* ---- queries ---- */

bitnet_vocab_type bitnet_vocab_get_type(const bitnet_vocab *v) { return v ? v->type : (bitnet_vocab_type)0; }
bitnet_pretok bitnet_vocab_pretok(const bitnet_vocab *v) { return v ? v->pre : BITNET_PRETOK_NONE; }
int32_t bitnet_vocab_size(const bitnet_vocab *v) { return v ? v->n_tokens : 0; }
int32_t bitnet_vocab_bos(const bitnet_vocab *v) { return v ? v->bos : -1; }
int32_t bitnet_vocab_eos(const bitnet_vocab *v) { return v ? v->eos : -1; }
int32_t bitnet_vocab_eot(const bitnet_vocab *v) { return v ? v->eot : -1; }
int32_t bitnet_vocab_eom(const bitnet_vocab *v) { return v ? v->eom : -1; }
int32_t bitnet_vocab_unk(const bitnet_vocab *v) { return v ? v->unk : -1; }
int32_t bitnet_vocab_pad(const bitnet_vocab *v) { return v ? v->pad : -1; }
int bitnet_vocab_add_bos(const bitnet_vocab *v) { return v ? v->add_bos : 0; }
size_t bitnet_vocab_max_piece(const bitnet_vocab *v) { return v ? v->max_piece : 0; }
bitnet_chat_format_id bitnet_vocab_chat_format(const bitnet_vocab *v) { return v ? v->chat : BITNET_CHAT_AUTO; }

int bitnet_vocab_is_eog(const bitnet_vocab *v, int32_t id) {
    int k;
    if (!v || id < 0) return 0;
    for (k = 0; k < v->n_eog; k++) if (v->eog[k] == id) return 1;
    return 0;
}

const char *bitnet_vocab_text(const bitnet_vocab *v, int32_t id, size_t *len) {
    if (!v || id < 0 || id >= v->n_tokens) return NULL;
    if (len) *len = bn_tok_len(v, id);
    return v->text + v->off[id];
}

bitnet_token_type bitnet_vocab_token_type(const bitnet_vocab *v, int32_t id) {
    if (!v || id < 0 || id >= v->n_tokens) return BITNET_TOKEN_UNDEFINED;
    return (bitnet_token_type)v->types[id];
}

/* ---- detokenization ---- */

/* Writes the piece minus its first `skip` bytes into buf, as much as fits in cap (buf may be
   NULL with cap 0); returns its full length. */
typedef struct bn_piece_out { char *buf; size_t cap, skip, n; } bn_piece_out;

static void bn_piece_put(bn_piece_out *o, char c) {
    if (o->skip) { o->skip--; return; }
    if (o->n < o->cap) o->buf[o->n] = c;
    o->n++;
}

static size_t bn_token_piece(const bitnet_vocab *v, int32_t id, int special, char *buf, size_t cap, size_t skip) {
    const char *t = v->text + v->off[id];
    size_t n = bn_tok_len(v, id), i = 0;
    int type = v->types[id];
    bn_piece_out o;
    o.buf = buf; o.cap = cap; o.skip = skip; o.n = 0;
    if (type == BITNET_TOKEN_USER_DEFINED || ((type == BITNET_TOKEN_CONTROL || type == BITNET_TOKEN_UNKNOWN) && special)) {
        for (i = 0; i < n; i++) bn_piece_put(&o, t[i]);
    } else if (type == BITNET_TOKEN_BYTE && v->type == BITNET_VOCAB_SPM) {
        unsigned hv = 0;
        for (i = 3; n == 6 && i < 5; i++) {
            char c = t[i];
            hv = hv * 16 + (unsigned)(c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
                                      c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0);
        }
        bn_piece_put(&o, (char)hv);
    } else if (type == BITNET_TOKEN_NORMAL || type == BITNET_TOKEN_BYTE) {
        while (i < n) {
            if (v->type == BITNET_VOCAB_SPM) {
                if (i + 3 <= n && memcmp(t + i, "\xE2\x96\x81", 3) == 0) { bn_piece_put(&o, ' '); i += 3; }
                else bn_piece_put(&o, t[i++]);
            } else {
                size_t k = i;
                uint32_t cp = bn_tok_utf8_next((const unsigned char *)t, n, &i);
                if (cp < 324 && v->cp_byte[cp] >= 0 && i - k == (cp < 0x80 ? 1u : 2u))
                    bn_piece_put(&o, (char)v->cp_byte[cp]);
                else
                    for (; k < i; k++) bn_piece_put(&o, t[k]);
            }
        }
    }
    return o.n;
}

bitnet_status bitnet_token_piece(const bitnet_vocab *v, int32_t id, int special, char *buf, size_t cap,
                                 size_t *len) {
    size_t n;
    if (!v || !len || (!buf && cap)) return bn_fail(BITNET_ERR_ARGS, "bitnet_token_piece: NULL argument");
    if (id < 0 || id >= v->n_tokens)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_token_piece: token %d is outside the vocabulary of %d",
                       (int)id, (int)v->n_tokens);
    n = bn_token_piece(v, id, special, buf, cap, 0);
    *len = n;
    if (n > cap) return bn_fail(BITNET_ERR_ARGS, "bitnet_token_piece: piece of %zu bytes, buffer of %zu", n, cap);
    return BITNET_OK;
}

/* 1 when the piece of `id` starts with a space (the SPM dummy prefix). */
static int bn_piece_space_first(const bitnet_vocab *v, int32_t id, int special) {
    char c = 0;
    return bn_token_piece(v, id, special, &c, 1, 0) > 0 && c == ' ';
}

bitnet_status bitnet_detokenize(const bitnet_vocab *v, const int32_t *ids, size_t n, int flags, char *out,
                                size_t cap, size_t *len) {
    size_t i, m = 0;
    int started = 0, sp = flags & BITNET_DETOK_SPECIAL;
    if (!v || !len || (!ids && n) || (!out && cap))
        return bn_fail(BITNET_ERR_ARGS, "bitnet_detokenize: NULL argument");
    for (i = 0; i < n; i++) {
        size_t pn, skip = 0;
        if (ids[i] < 0 || ids[i] >= v->n_tokens)
            return bn_fail(BITNET_ERR_ARGS, "bitnet_detokenize: ids[%zu] = %d is outside the vocabulary of %d",
                           i, (int)ids[i], (int)v->n_tokens);
        if (i == 0 && ids[0] == v->bos && !sp) continue;
        if ((pn = bn_token_piece(v, ids[i], sp, NULL, 0, 0)) == 0) continue;
        if (!started && (flags & BITNET_DETOK_STRIP_SPACE) && v->add_space_prefix)
            skip = (size_t)bn_piece_space_first(v, ids[i], sp);
        started = 1;
        bn_token_piece(v, ids[i], sp, out + m, m < cap ? cap - m : 0, skip);
        m += pn - skip;
    }
    *len = m;
    if (m > cap) return bn_fail(BITNET_ERR_ARGS, "bitnet_detokenize: %zu bytes do not fit in %zu", m, cap);
    return BITNET_OK;
}

void bitnet_detok_init(bitnet_detok *d, const bitnet_vocab *v, int flags) {
    memset(d, 0, sizeof *d);
    d->vocab = v;
    d->flags = flags;
}

static size_t bn_detok_fffd(char *out) { out[0] = (char)0xEF; out[1] = (char)0xBF; out[2] = (char)0xBD; return 3; }

/* One byte through the UTF-8 validator; returns the bytes written (at most 6). */
static size_t bn_detok_byte(bitnet_detok *d, unsigned char c, char *out) {
    size_t n = 0;
    if (d->n_pending) {
        unsigned char lo = 0x80, hi = 0xBF, lead = d->pending[0];
        if (d->n_pending == 1) {
            if (lead == 0xE0) lo = 0xA0;
            else if (lead == 0xED) hi = 0x9F;
            else if (lead == 0xF0) lo = 0x90;
            else if (lead == 0xF4) hi = 0x8F;
        }
        if (c >= lo && c <= hi) {
            d->pending[d->n_pending++] = c;
            if (d->n_pending == d->need) {
                memcpy(out, d->pending, (size_t)d->need);
                n = (size_t)d->need;
                d->n_pending = 0;
            }
            return n;
        }
        n = bn_detok_fffd(out);
        d->n_pending = 0;
    }
    if (c < 0x80) { out[n++] = (char)c; return n; }
    if (c >= 0xC2 && c <= 0xDF) d->need = 2;
    else if (c >= 0xE0 && c <= 0xEF) d->need = 3;
    else if (c >= 0xF0 && c <= 0xF4) d->need = 4;
    else return n + bn_detok_fffd(out + n);
    d->pending[0] = c;
    d->n_pending = 1;
    return n;
}

bitnet_status bitnet_detok_push(bitnet_detok *d, int32_t id, char *out, size_t cap, size_t *n_out) {
    const bitnet_vocab *v;
    size_t p, need, i = 0, m = 0;
    const char *piece;
    if (!d || !d->vocab || !n_out || (!out && cap)) return bn_fail(BITNET_ERR_ARGS, "bitnet_detok_push: NULL argument");
    v = d->vocab;
    *n_out = 0;
    if (id < 0 || id >= v->n_tokens)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_detok_push: token %d is outside the vocabulary of %d",
                       (int)id, (int)v->n_tokens);
    p = bn_token_piece(v, id, d->flags & BITNET_DETOK_SPECIAL, NULL, 0, 0);
    need = 3 * (p + 4);
    if (cap < need) {
        *n_out = need;
        return bn_fail(BITNET_ERR_ARGS, "bitnet_detok_push: buffer of %zu bytes, need %zu", cap, need);
    }
    /* the piece goes at the end of out and is consumed from there: output stays behind it */
    piece = out + cap - p;
    bn_token_piece(v, id, d->flags & BITNET_DETOK_SPECIAL, out + cap - p, p, 0);
    if (!d->started && p > 0) {
        d->started = 1;
        if ((d->flags & BITNET_DETOK_STRIP_SPACE) && v->add_space_prefix && piece[0] == ' ') i = 1;
    }
    for (; i < p; i++) m += bn_detok_byte(d, (unsigned char)piece[i], out + m);
    *n_out = m;
    return BITNET_OK;
}

size_t bitnet_detok_flush(bitnet_detok *d, char *out, size_t cap) {
    if (!d || !d->n_pending || !out || cap < 3) return 0;
    d->n_pending = 0;
    return bn_detok_fffd(out);
}

/* ---- chat prompts ---- */

/* The prompt text goes to `p` (up to cap bytes); with `marker` set, each byte is flagged there as
   the template's own (1) or message text (0), for bitnet_chat_tokenize. */
typedef struct bn_chat_out { char *p; unsigned char *marker; size_t cap, n; } bn_chat_out;

static void bn_chat_emit(bn_chat_out *o, const char *s, size_t n, int is_marker) {
    size_t fit = o->n >= o->cap ? 0 : o->n + n <= o->cap ? n : o->cap - o->n;
    if (fit) {
        memcpy(o->p + o->n, s, fit);
        if (o->marker) memset(o->marker + o->n, is_marker, fit);
    }
    o->n += n;
}

static void bn_chat_text(bn_chat_out *o, const char *s, size_t n) { bn_chat_emit(o, s, n, 0); }
static void bn_chat_mark(bn_chat_out *o, const char *s) { bn_chat_emit(o, s, strlen(s), 1); }

static int bn_chat_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static bitnet_status bn_chat_resolve(const bitnet_vocab *v, bitnet_chat_format_id *format, const char *fn) {
    if (*format == BITNET_CHAT_AUTO) *format = v->chat;
    if (*format != BITNET_CHAT_BITNET && *format != BITNET_CHAT_LLAMA3)
        return bn_fail(BITNET_ERR_UNSUPPORTED, "%s: no known chat format (template or vocabulary); pass "
                       "BITNET_CHAT_BITNET or BITNET_CHAT_LLAMA3", fn);
    return BITNET_OK;
}

/* Writes the conversation in `format` (resolved) to o. Role names and contents are message text;
   everything else is the template's. */
static bitnet_status bn_chat_render(bitnet_chat_format_id format, const bitnet_chat_message *msgs, size_t n,
                                    int add_assistant, bn_chat_out *o, const char *fn) {
    size_t i;
    bn_chat_mark(o, "<|begin_of_text|>");
    for (i = 0; i < n; i++) {
        const char *role = msgs[i].role, *c = msgs[i].content;
        size_t cl;
        if (!role || !c) return bn_fail(BITNET_ERR_ARGS, "%s: message %zu has a NULL role or content", fn, i);
        cl = strlen(c);
        if (format == BITNET_CHAT_BITNET) {
            /* "User: " is plain text in this template: the role and the content are one text run */
            if (role[0]) {
                char first = role[0] >= 'a' && role[0] <= 'z' ? (char)(role[0] - 32) : role[0];
                bn_chat_text(o, &first, 1);
                bn_chat_text(o, role + 1, strlen(role + 1));
            }
            bn_chat_text(o, ": ", 2);
            bn_chat_text(o, c, cl);
        } else {
            while (cl && bn_chat_space(*c)) { c++; cl--; }
            while (cl && bn_chat_space(c[cl - 1])) cl--;
            bn_chat_mark(o, "<|start_header_id|>");
            bn_chat_text(o, role, strlen(role));
            bn_chat_mark(o, "<|end_header_id|>");
            bn_chat_text(o, "\n\n", 2);
            bn_chat_text(o, c, cl);
        }
        bn_chat_mark(o, "<|eot_id|>");
    }
    if (add_assistant) {
        if (format == BITNET_CHAT_BITNET) {
            bn_chat_text(o, "Assistant: ", 11);
        } else {
            bn_chat_mark(o, "<|start_header_id|>");
            bn_chat_text(o, "assistant", 9);
            bn_chat_mark(o, "<|end_header_id|>");
            bn_chat_text(o, "\n\n", 2);
        }
    }
    return BITNET_OK;
}

bitnet_status bitnet_chat_format(const bitnet_vocab *v, bitnet_chat_format_id format,
                                 const bitnet_chat_message *msgs, size_t n, int add_assistant,
                                 char *out, size_t cap, size_t *len) {
    bn_chat_out o;
    bitnet_status st;
    if (!len || (!out && cap) || (!msgs && n) || (!v && format == BITNET_CHAT_AUTO))
        return bn_fail(BITNET_ERR_ARGS, "bitnet_chat_format: NULL argument");
    if ((st = bn_chat_resolve(v, &format, "bitnet_chat_format")) != BITNET_OK) return st;
    memset(&o, 0, sizeof o);
    o.p = out; o.cap = cap;
    if ((st = bn_chat_render(format, msgs, n, add_assistant, &o, "bitnet_chat_format")) != BITNET_OK) return st;
    *len = o.n;
    if (o.n + 1 > cap) return bn_fail(BITNET_ERR_ARGS, "bitnet_chat_format: %zu bytes do not fit in %zu", o.n + 1, cap);
    out[o.n] = 0;
    return BITNET_OK;
}

/* Tokenizes the rendered text run by run: the template's markers with special tokens parsed,
   message text without, carrying the SPM prefix state across runs as bitnet_tokenize does. */
static int bn_chat_tokenize_runs(bn_tok_work *w, const char *text, const unsigned char *marker, size_t len) {
    size_t start = 0, i;
    int prev_special = 1;
    while (start < len) {
        for (i = start; i < len && marker[i] == marker[start]; i++) {}
        if (!bn_tok_segment(w, text + start, i - start, marker[start], &prev_special)) return 0;
        start = i;
    }
    return 1;
}

bitnet_status bitnet_chat_tokenize(const bitnet_vocab *v, bitnet_chat_format_id format,
                                   const bitnet_chat_message *msgs, size_t n, int add_assistant,
                                   int32_t *ids, size_t cap, size_t *n_ids) {
    bn_chat_out o;
    bn_tok_work w;
    bitnet_status st;
    int ok;
    if (!v || !n_ids || (!ids && cap) || (!msgs && n))
        return bn_fail(BITNET_ERR_ARGS, "bitnet_chat_tokenize: NULL argument");
    if ((st = bn_chat_resolve(v, &format, "bitnet_chat_tokenize")) != BITNET_OK) return st;
    memset(&o, 0, sizeof o);
    if ((st = bn_chat_render(format, msgs, n, add_assistant, &o, "bitnet_chat_tokenize")) != BITNET_OK) return st;
    if (o.n > BN__TOK_MAX_TEXT)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_chat_tokenize: conversation of %zu bytes is over the limit of %zu",
                       o.n, BN__TOK_MAX_TEXT);
    o.cap = o.n;
    o.p = (char *)bn_alloc(&v->a, o.n + 1, 16);
    o.marker = (unsigned char *)bn_alloc(&v->a, o.n + 1, 16);
    memset(&w, 0, sizeof w);
    w.v = v; w.a = v->a; w.ids = ids; w.cap = cap;
    ok = o.p && o.marker;
    if (ok) {
        o.n = 0;
        bn_chat_render(format, msgs, n, add_assistant, &o, "bitnet_chat_tokenize");
        ok = bn_chat_tokenize_runs(&w, o.p, o.marker, o.n);
    }
    bn_free(&v->a, o.p);
    bn_free(&v->a, o.marker);
    bn_tok_work_free(&w);
    if (!ok) return bn_fail(BITNET_ERR_NOMEM, "bitnet_chat_tokenize: out of memory for %zu bytes of conversation", o.cap);
    *n_ids = w.n_ids;
    if (w.n_ids > cap)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_chat_tokenize: %zu tokens do not fit in %zu slots", w.n_ids, cap);
    return BITNET_OK;
}

/* ---- Unicode classes (generated data last) ---- */

/* BEGIN generated by tools/gen_unicode.py: do not edit */
/* Unicode 15.0.0 classes (1 letter, 2 number, 4 whitespace) as sorted inclusive ranges
   {first, last, class}; 806 ranges. */
static const bn_unicode_range bn_unicode_ranges[806] = {
    {0x9,0xD,4}, {0x20,0x20,4}, {0x30,0x39,2}, {0x41,0x5A,1}, {0x61,0x7A,1}, {0x85,0x85,4},
    {0xA0,0xA0,4}, {0xAA,0xAA,1}, {0xB2,0xB3,2}, {0xB5,0xB5,1}, {0xB9,0xB9,2}, {0xBA,0xBA,1},
    {0xBC,0xBE,2}, {0xC0,0xD6,1}, {0xD8,0xF6,1}, {0xF8,0x2C1,1}, {0x2C6,0x2D1,1}, {0x2E0,0x2E4,1},
    {0x2EC,0x2EC,1}, {0x2EE,0x2EE,1}, {0x370,0x374,1}, {0x376,0x377,1}, {0x37A,0x37D,1},
    {0x37F,0x37F,1}, {0x386,0x386,1}, {0x388,0x38A,1}, {0x38C,0x38C,1}, {0x38E,0x3A1,1},
    {0x3A3,0x3F5,1}, {0x3F7,0x481,1}, {0x48A,0x52F,1}, {0x531,0x556,1}, {0x559,0x559,1},
    {0x560,0x588,1}, {0x5D0,0x5EA,1}, {0x5EF,0x5F2,1}, {0x620,0x64A,1}, {0x660,0x669,2},
    {0x66E,0x66F,1}, {0x671,0x6D3,1}, {0x6D5,0x6D5,1}, {0x6E5,0x6E6,1}, {0x6EE,0x6EF,1},
    {0x6F0,0x6F9,2}, {0x6FA,0x6FC,1}, {0x6FF,0x6FF,1}, {0x710,0x710,1}, {0x712,0x72F,1},
    {0x74D,0x7A5,1}, {0x7B1,0x7B1,1}, {0x7C0,0x7C9,2}, {0x7CA,0x7EA,1}, {0x7F4,0x7F5,1},
    {0x7FA,0x7FA,1}, {0x800,0x815,1}, {0x81A,0x81A,1}, {0x824,0x824,1}, {0x828,0x828,1},
    {0x840,0x858,1}, {0x860,0x86A,1}, {0x870,0x887,1}, {0x889,0x88E,1}, {0x8A0,0x8C9,1},
    {0x904,0x939,1}, {0x93D,0x93D,1}, {0x950,0x950,1}, {0x958,0x961,1}, {0x966,0x96F,2},
    {0x971,0x980,1}, {0x985,0x98C,1}, {0x98F,0x990,1}, {0x993,0x9A8,1}, {0x9AA,0x9B0,1},
    {0x9B2,0x9B2,1}, {0x9B6,0x9B9,1}, {0x9BD,0x9BD,1}, {0x9CE,0x9CE,1}, {0x9DC,0x9DD,1},
    {0x9DF,0x9E1,1}, {0x9E6,0x9EF,2}, {0x9F0,0x9F1,1}, {0x9F4,0x9F9,2}, {0x9FC,0x9FC,1},
    {0xA05,0xA0A,1}, {0xA0F,0xA10,1}, {0xA13,0xA28,1}, {0xA2A,0xA30,1}, {0xA32,0xA33,1},
    {0xA35,0xA36,1}, {0xA38,0xA39,1}, {0xA59,0xA5C,1}, {0xA5E,0xA5E,1}, {0xA66,0xA6F,2},
    {0xA72,0xA74,1}, {0xA85,0xA8D,1}, {0xA8F,0xA91,1}, {0xA93,0xAA8,1}, {0xAAA,0xAB0,1},
    {0xAB2,0xAB3,1}, {0xAB5,0xAB9,1}, {0xABD,0xABD,1}, {0xAD0,0xAD0,1}, {0xAE0,0xAE1,1},
    {0xAE6,0xAEF,2}, {0xAF9,0xAF9,1}, {0xB05,0xB0C,1}, {0xB0F,0xB10,1}, {0xB13,0xB28,1},
    {0xB2A,0xB30,1}, {0xB32,0xB33,1}, {0xB35,0xB39,1}, {0xB3D,0xB3D,1}, {0xB5C,0xB5D,1},
    {0xB5F,0xB61,1}, {0xB66,0xB6F,2}, {0xB71,0xB71,1}, {0xB72,0xB77,2}, {0xB83,0xB83,1},
    {0xB85,0xB8A,1}, {0xB8E,0xB90,1}, {0xB92,0xB95,1}, {0xB99,0xB9A,1}, {0xB9C,0xB9C,1},
    {0xB9E,0xB9F,1}, {0xBA3,0xBA4,1}, {0xBA8,0xBAA,1}, {0xBAE,0xBB9,1}, {0xBD0,0xBD0,1},
    {0xBE6,0xBF2,2}, {0xC05,0xC0C,1}, {0xC0E,0xC10,1}, {0xC12,0xC28,1}, {0xC2A,0xC39,1},
    {0xC3D,0xC3D,1}, {0xC58,0xC5A,1}, {0xC5D,0xC5D,1}, {0xC60,0xC61,1}, {0xC66,0xC6F,2},
    {0xC78,0xC7E,2}, {0xC80,0xC80,1}, {0xC85,0xC8C,1}, {0xC8E,0xC90,1}, {0xC92,0xCA8,1},
    {0xCAA,0xCB3,1}, {0xCB5,0xCB9,1}, {0xCBD,0xCBD,1}, {0xCDD,0xCDE,1}, {0xCE0,0xCE1,1},
    {0xCE6,0xCEF,2}, {0xCF1,0xCF2,1}, {0xD04,0xD0C,1}, {0xD0E,0xD10,1}, {0xD12,0xD3A,1},
    {0xD3D,0xD3D,1}, {0xD4E,0xD4E,1}, {0xD54,0xD56,1}, {0xD58,0xD5E,2}, {0xD5F,0xD61,1},
    {0xD66,0xD78,2}, {0xD7A,0xD7F,1}, {0xD85,0xD96,1}, {0xD9A,0xDB1,1}, {0xDB3,0xDBB,1},
    {0xDBD,0xDBD,1}, {0xDC0,0xDC6,1}, {0xDE6,0xDEF,2}, {0xE01,0xE30,1}, {0xE32,0xE33,1},
    {0xE40,0xE46,1}, {0xE50,0xE59,2}, {0xE81,0xE82,1}, {0xE84,0xE84,1}, {0xE86,0xE8A,1},
    {0xE8C,0xEA3,1}, {0xEA5,0xEA5,1}, {0xEA7,0xEB0,1}, {0xEB2,0xEB3,1}, {0xEBD,0xEBD,1},
    {0xEC0,0xEC4,1}, {0xEC6,0xEC6,1}, {0xED0,0xED9,2}, {0xEDC,0xEDF,1}, {0xF00,0xF00,1},
    {0xF20,0xF33,2}, {0xF40,0xF47,1}, {0xF49,0xF6C,1}, {0xF88,0xF8C,1}, {0x1000,0x102A,1},
    {0x103F,0x103F,1}, {0x1040,0x1049,2}, {0x1050,0x1055,1}, {0x105A,0x105D,1}, {0x1061,0x1061,1},
    {0x1065,0x1066,1}, {0x106E,0x1070,1}, {0x1075,0x1081,1}, {0x108E,0x108E,1}, {0x1090,0x1099,2},
    {0x10A0,0x10C5,1}, {0x10C7,0x10C7,1}, {0x10CD,0x10CD,1}, {0x10D0,0x10FA,1}, {0x10FC,0x1248,1},
    {0x124A,0x124D,1}, {0x1250,0x1256,1}, {0x1258,0x1258,1}, {0x125A,0x125D,1}, {0x1260,0x1288,1},
    {0x128A,0x128D,1}, {0x1290,0x12B0,1}, {0x12B2,0x12B5,1}, {0x12B8,0x12BE,1}, {0x12C0,0x12C0,1},
    {0x12C2,0x12C5,1}, {0x12C8,0x12D6,1}, {0x12D8,0x1310,1}, {0x1312,0x1315,1}, {0x1318,0x135A,1},
    {0x1369,0x137C,2}, {0x1380,0x138F,1}, {0x13A0,0x13F5,1}, {0x13F8,0x13FD,1}, {0x1401,0x166C,1},
    {0x166F,0x167F,1}, {0x1680,0x1680,4}, {0x1681,0x169A,1}, {0x16A0,0x16EA,1}, {0x16EE,0x16F0,2},
    {0x16F1,0x16F8,1}, {0x1700,0x1711,1}, {0x171F,0x1731,1}, {0x1740,0x1751,1}, {0x1760,0x176C,1},
    {0x176E,0x1770,1}, {0x1780,0x17B3,1}, {0x17D7,0x17D7,1}, {0x17DC,0x17DC,1}, {0x17E0,0x17E9,2},
    {0x17F0,0x17F9,2}, {0x1810,0x1819,2}, {0x1820,0x1878,1}, {0x1880,0x1884,1}, {0x1887,0x18A8,1},
    {0x18AA,0x18AA,1}, {0x18B0,0x18F5,1}, {0x1900,0x191E,1}, {0x1946,0x194F,2}, {0x1950,0x196D,1},
    {0x1970,0x1974,1}, {0x1980,0x19AB,1}, {0x19B0,0x19C9,1}, {0x19D0,0x19DA,2}, {0x1A00,0x1A16,1},
    {0x1A20,0x1A54,1}, {0x1A80,0x1A89,2}, {0x1A90,0x1A99,2}, {0x1AA7,0x1AA7,1}, {0x1B05,0x1B33,1},
    {0x1B45,0x1B4C,1}, {0x1B50,0x1B59,2}, {0x1B83,0x1BA0,1}, {0x1BAE,0x1BAF,1}, {0x1BB0,0x1BB9,2},
    {0x1BBA,0x1BE5,1}, {0x1C00,0x1C23,1}, {0x1C40,0x1C49,2}, {0x1C4D,0x1C4F,1}, {0x1C50,0x1C59,2},
    {0x1C5A,0x1C7D,1}, {0x1C80,0x1C88,1}, {0x1C90,0x1CBA,1}, {0x1CBD,0x1CBF,1}, {0x1CE9,0x1CEC,1},
    {0x1CEE,0x1CF3,1}, {0x1CF5,0x1CF6,1}, {0x1CFA,0x1CFA,1}, {0x1D00,0x1DBF,1}, {0x1E00,0x1F15,1},
    {0x1F18,0x1F1D,1}, {0x1F20,0x1F45,1}, {0x1F48,0x1F4D,1}, {0x1F50,0x1F57,1}, {0x1F59,0x1F59,1},
    {0x1F5B,0x1F5B,1}, {0x1F5D,0x1F5D,1}, {0x1F5F,0x1F7D,1}, {0x1F80,0x1FB4,1}, {0x1FB6,0x1FBC,1},
    {0x1FBE,0x1FBE,1}, {0x1FC2,0x1FC4,1}, {0x1FC6,0x1FCC,1}, {0x1FD0,0x1FD3,1}, {0x1FD6,0x1FDB,1},
    {0x1FE0,0x1FEC,1}, {0x1FF2,0x1FF4,1}, {0x1FF6,0x1FFC,1}, {0x2000,0x200A,4}, {0x2028,0x2029,4},
    {0x202F,0x202F,4}, {0x205F,0x205F,4}, {0x2070,0x2070,2}, {0x2071,0x2071,1}, {0x2074,0x2079,2},
    {0x207F,0x207F,1}, {0x2080,0x2089,2}, {0x2090,0x209C,1}, {0x2102,0x2102,1}, {0x2107,0x2107,1},
    {0x210A,0x2113,1}, {0x2115,0x2115,1}, {0x2119,0x211D,1}, {0x2124,0x2124,1}, {0x2126,0x2126,1},
    {0x2128,0x2128,1}, {0x212A,0x212D,1}, {0x212F,0x2139,1}, {0x213C,0x213F,1}, {0x2145,0x2149,1},
    {0x214E,0x214E,1}, {0x2150,0x2182,2}, {0x2183,0x2184,1}, {0x2185,0x2189,2}, {0x2460,0x249B,2},
    {0x24EA,0x24FF,2}, {0x2776,0x2793,2}, {0x2C00,0x2CE4,1}, {0x2CEB,0x2CEE,1}, {0x2CF2,0x2CF3,1},
    {0x2CFD,0x2CFD,2}, {0x2D00,0x2D25,1}, {0x2D27,0x2D27,1}, {0x2D2D,0x2D2D,1}, {0x2D30,0x2D67,1},
    {0x2D6F,0x2D6F,1}, {0x2D80,0x2D96,1}, {0x2DA0,0x2DA6,1}, {0x2DA8,0x2DAE,1}, {0x2DB0,0x2DB6,1},
    {0x2DB8,0x2DBE,1}, {0x2DC0,0x2DC6,1}, {0x2DC8,0x2DCE,1}, {0x2DD0,0x2DD6,1}, {0x2DD8,0x2DDE,1},
    {0x2E2F,0x2E2F,1}, {0x3000,0x3000,4}, {0x3005,0x3006,1}, {0x3007,0x3007,2}, {0x3021,0x3029,2},
    {0x3031,0x3035,1}, {0x3038,0x303A,2}, {0x303B,0x303C,1}, {0x3041,0x3096,1}, {0x309D,0x309F,1},
    {0x30A1,0x30FA,1}, {0x30FC,0x30FF,1}, {0x3105,0x312F,1}, {0x3131,0x318E,1}, {0x3192,0x3195,2},
    {0x31A0,0x31BF,1}, {0x31F0,0x31FF,1}, {0x3220,0x3229,2}, {0x3248,0x324F,2}, {0x3251,0x325F,2},
    {0x3280,0x3289,2}, {0x32B1,0x32BF,2}, {0x3400,0x4DBF,1}, {0x4E00,0xA48C,1}, {0xA4D0,0xA4FD,1},
    {0xA500,0xA60C,1}, {0xA610,0xA61F,1}, {0xA620,0xA629,2}, {0xA62A,0xA62B,1}, {0xA640,0xA66E,1},
    {0xA67F,0xA69D,1}, {0xA6A0,0xA6E5,1}, {0xA6E6,0xA6EF,2}, {0xA717,0xA71F,1}, {0xA722,0xA788,1},
    {0xA78B,0xA7CA,1}, {0xA7D0,0xA7D1,1}, {0xA7D3,0xA7D3,1}, {0xA7D5,0xA7D9,1}, {0xA7F2,0xA801,1},
    {0xA803,0xA805,1}, {0xA807,0xA80A,1}, {0xA80C,0xA822,1}, {0xA830,0xA835,2}, {0xA840,0xA873,1},
    {0xA882,0xA8B3,1}, {0xA8D0,0xA8D9,2}, {0xA8F2,0xA8F7,1}, {0xA8FB,0xA8FB,1}, {0xA8FD,0xA8FE,1},
    {0xA900,0xA909,2}, {0xA90A,0xA925,1}, {0xA930,0xA946,1}, {0xA960,0xA97C,1}, {0xA984,0xA9B2,1},
    {0xA9CF,0xA9CF,1}, {0xA9D0,0xA9D9,2}, {0xA9E0,0xA9E4,1}, {0xA9E6,0xA9EF,1}, {0xA9F0,0xA9F9,2},
    {0xA9FA,0xA9FE,1}, {0xAA00,0xAA28,1}, {0xAA40,0xAA42,1}, {0xAA44,0xAA4B,1}, {0xAA50,0xAA59,2},
    {0xAA60,0xAA76,1}, {0xAA7A,0xAA7A,1}, {0xAA7E,0xAAAF,1}, {0xAAB1,0xAAB1,1}, {0xAAB5,0xAAB6,1},
    {0xAAB9,0xAABD,1}, {0xAAC0,0xAAC0,1}, {0xAAC2,0xAAC2,1}, {0xAADB,0xAADD,1}, {0xAAE0,0xAAEA,1},
    {0xAAF2,0xAAF4,1}, {0xAB01,0xAB06,1}, {0xAB09,0xAB0E,1}, {0xAB11,0xAB16,1}, {0xAB20,0xAB26,1},
    {0xAB28,0xAB2E,1}, {0xAB30,0xAB5A,1}, {0xAB5C,0xAB69,1}, {0xAB70,0xABE2,1}, {0xABF0,0xABF9,2},
    {0xAC00,0xD7A3,1}, {0xD7B0,0xD7C6,1}, {0xD7CB,0xD7FB,1}, {0xF900,0xFA6D,1}, {0xFA70,0xFAD9,1},
    {0xFB00,0xFB06,1}, {0xFB13,0xFB17,1}, {0xFB1D,0xFB1D,1}, {0xFB1F,0xFB28,1}, {0xFB2A,0xFB36,1},
    {0xFB38,0xFB3C,1}, {0xFB3E,0xFB3E,1}, {0xFB40,0xFB41,1}, {0xFB43,0xFB44,1}, {0xFB46,0xFBB1,1},
    {0xFBD3,0xFD3D,1}, {0xFD50,0xFD8F,1}, {0xFD92,0xFDC7,1}, {0xFDF0,0xFDFB,1}, {0xFE70,0xFE74,1},
    {0xFE76,0xFEFC,1}, {0xFF10,0xFF19,2}, {0xFF21,0xFF3A,1}, {0xFF41,0xFF5A,1}, {0xFF66,0xFFBE,1},
    {0xFFC2,0xFFC7,1}, {0xFFCA,0xFFCF,1}, {0xFFD2,0xFFD7,1}, {0xFFDA,0xFFDC,1}, {0x10000,0x1000B,1},
    {0x1000D,0x10026,1}, {0x10028,0x1003A,1}, {0x1003C,0x1003D,1}, {0x1003F,0x1004D,1},
    {0x10050,0x1005D,1}, {0x10080,0x100FA,1}, {0x10107,0x10133,2}, {0x10140,0x10178,2},
    {0x1018A,0x1018B,2}, {0x10280,0x1029C,1}, {0x102A0,0x102D0,1}, {0x102E1,0x102FB,2},
    {0x10300,0x1031F,1}, {0x10320,0x10323,2}, {0x1032D,0x10340,1}, {0x10341,0x10341,2},
    {0x10342,0x10349,1}, {0x1034A,0x1034A,2}, {0x10350,0x10375,1}, {0x10380,0x1039D,1},
    {0x103A0,0x103C3,1}, {0x103C8,0x103CF,1}, {0x103D1,0x103D5,2}, {0x10400,0x1049D,1},
    {0x104A0,0x104A9,2}, {0x104B0,0x104D3,1}, {0x104D8,0x104FB,1}, {0x10500,0x10527,1},
    {0x10530,0x10563,1}, {0x10570,0x1057A,1}, {0x1057C,0x1058A,1}, {0x1058C,0x10592,1},
    {0x10594,0x10595,1}, {0x10597,0x105A1,1}, {0x105A3,0x105B1,1}, {0x105B3,0x105B9,1},
    {0x105BB,0x105BC,1}, {0x10600,0x10736,1}, {0x10740,0x10755,1}, {0x10760,0x10767,1},
    {0x10780,0x10785,1}, {0x10787,0x107B0,1}, {0x107B2,0x107BA,1}, {0x10800,0x10805,1},
    {0x10808,0x10808,1}, {0x1080A,0x10835,1}, {0x10837,0x10838,1}, {0x1083C,0x1083C,1},
    {0x1083F,0x10855,1}, {0x10858,0x1085F,2}, {0x10860,0x10876,1}, {0x10879,0x1087F,2},
    {0x10880,0x1089E,1}, {0x108A7,0x108AF,2}, {0x108E0,0x108F2,1}, {0x108F4,0x108F5,1},
    {0x108FB,0x108FF,2}, {0x10900,0x10915,1}, {0x10916,0x1091B,2}, {0x10920,0x10939,1},
    {0x10980,0x109B7,1}, {0x109BC,0x109BD,2}, {0x109BE,0x109BF,1}, {0x109C0,0x109CF,2},
    {0x109D2,0x109FF,2}, {0x10A00,0x10A00,1}, {0x10A10,0x10A13,1}, {0x10A15,0x10A17,1},
    {0x10A19,0x10A35,1}, {0x10A40,0x10A48,2}, {0x10A60,0x10A7C,1}, {0x10A7D,0x10A7E,2},
    {0x10A80,0x10A9C,1}, {0x10A9D,0x10A9F,2}, {0x10AC0,0x10AC7,1}, {0x10AC9,0x10AE4,1},
    {0x10AEB,0x10AEF,2}, {0x10B00,0x10B35,1}, {0x10B40,0x10B55,1}, {0x10B58,0x10B5F,2},
    {0x10B60,0x10B72,1}, {0x10B78,0x10B7F,2}, {0x10B80,0x10B91,1}, {0x10BA9,0x10BAF,2},
    {0x10C00,0x10C48,1}, {0x10C80,0x10CB2,1}, {0x10CC0,0x10CF2,1}, {0x10CFA,0x10CFF,2},
    {0x10D00,0x10D23,1}, {0x10D30,0x10D39,2}, {0x10E60,0x10E7E,2}, {0x10E80,0x10EA9,1},
    {0x10EB0,0x10EB1,1}, {0x10F00,0x10F1C,1}, {0x10F1D,0x10F26,2}, {0x10F27,0x10F27,1},
    {0x10F30,0x10F45,1}, {0x10F51,0x10F54,2}, {0x10F70,0x10F81,1}, {0x10FB0,0x10FC4,1},
    {0x10FC5,0x10FCB,2}, {0x10FE0,0x10FF6,1}, {0x11003,0x11037,1}, {0x11052,0x1106F,2},
    {0x11071,0x11072,1}, {0x11075,0x11075,1}, {0x11083,0x110AF,1}, {0x110D0,0x110E8,1},
    {0x110F0,0x110F9,2}, {0x11103,0x11126,1}, {0x11136,0x1113F,2}, {0x11144,0x11144,1},
    {0x11147,0x11147,1}, {0x11150,0x11172,1}, {0x11176,0x11176,1}, {0x11183,0x111B2,1},
    {0x111C1,0x111C4,1}, {0x111D0,0x111D9,2}, {0x111DA,0x111DA,1}, {0x111DC,0x111DC,1},
    {0x111E1,0x111F4,2}, {0x11200,0x11211,1}, {0x11213,0x1122B,1}, {0x1123F,0x11240,1},
    {0x11280,0x11286,1}, {0x11288,0x11288,1}, {0x1128A,0x1128D,1}, {0x1128F,0x1129D,1},
    {0x1129F,0x112A8,1}, {0x112B0,0x112DE,1}, {0x112F0,0x112F9,2}, {0x11305,0x1130C,1},
    {0x1130F,0x11310,1}, {0x11313,0x11328,1}, {0x1132A,0x11330,1}, {0x11332,0x11333,1},
    {0x11335,0x11339,1}, {0x1133D,0x1133D,1}, {0x11350,0x11350,1}, {0x1135D,0x11361,1},
    {0x11400,0x11434,1}, {0x11447,0x1144A,1}, {0x11450,0x11459,2}, {0x1145F,0x11461,1},
    {0x11480,0x114AF,1}, {0x114C4,0x114C5,1}, {0x114C7,0x114C7,1}, {0x114D0,0x114D9,2},
    {0x11580,0x115AE,1}, {0x115D8,0x115DB,1}, {0x11600,0x1162F,1}, {0x11644,0x11644,1},
    {0x11650,0x11659,2}, {0x11680,0x116AA,1}, {0x116B8,0x116B8,1}, {0x116C0,0x116C9,2},
    {0x11700,0x1171A,1}, {0x11730,0x1173B,2}, {0x11740,0x11746,1}, {0x11800,0x1182B,1},
    {0x118A0,0x118DF,1}, {0x118E0,0x118F2,2}, {0x118FF,0x11906,1}, {0x11909,0x11909,1},
    {0x1190C,0x11913,1}, {0x11915,0x11916,1}, {0x11918,0x1192F,1}, {0x1193F,0x1193F,1},
    {0x11941,0x11941,1}, {0x11950,0x11959,2}, {0x119A0,0x119A7,1}, {0x119AA,0x119D0,1},
    {0x119E1,0x119E1,1}, {0x119E3,0x119E3,1}, {0x11A00,0x11A00,1}, {0x11A0B,0x11A32,1},
    {0x11A3A,0x11A3A,1}, {0x11A50,0x11A50,1}, {0x11A5C,0x11A89,1}, {0x11A9D,0x11A9D,1},
    {0x11AB0,0x11AF8,1}, {0x11C00,0x11C08,1}, {0x11C0A,0x11C2E,1}, {0x11C40,0x11C40,1},
    {0x11C50,0x11C6C,2}, {0x11C72,0x11C8F,1}, {0x11D00,0x11D06,1}, {0x11D08,0x11D09,1},
    {0x11D0B,0x11D30,1}, {0x11D46,0x11D46,1}, {0x11D50,0x11D59,2}, {0x11D60,0x11D65,1},
    {0x11D67,0x11D68,1}, {0x11D6A,0x11D89,1}, {0x11D98,0x11D98,1}, {0x11DA0,0x11DA9,2},
    {0x11EE0,0x11EF2,1}, {0x11F02,0x11F02,1}, {0x11F04,0x11F10,1}, {0x11F12,0x11F33,1},
    {0x11F50,0x11F59,2}, {0x11FB0,0x11FB0,1}, {0x11FC0,0x11FD4,2}, {0x12000,0x12399,1},
    {0x12400,0x1246E,2}, {0x12480,0x12543,1}, {0x12F90,0x12FF0,1}, {0x13000,0x1342F,1},
    {0x13441,0x13446,1}, {0x14400,0x14646,1}, {0x16800,0x16A38,1}, {0x16A40,0x16A5E,1},
    {0x16A60,0x16A69,2}, {0x16A70,0x16ABE,1}, {0x16AC0,0x16AC9,2}, {0x16AD0,0x16AED,1},
    {0x16B00,0x16B2F,1}, {0x16B40,0x16B43,1}, {0x16B50,0x16B59,2}, {0x16B5B,0x16B61,2},
    {0x16B63,0x16B77,1}, {0x16B7D,0x16B8F,1}, {0x16E40,0x16E7F,1}, {0x16E80,0x16E96,2},
    {0x16F00,0x16F4A,1}, {0x16F50,0x16F50,1}, {0x16F93,0x16F9F,1}, {0x16FE0,0x16FE1,1},
    {0x16FE3,0x16FE3,1}, {0x17000,0x187F7,1}, {0x18800,0x18CD5,1}, {0x18D00,0x18D08,1},
    {0x1AFF0,0x1AFF3,1}, {0x1AFF5,0x1AFFB,1}, {0x1AFFD,0x1AFFE,1}, {0x1B000,0x1B122,1},
    {0x1B132,0x1B132,1}, {0x1B150,0x1B152,1}, {0x1B155,0x1B155,1}, {0x1B164,0x1B167,1},
    {0x1B170,0x1B2FB,1}, {0x1BC00,0x1BC6A,1}, {0x1BC70,0x1BC7C,1}, {0x1BC80,0x1BC88,1},
    {0x1BC90,0x1BC99,1}, {0x1D2C0,0x1D2D3,2}, {0x1D2E0,0x1D2F3,2}, {0x1D360,0x1D378,2},
    {0x1D400,0x1D454,1}, {0x1D456,0x1D49C,1}, {0x1D49E,0x1D49F,1}, {0x1D4A2,0x1D4A2,1},
    {0x1D4A5,0x1D4A6,1}, {0x1D4A9,0x1D4AC,1}, {0x1D4AE,0x1D4B9,1}, {0x1D4BB,0x1D4BB,1},
    {0x1D4BD,0x1D4C3,1}, {0x1D4C5,0x1D505,1}, {0x1D507,0x1D50A,1}, {0x1D50D,0x1D514,1},
    {0x1D516,0x1D51C,1}, {0x1D51E,0x1D539,1}, {0x1D53B,0x1D53E,1}, {0x1D540,0x1D544,1},
    {0x1D546,0x1D546,1}, {0x1D54A,0x1D550,1}, {0x1D552,0x1D6A5,1}, {0x1D6A8,0x1D6C0,1},
    {0x1D6C2,0x1D6DA,1}, {0x1D6DC,0x1D6FA,1}, {0x1D6FC,0x1D714,1}, {0x1D716,0x1D734,1},
    {0x1D736,0x1D74E,1}, {0x1D750,0x1D76E,1}, {0x1D770,0x1D788,1}, {0x1D78A,0x1D7A8,1},
    {0x1D7AA,0x1D7C2,1}, {0x1D7C4,0x1D7CB,1}, {0x1D7CE,0x1D7FF,2}, {0x1DF00,0x1DF1E,1},
    {0x1DF25,0x1DF2A,1}, {0x1E030,0x1E06D,1}, {0x1E100,0x1E12C,1}, {0x1E137,0x1E13D,1},
    {0x1E140,0x1E149,2}, {0x1E14E,0x1E14E,1}, {0x1E290,0x1E2AD,1}, {0x1E2C0,0x1E2EB,1},
    {0x1E2F0,0x1E2F9,2}, {0x1E4D0,0x1E4EB,1}, {0x1E4F0,0x1E4F9,2}, {0x1E7E0,0x1E7E6,1},
    {0x1E7E8,0x1E7EB,1}, {0x1E7ED,0x1E7EE,1}, {0x1E7F0,0x1E7FE,1}, {0x1E800,0x1E8C4,1},
    {0x1E8C7,0x1E8CF,2}, {0x1E900,0x1E943,1}, {0x1E94B,0x1E94B,1}, {0x1E950,0x1E959,2},
    {0x1EC71,0x1ECAB,2}, {0x1ECAD,0x1ECAF,2}, {0x1ECB1,0x1ECB4,2}, {0x1ED01,0x1ED2D,2},
    {0x1ED2F,0x1ED3D,2}, {0x1EE00,0x1EE03,1}, {0x1EE05,0x1EE1F,1}, {0x1EE21,0x1EE22,1},
    {0x1EE24,0x1EE24,1}, {0x1EE27,0x1EE27,1}, {0x1EE29,0x1EE32,1}, {0x1EE34,0x1EE37,1},
    {0x1EE39,0x1EE39,1}, {0x1EE3B,0x1EE3B,1}, {0x1EE42,0x1EE42,1}, {0x1EE47,0x1EE47,1},
    {0x1EE49,0x1EE49,1}, {0x1EE4B,0x1EE4B,1}, {0x1EE4D,0x1EE4F,1}, {0x1EE51,0x1EE52,1},
    {0x1EE54,0x1EE54,1}, {0x1EE57,0x1EE57,1}, {0x1EE59,0x1EE59,1}, {0x1EE5B,0x1EE5B,1},
    {0x1EE5D,0x1EE5D,1}, {0x1EE5F,0x1EE5F,1}, {0x1EE61,0x1EE62,1}, {0x1EE64,0x1EE64,1},
    {0x1EE67,0x1EE6A,1}, {0x1EE6C,0x1EE72,1}, {0x1EE74,0x1EE77,1}, {0x1EE79,0x1EE7C,1},
    {0x1EE7E,0x1EE7E,1}, {0x1EE80,0x1EE89,1}, {0x1EE8B,0x1EE9B,1}, {0x1EEA1,0x1EEA3,1},
    {0x1EEA5,0x1EEA9,1}, {0x1EEAB,0x1EEBB,1}, {0x1F100,0x1F10C,2}, {0x1FBF0,0x1FBF9,2},
    {0x20000,0x2A6DF,1}, {0x2A700,0x2B739,1}, {0x2B740,0x2B81D,1}, {0x2B820,0x2CEA1,1},
    {0x2CEB0,0x2EBE0,1}, {0x2F800,0x2FA1D,1}, {0x30000,0x3134A,1}, {0x31350,0x323AF,1},
};
/* END generated by tools/gen_unicode.py */

static int bn_unicode_class(uint32_t cp) {
    size_t lo = 0, hi = sizeof bn_unicode_ranges / sizeof bn_unicode_ranges[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < bn_unicode_ranges[mid].first) hi = mid;
        else if (cp > bn_unicode_ranges[mid].last) lo = mid + 1;
        else return bn_unicode_ranges[mid].cls;
    }
    return 0;
}

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


struct bitnet_gen {
    bitnet_ctx *ctx;
    const bitnet_vocab *vocab;
    bitnet_allocator allocator;
    bitnet_sampler *sampler;
    bitnet_stop *stop;
    bitnet_detok detok;
    int32_t *prompt;                        /* (n_prompt) */
    int32_t seq, n_prompt, n_prefilled, chunk;
    int32_t max_tokens, last, pending;      /* pending: sampled, not yet decoded (-1: none) */
    int ignore_eog, cancelled, finished;
    uint64_t logits_at;                     /* ctx->n_decodes when this gen's logits were made */
    int32_t logits_row;                     /* their token in that batch (-1: the last) */
    int32_t batch_at, batch_n;              /* bitnet_gen_step_batch: first token and count in its batch */
    char *piece, *text;                     /* detokenizer and stop-matcher output buffers */
    size_t piece_cap, text_cap;
    double t_begin, t_prefilled;
    bitnet_gen_stats stats;
    bitnet_logit_bias *bias;                /* (n_bias) copied from the params */
    int32_t n_bias, n_vocab;
    float *logits;                          /* (n_vocab) biased logits; NULL without bias or hook */
    bitnet_sample_fn sample;
    void *sample_user;
    /* speculative decoding */
    int32_t draft_max, draft_ngram;         /* draft_max 0: off */
    int32_t *hist;                          /* (hist_cap) prompt then sampled ids: the n-gram source */
    int32_t n_hist, hist_cap;
    int32_t *spec;                          /* (draft_max + 1) the verify batch, then the ids drawn */
    int32_t n_queued, queue_at;             /* ids drawn by the last pass not yet handed out */
};

static bitnet_status bn_gen_tokenize(bitnet_gen *g, const bitnet_gen_params *p) {
    size_t n = 0, cap;
    int32_t free_pos = g->ctx->n_ctx - g->ctx->seq_pos[g->seq];
    bitnet_status st;
    if (p->prompt_ids) {
        if (p->n_prompt_ids <= 0) return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_new: empty prompt_ids");
        cap = (size_t)p->n_prompt_ids;
    } else {
        if (!p->prompt) return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_new: no prompt");
        st = bitnet_tokenize(g->vocab, p->prompt, strlen(p->prompt), !p->no_bos, p->parse_special, NULL, 0, &n);
        if (st != BITNET_OK && st != BITNET_ERR_ARGS) return st;
        cap = n ? n : 1;
    }
    g->prompt = (int32_t *)bn_alloc(&g->allocator, cap * sizeof(int32_t), 16);
    if (!g->prompt) return bn_fail(BITNET_ERR_NOMEM, "out of memory for a %zu-token prompt", cap);
    if (p->prompt_ids) {
        memcpy(g->prompt, p->prompt_ids, cap * sizeof(int32_t));
        n = cap;
    } else if ((st = bitnet_tokenize(g->vocab, p->prompt, strlen(p->prompt), !p->no_bos, p->parse_special, g->prompt,
                                     cap, &n)) != BITNET_OK) {
        return st;
    }
    g->n_prompt = (int32_t)n;
    if (g->n_prompt == 0) return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_new: the prompt has no tokens");
    if (g->n_prompt > free_pos)
        return bn_fail(BITNET_ERR_ARGS, "prompt of %d tokens does not fit the context (%d of %d positions free)",
                       g->n_prompt, free_pos, g->ctx->n_ctx);
    return BITNET_OK;
}

/* The logit bias (checked, copied) and the scratch row the bias and a custom sampler work on. */
static bitnet_status bn_gen_bias(bitnet_gen *g, const bitnet_gen_params *p) {
    int32_t i;
    if (p->n_logit_bias < 0 || (p->n_logit_bias && !p->logit_bias))
        return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_new: %d logit biases and no array", (int)p->n_logit_bias);
    for (i = 0; i < p->n_logit_bias; i++)
        if (p->logit_bias[i].id < 0 || p->logit_bias[i].id >= g->n_vocab || p->logit_bias[i].bias != p->logit_bias[i].bias)
            return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_new: logit_bias[%d]: id %d is outside the vocabulary of %d "
                           "or the bias is NaN", (int)i, (int)p->logit_bias[i].id, (int)g->n_vocab);
    g->sample = p->sample;
    g->sample_user = p->sample_user;
    if (!p->n_logit_bias && !p->sample) return BITNET_OK;
    g->n_bias = p->n_logit_bias;
    g->bias = (bitnet_logit_bias *)bn_alloc(&g->allocator, (size_t)(g->n_bias ? g->n_bias : 1) * sizeof *g->bias, 16);
    g->logits = (float *)bn_alloc(&g->allocator, (size_t)g->n_vocab * sizeof *g->logits, 64);
    if (!g->bias || !g->logits) return bn_fail(BITNET_ERR_NOMEM, "out of memory for the logit bias");
    if (g->n_bias) memcpy(g->bias, p->logit_bias, (size_t)g->n_bias * sizeof *g->bias);
    return BITNET_OK;
}

/* The next id from these logits: bias, then the custom sampler or the built-in one. */
static int32_t bn_gen_pick(bitnet_gen *g, const float *logits) {
    int32_t i, id;
    if (!g->logits) return bitnet_sampler_sample(g->sampler, logits);
    memcpy(g->logits, logits, (size_t)g->n_vocab * sizeof *logits);
    for (i = 0; i < g->n_bias; i++) g->logits[g->bias[i].id] += g->bias[i].bias;
    if (!g->sample) return bitnet_sampler_sample(g->sampler, g->logits);
    id = g->sample(g->logits, g->n_vocab, g->sample_user);
    return id >= 0 && id < g->n_vocab ? id : -1;
}

static bitnet_status bn_gen_buffers(bitnet_gen *g) {
    g->piece_cap = 3 * (bitnet_vocab_max_piece(g->vocab) + 4);
    g->text_cap = g->piece_cap + bitnet_stop_max_held(g->stop) + 8;
    g->piece = (char *)bn_alloc(&g->allocator, g->piece_cap, 16);
    g->text = (char *)bn_alloc(&g->allocator, g->text_cap, 16);
    if (!g->piece || !g->text) return bn_fail(BITNET_ERR_NOMEM, "out of memory for generation buffers");
    return BITNET_OK;
}

static bitnet_status bn_gen_draft_setup(bitnet_gen *g, const bitnet_gen_params *p) {
    int32_t rows = g->ctx->n_outputs;
    if (p->draft == BITNET_DRAFT_NONE) return BITNET_OK;
    if (p->draft != BITNET_DRAFT_NGRAM)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_new: draft %d is not a bitnet_draft_type", (int)p->draft);
    if (p->n_draft_context < 0 || (p->n_draft_context > 0 && !p->draft_context) ||
        p->n_draft_context > g->ctx->n_ctx)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_new: draft_context of %d ids (at most n_ctx %d)",
                       (int)p->n_draft_context, (int)g->ctx->n_ctx);
    if (p->draft_max < 0 || p->draft_ngram < 0 || p->draft_ngram > 64)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_new: draft_max %d / draft_ngram %d out of range (>= 0, "
                       "draft_ngram <= 64)", (int)p->draft_max, (int)p->draft_ngram);
    if (rows < 2)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_new: drafts need a context that keeps the logits of several "
                       "rows of a batch (n_outputs >= 2 or all_logits)");
    g->draft_max = p->draft_max ? p->draft_max : 8;
    if (g->draft_max > rows - 1) g->draft_max = rows - 1;
    if (g->draft_max > g->ctx->n_batch - 1) g->draft_max = g->ctx->n_batch - 1;
    g->draft_ngram = p->draft_ngram ? p->draft_ngram : 3;
    g->hist_cap = p->n_draft_context + g->n_prompt + (g->ctx->n_ctx - g->ctx->seq_pos[g->seq]) + 2;
    g->hist = (int32_t *)bn_alloc(&g->allocator, (size_t)g->hist_cap * sizeof(int32_t), 16);
    g->spec = (int32_t *)bn_alloc(&g->allocator, (size_t)(g->draft_max + 1) * sizeof(int32_t), 16);
    if (!g->hist || !g->spec) return bn_fail(BITNET_ERR_NOMEM, "out of memory for speculative decoding");
    if (p->n_draft_context > 0) memcpy(g->hist, p->draft_context, (size_t)p->n_draft_context * sizeof(int32_t));
    memcpy(g->hist + p->n_draft_context, g->prompt, (size_t)g->n_prompt * sizeof(int32_t));
    g->n_hist = p->n_draft_context + g->n_prompt;
    return BITNET_OK;
}

bitnet_status bitnet_gen_new(bitnet_gen **out, bitnet_ctx *ctx, const bitnet_gen_params *params) {
    bitnet_gen_params p;
    bitnet_gen *g;
    bitnet_status st;
    if (!out || !ctx) return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_new: NULL argument");
    memset(&p, 0, sizeof p);
    if (params) p = *params;
    if (p.seq < 0 || p.seq >= ctx->n_seq)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_new: sequence %d outside 0..%d", p.seq, ctx->n_seq - 1);
    g = (bitnet_gen *)bn_zalloc(&ctx->allocator, sizeof *g);
    if (!g) return bn_fail(BITNET_ERR_NOMEM, "out of memory for a generation");
    g->ctx = ctx;
    g->allocator = ctx->allocator;
    g->vocab = ctx->model->vocab;
    g->seq = p.seq;
    g->max_tokens = p.max_tokens > 0 ? p.max_tokens : 0;
    g->ignore_eog = p.ignore_eog;
    g->chunk = p.prefill_chunk > 0 ? p.prefill_chunk : ctx->n_batch;
    g->last = g->pending = -1;
    g->n_vocab = ctx->model->hp.n_vocab;
    bitnet_detok_init(&g->detok, g->vocab, 0);
    if ((st = bn_gen_tokenize(g, &p)) != BITNET_OK || (st = bn_gen_bias(g, &p)) != BITNET_OK ||
        (st = bitnet_sampler_new(&g->sampler, &p.sampler, ctx->model->hp.n_vocab, &g->allocator)) != BITNET_OK ||
        (st = bitnet_stop_new(&g->stop, p.stop, p.n_stop, &g->allocator)) != BITNET_OK ||
        (st = bn_gen_buffers(g)) != BITNET_OK || (st = bn_gen_draft_setup(g, &p)) != BITNET_OK) {
        bitnet_gen_free(g);
        return st;
    }
    g->stats.n_prompt = g->n_prompt;
    g->stats.load_ms = ctx->model->load_ms;
    g->stats.memory_bytes = ctx->model->converted_bytes + bitnet_model_get_memory(ctx->model).read_bytes +
                            bitnet_ctx_memory(ctx).reserved;
    *out = g;
    return BITNET_OK;
}

void bitnet_gen_free(bitnet_gen *g) {
    if (!g) return;
    bitnet_sampler_free(g->sampler);
    bitnet_stop_free(g->stop);
    bn_free(&g->allocator, g->prompt);
    bn_free(&g->allocator, g->piece);
    bn_free(&g->allocator, g->text);
    bn_free(&g->allocator, g->bias);
    bn_free(&g->allocator, g->logits);
    bn_free(&g->allocator, g->hist);
    bn_free(&g->allocator, g->spec);
    bn_free(&g->allocator, g);
}

int32_t bitnet_gen_last_token(const bitnet_gen *g) { return g ? g->last : -1; }
const bitnet_gen_stats *bitnet_gen_get_stats(const bitnet_gen *g) { return g ? &g->stats : NULL; }
const bitnet_gen_stats *bitnet_gen_stats_get(const bitnet_gen *g) { return bitnet_gen_get_stats(g); }
bitnet_pool_stats bitnet_ctx_get_memory(const bitnet_ctx *c) { return bitnet_ctx_memory(c); }
void bitnet_gguf_free(bitnet_gguf *g) { bitnet_gguf_close(g); }
void bitnet_gen_cancel(bitnet_gen *g) { if (g) BN__ATOMIC_STORE(&g->cancelled, 1); }

/* Ends the generation: releases held text (an unfinished character becomes U+FFFD). */
static int bn_gen_finish(bitnet_gen *g, bitnet_stop_reason reason, const char **text, size_t *len) {
    size_t n = 0, m = 0;
    double now = bitnet_time_ms();
    if (reason != BITNET_STOP_STRING) {
        n = bitnet_detok_flush(&g->detok, g->piece, g->piece_cap);
        bitnet_stop_feed(g->stop, g->piece, n, g->text, g->text_cap, &m);
        if (bitnet_stop_matched(g->stop) >= 0) reason = BITNET_STOP_STRING;
        else { bitnet_stop_flush(g->stop, g->text + m, g->text_cap - m, &n); m += n; }
    }
    g->finished = 1;
    g->stats.stop_reason = reason;
    g->stats.gen_ms = g->t_prefilled > 0 ? now - g->t_prefilled : 0;
    g->stats.gen_tps = g->stats.gen_ms > 0 ? g->stats.n_generated * 1e3 / g->stats.gen_ms : 0;
    *text = g->text;
    *len = m;
    return 0;
}

/* The logits this generation samples next: row `row` of the context's last batch, made by the
   decode counted `at`. */
static void bn_gen_mark_logits(bitnet_gen *g, int32_t row) {
    g->logits_at = g->ctx->n_decodes;
    g->logits_row = row;
}

static void bn_gen_prefilled(bitnet_gen *g, int32_t n) {
    g->n_prefilled += n;
    if (g->n_prefilled == g->n_prompt) {
        g->t_prefilled = bitnet_time_ms();
        g->stats.prompt_ms = g->t_prefilled - g->t_begin;
        g->stats.prompt_tps = g->stats.prompt_ms > 0 ? g->n_prompt * 1e3 / g->stats.prompt_ms : 0;
    }
}

/* The next prompt chunk: at most `room` tokens. */
static int32_t bn_gen_chunk(const bitnet_gen *g, int32_t room) {
    int32_t n = g->n_prompt - g->n_prefilled < g->chunk ? g->n_prompt - g->n_prefilled : g->chunk;
    return n < room ? n : room;
}

static int bn_gen_prefill(bitnet_gen *g) {
    int32_t n = bn_gen_chunk(g, g->chunk);
    bitnet_status st;
    if (g->n_prefilled == 0) g->t_begin = bitnet_time_ms();
    if ((st = bn_decode_seq(g->ctx, g->seq, g->prompt + g->n_prefilled, n, "bitnet_gen_step")) != BITNET_OK) return st;
    bn_gen_mark_logits(g, -1);
    bn_gen_prefilled(g, n);
    return 1;
}

/* --- speculative decoding: n-gram drafts verified in one batch --- */

/* Up to max tokens that followed the latest earlier occurrence of the longest n-gram
   (draft_ngram down to 2 tokens) that ends the history; 0 when none recurs. A copy that runs
   into the end of the history goes on with the tokens it has drafted (an overlapping copy, as in
   LZ77), so a loop of any period is drafted in full. */
static int32_t bn_ngram_draft(const int32_t *h, int32_t n, int32_t ngram, int32_t max, int32_t *out) {
    int32_t size, j, i, k;
    for (size = ngram; size >= 2; size--) {
        if (n < size + 1) continue;
        for (j = n - size - 1; j >= 0; j--) {
            for (i = 0; i < size && h[j + i] == h[n - size + i]; i++) {}
            if (i < size) continue;
            for (k = 0; k < max; k++) out[k] = j + size + k < n ? h[j + size + k] : out[j + size + k - n];
            return k;
        }
    }
    return 0;
}

/* Drafts the room allows after the pending token: positions left in the context, tokens left
   to generate. */
static int32_t bn_gen_draft_room(const bitnet_gen *g) {
    int32_t room = g->ctx->n_ctx - g->ctx->seq_pos[g->seq] - 1;
    if (g->max_tokens && g->max_tokens - g->stats.n_generated - 1 < room) room = g->max_tokens - g->stats.n_generated - 1;
    return room < g->draft_max ? room : g->draft_max;
}

static int bn_gen_bad_pick(const bitnet_gen *g) {
    return bn_fail(BITNET_ERR_ARGS, "the custom sampler returned an id outside the vocabulary of %d", (int)g->n_vocab);
}

/* Runs the pending token with its drafts, then draws from each row in turn while the draws
   match the drafts: the ids drawn (the accepted drafts, then the one that differed or followed
   them) wait in g->spec to be handed out; the cache keeps the pending token and the accepted
   drafts. 0 when there was nothing to draft (the caller decodes plainly), 1 done, < 0 error. */
static int bn_gen_speculate(bitnet_gen *g) {
    int32_t room = bn_gen_draft_room(g), k, i, pos0 = g->ctx->seq_pos[g->seq];
    bn_batch_in in;
    bitnet_status st;
    if (room < 1) return 0;
    k = bn_ngram_draft(g->hist, g->n_hist, g->draft_ngram, room, g->spec + 1);   /* hist ends with pending */
    if (k == 0) return 0;
    g->spec[0] = g->pending;
    memset(&in, 0, sizeof in);
    in.n = k + 1;
    in.token = g->spec;
    in.seq0 = g->seq;
    in.out = BN__OUT_ALL;
    in.who = "bitnet_gen_step";
    if ((st = bn_decode_run(g->ctx, &in)) != BITNET_OK) return st;
    g->pending = -1;
    g->stats.n_draft_passes++;
    g->stats.n_drafted += k;
    for (i = 0;; i++) {                     /* row k has no draft: its draw always ends the pass */
        int32_t draft = i < k ? g->spec[i + 1] : -1;
        int32_t id = bn_gen_pick(g, bitnet_ctx_logits(g->ctx, i));
        if (id < 0) return bn_gen_bad_pick(g);
        bitnet_sampler_accept(g->sampler, id);
        g->spec[i] = id;
        if (id != draft) break;
        g->stats.n_draft_accepted++;
        if (!g->ignore_eog && bitnet_vocab_is_eog(g->vocab, id)) break;
    }
    g->n_queued = i + 1;
    g->queue_at = 0;
    /* keep the pending token and the accepted drafts; the last id drawn is not in the cache yet */
    if ((st = bitnet_ctx_seq_truncate(g->ctx, g->seq, pos0 + g->n_queued)) != BITNET_OK) return st;
    return 1;
}

/* Hands out an id the sampler drew: showable text, end of generation, stop strings. It becomes
   the pending token (the caller clears that when the id is in the cache already). */
static int bn_gen_emit(bitnet_gen *g, int32_t id, const char **text, size_t *len) {
    size_t n = 0;
    bitnet_status st;
    if (g->hist && g->n_hist < g->hist_cap) g->hist[g->n_hist++] = id;
    g->pending = id;
    g->last = id;
    if (g->stats.n_generated++ == 0) g->stats.ttft_ms = bitnet_time_ms() - g->t_begin;
    if (!g->ignore_eog && bitnet_vocab_is_eog(g->vocab, id)) return bn_gen_finish(g, BITNET_STOP_EOG, text, len);
    if ((st = bitnet_detok_push(&g->detok, id, g->piece, g->piece_cap, &n)) != BITNET_OK) return st;
    if ((st = bitnet_stop_feed(g->stop, g->piece, n, g->text, g->text_cap, len)) != BITNET_OK) return st;
    *text = g->text;
    if (bitnet_stop_matched(g->stop) >= 0) {
        size_t shown = *len;
        bn_gen_finish(g, BITNET_STOP_STRING, text, len);
        *len = shown;
        return 0;
    }
    return 1;
}

static int bn_gen_sample(bitnet_gen *g, const float *logits, const char **text, size_t *len) {
    int32_t id;
    if (!logits || g->logits_at != g->ctx->n_decodes)
        return bn_fail(BITNET_ERR_ARGS, "generation on sequence %d: another decode replaced its logits", g->seq);
    if ((id = bn_gen_pick(g, logits)) < 0) return bn_gen_bad_pick(g);
    bitnet_sampler_accept(g->sampler, id);
    return bn_gen_emit(g, id, text, len);
}

/* The next id a verify pass drew; all but the last are in the cache already. */
static int bn_gen_emit_queued(bitnet_gen *g, const char **text, size_t *len) {
    int32_t id = g->spec[g->queue_at++];
    int rc = bn_gen_emit(g, id, text, len);
    if (--g->n_queued > 0) g->pending = -1;
    return rc;
}

/* Before decoding the pending token: 0 after finishing (max_tokens, full context), else 1. */
static int bn_gen_may_continue(bitnet_gen *g, const char **text, size_t *len) {
    if (g->max_tokens && g->stats.n_generated >= g->max_tokens) return bn_gen_finish(g, BITNET_STOP_MAX_TOKENS, text, len);
    if (g->pending >= 0 && g->ctx->seq_pos[g->seq] >= g->ctx->n_ctx)
        return bn_gen_finish(g, BITNET_STOP_CONTEXT, text, len);
    return 1;
}

static const float *bn_gen_logits(const bitnet_gen *g) { return bitnet_ctx_logits(g->ctx, g->logits_row); }

static int bn_gen_token(bitnet_gen *g, const char **text, size_t *len) {
    bitnet_status st;
    int rc;
    if (!bn_gen_may_continue(g, text, len)) return 0;
    if (g->n_queued > 0) return bn_gen_emit_queued(g, text, len);
    if (g->pending >= 0 && g->draft_max > 0) {
        if ((rc = bn_gen_speculate(g)) < 0) return rc;
        if (rc > 0) return bn_gen_emit_queued(g, text, len);
    }
    if (g->pending >= 0) {
        if ((st = bn_decode_seq(g->ctx, g->seq, &g->pending, 1, "bitnet_gen_step")) != BITNET_OK) return st;
        bn_gen_mark_logits(g, -1);
        g->pending = -1;
    }
    return bn_gen_sample(g, bn_gen_logits(g), text, len);
}

static void bn_gen_step_reset(const char ***text, size_t **len, const char **t_dummy, size_t *l_dummy) {
    if (!*text) *text = t_dummy;
    if (!*len) *len = l_dummy;
    **text = "";
    **len = 0;
}

int bitnet_gen_step(bitnet_gen *g, const char **text, size_t *len) {
    const char *t_dummy;
    size_t l_dummy;
    bn_gen_step_reset(&text, &len, &t_dummy, &l_dummy);
    if (!g) return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_step: NULL generation");
    if (g->finished) return 0;
    if (BN__ATOMIC_LOAD(&g->cancelled)) return bn_gen_finish(g, BITNET_STOP_CANCELLED, text, len);
    if (g->n_prefilled < g->n_prompt) return bn_gen_prefill(g);
    return bn_gen_token(g, text, len);
}

/* --- several generations in one batch --- */

static bitnet_status bn_gen_batch_check(bitnet_gen *const *gens, int n) {
    int i, j;
    if (!gens || n <= 0) return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_step_batch: no generations");
    for (i = 0; i < n; i++) {
        if (!gens[i]) return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_step_batch: generation %d is NULL", i);
        if (gens[i]->ctx != gens[0]->ctx)
            return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_step_batch: generation %d uses another context", i);
        for (j = 0; j < i; j++)
            if (gens[j]->seq == gens[i]->seq)
                return bn_fail(BITNET_ERR_ARGS, "bitnet_gen_step_batch: generations %d and %d share sequence %d", j,
                               i, gens[i]->seq);
    }
    return BITNET_OK;
}

/* The batch being built: tokens in ctx->gen_token/gen_seq/gen_logits. */
typedef struct bn_gen_batch {
    bitnet_ctx *c;
    int32_t n, rows;
    int32_t generating;                     /* gens past their prompt that go on after this step */
    int32_t prompt_room;                    /* prompt tokens that may still join the batch */
} bn_gen_batch;

static void bn_gen_batch_add(bn_gen_batch *b, int32_t token, int32_t seq, int logits) {
    b->c->gen_token[b->n] = token;
    b->c->gen_seq[b->n] = seq;
    b->c->gen_logits[b->n] = (int8_t)(logits != 0);
    b->n++;
    b->rows += logits != 0;
}

/* A generating gen's pending token (one logits row), if it may go on and there is room.
   Returns its result so far (1 = go on). */
static int bn_gen_batch_generating(bitnet_gen *g, bn_gen_batch *b, const char **text, size_t *len) {
    int rc = bn_gen_may_continue(g, text, len);
    if (rc <= 0) return rc;
    if (g->n_queued > 0) return bn_gen_emit_queued(g, text, len);    /* drawn by a verify pass */
    if (g->pending < 0) return bn_gen_sample(g, bn_gen_logits(g), text, len);   /* prefilled by a plain step */
    if (b->n < b->c->n_batch && b->rows < b->c->n_outputs) {
        g->batch_at = b->n;
        g->batch_n = 1;
        bn_gen_batch_add(b, g->pending, g->seq, 1);
    }
    return 1;
}

/* A prefilling gen's next chunk, as much as fits; its last prompt token asks for logits. */
static void bn_gen_batch_prefilling(bitnet_gen *g, bn_gen_batch *b) {
    int32_t n = bn_gen_chunk(g, b->prompt_room), i;
    int last = g->n_prefilled + n == g->n_prompt;
    if (last && b->rows >= b->c->n_outputs) { n--; last = 0; }     /* no row left: stop one short */
    if (n <= 0) return;
    if (g->n_prefilled == 0) g->t_begin = bitnet_time_ms();
    g->batch_at = b->n;
    g->batch_n = n;
    b->prompt_room -= n;
    for (i = 0; i < n; i++) bn_gen_batch_add(b, g->prompt[g->n_prefilled + i], g->seq, last && i == n - 1);
}

/* Room for prompt chunks once the generating gens are in: the rest of n_batch, at most the
   context's prefill budget while any gen waits on this step for its next token. */
static void bn_gen_batch_prompt_room(bn_gen_batch *b) {
    b->prompt_room = b->c->n_batch - b->n;
    if (b->generating > 0 && b->prompt_room > b->c->prefill_budget) b->prompt_room = b->c->prefill_budget;
}

/* After the decode: prefill progress, then a token sampled for each gen with logits. */
static int bn_gen_batch_finish(bitnet_gen *g, const char **text, size_t *len) {
    int32_t at = g->batch_at + g->batch_n - 1;
    if (g->n_prefilled < g->n_prompt) {
        bn_gen_prefilled(g, g->batch_n);
        if (g->n_prefilled < g->n_prompt) return 1;
    } else {
        g->pending = -1;
    }
    bn_gen_mark_logits(g, at);
    return bn_gen_sample(g, bn_gen_logits(g), text, len);
}

bitnet_status bitnet_gen_step_batch(bitnet_gen *const *gens, int n, const char **texts, size_t *lens,
                                    int *results) {
    bn_gen_batch b;
    bn_batch_in in;
    bitnet_status st;
    int i, pass;
    if ((st = bn_gen_batch_check(gens, n)) != BITNET_OK) return st;
    b.c = gens[0]->ctx;
    b.n = b.rows = b.generating = b.prompt_room = 0;
    for (i = 0; i < n; i++) {
        const char *t_dummy, **text = texts ? &texts[i] : NULL;
        size_t l_dummy, *len = lens ? &lens[i] : NULL;
        bn_gen_step_reset(&text, &len, &t_dummy, &l_dummy);
        gens[i]->batch_n = 0;
        if (results) results[i] = 0;
    }
    for (pass = 0; pass < 2; pass++) {         /* generating gens first, then prompt chunks */
        if (pass == 1) bn_gen_batch_prompt_room(&b);
        for (i = 0; i < n; i++) {
            bitnet_gen *g = gens[i];
            const char *t_dummy, **text = texts ? &texts[i] : &t_dummy;
            size_t l_dummy, *len = lens ? &lens[i] : &l_dummy;
            int rc = 1;
            if (g->finished) continue;
            if (pass == 0 && BN__ATOMIC_LOAD(&g->cancelled)) rc = bn_gen_finish(g, BITNET_STOP_CANCELLED, text, len);
            else if (pass == 0 && g->n_prefilled == g->n_prompt) {
                rc = bn_gen_batch_generating(g, &b, text, len);
                b.generating += rc > 0;
            } else if (pass == 1 && g->n_prefilled < g->n_prompt) bn_gen_batch_prefilling(g, &b);
            else continue;
            if (results) results[i] = rc;
        }
    }
    if (b.n == 0) return BITNET_OK;
    memset(&in, 0, sizeof in);
    in.n = b.n;
    in.token = b.c->gen_token;
    in.seq = b.c->gen_seq;
    in.logits = b.c->gen_logits;
    in.out = BN__OUT_FLAGS;
    in.who = "bitnet_gen_step_batch";
    st = bn_decode_run(b.c, &in);
    for (i = 0; i < n; i++) {
        const char *t_dummy, **text = texts ? &texts[i] : &t_dummy;
        size_t l_dummy, *len = lens ? &lens[i] : &l_dummy;
        int rc;
        if (!gens[i]->batch_n) continue;
        rc = st != BITNET_OK ? (int)st : bn_gen_batch_finish(gens[i], text, len);
        if (results) results[i] = rc;
    }
    return st;
}

bitnet_status bitnet_generate_text(bitnet_ctx *ctx, const bitnet_gen_params *params, bitnet_gen_stats *stats) {
    bitnet_gen *g;
    const char *text;
    size_t len;
    int rc;
    bitnet_status st = bitnet_gen_new(&g, ctx, params);
    if (st != BITNET_OK) return st;
    do {
        rc = bitnet_gen_step(g, &text, &len);
        if (len && params->on_piece && params->on_piece(text, len, params->user)) bitnet_gen_cancel(g);
    } while (rc > 0);
    if (stats) *stats = g->stats;
    bitnet_gen_free(g);
    return rc < 0 ? (bitnet_status)rc : BITNET_OK;
}

/* What bn_generate_run holds: gens grouped by context (order), one group stepped per batch. */
typedef struct bn_many {
    bitnet_gen **gens;                      /* (n) by prompt */
    bitnet_gen **group;                     /* (n) gens of one context, this round's batch */
    int *order;                             /* (n) prompt indices, grouped by context */
    int *results, *which;                   /* (n) */
    const char **texts;                     /* (n) */
    size_t *lens;                           /* (n) */
    bitnet_ctx *const *ctxs;                /* (n) each prompt's context, or NULL: all in `one` */
    bitnet_ctx *one;
} bn_many;

static bitnet_ctx *bn_many_ctx(const bn_many *m, int i) { return m->ctxs ? m->ctxs[i] : m->one; }

static bitnet_status bn_many_alloc(bn_many *m, const bitnet_allocator *a, int n) {
    size_t bytes = (size_t)n * (2 * sizeof(bitnet_gen *) + 3 * sizeof(int) + sizeof(char *) + sizeof(size_t));
    unsigned char *p = (unsigned char *)bn_zalloc(a, bytes);
    if (!p) return bn_fail(BITNET_ERR_NOMEM, "out of memory for %d generations", n);
    m->gens = (bitnet_gen **)(void *)p;
    m->group = m->gens + n;
    m->texts = (const char **)(void *)(m->group + n);
    m->lens = (size_t *)(void *)(m->texts + n);
    m->order = (int *)(void *)(m->lens + n);
    m->results = m->order + n;
    m->which = m->results + n;
    return BITNET_OK;
}

/* Prompt indices grouped by context, first appearance first. */
static void bn_many_order(bn_many *m, int n) {
    int i, j, k = 0;
    for (i = 0; i < n; i++) {
        for (j = 0; j < i && bn_many_ctx(m, j) != bn_many_ctx(m, i); j++) {}
        if (j < i) continue;
        for (j = i; j < n; j++)
            if (bn_many_ctx(m, j) == bn_many_ctx(m, i)) m->order[k++] = j;
    }
}

/* One round: each context's unfinished gens advance with one batched step. */
static bitnet_status bn_many_round(bn_many *m, const bitnet_gen_params *params, int n, int *running) {
    int k = 0, i;
    *running = 0;
    while (k < n) {
        int n_group = 0, end = k;
        bitnet_status st;
        while (end < n && bn_many_ctx(m, m->order[end]) == bn_many_ctx(m, m->order[k])) {
            int p = m->order[end++];
            if (m->gens[p]->finished) continue;
            m->which[n_group] = p;
            m->group[n_group++] = m->gens[p];
        }
        k = end;
        if (!n_group) continue;
        st = bitnet_gen_step_batch(m->group, n_group, m->texts, m->lens, m->results);
        for (i = 0; i < n_group; i++) {
            const bitnet_gen_params *pp = &params[m->which[i]];
            if (m->results[i] < 0) return (bitnet_status)m->results[i];
            if (m->lens[i] && pp->on_piece && pp->on_piece(m->texts[i], m->lens[i], pp->user))
                bitnet_gen_cancel(m->group[i]);
            *running += m->results[i] > 0;
        }
        if (st != BITNET_OK) return st;
    }
    return BITNET_OK;
}

static bitnet_status bn_generate_run(bitnet_ctx *const *ctxs, bitnet_ctx *one, const bitnet_gen_params *params,
                                     int n, bitnet_gen_stats *stats, const char *who) {
    bitnet_allocator a;
    bn_many m;
    bitnet_status st = BITNET_OK;
    int i, running = 1;
    if ((!ctxs && !one) || !params || n <= 0 || (ctxs && !ctxs[0]))
        return bn_fail(BITNET_ERR_ARGS, "%s: nothing to do", who);
    a = (ctxs ? ctxs[0] : one)->allocator;
    memset(&m, 0, sizeof m);
    if ((st = bn_many_alloc(&m, &a, n)) != BITNET_OK) return st;
    m.ctxs = ctxs;
    m.one = one;
    if (stats) memset(stats, 0, (size_t)n * sizeof *stats);
    for (i = 0; i < n && st == BITNET_OK; i++) st = bitnet_gen_new(&m.gens[i], bn_many_ctx(&m, i), &params[i]);
    if (st == BITNET_OK) bn_many_order(&m, n);
    while (st == BITNET_OK && running > 0) st = bn_many_round(&m, params, n, &running);
    for (i = 0; i < n; i++) {
        if (stats && m.gens[i]) stats[i] = m.gens[i]->stats;
        bitnet_gen_free(m.gens[i]);
    }
    bn_free(&a, m.gens);
    return st;
}

bitnet_status bitnet_generate_many(bitnet_ctx *const *ctxs, const bitnet_gen_params *params, int n,
                                   bitnet_gen_stats *stats) {
    if (!ctxs) return bn_fail(BITNET_ERR_ARGS, "bitnet_generate_many: nothing to do");
    return bn_generate_run(ctxs, NULL, params, n, stats, "bitnet_generate_many");
}

bitnet_status bitnet_generate_batch(bitnet_ctx *ctx, const bitnet_gen_params *params, int n,
                                    bitnet_gen_stats *stats) {
    if (!ctx) return bn_fail(BITNET_ERR_ARGS, "bitnet_generate_batch: NULL context");
    return bn_generate_run(NULL, ctx, params, n, stats, "bitnet_generate_batch");
}

/* --- read bandwidth --- */

typedef struct bn_bw_job {
    const unsigned char *data;              /* (rows * BN__BW_CHUNK) bytes */
    uint64_t sums[64 * 8];                  /* one per thread, a cache line apart, so reads are kept */
} bn_bw_job;

#define BN__BW_CHUNK ((size_t)1 << 18)     /* bytes per row of the job */

static uint64_t bn_bw_sum_scalar(const unsigned char *p, size_t n) {
    const uint64_t *q = (const uint64_t *)(const void *)p;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    size_t i;
    for (i = 0; i + 4 <= n / 8; i += 4) { a += q[i]; b += q[i + 1]; c += q[i + 2]; d += q[i + 3]; }
    return a + b + c + d;
}

#if BN__X86
/* Streams like the kernels do (prefetch 4 KiB ahead), so the ratio compares like with like. */
BN__TARGET("avx2")
static uint64_t bn_bw_sum_avx2(const unsigned char *p, size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    uint64_t out[4];
    size_t i;
    for (i = 0; i + 128 <= n; i += 128) {
        _mm_prefetch((const char *)p + i + 4096, _MM_HINT_T0);
        _mm_prefetch((const char *)p + i + 4096 + 64, _MM_HINT_T0);
        a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(const void *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(const void *)(p + i + 32)));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(const void *)(p + i + 64)));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(const void *)(p + i + 96)));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    _mm256_storeu_si256((__m256i *)(void *)out, a0);
    return out[0] + out[1] + out[2] + out[3];
}
#endif

static void bn_bw_task(void *arg, int64_t r0, int64_t r1, int thread) {
    bn_bw_job *j = (bn_bw_job *)arg;
    const unsigned char *p = j->data + (size_t)r0 * BN__BW_CHUNK;
    size_t n = (size_t)(r1 - r0) * BN__BW_CHUNK;
#if BN__X86
    if (bitnet_cpu_features() & BITNET_CPU_AVX2) { j->sums[(thread & 63) * 8] += bn_bw_sum_avx2(p, n); return; }
#endif
    j->sums[(thread & 63) * 8] += bn_bw_sum_scalar(p, n);
}

struct bitnet_bw_probe {
    bn_bw_job job;
    bitnet_threadpool *threads;
    int64_t rows;
    int huge;                               /* job.data from bn_huge_alloc, else the allocator */
    bitnet_allocator allocator;
};

bitnet_status bitnet_bw_probe_new(bitnet_bw_probe **out, bitnet_threadpool *threads, size_t bytes) {
    bitnet_allocator a = bn_allocator_or_default(NULL);
    bitnet_bw_probe *p;
    size_t size;
    if (!out) return bn_fail(BITNET_ERR_ARGS, "bitnet_bw_probe_new: out is NULL");
    *out = NULL;
    if (!bytes) bytes = (size_t)1 << 30;
    if (!(p = (bitnet_bw_probe *)bn_zalloc(&a, sizeof *p)))
        return bn_fail(BITNET_ERR_NOMEM, "bandwidth probe: out of memory");
    p->allocator = a;
    p->threads = threads;
    p->rows = (int64_t)(bytes / BN__BW_CHUNK) > 0 ? (int64_t)(bytes / BN__BW_CHUNK) : 1;
    size = (size_t)p->rows * BN__BW_CHUNK;
    p->job.data = (const unsigned char *)bn_huge_alloc(size);
    p->huge = p->job.data != NULL;
    if (!p->huge) p->job.data = (const unsigned char *)bn_alloc(&a, size, 64);
    if (!p->job.data) {
        bn_free(&a, p);
        return bn_fail(BITNET_ERR_NOMEM, "bandwidth probe: cannot allocate %zu bytes", size);
    }
    memset((void *)p->job.data, 1, size);                          /* touch every page first */
    *out = p;
    return BITNET_OK;
}

double bitnet_bw_probe_pass(bitnet_bw_probe *p) {
    double t0;
    if (!p) return 0;
    t0 = bitnet_time_ms();
    bitnet_threadpool_run(p->threads, p->rows, 1, bn_bw_task, &p->job);
    return (double)p->rows * BN__BW_CHUNK / ((bitnet_time_ms() - t0) * 1e6);
}

void bitnet_bw_probe_free(bitnet_bw_probe *p) {
    bitnet_allocator a;
    if (!p) return;
    a = p->allocator;
    if (p->huge) bn_huge_free((void *)p->job.data, (size_t)p->rows * BN__BW_CHUNK);
    else bn_free(&a, (void *)p->job.data);
    bn_free(&a, p);
}

double bitnet_measure_read_bandwidth(bitnet_threadpool *threads, size_t bytes) {
    bitnet_bw_probe *p;
    double best = 0, gbps;
    int pass;
    if (bitnet_bw_probe_new(&p, threads, bytes) != BITNET_OK) return 0;
    for (pass = 0; pass < 7; pass++)                                /* the best pass after a warm-up */
        if ((gbps = bitnet_bw_probe_pass(p)) > best && pass > 0) best = gbps;
    bitnet_bw_probe_free(p);
    return best;
}

/* --- the plain API --- */

struct BitNetModel {
    bitnet_model *model;
    bitnet_ctx *ctx;
};

BitNetModel *bitnet_load_model(const char *path) {
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    BitNetModel *bm = (BitNetModel *)calloc(1, sizeof *bm);
    if (!bm) { bn_fail(BITNET_ERR_NOMEM, "out of memory"); return NULL; }
    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    mp.path = path;
    if (bitnet_model_load(&bm->model, &mp) != BITNET_OK) { free(bm); return NULL; }
    cp.n_ctx = bm->model->hp.n_ctx_train < 4096 ? bm->model->hp.n_ctx_train : 4096;
    if (bitnet_ctx_new(&bm->ctx, bm->model, &cp) != BITNET_OK) { bitnet_free_model(bm); return NULL; }
    return bm;
}

typedef struct bn_text_sink {
    char *buf;
    size_t len, cap;
} bn_text_sink;

static int bn_text_sink_put(const char *text, size_t len, void *user) {
    bn_text_sink *s = (bn_text_sink *)user;
    if (len > s->cap - 1 - s->len) len = s->cap - 1 - s->len;   /* the plan below makes this unreachable */
    memcpy(s->buf + s->len, text, len);
    s->len += len;
    s->buf[s->len] = 0;
    return 0;
}

char *bitnet_generate(BitNetModel *bm, const char *prompt, const BitNetConfig *config) {
    bitnet_gen_params p;
    bn_text_sink sink;
    int max_tokens = config && config->max_tokens > 0 ? config->max_tokens : 256;
    if (!bm || !prompt) { bn_fail(BITNET_ERR_ARGS, "bitnet_generate: NULL argument"); return NULL; }
    memset(&p, 0, sizeof p);
    p.prompt = prompt;
    p.max_tokens = max_tokens;
    p.sampler.seed = BITNET_SAMPLER_DEFAULT_SEED;
    if (config) {
        p.sampler.temperature = config->temperature;
        p.sampler.top_p = config->top_p;
        p.sampler.top_k = config->top_k;
        if (config->seed) p.sampler.seed = config->seed;
    }
    /* the whole text is planned up front: every token's piece, expanded for U+FFFD repairs */
    sink.cap = (size_t)max_tokens * 3 * (bitnet_vocab_max_piece(bm->model->vocab) + 4) + 16;
    sink.buf = (char *)malloc(sink.cap);
    sink.len = 0;
    if (!sink.buf) { bn_fail(BITNET_ERR_NOMEM, "out of memory for the output text"); return NULL; }
    sink.buf[0] = 0;
    p.on_piece = bn_text_sink_put;
    p.user = &sink;
    bitnet_ctx_truncate(bm->ctx, 0);
    if (bitnet_generate_text(bm->ctx, &p, NULL) != BITNET_OK) { free(sink.buf); return NULL; }
    return sink.buf;
}

void bitnet_free_string(char *text) { free(text); }

void bitnet_free_model(BitNetModel *bm) {
    if (!bm) return;
    bitnet_ctx_free(bm->ctx);
    bitnet_model_free(bm->model);
    free(bm);
}

const char *bitnet_get_last_error(void) { return bitnet_last_error(); }

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
