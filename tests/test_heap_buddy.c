/* test_heap_buddy.c - edge cases of the buddy policy: rounding, split and merge,
 * alignment, bad frees, capacities that are no power of two (a forest of roots,
 * the binary decomposition of the capacity), grow, exhaustion and recovery,
 * batches. */
#include "test_heap_lib.h"

static vram_heap *make(uint64_t capacity)
{
    return test_heap("buddy", (vram_heap_config){.capacity = capacity});
}

/* The heap is one free block per root: the powers of two of the capacity's
 * binary decomposition, largest first from offset 0. */
static void expect_empty(const vram_heap *h, int line)
{
    vram_heap_stats s = test_heap_stats(h);
    static test_heap_blocks w;
    test_heap_walk(h, &w);
    size_t roots = (size_t)__builtin_popcountll(s.capacity), i = 0;
    int ok = !s.in_use && !s.requested && !s.live_allocs && s.free_blocks == roots &&
             s.footprint == 0 && s.free == s.capacity && w.n == roots &&
             s.largest_free == UINT64_C(1) << (63 - __builtin_clzll(s.capacity));
    uint64_t off = 0;
    for (unsigned k = 64; ok && k-- > 0;) {
        if (!(s.capacity >> k & 1))
            continue;
        ok = !w.b[i].used && w.b[i].offset == off && w.b[i].size == UINT64_C(1) << k;
        off += UINT64_C(1) << k;
        i++;
    }
    if (!ok) {
        fprintf(stderr,
                "%s:%d: FAILED: heap of %" PRIu64 " bytes is not one free block per root (%zu "
                "blocks, %zu roots, %" PRIu64 " live)\n",
                __FILE__, line, s.capacity, w.n, roots, s.live_allocs);
        test_failures++;
    }
    test_heap_clean_(h, __FILE__, line);
}
#define EXPECT_EMPTY(h) expect_empty((h), __LINE__)

static void test_bad_requests(void)
{
    vram_heap *h = make(3 * MiB); /* roots of 2 MiB at 0 and 1 MiB at 2 MiB */
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.capacity, 3 * MiB);
    expect_eq_u64(s.free, 3 * MiB);
    expect_eq_u64(s.largest_free, 2 * MiB);
    expect_eq_u64(vram_heap_max_alloc(h), 2 * MiB);
    uint64_t off;
    expect_status(vram_heap_alloc(h, 0, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, 3 * MiB + 1, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, 2 * MiB + 1, 0, &off), VRAM_ENOMEM); /* above every root */
    expect_status(vram_heap_alloc(h, 256, 384, &off), VRAM_EINVAL);
    expect_status(vram_heap_grow(h, 100), VRAM_EINVAL);
    EXPECT_EMPTY(h);
    vram_heap_destroy(h);
    vram_heap_config cfg = {.capacity = 3 * MiB + 100};
    expect_status(vram_heap_create(vram_heap_policy("buddy"), &cfg, &h), VRAM_EINVAL);
    expect_true(h == NULL);
}

/* Sizes round up to a power of two, at least the minimum alignment; the split
 * of a 1 MiB range down to 256 B leaves one free block per order. */
static void test_rounding_and_split(void)
{
    vram_heap *h = make(1 * MiB);
    uint64_t a, b, c;
    assert_ok(vram_heap_alloc(h, 1, 0, &a));
    expect_eq_u64(a, 0);
    static test_heap_blocks w;
    test_heap_walk(h, &w);
    expect_eq_u64(w.n, 13); /* 256 used, then free 256, 512, ..., 512 KiB */
    for (size_t i = 1; i < w.n; i++)
        expect_true(!w.b[i].used && w.b[i].size == (UINT64_C(128) << i));
    assert_ok(vram_heap_alloc(h, 1000, 0, &b));
    assert_ok(vram_heap_alloc(h, 300, 0, &c));
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.in_use, 256 + 1024 + 512);
    expect_eq_u64(s.requested, 1 + 1000 + 300);
    expect_eq_u64(s.live_allocs, 3);
    expect_eq_u64(b % 1024, 0);
    expect_eq_u64(c % 512, 0);
    expect_eq_u64(s.footprint, (b > c ? b + 1024 : c + 512));
    EXPECT_HEAP_CLEAN(h);
    uint64_t all[3] = {c, a, b};
    assert_ok(vram_heap_free_batch(h, 3, all));
    EXPECT_EMPTY(h);
    expect_eq_u64(test_heap_stats(h).peak_in_use, 256 + 1024 + 512);
    vram_heap_destroy(h);
}

