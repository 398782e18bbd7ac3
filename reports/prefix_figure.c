/* prefix_figure.c - the prefix cache's hit ratio against capacity from the
 * database (prefix_figure.h). */
#include "prefix_figure.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "summary.h"
#include "vram/prefix_cache.h"

/* How to read the figure against its references: BENCHMARKS.md, "Hit ratio
 * against capacity", says it at length over the Mooncake recording. */
static const char reading[] =
    "Each curve is a prefix policy's block hit ratio (blocks found cached over the full blocks"
    " the lookups asked for; a host tier's hits included) at the cache's device blocks (log"
    " scale). Those blocks are all the KV blocks, running requests' included, as in vLLM's"
    " pool: where the running requests' KV does not fit, requests stop caching part-way"
    " through their own prompt and the cache holds little else. Textbook LRU and Belady (the"
    " optimum) are computed over the same lookups' block stream at the same number of blocks,"
    " but with every block a cache block: they have no running requests to hold, so where the"
    " running requests fill the pool they are not the same experiment, only the bound the"
    " workload allows (and a fill may cache a block no lookup asked for, which a policy may"
    " hit later: the references bound the policies only loosely). The unlimited cache (every"
    " repeat hits) is what any capacity could reach at most. Each point is the median of the"
    " runs at that trace, curve and capacity: the prefix events never touch the allocators, so"
    " the runs of one replay's heap policies are repeats";
static const char docs[] = "docs/METRICS.md";

/* One counted run, as sql/prefix.sql gives it. */
typedef struct raw {
    size_t trace;
    int rank;                 /* its policy's index in vram_prefix_policy_names */
    int64_t host, blocks;
    char curve[48];
    double hit, lru, belady, unlimited;
} raw;

static int rank_of(const char *policy)
{
    int k = 0;
    for (; vram_prefix_policy_names[k]; k++)
        if (strcmp(vram_prefix_policy_names[k], policy) == 0)
            return k;
    return k; /* a name this build does not know: after the known ones */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorted in place); NAN when n == 0. */
static double median(double *v, size_t n)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The value of field `f` of the runs in rows[0..n) at `blocks` and, when
 * curve != NULL, on that curve, into tmp; its median. */
enum field { F_HIT, F_LRU, F_BELADY, F_UNLIMITED };
static double median_of(const raw *rows, size_t n, int64_t blocks, const char *curve,
                        enum field f, double *tmp)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const raw *r = &rows[i];
        if ((blocks >= 0 && r->blocks != blocks) || (curve && strcmp(r->curve, curve) != 0))
            continue;
        tmp[k++] = f == F_HIT ? r->hit : f == F_LRU ? r->lru : f == F_BELADY ? r->belady
                                                                              : r->unlimited;
    }
    return median(tmp, k);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_curve(const void *a, const void *b)
{
    const raw *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->host < y->host ? -1 : x->host > y->host;
}

