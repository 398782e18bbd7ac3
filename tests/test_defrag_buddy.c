/* test_defrag_buddy.c - compaction on OOM under the buddy policy, whose free
 * blocks merge only with their buddies: the window to evacuate is the
 * naturally aligned block of the request's power-of-two size, not any run of
 * consecutive free blocks.
 *
 * A 4 MiB heap holds A, B, C, D of 1 MiB; B and C are freed. They are
 * neighbours (2 MiB free from 1 MiB on) but not buddies, so a 2 MiB request
 * fails although 2 MiB are free. Compaction must empty [0, 2 MiB) by moving A
 * into C's block (or [2, 4 MiB) by moving D into B's), then the request fits. */
#include "testlib.h"

#include "vram/vram.h"

#define MIB (UINT64_C(1) << 20)

static vram_handle alloc_one(vram_manager *m, uint64_t size)
{
    vram_alloc_desc d = {.size = size, .kind = VRAM_KIND_ACTIVATION};
    vram_handle h;
    assert_ok(vram_alloc(m, &d, &h));
    return h;
}

int main(void)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = 4 * MIB;
    cfg.device.host_backing = 1; /* contents verified across the move */
    cfg.heap_policy = "buddy";
    cfg.defrag_on_oom = 1;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    vram_handle a = alloc_one(m, MIB), b = alloc_one(m, MIB);
    vram_handle c = alloc_one(m, MIB), d = alloc_one(m, MIB);
    assert_ok(vram_free(m, b));
    assert_ok(vram_free(m, c));

    vram_handle big = alloc_one(m, 2 * MIB);
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.defrag_oom_saved, 1);
    expect_eq_u64(st.defrag_moves, 1);
    expect_eq_u64(st.defrag_bytes_moved, MIB);
    vram_handle_info info;
    assert_ok(vram_handle_get(m, big, &info));
    expect_eq_u64(info.size, 2 * MIB);
    char msg[256];
    expect_status(vram_manager_check(m, msg, sizeof msg), VRAM_OK);

    assert_ok(vram_free(m, big));
    assert_ok(vram_free(m, a));
    assert_ok(vram_free(m, d));
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
    return test_finish("defrag_buddy");
}
