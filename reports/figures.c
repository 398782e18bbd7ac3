/* figures.c - the figures: gnuplot parameters from the series, PNG and SVG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "figures.h"
#include "replay.h"

void vrep_figures_init(vrep_figures *pl, uint64_t at)
{
    static const char *const stems[FIG_COUNT] = {"footprint", "frag", "latency", "heapmap",
                                                 "evictions"};
    static const char *const captions[FIG_COUNT] = {
        "Footprint and live bytes over the trace, with the lower bound (peak live bytes)",
        "Fragmentation: external ratio, internal waste, free blocks, largest free block",
        "Op latency per op kind: CDF on a log scale",
        NULL, /* the heap map's depends on the moment */
        "Evictions and bytes re-materialised over the trace against Belady"};
    memset(pl, 0, sizeof *pl);
    if (at)
        snprintf(pl->caption, sizeof pl->caption, "Heap map after event %llu",
                 (unsigned long long)at);
    else
        snprintf(pl->caption, sizeof pl->caption,
                 "Heap map at each run's peak footprint (as sampled; events in the runs table)");
    for (int k = 0; k < FIG_COUNT; k++) {
        pl->fig[k].stem = stems[k];
        pl->fig[k].caption = k == FIG_HEAPMAP ? pl->caption : captions[k];
    }
}

/* What list_of gives for each series. */
typedef enum list_item { L_TAG, L_LABEL, L_BOUND, L_BELADY_EV, L_BELADY_BYTES } list_item;

/* The blank-separated `what` of the series in `pick` (a gnuplot word list);
 * unknown numbers are 0 for the bound and -1 for Belady, as the scripts read. */
static void list_of(const vrep_report *r, const int *pick, list_item what, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        if (pick && !pick[i])
            continue;
        const vrep_run *run = &r->s[i].run;
        char word[96];
        switch (what) {
        case L_TAG:
            snprintf(word, sizeof word, "%s", r->s[i].tag);
            break;
        case L_LABEL:
            snprintf(word, sizeof word, "%s", r->s[i].label);
            break;
        case L_BOUND:
            snprintf(word, sizeof word, "%lld",
                     (long long)(run->peak_live > 0 ? run->peak_live : 0));
            break;
        case L_BELADY_EV:
            snprintf(word, sizeof word, "%lld", (long long)run->belady_evictions);
            break;
        case L_BELADY_BYTES:
            snprintf(word, sizeof word, "%lld", (long long)run->belady_bytes_rematerialised);
            break;
        }
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", used ? " " : "", word);
    }
}

/* Draws one figure as PNG and SVG; a missing gnuplot is remembered, not fatal. */
static vram_status draw(vrep_report *r, vrep_figures *pl, int k, vrep_params *prm)
{
    vrep_figure *fig = &pl->fig[k];
    if (fig->why[0])
        return VRAM_OK; /* nothing to draw, said why */
    if (pl->no_gnuplot) {
        snprintf(fig->why, sizeof fig->why, "gnuplot is not installed");
        return VRAM_OK;
    }
    char script[4200], log[4200];
    snprintf(script, sizeof script, "%s/%s.gp", r->paths.share, fig->stem);
    snprintf(log, sizeof log, "%s/gnuplot.log", r->paths.out);
    static const char *const terms[] = {"png", "svg"};
    for (int t = 0; t < 2; t++) {
        vrep_params p = *prm;
        char out[4200];
        snprintf(out, sizeof out, "%s/%s.%s", r->paths.out, fig->stem, terms[t]);
        vrep_param_str(&p, "term", terms[t]);
        vrep_param_str(&p, "out", out);
        vram_status st = vrep_plot(r->c.gnuplot, script, &p, log, r->err, sizeof r->err);
        if (st == VRAM_ENOTFOUND) {
            fprintf(stderr, "report: warning: %s; figures are not drawn (data and summaries are"
                            " written). Install gnuplot: apt-get install gnuplot-nox\n", r->err);
            pl->no_gnuplot = 1;
            snprintf(fig->why, sizeof fig->why, "gnuplot is not installed");
            return VRAM_OK;
        }
        if (st)
            return st;
    }
    fig->made = 1;
    return VRAM_OK;
}

/* The unit of byte axes: the largest that leaves the largest device >= 4. */
static const char *unit_of(const vrep_report *r)
{
    int64_t most = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->s[i].run.capacity > most)
            most = r->s[i].run.capacity;
    return most >= (4ll << 30) ? "GiB" : most >= (4ll << 20) ? "MiB" : "KiB";
}

/* Removes OUT/STEM.png and .svg of a figure not drawn this time (no stale images). */
static void remove_stale(const vrep_report *r, const vrep_figure *fig)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.png", r->paths.out, fig->stem);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s.svg", r->paths.out, fig->stem);
    unlink(path);
}

