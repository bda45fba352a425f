/* check.h - the tiny test harness every tests/test_*.c uses.
   CHECK(cond) counts a pass or prints the failed condition; check_report() prints
   "name: N passed, N failed" and returns the exit status. */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(_WIN32)
#include <malloc.h>          /* _aligned_malloc */
#endif
#if defined(__GNUC__) || defined(__clang__)
#define CHECK_UNUSED __attribute__((unused))
#else
#define CHECK_UNUSED
#endif

static int check_passed, check_failed;

/* 1 in an AddressSanitizer build (gcc or clang): slow loops may run fewer rounds there, as the
   optimized build runs them in full. */
#if defined(__SANITIZE_ADDRESS__)
#define CHECK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHECK_SANITIZED 1
#endif
#endif
#ifndef CHECK_SANITIZED
#define CHECK_SANITIZED 0
#endif

#define CHECK(cond) do { \
    if (cond) check_passed++; \
    else { check_failed++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } \
} while (0)

/* CHECK with a printf-style explanation on failure. */
#define CHECKF(cond, ...) do { \
    if (cond) check_passed++; \
    else { check_failed++; fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
           fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
} while (0)

static CHECK_UNUSED int check_report(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

/* Path of a file in the shared test data (../shared/data beside the repo, or $BITNET_SHARED/data). */
static CHECK_UNUSED const char *check_shared(const char *rel) {
    static char buf[4][1024];
    static int slot;
    const char *root = getenv("BITNET_SHARED");
    char *out = buf[slot++ & 3];
    snprintf(out, sizeof buf[0], "%s/data/%s", root && *root ? root : "../shared", rel);
    return out;
}

/* The path of models/NAME.gguf in the shared test data (a check_shared buffer). */
static CHECK_UNUSED const char *check_shared_model(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    return check_shared(rel);
}

/* Whether the shared test data is there; the first call without it prints which directory is
   missing, so a clone without ../shared skips those suites with a clear notice instead of failing. */
static CHECK_UNUSED int check_have_shared(void) {
    static int known = -1;
    if (known < 0) {
        FILE *f = fopen(check_shared("README.md"), "rb");
        known = f != NULL;
        if (f) fclose(f);
        else printf("notice: %s not found (set BITNET_SHARED to the folder holding data/): the tests that need "
                    "the shared models, vocabularies and reference logits are skipped\n", check_shared(""));
    }
    return known;
}

/* Reads a whole file into malloc'd memory; NULL if it cannot. */
static CHECK_UNUSED unsigned char *check_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = (unsigned char *)malloc((size_t)n + 1);
        if (data && fread(data, 1, (size_t)n, f) != (size_t)n) { free(data); data = NULL; }
        if (data) *size = (size_t)n;
    }
    fclose(f);
    return data;
}

#ifdef BITNET_H
/* Loads models/NAME.gguf of the shared test data with the given kernels; a failed load is a
   failed check (with the library's reason) and NULL. check_load_model: the best kernels here. */
static CHECK_UNUSED bitnet_model *check_load_model_isa(const char *name, bitnet_isa isa) {
    bitnet_model *m = NULL;
    bitnet_model_params p;
    memset(&p, 0, sizeof p);
    p.path = check_shared_model(name);
    p.isa = isa;
    CHECKF(bitnet_model_load(&m, &p) == BITNET_OK, "%s: %s", name, bitnet_last_error());
    return m;
}

static CHECK_UNUSED bitnet_model *check_load_model(const char *name) {
    return check_load_model_isa(name, BITNET_ISA_AUTO);
}

/* An allocator hook that counts allocations and frees and makes the fail_at-th allocation
   (1-based; 0 = never) fail: tests prove no allocation per token and clean failure paths. */
typedef struct check_allocator {
    long live, total, fail_at, frees;
} check_allocator;

static CHECK_UNUSED void *check_alloc(size_t size, size_t align, void *user) {
    check_allocator *c = (check_allocator *)user;
    void *p = NULL;
    if (++c->total == c->fail_at) return NULL;
#if defined(_WIN32)
    if (!(p = _aligned_malloc(size ? size : 1, align < sizeof(void *) ? sizeof(void *) : align))) return NULL;
#else
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1)) return NULL;
#endif
    c->live++;
    return p;
}

static CHECK_UNUSED void check_free(void *p, void *user) {
    check_allocator *c = (check_allocator *)user;
    if (!p) return;
    c->live--;
    c->frees++;
#if defined(_WIN32)
    _aligned_free(p);
#else
    free(p);
#endif
}

static CHECK_UNUSED bitnet_allocator check_allocator_hooks(check_allocator *c) {
    bitnet_allocator a;
    a.alloc = check_alloc;
    a.free = check_free;
    a.user = c;
    return a;
}
#endif
#endif
