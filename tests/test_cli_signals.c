/* test_cli_signals.c - SIGINT and SIGTERM in every phase of `replay` and
 * `report` (issue 13, item 2; docs/RELIABILITY.md, "Exit status" and "What the
 * database holds after a failure"): each stops within a second, exits 128 + N
 * (130, 143), leaves every run it started marked, and says only what is true.
 * SIGTERM is sent twice a millisecond apart, as timeout(1) does (the process,
 * then its group): the second must not kill the process before the run is
 * marked.
 *
 * Phases: the bounds pass (a synthetic trace of 4M events written here, whose
 * pass takes about a second), a run of each policy (bestfit, buddy, tlsf, pool,
 * caching, on traces/llama70b.trace), a run without a database, and the
 * report in the heap map's replay and in gnuplot (a stand-in that sleeps). */
#include <sqlite3.h>
#include <time.h>
#include <zlib.h>

#include "test_cli_lib.h"
#include "test_db_lib.h"

#define DB "cli_signals.db"
#define BIG "cli_signals_big.trace"
#define LLAMA VRAM_SOURCE_DIR "/traces/llama70b.trace"
#define OUT "cli_signals_out"
#define BIG_EVENTS 4000000u

static uint64_t ms_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* A gzip trace of BIG_EVENTS events: 64 KiB KV blocks, 64 live at a time. */
static void write_big_trace(void)
{
    gzFile gz = gzopen(BIG, "wb1");
    assert_true(gz != NULL);
    static char buf[1 << 20];
    size_t used = (size_t)snprintf(buf, sizeof buf,
                                   "vramtrace 1\nmodel synthetic\nengine paged\n"
                                   "capacity 67108864\nkv_block_bytes 65536\n");
    uint64_t events = 0;
    for (uint64_t id = 1; events < BIG_EVENTS; id++) {
        if (used > sizeof buf - 128) {
            assert_true(gzwrite(gz, buf, (unsigned)used) == (int)used);
            used = 0;
        }
        used += (size_t)snprintf(buf + used, sizeof buf - used, "alloc %llu 65536 0 kv 1\n",
                                 (unsigned long long)id);
        events++;
        if (id > 64 && events < BIG_EVENTS) {
            used += (size_t)snprintf(buf + used, sizeof buf - used, "free %llu\n",
                                     (unsigned long long)(id - 64));
            events++;
        }
    }
    assert_true(gzwrite(gz, buf, (unsigned)used) == (int)used);
    assert_true(gzclose(gz) == Z_OK);
}

/* The number of runs of the database matching the SQL condition `where`; 0
 * when there is no database or no runs table yet. */
static int64_t runs_where(const char *where)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE %s", where);
    int64_t n = 0;
    if (access(DB, F_OK) == 0 && sqlite3_open_v2(DB, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 2000);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    return n;
}

/* Sends `sig` (twice, 1 ms apart, with `twice`), waits for the tool, and
 * checks it exited 128 + sig within a second. */
static void stop_and_check(pid_t pid, int sig, int twice, const char *what)
{
    uint64_t t0 = ms_now();
    kill(pid, sig);
    if (twice) {
        sleep_ms(1);
        kill(pid, sig);
    }
    int st = cli_wait(pid);
    uint64_t took = ms_now() - t0;
    printf("cli_signals: %s: %s%s, exit %d after %llu ms\n", what, sig == SIGINT ? "SIGINT" : "SIGTERM",
           twice ? " twice" : "", st, (unsigned long long)took);
    if (st != 128 + sig || took >= 1000) {
        fprintf(stderr, "FAILED: %s: exit %d after %llu ms (wanted %d within 1000 ms); stderr:\n%s\n",
                what, st, (unsigned long long)took, 128 + sig, cli_last.err);
        test_failures++;
    }
    expect_true(!strstr(cli_last.err, "Sanitizer") && !strstr(cli_last.err, "runtime error:"));
}

static void expect_err(const char *text)
{
    if (!strstr(cli_last.err, text)) {
        fprintf(stderr, "FAILED: stderr lacks \"%s\"; it is:\n%s\n", text, cli_last.err);
        test_failures++;
    }
}

/* The bounds pass (it reads the whole trace before any run): stopped within a
 * second, no run started and none logged, and said so. */
