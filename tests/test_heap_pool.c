/* test_heap_pool.c - the "pool" policy: block size rules, alignment rules,
 * reference counts, free errors, exhaustion and recovery, grow, the footprint
 * high-water mark, walk, and a randomised run of retain/free against a shadow
 * of reference counts with check() after every operation. */
#include "test_heap_lib.h"

static vram_heap *make(uint64_t capacity, uint64_t block_size)
{
    return test_heap("pool", (vram_heap_config){.capacity = capacity, .block_size = block_size});
}

static void test_create(void)
{
    const vram_heap_ops *ops = vram_heap_policy("pool");
    vram_heap *h = NULL;
    vram_heap_config cfg = {.capacity = 64 * MiB, .block_size = 1000};
    expect_status(vram_heap_create(ops, &cfg, &h), VRAM_EINVAL); /* not a multiple of 256 */
    cfg.block_size = 128 * MiB;
    expect_status(vram_heap_create(ops, &cfg, &h), VRAM_EINVAL); /* no whole block */
    cfg.block_size = 256;
    cfg.capacity = UINT64_C(1) << 48;
    expect_status(vram_heap_create(ops, &cfg, &h), VRAM_EINVAL); /* 2^40 blocks */
    expect_true(h == NULL);

    h = make(65 * MiB, 0); /* default 2 MiB blocks; the last MiB is no block */
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.capacity, 64 * MiB);
    expect_eq_u64(s.free_blocks, 32);
    expect_eq_u64(s.largest_free, 2 * MiB);
    expect_eq_u64(vram_heap_max_alloc(h), 2 * MiB);
    expect_eq_u64(s.footprint, 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

static void test_sizes_and_alignment(void)
{
    vram_heap *h = make(64 * GiB, 0);
    uint64_t off;
    expect_status(vram_heap_alloc(h, 0, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, 2 * MiB + 1, 0, &off), VRAM_EINVAL);
    assert_ok(vram_heap_alloc(h, 2 * MiB, 0, &off));
    expect_eq_u64(off, 0);
    /* Every block start is a multiple of 2 MiB: alignments up to it are met... */
    for (uint64_t align = 1; align <= 2 * MiB; align <<= 1) {
        assert_ok(vram_heap_alloc(h, 100, align, &off));
        expect_eq_u64(off % align, 0);
        assert_ok(vram_heap_free(h, off));
    }
    /* ...larger ones are refused, even though the next block (4 MiB) would do. */
    for (uint64_t align = 4 * MiB; align <= GiB; align <<= 1)
        expect_status(vram_heap_alloc(h, 100, align, &off), VRAM_EINVAL);
    expect_eq_u64(test_heap_stats(h).live_allocs, 1);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);

    /* 768 KiB blocks start at multiples of 256 KiB only. */
    h = make(64 * MiB, 768 * KiB);
    assert_ok(vram_heap_alloc(h, 1, 256 * KiB, &off));
    assert_ok(vram_heap_alloc(h, 1, 256 * KiB, &off));
    expect_eq_u64(off, 768 * KiB);
    expect_status(vram_heap_alloc(h, 1, 512 * KiB, &off), VRAM_EINVAL);
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.capacity, 85 * 768 * KiB);
    expect_eq_u64(s.in_use, 2 * 768 * KiB);
    expect_eq_u64(s.requested, 2);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

static void test_refcounts(void)
{
    vram_heap *h = make(16 * MiB, MiB);
    uint64_t a, b;
    assert_ok(vram_heap_alloc(h, 1000, 0, &a));
    assert_ok(vram_heap_alloc(h, MiB, 0, &b));
    assert_ok(vram_heap_retain(h, a)); /* two more sequences share the prefix block */
    assert_ok(vram_heap_retain(h, a));
    assert_ok(vram_heap_free(h, a));
    assert_ok(vram_heap_free(h, a));
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.live_allocs, 2);
    expect_eq_u64(s.requested, 1000 + MiB);
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_free(h, a)); /* the last reference */
    s = test_heap_stats(h);
    expect_eq_u64(s.live_allocs, 1);
    expect_eq_u64(s.requested, MiB);
    expect_eq_u64(s.free_blocks, 15);
    expect_status(vram_heap_free(h, a), VRAM_EDOUBLEFREE);
    expect_status(vram_heap_retain(h, a), VRAM_ENOTFOUND);
    EXPECT_HEAP_CLEAN(h);
    /* The freed block is reused first. */
    uint64_t c;
    assert_ok(vram_heap_alloc(h, 5, 0, &c));
    expect_eq_u64(c, a);
    vram_heap_destroy(h);
}

