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

/* Writes the prompt text for msgs[0..n) into out (NUL-terminated), starting with
   "<|begin_of_text|>" and, with add_assistant, ending with the assistant's turn opener. Tokenize
   it with add_special = 0 and parse_special = 1. *len = full length without the NUL;
   BITNET_ERR_ARGS if len + 1 > cap; BITNET_ERR_UNSUPPORTED if AUTO finds no known format.
   BITNET: each message is "System: " / "User: " / "Assistant: " (other roles: the role with
   its first letter upper-cased + ": ") + content + "<|eot_id|>". LLAMA3: contents are trimmed
   of surrounding whitespace, as the Llama 3 template does. */
BITNET_API bitnet_status bitnet_chat_format(const bitnet_vocab *vocab, bitnet_chat_format_id format,
                                            const bitnet_chat_message *msgs, size_t n,
                                            int add_assistant, char *out, size_t cap, size_t *len);

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

/* Token texts live in one blob (each NUL-terminated); two open-addressing hash tables map text
   -> id and (left id, right id) -> merge rank. Everything is built once at load: no quadratic
   work, 280k merges load in milliseconds. */

#define BN__TOK_MAX_TOKENS  (1 << 24)
#define BN__TOK_MAX_TEXT    ((size_t)1 << 28)    /* bytes of text one bitnet_tokenize accepts */
#define BN__TOK_MAX_EOG     16

enum { BN__UC_LETTER = 1, BN__UC_NUMBER = 2, BN__UC_SPACE = 4, BN__UC_ANY = 8 };

typedef struct bn_unicode_range { uint32_t first, last; uint8_t cls; } bn_unicode_range;
static int bn_unicode_class(uint32_t cp);     /* after the generated table at the end */

typedef struct bn_str { const char *p; size_t n; } bn_str;

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
    const bn_str *tokens;       /* (n_tokens) */
    const float *scores;        /* (n_tokens) or NULL = 0 */
    const int32_t *types;       /* (n_tokens) or NULL = normal */
    int32_t n_merges;
    const bn_str *merges;       /* (n_merges) "left right" */
    int32_t bos, eos, eot, eom, unk, pad;   /* -1 = none (eot/eom: look the text up) */
    int add_bos, add_eos, add_space_prefix; /* -1 = the default of the type and rule */
    bn_str chat_template;
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

