/* test_heap_tlsf.c - the "tlsf" policy: edge cases, good fit, coalescing, grow,
 * exhaustion and recovery, stats and walk, and a short randomised run checked
 * against a shadow of live blocks with check() after every operation. */
#include "test_heap_lib.h"

static vram_heap *make(uint64_t capacity, uint64_t min_align)
{
    return test_heap("tlsf", (vram_heap_config){.capacity = capacity, .min_align = min_align});
}

static void test_bad_input(void)
{
    vram_heap_config cfg = {.capacity = 1000 * KiB + 1};
    vram_heap *h = NULL;
    expect_status(vram_heap_create(vram_heap_policy("tlsf"), &cfg, &h), VRAM_EINVAL);
    expect_true(h == NULL);

    h = make(64 * MiB, 0);
    uint64_t off = 0;
    expect_status(vram_heap_alloc(h, 0, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, 64 * MiB + 1, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, 256, 384, &off), VRAM_EINVAL);
    expect_status(vram_heap_grow(h, 100), VRAM_EINVAL);
    expect_status(vram_heap_retain(h, 0), VRAM_EUNSUPPORTED);
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.live_allocs, 0);
    expect_eq_u64(s.free_blocks, 1);
    expect_eq_u64(s.largest_free, 64 * MiB);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

