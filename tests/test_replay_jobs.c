/* test_replay_jobs.c - `replay --jobs N` and the parsed trace (sim/replay/replay_jobs.c,
 * sim/trace/evstream.c): the policies replayed side by side on threads, or from a
 * trace parsed as it is replayed (--stream-memory 0), give the same --csv
 * output and the same database rows as one policy after the other from the
 * trace parsed once, all but what is measured (latencies, wall time, events/s)
 * and the rows' ids; and a signal stops every run under way, each marked
 * "interrupted", none left unmarked. */
#include <string.h>
#include <time.h>

#include "test_cli_lib.h"
#include "test_db_lib.h"

/* What is measured or names a row, not replayed: left out of the comparison. */
static int measured(const char *column)
{
    static const char *const names[] = {
        "id", "run_id", "started", "ended", "options", "wall_s", "events_per_s",
        "alloc_p50_ns", "alloc_p99_ns", "free_p50_ns", "free_p99_ns", "mean_ns", "min_ns",
        "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", NULL};
    for (const char *const *n = names; *n; n++)
        if (strcmp(*n, column) == 0)
            return 1;
    return 0;
}

/* Appends every row of `sql` to out, one line each, measured columns left out. */
static void dump(sqlite3 *db, const char *sql, char *out, size_t len)
{
    sqlite3_stmt *st = NULL;
    assert_true(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    size_t used = strlen(out);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            if (measured(sqlite3_column_name(st, c)))
                continue;
            const unsigned char *v = sqlite3_column_text(st, c);
            int w = snprintf(out + used, len - used, "%s=%s|", sqlite3_column_name(st, c),
                             v ? (const char *)v : "NULL");
            assert_true(w >= 0 && (size_t)w < len - used);
            used += (size_t)w;
        }
        assert_true(used + 1 < len);
        out[used++] = '\n';
        out[used] = '\0';
    }
    sqlite3_finalize(st);
}

#define DUMP_MAX (8u << 20)

/* The database's rows in policy order, as dump() writes them. */
static void dump_db(const char *path, char *out)
{
    out[0] = '\0';
    sqlite3 *db = test_open_db(path);
    dump(db, "SELECT * FROM runs ORDER BY policy", out, DUMP_MAX);
    dump(db, "SELECT r.policy, s.* FROM samples s JOIN runs r ON r.id = s.run_id"
             " ORDER BY r.policy, s.event_index", out, DUMP_MAX);
    dump(db, "SELECT r.policy, e.* FROM events e JOIN runs r ON r.id = e.run_id"
             " ORDER BY r.policy, e.rowid", out, DUMP_MAX);
    dump(db, "SELECT r.policy, b.* FROM bounds b JOIN runs r ON r.id = b.run_id"
             " ORDER BY r.policy", out, DUMP_MAX);
    dump(db, "SELECT r.policy, l.* FROM latency_summary l JOIN runs r ON r.id = l.run_id"
             " ORDER BY r.policy, l.op", out, DUMP_MAX);
    sqlite3_close(db);
}

/* --csv with the measured columns emptied, in place. */
static void strip_csv(char *csv)
{
    int skip[64] = {0}, ncol = 0;
    char *p = csv;
    for (char *e = p; *e && *e != '\r'; ncol++) { /* the header */
        size_t n = strcspn(e, ",\r");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)n, e);
        skip[ncol < 64 ? ncol : 63] = measured(name);
        e += n + (e[n] == ',');
    }
    char *w = csv;
    int col = 0, quoted = 0;
    for (; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        if (!quoted && (*p == ',' || *p == '\n')) {
            col = *p == '\n' ? 0 : col + 1;
            *w++ = *p;
            continue;
        }
        if (!(col < 64 && skip[col]) || *p == '\r')
            *w++ = *p;
    }
    *w = '\0';
}

static char want_csv[CLI_OUT_MAX], want_db[DUMP_MAX], got_db[DUMP_MAX];

