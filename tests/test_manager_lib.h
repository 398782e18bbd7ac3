/* test_manager_lib.h - what the manager tests share: its stats and a
 * handle's info by value, and vram_manager_check passing. */
#ifndef TEST_MANAGER_LIB_H
#define TEST_MANAGER_LIB_H

#include "testlib.h"
#include "vram/vram.h"

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
