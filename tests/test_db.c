/* test_db.c - the results database: the documented schema is the one written,
 * unwritable, corrupt and foreign files get a clear error naming them, and a write that
 * fails at any point (fault injection at step 1, 2, 3, ...) leaves every run
 * either complete and "ok" or marked failed with a prefix of its rows. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_db_lib.h"

#define DATA VRAM_SOURCE_DIR "/tests/data/"

static void test_schema_documented(void)
{
    FILE *f = fopen(VRAM_SOURCE_DIR "/sim/schema.sql", "rb");
    assert_true(f != NULL);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    if (strcmp(text, vdb_schema_sql()) != 0) {
        fprintf(stderr, "FAILED: sim/schema.sql differs from vdb_schema_sql() in sim/db.c\n");
        test_failures++;
    }
}

static void test_unwritable(void)
{
    vdb *db;
    char err[512];
    vram_status st = vdb_open("no-such-dir/sub/results.db", &db, err, sizeof err);
    expect_status(st, VRAM_EIO);
    expect_true(db == NULL);
    expect_contains(err, "no-such-dir/sub/results.db");
    expect_contains(err, "cannot open");
}

static void test_corrupt(void)
{
    const char *path = "db_corrupt.db";
    test_remove_db(path);
    FILE *f = fopen(path, "wb");
    assert_true(f != NULL);
    for (int i = 0; i < 512; i++)
        fputs("this is not a database. ", f);
    fclose(f);
    vdb *db;
    char err[512];
    expect_status(vdb_open(path, &db, err, sizeof err), VRAM_EIO);
    expect_contains(err, path);
    expect_contains(err, "not a database");
}

static void test_other_version(void)
{
    const char *path = "db_version.db";
    test_remove_db(path);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    assert_ok(vdb_close(db, err, sizeof err));
    sqlite3 *q;
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    assert_true(sqlite3_exec(q, "UPDATE meta SET value='99' WHERE key='schema_version'", NULL, NULL,
                             NULL) == SQLITE_OK);
    sqlite3_close(q);
    expect_status(vdb_open(path, &db, err, sizeof err), VRAM_EIO);
    expect_contains(err, "schema version 99");
}

/* After a failed write: the database is sound; a run is either ok with all
 * its rows, or failed with a prefix of its samples and an end time, or (only
 * when the marking failed too: `persistent`) failed with no end time and the
 * detail VDB_NOT_FINISHED; never 'running', and never 'ok' unfinished; rows
 * never point to a missing run. */
static void check_consistent(const char *path, int64_t samples_when_ok, int persistent)
{
    sqlite3 *q;
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    sqlite3_stmt *s;
    assert_true(sqlite3_prepare_v2(q, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK);
    expect_true(sqlite3_step(s) == SQLITE_ROW &&
                strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0);
    sqlite3_finalize(s);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE status NOT IN ('ok', 'failed')"), 0);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE status = 'ok' AND ended IS NULL"), 0);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE ended IS NULL AND"
                             " detail != '" VDB_NOT_FINISHED "'"),
                  0);
    if (!persistent)
        expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE ended IS NULL"), 0);
    expect_eq_u64(
        test_q1(q, "SELECT count(*) FROM samples WHERE run_id NOT IN (SELECT id FROM runs)"), 0);
    expect_eq_u64(
        test_q1(q, "SELECT count(*) FROM latency WHERE run_id NOT IN (SELECT id FROM runs)"), 0);
    /* A complete "ok" run has every row. */
    expect_eq_u64(
        test_q1(q,
                "SELECT count(*) FROM runs r WHERE status='ok' AND (SELECT count(*) FROM samples"
                " WHERE run_id=r.id) != %lld",
                (long long)samples_when_ok),
        0);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs r WHERE status='ok' AND (SELECT count(*)"
                             " FROM latency_summary WHERE run_id=r.id) != 5"),
                  0);
    /* A failed run holds a prefix: samples 1..k with no gap. */
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM samples WHERE"
                             " run_id=r.id) != coalesce((SELECT max(event_index) FROM samples WHERE"
                             " run_id=r.id), 0)"),
                  0);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE status='failed' AND ended IS NOT NULL"
                             " AND detail NOT LIKE '%%injected%%'"),
                  0);
    sqlite3_close(q);
}

