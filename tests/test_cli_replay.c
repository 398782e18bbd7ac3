/* test_cli_replay.c - `replay` on bad input: every malformed or inconsistent
 * trace (tests/data/bad_*.trace), unreadable trace files, and results databases
 * that cannot be used (unwritable, corrupt, another application's, a full disk)
 * give a message naming the file (and line or value), a non-zero exit, no
 * crash, and leave every logged run marked. */
#include <sqlite3.h>
#include <time.h>
#include <zlib.h>

#include "test_cli_lib.h"
#include "test_db_lib.h"

#define SMALL CLI_DATA "small.trace"

static void test_usage(void)
{
    CLI_EXPECT_HELP("replay", "usage: replay");
    CLI_EXPECT(2, TEXTS("no TRACE given"), "replay");
    CLI_EXPECT(2, TEXTS("--batch"), "replay", "--batch", "many", SMALL);
}

/* Traces the reader refuses, or the replayer finds inconsistent: exit 1, file:line. */
static void test_bad_traces(void)
{
    static const struct {
        const char *file, *says;
    } cases[] = {
        {"bad_zero_size.trace", "bad_zero_size.trace:6: SIZE 0 out of range"},
        {"bad_size_2p63.trace", "bad_size_2p63.trace:6: SIZE 9223372036854775808 out of range"},
        {"bad_unknown_free.trace", "bad_unknown_free.trace:7: free of id 7, which is not live"},
        {"bad_unknown_use.trace", "bad_unknown_use.trace:7: use of id 7, which is not live"},
        {"bad_double_free.trace", "bad_double_free.trace:8: free of id 1, which is not live"},
        {"bad_duplicate_alloc.trace", "bad_duplicate_alloc.trace:7: alloc of id 1, which is already live"},
        {"bad_release_unheld.trace",
         "bad_release_unheld.trace:7: release of key \"w:never\", which is not held"},
        {"bad_acquire_size.trace",
         "bad_acquire_size.trace:7: acquire of key \"w:a\" with size 8192, held with size 4096"},
        {"malformed.trace", "malformed.trace:8:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", CLI_DATA, cases[i].file);
        CLI_EXPECT(1, TEXTS(cases[i].says), "replay", "--no-db", "--quiet", path);
    }
}

/* Files that are not traces: exit 1 naming the file and the reason. */
static void test_bad_files(void)
{
    cli_write_file("cli_replay_empty.trace", "", 0);
    CLI_EXPECT(1, TEXTS("cli_replay_empty.trace:1: empty file"), "replay", "--no-db",
               "cli_replay_empty.trace");
    cli_write_garbage("cli_replay_garbage.trace", 3000, 42);
    CLI_EXPECT(1, TEXTS("cli_replay_garbage.trace:1: NUL byte in the line"), "replay", "--no-db",
               "cli_replay_garbage.trace");
    cli_make_dir("cli_replay_dir.trace");
    CLI_EXPECT(1, TEXTS("cli_replay_dir.trace", "Is a directory"), "replay", "--no-db",
               "cli_replay_dir.trace");
    CLI_EXPECT(1, TEXTS("cli_replay_missing.trace: cannot open: No such file or directory"), "replay",
               "--no-db", "cli_replay_missing.trace");
    /* a pipe or a device: read once per policy, it would be empty from the second
     * pass on ("empty file"); refused up front, nothing logged */
    CLI_EXPECT(1, TEXTS("replay: /dev/null: not a regular file"), "replay", "--no-db", "/dev/null");
    remove("cli_replay_fifo.trace");
    assert_true(mkfifo("cli_replay_fifo.trace", 0600) == 0);
    test_remove_db("cli_replay_fifo.db");
    CLI_EXPECT(1, TEXTS("replay: cli_replay_fifo.trace: not a regular file: the trace is read once"
                        " per policy; save it to a file first"),
               "replay", "--db", "cli_replay_fifo.db", "cli_replay_fifo.trace");
    expect_true(access("cli_replay_fifo.db", F_OK) != 0);
    remove("cli_replay_fifo.trace");

    /* a gzip trace cut short: the reader names the file and the line it reached */
    gzFile gz = gzopen("cli_replay_full.trace.gz", "wb9");
    assert_true(gz);
    FILE *f = fopen(SMALL, "rb");
    assert_true(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 0 && gzwrite(gz, buf, (unsigned)n) == (int)n && gzclose(gz) == Z_OK);
    cli_write_prefix("cli_replay_cut.trace.gz", "cli_replay_full.trace.gz", 200);
    CLI_EXPECT(1, TEXTS("cli_replay_cut.trace.gz:", "unexpected end of file"), "replay", "--no-db",
               "cli_replay_cut.trace.gz");
}

