/* test_cli_report.c - `report` on databases it cannot use (a directory, an
 * empty file, random bytes, another application's), unknown runs, bad option
 * values, output places it cannot write, and a disk that fills: exit non-zero
 * naming the file or value; a report that fails keeps the previous page.
 * (tests/test_report.c covers the good reports and more database errors.) */
#include <sqlite3.h>

#include "test_cli_lib.h"

#define DB "cli_report.db"
#define OUT "cli_report_out"

static void make_db(void)
{
    remove(DB);
    remove(DB "-wal");
    remove(DB "-shm");
    /* --jobs 1: run ids in the policies' order */
    CLI_EXPECT(0, TEXTS(""), "replay", "--quiet", "--jobs", "1", "--policy", "bestfit,tlsf", "--db",
               DB, CLI_DATA "small.trace");
    /* rollback journal: a reader then needs no -shm file (which a small file-size limit refuses) */
    sqlite3 *db;
    assert_true(sqlite3_open(DB, &db) == SQLITE_OK);
    assert_true(sqlite3_exec(db, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

static void test_usage(void)
{
    CLI_EXPECT_HELP("report", "usage: report RESULTS.db");
    CLI_EXPECT(2, TEXTS("give at least one results database"), "report");
    CLI_EXPECT(2, TEXTS("--at: \"0\" is not an event number"), "report", DB, "--at", "0");
    CLI_EXPECT(2, TEXTS("exclude each other"), "report", DB, "--compare", DB, "--compare-runs", "1,2");
}

static void test_bad_databases(void)
{
    cli_make_dir("cli_report_dir.db");
    CLI_EXPECT(1, TEXTS("cli_report_dir.db: a directory, not a results database"), "report",
               "cli_report_dir.db", "-o", OUT);
    cli_write_file("cli_report_empty.db", "", 0);
    CLI_EXPECT(1, TEXTS("cli_report_empty.db: an empty file, not a results database"), "report",
               "cli_report_empty.db", "-o", OUT);
    cli_write_garbage("cli_report_corrupt.db", 4096, 11);
    CLI_EXPECT(1, TEXTS("cli_report_corrupt.db: not an SQLite database"), "report",
               "cli_report_corrupt.db", "-o", OUT);
    remove("cli_report_other.db");
    sqlite3 *db;
    assert_true(sqlite3_open("cli_report_other.db", &db) == SQLITE_OK);
    assert_true(sqlite3_exec(db, "CREATE TABLE invoices (id INTEGER, total REAL)", NULL, NULL, NULL) ==
                SQLITE_OK);
    sqlite3_close(db);
    CLI_EXPECT(1, TEXTS("cli_report_other.db: not a vramlab results database"), "report",
               "cli_report_other.db", "-o", OUT);
    CLI_EXPECT(1, TEXTS("cli_report_missing.db: cannot read the database: No such file"), "report",
               "cli_report_missing.db", "-o", OUT);
    expect_true(!cli_exists("cli_report_missing.db"));
    expect_true(!cli_exists(OUT));
}

static void test_bad_runs(void)
{
    CLI_EXPECT(1, TEXTS(DB ": no run with id 99 (runs: 1-2)"), "report", DB, "-o", OUT, "--runs", "99");
    CLI_EXPECT(1, TEXTS(DB ": no run with id 99"), "report", DB, "-o", OUT, "--compare-runs", "1,99");
    CLI_EXPECT(2, TEXTS("--runs: \"abc\" is not a run id"), "report", DB, "-o", OUT, "--runs", "1,abc");
    CLI_EXPECT(2, TEXTS("--compare-runs: \"x\" is not a run id"), "report", DB, "-o", OUT,
               "--compare-runs", "1,x");
    CLI_EXPECT(2, TEXTS("--runs: \"99999999999999999999\" is not a run id"), "report", DB, "-o", OUT,
               "--runs", "99999999999999999999");
    CLI_EXPECT(1, TEXTS("--at 999999: run 1 (bestfit) has"), "report", DB, "-o", OUT, "--at", "999999");
    CLI_EXPECT(1, TEXTS("cli_report_missing.db: cannot read"), "report", DB, "-o", OUT, "--compare",
               "cli_report_missing.db");
}

static void test_bad_outputs(void)
{
    if (cli_make_readonly_dir("cli_report_ro"))
        CLI_EXPECT(1, TEXTS("cli_report_ro/x: cannot create the directory: Permission denied"), "report",
                   DB, "-o", "cli_report_ro/x");
    cli_write_file("cli_report_file", "x", 1);
    CLI_EXPECT(1, TEXTS("cli_report_file/x: cannot create the directory: Not a directory"), "report", DB,
               "-o", "cli_report_file/x");
    CLI_EXPECT(1, TEXTS("/dev/full/data: cannot create the directory: Not a directory"), "report", DB,
               "-o", "/dev/full");

    /* without gnuplot the page is ~6 KiB and every other file under 5 KiB: a
     * 5 KiB limit fails the page; the previous page stays, no .tmp is left */
    setenv("VREPORT_GNUPLOT", "/nonexistent/gnuplot", 1);
    CLI_EXPECT(0, TEXTS("figures are not drawn"), "report", DB, "-o", OUT);
    static char before[CLI_OUT_MAX], after[CLI_OUT_MAX];
    cli_slurp(OUT "/index.html", before);
    expect_true(strstr(before, "</html>") != NULL);
    CLI_EXPECT_FULL(5, 1, TEXTS(OUT "/index.html.tmp: write failed: File too large"), "report", DB, "-o",
                    OUT, "--runs", "2");
    cli_slurp(OUT "/index.html", after);
    expect_true(strcmp(before, after) == 0);
    expect_true(!cli_exists(OUT "/index.html.tmp") && !cli_exists(OUT "/summary.md.tmp"));
    unsetenv("VREPORT_GNUPLOT");
}

#define UNF "cli_report_unfinished.db"

/* A run as a replay killed during it leaves it: the row inserted before its
 * rows, 'failed' with no end time and the detail "not finished ...", for the
 * policy and trace of run `like`. */
static void add_unfinished_run(const char *path, int like)
{
    sqlite3 *db;
    assert_true(sqlite3_open(path, &db) == SQLITE_OK);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO runs (trace, trace_crc32, trace_bytes, model, engine, policy, backend,"
             " capacity, sample_every, tool_version, started, status, detail)"
             " SELECT trace, trace_crc32, trace_bytes, model, engine, policy, backend, capacity,"
             " sample_every, tool_version, started, 'failed', 'not finished: in progress, or the"
             " process was killed or crashed, or the database failed before the run was marked'"
             " FROM runs WHERE id = %d",
             like);
    assert_true(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

/* Runs that never finished (issue 13, item 6): the default selection leaves
 * them out and says so; named with --runs, one is reported with a warning and
 * its missing figures are explained by the run, not by --sample-every; a
 * database holding only such runs is an error. */
static void test_unfinished_runs(void)
{
    setenv("VREPORT_GNUPLOT", "/nonexistent/gnuplot", 1);
    remove(UNF);
    remove(UNF "-wal");
    remove(UNF "-shm");
    CLI_EXPECT(0, TEXTS(""), "replay", "--quiet", "--jobs", "1", "--policy", "bestfit,tlsf", "--db",
               UNF, CLI_DATA "small.trace");
    add_unfinished_run(UNF, 1); /* run 3: bestfit, killed */
    assert_true(system("rm -rf " OUT) == 0);
    CLI_EXPECT(0, TEXTS("report: note: " UNF ": left out 1 run(s) not finished (in progress, or"
                        " killed before they were marked): 3 (bestfit)"),
               "report", UNF, "-o", OUT);
    static char md[CLI_OUT_MAX];
    cli_slurp(OUT "/summary.md", md);
    expect_true(strstr(md, UNF " run 1,") != NULL && strstr(md, UNF " run 2,") != NULL);
    expect_true(strstr(md, UNF " run 3,") == NULL);

    CLI_EXPECT(0, TEXTS("report: warning: " UNF ": run 3 (bestfit) is not finished (in progress,"
                        " or killed before it was marked)"),
               "report", UNF, "-o", OUT, "--runs", "3");
    cli_slurp(OUT "/summary.md", md);
    expect_true(strstr(md, "no run has samples (run 3 is not finished: in progress, or killed"
                           " before it was marked, with no sample written)") != NULL);
    expect_true(strstr(md, "--sample-every N > 0") == NULL);

    /* only unfinished runs: nothing to report by default */
    remove(UNF);
    remove(UNF "-wal");
    remove(UNF "-shm");
    CLI_EXPECT(0, TEXTS(""), "replay", "--quiet", "--policy", "bestfit", "--db", UNF,
               CLI_DATA "small.trace");
    add_unfinished_run(UNF, 1);
    sqlite3 *db;
    assert_true(sqlite3_open(UNF, &db) == SQLITE_OK);
    assert_true(sqlite3_exec(db, "DELETE FROM runs WHERE id = 1", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CLI_EXPECT(1, TEXTS(UNF ": no finished run: the 1 run(s) in it were never marked (in progress,"
                        " or killed before their end): 2 (bestfit); --runs ID reports one as it"
                        " stands"),
               "report", UNF, "-o", OUT);
    unsetenv("VREPORT_GNUPLOT");
}

/* Lines of `text` (stdout), the longest in *longest. */
static int count_lines(const char *text, size_t *longest)
{
    int n = 0;
    *longest = 0;
    for (const char *p = text; *p; n++) {
        size_t len = strcspn(p, "\n");
        if (len > *longest)
            *longest = len;
        p += len + (p[len] == '\n');
    }
    return n;
}

/* report --list: a table in 100 columns; --json and --csv with every column
 * of the runs table under its name (as many as the database has). */
static void test_list(void)
{
    sqlite3 *db;
    assert_true(sqlite3_open_v2(DB, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *st;
    assert_true(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM pragma_table_info('runs')", -1, &st,
                                   NULL) == SQLITE_OK);
    assert_true(sqlite3_step(st) == SQLITE_ROW);
    int columns = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);

    size_t longest;
    CLI_EXPECT(0, TEXTS(""), "report", DB, "--list");
    expect_eq_u64(count_lines(cli_last.out, &longest), 4); /* header, rule, 2 runs */
    expect_true(longest <= 100);
    expect_true(strstr(cli_last.out, "| 1 | bestfit | ok | 64.000 MiB | ") != NULL);
    expect_true(strstr(cli_last.out, "| small.trace |\n") != NULL);

    CLI_EXPECT(0, TEXTS(""), "report", DB, "--list", "--csv");
    expect_eq_u64(count_lines(cli_last.out, &longest), 3);
    expect_true(strncmp(cli_last.out, "id,trace,trace_crc32,trace_bytes,", 33) == 0);
    int commas = 0;
    for (const char *p = cli_last.out; *p && *p != '\r'; p++)
        commas += *p == ',';
    expect_eq_u64(commas, columns - 1);
    expect_true(strstr(cli_last.out, "\r\n2,") != NULL);

    CLI_EXPECT(0, TEXTS(""), "report", DB, "--list", "--json");
    const char *start = "[\n  {\"id\": 1, \"trace\": \"";
    expect_true(strncmp(cli_last.out, start, strlen(start)) == 0);
    expect_true(strstr(cli_last.out, "\"policy\": \"tlsf\"") != NULL);
    expect_true(strstr(cli_last.out, "\"detail\": null") != NULL);
    int keys = 0;
    for (const char *p = cli_last.out; (p = strstr(p, "\": ")) != NULL; p++)
        keys++;
    expect_eq_u64(keys, 2 * columns);
    expect_true(strcmp(cli_last.out + strlen(cli_last.out) - 3, "}\n]") == 0 ||
                strcmp(cli_last.out + strlen(cli_last.out) - 4, "}\n]\n") == 0);

    CLI_EXPECT(2, TEXTS("--json and --csv print the --list listing: add --list"), "report", DB,
               "--json");
    CLI_EXPECT(2, TEXTS("--json and --csv: choose one"), "report", DB, "--list", "--json",
               "--csv");
}

int main(void)
{
    assert_true(system("rm -rf " OUT) == 0);
    make_db();
    test_usage();
    test_bad_databases();
    test_bad_runs();
    test_bad_outputs();
    test_unfinished_runs();
    test_list();
    return test_finish("cli_report");
}
