/* test_db.c - the results database: the documented schema is the one written,
 * unwritable, corrupt and foreign files get a clear error naming them, and a write that
 * fails at any point (fault injection at step 1, 2, 3, ...) leaves every run
 * either complete and "ok" or marked failed with a prefix of its rows. */
#include <errno.h>
#include <grp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_db_lib.h"

#define DATA VRAM_SOURCE_DIR "/tests/data/"

static void test_schema_documented(void)
{
    FILE *f = fopen(VRAM_SOURCE_DIR "/sim/results/schema.sql", "rb");
    assert_true(f != NULL);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    if (strcmp(text, vdb_schema_sql()) != 0) {
        fprintf(stderr, "FAILED: sim/results/schema.sql differs from vdb_schema_sql() in sim/results/db.c\n");
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

/* Runs fn as a user without write permission where root has it: as root, in
 * a child that becomes nobody (65534), whose failures count here; else here. */
static void as_unprivileged(void (*fn)(void))
{
    if (geteuid() != 0) {
        fn();
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        fn();
        fflush(NULL);
        _exit(test_failures ? 1 : 0);
    }
    int st;
    assert_true(waitpid(pid, &st, 0) == pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "FAILED: the unprivileged part (exit %d)\n",
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        test_failures++;
    }
}

static int exists(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0;
}

/* What an unprivileged user is told (issue 13, item 6): a directory it cannot
 * write names the directory and the reason, not SQLite's "unable to open
 * database file"; a read-only database is refused before SQLite opens it, so
 * no -wal or -shm file is left beside it; a writable database in a directory
 * that cannot take its WAL files is refused by name, left as it was. */
static void readonly_cases(void)
{
    vdb *db = NULL;
    char err[1024];
    expect_status(vdb_open("db_ro_dir/new.db", &db, err, sizeof err), VRAM_EIO);
    expect_contains(err, "db_ro_dir/new.db: cannot create the database: the directory db_ro_dir"
                         " is not writable (Permission denied)");
    expect_true(!exists("db_ro_dir/new.db"));

    expect_status(vdb_open("db_ro_file/x.db", &db, err, sizeof err), VRAM_EIO);
    expect_contains(err, "db_ro_file/x.db: the database file is read-only (Permission denied)");
    expect_true(!exists("db_ro_file/x.db-wal") && !exists("db_ro_file/x.db-shm"));

    expect_status(vdb_open("db_ro_dir/x.db", &db, err, sizeof err), VRAM_EIO);
    expect_contains(err, "db_ro_dir/x.db: cannot write beside the database: the directory"
                         " db_ro_dir is not writable (Permission denied)");
    expect_contains(err, "db_ro_dir/x.db-wal");
    expect_true(!exists("db_ro_dir/x.db-wal") && !exists("db_ro_dir/x.db-shm"));
}

static void test_readonly(void)
{
    char err[512];
    vdb *db;
    /* a read-only directory holding a writable database, and a writable one
     * holding a read-only database */
    chmod("db_ro_dir", 0755);
    test_remove_db("db_ro_dir/x.db");
    test_remove_db("db_ro_file/x.db");
    mkdir("db_ro_dir", 0755);
    mkdir("db_ro_file", 0777);
    assert_true(chmod("db_ro_file", 0777) == 0);
    assert_ok(vdb_open("db_ro_dir/x.db", &db, err, sizeof err));
    assert_ok(vdb_close(db, err, sizeof err));
    assert_ok(vdb_open("db_ro_file/x.db", &db, err, sizeof err));
    assert_ok(vdb_close(db, err, sizeof err));
    assert_true(!exists("db_ro_file/x.db-wal") && !exists("db_ro_file/x.db-shm"));
    assert_true(chmod("db_ro_dir/x.db", 0666) == 0 && chmod("db_ro_dir", 0555) == 0);
    assert_true(chmod("db_ro_file/x.db", 0444) == 0);
    as_unprivileged(readonly_cases);
    chmod("db_ro_dir", 0755);
}

static uint64_t ms_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* A child process that holds the database's write lock (BEGIN IMMEDIATE) for
 * `ms` milliseconds; returns once it holds it. */
static pid_t hold_lock(const char *path, unsigned ms)
{
    int fd[2];
    assert_true(pipe(fd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        sqlite3 *q;
        if (sqlite3_open(path, &q) != SQLITE_OK ||
            sqlite3_exec(q, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            _exit(1);
        if (write(fd[1], "x", 1) != 1)
            _exit(1);
        struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&t, NULL);
        sqlite3_exec(q, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(q);
        _exit(0);
    }
    close(fd[1]);
    char c;
    assert_true(read(fd[0], &c, 1) == 1);
    close(fd[0]);
    return pid;
}

static void wait_child(pid_t pid)
{
    int st;
    assert_true(waitpid(pid, &st, 0) == pid);
    expect_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Another writer holding the lock (issue 13, item 1): the open and a run's
 * first row wait for it with back-off and go on when it is released; a lock
 * held past the limit fails the write with "database is locked" and how long
 * was waited, and the handle is failed from then on. */
static void test_busy(void)
{
    const char *path = "db_busy.db";
    test_remove_db(path);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    assert_ok(vdb_close(db, err, sizeof err));

    pid_t holder = hold_lock(path, 300);
    uint64_t t0 = ms_now();
    assert_ok(vdb_open(path, &db, err, sizeof err)); /* the schema's BEGIN IMMEDIATE waits */
    uint64_t waited = ms_now() - t0;
    expect_true(waited >= 200);
    wait_child(holder);

    vdb_run_info info = {.trace = "t", .policy = "bestfit", .backend = "sim", .capacity = 1};
    int64_t run;
    holder = hold_lock(path, 300);
    t0 = ms_now();
    assert_ok(vdb_run_begin(db, &info, &run)); /* waits, then inserts */
    expect_true(ms_now() - t0 >= 200);
    wait_child(holder);
    assert_ok(vdb_run_end(db, run, "ok", NULL, NULL));

    vdb_set_busy_timeout(db, 100);
    holder = hold_lock(path, 1500);
    t0 = ms_now();
    expect_status(vdb_run_begin(db, &info, &run), VRAM_EIO);
    waited = ms_now() - t0;
    expect_true(waited >= 100 && waited < 1000);
    expect_contains(vdb_error(db), path);
    expect_contains(vdb_error(db), "database is locked (other writers held it for more than"
                                   " 0.1 s, the limit on waiting)");
    wait_child(holder);
    expect_status(vdb_close(db, err, sizeof err), VRAM_EIO); /* the handle failed */
    expect_contains(err, "database is locked");
    sqlite3 *q = test_open_db(path);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE status = 'ok' AND ended IS NOT NULL"),
                  1);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs"), 1);
    sqlite3_close(q);
}

int main(void)
{
    test_schema_documented();
    test_unwritable();
    test_corrupt();
    test_other_version();
    test_foreign();
    test_readonly();
    test_busy();
    test_fault_injection(0);
    test_fault_injection(1);
    return test_finish("db");
}
