/* test_defrag_peaks.c - compaction's trial allocations are not footprint.
 *
 * A pass asks the heap for blocks and holds the ones it cannot use (above the
 * handle) while it asks for the next; those trials must not raise the heap's
 * peak footprint. Layout: A (1 MiB) at 0, C (1 MiB, pinned) after it, B (2 MiB)
 * above; A freed. The only blocks B fits in lie above it, so a pass tries
 * one, moves nothing, and the peaks stay those of A + C + B. */
#include "testlib.h"

#include "vram/vram.h"

#define MIB (UINT64_C(1) << 20)

static vram_manager *make(const char *heap, int defrag_on_oom)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = 16 * MIB;
    cfg.heap_policy = heap;
    cfg.defrag_on_oom = defrag_on_oom;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    return m;
}

static vram_handle alloc_one(vram_manager *m, uint64_t size)
{
    vram_alloc_desc d = {.size = size, .kind = VRAM_KIND_ACTIVATION};
    vram_handle h;
    assert_ok(vram_alloc(m, &d, &h));
    return h;
}

static void test_pass_moving_nothing(const char *heap)
{
    vram_manager *m = make(heap, 0);
    vram_handle a = alloc_one(m, MIB);
    vram_handle c = alloc_one(m, MIB);
    vram_handle b = alloc_one(m, 2 * MIB);
    assert_ok(vram_pin(m, c));
    assert_ok(vram_free(m, a));
    vram_manager_stats before, after;
    vram_manager_stats_get(m, &before);
    vram_defrag_report rep;
    assert_ok(vram_manager_defrag(m, 0, &rep));
    vram_manager_stats_get(m, &after);
    expect_eq_u64(rep.moves, 0);
    expect_eq_u64(rep.candidates, 1);
    expect_eq_u64(after.heap.peak_footprint, before.heap.peak_footprint);
    expect_eq_u64(after.heap.peak_in_use, before.heap.peak_in_use);
    expect_eq_u64(after.heap.footprint, before.heap.footprint);
    char msg[256];
    expect_status(vram_manager_check(m, msg, sizeof msg), VRAM_OK);
    assert_ok(vram_unpin(m, c));
    assert_ok(vram_free(m, c));
    assert_ok(vram_free(m, b));
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

/* A pass that moves a handle down: the peaks are at most what they were (the
 * moved block lies below), and the footprint shrinks. */
static void test_pass_moving_down(void)
{
    vram_manager *m = make("bestfit", 0);
    vram_handle a = alloc_one(m, 2 * MIB);
    vram_handle b = alloc_one(m, MIB);
    assert_ok(vram_free(m, a));
    vram_manager_stats before, after;
    vram_manager_stats_get(m, &before);
    vram_defrag_report rep;
    assert_ok(vram_manager_defrag(m, 0, &rep));
    vram_manager_stats_get(m, &after);
    expect_eq_u64(rep.moves, 1);
    expect_eq_u64(after.heap.peak_footprint, before.heap.peak_footprint);
    expect_eq_u64(after.heap.footprint, MIB);
    expect_true(after.defrag_modelled_ns > 0);
    assert_ok(vram_free(m, b));
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

/* heap level: trial allocations freed again, then the peaks restored. */
static void test_heap_restore(const char *policy)
{
    vram_heap_config cfg = {.capacity = 16 * MIB, .block_size = MIB};
    vram_heap *h;
    assert_ok(vram_heap_create(vram_heap_policy(policy), &cfg, &h));
    uint64_t keep, trial;
    assert_ok(vram_heap_alloc(h, MIB, 0, &keep));
    vram_heap_stats before, after;
    vram_heap_stats_get(h, &before);
    assert_ok(vram_heap_alloc(h, MIB, 0, &trial));
    assert_ok(vram_heap_free(h, trial));
    vram_heap_restore_peaks(h, before.peak_in_use, before.peak_footprint);
    vram_heap_stats_get(h, &after);
    expect_eq_u64(after.peak_in_use, before.peak_in_use);
    expect_eq_u64(after.peak_footprint, after.footprint > before.peak_footprint
                                            ? after.footprint
                                            : before.peak_footprint);
    /* Never below what is in use now. */
    vram_heap_restore_peaks(h, 0, 0);
    vram_heap_stats_get(h, &after);
    expect_eq_u64(after.peak_in_use, after.in_use);
    expect_eq_u64(after.peak_footprint, after.footprint);
    char msg[256];
    expect_status(vram_heap_check(h, msg, sizeof msg), VRAM_OK);
    vram_heap_restore_peaks(NULL, 0, 0);
    assert_ok(vram_heap_free(h, keep));
    vram_heap_destroy(h);
}

int main(void)
{
    test_pass_moving_nothing("bestfit");
    test_pass_moving_nothing("tlsf");
    test_pass_moving_nothing("buddy");
    test_pass_moving_down();
    for (const char *const *p = vram_heap_policy_names; *p; p++)
        test_heap_restore(*p);
    return test_finish("defrag_peaks");
}
