/* test_cli_serve.c - `serve` on its command line: --help and --version, bad
 * options and values exit 2 naming them, a workload line that does not parse
 * exits 1 naming file:line, a database that cannot be opened is named; a
 * small workload runs every policy named, one JSON line each, and logs one
 * finished runs row per policy with its outcomes and a ledger row per step. */
#include <sqlite3.h>

#include "test_cli_lib.h"

#define AZURE VRAM_RECORDINGS_DIR "/AzureLLMInferenceTrace_conv.csv"

static void test_usage(void)
{
    CLI_EXPECT_HELP("serve", "usage: serve --workload FILE");
    CLI_EXPECT(0, TEXTS(""), "serve", "--version");
    expect_true(strstr(cli_last.out, "(vramlab)") != NULL);
    CLI_EXPECT(2, TEXTS("--workload is required"), "serve");
    CLI_EXPECT(2, TEXTS("--policy needs a value"), "serve", "--workload", "w.csv", "--policy");
    CLI_EXPECT(2, TEXTS("--policy 'firstfit'", "bestfit, buddy, tlsf, pool, caching"), "serve", "--workload",
               "w.csv", "--policy", "bestfit,firstfit");
    CLI_EXPECT(2, TEXTS("--check-every '-1'"), "serve", "--workload", "w.csv", "--check-every", "-1");
    CLI_EXPECT(2, TEXTS("--engine 'blocks'", "paged, contiguous, max, pow2 or oracle"), "serve", "--workload",
               "w.csv", "--engine", "blocks");
    CLI_EXPECT(2, TEXTS("--speedup 'nan'"), "serve", "--workload", "w.csv", "--speedup", "nan");
}

static void test_bad_input(void)
{
    static const char bad[] = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                              "2023-11-16 18:15:46.000000,100,20\n"
                              "2023-11-16 18:15:47.000000,-5,20\n";
    cli_write_file("cli_serve_bad.csv", bad, sizeof bad - 1);
    CLI_EXPECT(1, TEXTS("serve: bestfit: cli_serve_bad.csv:3: ContextTokens"), "serve", "--workload",
               "cli_serve_bad.csv", "--policy", "bestfit", "--no-db");
    CLI_EXPECT(1, TEXTS("cli_serve_missing.csv: cannot open: No such file"), "serve", "--workload",
               "cli_serve_missing.csv", "--no-db");
    CLI_EXPECT(1, TEXTS("unknown model 'nope'"), "serve", "--workload", "cli_serve_bad.csv", "--model", "nope",
               "--no-db");
    CLI_EXPECT(1, TEXTS("cli_serve_nodir/x.db"), "serve", "--workload", "cli_serve_bad.csv", "--db",
               "cli_serve_nodir/x.db");
    CLI_EXPECT(1, TEXTS("the pool policy serves fixed blocks"), "serve", "--workload", "cli_serve_bad.csv",
               "--policy", "pool", "--engine", "max", "--no-db");
    remove("cli_serve_bad.csv");
}

static int64_t one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void test_runs(void)
{
    FILE *in = fopen(AZURE, "r"), *out = fopen("cli_serve_w.csv", "w");
    assert_true(in && out);
    char line[512];
    for (int i = 0; i <= 40 && fgets(line, sizeof line, in); i++)
        fputs(line, out);
    fclose(in);
    assert_true(fclose(out) == 0);
    remove("cli_serve.db");
    CLI_EXPECT(0, TEXTS(""), "serve", "--workload", "cli_serve_w.csv", "--policy", "bestfit,buddy", "--engine",
               "pow2", "--json", "--db", "cli_serve.db", "--check-every", "10");
    const char *a = strstr(cli_last.out, "{\"policy\":\"bestfit\",\"engine\":\"pow2\"");
    const char *b = strstr(cli_last.out, "{\"policy\":\"buddy\",\"engine\":\"pow2\"");
    expect_true(a && b && a < b && strstr(cli_last.out, "\"finished\":40,"));
    sqlite3 *db = NULL;
    assert_true(sqlite3_open_v2("cli_serve.db", &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    expect_eq_u64((uint64_t)one_int(db, "SELECT COUNT(*) FROM runs WHERE status = 'ok' AND engine = 'pow2'"),
                  2);
    expect_eq_u64((uint64_t)one_int(db, "SELECT COUNT(*) FROM serve WHERE finished = 40"), 2);
    /* a ledger row per step, adding up to the region */
    expect_eq_u64((uint64_t)one_int(db, "SELECT COUNT(*) FROM kv_ledger k JOIN serve s USING (run_id)"
                                        " WHERE k.tokens + k.reserved + k.waste + k.free_unusable +"
                                        " k.free_usable != s.kv_bytes"),
                  0);
    expect_true(one_int(db, "SELECT COUNT(*) FROM kv_ledger") ==
                one_int(db, "SELECT SUM(steps) FROM serve"));
    sqlite3_close(db);
    remove("cli_serve.db");
    remove("cli_serve.db-wal");
    remove("cli_serve.db-shm");
    remove("cli_serve_w.csv");
}

int main(void)
{
    test_usage();
    test_bad_input();
    test_runs();
    return test_finish("cli_serve");
}
