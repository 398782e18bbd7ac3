/* summary.c - the summary and comparison tables. */
#include "summary.h"

#include <math.h>
#include <string.h>

#include "differ.h"
#include "units.h"

typedef enum unit { U_BYTES, U_RATIO, U_FRAC, U_COUNT, U_NS, U_MS } unit;

/* A value of the summary (NaN = unknown) and which way is worse. Metrics with
 * the same `group` next to each other share one summary column, headed by the
 * group and holding their values joined by '/'; the comparison still gives
 * each its own row, under its own name. */
typedef struct metric {
    const char *name;
    unit u;
    int higher_is_worse;      /* 0: a reference (Belady), never marked */
    double (*get)(const vrep_run *r);
    const char *group;        /* NULL: a column of its own */
    int lat;                  /* measured: its index in vrep_spread; -1: exact */
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
GETTER(ev_weight, i64(r->evictions_weight))
GETTER(ev_kv, i64(r->evictions_kv))
GETTER(ev_adapter, i64(r->evictions_adapter))
GETTER(ev_other, i64(r->evictions_other))
GETTER(bel_evict, i64(r->belady_evictions))
GETTER(remat, i64(r->bytes_rematerialised))
GETTER(preempt, i64(r->preemptions))
GETTER(preempt_ms, r->preempt_modelled_ms)
GETTER(bel_preempt, i64(r->belady_preemptions))
GETTER(a50, i64(r->alloc_p50_ns))
GETTER(a99, i64(r->alloc_p99_ns))
GETTER(f50, i64(r->free_p50_ns))
GETTER(f99, i64(r->free_p99_ns))
GETTER(modelled, r->modelled_ms)
GETTER(waste_peak, i64(r->waste_at_peak))
GETTER(free_peak, i64(r->free_at_peak))

#define BY_KIND "evictions weight/kv/adapter/other"
static const metric metrics[] = {
    {"peak footprint", U_BYTES, 1, peak_fp, NULL, -1},
    {"footprint / lower bound", U_RATIO, 1, ratio, NULL, -1},
    {"waste at peak", U_BYTES, 1, waste_peak, NULL, -1},
    {"free at peak", U_BYTES, 1, free_peak, NULL, -1},
    {"worst ext. frag", U_FRAC, 1, ext, NULL, -1},
    {"OOMs", U_COUNT, 1, ooms, NULL, -1},
    {"OOMs despite free", U_COUNT, 1, ooms_df, NULL, -1},
    {"evictions", U_COUNT, 1, evict, NULL, -1},
    {"evictions: weight", U_COUNT, 1, ev_weight, BY_KIND, -1},
    {"evictions: kv", U_COUNT, 1, ev_kv, BY_KIND, -1},
    {"evictions: adapter", U_COUNT, 1, ev_adapter, BY_KIND, -1},
    {"evictions: other", U_COUNT, 1, ev_other, BY_KIND, -1},
    {"Belady evictions", U_COUNT, 0, bel_evict, NULL, -1},
    {"bytes re-materialised", U_BYTES, 1, remat, NULL, -1},
    {"forced preemptions", U_COUNT, 1, preempt, NULL, -1},
    {"preemption cost", U_MS, 1, preempt_ms, NULL, -1},
    {"Belady preemptions", U_COUNT, 0, bel_preempt, NULL, -1},
    {"modelled time", U_MS, 1, modelled, NULL, -1},
    {"alloc p50", U_NS, 1, a50, NULL, VREP_LAT_ALLOC50},
    {"alloc p99", U_NS, 1, a99, NULL, VREP_LAT_ALLOC99},
    {"free p50", U_NS, 1, f50, NULL, VREP_LAT_FREE50},
    {"free p99", U_NS, 1, f99, NULL, VREP_LAT_FREE99},
};
#define NMETRICS (sizeof metrics / sizeof metrics[0])

/* How many metrics from m on form one summary column (1, or its group's size). */
static size_t column_span(size_t m)
{
    size_t k = 1;
    while (metrics[m].group && m + k < NMETRICS && metrics[m + k].group &&
           strcmp(metrics[m + k].group, metrics[m].group) == 0)
        k++;
    return k;
}

/* The page's definitions, one per measure it shows (docs/METRICS.md says the
 * same at more length, with the database columns). */
static const struct {
    const char *term, *definition;
} terms[] = {
    {"peak footprint", "the most device memory the policy needed at once: the end of its highest"
     " used block (bestfit, buddy, tlsf), its high-water mark in blocks (pool), its reserved"
     " segments (caching); both lanes summed in the pool layout"},
    {"lower bound (peak live)", "the most requested bytes live at once in the trace: no policy"
     " needs less unless it evicts"},
    {"footprint / lower bound", "peak footprint over peak live (replay's \"/ peak live\"): 1.000"
     " is a perfect packing; below 1 only when the policy evicted"},
    {"waste at peak", "internal waste, bytes in use minus bytes requested (rounding), at the first"
     " sample with the highest footprint"},
    {"free at peak", "footprint minus bytes in use at that sample: free blocks below the"
     " footprint, holes left by frees or, for caching, blocks cached in its segments"},
    {"worst ext. frag", "external fragmentation, 1 - largest free block / free bytes, at its"
     " worst over the samples"},
    {"OOMs", "allocations the policy could not place (despite free: the free bytes in total"
     " covered the request, so fragmentation, not capacity, failed it)"},
    {"evictions", "handles the policy moved off the device to make room, by kind of buffer;"
     " forced preemptions not included"},
    {"Belady", "the same trace on an ideal device of the same capacity without fragmentation,"
     " evicting what is needed farthest in the future (and preempting by the replay's rule):"
     " the optimum when evictable items share one size, else a reference"},
    {"bytes re-materialised", "bytes brought back onto the device after evictions or"
     " preemptions"},
    {"forced preemptions", "version-2 traces: a placement failed and only memory a running"
     " request needs could make room, so the newest running request was preempted, its KV"
     " recomputed or swapped at a modelled cost (preemption cost); n/a for version-1 traces"},
    {"modelled time", "the device cost model's time for the run (docs/COST_MODEL.md): segment"
     " allocations, eviction copies, the preemption cost; exact and repeatable"},
    {"p50, p99", "measured latency per call on the machine that ran the replay, histogram bucket"
     " upper bounds (at most 6.25% high); noisy from run to run"},
};

void vrep_terms_md(FILE *f)
{
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++)
        fprintf(f, "- **%s**: %s.\n", terms[i].term, terms[i].definition);
}

