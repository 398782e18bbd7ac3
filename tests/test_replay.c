/* test_replay.c - replays of hand-made traces through every policy, with the
 * database contents checked by SQL against the engine's own summary. */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_db_lib.h"

#define DATA VRAM_SOURCE_DIR "/tests/data/"

/* The op counts of tests/data/small.trace. */
static const struct {
    const char *op;
    int count;
} small_ops[] = {{"alloc", 8}, {"free", 8}, {"use", 5}, {"acquire", 1}, {"release", 1}};

static void check_small_run(sqlite3 *q, int64_t id, const vreplay_result *r, const vbounds *b,
                            const char *policy)
{
    fprintf(stderr, "checking %s (run %lld)\n", policy, (long long)id);
    expect_eq_u64(test_q1(q,
                          "SELECT count(*) FROM runs WHERE id=%lld AND status='ok' AND policy='%s'"
                          " AND ended IS NOT NULL AND detail IS NULL",
                          (long long)id, policy),
                  1);
    expect_eq_u64(test_q1(q, "SELECT events FROM runs WHERE id=%lld", (long long)id), b->events);
    expect_eq_u64(r->events, 29);
    /* Sampled after every event. */
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM samples WHERE run_id=%lld", (long long)id), 29);
    expect_eq_u64(
        test_q1(q, "SELECT max(event_index) FROM samples WHERE run_id=%lld", (long long)id), 29);
    /* Latency rows: one count per op event, buckets adding up to the summary. */
    for (size_t k = 0; k < sizeof small_ops / sizeof small_ops[0]; k++) {
        const char *op = small_ops[k].op;
        expect_eq_u64(test_q1(q, "SELECT sum(count) FROM latency WHERE run_id=%lld AND op='%s'",
                              (long long)id, op),
                      small_ops[k].count);
        expect_eq_u64(test_q1(q, "SELECT count FROM latency_summary WHERE run_id=%lld AND op='%s'",
                              (long long)id, op),
                      small_ops[k].count);
    }
    expect_eq_u64(test_q1(q, "SELECT alloc_p50_ns FROM runs WHERE id=%lld", (long long)id),
                  test_q1(q, "SELECT p50_ns FROM latency_summary WHERE run_id=%lld AND op='alloc'",
                          (long long)id));
    expect_eq_u64(test_q1(q, "SELECT free_p99_ns FROM runs WHERE id=%lld", (long long)id),
                  test_q1(q, "SELECT p99_ns FROM latency_summary WHERE run_id=%lld AND op='free'",
                          (long long)id));
    /* Summary numbers equal the aggregates of the rows. */
    expect_eq_u64(
        test_q1(q, "SELECT ooms FROM runs WHERE id=%lld", (long long)id),
        test_q1(q, "SELECT count(*) FROM events WHERE run_id=%lld AND kind='oom'", (long long)id));
    expect_eq_u64(test_q1(q, "SELECT ooms FROM runs WHERE id=%lld", (long long)id), 0);
    expect_eq_u64(
        test_q1(q, "SELECT peak_live FROM runs WHERE id=%lld", (long long)id),
        test_q1(q, "SELECT max(live_bytes) FROM samples WHERE run_id=%lld", (long long)id));
    expect_eq_u64(r->peak_live, b->peak_live);
    expect_true(test_q1(q, "SELECT peak_footprint FROM runs WHERE id=%lld", (long long)id) >=
                test_q1(q, "SELECT max(footprint) FROM samples WHERE run_id=%lld", (long long)id));
    expect_true(r->peak_footprint >= b->peak_live); /* the lower bound holds */
    expect_true(test_qd(q,
                        "SELECT (SELECT worst_ext_frag FROM runs WHERE id=%lld) -"
                        " (SELECT max(ext_frag) FROM samples WHERE run_id=%lld)",
                        (long long)id, (long long)id) == 0.0);
    /* Everything was freed: the last sample has nothing live. */
    expect_eq_u64(test_q1(q,
                          "SELECT live_bytes + in_use FROM samples WHERE run_id=%lld AND"
                          " event_index=29",
                          (long long)id),
                  0);
    expect_eq_u64(test_q1(q, "SELECT peak_live FROM bounds WHERE run_id=%lld", (long long)id),
                  b->peak_live);
}

