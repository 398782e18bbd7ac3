/* test_heap_edges.c - the error branches of the heap API (vram/heap.h) and of
 * the containers behind the policies (alloc/slab.h, alloc/offmap.h): bad
 * arguments to every entry, limits, batches that fail, walks that stop early,
 * a policy table without the optional entries. Each case asserts the status and
 * that the heap is unchanged afterwards. */
#include "testlib.h"

#include "../alloc/offmap.h"
#include "../alloc/slab.h"
#include "vram/heap.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define HEAP_MAX (UINT64_C(1) << 48) /* heap.c's HEAP_MAX_REQUEST */

static void expect_clean(const vram_heap *h, int line)
{
    char msg[256];
    if (vram_heap_check(h, msg, sizeof msg) != VRAM_OK) {
        fprintf(stderr, "%s:%d: FAILED: check: %s\n", __FILE__, line, msg);
        test_failures++;
    }
}
#define EXPECT_CLEAN(h) expect_clean((h), __LINE__)

static vram_heap_stats stats_of(const vram_heap *h)
{
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    return s;
}

static int same_stats(const vram_heap_stats *a, const vram_heap_stats *b)
{
    return a->capacity == b->capacity && a->in_use == b->in_use && a->requested == b->requested &&
           a->free == b->free && a->largest_free == b->largest_free &&
           a->free_blocks == b->free_blocks && a->live_allocs == b->live_allocs &&
           a->peak_in_use == b->peak_in_use && a->footprint == b->footprint &&
           a->peak_footprint == b->peak_footprint;
}

static vram_heap *make(const char *policy, uint64_t capacity)
{
    vram_heap_config cfg = {.capacity = capacity, .block_size = MiB};
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(vram_heap_policy(policy), &cfg, &h));
    return h;
}

static int count_one(const vram_block_info *b, void *ctx)
{
    (void)b;
    ++*(int *)ctx;
    return 1; /* stop at once */
}

static void test_create(void)
{
    const vram_heap_ops *ops = vram_heap_policy("bestfit");
    vram_heap_config cfg = {.capacity = MiB};
    vram_heap *real = make("bestfit", MiB);
    vram_heap *h = real; /* a failed create must reset it to NULL */
    expect_true(vram_heap_policy(NULL) == NULL);
    expect_true(vram_heap_policy("firstfit") == NULL);
    expect_status(vram_heap_create(ops, &cfg, NULL), VRAM_EINVAL);
    expect_status(vram_heap_create(NULL, &cfg, &h), VRAM_EINVAL);
    expect_true(h == NULL);
    expect_status(vram_heap_create(ops, NULL, &h), VRAM_EINVAL);
    cfg.capacity = 0;
    expect_status(vram_heap_create(ops, &cfg, &h), VRAM_EINVAL);
    cfg.capacity = HEAP_MAX + 256;
    expect_status(vram_heap_create(ops, &cfg, &h), VRAM_EINVAL);
    cfg = (vram_heap_config){.capacity = MiB, .min_align = 384};
    expect_status(vram_heap_create(ops, &cfg, &h), VRAM_EINVAL);
    cfg = (vram_heap_config){.capacity = 256, .min_align = 512};
    expect_status(vram_heap_create(ops, &cfg, &h), VRAM_EINVAL);
    expect_true(h == NULL);
    vram_heap_destroy(real);
}

