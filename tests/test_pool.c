/* Memory pool and allocator hooks: alignment, stats, reset, hard capacity, failing allocator. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"

static void test_status_text(void) {
    CHECK(strcmp(bitnet_status_str(BITNET_OK), "ok") == 0);
    CHECK(strcmp(bitnet_status_str(BITNET_ERR_NOMEM), "out of memory") == 0);
    CHECK(strcmp(bitnet_status_str((bitnet_status)-1000), "unknown status") == 0);
    bitnet_clear_error();
    CHECK(bitnet_last_error()[0] == 0);
}

static void test_alignment_and_stats(void) {
    bitnet_pool pool;
    bitnet_pool_stats s;
    int i;
    CHECK(bitnet_pool_init(&pool, NULL) == BITNET_OK);
    for (i = 1; i < 200; i += 7) {
        unsigned char *p = (unsigned char *)bitnet_pool_alloc(&pool, (size_t)i);
        CHECK(p != NULL && (uintptr_t)p % 64 == 0);
        if (p) memset(p, 0xAB, (size_t)i);
    }
    s = bitnet_pool_get_stats(&pool);
    CHECK(s.n_allocs == 29);
    CHECK(s.in_use % 64 == 0 && s.in_use >= 29 * 64);
    CHECK(s.peak == s.in_use);
    CHECK(s.reserved >= s.in_use);
    bitnet_pool_reset(&pool);
    s = bitnet_pool_get_stats(&pool);
    CHECK(s.in_use == 0 && s.n_allocs == 0 && s.peak >= 29 * 64);
    bitnet_pool_destroy(&pool);
}

static void test_large_block_and_reuse(void) {
    bitnet_pool pool;
    bitnet_pool_desc desc;
    bitnet_pool_stats s1, s2;
    memset(&desc, 0, sizeof desc);
    desc.block_size = 4096;
    CHECK(bitnet_pool_init(&pool, &desc) == BITNET_OK);
    CHECK(bitnet_pool_alloc(&pool, 100000) != NULL);   /* bigger than a block */
    CHECK(bitnet_pool_alloc(&pool, 1000) != NULL);
    s1 = bitnet_pool_get_stats(&pool);
    bitnet_pool_reset(&pool);
    CHECK(bitnet_pool_alloc(&pool, 100000) != NULL);
    CHECK(bitnet_pool_alloc(&pool, 1000) != NULL);
    s2 = bitnet_pool_get_stats(&pool);
    CHECK(s2.reserved == s1.reserved);                  /* reset reuses the blocks */
    bitnet_pool_destroy(&pool);
}

static void test_capacity(void) {
    bitnet_pool pool;
    bitnet_pool_desc desc;
    void *p;
    memset(&desc, 0, sizeof desc);
    desc.capacity = 64 * 1024;
    desc.block_size = 16 * 1024;
    CHECK(bitnet_pool_init(&pool, &desc) == BITNET_OK);
    CHECK(bitnet_pool_alloc(&pool, 40 * 1024) != NULL);
    p = bitnet_pool_alloc(&pool, 40 * 1024);
    CHECK(p == NULL);
    CHECK(strstr(bitnet_last_error(), "capacity") != NULL);
    CHECK(bitnet_pool_get_stats(&pool).reserved <= desc.capacity);
    CHECK(bitnet_pool_alloc(&pool, (size_t)-1) == NULL);
    CHECK(bitnet_pool_alloc(&pool, 1024) != NULL);       /* still usable after a refusal */
    bitnet_pool_destroy(&pool);
}

static void test_failing_allocator(void) {
    long n;
    for (n = 1; n <= 6; n++) {
        check_allocator c = {0, 0, 0, 0};
        bitnet_pool pool;
        bitnet_pool_desc desc;
        int i, got = 0;
        c.fail_at = n;
        memset(&desc, 0, sizeof desc);
        desc.block_size = 1024;
        desc.allocator = check_allocator_hooks(&c);
        CHECK(bitnet_pool_init(&pool, &desc) == BITNET_OK);
        for (i = 0; i < 6; i++) got += bitnet_pool_alloc(&pool, 1000) != NULL;
        CHECK(got == 5);                                 /* exactly the failing block was refused */
        bitnet_pool_destroy(&pool);
        CHECK(c.live == 0);
    }
}

int main(void) {
    test_status_text();
    test_alignment_and_stats();
    test_large_block_and_reuse();
    test_capacity();
    test_failing_allocator();
    return check_report("pool");
}
