/* figures.c - the figures: gnuplot parameters from the series, PNG and SVG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "figures.h"
#include "replay.h"

void vrep_figures_init(vrep_figures *pl, uint64_t at)
{
    static const char *const stems[FIG_COUNT] = {"footprint",       "frag",      "latency",
                                                 "heapmap",         "heapmap_oom",
                                                 "heapmap_preempt", "evictions", "serve",
                                                 "prefix"};
    static const char *const scripts[FIG_COUNT] = {"footprint", "frag",    "latency",
                                                   "heapmap",   "heapmap", "heapmap",
                                                   "evictions", "serve",   "prefix"};
    static const char *const captions[FIG_COUNT] = {
        "Footprint and live bytes over the trace, with the lower bound (peak live bytes) and the"
        " device's capacity",
        "Fragmentation: external ratio, internal waste, free blocks, largest free block",
        "Op latency per op kind (those with at least 20 timed calls): CDF on a log scale",
        NULL, /* the heap maps' depend on the moment */
        NULL,
        NULL,
        "Evictions and bytes re-materialised over the trace against Belady",
        "The closed loop (serve): the KV region of each run (KV reservation style x heap"
        " policy) split into the KV ledger's time-weighted shares; dots: its throughput",
        "The prefix cache's block hit ratio against its device blocks, a panel per trace: a"
        " curve per prefix policy, beside textbook LRU and Belady at each capacity and the"
        " unlimited cache (dotted) over the same lookups, whose blocks are all cache; medians"
        " of the runs at each point"};
    memset(pl, 0, sizeof *pl);
    if (at)
        snprintf(pl->caption[VREP_MAP_PEAK], sizeof pl->caption[0], "Heap map after event %llu",
                 (unsigned long long)at);
    else
        snprintf(pl->caption[VREP_MAP_PEAK], sizeof pl->caption[0],
                 "Heap map at the trace's peak of live bytes, the moment the lower bound is about"
                 " (the event in the runs table)");
    snprintf(pl->caption[VREP_MAP_OOM], sizeof pl->caption[0],
             "Heap map at each run's first OOM, for the runs that had one (the event in the runs"
             " table)");
    snprintf(pl->caption[VREP_MAP_PREEMPT], sizeof pl->caption[0],
             "Heap map just before each run's first forced preemption, for the runs that had"
             " one: the heap the failing placement found (the runs table says which request"
             " was preempted and why)");
    for (int k = 0; k < FIG_COUNT; k++) {
        pl->fig[k].stem = stems[k];
        pl->fig[k].script = scripts[k];
        pl->fig[k].caption = k >= FIG_HEAPMAP && k < FIG_HEAPMAP + VREP_MAPS
                                 ? pl->caption[k - FIG_HEAPMAP]
                                 : captions[k];
    }
}

/* A policy's colour, the same in every figure: the built-in policies' fixed,
 * others' by a hash of the name over the rest of the palette. */
