/* test_report_prefix.c - report draws the prefix cache's hit ratio against
 * capacity (issue 12) from the runs table. Two hand-made traces with prefix
 * events and known answers (tests/test_replay_prefix.c):
 *   - tests/data/prefix_lru.trace, the classic reference string, one block per
 *     request: at 3 blocks LRU hits 8 of 20 (0.4), Belady 12 (0.6), an
 *     unlimited cache 14 (0.7); replayed at 2, 3 and 6 blocks under the lru and
 *     lfu prefix policies, and at 3 under vllm with a host tier of 20 (every
 *     repeat hits on one tier: 0.7);
 *   - tests/data/prefix_chain.trace: 5 of 9 blocks hit with room (16 blocks),
 *     2 at 1 block (LRU 0, Belady 2);
 * each through bin/replay --db, beside a run without a prefix cache. Repeats
 * of a replay are exact, so to see that the report draws each point's median
 * (not the mean, nor the last run) two of the three repeats at (lru, 3
 * blocks) are given other hit ratios around the true one, one of the two at
 * (vllm, 16 blocks) another (an even count: the mean of the middle two), and
 * one of two repeats at (lfu, 6) is marked failed with a ratio of 0 (left
 * out, and said). report must write prefix.png/.svg and one data/prefix_K.dat
 * per trace whose every cell is the median the test computes from the runs
 * table itself; summary.md and index.html show the same numbers. A database
 * without prefix-cache runs has neither figure nor section (the stale image
 * removed); one whose only prefix run failed says that nothing is drawn. */
#include <math.h>

#include "test_report_lib.h"

#define WORK "report_prefix_work"
#define DB WORK "/prefix.db"
#define PLAIN_DB WORK "/plain.db"
#define FAILED_DB WORK "/failed.db"
#define OUT WORK "/out"
#define LOG WORK "/log.txt"
#define REPLAY_BIN VRAM_BINARY_DIR "/bin/replay"
#define LRU_TRACE VRAM_SOURCE_DIR "/tests/data/prefix_lru.trace"
#define CHAIN_TRACE VRAM_SOURCE_DIR "/tests/data/prefix_chain.trace"

/* replay --policy POLICIES --prefix-cache-blocks BLOCKS --prefix-policy P
 * [--prefix-host-blocks HOST] --db DB TRACE */
static void replay(const char *db, const char *trace, const char *policies, const char *blocks,
                   const char *prefix_policy, const char *host)
{
    char *argv[16] = {REPLAY_BIN, "--quiet", "--policy", (char *)policies, "--db", (char *)db};
    int n = 6;
    if (blocks)
        argv[n++] = "--prefix-cache-blocks", argv[n++] = (char *)blocks;
    if (prefix_policy)
        argv[n++] = "--prefix-policy", argv[n++] = (char *)prefix_policy;
    if (host)
        argv[n++] = "--prefix-host-blocks", argv[n++] = (char *)host;
    argv[n++] = (char *)trace;
    argv[n] = NULL;
    expect_eq_u64(run_logged(argv, NULL, LOG), 0);
}

static int report(const char *db)
{
    char *argv[] = {REPORT_BIN, (char *)db, "-o", OUT, NULL};
    return run_logged(argv, NULL, LOG);
}

