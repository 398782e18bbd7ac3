/* test_check_tlsf.c - every violation the "tlsf" policy's check() reports.
 *
 * This file includes the policy's source, so it sees the private state, and the
 * executable's copy of the policy takes precedence over libvram's (precedent:
 * tests/cmake/heap_diff.cmake). Each case corrupts one piece of state on
 * purpose, asserts VRAM_ECORRUPT and the exact message, restores the state and
 * asserts that check() passes again. */
#include "test_heap_lib.h"

#include "../alloc/heap_tlsf.c"

/* The layout every case starts from (b freed by offset, so the offset hash is
 * built), 256-byte units over 64 KiB:
 *   a [0, 1024) used (1000 requested), b [1024, 1536) free (list (0,2)),
 *   c [1536, 1792) used (256 requested), tail [1792, 65536) free: 249 units,
 *   list (3,30). */
typedef struct fixture {
    vram_heap *h;
    tlsf *t;
    uint32_t a, b, c, tail;
} fixture;

static uint32_t node_at(const tlsf *t, uint64_t off)
{
    uint32_t i = tlsf_map_get(&t->map, off);
    assert_true(i != NIL);
    return i;
}

static fixture setup(void)
{
    fixture f;
    vram_heap_config cfg = {.capacity = 64 * KiB, .min_align = 256};
    assert_ok(vram_heap_create(vram_heap_policy("tlsf"), &cfg, &f.h));
    uint64_t a, b, c;
    assert_ok(vram_heap_alloc(f.h, 1000, 0, &a));
    assert_ok(vram_heap_alloc(f.h, 512, 0, &b));
    assert_ok(vram_heap_alloc(f.h, 256, 0, &c));
    assert_true(a == 0 && b == 1024 && c == 1536);
    assert_ok(vram_heap_free(f.h, b));
    f.t = vram__heap_impl(f.h);
    f.a = node_at(f.t, 0);
    f.b = node_at(f.t, 1024);
    f.c = node_at(f.t, 1536);
    f.tail = node_at(f.t, 1792);
    assert_true(f.t->tail == f.tail && f.t->lists[0][2] == f.b && f.t->lists[3][30] == f.tail);
    EXPECT_HEAP_CLEAN(f.h);
    return f;
}

static void test_block_list(void)
{
    fixture f = setup();
    tlsf *t = f.t;
    tlsf_node *nodes = t->nodes;
    CORRUPT(f.h, t->blocks, 3, "block list longer than the 3 blocks counted");
    CORRUPT(f.h, nodes[f.c].prev, NIL, "block at 1536: back link broken");
    CORRUPT(f.h, nodes[f.c].off, 1537, "block at 1537: not aligned to 256");
    CORRUPT(f.h, nodes[f.a].off, 256, "the first block starts at 256, not 0");
    /* A block ends where the next starts: an empty or overlapping one is out of order. */
    CORRUPT(f.h, nodes[f.c].off, 1024, "block at 1024 follows block at 1024 (empty or overlap)");
    CORRUPT(f.h, nodes[f.c].off, 512, "block at 512 follows block at 1024 (empty or overlap)");
    CORRUPT(f.h, nodes[f.a].u.req, 0, "block at 0: requested 0 of 1024 bytes");
    CORRUPT(f.h, nodes[f.a].u.req, 1025, "block at 0: requested 1025 of 1024 bytes");
    CORRUPT(f.h, nodes[f.a].gen, 0, "used block at 0: no token was issued");
    CORRUPT(f.h, nodes[f.c].used, 0, "free blocks at 1024 and 1536 should have merged");
    CORRUPT(f.h, t->tail, f.a, "tail is not the last block");
    CORRUPT(f.h, t->capacity, 1792, "the last block starts at 1792, capacity is 1792");
    CORRUPT(f.h, t->capacity, 64 * KiB + 1, "the last block starts at 1792, capacity is 65537");

    /* The hash: an entry removed, then put back where it was. */
    tlsf_map_remove(&t->map, 1536);
    EXPECT_HEAP_VIOLATION(f.h, "block at 1536: missing from the offset hash");
    tlsf_map_put(&t->map, 1536, f.c);
    EXPECT_HEAP_CLEAN(f.h);
    vram_heap_destroy(f.h);
}

static void test_counters(void)
{
    fixture f = setup();
    tlsf *t = f.t;
    CORRUPT(f.h, t->blocks, 5, "4 blocks, counted 5, hashed 4");
    CORRUPT(f.h, t->map.count, 5, "4 blocks, counted 4, hashed 5");
    CORRUPT(f.h, t->live, 3,
            "counters disagree with a walk: live 3/2 in_use 1280/1280 requested 1256/1256 "
            "free blocks 2/2");
    CORRUPT(f.h, t->in_use, 1024,
            "counters disagree with a walk: live 2/2 in_use 1024/1280 requested 1256/1256 "
            "free blocks 2/2");
    CORRUPT(f.h, t->requested, 1,
            "counters disagree with a walk: live 2/2 in_use 1280/1280 requested 1/1256 "
            "free blocks 2/2");
    CORRUPT(f.h, t->free_blocks, 3,
            "counters disagree with a walk: live 2/2 in_use 1280/1280 requested 1256/1256 "
            "free blocks 3/2");
    CORRUPT(f.h, t->peak_in_use, 1024, "a peak is below its current value");
    CORRUPT(f.h, t->peak_footprint, 1536, "a peak is below its current value");

    /* check() without a message buffer still reports the violation. */
    t->live++;
    expect_status(vram_heap_check(f.h, NULL, 0), VRAM_ECORRUPT);
    char msg[8] = "x";
    expect_status(vram_heap_check(f.h, msg, 0), VRAM_ECORRUPT);
    expect_true(msg[0] == 'x'); /* a zero-length buffer is not written */
    t->live--;
    EXPECT_HEAP_CLEAN(f.h);
    vram_heap_destroy(f.h);
}