/* The trace replayed with each way of running against --jobs 1 from memory. */
static void test_same_output(const char *trace, const char *policies)
{
    static const char *const ways[][4] = {
        {"--jobs", "1", "--stream-memory", "268435456"},
        {"--jobs", "2", "--stream-memory", "268435456"},
        {"--jobs", "5", "--stream-memory", "0"},
        {"--jobs", "1", "--stream-memory", "0"},
    };
    for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
        char db[64];
        snprintf(db, sizeof db, "replay_jobs_%zu.db", w);
        test_remove_db(db);
        CLI_EXPECT(0, TEXTS(""), "replay", "--quiet", "--csv", "--policy", policies,
                   "--sample-every", "97", "--check-every", "5000", ways[w][0], ways[w][1],
                   ways[w][2], ways[w][3], "--db", db, trace);
        strip_csv(cli_last.out);
        dump_db(db, w ? got_db : want_db);
        if (w == 0) {
            memcpy(want_csv, cli_last.out, sizeof want_csv);
            expect_true(strstr(want_db, "status=ok") != NULL);
        } else {
            if (strcmp(want_csv, cli_last.out) != 0)
                fprintf(stderr, "%s %s %s: --csv differs:\n%s\nvs\n%s\n", trace, ways[w][1],
                        ways[w][3], want_csv, cli_last.out);
            expect_true(strcmp(want_csv, cli_last.out) == 0);
            expect_true(strcmp(want_db, got_db) == 0);
        }
        test_remove_db(db);
    }
}

/* Runs matching `cond`; 0 while the tool has not made the database yet. */
static int64_t runs_where(const char *db_path, const char *cond)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE %s", cond);
    int64_t n = 0;
    if (access(db_path, F_OK) == 0 &&
        sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 2000);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    return n;
}

/* SIGTERM while two runs replay side by side: both are marked, the third was
 * never started and is named. */
static void test_signal_stops_all(void)
{
    const char *db = "replay_jobs_signal.db";
    test_remove_db(db);
    const char *const argv[] = {"replay", "--quiet", "--no-belady", "--jobs", "2",
                                "--sample-every", "1", "--check-every", "1", "--policy",
                                "bestfit,tlsf,caching", "--db", db,
                                VRAM_SOURCE_DIR "/traces/llama70b.trace", NULL};
    pid_t pid = cli_start(0, argv);
    struct timespec pause = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 4000 && cli_running(pid) && runs_where(db, "1") < 2; i++)
        nanosleep(&pause, NULL);
    kill(pid, SIGTERM);
    int st = cli_wait(pid);
    if (st == 0) {
        printf("replay_jobs: the replay ended before SIGTERM; not checked\n");
        return;
    }
    expect_eq_u64(st, 128 + SIGTERM);
    expect_eq_u64(runs_where(db, "ended IS NULL"), 0);
    expect_eq_u64(runs_where(db, "status = 'interrupted'"), 2);
    expect_contains(cli_last.err, "replay: stopped by SIGTERM: the bestfit run is marked"
                                  " \"interrupted\" in replay_jobs_signal.db (run ");
    expect_contains(cli_last.err, "; the tlsf run is marked \"interrupted\"");
    expect_contains(cli_last.err, "; not run: caching\n");
    test_remove_db(db);
}

int main(void)
{
    test_same_output(VRAM_SOURCE_DIR "/tests/data/needs_preempt.trace", "all");
    test_same_output(VRAM_SOURCE_DIR "/tests/data/kv_shared.trace", "all");
    test_same_output(VRAM_SOURCE_DIR "/tests/data/prefix_chain.trace", "all");
    test_same_output(VRAM_SOURCE_DIR "/traces/llama70b-contig.trace", "bestfit,tlsf,caching");
    test_signal_stops_all();
    return test_finish("replay_jobs");
}