static void sql(const char *db, const char *statement)
{
    sqlite3 *q;
    assert_true(sqlite3_open(db, &q) == SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(q, statement, NULL, NULL, &msg) != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", statement, msg);
    expect_true(msg == NULL);
    sqlite3_free(msg);
    sqlite3_close(q);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* What the report must draw, from the runs table alone: the median of `expr`
 * over the runs of the trace named `trace` (its file name) that ended ok with
 * a prefix cache at `blocks` blocks that looked something up, on `curve`
 * ("POLICY" or "POLICY+hostN") or any curve (NULL); NAN when none. */
static double want(sqlite3 *q, const char *trace, const char *curve, long long blocks,
                   const char *expr)
{
    char *text = sqlite3_mprintf(
        "SELECT %s FROM runs WHERE status = 'ok' AND prefix_policy IS NOT NULL"
        " AND prefix_lookup_blocks > 0 AND trace LIKE '%%/' || ?1 AND prefix_blocks = ?2"
        " AND (?3 IS NULL OR prefix_policy || CASE WHEN prefix_host_blocks > 0"
        " THEN '+host' || prefix_host_blocks ELSE '' END = ?3)", expr);
    sqlite3_stmt *st;
    assert_true(sqlite3_prepare_v2(q, text, -1, &st, NULL) == SQLITE_OK);
    sqlite3_free(text);
    sqlite3_bind_text(st, 1, trace, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, blocks);
    if (curve)
        sqlite3_bind_text(st, 3, curve, -1, SQLITE_STATIC);
    double v[64];
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < 64)
        v[n++] = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int same(double a, double b)
{
    return (isnan(a) && isnan(b)) || fabs(a - b) < 1e-6;
}

/* The table cell of a ratio, as the page writes it. */
static void cell(double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.4f", v);
}

static const char *const refs[3] = {"1.0 * prefix_lru_hits / prefix_lookup_blocks",
                                    "1.0 * prefix_belady_hits / prefix_lookup_blocks",
                                    "1.0 * prefix_unlimited_hits / prefix_lookup_blocks"};

/* data/prefix_K.dat of the trace `name` against the runs table: its header
 * names the trace, its runs and the curves in order; each row is a capacity
 * of the trace's runs, ascending; each cell the median want() gives; and the
 * same numbers are rows of summary.md's and index.html's tables. The rows (a
 * capacity each) into caps. */
static size_t check_dat(sqlite3 *q, int k, const char *name, const char *curves, size_t runs,
                        const char *md, const char *html, long long *caps)
{
    char path[256], head[512];
    snprintf(path, sizeof path, OUT "/data/prefix_%d.dat", k);
    char *dat = read_file(path, NULL);
    assert_true(dat != NULL);
    char crc[16];
    sqlite3_stmt *st;
    char *text = sqlite3_mprintf("SELECT trace_crc32 FROM runs WHERE trace LIKE '%%/%q' LIMIT 1",
                                 name);
    assert_true(sqlite3_prepare_v2(q, text, -1, &st, NULL) == SQLITE_OK);
    sqlite3_free(text);
    assert_true(sqlite3_step(st) == SQLITE_ROW);
    snprintf(crc, sizeof crc, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    snprintf(head, sizeof head, "# %s (crc32 %s), medians of %zu run(s): blocks %s"
                                " lru_reference belady unlimited\n", name, crc, runs, curves);
    if (strncmp(dat, head, strlen(head)) != 0)
        fprintf(stderr, "%s: header\n  %.200s\nwant\n  %s", path, dat, head);
    expect_true(strncmp(dat, head, strlen(head)) == 0);
    char title[256];
    snprintf(title, sizeof title, "%s (crc32 %s), %zu run(s):", name, crc, runs);
    expect_true(strstr(md, title) != NULL);
    expect_true(strstr(html, title) != NULL);

    char curve[8][48];
    size_t ncurves = 0;
    for (const char *c = curves; *c && ncurves < 8;) {
        size_t len = strcspn(c, " ");
        snprintf(curve[ncurves++], sizeof curve[0], "%.*s", (int)len, c);
        c += len + (c[len] == ' ');
    }
    size_t rows = 0;
    for (char *line = strchr(dat, '\n') + 1; *line; rows++) {
        char *end;
        long long blocks = strtoll(line, &end, 10);
        assert_true(rows < 8);
        caps[rows] = blocks;
        expect_true(rows == 0 || blocks > caps[rows - 1]);
        char md_row[512], html_row[1024], v[32];
        int m = snprintf(md_row, sizeof md_row, "| %lld |", blocks);
        int h = snprintf(html_row, sizeof html_row, "<tr><td class=\"num\">%lld</td>", blocks);
        for (size_t c = 0; c < ncurves + 3; c++) {
            double expected = c < ncurves ? want(q, name, curve[c], blocks, "prefix_hit_ratio")
                                          : want(q, name, NULL, blocks, refs[c - ncurves]);
            assert_true(*end == '\t');
            double got = end[1] == '?' ? NAN : strtod(end + 1, NULL);
            if (!same(got, expected))
                fprintf(stderr, "%s, %lld blocks, column %zu: %g, want %g\n", name, blocks,
                        c + 2, got, expected);
            expect_true(same(got, expected));
            end = strpbrk(end + 1, "\t\n");
            cell(expected, v, sizeof v);
            m += snprintf(md_row + m, sizeof md_row - (size_t)m, " %s |", v);
            h += snprintf(html_row + h, sizeof html_row - (size_t)h,
                          "<td class=\"num\">%s</td>", v);
        }
        expect_true(*end == '\n');
        snprintf(md_row + m, sizeof md_row - (size_t)m, "\n");
        if (!strstr(md, md_row) || !strstr(html, html_row))
            fprintf(stderr, "missing\n  %s  %s\n", md_row, html_row);
        expect_true(strstr(md, md_row) != NULL);
        expect_true(strstr(html, html_row) != NULL);
        line = end + 1;
    }
    free(dat);
    return rows;
}

static void test_prefix_runs(void)
{
    rm_tree(WORK);
    mkdir(WORK, 0777);
    test_remove_db(DB);
    static const char *const sizes[] = {"2", "3", "6"};
    for (size_t i = 0; i < 3; i++) {
        replay(DB, LRU_TRACE, i == 1 ? "bestfit,tlsf,buddy" : "bestfit", sizes[i], "lru", NULL);
        replay(DB, LRU_TRACE, i == 2 ? "bestfit,tlsf" : "bestfit", sizes[i], "lfu", NULL);
    }
    replay(DB, LRU_TRACE, "bestfit", "3", "vllm", "20");
    replay(DB, CHAIN_TRACE, "bestfit", "1", "vllm", NULL);
    replay(DB, CHAIN_TRACE, "bestfit,tlsf", "16", "vllm", NULL);
    replay(DB, MIX_TRACE, "bestfit", NULL, NULL, NULL); /* no prefix cache */
    /* the repeats (heap policies of one replay): (lru, 3) 0.4 with 0.1 and 0.95
     * beside it; one of (vllm, 16) 0.75; one of (lfu, 6) failed */
    sql(DB, "UPDATE runs SET prefix_hit_ratio = 0.1 WHERE prefix_policy = 'lru' AND"
            " prefix_blocks = 3 AND policy = 'tlsf';"
            "UPDATE runs SET prefix_hit_ratio = 0.95 WHERE prefix_policy = 'lru' AND"
            " prefix_blocks = 3 AND policy = 'buddy';"
            "UPDATE runs SET prefix_hit_ratio = 0.75 WHERE trace LIKE '%prefix_chain.trace' AND"
            " prefix_blocks = 16 AND policy = 'tlsf';"
            "UPDATE runs SET status = 'failed', prefix_hit_ratio = 0 WHERE prefix_policy = 'lfu'"
            " AND prefix_blocks = 6 AND policy = 'tlsf'");
    sqlite3 *q = test_open_db(DB);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE prefix_policy IS NOT NULL"), 13);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE prefix_hit_ratio IN (0.1, 0.95,"
                             " 0.75) OR status = 'failed'"), 4);

    expect_eq_u64(report(DB), 0);
    expect_true(png_ok(OUT "/prefix.png", 200, 5000));
    char *svg = read_file(OUT "/prefix.svg", NULL);
    expect_true(svg && strstr(svg, "prefix_lru.trace") && strstr(svg, "prefix_chain.trace") &&
                strstr(svg, "vllm+host20") && strstr(svg, "Belady") &&
                strstr(svg, "gnuplot_svg.toggleVisibility"));
    free(svg);
    char *md = read_file(OUT "/summary.md", NULL), *html = read_file(OUT "/index.html", NULL);
    assert_true(md && html);

    /* the trace with the smaller CRC-32 is drawn first */
    long long caps[8];
    int lru_first = test_q1(q, "SELECT (SELECT trace_crc32 FROM runs WHERE trace LIKE"
                               " '%%prefix_lru.trace') < (SELECT trace_crc32 FROM runs WHERE"
                               " trace LIKE '%%prefix_chain.trace')");
    /* 2 + 5 + 2 runs (the failed one left out); curves: vllm's before lru's before lfu's */
    expect_eq_u64(check_dat(q, lru_first ? 1 : 2, "prefix_lru.trace", "vllm+host20 lru lfu", 9,
                            md, html, caps), 3);
    expect_true(caps[0] == 2 && caps[1] == 3 && caps[2] == 6);
    expect_eq_u64(check_dat(q, lru_first ? 2 : 1, "prefix_chain.trace", "vllm", 3, md, html,
                            caps), 2);
    expect_true(caps[0] == 1 && caps[1] == 16);
    /* the known answers (test_replay_prefix.c), and the medians of the repeats */
    expect_true(same(want(q, "prefix_lru.trace", "lru", 3, "prefix_hit_ratio"), 0.4));
    expect_true(same(want(q, "prefix_lru.trace", NULL, 3, refs[0]), 0.4));
    expect_true(same(want(q, "prefix_lru.trace", NULL, 3, refs[1]), 0.6));
    expect_true(same(want(q, "prefix_lru.trace", NULL, 3, refs[2]), 0.7));
    expect_true(same(want(q, "prefix_lru.trace", "vllm+host20", 3, "prefix_hit_ratio"), 0.7));
    expect_true(same(want(q, "prefix_lru.trace", "lfu", 6, "prefix_hit_ratio"), 0.7));
    expect_true(same(want(q, "prefix_chain.trace", "vllm", 16, "prefix_hit_ratio"),
                     (5.0 / 9 + 0.75) / 2));
    expect_true(same(want(q, "prefix_chain.trace", NULL, 1, refs[0]), 0));
    expect_true(same(want(q, "prefix_chain.trace", NULL, 1, refs[1]), 2.0 / 9));
    expect_true(strstr(md, "| 3 | 0.7000 | 0.4000 | 0.4500 | 0.4000 | 0.6000 | 0.7000 |\n") &&
                strstr(md, "| 2 | - | 0.1500 | 0.2500 | 0.1500 | 0.4500 | 0.7000 |\n") &&
                strstr(md, "| 16 | 0.6528 | 0.5556 | 0.5556 | 0.5556 |\n"));
    sqlite3_close(q);

    expect_true(strstr(md, "## Prefix cache\n\nThe prefix cache's block hit ratio against its"
                           " device blocks: 12 run(s), and 1 more with a prefix cache left out") &&
                strstr(md, "![The prefix cache's block hit ratio") &&
                strstr(md, "](prefix.png) ([SVG](prefix.svg))") && strstr(md, "docs/METRICS.md"));
    expect_true(strstr(html, "<h2>Prefix cache</h2>") && strstr(html, "id=\"prefix-runs\"") &&
                strstr(html, "<table class=\"prefix\" id=\"prefix-2\">") &&
                strstr(html, "data=\"prefix.svg\""));
    free(md);
    free(html);
}

/* Without prefix-cache runs: no section, no figure listed, the last report's
 * image and panel data removed. */
static void test_no_prefix_runs(void)
{
    static const char *const policies[] = {"bestfit", NULL};
    make_db(PLAIN_DB, MIX_TRACE, policies);
    expect_eq_u64(report(PLAIN_DB), 0);
    char *md = read_file(OUT "/summary.md", NULL), *html = read_file(OUT "/index.html", NULL);
    assert_true(md && html);
    expect_true(!strstr(md, "Prefix") && !strstr(md, "prefix.") && !strstr(md, "prefix cache"));
    expect_true(!strstr(html, "Prefix") && !strstr(html, "prefix.") &&
                !strstr(html, "prefix cache") && !strstr(html, "id=\"prefix"));
    expect_true(access(OUT "/prefix.png", F_OK) != 0 && access(OUT "/prefix.svg", F_OK) != 0);
    expect_true(access(OUT "/data/prefix_1.dat", F_OK) != 0 &&
                access(OUT "/data/prefix_2.dat", F_OK) != 0);
    free(md);
    free(html);
}

/* A prefix-cache run that failed, beside one without a prefix cache: the
 * section and the figure's line say that nothing is drawn and why. */
static void test_failed_prefix_run(void)
{
    test_remove_db(FAILED_DB);
    replay(FAILED_DB, MIX_TRACE, "bestfit", NULL, NULL, NULL);
    replay(FAILED_DB, CHAIN_TRACE, "bestfit", "16", "lru", NULL);
    sql(FAILED_DB, "UPDATE runs SET status = 'failed' WHERE id = 2");
    expect_eq_u64(report(FAILED_DB), 0);
    char *md = read_file(OUT "/summary.md", NULL), *html = read_file(OUT "/index.html", NULL);
    assert_true(md && html);
    static const char none[] =
        "1 run(s) with a prefix cache, none that ended ok having looked up a block";
    char line[256];
    snprintf(line, sizeof line, "## Prefix cache\n\nNone drawn: %s.\n", none);
    expect_true(strstr(md, line) != NULL);
    snprintf(line, sizeof line, "unlimited cache (dotted) over the same lookups, whose blocks are"
                                " all cache; medians of the runs at each point: not drawn: %s\n",
             none);
    expect_true(strstr(md, line) != NULL);
    expect_true(strstr(html, "<p id=\"prefix-none\">None drawn: 1 run(s)") &&
                !strstr(html, "data=\"prefix.svg\""));
    expect_true(access(OUT "/prefix.png", F_OK) != 0);
    free(md);
    free(html);
}

int main(void)
{
    test_prefix_runs();
    test_no_prefix_runs();
    test_failed_prefix_run();
    rm_tree(WORK);
    return test_finish("report_prefix");
}
