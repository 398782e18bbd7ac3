/* test_hostpool.c - the host pool over a sim device: first fit and reuse,
 * coalescing, own chunks for large blocks, the byte limit, bad puts, trim,
 * check() catching an overwritten header, and a seeded random test with
 * contents verified against a shadow. (The pinned path: test_device_cuda.) */
#include "testlib.h"
#include "vram/device.h"
#include "vram/hostpool.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)

static vram_device *sim(void)
{
    vram_device_config cfg = {.capacity = 64 * MiB};
    vram_device *d;
    assert_ok(vram_device_create(&cfg, &d));
    return d;
}

static void expect_check_ok(const vram_hostpool *p)
{
    char msg[256] = "";
    vram_status st = vram_hostpool_check(p, msg, sizeof msg);
    if (st)
        fprintf(stderr, "check: %s\n", msg);
    expect_status(st, VRAM_OK);
}

static void test_basics(vram_device *d)
{
    vram_hostpool *p = (vram_hostpool *)d;
    vram_hostpool_config cfg = {.chunk_bytes = 100};
    expect_status(vram_hostpool_create(d, &cfg, &p), VRAM_EINVAL);
    expect_true(p == NULL);
    expect_status(vram_hostpool_create(NULL, NULL, &p), VRAM_EINVAL);
    cfg.chunk_bytes = 64 * KiB;
    assert_ok(vram_hostpool_create(d, &cfg, &p));

    vram_hostpool_stats s;
    vram_hostpool_stats_get(p, &s);
    expect_eq_u64(s.chunks, 0); /* no chunk before the first get */

    void *a, *b, *c;
    expect_status(vram_hostpool_get(p, 0, &a), VRAM_EINVAL);
    expect_status(vram_hostpool_get(p, UINT64_MAX - 10, &a), VRAM_EOVERFLOW);
    assert_ok(vram_hostpool_get(p, 100, &a));
    assert_ok(vram_hostpool_get(p, 1000, &b));
    assert_ok(vram_hostpool_get(p, 1, &c));
    expect_true((uintptr_t)a % 64 == 0 && (uintptr_t)b % 64 == 0 && (uintptr_t)c % 64 == 0);
    /* First fit in address order: header + rounded payload between blocks. */
    expect_eq_u64((uintptr_t)b - (uintptr_t)a, 64 + 128);
    expect_eq_u64((uintptr_t)c - (uintptr_t)b, 64 + 1024);
    memset(a, 0xaa, 100);
    memset(b, 0xbb, 1000);
    memset(c, 0xcc, 1);
    vram_hostpool_stats_get(p, &s);
    expect_eq_u64(s.in_use, 192 + 1088 + 128);
    expect_eq_u64(s.live_blocks, 3);
    expect_eq_u64(s.chunks, 1);
    expect_eq_u64(s.pinned_chunks, 0); /* sim: plain memory */
    expect_eq_u64(s.held, 64 * KiB);
    expect_check_ok(p);

    /* Bad puts are refused and change nothing. */
    int local;
    expect_status(vram_hostpool_put(p, &local), VRAM_ENOTFOUND);
    expect_status(vram_hostpool_put(p, NULL), VRAM_ENOTFOUND);
    expect_status(vram_hostpool_put(p, (char *)b + 64), VRAM_ENOTFOUND); /* interior */
    assert_ok(vram_hostpool_put(p, b));
    expect_status(vram_hostpool_put(p, b), VRAM_EDOUBLEFREE);
    expect_check_ok(p);

    /* The freed gap is reused first fit; neighbours survive. */
    void *b2;
    assert_ok(vram_hostpool_get(p, 512, &b2));
    expect_true(b2 == b);
    expect_true(((unsigned char *)a)[99] == 0xaa && ((unsigned char *)c)[0] == 0xcc);

    /* Putting everything back merges the chunk into one range: the largest
     * possible block fits again without a new chunk. */
    assert_ok(vram_hostpool_put(p, a));
    assert_ok(vram_hostpool_put(p, c));
    assert_ok(vram_hostpool_put(p, b2));
    expect_check_ok(p);
    void *big;
    assert_ok(vram_hostpool_get(p, 64 * KiB - 64 - 64, &big)); /* chunk minus header minus slack */
    vram_hostpool_stats_get(p, &s);
    expect_eq_u64(s.chunk_allocs, 1);
    expect_eq_u64(s.gets, 5);
    assert_ok(vram_hostpool_put(p, big));

    /* Larger than a chunk: a chunk of its own. */
    assert_ok(vram_hostpool_get(p, 200 * KiB, &big));
    memset(big, 1, 200 * KiB);
    vram_hostpool_stats_get(p, &s);
    expect_eq_u64(s.chunks, 2);
    expect_true(s.held >= 64 * KiB + 200 * KiB + 64);
    expect_eq_u64(vram_hostpool_trim(p), 1); /* the empty first chunk */
    vram_hostpool_stats_get(p, &s);
    expect_eq_u64(s.chunks, 1);
    expect_check_ok(p);
    assert_ok(vram_hostpool_put(p, big));
    expect_eq_u64(vram_hostpool_trim(p), 1);
    vram_hostpool_stats_get(p, &s);
    expect_eq_u64(s.held, 0);
    expect_eq_u64(s.in_use, 0);
    vram_hostpool_destroy(p);
    vram_hostpool_destroy(NULL);
}