static uint32_t bn_pow2_at_least(uint64_t n) {
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
static size_t bn_utf8_len(unsigned char c) {
    static const unsigned char lens[16] = { 1,1,1,1,1,1,1,1,1,1,1,1,2,2,3,4 };
    return lens[c >> 4];
}

static size_t bn_utf8_put(uint32_t cp, char *out) {
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
static uint32_t bn_utf8_next(const unsigned char *s, size_t n, size_t *i) {
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

typedef struct bn_split {
    const uint32_t *cp;         /* (n) code points of one text fragment */
    size_t n;
    size_t *ends;               /* (<= n) end of each piece, in code points */
    size_t n_pieces;
    size_t prev_end;
} bn_split;

#define BN__CP_NONE 0xFFFFFFFFu

static uint32_t bn_split_cp(const bn_split *s, size_t pos) { return pos < s->n ? s->cp[pos] : BN__CP_NONE; }
static int bn_split_cls(const bn_split *s, size_t pos) {
    return pos < s->n ? bn_unicode_class(s->cp[pos]) | BN__UC_ANY : 0;
}

static size_t bn_split_add(bn_split *s, size_t end) {
    size_t len = end - s->prev_end;
    if (len > 0) s->ends[s->n_pieces++] = end;
    s->prev_end = end;
    return len;
}

static uint32_t bn_ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* 's 't 're 've 'm 'll 'd at pos (pos holds '\''): the piece length or 0. */
static size_t bn_split_contraction(const bn_split *s, size_t pos, int fold) {
    uint32_t a, b;
    if (pos + 1 >= s->n) return 0;
    a = bn_split_cp(s, pos + 1);
    if (fold) a = bn_ascii_lower(a);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (pos + 2 >= s->n) return 0;
    b = bn_split_cp(s, pos + 2);
    if (fold) b = bn_ascii_lower(b);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* Trailing whitespace rules shared by both splitters: \s+(?!\S) then \s+. */
static void bn_split_spaces(bn_split *s, size_t *pos, size_t n_ws) {
    if (n_ws > 1 && bn_split_cp(s, *pos + n_ws) != BN__CP_NONE) { *pos += n_ws - 1; bn_split_add(s, *pos); }
    else if (n_ws > 0) { *pos += n_ws; bn_split_add(s, *pos); }
    else bn_split_add(s, ++*pos);
}

/* Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static void bn_split_llama3(bn_split *s) {
    size_t pos = 0;
    while (pos < s->n) {
        uint32_t c = bn_split_cp(s, pos);
        int f = bn_split_cls(s, pos), f2;
        size_t k, n_ws, last_nl;
        if (c == '\'' && (k = bn_split_contraction(s, pos, 1)) != 0) { pos += bn_split_add(s, pos + k); continue; }
        if (!(c == '\r' || c == '\n' || (f & BN__UC_NUMBER)) &&
            ((f & BN__UC_LETTER) || (bn_split_cls(s, pos + 1) & BN__UC_LETTER))) {
            pos++;
            while (bn_split_cls(s, pos) & BN__UC_LETTER) pos++;
            bn_split_add(s, pos);
            continue;
        }
        if (f & BN__UC_NUMBER) {
            size_t ini = pos;
            while (bn_split_cls(s, pos) & BN__UC_NUMBER)
                if (++pos - ini >= 3) { bn_split_add(s, pos); ini = pos; }
            bn_split_add(s, pos);
            continue;
        }
        f2 = c == ' ' ? bn_split_cls(s, pos + 1) : f;
        if (!(f2 & (BN__UC_SPACE | BN__UC_LETTER | BN__UC_NUMBER)) && f) {
            uint32_t c2;
            pos += c == ' ';
            while (!(f2 & (BN__UC_SPACE | BN__UC_LETTER | BN__UC_NUMBER)) && f2) f2 = bn_split_cls(s, ++pos);
            for (c2 = bn_split_cp(s, pos); c2 == '\r' || c2 == '\n'; c2 = bn_split_cp(s, ++pos)) {}
            bn_split_add(s, pos);
            continue;
        }
        n_ws = 0;
        last_nl = 0;
        while (bn_split_cls(s, pos + n_ws) & BN__UC_SPACE) {
            uint32_t c2 = bn_split_cp(s, pos + n_ws);
            if (c2 == '\r' || c2 == '\n') last_nl = pos + n_ws + 1;
            n_ws++;
        }
        if (last_nl > 0) { pos = last_nl; bn_split_add(s, pos); continue; }
        bn_split_spaces(s, &pos, n_ws);
    }
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void bn_split_gpt2(bn_split *s) {
    size_t pos = 0;
    while (pos < s->n) {
        uint32_t c = bn_split_cp(s, pos);
        int f = bn_split_cls(s, pos);
        int f2 = c == ' ' ? bn_split_cls(s, pos + 1) : f;
        size_t k, n_ws;
        if (c == '\'' && (k = bn_split_contraction(s, pos, 0)) != 0) { pos += bn_split_add(s, pos + k); continue; }
        if (f2 & (BN__UC_LETTER | BN__UC_NUMBER)) {
            int want = f2 & BN__UC_LETTER ? BN__UC_LETTER : BN__UC_NUMBER;
            pos += c == ' ';
            while (f2 & want) f2 = bn_split_cls(s, ++pos);
            bn_split_add(s, pos);
            continue;
        }
        if (!(f2 & (BN__UC_SPACE | BN__UC_LETTER | BN__UC_NUMBER)) && f2) {
            pos += c == ' ';
            while (!(f2 & (BN__UC_SPACE | BN__UC_LETTER | BN__UC_NUMBER)) && f2) f2 = bn_split_cls(s, ++pos);
            bn_split_add(s, pos);
            continue;
        }
        for (n_ws = 0; bn_split_cls(s, pos + n_ws) & BN__UC_SPACE; n_ws++) {}
        bn_split_spaces(s, &pos, n_ws);
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

static void bn_heap_push(bn_tok_work *w, bn_bigram b) {
    size_t i = w->heap_n++;
    while (i > 0 && bn_bigram_before(&b, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = b;
}

static bn_bigram bn_heap_pop(bn_tok_work *w) {
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
        size_t cl = bn_utf8_len((unsigned char)w->buf[off]);
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
    bn_heap_push(w, b);
}

static void bn_spm_add(bn_tok_work *w, int32_t l, int32_t r) {
    int32_t id;
    bn_bigram b;
    if (l < 0 || r < 0) return;
    b.size = w->sym[l].n + w->sym[r].n;
    if ((id = bitnet_vocab_find(w->v, w->buf + w->sym[l].start, b.size)) < 0) return;
    b.key = w->v->scores[id]; b.left = l; b.right = r;
    bn_heap_push(w, b);
}

/* Runs the queue to the end: merges the best pair while it is still current. */
static void bn_tok_merge(bn_tok_work *w, int bpe) {
    while (w->heap_n) {
        bn_bigram b = bn_heap_pop(w);
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
    bn_split s;
    size_t i = 0, n = 0, p, start = 0;
    if (!BN__TOK_GROW(w, cp, cp_cap, len) || !BN__TOK_GROW(w, ends, ends_cap, len)) return 0;
    while (i < len) w->cp[n++] = bn_utf8_next(t, len, &i);
    s.cp = w->cp; s.n = n; s.ends = w->ends; s.n_pieces = 0; s.prev_end = 0;
    if (v->pre == BITNET_PRETOK_LLAMA3) bn_split_llama3(&s);
    else bn_split_gpt2(&s);
    for (p = 0; p < s.n_pieces; p++) {
        size_t k, m = 0;
        if (!BN__TOK_GROW(w, buf, buf_cap, 8 * (s.ends[p] - start))) return 0;
        for (k = start; k < s.ends[p]; k++) {
            char u[4];
            size_t ul = bn_utf8_put(w->cp[k], u), j;
            for (j = 0; j < ul; j++) m += bn_utf8_put(v->byte_cp[(unsigned char)u[j]], w->buf + m);
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
            if (mark[i] != -1 || t[i] != s[0] || mark[i + sl - 1] != -1) continue;
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

bitnet_status bitnet_tokenize(const bitnet_vocab *v, const char *text, size_t len, int add_special,
                              int parse_special, int32_t *ids, size_t cap, size_t *n_ids) {
    bn_tok_work w;
    const unsigned char *t = (const unsigned char *)text;
    int32_t *mark = NULL;
    int prev_special = 1, ok = 1;
    if (!v || (!text && len) || (!ids && cap) || !n_ids)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_tokenize: NULL vocab, text, ids or n_ids");
    if (len > BN__TOK_MAX_TEXT)
        return bn_fail(BITNET_ERR_ARGS, "bitnet_tokenize: text of %zu bytes is over the limit of %zu",
                       len, BN__TOK_MAX_TEXT);
    memset(&w, 0, sizeof w);
    w.v = v; w.a = v->a; w.ids = ids; w.cap = cap;
    if (add_special && v->add_bos && v->bos >= 0) bn_tok_emit(&w, v->bos);
    if (len && bn_tok_has_special(v, parse_special)) {
        size_t i, start = 0;
        if (!(mark = (int32_t *)bn_alloc(&w.a, len * sizeof *mark, 16))) ok = 0;
        else {
            bn_tok_mark_special(v, text, len, parse_special, mark);
            for (i = 0; ok && i < len; i++) {
                if (mark[i] < 0) continue;
                ok = bn_tok_text(&w, t + start, i - start, &prev_special);
                bn_tok_emit(&w, mark[i]);
                prev_special = 1;
                for (start = i + 1; start < len && mark[start] == -2; start++) {}
                i = start - 1;
            }
            if (ok) ok = bn_tok_text(&w, t + start, len - start, &prev_special);
        }
    } else if (ok) {
        ok = bn_tok_text(&w, t, len, &prev_special);
    }
    if (ok && add_special && v->add_eos && v->eos >= 0) bn_tok_emit(&w, v->eos);
    bn_free(&w.a, mark);
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
        const bn_str *s = &src->tokens[i];
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
    uint32_t cap = bn_pow2_at_least(2 * (uint64_t)v->n_tokens);
    if (!(v->tok_slots = (int32_t *)bn_alloc(&v->a, (size_t)cap * sizeof *v->tok_slots, 16)))
        return bn_fail(BITNET_ERR_NOMEM, "tokenizer: out of memory for the token hash table");
    memset(v->tok_slots, 0xff, (size_t)cap * sizeof *v->tok_slots);
    v->tok_mask = cap - 1;
    for (i = 0; i < v->n_tokens; i++) bn_tok_insert(v, i);
    return BITNET_OK;
}

/* Merge i is "left right" (split at the first space after the first byte, as llama.cpp); both
   sides must be tokens. The first of duplicate merges keeps its rank. */
static bitnet_status bn_vocab_hash_merges(bitnet_vocab *v, const bn_str *merges, int32_t n) {
    int32_t i;
    uint32_t cap;
    if (n == 0) return BITNET_OK;
    cap = bn_pow2_at_least(2 * (uint64_t)n);
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

static int bn_str_has(bn_str s, const char *needle) {
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

static BN__UNUSED bitnet_status bn_vocab_build(bitnet_vocab **out, const bn_vocab_src *src, const bitnet_allocator *alloc) {
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
static BN__UNUSED bitnet_pretok bn_vocab_pre_rule(bitnet_vocab_type type, const char *pre, size_t len, int32_t n_tokens) {
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

/* ---- queries ---- */

bitnet_vocab_type bitnet_vocab_get_type(const bitnet_vocab *v) { return v->type; }
bitnet_pretok bitnet_vocab_pretok(const bitnet_vocab *v) { return v->pre; }
int32_t bitnet_vocab_size(const bitnet_vocab *v) { return v ? v->n_tokens : 0; }
int32_t bitnet_vocab_bos(const bitnet_vocab *v) { return v->bos; }
int32_t bitnet_vocab_eos(const bitnet_vocab *v) { return v->eos; }
int32_t bitnet_vocab_eot(const bitnet_vocab *v) { return v->eot; }
int32_t bitnet_vocab_eom(const bitnet_vocab *v) { return v->eom; }
int32_t bitnet_vocab_unk(const bitnet_vocab *v) { return v->unk; }
int32_t bitnet_vocab_pad(const bitnet_vocab *v) { return v->pad; }
int bitnet_vocab_add_bos(const bitnet_vocab *v) { return v->add_bos; }
size_t bitnet_vocab_max_piece(const bitnet_vocab *v) { return v->max_piece; }
bitnet_chat_format_id bitnet_vocab_chat_format(const bitnet_vocab *v) { return v->chat; }

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
                uint32_t cp = bn_utf8_next((const unsigned char *)t, n, &i);
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

typedef struct bn_chat_out { char *p; size_t cap, n; } bn_chat_out;

static void bn_chat_put(bn_chat_out *o, const char *s, size_t n) {
    if (o->n < o->cap) memcpy(o->p + o->n, s, o->n + n <= o->cap ? n : o->cap - o->n);
    o->n += n;
}

static void bn_chat_puts(bn_chat_out *o, const char *s) { bn_chat_put(o, s, strlen(s)); }

static int bn_chat_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

bitnet_status bitnet_chat_format(const bitnet_vocab *v, bitnet_chat_format_id format,
                                 const bitnet_chat_message *msgs, size_t n, int add_assistant,
                                 char *out, size_t cap, size_t *len) {
    bn_chat_out o;
    size_t i;
    if (!len || (!out && cap) || (!msgs && n) || (!v && format == BITNET_CHAT_AUTO))
        return bn_fail(BITNET_ERR_ARGS, "bitnet_chat_format: NULL argument");
    if (format == BITNET_CHAT_AUTO) format = v->chat;
    if (format != BITNET_CHAT_BITNET && format != BITNET_CHAT_LLAMA3)
        return bn_fail(BITNET_ERR_UNSUPPORTED, "bitnet_chat_format: no known chat format (template or "
                       "vocabulary); pass BITNET_CHAT_BITNET or BITNET_CHAT_LLAMA3");
    o.p = out; o.cap = cap; o.n = 0;
    bn_chat_puts(&o, "<|begin_of_text|>");
    for (i = 0; i < n; i++) {
        const char *role = msgs[i].role, *c = msgs[i].content;
        size_t cl;
        if (!role || !c) return bn_fail(BITNET_ERR_ARGS, "bitnet_chat_format: message %zu has a NULL role or content", i);
        cl = strlen(c);
        if (format == BITNET_CHAT_BITNET) {
            if (role[0]) {
                char first = role[0] >= 'a' && role[0] <= 'z' ? (char)(role[0] - 32) : role[0];
                bn_chat_put(&o, &first, 1);
                bn_chat_puts(&o, role + 1);
            }
            bn_chat_puts(&o, ": ");
            bn_chat_put(&o, c, cl);
        } else {
            while (cl && bn_chat_space(*c)) { c++; cl--; }
            while (cl && bn_chat_space(c[cl - 1])) cl--;
            bn_chat_puts(&o, "<|start_header_id|>");
            bn_chat_puts(&o, role);
            bn_chat_puts(&o, "<|end_header_id|>\n\n");
            bn_chat_put(&o, c, cl);
        }
        bn_chat_puts(&o, "<|eot_id|>");
    }
    if (add_assistant)
        bn_chat_puts(&o, format == BITNET_CHAT_BITNET ? "Assistant: " : "<|start_header_id|>assistant<|end_header_id|>\n\n");
    *len = o.n;
    if (o.n + 1 > cap) return bn_fail(BITNET_ERR_ARGS, "bitnet_chat_format: %zu bytes do not fit in %zu", o.n + 1, cap);
    out[o.n] = 0;
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