static void test_small_every_policy(void)
{
    const char *path = "replay_small.db";
    test_remove_db(path);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    vbounds b;
    assert_ok(vbounds_compute(DATA "small.trace", 0, 1, &b, err, sizeof err));
    int64_t ids[8];
    static vreplay_result res[8];
    int n = 0;
    for (const char *const *p = vram_heap_policy_names; *p && n < 8; p++, n++) {
        vreplay_options o = test_replay_opts(DATA "small.trace", *p, &b, db, "test_replay");
        vram_status st = vreplay_run(&o, &res[n]);
        expect_status(st, VRAM_OK);
        if (res[n].status != VREPLAY_RUN_OK)
            fprintf(stderr, "%s: %s: %s\n", *p, vreplay_status_name(res[n].status),
                    res[n].message);
        expect_true(res[n].status == VREPLAY_RUN_OK);
        ids[n] = res[n].run_id;
    }
    assert_ok(vdb_close(db, err, sizeof err));
    sqlite3 *q;
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs"), n);
    for (int i = 0; i < n; i++)
        check_small_run(q, ids[i], &res[i], &b, vram_heap_policy_names[i]);
    /* The pool run says how it was laid out. */
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE policy='pool' AND layout LIKE"
                             " 'vLLM layout%%'"),
                  1);
    sqlite3_close(q);
}

static void test_oom_despite_free(void)
{
    const char *path = "replay_frag.db";
    test_remove_db(path);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    const char *policies[] = {"bestfit", "tlsf", "buddy"};
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        vreplay_options o =
            test_replay_opts(DATA "frag.trace", policies[i], NULL, db, "test_replay");
        vreplay_result r;
        assert_ok(vreplay_run(&o, &r));
        expect_true(r.status == VREPLAY_RUN_OK);
        expect_eq_u64(r.ooms, 1);
        expect_eq_u64(r.ooms_despite_free, 1);
        expect_eq_u64(r.skipped, 1); /* the failed id's free */
        ids[i] = r.run_id;
    }
    assert_ok(vdb_close(db, err, sizeof err));
    sqlite3 *q;
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    for (int i = 0; i < 3; i++) {
        long long id = (long long)ids[i];
        expect_eq_u64(test_q1(q,
                              "SELECT count(*) FROM events WHERE run_id=%lld AND kind='oom' AND"
                              " op='alloc' AND id=5 AND size=131072 AND line=15 AND"
                              " despite_free=1 AND free_bytes>=131072 AND largest_free<131072",
                              id),
                      1);
        expect_eq_u64(test_q1(q, "SELECT ooms_despite_free FROM runs WHERE id=%lld", id),
                      test_q1(q,
                              "SELECT count(*) FROM events WHERE run_id=%lld AND kind='oom' AND"
                              " despite_free=1",
                              id));
        expect_eq_u64(test_q1(q, "SELECT skipped FROM runs WHERE id=%lld", id), 1);
    }
    sqlite3_close(q);
}

static void test_evictions_against_belady(void)
{
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute(DATA "belady.trace", 0, 1, &b, err, sizeof err));
    assert_true(b.belady_exact);
    for (const char *const *p = vram_heap_policy_names; *p; p++) {
        vreplay_options o = test_replay_opts(DATA "belady.trace", *p, &b, NULL, "test_replay");
        vreplay_result r;
        assert_ok(vreplay_run(&o, &r));
        if (r.status == VREPLAY_RUN_NOT_APPLICABLE)
            continue;
        expect_true(r.status == VREPLAY_RUN_OK);
        /* With one evictable size Belady is optimal: no policy that served
         * every request re-materialises less. */
        if (r.ooms == 0) {
            expect_true(r.rematerialisations >= b.belady_rematerialisations);
            expect_true(r.evictions > 0);
        }
    }
}

