/* test_caching_check.c - every violation caching_check.c reports. Each case
 * corrupts one piece of a healthy caching heap through caching_internal.h,
 * asserts VRAM_ECORRUPT and the exact message, restores the piece and asserts
 * that check() passes again. */
#include "../alloc/caching_internal.h"
#include "test_heap_lib.h"

#define MIB (UINT64_C(1) << 20)

static vram_heap *make(uint64_t capacity, int expandable)
{
    vram_caching_options o = {.expandable_segments = expandable};
    vram_heap_config cfg = {.capacity = capacity, .caching = &o};
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("caching"), &cfg, &h));
    return h;
}

/* The heap every block-level case starts from:
 *   segment 0 (small, [0, 2 MiB)):     a 512 | b 512 | c 512 | f free
 *   segment 1 (large, [2, 22 MiB)):    l 4 MiB | g free 16 MiB */
typedef struct fixture {
    vram_heap *h;
    caching_heap *c;
    caching_segment *s0, *s1;
    caching_block *a, *b, *cc, *f, *l, *g;
} fixture;

static fixture make_fixture(void)
{
    fixture x = {.h = make(64 * MIB, 0)};
    x.c = vram__heap_impl(x.h);
    expect_eq_u64(test_heap_alloc(x.h, 512), 0);
    expect_eq_u64(test_heap_alloc(x.h, 512), 512);
    expect_eq_u64(test_heap_alloc(x.h, 512), 1024);
    expect_eq_u64(test_heap_alloc(x.h, 4 * MIB), 2 * MIB);
    assert_true(x.c->nsegs == 2);
    x.s0 = x.c->segs[0];
    x.s1 = x.c->segs[1];
    x.a = x.s0->first;
    x.b = x.a->next;
    x.cc = x.b->next;
    x.f = x.cc->next;
    x.l = x.s1->first;
    x.g = x.l->next;
    assert_true(x.f && !x.f->used && x.f == x.s0->last && x.g && x.g == x.s1->last);
    EXPECT_HEAP_CLEAN(x.h);
    return x;
}

static void test_block_links(fixture *x)
{
    x->b->segment = x->s1;
    EXPECT_HEAP_VIOLATION(x->h, "block at 512: broken segment links");
    x->b->segment = x->s0;
    x->b->prev = NULL;
    EXPECT_HEAP_VIOLATION(x->h, "block at 512: broken segment links");
    x->b->prev = x->a;
    EXPECT_HEAP_CLEAN(x->h);

    x->cc->offset += 512;
    EXPECT_HEAP_VIOLATION(x->h, "segment at 0: block at 1536 where 1024 was expected "
                           "(blocks must tile it)");
    x->cc->offset -= 512;
    EXPECT_HEAP_CLEAN(x->h);

    x->s0->last = x->a;
    EXPECT_HEAP_VIOLATION(x->h, "segment at 0: blocks end at 2097152, the segment at 2097152");
    x->s0->last = x->f;
    x->s1->size += 2 * MIB;
    EXPECT_HEAP_VIOLATION(x->h, "segment at 2097152: blocks end at 23068672, the segment at 25165824");
    x->s1->size -= 2 * MIB;
    EXPECT_HEAP_CLEAN(x->h);
}

static void test_block_fields(fixture *x)
{
    x->b->size = 0;
    EXPECT_HEAP_VIOLATION(x->h, "block at 512: size 0 is not a positive multiple of 512");
    x->b->size = 700;
    EXPECT_HEAP_VIOLATION(x->h, "block at 512: size 700 is not a positive multiple of 512");
    x->b->size = 512;
    EXPECT_HEAP_CLEAN(x->h);

    x->f->used = 1;
    EXPECT_HEAP_VIOLATION(x->h, "used block at 1536 missing from the live map");
    x->f->used = 0;
    EXPECT_HEAP_CLEAN(x->h);

    x->b->requested = 0;
    EXPECT_HEAP_VIOLATION(x->h, "used block at 512: requested 0 outside (0, 512]");
    x->b->requested = 513;
    EXPECT_HEAP_VIOLATION(x->h, "used block at 512: requested 513 outside (0, 512]");
    x->b->requested = 512;
    EXPECT_HEAP_CLEAN(x->h);

    x->a->used = x->b->used = 0;
    EXPECT_HEAP_VIOLATION(x->h, "free blocks at 0 and 512 should have merged");
    x->a->used = x->b->used = 1;
    EXPECT_HEAP_CLEAN(x->h);
}

