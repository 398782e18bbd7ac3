/* test_report_serve.c - report draws the closed loop's comparison (issue 14
 * item 5) from the database: serve runs tests/data/serve_small.csv with two
 * heap policies under two KV reservation styles into a database; report on it
 * writes serve.png/.svg and data/serve.dat, and both summary.md and index.html
 * name every run's style and policy with the KV ledger's time-weighted shares
 * (the report computes them from kv_ledger; they must equal the ones serve
 * stored in its serve row) and throughput, and define the ledger's parts. A
 * database without serve runs says so, with no figure (a stale one removed). */
#include "test_report_lib.h"

#define WORK "report_serve_work"
#define DB WORK "/serve.db"
#define REPLAY_DB WORK "/replay.db"
#define OUT WORK "/out"
#define LOG WORK "/log.txt"
#define SERVE_BIN VRAM_BINARY_DIR "/bin/serve"

static const char *const styles[] = {"paged", "max"};

static void serve(const char *style)
{
    char *argv[] = {SERVE_BIN, "--workload", VRAM_SOURCE_DIR "/tests/data/serve_small.csv", "--policy",
                    "bestfit,tlsf", "--engine", (char *)style, "--db", DB, "--progress", "0", NULL};
    expect_eq_u64(run_logged(argv, NULL, LOG), 0);
}

static int report(const char *db)
{
    char *argv[] = {REPORT_BIN, (char *)db, "-o", OUT, NULL};
    return run_logged(argv, NULL, LOG);
}

/* Each serve run's row, as the page must show it, from the database's serve row. */
static void check_runs(const char *md, const char *html, const char *dat)
{
    sqlite3 *q;
    assert_true(sqlite3_open_v2(DB, &q, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *st;
    assert_true(sqlite3_prepare_v2(q,
                                   "SELECT r.id, r.engine, r.policy, s.share_tokens, s.share_reserved,"
                                   " s.share_waste, s.share_free_unusable, s.share_free_usable,"
                                   " s.tokens_per_s FROM serve s JOIN runs r ON r.id = s.run_id ORDER BY r.id",
                                   -1, &st, NULL) == SQLITE_OK);
    int rows = 0, waste = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(st, 0);
        const char *style = (const char *)sqlite3_column_text(st, 1);
        const char *policy = (const char *)sqlite3_column_text(st, 2);
        char want_md[512], want_html[1024], want_dat[128];
        int m = snprintf(want_md, sizeof want_md, "| %lld | %s | %s |", id, style, policy);
        int h = snprintf(want_html, sizeof want_html, "<tr><td class=\"num\">%lld</td><td>%s</td><td>%s</td>",
                         id, style, policy);
        for (int k = 0; k < 5; k++) {
            double v = sqlite3_column_double(st, 3 + k);
            m += snprintf(want_md + m, sizeof want_md - (size_t)m, " %.3f |", v);
            h += snprintf(want_html + h, sizeof want_html - (size_t)h, "<td class=\"num\">%.3f</td>", v);
        }
        snprintf(want_md + m, sizeof want_md - (size_t)m, " %.1f |", sqlite3_column_double(st, 8));
        snprintf(want_html + h, sizeof want_html - (size_t)h, "<td class=\"num\">%.1f</td>",
                 sqlite3_column_double(st, 8));
        snprintf(want_dat, sizeof want_dat, "\"%s %s #%lld\"", style, policy, id);
        if (!strstr(md, want_md) || !strstr(html, want_html) || !strstr(dat, want_dat))
            fprintf(stderr, "run %lld: missing\n  %s\n  %s\n  %s\n", id, want_md, want_html, want_dat);
        expect_true(strstr(md, want_md) != NULL);
        expect_true(strstr(html, want_html) != NULL);
        expect_true(strstr(dat, want_dat) != NULL);
        waste += strcmp(style, "max") == 0 && sqlite3_column_double(st, 5) > 0.01;
        rows++;
    }
    sqlite3_finalize(st);
    sqlite3_close(q);
    expect_eq_u64((uint64_t)rows, 4);
    expect_eq_u64((uint64_t)waste, 2); /* max-length reservation wastes: the figure has something to show */
}

static void test_serve_runs(void)
{
    rm_tree(WORK);
    mkdir(WORK, 0777);
    for (size_t i = 0; i < sizeof styles / sizeof styles[0]; i++)
        serve(styles[i]);
    expect_eq_u64(report(DB), 0);
    expect_true(png_ok(OUT "/serve.png", 200, 5000));
    char *svg = read_file(OUT "/serve.svg", NULL);
    expect_true(svg && strstr(svg, "serve_small.csv") && strstr(svg, "gnuplot_svg.toggleVisibility"));
    free(svg);
    char *md = read_file(OUT "/summary.md", NULL), *html = read_file(OUT "/index.html", NULL);
    char *dat = read_file(OUT "/data/serve.dat", NULL);
    assert_true(md && html && dat);
    check_runs(md, html, dat);
    expect_true(strstr(md, "## Closed loop (serve)") && strstr(md, "- **free, unusable**: ") &&
                strstr(md, "docs/ENGINE_MODEL.md") && strstr(md, "![The closed loop (serve)") &&
                !strstr(md, "None: no serve"));
    expect_true(strstr(html, "<h2>Closed loop (serve)</h2>") && strstr(html, "<dt>internal waste</dt>") &&
                strstr(html, "<a href=\"docs/ENGINE_MODEL.md\">") && strstr(html, "data=\"serve.svg\""));
    free(md);
    free(html);
    free(dat);
}

/* A replay-only database: the section says there are none, the figure is not
 * drawn and the last report's serve.png is gone. */
static void test_no_serve_runs(void)
{
    static const char *const policies[] = {"bestfit", NULL};
    make_db(REPLAY_DB, MIX_TRACE, policies);
    expect_eq_u64(report(REPLAY_DB), 0);
    char *md = read_file(OUT "/summary.md", NULL), *html = read_file(OUT "/index.html", NULL);
    assert_true(md && html);
    expect_true(strstr(md, "## Closed loop (serve)\n\nNone: no serve (closed-loop) runs in this database") &&
                strstr(md, "not drawn: no serve (closed-loop) runs in this database") &&
                !strstr(md, "| KV style |"));
    expect_true(strstr(html, "<p id=\"serve-none\">None: no serve") && !strstr(html, "serve-runs") &&
                !strstr(html, "data=\"serve.svg\""));
    expect_true(access(OUT "/serve.png", F_OK) != 0 && access(OUT "/serve.svg", F_OK) != 0);
    free(md);
    free(html);
}

int main(void)
{
    test_serve_runs();
    test_no_serve_runs();
    rm_tree(WORK);
    return test_finish("report_serve");
}