/* Faults at write 1, 2, 3, ... until the run completes untouched; once
 * (the marking succeeds) or persistent (it fails too). */
static void test_fault_injection(int persistent)
{
    const char *path = "db_faults.db";
    uint64_t n;
    int completed = 0;
    for (n = 1; n < 2000 && !completed; n++) {
        test_remove_db(path);
        vdb *db;
        char err[512];
        assert_ok(vdb_open(path, &db, err, sizeof err));
        vdb_set_batch(db, 4); /* many commits: faults land on them too */
        vdb_inject_fault(db, n, persistent);
        vreplay_options o;
        memset(&o, 0, sizeof o);
        o.trace_path = DATA "small.trace";
        o.policy = "bestfit";
        o.sample_every = 1;
        o.db = db;
        vreplay_result r;
        vram_status st = vreplay_run(&o, &r);
        uint64_t steps = vdb_steps(db);
        vdb_close(db, err, sizeof err);
        if (steps < n) {
            /* The fault never fired: the run must be whole. */
            expect_status(st, VRAM_OK);
            expect_true(r.status == VREPLAY_RUN_OK);
            completed = 1;
        } else {
            if (st != VRAM_EIO)
                fprintf(stderr, "fault at step %llu: status %s\n", (unsigned long long)n,
                        vram_status_name(st));
            expect_status(st, VRAM_EIO);
            expect_true(r.status == VREPLAY_RUN_FAILED);
            expect_contains(r.message, path);
            if (persistent && r.run_id) {
                /* said once (a second marking attempt used to repeat it) */
                const char *said = strstr(r.message, "the run could not be marked");
                expect_true(said && !strstr(said + 1, "the run could not be marked"));
            }
        }
        check_consistent(path, 29, persistent);
        if (test_failures) {
            fprintf(stderr, "fault at step %llu\n", (unsigned long long)n);
            break;
        }
    }
    expect_true(completed);
    printf("fault injection (%s): %llu write points tested\n",
           persistent ? "persistent" : "once", (unsigned long long)(n - 2));
}

/* The bytes of the file at `path` (at most `cap`); their count. */
static size_t slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_true(f != NULL);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* Another application's database (tables, none of ours): refused by name
 * before anything changes it - no tables added, no switch to WAL. */
static void test_foreign(void)
{
    const char *path = "db_foreign.db";
    test_remove_db(path);
    sqlite3 *q;
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    assert_true(sqlite3_exec(q, "CREATE TABLE trips (who TEXT, km REAL);"
                                "INSERT INTO trips VALUES ('ann', 12.5)",
                             NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(q);
    static char before[1 << 16], after[1 << 16];
    size_t n = slurp(path, before, sizeof before);
    vdb *db;
    char err[512];
    expect_status(vdb_open(path, &db, err, sizeof err), VRAM_EIO);
    expect_true(db == NULL);
    expect_contains(err, path);
    expect_contains(err, "not a vramlab results database");
    expect_eq_u64(slurp(path, after, sizeof after), n);
    expect_true(memcmp(before, after, n) == 0);
    struct stat st;
    expect_true(stat("db_foreign.db-wal", &st) != 0);
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM sqlite_master"), 1);
    /* a meta table of its own, without our schema_version: refused too */
    assert_true(sqlite3_exec(q, "CREATE TABLE meta (key TEXT, value TEXT)", NULL, NULL, NULL) ==
                SQLITE_OK);
    sqlite3_close(q);
    expect_status(vdb_open(path, &db, err, sizeof err), VRAM_EIO);
    expect_contains(err, "its meta table has no schema_version");
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM sqlite_master"), 2);
    sqlite3_close(q);
}

int main(void)
{
    test_schema_documented();
    test_unwritable();
    test_corrupt();
    test_other_version();
    test_foreign();
    test_fault_injection(0);
    test_fault_injection(1);
    return test_finish("db");
}