void vrep_terms_html(FILE *f)
{
    fputs("<dl id=\"terms\">\n", f);
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
        fputs("<dt>", f);
        vrep_html_text(f, terms[i].term);
        fputs("</dt><dd>", f);
        vrep_html_text(f, terms[i].definition);
        fputs(".</dd>\n", f);
    }
    fputs("</dl>\n", f);
}

/* The one formatting of a value: bytes by vsim_bytes, ratios with 3
 * decimals, counts and ns as integers, "n/a" when unknown. */
static void fmt(unit u, double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "n/a");
        return;
    }
    switch (u) {
    case U_BYTES:
        vsim_bytes(v, buf, len);
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
    case U_MS:
        snprintf(buf, len, "%.3f ms", v);
        break;
    }
}

void vrep_preempt_text(const vrep_run *r, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!r->preempt_mode[0])
        return;
    char bytes[64], restores[64];
    fmt(U_BYTES, i64(r->preempted_bytes), bytes, sizeof bytes);
    fmt(U_COUNT, i64(r->restores), restores, sizeof restores);
    snprintf(buf, len, "preemption by %s: %s dropped, %s restored", r->preempt_mode, bytes,
             restores);
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

const char vrep_compare_note[] =
    "The settings that differ between the two runs come first. Exact figures (bytes, counts,"
    " modelled time) are marked worse or better on any difference: a replay repeats them to the"
    " last digit. Measured latencies are marked only beyond the run-to-run spread: when every"
    " repeat of the run after lies above (or below) every repeat of the run before, which luck"
    " alone does with a chance of at most 5% (repeats: the runs of a database with the same trace"
    " and settings; 3 a side are the fewest that can tell; replay the same command again to add"
    " one). Belady's counts are references; n/a on either side is not compared.";

