/* test_check_buddy.c - every violation the "buddy" policy's check() reports.
 *
 * This file includes the policy's source, so it sees the private state, and the
 * executable's copy of the policy takes precedence over libvram's (precedent:
 * tests/cmake/heap_diff.cmake). Each case corrupts one piece of state on
 * purpose, asserts VRAM_ECORRUPT and the exact message, restores the state and
 * asserts that check() passes again. */
#include "test_heap_lib.h"

#include "../alloc/heap_buddy.c"

/* The layout every case starts from: one root of 64 KiB, orders 8 (256 bytes)
 * to 16. a [0, 256) used, b [256, 512) free, d [512, 1024) free,
 * c [1024, 2048) used, then the tail, free blocks of orders 11 to 15 (top, at
 * 32 KiB): nine blocks, seven free (two listed, five in the tail), in_use 1280,
 * footprint 2048. */
typedef struct fixture {
    vram_heap *heap;
    bd_heap *h;
    bd_block *a, *b, *c, *d, *top;
} fixture;

static bd_block *block_at(const bd_heap *h, uint64_t off)
{
    bd_block *b = off_find(h, off);
    assert_true(b != NULL);
    return b;
}

static fixture setup(void)
{
    fixture f;
    vram_heap_config cfg = {.capacity = 64 * KiB, .min_align = 256};
    assert_ok(vram_heap_create(vram_heap_policy("buddy"), &cfg, &f.heap));
    uint64_t a, b, c;
    assert_ok(vram_heap_alloc(f.heap, 256, 0, &a));
    assert_ok(vram_heap_alloc(f.heap, 256, 0, &b));
    assert_ok(vram_heap_alloc(f.heap, 1024, 0, &c));
    assert_true(a == 0 && b == 256 && c == 1024);
    assert_ok(vram_heap_free(f.heap, b));
    f.h = vram__heap_impl(f.heap);
    f.a = block_at(f.h, 0);
    f.b = block_at(f.h, 256);
    f.d = block_at(f.h, 512);
    f.c = block_at(f.h, 1024);
    f.top = block_at(f.h, 32 * KiB);
    assert_true(f.h->free_list[8] == f.b && !f.b->next && f.h->free_list[9] == f.d);
    assert_true(f.top->tail && !f.d->tail && f.h->nfree == 2 && f.h->ntail == 5);
    assert_true(f.h->tail_largest == 32 * KiB);
    EXPECT_HEAP_CLEAN(f.heap);
    return f;
}

static void test_blocks(void)
{
    fixture f = setup();
    bd_heap *h = f.h;
    CORRUPT(f.heap, h->capacity, 64 * KiB + 1,
            "capacity 65537: not a multiple of 2^8 or top order 16");
    CORRUPT(f.heap, h->top_k, 15, "capacity 65536: not a multiple of 2^8 or top order 15");
    CORRUPT(f.heap, f.b->off, 512, "blocks do not tile the range: no block starts at 256");
    CORRUPT(f.heap, f.b->order, 7, "block at 256 has order 7 below the minimum 8");
    CORRUPT(f.heap, f.b->order, 9, "block at 256 is not aligned to its size 512");
    CORRUPT(f.heap, f.a->order, 17,
            "block at 0 of order 17 crosses the end of its root of order 16 at 0");
    /* a free beside its free buddy b. */
    f.a->used = 0;
    f.a->requested = 0;
    EXPECT_HEAP_VIOLATION(f.heap, "free buddies at 0 and 256 (order 8) should have merged");
    f.a->used = 1;
    f.a->requested = 256;
    EXPECT_HEAP_CLEAN(f.heap);
    CORRUPT(f.heap, f.a->requested, 0, "block at 0: requested 0 does not fit its state");
    CORRUPT(f.heap, f.a->requested, 257, "block at 0: requested 257 does not fit its state");
    CORRUPT(f.heap, f.b->requested, 5, "block at 256: requested 5 does not fit its state");
    CORRUPT(f.heap, f.a->batch_mark, 1, "block at 0 still carries a batch mark");
    CORRUPT(f.heap, h->by_off.count, 10, "offset index holds 10 entries, 9 blocks tile the range");

    /* No block in the offset index at b's offset. */
    vram__offmap_del(&h->by_off, 256);
    EXPECT_HEAP_VIOLATION(f.heap, "blocks do not tile the range: no block starts at 256");
    vram__offmap_put(&h->by_off, 256, f.b);
    EXPECT_HEAP_CLEAN(f.heap);
    vram_heap_destroy(f.heap);
}

#define LINKED_WRONGLY(off)                                                                \
    "free list of order 8: block at " off " is linked wrongly, used, in the tail, of another " \
    "order or not in the offset index"

