/* ranking.c - the verdict from the runs' summaries. */
#include "ranking.h"

#include <math.h>
#include <stdlib.h>

#include "summary.h"
#include "verdict.h"

static double known(int64_t v) { return v < 0 ? NAN : (double)v; }

/* The runs as the verdict reads them, ranked: *order (malloc'ed) best first;
 * NULL without memory. */
static vverdict_run *rank(const vrep_series *s, size_t n, size_t **order)
{
    vverdict_run *v = calloc(n ? n : 1, sizeof *v);
    *order = calloc(n ? n : 1, sizeof **order);
    if (!v || !*order) {
        free(v);
        free(*order);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const vrep_run *r = &s[i].run;
        v[i] = (vverdict_run){
            .label = s[i].label, .policy = r->policy, .status = r->status,
            .ratio = r->footprint_ratio, .ooms = known(r->ooms),
            .preemptions = r->preempt_mode[0] ? known(r->preemptions) : NAN,
            .modelled_ms = r->modelled_ms, .preempt_ms = r->preempt_modelled_ms,
            .alloc_p99_ns = known(r->alloc_p99_ns), .waste_at_peak = known(r->waste_at_peak),
            .free_at_peak = known(r->free_at_peak)};
    }
    vverdict_rank(v, n, *order);
    return v;
}

static void ranking(FILE *f, const vrep_series *s, size_t n, int html)
{
    size_t *order;
    vverdict_run *v = rank(s, n, &order);
    fputs(html ? "<ol id=\"verdict\">\n" : "", f);
    for (size_t k = 0; k < n && v; k++) {
        char entry[1536];
        vverdict_entry(v, order, n, k, entry, sizeof entry);
        if (html) {
            fputs("<li>", f);
            vrep_html_text(f, entry);
            fputs("</li>\n", f);
        } else {
            fprintf(f, "%zu. %s\n", k + 1, entry);
        }
    }
    if (!v)
        fputs(html ? "<li>not ranked: out of host memory</li>\n"
                   : "not ranked: out of host memory\n", f);
    if (html) {
        fputs("</ol>\n<p class=\"note\">", f);
        vrep_html_text(f, vverdict_rule);
        fputs(" Each measure is defined under Definitions.</p>\n", f);
    } else {
        fprintf(f, "\n%s Each measure is defined under Definitions.\n", vverdict_rule);
    }
    free(v);
    free(order);
}

void vrep_ranking_md(FILE *f, const vrep_series *s, size_t n) { ranking(f, s, n, 0); }
void vrep_ranking_html(FILE *f, const vrep_series *s, size_t n) { ranking(f, s, n, 1); }