vram_status vrep_figures_draw(vrep_report *r, vrep_figures *pl)
{
    int *with_samples = calloc(r->n, sizeof *with_samples);
    int *with_ops = calloc(r->n, sizeof *with_ops);
    char *a = malloc(4096), *b = malloc(4096);
    vrep_params *base = malloc(sizeof *base), *p = malloc(sizeof *p);
    vram_status st = VRAM_OK;
    if (!with_samples || !with_ops || !a || !b || !base || !p) {
        snprintf(r->err, sizeof r->err, "out of host memory");
        st = VRAM_ENOHOST;
        goto out;
    }
    int any_samples = 0, exact = 1;
    for (size_t i = 0; i < r->n; i++) {
        with_samples[i] = r->s[i].run.samples > 0;
        with_ops[i] = r->s[i].ops != 0;
        any_samples |= with_samples[i];
        exact &= r->s[i].run.belady_exact == 1;
    }
    char log[4200];
    snprintf(log, sizeof log, "%s/gnuplot.log", r->paths.out);
    unlink(log); /* this report's messages only */
    memset(base, 0, sizeof *base);
    vrep_param_str(base, "gpdir", r->paths.share);
    vrep_param_str(base, "unit", unit_of(r));
    vrep_param_str(base, "datadir", r->paths.data);
    if (!any_samples) {
        /* why, run by run: not finished, --sample-every 0, or ended before the first */
        char why[sizeof pl->fig[0].why] = "no run has samples (";
        for (size_t i = 0; i < r->n; i++) {
            char one[256];
            vrep_run_why_no_samples(&r->s[i].run, one, sizeof one);
            size_t used = strlen(why);
            snprintf(why + used, sizeof why - used, "%s%s", i ? "; " : "", one);
        }
        size_t used = strlen(why);
        snprintf(why + used, sizeof why - used, ")");
        for (int k = 0; k < FIG_COUNT; k++)
            if (k != FIG_LATENCY)
                snprintf(pl->fig[k].why, sizeof pl->fig[k].why, "%s", why);
    } else if (!pl->strips) {
        snprintf(pl->fig[FIG_HEAPMAP].why, sizeof pl->fig[FIG_HEAPMAP].why,
                 "no run could be replayed to the event (see the runs table)");
    }
    if (!pl->ops)
        snprintf(pl->fig[FIG_LATENCY].why, sizeof pl->fig[FIG_LATENCY].why,
                 "no run has latency data");

    *p = *base;
    list_of(r, with_samples, L_TAG, a, 4096);
    vrep_param_str(p, "tags", a);
    list_of(r, with_samples, L_LABEL, a, 4096);
    vrep_param_str(p, "titles", a);
    list_of(r, with_samples, L_BOUND, b, 4096);
    vrep_param_str(p, "bounds", b);
    st = draw(r, pl, FIG_FOOTPRINT, p);
    if (!st)
        st = draw(r, pl, FIG_FRAG, p);
    if (!st) {
        list_of(r, with_samples, L_BELADY_EV, a, 4096);
        vrep_param_str(p, "belady_ev", a);
        list_of(r, with_samples, L_BELADY_BYTES, a, 4096);
        vrep_param_str(p, "belady_bytes", a);
        vrep_param_str(p, "belady_what", exact ? "optimum" : "reference (mixed sizes)");
        st = draw(r, pl, FIG_EVICTIONS, p);
    }
    if (!st) {
        *p = *base;
        list_of(r, with_ops, L_TAG, a, 4096);
        vrep_param_str(p, "tags", a);
        list_of(r, with_ops, L_LABEL, a, 4096);
        vrep_param_str(p, "titles", a);
        b[0] = '\0';
        for (int k = 0; k < VREPLAY_OP_COUNT; k++)
            if (pl->ops & (1u << k)) {
                size_t used = strlen(b);
                snprintf(b + used, 4096 - used, "%s%s", used ? " " : "",
                         vreplay_op_name((vreplay_op)k));
            }
        vrep_param_str(p, "ops", b);
        st = draw(r, pl, FIG_LATENCY, p);
    }
    if (!st) {
        *p = *base;
        vrep_param_str(p, "tags", "");
        vrep_param_str(p, "titles", "");
        vrep_param_num(p, "strips", pl->strips);
        vrep_param_str(p, "yt", pl->yt);
        vrep_param_str(p, "caption", pl->caption);
        st = draw(r, pl, FIG_HEAPMAP, p);
    }
    for (int k = 0; k < FIG_COUNT && !st; k++)
        if (!pl->fig[k].made)
            remove_stale(r, &pl->fig[k]);
out:
    free(with_samples);
    free(with_ops);
    free(a);
    free(b);
    free(base);
    free(p);
    return st;
}