/* Every entry refuses a NULL heap or missing arrays; nothing is touched. */
static void test_null_arguments(void)
{
    uint64_t off = 0, sizes[1] = {256}, offs[1] = {0};
    expect_status(vram_heap_alloc(NULL, 256, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_free(NULL, 0), VRAM_EINVAL);
    expect_status(vram_heap_alloc_batch(NULL, 1, sizes, 0, offs), VRAM_EINVAL);
    expect_status(vram_heap_free_batch(NULL, 1, offs), VRAM_EINVAL);
    expect_status(vram_heap_grow(NULL, 256), VRAM_EINVAL);
    expect_status(vram_heap_retain(NULL, 0), VRAM_EINVAL);
    expect_status(vram_heap_walk(NULL, count_one, &(int){0}), VRAM_EINVAL);
    vram_heap_restore_peaks(NULL, 1, 1); /* a no-op */

    vram_heap *h = make("bestfit", MiB);
    vram_heap_stats before = stats_of(h);
    expect_status(vram_heap_alloc(h, 256, 0, NULL), VRAM_EINVAL);
    expect_status(vram_heap_alloc_batch(h, 1, NULL, 0, offs), VRAM_EINVAL);
    expect_status(vram_heap_alloc_batch(h, 1, sizes, 0, NULL), VRAM_EINVAL);
    expect_status(vram_heap_free_batch(h, 1, NULL), VRAM_EINVAL);
    expect_status(vram_heap_walk(h, NULL, NULL), VRAM_EINVAL);
    /* Empty batches need no arrays and do nothing. */
    expect_status(vram_heap_alloc_batch(h, 0, NULL, 0, NULL), VRAM_OK);
    expect_status(vram_heap_free_batch(h, 0, NULL), VRAM_OK);
    vram_heap_stats after = stats_of(h);
    expect_true(same_stats(&before, &after));
    expect_status(vram_heap_check(h, NULL, 0), VRAM_OK);
    vram_heap_destroy(h);
    vram_heap_destroy(NULL);
}

/* Sizes, alignments and grows the wrapper refuses, for every policy. */
static void test_limits(const char *policy)
{
    vram_heap *h = make(policy, 64 * MiB);
    vram_heap_stats before = stats_of(h);
    uint64_t off = 0;
    expect_status(vram_heap_alloc(h, 256, HEAP_MAX << 1, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, 256, 3 * 256, &off), VRAM_EINVAL);
    expect_status(vram_heap_alloc(h, 64 * MiB + 1, 0, &off), VRAM_EINVAL);
    expect_status(vram_heap_grow(h, 0), VRAM_EINVAL);
    expect_status(vram_heap_grow(h, 100), VRAM_EINVAL);
    expect_status(vram_heap_grow(h, HEAP_MAX + 256), VRAM_EINVAL);
    expect_status(vram_heap_grow(h, HEAP_MAX), VRAM_EOVERFLOW);
    /* A batch with one bad size allocates nothing. */
    uint64_t sizes[3] = {256, 0, 256}, offs[3];
    expect_status(vram_heap_alloc_batch(h, 3, sizes, 0, offs), VRAM_EINVAL);
    vram_heap_stats after = stats_of(h);
    expect_true(same_stats(&before, &after));

    /* A walk that stops after the first block sees one block. */
    int seen = 0;
    assert_ok(vram_heap_alloc(h, 256, 0, &off));
    assert_ok(vram_heap_walk(h, count_one, &seen));
    expect_eq_u64(seen, 1);
    EXPECT_CLEAN(h);
    vram_heap_destroy(h);
}

/* A batch that runs out of room leaves no block and no peak behind. The
 * caching policy keeps the segments the trial reserved cached (its footprint
 * stays up), so for it only the blocks and peak_in_use are compared. */
static void test_batch_enomem(const char *policy)
{
    vram_heap *h = make(policy, 64 * MiB);
    uint64_t keep;
    assert_ok(vram_heap_alloc(h, MiB, 0, &keep));
    vram_heap_stats before = stats_of(h);
    uint64_t sizes[64], offs[64];
    for (int i = 0; i < 64; i++)
        sizes[i] = MiB;
    expect_status(vram_heap_alloc_batch(h, 64, sizes, 0, offs), VRAM_ENOMEM);
    vram_heap_stats after = stats_of(h);
    if (strcmp(policy, "caching") == 0) {
        after.largest_free = before.largest_free;
        after.free_blocks = before.free_blocks;
        after.footprint = before.footprint;
        after.peak_footprint = before.peak_footprint;
    }
    if (!same_stats(&before, &after)) {
        fprintf(stderr, "%s: FAILED: a failed batch changed the stats (in_use %" PRIu64
                        " -> %" PRIu64 ", peak %" PRIu64 " -> %" PRIu64 ")\n",
                policy, before.in_use, after.in_use, before.peak_in_use, after.peak_in_use);
        test_failures++;
    }
    EXPECT_CLEAN(h);
    vram_heap_destroy(h);
}

/* A policy table without the optional entries: retain is unsupported, and a
 * failed batch keeps the peaks its trial reached, as vram/heap.h says. */
static void test_custom_table(void)
{
    vram_heap_ops ops = *vram_heap_policy("bestfit");
    ops.name = "bestfit-plain";
    ops.retain = NULL;
    ops.restore_peaks = NULL;
    vram_heap_config cfg = {.capacity = MiB};
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(&ops, &cfg, &h));
    expect_true(strcmp(vram_heap_name(h), "bestfit-plain") == 0);
    expect_status(vram_heap_retain(h, 0), VRAM_EUNSUPPORTED);
    uint64_t sizes[2] = {768 * KiB, 768 * KiB}, offs[2];
    expect_status(vram_heap_alloc_batch(h, 2, sizes, 0, offs), VRAM_ENOMEM);
    vram_heap_stats s = stats_of(h);
    expect_eq_u64(s.in_use, 0);
    expect_eq_u64(s.peak_in_use, 768 * KiB);
    vram_heap_restore_peaks(h, 0, 0); /* no entry: a no-op */
    expect_eq_u64(stats_of(h).peak_in_use, 768 * KiB);
    EXPECT_CLEAN(h);
    vram_heap_destroy(h);
}

