/* The platform layer: UTF-8 file names (on Windows they must reach the wide API), mapped and
   read files giving the same bytes, clear errors for missing files, directories and bad names,
   the clock, the core count, big buffers, the atomics and the per-thread last error. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"
#include <pthread.h>

#define UTF8_NAME "test_platform_\xc3\xa9\xe2\x82\xac.gguf"   /* test_platform_é€.gguf */
#define WIDE_NAME L"test_platform_\u00e9\u20ac.gguf"

static void test_clock_and_cores(void) {
    double t0 = bitnet_time_ms(), t1 = t0;
    long i;
    for (i = 0; i < 100000000L && t1 == t0; i++) t1 = bitnet_time_ms();
    CHECKF(t1 > t0, "the clock did not advance (%f)", t0);
    CHECK(bitnet_time_ms() >= t1);
    CHECK(bitnet_online_cores() >= 1 && bitnet_online_cores() <= 1024);
}

/* Copies the shared model to a file with a non-ASCII name through the library's bn_fopen. */
static int write_utf8_copy(const unsigned char *data, size_t size) {
    FILE *f = bn_fopen(UTF8_NAME, "wb");
    int ok = f && fwrite(data, 1, size, f) == size;
    if (f && fclose(f) != 0) ok = 0;
    return ok;
}

static void remove_utf8_copy(void) {
#if defined(_WIN32)
    _wremove(WIDE_NAME);
#else
    remove(UTF8_NAME);
#endif
}

static void test_utf8_paths(void) {
    size_t size = 0;
    unsigned char *orig;
    if (!check_have_shared()) return;
    orig = check_read_file(check_shared("models/tiny-b158-i2_s.gguf"), &size);
    bitnet_gguf *mapped = NULL, *read = NULL;
    CHECK(orig != NULL && size > 0);
    if (!orig) return;
    CHECK(write_utf8_copy(orig, size));
    {   /* Windows: the name on disk is the UTF-16 one, not the UTF-8 bytes in the ANSI code page */
#if defined(_WIN32)
        FILE *f = _wfopen(WIDE_NAME, L"rb");
#else
        FILE *f = fopen(UTF8_NAME, "rb");
#endif
        CHECK(f != NULL);
        if (f) fclose(f);
    }
    CHECKF(bitnet_gguf_open(&mapped, UTF8_NAME, NULL) == BITNET_OK, "%s", bitnet_last_error());
    CHECKF(bn_gguf_open_file(&read, UTF8_NAME, NULL, 1) == BITNET_OK, "%s", bitnet_last_error());
    if (mapped && read) {
#if !defined(BITNET_NO_MMAP)
        CHECK(mapped->mapped == 1);
#endif
        CHECK(read->mapped == 0 && read->owned != 0);
        CHECK(bitnet_gguf_file_size(mapped) == size && bitnet_gguf_file_size(read) == size);
        CHECK(memcmp(mapped->data, orig, size) == 0 && memcmp(read->data, orig, size) == 0);
        CHECK(bitnet_gguf_n_tensors(mapped) == bitnet_gguf_n_tensors(read) && bitnet_gguf_n_tensors(read) > 0);
    }
    bitnet_gguf_close(mapped);
    bitnet_gguf_close(read);
    {   /* a whole model loads from the name too */
        bitnet_model *m = NULL;
        bitnet_model_params p;
        memset(&p, 0, sizeof p);
        p.path = UTF8_NAME;
        CHECKF(bitnet_model_load(&m, &p) == BITNET_OK, "%s", bitnet_last_error());
        bitnet_model_free(m);
    }
    remove_utf8_copy();
    free(orig);
}