static void test_segment_fields(fixture *x)
{
    x->s0->pool = 5;
    EXPECT_HEAP_VIOLATION(x->h, "segment at 0: pool 5");
    x->s0->pool = CACHING_SMALL;
    EXPECT_HEAP_CLEAN(x->h);

    x->s0->size = 0;
    EXPECT_HEAP_VIOLATION(x->h, "segment at 0 of 0 bytes: not whole units of 2097152");
    x->s0->size = 3 * MIB;
    EXPECT_HEAP_VIOLATION(x->h, "segment at 0 of 3145728 bytes: not whole units of 2097152");
    x->s0->size = 2 * MIB;
    x->s1->base += 512;
    EXPECT_HEAP_VIOLATION(x->h, "segment at 2097664 of 20971520 bytes: not whole units of 2097152");
    x->s1->base -= 512;
    EXPECT_HEAP_CLEAN(x->h);

    x->c->capacity = 20 * MIB;
    EXPECT_HEAP_VIOLATION(x->h, "segment at 2097152 overlaps its neighbour or the end");
    x->c->capacity = 64 * MIB;
    x->s1->base = 0;
    EXPECT_HEAP_VIOLATION(x->h, "segment at 0 overlaps its neighbour or the end");
    x->s1->base = 2 * MIB;
    EXPECT_HEAP_CLEAN(x->h);

    x->s0->expandable = 1;
    EXPECT_HEAP_VIOLATION(x->h, "segment at 0: expandable flag disagrees");
    x->s0->expandable = 0;
    EXPECT_HEAP_CLEAN(x->h);
}

/* A block that no listed segment holds, in a segment of its own. */
typedef struct stray {
    caching_segment seg;
    caching_block blk;
} stray;

static void stray_insert(fixture *x, stray *s, uint64_t offset)
{
    *s = (stray){.seg = {.base = offset, .size = 512, .pool = CACHING_SMALL}};
    s->blk = (caching_block){.offset = offset, .size = 512, .segment = &s->seg};
    s->seg.first = s->seg.last = &s->blk;
    vram__caching_pool_insert(&x->c->pools[CACHING_SMALL], &s->blk);
    x->b->used = 0; /* b, between used neighbours, stands for the stray in the tally */
}

static void stray_remove(fixture *x, stray *s)
{
    vram__caching_pool_remove(&x->c->pools[CACHING_SMALL], &s->blk);
    x->b->used = 1;
}

static void test_pool_index(fixture *x)
{
    caching_pool *small = &x->c->pools[CACHING_SMALL];
    small->free.root->parent_red |= 1u; /* red */
    EXPECT_HEAP_VIOLATION(x->h, "pool 0 index: red-black tree: the root is red or has a parent");
    small->free.root->parent_red &= ~(uintptr_t)1;
    EXPECT_HEAP_CLEAN(x->h);

    x->b->used = 0;
    EXPECT_HEAP_VIOLATION(x->h, "pool 0 indexes 1 free blocks, its segments hold 2");
    x->b->used = 1;
    EXPECT_HEAP_CLEAN(x->h);

    /* f marked used (and put in the live map) while it stays indexed */
    assert_ok(vram__caching_map_reserve(&x->c->live, 1));
    x->f->used = 1;
    x->f->requested = 1;
    vram__caching_map_put(&x->c->live, x->f);
    x->b->used = 0;
    EXPECT_HEAP_VIOLATION(x->h, "pool 0 indexes block at 1536, used or of another pool");
    vram__caching_map_del(&x->c->live, x->f->offset);
    x->f->used = 0;
    x->f->requested = 0;
    x->b->used = 1;
    EXPECT_HEAP_CLEAN(x->h);

    /* the two segments trade pools: each pool's count still agrees */
    x->s0->pool = CACHING_LARGE;
    x->s1->pool = CACHING_SMALL;
    EXPECT_HEAP_VIOLATION(x->h, "pool 0 indexes block at 1536, used or of another pool");
    x->s0->pool = CACHING_SMALL;
    x->s1->pool = CACHING_LARGE;
    EXPECT_HEAP_CLEAN(x->h);

    stray s;
    stray_insert(x, &s, 40 * MIB);
    s.seg.first = NULL;
    EXPECT_HEAP_VIOLATION(x->h, "pool 0 indexes block at 41943040, not linked in its segment");
    s.seg.first = &s.blk;
    s.seg.last = NULL;
    EXPECT_HEAP_VIOLATION(x->h, "pool 0 indexes block at 41943040, not linked in its segment");
    s.seg.last = &s.blk;
    /* indexed while small, now larger than f, which follows it */
    s.blk.size = 4 * MIB;
    EXPECT_HEAP_VIOLATION(x->h, "pool 0 index out of (size, offset) order at 1536");
    s.blk.size = x->f->size;
    EXPECT_HEAP_VIOLATION(x->h, "pool 0 index out of (size, offset) order at 1536");
    stray_remove(x, &s);
    EXPECT_HEAP_CLEAN(x->h);
}