/* An allocation larger than the device is not malformed: the policy refuses it,
 * the run counts it ("refused"), the database keeps it with its line, and a
 * warning on stderr and the summary name its file:line; exit 0. */
static void test_size_over_capacity(void)
{
    test_remove_db("cli_replay_big.db");
    CLI_EXPECT(0, TEXTS("replay: warning: " CLI_DATA "bad_size_over_capacity.trace:6: a request of"
                        " 9223372036854775807 bytes is larger than the device (1048576 bytes)"),
               "replay", "--quiet", "--policy", "bestfit,tlsf", "--db", "cli_replay_big.db",
               CLI_DATA "bad_size_over_capacity.trace");
    /* once, not once per policy */
    const char *w = strstr(cli_last.err, "is larger than the device");
    expect_true(w && !strstr(w + 1, "is larger than the device"));
    expect_true(strstr(cli_last.out, "1 request larger than the device (1.000 MiB), first at " CLI_DATA
                                     "bad_size_over_capacity.trace:6") != NULL);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_true(sqlite3_open("cli_replay_big.db", &db) == SQLITE_OK);
    assert_true(sqlite3_prepare_v2(db,
                                   "SELECT e.line, e.size, r.errors FROM events e JOIN runs r"
                                   " ON r.id = e.run_id WHERE e.kind = 'error' AND r.id = 1",
                                   -1, &st, NULL) == SQLITE_OK);
    assert_true(sqlite3_step(st) == SQLITE_ROW);
    expect_eq_u64(sqlite3_column_int64(st, 0), 6);
    expect_eq_u64(sqlite3_column_int64(st, 1), INT64_MAX);
    expect_eq_u64(sqlite3_column_int64(st, 2), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* The invariant checks run by default (every 250000 events and after the
 * last): runs.check_every says so; --check-every 0 turns them off. */
static void test_check_every_default(void)
{
    test_remove_db("cli_replay_checks.db");
    CLI_EXPECT(0, TEXTS(""), "replay", "--quiet", "--policy", "bestfit", "--db",
               "cli_replay_checks.db", SMALL);
    CLI_EXPECT(0, TEXTS(""), "replay", "--quiet", "--policy", "bestfit", "--check-every", "0",
               "--db", "cli_replay_checks.db", SMALL);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_true(sqlite3_open("cli_replay_checks.db", &db) == SQLITE_OK);
    assert_true(sqlite3_prepare_v2(db, "SELECT check_every FROM runs ORDER BY id", -1, &st, NULL) ==
                SQLITE_OK);
    expect_true(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == 250000);
    expect_true(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    CLI_EXPECT_HELP("replay", "(default 250000");
}

/* The number of runs in the database at `path` with this status. */
static int64_t count_runs(const char *path, const char *status)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_true(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    assert_true(sqlite3_prepare_v2(db, "SELECT count(*) FROM runs WHERE status = ?1", -1, &st, NULL) ==
                SQLITE_OK);
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    assert_true(sqlite3_step(st) == SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* SQLite keeps /dev/full's journal beside it: remove it only if it is the
 * small regular file SQLite made. */
static void remove_dev_full_journal(void)
{
    static const char *const names[] = {"/dev/full-journal", "/dev/full-wal", "/dev/full-shm"};
    for (size_t i = 0; i < 3; i++) {
        struct stat s;
        if (lstat(names[i], &s) == 0 && S_ISREG(s.st_mode) && s.st_size <= (1 << 20))
            remove(names[i]);
    }
}

static void test_bad_databases(void)
{
    cli_write_file("cli_replay_notdir", "x", 1);
    CLI_EXPECT(1, TEXTS("cli_replay_notdir/x.db", "cannot open or create the database"), "replay",
               "--quiet", "--db", "cli_replay_notdir/x.db", SMALL);
    if (cli_make_readonly_dir("cli_replay_ro"))
        CLI_EXPECT(1, TEXTS("cli_replay_ro/x.db"), "replay", "--quiet", "--db", "cli_replay_ro/x.db", SMALL);
    cli_make_dir("cli_replay_dir.db");
    CLI_EXPECT(1, TEXTS("cli_replay_dir.db"), "replay", "--quiet", "--db", "cli_replay_dir.db", SMALL);

    cli_write_garbage("cli_replay_corrupt.db", 4096, 7);
    CLI_EXPECT(1, TEXTS("cli_replay_corrupt.db", "file is not a database"), "replay", "--quiet", "--db",
               "cli_replay_corrupt.db", SMALL);

    /* another application's database, nothing of ours in it: refused by name, the
     * file left as it was (no tables added, not switched to WAL) */
    test_remove_db("cli_replay_trips.db");
    sqlite3 *db;
    assert_true(sqlite3_open("cli_replay_trips.db", &db) == SQLITE_OK);
    assert_true(sqlite3_exec(db, "CREATE TABLE trips (who TEXT, km REAL)", NULL, NULL, NULL) ==
                SQLITE_OK);
    sqlite3_close(db);
    struct stat before, after;
    assert_true(stat("cli_replay_trips.db", &before) == 0);
    CLI_EXPECT(1, TEXTS("cli_replay_trips.db: not a vramlab results database"), "replay", "--quiet",
               "--db", "cli_replay_trips.db", SMALL);
    assert_true(stat("cli_replay_trips.db", &after) == 0);
    expect_eq_u64(after.st_size, before.st_size);
    expect_true(after.st_mtime == before.st_mtime);
    expect_true(access("cli_replay_trips.db-wal", F_OK) != 0);
    assert_true(sqlite3_open_v2("cli_replay_trips.db", &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *st;
    assert_true(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) ==
                SQLITE_OK);
    expect_true(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == 1);
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* another application's database, with a table named like ours */
    test_remove_db("cli_replay_other.db");
    assert_true(sqlite3_open("cli_replay_other.db", &db) == SQLITE_OK);
    assert_true(sqlite3_exec(db, "CREATE TABLE runs (who TEXT, km REAL)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CLI_EXPECT(1, TEXTS("cli_replay_other.db"), "replay", "--quiet", "--db", "cli_replay_other.db", SMALL);

    /* /dev/full: every write fails with ENOSPC ("database or disk is full"; a user
     * who cannot make /dev/full-journal gets "attempt to write a readonly database") */
    CLI_EXPECT(1, TEXTS("/dev/full: cannot use the database: "), "replay", "--quiet", "--db", "/dev/full",
               SMALL);
    remove_dev_full_journal();
}

/* The times `what` occurs in `text`. */
static int occurrences(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* A disk that fills during the runs (files limited to some KiB): exit 1 naming
 * the database; no run reads 'ok' or 'running': each is marked failed, or -
 * when even that write failed - reads 'failed' as inserted (not finished), and
 * the message says so once. */
static void test_disk_full(void)
{
    static const long limits_kib[] = {128, 200, 256, 512, 1024};
    for (size_t i = 0; i < sizeof limits_kib / sizeof limits_kib[0]; i++) {
        test_remove_db("cli_replay_full.db");
        CLI_EXPECT_FULL(limits_kib[i], 1, TEXTS("cli_replay_full.db"), "replay", "--quiet",
                        "--jobs", "1", "--no-belady", "--sample-every", "1", "--batch", "64", "--db",
                        "cli_replay_full.db", VRAM_SOURCE_DIR "/traces/llama70b-contig.trace");
        expect_true(occurrences(cli_last.err, "the run could not be marked") <= 1);
        /* never "logged to" after the database failed (issue 13, item 6) */
        expect_true(strstr(cli_last.out, "logged to") == NULL);
        expect_true(strstr(cli_last.err, "cli_replay_full.db: the database failed") != NULL);
        if (access("cli_replay_full.db", F_OK) != 0)
            continue; /* not even the schema fit */
        expect_eq_u64(count_runs("cli_replay_full.db", "running"), 0);
        expect_eq_u64(count_runs("cli_replay_full.db", "ok"), 0);
    }
}

/* 1 when the database at `path` exists and holds a run (in any state). */
static int run_logged(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    int found = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
                sqlite3_prepare_v2(db, "SELECT 1 FROM runs", -1, &st, NULL) == SQLITE_OK &&
                sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

/* SIGTERM (kill, timeout, a cancelled CI job) ends the run like Ctrl-C: marked
 * "interrupted" with the line reached, exit 143. A machine that replays the
 * whole trace before the signal arrives shows nothing, and is told so. */
static void test_terminated(void)
{
    test_remove_db("cli_replay_term.db");
    const char *const argv[] = {"replay", "--quiet", "--jobs", "1", "--sample-every", "1",
                                "--check-every", "1", "--db", "cli_replay_term.db",
                                VRAM_SOURCE_DIR "/traces/llama70b.trace", NULL};
    pid_t pid = cli_start(0, argv);
    /* signal once the first run is logged: the handler is in place by then */
    struct timespec pause = {0, 20 * 1000 * 1000};
    for (int i = 0; i < 1500 && !run_logged("cli_replay_term.db") && cli_running(pid); i++)
        nanosleep(&pause, NULL);
    kill(pid, SIGTERM);
    int st = cli_wait(pid);
    if (st == 0) {
        printf("cli_replay: the replay ended before SIGTERM; not checked\n");
        return;
    }
    expect_eq_u64(st, 128 + SIGTERM);
    expect_true(strstr(cli_last.err, "stopped by SIGTERM") != NULL);
    expect_eq_u64(count_runs("cli_replay_term.db", "running"), 0);
    expect_true(count_runs("cli_replay_term.db", "interrupted") <= 1);
}

/* A copy of small.trace with its header's capacity replaced. */
static void small_with_capacity(const char *path, const char *capacity)
{
    static char text[1 << 16];
    cli_slurp(SMALL, text);
    char *cap = strstr(text, "\ncapacity ");
    assert_true(cap != NULL);
    char *eol = strchr(cap + 1, '\n');
    static char out[1 << 16];
    int n = snprintf(out, sizeof out, "%.*s\ncapacity %s%s", (int)(cap - text), text, capacity, eol);
    cli_write_file(path, out, (size_t)n);
}

/* A replay in which no policy ran (issue 13, item 3): capacities FORMAT.md
 * allows that no heap accepts, or a tensor cache of the whole device: exit 1,
 * one line per policy saying why, nothing logged, no "logged to". */
static void test_no_policy_ran(void)
{
    static const char *const capacities[] = {"1", "255", "1125899906842624",
                                             "9223372036854775807"};
    for (size_t i = 0; i < sizeof capacities / sizeof capacities[0]; i++) {
        small_with_capacity("cli_replay_cap.trace", capacities[i]);
        test_remove_db("cli_replay_cap.db");
        char last[160];
        snprintf(last, sizeof last, "replay: no policy could run cli_replay_cap.trace (a device of"
                 " %s bytes): nothing was replayed or logged", capacities[i]);
        CLI_EXPECT(1, TEXTS("replay: bestfit: not run: ", "replay: buddy: not run: ",
                            "replay: tlsf: not run: ", "replay: pool: not run: ",
                            "replay: caching: not run: ", last),
                   "replay", "--quiet", "--db", "cli_replay_cap.db", "cli_replay_cap.trace");
        expect_true(strstr(cli_last.out, "logged to") == NULL);
        expect_eq_u64(count_runs("cli_replay_cap.db", "ok") + count_runs("cli_replay_cap.db", "failed"),
                      0);
    }
    CLI_EXPECT(1, TEXTS("replay: tlsf: not run: ", "no policy could run"), "replay", "--quiet",
               "--no-db", "--policy", "tlsf", "--capacity", "1125899906842624", SMALL);
    CLI_EXPECT(1, TEXTS("replay: bestfit: not run: tensor cache: 67108864 bytes is not a multiple"
                        " of 256 below the device's 67108864"),
               "replay", "--quiet", "--no-db", "--policy", "bestfit", "--tensor-cache", "67108864",
               SMALL);

    /* the pool layout's message: the lanes' bytes and what the non-KV lane
     * needs, never a bare count larger than the device */
    static const char big_other[] = "vramtrace 1\nmodel test\nengine paged\ncapacity 1048576\n"
                                    "kv_block_bytes 65536\n"
                                    "alloc 1 9223372036854775807 0 activation 1\nfree 1\n";
    cli_write_file("cli_replay_pool.trace", big_other, sizeof big_other - 1);
    CLI_EXPECT(0, TEXTS(""), "replay", "--wide", "--quiet", "--no-db", "--policy", "pool,bestfit",
               "cli_replay_pool.trace");
    expect_true(strstr(cli_last.out, "| pool | n/a: pool: no room for a KV block of 65536 B: the"
                                     " lanes have 1048576 B of the device and the non-KV lane"
                                     " needs 9799832789158199296 B (peak other live"
                                     " 9223372036854775807 B + 1/16, in whole blocks)") != NULL);
    small_with_capacity("cli_replay_cap.trace", "1");
    CLI_EXPECT(1, TEXTS("replay: pool: not run: pool: no room for a KV block of 65536 B: the lanes"
                        " have 1 B of the device and the non-KV lane needs "),
               "replay", "--quiet", "--no-db", "--policy", "pool", "cli_replay_cap.trace");
}

/* Runs the tool as nobody when this test runs as root (permissions do not
 * stop root); its exit status. */
static int run_unprivileged(const char *const *argv)
{
    char tool[1024], out_path[64], err_path[64];
    snprintf(tool, sizeof tool, "%s%s", CLI_BIN, argv[0]);
    cli_capture_paths(out_path, err_path);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0)
            _exit(126);
        dup2(out, 1);
        dup2(err, 2);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(126);
        execv(tool, (char *const *)argv);
        _exit(127);
    }
    return cli_wait(pid);
}

/* Databases that cannot be written (issue 13, item 6): each message names
 * the file or directory and the reason, and nothing is left beside it. */
static void test_readonly_databases(void)
{
    chmod("cli_replay_rodir", 0755);
    test_remove_db("cli_replay_rodir/x.db");
    cli_make_dir("cli_replay_rodir");
    assert_true(chmod("cli_replay_rodir", 0555) == 0);
    const char *const in_ro_dir[] = {"replay", "--quiet", "--db", "cli_replay_rodir/x.db", SMALL,
                                     NULL};
    expect_eq_u64(run_unprivileged(in_ro_dir), 1);
    expect_true(strstr(cli_last.err, "replay: cli_replay_rodir/x.db: cannot create the database:"
                                     " the directory cli_replay_rodir is not writable (Permission"
                                     " denied)") != NULL);
    chmod("cli_replay_rodir", 0755);

    cli_make_dir("cli_replay_rofile");
    assert_true(chmod("cli_replay_rofile", 0777) == 0);
    test_remove_db("cli_replay_rofile/x.db");
    CLI_EXPECT(0, TEXTS(""), "replay", "--quiet", "--policy", "bestfit", "--db",
               "cli_replay_rofile/x.db", SMALL);
    assert_true(chmod("cli_replay_rofile/x.db", 0444) == 0);
    const char *const ro_file[] = {"replay", "--quiet", "--db", "cli_replay_rofile/x.db", SMALL,
                                   NULL};
    expect_eq_u64(run_unprivileged(ro_file), 1);
    expect_true(strstr(cli_last.err, "replay: cli_replay_rofile/x.db: the database file is"
                                     " read-only (Permission denied)") != NULL);
    expect_true(strstr(cli_last.err, "cannot create the schema") == NULL);
    expect_true(!cli_exists("cli_replay_rofile/x.db-wal") &&
                !cli_exists("cli_replay_rofile/x.db-shm"));
    expect_eq_u64(count_runs("cli_replay_rofile/x.db", "ok"), 1);
}

int main(void)
{
    test_usage();
    test_bad_traces();
    test_bad_files();
    test_size_over_capacity();
    test_check_every_default();
    test_bad_databases();
    test_disk_full();
    test_no_policy_ran();
    test_readonly_databases();
    test_terminated();
    return test_finish("cli_replay");
}
