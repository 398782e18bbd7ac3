/* test_heap_buddy.c - edge cases of the buddy policy: rounding, split and merge,
 * alignment, bad frees, grow by doubling, exhaustion and recovery, batches. */
#include "testlib.h"

#include "vram/heap.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define MAX_BLOCKS 4096

typedef struct walk_log {
    vram_block_info b[MAX_BLOCKS];
    size_t n;
} walk_log;

static int record(const vram_block_info *b, void *ctx)
{
    walk_log *w = ctx;
    if (w->n == MAX_BLOCKS)
        return 1;
    w->b[w->n++] = *b;
    return 0;
}

/* Walks h into *w (blocks in address order). */
static void walk(const vram_heap *h, walk_log *w)
{
    w->n = 0;
    assert_ok(vram_heap_walk(h, record, w));
}

static vram_heap *make(uint64_t capacity)
{
    vram_heap *h = NULL;
    vram_heap_config cfg = {.capacity = capacity};
    assert_ok(vram_heap_create(vram_heap_policy("buddy"), &cfg, &h));
    return h;
}

static vram_heap_stats stats_of(const vram_heap *h)
{
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    return s;
}

static void expect_healthy(const vram_heap *h, int line)
{
    char msg[256];
    if (vram_heap_check(h, msg, sizeof msg) != VRAM_OK) {
        fprintf(stderr, "%s:%d: FAILED: check: %s\n", __FILE__, line, msg);
        test_failures++;
    }
}
#define EXPECT_HEALTHY(h) expect_healthy((h), __LINE__)

/* The heap is one free block of its whole managed range. */
static void expect_empty(const vram_heap *h, int line)
{
    vram_heap_stats s = stats_of(h);
    static walk_log w;
    walk(h, &w);
    if (s.in_use || s.requested || s.live_allocs || s.free_blocks != 1 ||
        s.largest_free != s.capacity || s.footprint || w.n != 1 || w.b[0].used) {
        fprintf(stderr,
                "%s:%d: FAILED: heap is not one free block (%zu blocks, %" PRIu64 " live)\n",
                __FILE__, line, w.n, s.live_allocs);
        test_failures++;
    }
    expect_healthy(h, line);
}
#define EXPECT_EMPTY(h) expect_empty((h), __LINE__)

static void test_bad_requests(void)
{
    vram_heap *h = make(3 * MiB); /* manages 2 MiB: the last MiB is unusable */
    vram_heap_stats s = stats_of(h);
    expect_eq_u64(s.capacity, 2 * MiB);
    expect_eq_u64(s.largest_free, 2 * MiB);
    uint64_t off;
    expect_status(vram_heap_alloc(h, 0, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, 2 * MiB + 1, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, 256, 384, &off), VRAM_EINVAL);
    expect_status(vram_heap_grow(h, 100), VRAM_EINVAL);
    EXPECT_EMPTY(h);
    vram_heap_destroy(h);
}

/* Sizes round up to a power of two, at least the minimum alignment; the split
 * of a 1 MiB range down to 256 B leaves one free block per order. */
static void test_rounding_and_split(void)
{
    vram_heap *h = make(1 * MiB);
    uint64_t a, b, c;
    assert_ok(vram_heap_alloc(h, 1, 0, &a));
    expect_eq_u64(a, 0);
    static walk_log w;
    walk(h, &w);
    expect_eq_u64(w.n, 13); /* 256 used, then free 256, 512, ..., 512 KiB */
    for (size_t i = 1; i < w.n; i++)
        expect_true(!w.b[i].used && w.b[i].size == (UINT64_C(128) << i));
    assert_ok(vram_heap_alloc(h, 1000, 0, &b));
    assert_ok(vram_heap_alloc(h, 300, 0, &c));
    vram_heap_stats s = stats_of(h);
    expect_eq_u64(s.in_use, 256 + 1024 + 512);
    expect_eq_u64(s.requested, 1 + 1000 + 300);
    expect_eq_u64(s.live_allocs, 3);
    expect_eq_u64(b % 1024, 0);
    expect_eq_u64(c % 512, 0);
    expect_eq_u64(s.footprint, (b > c ? b + 1024 : c + 512));
    EXPECT_HEALTHY(h);
    uint64_t all[3] = {c, a, b};
    assert_ok(vram_heap_free_batch(h, 3, all));
    EXPECT_EMPTY(h);
    expect_eq_u64(stats_of(h).peak_in_use, 256 + 1024 + 512);
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
        vram_heap_stats s = stats_of(h);
        expect_eq_u64(s.in_use, 256 + 1024);
        EXPECT_HEALTHY(h);
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
    vram_heap_stats before = stats_of(h);
    expect_status(vram_heap_free(h, b), VRAM_EDOUBLEFREE); /* its buddy is used: not merged */
    uint64_t batch[2] = {a, a};
    expect_status(vram_heap_free_batch(h, 2, batch), VRAM_EDOUBLEFREE);
    batch[1] = 4096 + 256;
    expect_status(vram_heap_free_batch(h, 2, batch), VRAM_ENOTFOUND);
    vram_heap_stats after = stats_of(h);
    expect_true(memcmp(&before, &after, sizeof before) == 0);
    EXPECT_HEALTHY(h);
    assert_ok(vram_heap_free(h, a));
    EXPECT_EMPTY(h);
    expect_status(vram_heap_free(h, b), VRAM_ENOTFOUND); /* merged away */
    expect_status(vram_heap_free(h, a), VRAM_EDOUBLEFREE);
    vram_heap_destroy(h);
}