static void test_limit_and_corruption(vram_device *d)
{
    vram_hostpool_config cfg = {.chunk_bytes = 64 * KiB, .max_bytes = 128 * KiB};
    vram_hostpool *p;
    assert_ok(vram_hostpool_create(d, &cfg, &p));
    void *a, *b, *c;
    assert_ok(vram_hostpool_get(p, 60 * KiB, &a));
    assert_ok(vram_hostpool_get(p, 60 * KiB, &b));
    vram_hostpool_stats before, after;
    vram_hostpool_stats_get(p, &before);
    expect_status(vram_hostpool_get(p, 60 * KiB, &c), VRAM_ENOHOST); /* a third chunk: over */
    vram_hostpool_stats_get(p, &after);
    expect_true(memcmp(&before, &after, sizeof before) == 0);
    expect_eq_u64(after.chunks, 2);

    /* A writer that underruns b destroys b's header: check() names it. */
    memset((char *)b - 8, 0, 8);
    char msg[256] = "";
    expect_status(vram_hostpool_check(p, msg, sizeof msg), VRAM_ECORRUPT);
    expect_true(strstr(msg, "chunk 1: no valid block header at 0") != NULL);
    expect_status(vram_hostpool_put(p, b), VRAM_ENOTFOUND);
    vram_hostpool_destroy(p); /* frees the chunks, live blocks included */
}

static void test_random(vram_device *d)
{
    enum { OPS = 50000, SLOTS = 200 };
    uint64_t seed = 0x5eed0001, rng = seed;
    printf("hostpool random: seed 0x%" PRIx64 "\n", seed);
    vram_hostpool_config cfg = {.chunk_bytes = 1 * MiB};
    vram_hostpool *p;
    assert_ok(vram_hostpool_create(d, &cfg, &p));
    struct {
        unsigned char *ptr;
        uint64_t size;
        unsigned char tag;
    } slot[SLOTS] = {{0}};
    for (int op = 0; op < OPS; op++) {
        size_t i = test_rand(&rng) % SLOTS;
        if (slot[i].ptr) {
            for (uint64_t k = 0; k < slot[i].size; k += 61)
                assert_true(slot[i].ptr[k] == slot[i].tag);
            assert_ok(vram_hostpool_put(p, slot[i].ptr));
            slot[i].ptr = NULL;
        } else {
            /* Log-uniform 1 B .. 256 KiB, now and then larger than a chunk. */
            uint64_t r = test_rand(&rng);
            uint64_t size = (r % 1000 == 0) ? 3 * MiB : 1 + (r >> 32) % (1ull << (r % 19));
            void *ptr;
            assert_ok(vram_hostpool_get(p, size, &ptr));
            slot[i].ptr = ptr;
            slot[i].size = size;
            slot[i].tag = (unsigned char)(op | 1);
            memset(ptr, slot[i].tag, size);
        }
        if (op % 500 == 0)
            expect_check_ok(p);
    }
    expect_check_ok(p);
    vram_hostpool_stats s;
    vram_hostpool_stats_get(p, &s);
    printf("hostpool random: %" PRIu64 " gets, %" PRIu64 " chunk allocations, %" PRIu64
           " chunks, peak in use %" PRIu64 " of %" PRIu64 " held\n",
           s.gets, s.chunk_allocs, s.chunks, s.peak_in_use, s.held);
    expect_true(s.chunk_allocs * 20 < s.gets); /* the point: few host allocations */
    for (size_t i = 0; i < SLOTS; i++) {
        if (slot[i].ptr)
            assert_ok(vram_hostpool_put(p, slot[i].ptr));
    }
    vram_hostpool_stats_get(p, &s);
    expect_eq_u64(s.in_use, 0);
    expect_eq_u64(s.live_blocks, 0);
    expect_check_ok(p);
    vram_hostpool_destroy(p);
}

int main(void)
{
    vram_device *d = sim();
    test_basics(d);
    test_limit_and_corruption(d);
    test_random(d);
    vram_device_destroy(d);
    return test_finish("hostpool");
}
