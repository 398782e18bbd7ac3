/* report - gnuplot reports over the results database that `replay` writes.
 *
 *   report RESULTS.db [-o DIR] [--runs ID,ID...] [--at EVENT]
 *          [--compare BASE.db | --compare-runs A,B] [--share DIR]
 *
 * Writes DIR (default report/): index.html (everything, images embedded),
 * summary.md, footprint/frag/latency/heapmap/evictions/serve/prefix .png and .svg, the
 * plotted data in DIR/data (NAME.dat) and gnuplot messages in DIR/gnuplot.log.
 * index.html and summary.md replace the previous ones only when complete
 * (written last, after everything they show).
 *
 * Exit status: 0 the report was written (also when gnuplot is missing: the
 * data and summaries are written, the figures are not, and a warning says how
 * to install it); 1 the database, a run or a file failed (message names it),
 * or a run's trace is not found (tracefind.h: the report is written without
 * its heap maps, a warning at the top of the page; --no-heapmap: 0); 2 bad
 * usage; 128 + N when signal N (SIGHUP, SIGINT, SIGTERM)
 * stopped it: within 10 ms of the signal in gnuplot, in the heap map's
 * replay or in an export, with index.html and summary.md left as they were. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "figures.h"
#include "heapmap.h"
#include "html.h"
#include "listing.h"
#include "ranking.h"
#include "tracefind.h"
#include "report.h"
#include "summary.h"
#include "signals.h"
#include "trace.h"

/* mkdir -p */
static int make_dir(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char was = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create the directory: %s", buf, strerror(errno));
            return 0;
        }
        *p = was;
        if (was == '\0')
            return 1;
    }
}

static vram_status write_summary_md(vrep_report *r, const vrep_figures *pl, const char *title)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.md", r->paths.out);
    vtrace_output out; /* the summary replaces the last one only when complete */
    if (vtrace_output_begin(path, &out, r->err, sizeof r->err))
        return VRAM_EIO;
    FILE *f = fopen(out.write_path, "w");
    if (!f) {
        snprintf(r->err, sizeof r->err, "%s: cannot write: %s", out.write_path, strerror(errno));
        vtrace_output_abort(&out);
        return VRAM_EIO;
    }
    fprintf(f, "# %s\n\n", title);
    if (r->warning[0])
        fprintf(f, "**Warning**: %s.\n\n", r->warning);
    fputs("## Verdict\n\n", f);
    vrep_ranking_md(f, r->s, r->n);
    fputs("\n## Summary\n\n", f);
    vrep_summary_md(f, r->s, r->n);
    fputs("\n## Definitions\n\n", f);
    vrep_terms_md(f);
    if (r->npairs) {
        fputs("\n## Comparison\n\n", f);
        vrep_compare_md(f, r->pairs, r->npairs);
        fprintf(f, "\n%s\n", vrep_compare_note);
    }
    fputs("\n## Closed loop (serve)\n\n", f);
    vrep_serve_md(f, &pl->serve);
    if (!pl->fig[FIG_PREFIX].absent) {
        fputs("\n## Prefix cache\n\n", f);
        vrep_prefix_md(f, &pl->prefix);
    }
    fputs("\n## Runs\n\n", f);
    for (size_t i = 0; i < r->n; i++) {
        const vrep_series *s = &r->s[i];
        char preempt[160];
        vrep_preempt_text(&s->run, preempt, sizeof preempt);
        fprintf(f,
                "- %s: %s run %lld, trace %s (crc32 %s), %s backend%s%s; heap map: %s%s%s%s%s\n",
                s->label, vrep_db_path(s->db), (long long)s->run.id, s->run.trace,
                s->run.crc32, s->run.backend, preempt[0] ? ", " : "", preempt,
                r->c.no_heapmap ? "not drawn (--no-heapmap)" : s->map_note[VREP_MAP_PEAK],
                s->map_note[VREP_MAP_OOM][0] ? "; at its first OOM: " : "",
                s->map_note[VREP_MAP_OOM],
                s->map_note[VREP_MAP_PREEMPT][0] ? "; at its first forced preemption: " : "",
                s->map_note[VREP_MAP_PREEMPT]);
    }
    fputs("\n## Figures\n\n", f);
    for (int k = 0; k < FIG_COUNT; k++) {
        const vrep_figure *g = &pl->fig[k];
        if (g->absent)
            continue;
        if (g->made)
            fprintf(f, "- ![%s](%s.png) ([SVG](%s.svg))\n", g->caption, g->stem, g->stem);
        else
            fprintf(f, "- %s: not drawn: %s\n", g->caption, g->why);
    }
    const int bad = ferror(f); /* a write failed before the close */
    if (fclose(f) != 0 || bad) {
        snprintf(r->err, sizeof r->err, "%s: write failed: %s", out.write_path, strerror(errno));
        vtrace_output_abort(&out);
        return VRAM_EIO;
    }
    return vtrace_output_commit(&out, r->err, sizeof r->err);
}

/* VRAM_EBUSY once a signal has asked the report to stop (vrep_stop). */
static vram_status stop_check(vrep_report *r, vram_status st)
{
    if (!st && vrep_stop) {
        snprintf(r->err, sizeof r->err, "stopped by a signal");
        return VRAM_EBUSY;
    }
    return st;
}