/* Every alignment from the minimum to 1 GiB on a 4 GiB range: the block keeps
 * its rounded size (the alignment costs no internal waste). */
static void test_alignments(void)
{
    vram_heap *h = make(4 * GiB);
    uint64_t first;
    assert_ok(vram_heap_alloc(h, 256, 0, &first));
    for (uint64_t a = VRAM_DEFAULT_ALIGN; a <= GiB; a <<= 1) {
        uint64_t off;
        assert_ok(vram_heap_alloc(h, 1000, a, &off));
        expect_eq_u64(off % a, 0);
        expect_true(off != first);
        vram_heap_stats s = test_heap_stats(h);
        expect_eq_u64(s.in_use, 256 + 1024);
        EXPECT_HEAP_CLEAN(h);
        assert_ok(vram_heap_free(h, off));
    }
    assert_ok(vram_heap_free(h, first));
    EXPECT_EMPTY(h);
    vram_heap_destroy(h);
}

static void test_bad_frees(void)
{
    vram_heap *h = make(1 * MiB);
    uint64_t a, b;
    assert_ok(vram_heap_alloc(h, 256, 0, &a));
    assert_ok(vram_heap_alloc(h, 256, 0, &b));
    expect_eq_u64(b, a ^ 256); /* buddies */
    expect_status(vram_heap_free(h, 12345), VRAM_ENOTFOUND);
    expect_status(vram_heap_free(h, 768), VRAM_ENOTFOUND); /* inside a free block */
    assert_ok(vram_heap_free(h, b));
    vram_heap_stats before = test_heap_stats(h);
    expect_status(vram_heap_free(h, b), VRAM_EDOUBLEFREE); /* its buddy is used: not merged */
    uint64_t batch[2] = {a, a};
    expect_status(vram_heap_free_batch(h, 2, batch), VRAM_EDOUBLEFREE);
    batch[1] = 4096 + 256;
    expect_status(vram_heap_free_batch(h, 2, batch), VRAM_ENOTFOUND);
    vram_heap_stats after = test_heap_stats(h);
    expect_true(memcmp(&before, &after, sizeof before) == 0);
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_free(h, a));
    EXPECT_EMPTY(h);
    expect_status(vram_heap_free(h, b), VRAM_ENOTFOUND); /* merged away */
    expect_status(vram_heap_free(h, a), VRAM_EDOUBLEFREE);
    vram_heap_destroy(h);
}

static void shuffle(uint64_t *v, size_t n, uint64_t *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = test_rand(rng) % i;
        uint64_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* 80 GiB is a 64 GiB root at 0 and a 16 GiB root at 64 GiB: five 16 GiB
 * blocks fill it from the bottom up (placement packs downward: the footprint
 * grows block by block, not to 80 GiB with the first one); a block never spans
 * the two roots, and they never merge. */
static void test_roots_80g(void)
{
    vram_heap *h = make(80 * GiB);
    EXPECT_EMPTY(h);
    uint64_t offs[5], off;
    for (size_t i = 0; i < 5; i++) {
        assert_ok(vram_heap_alloc(h, 16 * GiB, 0, &offs[i]));
        expect_eq_u64(offs[i], i * 16 * GiB);
        expect_eq_u64(test_heap_stats(h).footprint, (i + 1) * 16 * GiB);
    }
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.in_use, 80 * GiB);
    expect_eq_u64(s.free, 0);
    expect_eq_u64(s.footprint, 80 * GiB);
    expect_status(vram_heap_alloc(h, 256, 0, &off), VRAM_ENOMEM);
    EXPECT_HEAP_CLEAN(h);
    /* The last 16 GiB of the big root and the small root are neighbours, free,
     * of one order, but no buddies: 32 GiB still does not fit. */
    assert_ok(vram_heap_free(h, offs[4]));
    expect_eq_u64(test_heap_stats(h).footprint, 64 * GiB);
    assert_ok(vram_heap_free(h, offs[3]));
    expect_eq_u64(test_heap_stats(h).largest_free, 16 * GiB);
    expect_status(vram_heap_alloc(h, 32 * GiB, 0, &off), VRAM_ENOMEM);
    expect_eq_u64(test_heap_stats(h).footprint, 48 * GiB);
    EXPECT_HEAP_CLEAN(h);
    for (size_t i = 0; i < 3; i++)
        assert_ok(vram_heap_free(h, offs[i]));
    EXPECT_EMPTY(h);
    assert_ok(vram_heap_alloc(h, 64 * GiB, 0, &off));
    expect_eq_u64(off, 0);
    expect_status(vram_heap_alloc(h, 32 * GiB, 0, &off), VRAM_ENOMEM);
    assert_ok(vram_heap_free(h, 0));
    vram_heap_destroy(h);
}

