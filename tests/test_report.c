/* test_report.c - bin/report over a database replayed from report_mix.trace:
 * every figure exists as a PNG and an SVG of sensible size, summary.md holds
 * exactly the numbers SQL gives, the exported data and the heap map agree with
 * the samples, comparisons mark what got worse, a missing gnuplot still yields
 * data and summaries, and bad input gets a clear error and a non-zero exit.
 * A version-2 trace that forces a preemption shows its count and modelled
 * cost, its events row and a heap map just before it; version-1 runs show n/a
 * there, and a comparison does not judge n/a. */
#include <math.h>

#include "test_report_lib.h"

#define WORK "report_work"
#define DB WORK "/mix.db"
#define OUT WORK "/out"
#define LOG WORK "/log.txt"

/* The figures of the mix database's report (caching has OOMs: the second heap map). */
static const char *const stems[] = {"footprint", "frag",      "latency",
                                    "heapmap",   "evictions", "heapmap_oom", NULL};
static const char *const policies[] = {"bestfit", "buddy", "tlsf", "pool", "caching", NULL};

static sqlite3 *q;

static void expect_file_contains(const char *path, const char *want)
{
    char *text = read_file(path, NULL);
    if (!text || !strstr(text, want)) {
        fprintf(stderr, "FAILED: %s %s \"%s\"\n", path, text ? "lacks" : "is missing, wanted",
                want);
        test_failures++;
    }
    free(text);
}

