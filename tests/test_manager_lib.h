/* test_manager_lib.h - what the manager tests share: host-backed handles, a
 * fragmented heap, the stats and a handle's info by value, and
 * vram_manager_check passing. */
#ifndef TEST_MANAGER_LIB_H
#define TEST_MANAGER_LIB_H

#include "testlib.h"
#include "vram/vram.h"

/* A host-backed handle of `size` bytes at priority 0; stops the test when
 * the allocation fails. */
static inline vram_handle test_alloc_host(vram_manager *m, uint64_t size)
{
    vram_alloc_desc d = {.size = size, .backing = VRAM_BACKING_HOST};
    vram_handle h;
    assert_ok(vram_alloc(m, &d, &h));
    return h;
}

/* Four 256 KiB handles, the second and fourth freed: free space in two
 * 256 KiB pieces, and the two movable handles (first and third) in kept. */
static inline void test_fragment(vram_manager *m, vram_handle kept[2])
{
    vram_handle h[4];
    for (int i = 0; i < 4; i++)
        h[i] = test_alloc_host(m, 256 << 10);
    assert_ok(vram_free(m, h[1]));
    assert_ok(vram_free(m, h[3]));
    kept[0] = h[0];
    kept[1] = h[2];
}

static inline vram_manager_stats test_manager_stats(const vram_manager *m)
{
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    return st;
}

/* The handle's info; stops the test when h is no live handle. */
static inline vram_handle_info test_handle_info(const vram_manager *m, vram_handle h)
{
    vram_handle_info info;
    assert_ok(vram_handle_get(m, h, &info));
    return info;
}

static inline void test_manager_clean_(const vram_manager *m, const char *file, int line)
{
    char msg[256];
    if (vram_manager_check(m, msg, sizeof msg) != VRAM_OK) {
        fprintf(stderr, "%s:%d: FAILED: manager check: %s\n", file, line, msg);
        test_failures++;
    }
}
/* vram_manager_check passes; a failure names the caller's line and the violation. */
#define EXPECT_MANAGER_CLEAN(m) test_manager_clean_((m), __FILE__, __LINE__)

#endif
