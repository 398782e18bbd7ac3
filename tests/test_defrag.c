/* test_defrag.c - compaction through handles: gaps closed, contents intact
 * (host-backed sim), pinned and in-use handles left in place, the byte budget,
 * a failed copy, compaction on OOM; then a randomised alloc/free/compact run
 * with vram_manager_check and content verification after every pass. The
 * seed is printed; VRAM_TEST_SEED replays a run. */
#include "testlib.h"

#include "vram/vram.h"

#define MIB (UINT64_C(1) << 20)

static vram_manager *make(uint64_t capacity, const char *heap, int evict, int defrag_on_oom)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = capacity;
    cfg.device.host_backing = 1;
    cfg.heap_policy = heap;
    cfg.evict = evict;
    cfg.defrag_on_oom = defrag_on_oom;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    return m;
}

static void check(vram_manager *m)
{
    char msg[256];
    vram_status st = vram_manager_check(m, msg, sizeof msg);
    if (st)
        fprintf(stderr, "check: %s\n", msg);
    assert_true(st == VRAM_OK);
}

static vram_handle alloc_one(vram_manager *m, uint64_t size, vram_backing b)
{
    vram_alloc_desc d = {.size = size, .backing = b};
    vram_handle h;
    assert_ok(vram_alloc(m, &d, &h));
    return h;
}

static uint64_t addr_of(vram_manager *m, vram_handle h)
{
    vram_handle_info info;
    assert_ok(vram_handle_get(m, h, &info));
    return info.addr;
}

/* The contents of a resident handle are still its fill pattern. */
static void expect_intact(vram_manager *m, vram_handle h)
{
    vram_handle_info info;
    assert_ok(vram_handle_get(m, h, &info));
    if (info.resident)
        expect_status(vram_device_verify(vram_manager_device(m), info.addr, info.size, h.v), VRAM_OK);
}

/* Eight 1 MiB handles, every other one freed: four 1 MiB holes. */
static void fragment_as(vram_manager *m, vram_handle keep[4], vram_backing b)
{
    vram_handle h[8];
    for (int i = 0; i < 8; i++)
        h[i] = alloc_one(m, MIB, b);
    for (int i = 0; i < 8; i++) {
        if (i % 2 == 0)
            assert_ok(vram_free(m, h[i]));
        else
            keep[i / 2] = h[i];
    }
}

static void fragment(vram_manager *m, vram_handle keep[4])
{
    fragment_as(m, keep, VRAM_BACKING_NONE);
}

static void test_closes_gaps(void)
{
    vram_manager *m = make(8 * MIB, NULL, 0, 0);
    vram_handle keep[4];
    fragment(m, keep);
    vram_handle x;
    vram_alloc_desc big = {.size = 2 * MIB};
    expect_status(vram_alloc(m, &big, &x), VRAM_ENOMEM);
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.failed_despite_free, 1);
    vram_defrag_report r;
    assert_ok(vram_manager_defrag(m, 0, &r));
    expect_eq_u64(r.candidates, 4);
    expect_true(r.moves >= 2 && r.moves <= 4);
    expect_eq_u64(r.bytes_moved, r.moves * MIB);
    expect_true(r.frag_before > 0.7 && r.frag_after == 0.0);
    expect_eq_u64(r.largest_free_before, MIB);
    expect_eq_u64(r.largest_free_after, 4 * MIB);
    expect_true(r.modelled_ns > 0);
    for (int i = 0; i < 4; i++) {
        expect_intact(m, keep[i]);
        expect_true(addr_of(m, keep[i]) < addr_of(m, keep[0]) + 4 * MIB);
    }
    check(m);
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.defrag_passes, 1);
    expect_eq_u64(st.defrag_moves, r.moves);
    expect_eq_u64(st.defrag_bytes_moved, r.bytes_moved);
    expect_eq_u64(st.device.bytes_d2d, r.bytes_moved);
    assert_ok(vram_alloc(m, &big, &x));
    /* nothing left to do: a second pass moves nothing */
    assert_ok(vram_free(m, x));
    assert_ok(vram_manager_defrag(m, 0, &r));
    expect_eq_u64(r.moves, 0);
    check(m);
    vram_manager_destroy(m, NULL);
}

static void test_pinned_in_use_budget(void)
{
    vram_manager *m = make(8 * MIB, NULL, 0, 0);
    vram_handle keep[4];
    fragment(m, keep);
    uint64_t a3 = addr_of(m, keep[3]), a2 = addr_of(m, keep[2]);
    assert_ok(vram_pin(m, keep[3]));
    assert_ok(vram_acquire(m, keep[2], NULL));
    vram_defrag_report r;
    assert_ok(vram_manager_defrag(m, 0, &r));
    expect_eq_u64(r.candidates, 2);
    expect_eq_u64(addr_of(m, keep[3]), a3);
    expect_eq_u64(addr_of(m, keep[2]), a2);
    check(m);
    assert_ok(vram_unpin(m, keep[3]));
    assert_ok(vram_unacquire(m, keep[2]));
    /* a budget below one handle moves nothing; one handle's worth moves one */
    assert_ok(vram_manager_defrag(m, MIB - 1, &r));
    expect_eq_u64(r.moves, 0);
    assert_ok(vram_manager_defrag(m, MIB, &r));
    expect_eq_u64(r.moves, 1);
    expect_eq_u64(r.bytes_moved, MIB);
    for (int i = 0; i < 4; i++)
        expect_intact(m, keep[i]);
    check(m);
    vram_manager_destroy(m, NULL);
}