static void test_grow(void)
{
    vram_heap *h = make(1 * MiB);
    uint64_t a, b;
    assert_ok(vram_heap_alloc(h, MiB, 0, &a));
    expect_status(vram_heap_alloc(h, 256, 0, &b), VRAM_ENOMEM);
    expect_eq_u64(vram_heap_max_alloc(h), 0);
    assert_ok(vram_heap_grow(h, 512 * KiB)); /* 1.5 MiB: still manages 1 MiB */
    expect_eq_u64(stats_of(h).capacity, MiB);
    assert_ok(vram_heap_grow(h, 512 * KiB)); /* 2 MiB: doubles */
    expect_eq_u64(stats_of(h).capacity, 2 * MiB);
    expect_eq_u64(vram_heap_max_alloc(h), MiB);
    assert_ok(vram_heap_alloc(h, MiB, 0, &b));
    expect_eq_u64(b, MiB);
    expect_eq_u64(stats_of(h).footprint, 2 * MiB);
    EXPECT_HEALTHY(h);
    assert_ok(vram_heap_free(h, a));
    assert_ok(vram_heap_free(h, b));
    EXPECT_EMPTY(h);
    assert_ok(vram_heap_grow(h, 6 * MiB)); /* 8 MiB: two doublings, all merged */
    vram_heap_stats s = stats_of(h);
    expect_eq_u64(s.capacity, 8 * MiB);
    EXPECT_EMPTY(h);
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

/* Fill with random sizes until ENOMEM, free in random order (singly or in one
 * batch): one free block again. */
static void test_exhaustion(uint64_t seed)
{
    static uint64_t offs[MAX_BLOCKS];
    uint64_t rng = seed;
    vram_heap *h = make(256 * MiB);
    for (int round = 0; round < 4; round++) {
        size_t n = 0;
        vram_status st = VRAM_OK;
        uint64_t size = 0;
        while (n < MAX_BLOCKS) {
            size = 256 + test_rand(&rng) % (2 * MiB);
            st = vram_heap_alloc(h, size, 0, &offs[n]);
            if (st)
                break;
            n++;
        }
        expect_status(st, VRAM_ENOMEM);
        EXPECT_HEALTHY(h);
        vram_heap_stats s = stats_of(h);
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
                    EXPECT_HEALTHY(h);
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
    static walk_log w1, w2;
    walk(h1, &w1);
    walk(h2, &w2);
    expect_eq_u64(w1.n, w2.n);
    expect_true(w1.n == w2.n && memcmp(w1.b, w2.b, w1.n * sizeof w1.b[0]) == 0);
    EXPECT_HEALTHY(h1);
    EXPECT_HEALTHY(h2);
    vram_heap_destroy(h1);
    vram_heap_destroy(h2);
}

/* A batch that does not fit fails whole and leaves the heap as it was. */
static void test_alloc_batch_all_or_nothing(void)
{
    vram_heap *h = make(8 * MiB);
    uint64_t keep;
    assert_ok(vram_heap_alloc(h, MiB, 0, &keep));
    vram_heap_stats before = stats_of(h);
    static walk_log w0, w;
    walk(h, &w0);
    uint64_t sizes[4] = {MiB, 2 * MiB, 2 * MiB, 3 * MiB}, offs[4];
    expect_status(vram_heap_alloc_batch(h, 4, sizes, 0, offs), VRAM_ENOMEM);
    vram_heap_stats after = stats_of(h);
    expect_true(memcmp(&before, &after, sizeof before) == 0);
    walk(h, &w);
    expect_true(w.n == w0.n && memcmp(w.b, w0.b, w.n * sizeof w.b[0]) == 0);
    EXPECT_HEALTHY(h);
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
    test_grow();
    test_exhaustion(seed);
    test_batch_equals_singles(seed + 1);
    test_alloc_batch_all_or_nothing();
    return test_finish("heap_buddy");
}
