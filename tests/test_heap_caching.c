/* test_heap_caching.c - the "caching" policy against cases worked by hand from
 * the public description of PyTorch's CUDA caching allocator, and a seeded
 * random run with check() after every operation. */
#include <math.h>

#include "test_heap_lib.h"
#include "vram/caching.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)

static vram_heap *make(uint64_t capacity, uint64_t max_split, int expandable, double gc)
{
    vram_caching_options o = {.max_split_size = max_split, .expandable_segments = expandable,
                              .gc_threshold = gc};
    vram_heap_config cfg = {.capacity = capacity, .caching = &o};
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("caching"), &cfg, &h));
    return h;
}

static vram_heap_stats stats(const vram_heap *h)
{
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    return s;
}

static vram_caching_stats cstats(const vram_heap *h)
{
    vram_caching_stats s;
    assert_ok(vram_heap_caching_stats(h, &s));
    return s;
}

static uint64_t alloc(vram_heap *h, uint64_t size)
{
    uint64_t off = UINT64_MAX;
    assert_ok(vram_heap_alloc(h, size, 0, &off));
    return off;
}

/* Rounding to 512 B and the three segment sizes. */
static void test_rounding(void)
{
    vram_heap *h = make(256 * MIB, 0, 0, 0);
    expect_eq_u64(alloc(h, 1), 0);
    vram_heap_stats s = stats(h);
    expect_eq_u64(s.in_use, 512);        /* 1 B -> a 512 B block */
    expect_eq_u64(s.requested, 1);
    expect_eq_u64(s.footprint, 2 * MIB); /* in a new 2 MiB small segment */

    expect_eq_u64(alloc(h, 11 * MIB), 2 * MIB); /* >= 10 MiB: rounded to 2 MiB: 12 MiB */
    s = stats(h);
    expect_eq_u64(s.footprint, 14 * MIB);
    /* 1 MiB would remain: not more than 1 MiB, so the whole segment is the block */
    expect_eq_u64(s.in_use, 512 + 12 * MIB);

    expect_eq_u64(alloc(h, MIB + 1), 14 * MIB); /* large pool: a 20 MiB segment */
    s = stats(h);
    expect_eq_u64(s.footprint, 34 * MIB);
    expect_eq_u64(s.in_use, 512 + 12 * MIB + MIB + 512);
    expect_eq_u64(cstats(h).largest_cached, 19 * MIB - 512); /* the split remainder */
    expect_eq_u64(s.largest_free, 256 * MIB - 34 * MIB); /* free includes the unreserved gap */
    expect_eq_u64(s.free_blocks, 3); /* two cached remainders and the gap */

    vram_caching_stats c = cstats(h);
    expect_eq_u64(c.segments, 3);
    expect_eq_u64(c.small_segments, 1);
    expect_eq_u64(c.large_segments, 2);
    expect_eq_u64(c.segment_allocs, 3);
    expect_eq_u64(c.segment_alloc_bytes, 34 * MIB);
    expect_eq_u64(c.reserved_unallocated, c.reserved - c.allocated);
    expect_eq_u64(c.reserved, s.footprint);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* Small blocks split when at least 512 B remain; large ones when more than 1 MiB does. */
static void test_split_thresholds(void)
{
    vram_heap *h = make(256 * MIB, 0, 0, 0);
    uint64_t a = alloc(h, MIB); /* 2 MiB segment: 1 MiB remains, split */
    uint64_t b = alloc(h, MIB); /* the remainder, no new segment */
    expect_eq_u64(b, a + MIB);
    expect_eq_u64(stats(h).footprint, 2 * MIB);
    expect_eq_u64(stats(h).in_use, 2 * MIB);

    uint64_t c = alloc(h, 19 * MIB); /* 20 MiB segment, 1 MiB would remain: not split */
    expect_eq_u64(stats(h).in_use, 2 * MIB + 20 * MIB);
    uint64_t d = alloc(h, 19 * MIB - 512); /* 20 MiB segment, 1 MiB + 512 remains: split */
    expect_eq_u64(stats(h).in_use, 2 * MIB + 20 * MIB + 19 * MIB - 512);
    expect_eq_u64(cstats(h).cached_blocks, 1);
    expect_eq_u64(cstats(h).largest_cached, MIB + 512);
    expect_eq_u64(vram_heap_free(h, c), VRAM_OK);
    expect_eq_u64(vram_heap_free(h, d), VRAM_OK);
    expect_eq_u64(stats(h).footprint, 42 * MIB); /* cached, not returned */
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* max_split_size: oversize blocks are never split, a smaller request never
 * takes one, and an oversize request takes none 20 MiB or more too large. */
static void test_max_split(void)
{
    expect_status(vram_heap_create(vram_heap_policy("caching"),
                                   &(vram_heap_config){.capacity = 64 * MIB,
                                                       .caching = &(vram_caching_options){
                                                           .max_split_size = MIB}},
                                   &(vram_heap *){NULL}),
                  VRAM_EINVAL);
    vram_heap *h = make(512 * MIB, 40 * MIB, 0, 0);
    uint64_t a = alloc(h, 70 * MIB);
    assert_ok(vram_heap_free(h, a));
    expect_eq_u64(stats(h).footprint, 70 * MIB);
    alloc(h, 30 * MIB); /* below max_split: the cached 70 MiB block is refused */
    expect_eq_u64(stats(h).footprint, 100 * MIB);
    alloc(h, 45 * MIB); /* 70 >= 45 + 20: refused too; a 46 MiB segment */
    expect_eq_u64(stats(h).footprint, 146 * MIB);
    uint64_t b = alloc(h, 55 * MIB); /* 70 < 55 + 20: taken whole, not split */
    expect_eq_u64(b, a);
    expect_eq_u64(stats(h).in_use, 30 * MIB + 46 * MIB + 70 * MIB);
    expect_eq_u64(cstats(h).cached_blocks, 0);
    expect_eq_u64(cstats(h).cache_hits, 1);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* Freed blocks are cached, merged with free neighbours and reused by best fit. */
static void test_best_fit_reuse(void)
{
    vram_heap *h = make(64 * MIB, 0, 0, 0);
    uint64_t a = alloc(h, 64 * KIB);
    alloc(h, 4 * KIB);
    uint64_t b = alloc(h, 256 * KIB);
    alloc(h, 4 * KIB);
    assert_ok(vram_heap_free(h, a));
    assert_ok(vram_heap_free(h, b));
    expect_status(vram_heap_free(h, b), VRAM_EDOUBLEFREE);
    expect_status(vram_heap_free(h, b + 512), VRAM_ENOTFOUND);
    expect_status(vram_heap_free(h, 32 * MIB), VRAM_ENOTFOUND);
    expect_eq_u64(cstats(h).cached_blocks, 3); /* a, b and the segment's tail */
    expect_eq_u64(alloc(h, 100 * KIB), b);  /* the 256 KiB hole is the best fit */
    expect_eq_u64(alloc(h, 60 * KIB), a);   /* then the 64 KiB one */
    expect_eq_u64(stats(h).footprint, 2 * MIB);
    expect_eq_u64(cstats(h).cache_hits, 5);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);

    h = make(64 * MIB, 0, 0, 0);
    uint64_t x = alloc(h, 512), y = alloc(h, 512), z = alloc(h, 512);
    assert_ok(vram_heap_free(h, x));
    assert_ok(vram_heap_free(h, z)); /* merges with the tail */
    assert_ok(vram_heap_free(h, y)); /* merges both sides: one free 2 MiB block */
    expect_eq_u64(cstats(h).cached_blocks, 1);
    expect_eq_u64(cstats(h).largest_cached, 2 * MIB);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* A segment that does not fit: cached segments are released and it is retried. */
static void test_release_and_retry(void)
{
    vram_heap *h = make(40 * MIB, 0, 0, 0);
    uint64_t a = alloc(h, 15 * MIB), b = alloc(h, 15 * MIB);
    expect_eq_u64(b, 16 * MIB);
    assert_ok(vram_heap_free(h, a));
    assert_ok(vram_heap_free(h, b));
    expect_eq_u64(vram_heap_max_alloc(h), 40 * MIB);
    expect_eq_u64(alloc(h, 30 * MIB), 0);
    vram_caching_stats c = cstats(h);
    expect_eq_u64(c.alloc_retries, 1);
    expect_eq_u64(c.segment_frees, 2);
    expect_eq_u64(c.segment_free_bytes, 32 * MIB);
    expect_eq_u64(c.reserved, 30 * MIB);

    uint64_t off;
    vram_heap_stats before = stats(h);
    expect_status(vram_heap_alloc(h, 12 * MIB, 0, &off), VRAM_ENOMEM);
    vram_heap_stats after = stats(h);
    expect_eq_u64(after.footprint, before.footprint);
    expect_eq_u64(after.in_use, before.in_use);
    expect_eq_u64(cstats(h).ooms, 1);
    expect_eq_u64(vram_heap_max_alloc(h), 10 * MIB);
    alloc(h, 10 * MIB);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* Expandable segments: the small range grows up from 0 in 2 MiB pages, the
 * large one down from the top in 20 MiB pages, its blocks carved from their top
 * so that the free rest lies at the growing end (PyTorch's, mirrored: its range
 * grows up); freed space is reused. */
static void test_expandable(void)
{
    vram_heap *h = make(100 * MIB, 0, 1, 0);
    expect_eq_u64(alloc(h, KIB), 0);
    expect_eq_u64(stats(h).footprint, 2 * MIB);
    expect_eq_u64(alloc(h, 3 * MIB), 97 * MIB); /* one large page [80, 100) MiB, its top */
    expect_eq_u64(stats(h).footprint, 22 * MIB);
    /* the free 17 MiB below it and one more page: [60, 97) MiB, its top 30 MiB */
    uint64_t big = alloc(h, 30 * MIB);
    expect_eq_u64(big, 67 * MIB);
    expect_eq_u64(stats(h).footprint, 42 * MIB);
    assert_ok(vram_heap_free(h, big));
    expect_eq_u64(alloc(h, 35 * MIB), 62 * MIB); /* reuse, no growth */
    vram_caching_stats c = cstats(h);
    expect_eq_u64(c.maps, 3);
    expect_eq_u64(c.map_bytes, 42 * MIB);
    expect_eq_u64(c.segments, 2);
    expect_eq_u64(c.segment_allocs, 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);

    /* The small range meets the large one: the large one's free pages are unmapped. */
    h = make(64 * MIB, 0, 1, 0);
    uint64_t l = alloc(h, 40 * MIB);
    expect_eq_u64(l, 24 * MIB);
    assert_ok(vram_heap_free(h, l));
    for (int i = 0; i < 24; i++)
        expect_eq_u64(alloc(h, MIB), (uint64_t)i * MIB);
    expect_eq_u64(stats(h).footprint, 24 * MIB + 40 * MIB);
    expect_eq_u64(alloc(h, MIB), 24 * MIB);
    c = cstats(h);
    expect_eq_u64(c.unmaps, 1);
    expect_eq_u64(c.unmap_bytes, 40 * MIB);
    expect_eq_u64(c.large_segments, 0);
    expect_eq_u64(c.alloc_retries, 1);
    expect_eq_u64(stats(h).footprint, 26 * MIB);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* fuzz regression max-alloc-below-expandable-after-grow: a wholly free large
 * expandable segment is dropped by the release before the last retry, and the
 * next one starts from the grown capacity's top, not the old segment's end. */
static void test_max_alloc_expandable_after_grow(void)
{
    vram_heap *h = make(256 * MIB, 0, 1, 0);
    uint64_t a = alloc(h, 120 * MIB);
    expect_eq_u64(a, 136 * MIB); /* six pages below 256 MiB */
    assert_ok(vram_heap_grow(h, 64 * MIB));
    expect_eq_u64(vram_heap_max_alloc(h), 120 * MIB); /* six pages [16, 136) MiB below the head */
    assert_ok(vram_heap_free(h, a));
    expect_eq_u64(vram_heap_max_alloc(h), 320 * MIB); /* was 256 MiB: the old top */
    expect_eq_u64(alloc(h, 320 * MIB), 0);
    expect_eq_u64(cstats(h).alloc_retries, 1);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);

    /* fuzz_heap_all's form of it: a small range below, a grow of a capacity
     * that is no multiple of 2 MiB, the large pages on the new grid. */
    h = make(48 * MIB + 768 * KIB, 0, 1, 0);
    a = alloc(h, 30 * MIB);
    expect_eq_u64(a, 18 * MIB); /* two pages below 48 MiB, their top 30 MiB */
    uint64_t s = alloc(h, 5);
    assert_ok(vram_heap_grow(h, 40 * MIB));
    assert_ok(vram_heap_free(h, a));
    expect_eq_u64(vram_heap_max_alloc(h), 80 * MIB); /* four pages [8, 88) MiB above the small 2 MiB */
    uint64_t off;
    expect_status(vram_heap_alloc(h, 80 * MIB + 512, 0, &off), VRAM_ENOMEM);
    expect_eq_u64(alloc(h, 80 * MIB), 8 * MIB);
    assert_ok(vram_heap_free(h, s));
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* max_alloc exactness, found by test_max_alloc_exact: with a max_split_size,
 * the release of oversize segments freed a 32 MiB one (too little alone, so it
 * answered "nothing released") and the release of all cached segments then
 * found nothing left and skipped the retry: alloc(max_alloc) gave ENOMEM. */
static void test_retry_after_oversize_release(void)
{
    vram_heap *h = make(112 * MIB, 32 * MIB, 0, 0);
    expect_eq_u64(alloc(h, KIB), 0); /* a small segment [0, 2) MiB */
    uint64_t a = alloc(h, 32 * MIB);
    expect_eq_u64(a, 2 * MIB);
    assert_ok(vram_heap_free(h, a));
    expect_eq_u64(vram_heap_max_alloc(h), 110 * MIB);
    expect_eq_u64(alloc(h, 110 * MIB), 2 * MIB);
    vram_caching_stats c = cstats(h);
    expect_eq_u64(c.segment_frees, 1);
    expect_eq_u64(c.alloc_retries, 1);
    expect_eq_u64(c.ooms, 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* One step of a recorded random run: alloc(size), free of live[pick % n], grow(size). */
typedef struct exact_op {
    int kind;
    uint64_t size;
} exact_op;

/* Replays ops[0..n) on a new heap; an allocation may fail only as the contract says. */
static vram_heap *exact_replay(const exact_op *ops, int n, uint64_t capacity, uint64_t max_split,
                               int expandable, double gc)
{
    vram_heap *h = make(capacity, max_split, expandable, gc);
    uint64_t live[64];
    int nlive = 0;
    for (int i = 0; i < n; i++) {
        uint64_t off;
        if (ops[i].kind == 0 && nlive < 64) {
            vram_status st = vram_heap_alloc(h, ops[i].size, 0, &off);
            if (st == VRAM_OK)
                live[nlive++] = off;
            else
                expect_status(st, ops[i].size > stats(h).capacity ? VRAM_EINVAL : VRAM_ENOMEM);
        } else if (ops[i].kind == 1 && nlive) {
            int k = (int)(ops[i].size % (uint64_t)nlive);
            assert_ok(vram_heap_free(h, live[k]));
            live[k] = live[--nlive];
        } else if (ops[i].kind == 2) {
            assert_ok(vram_heap_grow(h, ops[i].size));
        }
    }
    return h;
}

/* max_alloc() is exact: on two heaps in the same state (one run replayed
 * twice), alloc(max_alloc) succeeds and alloc(max_alloc + 512) fails, for
 * normal and expandable segments, with grows, cached segments to release
 * first and the oversize and gc rules. */
static void test_max_alloc_exact(uint64_t seed, uint64_t max_split, int expandable, double gc)
{
    enum { OPS = 240, EVERY = 6 };
    exact_op ops[OPS];
    uint64_t rng = seed, capacity = 48 * MIB + 768 * KIB, grown = 0;
    for (int i = 0; i < OPS; i++) {
        uint64_t r = test_rand(&rng);
        if (r % 16 == 0 && grown < 64 * MIB) {
            ops[i] = (exact_op){2, (1 + r / 16 % 8) * (r / 128 % 2 ? 8 * MIB : 24 * KIB)};
            grown += ops[i].size;
        } else {
            uint64_t shift = test_rand(&rng) % 27; /* up to 64 MiB */
            ops[i] = (exact_op){r % 16 < 9 ? 0 : 1, 1 + test_rand(&rng) % (UINT64_C(1) << shift)};
        }
    }
    int checked = 0;
    for (int n = 0; n <= OPS; n += EVERY) {
        vram_heap *a = exact_replay(ops, n, capacity, max_split, expandable, gc);
        vram_heap *b = exact_replay(ops, n, capacity, max_split, expandable, gc);
        uint64_t most = vram_heap_max_alloc(a), off;
        expect_eq_u64(vram_heap_max_alloc(b), most);
        if (most) {
            vram_status st = vram_heap_alloc(a, most, 0, &off);
            if (st != VRAM_OK)
                fprintf(stderr, "seed %" PRIu64 " (max_split %" PRIu64 ", expandable %d, gc %.1f) after %d"
                        " ops: max_alloc %" PRIu64 " gave %s\n", seed, max_split, expandable, gc, n, most,
                        vram_status_name(st));
            expect_status(st, VRAM_OK);
        }
        if (most + 512 <= stats(b).capacity) {
            vram_status st = vram_heap_alloc(b, most + 512, 0, &off);
            if (st != VRAM_ENOMEM)
                fprintf(stderr, "seed %" PRIu64 " (max_split %" PRIu64 ", expandable %d, gc %.1f) after %d"
                        " ops: max_alloc %" PRIu64 " but %" PRIu64 " gave %s\n", seed, max_split,
                        expandable, gc, n, most, most + 512, vram_status_name(st));
            expect_status(st, VRAM_ENOMEM);
        }
        checked += most > 0;
        EXPECT_HEAP_CLEAN(a);
        EXPECT_HEAP_CLEAN(b);
        vram_heap_destroy(a);
        vram_heap_destroy(b);
    }
    expect_true(checked > 0);
}

/* With a gc threshold, old whole free segments go once reserved exceeds it. */
static void test_gc(void)
{
    vram_heap *h = make(200 * MIB, 0, 0, 0.3);
    uint64_t a = alloc(h, 30 * MIB);
    assert_ok(vram_heap_free(h, a));
    uint64_t b = alloc(h, 36 * MIB); /* does not fit the cached 30: a new segment */
    assert_ok(vram_heap_free(h, b));
    expect_eq_u64(stats(h).footprint, 66 * MIB);
    alloc(h, 40 * MIB); /* 66 > 60: the older 30 MiB segment is collected */
    vram_caching_stats c = cstats(h);
    expect_eq_u64(c.gc_frees, 1);
    expect_eq_u64(c.reserved, 76 * MIB);
    expect_eq_u64(c.alloc_retries, 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);

    vram_heap *bad = NULL;
    vram_caching_options o = {.gc_threshold = 1.0};
    vram_heap_config cfg = {.capacity = 64 * MIB, .caching = &o};
    expect_status(vram_heap_create(vram_heap_policy("caching"), &cfg, &bad), VRAM_EINVAL);
    o.gc_threshold = NAN;
    expect_status(vram_heap_create(vram_heap_policy("caching"), &cfg, &bad), VRAM_EINVAL);
    expect_status(vram_heap_caching_stats(NULL, &(vram_caching_stats){0}), VRAM_EINVAL);
}

static void test_alignment(void)
{
    vram_heap *h = make(128 * MIB, 0, 0, 0);
    alloc(h, 3 * KIB);
    uint64_t off;
    assert_ok(vram_heap_alloc(h, 5 * KIB, 64 * KIB, &off)); /* from the cached tail, padded */
    expect_eq_u64(off % (64 * KIB), 0);
    expect_eq_u64(stats(h).footprint, 2 * MIB);
    assert_ok(vram_heap_alloc(h, 5 * MIB, 8 * MIB, &off)); /* a segment at an 8 MiB base */
    expect_eq_u64(off % (8 * MIB), 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* PYTORCH_CUDA_ALLOC_CONF strings, good and bad. */
static void test_conf(void)
{
    vram_caching_options o;
    char err[128];
    assert_ok(vram_caching_options_parse(
        "max_split_size_mb:128,expandable_segments:True,garbage_collection_threshold:0.6,"
        "backend:native", &o, err, sizeof err));
    expect_eq_u64(o.max_split_size, 128 * MIB);
    expect_eq_u64(o.expandable_segments, 1);
    expect_true(o.gc_threshold == 0.6);
    assert_ok(vram_caching_options_parse("", &o, err, sizeof err));
    expect_eq_u64(o.max_split_size, 0);
    expect_status(vram_caching_options_parse("max_split_size_mb:20", &o, err, sizeof err),
                  VRAM_EINVAL);
    expect_true(strstr(err, "max_split_size_mb:20") != NULL);
    expect_status(vram_caching_options_parse("expandable_segments:yes", &o, err, sizeof err),
                  VRAM_EINVAL);
    expect_status(vram_caching_options_parse("garbage_collection_threshold:1.5", &o, err,
                                             sizeof err), VRAM_EINVAL);
    expect_status(vram_caching_options_parse("max_split_size_mb", &o, err, sizeof err),
                  VRAM_EINVAL);
    expect_status(vram_caching_options_parse("roundup_power2_divisions:4", &o, err, sizeof err),
                  VRAM_EUNSUPPORTED);
    expect_true(strstr(err, "roundup_power2_divisions") != NULL);
}

typedef struct walk_sum {
    uint64_t next, used;
} walk_sum;

static int walk_add(const vram_block_info *b, void *ctx)
{
    walk_sum *w = ctx;
    expect_eq_u64(b->offset, w->next);
    w->next = b->offset + b->size;
    if (b->used)
        w->used += b->size;
    return 0;
}

/* Seeded random alloc/free with check() and a walk after every operation. */
static void test_random(uint64_t seed, uint64_t max_split, int expandable, double gc)
{
    printf("random: seed %" PRIu64 " max_split %" PRIu64 " expandable %d gc %.2f\n", seed,
           max_split, expandable, gc);
    uint64_t rng = seed, live[256] = {0};
    int nlive = 0;
    vram_heap *h = make(512 * MIB, max_split, expandable, gc);
    for (int i = 0; i < 3000; i++) {
        uint64_t r = test_rand(&rng);
        if (nlive < 256 && (nlive == 0 || r % 100 < 55)) {
            uint64_t shift = test_rand(&rng) % 26; /* up to 32 MiB */
            uint64_t size = 1 + test_rand(&rng) % (UINT64_C(1) << shift);
            uint64_t align = r % 7 == 0 ? UINT64_C(1) << (8 + r % 14) : 0;
            uint64_t off;
            vram_status st = vram_heap_alloc(h, size, align, &off);
            if (st == VRAM_OK) {
                if (align)
                    expect_eq_u64(off % align, 0);
                live[nlive++] = off;
            } else {
                expect_status(st, VRAM_ENOMEM);
            }
        } else {
            int k = (int)(test_rand(&rng) % (uint64_t)nlive);
            expect_status(vram_heap_free(h, live[k]), VRAM_OK);
            live[k] = live[--nlive];
        }
        char msg[256];
        vram_status st = vram_heap_check(h, msg, sizeof msg);
        if (st) {
            fprintf(stderr, "op %d: %s\n", i, msg);
            expect_status(st, VRAM_OK);
            break;
        }
        uint64_t most = vram_heap_max_alloc(h), off;
        if (i % 50 == 0 && most) { /* max_alloc is a promise alloc keeps */
            expect_status(vram_heap_alloc(h, most, 0, &off), VRAM_OK);
            expect_status(vram_heap_free(h, off), VRAM_OK);
        }
        walk_sum w = {0};
        assert_ok(vram_heap_walk(h, walk_add, &w));
        expect_eq_u64(w.next, 512 * MIB);
        expect_eq_u64(w.used, stats(h).in_use);
    }
    while (nlive)
        expect_status(vram_heap_free(h, live[--nlive]), VRAM_OK);
    expect_eq_u64(stats(h).in_use, 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

int main(void)
{
    test_rounding();
    test_split_thresholds();
    test_max_split();
    test_best_fit_reuse();
    test_release_and_retry();
    test_expandable();
    test_gc();
    test_alignment();
    test_conf();
    test_max_alloc_expandable_after_grow();
    test_retry_after_oversize_release();
    for (uint64_t seed = 1; seed <= 12; seed++) {
        test_max_alloc_exact(seed, 0, 0, 0);
        test_max_alloc_exact(seed, 0, 1, 0);
        test_max_alloc_exact(seed, 32 * MIB, seed % 2 == 0, seed % 3 ? 0.5 : 0);
    }
    test_random(1, 0, 0, 0);
    test_random(2, 40 * MIB, 0, 0.5);
    test_random(3, 0, 1, 0);
    test_random(4, 64 * MIB, 1, 0.6);
    return test_finish("heap_caching");
}