static void test_counters(fixture *x)
{
    vram_caching_stats *st = &x->c->st;
    st->reserved += 512;
    EXPECT_HEAP_VIOLATION(x->h, "counters reserved/allocated/requested 23069184/4195840/4195840 but "
                           "the blocks give 23068672/4195840/4195840");
    st->reserved -= 512;
    st->allocated += 512;
    EXPECT_HEAP_VIOLATION(x->h, "counters reserved/allocated/requested 23068672/4196352/4195840 but "
                           "the blocks give 23068672/4195840/4195840");
    st->allocated -= 512;
    st->requested -= 1;
    EXPECT_HEAP_VIOLATION(x->h, "counters reserved/allocated/requested 23068672/4195840/4195839 but "
                           "the blocks give 23068672/4195840/4195840");
    st->requested += 1;
    EXPECT_HEAP_CLEAN(x->h);

    x->c->live_allocs++;
    EXPECT_HEAP_VIOLATION(x->h, "4 used blocks but 5 live allocations and 4 in the live map");
    x->c->live_allocs--;
    x->c->live.count++;
    EXPECT_HEAP_VIOLATION(x->h, "4 used blocks but 4 live allocations and 5 in the live map");
    x->c->live.count--;
    EXPECT_HEAP_CLEAN(x->h);

    st->small_segments++;
    EXPECT_HEAP_VIOLATION(x->h, "segment counters 2/1 but 1 small and 1 large listed");
    st->small_segments--;
    st->large_segments++;
    EXPECT_HEAP_VIOLATION(x->h, "segment counters 1/2 but 1 small and 1 large listed");
    st->large_segments--;
    st->segments++;
    EXPECT_HEAP_VIOLATION(x->h, "segment counters 1/1 but 1 small and 1 large listed");
    st->segments--;
    EXPECT_HEAP_CLEAN(x->h);
}