/* 3 MiB + 4 KiB + 256 B: four roots down to the minimum order. Filling it
 * with minimum blocks uses every byte; a walk shows no block crossing a root
 * start; freeing all in random order gives the four roots back. */
static void test_odd_capacity_fill(uint64_t seed)
{
    enum { N = (3 * MiB + 4 * KiB + 256) / 256 };
    static uint64_t offs[N];
    const uint64_t cap = 3 * MiB + 4 * KiB + 256;
    const uint64_t starts[4] = {0, 2 * MiB, 3 * MiB, 3 * MiB + 4 * KiB};
    uint64_t rng = seed, off;
    vram_heap *h = make(cap);
    EXPECT_EMPTY(h);
    /* From the bottom of the 2 MiB root, each the lowest block that fits above
     * the one before (nothing below the footprint fits), not in the small roots
     * at the top. */
    assert_ok(vram_heap_alloc(h, 1, 0, &off));
    expect_eq_u64(off, 0);
    assert_ok(vram_heap_alloc(h, 3 * KiB, 0, &off));
    expect_eq_u64(off, 4 * KiB);
    assert_ok(vram_heap_alloc(h, 600 * KiB, 0, &off));
    expect_eq_u64(off, MiB);
    expect_eq_u64(test_heap_stats(h).footprint, 2 * MiB);
    assert_ok(vram_heap_alloc(h, 2 * KiB, 0, &off));
    expect_eq_u64(off, 2 * KiB); /* below the footprint: best fit, the footprint stays */
    expect_eq_u64(test_heap_stats(h).footprint, 2 * MiB);
    assert_ok(vram_heap_free(h, MiB));
    expect_eq_u64(test_heap_stats(h).footprint, 8 * KiB);
    assert_ok(vram_heap_free(h, 0));
    assert_ok(vram_heap_free(h, 4 * KiB));
    assert_ok(vram_heap_free(h, 2 * KiB));
    EXPECT_EMPTY(h);
    for (size_t i = 0; i < N; i++)
        assert_ok(vram_heap_alloc(h, 1 + test_rand(&rng) % 256, 0, &offs[i]));
    expect_status(vram_heap_alloc(h, 1, 0, &off), VRAM_ENOMEM);
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.in_use, cap);
    expect_eq_u64(s.footprint, cap);
    expect_eq_u64(s.free_blocks, 0);
    EXPECT_HEAP_CLEAN(h);
    shuffle(offs, N, &rng);
    for (size_t i = 0; i < N; i++) {
        assert_ok(vram_heap_free(h, offs[i]));
        if (i % 997 == 0) {
            static test_heap_blocks w;
            test_heap_walk(h, &w);
            for (size_t b = 0; b < w.n; b++)
                for (size_t r = 0; r < 4; r++)
                    expect_true(
                        !(w.b[b].offset < starts[r] && w.b[b].offset + w.b[b].size > starts[r]));
            EXPECT_HEAP_CLEAN(h);
        }
    }
    EXPECT_EMPTY(h);
    vram_heap_destroy(h);
}

/* Alignments on 80 GiB: every block is aligned to its size as an offset (the
 * roots start at multiples of their sizes); an alignment above the largest
 * root takes that root whole, at offset 0. */
