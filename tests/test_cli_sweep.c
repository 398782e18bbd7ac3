/* test_cli_sweep - the sweep tool (docs/SWEEPS.md): a grid of replays and one
 * of serve runs, each run both ways, on local cores into one database and as
 * emitted jobs run one by one, each into its own database, then merged (sweep
 * --merge) and reported together (report A.db B.db ...); the runs of both ways
 * hold the same rows but for ids and timings. Bad grids fail before anything
 * runs; SIGINT stops every replay, whose runs are marked. */
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
#define WORKLOAD_A CLI_DATA "serve_small.csv"
#define WORKLOAD_B CLI_DATA "serve_small.jsonl"
#define PREFIX_TRACE CLI_DATA "prefix_lru.trace" /* a prefix cache of 3 blocks */

/* The replay grid of the both-ways test, before the options that differ. */
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
    expect_true(strstr(cli_last.out, "--tool replay|serve") &&
                strstr(cli_last.out, "--block-tokens LIST"));
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
    CLI_EXPECT(2, TEXTS("--caching-conf varies only the runs with policy caching, and --policy"
                        " has no caching"),
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
    CLI_EXPECT(2, TEXTS("sweep: --program ./no-such-replay: no such program to run"), "sweep",
               "--db", LOCAL_DB, "--replay", "./no-such-replay", TRACE_A);
    /* serve grids */
    CLI_EXPECT(2, TEXTS("sweep: --tool: \"simulate\" is not replay or serve"), "sweep", "--tool",
               "simulate", TRACE_A);
    CLI_EXPECT(2, TEXTS("sweep: --engine: not an axis of replay sweeps"), "sweep", "--db",
               LOCAL_DB, "--engine", "pow2", TRACE_A);
    CLI_EXPECT(2, TEXTS("sweep: --capacity: not an axis of serve sweeps"), "sweep", "--db",
               LOCAL_DB, "--capacity", "64GiB", "--tool", "serve", WORKLOAD_A);
    CLI_EXPECT(2, TEXTS("sweep: --engine: unknown KV style \"blocks\" (one of: paged,"),
               "sweep", "--db", LOCAL_DB, "--tool", "serve", "--engine", "pow2,blocks",
               WORKLOAD_A);
    CLI_EXPECT(2, TEXTS("sweep: --block-tokens: \"0\" is not a count of 1 to 4294967295"),
               "sweep", "--db", LOCAL_DB, "--tool", "serve", "--block-tokens", "16,0", WORKLOAD_A);
    CLI_EXPECT(2, TEXTS("sweep: --capacity-gib: \"1073741825\" is not a count of 1 to"
                        " 1073741824"),
               "sweep", "--db", LOCAL_DB, "--tool", "serve", "--capacity-gib", "1073741825",
               WORKLOAD_A);
    CLI_EXPECT(2, TEXTS("sweep: --engine: \"pow2\" is given twice"), "sweep", "--db", LOCAL_DB,
               "--tool", "serve", "--engine", "pow2,max,pow2", WORKLOAD_A);
    CLI_EXPECT(2, TEXTS("sweep: --policy: unknown policy \"plugin:x.so\" (one of: bestfit"
                        " buddy tlsf pool caching, all)"),
               "sweep", "--db", LOCAL_DB, "--tool", "serve", "--policy", "plugin:x.so",
               WORKLOAD_A);
    CLI_EXPECT(2, TEXTS("--block-tokens varies only the runs with engine paged, and --engine has"
                        " no paged"),
               "sweep", "--db", LOCAL_DB, "--tool", "serve", "--engine", "pow2", "--block-tokens",
               "32", WORKLOAD_A);
    CLI_EXPECT(2, TEXTS("sweep: " CLI_DATA "no_such.csv: No such file or directory"), "sweep",
               "--db", LOCAL_DB, "--tool", "serve", WORKLOAD_A, CLI_DATA "no_such.csv");
    CLI_EXPECT(2, TEXTS("sweep: " CLI_DATA ": not a regular file (serve reads a workload"),
               "sweep", "--db", LOCAL_DB, "--tool", "serve", CLI_DATA);
    CLI_EXPECT(2, TEXTS("sweep: no WORKLOAD given"), "sweep", "--db", LOCAL_DB, "--tool",
               "serve");
    CLI_EXPECT(2, TEXTS("sweep: --workload after --: the sweep sets it itself"), "sweep", "--db",
               LOCAL_DB, "--tool", "serve", WORKLOAD_A, "--", "--workload", WORKLOAD_B);
    CLI_EXPECT(2, TEXTS("sweep: --progress after --: the sweep sets it itself"), "sweep", "--db",
               LOCAL_DB, "--tool", "serve", WORKLOAD_A, "--", "--progress", "10");
    CLI_EXPECT(2, TEXTS("sweep: --engine=max after --: the sweep sets it itself (give it before"),
               "sweep", "--db", LOCAL_DB, "--tool", "serve", WORKLOAD_A, "--", "--engine=max");
    CLI_EXPECT(2, TEXTS("the grid holds no run: pool left out"), "sweep", "--db", LOCAL_DB,
               "--tool", "serve", "--policy", "pool", "--engine", "max,oracle", WORKLOAD_A);
    /* the prefix cache's axes */
    CLI_EXPECT(2, TEXTS("sweep: --prefix-policy: unknown prefix policy \"fifo\" (one of: vllm lru"
                        " lfu priority)"),
               "sweep", "--db", LOCAL_DB, "--prefix-policy", "lru,fifo", PREFIX_TRACE);
    CLI_EXPECT(2, TEXTS("sweep: --prefix-cache-blocks: \"0\" is not a count of 1 to 1073741824,"
                        " nor \"trace\""),
               "sweep", "--db", LOCAL_DB, "--prefix-cache-blocks", "4,0", PREFIX_TRACE);
    CLI_EXPECT(2, TEXTS("sweep: --prefix-cache-blocks: \"1073741825\" is not a count"),
               "sweep", "--db", LOCAL_DB, "--prefix-cache-blocks", "1073741825", PREFIX_TRACE);
    CLI_EXPECT(2, TEXTS("sweep: --prefix-policy: \"lru\" is given twice"), "sweep", "--db",
               LOCAL_DB, "--prefix-policy", "lru,lfu,lru", PREFIX_TRACE);
    CLI_EXPECT(2, TEXTS("sweep: --prefix-cache-blocks varies only the traces with a prefix cache"
                        " (kv_block_tokens and prefix_segment_tokens in the header:"
                        " traces/FORMAT.md, \"Prefix cache\"), and no TRACE has one"),
               "sweep", "--db", LOCAL_DB, "--prefix-cache-blocks", "64", TRACE_A, TRACE_B);
    CLI_EXPECT(2, TEXTS("sweep: --prefix-policy after --: the sweep sets it itself (give it"
                        " before --"),
               "sweep", "--db", LOCAL_DB, PREFIX_TRACE, "--", "--prefix-policy", "lru");
    CLI_EXPECT(2, TEXTS("sweep: --prefix-policy: not an axis of serve sweeps"), "sweep", "--db",
               LOCAL_DB, "--tool", "serve", "--prefix-policy", "lru", WORKLOAD_A);
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

/* The prefix cache's axes vary the runs over a trace with a prefix cache only
 * (the other trace runs once per policy, without them), "trace" and "vllm"
 * being the replay's defaults (no option); the runs' columns hold each run's
 * capacity and policy with the hit ratios of tests/test_replay_prefix.c's
 * reference string, and report draws them (one row per capacity). */
static void test_prefix_grid(void)
{
    remove_db(LOCAL_DB);
    CLI_EXPECT(0, TEXTS("sweep: 10 run(s) (2 traces x 2 policies x 1 capacity x 1 caching-conf x"
                        " 2 prefix-cache-blocks x 2 prefix-policies), 2 at a time, into " LOCAL_DB,
                        "[10/10 done]", "trace " PREFIX_TRACE ", policy tlsf,"
                        " prefix-cache-blocks 2, prefix-policy lru\n"),
               "sweep", "--jobs", "2", "--db", LOCAL_DB, "--policy", "bestfit,tlsf",
               "--prefix-cache-blocks", "2,trace", "--prefix-policy", "lru,vllm", PREFIX_TRACE,
               TRACE_A);
    sqlite3 *h;
    assert_true(sqlite3_open_v2(LOCAL_DB, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    expect_eq_u64(count(h, "SELECT count(*) FROM runs WHERE status = 'ok'"), 10);
    expect_eq_u64(count(h, "SELECT count(*) FROM runs WHERE prefix_policy IS NULL AND trace = '"
                           TRACE_A "' AND options NOT LIKE '%prefix%'"), 2);
    static const char *const points[][3] = {
        {"lru", "2", "0.15"}, {"vllm", "2", "0.15"}, {"lru", "3", "0.4"}, {"vllm", "3", "0.4"}};
    for (size_t i = 0; i < 4; i++) {
        char *q = sqlite3_mprintf("SELECT count(*) FROM runs WHERE trace = '" PREFIX_TRACE "' AND"
                                  " prefix_policy = '%s' AND prefix_blocks = %s AND"
                                  " prefix_hit_ratio = %s AND prefix_lookup_blocks = 20",
                                  points[i][0], points[i][1], points[i][2]);
        expect_eq_u64(count(h, q), 2); /* bestfit's and tlsf's */
        sqlite3_free(q);
    }
    /* the defaults are the replay's own: no option in the run's command line */
    expect_eq_u64(count(h, "SELECT count(*) FROM runs WHERE prefix_blocks = 3 AND options NOT"
                           " LIKE '%--prefix-cache-blocks%'"), 4);
    expect_eq_u64(count(h, "SELECT count(*) FROM runs WHERE prefix_policy = 'vllm' AND options"
                           " NOT LIKE '%--prefix-policy%'"), 4);
    sqlite3_close(h);
    setenv("VREPORT_GNUPLOT", "./no-such-gnuplot", 1); /* the figure's numbers are the point */
    CLI_EXPECT(0, TEXTS(""), "report", LOCAL_DB, "-o", "cli_sweep_report");
    char summary[CLI_OUT_MAX];
    cli_slurp("cli_sweep_report/summary.md", summary);
    expect_true(strstr(summary, "| blocks | vllm | lru | LRU (reference) | Belady | unlimited"
                                " |\n"));
    expect_true(strstr(summary, "| 2 | 0.1500 | 0.1500 | 0.1500 | 0.4500 | 0.7000 |\n"));
    expect_true(strstr(summary, "| 3 | 0.4000 | 0.4000 | 0.4000 | 0.6000 | 0.7000 |\n"));
    expect_true(strstr(summary, "prefix_lru.trace (crc32 ") && strstr(summary, "), 8 run(s):"));
    remove_db(LOCAL_DB);
}

/* A grid run both ways: its options (after the tool's and before "--"), the
 * options after "--", what the sweep says of its shape, its runs, the SQL
 * over alias r (a runs row) that keys a run by its grid point, a table every
 * grid fills beyond one row per run, and whether an emitted line is right. */
typedef struct grid_case {
    const char *const *grid;
    const char *const *extra;
    const char *shape;
    size_t runs;
    const char *key;
    const char *filled;
    int (*line_ok)(const char *line);
} grid_case;

/* Every table of the local sweep's database "l" against the merged jobs' "m":
 * each row keyed by its run's grid point instead of its id; the latency
 * buckets (timings) as the number of timed calls per op. */
static void compare_databases(const grid_case *gc, const char *local, const char *merged)
{
    sqlite3 *h;
    assert_true(sqlite3_open(":memory:", &h) == SQLITE_OK);
    char *attach = sqlite3_mprintf("ATTACH %Q AS l; ATTACH %Q AS m", local, merged);
    assert_true(sqlite3_exec(h, attach, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_free(attach);
    expect_eq_u64(count(h, "SELECT count(*) FROM l.runs WHERE status = 'ok'"), gc->runs);
    expect_eq_u64(count(h, "SELECT count(*) FROM m.runs WHERE status = 'ok'"), gc->runs);
    char *filled = sqlite3_mprintf("SELECT count(*) FROM l.\"%w\"", gc->filled);
    expect_true(count(h, filled) > (int64_t)gc->runs);
    sqlite3_free(filled);
    /* the key tells every run apart */
    char *distinct = sqlite3_mprintf("SELECT count(DISTINCT %s) FROM l.runs r", gc->key);
    expect_eq_u64(count(h, distinct), gc->runs);
    sqlite3_free(distinct);
    sqlite3_stmt *tables;
    assert_true(sqlite3_prepare_v2(h, "SELECT name FROM l.sqlite_master WHERE type = 'table'"
                                      " AND name <> 'meta' ORDER BY name",
                                   -1, &tables, NULL) == SQLITE_OK);
    int compared = 0;
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(tables, 0);
        char *cols = compared_columns(h, table);
        char *rows[2];
        for (int w = 0; w < 2; w++) {
            const char *db = w ? "m" : "l";
            if (!strcmp(table, "runs"))
                rows[w] = sqlite3_mprintf("SELECT %s AS k%s FROM %s.runs t JOIN %s.runs r ON"
                                          " r.id = t.id", gc->key, cols ? cols : "", db, db);
            else if (!strcmp(table, "latency"))
                rows[w] = sqlite3_mprintf("SELECT %s AS k, t.op, sum(t.count) FROM %s.latency t"
                                          " JOIN %s.runs r ON r.id = t.run_id GROUP BY k, t.op",
                                          gc->key, db, db);
            else
                rows[w] = sqlite3_mprintf("SELECT %s AS k%s FROM %s.\"%w\" t JOIN %s.runs r ON"
                                          " r.id = t.run_id", gc->key, cols ? cols : "", db,
                                          table, db);
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
    expect_true(compared >= 3); /* runs, the filled table and one more at least */
    sqlite3_close(h);
}

/* {head..., the grid's options, "--", extra..., NULL} in out (room for 64). */
static const char **grid_argv(const char **out, const char *const *head, const grid_case *gc)
{
    size_t n = 0;
    for (const char *const *p = head; *p; p++)
        out[n++] = *p;
    for (const char *const *p = gc->grid; *p; p++)
        out[n++] = *p;
    out[n++] = "--";
    for (const char *const *p = gc->extra; *p; p++)
        out[n++] = *p;
    out[n] = NULL;
    assert_true(n < 64);
    return out;
}

/* The grid both ways: on local cores, and as emitted jobs run one by one,
 * merged and compared; the jobs' databases stay for the caller. */
static void both_ways(const grid_case *gc, char dbs[][64])
{
    clean();
    const char *argv[64];
    char said[256];
    snprintf(said, sizeof said, "sweep: %zu run(s) (%s), 2 at a time, into " LOCAL_DB, gc->runs,
             gc->shape);
    char done[64];
    snprintf(done, sizeof done, "[%zu/%zu done]", gc->runs, gc->runs);
    cli_check(__FILE__, __LINE__, 0, 0, TEXTS(said, done, "0 failed; logged to " LOCAL_DB),
              grid_argv(argv, TEXTS("sweep", "--jobs", "2", "--db", LOCAL_DB), gc));
    snprintf(said, sizeof said, "sweep: %zu job(s) (%s) written to " JOBS, gc->runs, gc->shape);
    cli_check(__FILE__, __LINE__, 0, 0, TEXTS(said),
              grid_argv(argv, TEXTS("sweep", "--emit-jobs", JOBS, "--db", JOB_DB), gc));
    FILE *f = fopen(JOBS, "r");
    assert_true(f != NULL);
    char line[4096];
    size_t k = 0;
    while (fgets(line, sizeof line, f)) {
        assert_true(k < gc->runs);
        k++;
        job_db(k, dbs[k - 1], 64);
        expect_true(strstr(line, dbs[k - 1]) != NULL);
        expect_true(gc->line_ok(line));
        expect_eq_u64(run_sh(line), 0);
        expect_true(exists(dbs[k - 1]));
    }
    fclose(f);
    expect_eq_u64(k, gc->runs);

    /* merged, then compared with the local sweep's database */
    const char *merge[3 + RUNS + 1] = {"sweep", "--merge", MERGED_DB};
    for (size_t i = 0; i < gc->runs; i++)
        merge[3 + i] = dbs[i];
    snprintf(said, sizeof said, "sweep: %s: runs %zu to %zu of " MERGED_DB, dbs[gc->runs - 1],
             gc->runs, gc->runs);
    cli_check(__FILE__, __LINE__, 0, 0,
              TEXTS("sweep: cli_sweep_job-0001.db: runs 1 to 1 of " MERGED_DB, said), merge);
    compare_databases(gc, LOCAL_DB, MERGED_DB);
}

/* A replay job: the options after --, and the caching settings only in the
 * caching runs (tlsf runs with the default). */
static int replay_line_ok(const char *line)
{
    return strstr(line, "--sample-every 7 ") &&
           (!strstr(line, "--policy tlsf") || !strstr(line, "--caching-conf"));
}

/* A serve job: its workload and quiet option, and the block sizes only in the
 * paged runs (paged is serve's default: no --engine). */
static int serve_line_ok(const char *line)
{
    return strstr(line, "serve --workload ") && strstr(line, " --progress 0 --seed 3") &&
           (!strstr(line, "--engine") || !strstr(line, "--block-tokens"));
}

static void test_both_ways(void)
{
    static char dbs[RUNS][64];
    const grid_case replay = {
        TEXTS(GRID), TEXTS("--sample-every", "7"),
        "2 traces x 2 policies x 2 capacities x 2 caching-confs", RUNS,
        "r.trace || '|' || r.policy || '|' || r.capacity || '|' || coalesce(r.caching_conf, '-')",
        "samples", replay_line_ok};
    both_ways(&replay, dbs);

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

    /* serve: 2 workloads x tlsf,pool x paged,pow2 x 2 block sizes: the block
     * sizes vary the paged runs only, pool runs paged only (a note names it) */
    const grid_case serve = {
        TEXTS("--tool", "serve", "--policy", "tlsf,pool", "--engine", "paged,pow2",
              "--block-tokens", "16,32", WORKLOAD_A, WORKLOAD_B),
        TEXTS("--seed", "3", "--check-every", "100"),
        "2 workloads x 2 policies x 2 engines x 2 block-tokens x 1 capacity-gib", 10,
        "substr(r.options, 1, instr(r.options, ' --db '))", "kv_ledger", serve_line_ok};
    both_ways(&serve, dbs);
    CLI_EXPECT(0, TEXTS("sweep: note: pool left out where serve refuses it",
                        "over: " WORKLOAD_A " " WORKLOAD_B "\n",
                        "sweep: 2 job(s) (2 workloads x 1 policy x 2 engines x 1 block-tokens x 1"
                        " capacity-gib) written to stdout"),
               "sweep", "--tool", "serve", "--policy", "pool", "--engine", "pow2,paged",
               "--emit-jobs", "-", WORKLOAD_A, WORKLOAD_B);
    expect_true(strstr(cli_last.out, "--policy pool --db sweep-0001.db --progress 0\n") != NULL);
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
    expect_true(strstr(cli_last.err, "sweep: SIGINT: passing it to the 2 running job(s)"));
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
    test_prefix_grid();
    test_both_ways();
    test_sigint();
    return test_finish("cli_sweep");
}
