/* test_plugin_isolate.c - `replay --isolate` (sim/replay/isolate.h): a plugin that
 * crashes (a null write, abort(), exit()) or hangs at its 5th allocation fails
 * its own run with the trace line of that allocation, its run row is marked
 * failed with the message and an error event at the line, and the runs before
 * and after it (built-in policies, in this process) are complete and ok. A
 * plugin that behaves gives through the child the same result as in process. */
#include <stdio.h>
#include <string.h>

#include "isolate.h"
#include "test_db_lib.h"

#define DATA VRAM_SOURCE_DIR "/tests/data/"
#define CRASH "plugin:" VRAM_TEST_PLUGIN_CRASH
/* small.trace: the line of the plugin's 5th allocation (acquires and allocs
 * alike are allocations to the heap). */
#define FIFTH_ALLOC_LINE 15

static vreplay_options opts(const char *policy, vdb *db)
{
    vreplay_options o = test_replay_opts(DATA "small.trace", policy, NULL, db, "isolate test");
    o.check_every = 0;
    return o;
}

static void expect_ok_run(sqlite3 *q, const char *policy, vdb *db)
{
    vreplay_options o = opts(policy, db);
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_OK);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE id=%lld AND status='ok'",
                          (long long)r.run_id),
                  1);
}

static void misbehaves(sqlite3 *q, vdb *db, const char *way, unsigned timeout_s,
                       const char *what)
{
    char policy[512];
    snprintf(policy, sizeof policy, CRASH ":%s", way);
    expect_ok_run(q, "tlsf", db);
    vreplay_options o = opts(policy, db);
    vreplay_result r;
    assert_ok(vreplay_run_isolated(&o, "plugin_isolate.db", 0, timeout_s, &r));
    expect_true(r.status == VREPLAY_RUN_FAILED);
    char want[512];
    snprintf(want, sizeof want, DATA "small.trace:%d: plugin:%s %s", FIFTH_ALLOC_LINE, way, what);
    expect_contains(r.message, want);
    expect_contains(r.message, "(--isolate)");
    expect_true(r.run_id > 0);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE id=%lld AND status='failed' AND"
                             " policy='plugin:%s' AND ended IS NOT NULL AND detail LIKE '%%%s%%'",
                          (long long)r.run_id, way, what),
                  1);
    expect_eq_u64(test_q1(q, "SELECT line FROM events WHERE run_id=%lld AND kind='error'",
                          (long long)r.run_id),
                  FIFTH_ALLOC_LINE);
    expect_ok_run(q, "bestfit", db);
}

int main(void)
{
    const char *path = "plugin_isolate.db";
    test_remove_db(path);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    sqlite3 *q = test_open_db(path);

    /* Under a sanitizer a null write is its report and exit status 1, else SIGSEGV. */
    vreplay_options o = opts(CRASH ":segv", db);
    vreplay_result r;
    assert_ok(vreplay_run_isolated(&o, path, 0, 30, &r));
    expect_true(r.status == VREPLAY_RUN_FAILED);
    expect_true(strstr(r.message, "crashed in this event: signal 11") ||
                strstr(r.message, "ended the process in this event: exit status"));
    expect_contains(r.message, "small.trace:15: plugin:segv ");
    misbehaves(q, db, "abort", 30, "crashed in this event: signal 6");
    misbehaves(q, db, "exit", 30, "ended the process in this event: exit status 7");
    misbehaves(q, db, "hang", 1, "made no progress for 1 s in this event: killed");

    /* A plugin that behaves: the child's result is the in-process one. */
    static vreplay_result a, b;
    o = opts("plugin:" VRAM_TEST_EXAMPLES_DIR "/libvram_firstfit.so", db);
    assert_ok(vreplay_run(&o, &a));
    assert_ok(vreplay_run_isolated(&o, path, 0, 30, &b));
    expect_true(a.status == VREPLAY_RUN_OK && b.status == VREPLAY_RUN_OK);
    expect_eq_u64(b.events, a.events);
    expect_eq_u64(b.peak_footprint, a.peak_footprint);
    expect_eq_u64(b.samples, a.samples);
    expect_true(b.run_id > a.run_id);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM samples WHERE run_id=%lld", (long long)b.run_id),
                  a.samples);
    /* Without a database. */
    o.db = NULL;
    assert_ok(vreplay_run_isolated(&o, NULL, 0, 30, &b));
    expect_true(b.status == VREPLAY_RUN_OK && b.run_id == 0);

    sqlite3_close(q);
    assert_ok(vdb_close(db, err, sizeof err));
    test_remove_db(path);
    return test_finish("plugin_isolate");
}