/* Fills t from its runs rows[0..n) (n >= 1). 0, or -1 without memory. */
static int build_trace(vrep_prefix_trace *t, const raw *rows, size_t n)
{
    double *tmp = malloc(n * sizeof *tmp);
    raw *firsts = malloc(n * sizeof *firsts); /* one run of each curve */
    t->cap = malloc(n * sizeof *t->cap);
    if (!tmp || !firsts || !t->cap)
        goto nomem;
    t->runs = n;
    for (size_t i = 0; i < n; i++)
        t->cap[i] = rows[i].blocks;
    qsort(t->cap, n, sizeof *t->cap, cmp_i64);
    for (size_t i = 0; i < n; i++)
        if (!t->ncaps || t->cap[t->ncaps - 1] != t->cap[i])
            t->cap[t->ncaps++] = t->cap[i];
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < nf && strcmp(firsts[j].curve, rows[i].curve) != 0)
            j++;
        if (j == nf)
            firsts[nf++] = rows[i];
    }
    qsort(firsts, nf, sizeof *firsts, cmp_curve);
    t->ncurves = nf;
    t->curve = malloc(nf * sizeof *t->curve);
    t->hit = malloc(t->ncaps * nf * sizeof *t->hit);
    t->lru = malloc(t->ncaps * sizeof *t->lru);
    t->belady = malloc(t->ncaps * sizeof *t->belady);
    t->unlimited = malloc(t->ncaps * sizeof *t->unlimited);
    if (!t->curve || !t->hit || !t->lru || !t->belady || !t->unlimited)
        goto nomem;
    for (size_t c = 0; c < nf; c++)
        memcpy(t->curve[c], firsts[c].curve, sizeof t->curve[c]);
    for (size_t i = 0; i < t->ncaps; i++) {
        for (size_t c = 0; c < nf; c++)
            t->hit[i * nf + c] = median_of(rows, n, t->cap[i], t->curve[c], F_HIT, tmp);
        t->lru[i] = median_of(rows, n, t->cap[i], NULL, F_LRU, tmp);
        t->belady[i] = median_of(rows, n, t->cap[i], NULL, F_BELADY, tmp);
        t->unlimited[i] = median_of(rows, n, t->cap[i], NULL, F_UNLIMITED, tmp);
    }
    t->unlimited_all = median_of(rows, n, -1, NULL, F_UNLIMITED, tmp);
    free(tmp);
    free(firsts);
    return 0;
nomem:
    free(tmp);
    free(firsts);
    return -1;
}

static void text_col(sqlite3_stmt *st, int c, char *buf, size_t len)
{
    const char *t = (const char *)sqlite3_column_text(st, c);
    snprintf(buf, len, "%s", t ? t : "?");
}

/* Reads sql/prefix.sql's rows: the counted ones into *rows (*n), a new trace
 * begun at each new key (its name and CRC-32 set), the others counted
 * in px->left_out. */
static vram_status read_runs(vrep_db *db, const char *share, vrep_prefix *px, raw **rows,
                             size_t *n, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    vram_status res = vrep_sql_prepare(db, share, "prefix", &st, err, errlen);
    if (res)
        return res;
    size_t cap = 0, tcap = 0;
    char key[4096] = "", path[4096], policy[32];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!sqlite3_column_int(st, 10)) {
            px->left_out++;
            continue;
        }
        char k[sizeof key];
        text_col(st, 0, k, sizeof k);
        if (*n == cap) {
            raw *grown = realloc(*rows, (cap = cap ? 2 * cap : 64) * sizeof *grown);
            if (!grown)
                goto nomem;
            *rows = grown;
        }
        if (!px->n || strcmp(k, key) != 0) {
            if (px->n == tcap) {
                vrep_prefix_trace *grown =
                    realloc(px->trace, (tcap = tcap ? 2 * tcap : 4) * sizeof *grown);
                if (!grown)
                    goto nomem;
                px->trace = grown;
            }
            vrep_prefix_trace *t = &px->trace[px->n++];
            memset(t, 0, sizeof *t);
            text_col(st, 1, path, sizeof path);
            const char *base = strrchr(path, '/');
            snprintf(t->name, sizeof t->name, "%.255s", base ? base + 1 : path); /* cut */
            const char *crc = (const char *)sqlite3_column_text(st, 2);
            snprintf(t->crc, sizeof t->crc, "%s", crc ? crc : "");
            memcpy(key, k, sizeof key);
        }
        raw *r = &(*rows)[(*n)++];
        r->trace = px->n - 1;
        text_col(st, 3, policy, sizeof policy);
        r->rank = rank_of(policy);
        r->host = sqlite3_column_int64(st, 4);
        r->blocks = sqlite3_column_int64(st, 5);
        if (r->host)
            snprintf(r->curve, sizeof r->curve, "%s+host%lld", policy, (long long)r->host);
        else
            snprintf(r->curve, sizeof r->curve, "%s", policy);
        r->hit = sqlite3_column_double(st, 6);
        r->lru = sqlite3_column_double(st, 7);
        r->belady = sqlite3_column_double(st, 8);
        r->unlimited = sqlite3_column_double(st, 9);
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: reading the prefix cache's runs: %s", vrep_db_path(db),
                 sqlite3_errmsg(sqlite3_db_handle(st)));
        res = VRAM_EIO;
    }
    sqlite3_finalize(st);
    return res;
