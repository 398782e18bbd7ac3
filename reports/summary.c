/* summary.c - the summary and comparison tables. */
#include "summary.h"

#include <math.h>
#include <string.h>

typedef enum unit { U_BYTES, U_RATIO, U_FRAC, U_COUNT, U_NS } unit;

/* A column of the summary: its value (NaN = unknown) and which way is worse. */
typedef struct metric {
    const char *name;
    unit u;
    int higher_is_worse;      /* 0: a reference (Belady), never marked */
    double (*get)(const vrep_run *r);
} metric;

static double i64(int64_t v) { return v < 0 ? NAN : (double)v; }

#define GETTER(fn, expr)                                                                   \
    static double fn(const vrep_run *r) { return expr; }
GETTER(peak_fp, i64(r->peak_footprint))
GETTER(ratio, r->footprint_ratio)
GETTER(ext, r->worst_ext_frag)
GETTER(ooms, i64(r->ooms))
GETTER(ooms_df, i64(r->ooms_despite_free))
GETTER(evict, i64(r->evictions))
GETTER(bel_evict, i64(r->belady_evictions))
GETTER(remat, i64(r->bytes_rematerialised))
GETTER(a50, i64(r->alloc_p50_ns))
GETTER(a99, i64(r->alloc_p99_ns))
GETTER(f50, i64(r->free_p50_ns))
GETTER(f99, i64(r->free_p99_ns))

static const metric metrics[] = {
    {"peak footprint", U_BYTES, 1, peak_fp},
    {"footprint / lower bound", U_RATIO, 1, ratio},
    {"worst ext. frag", U_FRAC, 1, ext},
    {"OOMs", U_COUNT, 1, ooms},
    {"OOMs despite free", U_COUNT, 1, ooms_df},
    {"evictions", U_COUNT, 1, evict},
    {"Belady evictions", U_COUNT, 0, bel_evict},
    {"bytes re-materialised", U_BYTES, 1, remat},
    {"alloc p50", U_NS, 1, a50},
    {"alloc p99", U_NS, 1, a99},
    {"free p50", U_NS, 1, f50},
    {"free p99", U_NS, 1, f99},
};
#define NMETRICS (sizeof metrics / sizeof metrics[0])

void vrep_fmt_bytes(double v, char *buf, size_t len)
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

/* The one formatting of a value: bytes by vrep_fmt_bytes, ratios with 3
 * decimals, counts and ns as integers, "n/a" when unknown. */
static void fmt(unit u, double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "n/a");
        return;
    }
    switch (u) {
    case U_BYTES:
        vrep_fmt_bytes(v, buf, len);
        break;
    case U_RATIO:
    case U_FRAC:
        snprintf(buf, len, "%.3f", v);
        break;
    case U_COUNT:
        snprintf(buf, len, "%.0f", v);
        break;
    case U_NS:
        snprintf(buf, len, "%.0f ns", v);
        break;
    }
}

static void fmt_delta(unit u, double before, double after, char *buf, size_t len)
{
    if (isnan(before) || isnan(after)) {
        snprintf(buf, len, "n/a");
        return;
    }
    char abs_[48];
    fmt(u, fabs(after - before), abs_, sizeof abs_);
    const char *sign = after > before ? "+" : after < before ? "-" : "";
    if (before != 0)
        snprintf(buf, len, "%s%s (%+.1f%%)", sign, abs_, 100.0 * (after - before) / before);
    else
        snprintf(buf, len, "%s%s", sign, abs_);
}

/* -1 better, 0 same (or not judged), 1 worse. */
static int judge(const metric *m, double before, double after)
{
    if (!m->higher_is_worse || isnan(before) || isnan(after) || after == before)
        return 0;
    double slack = m->u == U_NS ? VREP_WORSE_LATENCY * before : 0;
    if (after > before + slack)
        return 1;
    if (after < before - slack)
        return -1;
    return 0;
}

void vrep_html_text(FILE *f, const char *text)
{
    for (; *text; text++) {
        switch (*text) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*text, f);
        }
    }
}

/* Markdown cells cannot hold '|'. */
static void md_text(FILE *f, const char *text)
{
    for (; *text; text++)
        fputs(*text == '|' ? "\\|" : (char[2]){*text, 0}, f);
}