/* --time-every 4: one timed call in four, the others cost no clock reading. */
static void test_time_every(void)
{
    vreplay_options o = test_replay_opts(DATA "small.trace", "bestfit", NULL, NULL, "test_replay");
    o.time_every = 4;
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    uint64_t timed = 0, calls = 0;
    for (int op = 0; op < VREPLAY_OP_COUNT; op++)
        timed += r.lat[op].count;
    for (size_t k = 0; k < sizeof small_ops / sizeof small_ops[0]; k++)
        calls += (uint64_t)small_ops[k].count;
    expect_eq_u64(timed, calls / 4);
}

/* The pool layout routes what the pool cannot serve to bestfit: nothing is refused. */
static void test_pool_routing(void)
{
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute(DATA "pooled.trace", 0, 1, &b, err, sizeof err));
    vreplay_options o = test_replay_opts(DATA "pooled.trace", "pool", &b, NULL, "test_replay");
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_OK);
    expect_eq_u64(r.errors, 0);
    expect_eq_u64(r.ooms, 0);
    expect_eq_u64(r.skipped, 0);
    expect_eq_u64(r.peak_live, b.peak_live);
    expect_true(strstr(r.layout, "blocks of 65536 B") != NULL);
}

/* Compaction through the manager: on-oom saves frag.trace's OOM under
 * bestfit (the hole it leaves is closed by moving the top block down), and a
 * pass every event logs its moves. */
static void test_defrag(void)
{
    const char *path = "replay_defrag.db";
    test_remove_db(path);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    vreplay_options o = test_replay_opts(DATA "frag.trace", "bestfit", NULL, db, "test_replay");
    o.defrag_on_oom = 1;
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_OK);
    expect_eq_u64(r.ooms, 0);
    expect_eq_u64(r.defrag_oom_saved, 1);
    int64_t on_oom = r.run_id;
    o = test_replay_opts(DATA "frag.trace", "bestfit", NULL, db, "test_replay");
    o.defrag_every = 1;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_OK);
    expect_eq_u64(r.ooms, 0);
    expect_true(r.defrag_moves >= 1);
    expect_true(r.defrag_modelled_ns > 0);
    int64_t every = r.run_id;
    assert_ok(vdb_close(db, err, sizeof err));
    sqlite3 *q;
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    expect_eq_u64(test_q1(q,
                          "SELECT count(*) FROM runs WHERE id=%lld AND defrag='on-oom' AND"
                          " defrag_oom_saved=1 AND ooms=0",
                          (long long)on_oom),
                  1);
    expect_eq_u64(test_q1(q, "SELECT defrag_moves FROM runs WHERE id=%lld", (long long)every),
                  test_q1(q, "SELECT sum(count) FROM events WHERE run_id=%lld AND kind='defrag'",
                          (long long)every));
    expect_eq_u64(test_q1(q,
                          "SELECT count(*) FROM runs WHERE id=%lld AND defrag='every=1' AND"
                          " defrag_modelled_ms > 0 AND defrag_bytes_moved > 0",
                          (long long)every),
                  1);
    sqlite3_close(q);
}

/* The evictions of belady.trace are logged at the samples that follow them. */
static void test_eviction_rows(void)
{
    const char *path = "replay_evict.db";
    test_remove_db(path);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    vreplay_options o = test_replay_opts(DATA "belady.trace", "bestfit", NULL, db, "test_replay");
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.evictions > 0);
    assert_ok(vdb_close(db, err, sizeof err));
    sqlite3 *q;
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    long long id = (long long)r.run_id;
    expect_eq_u64(
        test_q1(q, "SELECT sum(count) FROM events WHERE run_id=%lld AND kind='eviction'", id),
        r.evictions);
    expect_eq_u64(
        test_q1(q, "SELECT sum(bytes) FROM events WHERE run_id=%lld AND kind='eviction'", id),
        r.bytes_evicted);
    expect_eq_u64(test_q1(q, "SELECT evictions FROM runs WHERE id=%lld", id),
                  test_q1(q, "SELECT max(evictions) FROM samples WHERE run_id=%lld", id));
    sqlite3_close(q);
}

int main(void)
{
    test_small_every_policy();
    test_pool_routing();
    test_time_every();
    test_defrag();
    test_eviction_rows();
    test_oom_despite_free();
    test_evictions_against_belady();
    return test_finish("replay");
}
