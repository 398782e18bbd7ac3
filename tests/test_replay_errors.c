/* test_replay_errors.c - runs that cannot end well are marked so: a malformed
 * trace, a trace that contradicts itself, an interrupted run, a missing trace,
 * an unknown policy, a device that cannot be created. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_db_lib.h"

#define DATA VRAM_SOURCE_DIR "/tests/data/"

/* bestfit, a sample after every event, no periodic check: the errors
 * under test must be found by what they break, not by a check. */
static vreplay_options opts(const char *trace, vdb *db)
{
    vreplay_options o = test_replay_opts(trace, "bestfit", NULL, db, NULL);
    o.check_every = 0;
    return o;
}

static void stop_at_ten(void *ctx, uint64_t events)
{
    if (events == 10)
        *(volatile sig_atomic_t *)ctx = 1;
}

int main(void)
{
    const char *path = "replay_errors.db";
    test_remove_db(path);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    vreplay_result r;

    /* Malformed line 8: failed, with file:line, after replaying lines 5-7. */
    vreplay_options o = opts(DATA "malformed.trace", db);
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_FAILED);
    expect_contains(r.message, "malformed.trace:8:");
    expect_eq_u64(r.events, 3);
    int64_t malformed = r.run_id;

    /* A free of an id that is not live. */
    o = opts(DATA "unknown_free.trace", db);
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_FAILED);
    expect_contains(r.message, "unknown_free.trace:7: free of id 1, which is not live");
    int64_t unknown = r.run_id;

    /* Interrupted after event 10 through the stop flag. */
    volatile sig_atomic_t stop = 0;
    o = opts(DATA "small.trace", db);
    o.stop = &stop;
    o.progress = stop_at_ten;
    o.progress_ctx = (void *)&stop;
    o.progress_every = 1;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_INTERRUPTED);
    expect_eq_u64(r.events, 10);
    int64_t stopped = r.run_id;

    /* An invariant violation, found by the check after the next event (line 14). */
    o = opts(DATA "small.trace", db);
    o.check_every = 1;
    o.inspect = test_corrupt_lane0;
    o.inspect_at = 5;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_FAILED);
    expect_eq_u64(r.events, 6);
    expect_contains(r.message, "small.trace:14: invariant violated after this event");
    int64_t violated = r.run_id;

    /* A trace that does not exist: the run is logged as failed, naming it. */
    o = opts("no/such.trace", db);
    expect_true(vreplay_run(&o, &r) != VRAM_OK);
    expect_contains(r.message, "no/such.trace");
    int64_t missing = r.run_id;
    expect_true(missing != 0);

    /* An unknown policy is refused before anything is logged. */
    o = opts(DATA "small.trace", db);
    o.policy = "no-such-policy";
    expect_status(vreplay_run(&o, &r), VRAM_EINVAL);
    expect_contains(r.message, "no-such-policy");
    expect_eq_u64(r.run_id, 0);

    /* The cuda backend on a machine without a driver (or without the backend
     * built in): a clear failure naming the sim backend, the run marked. */
    o = opts(DATA "small.trace", db);
    o.backend = "cuda";
    unsetenv("VRAM_CUDA_DRIVER");
    vram_status st = vreplay_run(&o, &r);
    if (st == VRAM_OK) {
        fprintf(stderr, "note: a CUDA driver is present; the no-driver case is not tested\n");
    } else {
        expect_true(r.status == VREPLAY_RUN_FAILED);
        expect_contains(r.message, "sim");
    }
    int64_t cuda = st ? r.run_id : 0;

    /* A trace in memory (how fuzzers call it), named in messages by trace_path. */
    static const char text[] = "vramtrace 1\nmodel m\nengine contiguous\ncapacity 1048576\n"
                               "alloc 1 4096 0 kv 1\nuse 1\nfree 2\n";
    o = opts("in-memory.trace", NULL);
    o.trace_data = text;
    o.trace_size = sizeof text - 1;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_FAILED);
    expect_eq_u64(r.events, 3);
    expect_contains(r.message, "in-memory.trace:7: free of id 2, which is not live");

    /* Without a database the same failures are reported all the same. */
    o = opts(DATA "malformed.trace", NULL);
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_FAILED);
    expect_eq_u64(r.run_id, 0);

    assert_ok(vdb_close(db, err, sizeof err));
    sqlite3 *q;
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    expect_eq_u64(
        test_q1(q,
                "SELECT count(*) FROM runs WHERE id=%lld AND status='failed' AND ended IS NOT NULL"
                " AND detail LIKE '%%malformed.trace:8:%%'",
                (long long)malformed),
        1);
    expect_eq_u64(
        test_q1(q,
                "SELECT count(*) FROM events WHERE run_id=%lld AND kind='trace_error' AND line=8"
                " AND message LIKE '%%malformed.trace:8:%%'",
                (long long)malformed),
        1);
    expect_eq_u64(
        test_q1(q,
                "SELECT count(*) FROM events WHERE run_id=%lld AND kind='trace_error' AND line=7",
                (long long)unknown),
        1);
    expect_eq_u64(
        test_q1(q,
                "SELECT count(*) FROM events WHERE run_id=%lld AND kind='violation' AND line=14"
                " AND event_index=6",
                (long long)violated),
        1);
    expect_eq_u64(
        test_q1(q,
                "SELECT count(*) FROM runs WHERE id=%lld AND status='interrupted' AND events=10"
                " AND ended IS NOT NULL",
                (long long)stopped),
        1);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM samples WHERE run_id=%lld", (long long)stopped),
                  10);
    expect_eq_u64(
        test_q1(q,
                "SELECT count(*) FROM runs WHERE id=%lld AND status='failed' AND detail LIKE"
                " '%%no/such.trace%%'",
                (long long)missing),
        1);
    if (cuda) {
        expect_eq_u64(
            test_q1(
                q, "SELECT count(*) FROM runs WHERE id=%lld AND status='failed' AND backend='cuda'",
                (long long)cuda),
            1);
    }
    /* No run is left "running". */
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE status='running' OR ended IS NULL"),
                  0);
    sqlite3_close(q);
    return test_finish("replay_errors");
}