nomem:
    sqlite3_finalize(st);
    snprintf(err, errlen, "out of host memory");
    return VRAM_ENOHOST;
}

/* A policy's colour in the figure; a host tier's curve is dashed. */
static const char *colour_of(const char *curve)
{
    static const char *const fixed[][2] = {{"vllm", "#1f77b4"}, {"lru", "#ff7f0e"},
                                           {"lfu", "#2ca02c"}, {"priority", "#d62728"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        size_t len = strlen(fixed[i][0]);
        if (strncmp(curve, fixed[i][0], len) == 0 && (!curve[len] || curve[len] == '+'))
            return fixed[i][1];
    }
    return "#8c564b";
}

static void put_ratio(FILE *f, double v)
{
    if (isnan(v))
        fputs("\t?", f);
    else
        fprintf(f, "\t%.6f", v);
}

/* Why nothing is drawn although runs had a prefix cache. */
static void none_counted(char *buf, size_t len, const vrep_prefix *px)
{
    snprintf(buf, len, "%zu run(s) with a prefix cache, none that ended ok having looked up a"
                       " block", px->left_out);
}

/* "NAME (crc32 CRC)", or the name alone when no CRC-32 was recorded. */
static void trace_title(const vrep_prefix_trace *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s", t->name, t->crc[0] ? " (crc32 " : "", t->crc,
             t->crc[0] ? ")" : "");
}

/* DATA/prefix_K.dat for trace t (K = k + 1). */
static vram_status write_dat(const char *datadir, size_t k, const vrep_prefix_trace *t,
                             char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/prefix_%zu.dat", datadir, k + 1);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return VRAM_EIO;
    }
    char title[300];
    trace_title(t, title, sizeof title);
    fprintf(f, "# %s, medians of %zu run(s): blocks", title, t->runs);
    for (size_t c = 0; c < t->ncurves; c++)
        fprintf(f, " %s", t->curve[c]);
    fputs(" lru_reference belady unlimited\n", f);
    for (size_t i = 0; i < t->ncaps; i++) {
        fprintf(f, "%lld", (long long)t->cap[i]);
        for (size_t c = 0; c < t->ncurves; c++)
            put_ratio(f, t->hit[i * t->ncurves + c]);
        put_ratio(f, t->lru[i]);
        put_ratio(f, t->belady[i]);
        put_ratio(f, t->unlimited[i]);
        fputc('\n', f);
    }
    const int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        return VRAM_EIO;
    }
    return VRAM_OK;
}

/* prefix.gp's parameters of panel k (1-based): title, curves, colours,
 * dashes, the capacities as tics ("" when too many for the list: gnuplot's
 * own), the unlimited line and the x range (a third of a step of 2 beyond
 * the capacities, on the log axis). */