static void test_placement(fixture *x)
{
    vram_heap *space = x->c->space;
    x->c->space = NULL;
    EXPECT_HEAP_VIOLATION(x->h, "segments listed without a placement heap");

    /* a placement heap whose own check fails */
    vram_heap *other = make(8 * MIB, 0);
    test_heap_alloc(other, 512);
    caching_heap *oc = vram__heap_impl(other);
    oc->st.reserved++;
    x->c->space = other;
    EXPECT_HEAP_VIOLATION(x->h, "placement heap: counters reserved/allocated/requested "
                           "2097153/512/512 but the blocks give 2097152/512/512");
    oc->st.reserved--;
    vram_heap_destroy(other);
    x->c->space = space;
    EXPECT_HEAP_CLEAN(x->h);

    uint64_t extra = UINT64_MAX, back = UINT64_MAX;
    assert_ok(vram_heap_alloc(space, 2 * MIB, 0, &extra)); /* after both segments */
    expect_eq_u64(extra, 22 * MIB);
    EXPECT_HEAP_VIOLATION(x->h, "placement heap and segment list disagree at 23068672 "
                           "(2 of 2 segments matched)");
    assert_ok(vram_heap_free(space, extra));
    EXPECT_HEAP_CLEAN(x->h);

    assert_ok(vram_heap_free(space, 0)); /* segment 0 loses its placement */
    EXPECT_HEAP_VIOLATION(x->h, "placement heap and segment list disagree at 2097152 "
                           "(0 of 2 segments matched)");
    assert_ok(vram_heap_alloc(space, 2 * MIB, 0, &back));
    expect_eq_u64(back, 0);
    EXPECT_HEAP_CLEAN(x->h);

    assert_ok(vram_heap_free(space, 2 * MIB)); /* segment 1 loses its placement */
    EXPECT_HEAP_VIOLATION(x->h, "placement heap and segment list disagree at 18446744073709551615 "
                           "(1 of 2 segments matched)");
    assert_ok(vram_heap_alloc(space, 2 * MIB, 0, &back)); /* a smaller block in its place */
    expect_eq_u64(back, 2 * MIB);
    EXPECT_HEAP_VIOLATION(x->h, "placement heap and segment list disagree at 2097152 "
                           "(1 of 2 segments matched)");
    assert_ok(vram_heap_free(space, back));
    assert_ok(vram_heap_alloc(space, 20 * MIB, 0, &back));
    expect_eq_u64(back, 2 * MIB);
    EXPECT_HEAP_CLEAN(x->h);
}

/* With expandable segments each pool's one segment is its pool's expandable. */
static void test_expandable_flag(void)
{
    vram_heap *h = make(64 * MIB, 1);
    caching_heap *c = vram__heap_impl(h);
    expect_eq_u64(test_heap_alloc(h, 512), 0);
    EXPECT_HEAP_CLEAN(h);
    caching_segment *s = c->pools[CACHING_SMALL].expandable;
    c->pools[CACHING_SMALL].expandable = NULL;
    EXPECT_HEAP_VIOLATION(h, "segment at 0: expandable flag disagrees");
    c->pools[CACHING_SMALL].expandable = s;
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

typedef struct walk_stop {
    int calls, stop_at;
    vram_block_info last;
} walk_stop;

static int stop_walk(const vram_block_info *b, void *ctx)
{
    walk_stop *w = ctx;
    w->last = *b;
    return ++w->calls == w->stop_at;
}

/* walk stops at the report the callback refuses, a gap or a block. */
static void test_walk_stops(void)
{
    vram_heap *h = make(64 * MIB, 1);
    /* the large pool's range ends at the top: two pages [24, 64) MiB, the block at their top */
    uint64_t big = test_heap_alloc(h, 30 * MIB);
    expect_eq_u64(big, 34 * MIB);
    walk_stop w = {.stop_at = 1};
    assert_ok(vram_heap_walk(h, stop_walk, &w));
    expect_eq_u64(w.calls, 1);
    expect_eq_u64(w.last.offset, 0); /* the gap below the segment */
    expect_eq_u64(w.last.size, 24 * MIB);
    expect_true(!w.last.used);
    w = (walk_stop){.stop_at = 2};
    assert_ok(vram_heap_walk(h, stop_walk, &w));
    expect_eq_u64(w.calls, 2);
    expect_eq_u64(w.last.offset, 24 * MIB); /* the free rest at the growing end */
    expect_eq_u64(w.last.size, 10 * MIB);
    expect_true(!w.last.used);
    w = (walk_stop){.stop_at = 3};
    assert_ok(vram_heap_walk(h, stop_walk, &w));
    expect_eq_u64(w.calls, 3);
    expect_eq_u64(w.last.offset, 34 * MIB);
    expect_eq_u64(w.last.requested, 30 * MIB);
    expect_true(w.last.used);
    vram_heap_destroy(h);
}

int main(void)
{
    fixture x = make_fixture();
    test_block_links(&x);
    test_block_fields(&x);
    test_segment_fields(&x);
    test_pool_index(&x);
    test_counters(&x);
    test_placement(&x);
    vram_heap_destroy(x.h);
    test_expandable_flag();
    test_walk_stops();
    return test_finish("caching_check");
}