static void test_free_lists(void)
{
    fixture f = setup();
    bd_heap *h = f.h;

    CORRUPT(f.heap, h->nonempty, h->nonempty | UINT64_C(1) << 20,
            "non-empty bit of order 20 disagrees with its list");

    /* A block outside the range listed behind d: three listed. */
    bd_block stranger = {.off = 128 * KiB, .order = 9, .prev = f.d};
    CORRUPT(f.heap, f.d->next, &stranger, "free lists hold more than the 2 free blocks");
    /* b listed, but flagged as a tail block. */
    CORRUPT(f.heap, f.b->tail, 1, LINKED_WRONGLY("256"));

    CORRUPT(f.heap, f.b->prev, f.a, LINKED_WRONGLY("256"));
    /* Behind b in its list: the used a, the order-9 d, a block the index lacks. */
    f.a->prev = f.b;
    CORRUPT(f.heap, f.b->next, f.a, LINKED_WRONGLY("0"));
    f.b->next = f.d;
    f.d->prev = f.b;
    EXPECT_HEAP_VIOLATION(f.heap, LINKED_WRONGLY("512"));
    f.b->next = NULL;
    f.d->prev = NULL;
    EXPECT_HEAP_CLEAN(f.heap);
    stranger = (bd_block){.off = 768, .order = 8, .prev = f.b};
    CORRUPT(f.heap, f.b->next, &stranger, LINKED_WRONGLY("768"));

    /* b in no list. */
    h->free_list[8] = NULL;
    h->nonempty &= ~(UINT64_C(1) << 8);
    EXPECT_HEAP_VIOLATION(f.heap, "free lists hold 1 blocks, the range 2 free ones");
    h->free_list[8] = f.b;
    h->nonempty |= UINT64_C(1) << 8;
    EXPECT_HEAP_CLEAN(f.heap);
    vram_heap_destroy(f.heap);
}

static void test_counters(void)
{
    fixture f = setup();
    bd_heap *h = f.h;
    CORRUPT(f.heap, h->in_use, 1024,
            "counters disagree with a walk: in_use 1024/1280 requested 1280/1280 live 2/2 "
            "free blocks 2/2 (counter/walk)");
    CORRUPT(f.heap, h->requested, 1,
            "counters disagree with a walk: in_use 1280/1280 requested 1/1280 live 2/2 "
            "free blocks 2/2 (counter/walk)");
    CORRUPT(f.heap, h->live, 3,
            "counters disagree with a walk: in_use 1280/1280 requested 1280/1280 live 3/2 "
            "free blocks 2/2 (counter/walk)");
    CORRUPT(f.heap, h->nfree, 8,
            "counters disagree with a walk: in_use 1280/1280 requested 1280/1280 live 2/2 "
            "free blocks 8/2 (counter/walk)");
    CORRUPT(f.heap, h->fp, 1024, "footprint 1024, the highest used block ends at 2048");
    CORRUPT(f.heap, h->ntail, 4,
            "tail counters disagree with a walk: blocks 4/5 largest 32768/32768 (counter/walk)");
    CORRUPT(f.heap, h->tail_largest, 16 * KiB,
            "tail counters disagree with a walk: blocks 5/5 largest 16384/32768 (counter/walk)");
    CORRUPT(f.heap, h->peak_in_use, 1024, "a peak is below its current value");
    CORRUPT(f.heap, h->peak_footprint, 1024, "a peak is below its current value");
    vram_heap_destroy(f.heap);
}

/* The tail: every block at or above the footprint is free and flagged, none below. */
static void test_tail(void)
{
    fixture f = setup();
    bd_heap *h = f.h;
    /* top listed instead of in the tail, the counters moved with it. */
    f.top->tail = 0;
    h->free_list[15] = f.top;
    h->nonempty |= UINT64_C(1) << 15;
    h->nfree++;
    h->ntail--;
    EXPECT_HEAP_VIOLATION(f.heap,
                          "block at 32768, at or above the footprint 2048, is not a free tail block");
    h->ntail++;
    h->nfree--;
    h->nonempty &= ~(UINT64_C(1) << 15);
    h->free_list[15] = NULL;
    f.top->tail = 1;
    EXPECT_HEAP_CLEAN(f.heap);
    /* b off its list and flagged tail, the counters moved with it. */
    h->free_list[8] = NULL;
    h->nonempty &= ~(UINT64_C(1) << 8);
    h->nfree--;
    h->ntail++;
    f.b->tail = 1;
    EXPECT_HEAP_VIOLATION(f.heap, "block at 256, below the footprint 2048, is flagged tail");
    f.b->tail = 0;
    h->ntail--;
    h->nfree++;
    h->nonempty |= UINT64_C(1) << 8;
    h->free_list[8] = f.b;
    EXPECT_HEAP_CLEAN(f.heap);
    vram_heap_destroy(f.heap);
}

int main(void)
{
    test_blocks();
    test_free_lists();
    test_counters();
    test_tail();
    return test_finish("check_buddy");
}
