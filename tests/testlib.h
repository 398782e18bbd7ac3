/* testlib.h - the tests' assertions: expect_* reports and continues,
 * assert_* reports and stops the test. A test's main returns test_finish(). */
#ifndef VRAM_TESTLIB_H
#define VRAM_TESTLIB_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;

#define TEST_REPORT_(cond_text)                                                            \
    (fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, cond_text), test_failures++)

#define expect_true(c) ((c) ? (void)0 : (void)TEST_REPORT_(#c))
#define assert_true(c)                                                                     \
    do {                                                                                   \
        if (!(c)) {                                                                        \
            TEST_REPORT_(#c);                                                              \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

#define expect_eq_u64(a, b)                                                                \
    do {                                                                                   \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                   \
        if (a_ != b_) {                                                                    \
            fprintf(stderr, "%s:%d: FAILED: %s == %s (%" PRIu64 " != %" PRIu64 ")\n",      \
                    __FILE__, __LINE__, #a, #b, a_, b_);                                   \
            test_failures++;                                                               \
        }                                                                                  \
    } while (0)

#define expect_status(expr, want)                                                          \
    do {                                                                                   \
        vram_status got_ = (expr);                                                         \
        if (got_ != (want)) {                                                              \
            fprintf(stderr, "%s:%d: FAILED: %s gave %s, wanted %s\n", __FILE__, __LINE__,  \
                    #expr, vram_strerror(got_), vram_strerror(want));                      \
            test_failures++;                                                               \
        }                                                                                  \
    } while (0)

#define assert_ok(expr)                                                                    \
    do {                                                                                   \
        vram_status got_ = (expr);                                                         \
        if (got_ != VRAM_OK) {                                                             \
            fprintf(stderr, "%s:%d: FAILED: %s gave %s\n", __FILE__, __LINE__, #expr,      \
                    vram_strerror(got_));                                                  \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static inline int test_finish(const char *name)
{
    if (test_failures) {
        fprintf(stderr, "%s: %d failure(s)\n", name, test_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

/* splitmix64: the tests' PRNG; every randomised test prints its seed. */
static inline uint64_t test_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