static int64_t q1(const char *fmt, long long a)
{
    char sql[1024];
    snprintf(sql, sizeof sql, fmt, a);
    sqlite3_stmt *s;
    int64_t v = INT64_MIN;
    if (sqlite3_prepare_v2(q, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static double qd(const char *fmt, long long a)
{
    char sql[1024];
    snprintf(sql, sizeof sql, fmt, a);
    sqlite3_stmt *s;
    double v = NAN;
    if (sqlite3_prepare_v2(q, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int report(const char *extra_env, const char *a1, const char *a2, const char *a3,
                  const char *a4, const char *a5)
{
    char *argv[] = {REPORT_BIN, (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, NULL};
    return run_logged(argv, extra_env, LOG);
}

/* The test's own formatting of bytes, as summary.md documents it. */
static void fmt_bytes(double v, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (v < 1024) {
        snprintf(buf, len, "%.0f B", v);
        return;
    }
    int u = 0;
    for (v /= 1024; v >= 1024 && u < 3; u++)
        v /= 1024;
    snprintf(buf, len, "%.3f %s", v, units[u]);
}

/* Splits the markdown row of `label` in summary.md into its cells. */
#define MAX_CELLS 24
static int summary_cells(const char *md, const char *label, char cells[MAX_CELLS][64])
{
    char start[96];
    snprintf(start, sizeof start, "\n| %s |", label);
    const char *row = strstr(md, start);
    if (!row)
        return 0;
    row += 2;
    int n = 0;
    while (n < MAX_CELLS && *row && *row != '\n') {
        const char *end = strpbrk(row, "|\n");
        if (!end || *end == '\n')
            break;
        size_t len = (size_t)(end - row);
        while (len && row[len - 1] == ' ')
            len--;
        snprintf(cells[n++], 64, "%.*s", (int)len, row);
        row = end + 1;
        while (*row == ' ')
            row++;
    }
    return n;
}

static void expect_cell(const char *cell, const char *want, const char *what, int64_t run)
{
    if (strcmp(cell, want) != 0) {
        fprintf(stderr, "FAILED: run %lld %s: summary.md has \"%s\", SQL gives \"%s\"\n",
                (long long)run, what, cell, want);
        test_failures++;
    }
}

/* Each of `which` (NULL-terminated) is a PNG and an interactive SVG of sensible size. */
static void check_images(const char *out, const char *const *which)
{
    for (size_t i = 0; which[i]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.png", out, which[i]);
        expect_true(png_ok(path, 200, 5000));
        snprintf(path, sizeof path, "%s/%s.svg", out, which[i]);
        size_t len;
        char *svg = read_file(path, &len);
        int w = 0, h = 0;
        const char *tag = svg ? strstr(svg, "<svg") : NULL;
        const char *wa = tag ? strstr(tag, "width=\"") : NULL;
        const char *ha = tag ? strstr(tag, "height=\"") : NULL;
        if (wa)
            w = atoi(wa + 7);
        if (ha)
            h = atoi(ha + 8);
        const char *end = svg ? strstr(svg, "</svg>") : NULL;
        expect_true(svg && strstr(svg, "gnuplot_svg.toggleVisibility") != NULL); /* mouse */
        if (!svg || strncmp(svg, "<?xml", 5) != 0 || !tag || !end || w < 200 || w > 5000 ||
            h < 100 || h > 5000 || len < 5000) {
            fprintf(stderr, "FAILED: %s is not an SVG of sensible size (%d x %d, %zu bytes)\n",
                    path, w, h, svg ? len : 0);
            test_failures++;
        }
        free(svg);
    }
}

/* The columns of summary.md after run, policy and status. */
enum {
    C_PEAK = 3, C_RATIO, C_WASTE, C_FREE, C_FRAG, C_OOMS, C_OOMS_DF, C_EVICT, C_BY_KIND, C_BELADY,
    C_REMAT, C_PREEMPT, C_PREEMPT_MS, C_BELADY_PREEMPT, C_MODELLED, C_ALLOC50,
    C_ALLOC99 = C_ALLOC50 + 1, C_CELLS = C_ALLOC50 + 4
};

/* The first sample with the highest footprint (the verdict's and the
 * summary's "at peak"). */
#define PEAK_SAMPLE                                                                        \
    "(SELECT event_index FROM samples WHERE run_id=%1$lld ORDER BY footprint DESC, event_index" \
    " LIMIT 1)"

/* Every summary cell equals what SQL gives for the run. */
static void check_summary(int64_t run, const char *label)
{
    char *md = read_file(OUT "/summary.md", NULL);
    assert_true(md != NULL);
    char c[MAX_CELLS][64];
    int n = summary_cells(md, label, c);
    expect_eq_u64(n, C_CELLS);
    if (n != C_CELLS) {
        free(md);
        return;
    }
    char want[64];
    fmt_bytes(qd("SELECT peak_footprint FROM runs WHERE id=%lld", run), want, sizeof want);
    expect_cell(c[C_PEAK], want, "peak footprint", run);
    snprintf(want, sizeof want, "%.3f",
             qd("SELECT CAST(r.peak_footprint AS REAL)/b.peak_live FROM runs r JOIN bounds b"
                " ON b.run_id=r.id WHERE r.id=%lld", run));
    expect_cell(c[C_RATIO], want, "footprint / lower bound", run);
    snprintf(want, sizeof want, "%.3f", qd("SELECT worst_ext_frag FROM runs WHERE id=%lld", run));
    expect_cell(c[C_FRAG], want, "worst ext frag", run);
    fmt_bytes(qd("SELECT internal_waste FROM samples WHERE run_id=%1$lld AND event_index="
                 PEAK_SAMPLE, run), want, sizeof want);
    expect_cell(c[C_WASTE], want, "waste at peak", run);
    fmt_bytes(qd("SELECT footprint - in_use FROM samples WHERE run_id=%1$lld AND event_index="
                 PEAK_SAMPLE, run), want, sizeof want);
    expect_cell(c[C_FREE], want, "free at peak", run);
    snprintf(want, sizeof want, "%.3f ms", qd("SELECT modelled_ms FROM runs WHERE id=%lld", run));
    expect_cell(c[C_MODELLED], want, "modelled time", run);
    static const struct {
        int cell;
        const char *what, *sql;
    } counts[] = {
        {C_OOMS, "ooms", "SELECT COUNT(*) FROM events WHERE run_id=%lld AND kind='oom'"},
        {C_OOMS_DF, "ooms despite free",
         "SELECT COUNT(*) FROM events WHERE run_id=%lld AND kind='oom' AND despite_free=1"},
        {C_EVICT, "evictions", "SELECT evictions FROM runs WHERE id=%lld"},
        {C_BELADY, "belady", "SELECT belady_evictions FROM bounds WHERE run_id=%lld"}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        snprintf(want, sizeof want, "%lld", (long long)q1(counts[i].sql, run));
        expect_cell(c[counts[i].cell], want, counts[i].what, run);
    }
    snprintf(want, sizeof want, "%lld/%lld/%lld/%lld",
             (long long)q1("SELECT evictions_weight FROM runs WHERE id=%lld", run),
             (long long)q1("SELECT evictions_kv FROM runs WHERE id=%lld", run),
             (long long)q1("SELECT evictions_adapter FROM runs WHERE id=%lld", run),
             (long long)q1("SELECT evictions_other FROM runs WHERE id=%lld", run));
    expect_cell(c[C_BY_KIND], want, "evictions by kind", run);
    expect_eq_u64(q1("SELECT evictions - evictions_weight - evictions_kv - evictions_adapter"
                     " - evictions_other FROM runs WHERE id=%lld", run), 0);
    fmt_bytes(qd("SELECT bytes_rematerialised FROM runs WHERE id=%lld", run), want, sizeof want);
    expect_cell(c[C_REMAT], want, "bytes re-materialised", run);
    int64_t preempt = q1("SELECT preemptions FROM runs WHERE id=%lld", run);
    if (q1("SELECT preempt_mode IS NULL FROM runs WHERE id=%lld", run) == 1) {
        /* a version-1 trace: NULL in the database, n/a in the table */
        expect_true(preempt == INT64_MIN);
        expect_true(isnan(qd("SELECT preempt_modelled_ms FROM runs WHERE id=%lld", run)));
        expect_cell(c[C_PREEMPT], "n/a", "forced preemptions", run);
        expect_cell(c[C_PREEMPT_MS], "n/a", "preemption cost", run);
        expect_cell(c[C_BELADY_PREEMPT], "n/a", "Belady preemptions", run);
    } else {
        snprintf(want, sizeof want, "%lld", (long long)preempt);
        expect_cell(c[C_PREEMPT], want, "forced preemptions", run);
        snprintf(want, sizeof want, "%.3f ms",
                 qd("SELECT preempt_modelled_ms FROM runs WHERE id=%lld", run));
        expect_cell(c[C_PREEMPT_MS], want, "preemption cost", run);
        snprintf(want, sizeof want, "%lld",
                 (long long)q1("SELECT belady_preemptions FROM bounds WHERE run_id=%lld", run));
        expect_cell(c[C_BELADY_PREEMPT], want, "Belady preemptions", run);
    }
    static const char *const lat[] = {
        "SELECT p50_ns FROM latency_summary WHERE run_id=%lld AND op='alloc'",
        "SELECT p99_ns FROM latency_summary WHERE run_id=%lld AND op='alloc'",
        "SELECT p50_ns FROM latency_summary WHERE run_id=%lld AND op='free'",
        "SELECT p99_ns FROM latency_summary WHERE run_id=%lld AND op='free'"};
    for (int i = 0; i < 4; i++) {
        int64_t v = q1(lat[i], run);
        snprintf(want, sizeof want, "%lld ns", (long long)(v == INT64_MIN ? 0 : v));
        expect_cell(c[C_ALLOC50 + i], want, lat[i], run);
    }
    free(md);
}

static long data_rows(const char *path)
{
    char *t = read_file(path, NULL);
    if (!t)
        return -1;
    long rows = 0;
    for (char *line = t; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "")
        rows += *line != '#' && *line != '\n';
    free(t);
    return rows;
}

/* The exported samples and latency CDFs match SQL; the heap map's used bytes
 * are the sample's in_use at the peak of live bytes. */
static void check_data(int64_t run, int first_strip, int strips)
{
    char path[512];
    snprintf(path, sizeof path, OUT "/data/samples_a%lld.dat", (long long)run);
    expect_eq_u64(data_rows(path), q1("SELECT COUNT(*) FROM samples WHERE run_id=%lld", run));
    snprintf(path, sizeof path, OUT "/data/lat_a%lld_alloc.dat", (long long)run);
    expect_eq_u64(data_rows(path), q1("SELECT COUNT(*) FROM latency WHERE run_id=%lld AND"
                                      " op='alloc' AND count>0", run));
    /* drawn where the trace's live bytes peak (every event is sampled here) */
    int64_t event = q1("SELECT peak_live_event FROM bounds WHERE run_id=%lld", run);
    int64_t in_use = q1("SELECT in_use FROM samples WHERE run_id=%lld AND event_index="
                        "(SELECT peak_live_event FROM bounds WHERE run_id=%1$lld)", run);
    char *hm = read_file(OUT "/data/heapmap.dat", NULL);
    assert_true(hm != NULL);
    uint64_t used = 0;
    for (char *line = hm; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
        int strip, kind;
        unsigned long long from, to;
        if (*line != '#' && sscanf(line, "%d %llu %llu %d", &strip, &from, &to, &kind) == 4 &&
            strip >= first_strip && strip < first_strip + strips && kind != 6)
            used += to - from;
    }
    free(hm);
    fprintf(stderr, "run %lld: heap map at event %lld: %llu bytes used\n", (long long)run,
            (long long)event, (unsigned long long)used);
    expect_eq_u64(used, in_use);
    char note[96];
    snprintf(note, sizeof note, "heap map: after event %lld:", (long long)event);
    expect_file_contains(OUT "/summary.md", note);
}

/* The verdict: one entry per run, ranked (no run with more OOMs + forced
 * preemptions above one with fewer), each of its numbers the summary
 * table's: ratio, modelled time, alloc p99, and the waste or free bytes its
 * sentence names. */
static void check_verdict(const char *path, size_t runs)
{
    char *md = read_file(path, NULL);
    assert_true(md != NULL);
    const char *item = strstr(md, "## Verdict\n\n");
    size_t seen = 0;
    double last_fails = -1;
    for (item = item ? strstr(item, "\n1. ") : NULL; item; item = strstr(item, "\n")) {
        item++;
        char num[16];
        snprintf(num, sizeof num, "%zu. ", seen + 1);
        if (strncmp(item, num, strlen(num)) != 0)
            break;
        const char *label = item + strlen(num), *colon = strchr(label, ':');
        const char *eol = strchr(item, '\n');
        assert_true(colon && eol);
        char name[64], entry[2048], c[MAX_CELLS][64], want[160];
        snprintf(name, sizeof name, "%.*s", (int)(colon - label), label);
        snprintf(entry, sizeof entry, "%.*s", (int)(eol - item), item);
        expect_eq_u64(summary_cells(md, name, c), C_CELLS);
        const char *const wants[] = {"%s x peak live", "%s modelled", "alloc p99 %s"};
        const int cells[] = {C_RATIO, C_MODELLED, C_ALLOC99};
        for (int k = 0; k < 3; k++) {
            snprintf(want, sizeof want, wants[k], c[cells[k]]);
            if (!strstr(entry, want)) {
                fprintf(stderr, "FAILED: verdict entry lacks \"%s\": %s\n", want, entry);
                test_failures++;
            }
        }
        if (strstr(entry, "internal waste") ? !strstr(entry, c[C_WASTE])
                                            : !strstr(entry, c[C_FREE]) &&
                                                  !strstr(entry, "every byte below it")) {
            fprintf(stderr, "FAILED: verdict entry names neither waste %s nor free %s: %s\n",
                    c[C_WASTE], c[C_FREE], entry);
            test_failures++;
        }
        double fails = atof(c[C_OOMS]) + atof(c[C_PREEMPT]);
        expect_true(fails >= last_fails);
        last_fails = fails;
        seen++;
    }
    expect_eq_u64(seen, runs);
    expect_true(strstr(md, "Ranked by, in turn: ") != NULL);
    free(md);
}

static void test_report(void)
{
    rm_tree(OUT);
    expect_eq_u64(report(NULL, DB, "-o", OUT, NULL, NULL), 0);
    check_images(OUT, stems);
    int strip = 0;
    for (int64_t run = 1; policies[run - 1]; run++) {
        check_summary(run, policies[run - 1]);
        int strips = strcmp(policies[run - 1], "pool") == 0 ? 2 : 1;
        check_data(run, strip, strips);
        strip += strips;
    }
    check_verdict(OUT "/summary.md", 5);
    /* buddy's rounding, named with its bytes */
    expect_file_contains(OUT "/summary.md", "It rounds every block up to a power of two: ");
    expect_file_contains(OUT "/index.html", "<ol id=\"verdict\">\n<li>");
    expect_file_contains(OUT "/index.html", "<dl id=\"terms\">");
    expect_file_contains(OUT "/index.html", "<img alt=");
    expect_file_contains(OUT "/index.html", "data:image/png;base64,iVBORw0KGgo");
}

/* Over the previous report's directory: its figures must not stay behind. */
static void test_no_gnuplot(void)
{
    expect_eq_u64(report("VREPORT_GNUPLOT=/nonexistent/gnuplot", DB, "-o", OUT, NULL, NULL), 0);
    expect_file_contains(LOG, "apt-get install gnuplot-nox");
    expect_file_contains(OUT "/summary.md", "not drawn: gnuplot is not installed");
    expect_file_contains(OUT "/index.html", "not drawn");
    expect_true(access(OUT "/footprint.png", F_OK) != 0);
    expect_eq_u64(data_rows(OUT "/data/samples_a1.dat"),
                  q1("SELECT COUNT(*) FROM samples WHERE run_id=%lld", 1));
    check_summary(1, "bestfit");
}

/* The comparison row of `metric` says "worse" exactly when after > before. */
static void check_marked(const char *metric, double before, double after)
{
    char *md = read_file(OUT "/summary.md", NULL);
    assert_true(md != NULL);
    char start[96];
    snprintf(start, sizeof start, "\n| %s |", metric);
    const char *row = strstr(md, "## Comparison");
    row = row ? strstr(row, start) : NULL;
    if (!row) {
        fprintf(stderr, "FAILED: no comparison row \"%s\"\n", metric);
        test_failures++;
    } else {
        const char *eol = strchr(row + 1, '\n');
        const char *worse = strstr(row, "worse");
        int marked = worse && (!eol || worse < eol);
        if (marked != (after > before)) {
            fprintf(stderr, "FAILED: %s %g -> %g marked %s\n", metric, before, after,
                    marked ? "worse" : "not worse");
            test_failures++;
        }
    }
    free(md);
}

static void test_compare(void)
{
    rm_tree(OUT);
    /* Run 1 bestfit before, run 2 buddy after. */
    expect_eq_u64(report(NULL, DB, "-o", OUT, "--compare-runs", "1,2"), 0);
    expect_file_contains(OUT "/summary.md", "## Comparison");
    expect_file_contains(OUT "/summary.md", "bestfit/before");
    expect_file_contains(OUT "/summary.md", "buddy/after");
    check_marked("evictions", qd("SELECT evictions FROM runs WHERE id=%lld", 1),
                 qd("SELECT evictions FROM runs WHERE id=%lld", 2));
    check_marked("peak footprint", qd("SELECT peak_footprint FROM runs WHERE id=%lld", 1),
                 qd("SELECT peak_footprint FROM runs WHERE id=%lld", 2));
    check_marked("OOMs", qd("SELECT ooms FROM runs WHERE id=%lld", 1),
                 qd("SELECT ooms FROM runs WHERE id=%lld", 2));
    expect_file_contains(OUT "/index.html", "class=\"compare\"");

    /* Another database: its tlsf run is "before" this database's tlsf run. */
    const char *const one[] = {"tlsf", NULL};
    make_db(WORK "/base.db", MIX_TRACE, one);
    rm_tree(OUT);
    expect_eq_u64(report(NULL, DB, "-o", OUT, "--compare", WORK "/base.db"), 0);
    expect_file_contains(OUT "/summary.md", "| **tlsf/before** (run 1) vs **tlsf/after** (run 3)");
    check_images(OUT, stems);
}

/* The comparison table of summary.md (empty when there is none), malloc'ed. */
static char *comparison_md(void)
{
    char *md = read_file(OUT "/summary.md", NULL);
    assert_true(md != NULL);
    char *start = strstr(md, "## Comparison"), *end = start ? strstr(start + 15, "\n\n") : NULL;
    if (end)
        *end = '\0';
    char *part = strdup(start ? start : "");
    free(md);
    return part;
}

/* Replays MIX_TRACE with bin/replay: `policy`, then `extra` (may be NULL), into db. */
static void replay_cli(const char *db, const char *policy, const char *extra, const char *value)
{
    char *argv[] = {VRAM_BINARY_DIR "/bin/replay", "--quiet", "--policy", (char *)policy, "--db",
                    (char *)db, (char *)MIX_TRACE, (char *)extra, (char *)value, NULL};
    expect_eq_u64(run_logged(argv, NULL, WORK "/replay.log"), 0);
}

/* Sets a latency quantile of run `id` in `db` (the spread test needs
 * latencies that differ for sure; the replay measures them). */
static void set_latency(const char *db, long long id, const char *column, long long ns)
{
    sqlite3 *w;
    char sql[256];
    assert_true(sqlite3_open(db, &w) == SQLITE_OK);
    snprintf(sql, sizeof sql, "UPDATE runs SET %s = %lld WHERE id = %lld", column, ns, id);
    expect_true(sqlite3_exec(w, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(w);
}

/* Honest comparison: two identical replays flag nothing (exact figures
 * equal, latencies not judged on one repeat a side); the setting that
 * differs comes first; a latency is marked only when 3 repeats a side do
 * not overlap, and not on 2. */
static void test_compare_spread(void)
{
    const char *const two[] = {"bestfit", "caching", NULL};
    make_db(WORK "/same_a.db", MIX_TRACE, two);
    make_db(WORK "/same_b.db", MIX_TRACE, two);
    rm_tree(OUT);
    expect_eq_u64(report(NULL, WORK "/same_b.db", "-o", OUT, "--compare", WORK "/same_a.db"), 0);
    char *cmp = comparison_md();
    expect_true(strstr(cmp, "| **caching/before** (run 2) vs **caching/after** (run 2)") != NULL);
    expect_true(strstr(cmp, "| settings | the same | the same | |") != NULL);
    expect_true(strstr(cmp, "worse") == NULL);
    expect_true(strstr(cmp, "better") == NULL);
    expect_true(strstr(cmp, "| modelled time |") != NULL);
    expect_true(strstr(cmp, "not judged: 1 repeat before, 1 after") != NULL);
    free(cmp);
    expect_file_contains(OUT "/index.html", "not judged: 1 repeat before, 1 after");

    /* the caching setting under test, first in its pair */
    test_remove_db(WORK "/exp.db");
    test_remove_db(WORK "/noexp.db");
    replay_cli(WORK "/noexp.db", "caching", NULL, NULL);
    replay_cli(WORK "/exp.db", "caching", "--caching-conf", "expandable_segments:True");
    rm_tree(OUT);
    expect_eq_u64(report(NULL, WORK "/exp.db", "-o", OUT, "--compare", WORK "/noexp.db"), 0);
    cmp = comparison_md();
    const char *setting = strstr(cmp, "| setting: caching settings | defaults |"
                                      " expandable_segments:True | differs |");
    const char *first = strstr(cmp, "| peak footprint |");
    expect_true(setting != NULL && first != NULL && setting < first);
    free(cmp);
    expect_file_contains(OUT "/index.html", "<td>setting: caching settings</td>");

    /* three repeats a side: judged; separated alloc p99s are marked */
    test_remove_db(WORK "/rep.db");
    for (int i = 0; i < 6; i++)
        replay_cli(WORK "/rep.db", "tlsf", NULL, NULL);
    for (long long id = 1; id <= 6; id++)
        set_latency(WORK "/rep.db", id, "alloc_p99_ns", id <= 3 ? 1000 + id : 2000 + id);
    rm_tree(OUT);
    /* runs 1-6 are repeats of each other: one spread, nothing marked */
    expect_eq_u64(report(NULL, WORK "/rep.db", "-o", OUT, "--compare-runs", "1,6"), 0);
    cmp = comparison_md();
    expect_true(strstr(cmp, "worse") == NULL);
    expect_true(strstr(cmp, "within the run-to-run spread of 6 and 6 repeats") != NULL);
    free(cmp);
    /* split into two databases of three: the after side lies above */
    test_remove_db(WORK "/rep_a.db");
    test_remove_db(WORK "/rep_b.db");
    for (int i = 0; i < 3; i++) {
        replay_cli(WORK "/rep_a.db", "tlsf", NULL, NULL);
        replay_cli(WORK "/rep_b.db", "tlsf", NULL, NULL);
    }
    for (long long id = 1; id <= 3; id++) {
        set_latency(WORK "/rep_a.db", id, "alloc_p99_ns", 1000 + id);
        set_latency(WORK "/rep_b.db", id, "alloc_p99_ns", 2000 + id);
    }
    rm_tree(OUT);
    expect_eq_u64(report(NULL, WORK "/rep_b.db", "-o", OUT, "--compare", WORK "/rep_a.db"), 0);
    cmp = comparison_md();
    expect_true(strstr(cmp, "| alloc p99 | 1003 ns | 2003 ns | **+1000 ns (+99.7%) worse**: beyond"
                            " the run-to-run spread of 3 and 3 repeats (1001-1003 ns before,"
                            " 2001-2003 ns after) |") != NULL);
    free(cmp);
    /* two repeats a side (1/6 by luck): not judged */
    set_latency(WORK "/rep_a.db", 1, "alloc_p99_ns", 0);
    {
        sqlite3 *w;
        assert_true(sqlite3_open(WORK "/rep_a.db", &w) == SQLITE_OK);
        expect_true(sqlite3_exec(w, "UPDATE runs SET status = 'failed' WHERE id = 1", NULL, NULL,
                                 NULL) == SQLITE_OK);
        sqlite3_close(w);
    }
    set_latency(WORK "/rep_b.db", 1, "alloc_p99_ns", 2000);
    rm_tree(OUT);
    expect_eq_u64(report(NULL, WORK "/rep_b.db", "-o", OUT, "--compare", WORK "/rep_a.db"), 0);
    cmp = comparison_md();
    expect_true(strstr(cmp, "not judged: 2 repeats before, 3 after") != NULL);
    expect_true(strstr(cmp, "worse") == NULL);
    free(cmp);
}

static void test_at(void)
{
    rm_tree(OUT);
    expect_eq_u64(report(NULL, DB, "-o", OUT, "--at", "50"), 0);
    expect_file_contains(OUT "/summary.md", "bestfit: " DB " run 1");
    expect_file_contains(OUT "/summary.md", "heap map: after event 50:");
    expect_true(png_ok(OUT "/heapmap.png", 200, 5000));
}

/* A trace that is gone: the report is written, the heap map says why not. */
static void test_trace_gone(void)
{
    char *text = read_file(MIX_TRACE, NULL);
    assert_true(text != NULL);
    FILE *f = fopen(WORK "/gone.trace", "w");
    assert_true(f != NULL);
    fputs(text, f);
    fclose(f);
    free(text);
    const char *const one[] = {"bestfit", NULL};
    make_db(WORK "/gone.db", WORK "/gone.trace", one);
    unlink(WORK "/gone.trace");
    rm_tree(OUT);
    /* written, with a warning on the page, and exit 1 */
    expect_eq_u64(report(NULL, WORK "/gone.db", "-o", OUT, NULL, NULL), 1);
    expect_file_contains(LOG, "report: warning: run 1 (bestfit): the trace cannot be read: not at "
                              WORK "/gone.trace (from here), /");
    expect_file_contains(OUT "/summary.md", "**Warning**: run 1 (bestfit): the trace cannot be"
                                            " read");
    expect_file_contains(OUT "/index.html", "<p class=\"warning\" id=\"warning\">");
    expect_file_contains(OUT "/summary.md", "heap map: no heap map: the trace cannot be read");
    expect_true(png_ok(OUT "/footprint.png", 200, 5000));
    /* --no-heapmap: the same report without heap maps, and no error */
    rm_tree(OUT);
    expect_eq_u64(report(NULL, WORK "/gone.db", "-o", OUT, "--no-heapmap", NULL), 0);
    expect_file_contains(OUT "/summary.md", "heap map: not drawn (--no-heapmap)");
    expect_file_contains(OUT "/summary.md", "not drawn: --no-heapmap");
    char *md = read_file(OUT "/summary.md", NULL);
    expect_true(md && !strstr(md, "Warning"));
    free(md);
}

/* The database and its trace moved together, the report run from elsewhere:
 * the trace is found from the database's directory (runs.trace_rel), or by
 * its absolute path (runs.trace_abs) from any directory. */
static void test_trace_moved(void)
{
    rm_tree(WORK "/mv");
    rm_tree(WORK "/mv2");
    mkdir(WORK "/mv", 0777);
    char *text = read_file(MIX_TRACE, NULL);
    assert_true(text != NULL);
    FILE *f = fopen(WORK "/mv/t.trace", "w");
    assert_true(f != NULL);
    fputs(text, f);
    fclose(f);
    free(text);
    const char *const one[] = {"bestfit", NULL};
    make_db(WORK "/mv/a.db", WORK "/mv/t.trace", one);
    sqlite3 *db;
    assert_true(sqlite3_open_v2(WORK "/mv/a.db", &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *st;
    assert_true(sqlite3_prepare_v2(db, "SELECT trace_rel, substr(trace_abs, 1, 1) FROM runs", -1,
                                   &st, NULL) == SQLITE_OK);
    assert_true(sqlite3_step(st) == SQLITE_ROW);
    expect_true(strcmp((const char *)sqlite3_column_text(st, 0), "t.trace") == 0);
    expect_true(strcmp((const char *)sqlite3_column_text(st, 1), "/") == 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* from another directory: the absolute path */
    char *cwd = getcwd(NULL, 0);
    assert_true(cwd != NULL);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd / && exec '%s' '%s/" WORK "/mv/a.db' -o '%s/" OUT "'",
             REPORT_BIN, cwd, cwd);
    char *sh[] = {"/bin/sh", "-c", cmd, NULL};
    rm_tree(OUT);
    expect_eq_u64(run_logged(sh, NULL, LOG), 0);
    expect_file_contains(OUT "/summary.md", "; heap map: after event ");
    /* moved together: the path from the database */
    expect_true(rename(WORK "/mv", WORK "/mv2") == 0);
    rm_tree(OUT);
    expect_eq_u64(report(NULL, WORK "/mv2/a.db", "-o", OUT, NULL, NULL), 0);
    expect_file_contains(OUT "/summary.md", "; heap map: after event ");
    free(cwd);
}

/* A run with compaction passes: the heap map re-run carries runs.defrag. */
static void test_defrag(void)
{
    const char *const one[] = {"bestfit", NULL};
    make_db_defrag(WORK "/defrag.db", MIX_TRACE, one, 5);
    rm_tree(OUT);
    expect_eq_u64(report(NULL, WORK "/defrag.db", "-o", OUT, NULL, NULL), 0);
    expect_file_contains(OUT "/index.html", "/ defrag every=5");
    sqlite3 *main_db = q;
    assert_true(sqlite3_open_v2(WORK "/defrag.db", &q, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    expect_true(q1("SELECT defrag_passes FROM runs WHERE id=%lld", 1) > 0);
    check_summary(1, "bestfit");
    check_data(1, 0, 1);
    sqlite3_close(q);
    q = main_db;
}

/* The comparison row of `metric` in the first pair is exactly `want`. */
static void expect_compare_row(const char *metric, const char *want)
{
    char *md = read_file(OUT "/summary.md", NULL);
    assert_true(md != NULL);
    char start[96];
    snprintf(start, sizeof start, "\n| %s |", metric);
    const char *row = strstr(md, "## Comparison");
    row = row ? strstr(row, start) : NULL;
    const char *eol = row ? strchr(row + 1, '\n') : NULL;
    if (!row || !eol || (size_t)(eol - row - 1) != strlen(want) ||
        strncmp(row + 1, want, strlen(want)) != 0) {
        fprintf(stderr, "FAILED: comparison row \"%s\" is \"%.*s\", wanted \"%s\"\n", metric,
                row && eol ? (int)(eol - row - 1) : 0, row ? row + 1 : "", want);
        test_failures++;
    }
    free(md);
}

/* A version-2 run that preempts: the count, the modelled cost and Belady's
 * count in summary.md and index.html, the preemption's events row, and the
 * heap map just before it; against version-1 runs, the preemption rows
 * compare n/a with a number and judge nothing. */
static void test_preemptions(void)
{
    const char *const two[] = {"bestfit", "tlsf", NULL};
    /* one forced preemption, 32 ms of recompute (the trace says how) */
    make_db(WORK "/preempt.db", VRAM_SOURCE_DIR "/tests/data/needs_preempt.trace", two);
    rm_tree(OUT);
    expect_eq_u64(report(NULL, WORK "/preempt.db", "-o", OUT, NULL, NULL), 0);
    sqlite3 *main_db = q;
    assert_true(sqlite3_open_v2(WORK "/preempt.db", &q, SQLITE_OPEN_READONLY, NULL) ==
                SQLITE_OK);
    for (int64_t run = 1; run <= 2; run++) {
        expect_eq_u64(q1("SELECT preemptions FROM runs WHERE id=%lld", run), 1);
        /* its events row: request 2 preempted at event 9 (line 23), where request 1's
         * 1 MiB alloc found no room; its 2 MiB of KV dropped */
        expect_eq_u64(q1("SELECT count(*) FROM events WHERE run_id=%lld AND kind='preempt'", run),
                      1);
        expect_eq_u64(q1("SELECT count(*) FROM events WHERE run_id=%lld AND kind='preempt' AND"
                         " event_index=9 AND line=23 AND op='alloc' AND id=2 AND size=1048576"
                         " AND bytes=2097152 AND message LIKE 'request 2 preempted%%'",
                         run),
                      1);
        expect_true(fabs(qd("SELECT preempt_modelled_ms FROM runs WHERE id=%lld", run) - 32.0) <
                    1e-6);
        check_summary(run, two[run - 1]);
        /* the samples count evictions as the summary does: preemptions apart */
        expect_eq_u64(q1("SELECT max(evictions) FROM samples WHERE run_id=%lld", run), 0);
    }
    char *md = read_file(OUT "/summary.md", NULL);
    assert_true(md != NULL);
    char c[MAX_CELLS][64];
    if (summary_cells(md, "bestfit", c) == C_CELLS) {
        expect_cell(c[C_PREEMPT], "1", "forced preemptions", 1);
        expect_cell(c[C_PREEMPT_MS], "32.000 ms", "preemption cost", 1);
        expect_cell(c[C_BY_KIND], "0/0/0/0", "evictions by kind", 1);
    }
    check_verdict(OUT "/summary.md", 2);
    expect_file_contains(OUT "/summary.md", "1 forced preemption (32.000 ms of the modelled time)");
    free(md);
    sqlite3_close(q);
    q = main_db;
    static const char *const defined[] = {
        "forced preemptions", "preemption cost", "Belady preemptions",
        "evictions weight/kv/adapter/other",
        ("a placement failed and only memory a running request needs could make room, so the"
         " newest running request was preempted, its KV recomputed or swapped at a modelled cost"),
        ("the same trace on an ideal device of the same capacity without fragmentation"),
        "preemption by recompute: 2.000 MiB dropped, 1 restored"};
    for (size_t i = 0; i < sizeof defined / sizeof defined[0]; i++) {
        expect_file_contains(OUT "/summary.md", defined[i]);
        expect_file_contains(OUT "/index.html", defined[i]);
    }
    expect_file_contains(OUT "/index.html", "<td class=\"num\">32.000 ms</td>");
    /* a few calls of each op (no latency panel), no OOM (no second heap map);
     * the preemption map */
    static const char *const drawn[] = {"footprint", "frag",      "heapmap",
                                        "evictions", "heapmap_preempt", NULL};
    check_images(OUT, drawn);
    expect_file_contains(OUT "/summary.md", "not drawn: no run has an op with 20 timed calls");
    expect_file_contains(OUT "/summary.md", "not drawn: no run had an OOM");
    expect_true(access(OUT "/latency.png", F_OK) != 0 && access(OUT "/heapmap_oom.svg", F_OK) != 0);
    /* the preemption map: each run just before event 9, its 8 MiB full (weights, then KV) */
    static const char *const moment =
        "at its first forced preemption: after event 8 (just before event 9, whose alloc of"
        " 1.000 MiB found no room and nothing evictable, so request 2, the newest running one,"
        " was preempted and 2.000 MiB dropped): 8.000 MiB used, 0 B free";
    expect_file_contains(OUT "/summary.md", moment);
    expect_file_contains(OUT "/index.html", moment);
    char *hm = read_file(OUT "/data/heapmap_preempt.dat", NULL);
    expect_true(hm && strstr(hm, "\n0\t0\t4194304\t0\n0\t4194304\t8388608\t1\n1\t0\t4194304\t0\n"
                                 "1\t4194304\t8388608\t1\n") != NULL);
    free(hm);

    /* before: the version-1 mix database; after: this one */
    rm_tree(OUT);
    expect_eq_u64(report(NULL, WORK "/preempt.db", "-o", OUT, "--compare", DB), 0);
    expect_file_contains(OUT "/summary.md",
                         "| **bestfit/before** (run 1) vs **bestfit/after** (run 1)");
    expect_compare_row("forced preemptions", "| forced preemptions | n/a | 1 | n/a |");
    expect_compare_row("preemption cost", "| preemption cost | n/a | 32.000 ms | n/a |");
    expect_compare_row("Belady preemptions", "| Belady preemptions | n/a | 1 | n/a |");
    expect_file_contains(OUT "/index.html", "<tr><td>forced preemptions</td><td class=\"num\">"
                                            "n/a</td><td class=\"num\">1</td><td class=\"num \">"
                                            "n/a</td></tr>");
}

static void expect_fails(int want, const char *message, const char *a1, const char *a2,
                         const char *a3, const char *a4)
{
    int rc = report(NULL, a1, a2, a3, a4, NULL);
    if (rc != want) {
        fprintf(stderr, "FAILED: report %s %s %s %s exited %d, wanted %d\n", a1 ? a1 : "",
                a2 ? a2 : "", a3 ? a3 : "", a4 ? a4 : "", rc, want);
        test_failures++;
    }
    expect_file_contains(LOG, message);
}

static void test_errors(void)
{
    FILE *f = fopen(WORK "/garbage.db", "w");
    assert_true(f != NULL);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database\n", f);
    fclose(f);
    sqlite3 *other;
    test_remove_db(WORK "/other.db");
    assert_true(sqlite3_open(WORK "/other.db", &other) == SQLITE_OK);
    sqlite3_exec(other, "CREATE TABLE t(x)", NULL, NULL, NULL);
    sqlite3_close(other);
    vdb *empty;
    char err[256];
    test_remove_db(WORK "/empty.db");
    assert_ok(vdb_open(WORK "/empty.db", &empty, err, sizeof err));
    assert_ok(vdb_close(empty, err, sizeof err));

    expect_fails(1, WORK "/missing.db: cannot read", WORK "/missing.db", NULL, NULL, NULL);
    expect_fails(1, WORK "/garbage.db: not an SQLite database", WORK "/garbage.db", NULL, NULL,
                 NULL);
    expect_fails(1, WORK "/other.db: not a vramlab results database", WORK "/other.db", NULL,
                 NULL, NULL);
    expect_fails(1, WORK "/empty.db: no runs", WORK "/empty.db", "-o", OUT, NULL);
    expect_fails(1, DB ": no run with id 99 (runs: 1-5)", DB, "--runs", "1,99", NULL);
    expect_fails(2, "--runs: \"x\" is not a run id", DB, "--runs", "1,x", NULL);
    expect_fails(1, "--at 100000: run 1 (bestfit) has 189 events", DB, "--at", "100000", NULL);
    expect_fails(2, "--compare-runs: \"1\" must name two runs", DB, "--compare-runs", "1", NULL);
    expect_fails(1, WORK "/missing.db: cannot read", DB, "--compare", WORK "/missing.db", NULL);
    expect_eq_u64(report("VREPORT_DIR=" WORK "/nowhere", DB, NULL, NULL, NULL, NULL), 1);
    expect_file_contains(LOG, WORK "/nowhere/sql/default_runs.sql: cannot read");
    expect_file_contains(LOG, "set VREPORT_DIR or --share");
    expect_fails(0, "usage: report RESULTS.db", "--help", NULL, NULL, NULL);
    char *help = read_file(LOG, NULL); /* the man page is made from it: no build machine's path */
    expect_true(help && !strstr(help, VRAM_SOURCE_DIR));
    free(help);
    expect_fails(2, "give at least one results database", NULL, NULL, NULL, NULL);
    expect_fails(2, "unknown or incomplete option \"--bogus\"", DB, "--bogus", NULL, NULL);
    expect_fails(2, "--at: \"0\" is not an event number", DB, "--at", "0", NULL);
}

int main(void)
{
    mkdir(WORK, 0777);
    make_db(DB, MIX_TRACE, policies);
    assert_true(sqlite3_open_v2(DB, &q, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    test_report();
    test_no_gnuplot();
    test_compare();
    test_compare_spread();
    test_at();
    test_trace_gone();
    test_trace_moved();
    test_defrag();
    test_preemptions();
    test_errors();
    sqlite3_close(q);
    return test_finish("report");
}
