/* test_defrag_edges.c - compaction at its edges: contents that no longer
 * verify stop a pass, the automatic compaction's byte budget, a heap block no
 * handle owns (never moved, it bounds the windows), and a heap of more blocks
 * than the compaction's first work list holds. */
#include "test_manager_lib.h"

#include "vram/defrag.h"
#include "vram/vram.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)

static vram_manager *make(uint64_t capacity, int defrag_on_oom, uint64_t defrag_budget)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = capacity;
    cfg.device.host_backing = 1;
    cfg.defrag_on_oom = defrag_on_oom;
    cfg.defrag_budget = defrag_budget;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    return m;
}

/* A handle whose contents do not verify is not moved: the pass ends with
 * VRAM_ECORRUPT, the block it was offered goes back to the heap. */
static void corrupt_contents_stop_a_pass(void)
{
    vram_manager *m = make(MIB, 0, 0);
    vram_device *dev = vram_manager_device(m);
    vram_handle a = test_alloc_host(m, 256 * KIB);
    vram_handle b = test_alloc_host(m, 256 * KIB);
    assert_ok(vram_free(m, a));
    vram_handle_info before = test_handle_info(m, b);
    assert_ok(vram_device_fill(dev, before.addr + 100, 16, 0x5eed)); /* a stray write */
    vram_heap_stats hs_before, hs_after;
    vram_heap_stats_get(vram_manager_heap(m), &hs_before);
    vram_defrag_report r;
    memset(&r, 0xff, sizeof r);
    expect_status(vram_manager_defrag(m, 0, &r), VRAM_ECORRUPT);
    expect_eq_u64(r.candidates, 1);
    expect_eq_u64(r.moves, 0);
    expect_eq_u64(r.bytes_moved, 0);
    expect_eq_u64(test_handle_info(m, b).addr, before.addr);
    vram_heap_stats_get(vram_manager_heap(m), &hs_after);
    expect_eq_u64(hs_after.in_use, hs_before.in_use);
    expect_eq_u64(test_manager_stats(m).defrag_moves, 0);
    EXPECT_MANAGER_CLEAN(m);

    /* Contents written back: the same pass moves b to the bottom. */
    assert_ok(vram_device_fill(dev, before.addr, before.size, b.v));
    assert_ok(vram_manager_defrag(m, 0, &r));
    expect_eq_u64(r.moves, 1);
    vram_handle_info after = test_handle_info(m, b);
    expect_true(after.addr < before.addr);
    expect_status(vram_device_verify(dev, after.addr, after.size, b.v), VRAM_OK);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 1);
}

/* 256 KiB handles at 0 and 512 KiB, free blocks at 256 KiB and 768 KiB: a
 * 512 KiB request needs one 256 KiB handle moved. */
static vram_manager *fragmented(uint64_t defrag_budget, vram_handle kept[2])
{
    vram_manager *m = make(MIB, 1, defrag_budget);
    test_fragment(m, kept);
    return m;
}

/* The automatic compaction moves at most defrag_budget bytes. */
static void compaction_budget(void)
{
    vram_alloc_desc d = {.size = 512 * KIB, .backing = VRAM_BACKING_HOST};
    vram_handle kept[2], big;
    vram_manager *m = fragmented(128 * KIB, kept);
    uint64_t a0 = test_handle_info(m, kept[0]).addr, a1 = test_handle_info(m, kept[1]).addr;
    expect_status(vram_alloc(m, &d, &big), VRAM_ENOMEM);
    vram_manager_stats st = test_manager_stats(m);
    expect_eq_u64(st.defrag_passes, 1);
    expect_eq_u64(st.defrag_moves, 0);
    expect_eq_u64(st.failed_despite_free, 1);
    expect_eq_u64(test_handle_info(m, kept[0]).addr, a0);
    expect_eq_u64(test_handle_info(m, kept[1]).addr, a1);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 2);

    m = fragmented(256 * KIB, kept);
    assert_ok(vram_alloc(m, &d, &big));
    st = test_manager_stats(m);
    expect_eq_u64(st.defrag_moves, 1);
    expect_eq_u64(st.defrag_bytes_moved, 256 * KIB);
    expect_eq_u64(st.defrag_oom_saved, 1);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 3);
}

/* A used heap block no handle owns is never moved and no window spans it:
 * with one at 256 KiB, the window for 512 KiB is [512 KiB, 1 MiB). */
static void foreign_block_bounds_windows(void)
{
    vram_manager *m = make(MIB, 1, 0);
    vram_heap *heap = vram_manager_heap(m);
    vram_handle h0 = test_alloc_host(m, 256 * KIB);
    uint64_t stray;
    assert_ok(vram_heap_alloc(heap, 256 * KIB, 0, &stray));
    expect_eq_u64(stray, 256 * KIB);
    vram_handle h2 = test_alloc_host(m, 256 * KIB);
    vram_handle h3 = test_alloc_host(m, 256 * KIB);
    assert_ok(vram_free(m, h0));
    assert_ok(vram_free(m, h3));
    uint64_t base = test_handle_info(m, h2).addr - 512 * KIB;
    vram_alloc_desc d = {.size = 512 * KIB, .backing = VRAM_BACKING_HOST};
    vram_handle big;
    assert_ok(vram_alloc(m, &d, &big));
    expect_eq_u64(test_handle_info(m, h2).addr, base);              /* moved to the bottom */
    expect_eq_u64(test_handle_info(m, big).addr, base + 512 * KIB); /* the evacuated window */
    expect_eq_u64(test_manager_stats(m).defrag_moves, 1);
    assert_ok(vram_heap_free(heap, stray)); /* still where it was */
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 2);
}

/* 600 blocks (300 handles, 300 gaps of 1 KiB): the compaction's work list
 * grows past its first 256 entries and still finds the cheapest window. */
static void many_blocks(void)
{
    enum { N = 600 };
    vram_manager *m = make(N * KIB, 1, 0);
    static vram_handle h[N];
    for (int i = 0; i < N; i++)
        h[i] = test_alloc_host(m, KIB);
    for (int i = 0; i < N; i += 2)
        assert_ok(vram_free(m, h[i]));
    vram_alloc_desc d = {.size = 2 * KIB, .backing = VRAM_BACKING_HOST};
    vram_handle big;
    assert_ok(vram_alloc(m, &d, &big));
    vram_manager_stats st = test_manager_stats(m);
    expect_eq_u64(st.defrag_passes, 1);
    expect_eq_u64(st.defrag_moves, 1);
    expect_eq_u64(st.defrag_bytes_moved, KIB);
    expect_eq_u64(st.defrag_oom_saved, 1);
    for (int i = 1; i < N; i += 2) {
        vram_handle_info info = test_handle_info(m, h[i]);
        expect_status(vram_device_verify(vram_manager_device(m), info.addr, info.size, h[i].v),
                      VRAM_OK);
    }
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), N / 2 + 1);
}

int main(void)
{
    corrupt_contents_stop_a_pass();
    compaction_budget();
    foreign_block_bounds_windows();
    many_blocks();
    return test_finish("defrag_edges");
}