static void panel_params(vrep_params *p, size_t k, const vrep_prefix_trace *t)
{
    char name[32], words[4096];
    snprintf(name, sizeof name, "title%zu", k);
    vrep_param_str(p, name, t->name);
    static const char *const what[] = {"curves", "colours", "dashes"};
    for (int w = 0; w < 3; w++) {
        words[0] = '\0';
        for (size_t c = 0; c < t->ncurves; c++) {
            size_t used = strlen(words);
            snprintf(words + used, sizeof words - used, "%s%s", c ? " " : "",
                     w == 0   ? t->curve[c]
                     : w == 1 ? colour_of(t->curve[c])
                     : strchr(t->curve[c], '+') ? "2"
                                                : "1");
        }
        snprintf(name, sizeof name, "%s%zu", what[w], k);
        vrep_param_str(p, name, words);
    }
    /* the capacities as x tics: a log axis between powers of ten has none */
    size_t used = (size_t)snprintf(words, sizeof words, "(");
    for (size_t i = 0; i < t->ncaps && used < sizeof words; i++)
        used += (size_t)snprintf(words + used, sizeof words - used, "%s\"%lld\" %lld",
                                 i ? ", " : "", (long long)t->cap[i], (long long)t->cap[i]);
    if (used < sizeof words)
        snprintf(words + used, sizeof words - used, ")");
    snprintf(name, sizeof name, "xtics%zu", k);
    vrep_param_str(p, name, used < sizeof words - 1 ? words : "");
    snprintf(name, sizeof name, "unl%zu", k);
    vrep_param_num(p, name, t->unlimited_all);
    snprintf(name, sizeof name, "xmin%zu", k);
    vrep_param_num(p, name, (double)t->cap[0] / 1.26);
    snprintf(name, sizeof name, "xmax%zu", k);
    vrep_param_num(p, name, (double)t->cap[t->ncaps - 1] * 1.26);
}

vram_status vrep_prefix_load(vrep_db *db, const char *share, const char *datadir,
                             vrep_prefix *px, vrep_params *p, int *absent, char *why,
                             size_t whylen, char *err, size_t errlen)
{
    raw *rows = NULL;
    size_t n = 0;
    vram_status res = read_runs(db, share, px, &rows, &n, err, errlen);
    *absent = !res && !n && !px->left_out;
    if (!res && !n && px->left_out)
        none_counted(why, whylen, px);
    /* rows are grouped by trace (the statement orders them by key) */
    for (size_t t = 0, b = 0; !res && t < px->n; t++) {
        size_t e = b;
        while (e < n && rows[e].trace == t)
            e++;
        if (build_trace(&px->trace[t], rows + b, e - b)) {
            snprintf(err, errlen, "out of host memory");
            res = VRAM_ENOHOST;
        }
        px->runs += e - b;
        b = e;
    }
    free(rows);
    size_t panels = px->n < VREP_PREFIX_PANELS ? px->n : VREP_PREFIX_PANELS;
    for (size_t k = 0; !res && k < panels; k++) {
        res = write_dat(datadir, k, &px->trace[k], err, errlen);
        panel_params(p, k + 1, &px->trace[k]);
    }
    for (size_t k = panels + 1;; k++) { /* no stale panel data of an earlier report */
        char path[4200];
        snprintf(path, sizeof path, "%s/prefix_%zu.dat", datadir, k);
        if (unlink(path) != 0)
            break;
    }
    if (!res && panels) {
        vrep_param_str(p, "datadir", datadir);
        vrep_param_num(p, "panels", (double)panels);
    }
    return res;
}

void vrep_prefix_free(vrep_prefix *px)
{
    for (size_t t = 0; t < px->n; t++) {
        vrep_prefix_trace *x = &px->trace[t];
        free(x->cap);
        free(x->curve);
        free(x->hit);
        free(x->lru);
        free(x->belady);
        free(x->unlimited);
    }
    free(px->trace);
    memset(px, 0, sizeof *px);
}

/* A ratio for the tables: 4 decimals, "-" where none. */
static void fmt_ratio(double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.4f", v);
}

/* What the section says before its tables: the runs counted and left out. */
static void runs_note(char *buf, size_t len, const vrep_prefix *px)
{
    int w = snprintf(buf, len, "%zu run(s)", px->runs);
    if (px->left_out && w > 0 && (size_t)w < len)
        w += snprintf(buf + w, len - (size_t)w, ", and %zu more with a prefix cache left out (not"
                      " ended ok, or no block looked up)", px->left_out);
    if (px->n > VREP_PREFIX_PANELS && w > 0 && (size_t)w < len)
        snprintf(buf + w, len - (size_t)w, "; the figure draws the first %d traces",
                 VREP_PREFIX_PANELS);
}

