/* test_heap_bestfit.c - edge cases of the best-fit address manager. */
#include "test_heap_lib.h"

static test_heap_blocks *walk(const vram_heap *h)
{
    static test_heap_blocks w;
    test_heap_walk(h, &w);
    return &w;
}

static vram_heap *make(uint64_t capacity)
{
    return test_heap("bestfit", (vram_heap_config){.capacity = capacity});
}

/* The heap is one free block of its whole capacity. */
static void expect_empty(const vram_heap *h)
{
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    expect_eq_u64(s.in_use, 0);
    expect_eq_u64(s.requested, 0);
    expect_eq_u64(s.live_allocs, 0);
    expect_eq_u64(s.free_blocks, 1);
    expect_eq_u64(s.largest_free, s.capacity);
    expect_eq_u64(s.footprint, 0);
    test_heap_blocks *w = walk(h);
    expect_eq_u64(w->n, 1);
    expect_true(w->n == 1 && !w->b[0].used && w->b[0].size == s.capacity);
    EXPECT_HEAP_CLEAN(h);
}

static int stats_equal(const vram_heap_stats *a, const vram_heap_stats *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

static void test_bad_requests(void)
{
    vram_heap *h = NULL;
    vram_heap_config cfg = {.capacity = 1000}; /* not a multiple of 256 */
    expect_status(vram_heap_create(vram_heap_policy("bestfit"), &cfg, &h), VRAM_EINVAL);
    h = make(1 * MiB);
    uint64_t off, keep;
    assert_ok(vram_heap_alloc(h, 100, 0, &keep));
    vram_heap_stats before, after;
    vram_heap_stats_get(h, &before);
    expect_status(vram_heap_alloc(h, 0, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, MiB + 1, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, 256, 384, &off), VRAM_EINVAL);
    /* Fits the capacity, not the heap. */
    expect_status(vram_heap_alloc(h, MiB, 0, &off), VRAM_ENOMEM);
    expect_status(vram_heap_grow(h, 100), VRAM_EINVAL);
    vram_heap_stats_get(h, &after);
    expect_true(stats_equal(&before, &after));
    expect_eq_u64(after.in_use, 256); /* rounded up to the minimum alignment */
    expect_eq_u64(after.requested, 100);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* Every alignment from the minimum to 1 GiB on a 4 GiB heap (no memory touched):
 * a block at offset 0 forces front padding, which must stay a free block. */
static void test_alignments(void)
{
    vram_heap *h = make(4 * GiB);
    uint64_t first;
    assert_ok(vram_heap_alloc(h, 256, 0, &first));
    expect_eq_u64(first, 0);
    for (uint64_t a = VRAM_DEFAULT_ALIGN; a <= GiB; a <<= 1) {
        uint64_t off;
        assert_ok(vram_heap_alloc(h, 1000, a, &off));
        expect_eq_u64(off % a, 0);
        expect_eq_u64(off, (a == 256 ? 256 : a)); /* the lowest aligned address */
        test_heap_blocks *w = walk(h);
        expect_eq_u64(w->n, (a == 256 ? 3 : 4)); /* used, [padding], used, rest */
        EXPECT_HEAP_CLEAN(h);
        assert_ok(vram_heap_free(h, off));
        expect_eq_u64(walk(h)->n, 2);
    }
    assert_ok(vram_heap_free(h, first));
    expect_empty(h);
    vram_heap_destroy(h);
}

static void test_bad_frees(void)
{
    vram_heap *h = make(1 * MiB);
    uint64_t a, b;
    assert_ok(vram_heap_alloc(h, 4 * KiB, 0, &a));
    assert_ok(vram_heap_alloc(h, 4 * KiB, 0, &b));
    expect_status(vram_heap_free(h, 12345), VRAM_ENOTFOUND);
    expect_status(vram_heap_free(h, b + 256), VRAM_ENOTFOUND); /* inside a block */
    assert_ok(vram_heap_free(h, a));
    vram_heap_stats before, after;
    vram_heap_stats_get(h, &before);
    expect_status(vram_heap_free(h, a), VRAM_EDOUBLEFREE);
    uint64_t batch[2] = {b, b};
    expect_status(vram_heap_free_batch(h, 2, batch), VRAM_EDOUBLEFREE);
    batch[1] = 77 * KiB;
    expect_status(vram_heap_free_batch(h, 2, batch), VRAM_ENOTFOUND);
    vram_heap_stats_get(h, &after);
    expect_true(stats_equal(&before, &after));
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_free(h, b));
    expect_empty(h);
    vram_heap_destroy(h);
}

/* Holes of 3, 1, 2 and 1 units: each request takes the smallest hole that fits,
 * the lowest address among equal ones. */
static void test_best_fit_choice(void)
{
    const uint64_t u = 64 * KiB;
    vram_heap *h = make(64 * u);
    const uint64_t layout[] = {3, 1, 1, 1, 2, 1, 1, 1}; /* hole, wall, hole, wall, ... */
    uint64_t off[8];
    for (int i = 0; i < 8; i++)
        assert_ok(vram_heap_alloc(h, layout[i] * u, 0, &off[i]));
    for (int i = 0; i < 8; i += 2)
        assert_ok(vram_heap_free(h, off[i]));
    EXPECT_HEAP_CLEAN(h);
    uint64_t got;
    assert_ok(vram_heap_alloc(h, u, 0, &got));
    expect_eq_u64(got, off[2]);
    assert_ok(vram_heap_alloc(h, u, 0, &got));
    expect_eq_u64(got, off[6]);
    assert_ok(vram_heap_alloc(h, u + 1, 0, &got));
    expect_eq_u64(got, off[4]);
    assert_ok(vram_heap_alloc(h, 3 * u, 0, &got));
    expect_eq_u64(got, off[0]);
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    expect_eq_u64(s.free_blocks, 2); /* the rest of the 2-unit hole and the tail */
    expect_eq_u64(s.largest_free, 64 * u - 11 * u);
    expect_eq_u64(vram_heap_max_alloc(h), s.largest_free);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* An aligned request on a heap whose same-size holes mostly cannot hold it:
 * more than the tried candidates fail, so the search must go on to the one that
 * fits (no false ENOMEM); with a large free block present it takes that. */
static void test_aligned_search(void)
{
    vram_heap *h = make(64 * MiB);
    uint64_t pieces[64], offs[64];
    int hole[64], n = 0;
    for (int i = 0; i < 20; i++) {
        pieces[n] = 256 * KiB, hole[n++] = 0;
        pieces[n] = 128 * KiB, hole[n++] = 1; /* at i MiB + 256 KiB: no MiB boundary inside */
        pieces[n] = 640 * KiB, hole[n++] = 0;
    }
    pieces[n] = MiB - 64 * KiB, hole[n++] = 0;
    pieces[n] = 128 * KiB, hole[n++] = 1; /* [21 MiB - 64 KiB, 21 MiB + 64 KiB) */
    pieces[n] = 9 * MiB - 64 * KiB, hole[n++] = 0;
    pieces[n] = 34 * MiB, hole[n++] = 0; /* [30 MiB, 64 MiB) */
    for (int i = 0; i < n; i++)
        assert_ok(vram_heap_alloc(h, pieces[i], 0, &offs[i]));
    for (int i = 0; i < n; i++)
        if (hole[i])
            assert_ok(vram_heap_free(h, offs[i]));
    uint64_t off;
    assert_ok(vram_heap_alloc(h, 64 * KiB, MiB, &off));
    expect_eq_u64(off, 21 * MiB);
    expect_status(vram_heap_alloc(h, 64 * KiB, MiB, &off), VRAM_ENOMEM);
    assert_ok(vram_heap_free(h, offs[n - 1]));
    assert_ok(vram_heap_alloc(h, 64 * KiB, MiB, &off));
    expect_eq_u64(off, 30 * MiB);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

static void test_grow(void)
{
    vram_heap *h = make(1 * MiB);
    uint64_t a, b, c;
    assert_ok(vram_heap_alloc(h, MiB, 0, &a));
    expect_status(vram_heap_alloc(h, 256, 0, &b), VRAM_ENOMEM);
    assert_ok(vram_heap_grow(h, MiB));
    assert_ok(vram_heap_alloc(h, 512 * KiB, 0, &b));
    expect_eq_u64(b, MiB);
    assert_ok(vram_heap_grow(h, MiB)); /* merges with the free tail */
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    expect_eq_u64(s.capacity, 3 * MiB);
    expect_eq_u64(s.free_blocks, 1);
    expect_eq_u64(s.largest_free, MiB + 512 * KiB);
    expect_eq_u64(s.footprint, MiB + 512 * KiB);
    assert_ok(vram_heap_alloc(h, MiB + 512 * KiB, 0, &c));
    vram_heap_stats_get(h, &s);
    expect_eq_u64(s.footprint, 3 * MiB);
    expect_eq_u64(s.peak_footprint, 3 * MiB);
    EXPECT_HEAP_CLEAN(h);
    uint64_t all[3] = {c, a, b};
    assert_ok(vram_heap_free_batch(h, 3, all));
    expect_empty(h);
    vram_heap_stats_get(h, &s);
    expect_eq_u64(s.peak_in_use, 3 * MiB);
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

/* Fill with random sizes until ENOMEM, then free in random order, singly or in
 * batches: the heap is one free block again. */
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
        vram_heap_stats s;
        vram_heap_stats_get(h, &s);
        expect_eq_u64(s.live_allocs, n);
        expect_true(s.largest_free < size); /* why the last request failed */
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
        expect_empty(h);
    }
    vram_heap_destroy(h);
}

/* A batched free in random order leaves exactly the layout single frees leave. */
static void test_batch_equals_singles(uint64_t seed)
{
    enum { N = 512 };
    uint64_t rng = seed, sizes[N], o1[N], o2[N], pick[N / 2];
    vram_heap *h1 = make(64 * MiB), *h2 = make(64 * MiB);
    for (size_t i = 0; i < N; i++)
        sizes[i] = 256 + test_rand(&rng) % (64 * KiB);
    assert_ok(vram_heap_alloc_batch(h1, N, sizes, 0, o1));
    for (size_t i = 0; i < N; i++)
        assert_ok(vram_heap_alloc(h2, sizes[i], 0, &o2[i]));
    expect_true(memcmp(o1, o2, sizeof o1) == 0);
    for (size_t i = 0; i < N / 2; i++)
        pick[i] = o1[test_rand(&rng) % N];
    /* Deduplicate the picks: a batch must not name a block twice. */
    size_t k = 0;
    for (size_t i = 0; i < N / 2; i++) {
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            dup |= pick[j] == pick[i];
        if (!dup)
            pick[k++] = pick[i];
    }
    shuffle(pick, k, &rng);
    assert_ok(vram_heap_free_batch(h1, k, pick));
    for (size_t i = 0; i < k; i++)
        assert_ok(vram_heap_free(h2, pick[k - 1 - i]));
    static test_heap_blocks w1;
    w1 = *walk(h1);
    test_heap_blocks *w2 = walk(h2);
    expect_eq_u64(w1.n, w2->n);
    expect_true(w1.n == w2->n && memcmp(w1.b, w2->b, w1.n * sizeof w1.b[0]) == 0);
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
    vram_heap_stats before, after;
    vram_heap_stats_get(h, &before);
    static test_heap_blocks w0;
    w0 = *walk(h);
    uint64_t sizes[5] = {MiB, 2 * MiB, MiB, 3 * MiB, 256}, offs[5];
    expect_status(vram_heap_alloc_batch(h, 5, sizes, 0, offs), VRAM_ENOMEM);
    vram_heap_stats_get(h, &after);
    expect_true(stats_equal(&before, &after));
    test_heap_blocks *w = walk(h);
    expect_true(w->n == w0.n && memcmp(w->b, w0.b, w->n * sizeof w->b[0]) == 0);
    sizes[0] = 0;
    expect_status(vram_heap_alloc_batch(h, 5, sizes, 0, offs), VRAM_EINVAL);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

int main(void)
{
    uint64_t seed = 0x5eedb0075ull;
    const char *env = getenv("VRAM_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    printf("heap_bestfit: seed %" PRIu64 " (set VRAM_TEST_SEED to replay)\n", seed);
    test_bad_requests();
    test_alignments();
    test_bad_frees();
    test_best_fit_choice();
    test_aligned_search();
    test_grow();
    test_exhaustion(seed);
    test_batch_equals_singles(seed + 1);
    test_alloc_batch_all_or_nothing();
    return test_finish("heap_bestfit");
}