static vram_status run_report(vrep_report *r, vrep_figures *pl)
{
    vram_status st = vrep_db_open_many(r->c.dbs, r->c.ndb, &r->db, r->err, sizeof r->err);
    if (!st)
        st = stop_check(r, vrep_select(r));
    for (size_t i = 0; i < r->npairs && !st; i++) {
        vrep_pair *p = &r->pairs[i];
        st = vrep_spread_load(p->before->db, r->paths.share, p->before->run.id, &p->before_spread,
                              r->err, sizeof r->err);
        if (!st)
            st = vrep_spread_load(p->after->db, r->paths.share, p->after->run.id,
                                  &p->after_spread, r->err, sizeof r->err);
    }
    if (!st && !make_dir(r->paths.data, r->err, sizeof r->err))
        st = VRAM_EIO;
    for (size_t i = 0; i < r->n && !st; i++) {
        st = stop_check(r, vrep_export(&r->paths, &r->s[i], r->err, sizeof r->err));
        pl->ops |= r->s[i].ops;
    }
    for (size_t i = 0; i < r->n && !st; i++)
        st = vrep_export_missing_ops(&r->paths, &r->s[i], pl->ops, r->err, sizeof r->err);
    for (size_t i = 0; i < r->n && !st && !r->c.no_heapmap; i++) {
        vrep_series *s = &r->s[i];
        s->trace_found = vrep_trace_find(s, s->trace_path, sizeof s->trace_path);
        if (!s->trace_found && !r->warning[0])
            snprintf(r->warning, sizeof r->warning,
                     "run %lld (%s): %.1500s: its heap maps are not drawn (report --no-heapmap"
                     " reports without them)", (long long)s->run.id, s->label, s->trace_path);
    }
    for (int m = 0; m < VREP_MAPS && !st && !r->c.no_heapmap; m++)
        st = stop_check(r, vrep_heapmap(&r->paths, r->s, r->n, m, r->c.at, pl->yt[m],
                                        sizeof pl->yt[m], &pl->strips[m], r->err, sizeof r->err));
    if (st)
        return st;
    st = stop_check(r, vrep_figures_draw(r, pl));
    if (st)
        return st;
    const char *trace = strrchr(r->s[0].run.trace, '/');
    char title[1200];
    snprintf(title, sizeof title, "vramlab report: %s (%s)",
             trace ? trace + 1 : r->s[0].run.trace, vrep_db_path(r->db));
    st = write_summary_md(r, pl, title);
    if (st)
        return st;
    vrep_page page = {.title = title, .warning = r->warning, .s = r->s, .n = r->n,
                      .pairs = r->pairs,
                      .npairs = r->npairs, .figs = pl->fig, .nfigs = FIG_COUNT,
                      .serve = &pl->serve, .prefix = &pl->prefix,
                      .prefix_absent = pl->fig[FIG_PREFIX].absent};
    return vrep_index_html(&r->paths, &page, r->err, sizeof r->err);
}

/* --list: the runs on stdout, no report. */
static vram_status list_runs(vrep_report *r)
{
    vram_status st = vrep_db_open_many(r->c.dbs, r->c.ndb, &r->db, r->err, sizeof r->err);
    return st ? st : vrep_list(r->db, r->paths.share, r->c.list_format, r->err, sizeof r->err);
}

int main(int argc, char **argv)
{
    vrep_report *r = calloc(1, sizeof *r);
    vrep_figures *pl = calloc(1, sizeof *pl);
    if (!r || !pl) {
        fprintf(stderr, "report: out of host memory\n");
        return 1;
    }
    char share[4200];
    int rc = vrep_cli_parse(argc, argv, &r->c);
    if (rc == 0) {
        r->paths.share = r->c.share ? r->c.share : vrep_default_share(share, sizeof share);
        r->paths.out = r->c.out;
        snprintf(r->paths.data, sizeof r->paths.data, "%s/data", r->c.out);
        vrep_figures_init(pl, r->c.at);
        vsim_catch_signals(&vrep_stop);
        vram_status st = r->c.list ? list_runs(r) : run_report(r, pl);
        if (st && vrep_stop) {
            fprintf(stderr, "report: stopped by %s: %s/index.html and %s/summary.md are as they"
                            " were; %s/data and the figures may be partly rewritten\n",
                    vsim_signal_name(vrep_stop), r->c.out, r->c.out, r->c.out);
            rc = 128 + vrep_stop;
        } else if (st) {
            fprintf(stderr, "report: %s\n", r->err);
            rc = r->bad_usage ? 2 : 1;
        } else if (!r->c.list) {
            printf("report: %zu run(s) -> %s/index.html, %s/summary.md\n", r->n, r->c.out,
                   r->c.out);
            if (r->warning[0]) { /* written, but without what the trace gives */
                fprintf(stderr, "report: warning: %s\n", r->warning);
                rc = 1;
            }
            if (vrep_stop) {
                fprintf(stderr, "report: %s received after the report was written: it is"
                                " complete\n", vsim_signal_name(vrep_stop));
                rc = 128 + vrep_stop;
            }
        }
    }
    vrep_db_close(r->db);
    vrep_db_close(r->base);
    free(r->s);
    free(r->pairs);
    free(r);
    vrep_serve_free(&pl->serve);
    vrep_prefix_free(&pl->prefix);
    free(pl);
    return rc < 0 ? 0 : rc;
}