static void test_alignment_across_roots(void)
{
    vram_heap *h = make(80 * GiB);
    uint64_t small, a, b, c, off;
    assert_ok(vram_heap_alloc(h, 256, 0, &small));
    expect_eq_u64(small, 0); /* the bottom of the 64 GiB root, not the 16 GiB root on top */
    assert_ok(vram_heap_alloc(h, 1000, 16 * GiB, &a));
    expect_eq_u64(a, 16 * GiB); /* the lowest block aligned so */
    assert_ok(vram_heap_alloc(h, 1000, 32 * GiB, &b));
    expect_eq_u64(b, 32 * GiB);
    assert_ok(vram_heap_alloc(h, 1000, 16 * GiB, &c));
    expect_eq_u64(c, 48 * GiB);
    expect_eq_u64(test_heap_stats(h).footprint, 48 * GiB + 1024);
    expect_eq_u64(test_heap_stats(h).in_use, 256 + 3 * 1024);
    expect_status(vram_heap_alloc(h, 1000, 64 * GiB, &off), VRAM_ENOMEM);
    expect_status(vram_heap_alloc(h, 1000, 128 * GiB, &off), VRAM_ENOMEM);
    EXPECT_HEAP_CLEAN(h);
    uint64_t all[4] = {b, small, c, a};
    assert_ok(vram_heap_free_batch(h, 4, all));
    EXPECT_EMPTY(h);
    assert_ok(vram_heap_alloc(h, 1000, 128 * GiB, &off)); /* the 64 GiB root, at 0 */
    expect_eq_u64(off, 0);
    expect_eq_u64(test_heap_stats(h).in_use, 1024);
    assert_ok(vram_heap_alloc(h, 1000, 8 * GiB, &off));
    expect_eq_u64(off, 8 * GiB); /* the split left 8 GiB free there, below the 16 GiB root */
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* The footprint is the memory needed from the bottom: a block below it is
 * used before it grows (best fit there), it grows into the next root only when
 * nothing lower fits, and it falls back over free blocks and whole free roots. */
static void test_footprint_across_roots(void)
{
    vram_heap *h = make(84 * GiB); /* 64 GiB at 0, 16 at 64, 4 at 80 */
    uint64_t low, big, mid, top, x, y;
    assert_ok(vram_heap_alloc(h, MiB, 0, &low));
    expect_eq_u64(low, 0);
    expect_eq_u64(test_heap_stats(h).footprint, MiB);
    assert_ok(vram_heap_alloc(h, 32 * GiB, 0, &big));
    expect_eq_u64(big, 32 * GiB); /* the lowest 32 GiB block */
    expect_eq_u64(test_heap_stats(h).footprint, 64 * GiB);
    assert_ok(vram_heap_alloc(h, 8 * GiB, 0, &mid));
    expect_eq_u64(mid, 8 * GiB); /* below the footprint: the 8 GiB block the split left */
    assert_ok(vram_heap_alloc(h, 16 * GiB, 0, &top));
    expect_eq_u64(top, 16 * GiB);
    expect_eq_u64(test_heap_stats(h).footprint, 64 * GiB);
    assert_ok(vram_heap_alloc(h, 16 * GiB, 0, &x));
    expect_eq_u64(x, 64 * GiB); /* nothing below fits: the 16 GiB root */
    expect_eq_u64(test_heap_stats(h).footprint, 80 * GiB);
    assert_ok(vram_heap_alloc(h, 4 * GiB, 0, &y));
    expect_eq_u64(y, 4 * GiB); /* below again, not the 4 GiB root on top */
    expect_eq_u64(test_heap_stats(h).footprint, 80 * GiB);
    expect_eq_u64(test_heap_stats(h).peak_footprint, 80 * GiB);
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_free(h, x));
    expect_eq_u64(test_heap_stats(h).footprint, 64 * GiB);
    assert_ok(vram_heap_free(h, big));
    expect_eq_u64(test_heap_stats(h).footprint, 32 * GiB);
    assert_ok(vram_heap_free(h, top));
    expect_eq_u64(test_heap_stats(h).footprint, 16 * GiB);
    EXPECT_HEAP_CLEAN(h);
    /* 48 GiB rounds to 64: only the 64 GiB root, split by the blocks below 16 GiB. */
    expect_status(vram_heap_alloc(h, 48 * GiB, 0, &big), VRAM_ENOMEM);
    assert_ok(vram_heap_free(h, mid));
    assert_ok(vram_heap_free(h, y));
    expect_eq_u64(test_heap_stats(h).footprint, MiB);
    assert_ok(vram_heap_free(h, low));
    EXPECT_EMPTY(h);
    vram_heap_destroy(h);
}

/* grow appends roots; the layout is the decomposition of the new capacity, so
 * old roots join larger ones and merge once free. */
