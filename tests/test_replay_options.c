/* test_replay_options.c - the replay's options beyond the policy: the caching
 * policy's settings and its "reserved but unallocated" figure, the tensor
 * cache, and the pool layout's footprint with shared kv: keys; hand-worked
 * numbers, the database checked by SQL. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_db_lib.h"
#include "vram/caching.h"

#define DATA VRAM_SOURCE_DIR "/tests/data/"
#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)

/* The caching heap's page maps at the inspected event: whether the options
 * reached the policy (expandable segments map pages, fixed ones never). */
static void count_maps(void *ctx, uint64_t event_index, vram_manager *const *lanes, int nlanes)
{
    (void)event_index;
    vram_caching_stats cs;
    assert_true(nlanes == 1);
    assert_ok(vram_heap_caching_stats(vram_manager_heap(lanes[0]), &cs));
    *(uint64_t *)ctx = cs.maps;
}

/* tensor_cache.trace under the caching policy's defaults: the weight and the
 * small buffers share one 2 MiB small-pool segment, the 8 MiB activation gets
 * a 20 MiB large-pool segment. Reserved peaks at 22 MiB with 1 MiB + 256 KiB
 * + 8 MiB allocated, so 12.75 MiB is reserved but unallocated. Expandable
 * segments map the same here (2 MiB small-pool pages, 20 MiB large-pool
 * pages), as page maps instead of segments. */
static void test_caching_conf(void)
{
    const char *path = "replay_options_caching.db";
    test_remove_db(path);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    vreplay_options o =
        test_replay_opts(DATA "tensor_cache.trace", "caching", NULL, db, "test_replay_options");
    uint64_t maps = 1;
    o.inspect = count_maps;
    o.inspect_ctx = &maps;
    o.inspect_at = 13;
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_eq_u64(maps, 0);
    expect_true(r.status == VREPLAY_RUN_OK);
    expect_true(r.has_unallocated);
    expect_eq_u64(r.peak_reserved, 22 * MIB);
    expect_eq_u64(r.peak_reserved, r.peak_footprint);
    expect_eq_u64(r.reserved_unallocated, 22 * MIB - (MIB + 256 * KIB + 8 * MIB));
    int64_t defaults = r.run_id;

    const char *conf = "expandable_segments:True,garbage_collection_threshold:0.8";
    vram_caching_options co;
    char why[128];
    assert_ok(vram_caching_options_parse(conf, &co, why, sizeof why));
    o.caching = &co;
    o.caching_conf = conf;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_OK);
    expect_eq_u64(maps, 2);
    expect_eq_u64(r.peak_reserved, 22 * MIB);
    expect_eq_u64(r.reserved_unallocated, 22 * MIB - (MIB + 256 * KIB + 8 * MIB));
    int64_t expandable = r.run_id;
    uint64_t unalloc = r.reserved_unallocated;

    o = test_replay_opts(DATA "tensor_cache.trace", "bestfit", NULL, db, "test_replay_options");
    o.caching_conf = conf; /* only the caching policy records it */
    assert_ok(vreplay_run(&o, &r));
    expect_true(!r.has_unallocated);
    int64_t bestfit = r.run_id;

    /* On 16 MiB the 8 MiB activation needs a 20 MiB segment: an OOM whose row
     * says what was reserved, as PyTorch's message does (the weight, evicted
     * to make room, left its cached bytes: 2 MiB reserved, 256 KiB allocated). */
    o = test_replay_opts(DATA "tensor_cache.trace", "caching", NULL, db, "test_replay_options");
    o.capacity = 16 * MIB;
    assert_ok(vreplay_run(&o, &r));
    expect_eq_u64(r.ooms, 1);
    int64_t small = r.run_id;
    assert_ok(vdb_close(db, err, sizeof err));

    sqlite3 *q = test_open_db(path);
    expect_eq_u64(test_q1(q,
                          "SELECT reserved_unallocated FROM runs WHERE id=%lld AND"
                          " caching_conf IS NULL",
                          (long long)defaults),
                  22 * MIB - (MIB + 256 * KIB + 8 * MIB));
    expect_eq_u64(test_q1(q,
                          "SELECT reserved_unallocated FROM runs WHERE id=%lld AND"
                          " caching_conf='%s'",
                          (long long)expandable, conf),
                  unalloc);
    expect_eq_u64(test_q1(q,
                          "SELECT count(*) FROM runs WHERE id=%lld AND caching_conf IS NULL"
                          " AND reserved_unallocated IS NULL AND tensor_cache IS NULL",
                          (long long)bestfit),
                  1);
    expect_eq_u64(
        test_q1(q,
                "SELECT count(*) FROM events WHERE run_id=%lld AND kind='oom' AND"
                " size=8388608 AND message='2097152 bytes reserved in total, of which 262144"
                " allocated and 1835008 reserved but unallocated'",
                (long long)small),
        1);
    sqlite3_close(q);
}