/* One table's header: the curves, then the references. */
static const char *const ref_name[3] = {"LRU (reference)", "Belady", "unlimited"};

void vrep_prefix_md(FILE *f, const vrep_prefix *px)
{
    char note[256], v[32], title[300];
    if (!px->n) {
        if (px->left_out) {
            none_counted(note, sizeof note, px);
            fprintf(f, "None drawn: %s.\n", note);
        }
        return;
    }
    runs_note(note, sizeof note, px);
    fprintf(f, "The prefix cache's block hit ratio against its device blocks: %s. %s (%s).\n",
            note, reading, docs);
    for (size_t t = 0; t < px->n; t++) {
        const vrep_prefix_trace *x = &px->trace[t];
        trace_title(x, title, sizeof title);
        fprintf(f, "\n%s, %zu run(s):\n\n| blocks |", title, x->runs);
        for (size_t c = 0; c < x->ncurves; c++)
            fprintf(f, " %s |", x->curve[c]);
        for (int r = 0; r < 3; r++)
            fprintf(f, " %s |", ref_name[r]);
        fputs("\n|---:|", f);
        for (size_t c = 0; c < x->ncurves + 3; c++)
            fputs("---:|", f);
        fputc('\n', f);
        for (size_t i = 0; i < x->ncaps; i++) {
            fprintf(f, "| %lld |", (long long)x->cap[i]);
            const double refs[3] = {x->lru[i], x->belady[i], x->unlimited[i]};
            for (size_t c = 0; c < x->ncurves + 3; c++) {
                fmt_ratio(c < x->ncurves ? x->hit[i * x->ncurves + c] : refs[c - x->ncurves], v,
                          sizeof v);
                fprintf(f, " %s |", v);
            }
            fputc('\n', f);
        }
    }
}

void vrep_prefix_html(FILE *f, const vrep_prefix *px)
{
    char note[256], v[32], title[300];
    if (!px->n) {
        if (px->left_out) {
            none_counted(note, sizeof note, px);
            fputs("<p id=\"prefix-none\">None drawn: ", f);
            vrep_html_text(f, note);
            fputs(".</p>\n", f);
        }
        return;
    }
    runs_note(note, sizeof note, px);
    fputs("<p id=\"prefix-runs\">The prefix cache's block hit ratio against its device blocks"
          " (the figure <a href=\"#prefix\">below</a>): ", f);
    vrep_html_text(f, note);
    fputs(". ", f);
    vrep_html_text(f, reading);
    fprintf(f, " (<a href=\"%s\">%s</a>).</p>\n", docs, docs);
    for (size_t t = 0; t < px->n; t++) {
        const vrep_prefix_trace *x = &px->trace[t];
        trace_title(x, title, sizeof title);
        fputs("<p>", f);
        vrep_html_text(f, title);
        fprintf(f, ", %zu run(s):</p>\n<table class=\"prefix\" id=\"prefix-%zu\"><tr>"
                   "<th>blocks</th>", x->runs, t + 1);
        for (size_t c = 0; c < x->ncurves + 3; c++) {
            fputs("<th>", f);
            vrep_html_text(f, c < x->ncurves ? x->curve[c] : ref_name[c - x->ncurves]);
            fputs("</th>", f);
        }
        fputs("</tr>\n", f);
        for (size_t i = 0; i < x->ncaps; i++) {
            fprintf(f, "<tr><td class=\"num\">%lld</td>", (long long)x->cap[i]);
            const double refs[3] = {x->lru[i], x->belady[i], x->unlimited[i]};
            for (size_t c = 0; c < x->ncurves + 3; c++) {
                fmt_ratio(c < x->ncurves ? x->hit[i * x->ncurves + c] : refs[c - x->ncurves], v,
                          sizeof v);
                fprintf(f, "<td class=\"num\">%s</td>", v);
            }
            fputs("</tr>\n", f);
        }
        fputs("</table>\n", f);
    }
}
