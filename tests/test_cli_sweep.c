/* test_cli_sweep - the sweep tool (docs/SWEEPS.md): a grid run both ways, on
 * local cores into one database and as emitted jobs run one by one, each into
 * its own database, then merged (sweep --merge) and reported together (report
 * A.db B.db ...); the runs of both ways hold the same rows but for ids and
 * timings. Bad grids fail before anything runs; SIGINT stops every replay,
 * whose runs are marked. */
#include <sqlite3.h>

#include "test_cli_lib.h"

#define TRACE_A CLI_DATA "small.trace"
#define TRACE_B CLI_DATA "report_mix.trace"
#define BIG_TRACE VRAM_SOURCE_DIR "/traces/llama70b.trace"
#define LOCAL_DB "cli_sweep_local.db"
#define JOB_DB "cli_sweep_job.db" /* the emitted jobs write cli_sweep_job-NNNN.db */
#define MERGED_DB "cli_sweep_merged.db"
#define JOBS "cli_sweep_jobs.txt"
#define RUNS 12 /* 2 traces x (tlsf x 2 capacities + caching x 2 capacities x 2 settings) */

/* The grid of the both-ways test, before the options that differ. */
#define GRID "--policy", "tlsf,caching", "--capacity", "64MiB,33554432", "--caching-conf", \
             "expandable_segments:True", "--caching-conf", "trace", TRACE_A, TRACE_B

static void remove_db(const char *path)
{
    char side[256];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}

static void job_db(size_t k, char *out, size_t len)
{
    snprintf(out, len, "cli_sweep_job-%04zu.db", k);
}

