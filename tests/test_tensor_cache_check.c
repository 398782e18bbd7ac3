/* test_tensor_cache_check.c - every violation vram_tensor_cache_check reports.
 * Each case corrupts one piece of a healthy cache through
 * tensor_cache_internal.h (or misuses the public API the way the header warns
 * against), asserts VRAM_ECORRUPT and the exact message, restores the piece
 * and asserts that check() passes again. */
#include "../alloc/tensor_cache_internal.h"
#include "test_tensor_cache_lib.h"

#define MIB (UINT64_C(1) << 20)

static const vram_tensor_shape shape_a = {.ndim = 2, .dims = {2, 4}, .dtype = VRAM_DTYPE_F32};
static const vram_tensor_shape shape_b = {.ndim = 1, .dims = {8}, .dtype = VRAM_DTYPE_F16};
static const vram_tensor_shape shape_c = {.ndim = 1, .dims = {1024}, .dtype = VRAM_DTYPE_U8};

/* Shape 0 (a, 32 B): buffers at 0 (idle) and 512 (handed out); shape 1 (b,
 * 16 B): one idle buffer at 1024. 80 bytes held. */
typedef struct fixture {
    vram_heap *heap;
    vram_tensor_cache *tc;
} fixture;

static fixture make_fixture(void)
{
    fixture x = {0};
    vram_heap_config hc = {.capacity = 256 * MIB};
    assert_ok(vram_heap_create(vram_heap_policy("caching"), &hc, &x.heap));
    vram_tensor_cache_config cc = {.limit_bytes = MIB};
    assert_ok(vram_tensor_cache_create(x.heap, &cc, &x.tc));
    assert_ok(vram_tensor_cache_reserve(x.tc, &shape_a, 2));
    assert_ok(vram_tensor_cache_reserve(x.tc, &shape_b, 1));
    uint64_t out = UINT64_MAX;
    assert_ok(vram_tensor_cache_acquire(x.tc, &shape_a, &out));
    expect_eq_u64(out, 512);
    assert_true(x.tc->nentries == 2 && x.tc->entries[0].nidle == 1 && x.tc->entries[0].idle[0] == 0);
    assert_true(x.tc->entries[1].nidle == 1 && x.tc->entries[1].idle[0] == 1024);
    EXPECT_CACHE_CLEAN(x.tc);
    return x;
}

static void test_entries(fixture *x)
{
    vram_tensor_cache *tc = x->tc;
    tc_entry *a = &tc->entries[0];
    size_t cap = a->cap;
    a->cap = 1;
    EXPECT_CACHE_VIOLATION(tc, "shape 0: 2 buffers but room for 1");
    a->cap = cap;
    EXPECT_CACHE_CLEAN(tc);

    a->idle[0] = 12345;
    EXPECT_CACHE_VIOLATION(tc, "idle buffer at 12345 of shape 0 is not an idle buffer of it in the table");
    a->idle[0] = 0;
    tc_buf *b = vram__tc_buf_find(tc, 0);
    assert_true(b != NULL);
    b->state = BUF_OUT;
    EXPECT_CACHE_VIOLATION(tc, "idle buffer at 0 of shape 0 is not an idle buffer of it in the table");
    b->state = BUF_IDLE;
    b->entry = 1;
    EXPECT_CACHE_VIOLATION(tc, "idle buffer at 0 of shape 0 is not an idle buffer of it in the table");
    b->entry = 0;
    EXPECT_CACHE_CLEAN(tc);
}

static void test_table(fixture *x)
{
    vram_tensor_cache *tc = x->tc;
    tc->nbufs++;
    EXPECT_CACHE_VIOLATION(tc, "4 buffers in the table (2 idle), the shapes hold 2 idle and 1 out");
    tc->nbufs--;
    tc_buf *out = vram__tc_buf_find(tc, 512);
    assert_true(out != NULL && out->state == BUF_OUT);
    out->state = BUF_IDLE;
    EXPECT_CACHE_VIOLATION(tc, "3 buffers in the table (3 idle), the shapes hold 2 idle and 1 out");
    out->state = BUF_OUT;
    EXPECT_CACHE_CLEAN(tc);
}