static void test_file_errors(void) {
    bitnet_gguf *g = NULL;
    FILE *f;
    CHECK(bitnet_gguf_open(&g, "no/such/dir/model.gguf", NULL) == BITNET_ERR_IO && g == NULL);
    CHECKF(strstr(bitnet_last_error(), "no/such/dir/model.gguf") != NULL, "%s", bitnet_last_error());
    CHECK(bn_gguf_open_file(&g, "no/such/dir/model.gguf", NULL, 1) == BITNET_ERR_IO && g == NULL);
    CHECK(bitnet_gguf_open(&g, ".", NULL) == BITNET_ERR_IO && g == NULL);
    CHECK(bitnet_last_error()[0] != 0);
    /* not UTF-8: Windows refuses to guess a conversion; elsewhere it is just a missing file */
    CHECK(bitnet_gguf_open(&g, "bad_\xff\xfe.gguf", NULL) == BITNET_ERR_IO && g == NULL);
#if defined(_WIN32)
    CHECKF(strstr(bitnet_last_error(), "not valid UTF-8") != NULL, "%s", bitnet_last_error());
#else
    CHECKF(strstr(bitnet_last_error(), "bad_") != NULL, "%s", bitnet_last_error());
#endif
    /* empty: nothing to map, the read path then finds no header */
    f = bn_fopen("test_platform_empty.gguf", "wb");
    CHECK(f != NULL);
    if (f) fclose(f);
    CHECK(bitnet_gguf_open(&g, "test_platform_empty.gguf", NULL) != BITNET_OK && g == NULL);
    remove("test_platform_empty.gguf");
}

static void test_huge_alloc(void) {
    size_t n = ((size_t)3 << 20) + 1;
    unsigned char *p = (unsigned char *)bn_huge_alloc(n);
#if defined(_WIN32) || (defined(MAP_ANONYMOUS) && defined(MADV_HUGEPAGE) && !defined(BITNET_NO_MMAP))
    CHECK(p != NULL);
#endif
    if (p) {
        CHECK((uintptr_t)p % 4096 == 0);
        p[0] = 1; p[n - 1] = 2;
        CHECK(p[0] + p[n - 1] == 3);
        bn_huge_free(p, n);
    }
    CHECK(bn_huge_alloc(0) == NULL);
}

static void test_atomics(void) {
    uint64_t w = 5, expected = 4;
    uint32_t c = 0xfffffffeu;
    CHECK(!bn_atomic_cas64(&w, &expected, 9) && expected == 5 && w == 5);
    CHECK(bn_atomic_cas64(&w, &expected, 9) && w == 9);
    CHECK(bn_atomic_add32(&c, 1) == 0xffffffffu);
    CHECK(bn_atomic_add32(&c, 2) == 1u);                         /* wraps like unsigned */
    CHECK(bn_atomic_add32(&c, (uint32_t)-1) == 0u);
    bn_atomic_store64_sc(&w, (uint64_t)1 << 40);
    CHECK(bn_atomic_load64(&w) == (uint64_t)1 << 40 && bn_atomic_load64_sc(&w) == (uint64_t)1 << 40);
    bn_atomic_store32(&c, 7);
    CHECK(bn_atomic_load32(&c) == 7 && bn_atomic_load32_sc(&c) == 7);
}

/* The last error is per thread: another thread's failure does not show here and back. */
static void *error_thread(void *arg) {
    int *clean_start = (int *)arg;
    bitnet_gguf *g = NULL;
    *clean_start = bitnet_last_error()[0] == 0;
    bitnet_gguf_open(&g, "thread_b_missing.gguf", NULL);
    return NULL;
}

static void test_thread_local_error(void) {
    bitnet_gguf *g = NULL;
    pthread_t t;
    int clean_start = 0;
    bitnet_gguf_open(&g, "thread_a_missing.gguf", NULL);
    CHECK(strstr(bitnet_last_error(), "thread_a_missing") != NULL);
    CHECK(pthread_create(&t, NULL, error_thread, &clean_start) == 0);
    pthread_join(t, NULL);
    CHECK(clean_start);
    CHECKF(strstr(bitnet_last_error(), "thread_a_missing") != NULL, "%s", bitnet_last_error());
}

int main(void) {
    test_clock_and_cores();
    test_utf8_paths();
    test_file_errors();
    test_huge_alloc();
    test_atomics();
    test_thread_local_error();
    return check_report("platform");
}
