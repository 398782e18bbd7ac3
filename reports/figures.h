/* figures.h - the report's figures, each drawn by gnuplot from one of
 * reports/SCRIPT.gp as OUT/STEM.png and OUT/STEM.svg (the SVG interactive:
 * gnuplot's mouse and standalone options). A policy has one colour in every
 * figure (the before run of a comparison dashed); the x axis is the trace's
 * time where every run's samples have timestamps, else the event index. */
#ifndef VREP_FIGURES_H
#define VREP_FIGURES_H

#include "plot.h"
#include "report.h"
#include "prefix_figure.h"
#include "serve_figure.h"

/* The heap maps' figures follow the maps' order: FIG_HEAPMAP + VREP_MAP_*. */
enum { FIG_FOOTPRINT, FIG_FRAG, FIG_LATENCY, FIG_HEAPMAP, FIG_HEAPMAP_OOM, FIG_HEAPMAP_PREEMPT,
       FIG_EVICTIONS, FIG_SERVE, FIG_PREFIX, FIG_COUNT };

/* One figure: drawn (`made`), or `why` not; `absent` when the database holds
 * nothing it is about (the prefix cache's without prefix-cache runs): then it
 * is not listed either. */
typedef struct vrep_figure {
    const char *stem, *script;
    const char *caption;
    int made, absent;
    char why[512];
} vrep_figure;

typedef struct vrep_figures {
    vrep_figure fig[FIG_COUNT];
    vrep_ops ops;             /* ops with latency data in any series (export) */
    int strips[VREP_MAPS];    /* heap map strips (vrep_heapmap) */
    char yt[VREP_MAPS][8192]; /* their ytics lists */
    char caption[VREP_MAPS][512]; /* the heap maps' captions */
    int no_gnuplot;           /* gnuplot could not be run: nothing more is tried */
    vrep_serve serve;         /* the serve runs of FIG_SERVE (serve_figure.h) */
    vrep_prefix prefix;       /* the prefix-cache runs of FIG_PREFIX (prefix_figure.h) */
} vrep_figures;

/* Stems and captions; `at` is --at (0: peak live) for the heap map's. */
void vrep_figures_init(vrep_figures *pl, uint64_t at);

/* Draws every figure that has data, removing stale images of those that are
 * not drawn. Cost: two gnuplot runs per figure. A missing gnuplot is not an
 * error: a warning saying how to install it is printed once and each figure's
 * `why` says so. VRAM_EIO when gnuplot fails on a script (its messages in
 * OUT/gnuplot.log), VRAM_ENOHOST without memory; the reason in r->err. */
vram_status vrep_figures_draw(vrep_report *r, vrep_figures *pl);

#endif