static void test_counters(fixture *x)
{
    vram_tensor_cache *tc = x->tc;
    vram_tensor_cache_stats *st = &tc->st;
    const char *same = "counters disagree with the buffers (idle 48 vs 48 bytes, out 32 vs 32 bytes)";
    st->idle_bytes++;
    EXPECT_CACHE_VIOLATION(tc, "counters disagree with the buffers (idle 49 vs 48 bytes, out 32 vs 32 bytes)");
    st->idle_bytes--;
    st->out_bytes++;
    EXPECT_CACHE_VIOLATION(tc, "counters disagree with the buffers (idle 48 vs 48 bytes, out 33 vs 32 bytes)");
    st->out_bytes--;
    st->idle_buffers++;
    EXPECT_CACHE_VIOLATION(tc, same);
    st->idle_buffers--;
    st->out_buffers++;
    EXPECT_CACHE_VIOLATION(tc, same);
    st->out_buffers--;
    st->shapes++;
    EXPECT_CACHE_VIOLATION(tc, same);
    st->shapes--;
    EXPECT_CACHE_CLEAN(tc);

    tc->limit = 79;
    EXPECT_CACHE_VIOLATION(tc, "80 bytes held over the limit of 79");
    tc->limit = MIB;
    EXPECT_CACHE_CLEAN(tc);

    /* without a message buffer, or with no room in it: the status alone */
    tc->limit = 79;
    expect_status(vram_tensor_cache_check(tc, NULL, 0), VRAM_ECORRUPT);
    char keep[8] = "keep";
    expect_status(vram_tensor_cache_check(tc, keep, 0), VRAM_ECORRUPT);
    expect_true(strcmp(keep, "keep") == 0);
    tc->limit = MIB;
    expect_status(vram_tensor_cache_check(tc, NULL, 0), VRAM_OK);
}

/* The two misuses the header warns against, through the public API. */
static void test_heap_agreement(fixture *x)
{
    vram_tensor_cache *tc = x->tc;
    /* adopting a heap block smaller than the shape */
    uint64_t small = UINT64_MAX, freed = 0;
    assert_ok(vram_heap_alloc(x->heap, 512, 0, &small));
    expect_eq_u64(small, 1536);
    assert_ok(vram_tensor_cache_adopt(tc, &shape_c, small));
    EXPECT_CACHE_VIOLATION(tc, "buffer at 1536 is a heap block smaller than its shape");
    assert_ok(vram_tensor_cache_trim(tc, &shape_c, &freed));
    expect_eq_u64(freed, 1024); /* the shape's bytes; the heap got its block back */
    vram_heap_stats hs;
    vram_heap_stats_get(x->heap, &hs);
    expect_eq_u64(hs.live_allocs, 3);
    EXPECT_CACHE_CLEAN(tc);

    /* a buffer freed to the heap behind the cache's back */
    assert_ok(vram_heap_free(x->heap, 1024));
    EXPECT_CACHE_VIOLATION(tc, "2 of 3 buffers are live heap blocks");
    uint64_t again = UINT64_MAX;
    assert_ok(vram_heap_alloc(x->heap, 16, 0, &again));
    expect_eq_u64(again, 1024);
    EXPECT_CACHE_CLEAN(tc);
}

int main(void)
{
    fixture x = make_fixture();
    test_entries(&x);
    test_table(&x);
    test_counters(&x);
    test_heap_agreement(&x);
    vram_tensor_cache_destroy(x.tc);
    vram_heap_stats hs;
    vram_heap_stats_get(x.heap, &hs);
    expect_eq_u64(hs.live_allocs, 0); /* destroy returned idle and handed-out buffers */
    vram_heap_destroy(x.heap);
    return test_finish("tensor_cache_check");
}