static void test_free_lists(void)
{
    fixture f = setup();
    tlsf *t = f.t;
    tlsf_node *nodes = t->nodes;
    CORRUPT(f.h, t->fl_map, t->fl_map | 2, "first-level bit 1 disagrees with its lists");
    CORRUPT(f.h, t->sl_map[0], t->sl_map[0] | 1u << 5, "bitmap bit (0,5) disagrees with its list");
    CORRUPT(f.h, nodes[f.b].u.link.prev_free, f.tail, "free list (0,2): back link broken at 1024");
    CORRUPT(f.h, nodes[f.b].sl, 3,
            "free block at 1024 size 512 in list (0,2), belongs in (0,2), noted in (0,3)");

    /* A used block linked behind b in b's list (its own links would overwrite its req). */
    nodes[f.b].u.link.next_free = f.c;
    EXPECT_HEAP_VIOLATION(f.h, "used block at 1536 in free list (0,2)");
    nodes[f.b].u.link.next_free = NIL;
    EXPECT_HEAP_CLEAN(f.h);

    /* A node outside the block list, linked behind b, that looks like b (512
     * bytes up to c, noted in b's list): three listed, two free. */
    assert_true(t->nodes_used < t->nodes_cap);
    uint32_t extra = t->nodes_used;
    nodes[extra] = (tlsf_node){.off = 1024, .next = f.c, .u.link = {f.b, NIL}, .fl = 0, .sl = 2};
    nodes[f.b].u.link.next_free = extra;
    EXPECT_HEAP_VIOLATION(f.h, "free lists hold more than 2 blocks");
    nodes[f.b].u.link.next_free = NIL;
    EXPECT_HEAP_CLEAN(f.h);

    /* b moved to another second-level list, then to another first-level one. */
    t->lists[0][2] = NIL;
    t->lists[0][3] = f.b;
    t->sl_map[0] = 1u << 3;
    EXPECT_HEAP_VIOLATION(f.h,
                          "free block at 1024 size 512 in list (0,3), belongs in (0,2), noted in (0,2)");
    t->lists[0][3] = NIL;
    t->sl_map[0] = 0;
    t->fl_map &= ~UINT64_C(1);
    t->lists[1][0] = f.b;
    t->sl_map[1] = 1;
    t->fl_map |= 2;
    EXPECT_HEAP_VIOLATION(f.h,
                          "free block at 1024 size 512 in list (1,0), belongs in (0,2), noted in (0,2)");

    /* b in no list at all. */
    t->lists[1][0] = NIL;
    t->sl_map[1] = 0;
    t->fl_map &= ~UINT64_C(2);
    EXPECT_HEAP_VIOLATION(f.h, "free lists hold 1 of 2 free blocks");
    t->lists[0][2] = f.b;
    t->sl_map[0] = 1u << 2;
    t->fl_map |= 1;
    EXPECT_HEAP_CLEAN(f.h);
    vram_heap_destroy(f.h);
}

static int same_stats(const vram_heap_stats *a, const vram_heap_stats *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Node indices are 32-bit: once the node table could not double within them,
 * an alloc or grow that needs a node fails with VRAM_ENOHOST and changes
 * nothing. The table is made to look that full (2^31 + 1 nodes, every one in
 * use); no node is touched before reserve() fails. */
static void test_node_limit(void)
{
    fixture f = setup();
    tlsf *t = f.t;
    uint32_t used = t->nodes_used, cap = t->nodes_cap;
    vram_heap_stats before, after;
    vram_heap_stats_get(f.h, &before);
    t->nodes_used = t->nodes_cap = TLSF_MAX_NODES / 2 + 1;
    uint64_t off = 0;
    expect_status(vram_heap_alloc(f.h, 256, 0, &off), VRAM_ENOHOST);
    t->nodes_used = used;
    t->nodes_cap = cap;
    vram_heap_stats_get(f.h, &after);
    expect_true(same_stats(&before, &after));
    EXPECT_HEAP_CLEAN(f.h);
    vram_heap_destroy(f.h);

    /* A grow behind a used tail needs a node too. */
    vram_heap_config cfg = {.capacity = 64 * KiB, .min_align = 256};
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("tlsf"), &cfg, &h));
    assert_ok(vram_heap_alloc(h, 64 * KiB, 0, &off));
    t = vram__heap_impl(h);
    vram_heap_stats_get(h, &before);
    used = t->nodes_used;
    cap = t->nodes_cap;
    t->nodes_used = t->nodes_cap = TLSF_MAX_NODES / 2 + 1;
    expect_status(vram_heap_grow(h, 4 * KiB), VRAM_ENOHOST);
    t->nodes_used = used;
    t->nodes_cap = cap;
    vram_heap_stats_get(h, &after);
    expect_true(same_stats(&before, &after));
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_grow(h, 4 * KiB));
    vram_heap_stats_get(h, &after);
    expect_eq_u64(after.capacity, 68 * KiB);
    expect_eq_u64(after.largest_free, 4 * KiB);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

int main(void)
{
    test_block_list();
    test_counters();
    test_free_lists();
    test_node_limit();
    return test_finish("check_tlsf");
}