static void test_grow(void)
{
    vram_heap *h = make(1 * MiB);
    uint64_t a, b;
    assert_ok(vram_heap_alloc(h, MiB, 0, &a));
    expect_status(vram_heap_alloc(h, 256, 0, &b), VRAM_ENOMEM);
    expect_eq_u64(vram_heap_max_alloc(h), 0);
    assert_ok(vram_heap_grow(h, 512 * KiB)); /* 1.5 MiB: a 512 KiB root at 1 MiB */
    expect_eq_u64(test_heap_stats(h).capacity, MiB + 512 * KiB);
    expect_eq_u64(vram_heap_max_alloc(h), 512 * KiB);
    assert_ok(vram_heap_alloc(h, 512 * KiB, 0, &b));
    expect_eq_u64(b, MiB);
    expect_eq_u64(test_heap_stats(h).footprint, MiB + 512 * KiB);
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_grow(h, 512 * KiB)); /* 2 MiB: one root */
    expect_eq_u64(test_heap_stats(h).capacity, 2 * MiB);
    expect_eq_u64(vram_heap_max_alloc(h), 512 * KiB);
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_free(h, a));
    assert_ok(vram_heap_free(h, b));
    EXPECT_EMPTY(h);                       /* one 2 MiB block: the old roots merged */
    assert_ok(vram_heap_grow(h, 6 * MiB)); /* 8 MiB: all merged */
    expect_eq_u64(test_heap_stats(h).capacity, 8 * MiB);
    EXPECT_EMPTY(h);
    assert_ok(vram_heap_grow(h, 256)); /* 8 MiB + 256: a minimum-order root */
    EXPECT_EMPTY(h);
    assert_ok(vram_heap_alloc(h, 1, 0, &a));
    expect_eq_u64(a, 0); /* the bottom, not the new root on top */
    assert_ok(vram_heap_free(h, a));
    vram_heap_destroy(h);

    /* 80 GiB + 48 GiB = 128 GiB, with a block of the old 16 GiB root in use:
     * the added 16 GiB at 80 and 32 GiB at 96 wait for it. */
    h = make(80 * GiB);
    assert_ok(vram_heap_alloc(h, 64 * GiB, 0, &b));
    assert_ok(vram_heap_alloc(h, 16 * GiB, 0, &a));
    expect_eq_u64(a, 64 * GiB);
    assert_ok(vram_heap_grow(h, 48 * GiB));
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.capacity, 128 * GiB);
    expect_eq_u64(s.free, 48 * GiB);
    expect_eq_u64(s.free_blocks, 2);
    expect_eq_u64(s.largest_free, 32 * GiB);
    static test_heap_blocks w;
    test_heap_walk(h, &w);
    expect_eq_u64(w.n, 4);
    if (w.n == 4) {
        expect_true(w.b[2].offset == 80 * GiB && w.b[2].size == 16 * GiB && !w.b[2].used);
        expect_true(w.b[3].offset == 96 * GiB && w.b[3].size == 32 * GiB && !w.b[3].used);
    }
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_free(h, b));
    assert_ok(vram_heap_free(h, a));
    EXPECT_EMPTY(h); /* one 128 GiB block */
    vram_heap_destroy(h);
}

/* Random allocs, frees and grows (up to 128 MiB) from random capacities:
 * check() after every grow and now and then; empty again, the heap is the decomposition of its
 * final capacity. */
static void test_grow_random(uint64_t seed)
{
    static uint64_t offs[TEST_WALK_MAX];
    uint64_t rng = seed;
    for (int round = 0; round < 20; round++) {
        vram_heap *h = make((1 + test_rand(&rng) % (64 * KiB)) * 256);
        size_t n = 0;
        for (int op = 0; op < 2000; op++) {
            uint64_t r = test_rand(&rng) % 100, off;
            vram_heap_stats s = test_heap_stats(h);
            if (r < 3 && s.capacity < 64 * MiB) {
                uint64_t bytes = (1 + test_rand(&rng) % (s.capacity / 256)) * 256;
                assert_ok(vram_heap_grow(h, bytes));
                expect_eq_u64(test_heap_stats(h).capacity, s.capacity + bytes);
                EXPECT_HEAP_CLEAN(h);
            } else if (r < 55 && n < TEST_WALK_MAX) {
                uint64_t size = 1 + test_rand(&rng) % (s.capacity / 8);
                uint64_t align = UINT64_C(1) << (test_rand(&rng) % 24);
                vram_status st = vram_heap_alloc(h, size, align, &off);
                if (st == VRAM_OK) {
                    expect_eq_u64(off % align, 0);
                    offs[n++] = off;
                } else {
                    expect_status(st, VRAM_ENOMEM);
                }
            } else if (n) {
                size_t i = test_rand(&rng) % n;
                assert_ok(vram_heap_free(h, offs[i]));
                offs[i] = offs[--n];
            }
            if (op % 128 == 0)
                EXPECT_HEAP_CLEAN(h);
        }
        assert_ok(vram_heap_free_batch(h, n, offs));
        EXPECT_EMPTY(h);
        vram_heap_destroy(h);
    }
}

/* Fill with random sizes until ENOMEM, free in random order (singly or in one
 * batch): one free block again. */