static const char *colour_of(const char *policy)
{
    static const char *const fixed[][2] = {{"bestfit", "#1f77b4"}, {"buddy", "#ff7f0e"},
                                           {"tlsf", "#2ca02c"}, {"pool", "#d62728"},
                                           {"caching", "#9467bd"}};
    static const char *const rest[] = {"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(policy, fixed[i][0]) == 0)
            return fixed[i][1];
    unsigned h = 5381;
    for (const char *p = policy; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return rest[h % (sizeof rest / sizeof rest[0])];
}

/* What list_of gives for each series. */
typedef enum list_item { L_TAG, L_LABEL, L_BOUND, L_BELADY_EV, L_BELADY_BYTES, L_COLOUR,
                         L_DASH } list_item;

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
        case L_COLOUR:
            snprintf(word, sizeof word, "%s", colour_of(run->policy));
            break;
        case L_DASH: /* a comparison's before run dashed */
            snprintf(word, sizeof word, "%d", strstr(r->s[i].label, "/before") ? 2 : 1);
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
    snprintf(script, sizeof script, "%s/%s.gp", r->paths.share, fig->script);
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
    int any_samples = 0, exact = 1, timed = 1, evicted = 0, remat = 0, oom = 0, preempt = 0;
    int64_t capacity = 0;
    for (size_t i = 0; i < r->n; i++) {
        const vrep_run *run = &r->s[i].run;
        with_samples[i] = run->samples > 0;
        with_ops[i] = r->s[i].ops != 0;
        any_samples |= with_samples[i];
        exact &= run->belady_exact == 1;
        timed &= !with_samples[i] || run->last_ts_us > 0;
        evicted |= run->evictions > 0 || run->belady_evictions > 0;
        remat |= run->bytes_rematerialised > 0 || run->belady_bytes_rematerialised > 0;
        oom |= run->ooms > 0;
        preempt |= run->preemptions > 0;
        if (run->capacity > capacity)
            capacity = run->capacity;
    }
    char log[4200];
    snprintf(log, sizeof log, "%s/gnuplot.log", r->paths.out);
    unlink(log); /* this report's messages only */
    memset(base, 0, sizeof *base);
    vrep_param_str(base, "gpdir", r->paths.share);
    vrep_param_str(base, "unit", unit_of(r));
    vrep_param_str(base, "datadir", r->paths.data);
    /* x: the trace's time (samples.ts_us, column 11) where every run has it */
    vrep_param_num(base, "xcol", timed ? 11 : 1);
    vrep_param_num(base, "xdiv", timed ? 1e6 : 1);
    vrep_param_str(base, "xname", timed ? "trace time (s)" : "trace event");
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
            if (k == FIG_FOOTPRINT || k == FIG_FRAG || k == FIG_EVICTIONS)
                snprintf(pl->fig[k].why, sizeof pl->fig[k].why, "%s", why);
    }
    if (!evicted && !remat)
        snprintf(pl->fig[FIG_EVICTIONS].why, sizeof pl->fig[0].why,
                 "no run evicted or re-materialised anything, nor would Belady");
    if (r->c.no_heapmap) {
        snprintf(pl->fig[FIG_HEAPMAP].why, sizeof pl->fig[0].why, "--no-heapmap");
        snprintf(pl->fig[FIG_HEAPMAP_OOM].why, sizeof pl->fig[0].why, "--no-heapmap");
        snprintf(pl->fig[FIG_HEAPMAP_PREEMPT].why, sizeof pl->fig[0].why, "--no-heapmap");
    } else {
        if (!pl->strips[VREP_MAP_PEAK])
            snprintf(pl->fig[FIG_HEAPMAP].why, sizeof pl->fig[0].why,
                     "no run could be replayed to the event (see the runs table)");
        if (!pl->strips[VREP_MAP_OOM])
            snprintf(pl->fig[FIG_HEAPMAP_OOM].why, sizeof pl->fig[0].why, "%s",
                     oom ? "no run with an OOM could be replayed to it (see the runs table)"
                         : "no run had an OOM");
        if (!pl->strips[VREP_MAP_PREEMPT])
            snprintf(pl->fig[FIG_HEAPMAP_PREEMPT].why, sizeof pl->fig[0].why, "%s",
                     preempt ? "no run with a forced preemption could be replayed to it (see the"
                               " runs table)"
                             : "no run had a forced preemption");
    }
    if (!pl->ops)
        snprintf(pl->fig[FIG_LATENCY].why, sizeof pl->fig[FIG_LATENCY].why,
                 "no run has an op with 20 timed calls");

    *p = *base;
    list_of(r, with_samples, L_TAG, a, 4096);
    vrep_param_str(p, "tags", a);
    list_of(r, with_samples, L_LABEL, a, 4096);
    vrep_param_str(p, "titles", a);
    list_of(r, with_samples, L_COLOUR, a, 4096);
    vrep_param_str(p, "colours", a);
    list_of(r, with_samples, L_DASH, a, 4096);
    vrep_param_str(p, "dashes", a);
    list_of(r, with_samples, L_BOUND, b, 4096);
    vrep_param_str(p, "bounds", b);
    vrep_param_num(p, "capacity", (double)capacity);
    st = draw(r, pl, FIG_FOOTPRINT, p);
    if (!st)
        st = draw(r, pl, FIG_FRAG, p);
    if (!st) {
        list_of(r, with_samples, L_BELADY_EV, a, 4096);
        vrep_param_str(p, "belady_ev", a);
        list_of(r, with_samples, L_BELADY_BYTES, a, 4096);
        vrep_param_str(p, "belady_bytes", a);
        vrep_param_str(p, "belady_what", exact ? "optimum" : "reference (mixed sizes)");
        vrep_param_num(p, "remat_panel", remat);
        st = draw(r, pl, FIG_EVICTIONS, p);
    }
    if (!st) {
        *p = *base;
        list_of(r, with_ops, L_TAG, a, 4096);
        vrep_param_str(p, "tags", a);
        list_of(r, with_ops, L_LABEL, a, 4096);
        vrep_param_str(p, "titles", a);
        list_of(r, with_ops, L_COLOUR, a, 4096);
        vrep_param_str(p, "colours", a);
        list_of(r, with_ops, L_DASH, a, 4096);
        vrep_param_str(p, "dashes", a);
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
    for (int m = 0; m < VREP_MAPS && !st; m++) {
        *p = *base;
        vrep_param_str(p, "tags", "");
        vrep_param_str(p, "titles", "");
        vrep_param_str(p, "hmfile", pl->fig[FIG_HEAPMAP + m].stem);
        vrep_param_num(p, "strips", pl->strips[m]);
        vrep_param_str(p, "yt", pl->yt[m]);
        vrep_param_str(p, "caption", pl->caption[m]);
        st = draw(r, pl, FIG_HEAPMAP + m, p);
    }
    if (!st) {
        *p = *base;
        st = vrep_serve_load(r->db, r->paths.share, r->paths.data, &pl->serve, p,
                             pl->fig[FIG_SERVE].why, sizeof pl->fig[0].why, r->err, sizeof r->err);
        if (!st)
            st = draw(r, pl, FIG_SERVE, p);
    }
    if (!st) {
        memset(p, 0, sizeof *p); /* prefix.gp reads only what the load sets */
        vrep_figure *fig = &pl->fig[FIG_PREFIX];
        st = vrep_prefix_load(r->db, r->paths.share, r->paths.data, &pl->prefix, p, &fig->absent,
                              fig->why, sizeof fig->why, r->err, sizeof r->err);
        if (!st && fig->absent)
            snprintf(fig->why, sizeof fig->why, "no run with a prefix cache");
        if (!st)
            st = draw(r, pl, FIG_PREFIX, p);
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