static void clean(void)
{
    char db[64];
    remove_db(LOCAL_DB);
    remove_db(MERGED_DB);
    remove(JOBS);
    for (size_t k = 1; k <= RUNS; k++) {
        job_db(k, db, sizeof db);
        remove_db(db);
    }
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void test_usage(void)
{
    CLI_EXPECT_HELP("sweep", "usage: sweep [options] TRACE...");
    CLI_EXPECT(0, TEXTS(""), "sweep", "--help");
    expect_true(strstr(cli_last.out, "--emit-jobs FILE") && strstr(cli_last.out, "--jobs N"));
}

/* Each bad grid exits 2 with its message, and nothing ran: no database. */
static void test_bad_grids(void)
{
    remove_db(LOCAL_DB);
    CLI_EXPECT(2, TEXTS("sweep: --policy: unknown policy \"firstfit\" (one of: bestfit"),
               "sweep", "--db", LOCAL_DB, "--policy", "tlsf,firstfit", TRACE_A);
    CLI_EXPECT(2, TEXTS("--capacity: \"64GB\" is not a byte count"), "sweep", "--db", LOCAL_DB,
               "--capacity", "64MiB,64GB", TRACE_A);
    CLI_EXPECT(2, TEXTS("--capacity: 0 is not a device size"), "sweep", "--db", LOCAL_DB,
               "--capacity", "0", TRACE_A);
    CLI_EXPECT(2, TEXTS("--capacity: 9223372036854775808 is not a device size"), "sweep", "--db",
               LOCAL_DB, "--capacity", "9223372036854775808", TRACE_A);
    CLI_EXPECT(2, TEXTS("--capacity: \"64MiB\" is given twice"), "sweep", "--db", LOCAL_DB,
               "--capacity", "64MiB,64MiB", TRACE_A);
    CLI_EXPECT(2, TEXTS("sweep: " CLI_DATA "no_such.trace: No such file or directory"), "sweep",
               "--db", LOCAL_DB, TRACE_A, CLI_DATA "no_such.trace");
    cli_write_file("cli_sweep_bad.trace", "vramtrace 9\n", 12);
    CLI_EXPECT(2, TEXTS("sweep: cli_sweep_bad.trace:1: "), "sweep", "--db", LOCAL_DB, TRACE_A,
               "cli_sweep_bad.trace");
    remove("cli_sweep_bad.trace");
    CLI_EXPECT(2, TEXTS("sweep: " CLI_DATA ": not a regular file"), "sweep", "--db", LOCAL_DB,
               CLI_DATA);
    CLI_EXPECT(2, TEXTS("--caching-conf: \"max_split_size_mb:x\""), "sweep", "--db", LOCAL_DB,
               "--caching-conf", "max_split_size_mb:x", TRACE_A);
    CLI_EXPECT(2, TEXTS("--caching-conf varies the caching policy's runs only, and --policy has"
                        " no caching"),
               "sweep", "--db", LOCAL_DB, "--policy", "tlsf", "--caching-conf",
               "expandable_segments:True", TRACE_A);
    CLI_EXPECT(2, TEXTS("sweep: --db after --: the sweep sets it itself"), "sweep", "--db",
               LOCAL_DB, TRACE_A, "--", "--db", "x.db");
    CLI_EXPECT(2, TEXTS("sweep: --policy=tlsf after --: the sweep sets it itself (give it before"
                        " --"),
               "sweep", "--db", LOCAL_DB, TRACE_A, "--", "--policy=tlsf");
    CLI_EXPECT(2, TEXTS("sweep: --jobs: \"0\" is not 1 to 1024"), "sweep", "--jobs", "0",
               TRACE_A);
    CLI_EXPECT(2, TEXTS("sweep: no TRACE given"), "sweep", "--db", LOCAL_DB);
    CLI_EXPECT(2, TEXTS("sweep: --replay ./no-such-replay: no such program to run"), "sweep",
               "--db", LOCAL_DB, "--replay", "./no-such-replay", TRACE_A);
    /* pool over a trace without KV blocks alone: no run at all */
    CLI_EXPECT(2, TEXTS("the grid holds no run: pool left out",
                        "without KV blocks (kv_block_bytes)"),
               "sweep", "--db", LOCAL_DB, "--policy", "pool", CLI_DATA "frag.trace");
    expect_true(!exists(LOCAL_DB));
    /* a replay option the replay refuses: the first job exits 2, no other starts */
    CLI_EXPECT(1, TEXTS("unknown option or missing value: --bogus",
                        "the replay refused its options (exit status 2)"),
               "sweep", "--db", LOCAL_DB, "--jobs", "1", "--policy", "tlsf,bestfit", TRACE_A, "--",
               "--bogus");
    expect_true(strstr(cli_last.err, "[1/2 done]") && !strstr(cli_last.err, "[2/2 done]"));
    remove_db(LOCAL_DB);
}

/* Runs `line` with sh -c; its exit status. */
static int run_sh(const char *line)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl("/bin/sh", "sh", "-c", line, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        assert_true(errno == EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The columns of `table` (in schema "l") that both ways must agree on: all
 * but the ids, the command line, the clock times and the measured timings
 * (names ending in _ns or _s), as SQL over alias t; NULL when none. */
static char *compared_columns(sqlite3 *h, const char *table)
{
    sqlite3_stmt *st;
    assert_true(sqlite3_prepare_v2(h, "SELECT name FROM pragma_table_info(?1, 'l')", -1, &st,
                                   NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_str *s = sqlite3_str_new(h);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        size_t n = strlen(c);
        if (!strcmp(c, "id") || !strcmp(c, "run_id") || !strcmp(c, "options") ||
            !strcmp(c, "started") || !strcmp(c, "ended") ||
            (n > 3 && !strcmp(c + n - 3, "_ns")) || (n > 2 && !strcmp(c + n - 2, "_s")))
            continue;
        sqlite3_str_appendf(s, ", t.\"%w\"", c);
    }
    sqlite3_finalize(st);
    return sqlite3_str_finish(s);
}

static int64_t count(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(h));
        assert_true(0);
    }
    assert_true(sqlite3_step(st) == SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Every table of the local sweep's database "l" against the merged jobs' "m":
 * each row keyed by its run's grid point instead of its id; the latency
 * buckets (timings) as the number of timed calls per op. */
static void compare_databases(const char *local, const char *merged)
{
    sqlite3 *h;
    assert_true(sqlite3_open(":memory:", &h) == SQLITE_OK);
    char *attach = sqlite3_mprintf("ATTACH %Q AS l; ATTACH %Q AS m", local, merged);
    assert_true(sqlite3_exec(h, attach, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_free(attach);
    expect_eq_u64(count(h, "SELECT count(*) FROM l.runs WHERE status = 'ok'"), RUNS);
    expect_eq_u64(count(h, "SELECT count(*) FROM m.runs WHERE status = 'ok'"), RUNS);
    expect_true(count(h, "SELECT count(*) FROM l.samples") > RUNS);
    sqlite3_stmt *tables;
    assert_true(sqlite3_prepare_v2(h, "SELECT name FROM l.sqlite_master WHERE type = 'table'"
                                      " AND name <> 'meta' ORDER BY name",
                                   -1, &tables, NULL) == SQLITE_OK);
    int compared = 0;
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(tables, 0);
        char *cols = compared_columns(h, table);
        const char *key = "r.trace || '|' || r.policy || '|' || r.capacity || '|' ||"
                          " coalesce(r.caching_conf, '-')";
        char *rows[2];
        for (int w = 0; w < 2; w++) {
            const char *db = w ? "m" : "l";
            if (!strcmp(table, "runs"))
                rows[w] = sqlite3_mprintf("SELECT %s AS k%s FROM %s.runs t JOIN %s.runs r ON"
                                          " r.id = t.id", key, cols ? cols : "", db, db);
            else if (!strcmp(table, "latency"))
                rows[w] = sqlite3_mprintf("SELECT %s AS k, t.op, sum(t.count) FROM %s.latency t"
                                          " JOIN %s.runs r ON r.id = t.run_id GROUP BY k, t.op",
                                          key, db, db);
            else
                rows[w] = sqlite3_mprintf("SELECT %s AS k%s FROM %s.\"%w\" t JOIN %s.runs r ON"
                                          " r.id = t.run_id", key, cols ? cols : "", db, table, db);
        }
        char *q[4] = {
            sqlite3_mprintf("SELECT count(*) FROM (%s)", rows[0]),
            sqlite3_mprintf("SELECT count(*) FROM (%s)", rows[1]),
            sqlite3_mprintf("SELECT count(*) FROM (%s EXCEPT %s)", rows[0], rows[1]),
            sqlite3_mprintf("SELECT count(*) FROM (%s EXCEPT %s)", rows[1], rows[0]),
        };
        int64_t n = count(h, q[0]);
        if (n != count(h, q[1]) || count(h, q[2]) || count(h, q[3])) {
            fprintf(stderr, "table %s differs between %s and %s:\n  %s\n", table, local,
                    merged, q[2]);
            test_failures++;
        }
        compared += n > 0;
        for (int i = 0; i < 4; i++)
            sqlite3_free(q[i]);
        sqlite3_free(rows[0]), sqlite3_free(rows[1]), sqlite3_free(cols);
    }
    sqlite3_finalize(tables);
    expect_true(compared >= 5); /* runs, samples, latency, latency_summary, bounds at least */
    sqlite3_close(h);
}

/* The grid both ways: on local cores, and as emitted jobs run one by one. */
static void test_both_ways(void)
{
    clean();
    CLI_EXPECT(0, TEXTS("sweep: 12 run(s) (2 traces x 2 policies x 2 capacities x 2"
                        " caching-confs), 2 at a time, into " LOCAL_DB,
                        "[12/12 done]", "12 ok, 0 failed; logged to " LOCAL_DB),
               "sweep", "--jobs", "2", "--db", LOCAL_DB, GRID, "--", "--sample-every", "7");
    CLI_EXPECT(0, TEXTS("sweep: 12 job(s) (2 traces x 2 policies x 2 capacities x 2"
                        " caching-confs) written to " JOBS),
               "sweep", "--emit-jobs", JOBS, "--db", JOB_DB, GRID, "--", "--sample-every", "7");
    FILE *f = fopen(JOBS, "r");
    assert_true(f != NULL);
    char line[4096], db[64];
    size_t k = 0;
    while (fgets(line, sizeof line, f)) {
        job_db(++k, db, sizeof db);
        expect_true(strstr(line, db) != NULL);
        expect_true(strstr(line, "--sample-every 7 ") != NULL);
        /* the caching settings vary the caching runs only: tlsf runs with the default */
        expect_true(!strstr(line, "--policy tlsf") || !strstr(line, "--caching-conf"));
        expect_eq_u64(run_sh(line), 0);
        expect_true(exists(db));
    }
    fclose(f);
    expect_eq_u64(k, RUNS);

    /* merged, then compared with the local sweep's database */
    const char *merge[3 + RUNS + 1] = {"sweep", "--merge", MERGED_DB};
    static char dbs[RUNS][64];
    for (size_t i = 0; i < RUNS; i++) {
        job_db(i + 1, dbs[i], sizeof dbs[i]);
        merge[3 + i] = dbs[i];
    }
    cli_check(__FILE__, __LINE__, 0, 0,
              TEXTS("sweep: cli_sweep_job-0001.db: runs 1 to 1 of " MERGED_DB,
                    "sweep: cli_sweep_job-0012.db: runs 12 to 12 of " MERGED_DB),
              merge);
    compare_databases(LOCAL_DB, MERGED_DB);

    /* report reads the jobs' databases as one */
    const char *report[] = {"report", dbs[0], dbs[1], dbs[2], dbs[3], dbs[4], dbs[5], dbs[6],
                            dbs[7], dbs[8], dbs[9], dbs[10], dbs[11], "-o", "cli_sweep_report",
                            "--runs", "1,2,3,4,5,6,7,8,9,10,11,12", NULL};
    setenv("VREPORT_GNUPLOT", "./no-such-gnuplot", 1); /* the figures are not the point */
    cli_check(__FILE__, __LINE__, 0, 0,
              TEXTS("report: note: cli_sweep_job-0007.db: its runs are runs 7 to 7 here"),
              report);
    expect_true(strstr(cli_last.out, "report: 12 run(s) -> cli_sweep_report/index.html") != NULL);
    char summary[CLI_OUT_MAX];
    cli_slurp("cli_sweep_report/summary.md", summary);
    expect_true(strstr(summary, "(cli_sweep_job-0001.db + 11 more)") != NULL);
    expect_true(strstr(summary, "caching#12") != NULL);
    /* a database that is not one, among them: named */
    CLI_EXPECT(1, TEXTS("report: no_such.db: cannot read the database"), "report", dbs[0],
               "no_such.db", "-o", "cli_sweep_report");
    CLI_EXPECT(1, TEXTS("sweep: --merge: " JOBS ": cannot open: file is not a database"), "sweep",
               "--merge", MERGED_DB, JOBS);
    CLI_EXPECT(1, TEXTS("sweep: --merge: " MERGED_DB ": the destination itself"), "sweep",
               "--merge", MERGED_DB, dbs[0], MERGED_DB);
    CLI_EXPECT(1, TEXTS("sweep: --merge: no_such.db: cannot read the database"), "sweep",
               "--merge", LOCAL_DB, dbs[0], "no_such.db");
    /* into a database holding runs: numbered after them, whole sources only */
    CLI_EXPECT(0, TEXTS("sweep: cli_sweep_job-0002.db: runs 13 to 13 of " LOCAL_DB,
                        "sweep: cli_sweep_job-0003.db: runs 14 to 14 of " LOCAL_DB),
               "sweep", "--merge", LOCAL_DB, dbs[1], dbs[2]);
    clean();
}

/* SIGINT to the sweep alone (not its process group, as a terminal would):
 * passed to both running replays, which mark their runs; none is left
 * unmarked and the rest are not started. */
static void test_sigint(void)
{
    remove_db(LOCAL_DB);
    const char *argv[] = {"sweep", "--jobs", "2", "--db", LOCAL_DB, "--policy",
                          "tlsf,bestfit,caching", "--capacity", "trace,64GiB", BIG_TRACE, "--",
                          "--check-every", "20000", NULL};
    pid_t pid = cli_start(0, argv);
    sqlite3 *h = NULL;
    int running = 0;
    for (int i = 0; i < 6000 && running < 2 && cli_running(pid); i++) {
        if (!h && exists(LOCAL_DB) && sqlite3_open_v2(LOCAL_DB, &h, SQLITE_OPEN_READONLY,
                                                      NULL) != SQLITE_OK) {
            sqlite3_close(h);
            h = NULL;
        }
        sqlite3_stmt *st = NULL;
        if (h && sqlite3_prepare_v2(h, "SELECT count(*) FROM runs WHERE ended IS NULL", -1, &st,
                                    NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            running = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        usleep(10000);
    }
    expect_eq_u64(running, 2);
    kill(pid, SIGINT);
    expect_eq_u64(cli_wait(pid), 130);
    expect_true(strstr(cli_last.err, "sweep: SIGINT: passing it to the 2 running replay(s)"));
    /* both were running; another may have ended before (a slow bounds pass) */
    expect_true(strstr(cli_last.err, "sweep: stopped by SIGINT: 2 run(s) stopped (marked"
                                     " \"interrupted\" in " LOCAL_DB " by their replay), "));
    expect_true(strstr(cli_last.err, " not started, ") && strstr(cli_last.err, ", 0 failed\n"));
    expect_true(!strstr(cli_last.err, "Sanitizer") && !strstr(cli_last.err, "runtime error"));
    if (h) {
        sqlite3_stmt *st;
        assert_true(sqlite3_prepare_v2(h, "SELECT count(*), sum(status = 'interrupted'),"
                                          " sum(status = 'ok'), sum(ended IS NULL) FROM runs",
                                       -1, &st, NULL) == SQLITE_OK);
        assert_true(sqlite3_step(st) == SQLITE_ROW);
        expect_eq_u64(sqlite3_column_int(st, 1), 2);
        expect_eq_u64(sqlite3_column_int(st, 0), 2 + sqlite3_column_int(st, 2));
        expect_eq_u64(sqlite3_column_int(st, 3), 0);
        expect_true(sqlite3_column_int(st, 0) < 6);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    remove_db(LOCAL_DB);
}

int main(void)
{
    test_usage();
    test_bad_grids();
    test_both_ways();
    test_sigint();
    return test_finish("cli_sweep");
}