static void test_free_batch(void)
{
    vram_heap *h = make(16 * MiB, MiB);
    uint64_t a, b, c;
    assert_ok(vram_heap_alloc(h, 1, 0, &a));
    assert_ok(vram_heap_alloc(h, 1, 0, &b));
    assert_ok(vram_heap_alloc(h, 1, 0, &c));
    assert_ok(vram_heap_retain(h, a));
    /* a has two references, b one: a third mention of a, or b twice, fails. */
    uint64_t too_many[4] = {a, b, a, a}, twice[2] = {b, b}, unknown[2] = {a, 9 * MiB};
    expect_status(vram_heap_free_batch(h, 4, too_many), VRAM_EDOUBLEFREE);
    expect_status(vram_heap_free_batch(h, 2, twice), VRAM_EDOUBLEFREE);
    expect_status(vram_heap_free_batch(h, 2, unknown), VRAM_ENOTFOUND);
    expect_eq_u64(test_heap_stats(h).live_allocs, 3);
    EXPECT_HEAP_CLEAN(h);
    /* Both references of a, and c: the mark drops to b. */
    uint64_t ok[3] = {a, c, a};
    assert_ok(vram_heap_free_batch(h, 3, ok));
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.live_allocs, 1);
    expect_eq_u64(s.footprint, 2 * MiB);
    expect_eq_u64(s.requested, 1);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

static void test_free_errors(void)
{
    vram_heap *h = make(16 * MiB, MiB);
    uint64_t a;
    assert_ok(vram_heap_alloc(h, 1, 0, &a));
    expect_status(vram_heap_free(h, a + 256), VRAM_ENOTFOUND);   /* inside a block */
    expect_status(vram_heap_free(h, 5 * MiB), VRAM_ENOTFOUND);   /* never used */
    expect_status(vram_heap_free(h, 16 * MiB), VRAM_ENOTFOUND);  /* past the end */
    expect_status(vram_heap_retain(h, 5 * MiB), VRAM_ENOTFOUND);
    assert_ok(vram_heap_free(h, a));
    /* Block 0 was the highest used block: the pool forgot it, as if never used. */
    expect_status(vram_heap_free(h, a), VRAM_ENOTFOUND);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

static void test_footprint(void)
{
    vram_heap *h = make(16 * MiB, MiB);
    uint64_t o[4];
    for (int i = 0; i < 4; i++)
        assert_ok(vram_heap_alloc(h, MiB, 0, &o[i]));
    expect_eq_u64(test_heap_stats(h).footprint, 4 * MiB);
    assert_ok(vram_heap_free(h, o[1]));
    assert_ok(vram_heap_free(h, o[2]));
    expect_eq_u64(test_heap_stats(h).footprint, 4 * MiB);
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_free(h, o[3])); /* the mark drops past the free blocks 2 and 1 */
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.footprint, MiB);
    expect_eq_u64(s.peak_footprint, 4 * MiB);
    expect_eq_u64(s.peak_in_use, 4 * MiB);
    expect_eq_u64(s.in_use, MiB);
    EXPECT_HEAP_CLEAN(h);
    uint64_t b;
    assert_ok(vram_heap_alloc(h, MiB, 0, &b));
    expect_eq_u64(b, MiB); /* the lowest never-used block again */
    vram_heap_destroy(h);
}

static void test_exhaustion_and_grow(void)
{
    vram_heap *h = make(8 * MiB, MiB);
    uint64_t o[8], off;
    for (int i = 0; i < 8; i++)
        assert_ok(vram_heap_alloc(h, MiB, 0, &o[i]));
    expect_status(vram_heap_alloc(h, 1, 0, &off), VRAM_ENOMEM);
    vram_heap_stats s = test_heap_stats(h);
    expect_eq_u64(s.free, 0);
    expect_eq_u64(s.largest_free, 0);
    expect_eq_u64(s.free_blocks, 0);
    expect_eq_u64(vram_heap_max_alloc(h), 0);
    assert_ok(vram_heap_free(h, o[3]));
    assert_ok(vram_heap_alloc(h, 1, 0, &off));
    expect_eq_u64(off, o[3]);
    EXPECT_HEAP_CLEAN(h);

    /* Half a block twice makes one whole block. */
    assert_ok(vram_heap_grow(h, MiB / 2));
    expect_eq_u64(test_heap_stats(h).capacity, 8 * MiB);
    expect_status(vram_heap_alloc(h, 1, 0, &off), VRAM_ENOMEM);
    assert_ok(vram_heap_grow(h, MiB / 2));
    expect_eq_u64(test_heap_stats(h).capacity, 9 * MiB);
    assert_ok(vram_heap_alloc(h, 1, 0, &off));
    expect_eq_u64(off, 8 * MiB);
    expect_status(vram_heap_grow(h, 100), VRAM_EINVAL);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);

    /* 2^31 blocks of 256 B; doubling would pass the 2^32 - 2 block records. */
    vram_heap_config cfg = {.capacity = UINT64_C(1) << 39, .block_size = 256};
    assert_ok(vram_heap_create(vram_heap_policy("pool"), &cfg, &h));
    expect_status(vram_heap_grow(h, UINT64_C(1) << 39), VRAM_EOVERFLOW);
    assert_ok(vram_heap_grow(h, UINT64_C(1) << 38));
    expect_eq_u64(test_heap_stats(h).free_blocks, UINT64_C(3) << 30);
    vram_heap_destroy(h);
}

