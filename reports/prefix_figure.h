/* prefix_figure.h - the prefix cache's hit ratio against its capacity (issue
 * 12): for each trace whose runs had a prefix cache (replay
 * --prefix-cache-blocks N --prefix-policy NAME over a trace with prefix
 * events), one panel of reports/prefix.gp with the block-weighted hit ratio
 * (runs.prefix_hit_ratio) at each number of device blocks (runs.prefix_blocks,
 * log scale), one curve per prefix policy (and host tier), textbook LRU and
 * Belady at each capacity and the unlimited cache's ratio as a horizontal
 * line, all from the same runs (sql/prefix.sql); the same numbers as one table
 * per trace on the page. Runs at the same trace, curve and capacity (repeats,
 * or one replay's heap policies) are drawn as their median. A database without
 * prefix-cache runs gets neither figure nor section. */
#ifndef VREP_PREFIX_FIGURE_H
#define VREP_PREFIX_FIGURE_H

#include <stdint.h>
#include <stdio.h>

#include "plot.h"
#include "rdb.h"

/* The most traces the figure draws a panel for (gnuplot's parameter list and
 * the image's height); the page's tables have every trace. */
enum { VREP_PREFIX_PANELS = 6 };

/* One trace's medians. Invariant: cap[] ascending and distinct; curve[]
 * ordered by prefix policy (vram_prefix_policy_names' order), then host tier;
 * hit[i * ncurves + c] is the median hit ratio of curve c's runs at cap[i], NAN
 * where it has none; lru, belady, unlimited[i] the medians of every run at
 * cap[i] (each run at cap[i] has them, whatever its curve). */
typedef struct vrep_prefix_trace {
    char name[256];           /* the file name of its first run's trace */
    char crc[16];             /* its CRC-32 ("": not recorded) */
    size_t runs;              /* the runs counted in */
    size_t ncaps, ncurves;
    int64_t *cap;             /* device blocks (runs.prefix_blocks) */
    char (*curve)[48];        /* "vllm", or "vllm+host1000" with a host tier */
    double *hit;              /* ncaps x ncurves */
    double *lru, *belady, *unlimited;
    double unlimited_all;     /* the median over every run of the trace: the line */
} vrep_prefix_trace;

typedef struct vrep_prefix {
    vrep_prefix_trace *trace; /* in the order of their keys; NULL when n == 0 */
    size_t n;
    size_t runs;              /* runs counted in, over every trace */
    size_t left_out;          /* runs with a prefix cache that did not end ok or looked up
                                 no block */
} vrep_prefix;

/* Loads the database's prefix-cache runs (sql/prefix.sql) and writes
 * DATA/prefix_K.dat for the first VREP_PREFIX_PANELS traces (K = 1, 2, ...:
 * a "#" line naming the trace and the columns, then one row per capacity:
 * blocks, each curve's median hit ratio ('?' where none), LRU, Belady,
 * unlimited), removing those of more traces an earlier report left. Sets
 * prefix.gp's parameters in `p`. *absent = 1 when no run had a prefix cache
 * (nothing to say); `why` when some had but none counts. O(runs x (capacities
 * x curves + log runs)) per trace. VRAM_EIO with "PATH: why", VRAM_ENOHOST
 * without memory. */
vram_status vrep_prefix_load(vrep_db *db, const char *share, const char *datadir,
                             vrep_prefix *px, vrep_params *p, int *absent, char *why,
                             size_t whylen, char *err, size_t errlen);
void vrep_prefix_free(vrep_prefix *px);

/* The page's section: how to read the figure against its references, and one
 * table per trace (rows: capacities; columns: the curves, then LRU, Belady and
 * unlimited). Nothing to write when px->n == 0 and nothing was left out. */
void vrep_prefix_md(FILE *f, const vrep_prefix *px);
void vrep_prefix_html(FILE *f, const vrep_prefix *px);

#endif