/* The pool's block count is bounded by its 32-bit indices: a grow past
 * 2^32 - 2 blocks is refused and changes nothing (no record is allocated for
 * blocks never used, so the huge range costs nothing). */
static void test_pool_grow_limit(void)
{
    uint64_t max_blocks = UINT32_MAX - 1u;
    vram_heap_config cfg = {.capacity = max_blocks * 512, .min_align = 256, .block_size = 512};
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("pool"), &cfg, &h));
    expect_status(vram_heap_grow(h, 512), VRAM_EOVERFLOW);
    expect_eq_u64(stats_of(h).capacity, max_blocks * 512);
    assert_ok(vram_heap_grow(h, 256)); /* half a block: kept towards the next grow */
    expect_eq_u64(stats_of(h).capacity, max_blocks * 512);
    expect_status(vram_heap_grow(h, 256), VRAM_EOVERFLOW);
    EXPECT_CLEAN(h);
    vram_heap_destroy(h);
}

/* The node slab: tiny objects still hold the free-list link, a reservation
 * above the next chunk is met at once, and one whose bytes overflow is
 * refused with the slab unchanged. */
static void test_slab(void)
{
    vram__slab s;
    vram__slab_init(&s, 1);
    expect_true(s.obj_size >= sizeof(void *));
    assert_ok(vram__slab_reserve(&s, 1000));
    expect_true(s.free_count >= 1000);
    size_t had = s.free_count;
    expect_status(vram__slab_reserve(&s, SIZE_MAX / 2), VRAM_ENOHOST);
    expect_eq_u64(s.free_count, had);
    char *a = vram__slab_get(&s), *b = vram__slab_get(&s);
    expect_true(a && b && a != b && (size_t)(a > b ? a - b : b - a) >= s.obj_size);
    vram__slab_put(&s, a);
    vram__slab_put(&s, b);
    expect_eq_u64(s.free_count, had);
    vram__slab_destroy(&s);
    expect_eq_u64(s.free_count, 0);
}

/* The offset map: lookups before the first reservation find nothing, and a
 * reservation whose table size would overflow is refused, the map unchanged. */
static void test_offmap(void)
{
    vram__offmap m;
    vram__offmap_init(&m);
    expect_true(vram__offmap_get(&m, 0) == NULL);
    expect_true(vram__offmap_get(&m, 4096) == NULL);
    int x;
    assert_ok(vram__offmap_reserve(&m, 1));
    vram__offmap_put(&m, 4096, &x);
    expect_status(vram__offmap_reserve(&m, SIZE_MAX), VRAM_ENOHOST);
    expect_status(vram__offmap_reserve(&m, SIZE_MAX / 8), VRAM_ENOHOST);
    expect_eq_u64(m.count, 1);
    expect_true(vram__offmap_get(&m, 4096) == &x);
    expect_true(vram__offmap_get(&m, 0) == NULL);
    vram__offmap_fini(&m);
}

int main(void)
{
    static const char *const policies[] = {"bestfit", "buddy", "tlsf", "pool", "caching"};
    test_create();
    test_null_arguments();
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        test_limits(policies[i]);
        test_batch_enomem(policies[i]);
    }
    test_custom_table();
    test_pool_grow_limit();
    test_slab();
    test_offmap();
    return test_finish("heap_edges");
}