static void test_exhaustion(uint64_t seed)
{
    static uint64_t offs[TEST_WALK_MAX];
    uint64_t rng = seed;
    vram_heap *h = make(256 * MiB);
    for (int round = 0; round < 4; round++) {
        size_t n = 0;
        vram_status st = VRAM_OK;
        uint64_t size = 0;
        while (n < TEST_WALK_MAX) {
            size = 256 + test_rand(&rng) % (2 * MiB);
            st = vram_heap_alloc(h, size, 0, &offs[n]);
            if (st)
                break;
            n++;
        }
        expect_status(st, VRAM_ENOMEM);
        EXPECT_HEAP_CLEAN(h);
        vram_heap_stats s = test_heap_stats(h);
        expect_eq_u64(s.live_allocs, n);
        expect_true(s.largest_free < size); /* why the last request failed */
        expect_eq_u64(vram_heap_max_alloc(h), s.largest_free);
        shuffle(offs, n, &rng);
        if (round % 2) {
            assert_ok(vram_heap_free_batch(h, n, offs));
        } else {
            for (size_t i = 0; i < n; i++) {
                assert_ok(vram_heap_free(h, offs[i]));
                if (i % 64 == 0)
                    EXPECT_HEAP_CLEAN(h);
            }
        }
        EXPECT_EMPTY(h);
    }
    vram_heap_destroy(h);
}

/* A batched free in random order leaves the layout that single frees leave. */
static void test_batch_equals_singles(uint64_t seed)
{
    enum { N = 512 };
    uint64_t rng = seed, sizes[N], o1[N], o2[N];
    vram_heap *h1 = make(128 * MiB), *h2 = make(128 * MiB);
    for (size_t i = 0; i < N; i++)
        sizes[i] = 256 + test_rand(&rng) % (64 * KiB);
    assert_ok(vram_heap_alloc_batch(h1, N, sizes, 0, o1));
    for (size_t i = 0; i < N; i++)
        assert_ok(vram_heap_alloc(h2, sizes[i], 0, &o2[i]));
    expect_true(memcmp(o1, o2, sizeof o1) == 0);
    shuffle(o1, N, &rng);
    assert_ok(vram_heap_free_batch(h1, N / 2, o1));
    for (size_t i = N / 2; i-- > 0;)
        assert_ok(vram_heap_free(h2, o1[i]));
    static test_heap_blocks w1, w2;
    test_heap_walk(h1, &w1);
    test_heap_walk(h2, &w2);
    expect_eq_u64(w1.n, w2.n);
    expect_true(w1.n == w2.n && memcmp(w1.b, w2.b, w1.n * sizeof w1.b[0]) == 0);
    EXPECT_HEAP_CLEAN(h1);
    EXPECT_HEAP_CLEAN(h2);
    vram_heap_destroy(h1);
    vram_heap_destroy(h2);
}

/* A batch that does not fit fails whole and leaves the heap as it was. */
static void test_alloc_batch_all_or_nothing(void)
{
    vram_heap *h = make(8 * MiB);
    uint64_t keep;
    assert_ok(vram_heap_alloc(h, MiB, 0, &keep));
    vram_heap_stats before = test_heap_stats(h);
    static test_heap_blocks w0, w;
    test_heap_walk(h, &w0);
    uint64_t sizes[4] = {MiB, 2 * MiB, 2 * MiB, 3 * MiB}, offs[4];
    expect_status(vram_heap_alloc_batch(h, 4, sizes, 0, offs), VRAM_ENOMEM);
    vram_heap_stats after = test_heap_stats(h);
    expect_true(memcmp(&before, &after, sizeof before) == 0);
    test_heap_walk(h, &w);
    expect_true(w.n == w0.n && memcmp(w.b, w0.b, w.n * sizeof w.b[0]) == 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

int main(void)
{
    uint64_t seed = 0xb0dd1e5ull;
    const char *env = getenv("VRAM_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    printf("heap_buddy: seed %" PRIu64 " (set VRAM_TEST_SEED to replay)\n", seed);
    test_bad_requests();
    test_rounding_and_split();
    test_alignments();
    test_bad_frees();
    test_roots_80g();
    test_odd_capacity_fill(seed);
    test_alignment_across_roots();
    test_footprint_across_roots();
    test_grow();
    test_grow_random(seed + 2);
    test_exhaustion(seed);
    test_batch_equals_singles(seed + 1);
    test_alloc_batch_all_or_nothing();
    return test_finish("heap_buddy");
}