static void test_bounds_pass(int sig, int twice)
{
    test_remove_db(DB);
    const char *const argv[] = {"replay", "--quiet", "--db", DB, BIG, NULL};
    pid_t pid = cli_start(0, argv);
    sleep_ms(300);
    if (!cli_running(pid) || runs_where("1") != 0) {
        cli_wait(pid);
        fprintf(stderr, "FAILED: the bounds pass of %s took less than 300 ms (exit %d): the"
                        " trace is too short for this machine\n", BIG, cli_last.status);
        test_failures++;
        return;
    }
    stop_and_check(pid, sig, twice, "bounds pass");
    expect_err(sig == SIGINT ? "replay: stopped by SIGINT during the bounds pass: no run was"
                               " started, nothing was logged"
                             : "replay: stopped by SIGTERM during the bounds pass: no run was"
                               " started, nothing was logged");
    expect_eq_u64(runs_where("1"), 0);
    expect_true(strstr(cli_last.out, "logged to") == NULL);
}

/* A run of `policy` (and `then`, not run): stopped once its row is logged, it
 * is marked "interrupted" with the event it reached, nothing is left
 * unmarked, and stderr names the run and what was not run. */
static void test_policy_run(const char *policy, const char *then, int sig, int twice)
{
    test_remove_db(DB);
    char list[64];
    snprintf(list, sizeof list, "%s%s%s", policy, then ? "," : "", then ? then : "");
    const char *const argv[] = {"replay", "--quiet", "--no-belady", "--jobs", "1", "--policy",
                                list, "--db", DB, LLAMA, NULL};
    pid_t pid = cli_start(0, argv);
    for (int i = 0; i < 2000 && cli_running(pid) && runs_where("1") == 0; i++)
        sleep_ms(5);
    if (!cli_running(pid)) {
        cli_wait(pid);
        fprintf(stderr, "FAILED: the %s run ended before it could be signalled (exit %d)\n",
                policy, cli_last.status);
        test_failures++;
        return;
    }
    char what[64];
    snprintf(what, sizeof what, "the %s run", policy);
    stop_and_check(pid, sig, twice, what);
    char said[256];
    snprintf(said, sizeof said, "replay: stopped by %s: the %s run is marked \"interrupted\" in "
             DB " (run 1, interrupted after event ", sig == SIGINT ? "SIGINT" : "SIGTERM", policy);
    expect_err(said);
    if (then) {
        snprintf(said, sizeof said, "; not run: %s\n", then);
        expect_err(said);
    }
    expect_eq_u64(runs_where("ended IS NULL"), 0);
    expect_eq_u64(runs_where("status = 'interrupted' AND detail LIKE 'interrupted after event %'"),
                  1);
    expect_eq_u64(runs_where("1"), 1);
    expect_true(strstr(cli_last.err, "no policy could run") == NULL);
}

/* Without a database: the run is stopped, and nothing is claimed as logged. */
static void test_no_db_run(void)
{
    const char *const argv[] = {"replay", "--quiet", "--no-belady", "--no-db", "--policy",
                                "bestfit", "--sample-every", "1", "--check-every", "1", LLAMA,
                                NULL};
    pid_t pid = cli_start(0, argv);
    sleep_ms(400); /* the bounds pass (peak live only) takes about a third of that */
    if (!cli_running(pid)) {
        cli_wait(pid);
        printf("cli_signals: the --no-db run ended within 400 ms; not checked\n");
        return;
    }
    stop_and_check(pid, SIGINT, 0, "a run without a database");
    if (strstr(cli_last.err, "during the bounds pass"))
        return; /* a slow machine: the bounds pass, checked above */
    expect_err("replay: stopped by SIGINT: the bestfit run was stopped (interrupted after event ");
    expect_err("nothing is logged (--no-db)");
}

/* Waits (up to 10 s) for `path` to exist while the tool runs. */
static int wait_for_file(pid_t pid, const char *path)
{
    for (int i = 0; i < 2000 && cli_running(pid); i++) {
        if (access(path, F_OK) == 0)
            return 1;
        sleep_ms(5);
    }
    return access(path, F_OK) == 0 && cli_running(pid);
}

static void slurp_file(const char *path, char *buf)
{
    cli_slurp(path, buf);
}

/* The report in gnuplot (a stand-in that sleeps 30 s): stopped within a
 * second, gnuplot killed, the previous index.html and summary.md kept whole,
 * no .tmp left. Then in the heap map's replay of a long run. */