/* -1 better, 0 same (or not judged), 1 worse; why (for latencies) in `why`. */
static int judge(const metric *m, const vrep_pair *p, double before, double after, char *why,
                 size_t len)
{
    why[0] = '\0';
    if (!m->higher_is_worse || isnan(before) || isnan(after))
        return 0;
    if (m->lat >= 0)
        return vrep_spread_judge(&p->before_spread, &p->after_spread, m->lat, why, len);
    return after > before ? 1 : after < before ? -1 : 0;
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

/* The summary cell of the column starting at metric m (span k): the value, or
 * a group's values joined by '/' ("n/a" alone when none is known). */
static void column_cell(size_t m, size_t k, const vrep_run *r, char *buf, size_t len)
{
    int known = 0;
    for (size_t j = 0; j < k; j++)
        known |= !isnan(metrics[m + j].get(r));
    buf[0] = '\0';
    if (!known) {
        fmt(metrics[m].u, NAN, buf, len);
        return;
    }
    for (size_t j = 0; j < k; j++) {
        char v[64];
        fmt(metrics[m + j].u, metrics[m + j].get(r), v, sizeof v);
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", j ? "/" : "", v);
    }
}

static const char *column_name(size_t m, size_t k)
{
    return k > 1 ? metrics[m].group : metrics[m].name;
}

void vrep_summary_md(FILE *f, const vrep_series *s, size_t n)
{
    fputs("| run | policy | status |", f);
    for (size_t m = 0, k; m < NMETRICS; m += k) {
        k = column_span(m);
        fprintf(f, " %s |", column_name(m, k));
    }
    fputs("\n|---|---|---|", f);
    for (size_t m = 0; m < NMETRICS; m += column_span(m))
        fputs("---:|", f);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "| %s | ", s[i].label);
        md_text(f, s[i].run.policy);
        fprintf(f, " | %s |", s[i].run.status);
        for (size_t m = 0, k; m < NMETRICS; m += k) {
            char v[256];
            k = column_span(m);
            column_cell(m, k, &s[i].run, v, sizeof v);
            fprintf(f, " %s |", v);
        }
        fputc('\n', f);
    }
}

void vrep_summary_html(FILE *f, const vrep_series *s, size_t n)
{
    fputs("<table class=\"summary\">\n<tr><th>run</th><th>policy</th><th>status</th>", f);
    for (size_t m = 0, k; m < NMETRICS; m += k) {
        k = column_span(m);
        fputs("<th>", f);
        vrep_html_text(f, column_name(m, k));
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
        for (size_t m = 0, k; m < NMETRICS; m += k) {
            char v[256];
            k = column_span(m);
            column_cell(m, k, &s[i].run, v, sizeof v);
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
        static vrep_difference d[VREP_SETTINGS];
        size_t nd = vrep_differences(&p[i].before->run, &p[i].after->run, d);
        for (size_t k = 0; k < nd; k++) {
            fprintf(f, "| setting: %s | ", d[k].name);
            md_text(f, d[k].before);
            fputs(" | ", f);
            md_text(f, d[k].after);
            fputs(" | differs |\n", f);
        }
        if (!nd)
            fputs("| settings | the same | the same | |\n", f);
        for (size_t m = 0; m < NMETRICS; m++) {
            double b = metrics[m].get(&p[i].before->run), a = metrics[m].get(&p[i].after->run);
            char bs[64], as[64], ds[96], why[256];
            fmt(metrics[m].u, b, bs, sizeof bs);
            fmt(metrics[m].u, a, as, sizeof as);
            fmt_delta(metrics[m].u, b, a, ds, sizeof ds);
            int j = judge(&metrics[m], &p[i], b, a, why, sizeof why);
            fprintf(f, "| %s | %s | %s | %s%s%s%s%s |\n", metrics[m].name, bs, as,
                    j > 0 ? "**" : "", ds, j > 0 ? " worse**" : j < 0 ? " better" : "",
                    why[0] ? ": " : "", why);
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
        static vrep_difference d[VREP_SETTINGS];
        size_t nd = vrep_differences(&p[i].before->run, &p[i].after->run, d);
        for (size_t k = 0; k < nd; k++) {
            fputs("<tr class=\"setting\"><td>setting: ", f);
            vrep_html_text(f, d[k].name);
            fputs("</td><td>", f);
            vrep_html_text(f, d[k].before);
            fputs("</td><td>", f);
            vrep_html_text(f, d[k].after);
            fputs("</td><td>differs</td></tr>\n", f);
        }
        if (!nd)
            fputs("<tr class=\"setting\"><td>settings</td><td>the same</td><td>the same</td>"
                  "<td></td></tr>\n", f);
        for (size_t m = 0; m < NMETRICS; m++) {
            double b = metrics[m].get(&p[i].before->run), a = metrics[m].get(&p[i].after->run);
            char bs[64], as[64], ds[96], why[256];
            fmt(metrics[m].u, b, bs, sizeof bs);
            fmt(metrics[m].u, a, as, sizeof as);
            fmt_delta(metrics[m].u, b, a, ds, sizeof ds);
            int j = judge(&metrics[m], &p[i], b, a, why, sizeof why);
            fprintf(f, "<tr><td>%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
                       "<td class=\"num %s\">%s%s",
                    metrics[m].name, bs, as, j > 0 ? "worse" : j < 0 ? "better" : "", ds,
                    j > 0 ? " &#9650; worse" : j < 0 ? " better" : "");
            if (why[0]) {
                fputs("<br><span class=\"note\">", f);
                vrep_html_text(f, why);
                fputs("</span>", f);
            }
            fputs("</td></tr>\n", f);
        }
    }
    fputs("</table>\n", f);
}