typedef struct walk_acc {
    uint64_t next, blocks, used, refs;
    int ok;
} walk_acc;

static int walk_cb(const vram_block_info *b, void *ctx)
{
    walk_acc *w = ctx;
    if (b->offset != w->next || b->size != MiB || (b->used != 0) != (b->refs != 0))
        w->ok = 0;
    w->next = b->offset + b->size;
    w->blocks++;
    w->used += b->used != 0;
    w->refs += b->refs;
    return 0;
}

static void test_walk(void)
{
    vram_heap *h = make(8 * MiB, MiB);
    uint64_t a, b, c;
    assert_ok(vram_heap_alloc(h, 1, 0, &a));
    assert_ok(vram_heap_alloc(h, 1, 0, &b));
    assert_ok(vram_heap_alloc(h, 1, 0, &c));
    assert_ok(vram_heap_retain(h, c));
    assert_ok(vram_heap_free(h, b));
    walk_acc w = {0, 0, 0, 0, 1};
    assert_ok(vram_heap_walk(h, walk_cb, &w));
    expect_true(w.ok);
    expect_eq_u64(w.blocks, 8);
    expect_eq_u64(w.used, 2);
    expect_eq_u64(w.refs, 3);
    expect_eq_u64(w.next, 8 * MiB);
    vram_heap_destroy(h);
}

/* Random alloc/retain/free against a shadow of reference counts. */
static void test_random(void)
{
    uint64_t seed = 0x9001c0deULL, state = seed;
    printf("test_heap_pool: random seed %" PRIu64 "\n", seed);
    enum { BLOCKS = 200, OPS = 50000 };
    vram_heap *h = make(BLOCKS * 64 * KiB, 64 * KiB);
    uint32_t refs[BLOCKS] = {0};
    uint64_t live = 0;
    for (int op = 0; op < OPS; op++) {
        uint64_t r = test_rand(&state) % 100;
        uint64_t k = test_rand(&state) % BLOCKS;
        uint64_t off = k * 64 * KiB;
        if (r < 45) {
            vram_status st = vram_heap_alloc(h, 1 + test_rand(&state) % (64 * KiB), 0, &off);
            if (live == BLOCKS) {
                expect_status(st, VRAM_ENOMEM);
            } else {
                assert_ok(st);
                k = off / (64 * KiB);
                expect_true(off % (64 * KiB) == 0 && k < BLOCKS && refs[k] == 0);
                refs[k] = 1;
                live++;
            }
        } else if (r < 60) {
            if (refs[k]) {
                assert_ok(vram_heap_retain(h, off));
                refs[k]++;
            } else {
                expect_status(vram_heap_retain(h, off), VRAM_ENOTFOUND);
            }
        } else {
            vram_status st = vram_heap_free(h, off);
            if (refs[k]) {
                assert_ok(st);
                live -= --refs[k] == 0;
            } else {
                expect_true(st == VRAM_ENOTFOUND || st == VRAM_EDOUBLEFREE);
            }
        }
        char msg[256];
        if (vram_heap_check(h, msg, sizeof msg)) {
            fprintf(stderr, "check after op %d (seed %" PRIu64 "): %s\n", op, seed, msg);
            exit(1);
        }
        if (test_heap_stats(h).live_allocs != live) {
            fprintf(stderr, "live count differs after op %d (seed %" PRIu64 ")\n", op, seed);
            exit(1);
        }
    }
    vram_heap_destroy(h);
}

int main(void)
{
    test_create();
    test_sizes_and_alignment();
    test_refcounts();
    test_free_errors();
    test_free_batch();
    test_footprint();
    test_exhaustion_and_grow();
    test_walk();
    test_random();
    return test_finish("test_heap_pool");
}