static void test_report(void)
{
    test_remove_db(DB);
    CLI_EXPECT(0, TEXTS(""), "replay", "--quiet", "--policy", "bestfit", "--db", DB,
               CLI_DATA "small.trace");
    assert_true(system("rm -rf " OUT) == 0);
    setenv("VREPORT_GNUPLOT", "/nonexistent/gnuplot", 1);
    CLI_EXPECT(0, TEXTS("figures are not drawn"), "report", DB, "-o", OUT);
    static char before[CLI_OUT_MAX], after[CLI_OUT_MAX], md_before[CLI_OUT_MAX],
        md_after[CLI_OUT_MAX];
    slurp_file(OUT "/index.html", before);
    slurp_file(OUT "/summary.md", md_before);
    expect_true(strstr(before, "</html>") != NULL);

    cli_write_file("cli_signals_gnuplot.sh", "#!/bin/sh\nexec sleep 30\n", 25);
    assert_true(chmod("cli_signals_gnuplot.sh", 0755) == 0);
    char stub[1100];
    assert_true(getcwd(stub, 1000) != NULL);
    strcat(stub, "/cli_signals_gnuplot.sh");
    setenv("VREPORT_GNUPLOT", stub, 1);
    unlink(OUT "/gnuplot.log");
    const char *const argv[] = {"report", DB, "-o", OUT, NULL};
    pid_t pid = cli_start(0, argv);
    if (!wait_for_file(pid, OUT "/gnuplot.log")) {
        cli_wait(pid);
        fprintf(stderr, "FAILED: report never ran gnuplot (exit %d): %s\n", cli_last.status,
                cli_last.err);
        test_failures++;
    } else {
        sleep_ms(50);
        stop_and_check(pid, SIGINT, 0, "report in gnuplot");
        expect_err("report: stopped by SIGINT: " OUT "/index.html and " OUT "/summary.md are as"
                   " they were");
        slurp_file(OUT "/index.html", after);
        slurp_file(OUT "/summary.md", md_after);
        expect_true(strcmp(before, after) == 0 && strcmp(md_before, md_after) == 0);
        expect_true(!cli_exists(OUT "/index.html.tmp") && !cli_exists(OUT "/summary.md.tmp"));
    }

    /* the heap map's replay: a run of the long trace, drawn after its last event */
    setenv("VREPORT_GNUPLOT", "/nonexistent/gnuplot", 1);
    test_remove_db(DB);
    CLI_EXPECT(0, TEXTS(""), "replay", "--quiet", "--policy", "bestfit", "--no-belady",
               "--sample-every", "0", "--check-every", "0", "--db", DB, BIG);
    char at[32];
    snprintf(at, sizeof at, "%u", BIG_EVENTS);
    unlink(OUT "/data/heapmap.dat");
    const char *const argv2[] = {"report", DB, "-o", OUT, "--at", at, NULL};
    pid = cli_start(0, argv2);
    if (!wait_for_file(pid, OUT "/data/heapmap.dat")) {
        cli_wait(pid);
        printf("cli_signals: the report reached no heap map in time (exit %d); not checked\n",
               cli_last.status);
    } else {
        stop_and_check(pid, SIGTERM, 1, "report in the heap map's replay");
        expect_err("report: stopped by SIGTERM: " OUT "/index.html and " OUT "/summary.md are as"
                   " they were");
        slurp_file(OUT "/index.html", after);
        expect_true(strcmp(before, after) == 0);
    }
    unsetenv("VREPORT_GNUPLOT");
}

int main(void)
{
    uint64_t t0 = ms_now();
    write_big_trace();
    printf("cli_signals: %u-event trace written in %llu ms\n", BIG_EVENTS,
           (unsigned long long)(ms_now() - t0));
    test_bounds_pass(SIGINT, 0);
    test_bounds_pass(SIGTERM, 1);
    test_policy_run("bestfit", "tlsf", SIGINT, 0);
    test_policy_run("buddy", NULL, SIGTERM, 1);
    test_policy_run("tlsf", NULL, SIGINT, 0);
    test_policy_run("pool", "caching", SIGTERM, 1);
    test_policy_run("caching", NULL, SIGINT, 0);
    test_no_db_run();
    test_report();
    remove(BIG);
    test_remove_db(DB);
    printf("cli_signals: %llu ms in all\n", (unsigned long long)(ms_now() - t0));
    return test_finish("cli_signals");
}
