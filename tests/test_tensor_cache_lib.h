/* test_tensor_cache_lib.h - what the tensor cache tests share: a cache over a
 * heap, its stats by value, and check() passing or failing with a message. */
#ifndef TEST_TENSOR_CACHE_LIB_H
#define TEST_TENSOR_CACHE_LIB_H

#include "test_heap_lib.h"
#include "vram/tensor_cache.h"

/* A cache of `limit` bytes over h; stops the test when creation fails. */
static inline vram_tensor_cache *test_cache(vram_heap *h, uint64_t limit)
{
    vram_tensor_cache_config cfg = {.limit_bytes = limit};
    vram_tensor_cache *tc = NULL;
    assert_ok(vram_tensor_cache_create(h, &cfg, &tc));
    return tc;
}

static inline vram_tensor_cache_stats test_cache_stats(const vram_tensor_cache *tc)
{
    vram_tensor_cache_stats s;
    vram_tensor_cache_stats_get(tc, &s);
    return s;
}

static inline void test_cache_clean_(const vram_tensor_cache *tc, const char *file, int line)
{
    char msg[256];
    if (vram_tensor_cache_check(tc, msg, sizeof msg) != VRAM_OK) {
        fprintf(stderr, "%s:%d: FAILED: tensor cache check: %s\n", file, line, msg);
        test_failures++;
    }
}
/* The cache's check() passes. */
#define EXPECT_CACHE_CLEAN(tc) test_cache_clean_((tc), __FILE__, __LINE__)

static inline void test_cache_violation_(const vram_tensor_cache *tc, const char *want,
                                         const char *file, int line)
{
    char msg[256];
    vram_status st = vram_tensor_cache_check(tc, msg, sizeof msg);
    if (st != VRAM_ECORRUPT || strcmp(msg, want) != 0) {
        fprintf(stderr, "%s:%d: FAILED: check gave %s \"%s\", wanted \"%s\"\n", file, line,
                vram_status_name(st), st ? msg : "", want);
        test_failures++;
    }
}
/* The cache's check() fails with VRAM_ECORRUPT and exactly the message `want`. */
#define EXPECT_CACHE_VIOLATION(tc, want) test_cache_violation_((tc), (want), __FILE__, __LINE__)

#endif
