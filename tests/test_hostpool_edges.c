/* test_hostpool_edges.c - the host pool's refusals and every invariant of
 * vram_hostpool_check. The test includes alloc/hostpool.c, so it sees the
 * chunk and free-range structs (the executable's own copy of the pool takes
 * precedence over libvram's archive member): each violation is provoked by
 * corrupting one field on purpose, check() must answer VRAM_ECORRUPT with
 * the words of that invariant, and after the field is restored check() must
 * pass again. realloc goes through a switch of the test's (-Wl,--wrap,
 * tests/cmake/hostpool_edges.cmake), for a put that cannot grow its chunk's
 * free-range array. */
#include "../alloc/hostpool.c"

#include "testlib.h"

#define KiB (1ull << 10)

/* Under ASan, a request no host can satisfy returns NULL (the pool's answer
 * to that is under test) rather than stopping the process. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* The next realloc returns NULL (once). volatile: the pool's code is in this
 * file, and a compiler may assume the builtin realloc leaves it alone. */
static volatile int refuse_realloc;

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
    if (refuse_realloc) {
        refuse_realloc = 0;
        return NULL;
    }
    return __real_realloc(p, n);
}

static void expect_check_ok(const vram_hostpool *p)
{
    char msg[256] = "";
    vram_status st = vram_hostpool_check(p, msg, sizeof msg);
    if (st)
        fprintf(stderr, "check: %s\n", msg);
    expect_status(st, VRAM_OK);
}

/* check() fails, naming `words`. */
static void expect_violation(const vram_hostpool *p, const char *words)
{
    char msg[256] = "";
    expect_status(vram_hostpool_check(p, msg, sizeof msg), VRAM_ECORRUPT);
    if (!strstr(msg, words)) {
        fprintf(stderr, "check said \"%s\", wanted \"%s\"\n", msg, words);
        test_failures++;
    }
}

static void expect_same_stats(const vram_hostpool *p, const vram_hostpool_stats *before)
{
    vram_hostpool_stats now;
    vram_hostpool_stats_get(p, &now);
    expect_true(memcmp(&now, before, sizeof now) == 0);
}

static void test_refusals(vram_device *d)
{
    vram_hostpool *p;
    expect_status(vram_hostpool_create(d, NULL, NULL), VRAM_EINVAL);
    assert_ok(vram_hostpool_create(d, &(vram_hostpool_config){.chunk_bytes = 64 * KiB}, &p));
    void *a, *b;
    assert_ok(vram_hostpool_get(p, 100, &a));
    assert_ok(vram_hostpool_get(p, 100, &b));
    vram_hostpool_stats before;
    vram_hostpool_stats_get(p, &before);

    expect_status(vram_hostpool_get(p, 100, NULL), VRAM_EINVAL);
    /* Inside a chunk but not 64-byte aligned: not a block, and never read. */
    expect_status(vram_hostpool_put(p, (char *)a + 1), VRAM_ENOTFOUND);
    expect_status(vram_hostpool_put(p, (char *)b + 8), VRAM_ENOTFOUND);
    /* More than any host can give: VRAM_ENOHOST, no chunk taken. */
    void *huge = &huge;
    expect_status(vram_hostpool_get(p, 1ull << 60, &huge), VRAM_ENOHOST);
    expect_true(huge == &huge);
    expect_same_stats(p, &before);
    expect_check_ok(p);
    assert_ok(vram_hostpool_put(p, a));
    assert_ok(vram_hostpool_put(p, b));
    vram_hostpool_destroy(p);
}

/* A header whose magic survived but whose size did not. */
static void test_bad_headers(vram_device *d)
{
    vram_hostpool *p;
    assert_ok(vram_hostpool_create(d, &(vram_hostpool_config){.chunk_bytes = 64 * KiB}, &p));
    void *a, *b;
    assert_ok(vram_hostpool_get(p, 100, &a));
    assert_ok(vram_hostpool_get(p, 100, &b));
    block_hdr *h = (block_hdr *)(void *)((char *)b - sizeof(block_hdr));
    const uint64_t good = h->size;
    /* No payload; not a multiple of 64; past the end of the chunk. */
    const uint64_t bad[] = {POOL_HDR, good + 8, 1ull << 40};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        h->size = bad[i];
        expect_violation(p, "chunk 0: no valid block header at 192 (overwritten?)");
        expect_status(vram_hostpool_put(p, b), VRAM_ENOTFOUND);
        h->size = good;
        expect_check_ok(p);
    }
    assert_ok(vram_hostpool_put(p, b));
    assert_ok(vram_hostpool_put(p, a));
    vram_hostpool_destroy(p);
}

/* Free ranges: bad sizes, unmerged neighbours, overlap, ranges past the
 * walk; then the counters of a chunk and of the pool. */