void vrep_summary_md(FILE *f, const vrep_series *s, size_t n)
{
    fputs("| run | policy | status |", f);
    for (size_t m = 0; m < NMETRICS; m++)
        fprintf(f, " %s |", metrics[m].name);
    fputs("\n|---|---|---|", f);
    for (size_t m = 0; m < NMETRICS; m++)
        fputs("---:|", f);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "| %s | ", s[i].label);
        md_text(f, s[i].run.policy);
        fprintf(f, " | %s |", s[i].run.status);
        for (size_t m = 0; m < NMETRICS; m++) {
            char v[64];
            fmt(metrics[m].u, metrics[m].get(&s[i].run), v, sizeof v);
            fprintf(f, " %s |", v);
        }
        fputc('\n', f);
    }
}

void vrep_summary_html(FILE *f, const vrep_series *s, size_t n)
{
    fputs("<table class=\"summary\">\n<tr><th>run</th><th>policy</th><th>status</th>", f);
    for (size_t m = 0; m < NMETRICS; m++) {
        fputs("<th>", f);
        vrep_html_text(f, metrics[m].name);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        fputs("<tr><td>", f);
        vrep_html_text(f, s[i].label);
        fputs("</td><td>", f);
        vrep_html_text(f, s[i].run.policy);
        fprintf(f, "</td><td class=\"%s\">", strcmp(s[i].run.status, "ok") ? "bad" : "ok");
        vrep_html_text(f, s[i].run.status);
        fputs("</td>", f);
        for (size_t m = 0; m < NMETRICS; m++) {
            char v[64];
            fmt(metrics[m].u, metrics[m].get(&s[i].run), v, sizeof v);
            fprintf(f, "<td class=\"num\">%s</td>", v);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

void vrep_compare_md(FILE *f, const vrep_pair *p, size_t n)
{
    fputs("| metric | before | after | delta |\n|---|---:|---:|---:|\n", f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "| **%s** (run %lld) vs **%s** (run %lld) | | | |\n", p[i].before->label,
                (long long)p[i].before->run.id, p[i].after->label,
                (long long)p[i].after->run.id);
        for (size_t m = 0; m < NMETRICS; m++) {
            double b = metrics[m].get(&p[i].before->run), a = metrics[m].get(&p[i].after->run);
            char bs[64], as[64], ds[96];
            fmt(metrics[m].u, b, bs, sizeof bs);
            fmt(metrics[m].u, a, as, sizeof as);
            fmt_delta(metrics[m].u, b, a, ds, sizeof ds);
            int j = judge(&metrics[m], b, a);
            fprintf(f, "| %s | %s | %s | %s%s%s |\n", metrics[m].name, bs, as,
                    j > 0 ? "**" : "", ds, j > 0 ? " worse**" : j < 0 ? " better" : "");
        }
    }
}

void vrep_compare_html(FILE *f, const vrep_pair *p, size_t n)
{
    fputs("<table class=\"compare\">\n<tr><th>metric</th><th>before</th><th>after</th>"
          "<th>delta</th></tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        fputs("<tr class=\"pair\"><th colspan=\"4\">", f);
        vrep_html_text(f, p[i].before->label);
        fprintf(f, " (run %lld) vs ", (long long)p[i].before->run.id);
        vrep_html_text(f, p[i].after->label);
        fprintf(f, " (run %lld)</th></tr>\n", (long long)p[i].after->run.id);
        for (size_t m = 0; m < NMETRICS; m++) {
            double b = metrics[m].get(&p[i].before->run), a = metrics[m].get(&p[i].after->run);
            char bs[64], as[64], ds[96];
            fmt(metrics[m].u, b, bs, sizeof bs);
            fmt(metrics[m].u, a, as, sizeof as);
            fmt_delta(metrics[m].u, b, a, ds, sizeof ds);
            int j = judge(&metrics[m], b, a);
            fprintf(f, "<tr><td>%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
                       "<td class=\"num %s\">%s%s</td></tr>\n",
                    metrics[m].name, bs, as, j > 0 ? "worse" : j < 0 ? "better" : "", ds,
                    j > 0 ? " &#9650; worse" : j < 0 ? " better" : "");
        }
    }
    fputs("</table>\n", f);
}