static void test_copy_fault(void)
{
    vram_manager *m = make(8 * MIB, NULL, 0, 0);
    vram_handle keep[4];
    fragment(m, keep);
    uint64_t before[4];
    for (int i = 0; i < 4; i++)
        before[i] = addr_of(m, keep[i]);
    vram_device_inject_fault(vram_manager_device(m), VRAM_FAULT_COPY, 1, 0, VRAM_EDEVICE);
    vram_defrag_report r;
    expect_status(vram_manager_defrag(m, 0, &r), VRAM_EDEVICE);
    expect_eq_u64(r.moves, 0);
    for (int i = 0; i < 4; i++) {
        expect_eq_u64(addr_of(m, keep[i]), before[i]);
        expect_intact(m, keep[i]);
    }
    check(m);
    expect_status(vram_manager_defrag(NULL, 0, &r), VRAM_EINVAL);
    vram_manager_destroy(m, NULL);
}

/* defrag_on_oom: the allocation that failed despite enough free bytes fits
 * after an automatic pass, and nothing is evicted for it. */
static void test_on_oom(void)
{
    for (int evict = 0; evict < 2; evict++) {
        vram_manager *m = make(8 * MIB, NULL, evict, 1);
        vram_handle keep[4];
        /* with eviction on, they are evictable, but compaction comes first */
        fragment_as(m, keep, evict ? VRAM_BACKING_HOST : VRAM_BACKING_NONE);
        vram_handle x = alloc_one(m, 3 * MIB, VRAM_BACKING_NONE);
        vram_manager_stats st;
        vram_manager_stats_get(m, &st);
        expect_eq_u64(st.defrag_oom_saved, 1);
        expect_eq_u64(st.failed_allocs, 0);
        expect_eq_u64(st.evictions, 0);
        expect_true(st.defrag_moves >= 1);
        for (int i = 0; i < 4; i++)
            expect_intact(m, keep[i]);
        expect_intact(m, x);
        check(m);
        vram_manager_destroy(m, NULL);
    }
}

/* Pinned blocks that compaction cannot move: one pass, not one per failure. */
static void test_futile_pass_not_repeated(void)
{
    vram_manager *m = make(8 * MIB, NULL, 0, 1);
    vram_handle keep[4];
    fragment(m, keep);
    for (int i = 0; i < 4; i++)
        assert_ok(vram_pin(m, keep[i]));
    vram_alloc_desc d = {.size = 2 * MIB};
    vram_handle x;
    vram_manager_stats st;
    for (int i = 0; i < 3; i++)
        expect_status(vram_alloc(m, &d, &x), VRAM_ENOMEM);
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.defrag_passes, 1);
    expect_eq_u64(st.failed_despite_free, 3);
    d.size = MIB / 2; /* a smaller request fits without compaction */
    assert_ok(vram_alloc(m, &d, &x));
    d.size = 2 * MIB;
    expect_status(vram_alloc(m, &d, &x), VRAM_ENOMEM);
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.defrag_passes, 1);
    assert_ok(vram_unpin(m, keep[3])); /* movable again, but only a release re-arms */
    expect_status(vram_alloc(m, &d, &x), VRAM_ENOMEM);
    assert_ok(vram_free(m, x));
    assert_ok(vram_alloc(m, &d, &x)); /* x's half hole and keep[3] moved: room */
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.defrag_passes, 2);
    expect_eq_u64(st.defrag_oom_saved, 1);
    check(m);
    vram_manager_destroy(m, NULL);
}

/* Constant eviction over a heap that pinned blocks keep fragmented: every
 * allocation fails, evicts one handle and then fits. Each eviction releases a
 * block, but a pass cannot succeed; the back-off keeps the passes to a few
 * (one per failing allocation before it), and a free re-arms them at once. */
static void test_futile_passes_backed_off(void)
{
    enum { ALLOCS = 64 };
    vram_manager *m = make(16 * MIB, NULL, 1, 1);
    vram_handle keep[4];
    fragment(m, keep); /* [0, 8 MiB): 1 MiB holes between 1 MiB handles */
    for (int i = 0; i < 4; i++)
        assert_ok(vram_pin(m, keep[i]));
    vram_handle h[ALLOCS];
    for (int i = 0; i < 4; i++) /* [8, 16 MiB): evictable 2 MiB handles */
        h[i] = alloc_one(m, 2 * MIB, VRAM_BACKING_HOST);
    for (int i = 4; i < ALLOCS; i++)
        h[i] = alloc_one(m, 2 * MIB, VRAM_BACKING_HOST);
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.evictions, ALLOCS - 4);
    expect_eq_u64(st.defrag_oom_saved, 0);
    expect_true(st.defrag_passes >= 1);
    expect_true(st.defrag_passes <= 8); /* 60 before the back-off */
    uint64_t passes = st.defrag_passes;
    assert_ok(vram_free(m, h[ALLOCS - 1]));
    alloc_one(m, 2 * MIB, VRAM_BACKING_HOST); /* in the freed block */
    alloc_one(m, 2 * MIB, VRAM_BACKING_HOST); /* fails: a pass at once, then an eviction */
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.defrag_passes, passes + 1);
    expect_eq_u64(st.evictions, ALLOCS - 3);
    check(m);
    vram_manager_destroy(m, NULL);
}

