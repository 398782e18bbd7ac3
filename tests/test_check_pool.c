/* test_check_pool.c - every violation the "pool" policy's check() reports, and
 * retain's reference-count ceiling.
 *
 * This file includes the policy's source, so it sees the private state, and the
 * executable's copy of the policy takes precedence over libvram's (precedent:
 * tests/cmake/heap_diff.cmake). Each case corrupts one piece of state on
 * purpose, asserts VRAM_ECORRUPT and the exact message, restores the state and
 * asserts that check() passes again. */
#include "test_heap_lib.h"

#include "../alloc/heap_pool.c"

/* The layout every case starts from: 64 blocks of 4 KiB (64 records), blocks
 * 0 (1000 bytes requested) and 3 (3000) used, 1 and 2 freed in that order, so
 * the free list is 2 -> 1; high-water mark 4, peaks 4 live and 4. */
static vram_heap *setup(pool **out)
{
    vram_heap_config cfg = {.capacity = 256 * KiB, .min_align = 256, .block_size = 4 * KiB};
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("pool"), &cfg, &h));
    static const uint64_t sizes[] = {1000, 4096, 2000, 3000};
    uint64_t off[4];
    for (int i = 0; i < 4; i++) {
        assert_ok(vram_heap_alloc(h, sizes[i], 0, &off[i]));
        assert_true(off[i] == (uint64_t)i * 4 * KiB);
    }
    assert_ok(vram_heap_free(h, off[1]));
    assert_ok(vram_heap_free(h, off[2]));
    pool *p = vram__heap_impl(h);
    assert_true(p->hwm == 4 && p->cap == 64 && p->free_head == 2 && p->blocks[2].next == 1);
    EXPECT_HEAP_CLEAN(h);
    *out = p;
    return h;
}

static void test_blocks(void)
{
    pool *p;
    vram_heap *h = setup(&p);
    CORRUPT(h, p->nblocks, 3, "high-water mark 4 above 3 blocks (64 records)");
    CORRUPT(h, p->cap, 3, "high-water mark 4 above 64 blocks (3 records)");
    CORRUPT(h, p->blocks[3].refs, 0, "block 3 at the high-water mark is free");
    CORRUPT(h, p->blocks[0].req, 0, "block 0: requested 0 of 4096 bytes");
    CORRUPT(h, p->blocks[0].req, 4097, "block 0: requested 4097 of 4096 bytes");
    CORRUPT(h, p->blocks[1].req, 7, "free block 1: requested 7");
    vram_heap_destroy(h);
}

static void test_free_list(void)
{
    pool *p;
    vram_heap *h = setup(&p);
    CORRUPT(h, p->free_head, 4, "free list holds block 4 above the mark 4");
    CORRUPT(h, p->blocks[1].next, 2, "free list longer than the 2 free blocks"); /* a cycle */
    CORRUPT(h, p->free_head, 0, "free list holds block 0 with 1 references");
    CORRUPT(h, p->blocks[1].prev, NIL, "free list: back link of block 1 broken");
    CORRUPT(h, p->free_count, 3, "free list holds 2 blocks, 2 free below the mark");

    /* The list starts at 1: block 2 is free yet not listed. */
    p->free_head = 1;
    p->blocks[1].prev = NIL;
    EXPECT_HEAP_VIOLATION(h, "free list holds 1 blocks, 2 free below the mark");
    p->free_head = 2;
    p->blocks[1].prev = 2;
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

static void test_counters(void)
{
    pool *p;
    vram_heap *h = setup(&p);
    CORRUPT(h, p->live, 3, "counters disagree with a walk: live 3/2 requested 4000/4000");
    CORRUPT(h, p->requested, 1, "counters disagree with a walk: live 2/2 requested 1/4000");
    CORRUPT(h, p->peak_live, 1, "a peak is below its current value");
    CORRUPT(h, p->peak_hwm, 3, "a peak is below its current value");
    vram_heap_destroy(h);
}

/* retain refuses the reference that would wrap the count, and changes nothing. */
static void test_retain_ceiling(void)
{
    pool *p;
    vram_heap *h = setup(&p);
    p->blocks[0].refs = UINT32_MAX - 1;
    assert_ok(vram_heap_retain(h, 0));
    expect_status(vram_heap_retain(h, 0), VRAM_EOVERFLOW);
    expect_eq_u64(p->blocks[0].refs, UINT32_MAX);
    p->blocks[0].refs = 1;
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_free(h, 0));
    vram_heap_destroy(h);
}

int main(void)
{
    test_blocks();
    test_free_list();
    test_counters();
    test_retain_ceiling();
    return test_finish("check_pool");
}