static void test_free_errors(void)
{
    vram_heap *h = make(64 * MiB, 0);
    uint64_t a, b;
    assert_ok(vram_heap_alloc(h, 1000, 0, &a));
    assert_ok(vram_heap_alloc(h, 1000, 0, &b));
    expect_status(vram_heap_free(h, a + 256), VRAM_ENOTFOUND); /* inside a used block */
    expect_status(vram_heap_free(h, a + 1), VRAM_ENOTFOUND);   /* unaligned */
    expect_status(vram_heap_free(h, 64 * MiB), VRAM_ENOTFOUND); /* past the end */
    expect_status(vram_heap_free(h, 32 * MiB), VRAM_ENOTFOUND); /* inside the free tail */
    assert_ok(vram_heap_free(h, a));
    expect_status(vram_heap_free(h, a), VRAM_EDOUBLEFREE); /* the free block starts there */
    assert_ok(vram_heap_free(h, b));
    expect_status(vram_heap_free(h, b), VRAM_ENOTFOUND); /* merged into the block at a */
    expect_status(vram_heap_free(h, a), VRAM_EDOUBLEFREE);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

static void test_alignments(void)
{
    /* A big range: nothing is touched, so 1 TiB costs nothing. */
    vram_heap *h = make(1024 * GiB, 0);
    uint64_t first;
    assert_ok(vram_heap_alloc(h, 100, 0, &first)); /* moves the free space off offset 0 */
    expect_eq_u64(first, 0);
    for (uint64_t align = 1; align <= GiB; align <<= 1) {
        uint64_t off = 1;
        assert_ok(vram_heap_alloc(h, 300, align, &off));
        expect_eq_u64(off % (align < 256 ? 256 : align), 0);
        EXPECT_HEAP_CLEAN(h);
        assert_ok(vram_heap_free(h, off));
        EXPECT_HEAP_CLEAN(h);
    }
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.live_allocs, 1);
    expect_eq_u64(s.free_blocks, 1);
    vram_heap_destroy(h);

    /* A minimum alignment of 1 byte and of 64 KiB. */
    h = make(MiB, 1);
    uint64_t a, b;
    assert_ok(vram_heap_alloc(h, 3, 0, &a));
    assert_ok(vram_heap_alloc(h, 5, 0, &b));
    expect_eq_u64(b - a, 3);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
    h = make(MiB, 64 * KiB);
    assert_ok(vram_heap_alloc(h, 1, 0, &a));
    assert_ok(vram_heap_alloc(h, 1, 256, &b));
    expect_eq_u64(b - a, 64 * KiB);
    expect_eq_u64(test_heap_stats(h).in_use, 128 * KiB);
    expect_eq_u64(test_heap_stats(h).requested, 2);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

static void test_coalescing_and_stats(void)
{
    vram_heap *h = make(16 * MiB, 0);
    uint64_t o[4];
    for (int i = 0; i < 4; i++)
        assert_ok(vram_heap_alloc(h, MiB - 100, 0, &o[i]));
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.in_use, 4 * MiB);
    expect_eq_u64(s.requested, 4 * (MiB - 100));
    expect_eq_u64(s.free, 12 * MiB);
    expect_eq_u64(s.footprint, 4 * MiB);
    expect_eq_u64(s.live_allocs, 4);
    assert_ok(vram_heap_free(h, o[0]));
    assert_ok(vram_heap_free(h, o[2]));
    s = test_heap_stats(h);
    expect_eq_u64(s.free_blocks, 3);
    expect_eq_u64(s.largest_free, 12 * MiB);
    expect_eq_u64(s.footprint, 4 * MiB);
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_free(h, o[3])); /* merges with o[2] and the tail */
    s = test_heap_stats(h);
    expect_eq_u64(s.free_blocks, 2);
    expect_eq_u64(s.footprint, 2 * MiB);
    expect_eq_u64(s.peak_footprint, 4 * MiB);
    expect_eq_u64(s.largest_free, 14 * MiB);
    assert_ok(vram_heap_free(h, o[1])); /* merges both sides */
    s = test_heap_stats(h);
    expect_eq_u64(s.free_blocks, 1);
    expect_eq_u64(s.largest_free, 16 * MiB);
    expect_eq_u64(s.in_use, 0);
    expect_eq_u64(s.requested, 0);
    expect_eq_u64(s.peak_in_use, 4 * MiB);
    expect_eq_u64(s.footprint, 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

static void test_free_batch(void)
{
    vram_heap *h = make(16 * MiB, 0);
    uint64_t o[4];
    for (int i = 0; i < 4; i++)
        assert_ok(vram_heap_alloc(h, MiB, 0, &o[i]));
    /* A repeated offset or an unknown one fails the batch before anything is freed. */
    uint64_t dup[3] = {o[0], o[1], o[0]}, bad[2] = {o[2], o[2] + 256};
    expect_status(vram_heap_free_batch(h, 3, dup), VRAM_EDOUBLEFREE);
    expect_status(vram_heap_free_batch(h, 2, bad), VRAM_ENOTFOUND);
    expect_eq_u64(test_heap_stats(h).live_allocs, 4);
    EXPECT_HEAP_CLEAN(h);
    /* Any order coalesces fully: one free block remains. */
    uint64_t all[4] = {o[2], o[0], o[3], o[1]};
    assert_ok(vram_heap_free_batch(h, 4, all));
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.live_allocs, 0);
    expect_eq_u64(s.free_blocks, 1);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

typedef struct walk_acc {
    uint64_t next, blocks, used;
    int ok;
} walk_acc;

static int walk_cb(const vram_block_info *b, void *ctx)
{
    walk_acc *w = ctx;
    if (b->offset != w->next || b->size == 0 || b->refs != (b->used ? 1u : 0u) ||
        (b->used && (b->requested == 0 || b->requested > b->size)) ||
        (!b->used && b->requested))
        w->ok = 0;
    w->next = b->offset + b->size;
    w->blocks++;
    w->used += b->used != 0;
    return 0;
}

static int walk_stop(const vram_block_info *b, void *ctx)
{
    (void)b;
    return ++*(int *)ctx == 2;
}

static void test_walk(void)
{
    vram_heap *h = make(8 * MiB, 0);
    uint64_t a, b, c;
    assert_ok(vram_heap_alloc(h, 1, 0, &a));
    assert_ok(vram_heap_alloc(h, 2 * MiB, 0, &b));
    assert_ok(vram_heap_alloc(h, 3, MiB, &c));
    assert_ok(vram_heap_free(h, a));
    walk_acc w = {0, 0, 0, 1};
    assert_ok(vram_heap_walk(h, walk_cb, &w));
    expect_true(w.ok);
    expect_eq_u64(w.next, 8 * MiB);
    expect_eq_u64(w.used, 2);
    expect_eq_u64(w.blocks, test_heap_stats(h).free_blocks + 2);
    int n = 0;
    assert_ok(vram_heap_walk(h, walk_stop, &n));
    expect_eq_u64(n, 2);
    vram_heap_destroy(h);
}

static void test_exhaustion_and_grow(void)
{
    vram_heap *h = make(64 * MiB, 0);
    uint64_t offs[64];
    int n = 0;
    while (n < 64 && vram_heap_alloc(h, MiB, 0, &offs[n]) == VRAM_OK)
        n++;
    expect_eq_u64(n, 64);
    uint64_t off;
    expect_status(vram_heap_alloc(h, 256, 0, &off), VRAM_ENOMEM);
    expect_eq_u64(vram_heap_max_alloc(h), 0);
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.free, 0);
    expect_eq_u64(s.free_blocks, 0);
    expect_eq_u64(s.largest_free, 0);
    EXPECT_HEAP_CLEAN(h);

    /* Recovery: every other block freed gives 32 holes, none merged. */
    for (int i = 0; i < 64; i += 2)
        assert_ok(vram_heap_free(h, offs[i]));
    expect_eq_u64(test_heap_stats(h).free_blocks, 32);
    expect_status(vram_heap_alloc(h, 2 * MiB, 0, &off), VRAM_ENOMEM);
    assert_ok(vram_heap_alloc(h, MiB, 0, &off));
    expect_eq_u64(off % (2 * MiB), 0);
    EXPECT_HEAP_CLEAN(h);

    /* Grow with a used tail appends a free block; with a free tail extends it. */
    assert_ok(vram_heap_grow(h, 4 * MiB));
    s = test_heap_stats(h);
    expect_eq_u64(s.capacity, 68 * MiB);
    expect_eq_u64(s.largest_free, 4 * MiB);
    expect_eq_u64(s.footprint, 64 * MiB);
    uint64_t blocks = s.free_blocks;
    assert_ok(vram_heap_grow(h, 4 * MiB));
    expect_eq_u64(test_heap_stats(h).free_blocks, blocks);
    expect_eq_u64(test_heap_stats(h).largest_free, 8 * MiB);
    assert_ok(vram_heap_alloc(h, 8 * MiB, 0, &off));
    expect_eq_u64(off, 64 * MiB);
    EXPECT_HEAP_CLEAN(h);
    /* Size > capacity tracks the grown capacity. */
    expect_status(vram_heap_alloc(h, 72 * MiB + 1, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, 72 * MiB, 0, &off), VRAM_ENOMEM);
    vram_heap_destroy(h);

    /* The range stops growing at 2^48 bytes, the wrapper's limit for any heap. */
    h = make(UINT64_C(1) << 47, 0);
    assert_ok(vram_heap_grow(h, UINT64_C(1) << 47));
    expect_eq_u64(test_heap_stats(h).capacity, UINT64_C(1) << 48);
    expect_status(vram_heap_grow(h, 256), VRAM_EOVERFLOW);
    assert_ok(vram_heap_alloc(h, UINT64_C(1) << 47, UINT64_C(1) << 47, &off));
    expect_eq_u64(off, 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* TLSF's good fit: a free block that is not a list start can be larger than
 * the largest request the search promises; max_alloc names that promise. */
static void test_good_fit_and_max_alloc(void)
{
    /* 256-byte units: lists are one unit wide below 64 units; a free block of
     * 65 units lives in list [64, 66), so only requests up to 64 units are promised. */
    vram_heap *h = make(66 * 256, 0);
    uint64_t a, b;
    assert_ok(vram_heap_alloc(h, 256, 0, &a));
    expect_eq_u64(test_heap_stats(h).largest_free, 65 * 256);
    expect_eq_u64(vram_heap_max_alloc(h), 64 * 256);
    expect_status(vram_heap_alloc(h, 65 * 256, 0, &b), VRAM_ENOMEM);
    assert_ok(vram_heap_alloc(h, 64 * 256, 0, &b));
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);

    /* Below 64 units lists are exact: the promise is the whole block. */
    h = make(63 * 256, 0);
    expect_eq_u64(vram_heap_max_alloc(h), 63 * 256);
    assert_ok(vram_heap_alloc(h, 63 * 256, 0, &a));
    vram_heap_destroy(h);
}

typedef struct live_block {
    uint64_t off, size;
} live_block;

/* Random sizes and alignments; after every operation the heap is checked, the
 * new block must not overlap a live one, and max_alloc must be satisfiable. */
static void test_random(void)
{
    uint64_t seed = 0x7153f00dULL, state = seed;
    printf("test_heap_tlsf: random seed %" PRIu64 "\n", seed);
    enum { LIVE = 512, OPS = 20000 };
    vram_heap *h = make(256 * MiB, 0);
    live_block live[LIVE];
    int n = 0;
    for (int op = 0; op < OPS; op++) {
        uint64_t r = test_rand(&state);
        if (n == LIVE || (n && r % 100 < 45)) {
            int k = (int)(test_rand(&state) % (uint64_t)n);
            assert_ok(vram_heap_free(h, live[k].off));
            live[k] = live[--n];
        } else {
            uint64_t size = UINT64_C(1) << (test_rand(&state) % 22);
            size += test_rand(&state) % size;
            uint64_t align = UINT64_C(1) << (test_rand(&state) % 16);
            uint64_t off;
            vram_status st = vram_heap_alloc(h, size, align, &off);
            if (st == VRAM_ENOMEM)
                continue;
            assert_ok(st);
            expect_eq_u64(off % align, 0);
            for (int i = 0; i < n; i++)
                if (off < live[i].off + live[i].size && live[i].off < off + size) {
                    fprintf(stderr, "overlap at op %d seed %" PRIu64 "\n", op, seed);
                    exit(1);
                }
            live[n].off = off;
            live[n++].size = size;
        }
        char msg[256];
        if (vram_heap_check(h, msg, sizeof msg)) {
            fprintf(stderr, "check after op %d (seed %" PRIu64 "): %s\n", op, seed, msg);
            exit(1);
        }
        if (op % 64 == 0) {
            uint64_t m = vram_heap_max_alloc(h), off;
            vram_heap_stats s = test_heap_stats(h);
            expect_true(m <= s.largest_free);
            if (m) {
                assert_ok(vram_heap_alloc(h, m, 0, &off));
                assert_ok(vram_heap_free(h, off));
            }
        }
    }
    while (n)
        assert_ok(vram_heap_free(h, live[--n].off));
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.free_blocks, 1);
    expect_eq_u64(s.in_use, 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

int main(void)
{
    test_bad_input();
    test_free_errors();
    test_alignments();
    test_coalescing_and_stats();
    test_free_batch();
    test_walk();
    test_exhaustion_and_grow();
    test_good_fit_and_max_alloc();
    test_random();
    return test_finish("test_heap_tlsf");
}