typedef struct slot {
    vram_handle h;
    int live, pinned;
} slot;

/* Random alloc/free/pin/compact, with and without compaction on OOM. */
static void run_random(const char *heap, int defrag_on_oom, long ops, uint64_t seed)
{
    enum { NSLOTS = 256 };
    vram_manager *m = make(2 * MIB, heap, 1, defrag_on_oom);
    slot s[NSLOTS] = {0};
    uint64_t rng = seed, passes = 0;
    for (long op = 1; op <= ops; op++) {
        slot *x = &s[test_rand(&rng) % NSLOTS];
        unsigned what = (unsigned)(test_rand(&rng) % 100);
        if (!x->live && what < 70) {
            /* one draw per statement: the order of draws is fixed */
            uint64_t limit = test_rand(&rng) % 8 ? 8192 : 131072;
            vram_alloc_desc d = {.size = 1 + test_rand(&rng) % limit};
            d.align = test_rand(&rng) % 5 ? 0 : 65536;
            d.priority = (int)(test_rand(&rng) % 3);
            d.backing = test_rand(&rng) % 2 ? VRAM_BACKING_HOST : VRAM_BACKING_NONE;
            vram_status st = vram_alloc(m, &d, &x->h);
            assert_true(st == VRAM_OK || st == VRAM_ENOMEM);
            x->live = st == VRAM_OK;
        } else if (x->live && what < 50) {
            if (x->pinned)
                assert_ok(vram_unpin(m, x->h));
            assert_ok(vram_free(m, x->h));
            x->live = x->pinned = 0;
        } else if (x->live && what < 60) {
            if (x->pinned)
                assert_ok(vram_unpin(m, x->h));
            else if (vram_pin(m, x->h) != VRAM_OK)
                continue;
            x->pinned = !x->pinned;
        } else if (x->live && what < 90) {
            vram_status st = vram_touch(m, x->h);
            assert_true(st == VRAM_OK || st == VRAM_ENOMEM);
        } else if (what >= 99) {
            uint64_t budget = test_rand(&rng) % 2 ? 0 : test_rand(&rng) % (2 * MIB);
            vram_defrag_report r;
            vram_manager_stats before, after;
            vram_manager_stats_get(m, &before);
            assert_ok(vram_manager_defrag(m, budget, &r));
            vram_manager_stats_get(m, &after);
            expect_true(!budget || r.bytes_moved <= budget);
            /* every move goes down: the highest used byte never rises */
            expect_true(after.heap.footprint <= before.heap.footprint);
            /* each move verified the moved block; all blocks every 16th pass */
            if (passes++ % 16 == 0)
                for (int i = 0; i < NSLOTS; i++)
                    if (s[i].live)
                        expect_intact(m, s[i].h);
            check(m);
        }
        if (op % 256 == 0)
            check(m);
        if (test_failures) {
            fprintf(stderr, "seed %" PRIu64 " op %ld (%s)\n", seed, op, heap);
            exit(1);
        }
    }
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    printf("  %s%s: %ld ops, %" PRIu64 " passes, %" PRIu64 " moves, %" PRIu64
           " bytes moved, %" PRIu64 " OOMs saved, %" PRIu64 " failed (%" PRIu64
           " despite free bytes)\n",
           heap, defrag_on_oom ? " +defrag-on-oom" : "", ops, st.defrag_passes, st.defrag_moves,
           st.defrag_bytes_moved, st.defrag_oom_saved, st.failed_allocs, st.failed_despite_free);
    expect_true(passes > 0 && st.defrag_moves > 0);
    for (int i = 0; i < NSLOTS; i++)
        if (s[i].live) {
            expect_intact(m, s[i].h);
            if (s[i].pinned)
                assert_ok(vram_unpin(m, s[i].h));
            assert_ok(vram_free(m, s[i].h));
        }
    check(m);
    expect_eq_u64(vram_manager_destroy(m, stderr), 0);
}

int main(void)
{
    test_closes_gaps();
    test_pinned_in_use_budget();
    test_copy_fault();
    test_on_oom();
    test_futile_pass_not_repeated();
    test_futile_passes_backed_off();
    uint64_t seed = 0xdef7a6;
    const char *env = getenv("VRAM_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    printf("defrag: seed %" PRIu64 " (VRAM_TEST_SEED=%" PRIu64 " replays it)\n", seed, seed);
    run_random("bestfit", 0, 20000, seed);
    run_random("bestfit", 1, 20000, seed + 1);
    run_random("tlsf", 1, 10000, seed + 2);
    return test_finish("defrag");
}