/* The caching policy's segments are modelled inside its heap, yet the cost
 * model charges them as the device would (docs/COST_MODEL.md): on
 * tensor_cache.trace its two segments (2 MiB small pool, 20 MiB large pool)
 * are two cudaMallocs of 50,000 ns each over what bestfit's run costs, and
 * with expandable segments two page maps at the same price. */
static void test_caching_modelled_time(void)
{
    vreplay_options o =
        test_replay_opts(DATA "tensor_cache.trace", "bestfit", NULL, NULL, "test_replay_options");
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    double bestfit = r.modelled_ns;
    o.policy = "caching";
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.modelled_ns == bestfit + 2 * 50000.0);
    vram_caching_options co;
    char why[128];
    assert_ok(vram_caching_options_parse("expandable_segments:True", &co, why, sizeof why));
    o.caching = &co;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.modelled_ns == bestfit + 2 * 50000.0);
    if (test_failures)
        fprintf(stderr, "modelled ns: bestfit %.0f, caching %.0f\n", bestfit, r.modelled_ns);
}

/* tensor_cache.trace with a 4 MiB cache: round 1 misses its three sizes,
 * round 2 hits them; the 8 MiB activation is asked for (a miss) and goes to
 * the heap. The cache's heap peaks at the three buffers (256 KiB), idle all at
 * once after round 1; the run's footprint adds it to the lane's 9 MiB. */
static void test_tensor_cache(void)
{
    const char *path = "replay_options_tc.db";
    test_remove_db(path);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    vreplay_options o =
        test_replay_opts(DATA "tensor_cache.trace", "bestfit", NULL, db, "test_replay_options");
    o.tensor_cache = 4 * MIB;
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_OK);
    expect_eq_u64(r.tc_hits, 3);
    expect_eq_u64(r.tc_misses, 4);
    expect_eq_u64(r.tc_idle_peak, 256 * KIB);
    expect_eq_u64(r.tc_peak_footprint, 256 * KIB);
    expect_eq_u64(r.peak_footprint, 9 * MIB + 256 * KIB);
    expect_eq_u64(r.peak_live, 9 * MIB + 256 * KIB);
    expect_eq_u64(r.ooms, 0);
    expect_eq_u64(r.lat[VREPLAY_OP_ALLOC].count, 8);
    expect_eq_u64(r.lat[VREPLAY_OP_FREE].count, 8);
    int64_t id = r.run_id;

    /* Bigger than the device: not applicable, with the reason. */
    o = test_replay_opts(DATA "tensor_cache.trace", "bestfit", NULL, NULL, "test_replay_options");
    o.tensor_cache = 32 * MIB;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_NOT_APPLICABLE);
    expect_true(strstr(r.message, "tensor cache") != NULL);
    assert_ok(vdb_close(db, err, sizeof err));

    sqlite3 *q = test_open_db(path);
    expect_eq_u64(
        test_q1(q,
                "SELECT count(*) FROM runs WHERE id=%lld AND tensor_cache=%llu AND"
                " tc_hits=3 AND tc_misses=4 AND tc_idle_peak=262144 AND tc_peak_footprint=262144",
                (long long)id, (unsigned long long)(4 * MIB)),
        1);
    expect_eq_u64(test_q1(q, "SELECT max(footprint) FROM samples WHERE run_id=%lld", (long long)id),
                  9 * MIB + 256 * KIB);
    sqlite3_close(q);
}

/* Shared kv: keys under the pool layout: block-sized ones from the pool, the
 * two-block chunk from bestfit, each live once. No policy's peak footprint is
 * below the peak live bytes (nothing is evicted or refused). */
static void test_pool_shared_kv(void)
{
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute(DATA "kv_shared.trace", 0, 1, &b, err, sizeof err));
    expect_eq_u64(b.peak_live, MIB + 5 * 64 * KIB);
    expect_eq_u64(b.peak_live_line, 17);
    expect_eq_u64(b.peak_live_kv, 3 * 64 * KIB);
    for (const char *const *p = vram_heap_policy_names; *p; p++) {
        vreplay_options o =
            test_replay_opts(DATA "kv_shared.trace", *p, &b, NULL, "test_replay_options");
        vreplay_result r;
        assert_ok(vreplay_run(&o, &r));
        expect_true(r.status == VREPLAY_RUN_OK);
        expect_eq_u64(r.errors, 0);
        expect_eq_u64(r.evictions, 0);
        expect_eq_u64(r.peak_live, b.peak_live);
        if (r.peak_footprint < b.peak_live)
            fprintf(stderr, "%s: peak footprint %llu below peak live %llu\n", *p,
                    (unsigned long long)r.peak_footprint, (unsigned long long)b.peak_live);
        expect_true(r.peak_footprint >= b.peak_live);
    }
}

int main(void)
{
    test_caching_conf();
    test_caching_modelled_time();
    test_tensor_cache();
    test_pool_shared_kv();
    return test_finish("replay_options");
}
