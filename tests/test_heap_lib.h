/* test_heap_lib.h - what the heap policy tests share: size units, a heap of a
 * named policy, its stats by value, a check() that must pass, and a walk
 * recorded into an array. */
#ifndef TEST_HEAP_LIB_H
#define TEST_HEAP_LIB_H

#include "testlib.h"

#include "vram/heap.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

/* A heap of `policy` built from `cfg`; stops the test when creation fails. */
static inline vram_heap *test_heap(const char *policy, vram_heap_config cfg)
{
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(vram_heap_policy(policy), &cfg, &h));
    return h;
}

/* An allocation at the heap's minimum alignment; stops the test when it fails. */
static inline uint64_t test_heap_alloc(vram_heap *h, uint64_t size)
{
    uint64_t off = UINT64_MAX;
    assert_ok(vram_heap_alloc(h, size, 0, &off));
    return off;
}

static inline vram_heap_stats test_heap_stats(const vram_heap *h)
{
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    return s;
}

static inline void test_heap_clean_(const vram_heap *h, const char *file, int line)
{
    char msg[256];
    if (vram_heap_check(h, msg, sizeof msg) != VRAM_OK) {
        fprintf(stderr, "%s:%d: FAILED: check: %s\n", file, line, msg);
        test_failures++;
    }
}
/* check() passes; a failure names the caller's line and the violation. */
#define EXPECT_HEAP_CLEAN(h) test_heap_clean_((h), __FILE__, __LINE__)

static inline void test_heap_violation_(const vram_heap *h, const char *want, const char *file,
                                        int line)
{
    char msg[256];
    vram_status st = vram_heap_check(h, msg, sizeof msg);
    if (st != VRAM_ECORRUPT || strcmp(msg, want) != 0) {
        fprintf(stderr, "%s:%d: FAILED: check gave %s \"%s\", wanted \"%s\"\n", file, line,
                vram_status_name(st), st ? msg : "", want);
        test_failures++;
    }
}
/* check() fails with VRAM_ECORRUPT and exactly the message `want`. */
#define EXPECT_HEAP_VIOLATION(h, want) test_heap_violation_((h), (want), __FILE__, __LINE__)

/* For the tests that corrupt a policy's private state: sets `lvalue` to
 * `value`, expects the violation `want`, restores the lvalue and expects a
 * clean check. */
#define CORRUPT(h, lvalue, value, want)                                                    \
    do {                                                                                   \
        __typeof__(lvalue) saved_ = (lvalue);                                              \
        (lvalue) = (value);                                                                \
        EXPECT_HEAP_VIOLATION(h, want);                                                    \
        (lvalue) = saved_;                                                                 \
        EXPECT_HEAP_CLEAN(h);                                                              \
    } while (0)

#define TEST_WALK_MAX 4096

/* The blocks of one walk, in address order. */
typedef struct test_heap_blocks {
    vram_block_info b[TEST_WALK_MAX];
    size_t n;
} test_heap_blocks;

static inline int test_walk_record_(const vram_block_info *b, void *ctx)
{
    test_heap_blocks *w = ctx;
    if (w->n == TEST_WALK_MAX)
        return 1;
    w->b[w->n++] = *b;
    return 0;
}

/* Walks h into *w; stops the test when the walk fails. */
static inline void test_heap_walk(const vram_heap *h, test_heap_blocks *w)
{
    w->n = 0;
    assert_ok(vram_heap_walk(h, test_walk_record_, w));
}

#endif