static void test_free_ranges_and_counters(vram_device *d)
{
    vram_hostpool *p;
    assert_ok(vram_hostpool_create(d, &(vram_hostpool_config){.chunk_bytes = 64 * KiB}, &p));
    void *a, *b, *c;
    assert_ok(vram_hostpool_get(p, 100, &a)); /* 192 bytes at 0 */
    assert_ok(vram_hostpool_get(p, 100, &b)); /* at 192 */
    assert_ok(vram_hostpool_get(p, 100, &c)); /* at 384; the rest free from 576 */
    assert_ok(vram_hostpool_put(p, b));       /* free: [192, +192), [576, ...) */
    chunk *ck = &p->chunks[0];
    assert_true(ck->nfree == 2 && ck->free[0].off == 192 && ck->free[1].off == 576);
    expect_check_ok(p);

    const uint64_t size0 = ck->free[0].size;
    const uint64_t bad_sizes[] = {0, 100, ck->size};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        ck->free[0].size = bad_sizes[i];
        expect_violation(p, "chunk 0: free range at 192 has bad size");
        ck->free[0].size = size0;
        expect_check_ok(p);
    }

    /* The last range split in two adjacent ones. */
    const free_range last = ck->free[1];
    assert_true(ck->capfree >= 3);
    ck->free[1].size = 64;
    ck->free[2] = (free_range){last.off + 64, last.size - 64};
    ck->nfree = 3;
    expect_violation(p, "chunk 0: free ranges at 640 and before should have merged");
    ck->free[1] = last;
    ck->nfree = 2;
    expect_check_ok(p);

    /* A free range reaching back into block a. */
    ck->free[0] = (free_range){128, size0 + 64};
    expect_violation(p, "chunk 0: free range at 128 overlaps a block or is out of order");
    ck->free[0] = (free_range){192, size0};
    expect_check_ok(p);

    /* A free range past the end of the chunk. */
    ck->free[2] = (free_range){ck->size + 64, 64};
    ck->nfree = 3;
    expect_violation(p, "chunk 0: 1 free ranges lie outside the walk");
    ck->nfree = 2;
    expect_check_ok(p);

    ck->in_use += 64;
    expect_violation(p, "chunk 0: blocks hold 384 bytes, counter says 448");
    ck->in_use -= 64;
    expect_check_ok(p);

    /* Each pool counter that must agree with the chunks. */
    uint64_t *counters[] = {&p->stats.live_blocks, &p->stats.in_use, &p->stats.held,
                            &p->stats.chunks, &p->stats.pinned_chunks};
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        (*counters[i])++;
        expect_violation(p, "stats disagree with the chunks: live ");
        (*counters[i])--;
        expect_check_ok(p);
    }

    /* Without a message buffer check() still answers. */
    p->stats.live_blocks++;
    expect_status(vram_hostpool_check(p, NULL, 0), VRAM_ECORRUPT);
    char msg[8] = "x";
    expect_status(vram_hostpool_check(p, msg, 0), VRAM_ECORRUPT);
    expect_true(msg[0] == 'x' && msg[1] == '\0');
    p->stats.live_blocks--;
    expect_check_ok(p);

    assert_ok(vram_hostpool_put(p, a));
    assert_ok(vram_hostpool_put(p, c));
    expect_check_ok(p);
    vram_hostpool_stats s;
    vram_hostpool_stats_get(p, &s);
    expect_eq_u64(s.in_use, 0);
    expect_eq_u64(ck->nfree, 1);
    vram_hostpool_destroy(p);
}

/* A put that needs a ninth free range when its array holds eight and no host
 * memory is left: VRAM_ENOHOST, the block stays live, nothing else changes. */
static void test_put_without_memory(vram_device *d)
{
    vram_hostpool *p;
    assert_ok(vram_hostpool_create(d, &(vram_hostpool_config){.chunk_bytes = 64 * KiB}, &p));
    void *blk[16];
    for (int i = 0; i < 16; i++)
        assert_ok(vram_hostpool_get(p, 64, &blk[i]));
    for (int i = 0; i < 14; i += 2) /* 7 separate ranges and the chunk's tail: 8 */
        assert_ok(vram_hostpool_put(p, blk[i]));
    assert_true(p->chunks[0].nfree == 8 && p->chunks[0].capfree == 8);
    vram_hostpool_stats before;
    vram_hostpool_stats_get(p, &before);
    refuse_realloc = 1;
    expect_status(vram_hostpool_put(p, blk[14]), VRAM_ENOHOST);
    expect_true(refuse_realloc == 0);
    expect_same_stats(p, &before);
    expect_check_ok(p);
    assert_ok(vram_hostpool_put(p, blk[14])); /* the block was still live */
    for (int i = 1; i < 16; i += 2)
        assert_ok(vram_hostpool_put(p, blk[i]));
    expect_check_ok(p);
    expect_eq_u64(p->chunks[0].nfree, 1);
    vram_hostpool_destroy(p);
}

int main(void)
{
    vram_device_config cfg = {.capacity = 1ull << 30};
    vram_device *d;
    assert_ok(vram_device_create(&cfg, &d));
    test_refusals(d);
    test_bad_headers(d);
    test_free_ranges_and_counters(d);
    test_put_without_memory(d);
    vram_device_destroy(d);
    return test_finish("hostpool_edges");
}
